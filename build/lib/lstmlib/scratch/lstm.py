r"""The LSTM, forward and backward by hand.

One step computes, with the gates stacked in PyTorch's order **i, f, g, o**,

.. math::

    a &= x_t W_x + h_{t-1} W_h + b                          \\
    i &= \sigma(a_i), \quad f = \sigma(a_f), \quad g = \tanh(a_g), \quad o = \sigma(a_o) \\
    c_t &= f \odot c_{t-1} + i \odot g                       \\
    h_t &= o \odot \tanh(c_t)

where ``a_i, a_f, a_g, a_o`` are the four blocks of ``H`` columns of ``a``.
Backpropagation through time runs the step's backward from the last step to the
first. Unlike the RNN, two gradients flow back from one step to the previous:
one on ``h`` and one on the cell state ``c``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from lstmlib.shapes import ShapeError, check_float, check_shape


def sigmoid(a):
    """The logistic function ``1 / (1 + exp(-a))``, elementwise.

    Written as ``(1 + tanh(a / 2)) / 2``, the same function, because ``exp(-a)``
    overflows (with a warning) for large negative ``a`` and tanh never does.
    """
    return 0.5 * (1.0 + np.tanh(0.5 * a))


class LSTMStepCache(NamedTuple):
    """What ``lstm_step_backward`` needs from the forward step.

    The gates are stored after their nonlinearity: every derivative needed can be
    written with them (``sigmoid' = s (1 - s)``, ``tanh' = 1 - t**2``), so the
    pre-activation ``a`` need not be kept. ``tanh(c)`` is recomputed from ``c``.
    """

    x: np.ndarray  # (B, I)
    h_prev: np.ndarray  # (B, H)
    c_prev: np.ndarray  # (B, H)
    Wx: np.ndarray  # (I, 4H)
    Wh: np.ndarray  # (H, 4H)
    i: np.ndarray  # (B, H) input gate
    f: np.ndarray  # (B, H) forget gate
    g: np.ndarray  # (B, H) candidate cell values
    o: np.ndarray  # (B, H) output gate
    c: np.ndarray  # (B, H) new cell state


def _check_lstm_arguments(x, h_prev, c_prev, Wx, Wh, b, x_dims):
    sizes: dict[str, int] = {}
    sequence = len(x_dims) == 3
    h_name, c_name = ("h0", "c0") if sequence else ("h_prev", "c_prev")
    check_shape("x", x, x_dims, sizes)
    # The states fix H; the weights must then have 4H columns, one block per gate.
    check_shape(h_name, h_prev, ("B", "H"), sizes)
    check_shape(c_name, c_prev, ("B", "H"), sizes)
    sizes["4H"] = 4 * sizes["H"]
    check_shape("Wx", Wx, ("I", "4H"), sizes)
    check_shape("Wh", Wh, ("H", "4H"), sizes)
    check_shape("b", b, ("4H",), sizes)
    if sequence and x.shape[0] == 0:
        raise ShapeError("x must hold at least one time step, got shape (0, ...)")
    arrays = (("x", x), (h_name, h_prev), (c_name, c_prev), ("Wx", Wx), ("Wh", Wh), ("b", b))
    for name, value in arrays:
        check_float(name, value)


def lstm_step_forward(x, h_prev, c_prev, Wx, Wh, b):
    """One LSTM step.

    Args:
        x: (B, I) inputs at this step.
        h_prev: (B, H) hidden state from the previous step.
        c_prev: (B, H) cell state from the previous step.
        Wx: (I, 4H) input-to-gates weights, gate blocks in the order i, f, g, o.
        Wh: (H, 4H) hidden-to-gates weights, same order.
        b: (4H,) bias, same order.

    Returns:
        h: (B, H) the new hidden state ``o * tanh(c)``.
        c: (B, H) the new cell state ``f * c_prev + i * g``.
        cache: ``LSTMStepCache(x, h_prev, c_prev, Wx, Wh, i, f, g, o, c)`` for
        ``lstm_step_backward``.
    """
    _check_lstm_arguments(x, h_prev, c_prev, Wx, Wh, b, ("B", "I"))
    H = h_prev.shape[1]
    a = x @ Wx + h_prev @ Wh + b  # (B, 4H): all four gates in one product
    i = sigmoid(a[:, :H])
    f = sigmoid(a[:, H : 2 * H])
    g = np.tanh(a[:, 2 * H : 3 * H])
    o = sigmoid(a[:, 3 * H :])
    c = f * c_prev + i * g
    h = o * np.tanh(c)
    return h, c, LSTMStepCache(x, h_prev, c_prev, Wx, Wh, i, f, g, o, c)


def lstm_step_backward(dh, dc, cache):
    """Backward pass of one LSTM step.

    Args:
        dh: (B, H) gradient of the loss with respect to this step's ``h``.
        dc: (B, H) gradient of the loss with respect to this step's ``c`` along
            the paths that do not go through this step's ``h`` (in a sequence:
            the ``dc_prev`` returned by the next step's backward; zeros at the
            last step).
        cache: the ``LSTMStepCache`` returned by ``lstm_step_forward``.

    Returns:
        dx: (B, I), dh_prev: (B, H), dc_prev: (B, H), dWx: (I, 4H), dWh: (H, 4H),
        db: (4H,).
    """
    x, h_prev, c_prev, Wx, Wh, i, f, g, o, c = cache
    check_shape("dh", dh, c.shape)
    check_shape("dc", dc, c.shape)

    # h = o * tanh(c)
    tanh_c = np.tanh(c)
    do = dh * tanh_c
    # c reaches the loss in two ways: through h (here) and through the next
    # step's cell state (dc). Both contributions add up.
    dc_total = dc + dh * o * (1.0 - tanh_c**2)

    # c = f * c_prev + i * g
    df = dc_total * c_prev
    dc_prev = dc_total * f  # the cell-state path: just a multiplication by f
    di = dc_total * g
    dg = dc_total * i

    # Through the gates' nonlinearities, back to the pre-activation a (B, 4H),
    # with the blocks in the forward's order i, f, g, o.
    da = np.concatenate(
        (
            di * i * (1.0 - i),  # sigmoid' = s (1 - s)
            df * f * (1.0 - f),
            dg * (1.0 - g**2),  # tanh' = 1 - t**2
            do * o * (1.0 - o),
        ),
        axis=1,
    )

    # a = x @ Wx + h_prev @ Wh + b: the same as the RNN's pre-activation.
    dx = da @ Wx.T
    dh_prev = da @ Wh.T
    dWx = x.T @ da
    dWh = h_prev.T @ da
    db = da.sum(axis=0)
    return dx, dh_prev, dc_prev, dWx, dWh, db


def lstm_forward(x, h0, c0, Wx, Wh, b):
    """Run the LSTM over a whole sequence.

    Args:
        x: (T, B, I) input sequence, time first.
        h0: (B, H) initial hidden state.
        c0: (B, H) initial cell state.
        Wx: (I, 4H), Wh: (H, 4H), b: (4H,) as in ``lstm_step_forward``.

    Returns:
        h: (T, B, H) the hidden state after every step.
        cache: list of the T step caches, first step first. The final cell
        state is ``cache[-1].c``.
    """
    _check_lstm_arguments(x, h0, c0, Wx, Wh, b, ("T", "B", "I"))
    T, B, _ = x.shape
    h = np.empty((T, B, Wh.shape[0]), dtype=np.result_type(x, Wx, Wh))
    cache = []
    h_t, c_t = h0, c0
    for t in range(T):
        h_t, c_t, step_cache = lstm_step_forward(x[t], h_t, c_t, Wx, Wh, b)
        h[t] = h_t
        cache.append(step_cache)
    return h, cache


def lstm_backward(dh, cache):
    """Backpropagation through time over a whole sequence.

    Args:
        dh: (T, B, H) upstream gradient on every hidden state (zeros where the
            loss does not look at a step). The cell states get no upstream
            gradient of their own: theirs flows back from the next step.
        cache: the list returned by ``lstm_forward``.

    Returns:
        dx: (T, B, I), dh0: (B, H), dc0: (B, H), dWx: (I, 4H), dWh: (H, 4H),
        db: (4H,).
    """
    T = len(cache)
    check_shape("dh", dh, (T, *cache[0].c.shape))
    x0, _, _, Wx, Wh, *_ = cache[0]
    dx = np.empty((T, *x0.shape), dtype=dh.dtype)
    dWx, dWh = np.zeros_like(Wx), np.zeros_like(Wh)
    db = np.zeros(Wh.shape[1], dtype=dh.dtype)
    # Gradients flowing back from step t+1 into step t's h and c; nothing comes
    # from beyond the last step.
    dh_next = np.zeros_like(dh[0])
    dc_next = np.zeros_like(dh[0])
    for t in reversed(range(T)):
        dx[t], dh_next, dc_next, dWx_t, dWh_t, db_t = lstm_step_backward(
            dh[t] + dh_next, dc_next, cache[t]
        )
        # The weights are shared by all steps, so their gradients add up.
        dWx += dWx_t
        dWh += dWh_t
        db += db_t
    return dx, dh_next, dc_next, dWx, dWh, db


def lstm_gradient_norm_by_lag(x, h0, c0, Wx, Wh, b, dh_last=None):
    """How much gradient from the last step reaches each earlier hidden and cell state.

    The LSTM counterpart of ``lstmlib.scratch.rnn.gradient_norm_by_lag``: runs
    the LSTM over ``x``, puts the upstream gradient ``dh_last`` on the last
    hidden state only, and backpropagates step by step.

    Args:
        x: (T, B, I), h0: (B, H), c0: (B, H), Wx: (I, 4H), Wh: (H, 4H), b: (4H,).
        dh_last: (B, H) gradient on ``h[T-1]``; ones if not given.

    Returns:
        norms_h: (T,) where ``norms_h[k]`` is the Frobenius norm of the gradient
        of the loss with respect to ``h[T-1-k]``, the hidden state ``k`` steps
        before the last. ``norms_h[0]`` is the norm of ``dh_last`` itself.
        norms_c: (T,) the same for the cell states: ``norms_c[k]`` is the norm of
        the full gradient with respect to ``c[T-1-k]`` (through that step's
        ``h`` and through the next cell state alike).
    """
    h, cache = lstm_forward(x, h0, c0, Wx, Wh, b)
    T = x.shape[0]
    dh_t = np.ones_like(h[-1]) if dh_last is None else dh_last
    check_shape("dh_last", dh_t, h[-1].shape)
    dc_t = np.zeros_like(h[-1])  # no cell state after the last one
    norms_h, norms_c = np.empty(T), np.empty(T)
    for k in range(T):
        step = cache[T - 1 - k]
        norms_h[k] = np.linalg.norm(dh_t)
        # The full gradient on c[T-1-k] adds the path through this step's h:
        # the dc_total of lstm_step_backward.
        norms_c[k] = np.linalg.norm(dc_t + dh_t * step.o * (1.0 - np.tanh(step.c) ** 2))
        if k < T - 1:
            _, dh_t, dc_t, _, _, _ = lstm_step_backward(dh_t, dc_t, step)
    return norms_h, norms_c
