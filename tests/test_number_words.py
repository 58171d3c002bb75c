"""lstmlib.number_words: the English-to-French number task, against num2words itself."""

from __future__ import annotations

import numpy as np
import pytest
import torch

num2words = pytest.importorskip("num2words").num2words

from lstmlib.number_words import (  # noqa: E402
    BOS,
    EOS,
    PAD,
    NumberTranslation,
    Vocabulary,
    covering_numbers,
    detokenize,
    load_task,
    spell,
    split_numbers,
    tokenize,
)

# Strings and tokens -------------------------------------------------------------------


def test_spell_is_num2words():
    for n in (1, 71, 80, 81, 97, 200, 1971, 80_000, 2_000_000, 999_999_999):
        assert spell(n, "en") == num2words(n)
        assert spell(n, "fr") == num2words(n, lang="fr")
    # The French irregularities the chapter talks about, as num2words writes them.
    assert spell(97, "fr") == "quatre-vingt-dix-sept"
    assert spell(71, "fr") == "soixante et onze"
    assert spell(80, "fr") == "quatre-vingts" and spell(81, "fr") == "quatre-vingt-un"
    with pytest.raises(ValueError, match="non-negative integer"):
        spell(-3, "fr")
    with pytest.raises(ValueError, match="non-negative integer"):
        spell(2.5, "fr")


def test_tokens_split_hyphens_and_commas():
    assert tokenize("quatre-vingt-dix-sept") == ["quatre", "-", "vingt", "-", "dix", "-", "sept"]
    assert tokenize("one thousand, nine hundred and seventy-one") == [
        "one", "thousand", ",", "nine", "hundred", "and", "seventy", "-", "one",
    ]  # fmt: skip
    assert tokenize("mille neuf cent soixante et onze") == [
        "mille", "neuf", "cent", "soixante", "et", "onze",
    ]  # fmt: skip


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_detokenize_rebuilds_every_string_exactly(lang):
    rng = np.random.default_rng(0)
    numbers = [1, 21, 71, 80, 1100, 1_000_100, *rng.integers(1, 10**9, 300).tolist()]
    for n in numbers:
        text = num2words(n, lang=lang)
        tokens = tokenize(text)
        assert detokenize(tokens) == text
        # No token keeps a space, and the tokens hold every non-space character.
        assert all(" " not in t for t in tokens)
        assert "".join(tokens) == text.replace(" ", "")


# Vocabularies -------------------------------------------------------------------------


def test_vocabulary_round_trip_and_special_ids():
    vocab = Vocabulary.build(["quatre-vingt-dix-sept", "soixante et onze"])
    assert vocab.tokens[:3] == (PAD, BOS, EOS)
    assert (vocab.pad_id, vocab.bos_id, vocab.eos_id) == (0, 1, 2)
    assert set(vocab.tokens[3:]) == {
        "-",
        "dix",
        "et",
        "onze",
        "quatre",
        "sept",
        "soixante",
        "vingt",
    }
    ids = vocab.encode("soixante-dix-sept")
    assert len(ids) == 6 and ids[-1] == vocab.eos_id
    assert [vocab.tokens[i] for i in ids[:-1]] == ["soixante", "-", "dix", "-", "sept"]
    assert vocab.decode(ids) == "soixante-dix-sept"
    # A leading <bos> is dropped, decoding stops at <eos>, other specials stay visible.
    assert vocab.decode(torch.tensor([vocab.bos_id, *ids, *ids])) == "soixante-dix-sept"
    assert vocab.decode([ids[0], vocab.pad_id]) == "soixante <pad>"
    with pytest.raises(KeyError, match="huit"):
        vocab.encode("quatre-vingt-huit")
    with pytest.raises(ValueError, match="out of range"):
        vocab.decode([len(vocab)])
    with pytest.raises(ValueError, match="must start with"):
        Vocabulary(["a", PAD, BOS, EOS])


def test_covering_numbers_hold_every_word():
    covering = covering_numbers(9)
    en = {t for n in covering for t in tokenize(num2words(n))}
    fr = {t for n in covering for t in tokenize(num2words(n, lang="fr"))}
    rng = np.random.default_rng(1)
    for n in rng.integers(1, 10**9, 500).tolist():
        assert set(tokenize(num2words(n))) <= en
        assert set(tokenize(num2words(n, lang="fr"))) <= fr


# Splits -------------------------------------------------------------------------------


def test_split_is_disjoint_deterministic_and_covers_every_length():
    parts = split_numbers((3000, 200, 500), max_digits=9, seed=4)
    assert [len(p) for p in parts] == [3000, 200, 500]
    sets = [set(p) for p in parts]
    assert sum(len(s) for s in sets) == 3700 and len(set.union(*sets)) == 3700
    assert parts == split_numbers((3000, 200, 500), max_digits=9, seed=4)
    assert parts != split_numbers((3000, 200, 500), max_digits=9, seed=5)
    every = [n for p in parts for n in p]
    assert min(every) >= 1 and max(every) < 10**9
    digits = np.array([len(str(n)) for n in every])
    # Every digit count 1..9 occurs; the nine-digit numbers are far from nine in ten.
    assert set(digits.tolist()) == set(range(1, 10))
    assert 0.05 < np.mean(digits == 9) < 0.2
    # The short numbers are used up: all nine one-digit numbers, all ninety of two.
    assert np.sum(digits == 1) == 9 and np.sum(digits == 2) == 90
    with pytest.raises(ValueError, match="too many"):
        split_numbers((60, 0, 0), max_digits=2)


# Batches ------------------------------------------------------------------------------


def test_task_batches_against_num2words():
    task = load_task((300, 20, 40), max_digits=9, seed=0)
    assert not set(task.train) & set(task.test) and not set(task.valid) & set(task.test)
    numbers = task.test[:7]
    batch = task.batch(numbers)
    S, B = batch.src.shape
    assert B == 7 and batch.lengths.shape == (7,) and batch.tgt.shape[1] == 7
    assert S == int(batch.lengths.max()) and batch.numbers == tuple(numbers)
    for b, n in enumerate(numbers):
        en, fr = num2words(n), num2words(n, lang="fr")
        assert task.pairs[n] == (en, fr)
        n_src = int(batch.lengths[b])
        assert n_src == len(tokenize(en)) + 1 == task.source_length(n) + 1
        src = batch.src[:, b].tolist()
        assert src[n_src - 1] == task.src_vocab.eos_id and set(src[n_src:]) <= {0}
        assert task.src_vocab.decode(src) == en
        tgt = batch.tgt[:, b].tolist()
        assert tgt[0] == task.tgt_vocab.bos_id
        n_tgt = len(tokenize(fr)) + 2  # <bos>, the tokens, <eos>
        assert tgt[n_tgt - 1] == task.tgt_vocab.eos_id and set(tgt[n_tgt:]) <= {0}
        assert task.tgt_vocab.decode(tgt) == fr
    # A number outside the parts is spelled on the fly.
    assert task.tgt_vocab.decode(task.batch([1971]).tgt[:, 0]) == "mille neuf cent soixante et onze"
    with pytest.raises(ValueError, match="share numbers"):
        NumberTranslation([1, 2], [3], [2])
