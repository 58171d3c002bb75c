"""The word-segmentation task of ``lstmlib.tagging``: shapes, lengths, and the labels'
definition, recomputed independently from the corpus text in every test."""

from __future__ import annotations

import itertools
import string

import numpy as np
import pytest
import torch

from lstmlib.tagging import (
    ALPHABET,
    END,
    INSIDE,
    PAD_LABEL,
    TaggingBatch,
    corpus_words,
    decode,
    encode,
    segment,
    word_end_batch,
)


def reference_words():
    """The corpus's words, tokenised here without regular expressions: the
    documentation's text, lower-cased, apostrophes dropped, cut into maximal runs of
    the letters a-z (itertools.groupby over "is this character a letter?")."""
    from pydoc_data.topics import topics

    text = "\n\n".join(topics[name] for name in sorted(topics)).lower().replace("'", "")
    letters = set(string.ascii_lowercase)
    return [
        "".join(group)
        for is_letter, group in itertools.groupby(text, key=lambda c: c in letters)
        if is_letter
    ]


@pytest.fixture(scope="module")
def reference():
    """For each split: its text without spaces, and the set of positions in that text
    where a word ends, both rebuilt from ``reference_words``."""
    words = reference_words()
    cut = round(0.9 * len(words))
    result = {}
    for split, part in [("train", words[:cut]), ("test", words[cut:])]:
        ends = set(itertools.accumulate(len(w) for w in part))  # one past each last letter
        result[split] = ("".join(part), {e - 1 for e in ends})
    return result


def test_corpus_words_match_an_independent_tokenisation():
    words = reference_words()
    train, test = corpus_words("train"), corpus_words("test")
    assert list(train) + list(test) == words
    assert len(test) == len(words) - round(0.9 * len(words))
    assert abs(len(train) / len(words) - 0.9) < 1e-3


def test_corpus_words_rejects_unknown_split():
    with pytest.raises(ValueError, match="split"):
        corpus_words("validation")


@pytest.mark.parametrize(("n", "min_length", "max_length"), [(1, 16, 32), (64, 16, 32), (50, 5, 8)])
@pytest.mark.parametrize("split", ["train", "test"])
def test_batch_shapes_dtypes_and_lengths(n, min_length, max_length, split, rng):
    batch = word_end_batch(n, rng, split=split, min_length=min_length, max_length=max_length)
    assert isinstance(batch, TaggingBatch)
    T = int(batch.lengths.max())
    assert batch.x.shape == (T, n, 26) and batch.x.dtype == np.float32
    assert batch.labels.shape == (T, n) and batch.labels.dtype == np.int64
    assert batch.lengths.shape == (n,) and batch.lengths.dtype == np.int64
    assert batch.offsets.shape == (n,) and batch.offsets.dtype == np.int64
    assert np.all((batch.lengths >= min_length) & (batch.lengths <= max_length))


def test_padding_is_zero_input_and_ignored_label(rng):
    batch = word_end_batch(200, rng)
    T = batch.x.shape[0]
    pad = np.arange(T)[:, None] >= batch.lengths  # (T, B)
    assert pad.any()  # lengths vary, so this batch has padding to check
    assert np.all(batch.x[pad] == 0)
    assert np.all(batch.labels[pad] == PAD_LABEL)
    # Real steps: exactly one letter each, and a label in {INSIDE, END}.
    assert np.all(batch.x[~pad].sum(axis=-1) == 1)
    assert set(np.unique(batch.labels[~pad])) <= {INSIDE, END}


@pytest.mark.parametrize("split", ["train", "test"])
def test_letters_are_a_stretch_of_the_text_and_labels_mark_its_word_ends(split, reference, rng):
    text, word_ends = reference[split]
    batch = word_end_batch(300, rng, split=split)
    for b in range(300):
        n, start = int(batch.lengths[b]), int(batch.offsets[b])
        # The inputs, read back letter by letter from the one-hot vectors.
        letters = "".join(ALPHABET[int(np.flatnonzero(batch.x[t, b])[0])] for t in range(n))
        assert letters == text[start : start + n]
        expected = [END if start + t in word_ends else INSIDE for t in range(n)]
        assert batch.labels[:n, b].tolist() == expected
        # Whole words only: the sequence starts right after a word end (or at the
        # start of the text) and its last letter ends a word.
        assert start == 0 or start - 1 in word_ends
        assert batch.labels[n - 1, b] == END


def test_segmenting_with_the_labels_gives_words_of_the_corpus(rng):
    vocabulary = set(corpus_words("test"))
    batch = word_end_batch(100, rng, split="test")
    for b in range(100):
        letters = decode(batch.x[:, b], batch.lengths[b])
        words = segment(letters, batch.labels[:, b]).split(" ")
        assert "".join(words) == letters
        assert all(w in vocabulary for w in words)


def test_labels_need_the_future(rng):
    """The task's point: the same letters so far can end a word or not. Some letter
    is labelled END in one sequence and INSIDE in another, after the same prefix."""
    batch = word_end_batch(500, rng)
    seen = {}
    for b in range(500):
        letters = decode(batch.x[:, b], batch.lengths[b])
        for t in range(len(letters)):
            seen.setdefault(letters[: t + 1], set()).add(int(batch.labels[t, b]))
    assert any(labels == {INSIDE, END} for labels in seen.values())


def test_same_generator_state_same_batch():
    a = word_end_batch(32, np.random.default_rng(7))
    b = word_end_batch(32, np.random.default_rng(7))
    c = word_end_batch(32, np.random.default_rng(8))
    for u, v in zip(a, b, strict=True):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(a.offsets, c.offsets)


def test_tensors_are_views_with_torch_dtypes(rng):
    batch = word_end_batch(8, rng)
    x, labels, lengths = batch.tensors()
    assert x.dtype == torch.float32 and labels.dtype == torch.int64 and lengths.dtype == torch.int64
    assert x.shape == batch.x.shape and labels.shape == batch.labels.shape
    x[0, 0, 0] = 5.0  # no copy: the tensor shares the array's memory
    assert batch.x[0, 0, 0] == 5.0


def test_cross_entropy_ignores_the_padding(rng):
    batch = word_end_batch(16, rng)
    _, labels, lengths = batch.tensors()
    scores = torch.randn(*labels.shape, 2)
    loss = torch.nn.functional.cross_entropy(scores.flatten(0, 1), labels.flatten())
    real = labels != PAD_LABEL
    expected = torch.nn.functional.cross_entropy(scores[real], labels[real])
    torch.testing.assert_close(loss, expected)
    assert int(real.sum()) == int(lengths.sum())


def test_encode_decode_segment():
    assert encode("abz").tolist() == [0, 1, 25]
    assert decode(encode("hello")) == "hello"
    one_hot = np.eye(26, dtype=np.float32)[encode("thevalue")]
    assert decode(one_hot, 3) == "the"
    assert segment("thevalueofx", [0, 0, 1, 0, 0, 0, 0, 1, 0, 1, 1]) == "the value of x"
    assert segment("ab", [1, 1, PAD_LABEL]) == "a b"
    for bad in ["The", "a b", "café"]:
        with pytest.raises(ValueError, match="a-z"):
            encode(bad)


@pytest.mark.parametrize(("n", "min_length", "max_length"), [(0, 16, 32), (4, 0, 32), (4, 20, 10)])
def test_bad_arguments_are_refused(n, min_length, max_length, rng):
    with pytest.raises(ValueError):
        word_end_batch(n, rng, min_length=min_length, max_length=max_length)
