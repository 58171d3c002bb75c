"""``lstmlib.nn.GRU``, ``GRUCell`` and ``record_gates`` on a GRU against ``torch.nn.GRU``
and ``torch.nn.GRUCell`` with the same weights (float64, so agreement is to rounding
error). The bidirectional GRU is tested in ``test_bidirectional.py``."""

from __future__ import annotations

import math

import pytest
import torch
from layer_pairs import F64, assert_all_close, assert_close, grads, linear_loss, randn, zero_weights
from layer_pairs import make_pair as make_layer_pair
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from lstmlib.nn import GRU, LSTM, GRUCell, gru_step, record_gates
from lstmlib.shapes import ShapeError

I, H, L, N = 3, 5, 4, 3
LENGTHS = [2, 4, 1]  # not sorted, on purpose


def make_pair(device="cpu", seed=0, **kwargs):
    """Our GRU and torch's, same constructor arguments, our weights copied into torch's."""
    return make_layer_pair(GRU, torch.nn.GRU, I, H, device, seed, **kwargs)


# --- forward and gradients against torch.nn.GRU -------------------------------------


@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("with_state", [False, True])
@pytest.mark.parametrize("bias", [True, False])
def test_forward_and_gradients_match_torch(device, num_layers, batch_first, with_state, bias):
    ours, ref = make_pair(device, num_layers=num_layers, batch_first=batch_first, bias=bias)
    x = randn(*((N, L, I) if batch_first else (L, N, I)), device=device)
    h0 = randn(num_layers, N, H, device=device, seed=2) if with_state else None
    results = []
    for model in (ours, ref):
        xg = x.clone().requires_grad_()
        hg = None if h0 is None else h0.clone().requires_grad_()
        out, h_n = model(xg, hg)
        inputs = [xg, *([hg] if with_state else []), *model.parameters()]
        results.append((out, h_n, grads(linear_loss(out, h_n), inputs)))
    (out, h_n, g), (ref_out, ref_h_n, ref_g) = results
    assert out.device == x.device and out.shape == ref_out.shape
    assert h_n.shape == (num_layers, N, H)
    assert_close(out, ref_out)
    assert_close(h_n, ref_h_n)
    assert_all_close(g, ref_g)


@pytest.mark.parametrize("with_state", [False, True])
def test_unbatched_input_matches_torch(device, with_state):
    ours, ref = make_pair(device, num_layers=2)
    x = randn(L, I, device=device)
    h0 = randn(2, H, device=device, seed=2) if with_state else None
    out, h_n = ours(x, h0)
    ref_out, ref_h_n = ref(x, h0)
    assert out.shape == (L, H) and h_n.shape == (2, H)
    assert_close(out, ref_out)
    assert_close(h_n, ref_h_n)


# --- variable lengths ---------------------------------------------------------------


def padded_input(device, batch_first=False, fill=0.0):
    """(L, N, I) (or (N, L, I)) with ``fill`` past each sequence's length."""
    x = randn(L, N, I, device=device)
    steps = torch.arange(L, device=device)[:, None]
    x = x.masked_fill((steps >= torch.tensor(LENGTHS, device=device))[..., None], fill)
    return x.transpose(0, 1).contiguous() if batch_first else x


@pytest.mark.parametrize("enforce_sorted", [False, True])
def test_packed_input_matches_torch(device, enforce_sorted):
    ours, ref = make_pair(device, num_layers=2)
    x, lengths = padded_input(device), LENGTHS
    if enforce_sorted:  # torch then wants the batch sorted longest first
        order = sorted(range(N), key=lambda b: -LENGTHS[b])
        x, lengths = x[:, order], [LENGTHS[b] for b in order]
    h0 = randn(2, N, H, device=device, seed=2)
    results = []
    for model in (ours, ref):
        xg, hg = x.clone().requires_grad_(), h0.clone().requires_grad_()
        out, h_n = model(pack_padded_sequence(xg, lengths, enforce_sorted=enforce_sorted), hg)
        inputs = [xg, hg, *model.parameters()]
        results.append((out, h_n, grads(linear_loss(out.data, h_n), inputs)))
    (out, h_n, g), (ref_out, ref_h_n, ref_g) = results
    assert isinstance(out, PackedSequence)
    assert torch.equal(out.batch_sizes, ref_out.batch_sizes)
    for name in ("sorted_indices", "unsorted_indices"):
        ours_idx, ref_idx = getattr(out, name), getattr(ref_out, name)
        assert (ours_idx is None) == (ref_idx is None)
        assert ours_idx is None or torch.equal(ours_idx, ref_idx)
    assert_close(out.data, ref_out.data)
    assert_close(h_n, ref_h_n)
    assert_all_close(g, ref_g)


@pytest.mark.parametrize("batch_first", [False, True])
def test_lengths_matches_packed_torch(device, batch_first):
    # NaN padding: steps past a sequence's length must not touch its results or
    # the gradients (torch's packed path never sees them).
    ours, ref = make_pair(device, num_layers=2, batch_first=batch_first)
    x = padded_input(device, batch_first, fill=float("nan"))
    h0 = randn(2, N, H, device=device, seed=2)
    lengths = torch.tensor(LENGTHS)
    xg = x.clone().requires_grad_()
    out, h_n = ours(xg, h0, lengths=lengths)
    g = grads(linear_loss(out, h_n), [xg, *ours.parameters()])

    xr = x.nan_to_num(0.0).requires_grad_()
    packed = pack_padded_sequence(xr, lengths, batch_first=batch_first, enforce_sorted=False)
    ref_packed, ref_h_n = ref(packed, h0)
    ref_out, _ = pad_packed_sequence(ref_packed, batch_first=batch_first)
    ref_g = grads(linear_loss(ref_out, ref_h_n), [xr, *ref.parameters()])
    assert out.shape == ref_out.shape  # max(LENGTHS) == L, so both are L long
    assert_close(out, ref_out)  # including the zeros past each length
    assert_close(h_n, ref_h_n)
    assert_all_close(g, ref_g)


# --- dropout ------------------------------------------------------------------------


def test_dropout_in_eval_mode_matches_torch(device):
    ours, ref = make_pair(device, num_layers=3, dropout=0.5)
    ours.eval(), ref.eval()
    x = randn(L, N, I, device=device)
    assert_all_close(ours(x), ref(x))


def test_dropout_one_zeroes_the_input_of_the_second_layer():
    ours, _ = make_pair(num_layers=2, dropout=1.0)
    h0 = randn(2, N, H, seed=2)
    out, h_n = ours.train()(randn(L, N, I), h0)
    # Layer 1 sees zeros: a one-layer torch GRU with layer 1's weights, on zeros.
    second = torch.nn.GRU(H, H, dtype=F64)
    second.load_state_dict(
        {k.replace("_l1", "_l0"): v for k, v in ours.state_dict().items() if k.endswith("_l1")}
    )
    ref_out, ref_h1 = second(torch.zeros(L, N, H, dtype=F64), h0[1:])
    assert_close(out, ref_out)
    assert_close(h_n[1:], ref_h1)


def test_dropout_in_train_mode_matches_torch_with_the_same_seed():
    # As for the LSTM: torch's CPU GRU draws its masks with the call F.dropout makes.
    ours, ref = make_pair(num_layers=3, dropout=0.5)
    x = randn(L, N, I)
    torch.manual_seed(5)
    out = ours.train()(x)[0]
    torch.manual_seed(5)
    ref_out = ref.train()(x)[0]
    assert_close(out, ref_out)
    assert not torch.allclose(out, ours.eval()(x)[0])  # dropout did something


# --- record_gates -------------------------------------------------------------------


def reference_gates(ref, x, h_prev, layer=0):
    """r, z, n of one torch layer recomputed from its weights and the hidden states
    ``h_prev: (L, N, H)`` before each step."""
    w_ih, w_hh = getattr(ref, f"weight_ih_l{layer}"), getattr(ref, f"weight_hh_l{layer}")
    b_ih, b_hh = getattr(ref, f"bias_ih_l{layer}"), getattr(ref, f"bias_hh_l{layer}")
    ax_r, ax_z, ax_n = (x @ w_ih.T + b_ih).split(H, dim=-1)
    ah_r, ah_z, ah_n = (h_prev @ w_hh.T + b_hh).split(H, dim=-1)
    r, z = (ax_r + ah_r).sigmoid(), (ax_z + ah_z).sigmoid()
    return {"r": r, "z": z, "n": (ax_n + r * ah_n).tanh()}


@pytest.mark.parametrize("batch_first", [False, True])
def test_record_gates_matches_torch(device, batch_first):
    ours, ref = make_pair(device, num_layers=2, batch_first=batch_first)
    x = randn(*((N, L, I) if batch_first else (L, N, I)), device=device)
    h0 = randn(2, N, H, device=device, seed=2)
    with record_gates(ours) as record:
        out = ours(x, h0)[0]
    ref_out, ref_h_n = ref(x, h0)
    assert len(record) == 2
    x_tm = x.transpose(0, 1) if batch_first else x
    for k, rec in enumerate(record):
        assert set(rec) == {"r", "z", "n", "h"}
        assert all(v.shape == (L, N, H) and not v.requires_grad for v in rec.values())
        assert_close(rec["h"][-1], ref_h_n[k])
    assert_close(record[1]["h"], ref_out.transpose(0, 1) if batch_first else ref_out)
    h_prev = torch.cat([h0[:1], record[0]["h"][:-1]])
    for name, value in reference_gates(ref, x_tm, h_prev).items():
        assert_close(record[0][name], value)
    assert torch.equal(out, ours(x, h0)[0])  # recording changes nothing


def test_record_gates_with_lengths_zeroes_padding_and_keeps_final_states():
    ours, _ = make_pair()
    with record_gates(ours) as record:
        _, h_n = ours(randn(L, N, I), lengths=LENGTHS)
    rec = record[0]
    assert_close(rec["h"][torch.tensor(LENGTHS) - 1, torch.arange(N)], h_n[0])
    pad = torch.arange(L)[:, None] >= torch.tensor(LENGTHS)
    assert all(v[pad].eq(0).all() and v[~pad].ne(0).all() for v in rec.values())


def test_record_gates_concatenates_cell_steps_like_the_layer():
    ours, _ = make_pair()
    x = randn(L, N, I)
    with record_gates(ours) as whole:
        ours(x)
    cell = GRUCell(I, H, dtype=F64)
    cell.load_state_dict({k[:-3]: v for k, v in ours.state_dict().items()})
    with record_gates(cell) as steps:
        h = None
        for t in range(L):
            h = cell(x[t], h)
    assert len(steps) == 1 and set(steps[0]) == {"r", "z", "n", "h"}
    for name, value in whole[0].items():
        assert_close(steps[0][name], value)


def test_record_gates_needs_exactly_one_recurrent_layer():
    with pytest.raises(ValueError, match="exactly one GRU or LSTM, found 2"):
        with record_gates(torch.nn.ModuleList([GRU(I, H), LSTM(I, H)])):
            pass
    with pytest.raises(ValueError, match="exactly one LSTM, LSTMCell, GRU or GRUCell, found 0"):
        with record_gates(torch.nn.Linear(2, 2)):
            pass


# --- GRUCell and gru_step -----------------------------------------------------------


@pytest.mark.parametrize("bias", [True, False])
def test_cell_matches_torch_cell(device, bias):
    ours = GRUCell(I, H, bias=bias, dtype=F64, device=device)
    ref = torch.nn.GRUCell(I, H, bias=bias, dtype=F64, device=device)
    assert [(k, v.shape) for k, v in ours.state_dict().items()] == [
        (k, v.shape) for k, v in ref.state_dict().items()
    ]
    ref.load_state_dict(ours.state_dict())
    x, h = randn(N, I, device=device), randn(N, H, device=device, seed=3)
    results = []
    for model in (ours, ref):
        xg, hg = x.clone().requires_grad_(), h.clone().requires_grad_()
        h1 = model(xg, hg)
        results.append((h1, grads(linear_loss(h1), [xg, hg, *model.parameters()])))
    assert_close(results[0][0], results[1][0])
    assert_all_close(results[0][1], results[1][1])
    assert_close(ours(x), ref(x))
    assert_close(ours(x[0], h[0]), ref(x[0], h[0]))  # unbatched


def test_gru_step_gate_order_is_torchs():
    cell = torch.nn.GRUCell(I, H, dtype=F64)
    x, h = randn(N, I), randn(N, H, seed=3)
    h1, gates = gru_step(x, h, *cell.parameters())
    assert_close(h1, cell(x, h))
    ax = x @ cell.weight_ih.T + cell.bias_ih
    ah = h @ cell.weight_hh.T + cell.bias_hh
    r = (ax[:, :H] + ah[:, :H]).sigmoid()
    z = (ax[:, H : 2 * H] + ah[:, H : 2 * H]).sigmoid()
    n = (ax[:, 2 * H :] + r * ah[:, 2 * H :]).tanh()
    assert_all_close(gates, (r, z, n))


# --- parameters ---------------------------------------------------------------------


@pytest.mark.parametrize("cls", ["GRU", "GRUCell"])
def test_initialisation_is_torchs(cls):
    ours_cls, ref_cls = {"GRU": (GRU, torch.nn.GRU), "GRUCell": (GRUCell, torch.nn.GRUCell)}[cls]
    kwargs = {"num_layers": 2} if cls == "GRU" else {}
    torch.manual_seed(0)
    ours = ours_cls(I, H, **kwargs)
    torch.manual_seed(0)
    ref = ref_cls(I, H, **kwargs)
    for (name, p), q in zip(ours.named_parameters(), ref.parameters(), strict=True):
        assert torch.equal(p, q), name
        assert p.abs().max() <= H**-0.5


def test_constructor_arguments_are_torchs_in_order():
    # Positional, in torch.nn.GRU's order: num_layers, bias, batch_first, dropout,
    # bidirectional.
    ours = GRU(I, H, 2, False, True, 0.25, True)
    ref = torch.nn.GRU(I, H, 2, False, True, 0.25, True)
    for name in ("num_layers", "bias", "batch_first", "dropout", "bidirectional"):
        assert getattr(ours, name) == getattr(ref, name), name
    assert repr(ours) == "GRU(3, 5, num_layers=2, bias=False, batch_first=True, " + (
        "dropout=0.25, bidirectional=True)"
    )


def test_device_and_dtype_arguments_and_to(device):
    model = GRU(I, H, dtype=F64, device=device)
    assert all(p.dtype == F64 and p.device.type == device.type for p in model.parameters())
    model = GRU(I, H, num_layers=2).to(device=device, dtype=F64)
    x = torch.randn(L, N, I, dtype=F64, device=device)
    for out, h_n in (model(x), model(x, lengths=torch.tensor(LENGTHS, device=device))):
        for t in (out, h_n):
            assert t.device.type == device.type and t.dtype == F64


# --- argument checks ----------------------------------------------------------------


def test_wrong_input_size_names_expected_and_received_shape():
    model = GRU(I, H, dtype=F64)
    with pytest.raises(
        ShapeError, match=r"input must have shape \(L=4, N=3, I=3\), got \(4, 3, 7\)"
    ):
        model(torch.zeros(L, N, 7, dtype=F64))
    model.batch_first = True
    with pytest.raises(
        ShapeError, match=r"input must have shape \(N=3, L=4, I=3\), got \(3, 4, 7\)"
    ):
        model(torch.zeros(N, L, 7, dtype=F64))
    with pytest.raises(ShapeError, match=r"input.data must have shape \(\*, I=3\), got \(6, 7\)"):
        model(pack_padded_sequence(torch.zeros(L, N, 7, dtype=F64), [2, 2, 2]))


def test_wrong_hx_names_expected_and_received_shape():
    model = GRU(I, H, num_layers=2, dtype=F64)
    x = torch.zeros(L, N, I, dtype=F64)
    expected = r"hx must have shape \(num_layers=2, N=3, H=5\), got "
    with pytest.raises(ShapeError, match=expected + r"\(1, 3, 5\)"):
        model(x, torch.zeros(1, N, H, dtype=F64))
    with pytest.raises(ShapeError, match=expected + r"\(2, 3, 4\)"):
        model(x, torch.zeros(2, N, 4, dtype=F64))
    with pytest.raises(ShapeError, match=r"hx must have shape \(num_layers=2, H=5\), got \(2, 4\)"):
        model(x[:, 0], torch.zeros(2, 4, dtype=F64))  # unbatched
    with pytest.raises(TypeError, match="hx must be an array or tensor, got tuple"):
        model(x, (torch.zeros(2, N, H, dtype=F64),))  # an LSTM's pair, not a GRU's state


def test_wrong_lengths_are_named():
    model = GRU(I, H)
    x = torch.zeros(L, N, I)
    with pytest.raises(ShapeError, match=r"lengths must be at most L=4 .* got a length of 5"):
        model(x, lengths=[2, 5, 1])
    with pytest.raises(ShapeError, match=r"lengths must have shape \(N=3\), got \(2,\)"):
        model(x, lengths=[2, 4])
    with pytest.raises(ValueError, match="lengths must be at least 1, got a length of 0"):
        model(x, lengths=[2, 0, 1])
    with pytest.raises(ValueError, match="needs batched input"):
        model(x[:, 0], lengths=[2])
    with pytest.raises(ValueError, match="a PackedSequence has its own"):
        model(pack_padded_sequence(x, LENGTHS, enforce_sorted=False), lengths=LENGTHS)


def test_cell_wrong_shapes_and_dtypes_are_named():
    cell = GRUCell(I, H)
    with pytest.raises(ShapeError, match=r"input must have shape \(N=3, I=3\), got \(3, 4\)"):
        cell(torch.zeros(N, 4))
    with pytest.raises(ShapeError, match=r"hx must have shape \(N=3, H=5\), got \(2, 5\)"):
        cell(torch.zeros(N, I), torch.zeros(2, H))
    with pytest.raises(TypeError, match="input has dtype torch.float64.*torch.float32"):
        cell(torch.zeros(N, I, dtype=F64))


def test_wrong_dtype_names_both_dtypes():
    model = GRU(I, H)  # float32 parameters
    with pytest.raises(TypeError, match="input has dtype torch.float64.*torch.float32"):
        model(torch.zeros(L, N, I, dtype=F64))
    with pytest.raises(TypeError, match="hx has dtype torch.float64.*torch.float32"):
        model(torch.zeros(L, N, I), torch.zeros(1, N, H, dtype=F64))


def test_empty_sequence_and_bad_constructor_arguments_are_rejected():
    with pytest.raises(ShapeError, match="at least one time step"):
        GRU(I, H)(torch.zeros(0, N, I))
    with pytest.raises(ValueError, match="num_layers must be at least 1, got 0"):
        GRU(I, H, num_layers=0)
    with pytest.raises(ValueError, match=r"dropout must be a number in \[0, 1\], got 1.5"):
        GRU(I, H, num_layers=2, dropout=1.5)
    with pytest.warns(UserWarning, match="dropout acts between layers only") as warned:
        GRU(I, H, dropout=0.5)
    assert warned[0].filename == __file__  # points at the caller's line


# --- update_bias ------------------------------------------------------------------------


def test_update_bias_sets_the_effective_update_gate_bias():
    model = GRU(I, H, num_layers=2, update_bias=2.0, dtype=F64)
    for k in range(2):
        b_ih, b_hh = getattr(model, f"bias_ih_l{k}"), getattr(model, f"bias_hh_l{k}")
        assert torch.equal(b_ih[H : 2 * H], torch.full((H,), 2.0, dtype=F64))
        assert torch.equal(b_hh[H : 2 * H], torch.zeros(H, dtype=F64))
        # The reset gate and the candidate keep torch's init.
        assert 0 < b_ih[:H].abs().max() <= H**-0.5 and b_hh[2 * H :].abs().max() > 0
    # Zero weights: every recorded update gate is sigmoid(2), whatever the input.
    zero_weights(model)
    with record_gates(model) as record:
        model(randn(L, N, I))
    z = record[0]["z"]
    assert_close(z, torch.full_like(z, 1 / (1 + math.exp(-2.0))))


def test_update_bias_survives_reset_and_needs_bias():
    model = GRU(I, H, update_bias=1.0)
    with torch.no_grad():
        model.bias_ih_l0.zero_()
    model.reset_parameters()
    assert torch.equal(model.bias_ih_l0[H : 2 * H], torch.ones(H))
    assert "update_bias=1.0" in repr(model)
    assert GRU(I, H).update_bias is None
    with pytest.raises(ValueError, match="update_bias needs bias=True"):
        GRU(I, H, bias=False, update_bias=1.0)
