"""The judge: decides every autograded test cell, in the grading process.

The student's kernel only computes (``lstmlib.grading.student``); the judge
draws the hidden cases from the instructor's secret, computes the expected
outputs itself with the reference code, compares, and writes each test cell's
outputs from scratch: nothing but its verdict. nbgrader's ``SaveAutoGrades``
then awards full points to a cell whose only output is "passed" and none to a
cell with an error, so nothing the student's code printed, displayed, raised or
returned in that cell can change a score.

The secret: ``LSTM_COURSE_GRADING_SECRET`` if set, else the file
``grading-secret`` in the course's grading folder (nbgrader runs in it), which is
created with a random secret the first time (with a warning) and reused, so
that re-running autograde gives the same result. Keep it private: whoever
knows it can compute the hidden cases.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from nbformat.v4 import new_output
from nbgrader import utils
from nbgrader.preprocessors import NbGraderPreprocessor

from lstmlib.grading.assignments import graded_tests
from lstmlib.grading.checks import GradingError
from lstmlib.grading.spec import MIME, Case, InvalidResults, Test, decode_results

SECRET_ENV = "LSTM_COURSE_GRADING_SECRET"
SECRET_FILE = "grading-secret"  # relative: nbgrader runs in the course's grading folder


def load_secret(path: str | os.PathLike = SECRET_FILE, log=None) -> bytes:
    """The grading secret (see the module docstring); created at ``path`` if there is none."""
    if os.environ.get(SECRET_ENV):
        return os.environ[SECRET_ENV].encode()
    path = Path(path)
    if not path.exists():
        path.write_text(secrets.token_hex(32) + "\n")
        path.chmod(0o600)
        if log is not None:
            log.warning(
                "No grading secret was set: created one in %s. Keep it private and keep it: "
                "it decides the hidden test cases (or set %s).",
                path.resolve(),
                SECRET_ENV,
            )
    return path.read_text().strip().encode()


def hidden_seed(secret: bytes, assignment: str, test: str, index: int) -> int:
    message = f"{assignment}/{test}/{index}".encode()
    return int.from_bytes(hmac.new(secret, message, hashlib.sha256).digest()[:8], "big")


def grading_cases(assignment: str, secret: bytes) -> dict[str, list[Case]]:
    """Every test of ``assignment`` with its cases: the visible ones, then the hidden ones."""
    return {
        name: test.visible_cases()
        + test.hidden_cases(lambda i, name=name: hidden_seed(secret, assignment, name, i))
        for name, test in graded_tests(assignment).items()
    }


def verdict(test: Test, cases: list[Case], outputs) -> str | None:
    """The reason ``test`` fails on the kernel's ``outputs`` (a list of cell outputs), or None."""
    documents = [
        out["data"][MIME]
        for out in outputs
        if out.get("output_type") == "display_data" and MIME in out.get("data", {})
    ]
    if not documents:
        return _no_results(outputs)
    try:
        results = decode_results(documents[-1], test.name, len(cases))
    except InvalidResults as error:
        return f"The test's results could not be read ({error}), so it earns no points."
    for case, result in zip(cases, results, strict=True):
        if isinstance(result, str):
            return f"{case.describe()}: {result}"
        try:
            test.check(case, result)
        except GradingError as error:
            return str(error)
        except Exception as error:  # the expected side failed on a legal input: a course bug
            return f"The grader could not check this case ({type(error).__name__}: {error})."
    return None


def _no_results(outputs) -> str:
    """Why a test cell produced no results, from the errors it recorded."""
    for out in outputs:
        if out.get("output_type") == "error":
            if out.get("ename") in ("CellFailed", "NotRun"):
                return out.get("evalue", "")
            text = f"{out.get('ename', 'Error')}: {out.get('evalue', '')}"[:500]
            return f"The test could not run: {text}"
    return "The test produced no results (did a cell before it change how Python runs?)."


class Judge(NbGraderPreprocessor):
    """Replace every autograded test cell's outputs with the judge's verdict."""

    def preprocess(self, nb, resources):
        notebook = resources["nbgrader"]["notebook"]
        cases = resources.get("lstm_course", {}).get("cases")
        if cases is None:  # executed without SandboxedExecute: compute the same cases
            cases = grading_cases(notebook, load_secret(log=self.log))
        tests = graded_tests(notebook)
        for cell in nb.cells:
            if cell.cell_type != "code" or not utils.is_grade(cell) or utils.is_solution(cell):
                continue
            grade_id = cell.metadata["nbgrader"]["grade_id"]
            if grade_id not in tests:
                reason = f"The course's grader has no test called {grade_id!r}."
            else:
                reason = verdict(tests[grade_id], cases[grade_id], cell.outputs)
            if reason is None:
                hidden = sum(case.hidden for case in cases[grade_id])
                text = f"Passed: the example and all {hidden} hidden cases are right.\n"
                cell.outputs = [new_output("stream", name="stdout", text=text)]
            else:
                cell.outputs = [
                    new_output("error", ename="GradingError", evalue=reason, traceback=[reason])
                ]
        return nb, resources
