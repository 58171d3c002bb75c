"""Fixtures shared by the test suite: seeded randomness, RNN problems, devices."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pytest
import torch

CUDA = torch.cuda.is_available()

# The two longest files, first. `make test` runs the files on one pytest-xdist worker per
# core, handing out whole files in this order, two to each worker at the start: these two
# then start at once on different workers, and the short files fill in around them.
LONGEST_FIRST = ("test_exercises.py", "test_book.py")


def pytest_collection_modifyitems(items):
    def rank(item):
        name = item.path.name
        return LONGEST_FIRST.index(name) if name in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)  # stable: the order within and among the other files stays


@pytest.fixture
def rng():
    """A seeded NumPy Generator: every test sees the same numbers on every run."""
    return np.random.default_rng(1234)


class RNNProblem(NamedTuple):
    """float64 inputs and parameters of the NumPy RNN (``lstmlib.scratch.rnn``)."""

    x: np.ndarray  # (T, B, I)
    h0: np.ndarray  # (B, H)
    Wx: np.ndarray  # (I, H)
    Wh: np.ndarray  # (H, H)
    b: np.ndarray  # (H,)


@pytest.fixture
def make_rnn_problem(rng):
    """Factory: ``make_rnn_problem(T, B, I, H)`` gives a random float64 ``RNNProblem``.

    The scales keep the pre-activations of order one, so tanh is neither linear
    nor saturated and a wrong derivative shows up in the gradient checks.
    """

    def make(T=4, B=3, I=5, H=6):
        return RNNProblem(
            x=rng.normal(size=(T, B, I)),
            h0=rng.normal(scale=0.5, size=(B, H)),
            Wx=rng.normal(scale=1 / np.sqrt(I), size=(I, H)),
            Wh=rng.normal(scale=1 / np.sqrt(H), size=(H, H)),
            b=rng.normal(scale=0.5, size=H),
        )

    return make


class LSTMProblem(NamedTuple):
    """float64 inputs and parameters of the NumPy LSTM (``lstmlib.scratch.lstm``)."""

    x: np.ndarray  # (T, B, I)
    h0: np.ndarray  # (B, H)
    c0: np.ndarray  # (B, H)
    Wx: np.ndarray  # (I, 4H), gate blocks i, f, g, o
    Wh: np.ndarray  # (H, 4H)
    b: np.ndarray  # (4H,)


@pytest.fixture
def make_lstm_problem(rng):
    """Factory: ``make_lstm_problem(T, B, I, H)`` gives a random float64 ``LSTMProblem``.

    As for the RNN, the scales keep the gates' pre-activations of order one, so
    sigmoid and tanh are neither linear nor saturated.
    """

    def make(T=4, B=3, I=5, H=6):
        return LSTMProblem(
            x=rng.normal(size=(T, B, I)),
            h0=rng.normal(scale=0.5, size=(B, H)),
            c0=rng.normal(scale=0.5, size=(B, H)),
            Wx=rng.normal(scale=1 / np.sqrt(I), size=(I, 4 * H)),
            Wh=rng.normal(scale=1 / np.sqrt(H), size=(H, 4 * H)),
            b=rng.normal(scale=0.5, size=4 * H),
        )

    return make


class GRUProblem(NamedTuple):
    """float64 inputs and parameters of the NumPy GRU (``lstmlib.scratch.gru``)."""

    x: np.ndarray  # (T, B, I)
    h0: np.ndarray  # (B, H)
    Wx: np.ndarray  # (I, 3H), gate blocks r, z, n
    Wh: np.ndarray  # (H, 3H)
    bx: np.ndarray  # (3H,)
    bh: np.ndarray  # (3H,)


@pytest.fixture
def make_gru_problem(rng):
    """Factory: ``make_gru_problem(T, B, I, H)`` gives a random float64 ``GRUProblem``.

    As for the LSTM, the scales keep the gates' pre-activations of order one. Both
    biases are non-zero: the reset gate multiplies ``bh``'s n block but not ``bx``'s,
    so a GRU that merged them would show up.
    """

    def make(T=4, B=3, I=5, H=6):
        return GRUProblem(
            x=rng.normal(size=(T, B, I)),
            h0=rng.normal(scale=0.5, size=(B, H)),
            Wx=rng.normal(scale=1 / np.sqrt(I), size=(I, 3 * H)),
            Wh=rng.normal(scale=1 / np.sqrt(H), size=(H, 3 * H)),
            bx=rng.normal(scale=0.5, size=3 * H),
            bh=rng.normal(scale=0.5, size=3 * H),
        )

    return make


@pytest.fixture(
    params=[
        "cpu",
        pytest.param(
            "cuda", marks=pytest.mark.skipif(not CUDA, reason="torch.cuda.is_available() is False")
        ),
    ]
)
def device(request):
    """Every device to run PyTorch code on: "cpu", and "cuda" when there is a GPU."""
    return torch.device(request.param)


@pytest.fixture(scope="session")
def serial_02_scores(tmp_path_factory):
    """Exercise 02's corpus graded by stock, serial ``nbgrader autograde``, per student and
    cell: the oracle of the parallel, PostgreSQL and Dask grading tests."""
    import cases_02_lstm_forward as cases
    from parallel_harness import make_course, scores, serial_autograde, sqlite_url, totals

    root = tmp_path_factory.mktemp("serial-02")
    expected = make_course(root, cases)
    result = serial_autograde(root, cases.ASSIGNMENT)
    assert "corrupt_file" in result.stdout + result.stderr
    graded = scores(sqlite_url(root), cases.ASSIGNMENT)
    assert {s: totals(graded)[s] for s in expected} == expected  # nbgrader grades it right
    return graded
