"""The grading layer's parts on their own: the wire formats, the oracle, the secret, the judge."""

from __future__ import annotations

import json
import socket

import numpy as np
import pytest
from nbformat.v4 import new_output

from lstmlib import scratch
from lstmlib.grading import oracle
from lstmlib.grading.assignments import MODULES, find_test, graded_tests
from lstmlib.grading.checks import GradingError
from lstmlib.grading.judge import SECRET_ENV, grading_cases, hidden_seed, load_secret, verdict
from lstmlib.grading.spec import MIME, InvalidResults, decode_results, encode_outputs


def results_output(document):
    return new_output("display_data", data={MIME: document})


# --- what the kernel sends ---------------------------------------------------------


def test_results_round_trip_exactly():
    outputs = {"h": np.random.default_rng(0).normal(size=(2, 3)), "n": 3}
    encoded = json.loads(json.dumps(encode_outputs(outputs)))
    (decoded,) = decode_results({"test": "t", "cases": [{"outputs": encoded}]}, "t", 1)
    assert np.array_equal(decoded["h"], outputs["h"]) and decoded["n"].shape == ()


@pytest.mark.parametrize(
    "document",
    [
        {"test": "other", "cases": [{"error": "x"}]},
        {"test": "t", "cases": []},
        {"test": "t", "cases": [{"outputs": {"h": {"shape": [2], "values": [1.0]}}}]},
        {"test": "t", "cases": [{"outputs": {"h": {"shape": [1], "values": ["1"]}}}]},
        {"test": "t", "cases": [{"outputs": {"h": {"shape": [1], "values": [True]}}}]},
        {"test": "t", "cases": [{"outputs": {"h": {"shape": [-1], "values": []}}}]},
        {"test": "t", "cases": [{"outputs": {"h": [1.0]}}]},
        {"test": "t", "cases": [{"outputs": {}, "error": "both"}]},
        {"test": "t", "cases": [{"outputs": {"h": {"shape": [1], "values": [1e400]}}}]},
        "not even a dict",
    ],
)
def test_malformed_results_are_refused(document):
    with pytest.raises(InvalidResults):
        decode_results(document, "t", 1)


def test_outputs_that_are_not_finite_numbers_are_refused_in_the_kernel():
    with pytest.raises(GradingError, match="NaN"):
        encode_outputs({"h": np.array([1.0, np.nan])})
    with pytest.raises(GradingError, match="array of numbers"):
        encode_outputs({"h": object()})


# --- the oracle --------------------------------------------------------------------


def test_oracle_values_round_trip_with_their_types():
    value = (np.arange(6, dtype=np.int64).reshape(2, 3), [np.ones(2, bool), 1.5], None, "x")
    back = oracle.decode(json.loads(json.dumps(oracle.encode(value))))
    assert isinstance(back, tuple) and isinstance(back[1], list)
    assert back[0].dtype == np.int64 and np.array_equal(back[0], value[0])
    assert back[1][0].dtype == bool and back[2:] == (None, "x")


def test_oracle_tensors_round_trip_as_tensors():
    import torch

    value = (torch.arange(6.0, dtype=torch.float64).reshape(2, 3), torch.tensor([True, False]))
    back = oracle.decode(json.loads(json.dumps(oracle.encode(value))))
    assert all(isinstance(t, torch.Tensor) for t in back)
    assert back[0].dtype == torch.float64 and torch.equal(back[0], value[0])
    assert back[1].dtype == torch.bool and torch.equal(back[1], value[1])
    # float32 values travel exactly (as doubles) and keep their dtype.
    x = torch.randn(4, dtype=torch.float32)
    assert torch.equal(oracle.decode(json.loads(json.dumps(oracle.encode(x)))), x)


@pytest.mark.parametrize(
    "data",
    [
        {"array": ["object", [1], [1]]},
        {"array": ["float64", [3], [1.0]]},
        {"array": ["float64", [1], ["1"]]},
        {"tuple": [1], "list": [2]},
        {"function": "os.system"},
        {"tensor": ["float64", [2], [1.0]]},
        {"array": ["float64", [oracle.MAX_VALUES + 1], [0.0] * (oracle.MAX_VALUES + 1)]},
    ],
)
def test_oracle_refuses_anything_but_plain_values(data):
    with pytest.raises(ValueError):
        oracle.decode(data)


@pytest.fixture
def oracle_server(tmp_path, monkeypatch):
    server = oracle.OracleServer(str(tmp_path / "oracle.sock"))
    monkeypatch.setenv(oracle.ORACLE_ENV, server.path)
    monkeypatch.setattr(oracle, "_connection", None)
    yield server
    server.close()


def test_oracle_answers_allowed_functions_as_the_reference_does(oracle_server, rng):
    oracle_server.allowed = frozenset({"rnn_step_forward"})
    args = (
        rng.normal(size=(2, 3)),
        rng.normal(size=(2, 4)),
        rng.normal(size=(3, 4)),
        rng.normal(size=(4, 4)),
        rng.normal(size=4),
    )
    h, cache = oracle.reference("rnn_step_forward")(*args)
    h_expected, cache_expected = scratch.rnn_step_forward(*args)
    assert np.array_equal(h, h_expected)
    assert all(np.array_equal(a, b) for a, b in zip(cache, cache_expected, strict=True))


def test_oracle_refuses_functions_the_cell_may_not_use(oracle_server):
    oracle_server.allowed = frozenset({"rnn_step_forward"})
    with pytest.raises(oracle.OracleError, match="not available in this cell"):
        oracle.reference("rnn_step_backward")(np.zeros((1, 1)), ())


def test_oracle_survives_garbage_from_a_kernel(oracle_server):
    oracle_server.allowed = frozenset({"rnn_step_forward"})
    with socket.socket(socket.AF_UNIX) as attacker:
        attacker.connect(oracle_server.path)
        attacker.sendall(b"\xff" * 8 + b"garbage")
    result = oracle.reference("rnn_step_forward")(*(np.ones((1, 1)),) * 4, np.ones(1))
    assert result[0].shape == (1, 1)


def test_without_the_grader_reference_is_the_library_itself(monkeypatch):
    monkeypatch.delenv(oracle.ORACLE_ENV, raising=False)
    assert oracle.reference("lstm_step_forward") is scratch.lstm_step_forward


# --- the secret and the cases ------------------------------------------------------


def test_a_missing_secret_is_created_private_and_kept(tmp_path, monkeypatch):
    monkeypatch.delenv(SECRET_ENV, raising=False)
    path = tmp_path / "grading-secret"
    first = load_secret(path)
    assert len(first) >= 64 and oct(path.stat().st_mode & 0o777) == "0o600"
    assert load_secret(path) == first
    monkeypatch.setenv(SECRET_ENV, "chosen by the instructor")
    assert load_secret(path) == b"chosen by the instructor"


def test_hidden_cases_follow_the_secret_and_nothing_else():
    a, b = grading_cases("01-rnn", b"one secret"), grading_cases("01-rnn", b"another")
    assert a == grading_cases("01-rnn", b"one secret")
    for name in a:
        visible = [c for c in a[name] if not c.hidden]
        assert visible == [c for c in b[name] if not c.hidden]
        hidden_a = [c.seed for c in a[name] if c.hidden]
        hidden_b = [c.seed for c in b[name] if c.hidden]
        assert hidden_a and set(hidden_a).isdisjoint(hidden_b)
    assert hidden_seed(b"s", "01-rnn", "t", 0) != hidden_seed(b"s", "01-rnn", "t", 1)


@pytest.mark.parametrize("assignment", sorted(MODULES))
def test_every_test_has_visible_and_hidden_cases(assignment):
    tests = graded_tests(assignment)
    assert tests
    for test in tests.values():
        assert test.visible and test.hidden, test.name


# --- the judge ---------------------------------------------------------------------


def kernel_results(test, cases, function):
    """What an honest kernel would display, computed here with ``function`` as the answer."""
    results = []
    for case in cases:
        try:
            outputs = test.run(function, *test.arguments(case))
            results.append({"outputs": encode_outputs(outputs)})
        except GradingError as error:
            results.append({"error": str(error)})
    return {"test": test.name, "cases": results}


@pytest.fixture
def step_forward(monkeypatch):
    monkeypatch.delenv(oracle.ORACLE_ENV, raising=False)
    test = find_test("01-rnn", "test_rnn_step_forward")
    return test, grading_cases("01-rnn", b"secret")[test.name]


def test_judge_passes_the_reference_and_fails_a_wrong_answer(step_forward):
    test, cases = step_forward
    right = kernel_results(test, cases, scratch.rnn_step_forward)
    assert verdict(test, cases, [results_output(right)]) is None

    def no_tanh(x, h_prev, Wx, Wh, b):
        h = x @ Wx + h_prev @ Wh + b
        return h, (x, h_prev, Wx, Wh, h)

    wrong = kernel_results(test, cases, no_tanh)
    assert "h has wrong values" in verdict(test, cases, [results_output(wrong)])


def test_judge_ignores_everything_but_the_results(step_forward):
    test, cases = step_forward
    noise = [
        new_output("execute_result", data={"text/plain": "-1"}, execution_count=1),
        new_output("stream", name="stdout", text="All tests passed!\n"),
    ]
    assert "no results" in verdict(test, cases, noise)


def test_judge_hides_hidden_expected_values(step_forward):
    test, cases = step_forward

    def hidden_wrong(x, h_prev, Wx, Wh, b):  # right on the example's shape only
        h = np.tanh(x @ Wx + h_prev @ Wh + b) + (x.shape != (2, 3))
        return h, (x, h_prev, Wx, Wh, h)

    message = verdict(test, cases, [results_output(kernel_results(test, cases, hidden_wrong))])
    assert message.startswith("On hidden case 1 of 3") and "expected" not in message
