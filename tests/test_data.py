"""The datasets of ``lstmlib.data``: shapes, dtypes, and the definition of each task."""

from __future__ import annotations

import numpy as np
import pytest

from lstmlib.data import adding_problem


@pytest.mark.parametrize(("n", "T"), [(1, 2), (5, 3), (64, 100), (7, 101)])
def test_adding_problem_shapes_and_dtypes(n, T, rng):
    x, y = adding_problem(n, T, rng)
    assert isinstance(x, np.ndarray) and isinstance(y, np.ndarray)
    assert x.shape == (T, n, 2)
    assert y.shape == (n,)
    assert x.dtype == np.float32 and y.dtype == np.float32


def test_adding_problem_values_are_uniform_in_unit_interval(rng):
    x, _ = adding_problem(2000, 50, rng)
    values = x[..., 0]
    assert values.min() >= 0.0 and values.max() < 1.0
    # U(0, 1): mean 1/2, variance 1/12 (100,000 draws: both within a few standard errors).
    assert abs(values.mean() - 0.5) < 0.005
    assert abs(values.var() - 1 / 12) < 0.002


@pytest.mark.parametrize("T", [2, 3, 10, 100, 101])
def test_adding_problem_marks_exactly_one_step_in_each_half(T, rng):
    x, _ = adding_problem(500, T, rng)
    markers = x[..., 1]
    assert set(np.unique(markers)) <= {0.0, 1.0}
    assert np.all(markers.sum(axis=0) == 2)  # exactly two marked steps per sequence
    assert np.all(markers[: T // 2].sum(axis=0) == 1)  # one in the first half
    assert np.all(markers[T // 2 :].sum(axis=0) == 1)  # one in the second half


def test_adding_problem_marker_positions_cover_each_half(rng):
    T = 10
    x, _ = adding_problem(2000, T, rng)
    first = np.argmax(x[: T // 2, :, 1], axis=0)
    second = T // 2 + np.argmax(x[T // 2 :, :, 1], axis=0)
    assert set(first) == set(range(T // 2))
    assert set(second) == set(range(T // 2, T))


def test_adding_problem_target_is_sum_of_marked_values(rng):
    x, y = adding_problem(300, 40, rng)
    for j in range(x.shape[1]):
        marked = np.flatnonzero(x[:, j, 1] == 1.0)
        assert len(marked) == 2
        assert y[j] == pytest.approx(x[marked[0], j, 0] + x[marked[1], j, 0], abs=1e-6)


def test_adding_problem_baseline_mse_is_one_sixth(rng):
    # Predicting the mean, 1, costs the variance of the sum of two U(0, 1): 2/12.
    _, y = adding_problem(200_000, 4, rng)
    assert abs(y.mean() - 1.0) < 0.005
    assert abs(np.mean((y - 1.0) ** 2) - 1 / 6) < 0.003


def test_adding_problem_is_reproducible_and_varies_with_the_seed():
    x1, y1 = adding_problem(8, 20, np.random.default_rng(3))
    x2, y2 = adding_problem(8, 20, np.random.default_rng(3))
    x3, _ = adding_problem(8, 20, np.random.default_rng(4))
    np.testing.assert_array_equal(x1, x2)
    np.testing.assert_array_equal(y1, y2)
    assert not np.array_equal(x1, x3)


@pytest.mark.parametrize(("n", "T"), [(0, 10), (-1, 10), (4, 1), (4, 0)])
def test_adding_problem_rejects_impossible_sizes(n, T, rng):
    with pytest.raises(ValueError):
        adding_problem(n, T, rng)
