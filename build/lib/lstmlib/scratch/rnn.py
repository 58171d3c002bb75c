r"""A plain (Elman) RNN with tanh, forward and backward by hand.

One step computes

.. math:: h_t = \tanh(x_t W_x + h_{t-1} W_h + b)

and backpropagation through time (BPTT) runs the step's backward from the last
step to the first, adding up the weight gradients of every step.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from lstmlib.shapes import ShapeError, check_float, check_shape


class RNNStepCache(NamedTuple):
    """What ``rnn_step_backward`` needs from the forward step.

    Only inputs and the output are kept: ``tanh'(a) = 1 - tanh(a)**2 = 1 - h**2``,
    so the pre-activation need not be stored.
    """

    x: np.ndarray  # (B, I)
    h_prev: np.ndarray  # (B, H)
    Wx: np.ndarray  # (I, H)
    Wh: np.ndarray  # (H, H)
    h: np.ndarray  # (B, H)


def _check_rnn_arguments(x, h_prev, Wx, Wh, b, x_dims):
    sizes: dict[str, int] = {}
    h_name = "h0" if len(x_dims) == 3 else "h_prev"
    check_shape("x", x, x_dims, sizes)
    check_shape("Wx", Wx, ("I", "H"), sizes)
    check_shape(h_name, h_prev, ("B", "H"), sizes)
    check_shape("Wh", Wh, ("H", "H"), sizes)
    check_shape("b", b, ("H",), sizes)
    if len(x_dims) == 3 and x.shape[0] == 0:
        raise ShapeError("x must hold at least one time step, got shape (0, ...)")
    for name, value in (("x", x), (h_name, h_prev), ("Wx", Wx), ("Wh", Wh), ("b", b)):
        check_float(name, value)


def rnn_step_forward(x, h_prev, Wx, Wh, b):
    """One RNN step.

    Args:
        x: (B, I) inputs at this step.
        h_prev: (B, H) hidden state from the previous step.
        Wx: (I, H) input-to-hidden weights.
        Wh: (H, H) hidden-to-hidden weights.
        b: (H,) bias.

    Returns:
        h: (B, H) the new hidden state, ``tanh(x @ Wx + h_prev @ Wh + b)``.
        cache: ``RNNStepCache(x, h_prev, Wx, Wh, h)`` for ``rnn_step_backward``.
    """
    _check_rnn_arguments(x, h_prev, Wx, Wh, b, ("B", "I"))
    h = np.tanh(x @ Wx + h_prev @ Wh + b)
    return h, RNNStepCache(x, h_prev, Wx, Wh, h)


def rnn_step_backward(dh, cache):
    """Backward pass of one RNN step.

    Args:
        dh: (B, H) gradient of the loss with respect to this step's output ``h``.
        cache: the ``RNNStepCache`` returned by ``rnn_step_forward``.

    Returns:
        dx: (B, I), dh_prev: (B, H), dWx: (I, H), dWh: (H, H), db: (H,).
    """
    x, h_prev, Wx, Wh, h = cache
    check_shape("dh", dh, h.shape)
    da = dh * (1.0 - h**2)  # through tanh
    dx = da @ Wx.T
    dh_prev = da @ Wh.T
    dWx = x.T @ da
    dWh = h_prev.T @ da
    db = da.sum(axis=0)
    return dx, dh_prev, dWx, dWh, db


def rnn_forward(x, h0, Wx, Wh, b):
    """Run the RNN over a whole sequence.

    Args:
        x: (T, B, I) input sequence, time first.
        h0: (B, H) initial hidden state.
        Wx: (I, H), Wh: (H, H), b: (H,) as in ``rnn_step_forward``.

    Returns:
        h: (T, B, H) the hidden state after every step.
        cache: list of the T step caches, first step first.
    """
    _check_rnn_arguments(x, h0, Wx, Wh, b, ("T", "B", "I"))
    T, B, _ = x.shape
    h = np.empty((T, B, Wh.shape[0]), dtype=np.result_type(x, Wx, Wh))
    cache = []
    h_t = h0
    for t in range(T):
        h_t, step_cache = rnn_step_forward(x[t], h_t, Wx, Wh, b)
        h[t] = h_t
        cache.append(step_cache)
    return h, cache


def rnn_backward(dh, cache):
    """Backpropagation through time over a whole sequence.

    Args:
        dh: (T, B, H) upstream gradient on every hidden state (zeros where the
            loss does not look at a step).
        cache: the list returned by ``rnn_forward``.

    Returns:
        dx: (T, B, I), dh0: (B, H), dWx: (I, H), dWh: (H, H), db: (H,).
    """
    T = len(cache)
    check_shape("dh", dh, (T, *cache[0].h.shape))
    x0, _, Wx, Wh, _ = cache[0]
    dx = np.empty((T, *x0.shape), dtype=dh.dtype)
    dWx, dWh = np.zeros_like(Wx), np.zeros_like(Wh)
    db = np.zeros(Wh.shape[0], dtype=dh.dtype)
    dh_next = np.zeros_like(dh[0])  # gradient flowing back from step t+1
    for t in reversed(range(T)):
        dx[t], dh_next, dWx_t, dWh_t, db_t = rnn_step_backward(dh[t] + dh_next, cache[t])
        # The weights are shared by all steps, so their gradients add up.
        dWx += dWx_t
        dWh += dWh_t
        db += db_t
    return dx, dh_next, dWx, dWh, db


def gradient_norm_by_lag(x, h0, Wx, Wh, b, dh_last=None):
    """How much gradient from the last step reaches each earlier hidden state.

    Runs the RNN over ``x``, puts the upstream gradient ``dh_last`` on the last
    hidden state only, and backpropagates step by step.

    Args:
        x: (T, B, I), h0: (B, H), Wx: (I, H), Wh: (H, H), b: (H,).
        dh_last: (B, H) gradient on ``h[T-1]``; ones if not given.

    Returns:
        norms: (T,) where ``norms[k]`` is the Frobenius norm of the gradient of
        the loss with respect to ``h[T-1-k]``, the state ``k`` steps before the
        last. ``norms[0]`` is the norm of ``dh_last`` itself.
    """
    h, cache = rnn_forward(x, h0, Wx, Wh, b)
    T = x.shape[0]
    dh_t = np.ones_like(h[-1]) if dh_last is None else dh_last
    check_shape("dh_last", dh_t, h[-1].shape)
    norms = np.empty(T)
    for k in range(T):
        norms[k] = np.linalg.norm(dh_t)
        if k < T - 1:
            _, dh_t, _, _, _ = rnn_step_backward(dh_t, cache[T - 1 - k])
    return norms
