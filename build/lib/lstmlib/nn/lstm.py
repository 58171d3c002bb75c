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
The layer's backward is the hand-written backpropagation through time of
``lstmlib.nn.bptt.LSTMScan`` (the book's derivation, weight gradients as
whole-sequence products); ``lstm.bptt = False`` runs autograd through the step
instead, the reference it is tested against. ``LSTMCell`` (one step) uses autograd.

``bidirectional=True`` adds a second LSTM per layer that reads every sequence
backwards; the layer's output puts the two side by side, as in ``torch.nn.LSTM``.
What the LSTM shares with the GRU (checks, variable lengths, the loop over layers
and directions, dropout, gate recording) is in ``lstmlib.nn._recurrent``.

``record_gates`` captures ``i, f, g, o, c, h`` at every step for plotting.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from lstmlib.nn._recurrent import (
    RecurrentCell,
    RecurrentLayer,
    record_gates,
    set_second_gate_bias,
)
from lstmlib.nn.bptt import LSTMScan

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
        set_second_gate_bias(module, forget_bias)


def _check_forget_bias(forget_bias, bias):
    if forget_bias is not None and not bias:
        raise ValueError("forget_bias needs bias=True (there is no bias to set)")


class LSTMCell(RecurrentCell):
    """One LSTM step as a module, with ``torch.nn.LSTMCell``'s API and parameters.

    Parameters: ``weight_ih: (4H, I)``, ``weight_hh: (4H, H)``, ``bias_ih: (4H,)``,
    ``bias_hh: (4H,)`` (no biases if ``bias=False``), gate blocks in the order
    ``i, f, g, o``, all uniform in ``±1/sqrt(H)``. ``forget_bias``: see ``LSTM``.
    """

    GATES, STATES = ("i", "f", "g", "o"), ("h", "c")

    def __init__(
        self, input_size, hidden_size, bias=True, forget_bias=None, device=None, dtype=None
    ):
        _check_forget_bias(forget_bias, bias)
        super().__init__(input_size, hidden_size, bias, device, dtype)
        self.forget_bias = forget_bias
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
        return self._forward(input, hx)

    def _cell_step(self, input, state):
        params = (self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        h, c, gates = lstm_step(input, *state, *params)
        return (h, c), gates

    def extra_repr(self):
        s = super().extra_repr()
        if self.forget_bias is not None:
            s += f", forget_bias={self.forget_bias}"
        return s


class LSTM(RecurrentLayer):
    """A stack of ``num_layers`` LSTMs, with ``torch.nn.LSTM``'s API and parameters.

    Layer ``k`` has ``weight_ih_l{k}: (4H, I)`` (``(4H, D * H)`` for ``k > 0``, whose
    input is the output of layer ``k - 1``), ``weight_hh_l{k}: (4H, H)`` and, if
    ``bias``, ``bias_ih_l{k}: (4H,)`` and ``bias_hh_l{k}: (4H,)``; gate blocks in the
    order ``i, f, g, o``. With ``bidirectional=True`` (``D = 2``) each layer also has
    the same four with the suffix ``_reverse`` (``weight_ih_l0_reverse``, ...) for
    the backward direction. Registered in ``torch.nn.LSTM``'s order and drawn
    uniform in ``±1/sqrt(H)``, so the same seed gives torch's initial weights.

    Args beyond ``torch.nn.LSTM``'s:
        forget_bias: if not None, after the usual init set the forget-gate slice
            ``[H:2H]`` of every ``bias_ih_l{k}`` to ``forget_bias`` and of
            ``bias_hh_l{k}`` to 0, so the effective forget bias (their sum) is
            exactly ``forget_bias`` (Gers et al. 2000; Jozefowicz et al. 2015 use 1).
            ``reset_parameters`` does the same again.

    ``dropout`` zeroes the outputs of every layer but the last (not the input, not
    the final output), in training mode only, like torch. ``proj_size`` is not
    supported yet.
    """

    GATES, STATES = ("i", "f", "g", "o"), ("h", "c")

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
        if proj_size:
            raise NotImplementedError("lstmlib.nn.LSTM does not support proj_size yet")
        _check_forget_bias(forget_bias, bias)
        super().__init__(
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            device,
            dtype,
        )
        self.forget_bias, self.proj_size = forget_bias, 0
        self.reset_parameters()

    def reset_parameters(self):
        _init_lstm_parameters(self, self.forget_bias)

    def forward(self, input, hx=None, lengths=None):
        """
        Args:
            input: (L, N, I), or (N, L, I) if ``batch_first``, or (L, I) unbatched,
                or a ``PackedSequence`` (``batch_first`` then plays no part).
            hx: a pair ``(h0, c0)``, each (D * num_layers, N, H), or
                (D * num_layers, H) unbatched (``D = 2`` if bidirectional, else 1):
                every layer's and direction's initial state, in ``h_n``'s order, in
                the caller's batch order (also for packed input); zeros if None.
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
            (h_n, c_n): each (D * num_layers, N, H), or (D * num_layers, H)
                unbatched: every layer's final state, ordered layer 0 (forward,
                then backward if bidirectional), layer 1, ...
        """
        return self._forward(input, hx, lengths)

    @staticmethod
    def _project(x, w_ih, b_ih, b_hh):
        # Both biases act in the same place: add them once, here, for all steps.
        return F.linear(x, w_ih, None if b_ih is None else b_ih + b_hh)

    @staticmethod
    def _step(xw, state, w_hh_t, b_hh):
        h, c = state
        h, c, gates = _lstm_update(torch.addmm(xw, h, w_hh_t), c)
        return (h, c), gates

    @staticmethod
    def _bptt(x, state, params):
        h, c, gates = LSTMScan.apply(x, *state, *params)
        i, f, o, g = gates.unbind(2)  # LSTMScan keeps the sigmoids first
        return h, (c,), (i, f, g, o)

    def extra_repr(self):
        s = super().extra_repr()
        if self.forget_bias is not None:
            s += f", forget_bias={self.forget_bias}"
        return s


__all__ = ["GATES", "LSTM", "LSTMCell", "lstm_step", "record_gates"]
