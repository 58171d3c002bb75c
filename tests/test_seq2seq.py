"""lstmlib.seq2seq: the encoder-decoder, greedy decoding and beam search."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from lstmlib.seq2seq import Seq2Seq, beam_search, greedy_decode, sequence_loss
from lstmlib.shapes import ShapeError

BOS, EOS = 1, 2

# The encoder-decoder ------------------------------------------------------------------


def make_model(attention=True):
    torch.manual_seed(3)
    return Seq2Seq(src_vocab=8, tgt_vocab=7, embed_size=5, hidden_size=6, num_layers=2,
                   attention=attention).eval()  # fmt: skip


@pytest.mark.parametrize("attention", [True, False])
def test_padding_does_not_change_the_logits(attention):
    model = make_model(attention)
    src = torch.randint(3, 8, (5, 3))
    lengths = torch.tensor([5, 2, 4])
    tgt_in = torch.cat([torch.full((1, 3), BOS), torch.randint(3, 7, (3, 3))])
    logits = model(src, lengths, tgt_in)
    assert logits.shape == (4, 3, 7)
    for b in range(3):  # each sequence alone, unpadded, gives the same logits
        n = int(lengths[b])
        alone = model(src[:n, b : b + 1], [n], tgt_in[:, b : b + 1])
        torch.testing.assert_close(logits[:, b : b + 1], alone)


def test_decoder_attends_only_to_real_source_positions():
    model = make_model()
    src, lengths = torch.randint(3, 8, (5, 2)), torch.tensor([5, 3])
    _, _, weights = model.step(torch.tensor([BOS, BOS]), model.encode(src, lengths))
    torch.testing.assert_close(weights.sum(0), torch.ones(2))
    assert bool((weights[3:, 1] == 0).all()) and bool((weights[:, 0] > 0).all())
    assert make_model(attention=False).step(torch.tensor([BOS]), make_model(False).encode(
        src[:, :1], [5]))[2] is None  # fmt: skip


def test_forward_returns_the_weights_of_each_step():
    model = make_model()
    src, lengths = torch.randint(3, 8, (5, 2)), torch.tensor([5, 3])
    tgt_in = torch.tensor([[BOS, BOS], [4, 5], [6, 3]])
    logits, weights = model(src, lengths, tgt_in, return_attention=True)
    torch.testing.assert_close(logits, model(src, lengths, tgt_in))
    assert weights.shape == (3, 5, 2)
    torch.testing.assert_close(weights.sum(1), torch.ones(3, 2))
    assert bool((weights[:, 3:, 1] == 0).all())
    # Step by step, by hand: the weights of step t are those step() returns.
    state = model.encode(src, lengths)
    for t in range(3):
        _, state, step_weights = model.step(tgt_in[t], state)
        torch.testing.assert_close(weights[t], step_weights)
    with pytest.raises(ValueError, match="needs a model with attention"):
        make_model(attention=False)(src, lengths, tgt_in, return_attention=True)


def test_without_attention_the_decoder_is_a_plain_lstm_on_the_targets():
    model = make_model(attention=False)
    src, lengths = torch.randint(3, 8, (5, 2)), torch.tensor([5, 3])
    tgt_in = torch.tensor([[BOS, BOS], [4, 5], [6, 3]])
    h, c = model.encode(src, lengths)
    reference = torch.nn.LSTM(5, 6, num_layers=2)
    reference.load_state_dict(model.decoder.state_dict())
    output, _ = reference(model.tgt_embed(tgt_in), (h, c))
    torch.testing.assert_close(model(src, lengths, tgt_in), model.out(output))


def test_sequence_loss_is_the_mean_over_real_positions():
    torch.manual_seed(0)
    logits = torch.randn(3, 2, 5)
    targets = torch.tensor([[4, 3], [1, 0], [0, 0]])  # 0 is padding
    real = [(0, 0), (0, 1), (1, 0)]
    by_hand = sum(-torch.log_softmax(logits[t, b], 0)[targets[t, b]] for t, b in real) / 3
    torch.testing.assert_close(sequence_loss(logits, targets, pad_id=0), by_hand)


def test_greedy_decoding_is_the_argmax_of_teacher_forcing_on_its_own_output():
    model = make_model()
    src, lengths = torch.randint(3, 8, (4, 3)), torch.tensor([4, 4, 2])
    sequences = greedy_decode(model.decode_step, model.encode(src, lengths), BOS, EOS, 6)
    for b, seq in enumerate(sequences):
        assert 1 <= len(seq) <= 6 and (EOS not in seq[:-1])
        n = int(lengths[b])
        tgt_in = torch.tensor([BOS, *seq[:-1]])[:, None]
        logits = model(src[:n, b : b + 1], [n], tgt_in)
        assert logits[:, 0].argmax(-1).tolist() == seq


@pytest.mark.parametrize("attention", [True, False])
def test_beam_of_one_is_greedy_decoding(attention):
    model = make_model(attention)
    torch.manual_seed(5)
    for _ in range(5):
        src = torch.randint(3, 8, (4, 1))
        state = model.encode(src, [4])
        greedy = greedy_decode(model.decode_step, state, BOS, EOS, 8)[0]
        best = beam_search(model.decode_step, state, BOS, EOS, beam_size=1, max_len=8)
        assert len(best) == 1 and best[0].tokens == greedy


# Decoding with hand-set decoders ------------------------------------------------------


def markov_step(table):
    """A decoder whose next-word distribution depends on the previous word only:
    ``table[prev]`` is a row of probabilities. The state is a dummy (1, N, 1) tensor."""
    log_table = torch.log(torch.as_tensor(table, dtype=torch.double))

    def step(tokens, state):
        return log_table[tokens], state

    return step


def test_beam_search_finds_the_best_sequence_that_greedy_misses():
    # ids: 0 unused, 1 <bos>, 2 <eos>, 3 "a", 4 "b"
    table = [
        [0.2, 0.2, 0.2, 0.2, 0.2],
        [0.0, 0.0, 0.0, 0.55, 0.45],  # after <bos>: "a" is likelier than "b" ...
        [0.2, 0.2, 0.2, 0.2, 0.2],
        [0.0, 0.0, 0.4, 0.3, 0.3],  # ... but after "a" nothing is likely,
        [0.0, 0.0, 0.9, 0.05, 0.05],  # while "b" is almost surely followed by <eos>.
    ]
    step, state = markov_step(table), (torch.zeros(1, 1, 1),)
    assert greedy_decode(step, state, BOS, EOS, 5) == [[3, EOS]]  # p = 0.55 * 0.4 = 0.22
    best = beam_search(step, state, BOS, EOS, beam_size=2, max_len=5)
    assert best[0].tokens == [4, EOS]
    assert best[0].score == pytest.approx(math.log(0.45 * 0.9))
    assert best[1].tokens == [3, EOS] and best[1].score == pytest.approx(math.log(0.22))


def brute_force(table, max_len):
    """The most probable of all sequences up to ``max_len`` words (ending at the first
    <eos>, or cut at max_len), by enumeration."""
    V, best = len(table), (None, -math.inf)
    for n in range(1, max_len + 1):
        for seq in itertools.product(range(V), repeat=n):
            if EOS in seq[:-1] or (n < max_len and seq[-1] != EOS):
                continue
            p, prev = 1.0, BOS
            for word in seq:
                p, prev = p * table[prev][word], word
            if p > 0 and math.log(p) > best[1]:
                best = (list(seq), math.log(p))
    return best


@pytest.mark.parametrize("seed", range(4))
def test_a_beam_as_large_as_the_search_space_is_exact(seed):
    generator = torch.Generator().manual_seed(seed)
    table = torch.softmax(3 * torch.randn(4, 4, generator=generator, dtype=torch.double), 1)
    step, state = markov_step(table), (torch.zeros(1, 1, 1),)
    tokens, score = brute_force(table.tolist(), max_len=4)
    best = beam_search(step, state, BOS, EOS, beam_size=4**4, max_len=4)[0]
    assert best.tokens == tokens and best.score == pytest.approx(score)


def countdown_step(stops, V=5):
    """A decoder that says word 3 until the row's step ``stops[row]``, then <eos>.
    The state is (1, N, 1): each row's step count. Counts its own calls."""

    def step(tokens, state):
        step.calls += 1
        (count,) = state
        count = count + 1
        log_probs = torch.full((len(tokens), V), -5.0)
        said_eos = count[0, :, 0] >= torch.as_tensor(stops, dtype=count.dtype)[: len(tokens)]
        log_probs[:, 3] = -0.1
        log_probs[said_eos, EOS] = 0.0
        return log_probs, (count,)

    step.calls = 0
    return step


def test_decoding_stops_at_the_end_token():
    step = countdown_step([3, 5])
    sequences = greedy_decode(step, (torch.zeros(1, 2, 1),), BOS, EOS, max_len=10)
    assert sequences == [[3, 3, EOS], [3, 3, 3, 3, EOS]]
    assert step.calls == 5  # stopped once every row had said <eos>
    step = countdown_step([4])
    best = beam_search(step, (torch.zeros(1, 1, 1),), BOS, EOS, beam_size=3, max_len=10)
    assert best[0].tokens == [3, 3, 3, EOS]
    assert step.calls <= 5
    # Cut at max_len, a sequence need not end in <eos>.
    assert greedy_decode(countdown_step([9]), (torch.zeros(1, 1, 1),), BOS, EOS, 2) == [[3, 3]]


def test_decoding_errors():
    step, state = countdown_step([2]), (torch.zeros(1, 2, 1),)
    with pytest.raises(ShapeError, match="one source"):
        beam_search(step, state, BOS, EOS, beam_size=2, max_len=3)
    with pytest.raises(ValueError, match="beam_size"):
        beam_search(step, (torch.zeros(1, 1, 1),), BOS, EOS, beam_size=0, max_len=3)
    with pytest.raises(ValueError, match="max_len"):
        greedy_decode(step, state, BOS, EOS, max_len=0)
    with pytest.raises(TypeError, match="tuple"):
        greedy_decode(step, torch.zeros(1, 2, 1), BOS, EOS, max_len=3)
