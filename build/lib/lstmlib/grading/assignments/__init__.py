"""The graded tests of every exercise, one module per exercise.

Each module lists its ``Test`` objects (``lstmlib.grading.spec``) in ``TESTS``; a
test cell names its exercise and test, and ``find_test`` finds it. The modules are
public, as the whole course is: what keeps the graded answers from being
precomputed is the judge's secret, from which the hidden cases' seeds are drawn.
"""

from __future__ import annotations

import importlib

from lstmlib.grading.spec import Test

MODULES = {
    "01-rnn": "rnn",
    "02-lstm-forward": "lstm_forward",
    "03-lstm-backward": "lstm_backward",
    "04-gru": "gru",
    "05-bilstm": "bilstm",
    "06-convlstm": "convlstm",
    "07-forecasting": "forecasting",
    "08-language-model": "language_model",
    "09-attention": "attention",
    "10-ctc": "ctc",
}


def _module(assignment: str):
    if assignment not in MODULES:
        return None
    return importlib.import_module(f"{__name__}.{MODULES[assignment]}")


def graded_tests(assignment: str) -> dict[str, Test]:
    """The tests of ``assignment`` (e.g. ``"01-rnn"``) by test cell id; empty if unknown."""
    module = _module(assignment)
    return {test.name: test for test in module.TESTS} if module else {}


def given_of(assignment: str) -> tuple[str, ...]:
    """Reference functions the exercise gives its students (served in every cell)."""
    return getattr(_module(assignment), "GIVEN", ())


def judge_only_of(assignment: str) -> tuple[str, ...]:
    """Modules of this package that only the judge may import (the sandbox hides them)."""
    return getattr(_module(assignment), "JUDGE_ONLY", ())


def library_of(assignment: str) -> tuple[str, ...]:
    """Reference subpackages of lstmlib the students may use, e.g. ``("nn",)``."""
    return getattr(_module(assignment), "LIBRARY", ())


def withheld_of(assignment: str) -> tuple[str, ...]:
    """Installed packages the exercise's grading kernel goes without, e.g. ``("torch",)``.

    For an exercise whose answer such a package computes (torch's CTC loss, say): the
    sandbox replaces them, and in a student's own session ``run_test`` refuses a
    notebook that imported them, so that the check there agrees with the grade.
    """
    return getattr(_module(assignment), "WITHHELD", ())


def find_test(assignment: str, name: str) -> Test:
    tests = graded_tests(assignment)
    if name not in tests:
        raise KeyError(f"{assignment} has no graded test {name!r}")
    return tests[name]
