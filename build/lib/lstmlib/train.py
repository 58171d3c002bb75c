"""The training loop the chapters share: Adam on fresh batches, with a learning curve,
and the centred running mean that smooths a curve of per-step losses.

Synthetic tasks such as the adding problem draw a new batch every step, so there are no
epochs; what a chapter wants to show is the test error as training goes, and how long
the training itself took.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from lstmlib.widgets import progress


def train_with_curve(
    model: torch.nn.Module,
    next_batch: Callable[[], tuple[torch.Tensor, torch.Tensor]],
    evaluate: Callable[[torch.nn.Module], float],
    steps: int,
    lr: float,
    clip: float | None = None,
    eval_every: int = 25,
    loss_fn=F.mse_loss,
    desc: str | None = None,
    stop_when: Callable[[float], bool] | None = None,
):
    """Train ``model`` with Adam for ``steps`` steps, one fresh batch per step.

    Args:
        model: called as ``model(x)``; its output is compared with ``y`` by ``loss_fn``.
        next_batch: returns the next ``(x, y)`` (a closure over the caller's generator,
            so that every model sees the same batches).
        evaluate: the test error of a model, e.g. the MSE on a fixed test set.
        steps, lr: number of updates and Adam's learning rate.
        clip: if given, the gradients' global norm is clipped to it before each update.
        eval_every: ``evaluate`` runs before training and after every ``eval_every`` steps.
        loss_fn: the training loss; mean squared error by default.
        desc: label of the progress bar (shown in Jupyter only).
        stop_when: if given, training stops after the first evaluation (of those after
            training steps) for which ``stop_when(error)`` is true, e.g. once a task is
            solved: the remaining steps would only polish the result.

    Returns:
        curve: ``(steps // eval_every + 1,)`` the test error at steps 0, eval_every, ...
            (fewer points if ``stop_when`` stopped training early).
        clock: same shape, the seconds of training (evaluations excluded) until each point.
    """
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    curve, clock, elapsed = [evaluate(model)], [0.0], 0.0
    for step in progress(range(1, steps + 1), desc=desc):
        start = time.perf_counter()
        x, y = next_batch()
        loss = loss_fn(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        if clip is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        optimizer.step()
        elapsed += time.perf_counter() - start
        if step % eval_every == 0:
            curve.append(evaluate(model))
            clock.append(elapsed)
            if stop_when is not None and stop_when(curve[-1]):
                break
    return np.array(curve), np.array(clock)


def running_mean(values, window: int, first_step: int = 1):
    """The running mean of a per-step series, placed at the centre of each window.

    A mean over steps ``s .. s + window - 1`` describes the middle of that stretch, so it
    is drawn at ``s + (window - 1) / 2``; drawn at the window's end it would lag the raw
    curve by half a window.

    Args:
        values: ``(S,)`` one value per step, e.g. the training loss of every batch.
        window: how many consecutive values each mean covers, ``1 <= window <= S``.
        first_step: the step number of ``values[0]`` (training steps count from 1).

    Returns:
        steps: ``(S - window + 1,)`` the centre of each window (a half-integer step when
            ``window`` is even).
        means: same shape, the mean of each window.
    """
    values = np.asarray(values, dtype=float)
    if values.ndim != 1:
        raise ValueError(f"values must be one series (S,), got shape {values.shape}")
    if not 1 <= window <= len(values):
        raise ValueError(f"window must be in [1, {len(values)}], got {window}")
    means = np.convolve(values, np.ones(window) / window, mode="valid")
    steps = first_step + (window - 1) / 2 + np.arange(len(means))
    return steps, means
