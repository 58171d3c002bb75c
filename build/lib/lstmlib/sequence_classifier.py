"""One many-to-one LSTM for any sequence classification task: only its ends change.

The claim that LSTMs are versatile "without architectural changes" is tested in the
book by training *one* configuration on tasks as different as sentences, speech and
images read row by row. :class:`SequenceClassifier` is that configuration:

- an **input layer** that turns each step into ``E`` numbers: ``nn.Embedding`` for word
  ids (:meth:`SequenceClassifier.for_tokens`), ``nn.Linear`` for real-valued frames
  (:meth:`SequenceClassifier.for_frames`); this is the only place where the kind of
  input shows;
- the same ``lstmlib.nn.LSTM(E, H, num_layers)`` for every task, which skips the padding
  (``lengths=``) so that each sequence is read up to its own last step;
- a **linear head** from the last layer's state after that step to ``C`` class scores
  (``C`` is the task's number of classes).

:func:`train_sequence_classifier` gives every task the same training: a fixed number of
Adam steps (or of epochs) on batches of sequences of similar length, with the same
learning rate, batch size and gradient clipping. :func:`pad_sequences` puts sequences
of different lengths side by side, time-major; :func:`predict_scores`,
:func:`predict_classes` and :func:`accuracy` evaluate. Any model called as
``model(x, lengths)`` that returns class scores trains and predicts this way, e.g. the
sentiment chapter's ``lstmlib.sentiment.BiLSTMClassifier``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from lstmlib.nn import LSTM
from lstmlib.padding import length_batches, pad_sequences
from lstmlib.shapes import ShapeError, check_labels, check_shape

__all__ = [
    "SequenceClassifier",
    "accuracy",
    "pad_sequences",
    "predict_classes",
    "predict_scores",
    "train_sequence_classifier",
]


class SequenceClassifier(nn.Module):
    """Input layer, an LSTM that stops at each sequence's length, a linear head.

    Args:
        input_layer: maps the padded input ``(T, B)`` (ids) or ``(T, B, F)`` (frames) to
            ``(T, B, E)``; ``nn.Embedding`` or ``nn.Linear``, see the two constructors.
        num_classes: ``C``.
        input_size: ``E``, what ``input_layer`` outputs per step.
        hidden_size: ``H``; num_layers: the LSTM's layers.
    """

    def __init__(self, input_layer: nn.Module, num_classes, input_size, hidden_size, num_layers=1):
        super().__init__()
        self.input_layer = input_layer
        self.lstm = LSTM(input_size, hidden_size, num_layers)
        self.head = nn.Linear(hidden_size, num_classes)

    @classmethod
    def for_tokens(cls, vocab_size, num_classes, input_size=32, hidden_size=64, num_layers=1):
        """Word ids in ``0..V-1`` -> an ``E``-dimensional embedding per word."""
        return cls(
            nn.Embedding(vocab_size, input_size), num_classes, input_size, hidden_size, num_layers
        )

    @classmethod
    def for_frames(cls, num_features, num_classes, input_size=32, hidden_size=64, num_layers=1):
        """Frames of ``F`` real numbers -> ``E`` numbers by one linear layer."""
        return cls(
            nn.Linear(num_features, input_size), num_classes, input_size, hidden_size, num_layers
        )

    def forward(self, x, lengths):
        """
        Args:
            x: (T, B) int64 ids, or (T, B, F) float frames; time-major, padded past each
                sequence's length (what is there is never read).
            lengths: (B,) the sequences' lengths, in ``1..T``.

        Returns:
            logits: (B, C), from the last layer's state after each sequence's last step.
        """
        if x.dim() not in (2, 3):
            raise ShapeError(
                f"x must be (T, B) ids or (T, B, F) frames, got shape {tuple(x.shape)}"
            )
        sizes = check_shape("x", x, ("T", "B", *([None] * (x.dim() - 2))))
        lengths = torch.as_tensor(lengths, device=x.device)
        check_shape("lengths", lengths, ("B",), sizes)
        _, (h_n, _) = self.lstm(self.input_layer(x), lengths=lengths)
        return self.head(h_n[-1])


def train_sequence_classifier(
    model: nn.Module,
    sequences: Sequence,
    labels,
    steps: int | None = None,
    lr: float = 0.005,
    batch_size: int = 32,
    seed: int = 0,
    clip: float | None = 5.0,
    *,
    epochs: int | None = None,
    pad_value=0,
) -> np.ndarray:
    """Adam on the cross-entropy for ``steps`` updates (or ``epochs`` passes), on batches
    of sequences of similar length.

    The batches of an epoch come from :func:`lstmlib.padding.length_batches` (sequences
    sorted by length, cut into batches, the batches shuffled); epochs follow one another
    until ``steps`` updates are done, so the budget is the same whatever the data's size,
    or until ``epochs`` epochs are done.

    Args:
        model: called as ``model(x, lengths)`` on :func:`pad_sequences`' output.
        sequences: ``N`` arrays or tensors ``(L_i,)`` or ``(L_i, F)``; labels: ``(N,)``.
        steps, epochs: the budget; give exactly one of them.
        seed: seeds the batches' order (the caller seeds the initial weights).
        clip: the gradients' global norm is clipped to it (None: no clipping).
        pad_value: written past each sequence's end (an embedding's padding id).

    Returns:
        ``(updates,)`` the training loss of every update.
    """
    labels = check_labels(labels, len(sequences), "sequence")
    if (steps is None) == (epochs is None):
        raise ValueError("give the budget as exactly one of steps= or epochs=")
    if (steps if steps is not None else epochs) < 1:
        which, value = ("steps", steps) if steps is not None else ("epochs", epochs)
        raise ValueError(f"{which} must be at least 1, got {value}")
    rng = np.random.default_rng(seed)
    lengths = [len(s) for s in sequences]
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    losses, epoch = [], 0
    model.train()
    while (steps is None or len(losses) < steps) and (epochs is None or epoch < epochs):
        for index in length_batches(lengths, batch_size, rng):
            x, batch_lengths = pad_sequences([sequences[i] for i in index], pad_value)
            loss = F.cross_entropy(model(x, batch_lengths), labels[index])
            optimizer.zero_grad()
            loss.backward()
            if clip is not None:
                nn.utils.clip_grad_norm_(model.parameters(), clip)
            optimizer.step()
            losses.append(loss.item())
            if len(losses) == steps:
                break
        epoch += 1
    model.eval()
    return np.array(losses)


@torch.no_grad()
def predict_scores(
    model: nn.Module, sequences: Sequence, batch_size: int = 512, pad_value=0
) -> np.ndarray:
    """Each sequence's class probabilities (softmax of the scores), ``(N, C)`` float64,
    in input order.

    Batches follow the sequences' lengths, so little padding is computed.
    """
    was_training = model.training
    model.eval()
    order = np.argsort([len(s) for s in sequences], kind="stable")
    probs = None
    for start in range(0, len(order), batch_size):
        index = order[start : start + batch_size]
        x, lengths = pad_sequences([sequences[i] for i in index], pad_value)
        batch = torch.softmax(model(x, lengths), dim=-1).double().numpy()
        if probs is None:
            probs = np.empty((len(sequences), batch.shape[1]))
        probs[index] = batch
    model.train(was_training)
    return probs


def predict_classes(
    model: nn.Module, sequences: Sequence, batch_size: int = 512, pad_value=0
) -> np.ndarray:
    """The likeliest class of each sequence, ``(N,)`` int64, in input order."""
    return predict_scores(model, sequences, batch_size, pad_value).argmax(axis=1)


def accuracy(model: nn.Module, sequences: Sequence, labels, pad_value=0) -> float:
    """The share of ``sequences`` whose likeliest class is their label."""
    labels = check_labels(labels, len(sequences), "sequence").numpy()
    return float(np.mean(predict_classes(model, sequences, pad_value=pad_value) == labels))
