r"""Additive attention (Bahdanau, Cho and Bengio 2015), as a PyTorch module.

A decoder state ``q`` (the *query*) scores every encoder output ``k_s`` (the *keys*,
one per source position ``s``) with a one-hidden-layer network, and the scores are
turned into weights by a softmax over the source positions:

.. math::

    e_s = v^T \tanh(W_q q + W_k k_s), \qquad
    \alpha_s = \frac{\exp e_s}{\sum_{s'} \exp e_{s'}}, \qquad
    \text{context} = \sum_s \alpha_s \, \text{value}_s

with ``W_q: (A, Q)``, ``W_k: (A, K)``, ``v: (A,)``, ``A`` the attention's hidden size;
the values are the keys unless given. In a padded batch the padding positions get
the score :math:`-\infty`, hence the weight exactly 0, so the context depends only on
each sequence's real positions. Sources are time-major, ``(S, B, K)``, like the
outputs of ``lstmlib.nn.LSTM``.
"""

from __future__ import annotations

import torch
from torch import nn

from lstmlib.shapes import ShapeError, check_float, check_shape


def length_mask(lengths, S: int) -> torch.Tensor:
    """The ``(S, B)`` boolean mask that is True at the first ``lengths[b]`` positions of
    column ``b`` (the real positions) and False at the padding."""
    lengths = torch.as_tensor(lengths)
    check_shape("lengths", lengths, ("B",))
    return torch.arange(S, device=lengths.device)[:, None] < lengths[None, :]


def masked_softmax(scores, mask=None):
    """The softmax of ``scores: (S, B)`` over the source positions ``S``, each column on
    its own, with the positions where ``mask: (S, B)`` is False left out.

    A left-out position gets the score :math:`-\\infty` before the softmax, hence the weight
    exactly 0, and the other weights of its column still sum to one. Every column must keep
    at least one position.
    """
    sizes = check_shape("scores", scores, ("S", "B"))
    if mask is not None:
        check_shape("mask", mask, ("S", "B"), sizes)
        if mask.dtype != torch.bool:
            raise TypeError(f"mask must be a boolean tensor, got dtype {mask.dtype}")
        if not bool(mask.any(0).all()):
            raise ValueError("mask must keep at least one position of every sequence")
        scores = scores.masked_fill(~mask, float("-inf"))
    return torch.softmax(scores, dim=0)


class AdditiveAttention(nn.Module):
    """Bahdanau's additive attention: ``score = v^T tanh(W_q q + W_k k)``.

    Args:
        query_size: ``Q``, the size of a query (e.g. the decoder's hidden size).
        key_size: ``K``, the size of a key (e.g. the encoder's output size).
        hidden_size: ``A``, the size of the scoring network's hidden layer.

    Parameters: ``query_proj.weight: (A, Q)`` (``W_q``), ``key_proj.weight: (A, K)``
    (``W_k``), ``v.weight: (1, A)`` (``v^T``); no biases, as in the paper.
    """

    def __init__(self, query_size, key_size, hidden_size, device=None, dtype=None):
        super().__init__()
        kw = {"device": device, "dtype": dtype}
        self.query_proj = nn.Linear(query_size, hidden_size, bias=False, **kw)
        self.key_proj = nn.Linear(key_size, hidden_size, bias=False, **kw)
        self.v = nn.Linear(hidden_size, 1, bias=False, **kw)

    def project_keys(self, keys):
        """``W_k k_s`` for every key: ``keys: (S, B, K)`` -> ``(S, B, A)``.

        It does not depend on the query, so a decoder that queries the same keys at
        every step computes it once and passes it to :meth:`forward` as
        ``projected_keys``, instead of once per step.
        """
        return self.key_proj(keys)

    def scores(self, query, keys, projected_keys=None):
        """The unnormalised scores ``e: (S, B)`` of ``query: (B, Q)`` on ``keys: (S, B, K)``
        (or on their projections ``projected_keys: (S, B, A)``, if given)."""
        if projected_keys is None:
            projected_keys = self.project_keys(keys)
        return self.v(torch.tanh(self.query_proj(query)[None] + projected_keys)).squeeze(-1)

    def forward(self, query, keys, values=None, lengths=None, mask=None, projected_keys=None):
        """
        Args:
            query: (B, Q), one query per sequence of the batch.
            keys: (S, B, K), time-major.
            values: (S, B, D); the keys if None.
            lengths: (B,) the number of real positions of each source, in ``1..S``;
                positions ``>= lengths[b]`` are padding. Or give ``mask`` instead.
            mask: (S, B) boolean, True at real positions, False at padding.
            projected_keys: (S, B, A), :meth:`project_keys` of ``keys``, computed once
                for many queries; computed here if None.

        Returns:
            context: (B, D), the weighted sum of the values.
            weights: (S, B), non-negative, summing to one over ``S`` in every column,
                zero at the padding.
        """
        sizes = {
            "Q": self.query_proj.in_features,
            "K": self.key_proj.in_features,
            "A": self.key_proj.out_features,
        }
        check_shape("query", query, ("B", "Q"), sizes)
        check_shape("keys", keys, ("S", "B", "K"), sizes)
        check_float("query", query)
        check_float("keys", keys)
        if values is None:
            values = keys
        check_shape("values", values, ("S", "B", None), sizes)
        if lengths is not None and mask is not None:
            raise ValueError("give lengths or mask, not both")
        if lengths is not None:
            lengths = torch.as_tensor(lengths, device=keys.device)
            check_shape("lengths", lengths, ("B",), sizes)
            if int(lengths.min()) < 1 or int(lengths.max()) > sizes["S"]:
                raise ShapeError(
                    f"lengths must be in 1..S={sizes['S']}, got values from "
                    f"{int(lengths.min())} to {int(lengths.max())}"
                )
            mask = length_mask(lengths, sizes["S"])
        if projected_keys is not None:
            check_shape("projected_keys", projected_keys, ("S", "B", "A"), sizes)
        weights = masked_softmax(self.scores(query, keys, projected_keys), mask)
        context = (weights[..., None] * values).sum(0)
        return context, weights

    def extra_repr(self):
        return (
            f"query_size={self.query_proj.in_features}, key_size={self.key_proj.in_features}, "
            f"hidden_size={self.query_proj.out_features}"
        )
