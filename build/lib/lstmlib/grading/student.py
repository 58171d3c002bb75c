"""The test cells' side of grading: what runs in the student's kernel.

Every test cell of the exercises is one call::

    from lstmlib.grading.student import run_test
    run_test("01-rnn", "test_rnn_step_forward", globals())

While a student works, it checks their answer on the test's visible example,
right there in their kernel, and raises ``GradingError`` saying what is wrong.

While nbgrader grades the notebook, the grader lists the cases to compute in
the kernel's environment (``spec.CASES_ENV``: seeds and shapes, visible and
hidden). ``run_test`` then only computes: it runs the student's function on
every case and displays the outputs as one JSON document; it judges nothing.
The judge, in the grading process, compares them with values it computes itself.
"""

from __future__ import annotations

import json
import os
import sys

from IPython.display import display

from lstmlib.grading.assignments import find_test, withheld_of
from lstmlib.grading.checks import GradingError, reference_parts, run_answer
from lstmlib.grading.oracle import reference
from lstmlib.grading.spec import CASES_ENV, MIME, Case, Test, decode_results, encode_outputs


def _answer(test: Test, name: str, namespace: dict):
    if name not in namespace:
        raise GradingError(f"{name} is not defined: run the cell that defines it first.")
    function = namespace[name]

    def call(*args, **kwargs):
        return run_answer(function, *args, reference_allowed=test.reference_allowed, **kwargs)

    call.__name__ = name
    call.__wrapped__ = function
    return call


def _answers(test: Test, namespace: dict):
    """The student's answer (or, for a test of several, the tuple of them), made callable."""
    if isinstance(test.answer, str):
        return _answer(test, test.answer, namespace)
    return tuple(_answer(test, name, namespace) for name in test.answer)


def compute(test: Test, case: Case, namespace: dict) -> dict:
    """The student's outputs on one case, as JSON (or the message saying why there are none)."""
    try:
        arguments = test.arguments(case)
        standins = {name: reference(name) for name in test.standins}
        with reference_parts(namespace, **standins):
            outputs = test.run(_answers(test, namespace), *arguments)
        return {"outputs": encode_outputs(outputs)}
    except GradingError as error:
        return {"error": str(error)}
    except Exception as error:  # a student's object that fails in an unexpected way
        return {"error": f"{type(error).__name__}: {error}"}


def _graded_cases(test_name: str):
    listed = os.environ.get(CASES_ENV)
    if listed is None:
        return None
    cases = json.loads(listed).get(test_name, [])
    return [
        Case(c["seed"], c["params"], c["hidden"], i + 1, len(cases)) for i, c in enumerate(cases)
    ]


def _refuse_withheld(assignment: str) -> None:
    """In a student's session: fail as grading will, if the notebook uses a withheld package."""
    imported = [name for name in withheld_of(assignment) if name in sys.modules]
    if imported:
        raise GradingError(
            f"This notebook has imported {imported[0]}, which the grader does not have for "
            f"this exercise ({', '.join(withheld_of(assignment))}): an answer that needs it "
            "fails when graded. Write it with NumPy, remove the import, and restart the kernel."
        )


def run_test(assignment: str, test_name: str, namespace: dict) -> None:
    """Check (while working) or compute for the judge (while graded) one test cell."""
    test = find_test(assignment, test_name)
    cases = _graded_cases(test_name)
    if cases is None:  # the student's own session: check the visible example here
        _refuse_withheld(assignment)
        for case in test.visible_cases():
            result = compute(test, case, namespace)
            if "error" in result:
                raise GradingError(f"{case.describe()}: {result['error']}")
            (outputs,) = decode_results({"test": test_name, "cases": [result]}, test_name, 1)
            test.check(case, outputs)
        return
    results = [compute(test, case, namespace) for case in cases]
    display({MIME: {"test": test_name, "cases": results}}, raw=True)
