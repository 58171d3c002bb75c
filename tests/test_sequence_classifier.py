"""lstmlib.sequence_classifier: padding, the read-out at each sequence's last step
(against torch.nn.LSTM run on each sequence alone), and training."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from lstmlib.sequence_classifier import (
    SequenceClassifier,
    accuracy,
    pad_sequences,
    predict_classes,
    train_sequence_classifier,
)
from lstmlib.shapes import ShapeError


def test_pad_sequences_frames_time_major_with_zeros_past_each_end(rng):
    seqs = [rng.normal(size=(n, 3)) for n in (4, 1, 6)]
    x, lengths = pad_sequences(seqs)
    assert x.shape == (6, 3, 3) and x.dtype == torch.float32
    assert lengths.tolist() == [4, 1, 6]
    for b, s in enumerate(seqs):
        np.testing.assert_allclose(x[: len(s), b].numpy(), s, rtol=1e-6)
        assert torch.all(x[len(s) :, b] == 0)


def test_pad_sequences_ids():
    x, lengths = pad_sequences([torch.tensor([5, 6]), torch.tensor([7, 8, 9])])
    assert x.tolist() == [[5, 7], [6, 8], [0, 9]] and x.dtype == torch.long
    assert lengths.tolist() == [2, 3]


@pytest.mark.parametrize(
    "seqs",
    [
        [np.zeros((3, 2)), np.zeros((3, 4))],  # different F
        [np.zeros((3, 2)), np.zeros(3)],  # frames and ids mixed
        [np.zeros((3, 2, 1))],  # too many dimensions
    ],
)
def test_pad_sequences_rejects_inconsistent_shapes(seqs):
    with pytest.raises(ShapeError):
        pad_sequences(seqs)


def test_pad_sequences_rejects_empty():
    with pytest.raises(ValueError, match="empty"):
        pad_sequences([np.zeros((2, 2)), np.zeros((0, 2))])
    with pytest.raises(ValueError, match="at least one"):
        pad_sequences([])


def _torch_oracle(model, sequence):
    """The logits of one unpadded sequence by torch.nn.LSTM with the model's weights."""
    reference = nn.LSTM(model.lstm.input_size, model.lstm.hidden_size, model.lstm.num_layers)
    reference.load_state_dict(model.lstm.state_dict())
    _, (h, _) = reference(model.input_layer(sequence)[:, None])
    return model.head(h[-1, 0])


@pytest.mark.parametrize("num_layers", [1, 2])
def test_frames_read_out_is_the_state_after_each_last_step(rng, num_layers):
    torch.manual_seed(0)
    model = SequenceClassifier.for_frames(3, 4, input_size=5, hidden_size=6, num_layers=num_layers)
    seqs = [torch.tensor(rng.normal(size=(n, 3)), dtype=torch.float32) for n in (5, 2, 7)]
    x, lengths = pad_sequences(seqs)
    x[5:, 0] = 1e3  # garbage in the padding must not be read
    logits = model(x, lengths)
    assert logits.shape == (3, 4)
    for b, s in enumerate(seqs):
        torch.testing.assert_close(logits[b], _torch_oracle(model, s), atol=1e-5, rtol=1e-5)


def test_tokens_read_out_matches_torch(rng):
    torch.manual_seed(1)
    model = SequenceClassifier.for_tokens(20, 3, input_size=4, hidden_size=5)
    assert isinstance(model.input_layer, nn.Embedding)
    seqs = [torch.tensor(rng.integers(0, 20, size=n)) for n in (3, 6, 1)]
    logits = model(*pad_sequences(seqs))
    for b, s in enumerate(seqs):
        torch.testing.assert_close(logits[b], _torch_oracle(model, s), atol=1e-5, rtol=1e-5)


def test_forward_rejects_wrong_shapes():
    model = SequenceClassifier.for_frames(3, 2, input_size=4, hidden_size=4)
    with pytest.raises(ShapeError, match="lengths"):
        model(torch.zeros(5, 2, 3), torch.tensor([5, 5, 5]))
    with pytest.raises(ShapeError, match="x must be"):
        model(torch.zeros(5, 2, 3, 1), torch.tensor([5, 5]))


def _sign_task(rng, n):
    """Class 1 if the first feature's mean is positive: needs the whole sequence."""
    seqs = [rng.normal(size=(int(rng.integers(3, 9)), 2)).astype(np.float32) for _ in range(n)]
    return seqs, np.array([int(s[:, 0].mean() > 0) for s in seqs])


def test_training_learns_a_task_with_exactly_the_budget(rng):
    seqs, labels = _sign_task(rng, 300)
    test_seqs, test_labels = _sign_task(rng, 200)
    torch.manual_seed(0)
    model = SequenceClassifier.for_frames(2, 2, input_size=8, hidden_size=16)
    before = accuracy(model, test_seqs, test_labels)
    losses = train_sequence_classifier(model, seqs, labels, steps=150, lr=0.01, batch_size=32)
    assert losses.shape == (150,)  # 150 updates: more than one epoch of 10 batches
    assert losses[-20:].mean() < 0.5 * losses[:20].mean()
    assert accuracy(model, test_seqs, test_labels) > max(0.85, before + 0.2)
    assert not model.training


def test_training_is_reproducible_from_the_seeds(rng):
    seqs, labels = _sign_task(rng, 64)
    runs = []
    for _ in range(2):
        torch.manual_seed(3)
        model = SequenceClassifier.for_frames(2, 2, input_size=4, hidden_size=4)
        runs.append(train_sequence_classifier(model, seqs, labels, steps=5, seed=7))
    np.testing.assert_array_equal(runs[0], runs[1])


def test_predict_classes_keeps_input_order(rng):
    torch.manual_seed(0)
    model = SequenceClassifier.for_frames(2, 5, input_size=4, hidden_size=4)
    seqs = [rng.normal(size=(n, 2)).astype(np.float32) for n in (7, 2, 5, 3, 9)]
    one_by_one = [int(model(*pad_sequences([s])).argmax()) for s in seqs]
    assert predict_classes(model, seqs, batch_size=2).tolist() == one_by_one


def test_labels_must_match_the_sequences(rng):
    model = SequenceClassifier.for_frames(2, 2, input_size=4, hidden_size=4)
    seqs, labels = _sign_task(rng, 10)
    with pytest.raises(ShapeError, match="labels"):
        train_sequence_classifier(model, seqs, labels[:9], steps=1)
    with pytest.raises(ValueError, match="steps"):
        train_sequence_classifier(model, seqs, labels, steps=0)
    with pytest.raises(ValueError, match="exactly one"):
        train_sequence_classifier(model, seqs, labels, steps=3, epochs=1)
    with pytest.raises(ValueError, match="exactly one"):
        train_sequence_classifier(model, seqs, labels)


def test_an_epoch_budget_sees_every_sequence_once_per_epoch(rng):
    # 10 sequences in batches of 4: batches of 4, 4 and 2, so 3 updates per epoch.
    model = SequenceClassifier.for_frames(2, 2, input_size=4, hidden_size=4)
    seqs, labels = _sign_task(rng, 10)
    seen = []
    model.register_forward_pre_hook(lambda m, args: seen.append(args[0].shape[1]))
    losses = train_sequence_classifier(model, seqs, labels, epochs=2, batch_size=4)
    assert len(losses) == 6
    assert sorted(seen) == sorted([4, 4, 2] * 2)
