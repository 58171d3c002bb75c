"""Exercise 01 (an RNN by hand): its graded tests.

Parts 3 to 5 run with the reference versions of the earlier parts standing in for
the student's, so a mistake costs the points of its own part only.
"""

from __future__ import annotations

from lstmlib.grading.checks import GradingError, check_tuple
from lstmlib.grading.inputs import rnn_sequence_inputs, rnn_step_inputs
from lstmlib.grading.oracle import reference
from lstmlib.grading.spec import Test

STEP_SHAPES = ({"B": 1, "I": 1, "H": 1}, {"B": 5, "I": 7, "H": 3}, {"B": 4, "I": 2, "H": 6})
SEQUENCE_SHAPES = (
    {"T": 1, "B": 1, "I": 1, "H": 1},
    {"T": 7, "B": 3, "I": 2, "H": 5},
    {"T": 12, "B": 2, "I": 4, "H": 3},
)
GRADIENTS = ("dx", "dh_prev", "dWx", "dWh", "db")


def step_forward_inputs(rng, B, I, H):
    return (rnn_step_inputs(rng, B, I, H),)


def run_step_forward(step, args):
    h, cache = check_tuple("rnn_step_forward", step(*args), 2, "(h, cache)")
    cache = check_tuple("rnn_step_forward", cache, 5, "cache = (x, h_prev, Wx, Wh, h)")
    return {"h": h, "cache[4] (the new h)": cache[4]}


def step_backward_inputs(rng, B, I, H):
    return rnn_step_inputs(rng, B, I, H), rng.normal(size=(B, H))


def run_step_backward(step_backward, args, dh):
    # The backward pass gets a cache made by the reference forward pass.
    _, cache = reference("rnn_step_forward")(*args)
    grads = check_tuple("rnn_step_backward", step_backward(dh, tuple(cache)), 5, str(GRADIENTS))
    return dict(zip(GRADIENTS, grads, strict=True))


def sequence_inputs(rng, T, B, I, H):
    return (rnn_sequence_inputs(rng, T, B, I, H),)


def run_forward(forward, args):
    h, cache = check_tuple("rnn_forward", forward(*args), 2, "(h, cache)")
    if not isinstance(cache, list) or len(cache) != len(args[0]):
        raise GradingError("The cache must be a list with one step cache per time step.")
    return {"h": h}


def backward_inputs(rng, T, B, I, H):
    return rnn_sequence_inputs(rng, T, B, I, H), rng.normal(size=(T, B, H))


def run_backward(backward, args, dh):
    _, cache = reference("rnn_forward")(*args)
    grads = check_tuple("rnn_backward", backward(dh, cache), 5, "(dx, dh0, dWx, dWh, db)")
    return dict(zip(("dx", "dh0", "dWx", "dWh", "db"), grads, strict=True))


def run_norms(gradient_norm_by_lag, args):
    return {"norms": gradient_norm_by_lag(*args)}


TESTS = [
    Test(
        "test_rnn_step_forward",
        answer="rnn_step_forward",
        inputs=step_forward_inputs,
        run=run_step_forward,
        expected=lambda args: run_step_forward(reference("rnn_step_forward"), args),
        visible=({"seed": 1, "B": 2, "I": 3, "H": 4},),
        hidden=STEP_SHAPES,
        hints={"h": "Check the order of the products and that tanh is applied."},
    ),
    Test(
        "test_rnn_step_backward",
        answer="rnn_step_backward",
        inputs=step_backward_inputs,
        run=run_step_backward,
        expected=lambda args, dh: run_step_backward(reference("rnn_step_backward"), args, dh),
        visible=({"seed": 2, "B": 2, "I": 3, "H": 4},),
        hidden=STEP_SHAPES,
        references=("rnn_step_forward",),
        hints=dict.fromkeys(GRADIENTS, "Did you go through tanh with (1 - h**2)?"),
    ),
    Test(
        "test_rnn_forward",
        answer="rnn_forward",
        inputs=sequence_inputs,
        run=run_forward,
        expected=lambda args: run_forward(reference("rnn_forward"), args),
        visible=({"seed": 3, "T": 3, "B": 2, "I": 3, "H": 4},),
        hidden=SEQUENCE_SHAPES,
        standins=("rnn_step_forward",),
        hints={"h": "Each step must start from the previous step's hidden state."},
    ),
    Test(
        "test_rnn_backward",
        answer="rnn_backward",
        inputs=backward_inputs,
        run=run_backward,
        expected=lambda args, dh: run_backward(reference("rnn_backward"), args, dh),
        visible=({"seed": 4, "T": 3, "B": 2, "I": 3, "H": 4},),
        hidden=SEQUENCE_SHAPES,
        standins=("rnn_step_backward",),
        references=("rnn_forward",),
        hints=dict.fromkeys(
            ("dx", "dh0", "dWx", "dWh", "db"),
            "The weights are shared across time: add up their gradients over all steps, and "
            "add the gradient coming back from step t + 1 to dh[t].",
        ),
    ),
    Test(
        "test_gradient_norm_by_lag",
        answer="gradient_norm_by_lag",
        inputs=sequence_inputs,
        run=run_norms,
        expected=lambda args: run_norms(reference("gradient_norm_by_lag"), args),
        visible=({"seed": 5, "T": 6, "B": 2, "I": 3, "H": 4},),
        hidden=(
            {"T": 1, "B": 1, "I": 1, "H": 1},
            {"T": 20, "B": 3, "I": 2, "H": 5},
            {"T": 9, "B": 1, "I": 4, "H": 8},
        ),
        standins=("rnn_forward", "rnn_step_forward", "rnn_step_backward"),
        hints={
            "norms": "norms[0] belongs to the last state; each step back multiplies by one "
            "Jacobian."
        },
    ),
]
