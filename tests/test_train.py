"""lstmlib.train: the curve train_with_curve reports and that it really trains; the centred
running mean that smooths a loss curve."""

import numpy as np
import pytest
import torch

from lstmlib.train import running_mean, train_with_curve


def linear_problem(seed=0):
    """y = x @ w for a fixed w: a linear model can reach zero error."""
    generator = torch.Generator().manual_seed(seed)
    w = torch.randn(3, 1, generator=generator)

    def next_batch():
        x = torch.randn(32, 3, generator=generator)
        return x, (x @ w).squeeze(1)

    x_test = torch.randn(256, 3, generator=generator)
    y_test = (x_test @ w).squeeze(1)

    def evaluate(model):
        with torch.no_grad():
            return torch.nn.functional.mse_loss(model(x_test), y_test).item()

    return next_batch, evaluate


class Linear(torch.nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.layer = torch.nn.Linear(3, 1)

    def forward(self, x):
        return self.layer(x).squeeze(1)


def test_curve_starts_before_training_and_has_one_point_per_evaluation():
    next_batch, evaluate = linear_problem()
    model = Linear()
    initial = evaluate(model)
    curve, clock = train_with_curve(model, next_batch, evaluate, steps=100, lr=0.05, eval_every=20)
    assert curve.shape == clock.shape == (6,)
    assert curve[0] == initial
    assert clock[0] == 0 and np.all(np.diff(clock) >= 0)


def test_it_learns_a_learnable_task():
    next_batch, evaluate = linear_problem()
    curve, _ = train_with_curve(Linear(), next_batch, evaluate, steps=300, lr=0.05)
    assert curve[-1] < 1e-3 * curve[0]


def test_clipping_bounds_each_update():
    # A threshold above every gradient norm changes nothing. Adam divides out the
    # gradient's scale, except for its eps (1e-8): gradients clipped to norm 1e-12 fall
    # far below eps, so the updates shrink and learning all but stops.
    next_batch, evaluate = linear_problem()
    free, _ = train_with_curve(Linear(), next_batch, evaluate, steps=50, lr=0.05, clip=1e6)
    next_batch, evaluate = linear_problem()
    none, _ = train_with_curve(Linear(), next_batch, evaluate, steps=50, lr=0.05)
    np.testing.assert_allclose(free, none)
    next_batch, evaluate = linear_problem()
    tiny, _ = train_with_curve(Linear(), next_batch, evaluate, steps=50, lr=0.05, clip=1e-12)
    assert tiny[-1] > 10 * none[-1]


def test_stop_when_ends_training_at_the_first_evaluation_that_meets_it():
    # The oracle is the same run without stop_when: stopping must cut its curve right
    # after the first point (after step 0) below the threshold, and leave the model as a
    # run of exactly that many steps leaves it.
    next_batch, evaluate = linear_problem()
    full, _ = train_with_curve(Linear(), next_batch, evaluate, steps=300, lr=0.05, eval_every=20)
    threshold = 0.01 * full[0]
    first = 1 + int(np.flatnonzero(full[1:] < threshold)[0])
    assert 1 < first < len(full) - 1  # the test needs a stop strictly inside the run
    next_batch, evaluate = linear_problem()
    model = Linear()
    stopped, clock = train_with_curve(
        model,
        next_batch,
        evaluate,
        steps=300,
        lr=0.05,
        eval_every=20,
        stop_when=lambda error: error < threshold,
    )
    np.testing.assert_array_equal(stopped, full[: first + 1])
    assert clock.shape == stopped.shape
    next_batch, evaluate = linear_problem()
    reference = Linear()
    train_with_curve(reference, next_batch, evaluate, steps=20 * first, lr=0.05, eval_every=20)
    torch.testing.assert_close(model.state_dict(), reference.state_dict(), rtol=0, atol=0)
    # A criterion never met changes nothing.
    next_batch, evaluate = linear_problem()
    never, _ = train_with_curve(
        Linear(),
        next_batch,
        evaluate,
        steps=300,
        lr=0.05,
        eval_every=20,
        stop_when=lambda error: False,
    )
    np.testing.assert_array_equal(never, full)


def test_running_mean_is_centred_on_its_window():
    # Steps 1..5 with values 1, 2, 4, 8, 16: by hand, the windows of 3 are
    # steps 1-3 (mean 7/3, centre 2), 2-4 (14/3, centre 3) and 3-5 (28/3, centre 4).
    steps, means = running_mean([1, 2, 4, 8, 16], 3)
    np.testing.assert_allclose(steps, [2, 3, 4])
    np.testing.assert_allclose(means, [7 / 3, 14 / 3, 28 / 3])
    # An even window sits between two steps; first_step shifts every centre.
    steps, means = running_mean([1, 2, 4, 8], 2, first_step=0)
    np.testing.assert_allclose(steps, [0.5, 1.5, 2.5])
    np.testing.assert_allclose(means, [1.5, 3, 6])
    # A straight line is its own centred running mean: no lag.
    line = 3.0 * np.arange(1, 101)
    steps, means = running_mean(line, 25)
    np.testing.assert_allclose(means, 3.0 * steps)


def test_running_mean_rejects_bad_windows():
    with pytest.raises(ValueError, match="window must be in"):
        running_mean([1.0, 2.0], 3)
    with pytest.raises(ValueError, match="one series"):
        running_mean(np.ones((2, 3)), 2)
