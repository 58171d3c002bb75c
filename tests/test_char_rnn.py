"""The NumPy character-level RNN (``lstmlib.scratch.char_rnn``) against independent
oracles: finite differences of the whole loss, torch's cross-entropy, Adagrad and
gradient clipping, and a text it must be able to learn."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from lstmlib.gradcheck import max_relative_error, numerical_gradient
from lstmlib.scratch.char_rnn import (
    PARAMETER_NAMES,
    Adagrad,
    char_rnn_loss,
    char_rnn_mean_loss,
    clip_by_global_norm,
    init_char_rnn,
    one_hot,
    sample_char_rnn,
    softmax_cross_entropy_backward,
    softmax_cross_entropy_forward,
    train_char_rnn,
)
from lstmlib.shapes import ShapeError


def random_params(rng, V=5, H=4):
    """Weights of order one, so that tanh and softmax are far from linear and a wrong
    derivative shows in the gradient check (the init's 0.01 would hide it)."""
    return {
        "Wx": rng.normal(0, 0.8, (V, H)),
        "Wh": rng.normal(0, 0.5, (H, H)),
        "b": rng.normal(0, 0.1, H),
        "Wy": rng.normal(0, 0.8, (H, V)),
        "by": rng.normal(0, 0.1, V),
    }


def test_cross_entropy_matches_torch(rng):
    logits = rng.normal(0, 3, (7, 5))
    targets = rng.integers(0, 5, 7)
    loss, cache = softmax_cross_entropy_forward(logits, targets)
    z = torch.tensor(logits, requires_grad=True)
    expected = torch.nn.functional.cross_entropy(z, torch.tensor(targets))
    expected.backward()
    assert loss == pytest.approx(expected.item(), rel=1e-12)
    np.testing.assert_allclose(softmax_cross_entropy_backward(1.0, cache), z.grad.numpy())


def test_cross_entropy_backward_matches_numerical_gradient(rng):
    logits = rng.normal(0, 2, (6, 4))
    targets = rng.integers(0, 4, 6)
    _, cache = softmax_cross_entropy_forward(logits, targets)
    numeric = numerical_gradient(lambda z: softmax_cross_entropy_forward(z, targets), logits)
    # Absolute tolerance: central differences of a loss of order one resolve about 1e-10,
    # so the relative error of a tiny entry (a probability near 0) is not informative.
    np.testing.assert_allclose(softmax_cross_entropy_backward(1.0, cache), numeric, atol=1e-9)


def test_cross_entropy_is_stable_for_huge_logits():
    loss, _ = softmax_cross_entropy_forward(np.array([[1000.0, 0.0]]), np.array([1]))
    assert loss == pytest.approx(1000.0)


def test_whole_loss_gradient_matches_finite_differences(rng):
    """Every parameter, and the carried-in state, of the full model: one-hot input,
    RNN, read-out and cross-entropy over a chunk of T steps and B streams."""
    T, B, V, H = 5, 3, 5, 4
    params = random_params(rng, V, H)
    inputs = rng.integers(0, V, (T, B))
    targets = rng.integers(0, V, (T, B))
    h0 = rng.normal(0, 0.5, (B, H))
    _, grads, _ = char_rnn_loss(params, inputs, targets, h0)
    for name in PARAMETER_NAMES:

        def loss_of(value, name=name):
            return char_rnn_loss({**params, name: value}, inputs, targets, h0)[0]

        numeric = numerical_gradient(loss_of, params[name])
        assert max_relative_error(grads[name], numeric) < 1e-6, name
    numeric_h0 = numerical_gradient(lambda h: char_rnn_loss(params, inputs, targets, h)[0], h0)
    assert max_relative_error(grads["h0"], numeric_h0) < 1e-6


def test_fresh_model_guesses_uniformly(rng):
    """Small initial weights: every character about equally likely, loss near log V."""
    V = 11
    params = init_char_rnn(V, 8, rng)
    ids = rng.integers(0, V, (20, 4))
    loss, _, _ = char_rnn_loss(params, ids[:-1], ids[1:], np.zeros((4, 8)))
    assert loss == pytest.approx(math.log(V), abs=0.01)


def test_adagrad_matches_torch(rng):
    p = rng.normal(size=(3, 2))
    grads = [rng.normal(size=(3, 2)) for _ in range(4)]
    ours = Adagrad({"w": p.copy()}, lr=0.3)
    w = torch.tensor(p, requires_grad=True)
    theirs = torch.optim.Adagrad([w], lr=0.3)
    for g in grads:
        ours.step({"w": g})
        w.grad = torch.tensor(g)
        theirs.step()
    np.testing.assert_allclose(ours.params["w"], w.detach().numpy(), rtol=1e-12)


def test_clipping_matches_torch(rng):
    grads = {name: rng.normal(size=(3, 4)) for name in PARAMETER_NAMES}
    tensors = [torch.tensor(g) for g in grads.values()]
    for t in tensors:
        t.grad = t.clone()
    expected_norm = torch.nn.utils.clip_grad_norm_(tensors, max_norm=2.0)
    norm = clip_by_global_norm(grads, 2.0)
    assert norm == pytest.approx(expected_norm.item())
    for g, t in zip(grads.values(), tensors, strict=True):
        np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-5)


def test_clipping_leaves_small_gradients_alone(rng):
    grads = {name: np.full((2,), 0.1) for name in PARAMETER_NAMES}
    clip_by_global_norm(grads, 10.0)
    assert all(np.all(g == 0.1) for g in grads.values())


def test_learns_a_repeated_string(rng):
    """ "hello world " repeated: after the first characters every next character is
    determined, so a model that learns gets its loss far below log V and samples the
    string back."""
    text = "hello world " * 60
    chars = sorted(set(text))
    ids = np.array([chars.index(c) for c in text])
    V = len(chars)
    streams = ids.reshape(4, -1).T  # 4 streams, as lstmlib.text.batchify lays them out
    params = init_char_rnn(V, 16, rng)
    log = train_char_rnn(params, streams, 300, seq_len=12, lr=0.1, val_streams=streams[:, :1])
    assert log.losses[:5].mean() > 0.8 * math.log(V)
    assert log.losses[-20:].mean() < 0.1
    assert char_rnn_mean_loss(params, streams) < 0.1
    assert list(log.val_steps) == [0, 250, 300]
    assert log.val_losses[0] == pytest.approx(math.log(V), abs=0.01)
    assert log.val_losses[-1] == pytest.approx(char_rnn_mean_loss(params, streams[:, :1]))
    sample = sample_char_rnn(params, np.array([chars.index("h")]), 11, rng, temperature=0.5)
    assert "".join(chars[i] for i in sample) == "ello world "


def test_mean_loss_counts_every_character_once(rng):
    """On a fresh (uniform) model the mean is log V whatever the chunking."""
    V = 6
    params = init_char_rnn(V, 5, rng)
    params["Wy"][:] = 0.0  # exactly uniform predictions
    streams = rng.integers(0, V, (37, 3))
    for seq_len in (5, 36, 100):
        assert char_rnn_mean_loss(params, streams, seq_len) == pytest.approx(math.log(V))


def test_shapes_are_checked(rng):
    params = random_params(rng)
    with pytest.raises(ShapeError, match="targets"):
        char_rnn_loss(params, np.zeros((3, 2), int), np.zeros((3, 1), int), np.zeros((2, 4)))
    with pytest.raises(ShapeError, match="Wy"):
        bad = {**params, "Wy": np.zeros((4, 6))}
        char_rnn_loss(bad, np.zeros((3, 2), int), np.zeros((3, 2), int), np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"\[0, 5\)"):
        one_hot(np.array([[5]]), 5)
    with pytest.raises(KeyError, match="by"):
        char_rnn_loss({k: v for k, v in params.items() if k != "by"}, None, None, None)
