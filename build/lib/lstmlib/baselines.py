"""Non-recurrent baselines for sequence classification, the ones an LSTM must beat.

Each has ``fit(sequences, labels)`` (returns itself) and ``predict(sequences)`` (class
ids, ``(N,)``) and ``score(sequences, labels)`` (accuracy), on the same inputs the
LSTMs of the book read:

- :class:`TemplateLogistic`: each real-valued sequence ``(L, F)`` resampled to a fixed
  ``n`` steps (:func:`resample_steps`), flattened, standardised, then multinomial
  logistic regression. With ``n = L`` for fixed-length inputs (the rows of a digit image)
  this is plain logistic regression on all the values; for recordings of different
  lengths (spoken digits) it is a crude template that keeps the order of the sounds but
  not their timing;
- :class:`NearestNeighbourDTW`: the 1-nearest-neighbour classifier with dynamic time
  warping (Sakoe and Chiba 1978), aeon's implementation with a full window, the UCR/UEA
  archive's reference baseline; it takes sequences of any length;
- :class:`BagOfWords`: logistic regression on which words (and, with ``ngram=2``, which
  pairs of adjacent words) a tokenised sentence contains, ignoring their order.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np

from lstmlib.shapes import check_shape

__all__ = ["BagOfWords", "NearestNeighbourDTW", "TemplateLogistic", "resample_steps", "to_aeon"]


def resample_steps(x, n: int) -> np.ndarray:
    """``n`` evenly spaced steps of ``x``, linearly interpolated between its steps.

    Step ``k`` of the result is ``x`` read at position ``k (L - 1) / (n - 1)``: the first
    and last steps are kept, and ``n = L`` returns ``x`` itself. A single step is
    repeated ``n`` times.

    Args:
        x: (L, F), ``L >= 1``. n: ``>= 2``.

    Returns:
        (n, F) float64.
    """
    check_shape("x", x, ("L", "F"))
    x = np.asarray(x, dtype=np.float64)
    if len(x) == 0:
        raise ValueError("x must have at least one step")
    if n < 2:
        raise ValueError(f"n must be at least 2, got {n}")
    if len(x) == 1:
        return np.repeat(x, n, axis=0)
    where = np.linspace(0, len(x) - 1, n)
    return np.stack([np.interp(where, np.arange(len(x)), column) for column in x.T], axis=1)


class TemplateLogistic:
    """Logistic regression on sequences resampled to ``n`` steps (see the module).

    Args:
        n: the fixed number of steps; C: the inverse regularisation strength.
    """

    def __init__(self, n: int, C: float = 1.0, max_iter: int = 3000):
        self.n, self.C, self.max_iter = n, C, max_iter

    def features(self, sequences: Sequence[np.ndarray]) -> np.ndarray:
        """``(N, n F)``: each sequence resampled to ``n`` steps and flattened."""
        return np.stack([resample_steps(x, self.n).ravel() for x in sequences])

    def fit(self, sequences, labels):
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        self.model_ = make_pipeline(
            StandardScaler(), LogisticRegression(C=self.C, max_iter=self.max_iter)
        )
        self.model_.fit(self.features(sequences), np.asarray(labels))
        return self

    def predict(self, sequences) -> np.ndarray:
        return self.model_.predict(self.features(sequences))

    def score(self, sequences, labels) -> float:
        return float(np.mean(self.predict(sequences) == np.asarray(labels)))


def to_aeon(sequences: Sequence[np.ndarray]):
    """aeon's collection layout for time-first ``(L_i, C)`` arrays: one ``(N, C, L)`` array
    if all lengths are equal, else a list of ``(C, L_i)`` arrays (float64)."""
    series = [np.asarray(x, dtype=np.float64).T for x in sequences]
    return np.stack(series) if len({s.shape for s in series}) == 1 else series


class NearestNeighbourDTW:
    """1-NN with dynamic time warping (full window), aeon's
    ``KNeighborsTimeSeriesClassifier``, on time-first ``(L_i, C)`` sequences; with several
    channels, the dependent form that warps them together."""

    def fit(self, sequences, labels):
        from aeon.classification.distance_based import KNeighborsTimeSeriesClassifier

        self.model_ = KNeighborsTimeSeriesClassifier(n_neighbors=1, distance="dtw")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # numba's notes on integer casts
            self.model_.fit(to_aeon(sequences), np.asarray(labels))
        return self

    def predict(self, sequences) -> np.ndarray:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return np.asarray(self.model_.predict(to_aeon(sequences)))

    def score(self, sequences, labels) -> float:
        return float(np.mean(self.predict(sequences) == np.asarray(labels)))


def _ngrams(words: Sequence[str], n: int) -> list[str]:
    grams = list(words)
    if n == 2:
        grams += [f"{a} {b}" for a, b in zip(words[:-1], words[1:], strict=False)]
    return grams


class BagOfWords:
    """Logistic regression on binary word (``ngram=1``) or word and bigram (``ngram=2``)
    indicators of tokenised sentences (lists of words); the features are those seen in
    training.

    Args:
        ngram: 1 or 2. C: the inverse regularisation strength.
    """

    def __init__(self, ngram: int = 2, C: float = 1.0):
        if ngram not in (1, 2):
            raise ValueError(f"ngram must be 1 or 2, got {ngram}")
        self.ngram, self.C = ngram, C

    def fit(self, sentences: Sequence[Sequence[str]], labels):
        from sklearn.feature_extraction.text import CountVectorizer
        from sklearn.linear_model import LogisticRegression

        self.vectorizer_ = CountVectorizer(
            analyzer=lambda words: _ngrams(words, self.ngram), binary=True
        )
        features = self.vectorizer_.fit_transform(sentences)
        # The dual problem is the faster one when features outnumber sentences.
        self.model_ = LogisticRegression(C=self.C, solver="liblinear", dual=True, max_iter=3000)
        self.model_.fit(features, np.asarray(labels))
        return self

    def predict(self, sentences) -> np.ndarray:
        return self.model_.predict(self.vectorizer_.transform(sentences))

    def score(self, sentences, labels) -> float:
        return float(np.mean(self.predict(sentences) == np.asarray(labels)))
