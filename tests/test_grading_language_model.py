"""Exercise 08's judge, against hand computations: its model, its oracles, its baseline."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from lstmlib.grading.assignments import find_test
from lstmlib.grading.assignments import language_model as ex08
from lstmlib.grading.checks import GradingError
from lstmlib.ngram import KneserNeyLM
from lstmlib.words import load_books


def test_toy_model_state_is_carried_and_matters():
    model = ex08.ToyLM(np.random.default_rng(0), vocab_size=9)
    x = torch.from_numpy(np.random.default_rng(1).integers(0, 9, size=(10, 2)))
    whole, _ = model(x)
    first, state = model(x[:4])
    second, _ = model(x[4:], state)
    torch.testing.assert_close(torch.cat([first, second]), whole)
    fresh, _ = model(x[4:])
    assert not torch.allclose(fresh, second)  # forgetting the state shows in the logits


@pytest.mark.parametrize("case", range(4))
def test_expected_perplexity_is_the_hand_computed_one(case):
    test = find_test("08-language-model", "test_perplexity")
    cases = test.visible_cases() + test.hidden_cases(lambda i: 100 + i)
    model, data, bptt = test.arguments(cases[case])
    # By hand: each column read at once (the same as chunks with the state carried),
    # -log softmax of the word that follows, averaged over every predicted word.
    logits, _ = model(data[:-1])
    nll = [
        -(logits[t, b, data[t + 1, b]] - torch.logsumexp(logits[t, b], dim=0))
        for t in range(len(data) - 1)
        for b in range(data.shape[1])
    ]
    by_hand = math.exp(float(sum(nll)) / len(nll))
    assert ex08.expected_perplexity(model, data, bptt)["perplexity"] == pytest.approx(by_hand)


def test_expected_draws_follow_the_tempered_distribution():
    rows, temperature = np.array([[1.0, 0.0, -1.0], [0.0, 0.0, 2.0]]), 0.5
    logits = np.repeat(rows, 4000, axis=0)  # 4000 copies of each row, 5 draws each
    ids = ex08.expected_sample(logits, temperature, 5, 7)["ids"]
    for row in range(2):
        z = rows[row] / temperature
        p = np.exp(z) / np.exp(z).sum()
        drawn = ids[:, row * 4000 : (row + 1) * 4000].flatten().numpy()
        np.testing.assert_allclose(np.bincount(drawn, minlength=3) / len(drawn), p, atol=0.015)
    again = ex08.expected_sample(logits, temperature, 2, 7)["ids"]
    assert torch.equal(again, ids[:2])  # the same generator seed, the same draws


def test_held_out_log_probs_of_a_uniform_model():
    class Uniform(torch.nn.Module):
        def forward(self, x, state=None):
            return torch.zeros(*x.shape, 13), state

    ids = torch.randint(0, 13, (80,))
    log_probs = ex08.held_out_log_probs(Uniform(), ids)
    assert log_probs.shape == (79,)
    torch.testing.assert_close(log_probs, torch.full((79,), -math.log(13), dtype=torch.float64))


def test_judge_training_compares_with_the_unigram_model():
    args = ("Numbers", "Deuteronomy", 300, 0)
    vocab, train, test = ex08.exercise_data(*args[:3])
    assert (len(vocab), len(train), len(test)) == (300, ex08.TRAIN_WORDS, ex08.TEST_WORDS)
    words = load_books(["Deuteronomy"])["Deuteronomy"][: ex08.TEST_WORDS]
    assert vocab.decode(test) == [w if w in vocab else "<unk>" for w in words]
    # A uniform model loses to word frequencies; a bigram model (context) beats them.
    uniform = np.full(len(test) - 1, -math.log(len(vocab)))
    with pytest.raises(GradingError, match="has to beat it"):
        ex08.judge_training({"log_probs": uniform}, *args)
    bigram = KneserNeyLM(2, len(vocab)).fit(train)
    ex08.judge_training({"log_probs": np.array(bigram.log_probs(test)[1:])}, *args)
    with pytest.raises(GradingError, match="shape"):
        ex08.judge_training({"log_probs": uniform[:-1]}, *args)
