"""Exercise 10 (CTC in NumPy): submissions and the score each one deserves.

Points: collapse 1, greedy decoding 1 (the reference collapse standing in), the forward
lattice 3, the loss 2 (the reference lattice standing in), the student's own loss on long
utterances 2. The grading kernel has neither torch nor keras, nor lstmlib.ctc.
"""

from __future__ import annotations

import nbformat
from nbgrader_harness import cell, edit, honest_variants, score_without, solved

ASSIGNMENT = "10-ctc"
NOTEBOOK = "10-ctc"
POINTS = {
    "test_collapse": 1,
    "test_greedy_decode": 1,
    "test_ctc_forward": 3,
    "test_ctc_loss": 2,
    "test_ctc_loss_long": 2,
}
FULL = sum(POINTS.values())

HEADER = """def ctc_forward(log_probs, target, blank=0):
    T = len(log_probs)
    extended = [blank]
    for y in target:
        extended += [y, blank]
    S = len(extended)
"""

# The recursion vectorised over positions: three shifted copies of the previous frame.
VECTORISED = (
    HEADER
    + """    labels = np.array(extended)
    can_skip = np.zeros(S, dtype=bool)
    can_skip[2:] = (labels[2:] != blank) & (labels[2:] != labels[:-2])
    alpha = np.full((T, S), -np.inf)
    alpha[0, : min(2, S)] = log_probs[0, labels[: min(2, S)]]
    for t in range(1, T):
        previous = alpha[t - 1]
        moved = np.concatenate([[-np.inf], previous[:-1]])
        skipped = np.where(can_skip, np.concatenate([[-np.inf, -np.inf], previous[:-2]]), -np.inf)
        alpha[t] = np.logaddexp(np.logaddexp(previous, moved), skipped) + log_probs[t, labels]
    return alpha
"""
)

# A log-sum-exp of its own (the max trick), minding the all -inf case.
OWN_LOG_SUM_EXP = (
    """def log_sum_exp(values):
    values = np.asarray(values)
    top = values.max()
    if top == -np.inf:
        return -np.inf
    return top + np.log(np.exp(values - top).sum())


"""
    + HEADER
    + """    alpha = np.full((T, S), -np.inf)
    alpha[0, 0] = log_probs[0, blank]
    if S > 1:
        alpha[0, 1] = log_probs[0, extended[1]]
    for t in range(1, T):
        for s in range(S):
            terms = [alpha[t - 1, s]]
            if s > 0:
                terms.append(alpha[t - 1, s - 1])
            if s > 1 and extended[s] != blank and extended[s] != extended[s - 2]:
                terms.append(alpha[t - 1, s - 2])
            alpha[t, s] = log_sum_exp(terms) + log_probs[t, extended[s]]
    return alpha
"""
)

# Probabilities, rescaled to sum to 1 at every frame (Rabiner's scaling, as in Graves et
# al. 2006): log alpha is the log of the scaled value plus the logs of the scales.
RESCALED = (
    HEADER
    + """    probs = np.exp(log_probs)
    scaled = np.zeros((T, S))
    log_scale = np.zeros(T)
    scaled[0, 0] = probs[0, blank]
    if S > 1:
        scaled[0, 1] = probs[0, extended[1]]
    for t in range(T):
        if t > 0:
            for s in range(S):
                total = scaled[t - 1, s] + (scaled[t - 1, s - 1] if s > 0 else 0.0)
                if s > 1 and extended[s] != blank and extended[s] != extended[s - 2]:
                    total += scaled[t - 1, s - 2]
                scaled[t, s] = total * probs[t, extended[s]]
        norm = scaled[t].sum()
        scaled[t] /= norm
        log_scale[t] = np.log(norm)
    with np.errstate(divide="ignore"):
        return np.log(scaled) + np.cumsum(log_scale)[:, None]
"""
)

# The textbook recursion in plain probabilities: right on short inputs, 0 on long ones.
PROBABILITIES = (
    HEADER
    + """    probs = np.exp(log_probs)
    alpha = np.zeros((T, S))
    alpha[0, 0] = probs[0, blank]
    if S > 1:
        alpha[0, 1] = probs[0, extended[1]]
    for t in range(1, T):
        for s in range(S):
            total = alpha[t - 1, s] + (alpha[t - 1, s - 1] if s > 0 else 0.0)
            if s > 1 and extended[s] != blank and extended[s] != extended[s - 2]:
                total += alpha[t - 1, s - 2]
            alpha[t, s] = total * probs[t, extended[s]]
    return np.log(alpha)
"""
)
PROBABILITY_LOSS = """def ctc_loss(log_probs, target, blank=0):
    alpha = ctc_forward(log_probs, target, blank)
    return -np.log(np.exp(alpha[-1, -1]) + np.exp(alpha[-1, -2]))
"""

SKIP = "extended[s] != blank and extended[s] != extended[s - 2]"
LOSS = "return float(-np.logaddexp(alpha[-1, -1], alpha[-1, -2]))"


def rewrite(nb, grade_id: str, source: str):
    """A copy of ``nb`` whose cell ``grade_id`` holds ``source`` instead."""
    nb = nbformat.from_dict(nb)
    cell(nb, grade_id).source = source
    return nb


def make_submissions(released, solution):
    """Each case: (notebook, expected autograded score)."""
    good = solved(released, solution)
    return {
        "solution": (good, FULL),
        **honest_variants(good, FULL, answer="ctc_forward", warn_in="ctc_loss"),
        "vectorised_recursion": (rewrite(good, "ctc_forward", VECTORISED), FULL),
        "own_log_sum_exp": (rewrite(good, "ctc_forward", OWN_LOG_SUM_EXP), FULL),
        "scipy_log_sum_exp": (
            edit(
                edit(good, "ctc_forward", "np.logaddexp.reduce(incoming)", "logsumexp(incoming)"),
                "ctc_forward",
                "",
                "\n\nfrom scipy.special import logsumexp\n",
            ),
            FULL,
        ),
        "rescaled_probabilities": (rewrite(good, "ctc_forward", RESCALED), FULL),
        "untouched": (released, 0),
        # Drops the blanks first, then merges: "a _ a" reads "a".
        "collapse_drops_blanks_first": (
            edit(
                good,
                "collapse",
                "    for label in path:\n",
                "    path = [label for label in path if label != blank]\n    for label in path:\n",
            ),
            score_without(POINTS, "test_collapse"),
        ),
        # Decodes the padding frames too.
        "greedy_ignores_lengths": (
            edit(good, "greedy_decode", "best[: lengths[b], b]", "best[:, b]"),
            score_without(POINTS, "test_greedy_decode"),
        ),
        # Never skips a blank: "a b" then needs a blank between a and b.
        "no_skip_transition": (
            edit(
                good,
                "ctc_forward",
                f"            if s >= 2 and {SKIP}:\n"
                "                incoming.append(alpha[t - 1, s - 2])\n",
                "",
            ),
            score_without(POINTS, "test_ctc_forward"),
        ),
        # Skips the blank between two equal labels too: "a a" could read "a".
        "skips_between_equal_labels": (
            edit(good, "ctc_forward", SKIP, "extended[s] != blank"),
            score_without(POINTS, "test_ctc_forward"),
        ),
        # Starts every path with a blank: a path that opens with the first label is lost.
        "forgets_the_first_label_start": (
            edit(
                good,
                "ctc_forward",
                "    if S > 1:\n        alpha[0, 1] = log_probs[0, extended[1]]\n",
                "",
            ),
            score_without(POINTS, "test_ctc_forward"),
        ),
        # The max trick without minding -inf: NaN wherever no path reaches yet (the long
        # utterances' single label is reachable from the second frame on: no NaN there).
        "log_sum_exp_gives_nan": (
            edit(
                rewrite(good, "ctc_forward", OWN_LOG_SUM_EXP),
                "ctc_forward",
                "    if top == -np.inf:\n        return -np.inf\n",
                "",
            ),
            score_without(POINTS, "test_ctc_forward"),
        ),
        # Reads the end of the lattice on the final blank only.
        "ends_only_on_the_last_blank": (
            edit(good, "ctc_loss", LOSS, "return float(-alpha[-1, -1])"),
            score_without(POINTS, "test_ctc_loss"),
        ),
        # Returns the log-likelihood, not its negative.
        "loss_with_the_wrong_sign": (
            edit(
                good, "ctc_loss", LOSS, "return float(np.logaddexp(alpha[-1, -1], alpha[-1, -2]))"
            ),
            score_without(POINTS, "test_ctc_loss", "test_ctc_loss_long"),
        ),
        # Probabilities instead of log-probabilities: underflows on long utterances only.
        "probability_space": (
            rewrite(rewrite(good, "ctc_forward", PROBABILITIES), "ctc_loss", PROBABILITY_LOSS),
            score_without(POINTS, "test_ctc_loss_long"),
        ),
        # Cheats: torch's CTC (the grading kernel has no torch), and the course's reference.
        "calls_torch_ctc_loss": (
            rewrite(
                good,
                "ctc_loss",
                "def ctc_loss(log_probs, target, blank=0):\n"
                "    import torch\n\n"
                "    return torch.nn.functional.ctc_loss(\n"
                "        torch.from_numpy(log_probs)[:, None], torch.tensor([target]),\n"
                "        torch.tensor([len(log_probs)]), torch.tensor([len(target)]),\n"
                "        blank=blank, reduction='sum',\n"
                "    ).item()\n",
            ),
            score_without(POINTS, "test_ctc_loss", "test_ctc_loss_long"),
        ),
        "imports_torch_at_the_top": (
            edit(
                good,
                "ctc_loss",
                "def ctc_loss(",
                "import torch.nn.functional as F\n\n\ndef ctc_loss(",
            ),
            score_without(POINTS, "test_ctc_loss", "test_ctc_loss_long"),
        ),
        "calls_reference": (
            edit(
                good,
                "ctc_forward",
                "    alpha = np.full((T, S), -np.inf)\n",
                "    from lstmlib.ctc import ctc_forward as reference\n\n"
                "    return reference(log_probs, target, blank)\n"
                "    alpha = np.full((T, S), -np.inf)\n",
            ),
            score_without(POINTS, "test_ctc_forward", "test_ctc_loss_long"),
        ),
    }


# (student, test cell, words its error message must contain)
EXPLAINED = [
    ("untouched", "test_collapse", "collapse is not implemented yet"),
    ("collapse_drops_blanks_first", "test_collapse", "First merge repeated labels"),
    ("greedy_ignores_lengths", "test_greedy_decode", "its length"),
    ("no_skip_transition", "test_ctc_forward", "unreachable (alpha == -inf) has wrong values"),
    ("skips_between_equal_labels", "test_ctc_forward", "only between different labels"),
    ("forgets_the_first_label_start", "test_ctc_forward", "has wrong values"),
    ("log_sum_exp_gives_nan", "test_ctc_forward", "alpha contains NaN"),
    ("ends_only_on_the_last_blank", "test_ctc_loss", "two ends"),
    ("probability_space", "test_ctc_loss_long", "underflows to 0 in float64"),
    ("calls_torch_ctc_loss", "test_ctc_loss", "torch is not available while this exercise"),
    ("imports_torch_at_the_top", "test_ctc_loss", "ctc_loss is not defined"),
    ("calls_reference", "test_ctc_forward", "reference implementation is not available"),
]
