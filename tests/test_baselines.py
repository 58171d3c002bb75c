"""lstmlib.baselines: resampling, and the three baselines against independent oracles."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from lstmlib.baselines import (
    BagOfWords,
    NearestNeighbourDTW,
    TemplateLogistic,
    resample_steps,
    to_aeon,
)
from lstmlib.shapes import ShapeError


def test_resampling_a_straight_line_is_exact():
    t = np.arange(7.0)
    x = np.stack([2 + 3 * t, -t], axis=1)  # (7, 2), linear in time
    out = resample_steps(x, 4)
    where = np.array([0, 2, 4, 6])  # 4 evenly spaced positions in 0..6
    np.testing.assert_allclose(out, np.stack([2 + 3 * where, -where], axis=1))
    where = np.linspace(0, 6, 5)
    np.testing.assert_allclose(resample_steps(x, 5), np.stack([2 + 3 * where, -where], 1))


def test_resampling_to_the_same_length_and_from_one_step(rng):
    x = rng.normal(size=(6, 3))
    np.testing.assert_allclose(resample_steps(x, 6), x)
    np.testing.assert_allclose(resample_steps(x[:1], 3), np.repeat(x[:1], 3, axis=0))
    with pytest.raises(ValueError, match="n must"):
        resample_steps(x, 1)
    with pytest.raises(ShapeError):
        resample_steps(x[:, 0], 3)


def test_template_on_fixed_lengths_is_logistic_regression_on_all_values(rng):
    seqs = [rng.normal(size=(4, 3)) for _ in range(80)]
    labels = np.array([int(s[1, 2] + s[3, 0] > 0) for s in seqs])
    flat = np.stack([s.ravel() for s in seqs])
    scaler = StandardScaler().fit(flat)
    oracle = LogisticRegression(max_iter=3000).fit(scaler.transform(flat), labels)
    model = TemplateLogistic(n=4).fit(seqs, labels)
    tests = [rng.normal(size=(4, 3)) for _ in range(50)]
    expected = oracle.predict(scaler.transform(np.stack([s.ravel() for s in tests])))
    np.testing.assert_array_equal(model.predict(tests), expected)


def test_to_aeon_layouts(rng):
    same = [rng.normal(size=(5, 2)) for _ in range(3)]
    assert to_aeon(same).shape == (3, 2, 5)
    np.testing.assert_array_equal(to_aeon(same)[1], same[1].T)
    mixed = to_aeon([np.zeros((5, 2)), np.zeros((3, 2))])
    assert isinstance(mixed, list) and [m.shape for m in mixed] == [(2, 5), (2, 3)]


def _dtw(a, b):
    """Brute-force dependent DTW: the cheapest monotone alignment, squared distances."""
    cost = np.full((len(a) + 1, len(b) + 1), np.inf)
    cost[0, 0] = 0
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            d = np.sum((a[i - 1] - b[j - 1]) ** 2)
            cost[i, j] = d + min(cost[i - 1, j], cost[i, j - 1], cost[i - 1, j - 1])
    return cost[-1, -1]


def test_nearest_neighbour_dtw_matches_brute_force(rng):
    train = [rng.normal(size=(int(rng.integers(4, 9)), 2)) for _ in range(12)]
    labels = np.arange(12) % 3
    tests = [rng.normal(size=(int(rng.integers(4, 9)), 2)) for _ in range(10)]
    expected = [labels[np.argmin([_dtw(t, s) for s in train])] for t in tests]
    model = NearestNeighbourDTW().fit(train, labels)
    np.testing.assert_array_equal(model.predict(tests), expected)
    # A warped copy (every step twice) is still nearest to its original.
    warped = [np.repeat(s, 2, axis=0) for s in train]
    assert model.score(warped, labels) == 1.0


def test_bag_of_words_needs_bigrams_for_word_order():
    sentences = [["good", "not"], ["not", "good"]] * 20
    labels = np.array([1, 0] * 20)
    unigrams = BagOfWords(ngram=1, C=10).fit(sentences, labels)
    bigrams = BagOfWords(ngram=2, C=10).fit(sentences, labels)
    assert unigrams.score(sentences, labels) == 0.5  # the same words, either label
    assert bigrams.score(sentences, labels) == 1.0
    with pytest.raises(ValueError, match="ngram"):
        BagOfWords(ngram=3)


def test_bag_of_words_learns_keywords():
    sentences = [["a", "great", "film"], ["a", "dull", "film"], ["great"], ["dull", "plot"]]
    labels = np.array([1, 0, 1, 0])
    model = BagOfWords(ngram=1, C=10).fit(sentences * 5, np.tile(labels, 5))
    assert model.predict([["great", "plot"], ["dull"], ["unseen", "dull"]]).tolist() == [1, 0, 0]
