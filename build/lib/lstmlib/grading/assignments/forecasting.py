"""Exercise 07 (forecasting a real series): its graded tests.

Windows and the chronological split are compared with ``lstmlib.forecasting``
(hidden from the kernel). The forecaster is trained in the student's kernel on the
training part of the Mauna Loa CO2 series; the kernel hands the judge its
forecasts for every window of the held-out test part, and the judge compares
their error with persistence (tomorrow = today) on the same windows.
"""

from __future__ import annotations

import numpy as np

from lstmlib.grading.checks import GradingError, check_tuple
from lstmlib.grading.oracle import reference
from lstmlib.grading.spec import Test

TRAIN, VAL = 0.7, 0.15  # the split's fractions, as the notebook states them


def random_series(rng, T, trend):
    """A noisy seasonal series with a trend: its test part lies above its training part."""
    t = np.arange(T)
    return trend * t + np.sin(2 * np.pi * t / 12) + 0.3 * rng.normal(size=T)


def windows_inputs(rng, T, input_len, horizon):
    return random_series(rng, T, trend=0.05), input_len, horizon


def run_windows(make_windows, series, input_len, horizon):
    inputs, targets = check_tuple(
        "make_windows", make_windows(series, input_len, horizon), 2, "(inputs, targets)"
    )
    return {"inputs": inputs, "targets": targets}


def expected_windows(series, input_len, horizon):
    inputs, targets, _ = reference("make_windows")(series, input_len, horizon)
    return {"inputs": inputs, "targets": targets}


def split_inputs(rng, T, trend):
    return (random_series(rng, T, trend),)


SPLIT = ("train", "val", "test", "mean", "std")


def run_split(split_and_normalise, series):
    parts = check_tuple("split_and_normalise", split_and_normalise(series), 5, str(SPLIT))
    return dict(zip(SPLIT, parts, strict=True))


def expected_split(series):
    from lstmlib.forecasting import Normaliser, chronological_split

    split = chronological_split(len(series), TRAIN, VAL)
    scale = Normaliser().fit(series[split.train])
    parts = [scale.transform(series[part]) for part in (split.train, split.val, split.test)]
    return dict(zip(SPLIT, [*parts, scale.mean, scale.std], strict=True))


# --- the trained forecaster -----------------------------------------------------


def co2_split():
    """The CO2 series, where its training part ends and where its test part starts."""
    from lstmlib.series_data import load_co2

    series = load_co2().values
    T = len(series)
    return series, int(round(TRAIN * T)), int(round((TRAIN + VAL) * T))


def training_inputs(rng, input_len, horizon):
    return input_len, horizon, int(rng.integers(2**31))


def run_training(answers, input_len, horizon, seed):
    import torch

    forecaster_class, train_forecaster = answers
    series, train_end, test_start = co2_split()
    train = series[:train_end]
    mean, std = train.mean(), train.std()
    z = (series - mean) / std
    make_windows = reference("make_windows")
    inputs, targets, _ = make_windows(z, input_len, horizon, 0, train_end)
    test_inputs, _, _ = make_windows(z, input_len, horizon, test_start)
    torch.manual_seed(seed)
    model = forecaster_class(input_len, horizon)
    model = train_forecaster(model, inputs.astype(np.float32), targets.astype(np.float32))
    if not isinstance(model, torch.nn.Module):
        raise GradingError("train_forecaster must return the trained model.")
    model.eval()
    with torch.no_grad():
        forecasts = model(torch.as_tensor(test_inputs, dtype=torch.float32))
    return {"forecasts": forecasts.double() * std + mean}


def judge_training(outputs, input_len, horizon, seed):
    from lstmlib.forecasting import mae, make_windows, persistence

    series, _, test_start = co2_split()
    test_inputs, truth, _ = make_windows(series, input_len, horizon, test_start)
    forecasts = outputs.get("forecasts")
    if forecasts is None or forecasts.shape != truth.shape:
        shape = None if forecasts is None else forecasts.shape
        raise GradingError(f"The forecasts have shape {shape}, expected {truth.shape}.")
    model, naive = mae(truth, forecasts), mae(truth, persistence(test_inputs, horizon))
    if not model < naive:
        raise GradingError(
            f"On the held-out years, the trained forecaster is off by {model:.3f} ppm on "
            f"average; persistence (the last value, repeated) by {naive:.3f} ppm. A "
            "forecaster has to beat it. Does the LSTM see the window relative to its last "
            "value, and does the training loop step the optimiser?"
        )


TESTS = [
    Test(
        "test_make_windows",
        answer="make_windows",
        inputs=windows_inputs,
        run=run_windows,
        expected=expected_windows,
        visible=({"seed": 1, "T": 20, "input_len": 5, "horizon": 3},),
        hidden=(
            {"T": 9, "input_len": 8, "horizon": 1},
            {"T": 50, "input_len": 1, "horizon": 7},
            {"T": 64, "input_len": 12, "horizon": 12},
        ),
        hints=dict.fromkeys(
            ("inputs", "targets"),
            "Window t holds series[t : t + input_len] as input and the next horizon values as "
            "its target; the last window ends at the series' last value.",
        ),
    ),
    Test(
        "test_split_and_normalise",
        answer="split_and_normalise",
        inputs=split_inputs,
        run=run_split,
        expected=expected_split,
        visible=({"seed": 2, "T": 40, "trend": 0.0},),
        # Trends: the test part's statistics differ from the training part's.
        hidden=({"T": 100, "trend": 0.2}, {"T": 57, "trend": -0.5}),
        hints={
            **dict.fromkeys(
                ("train", "val", "test"),
                "Split in time order (no shuffling), and scale every part with the training "
                "part's mean and standard deviation.",
            ),
            **dict.fromkeys(
                ("mean", "std"),
                "Use the training part only: statistics of the later parts leak the future.",
            ),
        },
    ),
    Test(
        "test_forecaster_beats_persistence",
        answer=("Forecaster", "train_forecaster"),
        inputs=training_inputs,
        run=run_training,
        judge=judge_training,
        visible=({"seed": 3, "input_len": 52, "horizon": 13},),
        hidden=({"input_len": 26, "horizon": 8},),
        references=("make_windows",),  # the kernel windows the data with the reference
    ),
]
