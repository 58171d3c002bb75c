"""What the recurrent layers of ``lstmlib.nn`` (``RNN``, ``LSTM``, ``GRU``) and their
cells share.

The layers differ only in their step; everything around it is the same and lives
here, written once:

- ``RecurrentLayer``: ``torch.nn``'s constructor checks, parameters registered in
  torch's order (``weight_ih_l{k}``, ..., then ``..._reverse`` for the backward
  direction), the input and state checks, ``batch_first``, unbatched input,
  variable lengths (``lengths=`` or a ``PackedSequence``), the loop over layers
  and directions, dropout between layers, and gate recording;
- ``RecurrentCell``: the cells' checks and recording around one step;
- ``record_gates``: the context manager that records the gates for plotting.

A subclass names its gates and states and supplies its recurrence twice:

- ``_bptt``, the default (``bptt = True``): the whole layer direction as one
  ``torch.autograd.Function`` of ``lstmlib.nn.bptt``, whose backward is the
  hand-written backpropagation through time the book derives;
- ``_project`` and ``_step``, run with autograd recording every operation
  (``bptt = False``): the reference the hand-written backward is tested against.
  ``_project`` computes the input's share of the pre-activations for all steps in
  one matrix product (it does not depend on the state), and ``_step`` does the rest
  of one step; only ``_step`` runs inside the loop over time.

Variable lengths are handled by masking, not by per-sequence branching: every
sequence runs all ``L`` steps; outputs past a sequence's length are zeroed and its
final state is read at its own last step, so the extra steps get no gradient. The
backward direction runs on every sequence reversed *within its length*
(``reverse_padded``): it starts at the sequence's own last step, and its final
state is the one after reading the sequence's first element, as in PyTorch.
"""

from __future__ import annotations

import math
import numbers
import warnings
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import PackedSequence, pad_packed_sequence

from lstmlib.shapes import ShapeError, check_float, check_shape

_PARAMETER_NAMES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


def _parameter(*shape, device=None, dtype=None):
    """An uninitialised parameter; the module's ``reset_parameters`` fills it."""
    return nn.Parameter(torch.empty(*shape, device=device, dtype=dtype))


def _check_dtype(name, tensor, weight):
    check_float(name, tensor)
    if tensor.dtype != weight.dtype:
        raise TypeError(
            f"{name} has dtype {tensor.dtype} but the parameters have {weight.dtype}; "
            f"convert one of them, e.g. model.to({tensor.dtype})"
        )


def _blocks(module):
    """How many ``H``-wide blocks the weights stack: ``BLOCKS``, else one per gate."""
    return module.BLOCKS if module.BLOCKS is not None else len(module.GATES)


def set_second_gate_bias(module, value):
    """Make the effective bias of the second gate block ``[H:2H]`` exactly ``value``: the
    LSTM's forget gate, the GRU's update gate. Only the sum ``bias_ih + bias_hh`` enters
    the gates, so ``bias_ih[H:2H] = value`` and ``bias_hh[H:2H] = 0``, in every layer
    and direction of ``module``."""
    H = module.hidden_size
    with torch.no_grad():
        for name, p in module.named_parameters():
            if name.startswith("bias_ih"):
                p[H : 2 * H] = value
            elif name.startswith("bias_hh"):
                p[H : 2 * H] = 0.0


def _check_dropout(dropout, num_layers):
    if isinstance(dropout, bool) or not isinstance(dropout, numbers.Number):
        raise ValueError(f"dropout must be a number in [0, 1], got {dropout!r}")
    if not 0 <= dropout <= 1:
        raise ValueError(f"dropout must be a number in [0, 1], got {dropout}")
    if dropout > 0 and num_layers == 1:
        warnings.warn(
            "dropout acts between layers only (on every layer's output but the "
            f"last), so dropout={dropout} with num_layers=1 does nothing",
            stacklevel=4,  # the user's call of RNN(...), LSTM(...) or GRU(...)
        )
    return float(dropout)


def _check_lengths(lengths, sizes):
    """``lengths`` as an int64 tensor of shape (N,) with values in ``1..L``."""
    lengths = torch.as_tensor(lengths)
    if lengths.dtype.is_floating_point or lengths.dtype.is_complex or lengths.dtype == torch.bool:
        raise TypeError(f"lengths must hold integers, got dtype {lengths.dtype}")
    check_shape("lengths", lengths, ("N",), sizes)
    L = sizes["L"]
    longest, shortest = int(lengths.max()), int(lengths.min())
    if longest > L:
        raise ShapeError(
            f"lengths must be at most L={L} (the input's time steps), got a length of {longest}"
        )
    if shortest < 1:
        raise ValueError(f"lengths must be at least 1, got a length of {shortest}")
    return lengths.long()


def _pack_like(output, packed):
    """Padded ``output: (L, N, *)`` in the caller's batch order to a PackedSequence
    with ``packed``'s layout (``batch_sizes``, ``sorted_indices``, ``unsorted_indices``)."""
    if packed.sorted_indices is not None:
        output = output.index_select(1, packed.sorted_indices)  # longest first
    N = output.shape[1]
    # Packed data runs time-major over the sequences still going at each step,
    # which is exactly boolean indexing with this (L, N) mask.
    steps = packed.batch_sizes.to(output.device)
    keep = torch.arange(N, device=output.device) < steps[:, None]
    return PackedSequence(
        output[keep], packed.batch_sizes, packed.sorted_indices, packed.unsorted_indices
    )


def _check_states(hx, names, expected, sizes, weight):
    """The initial states as a tuple in the order of ``names`` (the module's
    ``STATES``): ``(hx,)`` if there is one state, else ``hx`` must be a pair such as
    ``(h, c)``; each is checked against ``expected`` and ``weight``'s dtype."""
    if len(names) == 1:
        named = [("hx", hx)]
    else:
        if not (isinstance(hx, tuple | list) and len(hx) == len(names)):
            raise TypeError(
                f"hx must be a pair ({', '.join(names)}) of tensors, got {type(hx).__name__}"
            )
        named = [(f"hx[{j}]", t) for j, t in enumerate(hx)]
    for name, t in named:
        check_shape(name, t, expected, sizes)
        _check_dtype(name, t, weight)
    return tuple(t for _, t in named)


def reverse_padded(x, lengths=None):
    """Reverse every sequence of a padded batch ``x: (L, N, *)`` within its length.

    ``out[t, b] = x[lengths[b] - 1 - t, b]`` for ``t < lengths[b]``; the padding
    steps stay where they are. ``lengths: (N,)`` on ``x``'s device, or None to
    reverse all ``L`` steps. Its own inverse.
    """
    if lengths is None:
        return x.flip(0)
    t = torch.arange(x.shape[0], device=x.device)[:, None]
    source = torch.where(t < lengths, lengths - 1 - t, t)  # (L, N)
    return x.gather(0, source.view(*source.shape, *(1,) * (x.dim() - 2)).expand_as(x))


class RecurrentLayer(nn.Module):
    """Base of ``RNN``, ``LSTM`` and ``GRU``: a stack of ``num_layers`` layers, each
    one or two directions, with ``torch.nn``'s API, parameters and initialisation.

    A subclass defines:

    - ``GATES``: the gate names, in the order of the weights' blocks (``()`` for
      the plain RNN, which has no gates);
    - ``BLOCKS``: the number ``G`` of ``H``-wide blocks stacked in the weights, if
      not ``len(GATES)`` (the plain RNN: one block, no gates);
    - ``STATES``: the state names, ``"h"`` first (``("h", "c")`` for the LSTM);
    - ``_project(x, w_ih, b_ih, b_hh)``: the input's share of the pre-activations,
      ``x: (L, N, I)`` to ``(L, N, G * H)``;
    - ``_step(xw, state, w_hh_t, b_hh)``: one step from the input's share
      ``xw: (N, G * H)``, the state (a tuple in ``STATES``' order) and
      ``w_hh_t = w_hh.T``, to ``(new state, gates)`` (the autograd path);
    - ``_bptt(x, state, params)``: the whole direction ``x: (L, N, I)`` through its
      ``lstmlib.nn.bptt`` function, to ``h: (L, N, H)``, the other states at every
      step (a tuple of ``(L, N, H)``) and the gates at every step (a tuple of
      ``(L, N, H)`` in ``GATES``' order);
    - ``forward`` (to document its ``hx``), which calls ``_forward``.
    """

    GATES: tuple[str, ...] = ()
    BLOCKS: int | None = None
    STATES: tuple[str, ...] = ("h",)
    #: True: the backward is the hand-written BPTT of ``lstmlib.nn.bptt`` (``_bptt``);
    #: False: autograd through every ``_step`` (slower; the reference it is tested
    #: against). Set it on a layer, ``lstm.bptt = False``, or on the class.
    bptt: bool = True

    def __init__(
        self,
        input_size,
        hidden_size,
        num_layers,
        bias,
        batch_first,
        dropout,
        bidirectional,
        device,
        dtype,
    ):
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"num_layers must be at least 1, got {num_layers}")
        self.dropout = _check_dropout(dropout, num_layers)
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.bidirectional = bias, batch_first, bool(bidirectional)
        factory = {"device": device, "dtype": dtype}
        G, H, D = _blocks(self), hidden_size, self.num_directions
        # Registered in torch.nn's order (layer by layer, the forward direction's four
        # before the backward's), so that state_dict keys and reset_parameters'
        # random draws come out in the same order.
        for k in range(num_layers):
            layer_input = input_size if k == 0 else D * H
            for suffix in ("", "_reverse")[:D]:
                setattr(self, f"weight_ih_l{k}{suffix}", _parameter(G * H, layer_input, **factory))
                setattr(self, f"weight_hh_l{k}{suffix}", _parameter(G * H, H, **factory))
                if bias:
                    setattr(self, f"bias_ih_l{k}{suffix}", _parameter(G * H, **factory))
                    setattr(self, f"bias_hh_l{k}{suffix}", _parameter(G * H, **factory))
        self._gate_chunks = None  # a list while record_gates is active

    @property
    def num_directions(self):
        return 2 if self.bidirectional else 1

    def reset_parameters(self):
        """torch.nn's init: every parameter uniform in ``±1/sqrt(H)``."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def layer_parameters(self, k, reverse=False):
        """``(weight_ih, weight_hh, bias_ih, bias_hh)`` of layer ``k``, of its backward
        direction if ``reverse`` (biases None if no bias)."""
        suffix = "_reverse" if reverse else ""
        return tuple(getattr(self, f"{name}_l{k}{suffix}", None) for name in _PARAMETER_NAMES)

    # --- forward: checks, then _run on time-major padded input -------------------

    def forward(self, input, hx=None, lengths=None):
        """For layers with one state (RNN, GRU); the LSTM overrides it for ``(h, c)``.

        Args:
            input: (L, N, I), or (N, L, I) if ``batch_first``, or (L, I) unbatched,
                or a ``PackedSequence`` (``batch_first`` then plays no part).
            hx: (D * num_layers, N, H), or (D * num_layers, H) unbatched
                (``D = 2`` if bidirectional, else 1): every layer's and direction's
                initial hidden state, in ``h_n``'s order, in the caller's batch
                order (also for packed input); zeros if None.
            lengths: (N,) tensor or list of sequence lengths in ``1..L``, any order,
                for padded batched input. Steps past a sequence's length do not
                affect its results: its output there is zero and its final state
                is the one after its own last step (the backward direction starts
                at that step and ends after the first).

        Returns:
            output: (L, N, D * H), or (N, L, D * H) if ``batch_first``, or
                (L, D * H) unbatched, or a ``PackedSequence`` laid out like the
                input: the last layer's hidden state at every step, the forward
                direction's in ``[..., :H]``, the backward direction's in ``[..., H:]``.
            h_n: (D * num_layers, N, H), or (D * num_layers, H) unbatched: every
                layer's final hidden state, ordered layer 0 (forward, then backward
                if bidirectional), layer 1, ...
        """
        return self._forward(input, hx, lengths)

    def _forward(self, input, hx, lengths):
        D = self.num_directions
        rows = "num_layers" if D == 1 else "2*num_layers"  # the states' first dimension
        sizes = {"I": self.input_size, "H": self.hidden_size, rows: D * self.num_layers}
        weight = self.weight_ih_l0
        packed = input if isinstance(input, PackedSequence) else None
        if packed is not None:
            if lengths is not None:
                raise ValueError("lengths= is for padded input; a PackedSequence has its own")
            check_shape("input.data", packed.data, (None, "I"), sizes)
            _check_dtype("input.data", packed.data, weight)
            # Padded (L, N, I) in the caller's batch order, like hx and h_n.
            input, lengths = pad_packed_sequence(packed)
            batched = True
            sizes["L"], sizes["N"] = input.shape[:2]
        else:
            batched = input.dim() != 2
            if not batched:
                expected = ("L", "I")
            else:
                expected = ("N", "L", "I") if self.batch_first else ("L", "N", "I")
            check_shape("input", input, expected, sizes)
            _check_dtype("input", input, weight)
            if sizes["L"] == 0:
                raise ShapeError(
                    f"input must have at least one time step, got shape {tuple(input.shape)}"
                )
            if not batched:
                input = input.unsqueeze(1)  # (L, 1, I)
            elif self.batch_first:
                input = input.transpose(0, 1)  # (L, N, I)
        L, N, _ = input.shape

        if hx is None:
            states = (input.new_zeros(D * self.num_layers, N, self.hidden_size),) * len(self.STATES)
        else:
            expected = (rows, "N", "H") if batched else (rows, "H")
            states = _check_states(hx, self.STATES, expected, sizes, weight)
            if not batched:
                states = tuple(s.unsqueeze(1) for s in states)
        if lengths is not None and packed is None:
            if not batched:
                raise ValueError("lengths= needs batched input (L, N, I) or (N, L, I)")
            lengths = _check_lengths(lengths, sizes)
        if lengths is not None:
            lengths = lengths.to(input.device)

        output, finals = self._run(input, states, lengths)

        if packed is not None:
            output = _pack_like(output, packed)
        elif not batched:
            output, finals = output.squeeze(1), tuple(s.squeeze(1) for s in finals)
        elif self.batch_first:
            output = output.transpose(0, 1)
        return output, (finals[0] if len(self.STATES) == 1 else finals)

    def _run(self, input, states, lengths):
        """The layers on time-major ``input: (L, N, I)``, ``states``: a tuple of
        ``(D * num_layers, N, H)`` tensors and ``lengths: (N,)`` or None; returns
        ``output: (L, N, D * H)`` and the final states, a tuple like ``states``."""
        L, N, _ = input.shape
        D = self.num_directions
        record = [] if self._gate_chunks is not None else None
        pad = last = None
        if lengths is not None:
            pad = (torch.arange(L, device=input.device)[:, None] >= lengths)[..., None]
            last = (lengths - 1, torch.arange(N, device=input.device))
            # Zeroing the padding keeps a NaN or inf there out of the gradients.
            input = input.masked_fill(pad, 0.0)
        layer_input, finals = input, []
        for k in range(self.num_layers):
            if k > 0:
                layer_input = F.dropout(layer_input, self.dropout, self.training)
            outputs = []
            for d in range(D):
                reverse = d == 1
                x = reverse_padded(layer_input, lengths) if reverse else layer_input
                state = tuple(s[k * D + d] for s in states)
                params = self.layer_parameters(k, reverse)
                output, final, values = self._scan(x, state, params, last, record is not None)
                if reverse:  # back into step order
                    output = reverse_padded(output, lengths)
                    if values is not None:
                        values = {key: reverse_padded(v, lengths) for key, v in values.items()}
                if pad is not None:
                    output = output.masked_fill(pad, 0.0)
                    if values is not None:
                        values = {key: v.masked_fill(pad, 0.0) for key, v in values.items()}
                outputs.append(output)
                finals.append(final)
                if record is not None:
                    record.append(values)
            layer_input = outputs[0] if D == 1 else torch.cat(outputs, dim=-1)
        if record is not None:
            self._gate_chunks.append(record)
        return layer_input, tuple(torch.stack(s) for s in zip(*finals, strict=True))

    def _scan(self, x, state, params, last, record):
        """One direction of one layer over ``x: (L, N, I)`` from ``state``; returns
        ``output: (L, N, H)``, the final state (at step ``last`` if given) and, if
        ``record``, the detached gates and states of every step (else None).

        The hand-written BPTT of ``lstmlib.nn.bptt`` if ``self.bptt``, else autograd
        through ``_step`` (the reference it is tested against)."""
        if self.bptt:
            output, others, gates = self._bptt(x, state, params)
            state = (output[-1], *(s[-1] for s in others))
        else:
            output, state, others, gates = self._autograd_scan(
                x, state, params, last is not None or record, record
            )
        if last is not None:  # each sequence's own last step
            state = (output[last], *(s[last] for s in others))
        values = None
        if record:
            with torch.no_grad():
                values = [v.detach() for v in (*gates, *others, output)]
            values = dict(zip((*self.GATES, *self.STATES[1:], "h"), values, strict=True))
        return output, state, values

    def _autograd_scan(self, x, state, params, stack, record):
        """``_step`` along ``x: (L, N, I)`` with autograd recording every operation;
        returns ``output: (L, N, H)``, the final state, the other states (the LSTM's
        ``c``) stacked ``(L, N, H)`` if ``stack`` (else ``[]``), and the gates stacked
        ``(L, N, H)`` if ``record`` (else ``[]``)."""
        w_ih, w_hh, b_ih, b_hh = params
        step, w_hh_t = self._step, w_hh.t()
        # unbind, not xw[t]: the backward of L indexing ops would add L full-size gradients.
        xw = self._project(x, w_ih, b_ih, b_hh).unbind(0)
        states, gates = [], []
        for xw_t in xw:
            state, g = step(xw_t, state, w_hh_t, b_hh)
            states.append(state)
            if record:
                gates.append(g)
        output = torch.stack([s[0] for s in states])  # (L, N, H): the layer's output
        others = [torch.stack(s) for s in list(zip(*states, strict=True))[1:]] if stack else []
        with torch.no_grad():
            gates = [torch.stack(v) for v in zip(*gates, strict=True)]
        return output, state, others, gates

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s


class RecurrentCell(nn.Module):
    """Base of ``RNNCell``, ``LSTMCell`` and ``GRUCell``: one step with ``torch.nn``'s API.

    A subclass defines ``GATES``, ``BLOCKS``, ``STATES`` (as for ``RecurrentLayer``) and
    ``_cell_step(input, state) -> (new state, gates)`` on batched tensors.
    """

    GATES: tuple[str, ...] = ()
    BLOCKS: int | None = None
    STATES: tuple[str, ...] = ("h",)

    def __init__(self, input_size, hidden_size, bias, device, dtype):
        super().__init__()
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        factory = {"device": device, "dtype": dtype}
        G, H = _blocks(self), hidden_size
        self.weight_ih = _parameter(G * H, input_size, **factory)
        self.weight_hh = _parameter(G * H, H, **factory)
        self.bias_ih = _parameter(G * H, **factory) if bias else None
        self.bias_hh = _parameter(G * H, **factory) if bias else None
        self._gate_chunks = None  # a list while record_gates is active

    def reset_parameters(self):
        """torch.nn's init: every parameter uniform in ``±1/sqrt(H)``."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def forward(self, input, hx=None):
        """For cells with one state (RNN, GRU); the LSTM overrides it for ``(h, c)``.

        Args:
            input: (N, I), or (I,) unbatched.
            hx: (N, H), or (H,) unbatched; zeros if None.

        Returns:
            (N, H), or (H,) unbatched: the new hidden state.
        """
        return self._forward(input, hx)

    def _forward(self, input, hx):
        sizes = {"I": self.input_size, "H": self.hidden_size}
        batched = input.dim() != 1
        check_shape("input", input, ("N", "I") if batched else ("I",), sizes)
        _check_dtype("input", input, self.weight_ih)
        if not batched:
            input = input.unsqueeze(0)
        if hx is None:
            state = (input.new_zeros(input.shape[0], self.hidden_size),) * len(self.STATES)
        else:
            expected = ("N", "H") if batched else ("H",)
            state = _check_states(hx, self.STATES, expected, sizes, self.weight_ih)
            if not batched:
                state = tuple(s.unsqueeze(0) for s in state)
        state, gates = self._cell_step(input, state)
        if self._gate_chunks is not None:  # each call is one time step: L = 1
            values = dict(zip(self.GATES, gates, strict=True))
            values.update(zip(self.STATES[1:], state[1:], strict=True), h=state[0])
            self._gate_chunks.append([{k: v.detach()[None] for k, v in values.items()}])
        if not batched:
            state = tuple(s.squeeze(0) for s in state)
        return state[0] if len(self.STATES) == 1 else state

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            s += ", bias=False"
        return s


def _one_of(names):
    """``["A", "B", "C"]`` as ``"A, B or C"``."""
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


@contextmanager
def record_gates(module):
    """Record the gates and states of an ``RNN``, ``LSTM``, ``GRU`` or their cells.

    ``module`` is the layer or cell, or any module holding exactly one of them.
    Usage::

        with record_gates(model) as record:
            model(x)
        record[k]["f"]  # (L, N, H): layer k's forget gate at every step

    ``record`` (filled when the block ends) is a list with one dict per layer and
    direction, in ``h_n``'s order (layer 0, or layer 0 forward then layer 0
    backward if bidirectional, then layer 1, ...), or one for a cell. The dicts hold
    detached tensors, each ``(L, N, H)``: the gates (``"i", "f", "g", "o"`` for an
    LSTM, ``"r", "z", "n"`` for a GRU, none for a plain RNN), the cell state ``"c"``
    (LSTM) and ``"h"``;
    time-major whatever ``batch_first`` is, in step order for the backward
    direction too, ``N = 1`` for unbatched input, zero past each sequence's length.
    Several forward passes inside the block are concatenated along time, so
    stepping a cell (or a layer one step at a time, e.g. while generating) records
    the whole trajectory; they must have the same N. Outside the block the forward
    pass does no recording work.
    """
    candidates = [m for m in module.modules() if isinstance(m, RecurrentLayer | RecurrentCell)]
    if len(candidates) != 1:
        found = sorted({type(m).__name__ for m in candidates})
        kinds = _one_of(found or ["LSTM", "LSTMCell", "GRU", "GRUCell"])
        raise ValueError(
            f"record_gates needs a module holding exactly one {kinds}, "
            f"found {len(candidates)}; pass that one"
        )
    (layer,) = candidates
    record, chunks = [], []
    previous, layer._gate_chunks = layer._gate_chunks, chunks
    try:
        yield record
    finally:
        layer._gate_chunks = previous
    if chunks:
        batch = {chunk[0]["h"].shape[1] for chunk in chunks}
        if len(batch) > 1:
            raise ShapeError(
                "record_gates concatenates the forward passes of a block along time, "
                f"so they must share the batch size N; got N = {sorted(batch)}"
            )
        for layer_values in zip(*chunks, strict=True):
            record.append(
                {key: torch.cat([d[key] for d in layer_values]) for key in layer_values[0]}
            )
