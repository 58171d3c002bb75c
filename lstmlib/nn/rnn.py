r"""A plain (Elman) RNN as PyTorch modules, written from the equations.

One step computes, in PyTorch's convention,

.. math:: h_t = \tanh(x_t W_{ih}^T + b_{ih} + h_{t-1} W_{hh}^T + b_{hh})

with ``W_ih: (H, I)`` and ``W_hh: (H, H)`` stored as ``(out_features, in_features)``
like every ``torch.nn`` weight. The NumPy reference ``lstmlib.scratch.rnn`` writes
the same step as ``tanh(x @ Wx + h @ Wh + b)`` with ``Wx: (I, H)``, so the two meet
at ``Wx = W_ih.T``, ``Wh = W_hh.T`` and ``b = b_ih + b_hh`` (PyTorch keeps two bias
vectors only for compatibility with cuDNN; their sum is all that matters).

Autograd provides the backward pass; the parameter names and layouts are those of
``torch.nn.RNN`` and ``torch.nn.RNNCell``, so ``state_dict``s load both ways.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from lstmlib.shapes import ShapeError, check_float, check_shape

_NONLINEARITIES = {"tanh": torch.tanh, "relu": torch.relu}


def rnn_step(x, h, w_ih, w_hh, b_ih=None, b_hh=None, nonlinearity="tanh"):
    """One RNN step: ``act(x @ w_ih.T + b_ih + h @ w_hh.T + b_hh)``.

    Args:
        x: (N, I) inputs at this step.
        h: (N, H) hidden state from the previous step.
        w_ih: (H, I), w_hh: (H, H) weights; b_ih, b_hh: (H,) biases or None.
        nonlinearity: "tanh" or "relu".

    Returns:
        (N, H) the new hidden state.
    """
    return _NONLINEARITIES[nonlinearity](F.linear(x, w_ih, b_ih) + F.linear(h, w_hh, b_hh))


def _check_nonlinearity(nonlinearity):
    if nonlinearity not in _NONLINEARITIES:
        raise ValueError(
            f"nonlinearity must be one of {sorted(_NONLINEARITIES)}, got {nonlinearity!r}"
        )


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


class RNNCell(nn.Module):
    """One RNN step as a module, with ``torch.nn.RNNCell``'s API and parameters.

    Parameters: ``weight_ih: (H, I)``, ``weight_hh: (H, H)``, ``bias_ih: (H,)``,
    ``bias_hh: (H,)`` (no biases if ``bias=False``), all uniform in ``±1/sqrt(H)``.
    """

    def __init__(
        self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None, dtype=None
    ):
        super().__init__()
        _check_nonlinearity(nonlinearity)
        self.input_size, self.hidden_size = input_size, hidden_size
        self.bias, self.nonlinearity = bias, nonlinearity
        factory = {"device": device, "dtype": dtype}
        self.weight_ih = _parameter(hidden_size, input_size, **factory)
        self.weight_hh = _parameter(hidden_size, hidden_size, **factory)
        self.bias_ih = _parameter(hidden_size, **factory) if bias else None
        self.bias_hh = _parameter(hidden_size, **factory) if bias else None
        self.reset_parameters()

    def reset_parameters(self):
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def forward(self, input, hx=None):
        """
        Args:
            input: (N, I), or (I,) unbatched.
            hx: (N, H), or (H,) unbatched; zeros if None.

        Returns:
            (N, H), or (H,) unbatched: the new hidden state.
        """
        sizes = {"I": self.input_size, "H": self.hidden_size}
        batched = input.dim() != 1
        check_shape("input", input, ("N", "I") if batched else ("I",), sizes)
        _check_dtype("input", input, self.weight_ih)
        if not batched:
            input = input.unsqueeze(0)
        if hx is None:
            hx = input.new_zeros(input.shape[0], self.hidden_size)
        else:
            check_shape("hx", hx, ("N", "H") if batched else ("H",), sizes)
            _check_dtype("hx", hx, self.weight_ih)
            hx = hx if batched else hx.unsqueeze(0)
        h = rnn_step(
            input, hx, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh, self.nonlinearity
        )
        return h if batched else h.squeeze(0)

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            s += ", bias=False"
        if self.nonlinearity != "tanh":
            s += f", nonlinearity={self.nonlinearity!r}"
        return s


class RNN(nn.Module):
    """A stack of ``num_layers`` RNNs, with ``torch.nn.RNN``'s API and parameters.

    Layer ``k`` has ``weight_ih_l{k}: (H, I)`` (``(H, H)`` for ``k > 0``, whose input
    is the hidden state of layer ``k - 1``), ``weight_hh_l{k}: (H, H)``, and, if
    ``bias``, ``bias_ih_l{k}: (H,)`` and ``bias_hh_l{k}: (H,)``; all uniform in
    ``±1/sqrt(H)`` like ``torch.nn.RNN``. Not supported: ``dropout``,
    ``bidirectional``, ``proj_size`` and packed sequences.
    """

    def __init__(
        self,
        input_size,
        hidden_size,
        num_layers=1,
        bias=True,
        batch_first=False,
        nonlinearity="tanh",
        device=None,
        dtype=None,
    ):
        super().__init__()
        _check_nonlinearity(nonlinearity)
        if num_layers < 1:
            raise ValueError(f"num_layers must be at least 1, got {num_layers}")
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.nonlinearity = bias, batch_first, nonlinearity
        factory = {"device": device, "dtype": dtype}
        # Registered in torch.nn.RNN's order, so that state_dict keys and
        # reset_parameters' random draws come out in the same order.
        for k in range(num_layers):
            layer_input = input_size if k == 0 else hidden_size
            setattr(self, f"weight_ih_l{k}", _parameter(hidden_size, layer_input, **factory))
            setattr(self, f"weight_hh_l{k}", _parameter(hidden_size, hidden_size, **factory))
            if bias:
                setattr(self, f"bias_ih_l{k}", _parameter(hidden_size, **factory))
                setattr(self, f"bias_hh_l{k}", _parameter(hidden_size, **factory))
        self.reset_parameters()

    def reset_parameters(self):
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def layer_parameters(self, k):
        """``(weight_ih, weight_hh, bias_ih, bias_hh)`` of layer ``k`` (biases None if no bias)."""
        names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
        return tuple(getattr(self, f"{name}_l{k}", None) for name in names)

    def forward(self, input, hx=None):
        """
        Args:
            input: (L, N, I), or (N, L, I) if ``batch_first``, or (L, I) unbatched.
            hx: (num_layers, N, H), or (num_layers, H) unbatched: the initial hidden
                state of every layer; zeros if None.

        Returns:
            output: (L, N, H), or (N, L, H) if ``batch_first``, or (L, H) unbatched:
                the last layer's hidden state at every step.
            h_n: (num_layers, N, H), or (num_layers, H) unbatched: every layer's
                hidden state after the last step.
        """
        sizes = {"I": self.input_size, "H": self.hidden_size, "num_layers": self.num_layers}
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
            hx = input.new_zeros(self.num_layers, N, self.hidden_size)
        else:
            check_shape(
                "hx", hx, ("num_layers", "N", "H") if batched else ("num_layers", "H"), sizes
            )
            _check_dtype("hx", hx, self.weight_ih_l0)
            hx = hx if batched else hx.unsqueeze(1)

        layer_input, h_n = input, []
        for k in range(self.num_layers):
            params = self.layer_parameters(k)
            h, outputs = hx[k], []
            for t in range(L):
                h = rnn_step(layer_input[t], h, *params, nonlinearity=self.nonlinearity)
                outputs.append(h)
            layer_input = torch.stack(outputs)  # (L, N, H): the next layer's input
            h_n.append(h)
        output, h_n = layer_input, torch.stack(h_n)

        if not batched:
            return output.squeeze(1), h_n.squeeze(1)
        return (output.transpose(0, 1) if self.batch_first else output), h_n

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.nonlinearity != "tanh":
            s += f", nonlinearity={self.nonlinearity!r}"
        return s
