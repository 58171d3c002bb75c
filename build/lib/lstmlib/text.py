"""Text for character-level language models: a corpus, a vocabulary, batches for truncated BPTT.

The corpus ships with Python itself, so it needs no download: ``pydoc_data.topics`` is the
standard-library module behind ``help("if")``, ``help("with")`` and friends. It holds the
plain-text rendering of about eighty sections of the *Python Language Reference* and
*Library Reference* (generated from the official documentation by Sphinx), roughly
465,000 characters of technical English prose with grammar rules, code examples, tables
and text wrapped at about 70 characters a line. Its exact content changes a little
between Python versions.

A language model reads the text as a sequence of integer ids, one per character:

>>> vocab = CharVocab.from_text("hello")
>>> vocab.encode("hell")
tensor([1, 0, 2, 2])
>>> vocab.decode(vocab.encode("hell"))
'hell'

For training with truncated backpropagation through time (BPTT), the id sequence is cut
into ``B`` contiguous *streams*, laid side by side as the columns of a ``(N, B)`` matrix
(:func:`batchify`), and the matrix is read from top to bottom in chunks of ``T`` rows
(:func:`tbptt_batches`). Column ``b`` of chunk ``k + 1`` continues column ``b`` of chunk
``k`` exactly, so the recurrent state at the end of one chunk is the right initial state
for the next.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import torch

from lstmlib.shapes import check_shape

CORPUS_NAME = "the Python Language Reference topics of pydoc_data.topics"


def load_corpus() -> str:
    """The text of ``pydoc_data.topics``, as one string.

    The topics (a dict from names such as ``"if"`` or ``"string-methods"`` to text) are
    joined in sorted order of their names with a blank line between them, so the result
    is the same on every run of a given Python version.

    Returns:
        str: about 465,000 characters (Python 3.11), newlines included.

    Raises:
        ModuleNotFoundError: if this Python installation ships without ``pydoc_data``
            (some minimal distributions strip it).
    """
    from pydoc_data.topics import topics

    return "\n\n".join(topics[name].strip("\n") for name in sorted(topics)) + "\n"


def corpus_path() -> Path:
    """The file that :func:`load_corpus` reads (``.../pydoc_data/topics.py``)."""
    import pydoc_data.topics

    return Path(pydoc_data.topics.__file__)


class CharVocab:
    """A character vocabulary: each distinct character gets an integer id, in sorted order.

    Args:
        chars: the characters of the vocabulary (any iterable of one-character strings,
            duplicates allowed, e.g. a whole text).

    Attributes:
        chars: tuple of the ``V`` characters, sorted; ``chars[i]`` is the character of id ``i``.
    """

    def __init__(self, chars: Iterable[str]):
        chars = set(chars)
        if not chars:
            raise ValueError("a vocabulary needs at least one character")
        bad = [c for c in chars if not isinstance(c, str) or len(c) != 1]
        if bad:
            raise ValueError(f"vocabulary entries must be single characters, got {bad[:5]!r}")
        self.chars: tuple[str, ...] = tuple(sorted(chars))
        self._ids = {c: i for i, c in enumerate(self.chars)}

    @classmethod
    def from_text(cls, text: str) -> CharVocab:
        """The vocabulary of the characters that occur in ``text``."""
        return cls(text)

    def __len__(self) -> int:
        return len(self.chars)

    def __contains__(self, char: object) -> bool:
        return char in self._ids

    def __repr__(self) -> str:
        return f"CharVocab({len(self)} characters)"

    def encode(self, text: str) -> torch.Tensor:
        """Ids of the characters of ``text``.

        Returns:
            (L,) int64 tensor, ``L = len(text)``.

        Raises:
            ValueError: naming the characters of ``text`` that are not in the vocabulary.
        """
        try:
            ids = [self._ids[c] for c in text]
        except KeyError:
            unknown = sorted({c for c in text if c not in self._ids})
            raise ValueError(
                f"{len(unknown)} character(s) not in the vocabulary: {unknown[:10]!r}"
            ) from None
        return torch.tensor(ids, dtype=torch.long)

    def decode(self, ids: torch.Tensor | Iterable[int]) -> str:
        """The text of a sequence of ids: the inverse of :meth:`encode`.

        Args:
            ids: (L,) integer tensor, or any iterable of ints, each in ``[0, V)``.
        """
        if isinstance(ids, torch.Tensor):
            check_shape("ids", ids, ("L",))
            ids = ids.tolist()
        ids = list(ids)
        bad = [i for i in ids if not 0 <= i < len(self.chars)]
        if bad:
            raise ValueError(f"ids out of range [0, {len(self.chars)}): {bad[:10]}")
        return "".join(self.chars[i] for i in ids)


def split_corpus(ids: torch.Tensor, val_fraction: float = 0.1) -> tuple[torch.Tensor, torch.Tensor]:
    """Split a sequence into a training part and a validation part (its last ``val_fraction``).

    The split is contiguous, not random: a random split of characters would put the
    neighbours of every validation character in the training set.

    Args:
        ids: (L,) sequence.
        val_fraction: share of the sequence, in (0, 1), that goes to validation.

    Returns:
        (train, val): (L - M,) and (M,) with ``M = round(val_fraction * L)``.
    """
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    m = round(val_fraction * len(ids))
    return ids[: len(ids) - m], ids[len(ids) - m :]


def batchify(ids: torch.Tensor, batch_size: int) -> torch.Tensor:
    """Cut a sequence into ``batch_size`` contiguous streams, one per column.

    Args:
        ids: (L,) sequence of ids.
        batch_size: number of streams ``B``.

    Returns:
        (N, B) tensor, ``N = L // B``: column ``b`` is ``ids[b * N : (b + 1) * N]``.
        The last ``L - N * B`` ids are dropped.
    """
    check_shape("ids", ids, ("L",))
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    n = len(ids) // batch_size
    if n < 2:
        raise ValueError(f"a sequence of {len(ids)} ids is too short for {batch_size} streams")
    return ids[: n * batch_size].reshape(batch_size, n).T.contiguous()


def tbptt_batches(
    streams: torch.Tensor, seq_len: int
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Consecutive chunks of ``streams`` for truncated BPTT, with next-character targets.

    Args:
        streams: (N, B) ids from :func:`batchify`.
        seq_len: chunk length ``T``.

    Yields:
        (x, y), both (T_k, B): inputs ``x = streams[s : s + T_k]`` and targets
        ``y = streams[s + 1 : s + 1 + T_k]`` (the next character of every input), for
        ``s = 0, T, 2T, ...``; ``T_k = T`` except possibly for the last chunk, which is
        shorter. Chunk ``k + 1`` starts where chunk ``k`` ended, so ``x`` of chunk ``k + 1``
        continues ``x`` of chunk ``k`` row by row, and every stream is read once, in order.
    """
    check_shape("streams", streams, ("N", "B"))
    if seq_len < 1:
        raise ValueError(f"seq_len must be at least 1, got {seq_len}")
    for start in range(0, len(streams) - 1, seq_len):
        stop = min(start + seq_len, len(streams) - 1)
        yield streams[start:stop], streams[start + 1 : stop + 1]
