"""Datasets the book uses: synthetic tasks generated in code, and data shipped in packages.

Every generator takes a NumPy ``Generator`` (``np.random.default_rng(seed)``), so that a
chapter that fixes its seed gets the same data on every build, and returns NumPy arrays
in the course's time-major layout ``(T, n, features)``; ``torch.from_numpy`` turns them
into tensors without a copy.
"""

from __future__ import annotations

import numpy as np

__all__ = ["adding_problem"]


def adding_problem(n: int, T: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n`` sequences of the adding problem of length ``T``.

    The task of Hochreiter & Schmidhuber (1997, experiment 4), in the form used by most
    later work (e.g. Le, Jaitly & Hinton, 2015): every step carries two numbers,

    - channel 0: a value drawn uniformly from [0, 1);
    - channel 1: a marker, 1.0 at exactly two steps and 0.0 everywhere else; one marked
      step is drawn uniformly from the first half of the sequence (steps
      ``0 .. T//2 - 1``), the other from the second half (steps ``T//2 .. T-1``).

    The target is the sum of the two marked values, to be given after the last step. To
    solve it a network must notice the first marked value, keep it over at least
    ``T - T//2`` steps of distracting values, and add the second one to it. A model that
    ignores the inputs can do no better than predict the mean, 1, whose mean squared
    error is the variance of the target: 2 * (1/12) = 1/6.

    Args:
        n: number of sequences (at least 1).
        T: sequence length (at least 2, so that each half holds a marker).
        rng: the NumPy random generator to draw from.

    Returns:
        x: (T, n, 2) float32, time first: ``x[t, j]`` is step ``t`` of sequence ``j``,
            ``x[..., 0]`` the values and ``x[..., 1]`` the markers.
        y: (n,) float32, the targets ``sum_t x[t, :, 0] * x[t, :, 1]``.
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    if T < 2:
        raise ValueError(f"T must be at least 2 (one marker in each half), got {T}")
    values = rng.uniform(0.0, 1.0, size=(T, n))
    markers = np.zeros((T, n))
    columns = np.arange(n)
    first = rng.integers(0, T // 2, size=n)
    second = rng.integers(T // 2, T, size=n)
    markers[first, columns] = 1.0
    markers[second, columns] = 1.0
    x = np.stack((values, markers), axis=-1).astype(np.float32)
    y = (values[first, columns] + values[second, columns]).astype(np.float32)
    return x, y
