"""lstmlib.train.train_with_curve: the curve it reports, and that it really trains."""

import numpy as np
import torch

from lstmlib.train import train_with_curve


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
