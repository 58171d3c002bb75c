"""Exercise 09 (additive attention and greedy decoding, in PyTorch): its graded tests.

Part 1's parts are compared with ``lstmlib.nn.attention`` (``AdditiveAttention`` with
the case's weights copied in, and ``masked_softmax``); the whole attention is graded
with the reference parts standing in for the student's, so that a mistake in a part
costs that part's points only. Part 2 hands the student's functions a decoder as a
step function: a small random ``lstmlib.seq2seq.Seq2Seq`` with attention, built from
the case's seed, which the kernel calls through the grader (it lives in
``attention_oracles``, out of the kernel's reach), and compares their outputs with
``lstmlib.seq2seq.greedy_decode`` and the model's teacher-forced forward pass, run by
the judge. All inputs are float64 NumPy arrays drawn from the case's seed, turned
into tensors on both sides.
"""

from __future__ import annotations

import numpy as np

from lstmlib.grading.checks import GradingError, check_tuple
from lstmlib.grading.oracle import reference
from lstmlib.grading.spec import Test, judge_only

# lstmlib.nn and lstmlib.seq2seq compute the right answers: the judge's code that calls
# them (and the decoders the tests use) is kept out of the kernel.
JUDGE_ONLY = ("attention_oracles",)
PARTS = ("attention_scores", "masked_softmax", "attention_context")
DECODER = ("attention_decoder_start", "attention_decoder_step")


def tensors(*arrays):
    """NumPy arrays as torch tensors (float64 stays float64)."""
    import torch

    return [torch.from_numpy(np.ascontiguousarray(a)) for a in arrays]


def _tensor(name, value):
    """The values of ``value`` (a tensor, as the exercise asks), to send to the judge."""
    import torch

    if not isinstance(value, torch.Tensor):
        raise GradingError(f"{name} should be a torch tensor, got a {type(value).__name__}.")
    return value


def padding_mask(rng, S, B, padded):
    """An (S, B) mask, True at the real positions; with ``padded``, sources of lengths
    1..S, one of them full and one shorter (when ``S > 1``)."""
    if not padded:
        return np.ones((S, B), dtype=bool)
    lengths = rng.integers(1, S + 1, size=B)
    lengths[0] = S
    if S > 1 and B > 1:
        lengths[-1] = rng.integers(1, S)
    return np.arange(S)[:, None] < lengths[None, :]


def weights_of_attention(rng, Q, K, A):
    return (
        rng.normal(size=(A, Q)) / np.sqrt(Q),
        rng.normal(size=(A, K)) / np.sqrt(K),
        rng.normal(size=A),
    )


# --- Part 1: the attention ------------------------------------------------------------------


def scores_inputs(rng, S, B, Q, K, A):
    return (
        rng.normal(size=(B, Q)),
        rng.normal(size=(S, B, K)),
        *weights_of_attention(rng, Q, K, A),
    )


def run_scores(attention_scores, query, keys, W_q, W_k, v):
    return {"scores": _tensor("scores", attention_scores(*tensors(query, keys, W_q, W_k, v)))}


def softmax_inputs(rng, S, B, padded):
    # Scores of a few units, as a trained scorer gives: the softmax is far from uniform.
    return 2 * rng.normal(size=(S, B)), padding_mask(rng, S, B, padded)


def run_softmax(masked_softmax, scores, mask):
    return {"weights": _tensor("weights", masked_softmax(*tensors(scores, mask)))}


def context_inputs(rng, S, B, D):
    return rng.dirichlet(np.ones(S), size=B).T, rng.normal(size=(S, B, D))


def run_context(attention_context, weights, values):
    return {"context": _tensor("context", attention_context(*tensors(weights, values)))}


def attention_inputs(rng, S, B, Q, K, A):
    query, keys, W_q, W_k, v = scores_inputs(rng, S, B, Q, K, A)
    return query, keys, W_q, W_k, v, padding_mask(rng, S, B, padded=True)


def run_attention(additive_attention, query, keys, W_q, W_k, v, mask):
    result = additive_attention(*tensors(query, keys, W_q, W_k, v, mask))
    context, weights = check_tuple("additive_attention", result, 2, "(context, weights)")
    return {"context": _tensor("context", context), "weights": _tensor("weights", weights)}


# --- Part 2: decoding -----------------------------------------------------------------------


def decoder_inputs(rng, N, S, V, H, kind, per_sentence=()):
    """A random decoder (``attention_oracles``), sources ``(S, N)`` and their lengths, and
    the ids of ``<bos>`` and ``<eos>`` (drawn: an answer must use the ones it is given)."""
    bos_id, eos_id = (int(i) for i in rng.choice(np.arange(1, V), size=2, replace=False))
    config = (int(rng.integers(2**31)), V, H, kind, eos_id, tuple(per_sentence))
    lengths = rng.integers(1, S + 1, size=N)
    lengths[0] = S
    src = np.where(np.arange(S)[:, None] < lengths[None, :], rng.integers(1, V, (S, N)), 0)
    return config, src, lengths, bos_id, eos_id


def step_function(config):
    """The decoder ``config`` as a step function ``step(tokens, state)``, in the kernel."""
    step = reference("attention_decoder_step")

    def decoder_step(tokens, state):
        log_probs, state = step(config, tokens, tuple(state))
        return log_probs, tuple(state)

    return decoder_step


def start(config, src, lengths):
    return tuple(reference("attention_decoder_start")(config, src, lengths))


def teacher_inputs(rng, N, S, V, H, T):
    config, src, lengths, bos_id, _ = decoder_inputs(rng, N, S, V, H, "plain")
    return config, src, lengths, bos_id, rng.integers(1, V, size=(T, N))


def run_teacher(teacher_forced_log_probs, config, src, lengths, bos_id, targets):
    (targets,) = tensors(targets)
    state = start(config, src, lengths)
    log_probs = teacher_forced_log_probs(step_function(config), state, bos_id, targets)
    return {"log_probs": _tensor("log_probs", log_probs)}


def greedy_inputs(rng, N, S, V, H, max_len, kind):
    if kind == "never_ends":
        # Distinct nonzero shifts of the preferred next word (attention_oracles): each
        # sentence follows its own walk through the vocabulary (so N < V).
        per_sentence = rng.choice(np.arange(1, V), N, replace=False)
    else:
        # Distinct steps of <eos> in 1..max_len + 2: at least one sentence (of N >= 3)
        # ends before max_len, no two at the same step, and some perhaps never.
        per_sentence = rng.choice(np.arange(1, max_len + 3), N, replace=False)
    per_sentence = [int(d) for d in per_sentence]
    return (*decoder_inputs(rng, N, S, V, H, kind, per_sentence), max_len)


def run_greedy(greedy_decode, config, src, lengths, bos_id, eos_id, max_len):
    state = start(config, src, lengths)
    N = len(lengths)
    sequences = greedy_decode(step_function(config), state, bos_id, eos_id, max_len)
    if not isinstance(sequences, list | tuple) or len(sequences) != N:
        raise GradingError(
            f"greedy_decode must return a list of {N} lists of ids (one per sequence), "
            f"got {type(sequences).__name__}"
            + (f" of length {len(sequences)}." if isinstance(sequences, list | tuple) else ".")
        )
    tokens = np.full((N, max_len), -1.0)
    sizes = np.zeros(N)
    for n, sequence in enumerate(sequences):
        try:
            ids = [int(word) for word in sequence]
        except (TypeError, ValueError):
            raise GradingError(
                f"Sequence {n} returned by greedy_decode is not a list of integer ids."
            ) from None
        if len(ids) > max_len:
            raise GradingError(f"Sequence {n} has {len(ids)} words, more than max_len = {max_len}.")
        tokens[n, : len(ids)] = ids
        sizes[n] = len(ids)
    return {"sequence lengths": sizes, "tokens (padded with -1)": tokens}


SOFTMAX_HINT = (
    "The softmax runs over the source positions (dimension 0 of the (S, B) scores), "
    "each column on its own."
)
MASK_HINT = (
    "Padded positions must get the weight 0 and the real ones still sum to 1: set the "
    "padding's scores to -inf before the softmax (multiplying the weights by the mask "
    "afterwards leaves columns that no longer sum to 1)."
)
FEED_HINT = "Feed each sequence the word it just predicted (the argmax), not <bos> again."
STOP_HINT = (
    "Each sequence ends at its own first <eos>, which it keeps; the others go on, up to "
    "max_len words."
)
DECODER_SIZES = {"N": 4, "S": 5, "V": 9, "H": 6}

TESTS = [
    Test(
        "test_attention_scores",
        answer="attention_scores",
        inputs=scores_inputs,
        run=run_scores,
        expected=judge_only("attention_oracles", "expected_scores"),
        visible=({"seed": 0, "S": 4, "B": 2, "Q": 3, "K": 5, "A": 6},),
        hidden=(
            {"S": 1, "B": 1, "Q": 1, "K": 1, "A": 1},
            {"S": 7, "B": 3, "Q": 4, "K": 2, "A": 5},
            {"S": 3, "B": 5, "Q": 6, "K": 6, "A": 2},
        ),
        hints={
            "scores": "e[s, b] = v . tanh(W_q q[b] + W_k k[s, b]), with W_q: (A, Q) and "
            "W_k: (A, K) (so q @ W_q.T, as in nn.Linear)."
        },
    ),
    Test(
        "test_softmax_over_source",
        answer="masked_softmax",
        inputs=softmax_inputs,
        run=run_softmax,
        expected=judge_only("attention_oracles", "expected_softmax"),
        visible=({"seed": 1, "S": 4, "B": 3, "padded": False},),
        hidden=({"S": 6, "B": 2, "padded": False}, {"S": 2, "B": 5, "padded": False}),
        hints={"weights": SOFTMAX_HINT},
    ),
    Test(
        "test_softmax_masks_padding",
        answer="masked_softmax",
        inputs=softmax_inputs,
        run=run_softmax,
        expected=judge_only("attention_oracles", "expected_softmax"),
        visible=({"seed": 2, "S": 5, "B": 3, "padded": True},),
        hidden=(
            {"S": 7, "B": 4, "padded": True},
            {"S": 3, "B": 6, "padded": True},
            {"S": 1, "B": 2, "padded": True},
        ),
        hints={"weights": MASK_HINT},
    ),
    Test(
        "test_attention_context",
        answer="attention_context",
        inputs=context_inputs,
        run=run_context,
        expected=judge_only("attention_oracles", "expected_context"),
        visible=({"seed": 3, "S": 4, "B": 2, "D": 3},),
        hidden=({"S": 1, "B": 3, "D": 2}, {"S": 6, "B": 4, "D": 5}),
        hints={"context": "context[b] = sum over s of weights[s, b] * values[s, b]."},
    ),
    Test(
        "test_additive_attention",
        answer="additive_attention",
        inputs=attention_inputs,
        run=run_attention,
        expected=judge_only("attention_oracles", "expected_attention"),
        standins=PARTS,
        visible=({"seed": 4, "S": 5, "B": 3, "Q": 4, "K": 3, "A": 6},),
        hidden=(
            {"S": 6, "B": 4, "Q": 2, "K": 5, "A": 3},
            {"S": 3, "B": 2, "Q": 5, "K": 4, "A": 4},
        ),
        hints={
            "context": "The context is the sum of the keys weighted by the softmax's "
            "weights (not by the raw scores).",
            "weights": "The weights are masked_softmax(scores, mask).",
        },
    ),
    Test(
        "test_teacher_forcing",
        answer="teacher_forced_log_probs",
        inputs=teacher_inputs,
        run=run_teacher,
        expected=judge_only("attention_oracles", "expected_teacher_forced"),
        references=DECODER,
        # The step function is lstmlib's model: in the student's own session it runs in
        # the kernel (the grader's sandbox has no lstmlib.nn, so there it runs outside).
        reference_allowed=True,
        visible=({"seed": 5, **DECODER_SIZES, "T": 6},),
        hidden=(
            {"N": 3, "S": 6, "V": 7, "H": 8, "T": 8},
            {"N": 5, "S": 3, "V": 11, "H": 5, "T": 1},
        ),
        hints={
            "log_probs": "Feed <bos> first and then the target words themselves (not the "
            "model's predictions), so that row t is log p(targets[t] | <bos>, "
            "targets[:t])."
        },
    ),
    Test(
        "test_greedy_feeds_predictions",
        answer="greedy_decode",
        inputs=greedy_inputs,
        run=run_greedy,
        expected=judge_only("attention_oracles", "expected_greedy"),
        references=DECODER,
        reference_allowed=True,
        visible=({"seed": 6, **DECODER_SIZES, "max_len": 8, "kind": "never_ends"},),
        hidden=(
            {"N": 6, "S": 4, "V": 8, "H": 8, "max_len": 10, "kind": "never_ends"},
            {"N": 3, "S": 6, "V": 12, "H": 5, "max_len": 6, "kind": "never_ends"},
        ),
        hints=dict.fromkeys(("sequence lengths", "tokens (padded with -1)"), FEED_HINT),
    ),
    Test(
        "test_greedy_stops_at_eos",
        answer="greedy_decode",
        inputs=greedy_inputs,
        run=run_greedy,
        expected=judge_only("attention_oracles", "expected_greedy"),
        references=DECODER,
        reference_allowed=True,
        visible=({"seed": 7, **DECODER_SIZES, "max_len": 8, "kind": "ends_on_a_clock"},),
        hidden=(
            {"N": 6, "S": 4, "V": 7, "H": 8, "max_len": 10, "kind": "ends_on_a_clock"},
            {"N": 5, "S": 6, "V": 10, "H": 5, "max_len": 9, "kind": "ends_on_a_clock"},
        ),
        hints=dict.fromkeys(("sequence lengths", "tokens (padded with -1)"), STOP_HINT),
    ),
]
