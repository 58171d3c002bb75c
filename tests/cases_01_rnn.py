"""Exercise 01 (RNN by hand): submissions and the score each one deserves.

Points: step forward 2, step backward 3, forward 2, backward 3, norms 2. Parts 3-5
are graded with the reference building blocks standing in for the student's, so a
mistake costs the points of its own part only. This exercise also carries the
broken and cheating submissions that test the grading machinery itself.
"""

from __future__ import annotations

import nbformat
from nbgrader_harness import cell, edit, honest_variants, score_without, solved

ASSIGNMENT = "01-rnn"
NOTEBOOK = "01-rnn"
POINTS = {
    "test_rnn_step_forward": 2,
    "test_rnn_step_backward": 3,
    "test_rnn_forward": 2,
    "test_rnn_backward": 3,
    "test_gradient_norm_by_lag": 2,
}
FULL = sum(POINTS.values())


TANH = "np.tanh(x @ Wx + h_prev @ Wh + b)"
NO_TANH = "x @ Wx + h_prev @ Wh + b"


def make_submissions(released, solution):
    """Each case: (notebook, expected autograded score)."""
    good = solved(released, solution)
    deleted_test = nbformat.from_dict(good)
    deleted_test.cells.remove(cell(deleted_test, "test_rnn_backward"))
    transposed = edit(good, "rnn_step_forward", "h_prev @ Wh ", "h_prev @ Wh.T ")
    transposed = edit(transposed, "rnn_step_backward", "da @ Wh.T", "da @ Wh")
    transposed = edit(transposed, "rnn_step_backward", "h_prev.T @ da", "(h_prev.T @ da).T")
    not_accumulated = edit(good, "rnn_backward", "dWx = dWx + dWx_t", "dWx = dWx_t")
    not_accumulated = edit(not_accumulated, "rnn_backward", "dWh = dWh + dWh_t", "dWh = dWh_t")
    loop = "    while True:\n        pass\n"
    spam = "    while True:\n        print('x' * 80)\n"
    kill = "    import os\n    os._exit(1)\n"
    use_reference = (
        "    from lstmlib.scratch import rnn_step_forward as ref\n"
        "    h, cache = ref(x, h_prev, Wx, Wh, b)\n"
        "    return h, cache"
    )
    patch_numpy = "\n\nnp.allclose = lambda *a, **k: True\nnp.isclose = lambda *a, **k: True\n"
    patch_checks = "\n\nchecks.check_array = lambda *a, **k: None\n"
    missing_tanh = edit(good, "rnn_step_forward", TANH, NO_TANH)
    return {
        "solution": (good, FULL),
        **honest_variants(good, FULL, answer="rnn_step_forward", warn_in="rnn_step_forward"),
        "untouched": (released, 0),
        "missing_tanh": (
            missing_tanh,
            score_without(POINTS, "test_rnn_step_forward"),
        ),
        "transposed_wh": (
            transposed,
            score_without(POINTS, "test_rnn_step_forward", "test_rnn_step_backward"),
        ),
        "not_accumulated": (not_accumulated, score_without(POINTS, "test_rnn_backward")),
        "deleted_test": (deleted_test, FULL),
        "infinite_loop": (
            edit(good, "rnn_step_backward", "    da = ", loop + "    da = "),
            score_without(POINTS, "test_rnn_step_backward"),
        ),
        "prints_forever": (
            edit(good, "rnn_step_forward", "    h = np.tanh", spam + "    h = np.tanh"),
            score_without(POINTS, "test_rnn_step_forward"),
        ),
        "syntax_error": (
            edit(good, "rnn_forward", "for x_t in x:", "for x_t in x"),
            score_without(POINTS, "test_rnn_forward"),
        ),
        "kills_kernel": (
            edit(good, "rnn_backward", "    T = len(cache)", kill + "    T = len(cache)"),
            score_without(POINTS, "test_rnn_backward"),
        ),
        "calls_reference": (
            edit(good, "rnn_step_forward", "    return h, cache", use_reference),
            score_without(POINTS, "test_rnn_step_forward"),
        ),
        # Wrong code plus patched comparisons: the patch must not turn the failure into
        # points (the judge compares outside the kernel), nor cost the right parts any.
        "patches_numpy": (
            edit(
                edit(good, "rnn_step_forward", TANH, NO_TANH), "rnn_step_forward", "", patch_numpy
            ),
            score_without(POINTS, "test_rnn_step_forward"),
        ),
        "patches_checks": (edit(good, "rnn_step_forward", "", patch_checks), FULL),
    }


# (student, test cell, words its error message must contain)
EXPLAINED = [
    ("untouched", "test_rnn_step_forward", "rnn_step_forward is not implemented yet"),
    ("missing_tanh", "test_rnn_step_forward", "h has wrong values"),
    ("transposed_wh", "test_rnn_step_backward", "has wrong values"),
    ("not_accumulated", "test_rnn_backward", "dWx has wrong values"),
    ("calls_reference", "test_rnn_step_forward", "reference implementation is not available"),
    ("infinite_loop", "test_rnn_step_backward", "did not finish within"),
    ("kills_kernel", "test_rnn_backward", "kernel died"),
    ("patches_numpy", "test_rnn_step_forward", "h has wrong values"),
]
