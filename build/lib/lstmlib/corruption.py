"""Corrupted copies of real-valued sequences, for testing how robust a classifier is.

Three kinds of damage, each at a ``rate`` and reproducible from a
``numpy.random.Generator``; every function takes one sequence ``x: (L, F)`` (time first,
``F`` features per step) and returns a new array, leaving ``x`` unchanged:

- :func:`add_noise`: Gaussian noise of standard deviation ``rate`` on every entry. On
  standardised inputs (every feature with mean 0 and standard deviation 1 on the
  training data) ``rate = 1`` is noise as large as the signal's own spread;
- :func:`drop_steps`: each step removed with probability ``rate`` (the sequence gets
  shorter; at least one step stays), like frames lost in transmission;
- :func:`mask_values`: each entry replaced with probability ``rate`` by ``fill`` (0 by
  default: on standardised inputs, the training mean), the usual cheap imputation of a
  missing value.

:func:`corrupt_all` applies one of them to a list of sequences. The text counterparts
(typos, dropped and shuffled words) are in ``lstmlib.sentiment``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from lstmlib.shapes import check_shape

__all__ = ["CORRUPTIONS", "add_noise", "corrupt_all", "drop_steps", "mask_values"]


def _check(x, rate, upper):
    check_shape("x", x, ("L", "F"))
    if len(x) == 0:
        raise ValueError("x must have at least one step")
    if not 0 <= rate <= upper:
        raise ValueError(f"rate must be in [0, {upper}], got {rate}")
    return np.asarray(x)


def add_noise(x, rate: float, rng: np.random.Generator) -> np.ndarray:
    """``x + rate * z`` with ``z`` standard normal, one draw per entry.

    Args:
        x: (L, F). rate: the noise's standard deviation, ``>= 0``.

    Returns:
        (L, F), the dtype of ``x``.
    """
    x = _check(x, rate, np.inf)
    return (x + rate * rng.standard_normal(x.shape)).astype(x.dtype)


def drop_steps(x, rate: float, rng: np.random.Generator) -> np.ndarray:
    """The steps of ``x`` that survive, in order; each is dropped with probability ``rate``.

    If every step would be dropped, one chosen at random stays (a sequence is never
    empty), so ``rate = 1`` leaves a single step.

    Args:
        x: (L, F). rate: in ``[0, 1]``.

    Returns:
        (L', F) with ``1 <= L' <= L``.
    """
    x = _check(x, rate, 1)
    keep = rng.random(len(x)) >= rate
    if not keep.any():
        keep[rng.integers(len(x))] = True
    return x[keep].copy()


def mask_values(x, rate: float, rng: np.random.Generator, fill: float = 0.0) -> np.ndarray:
    """``x`` with each entry replaced by ``fill`` with probability ``rate``.

    Args:
        x: (L, F). rate: in ``[0, 1]``. fill: the imputed value (0 is the mean of a
            standardised feature).

    Returns:
        (L, F), the dtype of ``x``.
    """
    x = _check(x, rate, 1)
    out = x.copy()
    out[rng.random(x.shape) < rate] = fill
    return out


CORRUPTIONS = {"noise": add_noise, "dropped steps": drop_steps, "missing values": mask_values}


def corrupt_all(
    sequences: Sequence[np.ndarray], kind: str, rate: float, rng: np.random.Generator
) -> list[np.ndarray]:
    """``CORRUPTIONS[kind]`` at ``rate`` on each sequence, in order, from one ``rng``.

    ``rate = 0`` returns copies of the sequences unchanged (and draws nothing), so a
    clean evaluation goes through the same code as a corrupted one.
    """
    if kind not in CORRUPTIONS:
        raise ValueError(f"kind must be one of {tuple(CORRUPTIONS)}, got {kind!r}")
    if rate == 0:
        return [np.array(x, copy=True) for x in sequences]
    return [CORRUPTIONS[kind](x, rate, rng) for x in sequences]
