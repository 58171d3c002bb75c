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
