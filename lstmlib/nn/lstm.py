r"""The LSTM as PyTorch modules, written from the equations.

One step computes, with PyTorch's gate order ``i, f, g, o``,

.. math::

    a &= x_t W_{ih}^T + b_{ih} + h_{t-1} W_{hh}^T + b_{hh}
        \quad\text{split into four blocks } a_i, a_f, a_g, a_o \text{ of width } H \\
    i &= \sigma(a_i), \quad f = \sigma(a_f), \quad g = \tanh(a_g), \quad o = \sigma(a_o) \\
    c_t &= f \odot c_{t-1} + i \odot g, \qquad h_t = o \odot \tanh(c_t)

with ``W_ih: (4H, I)`` and ``W_hh: (4H, H)``: the four gates' weights stacked
along the first axis, as in ``torch.nn.LSTM``, so ``state_dict``s load both ways.

Speed: the input's contribution ``x_t W_ih^T + b`` does not depend on the state, so
the layer computes it for all steps in one matrix product; only ``h_{t-1} W_hh^T``
and the elementwise gate arithmetic stay inside the (unavoidable) loop over time.

``record_gates`` captures ``i, f, g, o, c, h`` at every step for plotting.
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

from lstmlib.nn.rnn import _check_dtype, _parameter
from lstmlib.shapes import ShapeError, check_shape

GATES = ("i", "f", "g", "o")


def _lstm_update(a, c):
    """The elementwise part of a step: pre-activations ``a: (N, 4H)``, ``c: (N, H)``
    to ``(h, c, (i, f, g, o))``, each ``(N, H)``."""
    i, f, g, o = a.chunk(4, dim=-1)
    i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
    c = f * c + i * g
    h = o * torch.tanh(c)
    return h, c, (i, f, g, o)


def lstm_step(x, h, c, w_ih, w_hh, b_ih=None, b_hh=None):
    """One LSTM step (gate order ``i, f, g, o`` like PyTorch).

    Args:
        x: (N, I) inputs at this step.
        h, c: (N, H) hidden and cell state from the previous step.
        w_ih: (4H, I), w_hh: (4H, H) weights; b_ih, b_hh: (4H,) biases or None.

    Returns:
        ``(h, c, gates)``: the new ``h, c: (N, H)`` and ``gates = (i, f, g, o)``,
        each ``(N, H)``.
    """
    return _lstm_update(F.linear(x, w_ih, b_ih) + F.linear(h, w_hh, b_hh), c)


def _init_lstm_parameters(module, forget_bias):
    """torch.nn's init (uniform in ``±1/sqrt(H)``), then the forget-gate bias.

    With ``forget_bias`` set, ``bias_ih[H:2H] = forget_bias`` and ``bias_hh[H:2H] = 0``:
    only the sum of the two biases enters the gates, so this makes the forget gate's
    effective bias exactly ``forget_bias`` (Gers et al. 2000; Jozefowicz et al. 2015
    recommend 1: the cell starts by remembering, which helps gradients flow).
    """
    H = module.hidden_size
    bound = 1.0 / math.sqrt(H)
    for p in module.parameters():
        nn.init.uniform_(p, -bound, bound)
    if forget_bias is not None:
        with torch.no_grad():
            for name, p in module.named_parameters():
                if name.startswith("bias_ih"):
                    p[H : 2 * H] = forget_bias
                elif name.startswith("bias_hh"):
                    p[H : 2 * H] = 0.0


def _check_forget_bias(forget_bias, bias):
    if forget_bias is not None and not bias:
        raise ValueError("forget_bias needs bias=True (there is no bias to set)")


def _check_hx_pair(hx):
    if not (isinstance(hx, tuple | list) and len(hx) == 2):
        raise TypeError(f"hx must be a pair (h, c) of tensors, got {type(hx).__name__}")
    return hx


class LSTMCell(nn.Module):
    """One LSTM step as a module, with ``torch.nn.LSTMCell``'s API and parameters.

    Parameters: ``weight_ih: (4H, I)``, ``weight_hh: (4H, H)``, ``bias_ih: (4H,)``,
    ``bias_hh: (4H,)`` (no biases if ``bias=False``), gate blocks in the order
    ``i, f, g, o``, all uniform in ``±1/sqrt(H)``. ``forget_bias``: see ``LSTM``.
    """

    def __init__(
        self, input_size, hidden_size, bias=True, forget_bias=None, device=None, dtype=None
    ):
        super().__init__()
        _check_forget_bias(forget_bias, bias)
        self.input_size, self.hidden_size = input_size, hidden_size
        self.bias, self.forget_bias = bias, forget_bias
        factory = {"device": device, "dtype": dtype}
        self.weight_ih = _parameter(4 * hidden_size, input_size, **factory)
        self.weight_hh = _parameter(4 * hidden_size, hidden_size, **factory)
        self.bias_ih = _parameter(4 * hidden_size, **factory) if bias else None
        self.bias_hh = _parameter(4 * hidden_size, **factory) if bias else None
        self._gate_chunks = None  # a list while record_gates is active
        self.reset_parameters()

    def reset_parameters(self):
        _init_lstm_parameters(self, self.forget_bias)

    def forward(self, input, hx=None):
        """
        Args:
            input: (N, I), or (I,) unbatched.
            hx: a pair ``(h, c)``, each (N, H), or (H,) unbatched; zeros if None.

        Returns:
            ``(h, c)``, each (N, H), or (H,) unbatched: the new state.
        """
        sizes = {"I": self.input_size, "H": self.hidden_size}
        batched = input.dim() != 1
        check_shape("input", input, ("N", "I") if batched else ("I",), sizes)
        _check_dtype("input", input, self.weight_ih)
        if not batched:
            input = input.unsqueeze(0)
        if hx is None:
            h = c = input.new_zeros(input.shape[0], self.hidden_size)
        else:
            h, c = _check_hx_pair(hx)
            for name, t in (("hx[0]", h), ("hx[1]", c)):
                check_shape(name, t, ("N", "H") if batched else ("H",), sizes)
                _check_dtype(name, t, self.weight_ih)
            if not batched:
                h, c = h.unsqueeze(0), c.unsqueeze(0)
        params = (self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        h, c, gates = lstm_step(input, h, c, *params)
        if self._gate_chunks is not None:  # each call is one time step: L = 1
            values = dict(zip(GATES, gates, strict=True), c=c, h=h)
            self._gate_chunks.append([{k: v.detach()[None] for k, v in values.items()}])
        return (h, c) if batched else (h.squeeze(0), c.squeeze(0))

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            s += ", bias=False"
        if self.forget_bias is not None:
            s += f", forget_bias={self.forget_bias}"
        return s


class LSTM(nn.Module):
    """A stack of ``num_layers`` LSTMs, with ``torch.nn.LSTM``'s API and parameters.

    Layer ``k`` has ``weight_ih_l{k}: (4H, I)`` (``(4H, H)`` for ``k > 0``, whose
    input is the hidden state of layer ``k - 1``), ``weight_hh_l{k}: (4H, H)`` and,
    if ``bias``, ``bias_ih_l{k}: (4H,)`` and ``bias_hh_l{k}: (4H,)``; gate blocks in
    the order ``i, f, g, o``; registered in ``torch.nn.LSTM``'s order and drawn
    uniform in ``±1/sqrt(H)``, so the same seed gives torch's initial weights.

    Args beyond ``torch.nn.LSTM``'s:
        forget_bias: if not None, after the usual init set the forget-gate slice
            ``[H:2H]`` of every ``bias_ih_l{k}`` to ``forget_bias`` and of
            ``bias_hh_l{k}`` to 0, so the effective forget bias (their sum) is
            exactly ``forget_bias`` (Gers et al. 2000; Jozefowicz et al. 2015 use 1).
            ``reset_parameters`` does the same again.

    ``dropout`` zeroes the outputs of every layer but the last (not the input, not
    the final output), in training mode only, like torch. ``bidirectional`` and
    ``proj_size`` are not supported yet.
    """

    def __init__(
        self,
        input_size,
        hidden_size,
        num_layers=1,
        bias=True,
        batch_first=False,
        dropout=0.0,
        forget_bias=None,
        device=None,
        dtype=None,
        *,
        bidirectional=False,
        proj_size=0,
    ):
        super().__init__()
        if bidirectional:
            raise NotImplementedError("lstmlib.nn.LSTM does not support bidirectional=True yet")
        if proj_size:
            raise NotImplementedError("lstmlib.nn.LSTM does not support proj_size yet")
        if num_layers < 1:
            raise ValueError(f"num_layers must be at least 1, got {num_layers}")
        if isinstance(dropout, bool) or not isinstance(dropout, numbers.Number):
            raise ValueError(f"dropout must be a number in [0, 1], got {dropout!r}")
        if not 0 <= dropout <= 1:
            raise ValueError(f"dropout must be a number in [0, 1], got {dropout}")
        if dropout > 0 and num_layers == 1:
            warnings.warn(
                "dropout acts between layers only (on every layer's output but the "
                f"last), so dropout={dropout} with num_layers=1 does nothing",
                stacklevel=2,
            )
        _check_forget_bias(forget_bias, bias)
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, float(dropout)
        self.forget_bias, self.bidirectional, self.proj_size = forget_bias, False, 0
        factory = {"device": device, "dtype": dtype}
        # Registered in torch.nn.LSTM's order, so that state_dict keys and
        # reset_parameters' random draws come out in the same order.
        for k in range(num_layers):
            layer_input = input_size if k == 0 else hidden_size
            setattr(self, f"weight_ih_l{k}", _parameter(4 * hidden_size, layer_input, **factory))
            setattr(self, f"weight_hh_l{k}", _parameter(4 * hidden_size, hidden_size, **factory))
            if bias:
                setattr(self, f"bias_ih_l{k}", _parameter(4 * hidden_size, **factory))
                setattr(self, f"bias_hh_l{k}", _parameter(4 * hidden_size, **factory))
        self._gate_chunks = None  # a list while record_gates is active
        self.reset_parameters()

    def reset_parameters(self):
        _init_lstm_parameters(self, self.forget_bias)

    def layer_parameters(self, k):
        """``(weight_ih, weight_hh, bias_ih, bias_hh)`` of layer ``k`` (biases None if no bias)."""
        names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
        return tuple(getattr(self, f"{name}_l{k}", None) for name in names)

    def forward(self, input, hx=None, lengths=None):
        """
        Args:
            input: (L, N, I), or (N, L, I) if ``batch_first``, or (L, I) unbatched,
                or a ``PackedSequence`` (``batch_first`` then plays no part).
            hx: a pair ``(h0, c0)``, each (num_layers, N, H), or (num_layers, H)
                unbatched: every layer's initial state, in the caller's batch order
                (also for packed input); zeros if None.
            lengths: (N,) tensor or list of sequence lengths in ``1..L``, any order,
                for padded batched input. Steps past a sequence's length do not
                affect its results: its output there is zero and its final state
                is the one after its own last step.

        Returns:
            output: (L, N, H), or (N, L, H) if ``batch_first``, or (L, H) unbatched,
                or a ``PackedSequence`` laid out like the input: the last layer's
                hidden state at every step.
            (h_n, c_n): each (num_layers, N, H), or (num_layers, H) unbatched: every
                layer's state after each sequence's last step.
        """
        sizes = {"I": self.input_size, "H": self.hidden_size, "num_layers": self.num_layers}
        packed = input if isinstance(input, PackedSequence) else None
        if packed is not None:
            if lengths is not None:
                raise ValueError("lengths= is for padded input; a PackedSequence has its own")
            check_shape("input.data", packed.data, (None, "I"), sizes)
            _check_dtype("input.data", packed.data, self.weight_ih_l0)
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
            _check_dtype("input", input, self.weight_ih_l0)
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
            h0 = c0 = input.new_zeros(self.num_layers, N, self.hidden_size)
        else:
            h0, c0 = _check_hx_pair(hx)
            expected = ("num_layers", "N", "H") if batched else ("num_layers", "H")
            for name, t in (("hx[0]", h0), ("hx[1]", c0)):
                check_shape(name, t, expected, sizes)
                _check_dtype(name, t, self.weight_ih_l0)
            if not batched:
                h0, c0 = h0.unsqueeze(1), c0.unsqueeze(1)
        if lengths is not None and packed is None:
            if not batched:
                raise ValueError("lengths= needs batched input (L, N, I) or (N, L, I)")
            lengths = _check_lengths(lengths, sizes)
        if lengths is not None:
            lengths = lengths.to(input.device)

        output, h_n, c_n = self._run(input, h0, c0, lengths)

        if packed is not None:
            return _pack_like(output, packed), (h_n, c_n)
        if not batched:
            return output.squeeze(1), (h_n.squeeze(1), c_n.squeeze(1))
        return (output.transpose(0, 1) if self.batch_first else output), (h_n, c_n)

    def _run(self, input, h0, c0, lengths):
        """The layers on time-major ``input: (L, N, I)``, ``h0, c0: (num_layers, N, H)``
        and ``lengths: (N,)`` or None; returns ``output: (L, N, H)``, ``h_n, c_n``."""
        L, N, _ = input.shape
        record = [] if self._gate_chunks is not None else None
        if lengths is not None:
            # Every sequence runs all L steps (no per-sequence branching); the extra
            # steps are discarded: padded outputs are zeroed and the final state is
            # read at step lengths - 1, so they get no gradient either. Zeroing the
            # padding first keeps a NaN or inf there out of the gradients.
            pad = (torch.arange(L, device=input.device)[:, None] >= lengths)[..., None]
            last = (lengths - 1, torch.arange(N, device=input.device))
            input = input.masked_fill(pad, 0.0)
        layer_input, h_n, c_n = input, [], []
        for k in range(self.num_layers):
            w_ih, w_hh, b_ih, b_hh = self.layer_parameters(k)
            if k > 0:
                layer_input = F.dropout(layer_input, self.dropout, self.training)
            # The input's contribution for all steps at once: (L, N, 4H). unbind, not
            # xw[t]: the backward of L indexing ops would add L full-size gradients.
            xw = F.linear(layer_input, w_ih, None if b_ih is None else b_ih + b_hh).unbind(0)
            h, c, w_hh_t = h0[k], c0[k], w_hh.t()
            hs, cs, gates = [], [], []
            for t in range(L):
                h, c, g = _lstm_update(torch.addmm(xw[t], h, w_hh_t), c)
                hs.append(h)
                cs.append(c)
                if record is not None:
                    gates.append(g)
            output = torch.stack(hs)  # (L, N, H): the next layer's input
            if lengths is not None:
                h, c = output[last], torch.stack(cs)[last]
                output = output.masked_fill(pad, 0.0)
            h_n.append(h)
            c_n.append(c)
            if record is not None:
                with torch.no_grad():
                    values = [torch.stack(v) for v in zip(*gates, strict=True)]
                    values += [torch.stack(cs), output.detach()]
                    if lengths is not None:
                        values = [v.masked_fill(pad, 0.0) for v in values]
                record.append(dict(zip((*GATES, "c", "h"), values, strict=True)))
            layer_input = output
        if record is not None:
            self._gate_chunks.append(record)
        return layer_input, torch.stack(h_n), torch.stack(c_n)

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
        if self.forget_bias is not None:
            s += f", forget_bias={self.forget_bias}"
        return s


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
    """Padded ``output: (L, N, H)`` in the caller's batch order to a PackedSequence
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


@contextmanager
def record_gates(module):
    """Record the gates and states of an ``LSTM`` or ``LSTMCell`` for plotting.

    ``module`` is the LSTM/LSTMCell or any module holding exactly one of them.
    Usage::

        with record_gates(model) as record:
            model(x)
        record[k]["f"]  # (L, N, H): layer k's forget gate at every step

    ``record`` (filled when the block ends) is a list with one dict per layer (one
    for a cell), with detached tensors ``"i", "f", "g", "o", "c", "h"``, each
    ``(L, N, H)``: time-major whatever ``batch_first`` is, ``N = 1`` for unbatched
    input, zero past each sequence's length. Several forward passes inside the
    block are concatenated along time, so stepping a cell (or an LSTM one step at
    a time, e.g. while generating) records the whole trajectory; they must have
    the same N. Outside the block the forward pass does no recording work.
    """
    candidates = [m for m in module.modules() if isinstance(m, LSTM | LSTMCell)]
    if len(candidates) != 1:
        raise ValueError(
            f"record_gates needs a module holding exactly one LSTM or LSTMCell, "
            f"found {len(candidates)}; pass that one"
        )
    (lstm,) = candidates
    record, chunks = [], []
    previous, lstm._gate_chunks = lstm._gate_chunks, chunks
    try:
        yield record
    finally:
        lstm._gate_chunks = previous
    if chunks:
        batch = {chunk[0]["h"].shape[1] for chunk in chunks}
        if len(batch) > 1:
            raise ShapeError(
                "record_gates concatenates the forward passes of a block along time, "
                f"so they must share the batch size N; got N = {sorted(batch)}"
            )
        for layer in zip(*chunks, strict=True):
            record.append({key: torch.cat([d[key] for d in layer]) for key in layer[0]})
