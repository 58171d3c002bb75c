"""Exercise 05 (bidirectional LSTMs): its graded tests.

The wrapper runs with the reference ``reverse_padded`` standing in for the
student's. The tagger is trained once in the student's kernel; the kernel hands
the judge its predicted labels for held-out text, and the judge counts how many
are right.
"""

from __future__ import annotations

import numpy as np

from lstmlib.grading.checks import GradingError, run_answer, trusted
from lstmlib.grading.inputs import lstm_sequence_inputs, rnn_sequence_inputs
from lstmlib.grading.oracle import reference
from lstmlib.grading.spec import Test
from lstmlib.tagging import PAD_LABEL, word_end_batch

# The models the wrapper is tried on, and the library the tagger is built from.
GIVEN = ("rnn_forward", "lstm_forward")
LIBRARY = ("nn",)
MODELS = {
    "rnn": (rnn_sequence_inputs, reference("rnn_forward")),
    "lstm": (lstm_sequence_inputs, reference("lstm_forward")),
}


def reverse_inputs(rng, T, B, F):
    return rng.normal(size=(T, B, F)), rng.integers(1, T + 1, size=B)


def run_reverse(reverse_padded, x, lengths):
    return {"reverse_padded(x, lengths)": reverse_padded(x, lengths)}


def wrapper_inputs(rng, model, T, B, I, H, equal_lengths):
    make, _ = MODELS[model]
    x, *args_fwd = make(rng, T, B, I, H)
    _, *args_bwd = make(rng, T, B, I, H)
    lengths = np.full(B, T) if equal_lengths else rng.integers(1, T + 1, size=B)
    x[np.arange(T)[:, None] >= lengths] = 0.0  # padding, as a real batch has it
    return model, x, args_fwd, args_bwd, lengths


def run_wrapper(bidirectional_forward, model, x, args_fwd, args_bwd, lengths):
    forward = trusted(MODELS[model][1])
    return {"h": bidirectional_forward(forward, x, args_fwd, args_bwd, lengths)}


def expected_wrapper(model, x, args_fwd, args_bwd, lengths):
    h, _ = reference("bidirectional_forward")(MODELS[model][1], x, args_fwd, args_bwd, lengths)
    return {"h": h}


def wrapper_test(name, visible, hidden, hint):
    return Test(
        name,
        answer="bidirectional_forward",
        inputs=wrapper_inputs,
        run=run_wrapper,
        expected=expected_wrapper,
        visible=(visible,),
        hidden=hidden,
        standins=("reverse_padded",),
        hints={"h": hint},
    )


# --- the tagger ---------------------------------------------------------------

_trained = {}  # one trained model per class, for all the cases of one test cell


def tagger_inputs(rng):
    batch = word_end_batch(1000, rng, split="test")
    return batch.x, batch.labels, batch.lengths


def run_tagger(tagger_class, x, labels, lengths):
    import torch

    key = id(tagger_class.__wrapped__)
    if key not in _trained:
        from lstmlib.tagging import train_tagger

        torch.manual_seed(0)
        model = tagger_class(24)
        model = run_answer(train_tagger, model, steps=200, seed=0, reference_allowed=True)
        _trained.clear()
        _trained[key] = (tagger_class.__wrapped__, model)
    model = _trained[key][1]
    model.eval()
    with torch.no_grad():
        x, lengths = torch.from_numpy(x), torch.from_numpy(lengths)
        scores = run_answer(model, x, lengths, reference_allowed=True)
    return {"predicted labels": scores.argmax(-1)}


def judge_tagger(outputs, x, labels, lengths):
    predicted = outputs.get("predicted labels")
    if predicted is None or predicted.shape != labels.shape:
        shape = None if predicted is None else predicted.shape
        raise GradingError(f"The tagger's labels have shape {shape}, expected {labels.shape}.")
    real = labels != PAD_LABEL
    accuracy = float((predicted[real] == labels[real]).mean())
    if accuracy < 0.90:
        raise GradingError(
            f"The trained tagger labels {accuracy:.1%} of held-out letters correctly; 90% is "
            "needed. Is the LSTM bidirectional, and does it get the lengths?"
        )


TESTS = [
    Test(
        "test_reverse_padded",
        answer="reverse_padded",
        inputs=reverse_inputs,
        run=run_reverse,
        expected=lambda x, lengths: run_reverse(reference("reverse_padded"), x, lengths),
        visible=({"seed": 1, "T": 5, "B": 3, "F": 2},),
        hidden=({"T": 1, "B": 1, "F": 1}, {"T": 9, "B": 6, "F": 3}, {"T": 4, "B": 8, "F": 1}),
        hints={
            "reverse_padded(x, lengths)": "Reverse x[:lengths[b], b] for each b; leave the "
            "padding steps alone."
        },
    ),
    wrapper_test(
        "test_bidirectional_equal",
        {"seed": 2, "model": "rnn", "T": 4, "B": 2, "I": 3, "H": 2, "equal_lengths": True},
        (
            {"model": "lstm", "T": 6, "B": 3, "I": 2, "H": 4, "equal_lengths": True},
            {"model": "rnn", "T": 1, "B": 1, "I": 1, "H": 1, "equal_lengths": True},
        ),
        "Reverse the backward direction's output back to step order; forward half first.",
    ),
    wrapper_test(
        "test_bidirectional_lengths",
        {"seed": 3, "model": "rnn", "T": 5, "B": 3, "I": 2, "H": 2, "equal_lengths": False},
        (
            {"model": "lstm", "T": 8, "B": 5, "I": 3, "H": 4, "equal_lengths": False},
            {"model": "lstm", "T": 3, "B": 6, "I": 1, "H": 2, "equal_lengths": False},
        ),
        "Each backward pass starts at its sequence's own last step; the padding of h is zero.",
    ),
    Test(
        "test_word_end_tagger",
        answer="WordEndTagger",
        inputs=tagger_inputs,
        run=run_tagger,
        judge=judge_tagger,
        visible=({"seed": 2024},),
        hidden=({},),
        reference_allowed=True,
    ),
]
