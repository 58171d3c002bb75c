"""``lstmlib.moving_digits`` against independent oracles: frames rebuilt pixel by pixel from
the reported positions, a closed-form bouncing trajectory, frames that are shifted copies of
each other, conserved intensity, and reproducibility from a seed."""

from __future__ import annotations

import numpy as np
import pytest

from lstmlib.moving_digits import DIGIT_SIZE, bounce, load_digit_images, moving_digits

CONFIGS = [  # (size, digits per sequence, max speed)
    (16, 1, 2),
    (24, 2, 3),
    (12, 1, 1),
]


def make(size=16, digits=1, max_speed=2, n=40, T=25, seed=0, **kwargs):
    return moving_digits(
        n,
        T,
        size,
        np.random.default_rng(seed),
        digits_per_sequence=digits,
        max_speed=max_speed,
        return_info=True,
        **kwargs,
    )


def folded(start, velocity, t, high):
    """Where uniform motion reflected between walls 0 and ``high`` is at time ``t``: the
    unbounded line ``start + t * velocity`` folded like a triangle wave of period 2 high."""
    u = np.mod(start + t * velocity, 2 * high)
    return np.where(u <= high, u, 2 * high - u)


def test_bundled_digits_are_scaled_to_unit_range():
    images, labels = load_digit_images()
    assert images.shape == (1797, 8, 8) and images.dtype == np.float32
    assert images.min() == 0.0 and images.max() == 1.0
    assert labels.shape == (1797,) and set(labels.tolist()) == set(range(10))


@pytest.mark.parametrize("size, digits, max_speed", CONFIGS)
def test_shapes_types_and_ranges(size, digits, max_speed):
    n, T = 40, 25
    info = make(size, digits, max_speed, n=n, T=T)
    assert info.frames.shape == (n, T, 1, size, size) and info.frames.dtype == np.float32
    assert info.frames.min() >= 0.0 and info.frames.max() <= 1.0
    assert info.positions.shape == info.velocities.shape == (n, T, digits, 2)
    assert info.digits.shape == (n, digits, 8, 8)
    assert info.labels.shape == info.indices.shape == (n, digits)
    assert info.positions.min() >= 0 and info.positions.max() <= size - DIGIT_SIZE
    speeds = np.abs(info.velocities)
    assert speeds.min() >= 1 and speeds.max() <= max_speed
    # Without return_info: the same frames, alone.
    plain = moving_digits(n, T, size, 0, digits_per_sequence=digits, max_speed=max_speed)
    np.testing.assert_array_equal(plain, info.frames)


@pytest.mark.parametrize("size, digits, max_speed", CONFIGS)
def test_frames_are_the_digits_pasted_at_the_reported_positions(size, digits, max_speed):
    info = make(size, digits, max_speed)
    images, labels = load_digit_images()
    np.testing.assert_array_equal(info.digits, images[info.indices])
    np.testing.assert_array_equal(info.labels, labels[info.indices])
    n, T = info.frames.shape[:2]
    for j in range(n):
        for t in range(T):
            canvas = np.zeros((size, size), dtype=np.float32)
            for d in range(digits):
                r, c = info.positions[j, t, d]
                patch = canvas[r : r + 8, c : c + 8]
                canvas[r : r + 8, c : c + 8] = np.maximum(patch, images[info.indices[j, d]])
            np.testing.assert_array_equal(info.frames[j, t, 0], canvas)


def test_one_digit_conserves_total_intensity():
    info = make(16, 1, 2, n=100, T=30)
    totals = info.frames.sum(axis=(2, 3, 4))  # (n, T)
    expected = info.digits.sum(axis=(1, 2, 3))  # (n,): the whole digit is always in view
    np.testing.assert_allclose(totals, np.broadcast_to(expected[:, None], totals.shape), rtol=1e-6)


def test_next_frame_is_the_previous_one_shifted_by_the_motion():
    """Image-level check, no pasting involved: each frame is the one before it shifted by
    the digit's displacement (np.roll never wraps the digit, which stays inside)."""
    info = make(16, 1, 2, n=60, T=20)
    for j in range(60):
        for t in range(19):
            dr, dc = info.positions[j, t + 1, 0] - info.positions[j, t, 0]
            shifted = np.roll(info.frames[j, t, 0], (dr, dc), axis=(0, 1))
            np.testing.assert_array_equal(info.frames[j, t + 1, 0], shifted)


@pytest.mark.parametrize("size, digits, max_speed", CONFIGS)
def test_motion_is_uniform_and_reflected_at_the_walls(size, digits, max_speed):
    info = make(size, digits, max_speed, n=60, T=40)
    high = size - DIGIT_SIZE
    p, v = info.positions, info.velocities
    t = np.arange(40)[None, :, None, None]
    # Every position follows from the first one and the first velocity, in closed form.
    np.testing.assert_array_equal(p, folded(p[:, :1], v[:, :1], t, high))
    # Step by step: move by the velocity; where that would cross a wall, the velocity flips.
    step, inside = (
        p[:, 1:] - p[:, :-1],
        (0 <= p[:, :-1] + v[:, :-1]) & (p[:, :-1] + v[:, :-1] <= high),
    )
    np.testing.assert_array_equal(step[inside], v[:, :-1][inside])
    np.testing.assert_array_equal(v[:, 1:][inside], v[:, :-1][inside])
    np.testing.assert_array_equal(v[:, 1:][~inside], -v[:, :-1][~inside])
    assert np.abs(step).max() <= max_speed  # continuous: no jumps
    assert (~inside).sum() > 50 and inside.sum() > 50  # both cases really occur
    # The walls are reached: some digit touches 0 and some touches the far wall.
    assert p.min() == 0 and p.max() == high


@pytest.mark.parametrize("size, max_speed", [(16, 1), (16, 2), (24, 3)])
def test_every_frame_and_transition_is_distributed_alike(size, max_speed):
    """Stationary start: positions at frame 0 look like those at frame 7, and bounces are
    as frequent between any two frames (no wave of bounces at a particular step)."""
    n, T = 20_000, 12
    info = make(size, 1, max_speed, n=n, T=T, seed=3)
    high = size - DIGIT_SIZE
    first = np.bincount(info.positions[:, 0].ravel(), minlength=high + 1) / (2 * n)
    later = np.bincount(info.positions[:, 7].ravel(), minlength=high + 1) / (2 * n)
    np.testing.assert_allclose(first, later, atol=0.012)
    bounced = (info.velocities[:, 1:] != info.velocities[:, :-1]).any(axis=(2, 3))  # (n, T-1)
    rates = bounced.mean(axis=0)
    np.testing.assert_allclose(rates, rates.mean(), atol=0.02)
    # A digit is never at a wall moving away from it: it arrives moving towards the wall.
    p, v = info.positions, info.velocities
    assert not ((p == 0) & (v > 0)).any() and not ((p == high) & (v < 0)).any()


def test_bounce_reflects_by_the_overshoot():
    p, v = bounce(np.array([1, 0, 7, 8, 3]), np.array([-2, -1, 2, 1, 2]), high=8)
    np.testing.assert_array_equal(p, [1, 1, 7, 7, 5])
    np.testing.assert_array_equal(v, [2, 1, -2, -1, 2])


def test_same_seed_same_videos_different_seed_different_videos():
    a = make(24, 2, 3, seed=7)
    b = make(24, 2, 3, seed=7)
    c = make(24, 2, 3, seed=8)
    for field in a._fields:
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    assert not np.array_equal(a.frames, c.frames)
    # An int seed and a fresh Generator with that seed are the same thing.
    np.testing.assert_array_equal(moving_digits(5, 6, 16, 7), moving_digits(5, 6, 16, 7))
    rng = np.random.default_rng(7)
    first, second = moving_digits(5, 6, 16, rng), moving_digits(5, 6, 16, rng)
    assert not np.array_equal(first, second)  # a Generator moves on between calls


def test_draws_cover_positions_velocities_and_digits():
    info = make(16, 1, 2, n=2000, T=1)
    starts, velocities = info.positions[:, 0, 0], info.velocities[:, 0, 0]
    assert set(starts.ravel().tolist()) == set(range(9))
    assert set(velocities.ravel().tolist()) == {-2, -1, 1, 2}
    assert set(info.labels.ravel().tolist()) == set(range(10))


def test_digits_come_only_from_the_images_given():
    images, labels = load_digit_images()
    held_out = images[1000:]
    info = make(16, 2, 2, n=50, images=held_out, labels=labels[1000:])
    np.testing.assert_array_equal(info.digits, held_out[info.indices])
    np.testing.assert_array_equal(info.labels, labels[1000:][info.indices])
    unlabelled = make(16, 1, 2, n=5, images=held_out[:3])
    assert (unlabelled.labels == -1).all() and unlabelled.indices.max() < 3


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(size=8), "size must exceed 8"),
        (dict(size=16, max_speed=9), "max_speed must be in 1 .. size - 8 = 8"),
        (dict(size=16, max_speed=0), "max_speed"),
        (dict(size=16, digits_per_sequence=0), "at least 1"),
        (dict(size=16, images=np.zeros((3, 7, 7))), r"images must have shape \(N, 8, 8\)"),
    ],
)
def test_bad_arguments_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        moving_digits(2, 3, rng=0, **kwargs)
