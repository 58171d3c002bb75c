r"""The GRU (gated recurrent unit), forward and backward by hand.

One step computes, with the gates stacked in PyTorch's order **r, z, n**,

.. math::

    a^x &= x_t W_x + b_x, \qquad a^h = h_{t-1} W_h + b_h
        \quad\text{(each split into blocks } \cdot_r, \cdot_z, \cdot_n \text{ of width } H) \\
    r &= \sigma(a^x_r + a^h_r), \qquad z = \sigma(a^x_z + a^h_z) \\
    n &= \tanh(a^x_n + r \odot a^h_n) \\
    h_t &= (1 - z) \odot n + z \odot h_{t-1}

The reset gate ``r`` multiplies the hidden state's contribution to the candidate
``n`` *including its bias* ``b_h``, as in PyTorch (and cuDNN). That is why the GRU
keeps two bias vectors: unlike the LSTM's, ``b_x`` and ``b_h`` cannot be merged
into one (their ``n`` blocks enter differently). The update gate ``z`` mixes the
old state and the candidate: ``z = 1`` keeps ``h_{t-1}`` unchanged.

There is no cell state: one gradient flows back from a step to the previous one,
on ``h``, as in the RNN.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from lstmlib.scratch.lstm import sigmoid
from lstmlib.shapes import ShapeError, check_float, check_shape


class GRUStepCache(NamedTuple):
    """What ``gru_step_backward`` needs from the forward step.

    The gates are stored after their nonlinearity (``sigmoid' = s (1 - s)``,
    ``tanh' = 1 - t**2``). ``ah_n`` is the one pre-activation kept: the reset gate
    multiplies it, so the gradient on ``r`` needs it.
    """

    x: np.ndarray  # (B, I)
    h_prev: np.ndarray  # (B, H)
    Wx: np.ndarray  # (I, 3H)
    Wh: np.ndarray  # (H, 3H)
    r: np.ndarray  # (B, H) reset gate
    z: np.ndarray  # (B, H) update gate
    n: np.ndarray  # (B, H) candidate state
    ah_n: np.ndarray  # (B, H) h_prev @ Wh[:, 2H:] + bh[2H:], before r multiplies it


def _check_gru_arguments(x, h_prev, Wx, Wh, bx, bh, x_dims):
    sizes: dict[str, int] = {}
    sequence = len(x_dims) == 3
    h_name = "h0" if sequence else "h_prev"
    check_shape("x", x, x_dims, sizes)
    # The state fixes H; the weights must then have 3H columns, one block per gate.
    check_shape(h_name, h_prev, ("B", "H"), sizes)
    sizes["3H"] = 3 * sizes["H"]
    check_shape("Wx", Wx, ("I", "3H"), sizes)
    check_shape("Wh", Wh, ("H", "3H"), sizes)
    check_shape("bx", bx, ("3H",), sizes)
    check_shape("bh", bh, ("3H",), sizes)
    if sequence and x.shape[0] == 0:
        raise ShapeError("x must hold at least one time step, got shape (0, ...)")
    arrays = (("x", x), (h_name, h_prev), ("Wx", Wx), ("Wh", Wh), ("bx", bx), ("bh", bh))
    for name, value in arrays:
        check_float(name, value)


def gru_step_forward(x, h_prev, Wx, Wh, bx, bh):
    """One GRU step.

    Args:
        x: (B, I) inputs at this step.
        h_prev: (B, H) hidden state from the previous step.
        Wx: (I, 3H) input-to-gates weights, gate blocks in the order r, z, n.
        Wh: (H, 3H) hidden-to-gates weights, same order.
        bx: (3H,) input bias, same order.
        bh: (3H,) hidden bias, same order (its n block is multiplied by r).

    Returns:
        h: (B, H) the new hidden state ``(1 - z) * n + z * h_prev``.
        cache: ``GRUStepCache(x, h_prev, Wx, Wh, r, z, n, ah_n)`` for
        ``gru_step_backward``.
    """
    _check_gru_arguments(x, h_prev, Wx, Wh, bx, bh, ("B", "I"))
    H = h_prev.shape[1]
    ax = x @ Wx + bx  # (B, 3H): the input's share of all three gates
    ah = h_prev @ Wh + bh  # (B, 3H): the state's share
    r = sigmoid(ax[:, :H] + ah[:, :H])
    z = sigmoid(ax[:, H : 2 * H] + ah[:, H : 2 * H])
    ah_n = ah[:, 2 * H :]
    n = np.tanh(ax[:, 2 * H :] + r * ah_n)
    h = (1.0 - z) * n + z * h_prev
    return h, GRUStepCache(x, h_prev, Wx, Wh, r, z, n, ah_n)


def gru_step_backward(dh, cache):
    """Backward pass of one GRU step.

    Args:
        dh: (B, H) gradient of the loss with respect to this step's output ``h``.
        cache: the ``GRUStepCache`` returned by ``gru_step_forward``.

    Returns:
        dx: (B, I), dh_prev: (B, H), dWx: (I, 3H), dWh: (H, 3H), dbx: (3H,),
        dbh: (3H,).
    """
    x, h_prev, Wx, Wh, r, z, n, ah_n = cache
    check_shape("dh", dh, n.shape)

    # h = (1 - z) * n + z * h_prev
    dn = dh * (1.0 - z)
    dz = dh * (h_prev - n)
    dh_prev = dh * z  # the direct path: h_prev is copied through where z = 1

    # n = tanh(ax_n + r * ah_n)
    da_n = dn * (1.0 - n**2)  # tanh' = 1 - t**2
    dr = da_n * ah_n
    dah_n = da_n * r  # the reset gate scales the gradient reaching ah_n

    # r = sigmoid(ax_r + ah_r), z = sigmoid(ax_z + ah_z): the same pre-activation
    # gradient reaches the input's and the state's share.
    da_r = dr * r * (1.0 - r)
    da_z = dz * z * (1.0 - z)
    dax = np.concatenate((da_r, da_z, da_n), axis=1)  # (B, 3H), blocks r, z, n
    dah = np.concatenate((da_r, da_z, dah_n), axis=1)

    # ax = x @ Wx + bx, ah = h_prev @ Wh + bh
    dx = dax @ Wx.T
    dh_prev = dh_prev + dah @ Wh.T
    dWx = x.T @ dax
    dWh = h_prev.T @ dah
    dbx = dax.sum(axis=0)
    dbh = dah.sum(axis=0)
    return dx, dh_prev, dWx, dWh, dbx, dbh


def gru_forward(x, h0, Wx, Wh, bx, bh):
    """Run the GRU over a whole sequence.

    Args:
        x: (T, B, I) input sequence, time first.
        h0: (B, H) initial hidden state.
        Wx: (I, 3H), Wh: (H, 3H), bx: (3H,), bh: (3H,) as in ``gru_step_forward``.

    Returns:
        h: (T, B, H) the hidden state after every step.
        cache: list of the T step caches, first step first.
    """
    _check_gru_arguments(x, h0, Wx, Wh, bx, bh, ("T", "B", "I"))
    T, B, _ = x.shape
    h = np.empty((T, B, Wh.shape[0]), dtype=np.result_type(x, h0, Wx, Wh))
    cache = []
    h_t = h0
    for t in range(T):
        h_t, step_cache = gru_step_forward(x[t], h_t, Wx, Wh, bx, bh)
        h[t] = h_t
        cache.append(step_cache)
    return h, cache


def gru_backward(dh, cache):
    """Backpropagation through time over a whole sequence.

    Args:
        dh: (T, B, H) upstream gradient on every hidden state (zeros where the
            loss does not look at a step).
        cache: the list returned by ``gru_forward``.

    Returns:
        dx: (T, B, I), dh0: (B, H), dWx: (I, 3H), dWh: (H, 3H), dbx: (3H,),
        dbh: (3H,).
    """
    T = len(cache)
    check_shape("dh", dh, (T, *cache[0].n.shape))
    x0, _, Wx, Wh, *_ = cache[0]
    dx = np.empty((T, *x0.shape), dtype=dh.dtype)
    dWx, dWh = np.zeros_like(Wx), np.zeros_like(Wh)
    dbx = np.zeros(Wh.shape[1], dtype=dh.dtype)
    dbh = np.zeros(Wh.shape[1], dtype=dh.dtype)
    dh_next = np.zeros_like(dh[0])  # gradient flowing back from step t+1
    for t in reversed(range(T)):
        dx[t], dh_next, dWx_t, dWh_t, dbx_t, dbh_t = gru_step_backward(dh[t] + dh_next, cache[t])
        # The weights are shared by all steps, so their gradients add up.
        dWx += dWx_t
        dWh += dWh_t
        dbx += dbx_t
        dbh += dbh_t
    return dx, dh_next, dWx, dWh, dbx, dbh
