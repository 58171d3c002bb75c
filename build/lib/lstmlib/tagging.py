"""Word segmentation as sequence labelling: find where each word ends in text without spaces.

The task of the bidirectional chapter, built from real text that ships with Python. The
corpus is ``pydoc_data.topics``, the standard-library module behind ``help("if")``: the
plain-text rendering of about eighty sections of the Python documentation (the same text
as ``lstmlib.text``), about 64,000 words of technical English. Its words (runs of the
letters a-z after lower-casing, with apostrophes dropped, so "object's" is "objects") are
written one after the other **without spaces**, and the model must put the spaces back:

>>> segment("thevalueofx", [0, 0, 1, 0, 0, 0, 0, 1, 0, 1, 1])
'the value of x'

Every letter gets a label, :data:`END` (1) if it is the last letter of a word and
:data:`INSIDE` (0) otherwise. Whether a letter ends a word depends on what comes
*after* it: the "e" of "the" ends a word in "theobject" but not in "there". A model that
reads only the past has to guess; one that also reads the next few letters can tell.

Each sequence is a run of consecutive whole words from the corpus, so its last letter
always ends a word. The corpus is split by position, not at random: the first 90% of its
words are the training text, the last 10% (other sections of the documentation) the
held-out text.

Batches are padded and time-major, like every sequence in the course:

- ``x``: ``(T, B, 26)`` float32, one-hot letters (``x[t, b, k] = 1`` for the ``k``-th
  letter of the alphabet), zero on the padding;
- ``labels``: ``(T, B)`` int64, :data:`END` or :data:`INSIDE`, and :data:`PAD_LABEL`
  (-100) on the padding, which is the ``ignore_index`` of
  ``torch.nn.functional.cross_entropy``: the loss skips the padding without a mask;
- ``lengths``: ``(B,)`` int64, the number of letters of each sequence, in
  ``min_length .. max_length`` (``T = lengths.max()``).

Everything is deterministic given the NumPy ``Generator`` passed in.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple

import numpy as np

__all__ = [
    "ALPHABET",
    "END",
    "INSIDE",
    "PAD_LABEL",
    "TaggingBatch",
    "corpus_words",
    "decode",
    "encode",
    "segment",
    "tagging_accuracy",
    "train_tagger",
    "word_end_batch",
]

ALPHABET = "abcdefghijklmnopqrstuvwxyz"
#: The labels of a letter, ``INSIDE`` (0) within a word and ``END`` (1) at its end.
INSIDE, END = 0, 1
#: The label of the padding, which the loss skips.
PAD_LABEL = -100  # torch.nn.functional.cross_entropy's default ignore_index
TEST_FRACTION = 0.1  # the last 10% of the corpus's words are held out
_MAX_DRAWS = 1000  # rounds of redrawing the sequences that did not fit, before giving up

_WORD = re.compile(r"[a-z]+")


class TaggingBatch(NamedTuple):
    """A padded, time-major batch of ``B`` sequences of at most ``T`` letters.

    Attributes:
        x: (T, B, 26) float32 one-hot letters; all zero past each sequence's length.
        labels: (T, B) int64: 1 (``END``) where the letter is the last of its word,
            0 (``INSIDE``) elsewhere, -100 (``PAD_LABEL``) past each sequence's length.
        lengths: (B,) int64, each sequence's number of letters, ``1 <= lengths <= T``.
        offsets: (B,) int64, where each sequence starts in the letters of its split
            (``corpus_words(split)`` written without spaces): for checking, not training.
    """

    x: np.ndarray
    labels: np.ndarray
    lengths: np.ndarray
    offsets: np.ndarray

    def tensors(self):
        """``(x, labels, lengths)`` as torch tensors (no copy): float32, int64, int64."""
        import torch

        return tuple(torch.from_numpy(a) for a in (self.x, self.labels, self.lengths))


@lru_cache(maxsize=1)
def _all_words() -> tuple[str, ...]:
    from pydoc_data.topics import topics

    text = "\n\n".join(topics[name] for name in sorted(topics))
    return tuple(_WORD.findall(text.lower().replace("'", "")))


def corpus_words(split: str = "train") -> tuple[str, ...]:
    """The words of one split of the corpus, in order.

    Args:
        split: ``"train"`` (the first 90% of the words) or ``"test"`` (the rest).

    Returns:
        Tuple of lowercase words of the letters a-z (about 58,000 for ``"train"``
        and 6,400 for ``"test"`` with Python 3.11; the text changes a little between
        Python versions).
    """
    words = _all_words()
    cut = round(len(words) * (1 - TEST_FRACTION))
    if split == "train":
        return words[:cut]
    if split == "test":
        return words[cut:]
    raise ValueError(f'split must be "train" or "test", got {split!r}')


@lru_cache(maxsize=2)
def _split_arrays(split: str):
    """Letter ids (L,) uint8, word-end flags (L,) bool and word start offsets (W,)."""
    words = corpus_words(split)
    word_lengths = np.fromiter(map(len, words), dtype=np.int64, count=len(words))
    ends = np.cumsum(word_lengths)  # one past each word's last letter
    starts = ends - word_lengths
    letters = encode("".join(words))
    is_end = np.zeros(len(letters), dtype=bool)
    is_end[ends - 1] = True
    return letters, is_end, starts, ends


def encode(text: str) -> np.ndarray:
    """Letter ids of ``text`` (lowercase a-z only): ``(len(text),)`` uint8, a=0 .. z=25."""
    bad = sorted(set(text) - set(ALPHABET))
    if bad:
        raise ValueError(f"only the letters a-z can be encoded, got {bad[:10]!r}")
    return np.frombuffer(text.encode("ascii"), dtype=np.uint8) - ord("a")


def decode(x: np.ndarray, length: int | None = None) -> str:
    """The letters of one sequence: ``x`` of shape ``(T, 26)`` (one-hot, such as
    ``batch.x[:, b]``) or ``(T,)`` (ids), read up to ``length`` (default: all of it)."""
    x = np.asarray(x)
    ids = x.argmax(-1) if x.ndim == 2 else x
    return "".join(ALPHABET[i] for i in ids[:length])


def segment(letters: str, labels) -> str:
    """Put a space after every letter labelled ``END`` (except the last letter).

    Args:
        letters: the text without spaces.
        labels: one label per letter (predicted or true); extra entries, such as
            padding, are ignored.
    """
    out = []
    for char, label in zip(letters, labels, strict=False):
        out.append(char + (" " if label == END else ""))
    return "".join(out).rstrip(" ")


def word_end_batch(
    n: int,
    rng: np.random.Generator,
    split: str = "train",
    min_length: int = 16,
    max_length: int = 32,
) -> TaggingBatch:
    """``n`` sequences of whole consecutive words, written without spaces, with their labels.

    Each sequence starts at a word drawn uniformly from the split and takes as many
    consecutive words as fit in a budget drawn uniformly from ``min_length ..
    max_length`` letters; if those words have fewer than ``min_length`` letters (the
    next word was too long to fit), the sequence is drawn again. So every sequence is a
    stretch of the real text, starts at the beginning of a word, ends at the end of
    one, and has ``min_length .. max_length`` letters.

    Args:
        n: batch size ``B`` (at least 1).
        rng: the NumPy random generator to draw from (the batch is a function of its state).
        split: ``"train"`` or ``"test"`` (held-out text: other sections of the documentation).
        min_length, max_length: bounds of the sequences' lengths in letters,
            ``1 <= min_length <= max_length``.

    Returns:
        A :class:`TaggingBatch` ``(x, labels, lengths, offsets)``: ``x (T, B, 26)``
        float32, ``labels (T, B)`` int64, ``lengths (B,)`` and ``offsets (B,)`` int64,
        with ``T = lengths.max()``.
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    if not 1 <= min_length <= max_length:
        raise ValueError(
            f"need 1 <= min_length <= max_length, got min_length={min_length}, "
            f"max_length={max_length}"
        )
    letters, is_end, starts, ends = _split_arrays(split)
    offsets = np.empty(n, dtype=np.int64)
    lengths = np.empty(n, dtype=np.int64)
    todo = np.arange(n)
    for _ in range(_MAX_DRAWS):
        first = rng.integers(0, len(starts), size=todo.size)
        budget = rng.integers(min_length, max_length + 1, size=todo.size)
        start = starts[first]
        # The last word that ends within the budget (ends is sorted).
        last = np.searchsorted(ends, start + budget, side="right") - 1
        length = ends[np.maximum(last, 0)] - start
        ok = (last >= first) & (length >= min_length)
        offsets[todo[ok]] = start[ok]
        lengths[todo[ok]] = length[ok]
        todo = todo[~ok]
        if not todo.size:
            break
    else:
        raise ValueError(
            f"could not draw {n} sequences of whole words with {min_length}..{max_length} "
            f"letters from the {split!r} text; widen the range"
        )
    T = int(lengths.max())
    t = np.arange(T)[:, None]  # (T, 1)
    real = t < lengths  # (T, B)
    position = np.where(real, offsets + t, 0)  # index into the split's letters
    x = np.zeros((T, n, len(ALPHABET)), dtype=np.float32)
    tt, bb = np.nonzero(real)
    x[tt, bb, letters[position[tt, bb]]] = 1.0
    labels = np.where(real, is_end[position].astype(np.int64), PAD_LABEL)
    return TaggingBatch(x, labels, lengths, offsets)


def train_tagger(model, steps: int = 200, seed: int = 0, batch_size: int = 64, lr: float = 0.02):
    """Train ``model`` on word ends with Adam: one fresh training batch per step.

    Args:
        model: a module called as ``model(x, lengths)`` on ``x: (T, B, 26)`` and
            ``lengths: (B,)``, returning scores ``(T, B, 2)``.
        steps, seed, batch_size, lr: the recipe (batches and initial weights follow
            ``seed``, so a run is repeatable).

    Returns:
        The trained ``model`` (trained in place).
    """
    import torch
    import torch.nn.functional as F

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    for _ in range(steps):
        x, labels, lengths = word_end_batch(batch_size, rng).tensors()
        loss = F.cross_entropy(model(x, lengths).flatten(0, 1), labels.flatten())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model


def tagging_accuracy(model, seed: int = 2024, n: int = 1000) -> float:
    """Share of held-out letters (``split="test"``) that ``model`` labels correctly.

    The padding is not counted. ``n`` sequences are drawn with ``seed``.
    """
    import torch

    x, labels, lengths = word_end_batch(n, np.random.default_rng(seed), split="test").tensors()
    model.eval()
    with torch.no_grad():
        predicted = model(x, lengths).argmax(-1)
    real = labels != PAD_LABEL
    return (predicted[real] == labels[real]).double().mean().item()
