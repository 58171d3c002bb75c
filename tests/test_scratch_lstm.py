"""The NumPy LSTM against three independent oracles: finite differences, torch
autograd on the same equations, and ``torch.nn.LSTM``."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lstmlib.gradcheck import max_relative_error, numerical_gradient
from lstmlib.scratch.lstm import (
    LSTMStepCache,
    lstm_backward,
    lstm_forward,
    lstm_gradient_norm_by_lag,
    lstm_step_backward,
    lstm_step_forward,
)
from lstmlib.shapes import ShapeError

ARGS = ("x", "h0", "c0", "Wx", "Wh", "b")


def torch_lstm(x, h0, c0, Wx, Wh, b):
    """The book's equations in torch, step by step: lists of the T hidden and cell
    states, and of the T gate tuples (i, f, g, o)."""
    h, c = h0, c0
    hs, cs, gates = [], [], []
    for x_t in x:
        a_i, a_f, a_g, a_o = torch.chunk(x_t @ Wx + h @ Wh + b, 4, dim=1)
        i, f, g, o = torch.sigmoid(a_i), torch.sigmoid(a_f), torch.tanh(a_g), torch.sigmoid(a_o)
        c = f * c + i * g
        h = o * torch.tanh(c)
        hs.append(h)
        cs.append(c)
        gates.append((i, f, g, o))
    return hs, cs, gates


def as_leaves(arrays):
    return [torch.tensor(a, requires_grad=True) for a in arrays]


def step_args(p):
    """The arguments of ``lstm_step_forward`` for the first step of problem ``p``."""
    return [p.x[0], p.h0, p.c0, p.Wx, p.Wh, p.b]


# --- the step cache -------------------------------------------------------------


def test_step_cache_holds_the_contracted_fields(make_lstm_problem):
    # A graded exercise hands student code caches built in exactly this form.
    assert LSTMStepCache._fields == ("x", "h_prev", "c_prev", "Wx", "Wh", "i", "f", "g", "o", "c")
    p = make_lstm_problem(T=1)
    args = step_args(p)
    h, c, cache = lstm_step_forward(*args)
    assert isinstance(cache, LSTMStepCache)
    for name, given in zip(("x", "h_prev", "c_prev", "Wx", "Wh"), args, strict=False):
        assert getattr(cache, name) is given, name
    hs, cs, gates = torch_lstm(*(torch.tensor(a) for a in [p.x, *args[1:]]))
    for name, expected in zip("ifgo", gates[0], strict=True):
        np.testing.assert_allclose(getattr(cache, name), expected, rtol=0, atol=1e-12, err_msg=name)
    np.testing.assert_allclose(cache.c, cs[0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(c, cs[0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(h, hs[0], rtol=0, atol=1e-12)


# --- against finite differences --------------------------------------------------


def test_step_backward_matches_numerical_gradient(make_lstm_problem, rng):
    p = make_lstm_problem(T=1)
    args = step_args(p)
    h, c, cache = lstm_step_forward(*args)
    dh, dc = rng.normal(size=h.shape), rng.normal(size=c.shape)
    grads = lstm_step_backward(dh, dc, cache)
    for k, (name, grad) in enumerate(zip(ARGS, grads, strict=True)):

        def f(a, k=k):
            h, c, _ = lstm_step_forward(*args[:k], a, *args[k + 1 :])
            return np.stack([h, c])  # loss: sum(h * dh) + sum(c * dc)

        numerical = numerical_gradient(f, args[k], np.stack([dh, dc]))
        assert max_relative_error(grad, numerical) < 1e-6, name


def test_sequence_backward_matches_numerical_gradient(make_lstm_problem, rng):
    p = make_lstm_problem(T=4)
    h, cache = lstm_forward(*p)
    dh = rng.normal(size=h.shape)
    grads = lstm_backward(dh, cache)
    for k, (name, grad) in enumerate(zip(ARGS, grads, strict=True)):

        def f(a, k=k):
            return lstm_forward(*p[:k], a, *p[k + 1 :])

        # 1e-5, not 1e-6: a few entries of dWh are as small as 3e-5, where the
        # difference quotient's rounding error (~1e-9) alone is a relative 1e-5.
        # A wrong backward pass gives 1e-2 or more.
        assert max_relative_error(grad, numerical_gradient(f, p[k], dh)) < 1e-5, name


# --- against torch autograd on the same equations --------------------------------


def test_step_backward_matches_autograd(make_lstm_problem, rng):
    p = make_lstm_problem(T=1)
    args = step_args(p)
    h, c, cache = lstm_step_forward(*args)
    dh, dc = rng.normal(size=h.shape), rng.normal(size=c.shape)
    leaves = as_leaves(args)
    (h_torch,), (c_torch,), _ = torch_lstm(leaves[0][None], *leaves[1:])
    torch.autograd.backward([h_torch, c_torch], [torch.tensor(dh), torch.tensor(dc)])
    grads = lstm_step_backward(dh, dc, cache)
    for name, grad, leaf in zip(ARGS, grads, leaves, strict=True):
        np.testing.assert_allclose(grad, leaf.grad.numpy(), rtol=0, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("T", [1, 2, 7])
def test_sequence_backward_matches_autograd(make_lstm_problem, rng, T):
    p = make_lstm_problem(T=T)
    h, cache = lstm_forward(*p)
    dh = rng.normal(size=h.shape)
    leaves = as_leaves(p)
    hs, _, _ = torch_lstm(*leaves)
    h_torch = torch.stack(hs)
    h_torch.backward(torch.tensor(dh))
    np.testing.assert_allclose(h, h_torch.detach().numpy(), rtol=0, atol=1e-12)
    for name, grad, leaf in zip(ARGS, lstm_backward(dh, cache), leaves, strict=True):
        np.testing.assert_allclose(grad, leaf.grad.numpy(), rtol=0, atol=1e-12, err_msg=name)


# --- against torch.nn.LSTM --------------------------------------------------------


def test_forward_matches_torch_nn_lstm(make_lstm_problem):
    p = make_lstm_problem(T=6, B=2, I=3, H=4)
    h, cache = lstm_forward(*p)
    ref = torch.nn.LSTM(3, 4, dtype=torch.float64)
    with torch.no_grad():  # torch stores (out, in) and computes x @ W.T: Wx = W_ih.T
        ref.weight_ih_l0.copy_(torch.tensor(p.Wx.T))
        ref.weight_hh_l0.copy_(torch.tensor(p.Wh.T))
        ref.bias_ih_l0.copy_(torch.tensor(p.b))
        ref.bias_hh_l0.zero_()
        out, (h_n, c_n) = ref(
            torch.tensor(p.x), (torch.tensor(p.h0)[None], torch.tensor(p.c0)[None])
        )
    np.testing.assert_allclose(h, out.numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(h[-1], h_n[0].numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(cache[-1].c, c_n[0].numpy(), rtol=0, atol=1e-12)


# --- lstm_gradient_norm_by_lag ----------------------------------------------------


@pytest.mark.parametrize("given_dh_last", [True, False])
def test_gradient_norm_by_lag_matches_autograd(make_lstm_problem, rng, given_dh_last):
    p = make_lstm_problem(T=6)
    dh_last = rng.normal(size=p.h0.shape) if given_dh_last else None
    norms_h, norms_c = lstm_gradient_norm_by_lag(*p, dh_last=dh_last)

    hs, cs, _ = torch_lstm(*as_leaves(p))
    upstream = torch.ones_like(hs[-1]) if dh_last is None else torch.tensor(dh_last)
    # h[T-1] depends on every earlier state, so autograd can differentiate it by them;
    # the gradient on c[t] is the full one, through h[t] and through c[t+1].
    grads = torch.autograd.grad((upstream * hs[-1]).sum(), hs + cs)
    norms = [torch.linalg.norm(g).item() for g in grads]
    T = len(hs)
    assert norms_h.shape == norms_c.shape == (T,)
    np.testing.assert_allclose(norms_h, norms[:T][::-1], rtol=1e-10, atol=0)  # lag 0 first
    np.testing.assert_allclose(norms_c, norms[T:][::-1], rtol=1e-10, atol=0)


# --- argument checks --------------------------------------------------------------


def test_forward_names_the_wrong_argument(make_lstm_problem):
    p = make_lstm_problem(T=4, B=3, I=5, H=6)
    cases = [
        (p._replace(h0=p.h0[:2]), r"h0 must have shape \(B=3, H\), got \(2, 6\)"),
        (p._replace(c0=p.c0[:, :5]), r"c0 must have shape \(B=3, H=6\), got \(3, 5\)"),
        (p._replace(Wx=p.Wx[:, :6]), r"Wx must have shape \(I=5, 4H=24\), got \(5, 6\)"),
        (p._replace(Wh=p.Wh[:5]), r"Wh must have shape \(H=6, 4H=24\), got \(5, 24\)"),
        (p._replace(b=p.b[:6]), r"b must have shape \(4H=24\), got \(6,\)"),
        (p._replace(x=p.x[0]), r"x must have 3 dimensions \(T, B, I\), got shape \(3, 5\)"),
        (p._replace(x=p.x[:0]), r"x must hold at least one time step"),
    ]
    for problem, message in cases:
        with pytest.raises(ShapeError, match=message):
            lstm_forward(*problem)
    for name in ARGS:
        with pytest.raises(TypeError, match=f"{name} must be a floating-point array"):
            lstm_forward(*p._replace(**{name: getattr(p, name).astype(int)}))


def test_step_forward_names_the_wrong_argument(make_lstm_problem):
    p = make_lstm_problem(T=1, B=3, I=5, H=6)
    x, h_prev, c_prev, Wx, Wh, b = step_args(p)
    with pytest.raises(ShapeError, match=r"h_prev must have shape \(B=3, H\), got \(2, 6\)"):
        lstm_step_forward(x, h_prev[:2], c_prev, Wx, Wh, b)
    with pytest.raises(ShapeError, match=r"c_prev must have shape \(B=3, H=6\), got \(3, 5\)"):
        lstm_step_forward(x, h_prev, c_prev[:, :5], Wx, Wh, b)
    with pytest.raises(ShapeError, match=r"x must have 2 dimensions \(B, I\), got shape"):
        lstm_step_forward(p.x, h_prev, c_prev, Wx, Wh, b)


def test_backward_rejects_upstream_gradients_of_wrong_shape(make_lstm_problem):
    p = make_lstm_problem(T=4, B=3, H=6)
    h, cache = lstm_forward(*p)
    with pytest.raises(ShapeError, match=r"dh must have shape \(4, 3, 6\), got \(3, 3, 6\)"):
        lstm_backward(np.zeros((3, 3, 6)), cache)
    good = np.zeros((3, 6))
    with pytest.raises(ShapeError, match=r"dh must have shape \(3, 6\), got \(3, 5\)"):
        lstm_step_backward(np.zeros((3, 5)), good, cache[0])
    with pytest.raises(ShapeError, match=r"dc must have shape \(3, 6\), got \(2, 6\)"):
        lstm_step_backward(good, np.zeros((2, 6)), cache[0])
    with pytest.raises(ShapeError, match=r"dh_last must have shape \(3, 6\), got \(1, 6\)"):
        lstm_gradient_norm_by_lag(*p, dh_last=np.ones((1, 6)))
