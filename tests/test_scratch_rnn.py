"""The NumPy RNN against three independent oracles: finite differences, torch
autograd on the same equations, and ``torch.nn.RNN``."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lstmlib.gradcheck import max_relative_error, numerical_gradient
from lstmlib.scratch.rnn import (
    gradient_norm_by_lag,
    rnn_backward,
    rnn_forward,
    rnn_step_backward,
    rnn_step_forward,
)
from lstmlib.shapes import ShapeError

ARGS = ("x", "h0", "Wx", "Wh", "b")


def torch_rnn(x, h0, Wx, Wh, b):
    """The book's equations in torch, time step by time step: list of the T states."""
    h, states = h0, []
    for x_t in x:
        h = torch.tanh(x_t @ Wx + h @ Wh + b)
        states.append(h)
    return states


def as_leaves(arrays):
    return [torch.tensor(a, requires_grad=True) for a in arrays]


# --- against finite differences --------------------------------------------------


def test_step_backward_matches_numerical_gradient(make_rnn_problem, rng):
    p = make_rnn_problem(T=1)
    args = [p.x[0], p.h0, p.Wx, p.Wh, p.b]
    h, cache = rnn_step_forward(*args)
    dh = rng.normal(size=h.shape)
    grads = rnn_step_backward(dh, cache)
    for i, (name, grad) in enumerate(zip(ARGS, grads, strict=True)):

        def f(a, i=i):
            return rnn_step_forward(*args[:i], a, *args[i + 1 :])

        assert max_relative_error(grad, numerical_gradient(f, args[i], dh)) < 1e-6, name


def test_sequence_backward_matches_numerical_gradient(make_rnn_problem, rng):
    p = make_rnn_problem(T=4)
    h, cache = rnn_forward(*p)
    dh = rng.normal(size=h.shape)
    grads = rnn_backward(dh, cache)
    for i, (name, grad) in enumerate(zip(ARGS, grads, strict=True)):

        def f(a, i=i):
            return rnn_forward(*p[:i], a, *p[i + 1 :])

        assert max_relative_error(grad, numerical_gradient(f, p[i], dh)) < 1e-6, name


# --- against torch autograd on the same equations --------------------------------


def test_step_backward_matches_autograd(make_rnn_problem, rng):
    p = make_rnn_problem(T=1)
    args = [p.x[0], p.h0, p.Wx, p.Wh, p.b]
    h, cache = rnn_step_forward(*args)
    dh = rng.normal(size=h.shape)
    leaves = as_leaves(args)
    (h_torch,) = torch_rnn(leaves[0][None], *leaves[1:])
    h_torch.backward(torch.tensor(dh))
    np.testing.assert_allclose(h, h_torch.detach().numpy(), rtol=0, atol=1e-12)
    for name, grad, leaf in zip(ARGS, rnn_step_backward(dh, cache), leaves, strict=True):
        np.testing.assert_allclose(grad, leaf.grad.numpy(), rtol=0, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("T", [1, 2, 7])
def test_sequence_backward_matches_autograd(make_rnn_problem, rng, T):
    p = make_rnn_problem(T=T)
    h, cache = rnn_forward(*p)
    dh = rng.normal(size=h.shape)
    leaves = as_leaves(p)
    h_torch = torch.stack(torch_rnn(*leaves))
    h_torch.backward(torch.tensor(dh))
    np.testing.assert_allclose(h, h_torch.detach().numpy(), rtol=0, atol=1e-12)
    for name, grad, leaf in zip(ARGS, rnn_backward(dh, cache), leaves, strict=True):
        np.testing.assert_allclose(grad, leaf.grad.numpy(), rtol=0, atol=1e-12, err_msg=name)


# --- against torch.nn.RNN ---------------------------------------------------------


def test_forward_matches_torch_nn_rnn(make_rnn_problem):
    p = make_rnn_problem(T=6, B=2, I=3, H=4)
    h, _ = rnn_forward(*p)
    ref = torch.nn.RNN(3, 4, dtype=torch.float64)
    with torch.no_grad():  # torch stores (out, in) and computes x @ W.T: Wx = W_ih.T
        ref.weight_ih_l0.copy_(torch.tensor(p.Wx.T))
        ref.weight_hh_l0.copy_(torch.tensor(p.Wh.T))
        ref.bias_ih_l0.copy_(torch.tensor(p.b))
        ref.bias_hh_l0.zero_()
        out, h_n = ref(torch.tensor(p.x), torch.tensor(p.h0)[None])
    np.testing.assert_allclose(h, out.numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(h[-1], h_n[0].numpy(), rtol=0, atol=1e-12)


# --- gradient_norm_by_lag ---------------------------------------------------------


@pytest.mark.parametrize("given_dh_last", [True, False])
def test_gradient_norm_by_lag_matches_autograd(make_rnn_problem, rng, given_dh_last):
    p = make_rnn_problem(T=6)
    dh_last = rng.normal(size=p.h0.shape) if given_dh_last else None
    norms = gradient_norm_by_lag(*p, dh_last=dh_last)

    states = torch_rnn(*as_leaves(p))
    upstream = torch.ones_like(states[-1]) if dh_last is None else torch.tensor(dh_last)
    # h[T-1] depends on every earlier state, so autograd can differentiate it by them.
    grads = torch.autograd.grad((upstream * states[-1]).sum(), states)
    expected = [torch.linalg.norm(g).item() for g in reversed(grads)]  # lag 0 first
    assert norms.shape == (len(states),)
    np.testing.assert_allclose(norms, expected, rtol=1e-10, atol=0)


# --- argument checks --------------------------------------------------------------


def test_forward_names_the_wrong_argument(make_rnn_problem):
    p = make_rnn_problem(T=4, B=3, I=5, H=6)
    with pytest.raises(ShapeError, match=r"h0 must have shape \(B=3, H=6\), got \(2, 6\)"):
        rnn_forward(p.x, p.h0[:2], p.Wx, p.Wh, p.b)
    with pytest.raises(ShapeError, match=r"Wh must have shape \(H=6, H=6\), got \(5, 5\)"):
        rnn_forward(p.x, p.h0, p.Wx, p.Wh[:5, :5], p.b)
    with pytest.raises(TypeError, match="x must be a floating-point array"):
        rnn_forward(p.x.astype(int), p.h0, p.Wx, p.Wh, p.b)


def test_backward_rejects_upstream_gradient_of_wrong_shape(make_rnn_problem):
    p = make_rnn_problem(T=4, B=3, H=6)
    _, cache = rnn_forward(*p)
    with pytest.raises(ShapeError, match=r"dh must have shape \(4, 3, 6\), got \(3, 3, 6\)"):
        rnn_backward(np.zeros((3, 3, 6)), cache)
