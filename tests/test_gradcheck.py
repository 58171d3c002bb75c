"""The gradient checker against gradients worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from lstmlib.gradcheck import max_relative_error, numerical_gradient


def test_cube_with_upstream_weights(rng):
    x = rng.normal(size=(3, 4))
    dout = rng.normal(size=(3, 4))
    # d/dx sum(x**3 * dout) = 3 x**2 dout
    assert max_relative_error(numerical_gradient(lambda x: x**3, x, dout), 3 * x**2 * dout) < 1e-6


def test_default_upstream_gradient_is_ones(rng):
    x = rng.normal(size=5)
    np.testing.assert_allclose(numerical_gradient(np.sin, x), np.cos(x), rtol=1e-7, atol=1e-9)


def test_matrix_product_both_factors(rng):
    a, w = rng.normal(size=(3, 4)), rng.normal(size=(4, 2))
    dout = rng.normal(size=(3, 2))
    # out = a @ w: d/da = dout @ w.T, d/dw = a.T @ dout
    assert max_relative_error(numerical_gradient(lambda a: a @ w, a, dout), dout @ w.T) < 1e-6
    assert max_relative_error(numerical_gradient(lambda w: a @ w, w, dout), a.T @ dout) < 1e-6


def test_scalar_valued_function(rng):
    x = rng.normal(size=(2, 3))
    np.testing.assert_allclose(
        numerical_gradient(lambda x: np.sum(x**2), x), 2 * x, rtol=1e-7, atol=1e-9
    )


def test_function_returning_output_and_cache(rng):
    x = rng.normal(size=(2, 3))
    dout = rng.normal(size=(2, 3))

    def forward(x):
        out = np.exp(x)
        return out, {"out": out}

    assert max_relative_error(numerical_gradient(forward, x, dout), np.exp(x) * dout) < 1e-6


def test_x_is_restored(rng):
    x = rng.normal(size=(3, 3))
    before = x.copy()
    numerical_gradient(np.tanh, x)
    np.testing.assert_array_equal(x, before)


def test_only_x_is_differentiated(rng):
    x, y = rng.normal(size=3), rng.normal(size=3)
    # f depends on y too, but y is held fixed: d/dx sum(x * y) = y
    np.testing.assert_allclose(numerical_gradient(lambda x: x * y, x), y, rtol=1e-7, atol=1e-9)


def test_float32_is_rejected():
    with pytest.raises(TypeError, match="float64.*float32"):
        numerical_gradient(np.sin, np.zeros(3, dtype=np.float32))


def test_max_relative_error_values():
    assert max_relative_error(np.array([1.0, -2.0]), np.array([1.0, -2.0])) == 0.0
    assert max_relative_error(np.array([1.0]), np.array([3.0])) == pytest.approx(0.5)  # 2 / 4
    assert max_relative_error(np.array([1.0, 1.0]), np.array([1.0, -1.0])) == pytest.approx(1.0)
    # The largest entry counts, not the mean.
    assert max_relative_error([1.0, 1.0, 1.0], [1.0, 1.0, 1.2]) == pytest.approx(0.2 / 2.2)


def test_max_relative_error_floor():
    assert max_relative_error(np.zeros(3), np.zeros(3)) == 0.0
    # |1e-10 - 0| / max(1e-10, 1e-8) = 1e-2: tiny gradients count as absolute error.
    assert max_relative_error([1e-10], [0.0]) == pytest.approx(1e-2)
    assert max_relative_error([1e-10], [0.0], floor=1e-12) == pytest.approx(1.0)


def test_max_relative_error_shapes():
    assert max_relative_error(np.zeros((0, 3)), np.zeros((0, 3))) == 0.0
    with pytest.raises(ValueError, match=r"\(2,\) and \(3,\)"):
        max_relative_error(np.zeros(2), np.zeros(3))
