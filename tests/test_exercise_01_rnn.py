"""Exercise 01 (RNN by hand) through nbgrader, as an instructor would grade it.

One batch of submissions is autograded once per test session: the solution, the
released notebook untouched, realistic wrong answers and broken or cheating
submissions. Each expected score is worked out from which parts the submission
gets wrong (points: step forward 2, step backward 3, forward 2, backward 3,
norms 2), and compared with the scores nbgrader itself stored in its gradebook.
"""

from __future__ import annotations

import re

import nbformat
import pytest
from nbgrader_harness import REPO, auto_scores, cell, edit, nbgrader, release, solved, submit

pytestmark = pytest.mark.slow

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


def full_minus(*failed_tests):
    return FULL - sum(POINTS[test] for test in failed_tests)


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
        "untouched": (released, 0),
        "missing_tanh": (
            missing_tanh,
            full_minus("test_rnn_step_forward"),
        ),
        "transposed_wh": (
            transposed,
            full_minus("test_rnn_step_forward", "test_rnn_step_backward"),
        ),
        "not_accumulated": (not_accumulated, full_minus("test_rnn_backward")),
        "deleted_test": (deleted_test, FULL),
        "infinite_loop": (
            edit(good, "rnn_step_backward", "    da = ", loop + "    da = "),
            full_minus("test_rnn_step_backward"),
        ),
        "prints_forever": (
            edit(good, "rnn_step_forward", "    h = np.tanh", spam + "    h = np.tanh"),
            full_minus("test_rnn_step_forward"),
        ),
        "syntax_error": (
            edit(good, "rnn_forward", "for x_t in x:", "for x_t in x"),
            full_minus("test_rnn_forward"),
        ),
        "kills_kernel": (
            edit(good, "rnn_backward", "    T = len(cache)", kill + "    T = len(cache)"),
            full_minus("test_rnn_backward"),
        ),
        "calls_reference": (
            edit(good, "rnn_step_forward", "    return h, cache", use_reference),
            full_minus("test_rnn_step_forward"),
        ),
        # Wrong code plus patched comparisons: the patch must not turn the failure into points.
        "patches_numpy": (
            edit(
                edit(good, "rnn_step_forward", TANH, NO_TANH), "rnn_step_forward", "", patch_numpy
            ),
            0,
        ),
        "patches_checks": (edit(good, "rnn_step_forward", "", patch_checks), 0),
    }


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Release, submit every case, autograde the batch once, generate feedback."""
    root = tmp_path_factory.mktemp("course")
    released_dir = release(root, ASSIGNMENT)
    released = nbformat.read(released_dir / f"{NOTEBOOK}.ipynb", as_version=4)
    solution = nbformat.read(REPO / "solutions" / ASSIGNMENT / f"{NOTEBOOK}.ipynb", as_version=4)
    cases = make_submissions(released, solution)
    for student, (nb, _) in cases.items():
        submit(root, ASSIGNMENT, student, nb, NOTEBOOK)
    submit(root, ASSIGNMENT, "corrupt_file", "{ this is not a notebook", NOTEBOOK)
    autograde = nbgrader(root, "autograde", ASSIGNMENT)
    feedback = nbgrader(root, "generate_feedback", ASSIGNMENT)
    return {
        "root": root,
        "released_dir": released_dir,
        "solution": solution,
        "cases": cases,
        "autograde": autograde,
        "feedback": feedback,
        "scores": auto_scores(root, ASSIGNMENT),
    }


def test_exercises_folder_is_the_release_of_solutions(graded):
    released = (graded["released_dir"] / f"{NOTEBOOK}.ipynb").read_bytes()
    committed = (REPO / "exercises" / ASSIGNMENT / f"{NOTEBOOK}.ipynb").read_bytes()
    assert committed == released, "exercises/ is stale: run `make exercises` and commit the result"


def test_released_notebook_has_no_solutions_or_hidden_tests(graded):
    text = (graded["released_dir"] / f"{NOTEBOOK}.ipynb").read_text()
    assert "BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text
    assert "np.tanh(x @ Wx + h_prev @ Wh + b)" not in text


@pytest.mark.parametrize(
    "student",
    [
        "solution",
        "untouched",
        "missing_tanh",
        "transposed_wh",
        "not_accumulated",
        "deleted_test",
        "infinite_loop",
        "prints_forever",
        "syntax_error",
        "kills_kernel",
        "calls_reference",
        "patches_numpy",
        "patches_checks",
    ],
)
def test_score(graded, student):
    expected = graded["cases"][student][1]
    scores = graded["scores"][student]
    assert set(scores) == set(POINTS), f"{student}: graded cells {sorted(scores)}"
    assert sum(scores.values()) == expected, f"{student}: per test {scores}"


def test_corrupt_submission_does_not_stop_the_batch(graded):
    # nbgrader reports the unreadable file (exit 1) but has graded everyone else.
    log = graded["autograde"].stdout + graded["autograde"].stderr
    assert "corrupt_file" in log
    assert set(graded["cases"]) <= set(graded["scores"])


def autograded_outputs(graded, student):
    path = graded["root"] / "autograded" / student / ASSIGNMENT / f"{NOTEBOOK}.ipynb"
    nb = nbformat.read(path, as_version=4)
    return {
        c.metadata["nbgrader"]["grade_id"]: [o for o in c.outputs if o.output_type == "error"]
        for c in nb.cells
        if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade")
    }


@pytest.mark.parametrize(
    "student, test, words",
    [
        ("untouched", "test_rnn_step_forward", "rnn_step_forward is not implemented yet"),
        ("missing_tanh", "test_rnn_step_forward", "h has wrong values"),
        ("transposed_wh", "test_rnn_step_backward", "has wrong values"),
        ("not_accumulated", "test_rnn_backward", "dWx has wrong values"),
        ("calls_reference", "test_rnn_step_forward", "calls lstmlib.scratch.rnn_step_forward"),
        ("infinite_loop", "test_rnn_step_backward", "did not finish within"),
        ("kills_kernel", "test_rnn_backward", "kernel died"),
        ("patches_numpy", "test_rnn_forward", "changes `np.allclose`"),
        ("patches_checks", "test_rnn_step_forward", "changes `checks.check_array`"),
    ],
)
def test_failures_are_explained_in_words(graded, student, test, words):
    errors = autograded_outputs(graded, student)[test]
    assert errors, f"{student}: {test} has no error output"
    messages = " | ".join(f"{e.ename}: {e.evalue}" for e in errors)
    assert words in messages, messages
    assert all(e.evalue.strip() for e in errors), f"bare error without a message: {messages}"


def test_runaway_output_is_truncated(graded):
    path = graded["root"] / "autograded" / "prints_forever" / ASSIGNMENT / f"{NOTEBOOK}.ipynb"
    assert path.stat().st_size < 200_000


def hidden_test_lines(solution):
    lines = []
    for c in solution.cells:
        hidden = re.search(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", c.source, re.S)
        if hidden:
            lines += [
                line.strip() for line in hidden.group(1).splitlines() if len(line.strip()) > 15
            ]
    return lines


def test_feedback_never_shows_hidden_tests(graded):
    assert graded["feedback"].returncode in (0, 1), graded["feedback"].stderr
    pages = list((graded["root"] / "feedback").rglob("*.html"))
    assert len(pages) >= len(graded["cases"])
    secret = hidden_test_lines(graded["solution"])
    assert secret, "the solution notebook should have hidden tests"
    for page in pages:
        html = page.read_text()
        for line in secret:
            assert line not in html and line.replace("'", "&#39;") not in html, (page, line)


def test_feedback_tells_the_student_what_is_wrong(graded):
    page = graded["root"] / "feedback" / "missing_tanh" / ASSIGNMENT / f"{NOTEBOOK}.html"
    assert "h has wrong values" in page.read_text()
