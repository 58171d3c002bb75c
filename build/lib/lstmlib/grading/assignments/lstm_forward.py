"""Exercise 02 (the LSTM forward pass): its graded tests.

Part 1 is graded in three cells (the gates, the cell state, the hidden state),
each on the outputs of the student's ``lstm_step_forward``; Part 2 runs with the
reference ``lstm_step_forward`` standing in for the student's.
"""

from __future__ import annotations

from lstmlib.grading.checks import GradingError, check_tuple
from lstmlib.grading.inputs import lstm_sequence_inputs, lstm_step_inputs
from lstmlib.grading.oracle import reference
from lstmlib.grading.spec import Test

STEP_SHAPES = ({"B": 1, "I": 1, "H": 1}, {"B": 5, "I": 7, "H": 3}, {"B": 3, "I": 2, "H": 6})
CACHE = "cache = (x, h_prev, c_prev, Wx, Wh, i, f, g, o, c)"


def step_inputs(rng, B, I, H):
    return (lstm_step_inputs(rng, B, I, H),)


def step_outputs(step, args):
    h, c, cache = check_tuple("lstm_step_forward", step(*args), 3, "(h, c, cache)")
    return h, c, check_tuple("lstm_step_forward", cache, 10, CACHE)


def run_gates(step, args):
    _, _, cache = step_outputs(step, args)
    return {f"gate {name} (cache[{5 + k}])": cache[5 + k] for k, name in enumerate("ifgo")}


def run_cell(step, args):
    _, c, cache = step_outputs(step, args)
    return {"c": c, "cache[9] (the new c)": cache[9]}


def run_hidden(step, args):
    h, _, _ = step_outputs(step, args)
    return {"h": h}


def run_forward(forward, args):
    h, cache = check_tuple("lstm_forward", forward(*args), 2, "(h, cache)")
    if not isinstance(cache, list) or len(cache) != len(args[0]):
        raise GradingError("The cache must be a list with one step cache per time step.")
    return {"h": h}


def step_test(name, run, seed, hint):
    return Test(
        name,
        answer="lstm_step_forward",
        inputs=step_inputs,
        run=run,
        expected=lambda args: run(reference("lstm_step_forward"), args),
        visible=({"seed": seed, "B": 2, "I": 3, "H": 4},),
        hidden=STEP_SHAPES,
        hints=hint,
    )


GATES_HINT = "The gates come in the order i, f, g, o; g uses tanh, the others sigmoid."
TESTS = [
    step_test(
        "test_lstm_gates",
        run_gates,
        1,
        {f"gate {n} (cache[{5 + k}])": GATES_HINT for k, n in enumerate("ifgo")},
    ),
    step_test("test_lstm_cell", run_cell, 2, {"c": "c = f * c_prev + i * g."}),
    step_test("test_lstm_hidden", run_hidden, 3, {"h": "h = o * tanh(c), with the new c."}),
    Test(
        "test_lstm_forward",
        answer="lstm_forward",
        inputs=lambda rng, T, B, I, H: (lstm_sequence_inputs(rng, T, B, I, H),),
        run=run_forward,
        expected=lambda args: run_forward(reference("lstm_forward"), args),
        visible=({"seed": 4, "T": 3, "B": 2, "I": 3, "H": 4},),
        hidden=(
            {"T": 1, "B": 1, "I": 1, "H": 1},
            {"T": 7, "B": 3, "I": 2, "H": 5},
            {"T": 12, "B": 2, "I": 4, "H": 3},
        ),
        standins=("lstm_step_forward",),
        hints={"h": "Carry both h and c from one step to the next, starting from h0 and c0."},
    ),
]
