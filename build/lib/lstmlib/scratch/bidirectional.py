r"""Bidirectional recurrent layers from any one-direction layer, forward and backward.

A bidirectional layer runs two independent layers (own weights, own initial
state) over the same sequence: one from the first step to the last, one from the
last to the first. At every step ``t`` its output puts the two side by side,

.. math:: h_t = [\overrightarrow{h}_t ;\ \overleftarrow{h}_t] \qquad (B, 2H)

so ``h_t`` sees the whole sequence: the past through the forward direction, the
future through the backward one. The backward direction is the one-direction
layer run on the *reversed* sequence, its outputs reversed back into step order.

The wrapper works with any of ``rnn_forward``, ``lstm_forward`` and
``gru_forward`` (and their backwards), because they share one convention: they
take ``x`` first and return ``(h, cache)``; the backward returns ``dx`` first.

Variable lengths: a padded batch holds sequence ``b`` in steps ``0 .. lengths[b]-1``
and padding after it. The backward direction must start at each sequence's *own*
last step, so the reversal is per sequence, within its length
(``reverse_padded``); the padding stays at the end, where it cannot reach the real
steps of either direction. Outputs on the padding are zero, like PyTorch's.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from lstmlib.shapes import ShapeError, check_shape


class BidirectionalCache(NamedTuple):
    """What ``bidirectional_backward`` needs from ``bidirectional_forward``."""

    fwd: list  # the forward direction's cache, as its *_forward returned it
    bwd: list  # the backward direction's cache (on the reversed sequence)
    lengths: np.ndarray | None  # (B,) or None (every sequence has all T steps)


def _check_lengths(lengths, T, B):
    lengths = np.asarray(lengths)
    check_shape("lengths", lengths, ("B",), {"B": B})
    if lengths.dtype.kind not in "iu":
        raise TypeError(f"lengths must hold integers, got dtype {lengths.dtype}")
    if lengths.min() < 1 or lengths.max() > T:
        raise ShapeError(f"lengths must be in 1..T={T}, got {lengths.tolist()}")
    return lengths


def reverse_padded(x, lengths=None):
    """Reverse every sequence of a padded batch in time, within its own length.

    Args:
        x: (T, B, ...) padded batch, time first.
        lengths: (B,) integers in ``1..T``, or None for ``x[::-1]``.

    Returns:
        Array like ``x`` whose ``[t, b]`` is ``x[lengths[b] - 1 - t, b]`` for
        ``t < lengths[b]``; the padding steps ``t >= lengths[b]`` stay where they
        are. Applying it twice gives ``x`` back.
    """
    if lengths is None:
        return x[::-1]
    T, B = x.shape[:2]
    lengths = _check_lengths(lengths, T, B)
    t = np.arange(T)[:, None]  # (T, 1) against lengths (B,): a (T, B) table of sources
    source = np.where(t < lengths, lengths - 1 - t, t)
    return x[source, np.arange(B)]


def _zero_padding(x, lengths):
    """``x: (T, B, ...)`` with the steps past each sequence's length set to zero."""
    if lengths is None:
        return x
    pad = np.arange(x.shape[0])[:, None] >= lengths  # (T, B)
    return np.where(pad[..., None], 0.0, x)


def bidirectional_forward(forward, x, args_fwd, args_bwd, lengths=None):
    """Run a one-direction layer both ways over ``x`` and put the outputs side by side.

    Args:
        forward: ``rnn_forward``, ``lstm_forward`` or ``gru_forward``.
        x: (T, B, I) input, time first; padded if ``lengths`` is given (the
            padding must be finite: zeros, say).
        args_fwd: the forward direction's arguments after ``x``, in ``forward``'s
            order: ``(h0, Wx, Wh, b)`` for the RNN, ``(h0, c0, Wx, Wh, b)`` for the
            LSTM, ``(h0, Wx, Wh, bx, bh)`` for the GRU.
        args_bwd: the same for the backward direction (its own initial state and
            weights).
        lengths: (B,) sequence lengths in ``1..T``, or None.

    Returns:
        h: (T, B, 2H): ``h[..., :H]`` the forward direction's hidden states,
            ``h[..., H:]`` the backward direction's, both in step order; zero past
            each sequence's length. The final states are ``h[lengths - 1, arange(B), :H]``
            (forward: after the last step) and ``h[0, :, H:]`` (backward: after
            reading the first step).
        cache: ``BidirectionalCache(fwd, bwd, lengths)`` for ``bidirectional_backward``.
    """
    if lengths is not None:
        lengths = _check_lengths(lengths, *x.shape[:2])
    h_fwd, cache_fwd = forward(x, *args_fwd)
    h_bwd, cache_bwd = forward(reverse_padded(x, lengths), *args_bwd)
    h = np.concatenate((h_fwd, reverse_padded(h_bwd, lengths)), axis=-1)
    return _zero_padding(h, lengths), BidirectionalCache(cache_fwd, cache_bwd, lengths)


def bidirectional_backward(backward, dh, cache):
    """Backward pass of ``bidirectional_forward``.

    Args:
        backward: the ``*_backward`` matching the forward used (``rnn_backward``,
            ``lstm_backward`` or ``gru_backward``).
        dh: (T, B, 2H) upstream gradient on ``h`` (ignored past each length,
            where ``h`` is constant zero).
        cache: the ``BidirectionalCache`` returned by ``bidirectional_forward``.

    Returns:
        dx: (T, B, I), the sum of both directions' input gradients.
        grads_fwd: tuple of the gradients on ``args_fwd``, in its order (what
            ``backward`` returns after ``dx``).
        grads_bwd: the same for ``args_bwd``.
    """
    fwd, bwd, lengths = cache
    if dh.ndim != 3 or dh.shape[-1] % 2:
        raise ShapeError(f"dh must have shape (T, B, 2H), got {dh.shape}")
    H = dh.shape[-1] // 2
    dh = _zero_padding(dh, lengths)
    dx_fwd, *grads_fwd = backward(dh[..., :H], fwd)
    # The backward direction ran on the reversed sequence: reverse its upstream
    # gradient the same way, and its dx back into step order.
    dx_bwd, *grads_bwd = backward(reverse_padded(dh[..., H:], lengths), bwd)
    dx = dx_fwd + reverse_padded(dx_bwd, lengths)
    return dx, tuple(grads_fwd), tuple(grads_bwd)
