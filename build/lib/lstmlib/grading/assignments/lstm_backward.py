"""Exercise 03 (the LSTM backward pass): its graded tests.

Part 1 is graded in three cells (dc_prev; dx and dh_prev; the weights), each on a
cache made by the reference forward pass; Part 2 runs with the reference
``lstm_step_backward`` standing in for the student's.
"""

from __future__ import annotations

from lstmlib.grading.checks import check_tuple
from lstmlib.grading.inputs import lstm_sequence_inputs, lstm_step_inputs
from lstmlib.grading.oracle import reference
from lstmlib.grading.spec import Test

# The forward pass is given (the students' setup cell gets it from the grader).
GIVEN = ("lstm_step_forward", "lstm_forward")
STEP_SHAPES = ({"B": 1, "I": 1, "H": 1}, {"B": 5, "I": 7, "H": 3}, {"B": 3, "I": 2, "H": 6})
STEP_GRADIENTS = ("dx", "dh_prev", "dc_prev", "dWx", "dWh", "db")
GRADIENTS = ("dx", "dh0", "dc0", "dWx", "dWh", "db")


def step_inputs(rng, B, I, H):
    return lstm_step_inputs(rng, B, I, H), rng.normal(size=(B, H)), rng.normal(size=(B, H))


def step_gradients(step_backward, args, dh, dc, names):
    cache = tuple(reference("lstm_step_forward")(*args)[2])
    grads = check_tuple("lstm_step_backward", step_backward(dh, dc, cache), 6, str(STEP_GRADIENTS))
    return {name: grad for name, grad in zip(STEP_GRADIENTS, grads, strict=True) if name in names}


def step_test(name, names, seed, hint):
    def run(step_backward, args, dh, dc):
        return step_gradients(step_backward, args, dh, dc, names)

    return Test(
        name,
        answer="lstm_step_backward",
        inputs=step_inputs,
        run=run,
        expected=lambda args, dh, dc: run(reference("lstm_step_backward"), args, dh, dc),
        visible=({"seed": seed, "B": 2, "I": 3, "H": 4},),
        hidden=STEP_SHAPES,
        hints=dict.fromkeys(names, hint),
    )


def backward_inputs(rng, T, B, I, H):
    return lstm_sequence_inputs(rng, T, B, I, H), rng.normal(size=(T, B, H))


def run_backward(backward, args, dh):
    _, cache = reference("lstm_forward")(*args)
    grads = check_tuple("lstm_backward", backward(dh, cache), 6, str(GRADIENTS))
    return dict(zip(GRADIENTS, grads, strict=True))


GATE_ORDER = "Check each gate's derivative and that da lists the gates in the order i, f, g, o."
TESTS = [
    step_test(
        "test_lstm_step_backward_dc_prev",
        ("dc_prev",),
        1,
        "The cell state reaches c_prev only through f * c_prev; first add dh's share to dc.",
    ),
    step_test("test_lstm_step_backward_inputs", ("dx", "dh_prev"), 2, GATE_ORDER),
    step_test("test_lstm_step_backward_weights", ("dWx", "dWh", "db"), 3, GATE_ORDER),
    Test(
        "test_lstm_backward",
        answer="lstm_backward",
        inputs=backward_inputs,
        run=run_backward,
        expected=lambda args, dh: run_backward(reference("lstm_backward"), args, dh),
        visible=({"seed": 4, "T": 3, "B": 2, "I": 3, "H": 4},),
        hidden=(
            {"T": 1, "B": 1, "I": 1, "H": 1},
            {"T": 6, "B": 3, "I": 2, "H": 5},
            {"T": 10, "B": 2, "I": 4, "H": 3},
        ),
        standins=("lstm_step_backward",),
        hints=dict.fromkeys(
            GRADIENTS,
            "Carry both dh_prev and dc_prev back to the previous step, and add up the weight "
            "gradients over all steps.",
        ),
    ),
]
