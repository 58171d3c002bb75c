"""Moving digits: short videos of handwritten digits bouncing around a canvas.

A small, offline stand-in for "Moving MNIST" (Srivastava, Mansimov & Salakhutdinov,
2015), built from the 1,797 8x8 handwritten digits that ship with scikit-learn
(``sklearn.datasets.load_digits``: the test set of the UCI "Optical Recognition of
Handwritten Digits" data, read from disk, no download). Each sequence places one or
more digits on a ``size x size`` black canvas and moves each one in a straight line,
a whole number of pixels per frame, reflecting it off the walls:

- the position of a digit is the (row, column) of its top-left pixel, always in
  ``0 .. size - 8``, so a digit never leaves the canvas and is never cut;
- each velocity component is a non-zero whole number in ``-max_speed .. max_speed``;
  whole-pixel steps mean that every frame is an exact copy of the digit image, with
  no interpolation;
- when a step would carry a digit past a wall, it is reflected instead: the position
  folds back by the overshoot and that velocity component changes sign;
- where digits overlap, a pixel takes the brighter of the two (``np.maximum``), as in
  Moving MNIST, so frames stay in [0, 1].

Everything random comes from the ``rng`` passed in, so a fixed seed gives the same
videos on every run. Videos are batch-first, ``(n, T, 1, size, size)``: the layout of
``lstmlib.nn.convlstm.ConvLSTM`` with ``batch_first=True`` (one channel, grey levels).
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

import numpy as np

__all__ = ["DIGIT_SIZE", "MovingDigits", "bounce", "load_digit_images", "moving_digits"]

DIGIT_SIZE = 8  # scikit-learn's digits are 8 x 8 pixels


class MovingDigits(NamedTuple):
    """A batch of moving-digit videos and how they were made.

    Shapes, for ``n`` sequences of ``T`` frames with ``D`` digits each on a ``S x S``
    canvas:

    - ``frames``: (n, T, 1, S, S) float32 in [0, 1], the videos;
    - ``positions``: (n, T, D, 2) int64, (row, column) of each digit's top-left pixel
      in each frame, in ``0 .. S - 8``;
    - ``velocities``: (n, T, D, 2) int64, each digit's velocity at frame ``t`` in
      pixels per frame: the step that takes it to frame ``t + 1`` unless it meets a
      wall on the way; a bounce between frames ``t`` and ``t + 1`` shows as a sign
      change from ``velocities[:, t]`` to ``velocities[:, t + 1]``;
    - ``digits``: (n, D, 8, 8) float32 in [0, 1], the digit images that move;
    - ``labels``: (n, D) int64, their classes 0-9 (-1 for images given without labels);
    - ``indices``: (n, D) int64, their rows in the ``images`` the videos were drawn from.
    """

    frames: np.ndarray
    positions: np.ndarray
    velocities: np.ndarray
    digits: np.ndarray
    labels: np.ndarray
    indices: np.ndarray


@lru_cache(maxsize=1)
def _load_digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    data = load_digits()
    images = (data.images / 16.0).astype(np.float32)  # grey levels 0..16 -> [0, 1]
    images.setflags(write=False)
    labels = data.target.astype(np.int64)
    labels.setflags(write=False)
    return images, labels


def load_digit_images() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's bundled handwritten digits, scaled to [0, 1].

    Returns:
        images: (1797, 8, 8) float32 in [0, 1] (the data's 17 grey levels divided by 16).
        labels: (1797,) int64, the digit each image shows.

    Both arrays are read-only (they are cached; copy them to modify).
    """
    return _load_digits()


def bounce(position: np.ndarray, velocity: np.ndarray, high: int) -> tuple[np.ndarray, np.ndarray]:
    """One frame of motion in ``0 .. high`` with reflection at both walls.

    Args:
        position: integer array, every entry in ``0 .. high``.
        velocity: integer array of the same shape, every entry with
            ``|velocity| <= high`` (so that one reflection is enough).
        high: the largest allowed position (``size - 8`` for a digit).

    Returns:
        ``(position, velocity)`` after the step: ``position + velocity`` where that
        stays in ``0 .. high``; otherwise folded back by the overshoot
        (``-p`` below 0, ``2 * high - p`` above ``high``) with the velocity reversed.
    """
    p = position + velocity
    v = velocity.copy()
    low_side, high_side = p < 0, p > high
    p = np.where(low_side, -p, p)
    p = np.where(high_side, 2 * high - p, p)
    v[low_side | high_side] *= -1
    return p, v


def moving_digits(
    n_sequences: int,
    n_frames: int,
    size: int = 16,
    rng: np.random.Generator | int | None = None,
    digits_per_sequence: int = 1,
    max_speed: int = 2,
    images: np.ndarray | None = None,
    labels: np.ndarray | None = None,
    return_info: bool = False,
) -> np.ndarray | MovingDigits:
    """Videos of 8x8 handwritten digits moving in straight lines and bouncing off walls.

    For each sequence and each of its digits the generator draws, in this order: a
    digit image (uniformly from ``images``), a position (uniform over ``0 .. size - 8``
    on each axis), a velocity (each component uniform over ``±1 .. ±max_speed``) and a
    number of frames ``m``, uniform over ``1 .. 2 (size - 8)``. Frame 0 shows each
    digit where that start would take it after ``m`` frames of motion; each later
    frame moves every digit by its velocity, reflecting it off the walls (see
    ``bounce``).

    Why the ``m`` frames: a digit that bounces is never at a wall *moving away* from
    it (it arrives moving towards the wall and leaves one frame later), but a uniform
    start puts some digits there. Those extra digits reach the opposite wall together,
    ``size - 8`` frames later, and make bounces more frequent at that step than at any
    other. Moving the start along its path by a uniform number of frames (the motion
    repeats every ``2 (size - 8)`` frames or a divisor of it) removes such states and
    makes the start distribution stationary: every frame of a video, the first
    included, is distributed alike, and so is every transition.

    Args:
        n_sequences: n, the number of videos (at least 1).
        n_frames: T, frames per video (at least 1).
        size: S, the side of the square canvas in pixels (at least 9).
        rng: a NumPy ``Generator``, or a seed for ``np.random.default_rng``; the same
            seed gives the same videos.
        digits_per_sequence: D, digits moving in each video (at least 1).
        max_speed: largest speed per axis, pixels per frame (1 .. size - 8).
        images: (N, 8, 8) digit images in [0, 1] to draw from; default: all of
            ``load_digit_images()``. Pass a subset to keep, say, the digits of the
            test videos apart from those of the training videos.
        labels: (N,) the classes of ``images`` (default: those of the bundled digits
            when ``images`` is None, else -1).
        return_info: also return positions, velocities and the digits used.

    Returns:
        frames: (n, T, 1, S, S) float32 in [0, 1]; or, with ``return_info=True``,
        a ``MovingDigits`` tuple whose ``frames`` are these.
    """
    if n_sequences < 1 or n_frames < 1 or digits_per_sequence < 1:
        raise ValueError(
            "n_sequences, n_frames and digits_per_sequence must be at least 1, got "
            f"{n_sequences}, {n_frames}, {digits_per_sequence}"
        )
    high = size - DIGIT_SIZE
    if high < 1:
        raise ValueError(f"size must exceed {DIGIT_SIZE} (room for a digit to move), got {size}")
    if not 1 <= max_speed <= high:
        raise ValueError(f"max_speed must be in 1 .. size - 8 = {high}, got {max_speed}")
    if images is None:
        images, default_labels = load_digit_images()
        labels = default_labels if labels is None else labels
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 3 or images.shape[1:] != (DIGIT_SIZE, DIGIT_SIZE) or len(images) == 0:
        raise ValueError(f"images must have shape (N, 8, 8) with N >= 1, got {images.shape}")
    labels = np.full(len(images), -1) if labels is None else np.asarray(labels)
    rng = np.random.default_rng(rng)

    n, T, D = n_sequences, n_frames, digits_per_sequence
    indices = rng.integers(0, len(images), size=(n, D))
    position = rng.integers(0, high + 1, size=(n, D, 2))
    speed = rng.integers(1, max_speed + 1, size=(n, D, 2))
    velocity = speed * rng.choice([-1, 1], size=(n, D, 2))
    lead_in = rng.integers(1, 2 * high + 1, size=(n, D, 2))  # m, per axis
    for m in range(2 * high):
        moved, turned = bounce(position, velocity, high)
        position = np.where(m < lead_in, moved, position)
        velocity = np.where(m < lead_in, turned, velocity)

    positions = np.empty((n, T, D, 2), dtype=np.int64)
    velocities = np.empty((n, T, D, 2), dtype=np.int64)
    for t in range(T):
        positions[:, t], velocities[:, t] = position, velocity
        position, velocity = bounce(position, velocity, high)

    digits = images[indices]  # (n, D, 8, 8)
    frames = np.zeros((n, T, size, size), dtype=np.float32)
    # Paste every digit into every frame at once: for digit d, the pixel (y, x) of its
    # image lands on (row + y, column + x) of each frame; index arrays (n, T, 8, 8).
    offsets = np.arange(DIGIT_SIZE)
    seq, frame = np.arange(n)[:, None, None, None], np.arange(T)[None, :, None, None]
    for d in range(D):
        rows = positions[:, :, d, 0, None, None] + offsets[:, None]  # (n, T, 8, 1)
        cols = positions[:, :, d, 1, None, None] + offsets[None, :]  # (n, T, 1, 8)
        window = frames[seq, frame, rows, cols]  # (n, T, 8, 8), a copy
        frames[seq, frame, rows, cols] = np.maximum(window, digits[:, None, d])
    frames = frames[:, :, None]  # (n, T, 1, S, S): one channel
    if not return_info:
        return frames
    return MovingDigits(
        frames=frames,
        positions=positions,
        velocities=velocities,
        digits=digits,
        labels=labels[indices].astype(np.int64),
        indices=indices.astype(np.int64),
    )
