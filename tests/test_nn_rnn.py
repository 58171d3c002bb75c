"""``lstmlib.nn.RNN`` and ``RNNCell`` against ``torch.nn.RNN`` and ``torch.nn.RNNCell``
with the same weights (float64, so agreement is to rounding error)."""

from __future__ import annotations

import pytest
import torch

from lstmlib.nn import RNN, RNNCell
from lstmlib.shapes import ShapeError

F64 = torch.float64
I, H, L, N = 3, 5, 4, 2


def assert_close(actual, expected):
    torch.testing.assert_close(actual, expected, rtol=0, atol=1e-12)


def make_pair(device, seed=0, **kwargs):
    """Our RNN and torch's, same constructor arguments, our weights copied into torch's."""
    torch.manual_seed(seed)
    ours = RNN(I, H, dtype=F64, device=device, **kwargs)
    ref = torch.nn.RNN(I, H, dtype=F64, device=device, **kwargs)
    ref.load_state_dict(ours.state_dict())
    return ours, ref


def random_inputs(device, num_layers, batch_first, with_h0, seed=1):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn((N, L, I) if batch_first else (L, N, I), generator=g, dtype=F64)
    h0 = torch.randn(num_layers, N, H, generator=g, dtype=F64) if with_h0 else None
    return x.to(device), None if h0 is None else h0.to(device)


@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("with_h0", [False, True])
@pytest.mark.parametrize("bias", [True, False])
def test_forward_and_gradients_match_torch(device, num_layers, batch_first, with_h0, bias):
    kwargs = dict(num_layers=num_layers, batch_first=batch_first, bias=bias)
    ours, ref = make_pair(device, **kwargs)
    x, h0 = random_inputs(device, num_layers, batch_first, with_h0)
    results = []
    for model in (ours, ref):
        xg = x.clone().requires_grad_()
        h0g = None if h0 is None else h0.clone().requires_grad_()
        out, h_n = model(xg, h0g)
        # A random linear loss on both outputs reaches every gradient path.
        g = torch.Generator().manual_seed(2)
        loss = (out * torch.randn(out.shape, generator=g, dtype=F64).to(device)).sum()
        loss = loss + (h_n * torch.randn(h_n.shape, generator=g, dtype=F64).to(device)).sum()
        inputs = [xg] + ([h0g] if with_h0 else []) + list(model.parameters())
        results.append((out, h_n, torch.autograd.grad(loss, inputs)))

    (out, h_n, grads), (ref_out, ref_h_n, ref_grads) = results
    assert out.device == x.device and h_n.device == x.device
    assert out.shape == ref_out.shape and h_n.shape == ref_h_n.shape
    assert_close(out, ref_out)
    assert_close(h_n, ref_h_n)
    assert len(grads) == len(ref_grads)
    for grad, ref_grad in zip(grads, ref_grads, strict=True):
        assert_close(grad, ref_grad)


@pytest.mark.parametrize("with_h0", [False, True])
def test_unbatched_input_matches_torch(device, with_h0):
    ours, ref = make_pair(device, num_layers=2)
    x = torch.randn(L, I, dtype=F64, device=device)
    h0 = torch.randn(2, H, dtype=F64, device=device) if with_h0 else None
    out, h_n = ours(x, h0)
    ref_out, ref_h_n = ref(x, h0)
    assert out.shape == (L, H) and h_n.shape == (2, H)
    assert_close(out, ref_out)
    assert_close(h_n, ref_h_n)


def test_relu_matches_torch(device):
    ours, ref = make_pair(device, nonlinearity="relu", num_layers=2)
    x, h0 = random_inputs(device, 2, False, True)
    for got, expected in zip(ours(x, h0), ref(x, h0), strict=True):
        assert_close(got, expected)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_cell_matches_torch_cell(device, bias, nonlinearity):
    ours = RNNCell(I, H, bias=bias, nonlinearity=nonlinearity, dtype=F64, device=device)
    ref = torch.nn.RNNCell(I, H, bias=bias, nonlinearity=nonlinearity, dtype=F64, device=device)
    assert [(k, v.shape) for k, v in ours.state_dict().items()] == [
        (k, v.shape) for k, v in ref.state_dict().items()
    ]
    ref.load_state_dict(ours.state_dict())
    x = torch.randn(N, I, dtype=F64, device=device)
    h = torch.randn(N, H, dtype=F64, device=device)
    assert_close(ours(x, h), ref(x, h))
    assert_close(ours(x), ref(x))
    assert_close(ours(x[0], h[0]), ref(x[0], h[0]))  # unbatched


# --- parameters -------------------------------------------------------------------


@pytest.mark.parametrize("bias", [True, False])
def test_state_dict_keys_and_shapes_are_torchs(bias):
    ours = RNN(I, H, num_layers=3, bias=bias)
    ref = torch.nn.RNN(I, H, num_layers=3, bias=bias)
    assert [(k, v.shape) for k, v in ours.state_dict().items()] == [
        (k, v.shape) for k, v in ref.state_dict().items()
    ]


def test_state_dict_loads_both_ways():
    ours, ref = RNN(I, H, num_layers=2), torch.nn.RNN(I, H, num_layers=2)
    x = torch.randn(L, N, I)
    ours.load_state_dict(ref.state_dict())
    torch.testing.assert_close(ours(x), ref(x))
    ours.reset_parameters()
    ref.load_state_dict(ours.state_dict())
    torch.testing.assert_close(ref(x), ours(x))


def test_initialisation_is_torchs():
    # Same parameters in the same order, drawn the same way: same numbers as torch.
    torch.manual_seed(0)
    ours = RNN(I, H, num_layers=2)
    torch.manual_seed(0)
    ref = torch.nn.RNN(I, H, num_layers=2)
    for (name, p), q in zip(ours.named_parameters(), ref.parameters(), strict=True):
        assert torch.equal(p, q), name
        assert p.abs().max() <= H**-0.5


def test_device_and_dtype_arguments_and_to(device):
    model = RNN(I, H, dtype=F64, device=device)
    assert all(p.dtype == F64 and p.device.type == device.type for p in model.parameters())
    model = RNN(I, H).to(device=device, dtype=F64)
    out, h_n = model(torch.randn(L, N, I, dtype=F64, device=device))
    assert out.device.type == device.type and out.dtype == F64
    assert h_n.device.type == device.type and h_n.dtype == F64


# --- argument checks --------------------------------------------------------------


def test_wrong_input_size_names_expected_and_received_shape():
    model = RNN(I, H, dtype=F64)
    with pytest.raises(
        ShapeError, match=r"input must have shape \(L=4, N=2, I=3\), got \(4, 2, 7\)"
    ):
        model(torch.zeros(L, N, 7, dtype=F64))
    model.batch_first = True
    with pytest.raises(
        ShapeError, match=r"input must have shape \(N=2, L=4, I=3\), got \(2, 4, 7\)"
    ):
        model(torch.zeros(N, L, 7, dtype=F64))


def test_wrong_number_of_dimensions_names_expected_and_received_shape():
    with pytest.raises(
        ShapeError, match=r"input must have 3 dimensions \(L, N, I=3\).*\(1, 4, 2, 3\)"
    ):
        RNN(I, H)(torch.zeros(1, L, N, I))


def test_wrong_hx_names_expected_and_received_shape():
    model = RNN(I, H, num_layers=2, dtype=F64)
    x = torch.zeros(L, N, I, dtype=F64)
    expected = r"hx must have shape \(num_layers=2, N=2, H=5\), got "
    with pytest.raises(ShapeError, match=expected + r"\(1, 2, 5\)"):
        model(x, torch.zeros(1, N, H, dtype=F64))
    with pytest.raises(ShapeError, match=expected + r"\(2, 3, 5\)"):
        model(x, torch.zeros(2, 3, H, dtype=F64))
    with pytest.raises(ShapeError, match=r"hx must have shape \(num_layers=2, H=5\), got \(2, 4\)"):
        model(x[:, 0], torch.zeros(2, 4, dtype=F64))  # unbatched


def test_cell_wrong_shapes_are_named():
    cell = RNNCell(I, H)
    with pytest.raises(ShapeError, match=r"input must have shape \(N=2, I=3\), got \(2, 4\)"):
        cell(torch.zeros(N, 4))
    with pytest.raises(ShapeError, match=r"hx must have shape \(N=2, H=5\), got \(3, 5\)"):
        cell(torch.zeros(N, I), torch.zeros(3, H))


def test_empty_sequence_is_rejected():
    with pytest.raises(ShapeError, match="at least one time step"):
        RNN(I, H)(torch.zeros(0, N, I))


def test_wrong_dtype_names_both_dtypes():
    model = RNN(I, H)  # float32 parameters
    with pytest.raises(TypeError, match="input has dtype torch.float64.*torch.float32"):
        model(torch.zeros(L, N, I, dtype=F64))
    with pytest.raises(TypeError, match="hx has dtype torch.float64.*torch.float32"):
        model(torch.zeros(L, N, I), torch.zeros(1, N, H, dtype=F64))
    with pytest.raises(TypeError, match="input must be a floating-point array.*int64"):
        model(torch.zeros(L, N, I, dtype=torch.int64))
    with pytest.raises(TypeError, match="input has dtype torch.float64"):
        RNNCell(I, H)(torch.zeros(N, I, dtype=F64))


def test_constructor_rejects_bad_arguments():
    with pytest.raises(ValueError, match="nonlinearity must be one of.*'sigmoid'"):
        RNN(I, H, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="nonlinearity"):
        RNNCell(I, H, nonlinearity="gelu")
    with pytest.raises(ValueError, match="num_layers must be at least 1, got 0"):
        RNN(I, H, num_layers=0)
