"""Checks for the exercises: clear messages, and answers that are really the student's.

A failed check raises ``GradingError``, an ``AssertionError`` whose message says
which output is wrong and how: its shape, or the worst entry (and, where the
case is not hidden, the expected value there). The student's functions are
called through ``run_answer``, which turns a ``NotImplementedError`` or a crash
into such a message and refuses answers that call the course's own reference
implementation (``lstmlib.scratch``, ``lstmlib.nn``, the language model's modules).

These checks run in two places: in the student's kernel, on the visible example
of each test, for quick feedback while they work; and in the judge
(``lstmlib.grading.judge``), outside the kernel, where the grade is decided.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

import numpy as np

# Bound at import, before any student code runs: a later `np.abs = ...` changes nothing here.
_asarray = np.asarray
_abs = np.abs
_isfinite = np.isfinite
_argmax = np.argmax
_unravel_index = np.unravel_index
_float64 = np.float64

_LSTMLIB = Path(__file__).resolve().parent.parent
# The reference implementations an answer must not call: NumPy and PyTorch alike, and the
# word language model's (its perplexity and sampling are exercise 08's answers).
_REFERENCE_DIRS = (
    str(_LSTMLIB / "scratch"),
    str(_LSTMLIB / "nn"),
    str(_LSTMLIB / "language_model.py"),
    str(_LSTMLIB / "sampling.py"),
)
_GRADING_DIR = str(_LSTMLIB / "grading")


class GradingError(AssertionError):
    """A test found a mistake; the message explains it to the student."""


def is_grading() -> bool:
    """True while nbgrader runs the notebook (autograde or validate).

    Exercises use it to skip or shorten expensive cells (plots, training) that
    earn no points, so that a submission grades in seconds.
    """
    return bool(os.environ.get("NBGRADER_EXECUTION"))


def check_array(name, got, expected, *, rtol=1e-6, atol=1e-8, hint="", reveal=True):
    """Check that ``got`` is an array equal to ``expected`` within tolerances.

    Args:
        name: how the message calls this output, e.g. ``"h"`` or ``"dWx"``.
        got: the student's value.
        expected: the reference value (an array).
        rtol, atol: an entry passes if ``|got - expected| <= atol + rtol * |expected|``.
        hint: a sentence added to the message when values are wrong (e.g. a
            common mistake that produces this error).
        reveal: whether the message may quote the expected value (not for hidden cases).
    """
    expected = _asarray(expected, dtype=_float64)
    if not hasattr(got, "shape"):
        raise GradingError(
            f"{name} should be a NumPy array of shape {expected.shape}, got a {type(got).__name__}."
        )
    if tuple(got.shape) != expected.shape:
        raise GradingError(f"{name} has shape {tuple(got.shape)}, expected {expected.shape}.")
    try:
        got = _asarray(got, dtype=_float64)
    except (TypeError, ValueError) as error:
        raise GradingError(f"{name} does not hold numbers: {error}") from None
    if not _isfinite(got).all():
        raise GradingError(f"{name} contains NaN or infinite values.")
    excess = _abs(got - expected) - (atol + rtol * _abs(expected))
    bad = excess > 0
    if bad.any():
        worst = tuple(int(i) for i in _unravel_index(_argmax(excess), expected.shape))
        message = (
            f"{name} has wrong values: {int(bad.sum())} of {expected.size} entries are off. "
            f"The worst is {name}{list(worst)}: got {got[worst]:.6g}"
        )
        message += f", expected {expected[worst]:.6g}." if reveal else "."
        raise GradingError(f"{message} {hint}".strip())


def check_tuple(name, result, length, description):
    """Check that a function returned a tuple of ``length`` items, e.g. ``(h, cache)``."""
    if not isinstance(result, tuple) or len(result) != length:
        got = f"a tuple of {len(result)}" if isinstance(result, tuple) else type(result).__name__
        raise GradingError(f"{name} must return a tuple {description}; it returned {got}.")
    return result


def _calls_reference(frame) -> bool:
    """Is ``frame`` a reference function called from outside lstmlib?"""
    if not frame.f_code.co_filename.startswith(_REFERENCE_DIRS):
        return False
    caller = frame.f_back
    caller_file = caller.f_code.co_filename if caller is not None else ""
    # Reference functions calling each other, or the checks' own stand-ins, are fine.
    return not caller_file.startswith((*_REFERENCE_DIRS, _GRADING_DIR))


def _qualified_name(frame) -> str:
    """``lstmlib.scratch.rnn.rnn_step_forward`` for a frame of that function."""
    module = Path(frame.f_code.co_filename).relative_to(_LSTMLIB.parent).with_suffix("")
    return ".".join(module.parts) + "." + frame.f_code.co_name


def run_answer(function, *args, reference_allowed=False, **kwargs):
    """Call a student's ``function`` and return its result.

    Raises ``GradingError`` (with the function's name) if it is not implemented
    yet, if it raises, or if it calls a reference function (``_REFERENCE_DIRS``):
    the reference implementation is what the answer is compared with, so an
    answer that calls it earns nothing. With ``reference_allowed`` (a part that asks
    the student to *use* the library, such as training a model) that check is off.
    """
    # A module (or other callable object) is named by its class: "ConvLSTMCell.forward".
    name = getattr(function, "__name__", None) or f"{type(function).__name__}.forward"
    used = []

    def spy(frame, event, arg):
        if event == "call" and not used and _calls_reference(frame):
            used.append(_qualified_name(frame))

    previous = sys.getprofile()
    if not reference_allowed:
        sys.setprofile(spy)
    try:
        result = function(*args, **kwargs)
    except NotImplementedError:
        raise GradingError(
            f"{name} is not implemented yet (it still raises NotImplementedError)."
        ) from None
    except GradingError:
        raise
    except Exception as error:
        raise GradingError(f"{name} raised {type(error).__name__}: {error}") from None
    finally:
        sys.setprofile(previous)
    if used:
        raise GradingError(
            f"{name} calls {used[0]}, the course's reference implementation. "
            "This part asks for your own code, so it earns no points."
        )
    return result


def trusted(reference):
    """``reference`` wrapped so that an answer may call it (e.g. a model passed in).

    ``run_answer`` refuses calls into lstmlib from the answer's own code; a call through
    this wrapper comes from lstmlib.grading, so it is allowed.
    """

    def call_reference(*args, **kwargs):
        return reference(*args, **kwargs)

    call_reference.__name__ = reference.__name__
    return call_reference


@contextlib.contextmanager
def reference_parts(namespace: dict, **functions):
    """Temporarily replace the student's building blocks with the reference ones.

    Used to test a function that builds on earlier parts (``rnn_forward`` calls
    ``rnn_step_forward``) on its own merits: a mistake in an earlier part is
    graded once, in that part's test, not again in every part that uses it.
    """
    saved = {name: namespace.get(name) for name in functions}
    try:
        namespace.update({name: trusted(ref) for name, ref in functions.items()})
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                namespace.pop(name, None)
            else:
                namespace[name] = value
