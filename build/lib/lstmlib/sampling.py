"""Writing with a language model: sampling the next token, with temperature and top-k.

A language model gives scores (logits) for the next token; sampling from their softmax
writes text one token at a time, each sample fed back as the next input. Two knobs
trade variety for safety:

- *temperature* ``tau`` divides the logits before the softmax: ``tau < 1`` sharpens the
  distribution towards the likeliest tokens, ``tau > 1`` flattens it, and ``tau -> 0``
  becomes greedy (argmax) decoding;
- *top-k* keeps only the ``k`` likeliest tokens and renormalises (Fan et al. 2018), so a
  long tail of individually unlikely tokens cannot be drawn by chance.

:func:`generate` works with any model called as ``model(input: (T, B), state) ->
(logits: (T, B, V), state)``: the word model of :mod:`lstmlib.language_model` and the
character models of the book alike.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from lstmlib.shapes import check_shape


def next_token_probs(logits, temperature=1.0, top_k=None):
    """The sampling distribution for ``logits: (B, V)``, after temperature and top-k.

    Returns:
        probs: (B, V), each row summing to one; zero outside the top ``k`` of its row.
    """
    check_shape("logits", logits, ("B", "V"))
    if temperature <= 0:
        raise ValueError(f"temperature must be positive (use argmax for greedy), got {temperature}")
    logits = logits / temperature
    if top_k is not None:
        if not 1 <= top_k <= logits.shape[-1]:
            raise ValueError(f"top_k must lie in 1 .. {logits.shape[-1]}, got {top_k}")
        kth = logits.topk(top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    return F.softmax(logits, dim=-1)


def sample_next(logits, temperature=1.0, top_k=None, generator=None):
    """One token id per row of ``logits: (B, V)``, drawn from :func:`next_token_probs`.

    Returns:
        ids: (B,) int64.
    """
    probs = next_token_probs(logits, temperature, top_k)
    return torch.multinomial(probs, 1, generator=generator)[:, 0]


@torch.no_grad()
def generate(model, prompt, length, temperature=1.0, top_k=None, generator=None):
    """Continue ``prompt: (P,)`` token ids by ``length`` sampled tokens.

    The model reads the prompt, then each sampled token in turn, carrying its state; it
    is put in eval mode (no dropout) while it writes and restored afterwards.

    Returns:
        ids: (length,) the sampled continuation, without the prompt.
    """
    check_shape("prompt", prompt, ("P",))
    if len(prompt) == 0:
        raise ValueError("generate needs a prompt of at least one token")
    was_training = model.training
    model.eval()
    logits, state = model(prompt[:, None], None)
    out = []
    for _ in range(length):
        token = sample_next(logits[-1], temperature, top_k, generator)
        out.append(token)
        logits, state = model(token[None, :], state)
    model.train(was_training)
    return torch.cat(out) if out else prompt.new_empty(0)
