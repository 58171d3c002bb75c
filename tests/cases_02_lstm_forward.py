"""Exercise 02 (LSTM forward): submissions and the score each one deserves.

Points: gates 2, cell state 1, hidden state 1 (all three read one lstm_step_forward
call), sequence 2 (graded with the reference step standing in for the student's).
"""

from __future__ import annotations

from nbgrader_harness import edit, honest_variants, score_without, solved

ASSIGNMENT = "02-lstm-forward"
NOTEBOOK = "02-lstm-forward"
POINTS = {"test_lstm_gates": 2, "test_lstm_cell": 1, "test_lstm_hidden": 1, "test_lstm_forward": 2}
FULL = sum(POINTS.values())
STEP = ("test_lstm_gates", "test_lstm_cell", "test_lstm_hidden")


def make_submissions(released, solution):
    """Each case: (notebook, expected autograded score)."""
    good = solved(released, solution)
    swapped = edit(
        good, "lstm_step_forward", "i = sigmoid(a[:, :H])", "i = sigmoid(a[:, H : 2 * H])"
    )
    swapped = edit(
        swapped, "lstm_step_forward", "f = sigmoid(a[:, H : 2 * H])", "f = sigmoid(a[:, :H])"
    )
    return {
        "solution": (good, FULL),
        **honest_variants(good, FULL, answer="lstm_forward", warn_in="lstm_step_forward"),
        "untouched": (released, 0),
        # i and f read each other's block: every gate-dependent output is wrong.
        "gate_order_swapped": (swapped, score_without(POINTS, *STEP)),
        "forget_gate_tanh": (
            edit(good, "lstm_step_forward", "f = sigmoid(a[:, H", "f = np.tanh(a[:, H"),
            score_without(POINTS, *STEP),
        ),
        # Gates and c are right; only h misses the squashing of c.
        "output_without_tanh": (
            edit(good, "lstm_step_forward", "h = o * np.tanh(c)", "h = o * c"),
            score_without(POINTS, "test_lstm_hidden"),
        ),
        "cell_state_not_carried": (
            edit(
                good,
                "lstm_forward",
                "lstm_step_forward(x_t, h_t, c_t,",
                "lstm_step_forward(x_t, h_t, c0,",
            ),
            score_without(POINTS, "test_lstm_forward"),
        ),
        "calls_reference": (
            edit(
                good,
                "lstm_forward",
                "    return h, cache",
                "    from lstmlib.scratch import lstm_forward as ref\n"
                "    return ref(x, h0, c0, Wx, Wh, b)",
            ),
            score_without(POINTS, "test_lstm_forward"),
        ),
    }


# (student, test cell, words its error message must contain)
EXPLAINED = [
    ("untouched", "test_lstm_gates", "lstm_step_forward is not implemented yet"),
    ("gate_order_swapped", "test_lstm_gates", "gate i (cache[5]) has wrong values"),
    ("forget_gate_tanh", "test_lstm_gates", "gate f (cache[6]) has wrong values"),
    ("output_without_tanh", "test_lstm_hidden", "h has wrong values"),
    ("cell_state_not_carried", "test_lstm_forward", "h has wrong values"),
    ("calls_reference", "test_lstm_forward", "reference implementation is not available"),
]
