"""A word-level LSTM language model (Zaremba et al. 2014) and its loss and perplexity.

Embedding, a stack of LSTMs, dropout, and a linear layer to the vocabulary, as in
PyTorch's ``word_language_model`` example. With ``tie_weights=True`` the output layer
reuses the embedding matrix (Press and Wolf 2017; Inan et al. 2017), which needs
``embed_size == hidden_size``. Inputs and targets are time-major ``(T, B)`` chunks from
``lstmlib.words.bptt_batches``; the state is carried from chunk to chunk (detached,
for truncated BPTT).
"""

from __future__ import annotations

import math

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
def perplexity(model, data, bptt):
    """``exp`` of the mean cross-entropy of ``model`` over all of ``data: (N, B)``
    (from ``batchify``), read in chunks of ``bptt`` with the state carried across."""
    was_training = model.training
    model.eval()
    total, count, state = 0.0, 0, None
    for x, y in bptt_batches(data, bptt):
        logits, state = model(x, state)
        total += float(lm_loss(logits, y)) * y.numel()
        count += y.numel()
    model.train(was_training)
    return math.exp(total / count)
