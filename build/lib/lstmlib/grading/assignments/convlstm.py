"""Exercise 06 (a ConvLSTM cell in PyTorch): its graded tests.

The layers' and the outputs' shapes follow from the public parameters; the two
value tests compare with the oracles in ``convlstm_oracles`` (``torch.nn.LSTMCell``
and ``lstmlib.nn.ConvLSTMCell``). All inputs and weights are float64 NumPy arrays
drawn from the case's seed; the kernel turns them into tensors for the student's
cell, the judge into tensors for its oracles.
"""

from __future__ import annotations

import numpy as np

from lstmlib.grading.checks import GradingError, check_tuple, run_answer
from lstmlib.grading.inputs import load_convlstm_weights
from lstmlib.grading.spec import Test, judge_only

# torch.nn.LSTMCell and lstmlib.nn compute right answers: the judge's code that calls
# them is kept out of the kernel, like the reference implementation.
JUDGE_ONLY = ("convlstm_oracles",)


def tensors(*arrays):
    """NumPy arrays as torch tensors (float64 stays float64)."""
    import torch

    return [torch.from_numpy(np.ascontiguousarray(a)) for a in arrays]


def layers_inputs(rng, C_in, C_hid, k):
    return C_in, C_hid, k


def run_layers(cell_class, C_in, C_hid, k):
    from torch import nn

    cell = cell_class(C_in, C_hid, k)
    for name in ("conv_x", "conv_h"):
        if not isinstance(getattr(cell, name, None), nn.Conv2d):
            raise GradingError(
                f"ConvLSTMCell({C_in}, {C_hid}, {k}) needs an nn.Conv2d called {name}."
            )
    return {
        "conv_x.weight.shape": list(cell.conv_x.weight.shape),
        "conv_h.weight.shape": list(cell.conv_h.weight.shape),
        "conv_x has a bias (1) or not (0)": float(cell.conv_x.bias is not None),
        "conv_h has a bias (1) or not (0)": float(cell.conv_h.bias is not None),
    }


def expected_layers(C_in, C_hid, k):
    return {
        "conv_x.weight.shape": [4 * C_hid, C_in, k, k],
        "conv_h.weight.shape": [4 * C_hid, C_hid, k, k],
        "conv_x has a bias (1) or not (0)": 1.0,
        "conv_h has a bias (1) or not (0)": 0.0,
    }


def shapes_inputs(rng, B, C_in, C_hid, k, Y, X):
    return (
        (C_in, C_hid, k),
        rng.normal(size=(B, C_in, Y, X)),
        rng.normal(size=(B, C_hid, Y, X)),
        rng.normal(size=(B, C_hid, Y, X)),
    )


def run_shapes(cell_class, sizes, x, h0, c0):
    cell = cell_class(*sizes)
    x, h0, c0 = tensors(x, h0, c0)
    outputs = {}
    for label, state in (("without a state", None), ("from a state", (h0, c0))):
        h, c = check_tuple("forward", run_answer(cell, x, state), 2, "(h, c)")
        for name, value in (("h", h), ("c", c)):
            # The shape of the numbers themselves, not what the object says it has.
            shape = _values(name, value).shape
            if shape != tuple(h0.shape):
                raise GradingError(
                    f"{name} has shape {shape}, expected {tuple(h0.shape)} for an "
                    f"input of shape {tuple(x.shape)} (is the padding right?)."
                )
            outputs[f"{name}.shape {label}"] = list(shape)
    return outputs


def _values(name, value) -> np.ndarray:
    import torch

    if not isinstance(value, torch.Tensor):
        raise GradingError(f"{name} should be a tensor, got a {type(value).__name__}.")
    return np.array(torch.Tensor.numpy(torch.Tensor.detach(value).cpu()))


def expected_shapes(sizes, x, h0, c0):
    shape = list(h0.shape)
    return {
        f"{n}.shape {label}": shape for label in ("without a state", "from a state") for n in "hc"
    }


def weights_inputs(rng, B, C_in, C_hid, k, Y, X):
    scale = 1 / np.sqrt(C_in * k * k + C_hid * k * k)
    return (
        (C_in, C_hid, k),
        scale * rng.normal(size=(4 * C_hid, C_in, k, k)),
        scale * rng.normal(size=(4 * C_hid, C_hid, k, k)),
        rng.normal(size=4 * C_hid),
        rng.normal(size=(B, C_in, Y, X)),
        rng.normal(size=(B, C_hid, Y, X)),
        rng.normal(size=(B, C_hid, Y, X)),
    )


def run_cell(cell_class, sizes, weight_ih, weight_hh, bias, x, h0, c0):
    cell = cell_class(*sizes).double()
    load_convlstm_weights(cell, *tensors(weight_ih, weight_hh, bias))
    x, h0, c0 = tensors(x, h0, c0)
    h, c = check_tuple("forward", run_answer(cell, x, (h0, c0)), 2, "(h, c)")
    return {"c": c, "h": h}


def pixels(t):
    """(B, C, Y, X) -> (B*Y*X, C): every pixel a sequence of its own."""
    return t.permute(0, 2, 3, 1).reshape(-1, t.shape[1])


def run_one_by_one(cell_class, *arguments):
    outputs = run_cell(cell_class, *arguments)
    return {f"{name} at every pixel": pixels(value) for name, value in outputs.items()}


GATES_HINT = "Check the gate order i, f, g, o and which gates use tanh."
PADDING_HINT = (
    "Both convolutions need the padding that keeps the image size, and h_prev goes into conv_h."
)
TESTS = [
    Test(
        "test_convlstm_layers",
        answer="ConvLSTMCell",
        inputs=layers_inputs,
        run=run_layers,
        expected=expected_layers,
        visible=({"seed": 0, "C_in": 2, "C_hid": 3, "k": 3},),
        hidden=(
            {"C_in": 1, "C_hid": 1, "k": 1},
            {"C_in": 4, "C_hid": 2, "k": 5},
            {"C_in": 3, "C_hid": 5, "k": 7},
        ),
        reveal_hidden=True,  # the expected shapes follow from the public parameters
        hints=dict.fromkeys(
            ("conv_x has a bias (1) or not (0)", "conv_h has a bias (1) or not (0)"),
            "conv_x must have a bias and conv_h none (one bias b is enough).",
        ),
    ),
    Test(
        "test_convlstm_shapes",
        answer="ConvLSTMCell",
        inputs=shapes_inputs,
        run=run_shapes,
        expected=expected_shapes,
        visible=({"seed": 0, "B": 2, "C_in": 1, "C_hid": 3, "k": 3, "Y": 6, "X": 6},),
        hidden=(
            {"B": 1, "C_in": 2, "C_hid": 2, "k": 5, "Y": 7, "X": 4},
            {"B": 3, "C_in": 1, "C_hid": 4, "k": 3, "Y": 1, "X": 9},
        ),
        reveal_hidden=True,
    ),
    Test(
        "test_convlstm_one_by_one",
        answer="ConvLSTMCell",
        inputs=lambda rng, B, C_in, C_hid, Y, X: weights_inputs(rng, B, C_in, C_hid, 1, Y, X),
        run=run_one_by_one,
        expected=judge_only("convlstm_oracles", "expected_one_by_one"),
        visible=({"seed": 0, "B": 2, "C_in": 2, "C_hid": 3, "Y": 4, "X": 5},),
        hidden=(
            {"B": 1, "C_in": 1, "C_hid": 1, "Y": 1, "X": 1},
            {"B": 3, "C_in": 4, "C_hid": 2, "Y": 6, "X": 2},
        ),
        hints=dict.fromkeys(("c at every pixel", "h at every pixel"), GATES_HINT),
    ),
    Test(
        "test_convlstm_kernel",
        answer="ConvLSTMCell",
        inputs=weights_inputs,
        run=run_cell,
        expected=judge_only("convlstm_oracles", "expected_kernel"),
        visible=({"seed": 1, "B": 2, "C_in": 1, "C_hid": 2, "k": 3, "Y": 5, "X": 5},),
        hidden=(
            {"B": 1, "C_in": 2, "C_hid": 3, "k": 5, "Y": 6, "X": 4},
            {"B": 2, "C_in": 3, "C_hid": 1, "k": 3, "Y": 2, "X": 7},
        ),
        hints=dict.fromkeys(("c", "h"), PADDING_HINT),
    ),
]
