"""Exercise 04 (GRU step forward and backward): submissions and the score each one deserves.

Points: gates 1, candidate 1, hidden state 1 (all read one gru_step_forward call),
input gradients 2, weight gradients 2 (both read one gru_step_backward call on a
reference cache).
"""

from __future__ import annotations

from nbgrader_harness import edit, honest_variants, score_without, solved

ASSIGNMENT = "04-gru"
NOTEBOOK = "04-gru"
POINTS = {
    "test_gru_gates": 1,
    "test_gru_candidate": 1,
    "test_gru_hidden": 1,
    "test_gru_backward_inputs": 2,
    "test_gru_backward_weights": 2,
}
FULL = sum(POINTS.values())


def make_submissions(released, solution):
    """Each case: (notebook, expected autograded score)."""
    good = solved(released, solution)
    # The reset gate applied before the recurrent bias is added (Cho et al.'s original GRU,
    # not PyTorch's): the gates are right, the candidate and the output wrong.
    cho_variant = edit(
        good, "gru_step_forward", "ah_n = ah[:, 2 * H :]", "ah_n = h_prev @ Wh[:, 2 * H :]"
    )
    cho_variant = edit(cho_variant, "gru_step_forward", "r * ah_n)", "r * ah_n + bh[2 * H :])")
    return {
        "solution": (good, FULL),
        **honest_variants(good, FULL, answer="gru_step_backward", warn_in="gru_step_forward"),
        "untouched": (released, 0),
        # The reset gate applied before the recurrent bias (the original Cho et al. variant,
        # not PyTorch's): gates right, candidate and output wrong.
        "reset_before_bias": (
            cho_variant,
            score_without(POINTS, "test_gru_candidate", "test_gru_hidden"),
        ),
        # Update gate interpolating the wrong way round: only h is wrong.
        "update_gate_swapped": (
            edit(
                good,
                "gru_step_forward",
                "h = (1 - z) * n + z * h_prev",
                "h = z * n + (1 - z) * h_prev",
            ),
            score_without(POINTS, "test_gru_hidden"),
        ),
        # Forgets the direct path from h to h_prev: dh_prev wrong, weights right.
        "no_direct_path": (
            edit(
                good, "gru_step_backward", "dh_prev = dh * z + dah @ Wh.T", "dh_prev = dah @ Wh.T"
            ),
            score_without(POINTS, "test_gru_backward_inputs"),
        ),
        # Treats the two biases as one: dbh gets dax's n block.
        "one_bias_gradient": (
            edit(good, "gru_step_backward", "dbh = dah.sum(axis=0)", "dbh = dax.sum(axis=0)"),
            score_without(POINTS, "test_gru_backward_weights"),
        ),
    }


# (student, test cell, words its error message must contain)
EXPLAINED = [
    ("untouched", "test_gru_gates", "gru_step_forward is not implemented yet"),
    ("reset_before_bias", "test_gru_candidate", "ah_n (cache[7]) has wrong values"),
    ("update_gate_swapped", "test_gru_hidden", "h has wrong values"),
    ("no_direct_path", "test_gru_backward_inputs", "dh_prev has wrong values"),
    ("one_bias_gradient", "test_gru_backward_weights", "dbh has wrong values"),
]
