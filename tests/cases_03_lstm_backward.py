"""Exercise 03 (LSTM backward): submissions and the score each one deserves.

Points: dc_prev 1, dx and dh_prev 2, dWx, dWh and db 2 (all three read one
lstm_step_backward call on a reference cache), BPTT 3 (graded with the reference
step standing in for the student's).
"""

from __future__ import annotations

import nbformat
from nbgrader_harness import cell, edit, honest_variants, score_without, solved

ASSIGNMENT = "03-lstm-backward"
NOTEBOOK = "03-lstm-backward"
POINTS = {
    "test_lstm_step_backward_dc_prev": 1,
    "test_lstm_step_backward_inputs": 2,
    "test_lstm_step_backward_weights": 2,
    "test_lstm_backward": 3,
}
FULL = sum(POINTS.values())
THROUGH_GATES = ("test_lstm_step_backward_inputs", "test_lstm_step_backward_weights")


def without(nb, grade_id):
    nb = nbformat.from_dict(nb)
    nb.cells.remove(cell(nb, grade_id))
    return nb


def make_submissions(released, solution):
    """Each case: (notebook, expected autograded score)."""
    good = solved(released, solution)
    gates_in_order = "[di * i * (1 - i), df * f * (1 - f), dg * (1 - g**2), do * o * (1 - o)]"
    return {
        "solution": (good, FULL),
        **honest_variants(good, FULL, answer="lstm_step_backward", warn_in="lstm_backward"),
        # Stock nbgrader crashes on this one (KeyError in add_missing_grade_cells).
        "deletes_first_test": (without(good, "test_lstm_step_backward_dc_prev"), FULL),
        "untouched": (released, 0),
        # Forgets that c_prev receives gradient: only dc_prev is wrong.
        "missing_c_prev_gradient": (
            edit(
                good,
                "lstm_step_backward",
                "dc_prev = dc_total * f",
                "dc_prev = np.zeros_like(c_prev)",
            ),
            score_without(POINTS, "test_lstm_step_backward_dc_prev"),
        ),
        # Blocks of da in the order i, f, o, g: every gradient through the gates is wrong.
        "gate_order_swapped": (
            edit(
                good,
                "lstm_step_backward",
                gates_in_order,
                "[di * i * (1 - i), df * f * (1 - f), do * o * (1 - o), dg * (1 - g**2)]",
            ),
            score_without(POINTS, *THROUGH_GATES),
        ),
        # Differentiates the forget gate as if it were a tanh.
        "forget_gate_tanh": (
            edit(good, "lstm_step_backward", "df * f * (1 - f)", "df * (1 - f**2)"),
            score_without(POINTS, *THROUGH_GATES),
        ),
        # BPTT that drops the cell-state gradient between steps.
        "dc_not_carried": (
            edit(
                good,
                "lstm_backward",
                "dh[t] + dh_next, dc_next, cache[t]",
                "dh[t] + dh_next, 0 * dc_next, cache[t]",
            ),
            score_without(POINTS, "test_lstm_backward"),
        ),
    }


# (student, test cell, words its error message must contain)
EXPLAINED = [
    ("untouched", "test_lstm_step_backward_dc_prev", "lstm_step_backward is not implemented yet"),
    ("missing_c_prev_gradient", "test_lstm_step_backward_dc_prev", "dc_prev has wrong values"),
    ("gate_order_swapped", "test_lstm_step_backward_inputs", "dx has wrong values"),
    ("forget_gate_tanh", "test_lstm_step_backward_weights", "dWx has wrong values"),
    ("dc_not_carried", "test_lstm_backward", "has wrong values"),
]
