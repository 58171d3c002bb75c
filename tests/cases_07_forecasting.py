"""Exercise 07 (forecasting): submissions and the score each one deserves.

Points: windows 2, split and normalisation 2, a trained forecaster that beats
persistence on the held-out years of CO2 3.
"""

from __future__ import annotations

from nbgrader_harness import edit, honest_variants, score_without, solved

ASSIGNMENT = "07-forecasting"
NOTEBOOK = "07-forecasting"
POINTS = {
    "test_make_windows": 2,
    "test_split_and_normalise": 2,
    "test_forecaster_beats_persistence": 3,
}
FULL = sum(POINTS.values())
LEAK = "    mean, std = series[:train_end].mean(), series[:train_end].std()"


def make_submissions(released, solution):
    """Each case: (notebook, expected autograded score)."""
    good = solved(released, solution)
    shuffled = edit(
        good,
        "split_and_normalise",
        LEAK,
        "    series = np.random.default_rng(0).permutation(series)\n" + LEAK,
    )
    return {
        "solution": (good, FULL),
        "deletes_every_test": honest_variants(good, FULL, "make_windows", "make_windows")[
            "deletes_every_test"
        ],
        "untouched": (released, 0),
        # The last window is missing (range stops one short).
        "off_by_one_windows": (
            edit(
                good,
                "make_windows",
                "N = len(series) - input_len - horizon + 1",
                "N = len(series) - input_len - horizon",
            ),
            score_without(POINTS, "test_make_windows"),
        ),
        # Scales with the whole series' statistics: the test years leak into training.
        "leaks_normalisation": (
            edit(good, "split_and_normalise", LEAK, "    mean, std = series.mean(), series.std()"),
            score_without(POINTS, "test_split_and_normalise"),
        ),
        # Shuffles before splitting: the test part is no longer the future.
        "shuffled_split": (shuffled, score_without(POINTS, "test_split_and_normalise")),
        # Feeds the raw levels: the held-out years lie above anything seen in training.
        "raw_levels_into_the_lstm": (
            edit(
                good,
                "forecaster",
                "self.lstm((x - x[:, -1:]).unsqueeze(-1))",
                "self.lstm(x.unsqueeze(-1))",
            ),
            score_without(POINTS, "test_forecaster_beats_persistence"),
        ),
        # Computes the loss but never steps the optimiser: the model stays as initialised.
        "never_steps_the_optimiser": (
            edit(good, "train_forecaster", "            optimizer.step()\n", ""),
            score_without(POINTS, "test_forecaster_beats_persistence"),
        ),
    }


# (student, test cell, words its error message must contain)
EXPLAINED = [
    ("untouched", "test_make_windows", "make_windows is not implemented yet"),
    ("off_by_one_windows", "test_make_windows", "inputs has shape"),
    ("leaks_normalisation", "test_split_and_normalise", "has wrong values"),
    ("raw_levels_into_the_lstm", "test_forecaster_beats_persistence", "persistence"),
    ("never_steps_the_optimiser", "test_forecaster_beats_persistence", "A forecaster has to beat"),
]
