"""lstmlib.nn.AdditiveAttention: weights, masking, errors."""

from __future__ import annotations

import pytest
import torch

from lstmlib.nn import AdditiveAttention, length_mask, masked_softmax
from lstmlib.shapes import ShapeError

# Attention ----------------------------------------------------------------------------


@pytest.fixture
def attention():
    torch.manual_seed(0)
    return AdditiveAttention(query_size=3, key_size=4, hidden_size=5).double()


def test_attention_equals_a_hand_computation(attention):
    S, B = 4, 2
    q, k = torch.randn(B, 3, dtype=torch.double), torch.randn(S, B, 4, dtype=torch.double)
    lengths = [4, 2]
    context, weights = attention(q, k, lengths=lengths)
    Wq, Wk, v = attention.query_proj.weight, attention.key_proj.weight, attention.v.weight[0]
    for b in range(B):
        n = lengths[b]
        e = torch.stack([v @ torch.tanh(Wq @ q[b] + Wk @ k[s, b]) for s in range(n)])
        alpha = torch.softmax(e, dim=0)
        torch.testing.assert_close(weights[:n, b], alpha)
        torch.testing.assert_close(weights[n:, b], torch.zeros(S - n, dtype=torch.double))
        torch.testing.assert_close(context[b], (alpha[:, None] * k[:n, b]).sum(0))


def test_attention_weights_sum_to_one_and_ignore_padding(attention):
    S, B = 6, 3
    q, k = torch.randn(B, 3, dtype=torch.double), torch.randn(S, B, 4, dtype=torch.double)
    values = torch.randn(S, B, 2, dtype=torch.double)
    lengths = torch.tensor([6, 1, 3])
    context, weights = attention(q, k, values, lengths=lengths)
    assert context.shape == (B, 2) and weights.shape == (S, B)
    torch.testing.assert_close(weights.sum(0), torch.ones(B, dtype=torch.double))
    mask = length_mask(lengths, S)
    assert mask.tolist() == [[s < n for n in (6, 1, 3)] for s in range(S)]
    assert bool((weights[~mask] == 0).all())
    # A boolean mask gives the same, and the padding's contents play no part.
    k2, v2 = k.clone(), values.clone()
    k2[~mask], v2[~mask] = 1e3, -1e3
    context2, weights2 = attention(q, k2, v2, mask=mask)
    torch.testing.assert_close(context2, context)
    torch.testing.assert_close(weights2, weights)
    # Without lengths or mask, every position counts.
    _, full = attention(q, k)
    assert bool((full > 0).all())


def test_masked_softmax_equals_a_softmax_of_the_kept_scores_alone():
    scores = torch.tensor([[1.0, 0.5], [2.0, -1.0], [30.0, 3.0]], dtype=torch.double)
    mask = torch.tensor([[True, True], [True, False], [False, True]])
    weights = masked_softmax(scores, mask)
    # Column 0 keeps scores 1 and 2, column 1 keeps 0.5 and 3: softmax by hand.
    e = torch.exp(torch.tensor([1.0, 2.0], dtype=torch.double))
    torch.testing.assert_close(weights[:, 0], torch.cat([e / e.sum(), torch.zeros(1).double()]))
    e = torch.exp(torch.tensor([0.5, 3.0], dtype=torch.double))
    expected = torch.stack([e[0], torch.tensor(0.0).double(), e[1]]) / e.sum()
    torch.testing.assert_close(weights[:, 1], expected)
    # Without a mask, every position counts.
    torch.testing.assert_close(masked_softmax(scores), torch.softmax(scores, dim=0))
    with pytest.raises(ValueError, match="at least one position"):
        masked_softmax(scores, torch.zeros(3, 2, dtype=torch.bool))
    with pytest.raises(ShapeError, match="mask must have shape"):
        masked_softmax(scores, mask[:2])


def test_attention_errors_name_the_expected_shape(attention):
    q, k = torch.randn(2, 3, dtype=torch.double), torch.randn(4, 2, 4, dtype=torch.double)
    with pytest.raises(ShapeError, match=r"query must have shape \(B=2, Q=3\), got \(2, 5\)"):
        attention(torch.randn(2, 5, dtype=torch.double), k)
    with pytest.raises(ShapeError, match=r"keys must have 3 dimensions \(S, B=2, K=4\)"):
        attention(q, k[0])
    with pytest.raises(ShapeError, match=r"B is 2"):
        attention(q, torch.randn(4, 3, 4, dtype=torch.double))
    with pytest.raises(ShapeError, match=r"mask must have shape \(S=4, B=2\)"):
        attention(q, k, mask=torch.ones(4, 3, dtype=torch.bool))
    with pytest.raises(ShapeError, match="lengths must be in 1..S=4"):
        attention(q, k, lengths=[5, 1])
    with pytest.raises(ValueError, match="at least one position"):
        attention(q, k, mask=torch.tensor([[True, False]] * 4))
    with pytest.raises(TypeError, match="boolean"):
        attention(q, k, mask=torch.ones(4, 2))
    with pytest.raises(ValueError, match="not both"):
        attention(q, k, lengths=[1, 1], mask=torch.ones(4, 2, dtype=torch.bool))


def test_projected_keys_computed_once_give_the_same_result(attention):
    S, B = 5, 3
    q, k = torch.randn(B, 3, dtype=torch.double), torch.randn(S, B, 4, dtype=torch.double)
    lengths = [5, 2, 4]
    projected = attention.project_keys(k)
    torch.testing.assert_close(projected, k @ attention.key_proj.weight.T)
    for got, want in zip(
        attention(q, k, lengths=lengths, projected_keys=projected),
        attention(q, k, lengths=lengths),
        strict=True,
    ):
        torch.testing.assert_close(got, want)
    with pytest.raises(ShapeError, match=r"projected_keys must have shape \(S=5, B=3, A=5\)"):
        attention(q, k, projected_keys=projected[..., :4])
