"""The count-based baselines: probabilities computed by hand, and distributions that sum to one."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
import torch

from lstmlib.ngram import KneserNeyLM, UnigramLM


def test_unigram_is_add_alpha_smoothed_frequency():
    lm = UnigramLM(vocab_size=3, alpha=1.0).fit(torch.tensor([0, 0, 1]))
    # counts 2, 1, 0 plus one each, over 3 + 3
    assert [lm.prob(w) for w in range(3)] == pytest.approx([3 / 6, 2 / 6, 1 / 6])
    expected = math.exp(-(math.log(3 / 6) + math.log(1 / 6)) / 2)
    assert lm.perplexity([0, 2]) == pytest.approx(expected)


def test_kneser_ney_bigram_by_hand():
    # Stream a b a b c over a vocabulary of 4 (d never seen), discount 1/2.
    lm = KneserNeyLM(order=2, vocab_size=4, discount=0.5).fit([0, 1, 0, 1, 2])
    # Continuation counts: a, b and c each follow exactly one distinct word (3 in all).
    p1 = {w: Fraction(1, 2) / 3 + Fraction(1, 2) * Fraction(1, 4) for w in (0, 1, 2)}
    p1[3] = Fraction(1, 2) * Fraction(1, 4)
    assert sum(p1.values()) == 1
    for w in range(4):
        assert lm.prob(w) == pytest.approx(float(p1[w]))
    # After a: "a b" twice, one distinct follower.
    assert lm.prob(1, (0,)) == pytest.approx(float(Fraction(3, 4) + Fraction(1, 4) * p1[1]))
    # After b: "b a" and "b c" once each.
    assert lm.prob(2, (1,)) == pytest.approx(float(Fraction(1, 4) + Fraction(1, 2) * p1[2]))
    # After d (never seen as a context): the lower order alone.
    assert lm.prob(3, (3,)) == pytest.approx(float(p1[3]))


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_kneser_ney_distributions_sum_to_one(order):
    gen = torch.Generator().manual_seed(order)
    stream = torch.randint(0, 7, (300,), generator=gen)
    stream[::5] = 0  # some structure, so that counts differ
    lm = KneserNeyLM(order, vocab_size=9).fit(stream)
    contexts = [tuple(stream[i : i + order - 1].tolist()) for i in (0, 17, 101)]
    contexts += [(8,) * (order - 1), ()]  # an unseen context, and none
    for context in contexts:
        total = sum(lm.prob(w, context) for w in range(9))
        assert total == pytest.approx(1.0, abs=1e-12), context
        assert min(lm.prob(w, context) for w in range(9)) > 0


def test_context_helps_on_a_predictable_stream():
    stream = [0, 1, 2, 3, 4] * 60  # each word determines the next
    unigram = UnigramLM(vocab_size=6).fit(stream)
    trigram = KneserNeyLM(order=3, vocab_size=6).fit(stream)
    assert unigram.perplexity(stream) == pytest.approx(5, rel=0.05)
    assert trigram.perplexity(stream) < 1.5


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="0 .. 2"):
        UnigramLM(vocab_size=3).fit([0, 3])
    with pytest.raises(ValueError, match=r"\(N,\)"):
        KneserNeyLM(2, vocab_size=3).fit(torch.zeros(2, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="discount"):
        KneserNeyLM(2, vocab_size=3, discount=1.0)
    with pytest.raises(ValueError, match="empty"):
        UnigramLM(vocab_size=3).fit([0]).perplexity([])
