"""Exercise 10's graded cases: what they are built to catch, checked against torch."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from lstmlib.ctc import collapse, ctc_forward, ctc_loss
from lstmlib.grading.assignments import ctc as exercise
from lstmlib.grading.assignments import find_test, withheld_of
from lstmlib.grading.checks import GradingError
from lstmlib.grading.judge import grading_cases
from lstmlib.grading.student import run_test

SECRETS = [f"secret {i}".encode() for i in range(20)]


def cases_of(test_name, secrets=SECRETS):
    """Every case of the test (visible and hidden) under each secret, with its arguments."""
    test = find_test("10-ctc", test_name)
    for secret in secrets:
        for case in grading_cases("10-ctc", secret)[test_name]:
            yield case, test.arguments(case)


@pytest.mark.parametrize("test_name", ["test_ctc_loss", "test_ctc_loss_long"])
def test_the_judge_and_the_students_check_agree_with_torch(test_name, monkeypatch):
    for case, (log_probs, target) in cases_of(test_name, SECRETS[:5]):
        by_torch = exercise.torch_loss(log_probs, target)["loss"]
        assert np.isfinite(by_torch), case  # every case has alignments
        assert ctc_loss(log_probs, target) == pytest.approx(by_torch, rel=1e-10)
        monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
        assert exercise.expected_loss(log_probs, target) == {"loss": by_torch}
        monkeypatch.delenv("NBGRADER_EXECUTION")


def test_long_utterances_underflow_in_probability_space():
    for case, (log_probs, target) in cases_of("test_ctc_loss_long"):
        # The likelihood itself, as a float64: 0 (the smallest subnormal is about e^-744).
        assert np.exp(-ctc_loss(log_probs, target)) == 0.0, case


def test_long_utterances_test_the_arithmetic_alone():
    # One label, all but impossible in the first and last frames: a lattice without the
    # label's start, or a loss read on the last blank only, gives the same number.
    for case, (log_probs, target) in cases_of("test_ctc_loss_long", SECRETS[:5]):
        assert len(target) == 1
        loss = ctc_loss(log_probs, target)
        no_label_start = log_probs.copy()
        no_label_start[0, target[0]] = -np.inf
        assert ctc_loss(no_label_start, target) == pytest.approx(loss, rel=1e-12), case
        alpha = ctc_forward(log_probs, target)
        assert -alpha[-1, -1] == pytest.approx(loss, rel=1e-12), case


def test_every_collapse_case_holds_a_doubled_label():
    for case, (paths,) in cases_of("test_collapse"):
        merged_then_dropped = collapse(paths[0])
        dropped_then_merged = collapse([k for k in paths[0] if k != 0])
        assert merged_then_dropped != dropped_then_merged, case


def test_every_decoding_case_has_padding_that_would_change_a_transcript():
    for case, (log_probs, lengths) in cases_of("test_greedy_decode"):
        best = log_probs.argmax(-1)
        changed = [
            collapse(best[: lengths[b], b]) != collapse(best[:, b]) for b in range(len(lengths))
        ]
        assert any(changed), case


def test_lattice_cases_need_every_rule():
    # Some case repeats a label (the skip must be refused) and some has two different
    # neighbouring labels (the skip must be taken), in the visible example too.
    test = find_test("10-ctc", "test_ctc_forward")
    (visible,) = test.visible_cases()
    _, target = test.arguments(visible)
    neighbours = list(zip(target, target[1:], strict=False))
    assert any(a == b for a, b in neighbours) and any(a != b for a, b in neighbours)


def test_a_students_session_refuses_a_withheld_package(monkeypatch):
    assert withheld_of("10-ctc") == ("torch", "keras") and withheld_of("01-rnn") == ()
    namespace = {"collapse": collapse}
    torch = sys.modules.get("torch") or object()
    # Other tests of the same run may have imported any withheld package (keras, say).
    for name in withheld_of("10-ctc"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    run_test("10-ctc", "test_collapse", namespace)  # passes: nothing withheld is imported
    monkeypatch.setitem(sys.modules, "torch", torch)
    with pytest.raises(GradingError, match="imported torch, which the grader does not have"):
        run_test("10-ctc", "test_collapse", namespace)
