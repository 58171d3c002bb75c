"""Exercise 10 (CTC in NumPy): its graded tests.

Five parts, so that each realistic mistake costs its own points only:

- ``collapse`` on frame paths that always hold a doubled label split by a blank
  ("a _ a"), so that dropping the blanks before merging repeats shows;
- ``greedy_decode`` on padded batches, with the reference ``collapse`` standing in;
- ``ctc_forward``'s lattice on short utterances whose transcripts repeat a label, so
  that each of the recursion's rules (the two starts, stay, step, skip only between
  different labels) is needed; compared with ``lstmlib.ctc``;
- ``ctc_loss`` with the reference ``ctc_forward`` standing in, compared (by the judge)
  with ``torch.nn.functional.ctc_loss``: the end of the lattice (last label or last blank);
- the student's own ``ctc_loss`` on long utterances (hundreds of frames), against
  torch: in probability space their likelihood underflows to 0. These utterances
  hold one label and start and end in silence (the label is all but impossible in the
  first and last frames), so that a mistake in the lattice's rules or its ends, graded
  above, makes no difference here: this part grades the arithmetic alone.

The answers are what ``torch`` (and ``keras``) compute, so the grading kernel goes
without them (``WITHHELD``); ``lstmlib.ctc`` is hidden from it as every reference is.
The inputs are made with NumPy only: the kernel makes them too.
"""

from __future__ import annotations

import os

import numpy as np

from lstmlib.grading.checks import GradingError
from lstmlib.grading.spec import Test

WITHHELD = ("torch", "keras")
BLANK = 0
UNLIKELY = 60.0  # how much less likely (in log units) the label is in a silent frame


# --- inputs ------------------------------------------------------------------------


def log_softmax(logits: np.ndarray) -> np.ndarray:
    return logits - np.logaddexp.reduce(logits, axis=-1, keepdims=True)


def random_log_probs(rng, T: int, C: int) -> np.ndarray:
    """(T, C) per-frame log-probabilities, peaked enough that some labels stand out."""
    return log_softmax(2.0 * rng.normal(size=(T, C)))


def random_target(rng, L: int, C: int, repeat: bool) -> list[int]:
    """``L`` labels from 1 .. C-1, each unlike the one before it (where C > 2 allows it);
    with ``repeat``, one label is doubled ("a a"), so that both kinds of neighbours occur."""
    doubled = repeat and L >= 2
    target = [int(rng.integers(1, C))]
    while len(target) < L - doubled:
        others = [y for y in range(1, C) if y != target[-1]] or [target[-1]]
        target.append(int(rng.choice(others)))
    if doubled:
        k = int(rng.integers(L - 1))
        target.insert(k, target[k])
    return target


def sticky_path(rng, T: int, C: int, stay: float = 0.5) -> np.ndarray:
    """A frame path that often repeats its previous label, as a recogniser's output does."""
    path = np.empty(T, dtype=np.int64)
    path[0] = rng.integers(C)
    for t in range(1, T):
        path[t] = path[t - 1] if rng.random() < stay else rng.integers(C)
    return path


def collapse_inputs(rng, N, T, C):
    paths = [sticky_path(rng, T, C) for _ in range(N)]
    # Every case holds "a _ a" (it reads "a a") and a path that starts and ends in blanks.
    at, a = int(rng.integers(T - 2)), int(rng.integers(1, C))
    paths[0][at : at + 3] = [a, BLANK, a]
    paths[1][:2] = paths[1][-2:] = BLANK
    return (paths,)


def as_labels(name, labels) -> np.ndarray:
    """A transcript (a list of labels) as a 1-D array, or a ``GradingError`` saying why not."""
    if isinstance(labels, str | bytes | dict) or not hasattr(labels, "__len__"):
        raise GradingError(f"{name} should be a list of labels, got a {type(labels).__name__}.")
    try:
        array = np.asarray(list(labels), dtype=np.float64)
    except (TypeError, ValueError):
        raise GradingError(f"{name} should be a list of labels (integers).") from None
    if array.ndim != 1:
        raise GradingError(f"{name} should be a flat list of labels, got shape {array.shape}.")
    return array


def judge_transcripts(expected, hint: str):
    """A judge that compares transcripts label by label, in words, revealing no labels.

    Transcripts differ in length, which ``check_array`` would report as a shape; and the
    transcripts of hidden cases must not be shown, nor the inputs they come from.
    """

    def judge(outputs, *arguments):
        for name, right in expected(*arguments).items():
            if name not in outputs:
                raise GradingError(f"{name} was not returned.")
            got = outputs[name]
            if got.ndim != 1:
                raise GradingError(f"{name} should be a flat list of labels. {hint}")
            if len(got) != len(right):
                raise GradingError(
                    f"{name} has {len(got)} labels; it should have {len(right)}. {hint}"
                )
            wrong = int((got != right).sum())
            if wrong:
                raise GradingError(f"{name}: {wrong} of its {len(right)} labels are wrong. {hint}")

    return judge


def run_collapse(collapse, paths):
    return {
        f"collapse(paths[{k}])": as_labels(f"collapse(paths[{k}])", collapse(path))
        for k, path in enumerate(paths)
    }


def expected_collapse(paths):
    from lstmlib.ctc import collapse

    return {f"collapse(paths[{k}])": np.asarray(collapse(p), float) for k, p in enumerate(paths)}


def decode_inputs(rng, T, B, C):
    """(T, B, C) scores whose per-frame argmax follows a sticky path, and lengths (B,).

    Padding frames (t >= lengths[b]) favour a label that is neither the blank nor the
    last real frame's: decoding them always adds a label.
    """
    lengths = rng.integers(1, T + 1, size=B)
    lengths[0], lengths[1] = T, rng.integers(1, T)
    scores = rng.normal(size=(T, B, C))
    for b in range(B):
        scores[np.arange(T), b, sticky_path(rng, T, C)] += 4.0
        n = lengths[b]
        padding = 1 if scores[n - 1, b].argmax() != 1 else 2
        scores[n:, b, padding] = scores[n:, b].max(axis=-1) + 1.0
    return log_softmax(scores), lengths


def run_decode(greedy_decode, log_probs, lengths):
    transcripts = greedy_decode(log_probs, lengths)
    B = log_probs.shape[1]
    if not isinstance(transcripts, list | tuple) or len(transcripts) != B:
        got = f"{len(transcripts)} items" if hasattr(transcripts, "__len__") else "no list"
        raise GradingError(f"greedy_decode must return a list of {B} transcripts; got {got}.")
    return {f"utterance {b}": as_labels(f"utterance {b}", t) for b, t in enumerate(transcripts)}


def expected_decode(log_probs, lengths):
    from lstmlib.ctc import greedy_decode

    found = greedy_decode(log_probs, lengths)
    return {f"utterance {b}": np.asarray(t, float) for b, t in enumerate(found)}


def utterance_inputs(rng, T, C, L, repeat):
    return random_log_probs(rng, T, C), random_target(rng, L, C, repeat)


UNREACHABLE = "unreachable (alpha == -inf)"


def lattice_outputs(alpha) -> dict:
    """The lattice as two finite outputs: its values where finite, and where it is -inf."""
    unreachable = alpha == -np.inf
    # Where -inf is checked first: a wrong -inf then reads as such, not as a wrong 0.
    return {UNREACHABLE: unreachable.astype(float), "alpha": np.where(unreachable, 0.0, alpha)}


NAN_IN_LOG_SUM_EXP = (
    "A log-sum-exp of terms that are all -inf must give -inf: subtracting the maximum "
    "(-inf) from -inf gives NaN."
)


def run_forward(ctc_forward, log_probs, target):
    alpha = ctc_forward(log_probs, target)
    shape = (len(log_probs), 2 * len(target) + 1)
    if not hasattr(alpha, "shape") or tuple(alpha.shape) != shape:
        got = tuple(alpha.shape) if hasattr(alpha, "shape") else type(alpha).__name__
        raise GradingError(
            f"ctc_forward should return alpha of shape (T, 2L + 1) = {shape}; got {got}."
        )
    alpha = np.asarray(alpha, dtype=np.float64)
    if np.isnan(alpha).any():
        raise GradingError(f"alpha contains NaN. {NAN_IN_LOG_SUM_EXP}")
    return lattice_outputs(alpha)


def expected_forward(log_probs, target):
    from lstmlib.ctc import ctc_forward

    return lattice_outputs(ctc_forward(log_probs, target))


def the_loss(ctc_loss, log_probs, target) -> np.ndarray:
    loss = np.asarray(ctc_loss(log_probs, target), dtype=np.float64)
    if loss.size != 1:
        raise GradingError(f"ctc_loss should return one number, got shape {loss.shape}.")
    return loss.reshape(())


def run_loss(ctc_loss, log_probs, target):
    loss = the_loss(ctc_loss, log_probs, target)
    if not np.isfinite(loss):
        raise GradingError(
            f"ctc_loss returned {float(loss)}, but this utterance has alignments: its loss is "
            "finite. Is the end of the lattice read where the paths finish?"
        )
    return {"loss": loss}


def run_long(ctc_loss, log_probs, target):
    loss = the_loss(ctc_loss, log_probs, target)
    if np.isnan(loss):
        raise GradingError(f"ctc_loss returned nan. {NAN_IN_LOG_SUM_EXP}")
    if not np.isfinite(loss):
        raise GradingError(
            f"ctc_loss returned {float(loss)} on an utterance of {len(log_probs)} frames, whose "
            "loss is finite. A product of hundreds of probabilities underflows to 0 in float64 "
            "(and -log 0 = inf): add log-probabilities, and sum them with log-sum-exp."
        )
    return {"loss": loss}


def expected_loss(log_probs, target):
    """The right loss: by torch where the judge runs, by ``lstmlib.ctc`` anywhere else.

    The judge runs inside ``nbgrader autograde`` (which sets ``NBGRADER_EXECUTION``); the
    autograded kernel never calls this. The only other caller is the visible check in a
    student's own session (or ``nbgrader validate``), which must not import torch: the
    test cells there refuse a notebook that has imported it. ``tests/test_ctc.py`` checks
    that the two agree.
    """
    if os.environ.get("NBGRADER_EXECUTION") == "autograde":
        return torch_loss(log_probs, target)
    from lstmlib.ctc import ctc_loss

    return {"loss": ctc_loss(log_probs, target)}


def torch_loss(log_probs, target):
    """``-log P(target | log_probs)`` by ``torch.nn.functional.ctc_loss``."""
    import torch
    import torch.nn.functional as F

    loss = F.ctc_loss(
        torch.from_numpy(log_probs)[:, None],
        torch.tensor([target], dtype=torch.long),
        torch.tensor([len(log_probs)]),
        torch.tensor([len(target)]),
        blank=BLANK,
        reduction="sum",
    )
    return {"loss": float(loss)}


def long_inputs(rng, T, C):
    """A long utterance with one label, starting and ending in silence (see the docstring)."""
    (label,) = random_target(rng, 1, C, repeat=False)
    logits = 2.0 * rng.normal(size=(T, C))
    logits[[0, -1], label] -= UNLIKELY
    return log_softmax(logits), [label]


TESTS = [
    Test(
        "test_collapse",
        answer="collapse",
        inputs=collapse_inputs,
        run=run_collapse,
        judge=judge_transcripts(
            expected_collapse,
            "First merge repeated labels, then drop the blanks: a blank between two equal "
            "labels keeps them apart (a _ a reads a a).",
        ),
        visible=({"seed": 1, "N": 3, "T": 8, "C": 3},),
        hidden=({"N": 4, "T": 5, "C": 2}, {"N": 6, "T": 20, "C": 5}, {"N": 3, "T": 40, "C": 28}),
    ),
    Test(
        "test_greedy_decode",
        answer="greedy_decode",
        inputs=decode_inputs,
        run=run_decode,
        judge=judge_transcripts(
            expected_decode,
            "Take the likeliest label of each of the utterance's own frames (its length), "
            "then collapse that path.",
        ),
        visible=({"seed": 2, "T": 6, "B": 2, "C": 3},),
        hidden=({"T": 2, "B": 2, "C": 3}, {"T": 15, "B": 4, "C": 6}, {"T": 30, "B": 3, "C": 28}),
        standins=("collapse",),
    ),
    Test(
        "test_ctc_forward",
        answer="ctc_forward",
        inputs=utterance_inputs,
        run=run_forward,
        expected=expected_forward,
        visible=({"seed": 3, "T": 5, "C": 3, "L": 3, "repeat": True},),
        hidden=(
            {"T": 3, "C": 2, "L": 2, "repeat": True},  # "a a" in 3 frames: one path only
            {"T": 7, "C": 3, "L": 1, "repeat": False},
            {"T": 12, "C": 5, "L": 4, "repeat": True},
            {"T": 25, "C": 10, "L": 8, "repeat": False},
        ),
        hints={
            "alpha": "alpha[0] starts at the first blank and at the first label; then position "
            "s is reached by staying, by moving on from s - 1, or, for a label, by skipping the "
            "blank from s - 2, but only if that label differs from the one at s - 2.",
            UNREACHABLE: "A position no path reaches by frame t holds -inf (log 0): the two "
            "starts, and the skips allowed only between different labels, decide which.",
        },
    ),
    Test(
        "test_ctc_loss",
        answer="ctc_loss",
        inputs=utterance_inputs,
        run=run_loss,
        expected=expected_loss,
        visible=({"seed": 4, "T": 5, "C": 3, "L": 3, "repeat": True},),
        hidden=(
            {"T": 3, "C": 2, "L": 2, "repeat": True},
            {"T": 9, "C": 4, "L": 1, "repeat": False},
            {"T": 16, "C": 6, "L": 5, "repeat": True},
            {"T": 30, "C": 28, "L": 10, "repeat": False},
        ),
        standins=("ctc_forward",),
        hints={
            "loss": "The lattice's last frame holds two ends: a path may finish on the last "
            "label or on the blank after it. The loss is -log of their total."
        },
    ),
    Test(
        "test_ctc_loss_long",
        answer="ctc_loss",
        inputs=long_inputs,
        run=run_long,
        expected=expected_loss,
        visible=({"seed": 5, "T": 300, "C": 28},),
        hidden=({"T": 500, "C": 10}, {"T": 1000, "C": 28}),
    ),
]
