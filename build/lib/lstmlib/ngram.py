"""Count-based language models, the baselines an LSTM language model has to beat.

Both read a corpus as one stream of word ids (``<eos>`` included, as the LSTM reads it)
and give every word of the vocabulary a non-zero probability, so their perplexity on
held-out text is finite and comparable with :func:`lstmlib.language_model.perplexity`.

- :class:`UnigramLM`: word frequencies with additive smoothing; no context at all.
- :class:`KneserNeyLM`: interpolated Kneser-Ney smoothing of order ``n`` (Kneser and Ney
  1995, in the interpolated form that Chen and Goodman 1999 found best), the strongest
  classic n-gram model and the usual count-based baseline on the Penn Treebank.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable

import torch


def _as_list(ids: torch.Tensor | Iterable[int]) -> list[int]:
    if isinstance(ids, torch.Tensor):
        if ids.dim() != 1:
            raise ValueError(f"expected a stream of word ids of shape (N,), got {tuple(ids.shape)}")
        return ids.tolist()
    return [int(i) for i in ids]


class _StreamLM:
    """What both models share: probabilities of a stream, and its perplexity."""

    vocab_size: int
    order: int

    def prob(self, word: int, context: tuple[int, ...] = ()) -> float:
        raise NotImplementedError

    def log_probs(self, ids: torch.Tensor | Iterable[int]) -> list[float]:
        """Natural-log probability of each word of ``ids: (N,)`` after the words before it
        (the first ``order - 1`` words use the shorter contexts they have)."""
        ids = _as_list(ids)
        k = self.order - 1
        return [
            math.log(self.prob(w, tuple(ids[max(0, i - k) : i]) if k else ()))
            for i, w in enumerate(ids)
        ]

    def perplexity(self, ids: torch.Tensor | Iterable[int]) -> float:
        """``exp`` of the mean negative log-probability per word of ``ids: (N,)``."""
        log_probs = self.log_probs(ids)
        if not log_probs:
            raise ValueError("perplexity of an empty stream")
        return math.exp(-sum(log_probs) / len(log_probs))


class UnigramLM(_StreamLM):
    """``P(w) = (count(w) + alpha) / (N + alpha * V)``: frequencies, add-``alpha`` smoothed.

    Args:
        vocab_size: ``V``; ids are ``0 .. V - 1``.
        alpha: pseudo-count of every word, so that words never seen in training (in the
            vocabulary but not in the training part) keep a non-zero probability.
    """

    order = 1

    def __init__(self, vocab_size: int, alpha: float = 1.0):
        if alpha <= 0:
            raise ValueError(f"alpha must be positive, got {alpha}")
        self.vocab_size, self.alpha = vocab_size, alpha
        self.counts: Counter[int] = Counter()
        self.total = 0

    def fit(self, ids: torch.Tensor | Iterable[int]) -> UnigramLM:
        """Count the words of the training stream ``ids: (N,)``."""
        ids = _as_list(ids)
        if ids and not 0 <= min(ids) <= max(ids) < self.vocab_size:
            raise ValueError(f"word ids must lie in 0 .. {self.vocab_size - 1}")
        self.counts.update(ids)
        self.total += len(ids)
        return self

    def prob(self, word: int, context: tuple[int, ...] = ()) -> float:
        return (self.counts[word] + self.alpha) / (self.total + self.alpha * self.vocab_size)


class KneserNeyLM(_StreamLM):
    """Interpolated Kneser-Ney smoothing of order ``n`` over word ids.

    The highest order discounts every count by ``D`` and gives the mass it frees to the
    next lower order, and so on down to a uniform distribution over the vocabulary::

        P(w | h) = max(c(h w) - D, 0) / c(h .)  +  D * N(h .) / c(h .) * P(w | h')

    where ``h'`` drops the oldest word of ``h`` and ``N(h .)`` is the number of distinct
    words seen after ``h``. The lower orders count, instead of occurrences, the number
    of distinct words that *precede* an n-gram (its "continuation count"): "Francisco"
    is frequent but follows almost only "San", so on its own it should be rare. A context
    never seen falls back to the lower order entirely.

    Args:
        order: ``n``, e.g. 3 for a trigram model.
        vocab_size: ``V``; ids are ``0 .. V - 1``.
        discount: ``D`` in (0, 1); 0.75 is the usual value.
    """

    def __init__(self, order: int, vocab_size: int, discount: float = 0.75):
        if order < 1:
            raise ValueError(f"order must be at least 1, got {order}")
        if not 0 < discount < 1:
            raise ValueError(f"discount must lie in (0, 1), got {discount}")
        self.order, self.vocab_size, self.discount = order, vocab_size, discount
        # counts[k][(context, word)] for n-grams of length k + 1: raw counts at the
        # highest order, continuation counts below it.
        self.counts = [Counter() for _ in range(order)]
        self.context_total = [Counter() for _ in range(order)]
        self.context_types = [Counter() for _ in range(order)]

    def fit(self, ids: torch.Tensor | Iterable[int]) -> KneserNeyLM:
        """Count the n-grams of the training stream ``ids: (N,)`` (call once)."""
        ids = _as_list(ids)
        if ids and not 0 <= min(ids) <= max(ids) < self.vocab_size:
            raise ValueError(f"word ids must lie in 0 .. {self.vocab_size - 1}")
        n = self.order
        self.counts[n - 1].update(tuple(ids[i - n + 1 : i + 1]) for i in range(n - 1, len(ids)))
        # Continuation counts: each distinct n-gram of length k + 2 adds one to the count
        # of its (k + 1)-long suffix, for the number of distinct words that precede it.
        for k in range(n - 2, -1, -1):
            self.counts[k].update(gram[1:] for gram in self.counts[k + 1])
        for k in range(n):
            for gram, c in self.counts[k].items():
                self.context_total[k][gram[:-1]] += c
                self.context_types[k][gram[:-1]] += 1
        return self

    def prob(self, word: int, context: tuple[int, ...] = ()) -> float:
        """``P(word | context)``, using the last ``order - 1`` words of ``context``."""
        if not 0 <= word < self.vocab_size:
            raise ValueError(f"word id {word} outside 0 .. {self.vocab_size - 1}")
        context = tuple(context)[len(context) - self.order + 1 :] if self.order > 1 else ()
        p = 1.0 / self.vocab_size  # below the unigram level: uniform
        for k in range(len(context) + 1):  # from the unigram up to the full context
            h = context[len(context) - k :]
            total = self.context_total[k][h]
            if total == 0:
                continue  # unseen context: its lower order stands
            seen = self.counts[k][h + (word,)]
            backoff = self.discount * self.context_types[k][h] / total
            p = max(seen - self.discount, 0) / total + backoff * p
        return p
