"""Numerical gradients by central differences, and the error measure to compare them.

Used by the test suite, the chapters and the exercises alike, so a student checks
their backward pass with exactly the tool the course uses on its own code.

Typical use, for a function ``f`` of several arrays and an upstream gradient
``dout`` on its output::

    dx_num = numerical_gradient(lambda x: f(x, w), x, dout)
    print(max_relative_error(dx_analytic, dx_num))   # ~1e-8 or less in float64
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def numerical_gradient(f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, dout=None, eps=1e-6):
    """Gradient of ``sum(f(x) * dout)`` with respect to ``x`` by central differences.

    Args:
        f: function of ``x`` alone (close over the other arguments). It may return
            an array of any shape, or a tuple whose first element is that array
            (so ``*_forward`` functions returning ``(out, cache)`` work as they are).
        x: float64 array; perturbed in place entry by entry and restored.
        dout: upstream gradient, same shape as ``f(x)``; ones if not given.
        eps: step size. 1e-6 balances truncation and rounding error in float64.

    Returns:
        Array of ``x``'s shape.
    """
    if x.dtype != np.float64:
        raise TypeError(f"numerical_gradient needs a float64 x for accuracy, got {x.dtype}")

    def scalar(value):
        out = value[0] if isinstance(value, tuple) else value
        weights = np.ones_like(out) if dout is None else dout
        return float(np.sum(out * weights))

    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        original = x[i]
        x[i] = original + eps
        plus = scalar(f(x))
        x[i] = original - eps
        minus = scalar(f(x))
        x[i] = original
        grad[i] = (plus - minus) / (2 * eps)
    return grad


def max_relative_error(a, b, floor=1e-8):
    """Largest elementwise ``|a - b| / max(|a| + |b|, floor)``.

    The ``floor`` keeps entries where both gradients are (almost) zero from
    dividing by zero; such entries count as absolute error over ``floor``.
    For float64 gradients a correct backward pass gives about 1e-7 or less;
    a wrong one gives 1e-2 to 1.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"cannot compare shapes {a.shape} and {b.shape}")
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), floor)))
