"""The NumPy GRU against three independent oracles: finite differences, torch
autograd on the same equations, and ``torch.nn.GRU``."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lstmlib.gradcheck import max_relative_error, numerical_gradient
from lstmlib.scratch.gru import (
    GRUStepCache,
    gru_backward,
    gru_forward,
    gru_step_backward,
    gru_step_forward,
)
from lstmlib.shapes import ShapeError

ARGS = ("x", "h0", "Wx", "Wh", "bx", "bh")


def torch_gru(x, h0, Wx, Wh, bx, bh):
    """The equations in torch, step by step (PyTorch's: r multiplies ``h @ Wh_n + bh_n``):
    lists of the T hidden states and of the T tuples (r, z, n, ah_n)."""
    h = h0
    hs, gates = [], []
    for x_t in x:
        ax_r, ax_z, ax_n = torch.chunk(x_t @ Wx + bx, 3, dim=1)
        ah_r, ah_z, ah_n = torch.chunk(h @ Wh + bh, 3, dim=1)
        r, z = torch.sigmoid(ax_r + ah_r), torch.sigmoid(ax_z + ah_z)
        n = torch.tanh(ax_n + r * ah_n)
        h = (1 - z) * n + z * h
        hs.append(h)
        gates.append((r, z, n, ah_n))
    return hs, gates


def as_leaves(arrays):
    return [torch.tensor(a, requires_grad=True) for a in arrays]


def step_args(p):
    """The arguments of ``gru_step_forward`` for the first step of problem ``p``."""
    return [p.x[0], p.h0, p.Wx, p.Wh, p.bx, p.bh]


def copy_into(ref, p, layer=0):
    """Problem ``p``'s weights into layer ``layer`` of a torch.nn.GRU (``W = Wx.T``)."""
    with torch.no_grad():
        for name, value in (("weight_ih", p.Wx.T), ("weight_hh", p.Wh.T)):
            getattr(ref, f"{name}_l{layer}").copy_(torch.tensor(value))
        getattr(ref, f"bias_ih_l{layer}").copy_(torch.tensor(p.bx))
        getattr(ref, f"bias_hh_l{layer}").copy_(torch.tensor(p.bh))


# --- the step cache -------------------------------------------------------------


def test_step_cache_holds_the_contracted_fields(make_gru_problem):
    # A graded exercise hands student code caches built in exactly this form.
    assert GRUStepCache._fields == ("x", "h_prev", "Wx", "Wh", "r", "z", "n", "ah_n")
    p = make_gru_problem(T=1)
    args = step_args(p)
    h, cache = gru_step_forward(*args)
    assert isinstance(cache, GRUStepCache)
    for name, given in zip(("x", "h_prev", "Wx", "Wh"), args, strict=False):
        assert getattr(cache, name) is given, name
    hs, gates = torch_gru(*(torch.tensor(a) for a in [p.x, *args[1:]]))
    for name, expected in zip(("r", "z", "n", "ah_n"), gates[0], strict=True):
        np.testing.assert_allclose(getattr(cache, name), expected, rtol=0, atol=1e-12, err_msg=name)
    np.testing.assert_allclose(h, hs[0], rtol=0, atol=1e-12)


# --- against finite differences --------------------------------------------------


def test_step_backward_matches_numerical_gradient(make_gru_problem, rng):
    p = make_gru_problem(T=1)
    args = step_args(p)
    h, cache = gru_step_forward(*args)
    dh = rng.normal(size=h.shape)
    grads = gru_step_backward(dh, cache)
    for k, (name, grad) in enumerate(zip(ARGS, grads, strict=True)):

        def f(a, k=k):
            return gru_step_forward(*args[:k], a, *args[k + 1 :])

        assert max_relative_error(grad, numerical_gradient(f, args[k], dh)) < 1e-6, name


def test_sequence_backward_matches_numerical_gradient(make_gru_problem, rng):
    p = make_gru_problem(T=4)
    h, cache = gru_forward(*p)
    dh = rng.normal(size=h.shape)
    grads = gru_backward(dh, cache)
    for k, (name, grad) in enumerate(zip(ARGS, grads, strict=True)):

        def f(a, k=k):
            return gru_forward(*p[:k], a, *p[k + 1 :])

        # 1e-5 as for the LSTM: tiny entries make the quotient's rounding error a
        # relative 1e-6 or so; a wrong backward pass gives 1e-2 or more.
        assert max_relative_error(grad, numerical_gradient(f, p[k], dh)) < 1e-5, name


# --- against torch autograd on the same equations --------------------------------


def test_step_backward_matches_autograd(make_gru_problem, rng):
    p = make_gru_problem(T=1)
    args = step_args(p)
    h, cache = gru_step_forward(*args)
    dh = rng.normal(size=h.shape)
    leaves = as_leaves(args)
    (h_torch,), _ = torch_gru(leaves[0][None], *leaves[1:])
    h_torch.backward(torch.tensor(dh))
    grads = gru_step_backward(dh, cache)
    for name, grad, leaf in zip(ARGS, grads, leaves, strict=True):
        np.testing.assert_allclose(grad, leaf.grad.numpy(), rtol=0, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("T", [1, 2, 7])
def test_sequence_backward_matches_autograd(make_gru_problem, rng, T):
    p = make_gru_problem(T=T)
    h, cache = gru_forward(*p)
    dh = rng.normal(size=h.shape)
    leaves = as_leaves(p)
    hs, _ = torch_gru(*leaves)
    h_torch = torch.stack(hs)
    h_torch.backward(torch.tensor(dh))
    np.testing.assert_allclose(h, h_torch.detach().numpy(), rtol=0, atol=1e-12)
    for name, grad, leaf in zip(ARGS, gru_backward(dh, cache), leaves, strict=True):
        np.testing.assert_allclose(grad, leaf.grad.numpy(), rtol=0, atol=1e-12, err_msg=name)


# --- against torch.nn.GRU ---------------------------------------------------------


def test_forward_matches_torch_nn_gru(make_gru_problem):
    p = make_gru_problem(T=6, B=2, I=3, H=4)
    h, _ = gru_forward(*p)
    ref = torch.nn.GRU(3, 4, dtype=torch.float64)
    copy_into(ref, p)  # both biases as they are: torch keeps them apart too
    with torch.no_grad():
        out, h_n = ref(torch.tensor(p.x), torch.tensor(p.h0)[None])
    np.testing.assert_allclose(h, out.numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(h[-1], h_n[0].numpy(), rtol=0, atol=1e-12)


def test_two_stacked_layers_match_a_two_layer_torch_gru(make_gru_problem):
    first, second = make_gru_problem(T=5, B=2, I=3, H=4), make_gru_problem(T=5, B=2, I=4, H=4)
    h1, _ = gru_forward(*first)
    h2, _ = gru_forward(h1, *second[1:])  # layer 1 reads layer 0's hidden states
    ref = torch.nn.GRU(3, 4, num_layers=2, dtype=torch.float64)
    copy_into(ref, first, 0)
    copy_into(ref, second, 1)
    h0 = torch.tensor(np.stack([first.h0, second.h0]))
    with torch.no_grad():
        out, h_n = ref(torch.tensor(first.x), h0)
    np.testing.assert_allclose(h2, out.numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(np.stack([h1[-1], h2[-1]]), h_n.numpy(), rtol=0, atol=1e-12)


# --- argument checks --------------------------------------------------------------


def test_forward_names_the_wrong_argument(make_gru_problem):
    p = make_gru_problem(T=4, B=3, I=5, H=6)
    cases = [
        (p._replace(h0=p.h0[:2]), r"h0 must have shape \(B=3, H\), got \(2, 6\)"),
        (p._replace(Wx=p.Wx[:, :6]), r"Wx must have shape \(I=5, 3H=18\), got \(5, 6\)"),
        (p._replace(Wh=p.Wh[:5]), r"Wh must have shape \(H=6, 3H=18\), got \(5, 18\)"),
        (p._replace(bx=p.bx[:6]), r"bx must have shape \(3H=18\), got \(6,\)"),
        (p._replace(bh=p.bh[:12]), r"bh must have shape \(3H=18\), got \(12,\)"),
        (p._replace(x=p.x[0]), r"x must have 3 dimensions \(T, B, I\), got shape \(3, 5\)"),
        (p._replace(x=p.x[:0]), r"x must hold at least one time step"),
    ]
    for problem, message in cases:
        with pytest.raises(ShapeError, match=message):
            gru_forward(*problem)
    for name in ARGS:
        with pytest.raises(TypeError, match=f"{name} must be a floating-point array"):
            gru_forward(*p._replace(**{name: getattr(p, name).astype(int)}))


def test_step_forward_names_the_wrong_argument(make_gru_problem):
    p = make_gru_problem(T=1, B=3, I=5, H=6)
    x, h_prev, Wx, Wh, bx, bh = step_args(p)
    with pytest.raises(ShapeError, match=r"h_prev must have shape \(B=3, H\), got \(2, 6\)"):
        gru_step_forward(x, h_prev[:2], Wx, Wh, bx, bh)
    with pytest.raises(ShapeError, match=r"x must have 2 dimensions \(B, I\), got shape"):
        gru_step_forward(p.x, h_prev, Wx, Wh, bx, bh)


def test_backward_rejects_upstream_gradients_of_wrong_shape(make_gru_problem):
    p = make_gru_problem(T=4, B=3, H=6)
    _, cache = gru_forward(*p)
    with pytest.raises(ShapeError, match=r"dh must have shape \(4, 3, 6\), got \(3, 3, 6\)"):
        gru_backward(np.zeros((3, 3, 6)), cache)
    with pytest.raises(ShapeError, match=r"dh must have shape \(3, 6\), got \(3, 5\)"):
        gru_step_backward(np.zeros((3, 5)), cache[0])
