"""Exercise 09's oracles: the reference parts, the hidden decoders, the expected outputs.

Only the judge imports this module; the grading sandbox replaces it (see
``JUDGE_ONLY`` in ``attention``). The kernel reaches two kinds of functions of it
through the grader (``lstmlib.grading.oracle``), and only in the cells that may:

- the reference parts of the attention, standing in for the student's while their
  ``additive_attention`` is graded: ``attention_scores``, ``masked_softmax``,
  ``attention_context``;
- the decoders that the decoding tests hand to the student's functions, as step
  functions ``step(tokens, state) -> (log_probs, state)``:
  ``attention_decoder_start`` and ``attention_decoder_step``. Each is a small random
  ``lstmlib.seq2seq.Seq2Seq`` with attention, built from a case's seed, sometimes
  wrapped so that a test grades one thing only (see ``attention_decoder_step``).

Inputs and weights are float64, so that the judge's decoding and the kernel's (the
same model, called through the grader, on a state that made a round trip through
JSON, perhaps on a subset of the batch) choose the same words.
"""

from __future__ import annotations

import functools

import numpy as np
import torch
import torch.nn.functional as F

from lstmlib.nn.attention import AdditiveAttention, masked_softmax
from lstmlib.seq2seq import Seq2Seq, greedy_decode

__all__ = ["masked_softmax"]  # a reference part, served to the kernel from here

# --- the attention's parts ------------------------------------------------------------


def _attention(W_q, W_k, v) -> AdditiveAttention:
    """lstmlib's AdditiveAttention with the weights ``W_q: (A, Q)``, ``W_k: (A, K)``,
    ``v: (A,)``."""
    A, Q = W_q.shape
    attention = AdditiveAttention(Q, W_k.shape[1], A).double()
    with torch.no_grad():
        attention.query_proj.weight.copy_(torch.as_tensor(W_q))
        attention.key_proj.weight.copy_(torch.as_tensor(W_k))
        attention.v.weight.copy_(torch.as_tensor(v)[None])
    return attention


@torch.no_grad()
def attention_scores(query, keys, W_q, W_k, v):
    """The scores ``(S, B)`` of ``query: (B, Q)`` on ``keys: (S, B, K)``."""
    return _attention(W_q, W_k, v).scores(query, keys)


def attention_context(weights, values):
    """``sum_s weights[s, b] * values[s, b]``: ``(B, D)`` from ``(S, B)`` and ``(S, B, D)``."""
    return torch.einsum("sb,sbd->bd", weights, values)


def expected_scores(query, keys, W_q, W_k, v):
    return {"scores": attention_scores(*(torch.from_numpy(a) for a in (query, keys, W_q, W_k, v)))}


def expected_softmax(scores, mask):
    return {"weights": masked_softmax(torch.from_numpy(scores), torch.from_numpy(mask))}


def expected_context(weights, values):
    # Independent of lstmlib: one loop over the batch, a matrix-vector product each.
    context = np.stack([values[:, b].T @ weights[:, b] for b in range(weights.shape[1])])
    return {"context": context}


@torch.no_grad()
def expected_attention(query, keys, W_q, W_k, v, mask):
    query, keys, mask = (torch.from_numpy(a) for a in (query, keys, mask))
    context, weights = _attention(W_q, W_k, v)(query, keys, mask=mask)
    return {"context": context, "weights": weights}


# --- the hidden decoders ----------------------------------------------------------------

PAD = 0  # the padding id of both vocabularies; its embedding is zero
NEVER = -1e4  # added to <eos>'s logit by a decoder that must not stop
FOLLOW = 2.0  # added to the logit of the word a never_ends decoder prefers next


@functools.lru_cache(maxsize=16)
def _model(seed: int, vocab: int, hidden: int) -> Seq2Seq:
    with torch.random.fork_rng():  # the grader's own random state stays as it was
        torch.manual_seed(seed)
        model = Seq2Seq(vocab, vocab, hidden, hidden, pad_id=PAD).double().eval()
    # Larger output weights than PyTorch's initialisation: decisive words, no near-ties.
    with torch.no_grad():
        model.out.weight.mul_(4.0)
    return model


def _unpack(config):
    seed, vocab, hidden, kind, eos_id, per_sentence = config
    if kind not in ("plain", "never_ends", "ends_on_a_clock"):
        raise ValueError(f"unknown decoder {kind!r}")
    return _model(int(seed), int(vocab), int(hidden)), kind, int(eos_id), per_sentence


@torch.no_grad()
def attention_decoder_start(config, src, lengths):
    """The initial state of the decoder ``config`` for the sources ``src: (S, N)``."""
    model, kind, _, per_sentence = _unpack(config)
    state = model.encode(torch.as_tensor(src), torch.as_tensor(lengths))
    # One number per sentence (along dimension 1, like the rest of the state): the shift
    # of its preferred next words, or the step of its <eos> and the steps taken so far.
    per_sentence = torch.as_tensor(per_sentence, dtype=torch.float64)[None]
    if kind == "never_ends":
        state = (*state, per_sentence)
    if kind == "ends_on_a_clock":
        state = (*state, torch.zeros_like(per_sentence), per_sentence)
    return state


@torch.no_grad()
def attention_decoder_step(config, tokens, state):
    """One step of the decoder ``config``: ``(log_probs: (N, V), state)``.

    ``"plain"`` is the Seq2Seq's own step. ``"never_ends"`` never makes ``<eos>`` the
    most probable word, and prefers the word ``(w + shift[n]) % V`` after the word ``w``
    in sentence ``n``: what it writes next depends on the word it is fed, differently in
    every sentence. ``"ends_on_a_clock"`` ignores the words it is fed (it reads the
    padding's zero embedding instead) and makes ``<eos>`` the most probable word at
    step ``deadline[n]`` of sentence ``n`` (counting from 1) and never before: a decoder
    whose sentences end at different steps, whatever it is fed.
    """
    model, kind, eos_id, _ = _unpack(config)
    tokens = torch.as_tensor(tokens)
    if tokens.dim() != 1 or tokens.dtype not in (torch.int64, torch.int32):
        raise TypeError(
            f"the step function takes the previous words as integer ids of shape (N,), "
            f"got a tensor of shape {tuple(tokens.shape)} and dtype {tokens.dtype}"
        )
    state = tuple(state)
    clock = shifts = None
    if kind == "never_ends":
        *state, shifts = state
    if kind == "ends_on_a_clock":
        *state, clock, deadlines = state
        tokens = torch.full_like(tokens, PAD)
    logits, state, _ = model.step(tokens.long(), tuple(state))
    if shifts is not None:
        V = logits.shape[1]
        preferred = (tokens.long() + shifts[0].long()) % V
        logits[torch.arange(len(tokens)), preferred] += FOLLOW
        logits[:, eos_id] += NEVER
        state = (*state, shifts)
    if clock is not None:
        clock = clock + 1
        ends = clock[0] >= deadlines[0]
        logits[:, eos_id] = torch.where(ends, logits.max(-1).values + 10, logits[:, eos_id] + NEVER)
        state = (*state, clock, deadlines)
    return F.log_softmax(logits, dim=-1), state


def decoder(config):
    """The decoder ``config`` as a step function."""
    return functools.partial(attention_decoder_step, config)


def padded(sequences, max_len) -> dict:
    """Sequences of ids as arrays: their lengths, and the ids padded with -1."""
    tokens = np.full((len(sequences), max_len), -1.0)
    for row, sequence in zip(tokens, sequences, strict=True):
        row[: len(sequence)] = sequence
    return {
        "sequence lengths": np.array([len(s) for s in sequences], dtype=float),
        "tokens (padded with -1)": tokens,
    }


def expected_greedy(config, src, lengths, bos_id, eos_id, max_len):
    state = attention_decoder_start(config, src, lengths)
    return padded(greedy_decode(decoder(config), state, bos_id, eos_id, max_len), max_len)


@torch.no_grad()
def expected_teacher_forced(config, src, lengths, bos_id, targets):
    # Independent of a step loop: the model's teacher-forced forward pass, all steps at once.
    model, _, _, _ = _unpack(config)
    targets = torch.from_numpy(targets)
    tgt_in = torch.cat([torch.full_like(targets[:1], bos_id), targets[:-1]])
    logits = model(torch.from_numpy(src), torch.from_numpy(lengths), tgt_in)
    log_probs = F.log_softmax(logits, dim=-1).gather(-1, targets[..., None])[..., 0]
    return {"log_probs": log_probs}
