"""``lstmlib.nn.RNN`` and ``RNNCell`` against ``torch.nn.RNN`` and ``torch.nn.RNNCell``
with the same weights (float64, so agreement is to rounding error)."""

from __future__ import annotations

import pytest
import torch
from layer_pairs import F64, assert_all_close, assert_close, linear_loss, randn
from layer_pairs import make_pair as make_layer_pair
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from lstmlib.nn import RNN, RNNCell, identity_init_, record_gates
from lstmlib.shapes import ShapeError

I, H, L, N = 3, 5, 4, 2


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


# --- shared with LSTM and GRU: lengths, packing, bidirectional, dropout, recording ----

LENGTHS = [3, 4]  # any order; max(LENGTHS) == L


def make_pair(device, seed=0, **kwargs):
    """Our RNN and torch's, same constructor arguments, our weights copied into torch's."""
    return make_layer_pair(RNN, torch.nn.RNN, I, H, device, seed, **kwargs)


def padded_input(device="cpu", batch_first=False, fill=0.0):
    """(L, N, I) (or (N, L, I)) with ``fill`` past each sequence's length."""
    x = randn(L, N, I, device=device)
    steps = torch.arange(L, device=device)[:, None]
    x = x.masked_fill((steps >= torch.tensor(LENGTHS, device=device))[..., None], fill)
    return x.transpose(0, 1).contiguous() if batch_first else x


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("enforce_sorted", [False, True])
def test_packed_input_matches_torch(device, bidirectional, nonlinearity, enforce_sorted):
    D = 2 if bidirectional else 1
    ours, ref = make_pair(
        device, num_layers=2, bidirectional=bidirectional, nonlinearity=nonlinearity
    )
    x, lengths = padded_input(device), LENGTHS
    if enforce_sorted:  # torch then wants the batch sorted longest first
        order = sorted(range(N), key=lambda b: -LENGTHS[b])
        x, lengths = x[:, order], [LENGTHS[b] for b in order]
    h0 = randn(D * 2, N, H, device=device, seed=2)
    results = []
    for model in (ours, ref):
        xg, hg = x.clone().requires_grad_(), h0.clone().requires_grad_()
        out, h_n = model(pack_padded_sequence(xg, lengths, enforce_sorted=enforce_sorted), hg)
        inputs = [xg, hg, *model.parameters()]
        results.append((out, h_n, torch.autograd.grad(linear_loss(out.data, h_n), inputs)))
    (out, h_n, g), (ref_out, ref_h_n, ref_g) = results
    assert isinstance(out, PackedSequence)
    assert torch.equal(out.batch_sizes, ref_out.batch_sizes)
    for name in ("sorted_indices", "unsorted_indices"):
        ours_idx, ref_idx = getattr(out, name), getattr(ref_out, name)
        assert (ours_idx is None) == (ref_idx is None)
        assert ours_idx is None or torch.equal(ours_idx, ref_idx)
    assert out.data.shape == (sum(LENGTHS), D * H)
    assert_close(out.data, ref_out.data)
    assert_close(h_n, ref_h_n)
    assert_all_close(g, ref_g)


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
def test_lengths_matches_packed_torch(device, batch_first, bidirectional):
    # NaN padding: steps past a sequence's length must not touch its results or
    # the gradients (torch's packed path never sees them).
    D = 2 if bidirectional else 1
    ours, ref = make_pair(
        device, num_layers=2, batch_first=batch_first, bidirectional=bidirectional
    )
    x = padded_input(device, batch_first, fill=float("nan"))
    h0 = randn(D * 2, N, H, device=device, seed=2)
    lengths = torch.tensor(LENGTHS)
    xg = x.clone().requires_grad_()
    out, h_n = ours(xg, h0, lengths=lengths)
    g = torch.autograd.grad(linear_loss(out, h_n), [xg, *ours.parameters()])

    xr = x.nan_to_num(0.0).requires_grad_()
    packed = pack_padded_sequence(xr, lengths, batch_first=batch_first, enforce_sorted=False)
    ref_packed, ref_h_n = ref(packed, h0)
    ref_out, _ = pad_packed_sequence(ref_packed, batch_first=batch_first)
    ref_g = torch.autograd.grad(linear_loss(ref_out, ref_h_n), [xr, *ref.parameters()])
    assert out.shape == ref_out.shape  # max(LENGTHS) == L, so both are L long
    assert_close(out, ref_out)  # including the zeros past each length
    assert_close(h_n, ref_h_n)
    assert_all_close(g, ref_g)


@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_bidirectional_matches_torch(device, num_layers, batch_first, nonlinearity):
    kwargs = dict(num_layers=num_layers, batch_first=batch_first, nonlinearity=nonlinearity)
    ours, ref = make_pair(device, bidirectional=True, **kwargs)
    assert [(k, v.shape) for k, v in ours.state_dict().items()] == [
        (k, v.shape) for k, v in ref.state_dict().items()
    ]
    x = randn(*((N, L, I) if batch_first else (L, N, I)), device=device)
    h0 = randn(2 * num_layers, N, H, device=device, seed=2)
    results = []
    for model in (ours, ref):
        xg, hg = x.clone().requires_grad_(), h0.clone().requires_grad_()
        out, h_n = model(xg, hg)
        inputs = [xg, hg, *model.parameters()]
        results.append((out, h_n, torch.autograd.grad(linear_loss(out, h_n), inputs)))
    (out, h_n, g), (ref_out, ref_h_n, ref_g) = results
    assert out.shape == ref_out.shape == ((N, L, 2 * H) if batch_first else (L, N, 2 * H))
    assert_close(out, ref_out)
    assert_close(h_n, ref_h_n)
    assert_all_close(g, ref_g)
    # Unbatched too.
    x0, h00 = (x[0] if batch_first else x[:, 0]), h0[:, 0]
    assert_all_close(ours(x0, h00), ref(x0, h00))


def test_initialisation_is_torchs_when_bidirectional():
    torch.manual_seed(0)
    ours = RNN(I, H, num_layers=2, bidirectional=True)
    torch.manual_seed(0)
    ref = torch.nn.RNN(I, H, num_layers=2, bidirectional=True)
    names = [name for name, _ in ref.named_parameters()]
    assert [name for name, _ in ours.named_parameters()] == names
    for (name, p), q in zip(ours.named_parameters(), ref.parameters(), strict=True):
        assert torch.equal(p, q), name


def test_dropout_in_eval_mode_matches_torch(device):
    ours, ref = make_pair(device, num_layers=3, dropout=0.5)
    ours.eval(), ref.eval()
    x = randn(L, N, I, device=device)
    assert_all_close(ours(x), ref(x))


def test_dropout_one_zeroes_the_input_of_the_second_layer():
    ours, _ = make_pair("cpu", num_layers=2, dropout=1.0)
    h0 = randn(2, N, H, seed=2)
    out, h_n = ours.train()(randn(L, N, I), h0)
    # Layer 1 sees zeros: a one-layer torch RNN with layer 1's weights, on zeros.
    second = torch.nn.RNN(H, H, dtype=F64)
    second.load_state_dict(
        {k.replace("_l1", "_l0"): v for k, v in ours.state_dict().items() if k.endswith("_l1")}
    )
    ref_out, ref_h1 = second(torch.zeros(L, N, H, dtype=F64), h0[1:])
    assert_close(out, ref_out)
    assert_close(h_n[1:], ref_h1)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_dropout_in_train_mode_matches_torch_with_the_same_seed(bidirectional):
    # torch's CPU RNN draws its masks with the call F.dropout makes, so the same
    # seed gives the same masks.
    ours, ref = make_pair("cpu", num_layers=3, dropout=0.5, bidirectional=bidirectional)
    x = randn(L, N, I)
    torch.manual_seed(5)
    out = ours.train()(x)[0]
    torch.manual_seed(5)
    ref_out = ref.train()(x)[0]
    assert_close(out, ref_out)
    assert not torch.allclose(out, ours.eval()(x)[0])  # dropout did something


@pytest.mark.parametrize("bidirectional", [False, True])
def test_record_gates_records_h_like_torch(device, bidirectional):
    ours, ref = make_pair(device, num_layers=2, bidirectional=bidirectional)
    D = 2 if bidirectional else 1
    x = randn(L, N, I, device=device)
    with record_gates(ours) as record:
        out, _ = ours(x)
    ref_out, ref_h_n = ref(x)
    assert len(record) == 2 * D
    for k, rec in enumerate(record):
        assert set(rec) == {"h"}
        assert rec["h"].shape == (L, N, H) and not rec["h"].requires_grad
        # In step order: the backward direction's final state is at step 0.
        backward = bidirectional and k % 2 == 1
        assert_close(rec["h"][0 if backward else -1], ref_h_n[k])
    assert_close(torch.cat([r["h"] for r in record[-D:]], dim=-1), ref_out)
    assert torch.equal(out, ours(x)[0])  # recording changes nothing


def test_record_gates_with_lengths_zeroes_padding_and_cell_steps_match():
    ours, _ = make_pair("cpu")
    x = randn(L, N, I)
    with record_gates(ours) as record:
        _, h_n = ours(x, lengths=LENGTHS)
    h = record[0]["h"]
    assert_close(h[torch.tensor(LENGTHS) - 1, torch.arange(N)], h_n[0])
    pad = torch.arange(L)[:, None] >= torch.tensor(LENGTHS)
    assert h[pad].eq(0).all() and h[~pad].ne(0).all()
    cell = RNNCell(I, H, dtype=F64)
    cell.load_state_dict({k[:-3]: v for k, v in ours.state_dict().items()})
    with record_gates(cell) as steps:
        state = None
        for t in range(L):
            state = cell(x[t], state)
    assert len(steps) == 1 and set(steps[0]) == {"h"}
    assert_close(steps[0]["h"][~pad], h[~pad])


def test_constructor_arguments_are_torchs_in_order():
    # Positional, in torch.nn.RNN's order: num_layers, nonlinearity, bias,
    # batch_first, dropout, bidirectional.
    ours = RNN(I, H, 2, "relu", False, True, 0.25, True)
    ref = torch.nn.RNN(I, H, 2, "relu", False, True, 0.25, True)
    for name in ("num_layers", "nonlinearity", "bias", "batch_first", "dropout"):
        assert getattr(ours, name) == getattr(ref, name), name
    assert ours.bidirectional == ref.bidirectional is True
    assert repr(ours) == "RNN(3, 5, num_layers=2, bias=False, batch_first=True, " + (
        "dropout=0.25, bidirectional=True, nonlinearity='relu')"
    )
    cell = RNNCell(I, H, False, "relu")
    assert (cell.bias, cell.nonlinearity) == (False, "relu")


def test_wrong_lengths_and_dropout_are_rejected():
    model = RNN(I, H, dtype=F64)
    x = torch.zeros(L, N, I, dtype=F64)
    with pytest.raises(ShapeError, match=r"lengths must be at most L=4"):
        model(x, lengths=[5, 2])
    with pytest.raises(ValueError, match="lengths must be at least 1"):
        model(x, lengths=[0, 2])
    with pytest.raises(ValueError, match="lengths= needs batched input"):
        model(x[:, 0], lengths=[2])
    with pytest.raises(ValueError, match=r"dropout must be a number in \[0, 1\], got 1.5"):
        RNN(I, H, num_layers=2, dropout=1.5)
    with pytest.warns(UserWarning, match="dropout acts between layers only") as warned:
        RNN(I, H, dropout=0.5)
    assert warned[0].filename == __file__  # points at the caller's line


# --- identity_init_: Le, Jaitly & Hinton's (2015) IRNN initialisation -----------------


def test_identity_init_sets_identity_recurrence_zero_biases_small_inputs():
    torch.manual_seed(0)
    rnn = identity_init_(RNN(200, 300, num_layers=2, bidirectional=True), input_std=0.01)
    for name, p in rnn.named_parameters():
        if name.startswith("weight_hh"):
            assert torch.equal(p, torch.eye(300)), name
        elif name.startswith("bias"):
            assert not p.any(), name
        else:  # weight_ih: 60,000 or 180,000 normal draws, mean 0 and std 0.01
            assert abs(p.mean().item()) < 1e-4, name
            assert p.std().item() == pytest.approx(0.01, rel=0.02), name


def test_relu_irnn_carries_a_nonnegative_state_and_its_gradient_unchanged():
    # With zero input a ReLU IRNN computes h_t = relu(h_{t-1}): a state > 0 stays as it
    # is for any number of steps, and d h_T / d h_0 is the identity (relu' = 1 there).
    # A tanh RNN with the same weights contracts the state: h_t = tanh(h_{t-1}), iterated
    # here by hand.
    steps = 50
    h0 = torch.tensor([[[0.1, 0.3, 1.0, 2.5]]], dtype=F64)  # (1, N=1, H=4)
    x = torch.zeros(steps, 1, 2, dtype=F64)
    relu = identity_init_(RNN(2, 4, nonlinearity="relu", dtype=F64))
    h0g = h0.clone().requires_grad_()
    _, h_n = relu(x, h0g)
    assert_close(h_n, h0)
    jacobian = torch.stack(
        [torch.autograd.grad(h_n[0, 0, k], h0g, retain_graph=True)[0][0, 0] for k in range(4)]
    )
    assert_close(jacobian, torch.eye(4, dtype=F64))

    tanh = identity_init_(RNN(2, 4, dtype=F64))
    expected = h0.clone()
    for _ in range(steps):
        expected = torch.tanh(expected)
    assert_close(tanh(x, h0)[1], expected)
    assert (expected < 0.9 * h0).all()  # the contraction is real


def test_identity_init_matches_on_torch_modules_and_cells():
    # The same seed gives the same parameters on our RNN and on torch.nn.RNN (the same
    # names in the same order), and the cell gets the same treatment.
    torch.manual_seed(3)
    ours = identity_init_(RNN(3, 5, nonlinearity="relu"))
    torch.manual_seed(3)
    theirs = identity_init_(torch.nn.RNN(3, 5, nonlinearity="relu"))
    for (name, a), (_, b) in zip(
        ours.state_dict().items(), theirs.state_dict().items(), strict=True
    ):
        assert torch.equal(a, b), name
    cell = identity_init_(RNNCell(3, 5, nonlinearity="relu"), input_std=0.0)
    assert torch.equal(cell.weight_hh, torch.eye(5)) and not cell.weight_ih.any()


def test_identity_init_rejects_other_modules_and_bad_std():
    with pytest.raises(TypeError, match="RNN or RNNCell"):
        identity_init_(torch.nn.LSTM(3, 5))
    with pytest.raises(ValueError, match="input_std"):
        identity_init_(RNN(3, 5), input_std=-0.1)
