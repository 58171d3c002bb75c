"""Bidirectional layers: ``lstmlib.nn.LSTM`` and ``GRU`` with ``bidirectional=True``
against ``torch.nn.LSTM``/``GRU`` (float64, same weights), and the NumPy wrapper
``lstmlib.scratch.bidirectional`` against torch and finite differences.

Besides torch's own bidirectional layers, the backward direction is checked against
the definition: a one-direction layer run on each sequence reversed within its own
length."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from layer_pairs import F64, assert_all_close, assert_close, linear_loss, randn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from lstmlib.gradcheck import max_relative_error, numerical_gradient
from lstmlib.nn import GRU, LSTM, record_gates
from lstmlib.scratch import (
    bidirectional_backward,
    bidirectional_forward,
    gru_backward,
    gru_forward,
    lstm_backward,
    lstm_forward,
    reverse_padded,
    rnn_backward,
    rnn_forward,
)
from lstmlib.shapes import ShapeError

I, H, L, N = 3, 4, 5, 6
LENGTHS = [3, 5, 1, 4, 2, 5]  # unsorted, with a repeat and a length of 1
OURS = {"LSTM": LSTM, "GRU": GRU}
TORCH = {"LSTM": torch.nn.LSTM, "GRU": torch.nn.GRU}


def make_pair(kind, device="cpu", seed=0, **kwargs):
    """Our bidirectional layer and torch's, our weights copied into torch's."""
    torch.manual_seed(seed)
    ours = OURS[kind](I, H, dtype=F64, device=device, bidirectional=True, **kwargs)
    ref = TORCH[kind](I, H, dtype=F64, device=device, bidirectional=True, **kwargs)
    ref.load_state_dict(ours.state_dict())
    return ours, ref


def initial_state(kind, num_layers, device="cpu", n=N, seed=2):
    """hx for ``kind``: (2 * num_layers, n, H), a pair of them for the LSTM."""
    h0 = randn(2 * num_layers, n, H, device=device, seed=seed)
    return (h0, randn(2 * num_layers, n, H, device=device, seed=seed + 1)) if kind == "LSTM" else h0


def states(hx):
    """The state tensors of an hx or h_n as a tuple (one for the GRU, two for the LSTM)."""
    return tuple(hx) if isinstance(hx, tuple | list) else (hx,)


def with_grad(hx):
    if hx is None:
        return None
    leaves = tuple(s.clone().requires_grad_() for s in states(hx))
    return leaves if isinstance(hx, tuple) else leaves[0]


def run_with_grads(model, x, hx, **kwargs):
    """Output, final states and the gradients of a random linear loss on both with
    respect to the input, the initial states and every parameter."""
    xg, hg = x.clone().requires_grad_(), with_grad(hx)
    out, h_n = model(
        pack_padded_sequence(xg, **kwargs) if kwargs else xg,
        hg,
    )
    padded = pad_packed_sequence(out)[0] if isinstance(out, PackedSequence) else out
    inputs = [xg, *(states(hg) if hg is not None else ()), *model.parameters()]
    loss = linear_loss(padded, *states(h_n))
    return padded, states(h_n), torch.autograd.grad(loss, inputs)


# --- lstmlib.nn against torch.nn -------------------------------------------------------


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("with_state", [False, True])
def test_forward_and_gradients_match_torch(device, kind, num_layers, batch_first, with_state):
    ours, ref = make_pair(kind, device, num_layers=num_layers, batch_first=batch_first)
    x = randn(*((N, L, I) if batch_first else (L, N, I)), device=device)
    hx = initial_state(kind, num_layers, device) if with_state else None
    out, h_n, g = run_with_grads(ours, x, hx)
    ref_out, ref_h_n, ref_g = run_with_grads(ref, x, hx)
    assert out.shape == ((N, L, 2 * H) if batch_first else (L, N, 2 * H))
    assert all(s.shape == (2 * num_layers, N, H) for s in h_n)
    assert_close(out, ref_out)
    assert_all_close(h_n, ref_h_n)
    assert_all_close(g, ref_g)


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
@pytest.mark.parametrize("enforce_sorted", [False, True])
@pytest.mark.parametrize("seed", [0, 1])
def test_packed_input_in_random_order_matches_torch(device, kind, enforce_sorted, seed):
    ours, ref = make_pair(kind, device, num_layers=2)
    order = torch.randperm(N, generator=torch.Generator().manual_seed(seed))
    lengths = torch.tensor(LENGTHS)[order]
    x, hx = randn(L, N, I, device=device), initial_state(kind, 2, device)
    if enforce_sorted:  # torch then wants the batch sorted longest first
        lengths, by_length = lengths.sort(descending=True)
        x, hx = x[:, by_length], tuple(s[:, by_length] for s in states(hx))
        hx = hx if kind == "LSTM" else hx[0]
    packing = {"lengths": lengths, "enforce_sorted": enforce_sorted}
    out, h_n, g = run_with_grads(ours, x, hx, **packing)
    ref_out, ref_h_n, ref_g = run_with_grads(ref, x, hx, **packing)
    assert_close(out, ref_out)  # zero past each length in both
    assert_all_close(h_n, ref_h_n)
    assert_all_close(g, ref_g)


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
@pytest.mark.parametrize("batch_first", [False, True])
def test_lengths_match_packed_torch(device, kind, batch_first):
    # NaN padding: the steps past a sequence's length must reach neither direction
    # (the backward one must start at the sequence's own last step).
    ours, ref = make_pair(kind, device, num_layers=2, batch_first=batch_first)
    x = randn(L, N, I, device=device)
    pad = torch.arange(L, device=device)[:, None] >= torch.tensor(LENGTHS, device=device)
    x = x.masked_fill(pad[..., None], float("nan"))
    x = x.transpose(0, 1).contiguous() if batch_first else x
    hx = initial_state(kind, 2, device)
    xg = x.clone().requires_grad_()
    out, h_n = ours(xg, hx, lengths=LENGTHS)
    g = torch.autograd.grad(linear_loss(out, *states(h_n)), [xg, *ours.parameters()])

    xr = x.nan_to_num(0.0).requires_grad_()
    packed = pack_padded_sequence(xr, LENGTHS, batch_first=batch_first, enforce_sorted=False)
    ref_packed, ref_h_n = ref(packed, hx)
    ref_out = pad_packed_sequence(ref_packed, batch_first=batch_first)[0]
    ref_g = torch.autograd.grad(linear_loss(ref_out, *states(ref_h_n)), [xr, *ref.parameters()])
    assert_close(out, ref_out)
    assert_all_close(states(h_n), states(ref_h_n))
    assert_all_close(g, ref_g)


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_directions_are_one_direction_layers_on_each_sequence_and_its_reverse(kind):
    # The definition, independent of torch's bidirectional code: the forward half is
    # a one-direction layer on x[:length], the backward half one (with the _reverse
    # weights) on x[:length] flipped, its outputs flipped back; its final state is
    # the one after reading the sequence's first element.
    ours, _ = make_pair(kind)
    x, hx = randn(L, N, I), initial_state(kind, 1)
    out, h_n = ours(x, hx, lengths=LENGTHS)
    for suffix, half, row in (("", slice(0, H), 0), ("_reverse", slice(H, 2 * H), 1)):
        one_way = TORCH[kind](I, H, dtype=F64)
        one_way.load_state_dict(
            {
                k.removesuffix("_reverse"): v
                for k, v in ours.state_dict().items()
                if k.endswith("_reverse") == bool(suffix)
            }
        )
        for b, length in enumerate(LENGTHS):
            seq = x[:length, b : b + 1]
            seq_hx = tuple(s[row : row + 1, b : b + 1] for s in states(hx))
            seq_hx = seq_hx if kind == "LSTM" else seq_hx[0]
            if suffix:
                seq_out, seq_h_n = one_way(seq.flip(0), seq_hx)
                seq_out = seq_out.flip(0)
            else:
                seq_out, seq_h_n = one_way(seq, seq_hx)
            assert_close(out[:length, b, half], seq_out[:, 0])
            assert out[length:, b].eq(0).all()
            for s, seq_s in zip(states(h_n), states(seq_h_n), strict=True):
                assert_close(s[row, b], seq_s[0, 0])
        if suffix:  # the backward direction's final state is its output at step 0
            assert_close(h_n[0][1] if kind == "LSTM" else h_n[1], out[0, :, H:])


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_unbatched_input_matches_torch(kind):
    ours, ref = make_pair(kind, num_layers=2)
    x = randn(L, I)
    hx = initial_state(kind, 2, n=1)
    hx = tuple(s[:, 0] for s in hx) if kind == "LSTM" else hx[:, 0]
    out, h_n = ours(x, hx)
    ref_out, ref_h_n = ref(x, hx)
    assert out.shape == (L, 2 * H)
    assert_close(out, ref_out)
    assert_all_close(states(h_n), states(ref_h_n))


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_dropout_between_bidirectional_layers_matches_torch(kind):
    # One mask on the concatenated (L, N, 2H) output of every layer but the last.
    ours, ref = make_pair(kind, num_layers=3, dropout=0.5)
    x = randn(L, N, I)
    torch.manual_seed(5)
    out = ours.train()(x)[0]
    torch.manual_seed(5)
    ref_out = ref.train()(x)[0]
    assert_close(out, ref_out)
    assert not torch.allclose(out, ours.eval()(x)[0])  # dropout did something
    assert_close(ours(x)[0], ref.eval()(x)[0])


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_record_gates_one_dict_per_layer_and_direction(kind):
    ours, _ = make_pair(kind, num_layers=2)
    with record_gates(ours) as record:
        out, h_n = ours(randn(L, N, I), lengths=LENGTHS)
    h_n = states(h_n)[0]
    assert len(record) == 4  # layer 0 forward, layer 0 backward, layer 1 forward, ...
    assert set(record[0]) == ({"i", "f", "g", "o", "c", "h"} if kind == "LSTM" else set("rznh"))
    assert_close(record[2]["h"], out[..., :H])
    assert_close(record[3]["h"], out[..., H:])  # in step order, like the output
    last = (torch.tensor(LENGTHS) - 1, torch.arange(N))
    for k in (0, 2):
        assert_close(record[k]["h"][last], h_n[k])
    for k in (1, 3):  # the backward direction ends at step 0
        assert_close(record[k]["h"][0], h_n[k])
    pad = torch.arange(L)[:, None] >= torch.tensor(LENGTHS)
    assert all(v[pad].eq(0).all() and v[~pad].ne(0).all() for r in record for v in r.values())


# --- parameters ---------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
@pytest.mark.parametrize("bias", [True, False])
def test_state_dict_keys_and_shapes_are_torchs(kind, bias):
    ours = OURS[kind](I, H, num_layers=3, bias=bias, bidirectional=True)
    ref = TORCH[kind](I, H, num_layers=3, bias=bias, bidirectional=True)
    assert [(k, v.shape) for k, v in ours.state_dict().items()] == [
        (k, v.shape) for k, v in ref.state_dict().items()
    ]
    assert "weight_ih_l1_reverse" in ours.state_dict()


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_state_dict_loads_both_ways_and_initialisation_is_torchs(kind):
    torch.manual_seed(0)
    ours = OURS[kind](I, H, num_layers=2, bidirectional=True)
    torch.manual_seed(0)
    ref = TORCH[kind](I, H, num_layers=2, bidirectional=True)
    for (name, p), q in zip(ours.named_parameters(), ref.parameters(), strict=True):
        assert torch.equal(p, q), name
    x = torch.randn(L, N, I)
    ours.reset_parameters()
    ref.load_state_dict(ours.state_dict())
    torch.testing.assert_close(ref(x), ours(x))
    ref.reset_parameters()
    ours.load_state_dict(ref.state_dict())
    torch.testing.assert_close(ours(x), ref(x))


def test_repr_and_attributes():
    model = LSTM(I, H, num_layers=2, bidirectional=True)
    assert model.bidirectional is True and model.num_directions == 2
    assert repr(model) == "LSTM(3, 4, num_layers=2, bidirectional=True)"
    assert GRU(I, H).bidirectional is False


# --- argument checks ----------------------------------------------------------------


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_wrong_hx_names_expected_and_received_shape(kind):
    model = OURS[kind](I, H, num_layers=2, bidirectional=True, dtype=F64)
    x = torch.zeros(L, N, I, dtype=F64)
    wrong = torch.zeros(2, N, H, dtype=F64)  # a one-direction state
    name = r"hx\[0\]" if kind == "LSTM" else "hx"
    hx = (wrong, torch.zeros(4, N, H, dtype=F64)) if kind == "LSTM" else wrong
    expected = r" must have shape \(2\*num_layers=4, N=6, H=4\), got \(2, 6, 4\)"
    with pytest.raises(ShapeError, match=name + expected):
        model(x, hx)


# --- the NumPy wrapper --------------------------------------------------------------

SCRATCH = {
    "rnn": (rnn_forward, rnn_backward, torch.nn.RNN),
    "lstm": (lstm_forward, lstm_backward, torch.nn.LSTM),
    "gru": (gru_forward, gru_backward, torch.nn.GRU),
}
T, B = 5, 4
NP_LENGTHS = np.array([3, 5, 1, 4])


@pytest.fixture(params=["rnn", "lstm", "gru"])
def problem(request):
    """``(kind, x, args_fwd, args_bwd)``: a random float64 problem for the kind's
    ``*_forward``, with separate arguments (states and weights) per direction."""
    make = request.getfixturevalue(f"make_{request.param}_problem")
    fwd, bwd = make(T=T, B=B, I=2, H=3), make(T=T, B=B, I=2, H=3)
    return request.param, fwd.x, tuple(fwd[1:]), tuple(bwd[1:])


def torch_copy(kind, args_fwd, args_bwd):
    """torch's bidirectional layer with the problem's weights (``W = Wx.T``; the RNN's
    and LSTM's one bias in ``bias_ih``) and its initial state."""
    state_dict, h0, c0 = {}, [], []
    for suffix, args in (("", args_fwd), ("_reverse", args_bwd)):
        if kind == "gru":
            h, Wx, Wh, b_ih, b_hh = args
        else:
            h, *c, Wx, Wh, b_ih = args
            b_hh = np.zeros_like(b_ih)
            c0 += c
        h0.append(h)
        for name, value in zip(
            ("weight_ih", "weight_hh", "bias_ih", "bias_hh"), (Wx.T, Wh.T, b_ih, b_hh), strict=True
        ):
            state_dict[f"{name}_l0{suffix}"] = torch.tensor(value)
    ref = SCRATCH[kind][2](Wx.shape[0], Wh.shape[0], bidirectional=True, dtype=F64)
    ref.load_state_dict(state_dict)
    hx = torch.tensor(np.stack(h0))
    return ref, ((hx, torch.tensor(np.stack(c0))) if kind == "lstm" else hx)


@pytest.mark.parametrize("lengths", [None, NP_LENGTHS])
def test_scratch_forward_matches_torch(problem, lengths):
    kind, x, args_fwd, args_bwd = problem
    forward = SCRATCH[kind][0]
    h, cache = bidirectional_forward(forward, x, args_fwd, args_bwd, lengths)
    ref, hx = torch_copy(kind, args_fwd, args_bwd)
    with torch.no_grad():
        if lengths is None:
            ref_h, ref_h_n = ref(torch.tensor(x), hx)
        else:
            packed = pack_padded_sequence(torch.tensor(x), lengths, enforce_sorted=False)
            ref_packed, ref_h_n = ref(packed, hx)
            ref_h = pad_packed_sequence(ref_packed, total_length=T)[0]
    ref_h_n = states(ref_h_n)
    np.testing.assert_allclose(h, ref_h.numpy(), rtol=0, atol=1e-12)
    # The final states, where the docstring says they are: forward after the last
    # step, backward after reading the first.
    last = (np.full(B, T) if lengths is None else lengths) - 1
    np.testing.assert_allclose(h[last, np.arange(B), :3], ref_h_n[0][0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(h[0, :, 3:], ref_h_n[0][1], rtol=0, atol=1e-12)
    if kind == "lstm":  # the final cell states are in the step caches
        c_fwd = np.stack([cache.fwd[t].c[b] for b, t in enumerate(last)])
        c_bwd = np.stack([cache.bwd[t].c[b] for b, t in enumerate(last)])
        np.testing.assert_allclose(c_fwd, ref_h_n[1][0], rtol=0, atol=1e-12)
        np.testing.assert_allclose(c_bwd, ref_h_n[1][1], rtol=0, atol=1e-12)


def test_scratch_backward_matches_torch_autograd(problem, rng):
    kind, x, args_fwd, args_bwd = problem
    forward, backward, _ = SCRATCH[kind]
    h, cache = bidirectional_forward(forward, x, args_fwd, args_bwd, NP_LENGTHS)
    dh = rng.normal(size=h.shape)
    dx, grads_fwd, grads_bwd = bidirectional_backward(backward, dh, cache)

    ref, hx = torch_copy(kind, args_fwd, args_bwd)
    xt = torch.tensor(x, requires_grad=True)
    hx = with_grad(hx)
    packed = pack_padded_sequence(xt, NP_LENGTHS, enforce_sorted=False)
    ref_h = pad_packed_sequence(ref(packed, hx)[0], total_length=T)[0]
    ref_h.backward(torch.tensor(dh))
    np.testing.assert_allclose(dx, xt.grad, rtol=0, atol=1e-12)
    for d, (suffix, grads) in enumerate((("", grads_fwd), ("_reverse", grads_bwd))):
        expected = [s.grad[d] for s in states(hx)]  # dh0 (and dc0)
        expected += [getattr(ref, f"weight_{w}_l0{suffix}").grad.T for w in ("ih", "hh")]
        expected.append(getattr(ref, f"bias_ih_l0{suffix}").grad)
        if kind == "gru":
            expected.append(getattr(ref, f"bias_hh_l0{suffix}").grad)
        assert len(grads) == len(expected)
        for k, (grad, ref_grad) in enumerate(zip(grads, expected, strict=True)):
            np.testing.assert_allclose(grad, ref_grad, rtol=0, atol=1e-12, err_msg=f"{d} {k}")


@pytest.mark.parametrize("lengths", [None, NP_LENGTHS])
def test_scratch_backward_matches_numerical_gradient(problem, rng, lengths):
    kind, x, args_fwd, args_bwd = problem
    forward, backward, _ = SCRATCH[kind]
    h, cache = bidirectional_forward(forward, x, args_fwd, args_bwd, lengths)
    dh = rng.normal(size=h.shape)
    dx, grads_fwd, grads_bwd = bidirectional_backward(backward, dh, cache)

    def f_x(a):
        return bidirectional_forward(forward, a, args_fwd, args_bwd, lengths)

    assert max_relative_error(dx, numerical_gradient(f_x, x.copy(), dh)) < 1e-6
    for direction, args, grads in (("fwd", args_fwd, grads_fwd), ("bwd", args_bwd, grads_bwd)):
        for k, grad in enumerate(grads):

            def f(a, k=k, direction=direction, args=args):
                changed = (*args[:k], a, *args[k + 1 :])
                both = (changed, args_bwd) if direction == "fwd" else (args_fwd, changed)
                return bidirectional_forward(forward, x, *both, lengths)

            numerical = numerical_gradient(f, args[k].copy(), dh)
            assert max_relative_error(grad, numerical) < 1e-5, (direction, k)


def test_reverse_padded_reverses_each_sequence_within_its_length(rng):
    x = rng.normal(size=(T, B, 2))
    out = reverse_padded(x, NP_LENGTHS)
    for b, length in enumerate(NP_LENGTHS):
        np.testing.assert_array_equal(out[:length, b], x[:length, b][::-1])
        np.testing.assert_array_equal(out[length:, b], x[length:, b])  # padding stays
    np.testing.assert_array_equal(reverse_padded(out, NP_LENGTHS), x)
    np.testing.assert_array_equal(reverse_padded(x), x[::-1])
    np.testing.assert_array_equal(reverse_padded(x, [T] * B), x[::-1])


def test_scratch_wrapper_names_wrong_arguments(make_gru_problem):
    p = make_gru_problem(T=T, B=B, I=2, H=3)
    args = tuple(p[1:])
    with pytest.raises(ShapeError, match=r"lengths must have shape \(B=4\), got \(3,\)"):
        bidirectional_forward(gru_forward, p.x, args, args, [1, 2, 3])
    with pytest.raises(ShapeError, match=r"lengths must be in 1..T=5, got \[0, 1, 2, 3\]"):
        reverse_padded(p.x, np.array([0, 1, 2, 3]))
    with pytest.raises(TypeError, match="lengths must hold integers"):
        reverse_padded(p.x, np.array([1.0, 2.0, 3.0, 4.0]))
    h, cache = bidirectional_forward(gru_forward, p.x, args, args)
    with pytest.raises(ShapeError, match=r"dh must have shape \(T, B, 2H\), got \(5, 4, 5\)"):
        bidirectional_backward(gru_backward, np.zeros((T, B, 5)), cache)
    with pytest.raises(ShapeError, match=r"dh must have shape \(5, 4, 3\), got \(5, 4, 2\)"):
        bidirectional_backward(gru_backward, np.zeros((T, B, 4)), cache)
