"""Exercise 05 (bidirectional wrapper, word-end tagger): submissions and their scores.

Points: reverse_padded 2, the wrapper on equal lengths 2 and on a padded batch 2 (with
the reference reverse_padded standing in), a trained tagger reaching 90% held-out 2.
"""

from __future__ import annotations

from nbgrader_harness import edit, honest_variants, score_without, solved

ASSIGNMENT = "05-bilstm"
NOTEBOOK = "05-bilstm"
POINTS = {
    "test_reverse_padded": 2,
    "test_bidirectional_equal": 2,
    "test_bidirectional_lengths": 2,
    "test_word_end_tagger": 2,
}
FULL = sum(POINTS.values())
CELL = "reverse_padded"


def make_submissions(released, solution):
    """Each case: (notebook, expected autograded score)."""
    good = solved(released, solution)
    loop = (
        "    out = x.copy()\n"
        "    for b, n in enumerate(lengths):\n"
        "        out[:n, b] = x[:n, b][::-1]"
    )
    one_way = edit(good, "word_end_tagger", "bidirectional=True", "bidirectional=False")
    one_way = edit(
        one_way, "word_end_tagger", "nn.Linear(2 * hidden_size, 2)", "nn.Linear(hidden_size, 2)"
    )
    return {
        "solution": (good, FULL),
        # Training is the slow part here: one honest variant is enough.
        "deletes_every_test": honest_variants(good, FULL, "reverse_padded", "reverse_padded")[
            "deletes_every_test"
        ],
        "untouched": (released, 0),
        # Reverses the padded array as a whole: the padding comes first.
        "reverses_padding_too": (
            edit(good, "reverse_padded", loop, "    out = x[::-1].copy()"),
            score_without(POINTS, "test_reverse_padded"),
        ),
        # Leaves the backward half in reversed order.
        "backward_not_reversed_back": (
            edit(good, "bidirectional_forward", "reverse_padded(h_bwd, lengths)", "h_bwd"),
            score_without(POINTS, "test_bidirectional_equal", "test_bidirectional_lengths"),
        ),
        # Keeps what the forward network computed over the padding.
        "padding_not_zeroed": (
            edit(
                good,
                "bidirectional_forward",
                "    h[steps >= np.asarray(lengths)[None, :]] = 0.0\n",
                "",
            ),
            score_without(POINTS, "test_bidirectional_lengths"),
        ),
        # A one-directional tagger of the same size: about 86%, below the 90% required.
        "one_directional_tagger": (one_way, score_without(POINTS, "test_word_end_tagger")),
    }


# (student, test cell, words its error message must contain)
EXPLAINED = [
    ("untouched", "test_reverse_padded", "reverse_padded is not implemented yet"),
    ("reverses_padding_too", "test_reverse_padded", "has wrong values"),
    ("backward_not_reversed_back", "test_bidirectional_equal", "h has wrong values"),
    ("padding_not_zeroed", "test_bidirectional_lengths", "h has wrong values"),
    (
        "one_directional_tagger",
        "test_word_end_tagger",
        "of held-out letters correctly; 90% is needed",
    ),
]
