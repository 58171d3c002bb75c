"""A stand-in translation task: English number words to French number words.

No parallel corpus of real sentences ships inside a package that the book can read
offline, so the sequence-to-sequence chapter *generates* its pairs with ``num2words``
(Savoir-faire Linux and contributors, LGPL), which spells a number out in many
languages, each with its own grammar:

=========  ==============================================  ==================================
number     English (the source)                            French (the target)
=========  ==============================================  ==================================
71         ``seventy-one``                                 ``soixante et onze``
80         ``eighty``                                      ``quatre-vingts``
97         ``ninety-seven``                                ``quatre-vingt-dix-sept``
1971       ``one thousand, nine hundred and seventy-one``  ``mille neuf cent soixante et onze``
=========  ==============================================  ==================================

French counts in twenties from 60 to 99 (*soixante-dix* is "sixty-ten", *quatre-vingts*
"four twenties"), drops "one" before *cent* and *mille*, and makes *vingt*, *cent* and
*million* plural only in some positions (*quatre-vingts*, but *quatre-vingt-un* and
*quatre-vingt mille*). So a word of the source can become several words of the target,
words move (*seventy-one* -> *soixante et onze*), and a word's form depends on what
follows it: a real, if small, sequence-to-sequence problem. It is not a natural-language
corpus, and the chapter says so.

**Tokens** are words, with hyphens and commas as tokens of their own (:func:`tokenize`),
so that *quatre-vingt-dix-sept* is the seven tokens ``quatre - vingt - dix - sept`` and
shares ``vingt`` and ``dix`` with other numbers. :func:`detokenize` glues a hyphen to both
neighbours and a comma to the word before it, which rebuilds every string ``num2words``
writes exactly.

**Vocabularies** (:class:`Vocabulary`) put ``<pad>`` at id 0, ``<bos>`` at 1 and ``<eos>``
at 2, as ``lstmlib.seq2seq`` expects; every sequence, source and target, ends in
``<eos>``, and a target batch starts with ``<bos>``.

**The split** is of the *numbers* (:func:`split_numbers`): train, validation and test
numbers are disjoint, so every test pair is one the model never saw. Numbers are drawn
with a number of digits uniform in ``1..max_digits`` (then uniformly among the numbers
with that many digits), so short and long inputs are all represented; drawn uniformly
below ``10**9``, nine numbers in ten would have nine digits. Zero is left out: its word
is part of no other number, so a model could not learn it from the others.

>>> tokenize("quatre-vingt-dix-sept")
['quatre', '-', 'vingt', '-', 'dix', '-', 'sept']
>>> detokenize(tokenize("one thousand, nine hundred and seventy-one"))
'one thousand, nine hundred and seventy-one'
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import NamedTuple

import numpy as np
import torch

from lstmlib.padding import pad_sequences
from lstmlib.shapes import check_shape

__all__ = [
    "BOS",
    "EOS",
    "PAD",
    "Batch",
    "NumberTranslation",
    "Vocabulary",
    "detokenize",
    "covering_numbers",
    "load_task",
    "pad_sequences",
    "spell",
    "split_numbers",
    "tokenize",
]

SOURCE_LANG, TARGET_LANG = "en", "fr"
PAD, BOS, EOS = "<pad>", "<bos>", "<eos>"
HYPHEN, COMMA = "-", ","

# A token is a run of anything but spaces, hyphens and commas, or one hyphen or comma.
_TOKEN = re.compile(r"[^\s,-]+|[,-]")


def spell(number: int, lang: str) -> str:
    """``number`` in words, as ``num2words`` writes it in language ``lang`` ("en", "fr").

    Raises:
        ModuleNotFoundError: naming ``num2words`` if it is not installed.
    """
    try:
        from num2words import num2words
    except ImportError as error:
        raise ModuleNotFoundError(
            "the translation task needs the 'num2words' package, which is not installed "
            f"({error}). Install it with: pip install num2words "
            "(or install the course with `pip install -e .[book]`)"
        ) from error
    if isinstance(number, bool) or int(number) != number or number < 0:
        raise ValueError(f"number must be a non-negative integer, got {number!r}")
    return num2words(int(number), lang=lang)


def tokenize(text: str) -> list[str]:
    """The tokens of one string of number words: words, and each hyphen and comma."""
    return _TOKEN.findall(text)


def detokenize(tokens: Iterable[str]) -> str:
    """The string of ``tokens``: words joined by spaces, hyphens joined to both
    neighbours, commas to the word before them. The inverse of :func:`tokenize` on text
    written with single spaces and no space around hyphens or before commas, as
    ``num2words`` writes it."""
    out, previous = [], None
    for token in tokens:
        glued = previous is None or previous == HYPHEN or token in (HYPHEN, COMMA)
        out.append(token if glued else " " + token)
        previous = token
    return "".join(out)


class Vocabulary:
    """Tokens and their ids: ``<pad>`` is 0, ``<bos>`` 1, ``<eos>`` 2, then the tokens.

    Args:
        tokens: the vocabulary in id order; must start with ``<pad>``, ``<bos>``,
            ``<eos>`` and hold no duplicates. :meth:`build` makes one from texts.

    Attributes:
        tokens: tuple of the ``V`` tokens; ``tokens[i]`` is the token of id ``i``.
        pad_id, bos_id, eos_id: 0, 1, 2.
    """

    pad_id, bos_id, eos_id = 0, 1, 2

    def __init__(self, tokens: Sequence[str]):
        tokens = tuple(tokens)
        if tokens[:3] != (PAD, BOS, EOS):
            raise ValueError(f"a vocabulary must start with {PAD}, {BOS}, {EOS}; got {tokens[:3]}")
        if len(set(tokens)) != len(tokens):
            raise ValueError("duplicate tokens in the vocabulary")
        self.tokens: tuple[str, ...] = tokens
        self._ids = {t: i for i, t in enumerate(tokens)}

    @classmethod
    def build(cls, texts: Iterable[str]) -> Vocabulary:
        """Every token of ``texts``, in code-point order after the three specials (so the
        same texts always give the same ids)."""
        seen = {token for text in texts for token in tokenize(text)}
        return cls((PAD, BOS, EOS, *sorted(seen - {PAD, BOS, EOS})))

    def __len__(self) -> int:
        return len(self.tokens)

    def __repr__(self) -> str:
        return f"Vocabulary({len(self)} tokens)"

    def encode(self, text: str) -> list[int]:
        """The ids of ``text``'s tokens followed by ``<eos>``.

        Raises:
            KeyError: naming the tokens that are not in the vocabulary (there is no
                ``<unk>``: number words are a closed set, and the training numbers hold
                them all).
        """
        tokens = tokenize(text)
        missing = sorted({t for t in tokens if t not in self._ids})
        if missing:
            raise KeyError(f"tokens not in the vocabulary: {missing}")
        return [self._ids[t] for t in tokens] + [self.eos_id]

    def decode(self, ids: Iterable[int] | torch.Tensor) -> str:
        """The string of ``ids``: a leading ``<bos>`` is dropped and the text stops
        before the first ``<eos>``. Any other special token is written out as it is
        (``"<pad>"``), so that a model's wrong output stays visibly wrong."""
        if isinstance(ids, torch.Tensor):
            check_shape("ids", ids, ("L",))
            ids = ids.tolist()
        ids = list(ids)
        if ids and ids[0] == self.bos_id:
            ids = ids[1:]
        if self.eos_id in ids:
            ids = ids[: ids.index(self.eos_id)]
        bad = [i for i in ids if not 0 <= i < len(self)]
        if bad:
            raise ValueError(f"ids out of range [0, {len(self)}): {bad[:10]}")
        return detokenize(self.tokens[i] for i in ids)


class Batch(NamedTuple):
    """A padded, time-major batch of ``B`` pairs, as ``lstmlib.seq2seq.Seq2Seq`` reads it.

    Attributes:
        src: (S, B) source ids, each ending in ``<eos>``, then ``<pad>``.
        lengths: (B,) source lengths, ``<eos>`` included.
        tgt: (T + 1, B) target ids: ``<bos>``, the words, ``<eos>``, then ``<pad>``;
            the model reads ``tgt[:-1]`` and is scored on ``tgt[1:]``.
        numbers: the ``B`` numbers the pairs spell.
    """

    src: torch.Tensor
    lengths: torch.Tensor
    tgt: torch.Tensor
    numbers: tuple[int, ...]


def split_numbers(sizes: Sequence[int], max_digits: int = 9, seed: int = 0) -> list[list[int]]:
    """Disjoint sets of numbers (train, validation, test, ...) with every length represented.

    Each number is drawn by picking a number of digits ``d`` uniformly in
    ``1..max_digits``, then a number with ``d`` digits uniformly; repeats are skipped,
    so the few short numbers (nine of one digit, ninety of two) are soon used up and
    the longer ones fill the rest. The distinct numbers are
    then shuffled and cut into parts of the given sizes.

    Args:
        sizes: how many numbers each part holds, e.g. ``(20_000, 1_000, 2_000)``.
        max_digits: the longest numbers, in digits, 1 to 12.
        seed: the same seed always gives the same parts.

    Returns:
        one list of ints per size, disjoint, in random order.
    """
    sizes = [int(n) for n in sizes]
    if not sizes or min(sizes) < 0:
        raise ValueError(f"sizes must be non-negative counts, got {sizes}")
    if not 1 <= max_digits <= 12:
        raise ValueError(f"max_digits must be in 1..12, got {max_digits}")
    total = sum(sizes)
    if total > (10**max_digits - 1) // 2:
        raise ValueError(f"{total} numbers is too many for {max_digits} digits")
    rng = np.random.default_rng(seed)
    chosen: dict[int, None] = {}  # insertion-ordered set
    while len(chosen) < total:
        digits = rng.integers(1, max_digits + 1, size=total)
        low = 10 ** (digits - 1)  # zero is left out: no other number says its word
        for number in rng.integers(low, 10**digits).tolist():
            chosen.setdefault(number)
            if len(chosen) == total:
                break
    numbers = list(chosen)
    order = rng.permutation(total)
    cuts = np.cumsum([0, *sizes])
    return [[numbers[i] for i in order[a:b]] for a, b in zip(cuts[:-1], cuts[1:], strict=True)]


def covering_numbers(max_digits: int) -> list[int]:
    """Numbers whose spellings hold every word of every number below ``10**max_digits``,
    in both languages: 1 to 999 (every word below a thousand, *cents* and *vingts*
    included), then one and two of each power of a thousand that fits (*mille*,
    *million* and *millions*, ...), and one of them plus a hundred (English's comma:
    *one thousand, one hundred*)."""
    numbers = list(range(1, min(1000, 10**max_digits)))
    for power in range(3, max_digits, 3):
        numbers += [10**power, 2 * 10**power, 10**power + 100]
    return numbers


class NumberTranslation:
    """The task: number splits, their pairs of strings, and the two vocabularies.

    Args:
        train, valid, test: the numbers of each part (disjoint).
        max_digits: the longest numbers, in digits; the vocabularies hold every word
            of every number below ``10**max_digits`` (:func:`covering_numbers`), so
            they do not depend on the split.

    Attributes:
        train, valid, test: as given.
        src_vocab, tgt_vocab: the English and French vocabularies.
        pairs: dict from each number of the three parts to its (English, French) pair,
            spelled once here (``num2words`` takes about 0.1 ms a call).
    """

    def __init__(self, train, valid, test, max_digits: int = 9):
        self.train, self.valid, self.test = list(train), list(valid), list(test)
        train, valid, test = set(self.train), set(self.valid), set(self.test)
        overlap = (train & valid) | (train & test) | (valid & test)
        if overlap:
            raise ValueError(f"the parts share numbers: {sorted(overlap)[:10]}")
        covering = [self.spell_pair(n) for n in covering_numbers(max_digits)]
        self.src_vocab = Vocabulary.build(en for en, _ in covering)
        self.tgt_vocab = Vocabulary.build(fr for _, fr in covering)
        self.pairs = {n: self.spell_pair(n) for n in (*self.train, *self.valid, *self.test)}
        self._ids = {
            n: (self.src_vocab.encode(en), [self.tgt_vocab.bos_id, *self.tgt_vocab.encode(fr)])
            for n, (en, fr) in self.pairs.items()
        }

    def __repr__(self) -> str:
        return (
            f"NumberTranslation({len(self.train)} train, {len(self.valid)} valid, "
            f"{len(self.test)} test numbers; vocabularies of {len(self.src_vocab)} and "
            f"{len(self.tgt_vocab)} tokens)"
        )

    @staticmethod
    def spell_pair(number: int) -> tuple[str, str]:
        """``number`` spelled in the source and the target language."""
        return spell(number, SOURCE_LANG), spell(number, TARGET_LANG)

    def source_length(self, number: int) -> int:
        """The number of source tokens of ``number`` (its English words, hyphens and
        commas; ``<eos>`` not counted)."""
        return len(self._ids[number][0]) - 1

    def batch(self, numbers: Sequence[int]) -> Batch:
        """The padded batch of the pairs of ``numbers`` (see :class:`Batch`); numbers
        outside the three parts are spelled on the fly."""
        ids = [self._ids.get(n) or self._encode(n) for n in numbers]
        src, lengths = pad_sequences([s for s, _ in ids], self.src_vocab.pad_id)
        tgt, _ = pad_sequences([t for _, t in ids], self.tgt_vocab.pad_id)
        return Batch(src, lengths, tgt, tuple(numbers))

    def _encode(self, number):
        en, fr = self.spell_pair(number)
        return self.src_vocab.encode(en), [self.tgt_vocab.bos_id, *self.tgt_vocab.encode(fr)]


def load_task(
    sizes: Sequence[int] = (20_000, 1_000, 2_000), max_digits: int = 9, seed: int = 0
) -> NumberTranslation:
    """The English-to-French number task, split by :func:`split_numbers`.

    Args:
        sizes: the numbers of the training, validation and test parts.
        max_digits, seed: as for :func:`split_numbers`.
    """
    if len(sizes) != 3:
        raise ValueError(f"sizes must be (train, valid, test), got {tuple(sizes)}")
    return NumberTranslation(*split_numbers(sizes, max_digits, seed), max_digits=max_digits)
