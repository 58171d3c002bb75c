"""lstmlib.convert: Keras <-> PyTorch LSTM weights, checked by running both frameworks.

Oracles: ``torch.nn.LSTM``'s forward on one side; on the other, Keras's own forward
(``return_sequences=True, return_state=True``) or, in the fast tests that do not import
Keras, the Keras LSTM's equations written out in NumPy below. The Keras tests are marked
slow: importing Keras takes several seconds on its own.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from lstmlib import nn as lnn
from lstmlib.convert import (
    keras_to_torch_linear,
    keras_to_torch_lstm,
    keras_to_torch_weights,
    torch_to_keras_dense,
    torch_to_keras_lstm,
    torch_to_keras_weights,
)
from lstmlib.shapes import ShapeError

I, H, L, N = 3, 4, 5, 2
# Keras 3.15's variables and tensors warn under NumPy 2 when made arrays (its own
# get_weights and convert_to_numpy do it); that is Keras's business, not ours.
pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning:keras"
)
TORCH_LSTMS = [torch.nn.LSTM, lnn.LSTM]
torch_lstms = pytest.mark.parametrize("torch_cls", TORCH_LSTMS, ids=["torch.nn", "lstmlib.nn"])


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def keras_equations(x, kernel, recurrent_kernel, bias):
    """Keras's LSTM step written out (keras/src/layers/rnn/lstm.py, ``LSTMCell.call``):
    ``z = x K + h R + b`` split into ``i, f, c, o``. x: (N, L, I) -> outputs (N, L, H),
    final h and c (N, H)."""
    units = recurrent_kernel.shape[0]
    h = np.zeros((x.shape[0], units))
    c = np.zeros((x.shape[0], units))
    outputs = []
    for t in range(x.shape[1]):
        z = x[:, t] @ kernel + h @ recurrent_kernel + (0 if bias is None else bias)
        zi, zf, zc, zo = np.split(z, 4, axis=1)
        c = _sigmoid(zf) * c + _sigmoid(zi) * np.tanh(zc)
        h = _sigmoid(zo) * np.tanh(c)
        outputs.append(h)
    return np.stack(outputs, axis=1), h, c


def torch_forward(lstm, x):
    """Batch-first NumPy x: (N, L, I) through a time-major torch LSTM, as NumPy arrays."""
    with torch.no_grad():
        output, (h, c) = lstm(torch.as_tensor(x, dtype=torch.float32).transpose(0, 1))
    return output.transpose(0, 1).numpy(), h.numpy(), c.numpy()


# --- array level, no Keras needed ----------------------------------------------


@pytest.mark.parametrize("use_bias", [True, False])
def test_keras_weights_in_torch_compute_what_keras_equations_compute(rng, use_bias):
    kernel = rng.normal(scale=0.5, size=(I, 4 * H))
    recurrent = rng.normal(scale=0.5, size=(H, 4 * H))
    bias = rng.normal(scale=0.5, size=4 * H) if use_bias else None
    x = rng.normal(size=(N, L, I))
    lstm = torch.nn.LSTM(I, H, bias=use_bias).double()
    with torch.no_grad():
        arrays = [a for a in keras_to_torch_weights(kernel, recurrent, bias) if a is not None]
        for p, a in zip(lstm.parameters(), arrays, strict=True):
            p.copy_(torch.as_tensor(a))
    with torch.no_grad():
        out, (h, c) = lstm(torch.as_tensor(x).transpose(0, 1))
    want_out, want_h, want_c = keras_equations(x, kernel, recurrent, bias)
    np.testing.assert_allclose(out.transpose(0, 1).numpy(), want_out, atol=1e-12)
    np.testing.assert_allclose(h[0].numpy(), want_h, atol=1e-12)
    np.testing.assert_allclose(c[0].numpy(), want_c, atol=1e-12)


def test_torch_weights_in_keras_layout_compute_what_torch_computes(rng):
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(I, H).double()  # torch's init: both biases nonzero
    x = rng.normal(size=(N, L, I))
    kernel, recurrent, bias = torch_to_keras_weights(*lstm.parameters())
    with torch.no_grad():
        out, (h, c) = lstm(torch.as_tensor(x).transpose(0, 1))
    want_out, want_h, want_c = keras_equations(x, kernel, recurrent, bias)
    np.testing.assert_allclose(out.transpose(0, 1).numpy(), want_out, atol=1e-12)
    np.testing.assert_allclose(c[0].numpy(), want_c, atol=1e-12)


def test_round_trip_keeps_the_weights_and_the_sum_of_the_biases(rng):
    w_ih, w_hh = rng.normal(size=(4 * H, I)), rng.normal(size=(4 * H, H))
    b_ih, b_hh = rng.normal(size=4 * H), rng.normal(size=4 * H)
    back = keras_to_torch_weights(*torch_to_keras_weights(w_ih, w_hh, b_ih, b_hh))
    np.testing.assert_array_equal(back[0], w_ih)
    np.testing.assert_array_equal(back[1], w_hh)
    np.testing.assert_allclose(back[2] + back[3], b_ih + b_hh)
    np.testing.assert_array_equal(back[3], 0)  # the one bias goes to bias_ih


def test_array_shape_errors_name_the_expected_shapes(rng):
    with pytest.raises(ShapeError, match=r"kernel must have shape \(I=3, 4H=16\), got \(3, 12\)"):
        keras_to_torch_weights(np.zeros((3, 12)), np.zeros((4, 16)))
    with pytest.raises(ShapeError, match=r"recurrent_kernel must have shape \(H=4, 4H=16\)"):
        keras_to_torch_weights(np.zeros((3, 16)), np.zeros((4, 12)))
    with pytest.raises(ShapeError, match=r"bias must have shape \(4H=16\), got \(12,\)"):
        keras_to_torch_weights(np.zeros((3, 16)), np.zeros((4, 16)), np.zeros(12))
    with pytest.raises(ShapeError, match=r"weight_ih must have shape \(4H=16, I\), got \(12, 3\)"):
        torch_to_keras_weights(np.zeros((12, 3)), np.zeros((16, 4)), None, None)
    with pytest.raises(ValueError, match="both biases"):
        torch_to_keras_weights(np.zeros((16, 3)), np.zeros((16, 4)), np.zeros(16), None)


def test_torch_side_checks_need_no_keras():
    with pytest.raises(TypeError, match="torch.nn.LSTM or lstmlib.nn.LSTM"):
        keras_to_torch_lstm([], torch.nn.GRU(I, H))
    with pytest.raises(ValueError, match="proj_size"):
        keras_to_torch_lstm([], torch.nn.LSTM(I, H, proj_size=2))


# --- whole layers against Keras's own forward (slow: imports Keras) ------------------


@pytest.fixture(scope="module")
def keras():
    os.environ["KERAS_BACKEND"] = "torch"  # read once, when keras is first imported
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "torch":
        pytest.skip(f"keras was already imported with the {keras.backend.backend()} backend")
    return keras


def keras_stack(keras, sizes, bidirectional, **options):
    """Built Keras layers for input size I and hidden sizes ``sizes``, their weights
    all random (Keras's init has zero biases, which would hide a bias mix-up)."""
    layers, size = [], I
    for k, units in enumerate(sizes):
        lstm = keras.layers.LSTM(units, return_sequences=True, return_state=True, **options)
        layer = keras.layers.Bidirectional(lstm) if bidirectional else lstm
        layer.build((None, None, size))
        rng = np.random.default_rng(k)
        layer.set_weights([rng.normal(scale=0.5, size=w.shape) for w in layer.get_weights()])
        layers.append(layer)
        size = units * (2 if bidirectional else 1)
    return layers


def keras_forward(keras, layers, x):
    """Keras layers run one after another on x: (N, L, I); outputs (N, L, D*H) and the
    final states stacked in torch's order (layer 0 forward, backward, layer 1, ...)."""
    hs, cs = [], []
    for layer in layers:
        output, *states = layer(x.astype("float32"))
        states = [keras.ops.convert_to_numpy(s) for s in states]
        hs += states[0::2]
        cs += states[1::2]
        x = keras.ops.convert_to_numpy(output)
    return x, np.stack(hs), np.stack(cs)


CASES = [(1, False), (2, False), (1, True), (2, True)]
cases = pytest.mark.parametrize(
    "num_layers, bidirectional", CASES, ids=["1 layer", "2 layers", "bidir", "2 layers bidir"]
)


def assert_same(got, want):
    for g, w, name in zip(got, want, ("output", "h_n", "c_n"), strict=True):
        np.testing.assert_allclose(g, w, atol=2e-6, rtol=1e-5, err_msg=name)


@pytest.mark.slow
@torch_lstms
@cases
def test_keras_to_torch_gives_kerass_outputs(keras, torch_cls, num_layers, bidirectional):
    layers = keras_stack(keras, [H] * num_layers, bidirectional)
    lstm = torch_cls(I, H, num_layers=num_layers, bidirectional=bidirectional)
    assert keras_to_torch_lstm(layers, lstm) is lstm
    x = np.random.default_rng(9).normal(size=(N, L, I))
    assert_same(torch_forward(lstm, x), keras_forward(keras, layers, x))


@pytest.mark.slow
@torch_lstms
@cases
def test_torch_to_keras_gives_torchs_outputs(keras, torch_cls, num_layers, bidirectional):
    torch.manual_seed(num_layers)
    lstm = torch_cls(I, H, num_layers=num_layers, bidirectional=bidirectional)
    options = dict(return_sequences=True, return_state=True)
    layers = [keras.layers.LSTM(H, **options) for _ in range(num_layers)]  # not built
    if bidirectional:
        layers = [keras.layers.Bidirectional(layer) for layer in layers]
    assert torch_to_keras_lstm(lstm, layers) is layers
    x = np.random.default_rng(8).normal(size=(N, L, I))
    assert_same(keras_forward(keras, layers, x), torch_forward(lstm, x))


@pytest.mark.slow
def test_no_bias_converts_both_ways(keras):
    (layer,) = keras_stack(keras, [H], False, use_bias=False)
    lstm = keras_to_torch_lstm(layer, torch.nn.LSTM(I, H, bias=False))
    x = np.random.default_rng(7).normal(size=(N, L, I))
    assert_same(torch_forward(lstm, x), keras_forward(keras, [layer], x))
    fresh = keras.layers.LSTM(H, use_bias=False, return_sequences=True, return_state=True)
    torch_to_keras_lstm(lstm, fresh)
    assert_same(keras_forward(keras, [fresh], x), torch_forward(lstm, x))


@pytest.mark.slow
def test_one_layer_at_a_time(keras):
    layers = keras_stack(keras, [H, H], False)
    lstm = torch.nn.LSTM(I, H, num_layers=2)
    keras_to_torch_lstm(layers[1], lstm, layer=1)
    keras_to_torch_lstm(layers[0], lstm, layer=0)
    x = np.random.default_rng(6).normal(size=(N, L, I))
    assert_same(torch_forward(lstm, x), keras_forward(keras, layers, x))


@pytest.mark.slow
def test_what_torch_cannot_compute_is_refused(keras):
    LSTM, options = keras.layers.LSTM, dict(return_sequences=True)
    built = keras_stack(keras, [H], False)[0]
    refusals = [
        (LSTM(H, activation="relu"), ValueError, "activation='relu'.*tanh"),
        (LSTM(H, recurrent_activation="hard_sigmoid"), ValueError, "'hard_sigmoid'.*sigmoid"),
        (LSTM(H, go_backwards=True), ValueError, "go_backwards=True"),
        (keras.layers.Bidirectional(LSTM(H, **options), merge_mode="sum"), ValueError, "sum"),
        (keras.layers.GRU(H), TypeError, "expected a keras.layers.LSTM"),
        (LSTM(H), ValueError, "not built"),
    ]
    for layer, error, message in refusals:
        with pytest.raises(error, match=message):
            keras_to_torch_lstm(layer, torch.nn.LSTM(I, H))
    mismatches = [
        (torch.nn.LSTM(I, H + 1), ShapeError, "units=4, but the torch LSTM has hidden_size=5"),
        (torch.nn.LSTM(I + 1, H), ShapeError, r"kernel must have shape \(I=4, 4H=16\), got \(3"),
        (torch.nn.LSTM(I, H, bias=False), ValueError, "use_bias=True.*bias=False"),
        (torch.nn.LSTM(I, H, bidirectional=True), ValueError, "needs a Keras Bidirectional"),
        (torch.nn.LSTM(I, H, num_layers=2), ValueError, "needs 2 Keras layer"),
    ]
    for lstm, error, message in mismatches:
        with pytest.raises(error, match=message):
            keras_to_torch_lstm(built, lstm)
    with pytest.raises(ShapeError, match=r"kernel must have shape \(I=4, \*\), got \(3, 16\)"):
        torch_to_keras_lstm(torch.nn.LSTM(I + 1, H), built)


@pytest.mark.slow
def test_dense_and_linear_convert_both_ways(keras):
    torch.manual_seed(0)
    linear = torch.nn.Linear(H, 3)
    dense = torch_to_keras_dense(linear, keras.layers.Dense(3))
    x = np.random.default_rng(5).normal(size=(N, H)).astype("float32")
    with torch.no_grad():
        want = linear(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(keras.ops.convert_to_numpy(dense(x)), want, atol=1e-6)
    back = keras_to_torch_linear(dense, torch.nn.Linear(H, 3))
    with torch.no_grad():
        np.testing.assert_allclose(back(torch.from_numpy(x)).numpy(), want, atol=1e-6)
    with pytest.raises(ShapeError, match="units=2"):
        torch_to_keras_dense(linear, keras.layers.Dense(2))
    with pytest.raises(ShapeError, match=r"Dense kernel must have shape \(5, 3\), got \(4, 3\)"):
        keras_to_torch_linear(dense, torch.nn.Linear(H + 1, 3))
