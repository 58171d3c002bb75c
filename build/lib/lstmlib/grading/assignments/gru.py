"""Exercise 04 (a GRU step by hand): its graded tests.

The forward step is graded in three cells (the gates r and z, the candidate n,
the new h), the backward step in two, each on a cache made by the reference
forward pass.
"""

from __future__ import annotations

from lstmlib.grading.checks import check_tuple
from lstmlib.grading.inputs import gru_step_inputs
from lstmlib.grading.oracle import reference
from lstmlib.grading.spec import Test

SHAPES = ({"B": 1, "I": 1, "H": 1}, {"B": 5, "I": 7, "H": 3}, {"B": 3, "I": 2, "H": 6})
CACHE = "cache = (x, h_prev, Wx, Wh, r, z, n, ah_n)"
GRADIENTS = ("dx", "dh_prev", "dWx", "dWh", "dbx", "dbh")


def forward_test(name, seed, pick, hint):
    def run(step, args):
        h, cache = check_tuple("gru_step_forward", step(*args), 2, "(h, cache)")
        return pick(h, check_tuple("gru_step_forward", cache, 8, CACHE))

    return Test(
        name,
        answer="gru_step_forward",
        inputs=lambda rng, B, I, H: (gru_step_inputs(rng, B, I, H),),
        run=run,
        expected=lambda args: run(reference("gru_step_forward"), args),
        visible=({"seed": seed, "B": 2, "I": 3, "H": 4},),
        hidden=SHAPES,
        hints=hint,
    )


def backward_test(name, seed, names, hint):
    def run(step_backward, args, dh):
        cache = reference("gru_step_forward")(*args)[1]
        grads = check_tuple("gru_step_backward", step_backward(dh, tuple(cache)), 6, str(GRADIENTS))
        return {n: g for n, g in zip(GRADIENTS, grads, strict=True) if n in names}

    return Test(
        name,
        answer="gru_step_backward",
        inputs=lambda rng, B, I, H: (gru_step_inputs(rng, B, I, H), rng.normal(size=(B, H))),
        run=run,
        expected=lambda args, dh: run(reference("gru_step_backward"), args, dh),
        visible=({"seed": seed, "B": 2, "I": 3, "H": 4},),
        hidden=SHAPES,
        references=("gru_step_forward",),
        hints=dict.fromkeys(names, hint),
    )


GATES = "r and z add the input's and the hidden state's blocks, in the order r, z, n."
CANDIDATE = "The reset gate multiplies h_prev @ Wh_n + bh_n, bias included."
TESTS = [
    forward_test(
        "test_gru_gates",
        1,
        lambda h, cache: {"r (cache[4])": cache[4], "z (cache[5])": cache[5]},
        {"r (cache[4])": GATES, "z (cache[5])": GATES},
    ),
    forward_test(
        "test_gru_candidate",
        2,
        lambda h, cache: {"ah_n (cache[7])": cache[7], "n (cache[6])": cache[6]},
        {"ah_n (cache[7])": CANDIDATE, "n (cache[6])": CANDIDATE},
    ),
    forward_test(
        "test_gru_hidden",
        3,
        lambda h, cache: {"h": h},
        {"h": "h = (1 - z) * n + z * h_prev: z keeps the old state."},
    ),
    backward_test(
        "test_gru_backward_inputs",
        4,
        ("dx", "dh_prev"),
        "dh_prev has two parts: the direct path dh * z, and the path through the gates.",
    ),
    backward_test(
        "test_gru_backward_weights",
        5,
        ("dWx", "dWh", "dbx", "dbh"),
        "In the n block, dah carries the reset gate (r) but dax does not.",
    ),
]
