"""What a graded test is, and how its results travel from the kernel to the judge.

A ``Test`` describes one graded test cell: the student's function it calls, the
cases it is tried on (visible ones with a public seed, hidden ones whose seeds
the judge draws from the instructor's secret), how to call the function and name
its outputs (``run``, executed in the student's kernel), and the outputs it
should have produced (``expected``, computed only by the judge, outside the
kernel).

While a notebook is graded, the kernel runs ``run`` on every case and displays
the outputs as one JSON document of MIME type ``MIME``; the judge reads that
document from the cell's outputs, checks it strictly (``decode_results``), and
compares it with what it computed itself. Nothing else the kernel prints or
raises counts: a kernel that lies can only send outputs, and outputs earn points
only if they are right.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from lstmlib.grading.checks import GradingError, check_array

MIME = "application/vnd.lstm-course.results+json"
# The kernel's environment variable that lists the cases to compute (seeds and parameters).
CASES_ENV = "LSTM_COURSE_GRADING_CASES"

# Bounds on what a kernel may send for one test: anything larger is refused unread.
MAX_CASES = 64
MAX_OUTPUTS = 64
MAX_VALUES = 2_000_000
MAX_MESSAGE = 2_000


@dataclass(frozen=True)
class Case:
    """One input to a test: ``params`` (shapes, public) and the ``seed`` its data comes from."""

    seed: int
    params: dict
    hidden: bool
    index: int  # 1-based, among the hidden or the visible cases
    of: int

    def describe(self) -> str:
        shapes = ", ".join(f"{k}={v}" for k, v in self.params.items())
        if not self.hidden:
            return f"On the example ({shapes})" if shapes else "On the example"
        where = f"On hidden case {self.index} of {self.of}"
        return f"{where} ({shapes})" if shapes else where

    def to_json(self) -> dict:
        return {"seed": self.seed, "params": self.params, "hidden": self.hidden}


@dataclass(frozen=True)
class Test:
    """One graded test cell.

    Attributes:
        name: the test cell's nbgrader id, e.g. ``"test_rnn_step_forward"``.
        answer: the name of the student's function or class it tests (or a tuple of
            names, for a test of several: ``run`` then gets the tuple of them).
        inputs: ``inputs(rng, **params)`` returns the tuple of arguments for ``run``
            and ``expected``; ``rng`` is a NumPy Generator seeded with the case's seed.
        run: ``run(answer, *arguments)`` calls the student's ``answer`` and returns its
            outputs as ``{name: array}``. It runs in the student's kernel; it raises
            ``GradingError`` for results of the wrong kind (a tuple too short, ...).
        expected: ``expected(*arguments)`` returns the right outputs, ``{name: array}``.
            Only the judge calls it.
        visible: parameters of the cases shown to the student, each with its ``seed``.
        hidden: parameters of the hidden cases; their seeds come from the grading secret.
        standins: names of earlier parts replaced by their reference versions while
            ``run`` runs, so that a mistake is graded once, in its own part.
        references: names of further reference functions ``run`` calls (to make a
            cache, say); with ``standins``, the only ones the kernel may call in this
            test (``lstmlib.grading.oracle``).
        judge: if given, ``judge(outputs, *arguments)`` decides instead of comparing
            with ``expected`` (e.g. accuracy above a threshold); it raises ``GradingError``.
        hints: a sentence per output name, added when that output is wrong.
        reveal_hidden: whether messages about hidden cases may quote expected values.
        reference_allowed: the part asks the student to use lstmlib (e.g. to train).
    """

    name: str
    answer: str | tuple[str, ...]
    inputs: Callable
    run: Callable
    visible: tuple[dict, ...]
    hidden: tuple[dict, ...]
    expected: Callable | None = None
    standins: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    judge: Callable | None = None
    hints: dict = field(default_factory=dict)
    rtol: float = 1e-6
    atol: float = 1e-8
    reveal_hidden: bool = False
    reference_allowed: bool = False

    def visible_cases(self) -> list[Case]:
        n = len(self.visible)
        return [
            Case(p["seed"], {k: v for k, v in p.items() if k != "seed"}, False, i + 1, n)
            for i, p in enumerate(self.visible)
        ]

    def hidden_cases(self, seed_of: Callable[[int], int]) -> list[Case]:
        n = len(self.hidden)
        return [Case(seed_of(i), dict(p), True, i + 1, n) for i, p in enumerate(self.hidden)]

    def arguments(self, case: Case) -> tuple:
        return self.inputs(np.random.default_rng(case.seed), **case.params)

    def check(self, case: Case, outputs: dict) -> None:
        """Raise ``GradingError`` (saying what is wrong) unless ``outputs`` are right."""
        arguments = self.arguments(case)
        reveal = self.reveal_hidden or not case.hidden
        try:
            if self.judge is not None:
                self.judge(outputs, *arguments)
                return
            for name, expected in self.expected(*arguments).items():
                if name not in outputs:
                    raise GradingError(f"{name} was not returned.")
                check_array(
                    name,
                    outputs[name],
                    expected,
                    rtol=self.rtol,
                    atol=self.atol,
                    hint=self.hints.get(name, ""),
                    reveal=reveal,
                )
        except GradingError as error:
            raise GradingError(f"{case.describe()}: {error}") from None


def judge_only(module: str, function: str) -> Callable:
    """``function`` of ``lstmlib.grading.assignments.<module>``, imported when first called.

    For ``expected`` functions whose module the grading sandbox hides (an exercise's
    ``JUDGE_ONLY``): the kernel never calls them, and cannot import them.
    """

    def call(*args):
        from importlib import import_module

        found = import_module(f"lstmlib.grading.assignments.{module}")
        return getattr(found, function)(*args)

    call.__name__ = function
    return call


# --- The kernel's side: outputs to JSON ------------------------------------------


def encode_outputs(outputs) -> dict:
    """``{name: array-like}`` as JSON: ``{name: {"shape": [...], "values": [...]}}``.

    Raises ``GradingError`` for outputs that are not finite numbers.
    """
    if not isinstance(outputs, dict):
        raise GradingError("the test's run() must return a dict of outputs")
    encoded = {}
    for name, value in outputs.items():
        if hasattr(value, "detach"):  # a torch tensor
            value = value.detach().cpu().numpy()
        try:
            array = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            raise GradingError(
                f"{name} should be an array of numbers, got a {type(value).__name__}."
            ) from None
        if not np.isfinite(array).all():
            raise GradingError(f"{name} contains NaN or infinite values.")
        encoded[str(name)] = {"shape": list(array.shape), "values": array.ravel().tolist()}
    return encoded


# --- The judge's side: JSON from an untrusted kernel back to arrays -----------------


class InvalidResults(ValueError):
    """The kernel's results are not what ``encode_outputs`` writes."""


def _decode_array(item) -> np.ndarray:
    if not isinstance(item, dict) or set(item) != {"shape", "values"}:
        raise InvalidResults("an output is not {shape, values}")
    shape, values = item["shape"], item["values"]
    if not isinstance(shape, list) or len(shape) > 8:
        raise InvalidResults("bad shape")
    if not all(isinstance(n, int) and not isinstance(n, bool) and 0 <= n for n in shape):
        raise InvalidResults("bad shape")
    if not isinstance(values, list) or len(values) != math.prod(shape):
        raise InvalidResults("shape and values disagree")
    if len(values) > MAX_VALUES:
        raise InvalidResults("too many values")
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise InvalidResults("a value is not a number")
    array = np.array(values, dtype=np.float64).reshape(shape)
    if not np.isfinite(array).all():
        raise InvalidResults("a value is not finite")
    return array


def decode_results(document, test_name: str, n_cases: int) -> list:
    """Per case, ``{name: array}`` or the kernel's error message (a ``str``).

    Raises ``InvalidResults`` for anything else: the judge then fails the test.
    """
    if not isinstance(document, dict) or document.get("test") != test_name:
        raise InvalidResults("not this test's results")
    cases = document.get("cases")
    if not isinstance(cases, list) or len(cases) != n_cases or n_cases > MAX_CASES:
        raise InvalidResults("wrong number of cases")
    decoded = []
    for case in cases:
        if isinstance(case, dict) and set(case) == {"error"} and isinstance(case["error"], str):
            message = case["error"]
            if len(message) > MAX_MESSAGE:
                message = message[:MAX_MESSAGE] + " [...]"
            decoded.append(message)
        elif isinstance(case, dict) and set(case) == {"outputs"}:
            outputs = case["outputs"]
            if not isinstance(outputs, dict) or len(outputs) > MAX_OUTPUTS:
                raise InvalidResults("bad outputs")
            decoded.append({str(k): _decode_array(v) for k, v in outputs.items()})
        else:
            raise InvalidResults("a case is neither outputs nor an error")
    return decoded
