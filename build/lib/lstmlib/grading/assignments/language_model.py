"""Exercise 08 (a word-level language model): its graded tests.

- ``perplexity`` is given a fixed, untrained model with an LSTM's interface
  (``ToyLM``: its state matters, so a state that is not carried shows) and is
  compared with ``lstmlib.language_model.perplexity`` on the same model and data.
- The language model is trained in the student's kernel on the first words of one
  book of the World English Bible; the kernel hands the judge the log-probability
  the model gives every word of the first words of the next book, and the judge
  compares their perplexity with that of a unigram model (``lstmlib.ngram``) fitted
  on the same training words.
- ``next_word_probs`` is compared with ``lstmlib.sampling.next_token_probs``, and the
  draws of ``sample_next_word`` with those of ``lstmlib.sampling.sample_next`` from a
  generator seeded alike: ``torch.multinomial`` consumes the generator the same way
  for every row-normalised (or not) distribution, so the draws agree exactly.

``lstmlib.language_model`` and ``lstmlib.sampling`` are hidden from the kernel (the
sandbox's ``REFERENCE_MODULES``); only the judge's side imports them.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch

from lstmlib.grading.checks import GradingError
from lstmlib.grading.spec import Test

TRAIN_WORDS, TEST_WORDS = 12_000, 5_000  # the first words of the two books
BATCH, BPTT = 20, 35  # how the training words are laid out, and the evaluation's chunks


# --- perplexity -------------------------------------------------------------------


class ToyLM(torch.nn.Module):
    """A fixed random model with an LSTM language model's interface, to test perplexity code.

    ``model(input: (T, B), state=None) -> (logits: (T, B, V), (h, c))`` with ``h, c`` of
    shape ``(1, B, H)`` as ``torch.nn.LSTM`` has them; float64 throughout. Its logits
    depend on every word read so far (``c`` is a decaying sum of past ``h``), so reading
    a chunk from a fresh state changes them. No parameters: there is nothing to train.
    """

    def __init__(self, rng, vocab_size, hidden_size=4):
        super().__init__()
        V, H = vocab_size, hidden_size
        self.register_buffer("embed", torch.from_numpy(rng.normal(size=(V, H))))
        self.register_buffer("recur", torch.from_numpy(rng.normal(size=(H, H)) / math.sqrt(H)))
        self.register_buffer("out", torch.from_numpy(0.5 * rng.normal(size=(H, V))))

    def forward(self, input, state=None):
        T, B = input.shape
        H = self.recur.shape[0]
        if state is None:
            state = (torch.zeros(1, B, H, dtype=torch.float64),) * 2
        h, c = state[0][0], state[1][0]
        logits = []
        for t in range(T):
            h = torch.tanh(self.embed[input[t]] + h @ self.recur)
            c = 0.5 * c + h
            logits.append(c @ self.out)
        return torch.stack(logits), (h[None], c[None])


def perplexity_inputs(rng, V, N, B, bptt):
    model = ToyLM(rng, V)
    data = torch.from_numpy(rng.integers(0, V, size=(N, B)))
    return model, data, bptt


def run_perplexity(perplexity, model, data, bptt):
    value = perplexity(model, data, bptt)
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise GradingError(
            f"perplexity must return a number, it returned a {type(value).__name__}."
        ) from None
    return {"perplexity": value}


def expected_perplexity(model, data, bptt):
    from lstmlib.language_model import perplexity

    return {"perplexity": perplexity(model, data, bptt)}


# --- the trained language model ------------------------------------------------------


@lru_cache(maxsize=4)
def _books(train_book, test_book):
    from lstmlib.words import load_books

    books = load_books([train_book, test_book])
    return tuple(books[train_book][:TRAIN_WORDS]), tuple(books[test_book][:TEST_WORDS])


def exercise_data(train_book, test_book, vocab_size):
    """The test's data: ``(vocab, train, test)``, both ``(L,)`` int64 id streams.

    The first ``TRAIN_WORDS`` words of ``train_book`` and the first ``TEST_WORDS`` of
    ``test_book``, encoded with the ``vocab_size`` most frequent training words.
    """
    from lstmlib.words import Vocabulary

    train_words, test_words = _books(train_book, test_book)
    vocab = Vocabulary.build(train_words, vocab_size)
    return vocab, vocab.encode(train_words), vocab.encode(test_words)


def training_inputs(rng, train_book, test_book, vocab_size):
    return train_book, test_book, vocab_size, int(rng.integers(2**31))


@torch.no_grad()
def held_out_log_probs(model, ids):
    """``log p(ids[t + 1] | ids[: t + 1])`` for every ``t``, reading ``ids: (L,)`` as one
    stream in chunks of ``BPTT`` with the state carried: ``(L - 1,)``."""
    data, state, found = ids[:, None], None, []
    for start in range(0, len(data) - 1, BPTT):
        x, y = data[start : start + BPTT], data[start + 1 : start + 1 + BPTT]
        x = x[: len(y)]
        result = model(x, state)
        if not isinstance(result, tuple) or len(result) != 2:
            raise GradingError("LanguageModel's forward must return (logits, state).")
        logits, state = result
        if not isinstance(logits, torch.Tensor) or tuple(logits.shape[:2]) != tuple(x.shape):
            shape = tuple(getattr(logits, "shape", ()))
            raise GradingError(
                f"LanguageModel's logits for an input of shape {tuple(x.shape)} have shape "
                f"{shape}, expected (T, B, V) = {(*x.shape, 'V')}."
            )
        log_probs = torch.log_softmax(logits.double(), dim=-1)
        found.append(log_probs.gather(-1, y[..., None])[..., 0, 0])
    return torch.cat(found)


def run_training(answers, train_book, test_book, vocab_size, seed):
    from lstmlib.words import batchify

    model_class, train_language_model = answers
    vocab, train, test = exercise_data(train_book, test_book, vocab_size)
    torch.manual_seed(seed)
    model = model_class(len(vocab))
    model = train_language_model(model, batchify(train, BATCH))
    if not isinstance(model, torch.nn.Module):
        raise GradingError("train_language_model must return the trained model.")
    if not any(isinstance(m, torch.nn.LSTM) for m in model.modules()):
        raise GradingError("LanguageModel must read the words with a torch.nn.LSTM.")
    model.eval()
    return {"log_probs": held_out_log_probs(model, test)}


def judge_training(outputs, train_book, test_book, vocab_size, seed):
    from lstmlib.ngram import UnigramLM

    vocab, train, test = exercise_data(train_book, test_book, vocab_size)
    log_probs = outputs.get("log_probs")
    if log_probs is None or log_probs.shape != (len(test) - 1,):
        shape = None if log_probs is None else log_probs.shape
        raise GradingError(
            f"The log-probabilities have shape {shape}, expected {(len(test) - 1,)}."
        )
    if (log_probs > 1e-9).any():
        raise GradingError("A log-probability above 0 is not a probability's log.")
    model = math.exp(-float(np.mean(log_probs)))
    # The same words predicted: all but the first of the held-out stream.
    unigram = UnigramLM(len(vocab)).fit(train).perplexity(test[1:])
    if not model < unigram:
        raise GradingError(
            f"the trained model's perplexity on the first {len(test)} words of {test_book} "
            f"is {model:.1f}; a unigram model's (word frequencies alone, from the same "
            f"training words) is {unigram:.1f}. A language model has to beat it. Does "
            "train_language_model step the optimiser, and is every target the word after "
            "its input?"
        )


# --- sampling ------------------------------------------------------------------------


def probs_inputs(rng, B, V, temperature):
    return 3 * rng.normal(size=(B, V)), temperature


def run_probs(next_word_probs, logits, temperature):
    return {"probs": next_word_probs(torch.from_numpy(logits), temperature)}


def expected_probs(logits, temperature):
    from lstmlib.sampling import next_token_probs

    return {"probs": next_token_probs(torch.from_numpy(logits), temperature)}


def sample_inputs(rng, B, V, temperature, draws):
    return 2 * rng.normal(size=(B, V)), temperature, draws, int(rng.integers(2**31))


def _draws(sample, logits, temperature, draws, seed):
    """``draws`` calls of ``sample`` on one generator seeded with ``seed``: (draws, B)."""
    generator = torch.Generator().manual_seed(seed)
    logits = torch.from_numpy(logits)
    rows = []
    for _ in range(draws):
        ids = sample(logits, temperature, generator)
        if not isinstance(ids, torch.Tensor) or tuple(ids.shape) != (len(logits),):
            shape = tuple(getattr(ids, "shape", ())) or type(ids).__name__
            raise GradingError(
                f"sample_next_word must return a tensor of shape (B,) = {(len(logits),)}, "
                f"one word id per row of the logits; it returned {shape}."
            )
        rows.append(ids)
    return torch.stack(rows)


def run_sample(sample_next_word, logits, temperature, draws, seed):
    return {"ids": _draws(sample_next_word, logits, temperature, draws, seed)}


def expected_sample(logits, temperature, draws, seed):
    from lstmlib.sampling import sample_next

    def reference(logits, temperature, generator):
        return sample_next(logits, temperature, generator=generator)

    return {"ids": _draws(reference, logits, temperature, draws, seed)}


TESTS = [
    Test(
        "test_perplexity",
        answer="perplexity",
        inputs=perplexity_inputs,
        run=run_perplexity,
        expected=expected_perplexity,
        # The example's chunks are all bptt long; hidden case 1 ends on a shorter one, 2
        # reads one word at a time, 3 is a single chunk shorter than bptt.
        visible=({"seed": 1, "V": 12, "N": 21, "B": 3, "bptt": 5},),
        hidden=(
            {"V": 50, "N": 23, "B": 4, "bptt": 5},
            {"V": 7, "N": 30, "B": 1, "bptt": 1},
            {"V": 200, "N": 12, "B": 5, "bptt": 20},
        ),
        rtol=1e-5,
        hints={
            "perplexity": "Perplexity is exp of the mean, over every predicted word of every "
            "column, of -log p(next word) in nats; the target of input row t is row t + 1, "
            "and the state goes on from one chunk to the next."
        },
    ),
    Test(
        "test_language_model_beats_unigram",
        answer=("LanguageModel", "train_language_model"),
        inputs=training_inputs,
        run=run_training,
        judge=judge_training,
        visible=({"seed": 2, "train_book": "Genesis", "test_book": "Exodus", "vocab_size": 500},),
        hidden=(
            {"train_book": "Joshua", "test_book": "Judges", "vocab_size": 1000},
            {"train_book": "Numbers", "test_book": "Deuteronomy", "vocab_size": 300},
        ),
    ),
    Test(
        "test_next_word_probs",
        answer="next_word_probs",
        inputs=probs_inputs,
        run=run_probs,
        expected=expected_probs,
        visible=({"seed": 3, "B": 3, "V": 6, "temperature": 0.5},),
        hidden=(
            {"B": 4, "V": 10, "temperature": 2.0},
            {"B": 2, "V": 1000, "temperature": 0.7},
            {"B": 1, "V": 5, "temperature": 1.3},
        ),
        hints={
            "probs": "Divide the logits by the temperature, then take the softmax over the "
            "vocabulary (the last axis): every row sums to one."
        },
    ),
    Test(
        "test_sample_next_word",
        answer="sample_next_word",
        inputs=sample_inputs,
        run=run_sample,
        expected=expected_sample,
        visible=({"seed": 4, "B": 3, "V": 8, "temperature": 0.8, "draws": 50},),
        hidden=(
            {"B": 2, "V": 100, "temperature": 1.5, "draws": 200},
            {"B": 6, "V": 4, "temperature": 0.3, "draws": 100},
        ),
        rtol=0,
        atol=0,
        hints={
            "ids": "Draw every row with torch.multinomial(next_word_probs(logits, temperature), "
            "1, generator=generator): the generator you are given makes the draws reproducible."
        },
    ),
]
