"""``lstmlib.nn.LSTM``, ``LSTMCell`` and ``record_gates`` against ``torch.nn.LSTM`` and
``torch.nn.LSTMCell`` with the same weights (float64, so agreement is to rounding error)."""

from __future__ import annotations

import pytest
import torch
from layer_pairs import F64, assert_all_close, assert_close, grads, linear_loss, randn, zero_weights
from layer_pairs import make_pair as make_layer_pair
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from lstmlib.nn import LSTM, LSTMCell, lstm_step, record_gates
from lstmlib.shapes import ShapeError

I, H, L, N = 3, 5, 4, 3
LENGTHS = [2, 4, 1]  # not sorted, on purpose


def make_pair(device="cpu", seed=0, **kwargs):
    """Our LSTM and torch's, same constructor arguments, our weights copied into torch's."""
    return make_layer_pair(LSTM, torch.nn.LSTM, I, H, device, seed, **kwargs)


def random_state(device, num_layers, seed=2):
    return randn(num_layers, N, H, device=device, seed=seed), randn(
        num_layers, N, H, device=device, seed=seed + 1
    )


# --- forward and gradients against torch.nn.LSTM ------------------------------------


@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("with_state", [False, True])
@pytest.mark.parametrize("bias", [True, False])
def test_forward_and_gradients_match_torch(device, num_layers, batch_first, with_state, bias):
    ours, ref = make_pair(device, num_layers=num_layers, batch_first=batch_first, bias=bias)
    x = randn(*((N, L, I) if batch_first else (L, N, I)), device=device)
    state = random_state(device, num_layers) if with_state else None
    results = []
    for model in (ours, ref):
        xg = x.clone().requires_grad_()
        hx = None if state is None else tuple(s.clone().requires_grad_() for s in state)
        out, (h_n, c_n) = model(xg, hx)
        inputs = [xg, *(hx or ()), *model.parameters()]
        results.append((out, h_n, c_n, grads(linear_loss(out, h_n, c_n), inputs)))
    (out, h_n, c_n, g), (ref_out, ref_h_n, ref_c_n, ref_g) = results
    assert out.device == x.device and out.shape == ref_out.shape
    assert h_n.shape == c_n.shape == (num_layers, N, H)
    assert_close(out, ref_out)
    assert_close(h_n, ref_h_n)
    assert_close(c_n, ref_c_n)
    assert_all_close(g, ref_g)


@pytest.mark.parametrize("with_state", [False, True])
def test_unbatched_input_matches_torch(device, with_state):
    ours, ref = make_pair(device, num_layers=2)
    x = randn(L, I, device=device)
    hx = tuple(s[:, 0] for s in random_state(device, 2)) if with_state else None
    out, (h_n, c_n) = ours(x, hx)
    ref_out, (ref_h_n, ref_c_n) = ref(x, hx)
    assert out.shape == (L, H) and h_n.shape == c_n.shape == (2, H)
    assert_close(out, ref_out)
    assert_close(h_n, ref_h_n)
    assert_close(c_n, ref_c_n)


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
    x = padded_input(device)
    lengths = LENGTHS
    if enforce_sorted:  # torch then wants the batch sorted longest first
        order = sorted(range(N), key=lambda b: -LENGTHS[b])
        x, lengths = x[:, order], [LENGTHS[b] for b in order]
    state = random_state(device, 2)
    results = []
    for model in (ours, ref):
        xg = x.clone().requires_grad_()
        hx = tuple(s.clone().requires_grad_() for s in state)
        packed = pack_padded_sequence(xg, lengths, enforce_sorted=enforce_sorted)
        out, (h_n, c_n) = model(packed, hx)
        inputs = [xg, *hx, *model.parameters()]
        results.append((out, h_n, c_n, grads(linear_loss(out.data, h_n, c_n), inputs)))
    (out, h_n, c_n, g), (ref_out, ref_h_n, ref_c_n, ref_g) = results
    assert isinstance(out, torch.nn.utils.rnn.PackedSequence)
    assert torch.equal(out.batch_sizes, ref_out.batch_sizes)
    for name in ("sorted_indices", "unsorted_indices"):
        ours_idx, ref_idx = getattr(out, name), getattr(ref_out, name)
        assert (ours_idx is None) == (ref_idx is None)
        assert ours_idx is None or torch.equal(ours_idx, ref_idx)
    assert_close(out.data, ref_out.data)
    assert_close(pad_packed_sequence(out)[0], pad_packed_sequence(ref_out)[0])
    assert_close(h_n, ref_h_n)
    assert_close(c_n, ref_c_n)
    assert_all_close(g, ref_g)


@pytest.mark.parametrize("batch_first", [False, True])
def test_lengths_matches_packed_torch(device, batch_first):
    # NaN padding: steps past a sequence's length must not touch its results or
    # the gradients (torch's packed path never sees them).
    ours, ref = make_pair(device, num_layers=2, batch_first=batch_first)
    x = padded_input(device, batch_first, fill=float("nan"))
    state = random_state(device, 2)
    lengths = torch.tensor(LENGTHS)
    xg = x.clone().requires_grad_()
    out, (h_n, c_n) = ours(xg, state, lengths=lengths)
    g = grads(linear_loss(out, h_n, c_n), [xg, *ours.parameters()])

    xr = x.nan_to_num(0.0).requires_grad_()
    packed = pack_padded_sequence(xr, lengths, batch_first=batch_first, enforce_sorted=False)
    ref_packed, (ref_h_n, ref_c_n) = ref(packed, state)
    ref_out, _ = pad_packed_sequence(ref_packed, batch_first=batch_first)
    ref_g = grads(linear_loss(ref_out, ref_h_n, ref_c_n), [xr, *ref.parameters()])
    assert out.shape == ref_out.shape  # max(LENGTHS) == L, so both are L long
    assert_close(out, ref_out)  # including the zeros past each length
    assert_close(h_n, ref_h_n)
    assert_close(c_n, ref_c_n)
    assert_all_close(g, ref_g)


def test_lengths_as_list_and_full_lengths():
    ours, _ = make_pair()
    x = randn(L, N, I)
    assert_close(ours(x, lengths=LENGTHS)[0], ours(x, lengths=torch.tensor(LENGTHS))[0])
    # All sequences full length: the same as no lengths at all.
    full, plain = ours(x, lengths=[L] * N), ours(x)
    assert_close(full[0], plain[0])
    assert_close(full[1][1], plain[1][1])


# --- dropout ------------------------------------------------------------------------


def test_dropout_in_eval_mode_matches_torch(device):
    ours, ref = make_pair(device, num_layers=3, dropout=0.5)
    ours.eval(), ref.eval()
    x = randn(L, N, I, device=device)
    out, (h_n, c_n) = ours(x)
    ref_out, (ref_h_n, ref_c_n) = ref(x)
    assert_close(out, ref_out)
    assert_close(c_n, ref_c_n)


def test_dropout_one_zeroes_the_input_of_the_second_layer():
    ours, _ = make_pair(num_layers=2, dropout=1.0)
    state = random_state("cpu", 2)
    x = randn(L, N, I)
    out, (h_n, c_n) = ours.train()(x, state)
    # Layer 0 is untouched: a one-layer torch LSTM with layer 0's weights.
    first = torch.nn.LSTM(I, H, dtype=F64)
    first.load_state_dict({k: v for k, v in ours.state_dict().items() if k.endswith("_l0")})
    _, (h0_ref, c0_ref) = first(x, (state[0][:1], state[1][:1]))
    # Layer 1 sees zeros: a one-layer torch LSTM with layer 1's weights, on zeros.
    second = torch.nn.LSTM(H, H, dtype=F64)
    second.load_state_dict(
        {k.replace("_l1", "_l0"): v for k, v in ours.state_dict().items() if k.endswith("_l1")}
    )
    ref_out, (h1_ref, c1_ref) = second(
        torch.zeros(L, N, H, dtype=F64), (state[0][1:], state[1][1:])
    )
    assert_close(out, ref_out)
    assert_close(h_n, torch.cat([h0_ref, h1_ref]))
    assert_close(c_n, torch.cat([c0_ref, c1_ref]))


def test_dropout_in_train_mode_matches_torch_with_the_same_seed():
    # torch's CPU LSTM draws its masks with the same call F.dropout makes, one per
    # layer but the last, in order; so the same seed gives the same masks. (If a
    # torch upgrade changes how it draws them, the p=1 test above still checks
    # where dropout acts.)
    ours, ref = make_pair(num_layers=3, dropout=0.5)
    x = randn(L, N, I)
    torch.manual_seed(5)
    out = ours.train()(x)[0]
    torch.manual_seed(5)
    ref_out = ref.train()(x)[0]
    assert_close(out, ref_out)
    assert not torch.allclose(out, ours.eval()(x)[0])  # dropout did something


# --- forget_bias --------------------------------------------------------------------


@pytest.mark.parametrize("cls", [LSTM, LSTMCell])
def test_forget_bias_sets_the_effective_forget_bias(cls):
    model = cls(I, H, forget_bias=1.5, dtype=F64)
    b_ih = model.bias_ih_l0 if cls is LSTM else model.bias_ih
    b_hh = model.bias_hh_l0 if cls is LSTM else model.bias_hh
    assert torch.equal(b_ih[H : 2 * H], torch.full((H,), 1.5, dtype=F64))
    assert torch.equal(b_hh[H : 2 * H], torch.zeros(H, dtype=F64))
    # The other gates keep torch's init.
    assert 0 < b_ih[:H].abs().max() <= H**-0.5 and b_hh[2 * H :].abs().max() > 0
    # Zero weights: every recorded forget gate is sigmoid(1.5), whatever the input.
    zero_weights(model)
    with record_gates(model) as record:
        model(randn(L, N, I) if cls is LSTM else randn(N, I))
    f = record[0]["f"]
    assert_close(f, torch.full_like(f, torch.sigmoid(torch.tensor(1.5, dtype=F64)).item()))


def test_forget_bias_in_every_layer_and_after_reset():
    model = LSTM(I, H, num_layers=2, forget_bias=1.0)
    model.reset_parameters()
    for k in range(2):
        assert torch.equal(getattr(model, f"bias_ih_l{k}")[H : 2 * H], torch.ones(H))
        assert torch.equal(getattr(model, f"bias_hh_l{k}")[H : 2 * H], torch.zeros(H))


def test_forget_bias_needs_bias():
    with pytest.raises(ValueError, match="forget_bias needs bias=True"):
        LSTM(I, H, bias=False, forget_bias=1.0)
    with pytest.raises(ValueError, match="forget_bias needs bias=True"):
        LSTMCell(I, H, bias=False, forget_bias=1.0)


# --- record_gates -------------------------------------------------------------------


def reference_gates(ref, x, h_prev, layer=0):
    """i, f, g, o of one torch layer recomputed from its weights and torch's own
    hidden states ``h_prev: (L, N, H)`` (the state before each step)."""
    w_ih, w_hh = getattr(ref, f"weight_ih_l{layer}"), getattr(ref, f"weight_hh_l{layer}")
    b = getattr(ref, f"bias_ih_l{layer}") + getattr(ref, f"bias_hh_l{layer}")
    a = x @ w_ih.T + h_prev @ w_hh.T + b
    i, f, g, o = a.split(H, dim=-1)
    return {"i": i.sigmoid(), "f": f.sigmoid(), "g": g.tanh(), "o": o.sigmoid()}


@pytest.mark.parametrize("batch_first", [False, True])
def test_record_gates_matches_torch(device, batch_first):
    ours, ref = make_pair(device, num_layers=2, batch_first=batch_first)
    x = randn(*((N, L, I) if batch_first else (L, N, I)), device=device)
    state = random_state(device, 2)
    with record_gates(ours) as record:
        out = ours(x, state)[0]
    ref_out, (ref_h_n, ref_c_n) = ref(x, state)
    assert len(record) == 2
    x_tm = x.transpose(0, 1) if batch_first else x
    ref_tm = ref_out.transpose(0, 1) if batch_first else ref_out
    for k, rec in enumerate(record):
        assert set(rec) == {"i", "f", "g", "o", "c", "h"}
        assert all(v.shape == (L, N, H) and not v.requires_grad for v in rec.values())
        assert_close(rec["h"][-1], ref_h_n[k])
        assert_close(rec["c"][-1], ref_c_n[k])
    assert_close(record[1]["h"], ref_tm)  # time-major, whatever batch_first is
    # Layer 0's gates recomputed from torch's weights and hidden states.
    h_prev = torch.cat([state[0][:1], record[0]["h"][:-1]])
    torch_h0 = torch.nn.LSTM(I, H, dtype=F64, device=device)
    torch_h0.load_state_dict({k: v for k, v in ref.state_dict().items() if k.endswith("_l0")})
    assert_close(record[0]["h"], torch_h0(x_tm, (state[0][:1], state[1][:1]))[0])
    for name, value in reference_gates(ref, x_tm, h_prev).items():
        assert_close(record[0][name], value)
    assert torch.equal(out, ours(x, state)[0])  # recording changes nothing


def test_record_gates_with_lengths_zeroes_padding_and_keeps_final_states():
    ours, _ = make_pair()
    with record_gates(ours) as record:
        _, (h_n, c_n) = ours(randn(L, N, I), lengths=LENGTHS)
    rec, last = record[0], torch.tensor(LENGTHS) - 1
    assert_close(rec["c"][last, torch.arange(N)], c_n[0])
    assert_close(rec["h"][last, torch.arange(N)], h_n[0])
    pad = torch.arange(L)[:, None] >= torch.tensor(LENGTHS)
    assert all(v[pad].eq(0).all() and v[~pad].ne(0).all() for v in rec.values())


def test_record_gates_concatenates_calls_and_cell_steps():
    ours, _ = make_pair(num_layers=1)
    x = randn(L, N, I)
    with record_gates(ours) as whole:
        ours(x)
    # Feeding the LSTM two steps at a time, carrying the state...
    with record_gates(ours) as chunks:
        hx = None
        for t in range(0, L, 2):
            _, hx = ours(x[t : t + 2], hx)
    # ...or a cell with the same weights one step at a time records the same.
    cell = LSTMCell(I, H, dtype=F64)
    cell.load_state_dict({k[:-3]: v for k, v in ours.state_dict().items()})
    with record_gates(cell) as steps:
        hx = None
        for t in range(L):
            hx = cell(x[t], hx)
    for rec in (chunks, steps):
        assert len(rec) == 1
        for name, value in whole[0].items():
            assert_close(rec[0][name], value)


def test_record_gates_finds_the_lstm_inside_a_model_and_stops_recording():
    model = torch.nn.Sequential()
    model.lstm = LSTM(I, H)
    with record_gates(model) as record:
        model.lstm(torch.randn(L, I))  # unbatched: N = 1
    assert record[0]["h"].shape == (L, 1, H)
    assert model.lstm._gate_chunks is None
    model.lstm(torch.randn(L, I))
    assert record[0]["h"].shape == (L, 1, H)  # not recorded outside the block
    with pytest.raises(ValueError, match="exactly one LSTM or LSTMCell, found 2"):
        with record_gates(torch.nn.ModuleList([LSTM(I, H), LSTMCell(I, H)])):
            pass


def test_record_gates_rejects_different_batch_sizes():
    model = LSTM(I, H)
    with pytest.raises(ShapeError, match=r"share the batch size N; got N = \[2, 3\]"):
        with record_gates(model):
            model(torch.zeros(L, 2, I))
            model(torch.zeros(L, 3, I))


# --- LSTMCell and lstm_step ---------------------------------------------------------


@pytest.mark.parametrize("bias", [True, False])
def test_cell_matches_torch_cell(device, bias):
    ours = LSTMCell(I, H, bias=bias, dtype=F64, device=device)
    ref = torch.nn.LSTMCell(I, H, bias=bias, dtype=F64, device=device)
    assert [(k, v.shape) for k, v in ours.state_dict().items()] == [
        (k, v.shape) for k, v in ref.state_dict().items()
    ]
    ref.load_state_dict(ours.state_dict())
    x, h, c = (
        randn(N, I, device=device),
        randn(N, H, device=device, seed=3),
        randn(N, H, device=device, seed=4),
    )
    results = []
    for model in (ours, ref):
        xg, hg, cg = (t.clone().requires_grad_() for t in (x, h, c))
        h1, c1 = model(xg, (hg, cg))
        results.append((h1, c1, grads(linear_loss(h1, c1), [xg, hg, cg, *model.parameters()])))
    assert_all_close(results[0][:2], results[1][:2])
    assert_all_close(results[0][2], results[1][2])
    assert_all_close(ours(x), ref(x))
    assert_all_close(ours(x[0], (h[0], c[0])), ref(x[0], (h[0], c[0])))  # unbatched


def test_lstm_step_gate_order_is_torchs():
    cell = torch.nn.LSTMCell(I, H, dtype=F64)
    x, h, c = randn(N, I), randn(N, H, seed=3), randn(N, H, seed=4)
    h1, c1, gates = lstm_step(x, h, c, *cell.parameters())
    assert_all_close((h1, c1), cell(x, (h, c)))
    a = x @ cell.weight_ih.T + cell.bias_ih + h @ cell.weight_hh.T + cell.bias_hh
    expected = (
        a[:, :H].sigmoid(),
        a[:, H : 2 * H].sigmoid(),
        a[:, 2 * H : 3 * H].tanh(),
        a[:, 3 * H :].sigmoid(),
    )
    assert_all_close(gates, expected)


# --- parameters ---------------------------------------------------------------------


def test_initialisation_is_torchs():
    torch.manual_seed(0)
    ours = LSTM(I, H, num_layers=2)
    torch.manual_seed(0)
    ref = torch.nn.LSTM(I, H, num_layers=2)
    for (name, p), q in zip(ours.named_parameters(), ref.parameters(), strict=True):
        assert torch.equal(p, q), name
        assert p.abs().max() <= H**-0.5


def test_device_and_dtype_arguments_and_to(device):
    model = LSTM(I, H, dtype=F64, device=device)
    assert all(p.dtype == F64 and p.device.type == device.type for p in model.parameters())
    model = LSTM(I, H, num_layers=2).to(device=device, dtype=F64)
    x = torch.randn(L, N, I, dtype=F64, device=device)
    for out in (model(x), model(x, lengths=torch.tensor(LENGTHS, device=device))):
        for t in (out[0], *out[1]):
            assert t.device.type == device.type and t.dtype == F64


# --- argument checks ----------------------------------------------------------------


def test_wrong_input_size_names_expected_and_received_shape():
    model = LSTM(I, H, dtype=F64)
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
    model = LSTM(I, H, num_layers=2, dtype=F64)
    x = torch.zeros(L, N, I, dtype=F64)
    good = torch.zeros(2, N, H, dtype=F64)
    expected = r"must have shape \(num_layers=2, N=3, H=5\), got "
    with pytest.raises(ShapeError, match=r"hx\[0\] " + expected + r"\(1, 3, 5\)"):
        model(x, (torch.zeros(1, N, H, dtype=F64), good))
    with pytest.raises(ShapeError, match=r"hx\[1\] " + expected + r"\(2, 3, 4\)"):
        model(x, (good, torch.zeros(2, N, 4, dtype=F64)))
    with pytest.raises(
        ShapeError, match=r"hx\[0\] must have shape \(num_layers=2, H=5\), got \(2, 4\)"
    ):
        model(x[:, 0], (torch.zeros(2, 4, dtype=F64), good[:, 0]))  # unbatched
    with pytest.raises(TypeError, match=r"hx must be a pair \(h, c\)"):
        model(x, good)


def test_wrong_lengths_are_named():
    model = LSTM(I, H)
    x = torch.zeros(L, N, I)
    with pytest.raises(ShapeError, match=r"lengths must be at most L=4 .* got a length of 5"):
        model(x, lengths=[2, 5, 1])
    with pytest.raises(ShapeError, match=r"lengths must have shape \(N=3\), got \(2,\)"):
        model(x, lengths=[2, 4])
    with pytest.raises(ValueError, match="lengths must be at least 1, got a length of 0"):
        model(x, lengths=[2, 0, 1])
    with pytest.raises(TypeError, match="lengths must hold integers"):
        model(x, lengths=torch.tensor([2.0, 4.0, 1.0]))
    with pytest.raises(ValueError, match="needs batched input"):
        model(x[:, 0], lengths=[2])


def test_cell_wrong_shapes_are_named():
    cell = LSTMCell(I, H)
    with pytest.raises(ShapeError, match=r"input must have shape \(N=3, I=3\), got \(3, 4\)"):
        cell(torch.zeros(N, 4))
    with pytest.raises(ShapeError, match=r"hx\[1\] must have shape \(N=3, H=5\), got \(2, 5\)"):
        cell(torch.zeros(N, I), (torch.zeros(N, H), torch.zeros(2, H)))


def test_wrong_dtype_names_both_dtypes():
    model = LSTM(I, H)  # float32 parameters
    with pytest.raises(TypeError, match="input has dtype torch.float64.*torch.float32"):
        model(torch.zeros(L, N, I, dtype=F64))
    with pytest.raises(TypeError, match=r"hx\[0\] has dtype torch.float64.*torch.float32"):
        model(torch.zeros(L, N, I), (torch.zeros(1, N, H, dtype=F64), torch.zeros(1, N, H)))
    with pytest.raises(TypeError, match="input has dtype torch.float64"):
        LSTMCell(I, H)(torch.zeros(N, I, dtype=F64))


def test_constructor_rejects_unsupported_and_bad_arguments():
    with pytest.raises(NotImplementedError, match="proj_size"):
        LSTM(I, H, proj_size=2)
    with pytest.raises(ValueError, match="num_layers must be at least 1, got 0"):
        LSTM(I, H, num_layers=0)
    with pytest.raises(ValueError, match=r"dropout must be a number in \[0, 1\], got 1.5"):
        LSTM(I, H, num_layers=2, dropout=1.5)
    with pytest.warns(UserWarning, match="dropout acts between layers only"):
        LSTM(I, H, dropout=0.5)
