"""lstmlib.text: the corpus, the character vocabulary, and the batches for truncated BPTT."""

from __future__ import annotations

import doctest

import pytest
import torch

import lstmlib.text
from lstmlib.shapes import ShapeError
from lstmlib.text import (
    CharVocab,
    batchify,
    corpus_path,
    load_corpus,
    split_corpus,
    tbptt_batches,
)

SAMPLE = 'The "if" statement is used for conditional execution:\n\n   if x: pass\n'


@pytest.fixture(scope="module")
def corpus() -> str:
    return load_corpus()


def test_docstring_examples():
    result = doctest.testmod(lstmlib.text)
    assert result.attempted > 0 and result.failed == 0


# The corpus ---------------------------------------------------------------------------


def test_corpus_is_a_long_text_from_the_standard_library(corpus):
    from pydoc_data.topics import topics

    assert isinstance(corpus, str)
    assert len(corpus) > 100_000
    assert corpus_path().name == "topics.py" and corpus_path().is_file()
    # Every topic is in it, in sorted order of the topic names, and nothing else but the
    # blank lines between them.
    position = 0
    for name in sorted(topics):
        body = topics[name].strip("\n")
        assert corpus.startswith(body, position), name
        position += len(body) + 2
    assert position - 1 == len(corpus)


def test_corpus_is_the_same_on_every_call(corpus):
    assert load_corpus() == corpus


# The vocabulary -----------------------------------------------------------------------


def test_vocab_is_the_sorted_set_of_characters():
    vocab = CharVocab.from_text("banana")
    assert vocab.chars == ("a", "b", "n")
    assert len(vocab) == 3
    assert "n" in vocab and "x" not in vocab


def test_encode_gives_ids_of_shape_L():
    vocab = CharVocab.from_text(SAMPLE)
    ids = vocab.encode(SAMPLE)
    assert ids.shape == (len(SAMPLE),) and ids.dtype == torch.int64
    assert ids.min() >= 0 and ids.max() < len(vocab)
    assert [vocab.chars[i] for i in ids.tolist()] == list(SAMPLE)


def test_round_trip_on_the_whole_corpus(corpus):
    vocab = CharVocab.from_text(corpus)
    assert vocab.decode(vocab.encode(corpus)) == corpus


def test_decode_accepts_lists_and_round_trips_ids():
    vocab = CharVocab.from_text(SAMPLE)
    ids = torch.randint(0, len(vocab), (50,), generator=torch.Generator().manual_seed(0))
    assert torch.equal(vocab.encode(vocab.decode(ids)), ids)
    assert vocab.decode(ids.tolist()) == vocab.decode(ids)
    assert vocab.decode([]) == ""


def test_unknown_characters_are_named():
    vocab = CharVocab.from_text("abc")
    with pytest.raises(ValueError, match="'z'"):
        vocab.encode("abz")


def test_bad_ids_and_bad_vocabularies_are_rejected():
    vocab = CharVocab.from_text("abc")
    with pytest.raises(ValueError, match="out of range"):
        vocab.decode([0, 3])
    with pytest.raises(ValueError, match="out of range"):
        vocab.decode([-1])
    with pytest.raises(ShapeError):
        vocab.decode(torch.zeros(2, 2, dtype=torch.long))
    with pytest.raises(ValueError):
        CharVocab("")
    with pytest.raises(ValueError):
        CharVocab(["ab"])


# Splitting and batching ---------------------------------------------------------------


def test_split_is_contiguous_and_complete():
    ids = torch.arange(1000)
    train, val = split_corpus(ids, val_fraction=0.1)
    assert len(train) == 900 and len(val) == 100
    assert torch.equal(torch.cat([train, val]), ids)
    for bad in (0.0, 1.0, -0.5):
        with pytest.raises(ValueError):
            split_corpus(ids, bad)


def test_batchify_lays_contiguous_streams_side_by_side():
    ids = torch.arange(103)
    streams = batchify(ids, batch_size=4)
    assert streams.shape == (25, 4)  # (N, B) with N = 103 // 4; the last 3 ids are dropped
    for b in range(4):
        assert torch.equal(streams[:, b], ids[b * 25 : (b + 1) * 25])


def test_batchify_rejects_bad_input():
    with pytest.raises(ShapeError):
        batchify(torch.zeros(4, 4, dtype=torch.long), 2)
    with pytest.raises(ValueError):
        batchify(torch.arange(5), 3)  # one id per stream: no next character to predict
    with pytest.raises(ValueError):
        batchify(torch.arange(5), 0)


@pytest.mark.parametrize("seq_len", [1, 7, 8, 24, 100])
def test_tbptt_chunks_have_shape_T_B_and_next_character_targets(seq_len):
    streams = batchify(torch.arange(200), batch_size=8)  # (25, 8)
    chunks = list(tbptt_batches(streams, seq_len))
    for k, (x, y) in enumerate(chunks):
        assert x.shape == y.shape and x.shape[1] == 8
        assert x.shape[0] == seq_len or k == len(chunks) - 1  # only the last may be shorter
        assert torch.equal(y, x + 1)  # here the id of the next character is the id + 1
    # Together the chunks cover every input position once, in order.
    assert torch.equal(torch.cat([x for x, _ in chunks]), streams[:-1])
    assert torch.equal(torch.cat([y for _, y in chunks]), streams[1:])


def test_consecutive_chunks_continue_each_other_on_real_text(corpus):
    vocab = CharVocab.from_text(corpus)
    text = corpus[:5000]
    streams = batchify(vocab.encode(text), batch_size=5)  # 5 streams of 1000 characters
    chunks = list(tbptt_batches(streams, seq_len=64))
    for (x1, y1), (x2, _) in zip(chunks, chunks[1:], strict=False):
        # The next chunk starts with the character that the last target named.
        assert torch.equal(x2[0], y1[-1])
        assert torch.equal(x1[1:], y1[:-1])
    for b in range(5):
        read = "".join(vocab.decode(x[:, b]) for x, _ in chunks)
        assert read == text[b * 1000 : (b + 1) * 1000 - 1]


def test_carried_state_over_chunks_equals_one_pass_over_the_streams():
    """What the batching is for: an LSTM that reads the chunks one after the other and
    carries its state (detached, as in truncated BPTT) computes exactly what it computes
    on the whole streams at once."""
    torch.manual_seed(0)
    vocab = CharVocab.from_text(SAMPLE)
    streams = batchify(vocab.encode(SAMPLE * 4), batch_size=3)
    embed = torch.nn.Embedding(len(vocab), 5)
    lstm = torch.nn.LSTM(5, 7)
    with torch.no_grad():
        whole, _ = lstm(embed(streams[:-1]))
        pieces, state = [], None
        for x, _ in tbptt_batches(streams, seq_len=10):
            out, (h, c) = lstm(embed(x), state)
            state = (h.detach(), c.detach())
            pieces.append(out)
    torch.testing.assert_close(torch.cat(pieces), whole)


def test_tbptt_rejects_bad_arguments():
    with pytest.raises(ShapeError):
        next(tbptt_batches(torch.arange(10), 2))
    with pytest.raises(ValueError):
        next(tbptt_batches(torch.zeros(10, 2, dtype=torch.long), 0))
