"""Exercise 06 (a ConvLSTM cell in PyTorch): its graded tests.

All inputs and weights are float64 NumPy arrays drawn from the case's seed; the
kernel turns them into tensors for the student's cell, the judge into tensors
for its oracles (``torch.nn.LSTMCell`` and ``lstmlib.nn.ConvLSTMCell``).
"""

from __future__ import annotations

import numpy as np

from lstmlib.grading.checks import GradingError, check_tuple, run_answer
from lstmlib.grading.inputs import load_convlstm_weights
from lstmlib.grading.spec import Test


def _torch(*arrays):
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


def shapes_inputs(rng, B, C_in, C_hid, k, H, W):
    return (
        (C_in, C_hid, k),
        rng.normal(size=(B, C_in, H, W)),
        rng.normal(size=(B, C_hid, H, W)),
        rng.normal(size=(B, C_hid, H, W)),
    )


def run_shapes(cell_class, sizes, x, h0, c0):
    cell = cell_class(*sizes)
    x, h0, c0 = _torch(x, h0, c0)
    outputs = {}
    for label, state in (("without a state", None), ("from a state", (h0, c0))):
        h, c = check_tuple("forward", run_answer(cell, x, state), 2, "(h, c)")
        for name, value in (("h", h), ("c", c)):
            if tuple(value.shape) != tuple(h0.shape):
                raise GradingError(
                    f"{name} has shape {tuple(value.shape)}, expected {tuple(h0.shape)} for an "
                    f"input of shape {tuple(x.shape)} (is the padding right?)."
                )
            outputs[f"{name}.shape {label}"] = list(value.shape)
    return outputs


def expected_shapes(sizes, x, h0, c0):
    shape = list(h0.shape)
    return {
        f"{n}.shape {label}": shape for label in ("without a state", "from a state") for n in "hc"
    }


def weights_inputs(rng, B, C_in, C_hid, k, H, W):
    scale = 1 / np.sqrt(C_in * k * k + C_hid * k * k)
    return (
        (C_in, C_hid, k),
        scale * rng.normal(size=(4 * C_hid, C_in, k, k)),
        scale * rng.normal(size=(4 * C_hid, C_hid, k, k)),
        rng.normal(size=4 * C_hid),
        rng.normal(size=(B, C_in, H, W)),
        rng.normal(size=(B, C_hid, H, W)),
        rng.normal(size=(B, C_hid, H, W)),
    )


def run_cell(cell_class, sizes, weight_ih, weight_hh, bias, x, h0, c0):
    cell = cell_class(*sizes).double()
    load_convlstm_weights(cell, *_torch(weight_ih, weight_hh, bias))
    h, c = check_tuple("forward", run_answer(cell, *_torch(x), tuple(_torch(h0, c0))), 2, "(h, c)")
    return {"c": c, "h": h}


def pixels(t):
    """(B, C, H, W) -> (B*H*W, C): every pixel a sequence of its own."""
    return t.permute(0, 2, 3, 1).reshape(-1, t.shape[1])


def run_one_by_one(cell_class, *arguments):
    outputs = run_cell(cell_class, *arguments)
    return {f"{name} at every pixel": pixels(value) for name, value in outputs.items()}


def expected_one_by_one(sizes, weight_ih, weight_hh, bias, x, h0, c0):
    import torch

    C_in, C_hid, _ = sizes
    lstm = torch.nn.LSTMCell(C_in, C_hid).double()
    with torch.no_grad():
        lstm.weight_ih.copy_(torch.from_numpy(weight_ih[..., 0, 0]))
        lstm.weight_hh.copy_(torch.from_numpy(weight_hh[..., 0, 0]))
        lstm.bias_ih.copy_(torch.from_numpy(bias))
        lstm.bias_hh.zero_()
        x, h0, c0 = (pixels(t) for t in _torch(x, h0, c0))
        h, c = lstm(x, (h0, c0))
    return {"c at every pixel": c, "h at every pixel": h}


def expected_kernel(sizes, weight_ih, weight_hh, bias, x, h0, c0):
    import torch

    from lstmlib.nn.convlstm import ConvLSTMCell

    oracle = ConvLSTMCell(*sizes).double()
    with torch.no_grad():
        for parameter, value in zip(
            (oracle.weight_ih, oracle.weight_hh, oracle.bias),
            _torch(weight_ih, weight_hh, bias),
            strict=True,
        ):
            parameter.copy_(value)
        h, c = oracle(*_torch(x), tuple(_torch(h0, c0)))
    return {"c": c, "h": h}


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
        visible=({"seed": 0, "B": 2, "C_in": 1, "C_hid": 3, "k": 3, "H": 6, "W": 6},),
        hidden=(
            {"B": 1, "C_in": 2, "C_hid": 2, "k": 5, "H": 7, "W": 4},
            {"B": 3, "C_in": 1, "C_hid": 4, "k": 3, "H": 1, "W": 9},
        ),
        reveal_hidden=True,
    ),
    Test(
        "test_convlstm_one_by_one",
        answer="ConvLSTMCell",
        inputs=lambda rng, B, C_in, C_hid, H, W: weights_inputs(rng, B, C_in, C_hid, 1, H, W),
        run=run_one_by_one,
        expected=expected_one_by_one,
        visible=({"seed": 0, "B": 2, "C_in": 2, "C_hid": 3, "H": 4, "W": 5},),
        hidden=(
            {"B": 1, "C_in": 1, "C_hid": 1, "H": 1, "W": 1},
            {"B": 3, "C_in": 4, "C_hid": 2, "H": 6, "W": 2},
        ),
        hints=dict.fromkeys(("c at every pixel", "h at every pixel"), GATES_HINT),
    ),
    Test(
        "test_convlstm_kernel",
        answer="ConvLSTMCell",
        inputs=weights_inputs,
        run=run_cell,
        expected=expected_kernel,
        visible=({"seed": 1, "B": 2, "C_in": 1, "C_hid": 2, "k": 3, "H": 5, "W": 5},),
        hidden=(
            {"B": 1, "C_in": 2, "C_hid": 3, "k": 5, "H": 6, "W": 4},
            {"B": 2, "C_in": 3, "C_hid": 1, "k": 3, "H": 2, "W": 7},
        ),
        hints=dict.fromkeys(("c", "h"), PADDING_HINT),
    ),
]
