"""The hand-written BPTT of ``lstmlib.nn.bptt`` (the backward ``lstmlib.nn``'s layers run)
against independent oracles: finite differences (``torch.autograd.gradcheck``, float64),
the NumPy derivation of ``lstmlib.scratch``, autograd through the step (``bptt = False``)
and ``torch.nn``'s layers with the same weights, on every configuration the layers take."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from lstmlib.nn import GRU, LSTM, RNN, record_gates
from lstmlib.nn.bptt import STEPS_TO_COPY, GRUScan, LSTMScan, RNNScan
from lstmlib.scratch import gru_backward, gru_forward, lstm_backward, lstm_forward

F64 = torch.float64
I, H, L, N = 3, 4, 5, 3
LENGTHS = [4, 5, 1]  # unsorted, one of length 1


def randn(*shape, seed=1, device="cpu", dtype=F64, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    return (scale * torch.randn(shape, generator=g, dtype=F64)).to(device, dtype)


def leaves(*tensors):
    return [t.clone().requires_grad_() for t in tensors]


def layer_inputs(G, bias=True, seed=0):
    """Random float64 ``x, h0, c0, w_ih, w_hh, b_ih, b_hh`` of one layer with ``G`` blocks,
    scaled so that the gates are neither linear nor saturated."""
    x = randn(L, N, I, seed=seed)
    h0, c0 = randn(N, H, seed=seed + 1, scale=0.5), randn(N, H, seed=seed + 2, scale=0.5)
    w_ih = randn(G * H, I, seed=seed + 3, scale=I**-0.5)
    w_hh = randn(G * H, H, seed=seed + 4, scale=H**-0.5)
    b = (randn(G * H, seed=seed + 5, scale=0.5), randn(G * H, seed=seed + 6, scale=0.5))
    return x, h0, c0, w_ih, w_hh, *(b if bias else (None, None))


# --- finite differences -------------------------------------------------------------


@pytest.mark.parametrize("bias", [True, False])
def test_lstm_scan_passes_gradcheck(bias):
    inputs = leaves(*(t for t in layer_inputs(4, bias) if t is not None))
    if not bias:
        inputs += [None, None]
    # h and c at every step: the gradient on c enters at every step, as c_n does.
    assert torch.autograd.gradcheck(lambda *a: LSTMScan.apply(*a)[:2], inputs)


@pytest.mark.parametrize("bias", [True, False])
def test_gru_scan_passes_gradcheck(bias):
    x, h0, _, *params = layer_inputs(3, bias)
    inputs = [*leaves(x, h0), *(None if p is None else leaves(p)[0] for p in params)]
    assert torch.autograd.gradcheck(lambda *a: GRUScan.apply(*a)[0], inputs)


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_rnn_scan_passes_gradcheck(nonlinearity):
    x, h0, _, *params = layer_inputs(1)
    inputs = leaves(x, h0, *params)
    assert torch.autograd.gradcheck(lambda *a: RNNScan.apply(*a, nonlinearity), inputs)


# --- the book's derivation in NumPy -------------------------------------------------


def test_lstm_scan_equals_the_numpy_derivation():
    x, h0, c0, w_ih, w_hh, b_ih, b_hh = layer_inputs(4)
    dh = randn(L, N, H, seed=20)
    # lstmlib.scratch: row vectors, Wx = W_ih^T, one bias b = b_ih + b_hh.
    arrays = [t.numpy() for t in (x, h0, c0, w_ih.T, w_hh.T, b_ih + b_hh)]
    h_np, cache = lstm_forward(*arrays)
    expected = lstm_backward(dh.numpy(), cache)  # dx, dh0, dc0, dWx, dWh, db
    inputs = leaves(x, h0, c0, w_ih, w_hh, b_ih, b_hh)
    h, _, _ = LSTMScan.apply(*inputs)
    h.backward(dh)
    dx, dh0, dc0, dw_ih, dw_hh, db_ih, db_hh = (t.grad for t in inputs)
    np.testing.assert_allclose(h.detach().numpy(), h_np, rtol=0, atol=1e-12)
    for ours, theirs in zip((dx, dh0, dc0, dw_ih.T, dw_hh.T, db_ih), expected, strict=True):
        np.testing.assert_allclose(ours.numpy(), theirs, rtol=0, atol=1e-12)
    assert torch.equal(db_ih, db_hh)  # the two biases act in the same place


def test_gru_scan_equals_the_numpy_derivation():
    x, h0, _, w_ih, w_hh, b_ih, b_hh = layer_inputs(3)
    dh = randn(L, N, H, seed=20)
    arrays = [t.numpy() for t in (x, h0, w_ih.T, w_hh.T, b_ih, b_hh)]
    h_np, cache = gru_forward(*arrays)
    expected = gru_backward(dh.numpy(), cache)  # dx, dh0, dWx, dWh, dbx, dbh
    inputs = leaves(x, h0, w_ih, w_hh, b_ih, b_hh)
    h, _ = GRUScan.apply(*inputs)
    h.backward(dh)
    dx, dh0, dw_ih, dw_hh, db_ih, db_hh = (t.grad for t in inputs)
    np.testing.assert_allclose(h.detach().numpy(), h_np, rtol=0, atol=1e-12)
    for ours, theirs in zip((dx, dh0, dw_ih.T, dw_hh.T, db_ih, db_hh), expected, strict=True):
        np.testing.assert_allclose(ours.numpy(), theirs, rtol=0, atol=1e-12)


# --- every configuration: hand-written BPTT, autograd through the step, torch.nn -----

OURS = {"LSTM": LSTM, "GRU": GRU, "RNN": RNN, "RNN-relu": RNN}
TORCH = {"LSTM": torch.nn.LSTM, "GRU": torch.nn.GRU, "RNN": torch.nn.RNN, "RNN-relu": torch.nn.RNN}


def make_three(kind, device, dtype=F64, **kwargs):
    """``(bptt, autograd, torch)``: our layer, the same with ``bptt = False``, and torch's,
    all with the same weights."""
    if kind == "RNN-relu":
        kwargs["nonlinearity"] = "relu"
    torch.manual_seed(0)
    ours = OURS[kind](I, H, device=device, dtype=dtype, **kwargs)
    reference = OURS[kind](I, H, device=device, dtype=dtype, **kwargs)
    reference.load_state_dict(ours.state_dict())
    reference.bptt = False
    fused = TORCH[kind](I, H, device=device, dtype=dtype, **kwargs)
    fused.load_state_dict(ours.state_dict())
    return ours, reference, fused


def run(model, x, hx, lengths, packed, seed):
    """Padded output, final states and the gradients (on the input, the initial states and
    the parameters) of a random linear loss of them."""
    x = x.clone().requires_grad_()
    hx = None if hx is None else tuple(s.clone().requires_grad_() for s in hx)
    state_arg = hx if hx is None or len(hx) == 2 else hx[0]
    torch.manual_seed(seed)  # the same dropout masks for every model
    if packed:
        out, state = model(pack_padded_sequence(x, lengths, enforce_sorted=False), state_arg)
        out, _ = pad_packed_sequence(out)
    elif lengths is not None:
        out, state = model(x, state_arg, lengths=lengths)
    else:
        out, state = model(x, state_arg)
    results = [out, *(state if isinstance(state, tuple) else (state,))]
    loss = sum(
        (t * randn(*t.shape, seed=10 + k, device=t.device, dtype=t.dtype)).sum()
        for k, t in enumerate(results)
    )
    inputs = [x, *(hx or ()), *model.parameters()]
    return [t.detach() for t in results] + list(torch.autograd.grad(loss, inputs))


def assert_all_close(results, **tolerance):
    """Every run's results equal the first's."""
    for other in results[1:]:
        assert len(other) == len(results[0])
        for a, b in zip(results[0], other, strict=True):
            torch.testing.assert_close(a, b, **(tolerance or {"rtol": 0, "atol": 1e-12}))


CONFIGS = list(
    itertools.product(
        ["LSTM", "GRU", "RNN", "RNN-relu"],
        [1, 2],  # num_layers
        [False, True],  # bidirectional
        ["full", "lengths", "packed"],
    )
)


@pytest.mark.parametrize("kind, num_layers, bidirectional, lengths", CONFIGS)
def test_bptt_equals_autograd_and_torch(device, kind, num_layers, bidirectional, lengths):
    models = make_three(kind, device, num_layers=num_layers, bidirectional=bidirectional)
    D = 2 if bidirectional else 1
    x = randn(L, N, I, device=device)
    states = 2 if kind == "LSTM" else 1
    hx = tuple(randn(D * num_layers, N, H, seed=3 + j, device=device) for j in range(states))
    if lengths == "full":
        results = [run(m, x, hx, None, False, 0) for m in models]
    else:
        steps = torch.arange(L, device=device)[:, None]
        x = x.masked_fill((steps >= torch.tensor(LENGTHS, device=device))[..., None], 0.0)
        # torch.nn takes variable lengths only packed; ours take both.
        packed = lengths == "packed"
        results = [run(m, x, hx, LENGTHS, packed, 0) for m in models[:2]]
        results.append(run(models[2], x, hx, LENGTHS, True, 0))
    assert_all_close(results)


@pytest.mark.parametrize("kind", list(OURS))
@pytest.mark.parametrize("bidirectional", [False, True])
def test_bptt_equals_autograd_and_torch_on_a_long_sequence(device, kind, bidirectional):
    # From STEPS_TO_COPY steps on, the GRU's and the RNN's forward loops multiply by a
    # contiguous copy of W_hh^T instead of its transposed view; the short sequences above
    # keep the view. (The LSTM's W_hh^T is contiguous at every length.)
    assert L < STEPS_TO_COPY
    models = make_three(kind, device, bidirectional=bidirectional)
    x = randn(STEPS_TO_COPY + 3, N, I, device=device)
    assert_all_close([run(m, x, None, None, False, 0) for m in models])


@pytest.mark.parametrize("kind", list(OURS))
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("bias", [True, False])
def test_bptt_equals_autograd_float32_batch_first_no_bias(device, kind, batch_first, bias):
    models = make_three(kind, device, torch.float32, batch_first=batch_first, bias=bias)
    x = randn(*((N, L, I) if batch_first else (L, N, I)), device=device, dtype=torch.float32)
    results = [run(m, x, None, None, False, 0) for m in models]
    assert all(t.dtype == torch.float32 for t in results[0])
    assert_all_close(results, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("kind", list(OURS))
def test_bptt_equals_autograd_with_dropout_in_training(kind):
    models = make_three(kind, "cpu", num_layers=3, dropout=0.5, bidirectional=True)
    x = randn(L, N, I)
    results = [run(m, x, None, None, False, seed=7) for m in models]
    assert_all_close(results)


@pytest.mark.parametrize("used", ["c_n", "h_n", "output"])
def test_lstm_gradient_from_one_result_only(used):
    """The backward gets None for the results the loss does not use."""
    ours, reference, _ = make_three("LSTM", "cpu", num_layers=2)
    x = randn(L, N, I)
    grads = []
    for model in (ours, reference):
        out, (h_n, c_n) = model(x)
        loss = {"c_n": c_n, "h_n": h_n, "output": out}[used].square().sum()
        grads.append(torch.autograd.grad(loss, list(model.parameters())))
    for a, b in zip(*grads, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_record_gates_is_the_same_on_both_paths(kind):
    ours, reference, _ = make_three(kind, "cpu", bidirectional=True)
    x = randn(L, N, I)
    records = []
    for model in (ours, reference):
        with record_gates(model) as record:
            model(x, lengths=LENGTHS)
        records.append(record)
    for a, b in zip(*records, strict=True):
        assert a.keys() == b.keys()
        for key in a:
            torch.testing.assert_close(a[key], b[key], rtol=0, atol=1e-12)


def test_inference_without_grad_builds_no_graph():
    ours, _, fused = make_three("LSTM", "cpu")
    x = randn(L, N, I)
    with torch.no_grad():
        out, _ = ours(x)
        expected, _ = fused(x)
    assert out.grad_fn is None and not out.requires_grad
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("kind", list(OURS))
def test_double_backward_raises_a_clear_error_and_autograd_path_has_it(kind):
    ours, reference, _ = make_three(kind, "cpu")
    x = randn(L, N, I).requires_grad_()
    with pytest.raises(RuntimeError, match="no double backward.*bptt = False"):
        torch.autograd.grad(ours(x)[0].sum(), x, create_graph=True)
    (dx,) = torch.autograd.grad(reference(x)[0].square().sum(), x, create_graph=True)
    assert dx.requires_grad  # the way out the message names works


def test_the_default_is_the_hand_written_backward():
    out, _ = LSTM(I, H)(randn(L, N, I, dtype=torch.float32))
    assert "LSTMScan" in type(out.grad_fn).__name__
    layer = LSTM(I, H)
    layer.bptt = False
    out, _ = layer(randn(L, N, I, dtype=torch.float32))
    assert "LSTMScan" not in type(out.grad_fn).__name__
