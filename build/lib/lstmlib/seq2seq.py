"""A small encoder-decoder (Sutskever et al. 2014) with LSTMs, with or without attention,
and the two ways to decode with it: greedy decoding and beam search.

The encoder reads a padded batch of source sequences ``src: (S, B)`` (ids, time-major)
of lengths ``lengths: (B,)``; ``lstmlib.nn.LSTM`` skips the padding, so each source's
final state is the one after its own last word. The decoder starts from that state and
predicts the target one word at a time from the previous word; with ``attention=True``
it also reads, at every step, a context vector from the encoder's outputs
(``lstmlib.nn.AdditiveAttention``, Bahdanau et al. 2015, queried with the decoder's
previous top-layer state and fed to the LSTM next to the word's embedding), and
``forward(..., return_attention=True)`` returns the weights it used, one distribution
over the source per target word (the alignment matrices of Bahdanau et al.'s figures).

Training is *teacher-forced*: a target ``tgt: (T + 1, B)`` that starts with ``<bos>``
is fed as ``tgt[:-1]`` and the logits are compared with ``tgt[1:]``
(:func:`sequence_loss`). Decoding feeds the model its own predictions instead.

Both decoders take the decoder as a *step function*
``step(tokens: (N,), state) -> (log_probs: (N, V), state)``, where ``state`` is a tuple
of tensors with the batch (or beam) along dimension 1, like every time-major state of
``lstmlib``: the model's :meth:`Seq2Seq.decode_step`, or a hand-made one in the tests.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from lstmlib.nn import LSTM, AdditiveAttention, length_mask
from lstmlib.shapes import ShapeError, check_shape


class Seq2Seq(nn.Module):
    """An LSTM encoder and an LSTM decoder of the same hidden size.

    Args:
        src_vocab, tgt_vocab: sizes of the source and target vocabularies.
        embed_size, hidden_size: ``E`` and ``H``, for both sides.
        num_layers: of both LSTMs (the decoder starts from the encoder's final states).
        attention: whether the decoder attends to the encoder's outputs.
        pad_id: the padding id of both vocabularies (its embedding stays zero).
    """

    def __init__(
        self,
        src_vocab,
        tgt_vocab,
        embed_size,
        hidden_size,
        num_layers=1,
        attention=True,
        pad_id=0,
    ):
        super().__init__()
        self.pad_id = pad_id
        self.src_embed = nn.Embedding(src_vocab, embed_size, padding_idx=pad_id)
        self.tgt_embed = nn.Embedding(tgt_vocab, embed_size, padding_idx=pad_id)
        self.encoder = LSTM(embed_size, hidden_size, num_layers)
        decoder_input = embed_size + (hidden_size if attention else 0)
        self.decoder = LSTM(decoder_input, hidden_size, num_layers)
        self.attention = (
            AdditiveAttention(hidden_size, hidden_size, hidden_size) if attention else None
        )
        self.out = nn.Linear(hidden_size, tgt_vocab)

    def encode(self, src, lengths):
        """The decoder's initial state for a batch of sources.

        Args:
            src: (S, B) source ids, padded with ``pad_id`` past each length.
            lengths: (B,) source lengths in ``1..S``.

        Returns:
            state: the encoder's final ``h, c: (num_layers, B, H)``: ``(h, c)`` without
            attention; with attention ``(h, c, memory, keys, mask)``, also the
            encoder's outputs ``memory: (S, B, H)``, their projections by the
            attention ``keys: (S, B, H)`` (computed once here rather than at every
            step) and ``mask: (S, B)``, True at real positions. Every tensor has the
            batch along dimension 1, as the decoders expect.
        """
        check_shape("src", src, ("S", "B"))
        lengths = torch.as_tensor(lengths, device=src.device)
        memory, (h, c) = self.encoder(self.src_embed(src), lengths=lengths)
        if self.attention is None:
            return h, c
        keys = self.attention.project_keys(memory)
        return h, c, memory, keys, length_mask(lengths, src.shape[0])

    def step(self, tokens, state):
        """One decoder step: the previous words ``tokens: (N,)`` to the next word's logits.

        Returns:
            logits: (N, V); the new state (as :meth:`encode`'s); the attention weights
            ``(S, N)``, or None without attention.
        """
        h, c, *source = state
        x = self.tgt_embed(tokens)
        weights = None
        if self.attention is not None:
            memory, keys, mask = source
            context, weights = self.attention(h[-1], memory, mask=mask, projected_keys=keys)
            x = torch.cat([x, context], dim=-1)
        output, (h, c) = self.decoder(x[None], (h, c))
        return self.out(output[0]), (h, c, *source), weights

    def decode_step(self, tokens, state):
        """:meth:`step` as the decoders' step function: ``(log_probs (N, V), state)``."""
        logits, state, _ = self.step(tokens, state)
        return F.log_softmax(logits, dim=-1), state

    def forward(self, src, lengths, tgt_in, return_attention=False):
        """Teacher-forced logits.

        Args:
            src: (S, B), lengths: (B,) as in :meth:`encode`.
            tgt_in: (T, B) decoder inputs: ``<bos>`` and the target without its last word.
            return_attention: also return the attention weights (with attention only).

        Returns:
            logits: (T, B, V), row ``t`` predicting the word after ``tgt_in[t]``;
            with ``return_attention``, also ``weights: (T, S, B)``, ``weights[t, :, b]``
            the weights over the source of sequence ``b`` when predicting word ``t``
            (each column sums to one; zero on the padding).
        """
        state = self.encode(src, lengths)
        check_shape("tgt_in", tgt_in, ("T", src.shape[1]))
        if self.attention is None:
            if return_attention:
                raise ValueError("return_attention=True needs a model with attention")
            # Nothing depends on the decoder's own outputs: one call runs every step.
            output, _ = self.decoder(self.tgt_embed(tgt_in), state)
            return self.out(output)
        logits, weights = [], []
        for tokens in tgt_in:
            step_logits, state, step_weights = self.step(tokens, state)
            logits.append(step_logits)
            weights.append(step_weights)
        if return_attention:
            return torch.stack(logits), torch.stack(weights)
        return torch.stack(logits)


def sequence_loss(logits, targets, pad_id=0):
    """Mean cross-entropy of ``logits: (T, B, V)`` against ``targets: (T, B)``, padding
    positions (``targets == pad_id``) left out."""
    sizes = check_shape("logits", logits, ("T", "B", "V"))
    check_shape("targets", targets, ("T", "B"), sizes)
    return F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=pad_id)


def _check_start(state, bos_id, eos_id, max_len):
    if not isinstance(state, tuple) or not state:
        raise TypeError("state must be a non-empty tuple of tensors (batch along dimension 1)")
    if max_len < 1:
        raise ValueError(f"max_len must be at least 1, got {max_len}")
    if bos_id == eos_id:
        raise ValueError("bos_id and eos_id must differ")


@torch.no_grad()
def greedy_decode(step, state, bos_id, eos_id, max_len):
    """At every step take the most probable next word.

    Args:
        step: ``step(tokens: (N,), state) -> (log_probs: (N, V), state)``.
        state: the initial state: a tuple of tensors, the batch ``N`` along dimension 1.
        bos_id, eos_id: the start and end tokens; max_len: at most this many steps.

    Returns:
        list of ``N`` lists of ids: each sequence's words after ``<bos>``, up to and
        including its first ``<eos>`` (or ``max_len`` words, if it never produced one).
    """
    _check_start(state, bos_id, eos_id, max_len)
    N = state[0].shape[1]
    tokens = torch.full((N,), bos_id, dtype=torch.long, device=state[0].device)
    out, done = [], torch.zeros(N, dtype=torch.bool, device=tokens.device)
    for _ in range(max_len):
        log_probs, state = step(tokens, state)
        check_shape("log_probs", log_probs, (N, "V"))
        tokens = log_probs.argmax(-1)
        out.append(tokens)
        done |= tokens == eos_id
        if bool(done.all()):
            break
    sequences = []
    for row in torch.stack(out, dim=1).tolist():
        sequences.append(row[: row.index(eos_id) + 1] if eos_id in row else row)
    return sequences


class Hypothesis(NamedTuple):
    """A decoded sequence (its ids after ``<bos>``) and its log-probability."""

    tokens: list[int]
    score: float


@torch.no_grad()
def beam_search(step, state, bos_id, eos_id, beam_size, max_len):
    """Keep the ``beam_size`` most probable partial sequences at every step.

    A sequence's score is its log-probability, the sum of its words' log-probabilities
    (``<eos>`` included, no length normalisation). At every step each live sequence is
    extended by every word, and the ``beam_size`` best extensions survive; those that
    end in ``<eos>`` are finished and leave the beam, which so shrinks. The search stops
    when no sequence is live, after ``max_len`` steps, or when the best finished score is
    at least the best live score (a live sequence's score can only go down). With
    ``beam_size = 1`` it is greedy decoding; with a beam as large as the number of
    sequences it can reach, it is exhaustive and finds the most probable sequence.

    Args:
        step: ``step(tokens: (N,), state) -> (log_probs: (N, V), state)``.
        state: the initial state for one source: a tuple of tensors with a batch of 1
            along dimension 1.
        bos_id, eos_id: the start and end tokens.
        beam_size: at least 1; max_len: the longest sequence, in words after ``<bos>``.

    Returns:
        list of :class:`Hypothesis`, best first: the finished sequences (ending in
        ``<eos>``) and, if ``max_len`` was reached, the live ones (which do not).
    """
    _check_start(state, bos_id, eos_id, max_len)
    if beam_size < 1:
        raise ValueError(f"beam_size must be at least 1, got {beam_size}")
    if state[0].shape[1] != 1:
        raise ShapeError(
            f"beam_search decodes one source: the state's dimension 1 must be 1, "
            f"got shape {tuple(state[0].shape)}"
        )
    device = state[0].device
    live = [Hypothesis([], 0.0)]
    tokens = torch.tensor([bos_id], device=device)
    finished: list[Hypothesis] = []
    for _ in range(max_len):
        log_probs, state = step(tokens, state)
        check_shape("log_probs", log_probs, (len(live), "V"))
        scores = torch.tensor([h.score for h in live], dtype=log_probs.dtype, device=device)
        total = (scores[:, None] + log_probs).flatten()
        V = log_probs.shape[1]
        best = total.topk(min(beam_size, total.numel())).indices.tolist()
        keep, next_live = [], []
        for index in best:
            parent, word = divmod(index, V)
            hypothesis = Hypothesis([*live[parent].tokens, word], float(total[index]))
            if word == eos_id:
                finished.append(hypothesis)
            else:
                keep.append(parent)
                next_live.append(hypothesis)
        live = next_live
        if not live:
            break
        if finished and max(h.score for h in finished) >= live[0].score:
            live = []
            break
        parents = torch.tensor(keep, device=device)
        state = tuple(t.index_select(1, parents) for t in state)
        tokens = torch.tensor([h.tokens[-1] for h in live], device=device)
    return sorted(finished + live, key=lambda h: -h.score)
