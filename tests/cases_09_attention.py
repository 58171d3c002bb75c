"""Exercise 09 (attention and greedy decoding): submissions and the score each one deserves.

Points: scores 2, softmax over the source 1, padding left out 2, context 1, the whole
attention (with the reference parts standing in) 2, teacher forcing 2, greedy decoding
that feeds its predictions 2 and that ends each sentence at its <eos> 1.
"""

from __future__ import annotations

from nbgrader_harness import edit, honest_variants, score_without, solved

ASSIGNMENT = "09-attention"
NOTEBOOK = "09-attention"
POINTS = {
    "test_attention_scores": 2,
    "test_softmax_over_source": 1,
    "test_softmax_masks_padding": 2,
    "test_attention_context": 1,
    "test_additive_attention": 2,
    "test_teacher_forcing": 2,
    "test_greedy_feeds_predictions": 2,
    "test_greedy_stops_at_eos": 1,
}
FULL = sum(POINTS.values())
SOFTMAX = (
    '    scores = scores.masked_fill(~mask, float("-inf"))\n'
    "    weights = torch.softmax(scores, dim=0)\n"
)
GREEDY_LOOP = """    tokens = torch.full((N,), bos_id, dtype=torch.long)
    sequences = [[] for _ in range(N)]
    ended = [False] * N
    for _ in range(max_len):
        log_probs, state = step(tokens, state)
        tokens = log_probs.argmax(dim=-1)
        for n in range(N):
            if not ended[n]:
                sequences[n].append(int(tokens[n]))
                ended[n] = int(tokens[n]) == eos_id
        if all(ended):
            break
"""
# Wrong: the prediction is kept but never fed back; every step gets <bos> again.
GREEDY_FEEDS_BOS = GREEDY_LOOP.replace(
    "        tokens = log_probs.argmax(dim=-1)\n", "        predicted = log_probs.argmax(dim=-1)\n"
).replace("int(tokens[n])", "int(predicted[n])")
# Honest: finished sentences leave the batch (the state shrinks along dimension 1).
GREEDY_SHRINKING = """    sequences = [[] for _ in range(N)]
    live = torch.arange(N)
    tokens = torch.full((N,), bos_id, dtype=torch.long)
    for _ in range(max_len):
        log_probs, state = step(tokens, state)
        tokens = log_probs.argmax(dim=-1)
        for row, n in enumerate(live.tolist()):
            sequences[n].append(int(tokens[row]))
        going = tokens != eos_id
        if not bool(going.any()):
            break
        keep = going.nonzero()[:, 0]
        live, tokens = live[keep], tokens[keep]
        state = tuple(t.index_select(1, keep) for t in state)
"""
# Honest: all steps as one tensor, cut at the first <eos> afterwards (as lstmlib does).
GREEDY_TENSOR = """    tokens = torch.full((N,), bos_id, dtype=torch.long)
    steps = []
    for _ in range(max_len):
        log_probs, state = step(tokens, state)
        tokens = log_probs.argmax(dim=-1)
        steps.append(tokens)
        if bool((torch.stack(steps) == eos_id).any(0).all()):
            break
    sequences = []
    for row in torch.stack(steps, dim=1).tolist():
        sequences.append(row[: row.index(eos_id) + 1] if eos_id in row else row)
"""


def make_submissions(released, solution):
    """Each case: (notebook, expected autograded score)."""
    good = solved(released, solution)
    greedy = "greedy_decode"
    return {
        "solution": (good, FULL),
        **honest_variants(good, FULL, answer="masked_softmax", warn_in="attention_context"),
        # Other correct formulations.
        "masks_with_a_large_negative_score": (
            edit(good, "masked_softmax", 'float("-inf")', "-1e9"),
            FULL,
        ),
        "renormalises_after_masking": (
            edit(
                good,
                "masked_softmax",
                SOFTMAX,
                "    weights = torch.exp(scores - scores.max(0).values) * mask\n"
                "    weights = weights / weights.sum(0)\n",
            ),
            FULL,
        ),
        "einsum_scores_and_context": (
            edit(
                edit(
                    good,
                    "attention_scores",
                    "    hidden = torch.tanh(query @ W_q.T + keys @ W_k.T)",
                    '    hidden = torch.tanh(torch.einsum("aq,bq->ba", W_q, query)'
                    ' + torch.einsum("ak,sbk->sba", W_k, keys))',
                ),
                "attention_context",
                "(weights[:, :, None] * values).sum(dim=0)",
                'torch.einsum("sb,sbd->bd", weights, values)',
            ),
            FULL,
        ),
        "greedy_drops_finished_sentences": (
            edit(good, greedy, GREEDY_LOOP, GREEDY_SHRINKING),
            FULL,
        ),
        "greedy_cuts_at_eos_afterwards": (edit(good, greedy, GREEDY_LOOP, GREEDY_TENSOR), FULL),
        "untouched": (released, 0),
        # Realistic mistakes, each costing its own part.
        "scores_without_tanh": (
            edit(
                good,
                "attention_scores",
                "torch.tanh(query @ W_q.T + keys @ W_k.T)",
                "(query @ W_q.T + keys @ W_k.T)",
            ),  # fmt: skip
            score_without(POINTS, "test_attention_scores"),
        ),
        "softmax_over_the_batch": (
            edit(
                good,
                "masked_softmax",
                "torch.softmax(scores, dim=0)",
                "torch.softmax(scores, dim=1)",
            ),
            score_without(POINTS, "test_softmax_over_source", "test_softmax_masks_padding"),
        ),
        "padding_not_masked": (
            edit(
                good,
                "masked_softmax",
                '    scores = scores.masked_fill(~mask, float("-inf"))\n',
                "",
            ),
            score_without(POINTS, "test_softmax_masks_padding"),
        ),
        "mask_multiplied_not_renormalised": (
            edit(
                good,
                "masked_softmax",
                SOFTMAX,
                "    weights = torch.softmax(scores, dim=0) * mask\n",
            ),
            score_without(POINTS, "test_softmax_masks_padding"),
        ),
        "context_from_unnormalised_scores": (
            edit(
                good,
                "additive_attention",
                "attention_context(weights, keys)",
                "attention_context(scores, keys)",
            ),  # fmt: skip
            score_without(POINTS, "test_additive_attention"),
        ),
        "teacher_forcing_off": (
            edit(
                good,
                "teacher_forced_log_probs",
                "        tokens = targets[t]\n",
                "        tokens = log_probs.argmax(dim=-1)\n",
            ),  # fmt: skip
            score_without(POINTS, "test_teacher_forcing"),
        ),
        # Feeds the word it must predict: the decoder sees the answer (targets not shifted).
        "teacher_forcing_unshifted": (
            edit(
                good,
                "teacher_forced_log_probs",
                "        log_probs, state = step(tokens, state)\n",
                "        log_probs, state = step(targets[t], state)\n",
            ),  # fmt: skip
            score_without(POINTS, "test_teacher_forcing"),
        ),
        "greedy_feeds_bos_every_step": (
            edit(good, greedy, GREEDY_LOOP, GREEDY_FEEDS_BOS),
            score_without(POINTS, "test_greedy_feeds_predictions"),
        ),
        "greedy_never_stops": (
            edit(good, greedy, "                ended[n] = int(tokens[n]) == eos_id\n", ""),
            score_without(POINTS, "test_greedy_stops_at_eos"),
        ),
        "greedy_stops_the_batch_at_the_first_eos": (
            edit(good, greedy, "        if all(ended):", "        if any(ended):"),
            score_without(POINTS, "test_greedy_stops_at_eos"),
        ),
        # Cheating: the course's decoder, absent from the grading sandbox.
        "imports_lstmlib_seq2seq": (
            edit(
                good,
                greedy,
                GREEDY_LOOP,
                "    from lstmlib.seq2seq import greedy_decode as course_greedy\n\n"
                "    sequences = course_greedy(step, state, bos_id, eos_id, max_len)\n",
            ),  # fmt: skip
            score_without(POINTS, "test_greedy_feeds_predictions", "test_greedy_stops_at_eos"),
        ),
        # Cheating: the judge's own oracles, and the solutions' source, read from disk.
        "reads_the_judges_files": (
            edit(
                edit(
                    good,
                    "attention_scores",
                    "    scores = hidden @ v\n",
                    "    from lstmlib.grading.assignments import attention_oracles\n\n"
                    "    scores = attention_oracles.attention_scores(query, keys, W_q, W_k, v)\n",
                ),
                "attention_context",
                "    context = (weights[:, :, None] * values).sum(dim=0)\n",
                "    import json, pathlib\n\n"
                "    import lstmlib\n\n"
                "    repo = pathlib.Path(lstmlib.__file__).parent.parent\n"
                "    notebook = repo / 'solutions/09-attention/09-attention.ipynb'\n"
                "    cells = json.loads(notebook.read_text())['cells']\n"
                "    exec(''.join(cells[10]['source']), globals())\n"
                "    context = (weights[:, :, None] * values).sum(dim=0)\n",
            ),
            score_without(POINTS, "test_attention_scores", "test_attention_context"),
        ),
    }


# (student, test cell, words its error message must contain)
EXPLAINED = [
    ("untouched", "test_attention_scores", "attention_scores is not implemented yet"),
    ("softmax_over_the_batch", "test_softmax_over_source", "over the source positions"),
    ("mask_multiplied_not_renormalised", "test_softmax_masks_padding", "weights has wrong values"),
    ("context_from_unnormalised_scores", "test_additive_attention", "not by the raw scores"),
    ("teacher_forcing_off", "test_teacher_forcing", "the target words themselves"),
    ("greedy_feeds_bos_every_step", "test_greedy_feeds_predictions", "the word it just predicted"),
    ("greedy_never_stops", "test_greedy_stops_at_eos", "sequence lengths has wrong values"),
    ("imports_lstmlib_seq2seq", "test_greedy_feeds_predictions", "not available while your"),
    ("reads_the_judges_files", "test_attention_scores", "not available while your"),
]
