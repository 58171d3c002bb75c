"""lstmlib.corruption: each damage does what it says, at the rate it says."""

from __future__ import annotations

import numpy as np
import pytest

from lstmlib.corruption import add_noise, corrupt_all, drop_steps, mask_values
from lstmlib.shapes import ShapeError


@pytest.fixture
def x(rng):
    # Distinct values, so that every step and entry can be traced in the output.
    return rng.permutation(4000 * 5).reshape(4000, 5).astype(np.float32) + 1


def test_noise_has_the_requested_spread(x, rng):
    out = add_noise(x, 0.5, rng)
    assert out.shape == x.shape and out.dtype == x.dtype
    diff = (out - x).astype(np.float64)
    # 20,000 draws: mean within 4 standard errors of 0, spread within 2 %.
    assert abs(diff.mean()) < 4 * 0.5 / np.sqrt(diff.size)
    assert abs(diff.std() - 0.5) < 0.01
    np.testing.assert_array_equal(add_noise(x, 0.0, rng), x)


def test_dropped_steps_are_a_subsequence_in_order(x, rng):
    out = drop_steps(x, 0.3, rng)
    kept = [int(np.flatnonzero((x == row).all(axis=1))[0]) for row in out]
    assert kept == sorted(kept) and len(set(kept)) == len(kept)
    # 4,000 steps, each kept with probability 0.7: within 5 standard deviations.
    assert abs(len(out) - 2800) < 5 * np.sqrt(4000 * 0.3 * 0.7)
    np.testing.assert_array_equal(drop_steps(x, 0.0, rng), x)


def test_dropping_everything_leaves_one_step(x, rng):
    out = drop_steps(x[:10], 1.0, rng)
    assert out.shape == (1, 5) and (x[:10] == out).all(axis=1).sum() == 1


def test_missing_values_are_the_fill_and_the_rest_unchanged(x, rng):
    out = mask_values(x, 0.25, rng, fill=-7.0)
    missing = out != x
    assert np.all(out[missing] == -7.0)  # x has no -7, so every change is a fill
    assert abs(missing.mean() - 0.25) < 5 * np.sqrt(0.25 * 0.75 / x.size)
    assert np.all(mask_values(x, 1.0, rng) == 0)


def test_the_input_is_left_unchanged(x, rng):
    copy = x.copy()
    for damage in (add_noise, drop_steps, mask_values):
        damage(x, 0.5, rng)
    np.testing.assert_array_equal(x, copy)


def test_corrupt_all_is_reproducible_and_rate_zero_copies(x):
    seqs = [x[:7], x[7:20]]
    a = corrupt_all(seqs, "missing values", 0.4, np.random.default_rng(5))
    b = corrupt_all(seqs, "missing values", 0.4, np.random.default_rng(5))
    for u, v in zip(a, b, strict=True):
        np.testing.assert_array_equal(u, v)
    clean = corrupt_all(seqs, "dropped steps", 0, np.random.default_rng(0))
    assert all(c is not s and np.array_equal(c, s) for c, s in zip(clean, seqs, strict=True))


def test_bad_arguments_raise(x, rng):
    with pytest.raises(ValueError, match="kind"):
        corrupt_all([x], "blur", 0.1, rng)
    with pytest.raises(ValueError, match="rate"):
        drop_steps(x, 1.5, rng)
    with pytest.raises(ValueError, match="rate"):
        add_noise(x, -1, rng)
    with pytest.raises(ShapeError, match=r"\(L, F\)"):
        mask_values(x[:, 0], 0.1, rng)
