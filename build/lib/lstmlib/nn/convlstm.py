r"""The convolutional LSTM (Shi et al. 2015) as PyTorch modules, written from the equations.

The LSTM's matrix products become 2-D convolutions ``*``, so the state keeps its
spatial layout: ``x_t: (B, C_in, Y, X)``, ``h_t, c_t: (B, C_hid, Y, X)``, for images of ``Y``
rows and ``X`` columns (``H`` stays an LSTM's hidden size, ``W`` a weight). One step
computes, with the gate order ``i, f, g, o`` of ``lstmlib.nn.LSTM``,

.. math::

    a &= W_x * x_t + W_h * h_{t-1} + b
        \quad\text{split along channels into } a_i, a_f, a_g, a_o \text{ of } C_{hid} \\
    i &= \sigma(a_i + w_{ci} \odot c_{t-1}), \quad
    f  = \sigma(a_f + w_{cf} \odot c_{t-1}), \quad g = \tanh(a_g) \\
    c_t &= f \odot c_{t-1} + i \odot g, \qquad
    o = \sigma(a_o + w_{co} \odot c_t), \qquad h_t = o \odot \tanh(c_t)

with ``W_x: (4 C_hid, C_in, kh, kw)`` and ``W_h: (4 C_hid, C_hid, kh, kw)`` in
``torch.nn.Conv2d``'s layout, gate blocks stacked along the output channels.
The peephole terms ``w_c* ⊙ c`` are optional (``peephole=True``).

Choices, and why:

- Two weights, one over ``x`` and one over ``h`` (not one over the concatenation
  ``[x, h]``): they mirror the LSTM's ``W_ih``/``W_hh`` and the paper's
  ``W_x*``/``W_h*``, and let the layer convolve the input for all steps at once,
  leaving only ``W_h * h`` in the loop over time. One bias ``b: (4 C_hid,)``
  (the paper's ``b_i, b_f, b_c, b_o``): a second one would only add to it.
- How the two convolutions run (``input_convolution``): ``"hoisted"`` convolves the
  input for all frames at once before the loop and ``h`` at every step; ``"per_step"``
  convolves ``cat([x_t, h])`` with ``cat([W_x, W_h])`` once per step (what most public
  ConvLSTMs do). Both compute the same sums, in a different order (equal to float
  rounding). ``"auto"`` (the default) picks per layer and per call: hoisted only when
  gradients will be taken and the layer's input has at least as many channels as its
  state, per step otherwise. Measured in ``benchmarks/convlstm_speed.py``: per step
  is as fast as ndrplz's ConvLSTM (it does the same work) and faster than hoisted in
  inference, where two convolutions plus an addition per step cost more than one;
  in training with a wide input, hoisting wins because the input weights' gradient
  is then one convolution backward over all frames instead of one per step (the
  whole-sequence weight gradient of ``lstmlib.nn.bptt``).
- "Same" padding, zeros, stride 1: the state has the input's spatial size, and
  a step mixes each pixel with its ``kh x kw`` neighbourhood only. Kernel sizes
  must be odd, so the padding ``k // 2`` is the same on both sides (an even kernel
  has no centre pixel); even ones raise ``ValueError``.
- Peephole weights are per channel, ``(C_hid, 1, 1)``, broadcast over positions.
  The paper's are ``(C_hid, Y, X)``, one per position, which fixes the image size
  at construction; per-channel weights keep the module fully convolutional (any
  image size, the same rule at every pixel, like the convolutions themselves).
- Init: every parameter uniform in ``±1/sqrt(fan_in)``, ``fan_in = (C_in + C_hid)
  · kh · kw`` the number of values one gate pre-activation sums over. That is
  what ``torch.nn.Conv2d`` gives a convolution over ``[x, h]``; with a 1x1 kernel,
  ``±1/sqrt(C_in + C_hid)`` where ``lstmlib.nn.LSTM`` uses ``±1/sqrt(H)``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from lstmlib.nn._recurrent import _check_dtype, _parameter
from lstmlib.shapes import ShapeError, check_shape

_INPUT_CONVOLUTIONS = ("auto", "hoisted", "per_step")


def _pair(kernel_size):
    """``kernel_size`` (an int or a pair) as ``(kh, kw)``, both odd."""
    k = (kernel_size, kernel_size) if isinstance(kernel_size, int) else tuple(kernel_size)
    if len(k) != 2 or any(not isinstance(n, int) or n < 1 or n % 2 == 0 for n in k):
        raise ValueError(
            f"kernel_size must be an odd positive int or a pair of them (so that 'same' "
            f"padding k // 2 is symmetric), got {kernel_size!r}"
        )
    return k


def conv_same(x, weight, bias=None):
    """2-D convolution with "same" zero padding: ``x: (N, C, Y, X)``, ``weight:
    (C_out, C, kh, kw)`` with kh, kw odd, ``bias: (C_out,)`` -> ``(N, C_out, Y, X)``."""
    kh, kw = weight.shape[-2:]
    return F.conv2d(x, weight, bias, padding=(kh // 2, kw // 2))


def _update(xw, h, c, w_hh, peephole):
    """A step given the input's part ``xw = conv(x, w_ih) + b: (B, 4 C_hid, Y, X)``."""
    return _gates(xw + conv_same(h, w_hh), c, peephole)


def _gates(a, c, peephole):
    """A step given all of its pre-activations ``a = conv(x, w_ih) + conv(h, w_hh) + b:
    (B, 4 C_hid, Y, X)`` and the old cell ``c``: ``(h, c, (i, f, g, o))``."""
    a_i, a_f, a_g, a_o = a.chunk(4, dim=1)
    if peephole is not None:
        w_ci, w_cf, w_co = peephole
        a_i, a_f = a_i + w_ci * c, a_f + w_cf * c  # these gates look at the old cell...
    i, f, g = torch.sigmoid(a_i), torch.sigmoid(a_f), torch.tanh(a_g)
    c = f * c + i * g
    if peephole is not None:
        a_o = a_o + w_co * c  # ...the output gate at the new one, as in Shi et al.
    o = torch.sigmoid(a_o)
    h = o * torch.tanh(c)
    return h, c, (i, f, g, o)


def convlstm_step(x, h, c, w_ih, w_hh, b=None, peephole=None):
    """One ConvLSTM step (gate order ``i, f, g, o``), "same" zero padding.

    Args:
        x: (B, C_in, Y, X) inputs at this step.
        h, c: (B, C_hid, Y, X) hidden and cell state from the previous step.
        w_ih: (4 C_hid, C_in, kh, kw), w_hh: (4 C_hid, C_hid, kh, kw) weights with
            kh, kw odd; b: (4 C_hid,) bias or None.
        peephole: None, or ``(w_ci, w_cf, w_co)``, each (C_hid, 1, 1).

    Returns:
        ``(h, c, gates)``: the new ``h, c: (B, C_hid, Y, X)`` and
        ``gates = (i, f, g, o)``, each (B, C_hid, Y, X).
    """
    return _update(conv_same(x, w_ih, b), h, c, w_hh, peephole)


class ConvLSTMCell(nn.Module):
    """One ConvLSTM step as a module.

    Parameters: ``weight_ih: (4 C_hid, C_in, kh, kw)``, ``weight_hh: (4 C_hid, C_hid,
    kh, kw)``, ``bias: (4 C_hid,)`` (none if ``bias=False``), gate blocks in the order
    ``i, f, g, o``; with ``peephole=True`` also ``weight_ci``, ``weight_cf``,
    ``weight_co``, each ``(C_hid, 1, 1)``. See the module docstring for the choices.

    Args:
        input_channels: C_in. hidden_channels: C_hid.
        kernel_size: an odd int, or a pair ``(kh, kw)`` of odd ints.
    """

    def __init__(
        self,
        input_channels,
        hidden_channels,
        kernel_size,
        bias=True,
        peephole=False,
        device=None,
        dtype=None,
    ):
        super().__init__()
        self.kernel_size = _pair(kernel_size)
        self.input_channels, self.hidden_channels = input_channels, hidden_channels
        self.peephole = peephole
        factory = {"device": device, "dtype": dtype}
        C4 = 4 * hidden_channels
        self.weight_ih = _parameter(C4, input_channels, *self.kernel_size, **factory)
        self.weight_hh = _parameter(C4, hidden_channels, *self.kernel_size, **factory)
        # Named like torch.nn.Conv2d's: the parameter, or None without bias.
        self.bias = _parameter(C4, **factory) if bias else None
        for name in ("weight_ci", "weight_cf", "weight_co"):
            self.register_parameter(
                name, _parameter(hidden_channels, 1, 1, **factory) if peephole else None
            )
        self.reset_parameters()

    def reset_parameters(self):
        kh, kw = self.kernel_size
        bound = 1.0 / math.sqrt((self.input_channels + self.hidden_channels) * kh * kw)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def step_parameters(self):
        """``(weight_ih, weight_hh, bias, peephole)`` as ``convlstm_step`` takes them."""
        peep = (self.weight_ci, self.weight_cf, self.weight_co) if self.peephole else None
        return self.weight_ih, self.weight_hh, self.bias, peep

    def forward(self, x, state=None):
        """
        Args:
            x: (B, C_in, Y, X).
            state: a pair ``(h, c)``, each (B, C_hid, Y, X); zeros if None.

        Returns:
            ``(h, c)``, each (B, C_hid, Y, X): the new state.
        """
        sizes = {"C_in": self.input_channels, "C_hid": self.hidden_channels}
        check_shape("x", x, ("B", "C_in", "Y", "X"), sizes)
        _check_dtype("x", x, self.weight_ih)
        if state is None:
            h = c = x.new_zeros(x.shape[0], self.hidden_channels, *x.shape[2:])
        else:
            h, c = _check_pair(state)
            for name, t in (("state[0]", h), ("state[1]", c)):
                check_shape(name, t, ("B", "C_hid", "Y", "X"), sizes)
                _check_dtype(name, t, self.weight_ih)
        h, c, _ = convlstm_step(x, h, c, *self.step_parameters())
        return h, c

    def extra_repr(self):
        s = f"{self.input_channels}, {self.hidden_channels}, kernel_size={self.kernel_size}"
        if self.bias is None:
            s += ", bias=False"
        if self.peephole:
            s += ", peephole=True"
        return s


class ConvLSTM(nn.Module):
    """A stack of ``num_layers`` ConvLSTMs over a sequence of images.

    Layer ``k`` is ``cells[k]``, a ``ConvLSTMCell`` whose input is the input
    sequence for ``k = 0`` and the hidden state of layer ``k - 1`` otherwise.

    Args:
        input_channels: C_in.
        hidden_channels: an int (every layer) or a list of ``num_layers`` ints.
        kernel_size: an odd int or a pair of odd ints, for every layer.
        batch_first: True (the default, unlike ``torch.nn.LSTM``: video data comes
            as ``(B, T, C, Y, X)``) or False for time-major ``(T, B, C, Y, X)``.
        bias, peephole, device, dtype: as in ``ConvLSTMCell``.
        input_convolution: ``"auto"`` (the default), ``"hoisted"`` or ``"per_step"``:
            see the module docstring. Only speed depends on it.

    States: ``h_n``, ``c_n`` (and ``h0``, ``c0``) are tensors ``(num_layers, B,
    C_hid, Y, X)`` when all layers have the same ``C_hid``, as in ``torch.nn.LSTM``;
    with different channels per layer they cannot be stacked and are lists of
    ``num_layers`` tensors ``(B, C_k, Y, X)`` instead. Either form is accepted as
    ``state`` (a tensor is a sequence of layers too).
    """

    def __init__(
        self,
        input_channels,
        hidden_channels,
        kernel_size,
        num_layers=1,
        bias=True,
        batch_first=True,
        peephole=False,
        device=None,
        dtype=None,
        input_convolution="auto",
    ):
        super().__init__()
        if input_convolution not in _INPUT_CONVOLUTIONS:
            raise ValueError(
                f"input_convolution must be one of {', '.join(map(repr, _INPUT_CONVOLUTIONS))}, "
                f"got {input_convolution!r}"
            )
        self.input_convolution = input_convolution
        if num_layers < 1:
            raise ValueError(f"num_layers must be at least 1, got {num_layers}")
        if isinstance(hidden_channels, int):
            hidden_channels = [hidden_channels] * num_layers
        hidden_channels = list(hidden_channels)
        if len(hidden_channels) != num_layers:
            raise ValueError(
                f"hidden_channels must be an int or a list of num_layers={num_layers} ints, "
                f"got {len(hidden_channels)} values"
            )
        self.input_channels, self.hidden_channels = input_channels, hidden_channels
        self.num_layers, self.batch_first = num_layers, batch_first
        self.cells = nn.ModuleList(
            ConvLSTMCell(c_in, c_hid, kernel_size, bias, peephole, device, dtype)
            for c_in, c_hid in zip(
                [input_channels, *hidden_channels[:-1]], hidden_channels, strict=True
            )
        )
        self.stacked = len(set(hidden_channels)) == 1  # states as tensors, not lists

    def forward(self, x, state=None):
        """
        Args:
            x: (B, T, C_in, Y, X), or (T, B, C_in, Y, X) if not ``batch_first``.
            state: a pair ``(h0, c0)``, each (num_layers, B, C_hid, Y, X) or a list
                of per-layer (B, C_k, Y, X) (see the class docstring); zeros if None.

        Returns:
            output: (B, T, C_hid, Y, X), or (T, B, C_hid, Y, X) if not
                ``batch_first``: the last layer's hidden state at every step.
            (h_n, c_n): every layer's state after the last step, tensors
                (num_layers, B, C_hid, Y, X) or lists (see the class docstring).
        """
        sizes = {"C_in": self.input_channels}
        expected = (
            ("B", "T", "C_in", "Y", "X") if self.batch_first else ("T", "B", "C_in", "Y", "X")
        )
        check_shape("x", x, expected, sizes)
        _check_dtype("x", x, self.cells[0].weight_ih)
        if sizes["T"] == 0:
            raise ShapeError(f"x must have at least one time step, got shape {tuple(x.shape)}")
        if self.batch_first:
            x = x.transpose(0, 1)  # (T, B, C_in, Y, X): the loop runs over time
        T, B = x.shape[:2]
        h0, c0 = self._initial_state(state, x, sizes)

        h_n, c_n = [], []
        for k, cell in enumerate(self.cells):
            w_ih, w_hh, b, peep = cell.step_parameters()
            h, c, hs = h0[k], c0[k], []
            if self._per_step(cell):
                # One convolution of [x_t, h] per step; unbind, not x[t]: one backward
                # node instead of T.
                w = torch.cat((w_ih, w_hh), dim=1)
                for x_t in x.unbind(0):
                    h, c, _ = _gates(conv_same(torch.cat((x_t, h), dim=1), w, b), c, peep)
                    hs.append(h)
            else:
                # The input's contribution for all T steps in one convolution, as in
                # lstmlib.nn.LSTM.
                xw = conv_same(x.flatten(0, 1), w_ih, b).unflatten(0, (T, B))
                for xw_t in xw.unbind(0):
                    h, c, _ = _update(xw_t, h, c, w_hh, peep)
                    hs.append(h)
            x = torch.stack(hs)  # (T, B, C_k, Y, X): the next layer's input
            h_n.append(h)
            c_n.append(c)
        if self.stacked:
            h_n, c_n = torch.stack(h_n), torch.stack(c_n)
        return (x.transpose(0, 1) if self.batch_first else x), (h_n, c_n)

    def _per_step(self, cell):
        """Whether ``cell``'s layer convolves ``cat([x_t, h])`` per step (see the module
        docstring) rather than the input for all steps at once."""
        if self.input_convolution == "auto":
            training = torch.is_grad_enabled() and cell.weight_ih.requires_grad
            return not training or cell.input_channels < cell.hidden_channels
        return self.input_convolution == "per_step"

    def _initial_state(self, state, x, sizes):
        """Per-layer lists ``h0, c0`` of (B, C_k, Y, X) tensors, checked, or zeros."""
        if state is None:
            B, _, Y, X = x.shape[1:]
            zeros = [x.new_zeros(B, c_hid, Y, X) for c_hid in self.hidden_channels]
            return zeros, zeros
        sizes["num_layers"] = self.num_layers  # B, Y, X are bound by x's check
        h0, c0 = _check_pair(state)
        checked = []
        for name, s in (("state[0]", h0), ("state[1]", c0)):
            if self.stacked and torch.is_tensor(s):
                sizes["C_hid"] = self.hidden_channels[0]
                check_shape(name, s, ("num_layers", "B", "C_hid", "Y", "X"), sizes)
            elif not isinstance(s, list | tuple):
                form = "a tensor (num_layers, B, C_hid, Y, X) or " if self.stacked else ""
                raise TypeError(
                    f"{name} must be {form}a list of per-layer tensors (B, C_k, Y, X), "
                    f"got {type(s).__name__}"
                )
            elif len(s) != self.num_layers:
                raise ShapeError(
                    f"{name} must hold num_layers={self.num_layers} tensors (B, C_k, Y, X), "
                    f"got {len(s)}"
                )
            for k, (s_k, c_hid) in enumerate(zip(s, self.hidden_channels, strict=True)):
                check_shape(f"{name}[{k}]", s_k, ("B", c_hid, "Y", "X"), sizes)
                _check_dtype(f"{name}[{k}]", s_k, self.cells[0].weight_ih)
            checked.append(list(s))
        return checked

    def extra_repr(self):
        s = [] if self.batch_first else ["batch_first=False"]  # the cells show the rest
        if self.input_convolution != "auto":
            s.append(f"input_convolution={self.input_convolution!r}")
        return ", ".join(s)


def _check_pair(state):
    if not (isinstance(state, tuple | list) and len(state) == 2):
        raise TypeError(f"state must be a pair (h, c), got {type(state).__name__}")
    return state
