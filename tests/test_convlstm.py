"""ConvLSTM (``lstmlib.nn.convlstm``, ``lstmlib.scratch.convlstm``) against independent oracles:
torch's LSTM at every pixel (1x1 kernels), finite differences, a NumPy step with its own
convolution, a shifted-image kernel, and the receptive field a k x k kernel must have."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch
from torch.func import functional_call

from lstmlib.nn.convlstm import ConvLSTM, ConvLSTMCell
from lstmlib.scratch.convlstm import conv2d_same, convlstm_step_forward
from lstmlib.shapes import ShapeError

F64 = torch.float64
B, T, C_IN, H, W = 2, 3, 2, 5, 6


def randn(*shape, device="cpu", seed=1, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    return (scale * torch.randn(shape, generator=g, dtype=F64)).to(device)


def assert_close(actual, expected, atol=1e-12):
    torch.testing.assert_close(actual, torch.as_tensor(expected), rtol=0, atol=atol)


def set_peepholes(module, seed=5):
    """Peephole weights of order one (the init's ±1/sqrt(fan_in) is small), so a wrong
    peephole term moves the result far beyond rounding error."""
    with torch.no_grad():
        for k, (name, p) in enumerate(module.named_parameters()):
            if name.rsplit(".", 1)[-1] in ("weight_ci", "weight_cf", "weight_co"):
                p.copy_(randn(*p.shape, seed=seed + k))


def numpy_params(cell):
    """A cell's parameters as the NumPy step takes them."""
    p = {n: v.detach().cpu().numpy() for n, v in cell.named_parameters()}
    peep = (p["weight_ci"], p["weight_cf"], p["weight_co"]) if cell.peephole else None
    return p["weight_ih"], p["weight_hh"], p["bias"], peep


def pixels(t):
    """(B, T, C, H, W) -> (B*H*W, T, C): every pixel's sequence, for torch.nn.LSTM."""
    b, s, c, h, w = t.shape
    return t.permute(0, 3, 4, 1, 2).reshape(b * h * w, s, c)


def layers_pixels(t):
    """(L, B, C, H, W) -> (L, B*H*W, C)."""
    return t.permute(0, 1, 3, 4, 2).reshape(t.shape[0], -1, t.shape[2])


# --- (a) a 1x1 kernel is an LSTM at every pixel -----------------------------------------


def copy_to_torch_lstm(ours, ref):
    """1x1 kernels (4C, C_in, 1, 1) are LSTM weights (4C, C_in); our one bias goes into
    bias_ih and bias_hh is zero (only their sum enters the gates)."""
    with torch.no_grad():
        for k, cell in enumerate(ours.cells):
            getattr(ref, f"weight_ih_l{k}").copy_(cell.weight_ih[:, :, 0, 0])
            getattr(ref, f"weight_hh_l{k}").copy_(cell.weight_hh[:, :, 0, 0])
            getattr(ref, f"bias_ih_l{k}").copy_(cell.bias)
            getattr(ref, f"bias_hh_l{k}").zero_()


# The two ways ConvLSTM runs its convolutions (only speed differs); "auto" picks one.
DESIGNS = pytest.mark.parametrize("design", ["hoisted", "per_step"])


@DESIGNS
def test_1x1_kernel_equals_torch_lstm_at_every_pixel(device, design):
    C = 4
    torch.manual_seed(0)
    ours = ConvLSTM(C_IN, C, 1, num_layers=2, device=device, dtype=F64, input_convolution=design)
    ref = torch.nn.LSTM(C_IN, C, num_layers=2, batch_first=True, device=device, dtype=F64)
    copy_to_torch_lstm(ours, ref)
    x = randn(B, T, C_IN, H, W, device=device).requires_grad_()
    h0, c0 = randn(2, B, C, H, W, device=device, seed=2), randn(2, B, C, H, W, device=device)
    out, (h_n, c_n) = ours(x, (h0, c0))
    x_ref = pixels(x.detach()).requires_grad_()
    ref_out, (ref_h, ref_c) = ref(x_ref, (layers_pixels(h0), layers_pixels(c0)))
    assert out.shape == (B, T, C, H, W) and h_n.shape == c_n.shape == (2, B, C, H, W)
    assert_close(pixels(out), ref_out)
    assert_close(layers_pixels(h_n), ref_h)
    assert_close(layers_pixels(c_n), ref_c)

    weights = randn(*out.shape, device=device, seed=7)  # a random linear loss
    (out * weights).sum().backward()
    (ref_out * pixels(weights)).sum().backward()
    assert_close(pixels(x.grad), x_ref.grad)
    assert_close(ours.cells[1].weight_hh.grad[:, :, 0, 0], ref.weight_hh_l1.grad)
    assert_close(ours.cells[0].bias.grad, ref.bias_ih_l0.grad)


def test_1x1_cell_equals_torch_lstm_cell(device):
    C = 3
    torch.manual_seed(0)
    cell = ConvLSTMCell(C_IN, C, 1, device=device, dtype=F64)
    ref = torch.nn.LSTMCell(C_IN, C, device=device, dtype=F64)
    with torch.no_grad():
        ref.weight_ih.copy_(cell.weight_ih[:, :, 0, 0])
        ref.weight_hh.copy_(cell.weight_hh[:, :, 0, 0])
        ref.bias_ih.copy_(cell.bias)
        ref.bias_hh.zero_()
    x = randn(B, C_IN, H, W, device=device)
    h0, c0 = randn(B, C, H, W, device=device, seed=2), randn(B, C, H, W, device=device, seed=3)
    h, c = cell(x, (h0, c0))
    as_rows = lambda t: t.permute(0, 2, 3, 1).reshape(-1, t.shape[1])  # noqa: E731
    ref_h, ref_c = ref(as_rows(x), (as_rows(h0), as_rows(c0)))
    assert_close(as_rows(h), ref_h)
    assert_close(as_rows(c), ref_c)


# --- (b) autograd against finite differences ------------------------------------------


@DESIGNS
@pytest.mark.parametrize("peephole", [False, True])
def test_gradients_match_finite_differences(peephole, design):
    torch.manual_seed(0)
    model = ConvLSTM(1, 2, 3, peephole=peephole, dtype=F64, input_convolution=design)
    set_peepholes(model)
    names = [n for n, _ in model.named_parameters()]
    params = [p.detach().clone().requires_grad_() for p in model.parameters()]
    x = randn(2, 2, 1, 4, 4).requires_grad_()
    h0 = randn(1, 2, 2, 4, 4, seed=2, scale=0.5).requires_grad_()
    c0 = randn(1, 2, 2, 4, 4, seed=3, scale=0.5).requires_grad_()

    def run(x, h0, c0, *params):
        out, (h_n, c_n) = functional_call(
            model, dict(zip(names, params, strict=True)), (x, (h0, c0))
        )
        return out, h_n, c_n

    assert torch.autograd.gradcheck(run, (x, h0, c0, *params), eps=1e-6, atol=1e-7, fast_mode=True)


# --- (c) the NumPy step, with its own convolution, equals the torch cell --------------


def test_conv2d_same_with_a_one_hot_kernel_shifts_the_image(rng):
    # The kernel with a single 1 at offset (dy, dx) from the centre copies the input
    # pixel at that offset: out[y, x] = x[y + dy, x + dx], zero outside the image.
    x = rng.normal(size=(2, 1, 5, 6))
    kernel = np.zeros((1, 1, 3, 5))
    kernel[0, 0, 2, 0] = 1.0  # dy = +1, dx = -2
    expected = np.zeros_like(x)
    expected[:, :, :-1, 2:] = x[:, :, 1:, :-2]
    np.testing.assert_array_equal(conv2d_same(x, kernel), expected)


@pytest.mark.parametrize("kernel_size", [3, 5, (3, 5)])
@pytest.mark.parametrize("peephole", [False, True])
def test_numpy_step_equals_torch_cell(kernel_size, peephole):
    C = 3
    torch.manual_seed(0)
    cell = ConvLSTMCell(C_IN, C, kernel_size, peephole=peephole, dtype=F64)
    set_peepholes(cell)
    x, h0, c0 = randn(B, C_IN, H, W), randn(B, C, H, W, seed=2), randn(B, C, H, W, seed=3)
    h, c = cell(x, (h0, c0))
    h_np, c_np = convlstm_step_forward(x.numpy(), h0.numpy(), c0.numpy(), *numpy_params(cell))
    assert_close(h, h_np)
    assert_close(c, c_np)


# --- (d) "same" padding and the receptive field ---------------------------------------


@pytest.mark.parametrize("kernel_size", [1, 3, 5, 7])
def test_same_padding_keeps_the_spatial_size(kernel_size):
    model = ConvLSTM(C_IN, 3, kernel_size, num_layers=2, dtype=F64)
    out, (h_n, c_n) = model(randn(B, T, C_IN, 4, 7))
    assert out.shape == (B, T, 3, 4, 7) and h_n.shape == c_n.shape == (2, B, 3, 4, 7)


@pytest.mark.parametrize("kernel_size", [4, (3, 2), 0])
def test_even_kernels_are_rejected(kernel_size):
    with pytest.raises(ValueError, match="odd"):
        ConvLSTMCell(1, 2, kernel_size)
    if isinstance(kernel_size, tuple):
        with pytest.raises(ValueError, match="odd"):
            conv2d_same(np.zeros((1, 1, 5, 5)), np.zeros((1, 1, *kernel_size)))


@pytest.mark.parametrize(("kernel_size", "steps"), [(3, 4), (5, 2), ((3, 5), 2)])
def test_a_step_reaches_exactly_the_kernel_neighbourhood(kernel_size, steps):
    # Perturb the input at one pixel q at the first step only. After step t (1-based)
    # the change has spread exactly (t * k // 2) pixels along each axis: one k x k
    # neighbourhood per step, through the h -> h convolution. Far pixels are untouched.
    kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
    torch.manual_seed(0)
    model = ConvLSTM(1, 2, kernel_size, dtype=F64)
    with torch.no_grad():  # weights of order one, so the change survives several steps
        for k, p in enumerate(model.parameters()):
            p.copy_(randn(*p.shape, seed=20 + k, scale=0.5))
    size, q = 11, 5
    x = randn(1, steps, 1, size, size, scale=0.5)
    x_moved = x.clone()
    x_moved[0, 0, 0, q, q] += 1.0
    changed = (model(x_moved)[0] - model(x)[0]).abs().amax(dim=2)[0] > 1e-10  # (steps, y, x)
    dist_y = (torch.arange(size) - q).abs()[:, None]
    dist_x = (torch.arange(size) - q).abs()[None, :]
    for t in range(1, steps + 1):
        expected = (dist_y <= t * (kh // 2)) & (dist_x <= t * (kw // 2))
        assert torch.equal(changed[t - 1], expected), f"step {t}"
    assert not changed[-1].all()  # the test looks at pixels the change cannot reach


# --- (e) peepholes -----------------------------------------------------------------------


def test_zero_peepholes_equal_the_plain_cell_and_others_do_not():
    torch.manual_seed(0)
    plain = ConvLSTMCell(C_IN, 3, 3, dtype=F64)
    peep = ConvLSTMCell(C_IN, 3, 3, peephole=True, dtype=F64)
    assert peep.load_state_dict(plain.state_dict(), strict=False).missing_keys == [
        "weight_ci",
        "weight_cf",
        "weight_co",
    ]
    x, state = randn(B, C_IN, H, W), (randn(B, 3, H, W, seed=2), randn(B, 3, H, W, seed=3))
    with torch.no_grad():
        for name in ("weight_ci", "weight_cf", "weight_co"):
            getattr(peep, name).zero_()
    for a, b in zip(peep(x, state), plain(x, state), strict=True):
        assert_close(a, b)
    # Each peephole on its own changes the result.
    for name in ("weight_ci", "weight_cf", "weight_co"):
        with torch.no_grad():
            getattr(peep, name).fill_(1.0)
        h, _ = peep(x, state)
        assert (h - plain(x, state)[0]).abs().max() > 1e-2, name
        with torch.no_grad():
            getattr(peep, name).zero_()


# --- (f) layers, batch_first, states: against the NumPy step ---------------------------


@DESIGNS
@pytest.mark.parametrize("batch_first", [True, False])
def test_stacked_layers_equal_numpy_steps(device, batch_first, design):
    # Two layers with different channels (states as lists), peepholes, an initial
    # state: the module against a plain loop of NumPy steps, layer k reading layer k-1.
    hidden = [3, 2]
    torch.manual_seed(0)
    model = ConvLSTM(
        C_IN,
        hidden,
        3,
        num_layers=2,
        batch_first=batch_first,
        peephole=True,
        input_convolution=design,
    )
    set_peepholes(model)
    model = model.to(device, F64)
    x = randn(B, T, C_IN, H, W)
    h0 = [randn(B, c, H, W, seed=2 + k) for k, c in enumerate(hidden)]
    c0 = [randn(B, c, H, W, seed=4 + k) for k, c in enumerate(hidden)]
    to_dev = lambda ts: [t.to(device) for t in ts]  # noqa: E731
    x_in = x if batch_first else x.transpose(0, 1)
    out, (h_n, c_n) = model(x_in.to(device), (to_dev(h0), to_dev(c0)))

    seq = [x[:, t].numpy() for t in range(T)]
    for k, cell in enumerate(model.cells):
        h, c = h0[k].numpy(), c0[k].numpy()
        for t in range(T):
            h, c = convlstm_step_forward(seq[t], h, c, *numpy_params(cell))
            seq[t] = h
        assert_close(h_n[k].cpu(), h)
        assert_close(c_n[k].cpu(), c)
    expected = np.stack(seq, axis=1 if batch_first else 0)
    assert out.device == x_in.to(device).device
    assert_close(out.cpu(), expected)
    assert isinstance(h_n, list) and [t.shape[1] for t in h_n] == hidden


@pytest.mark.parametrize("channels", [(2, 5), (5, 2)])  # training: per step, then hoisted
def test_both_designs_and_auto_give_the_same_outputs_and_gradients(channels):
    c_in, c_hid = channels
    x = randn(B, T, c_in, H, W)
    results = []
    for design in ("hoisted", "per_step", "auto"):
        torch.manual_seed(0)
        model = ConvLSTM(
            c_in, c_hid, 3, num_layers=2, peephole=True, dtype=F64, input_convolution=design
        )
        set_peepholes(model)
        xg = x.clone().requires_grad_()
        out, (h_n, c_n) = model(xg)
        loss = (out * randn(*out.shape, seed=7)).sum() + c_n.sum()
        results.append([out, c_n, *torch.autograd.grad(loss, [xg, *model.parameters()])])
    for other in results[1:]:
        for a, b in zip(results[0], other, strict=True):
            assert_close(a, b)
    with torch.no_grad():  # inference: auto convolves per step, whatever the channels
        assert_close(model(x)[0], results[0][0])
    with pytest.raises(ValueError, match="input_convolution must be one of"):
        ConvLSTM(1, 2, 3, input_convolution="fused")


def test_state_passing_splits_a_sequence(device):
    # Equal channels: states are (num_layers, B, C, H, W) tensors. Running the first
    # steps, then the rest from the returned state, must equal one run over all steps.
    model = ConvLSTM(C_IN, 3, 3, num_layers=2, device=device, dtype=F64)
    x = randn(B, 5, C_IN, H, W, device=device)
    out, (h_n, c_n) = model(x)
    out1, state = model(x[:, :2])
    out2, (h2, c2) = model(x[:, 2:], state)
    assert h_n.shape == c_n.shape == (2, B, 3, H, W)
    assert_close(torch.cat([out1, out2], dim=1), out)
    assert_close(h2, h_n)
    assert_close(c2, c_n)
    assert_close(out[:, -1], h_n[-1])  # the output is the last layer's h


def test_parameters_layout_and_init():
    cell = ConvLSTMCell(2, 3, (3, 5), peephole=True)
    shapes = {n: tuple(p.shape) for n, p in cell.named_parameters()}
    assert shapes == {
        "weight_ih": (12, 2, 3, 5),
        "weight_hh": (12, 3, 3, 5),
        "bias": (12,),
        "weight_ci": (3, 1, 1),
        "weight_cf": (3, 1, 1),
        "weight_co": (3, 1, 1),
    }
    bound = 1 / math.sqrt((2 + 3) * 3 * 5)
    for name, p in cell.named_parameters():
        assert p.abs().max() <= bound and p.abs().max() > bound / 2, name
    assert "bias" not in dict(ConvLSTMCell(2, 3, 3, bias=False).named_parameters())


# --- (g) shape errors name the expected and the received shape ------------------------


@pytest.mark.parametrize(
    ("shape", "expected"),
    [
        ((B, C_IN, H, W), "x must have 5 dimensions (B, T, C_in=2, Y, X), got shape (2, 2, 5, 6)"),
        ((B, T, 3, H, W), "x must have shape (B=2, T=3, C_in=2, Y, X), got (2, 3, 3, 5, 6)"),
    ],
)
def test_input_shape_errors(shape, expected):
    model = ConvLSTM(C_IN, 3, 3, dtype=F64)
    with pytest.raises(ShapeError, match=re.escape(expected)):
        model(torch.zeros(shape, dtype=F64))


def test_state_shape_errors():
    model = ConvLSTM(C_IN, 3, 3, num_layers=2, dtype=F64)
    x, good = torch.zeros(B, T, C_IN, H, W, dtype=F64), torch.zeros(2, B, 3, H, W, dtype=F64)
    with pytest.raises(ShapeError, match=re.escape("(num_layers=2, B=2, C_hid=3, Y=5, X=6)")):
        model(x, (good, torch.zeros(2, B, 3, H, W + 1, dtype=F64)))
    with pytest.raises(ShapeError, match=re.escape("got (2, 2, 3, 5, 7)")):
        model(x, (good, torch.zeros(2, B, 3, H, W + 1, dtype=F64)))
    with pytest.raises(ShapeError, match="num_layers=2 tensors .* got 1"):
        model(x, ([good[0]], [good[0]]))
    mixed = ConvLSTM(C_IN, [3, 4], 3, num_layers=2, dtype=F64)
    with pytest.raises(ShapeError, match=re.escape("state[1][1] must have shape (B=2, 4, Y=5")):
        mixed(x, ([good[0], good[0, :, :1].expand(B, 4, H, W)], [good[0], good[0]]))
    with pytest.raises(ShapeError, match=re.escape("state[0] must have shape (B=2, C_hid=3")):
        ConvLSTMCell(C_IN, 3, 3, dtype=F64)(x[:, 0], (good[0, :1], good[0]))


def test_numpy_shape_errors(rng):
    x, h = rng.normal(size=(B, C_IN, H, W)), rng.normal(size=(B, 3, H, W))
    Wx, Wh, b = rng.normal(size=(12, C_IN, 3, 3)), rng.normal(size=(12, 3, 3, 3)), np.zeros(12)
    with pytest.raises(ShapeError, match=re.escape("Wh must have shape (4C_hid=12, C_hid=3, kh=3")):
        convlstm_step_forward(x, h, h, Wx, Wh[:, :, :, :2], b)
    with pytest.raises(ShapeError, match=re.escape("Wx must have shape (4C_hid=12, C_in=2")):
        convlstm_step_forward(x, h, h, Wx[:, :1], Wh, b)
