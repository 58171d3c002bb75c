"""CTC in NumPy against brute force over every path, and against torch.nn.CTCLoss."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lstmlib.ctc import collapse, ctc_forward, ctc_loss, edit_distance, error_rate, greedy_decode


def random_log_probs(T, C, seed):
    logits = torch.randn(T, C, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return F.log_softmax(logits, dim=-1).numpy()


def test_collapse_merges_repeats_then_drops_blanks():
    assert collapse([1, 1, 0, 2, 2]) == [1, 2]
    assert collapse([0, 1, 2, 0, 0]) == [1, 2]
    assert collapse([1, 0, 1]) == [1, 1]
    assert collapse([1, 1, 1]) == [1]
    assert collapse([0, 0]) == []


@pytest.mark.parametrize("target", [[], [1], [1, 2], [1, 1], [2, 1, 2]])
def test_loss_is_the_sum_over_every_path(target):
    T, C = 5, 3
    log_probs = random_log_probs(T, C, seed=len(target))
    total = sum(
        math.exp(sum(log_probs[t, k] for t, k in enumerate(path)))
        for path in itertools.product(range(C), repeat=T)
        if collapse(path) == target
    )
    assert ctc_loss(log_probs, target) == pytest.approx(-math.log(total))


@pytest.mark.parametrize("T,C,L,seed", [(6, 4, 2, 0), (12, 5, 4, 1), (30, 11, 9, 2)])
def test_loss_matches_torch(T, C, L, seed):
    log_probs = random_log_probs(T, C, seed)
    gen = torch.Generator().manual_seed(seed + 100)
    target = torch.randint(1, C, (L,), generator=gen)
    expected = F.ctc_loss(
        torch.from_numpy(log_probs)[:, None],
        target[None],
        torch.tensor([T]),
        torch.tensor([L]),
        reduction="sum",
    )
    assert ctc_loss(log_probs, target.tolist()) == pytest.approx(float(expected))


def test_too_few_frames_is_impossible():
    # "a a" needs three frames (a _ a); two cannot hold it.
    log_probs = random_log_probs(2, 3, seed=0)
    assert ctc_loss(log_probs, [1, 1]) == math.inf
    assert np.isfinite(ctc_forward(random_log_probs(3, 3, 0), [1, 1])[-1, -2])


def test_greedy_decode_takes_the_best_path_of_each_utterance():
    # Frames' argmaxes: utterance 0 reads 1 1 0 2 (-> 1 2); utterance 1 reads 2 0 2 2 (-> 2 2),
    # of which only the first two frames count.
    best = np.array([[1, 2], [1, 0], [0, 2], [2, 2]])
    scores = np.eye(3)[best]  # (T, B, C) one-hot scores
    assert greedy_decode(scores) == [[1, 2], [2, 2]]
    assert greedy_decode(torch.from_numpy(scores), lengths=[4, 2]) == [[1, 2], [2]]


def test_edit_distance_and_error_rate():
    assert edit_distance("kitten", "sitting") == 3
    assert edit_distance([], [1, 2]) == 2
    assert edit_distance([1, 2, 3], [1, 2, 3]) == 0
    assert error_rate([[1, 2, 3], [4]], [[1, 3], [5]]) == pytest.approx(2 / 4)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match=r"\(T, C\)"):
        ctc_loss(np.zeros(3), [1])
    with pytest.raises(ValueError, match="blank"):
        ctc_loss(random_log_probs(4, 3, 0), [0, 1])
    with pytest.raises(ValueError, match=r"\(T, B, C\)"):
        greedy_decode(np.zeros((3, 2)))
