"""Exercise 08 (a word-level language model): submissions and the score each one deserves.

Points: perplexity 2, a trained LSTM language model that beats the unigram model on
held-out text 3, the next word's distribution at a temperature 2, seeded sampling 1.
``sample_next_word`` draws from the student's own ``next_word_probs`` (as the notebook
asks), so a wrong distribution costs both sampling tests.
"""

from __future__ import annotations

from nbgrader_harness import edit, honest_variants, score_without, solved

from lstmlib.grading.assignments import find_test

ASSIGNMENT = "08-language-model"
NOTEBOOK = "08-language-model"
POINTS = {
    "test_perplexity": 2,
    "test_language_model_beats_unigram": 3,
    "test_next_word_probs": 2,
    "test_sample_next_word": 1,
}
FULL = sum(POINTS.values())
TARGET = "            y = data[start + 1 : start + 1 + bptt]\n"
SUM = "            total += -float(log_p.sum())\n"
EXP = "    return math.exp(total / count)"
SOFTMAX = "    return F.softmax(logits / temperature, dim=-1)"
DRAW = "    return torch.multinomial(probs, 1, generator=generator)[:, 0]"

PERPLEXITY_BY_CHUNKS = """def perplexity(model, data, bptt):
    from lstmlib.words import bptt_batches

    nll, count, state = 0.0, 0, None
    model.eval()
    with torch.no_grad():
        for x, y in bptt_batches(data, bptt):
            logits, state = model(x, state)
            nll += F.cross_entropy(logits.flatten(0, 1), y.flatten(), reduction="sum").item()
            count += y.numel()
    return float(torch.exp(torch.tensor(nll / count)))
"""

TIED_BATCH_FIRST = """class LanguageModel(nn.Module):
    def __init__(self, vocab_size, embed_size=64, hidden_size=64):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, hidden_size)
        self.lstm = nn.LSTM(hidden_size, hidden_size, batch_first=True)
        self.out = nn.Linear(hidden_size, vocab_size)
        self.out.weight = self.embed.weight  # tied: the output layer reuses the embedding

    def forward(self, input, state=None):
        output, state = self.lstm(self.embed(input.T), state)
        return self.out(output).transpose(0, 1), state
"""


def example_perplexity() -> float:
    """What the test's example expects: the one number a hard-coding cheat can know."""
    test = find_test(ASSIGNMENT, "test_perplexity")
    (case,) = test.visible_cases()
    return test.expected(*test.arguments(case))["perplexity"]


def make_submissions(released, solution):
    """Each case: (notebook, expected autograded score)."""
    good = solved(released, solution)
    sampling = score_without(POINTS, "test_next_word_probs", "test_sample_next_word")
    return {
        "solution": (good, FULL),
        # Two of the harness's honest variants (07 keeps one): the others try nbgrader's
        # plumbing, which the cheaper exercises cover, and every submission here trains.
        **{
            name: case
            for name, case in honest_variants(good, FULL, "perplexity", "next_word_probs").items()
            if name in ("deletes_every_test", "warns_on_stderr")
        },
        # Other right formulations: the course's chunks, cross_entropy's sum, float32 use,
        # a tied, batch-first model, softmax by hand, unnormalised weights for multinomial.
        "other_honest_forms": (
            edit(
                edit(
                    edit(
                        edit(good, "perplexity", "", "\n\n" + PERPLEXITY_BY_CHUNKS),
                        "language_model",
                        "",
                        "\n\n" + TIED_BATCH_FIRST,
                    ),
                    "next_word_probs",
                    SOFTMAX,
                    "    z = logits / temperature\n"
                    "    e = torch.exp(z - z.max(dim=1, keepdim=True).values)\n"
                    "    return e / e.sum(dim=1, keepdim=True)",
                ),
                "sample_next_word",
                DRAW,
                "    weights = torch.exp(logits / temperature)\n"
                "    draw = torch.multinomial(weights, num_samples=1, replacement=True,"
                " generator=generator)\n    return draw.view(-1)",
            ),
            FULL,
        ),
        "untouched": (released, 0),
        # --- perplexity -------------------------------------------------------------
        # 1 / mean(p): the mean of the probabilities, not of their logs.
        "mean_of_probabilities": (
            edit(
                edit(good, "perplexity", SUM, "            total += float(log_p.exp().sum())\n"),
                "perplexity",
                EXP,
                "    return count / total",
            ),
            score_without(POINTS, "test_perplexity"),
        ),
        # The cross-entropy itself (nats per word), never exponentiated.
        "no_exp": (
            edit(good, "perplexity", EXP, "    return total / count"),
            score_without(POINTS, "test_perplexity"),
        ),
        # Natural-log cross-entropy raised to base 2.
        "base_2_of_nats": (
            edit(good, "perplexity", EXP, "    return 2 ** (total / count)"),
            score_without(POINTS, "test_perplexity"),
        ),
        # Every chunk from a fresh state: the model forgets what it read.
        "state_not_carried": (
            edit(good, "perplexity", "logits, state = model(x, state)", "logits, _ = model(x)"),
            score_without(POINTS, "test_perplexity"),
        ),
        # Predicts the word it is reading, not the next one.
        "predicts_the_current_word": (
            edit(good, "perplexity", TARGET, "            y = data[start : start + bptt]\n"),
            score_without(POINTS, "test_perplexity"),
        ),
        # The mean of the chunks' means: right on the example, whose chunks are all bptt
        # long, wrong on the hidden case that ends on a shorter chunk.
        "averages_the_chunks": (
            edit(
                edit(good, "perplexity", SUM, "            total += -float(log_p.mean())\n"),
                "perplexity",
                "            count += y.numel()",
                "            count += 1",
            ),
            score_without(POINTS, "test_perplexity"),
        ),
        # --- training ---------------------------------------------------------------
        "never_steps_the_optimiser": (
            edit(good, "train_language_model", "            optimizer.step()\n", ""),
            score_without(POINTS, "test_language_model_beats_unigram"),
        ),
        # Learns to copy its input: a perfect training loss, a useless model.
        "trains_on_the_current_word": (
            edit(
                good, "train_language_model", TARGET, "            y = data[start : start + bptt]\n"
            ),
            score_without(POINTS, "test_language_model_beats_unigram"),
        ),
        # The second backward() goes back into the first chunk's freed graph and raises.
        "state_not_detached": (
            edit(
                good,
                "train_language_model",
                "            if state is not None:\n"
                "                state = tuple(s.detach() for s in state)\n",
                "",
            ),
            score_without(POINTS, "test_language_model_beats_unigram"),
        ),
        # --- sampling ---------------------------------------------------------------
        "temperature_multiplied": (
            edit(
                good,
                "next_word_probs",
                SOFTMAX,
                "    return F.softmax(logits * temperature, dim=-1)",
            ),
            sampling,
        ),
        "softmax_over_the_batch": (
            edit(
                good,
                "next_word_probs",
                SOFTMAX,
                "    return F.softmax(logits / temperature, dim=0)",
            ),
            sampling,
        ),
        "ignores_the_generator": (
            edit(good, "sample_next_word", DRAW, "    return torch.multinomial(probs, 1)[:, 0]"),
            score_without(POINTS, "test_sample_next_word"),
        ),
        "greedy_instead_of_sampling": (
            edit(good, "sample_next_word", DRAW, "    return probs.argmax(dim=-1)"),
            score_without(POINTS, "test_sample_next_word"),
        ),
        # --- cheating ---------------------------------------------------------------
        # The course's perplexity: it is not in the grading sandbox.
        "imports_the_reference_perplexity": (
            edit(
                good,
                "perplexity",
                "    total, count, state = 0.0, 0, None\n",
                "    from lstmlib.language_model import perplexity as reference\n\n"
                "    return reference(model, data, bptt)\n",
            ),
            score_without(POINTS, "test_perplexity"),
        ),
        # The example's answer, typed in: right on the example only.
        "hard_codes_the_example": (
            edit(good, "perplexity", EXP, f"    return {example_perplexity()!r}"),
            score_without(POINTS, "test_perplexity"),
        ),
        "samples_with_the_reference": (
            edit(
                good,
                "sample_next_word",
                DRAW,
                "    from lstmlib.sampling import sample_next\n\n"
                "    return sample_next(logits, temperature, generator=generator)",
            ),
            score_without(POINTS, "test_sample_next_word"),
        ),
    }


# (student, test cell, words its error message must contain)
EXPLAINED = [
    ("untouched", "test_perplexity", "perplexity is not implemented yet"),
    ("mean_of_probabilities", "test_perplexity", "perplexity has wrong values"),
    ("averages_the_chunks", "test_perplexity", "On hidden case 1 of 3"),
    ("imports_the_reference_perplexity", "test_perplexity", "not available while your notebook"),
    ("never_steps_the_optimiser", "test_language_model_beats_unigram", "has to beat it"),
    ("state_not_detached", "test_language_model_beats_unigram", "backward through the graph"),
    ("temperature_multiplied", "test_next_word_probs", "Divide the logits by the temperature"),
    ("ignores_the_generator", "test_sample_next_word", "ids has wrong values"),
]
