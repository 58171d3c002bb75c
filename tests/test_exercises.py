"""Every graded exercise through nbgrader, as an instructor would grade it.

For each exercise (one ``cases_*`` module each), one batch is released and
autograded once: the solution, the released notebook untouched, realistic wrong
answers, broken or cheating submissions and an unreadable file. The score each
submission deserves is worked out in its cases module from which parts it gets
wrong, and compared with the scores nbgrader itself stored in its gradebook.
The same batch, graded again by the course's parallel command, must get exactly
the scores serial nbgrader stored, cell by cell.
"""

from __future__ import annotations

import secrets
import shutil
from html import escape as html_escape

import cases_01_rnn
import cases_02_lstm_forward
import cases_03_lstm_backward
import cases_04_gru
import cases_05_bilstm
import cases_06_convlstm
import cases_07_forecasting
import cases_08_language_model
import cases_09_attention
import cases_10_ctc
import nbformat
import numpy as np
import pytest
from nbgrader_harness import REPO, auto_scores, nbgrader, release, submit
from parallel_harness import cli, scores, sqlite_url

from lstmlib.grading.assignments import graded_tests
from lstmlib.grading.judge import grading_cases, load_secret

pytestmark = pytest.mark.slow

EXERCISES = [
    cases_01_rnn,
    cases_02_lstm_forward,
    cases_03_lstm_backward,
    cases_04_gru,
    cases_05_bilstm,
    cases_06_convlstm,
    cases_07_forecasting,
    cases_08_language_model,
    cases_09_attention,
    cases_10_ctc,
]


@pytest.fixture(scope="module", params=EXERCISES, ids=lambda cases: cases.ASSIGNMENT)
def graded(request, tmp_path_factory):
    """Release, submit every case, autograde the batch once, generate feedback; and, at the
    same time, grade a copy of the batch with the parallel command (serial nbgrader keeps
    one core busy at most, so the two runs share the machine's cores)."""
    cases = request.param
    root = tmp_path_factory.mktemp(cases.ASSIGNMENT)
    released_dir = release(root, cases.ASSIGNMENT)
    released = nbformat.read(released_dir / f"{cases.NOTEBOOK}.ipynb", as_version=4)
    solution_path = REPO / "solutions" / cases.ASSIGNMENT / f"{cases.NOTEBOOK}.ipynb"
    solution = nbformat.read(solution_path, as_version=4)
    submissions = cases.make_submissions(released, solution)
    for student, (nb, _) in submissions.items():
        submit(root, cases.ASSIGNMENT, student, nb, cases.NOTEBOOK)
    submit(root, cases.ASSIGNMENT, "corrupt_file", "{ this is not a notebook", cases.NOTEBOOK)
    # Both courses grade with one secret, so that they draw the same hidden cases.
    secret = secrets.token_hex(32)
    (root / "grading-secret").write_text(secret + "\n")
    parallel_root = tmp_path_factory.mktemp(f"{cases.ASSIGNMENT}-parallel")
    release(parallel_root, cases.ASSIGNMENT)
    shutil.copytree(root / "submitted", parallel_root / "submitted")
    parallel = cli(
        parallel_root, "autograde", cases.ASSIGNMENT, "--jobs", "2", secret=secret, popen=True
    )
    try:
        autograde = nbgrader(root, "autograde", cases.ASSIGNMENT)
        feedback = nbgrader(root, "generate_feedback", cases.ASSIGNMENT)
        parallel_out, parallel_err = parallel.communicate(timeout=900)
    finally:
        parallel.kill()
    return {
        "cases": cases,
        "root": root,
        "released_dir": released_dir,
        "solution": solution,
        "submissions": submissions,
        "autograde": autograde,
        "feedback": feedback,
        "scores": auto_scores(root, cases.ASSIGNMENT),
        "parallel": (parallel_root, parallel.returncode, parallel_out + parallel_err),
    }


def grade_id(cell):
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def notebook_path(graded, step, student, suffix=".ipynb"):
    cases = graded["cases"]
    return graded["root"] / step / student / cases.ASSIGNMENT / f"{cases.NOTEBOOK}{suffix}"


def test_exercises_folder_is_the_release_of_solutions(graded):
    cases = graded["cases"]
    released = (graded["released_dir"] / f"{cases.NOTEBOOK}.ipynb").read_bytes()
    committed = (REPO / "exercises" / cases.ASSIGNMENT / f"{cases.NOTEBOOK}.ipynb").read_bytes()
    assert committed == released, "exercises/ is stale: run `make exercises` and commit the result"


def test_released_notebook_has_no_solutions_or_hidden_tests(graded):
    text = (graded["released_dir"] / f"{graded['cases'].NOTEBOOK}.ipynb").read_text()
    assert "BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text


def test_every_submission_gets_the_score_it_deserves(graded):
    expected = {student: score for student, (_, score) in graded["submissions"].items()}
    actual = {student: sum(graded["scores"][student].values()) for student in expected}
    assert actual == expected, {
        s: graded["scores"][s] for s in expected if actual[s] != expected[s]
    }


def test_every_test_cell_is_graded(graded):
    # Includes submissions whose test cells were deleted: they are restored and run.
    for student in graded["submissions"]:
        assert set(graded["scores"][student]) == set(graded["cases"].POINTS), student


def test_corrupt_submission_does_not_stop_the_batch(graded):
    # nbgrader reports the unreadable file (exit 1) but has graded everyone else.
    log = graded["autograde"].stdout + graded["autograde"].stderr
    assert "corrupt_file" in log
    assert set(graded["submissions"]) <= set(graded["scores"])


def test_failures_are_explained_in_words(graded):
    for student, test, words in graded["cases"].EXPLAINED:
        nb = nbformat.read(notebook_path(graded, "autograded", student), as_version=4)
        (test_cell,) = [
            c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == test
        ]
        errors = [o for o in test_cell.outputs if o.output_type == "error"]
        messages = " | ".join(f"{e.ename}: {e.evalue}" for e in errors)
        assert words in messages, (student, test, messages)
        assert all(e.evalue.strip() for e in errors), f"{student}: bare error in {messages}"


def test_runaway_output_is_truncated(graded):
    if "prints_forever" not in graded["submissions"]:
        pytest.skip("this exercise has no runaway-output submission")
    assert notebook_path(graded, "autograded", "prints_forever").stat().st_size < 200_000


def hidden_expected_values(graded):
    """How the hidden cases' expected values would read in a message: "expected 0.723514"."""
    assignment = graded["cases"].ASSIGNMENT
    secret = load_secret(graded["root"] / "grading-secret")
    cases = grading_cases(assignment, secret)
    texts = set()
    for name, test in graded_tests(assignment).items():
        if test.judge is not None or test.reveal_hidden:
            continue
        for case in cases[name]:
            if case.hidden:
                for value in test.expected(*test.arguments(case)).values():
                    numbers = (f"{v:.6g}" for v in np.asarray(value, float).ravel())
                    # Only numbers specific enough to tell a leak (not 0 or 1.5).
                    texts |= {f"expected {n}" for n in numbers if len(n) >= 6}
    return texts


def test_feedback_never_shows_hidden_values_or_the_secret(graded):
    pages = list((graded["root"] / "feedback").rglob("*.html"))
    assert len(pages) >= len(graded["submissions"]), graded["feedback"].stderr
    secret = (graded["root"] / "grading-secret").read_text().strip()
    hidden = hidden_expected_values(graded)
    assert hidden, "the exercise should have hidden cases"
    for page in pages:
        html = page.read_text()
        assert secret not in html, page
        leaked = [text for text in hidden if text in html]
        assert not leaked, (page, leaked[:3])


def test_regrading_gives_the_same_grades(graded):
    # The hidden cases come from the course's secret, kept in the grading folder.
    student = "solution"
    again = nbgrader(
        graded["root"], "autograde", graded["cases"].ASSIGNMENT, "--force", f"--student={student}"
    )
    assert again.returncode == 0, again.stderr[-2000:]
    assert auto_scores(graded["root"], graded["cases"].ASSIGNMENT) == graded["scores"]


def test_feedback_tells_the_student_what_is_wrong(graded):
    for student, _, words in graded["cases"].EXPLAINED:
        html = notebook_path(graded, "feedback", student, ".html").read_text()
        assert html_escape(words) in html, (student, words)


def test_parallel_grading_gives_serial_nbgraders_scores(graded):
    """The same submissions and secret in a fresh course, graded two at a time by
    ``python -m lstmlib.grading autograde``: every cell's score equals nbgrader's."""
    assignment = graded["cases"].ASSIGNMENT
    parallel_root, returncode, output = graded["parallel"]
    assert returncode == 1, output[-3000:]  # the unreadable file, as nbgrader exits
    assert "corrupt_file" in output, output[-3000:]
    serial = scores(sqlite_url(graded["root"]), assignment)
    parallel = scores(sqlite_url(parallel_root), assignment)
    assert parallel == serial, {
        s: (parallel.get(s), v) for s, v in serial.items() if parallel.get(s) != v
    }
