"""Random inputs for the exercises' tests, one factory per model.

They live here rather than in a test cell so that every test cell stands alone:
when one cell fails (even by killing the kernel), the others still find them.
Weights are scaled by 1/sqrt(fan-in) so activations stay in tanh's useful range.
"""

from __future__ import annotations

import numpy as np


def rnn_step_inputs(rng: np.random.Generator, B: int, I: int, H: int):
    """Random ``(x, h_prev, Wx, Wh, b)`` with x: (B, I), h_prev: (B, H), Wx: (I, H), Wh: (H, H)."""
    return (
        rng.normal(size=(B, I)),
        rng.normal(size=(B, H)),
        rng.normal(size=(I, H)) / np.sqrt(I),
        rng.normal(size=(H, H)) / np.sqrt(H),
        rng.normal(size=H),
    )


def rnn_sequence_inputs(rng: np.random.Generator, T: int, B: int, I: int, H: int):
    """Random ``(x, h0, Wx, Wh, b)`` with x: (T, B, I) and the rest as in ``rnn_step_inputs``."""
    _, h0, Wx, Wh, b = rnn_step_inputs(rng, B, I, H)
    return (rng.normal(size=(T, B, I)), h0, Wx, Wh, b)


def lstm_step_inputs(rng: np.random.Generator, B: int, I: int, H: int):
    """Random ``(x, h_prev, c_prev, Wx, Wh, b)``: x: (B, I), h_prev, c_prev: (B, H),
    Wx: (I, 4H), Wh: (H, 4H), b: (4H,) in the gate order i, f, g, o."""
    return (
        rng.normal(size=(B, I)),
        rng.normal(size=(B, H)),
        rng.normal(size=(B, H)),
        rng.normal(size=(I, 4 * H)) / np.sqrt(I),
        rng.normal(size=(H, 4 * H)) / np.sqrt(H),
        rng.normal(size=4 * H),
    )


def lstm_sequence_inputs(rng: np.random.Generator, T: int, B: int, I: int, H: int):
    """Random ``(x, h0, c0, Wx, Wh, b)``: x: (T, B, I), the rest as in ``lstm_step_inputs``."""
    _, h0, c0, Wx, Wh, b = lstm_step_inputs(rng, B, I, H)
    return (rng.normal(size=(T, B, I)), h0, c0, Wx, Wh, b)


def load_convlstm_weights(cell, weight_ih, weight_hh, bias):
    """Copy ConvLSTM weights into a student's cell (its ``conv_x`` and ``conv_h`` layers).

    Args:
        cell: the student's module, with ``conv_x = nn.Conv2d(C_in, 4 C_hid, k)`` (with
            bias) and ``conv_h = nn.Conv2d(C_hid, 4 C_hid, k, bias=False)``.
        weight_ih: (4 C_hid, C_in, k, k), weight_hh: (4 C_hid, C_hid, k, k), bias: (4 C_hid,)
            tensors in the gate order i, f, g, o.
    """
    import torch

    from lstmlib.grading.checks import GradingError

    for name in ("conv_x", "conv_h"):
        if not isinstance(getattr(cell, name, None), torch.nn.Conv2d):
            raise GradingError(f"The cell needs an attribute {name} that is an nn.Conv2d.")
    targets = [(cell.conv_x.weight, weight_ih), (cell.conv_h.weight, weight_hh)]
    if cell.conv_x.bias is None:
        raise GradingError("conv_x needs a bias (the gates' bias b lives there).")
    targets.append((cell.conv_x.bias, bias))
    with torch.no_grad():
        for parameter, value in targets:
            if tuple(parameter.shape) != tuple(value.shape):
                raise GradingError(
                    f"A weight of shape {tuple(value.shape)} does not fit the cell's parameter "
                    f"of shape {tuple(parameter.shape)}."
                )
            parameter.copy_(value)


def gru_step_inputs(rng: np.random.Generator, B: int, I: int, H: int):
    """Random ``(x, h_prev, Wx, Wh, bx, bh)``: x: (B, I), h_prev: (B, H), Wx: (I, 3H),
    Wh: (H, 3H), bx, bh: (3H,) in the gate order r, z, n."""
    return (
        rng.normal(size=(B, I)),
        rng.normal(size=(B, H)),
        rng.normal(size=(I, 3 * H)) / np.sqrt(I),
        rng.normal(size=(H, 3 * H)) / np.sqrt(H),
        rng.normal(size=3 * H),
        rng.normal(size=3 * H),
    )
