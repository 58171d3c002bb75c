"""A word-level LSTM language model (Zaremba et al. 2014) and its loss and perplexity.

Embedding, a stack of LSTMs, dropout, and a linear layer to the vocabulary, as in
PyTorch's ``word_language_model`` example. With ``tie_weights=True`` the output layer
reuses the embedding matrix (Press and Wolf 2017; Inan et al. 2017), which needs
``embed_size == hidden_size``. Inputs and targets are time-major ``(T, B)`` chunks from
``lstmlib.words.bptt_batches``; the state is carried from chunk to chunk (detached,
for truncated BPTT).

:func:`train_lm` is chapter 7's truncated-BPTT loop for such a model (carry the state,
detach it, clip the gradient, start again from a zero state at the end of the data);
:func:`token_log_probs` gives the log-probability of every word of a held-out stream,
which :func:`perplexity` averages and which can be mixed with a count-based model's.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from lstmlib.nn import LSTM
from lstmlib.shapes import check_shape
from lstmlib.words import bptt_batches


class WordLM(nn.Module):
    """Embedding -> LSTM -> dropout -> linear, over word ids.

    Args:
        vocab_size: ``V``; embed_size: ``E``; hidden_size: ``H``.
        num_layers, dropout: of the LSTM; ``dropout`` also acts on the embeddings and on
            the last layer's output.
        tie_weights: share the embedding matrix ``(V, E)`` with the output layer.
    """

    def __init__(
        self, vocab_size, embed_size, hidden_size, num_layers=1, dropout=0.0, tie_weights=False
    ):
        super().__init__()
        if tie_weights and embed_size != hidden_size:
            raise ValueError(
                f"tie_weights needs embed_size == hidden_size, got {embed_size} and {hidden_size}"
            )
        self.embed = nn.Embedding(vocab_size, embed_size)
        self.lstm = LSTM(
            embed_size, hidden_size, num_layers, dropout=dropout if num_layers > 1 else 0
        )
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(hidden_size, vocab_size)
        if tie_weights:
            self.out.weight = self.embed.weight

    def forward(self, input, state=None):
        """
        Args:
            input: (T, B) word ids.
            state: ``(h, c)``, each (num_layers, B, H), or None for zeros.

        Returns:
            logits: (T, B, V), row ``t`` predicting the word after ``input[t]``;
            the final state ``(h, c)``.
        """
        check_shape("input", input, ("T", "B"))
        output, state = self.lstm(self.drop(self.embed(input)), state)
        return self.out(self.drop(output)), state


def lm_loss(logits, target):
    """Mean cross-entropy (nats per word) of ``logits: (T, B, V)`` for ``target: (T, B)``."""
    sizes = check_shape("logits", logits, ("T", "B", "V"))
    check_shape("target", target, ("T", "B"), sizes)
    return F.cross_entropy(logits.flatten(0, 1), target.flatten())


@torch.no_grad()
def token_log_probs(model, data, bptt):
    """The natural-log probability the model gives to each next word of ``data``.

    Args:
        model: called as ``model(input: (T, B), state) -> (logits: (T, B, V), state)``.
        data: (N, B) ids from ``batchify``; each column is read from top to bottom in
            chunks of ``bptt``, the state carried across chunks, in eval mode.

    Returns:
        (N - 1, B) tensor: entry ``[t, b]`` is ``log P(data[t + 1, b] | data[: t + 1, b])``.
    """
    check_shape("data", data, ("N", "B"))
    was_training = model.training
    model.eval()
    out, state = [], None
    for x, y in bptt_batches(data, bptt):
        logits, state = model(x, state)
        out.append(torch.log_softmax(logits, dim=-1).gather(-1, y[..., None])[..., 0])
    model.train(was_training)
    return torch.cat(out)


def perplexity(model, data, bptt):
    """``exp`` of the mean cross-entropy of ``model`` over all of ``data: (N, B)``
    (from ``batchify``), read in chunks of ``bptt`` with the state carried across."""
    return math.exp(-float(token_log_probs(model, data, bptt).double().mean()))


def train_lm(
    model,
    data,
    steps,
    bptt=35,
    lr=1e-3,
    clip=0.5,
    optimizer=None,
    callback: Callable[[int, nn.Module], None] | None = None,
):
    """Train a language model with truncated BPTT over the streams of ``data``.

    Chapter 7's loop: read ``data: (N, B)`` (from ``batchify``) in chunks of ``bptt``
    rows, carry the final state of each chunk into the next but detach it (so the
    gradient stops at the chunk's start), clip the gradients' global norm, update; at
    the end of the streams, start over from a zero state (a new epoch).

    Args:
        model: called as ``model(input: (T, B), state) -> (logits: (T, B, V), state)``,
            the state a tuple of tensors (``(h, c)`` for an LSTM).
        steps: number of updates (chunks).
        lr: Adam's learning rate, used when ``optimizer`` is None.
        clip: maximum global gradient norm, or None for no clipping.
        optimizer: any ``torch.optim`` optimizer over ``model``'s parameters.
        callback: called as ``callback(step, model)`` after every update (``step`` counts
            from 1), e.g. to measure perplexity or take samples as training goes.

    Returns:
        (steps,) float tensor: the training loss (nats per word) of each update.
    """
    check_shape("data", data, ("N", "B"))
    if len(data) < 2:
        raise ValueError(f"data must have at least 2 rows to give a target, got {len(data)}")
    if optimizer is None:
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    losses = torch.empty(steps)
    chunks, state = bptt_batches(data, bptt), None
    for step in range(steps):
        try:
            x, y = next(chunks)
        except StopIteration:  # the end of the streams: a new epoch, from a zero state
            chunks, state = bptt_batches(data, bptt), None
            x, y = next(chunks)
        logits, state = model(x, state)
        state = tuple(s.detach() for s in state)  # carry the state, cut the gradient
        loss = lm_loss(logits, y)
        optimizer.zero_grad()
        loss.backward()
        if clip is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        optimizer.step()
        losses[step] = loss.detach()
        if callback is not None:
            callback(step + 1, model)
    return losses
