"""Connectionist temporal classification (Graves et al. 2006), in NumPy, for teaching.

A recogniser that outputs one distribution per frame over the labels plus a *blank*
(index ``blank``, 0 by default) reads ``T`` frames; a transcript has ``L <= T`` labels and
no frame alignment. CTC sums the probability of every frame path that *collapses* to the
transcript: merge repeated labels, then drop the blanks, so that "a a _ b b" and
"_ a b _ _" both read "a b", and "a _ a" reads "a a" (the blank separates a doubled
label).

- :func:`ctc_forward` computes that sum with the forward algorithm over the transcript
  with blanks interleaved, ``_ y1 _ y2 ... yL _`` (length ``2L + 1``), in log space;
  :func:`ctc_loss` is its negative. ``torch.nn.CTCLoss`` computes the same number (the
  tests compare them) and its gradient.
- :func:`greedy_decode` takes the likeliest label of every frame and collapses the path:
  fast, and exact when one path dominates.
- :func:`edit_distance` and :func:`error_rate` score transcripts (label or word error
  rate: substitutions, insertions and deletions over the reference length).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def collapse(path: Sequence[int], blank: int = 0) -> list[int]:
    """The transcript a frame path reads: repeats merged, then blanks dropped."""
    out, previous = [], None
    for label in path:
        label = int(label)
        if label != previous and label != blank:
            out.append(label)
        previous = label
    return out


def _check_log_probs(log_probs) -> np.ndarray:
    log_probs = np.asarray(log_probs, dtype=np.float64)
    if log_probs.ndim != 2:
        raise ValueError(
            f"log_probs must have shape (T, C) (frames, labels with the blank), "
            f"got {log_probs.shape}"
        )
    return log_probs


def ctc_forward(log_probs, target: Sequence[int], blank: int = 0) -> np.ndarray:
    """The forward variables of CTC for one utterance.

    Args:
        log_probs: (T, C) log-probabilities of the ``C`` labels (blank included) per frame.
        target: the transcript, ``L`` labels, none of them ``blank``.

    Returns:
        alpha: (T, 2L + 1), ``alpha[t, s]`` = log of the total probability of the paths of
        frames ``0 .. t`` that end in position ``s`` of the blank-interleaved transcript
        ``_ y1 _ y2 ... yL _``. The log-likelihood of the transcript is
        ``logaddexp(alpha[-1, -1], alpha[-1, -2])`` (the path may end on the last label or
        on the blank after it); ``-inf`` where no path fits (too few frames).
    """
    log_probs = _check_log_probs(log_probs)
    target = [int(y) for y in target]
    if blank in target:
        raise ValueError(f"the target may not contain the blank label {blank}")
    T, C = log_probs.shape
    if target and not 0 <= min(target) <= max(target) < C:
        raise ValueError(f"target labels must lie in 0 .. {C - 1}")
    extended = [blank]
    for y in target:
        extended += [y, blank]
    S = len(extended)
    alpha = np.full((T, S), -np.inf)
    alpha[0, 0] = log_probs[0, blank]
    if S > 1:
        alpha[0, 1] = log_probs[0, extended[1]]
    for t in range(1, T):
        for s in range(S):
            # Stay, or move on by one; skip the blank between two *different* labels.
            paths = [alpha[t - 1, s]]
            if s >= 1:
                paths.append(alpha[t - 1, s - 1])
            if s >= 2 and extended[s] != blank and extended[s] != extended[s - 2]:
                paths.append(alpha[t - 1, s - 2])
            alpha[t, s] = np.logaddexp.reduce(paths) + log_probs[t, extended[s]]
    return alpha


def ctc_loss(log_probs, target: Sequence[int], blank: int = 0) -> float:
    """``-log P(target | frames)``, summed over every alignment (see :func:`ctc_forward`).

    Args:
        log_probs: (T, C) per-frame log-probabilities, blank included.
        target: ``L`` labels.
    """
    alpha = ctc_forward(log_probs, target, blank)
    ends = alpha[-1, -2:] if alpha.shape[1] > 1 else alpha[-1, -1:]
    return float(-np.logaddexp.reduce(ends))


def greedy_decode(log_probs, lengths=None, blank: int = 0) -> list[list[int]]:
    """Best-path decoding: the argmax label of each frame, collapsed.

    Args:
        log_probs: (T, B, C) scores per frame (log-probabilities, or any monotone scores),
            time-major like ``torch.nn.CTCLoss``'s input; a NumPy array or a tensor.
        lengths: (B,) frames per utterance (default: all ``T``).

    Returns:
        B transcripts, each a list of labels.
    """
    scores = np.asarray(log_probs.detach().cpu() if hasattr(log_probs, "detach") else log_probs)
    if scores.ndim != 3:
        raise ValueError(f"log_probs must have shape (T, B, C), got {scores.shape}")
    T, B, _ = scores.shape
    lengths = [T] * B if lengths is None else [int(n) for n in lengths]
    if len(lengths) != B:
        raise ValueError(f"lengths must have shape ({B},), got {len(lengths)} entries")
    best = scores.argmax(axis=-1)
    return [collapse(best[: lengths[b], b], blank) for b in range(B)]


def edit_distance(reference: Sequence, hypothesis: Sequence) -> int:
    """Levenshtein distance: the fewest substitutions, insertions and deletions."""
    previous = list(range(len(hypothesis) + 1))
    for i, r in enumerate(reference, 1):
        current = [i]
        for j, h in enumerate(hypothesis, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h)))
        previous = current
    return previous[-1]


def error_rate(references: Sequence[Sequence], hypotheses: Sequence[Sequence]) -> float:
    """Total edit distance over total reference length (label or word error rate)."""
    if len(references) != len(hypotheses):
        raise ValueError(f"{len(references)} references but {len(hypotheses)} hypotheses")
    total = sum(len(r) for r in references)
    if total == 0:
        raise ValueError("error rate of empty references")
    return sum(edit_distance(r, h) for r, h in zip(references, hypotheses, strict=True)) / total
