"""Sequences of different lengths as one time-major batch, and their lengths.

``pad_sequences`` makes the batch; ``length_batches`` chooses which sequences go into
one, so that each batch is padded only a little.

The recurrent layers of ``lstmlib.nn`` read a padded batch ``(T, B, ...)`` with
``lengths=`` and stop each sequence at its own last step, so what stands past the end
never matters to them; an embedding layer still needs a valid id there (``pad_value``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from lstmlib.shapes import ShapeError, check_shape


def pad_sequences(sequences: Sequence, pad_value=0) -> tuple[torch.Tensor, torch.Tensor]:
    """Sequences side by side, time-major, ``pad_value`` past each end.

    Args:
        sequences: ``B`` lists, arrays or tensors, all ``(L_b,)`` (ids) or all ``(L_b, F)``
            (frames), each with ``L_b >= 1``; float64 frames become float32.
        pad_value: written past each sequence's end (e.g. a vocabulary's ``<pad>`` id).

    Returns:
        x: (T, B) or (T, B, F) with ``T = max L_b``; column ``b`` holds sequence ``b`` in
        rows ``0..L_b-1`` and ``pad_value`` below.
        lengths: (B,) int64, the ``L_b``.
    """
    if len(sequences) == 0:
        raise ValueError("pad_sequences needs at least one sequence")
    tensors = [torch.as_tensor(s) for s in sequences]
    first = tensors[0]
    if first.dim() not in (1, 2):
        raise ShapeError(
            f"sequences[0] must be (L,) ids or (L, F) frames, got shape {tuple(first.shape)}"
        )
    expected = ("L",) if first.dim() == 1 else ("L", "F")
    sizes = {} if first.dim() == 1 else {"F": first.shape[1]}
    for b, s in enumerate(tensors):
        check_shape(f"sequences[{b}]", s, expected, dict(sizes))
        if len(s) == 0:
            raise ValueError(f"sequences[{b}] is empty; every sequence needs at least one step")
    tensors = [s.float() if s.dtype == torch.float64 else s for s in tensors]
    lengths = torch.tensor([len(s) for s in tensors], dtype=torch.long)
    return torch.nn.utils.rnn.pad_sequence(tensors, padding_value=pad_value), lengths


def length_batches(
    lengths: Sequence[int], batch_size: int, rng: np.random.Generator
) -> list[np.ndarray]:
    """Index batches of sentences of similar length, in random order (one epoch).

    The sentences are sorted by length (ties in random order), cut into consecutive
    batches of ``batch_size`` (the last may be smaller) and the batches shuffled, so
    a batch is padded only to its own longest sentence and every epoch differs.
    Every index ``0..N-1`` is in exactly one batch.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    lengths = np.asarray(lengths)
    order = np.lexsort((rng.permutation(len(lengths)), lengths))  # by length, then random
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    return [batches[k] for k in rng.permutation(len(batches))]
