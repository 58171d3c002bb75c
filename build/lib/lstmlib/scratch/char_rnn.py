r"""A character-level RNN language model in NumPy, trained with the hand-written BPTT.

In the spirit of Karpathy's ``min-char-rnn.py`` (2015): characters go in as one-hot
vectors, the tanh RNN of :mod:`lstmlib.scratch.rnn` reads them, a linear read-out turns
every hidden state into scores (logits) for the next character, and the loss is the
softmax cross-entropy against the character that really comes next:

.. math::

    h_t = \tanh(x_t W_x + h_{t-1} W_h + b), \qquad
    z_t = h_t W_y + b_y, \qquad
    \ell_t = -\log \operatorname{softmax}(z_t)_{y_t}.

A one-hot row times ``Wx`` picks out one row of ``Wx``: the input weights *are* a
character embedding of size ``H``. Everything runs on time-major ``(T, B)`` chunks of
character ids, the batches of :func:`lstmlib.text.tbptt_batches`, with the last hidden
state of one chunk carried into the next (truncated BPTT).

The parameters are a dict of arrays, ``{"Wx": (V, H), "Wh": (H, H), "b": (H,),
"Wy": (H, V), "by": (V,)}``, so that gradients, optimiser state and clipping are dicts
with the same keys.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

import numpy as np

from lstmlib.scratch.rnn import rnn_backward, rnn_forward, rnn_step_forward
from lstmlib.shapes import ShapeError, check_shape

PARAMETER_NAMES = ("Wx", "Wh", "b", "Wy", "by")


class CrossEntropyCache(NamedTuple):
    """What ``softmax_cross_entropy_backward`` needs: the probabilities and the targets."""

    probs: np.ndarray  # (N, V)
    targets: np.ndarray  # (N,)


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """``log softmax`` along the last axis, computed stably (the row maximum is subtracted
    first, so ``exp`` never overflows)."""
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def softmax_cross_entropy_forward(logits: np.ndarray, targets: np.ndarray):
    """Mean cross-entropy of the softmax of ``logits`` against integer ``targets``.

    Args:
        logits: (N, V) scores, one row per prediction.
        targets: (N,) integer ids in ``[0, V)``, the right answer of each row.

    Returns:
        loss: float, ``-mean_n log softmax(logits[n])[targets[n]]``, in nats.
        cache: ``CrossEntropyCache`` for ``softmax_cross_entropy_backward``.
    """
    sizes: dict[str, int] = {}
    check_shape("logits", logits, ("N", "V"), sizes)
    check_shape("targets", targets, ("N",), sizes)
    if not np.issubdtype(targets.dtype, np.integer):
        raise TypeError(f"targets must be integer ids, got dtype {targets.dtype}")
    if targets.size and not 0 <= targets.min() <= targets.max() < logits.shape[1]:
        raise ValueError(f"targets must lie in [0, {logits.shape[1]}), got {targets.min()} ..")
    log_probs = log_softmax(logits)
    loss = -float(log_probs[np.arange(len(targets)), targets].mean())
    return loss, CrossEntropyCache(np.exp(log_probs), targets)


def softmax_cross_entropy_backward(dloss: float, cache: CrossEntropyCache) -> np.ndarray:
    """Gradient of the mean cross-entropy with respect to the logits.

    For one row, ``d(-log softmax(z)_y) / dz = softmax(z) - onehot(y)``; the mean over
    the ``N`` rows divides it by ``N``.

    Returns:
        dlogits: (N, V).
    """
    probs, targets = cache
    dlogits = probs.copy()
    dlogits[np.arange(len(targets)), targets] -= 1.0
    return dlogits * (dloss / len(targets))


def one_hot(ids: np.ndarray, vocab_size: int, dtype=np.float64) -> np.ndarray:
    """``ids: (T, B)`` integer array -> ``(T, B, V)`` one-hot vectors."""
    check_shape("ids", ids, ("T", "B"))
    if ids.size and not 0 <= ids.min() <= ids.max() < vocab_size:
        raise ValueError(f"ids must lie in [0, {vocab_size})")
    return np.eye(vocab_size, dtype=dtype)[ids]


def init_char_rnn(vocab_size: int, hidden_size: int, rng: np.random.Generator):
    """Small random weights, zero biases, as ``min-char-rnn.py`` starts (std 0.01).

    Returns:
        params: ``{"Wx": (V, H), "Wh": (H, H), "b": (H,), "Wy": (H, V), "by": (V,)}``,
        float64. With such small weights every logit is close to 0, so the model starts
        close to uniform guessing, at a loss of about ``log V``.
    """
    V, H = vocab_size, hidden_size
    return {
        "Wx": rng.normal(0.0, 0.01, (V, H)),
        "Wh": rng.normal(0.0, 0.01, (H, H)),
        "b": np.zeros(H),
        "Wy": rng.normal(0.0, 0.01, (H, V)),
        "by": np.zeros(V),
    }


def _check_params(params):
    missing = [name for name in PARAMETER_NAMES if name not in params]
    if missing:
        raise KeyError(f"params lacks {missing}; a char RNN needs {list(PARAMETER_NAMES)}")
    sizes: dict[str, int] = {}
    check_shape("Wx", params["Wx"], ("V", "H"), sizes)
    check_shape("Wh", params["Wh"], ("H", "H"), sizes)
    check_shape("b", params["b"], ("H",), sizes)
    check_shape("Wy", params["Wy"], ("H", "V"), sizes)
    check_shape("by", params["by"], ("V",), sizes)
    return sizes["V"], sizes["H"]


def char_rnn_forward(params, inputs: np.ndarray, h0: np.ndarray):
    """Logits for the next character after every input character.

    Args:
        params: the dict of :func:`init_char_rnn`.
        inputs: (T, B) integer character ids.
        h0: (B, H) hidden state before the first step.

    Returns:
        logits: (T, B, V).
        cache: what :func:`char_rnn_loss` needs for the backward pass.
    """
    V, _ = _check_params(params)
    x = one_hot(inputs, V, dtype=params["Wx"].dtype)  # (T, B, V)
    h, rnn_cache = rnn_forward(x, h0, params["Wx"], params["Wh"], params["b"])
    logits = h @ params["Wy"] + params["by"]  # (T, B, V): the same read-out at every step
    return logits, (h, rnn_cache)


def char_rnn_loss(params, inputs: np.ndarray, targets: np.ndarray, h0: np.ndarray):
    """Loss of one chunk, its gradient for every parameter, and the last hidden state.

    Args:
        params: the dict of :func:`init_char_rnn`.
        inputs: (T, B) character ids read at each step.
        targets: (T, B) the character that follows each input (the next one in the text).
        h0: (B, H) hidden state carried in from the previous chunk (zeros at the start).

    Returns:
        loss: float, mean cross-entropy per character, in nats.
        grads: dict with the keys of ``params`` (and ``"h0"``), each of its shape.
        h_last: (B, H) the hidden state after the last step, to carry into the next chunk.
    """
    _check_params(params)
    check_shape("targets", targets, inputs.shape)
    logits, (h, rnn_cache) = char_rnn_forward(params, inputs, h0)
    T, B, V = logits.shape
    H = h.shape[-1]
    loss, ce_cache = softmax_cross_entropy_forward(logits.reshape(T * B, V), targets.reshape(-1))
    dlogits = softmax_cross_entropy_backward(1.0, ce_cache).reshape(T, B, V)
    grads = {
        # The read-out is shared by all steps and streams: its gradients sum over both.
        "Wy": h.reshape(T * B, H).T @ dlogits.reshape(T * B, V),
        "by": dlogits.sum(axis=(0, 1)),
    }
    dh = dlogits @ params["Wy"].T  # (T, B, H): what each step's read-out sends back
    _, grads["h0"], grads["Wx"], grads["Wh"], grads["b"] = rnn_backward(dh, rnn_cache)
    return loss, grads, h[-1]


def global_norm(grads) -> float:
    """The L2 norm of all the given arrays taken together, as one long vector."""
    return float(np.sqrt(sum(np.sum(g * g) for g in grads)))


def clip_by_global_norm(grads: dict, max_norm: float, names: Iterable[str] = PARAMETER_NAMES):
    """Scale the arrays ``grads[name]`` in place so that their global norm is at most
    ``max_norm`` (as ``torch.nn.utils.clip_grad_norm_`` does); return the norm before.

    Scaling all gradients by one factor keeps the direction of the update, and bounds
    its size when BPTT meets a steep cliff of the loss.
    """
    if max_norm <= 0:
        raise ValueError(f"max_norm must be positive, got {max_norm}")
    names = list(names)
    norm = global_norm(grads[name] for name in names)
    if norm > max_norm:
        for name in names:
            grads[name] *= max_norm / (norm + 1e-6)
    return norm


class Adagrad:
    """Adagrad (Duchi, Hazan and Singer 2011), the optimiser of ``min-char-rnn.py``.

    Each parameter entry gets its own step size, ``lr / (sqrt(sum of its squared past
    gradients) + eps)``: entries with large or frequent gradients slow down, rare ones
    (the input weights of rare characters) keep moving. The update is that of
    ``torch.optim.Adagrad`` with its defaults (no decay), so the two agree step for step.
    """

    def __init__(self, params: dict, lr: float = 0.1, eps: float = 1e-10):
        if lr <= 0:
            raise ValueError(f"lr must be positive, got {lr}")
        self.params, self.lr, self.eps = params, lr, eps
        self.sum_sq = {name: np.zeros_like(p) for name, p in params.items()}

    def step(self, grads: dict) -> None:
        """Update every parameter in place from ``grads`` (same keys and shapes)."""
        for name, p in self.params.items():
            g = grads[name]
            check_shape(f"grads[{name!r}]", g, p.shape)
            self.sum_sq[name] += g * g
            p -= self.lr * g / (np.sqrt(self.sum_sq[name]) + self.eps)


class TrainingLog(NamedTuple):
    """What :func:`train_char_rnn` returns."""

    losses: np.ndarray  # (steps,) training loss of every chunk, nats per character
    grad_norms: np.ndarray  # (steps,) global gradient norm of every step, before clipping
    val_steps: np.ndarray  # (K,) the steps after which the held-out loss was measured
    val_losses: np.ndarray  # (K,) held-out loss at those steps (empty without val_streams)


def train_char_rnn(
    params: dict,
    streams: np.ndarray,
    steps: int,
    seq_len: int = 25,
    lr: float = 0.1,
    max_norm: float = 5.0,
    val_streams: np.ndarray | None = None,
    val_every: int = 250,
) -> TrainingLog:
    """Train ``params`` in place with truncated BPTT over ``streams``, Adagrad and clipping.

    The ``B`` columns of ``streams`` are read top to bottom in chunks of ``seq_len``
    rows; the hidden state at the end of a chunk starts the next one, so the model can
    use context from before the chunk although gradients stop at its start. At the
    bottom, reading starts again from the top with a zero state.

    Args:
        params: the dict of :func:`init_char_rnn`, updated in place.
        streams: (N, B) integer ids, e.g. ``lstmlib.text.batchify(ids, B).numpy()``.
        steps: number of updates (chunks).
        seq_len: chunk length ``T`` (BPTT is truncated after ``T`` steps).
        lr: Adagrad's learning rate.
        max_norm: gradients are clipped to this global norm.
        val_streams: (M, B') held-out ids; if given, :func:`char_rnn_mean_loss` on them
            is measured before the first step and after every ``val_every`` steps.
        val_every: steps between two held-out measurements.

    Returns:
        TrainingLog(losses, grad_norms, val_steps, val_losses).
    """
    check_shape("streams", streams, ("N", "B"))
    if len(streams) < seq_len + 1:
        raise ShapeError(f"streams of {len(streams)} rows are too short for seq_len={seq_len}")
    _, H = _check_params(params)
    optimiser = Adagrad(params, lr)
    B = streams.shape[1]
    h = np.zeros((B, H))
    start = 0
    losses, norms = np.empty(steps), np.empty(steps)
    val_steps, val_losses = [], []

    def measure(step):
        if val_streams is not None:
            val_steps.append(step)
            val_losses.append(char_rnn_mean_loss(params, val_streams))

    measure(0)
    for step in range(steps):
        if start + seq_len + 1 > len(streams):  # past the end: read the text again
            start, h = 0, np.zeros((B, H))
        inputs = streams[start : start + seq_len]
        targets = streams[start + 1 : start + seq_len + 1]
        losses[step], grads, h = char_rnn_loss(params, inputs, targets, h)
        norms[step] = clip_by_global_norm(grads, max_norm)
        optimiser.step(grads)
        start += seq_len
        if (step + 1) % val_every == 0 or step + 1 == steps:
            measure(step + 1)
    return TrainingLog(losses, norms, np.array(val_steps, dtype=int), np.array(val_losses))


def char_rnn_mean_loss(params, streams: np.ndarray, seq_len: int = 200) -> float:
    """Mean cross-entropy per character (nats) of the model on ``streams: (N, B)``,
    forward only, each stream read from its start in chunks with the state carried."""
    check_shape("streams", streams, ("N", "B"))
    _, H = _check_params(params)
    h = np.zeros((streams.shape[1], H))
    total, count = 0.0, 0
    for start in range(0, len(streams) - 1, seq_len):
        inputs = streams[start : start + seq_len]
        targets = streams[start + 1 : start + seq_len + 1]
        inputs = inputs[: len(targets)]
        logits, (hs, _) = char_rnn_forward(params, inputs, h)
        T, B, V = logits.shape
        loss, _ = softmax_cross_entropy_forward(logits.reshape(T * B, V), targets.reshape(-1))
        total, count, h = total + loss * T * B, count + T * B, hs[-1]
    return total / count


def sample_char_rnn(
    params, prompt: np.ndarray, length: int, rng: np.random.Generator, temperature: float = 1.0
) -> np.ndarray:
    """Continue ``prompt: (P,)`` character ids by ``length`` sampled ones.

    The model reads the prompt, then each sampled character in turn; the next character
    is drawn from the softmax of the logits divided by ``temperature``
    (``lstmlib.sampling.next_token_probs``, shared with the PyTorch models).

    Returns:
        ids: (length,) the sampled continuation, without the prompt.
    """
    import torch

    from lstmlib.sampling import next_token_probs

    check_shape("prompt", prompt, ("P",))
    if len(prompt) == 0:
        raise ValueError("sample_char_rnn needs a prompt of at least one character")
    V, H = _check_params(params)
    Wx, Wh, b, Wy, by = (params[name] for name in PARAMETER_NAMES)
    eye = np.eye(V, dtype=Wx.dtype)  # eye[[c]] is the (1, V) one-hot row of character c
    h = np.zeros((1, H))
    for char in prompt[:-1]:
        h, _ = rnn_step_forward(eye[[char]], h, Wx, Wh, b)
    char, out = int(prompt[-1]), []
    for _ in range(length):
        h, _ = rnn_step_forward(eye[[char]], h, Wx, Wh, b)
        logits = torch.from_numpy(h @ Wy + by)  # (1, V)
        probs = next_token_probs(logits, temperature)[0].numpy()
        char = int(rng.choice(V, p=probs / probs.sum()))
        out.append(char)
    return np.array(out, dtype=np.int64)
