"""Sampling the next token: the distribution against a NumPy oracle, draws against it."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from lstmlib.sampling import generate, next_token_probs, sample_next
from lstmlib.shapes import ShapeError


def numpy_probs(logits, temperature, top_k):
    z = logits.astype(np.float64) / temperature
    keep = np.argsort(-z, axis=1)[:, :top_k]
    out = np.zeros_like(z)
    for row, cols in enumerate(keep):
        e = np.exp(z[row, cols] - z[row, cols].max())
        out[row, cols] = e / e.sum()
    return out


@pytest.mark.parametrize("temperature", [0.5, 1.0, 2.0])
@pytest.mark.parametrize("top_k", [1, 3, 10])
def test_probs_match_numpy(temperature, top_k):
    logits = torch.randn(4, 10, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    probs = next_token_probs(logits, temperature, top_k)
    np.testing.assert_allclose(probs.numpy(), numpy_probs(logits.numpy(), temperature, top_k))
    assert ((probs > 0).sum(dim=1) == top_k).all()


def test_draws_follow_the_distribution():
    logits = torch.tensor([[2.0, 1.0, 0.0, -1.0]]).repeat(20_000, 1)
    draws = sample_next(logits, 0.7, generator=torch.Generator().manual_seed(1))
    freq = torch.bincount(draws, minlength=4).double() / len(draws)
    expected = numpy_probs(logits[:1].numpy(), 0.7, 4)[0]
    np.testing.assert_allclose(freq.numpy(), expected, atol=0.01)
    assert draws.shape == (20_000,)


class Counting(nn.Module):
    """A 'model' that is sure the next token is the last one plus one (mod V)."""

    def __init__(self, V=5):
        super().__init__()
        self.V = V

    def forward(self, input, state):
        logits = torch.full((*input.shape, self.V), -1e9)
        logits.scatter_(-1, ((input + 1) % self.V)[..., None], 0.0)
        return logits, state


def test_generate_feeds_its_samples_back_and_restores_the_mode():
    model = Counting().train()
    out = generate(model, torch.tensor([3, 1]), 6, temperature=1.0, top_k=2)
    assert out.tolist() == [2, 3, 4, 0, 1, 2]
    assert model.training


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="temperature"):
        next_token_probs(torch.zeros(1, 3), temperature=0)
    with pytest.raises(ValueError, match="top_k"):
        next_token_probs(torch.zeros(1, 3), top_k=4)
    with pytest.raises(ShapeError):
        next_token_probs(torch.zeros(3))
    with pytest.raises(ValueError, match="prompt"):
        generate(Counting(), torch.tensor([], dtype=torch.long), 3)
