"""``check_shape`` and ``check_float``: what passes, and what the errors say."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lstmlib.shapes import ShapeError, check_float, check_labels, check_shape


def test_symbols_bind_and_are_returned():
    sizes = check_shape("x", np.zeros((4, 3, 5)), ("T", "B", "I"))
    assert sizes == {"T": 4, "B": 3, "I": 5}


def test_symbols_thread_through_arguments():
    sizes = {}
    check_shape("x", np.zeros((4, 3, 5)), ("T", "B", "I"), sizes)
    check_shape("h0", np.zeros((3, 6)), ("B", "H"), sizes)  # B agrees, H is new
    assert sizes == {"T": 4, "B": 3, "I": 5, "H": 6}


def test_symbol_mismatch_names_argument_expected_and_received():
    sizes = check_shape("x", np.zeros((4, 3, 5)), ("T", "B", "I"))
    with pytest.raises(ShapeError) as err:
        check_shape("h0", np.zeros((2, 6)), ("B", "H"), sizes)
    message = str(err.value)
    assert message.startswith("h0 must have shape (B=3, H), got (2, 6)")
    assert "B is 3" in message and "here 2" in message


def test_failed_check_binds_nothing():
    sizes = {"B": 3}
    with pytest.raises(ShapeError):
        check_shape("h0", np.zeros((2, 6)), ("H", "B"), sizes)
    assert sizes == {"B": 3}  # H was not bound by the failed check


def test_symbol_repeated_within_one_argument():
    assert check_shape("Wh", np.zeros((6, 6)), ("H", "H")) == {"H": 6}
    with pytest.raises(ShapeError, match=r"Wh must have shape \(H=6, H=6\), got \(6, 5\)"):
        check_shape("Wh", np.zeros((6, 5)), ("H", "H"))


def test_integer_and_wildcard_dimensions():
    check_shape("b", np.zeros((7, 2)), (None, 2))
    with pytest.raises(ShapeError, match=r"b must have shape \(\*, 3\), got \(7, 2\)"):
        check_shape("b", np.zeros((7, 2)), (None, 3))


def test_wrong_number_of_dimensions():
    with pytest.raises(
        ShapeError, match=r"x must have 3 dimensions \(T, B=2, I\), got shape \(4, 2\)"
    ):
        check_shape("x", np.zeros((4, 2)), ("T", "B", "I"), {"B": 2})


def test_shape_error_is_a_value_error():
    assert issubclass(ShapeError, ValueError)


def test_works_on_torch_tensors():
    assert check_shape("x", torch.zeros(2, 3), ("B", "I")) == {"B": 2, "I": 3}
    with pytest.raises(ShapeError, match=r"x must have shape \(B=2, 4\), got \(2, 3\)"):
        check_shape("x", torch.zeros(2, 3), ("B", 4))


def test_non_arrays_are_rejected():
    with pytest.raises(TypeError, match="x must be an array or tensor, got list"):
        check_shape("x", [[1.0, 2.0]], ("B", "I"))


@pytest.mark.parametrize(
    "value",
    [
        np.zeros(2),
        np.zeros(2, dtype=np.float32),
        torch.zeros(2),
        torch.zeros(2, dtype=torch.float64),
    ],
)
def test_check_float_accepts_floats(value):
    check_float("x", value)


@pytest.mark.parametrize(
    "value, dtype",
    [
        (np.zeros(2, dtype=np.int64), "int64"),
        (np.zeros(2, dtype=bool), "bool"),
        (np.zeros(2, dtype=complex), "complex128"),
        (torch.zeros(2, dtype=torch.int32), "torch.int32"),
    ],
)
def test_check_float_rejects_others_naming_the_dtype(value, dtype):
    with pytest.raises(TypeError, match=f"w must be a floating-point array, got dtype {dtype}"):
        check_float("w", value)


def test_check_labels_names_the_expected_shape():
    labels = check_labels([1, 0, 2], 3)
    assert labels.tolist() == [1, 0, 2] and str(labels.dtype) == "torch.int64"
    with pytest.raises(ShapeError, match=r"\(N,\) with N=4 \(one per sentence\), got \(3,\)"):
        check_labels([1, 0, 2], 4, "sentence")
