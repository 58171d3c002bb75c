"""Windows, splits in time, metrics and baselines for forecasting (NumPy only).

Conventions: a series is ``(T,)`` or ``(T, C)``, time first. A *window* is the pair
(the ``input_len`` values before a time ``t``, the ``horizon`` values from ``t`` on);
``t`` is the window's *origin*. Splits are chronological: the training part comes
first, then validation, then test, and a window belongs to the part its targets lie in
(its inputs may reach back into an earlier part: at forecast time the past is known).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def make_windows(series, input_len: int, horizon: int, start: int = 0, stop: int | None = None):
    """All windows of ``series`` whose targets lie in ``series[start:stop]``.

    Args:
        series: ``(T,)`` or ``(T, C)``.
        input_len, horizon: the length of each input and of each target, both >= 1.
        start, stop: the targets' range (default: the whole series). Inputs may begin
            before ``start``, but never before index 0.

    Returns:
        inputs: ``(N, input_len)`` or ``(N, input_len, C)``.
        targets: ``(N, horizon)`` or ``(N, horizon, C)``.
        origins: ``(N,)`` the index of each window's first target, increasing by 1.
    """
    series = np.asarray(series)
    if input_len < 1 or horizon < 1:
        raise ValueError(f"input_len and horizon must be >= 1, got {input_len}, {horizon}")
    T = len(series)
    stop = T if stop is None else stop
    if not 0 <= start <= stop <= T:
        raise ValueError(f"need 0 <= start <= stop <= {T}, got start={start}, stop={stop}")
    first = max(start, input_len)
    origins = np.arange(first, stop - horizon + 1)
    offsets = np.arange(-input_len, horizon)
    index = origins[:, None] + offsets[None, :]  # (N, input_len + horizon)
    block = series[index] if len(origins) else np.empty((0, input_len + horizon) + series.shape[1:])
    return block[:, :input_len], block[:, input_len:], origins


@dataclass(frozen=True)
class Split:
    """A chronological split of ``T`` steps: ``[0, train_end)``, ``[train_end, val_end)``,
    ``[val_end, T)``."""

    train_end: int
    val_end: int
    T: int

    @property
    def train(self) -> slice:
        return slice(0, self.train_end)

    @property
    def val(self) -> slice:
        return slice(self.train_end, self.val_end)

    @property
    def test(self) -> slice:
        return slice(self.val_end, self.T)


def chronological_split(T: int, train: float = 0.7, val: float = 0.15) -> Split:
    """Split ``T`` steps in time order: the first ``train`` fraction, the next ``val``,
    and the rest as test (never shuffled). Every part gets at least one step."""
    if not (0 < train and 0 <= val and train + val < 1):
        raise ValueError(f"need 0 < train, 0 <= val and train + val < 1, got {train}, {val}")
    train_end = int(round(train * T))
    val_end = int(round((train + val) * T))
    if not 0 < train_end <= val_end < T:
        raise ValueError(f"T={T} is too short for fractions {train}, {val}")
    return Split(train_end, val_end, T)


class Normaliser:
    """Standardise each variable with the mean and standard deviation of the data it is
    fitted on (the training part only: anything else leaks the future into the past).
    """

    def __init__(self):
        self.mean = None
        self.std = None

    def fit(self, train):
        train = np.asarray(train, dtype=np.float64)
        self.mean = train.mean(axis=0)
        self.std = train.std(axis=0)
        if np.any(self.std == 0):
            raise ValueError("a variable is constant on the fitting data: cannot scale it")
        return self

    def transform(self, x):
        return (np.asarray(x, dtype=np.float64) - self.mean) / self.std

    def inverse(self, z):
        return np.asarray(z, dtype=np.float64) * self.std + self.mean


# Metrics: ``y`` and ``y_hat`` of the same shape; the mean is over every entry.


def mae(y, y_hat) -> float:
    """Mean absolute error."""
    return float(np.mean(np.abs(np.asarray(y, float) - np.asarray(y_hat, float))))


def rmse(y, y_hat) -> float:
    """Root mean squared error."""
    return float(np.sqrt(np.mean((np.asarray(y, float) - np.asarray(y_hat, float)) ** 2)))


def mase(y, y_hat, train, season: int = 1) -> float:
    """Mean absolute scaled error (Hyndman & Koehler 2006): the MAE of ``y_hat``
    divided by the in-sample MAE of the seasonal naive forecast on ``train``
    (``train[t] - train[t - season]``). Below 1: better than that naive forecast did
    on the training data."""
    train = np.asarray(train, dtype=np.float64)
    if len(train) <= season:
        raise ValueError(f"train needs more than season={season} steps, has {len(train)}")
    scale = np.mean(np.abs(train[season:] - train[:-season]))
    return mae(y, y_hat) / scale


def quantile_loss(y, y_hat, q: float) -> float:
    """The pinball loss of quantile ``q``: ``q (y - y_hat)`` above, ``(1 - q)(y_hat - y)``
    below; its expectation is smallest when ``y_hat`` is the ``q``-quantile of ``y``."""
    error = np.asarray(y, float) - np.asarray(y_hat, float)
    return float(np.mean(np.maximum(q * error, (q - 1) * error)))


# Baselines: each takes the inputs of ``make_windows`` (univariate, ``(N, L)``) and
# returns forecasts ``(N, horizon)``.


def persistence(inputs, horizon: int):
    """Every future value equals the last one observed (the random walk's forecast)."""
    inputs = np.asarray(inputs, dtype=np.float64)
    return np.repeat(inputs[:, -1:], horizon, axis=1)


def seasonal_naive(inputs, horizon: int, season: int):
    """Each future value equals the value one season earlier: the forecast for origin
    ``t`` and step ``h`` (0-based) is ``y[t + h - season * k]`` for the smallest ``k``
    that makes it a past value. Needs ``input_len >= season``."""
    inputs = np.asarray(inputs, dtype=np.float64)
    L = inputs.shape[1]
    if L < season:
        raise ValueError(f"seasonal naive needs input_len >= season, got {L} < {season}")
    h = np.arange(horizon)
    return inputs[:, L - season + h % season]


class LinearAR:
    """Linear autoregression ``y_t = c + sum_k a_k y_{t-k}`` fitted by least squares,
    forecasting several steps ahead recursively (each prediction becomes an input)."""

    def __init__(self, order: int):
        self.order = order
        self.coef = None  # (order + 1,): the intercept, then a_order ... a_1

    def fit(self, train):
        inputs, targets, _ = make_windows(np.asarray(train, float), self.order, 1)
        design = np.column_stack([np.ones(len(inputs)), inputs])
        self.coef, *_ = np.linalg.lstsq(design, targets[:, 0], rcond=None)
        return self

    def forecast(self, inputs, horizon: int):
        history = np.asarray(inputs, dtype=np.float64)[:, -self.order :]
        out = np.empty((len(history), horizon))
        for h in range(horizon):
            out[:, h] = self.coef[0] + history @ self.coef[1:]
            history = np.column_stack([history[:, 1:], out[:, h]])
        return out
