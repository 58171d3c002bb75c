r"""Backpropagation through time by hand: the backward pass ``lstmlib.nn``'s layers run.

The book derives the LSTM's backward step by step (the chapter on gradients through
the LSTM, and ``lstmlib.scratch.lstm.lstm_step_backward``); the GRU's and the plain
RNN's are in ``lstmlib.scratch.gru`` and ``lstmlib.scratch.rnn``. Here the same
derivation runs on PyTorch tensors, as one ``torch.autograd.Function`` per layer and
direction (``LSTMScan``, ``GRUScan``, ``RNNScan``):

- ``forward`` runs the recurrence over the whole sequence and keeps the explicit cache
  of ``lstmlib.scratch`` (the gates after their nonlinearity, the cell states, the
  hidden states), as whole-sequence tensors ``(L, N, H)`` instead of one cache per step;
- ``backward`` runs the loop over time backwards for the gradients that must be
  carried from step to step (``dh``, and the LSTM's ``dc``) and computes the gradient
  on every step's pre-activations ``da: (L, N, G * H)``; the weight gradients do not
  depend on each other across steps, so they come after the loop as whole-sequence
  matrix products, ``dW_ih = da^T X`` and ``dW_hh = da^T H_prev`` over all ``L * N``
  rows at once, the way cuDNN and oneDNN compute them.

The loops over time, the only sequential part, are in ``lstmlib.nn.loops``: Python
loops to read, and their compiled twins in ``loops.cpp`` (the same operations, built
once per machine by ``lstmlib.nn.compile_loops``), which these functions run when they
are built, because at batch 1 or small hidden sizes calling each step's tiny kernels
from Python takes longer than running them.

Weights are in ``torch.nn``'s layout, ``W_ih: (G * H, I)``, ``W_hh: (G * H, H)``,
multiplying as ``x @ W.T`` (the scratch code's ``Wx`` is ``W_ih.T``). The loops
multiply by a contiguous ``W_hh.T``: a small matrix product whose right operand is a
transposed view took 10-45 % longer on the measured CPU (``(N, H) @ (H, 4H)`` at N = 1
to 64, H = 64 to 512), and the loop does one per step. The LSTM reorders ``W_hh``'s
blocks anyway, and reordering its transpose makes the contiguous copy in the same step.
The GRU and the RNN copy it only over sequences of ``STEPS_TO_COPY`` steps or more
(``_step_weight``): the copy costs about what 20 to 25 steps save at batch 1 (H = 128
to 256), so short calls, such as the one-step calls of text generation, keep the view.

Why it is faster than autograd through the step (``lstmlib.nn.LSTM(...).bptt = False``,
the reference these functions are tested against): autograd keeps a graph node per
operation per step and, at small batches, spends most of its backward on one small
``dW_hh`` product per step and its accumulation. Here the backward's loop does only
what is sequential, and every factor that does not depend on the carried gradient
(``i (1 - i)``, ``o (1 - tanh^2 c)``, ...) is computed once for all steps before it.

Variable lengths, the backward direction, dropout and the stacking of layers stay in
``lstmlib.nn._recurrent``, outside these functions (they are all differentiable
tensor operations around them). Double backward is not supported: a backward with
``create_graph=True`` raises an error naming the way out (``bptt = False``).
"""

from __future__ import annotations

import functools

import torch

from lstmlib.nn import loops


def once_differentiable(backward):
    """Run ``backward`` without recording a graph, and refuse ``create_graph=True``.

    ``torch.autograd.function.once_differentiable`` raises only when a gradient flowing
    in requires grad; when none does, the gradients it returns are silently constant,
    and a gradient of a gradient (a gradient penalty, say) would miss this layer's share
    without a word. Here any attempt to build the graph of the backward is an error."""

    @functools.wraps(backward)
    def wrapper(ctx, *grads):
        if torch.is_grad_enabled():  # autograd enables it in backward iff create_graph
            raise RuntimeError(
                "lstmlib.nn's hand-written BPTT has no double backward (create_graph=True); "
                "for gradients of gradients set the layer's bptt = False (autograd through "
                "the step)"
            )
        return backward(ctx, *grads)

    return wrapper


def _project(x, w_ih, bias):
    """The input's share of the pre-activations for all steps at once:
    ``x: (L, N, I)`` to a new ``(L, N, G * H)`` tensor ``x W_ih^T + bias``."""
    L, N, I = x.shape
    rows = x.reshape(L * N, I)
    a = torch.mm(rows, w_ih.t()) if bias is None else torch.addmm(bias, rows, w_ih.t())
    return a.view(L, N, -1)


def _previous(first, all_steps):
    """The state each step starts from: ``first: (N, H)`` then ``all_steps[:-1]``,
    as one ``(L * N, H)`` matrix (the ``H_prev`` of ``dW_hh = da^T H_prev``)."""
    return torch.cat((first.unsqueeze(0), all_steps[:-1])).flatten(0, 1)


def _weight_gradients(ctx, da_x, da_h, x, h_prev, w_ih):
    """``dx, dW_ih, dW_hh`` from every step's gradients on the input's and the state's
    shares of the pre-activations, ``da_x, da_h: (L * N, G * H)`` (the same tensor for
    the LSTM and the RNN), in three whole-sequence products (``dx`` only if needed)."""
    L, N, I = x.shape
    dx = torch.mm(da_x, w_ih).view(L, N, I) if ctx.needs_input_grad[0] else None
    dw_ih = torch.mm(da_x.t(), x.reshape(L * N, I))
    dw_hh = torch.mm(da_h.t(), h_prev)
    return dx, dw_ih, dw_hh


STEPS_TO_COPY = 32


def _step_weight(w_hh, steps):
    """``W_hh^T: (H, G * H)`` for the loop's ``h_{t-1} @ W_hh^T``, a contiguous copy if
    the sequence has enough ``steps`` to repay it (see the module's docstring)."""
    w = w_hh.t()
    return w.contiguous() if steps >= STEPS_TO_COPY else w


def _sigmoids_first(w, dim=0):
    """The LSTM's gate blocks ``i, f, g, o`` along ``w``'s axis ``dim``, reordered as
    ``i, f, o, g``: the three sigmoid gates side by side, so one call computes them all.
    (Block copies: gathering the rows by index took about twice as long.)"""
    i, f, g, o = w.chunk(4, dim)
    return torch.cat((i, f, o, g), dim)


class LSTMScan(torch.autograd.Function):
    """One LSTM layer in one direction over a sequence, with the backward of
    ``lstmlib.scratch.lstm.lstm_backward``.

    ``LSTMScan.apply(x, h0, c0, w_ih, w_hh, b_ih, b_hh)`` with ``x: (L, N, I)``,
    ``h0, c0: (N, H)``, ``w_ih: (4H, I)``, ``w_hh: (4H, H)``, ``b_ih, b_hh: (4H,)``
    or both None; gate blocks ``i, f, g, o``. Returns ``h: (L, N, H)`` and
    ``c: (L, N, H)``, the hidden and cell states after every step, and
    ``gates: (L, N, 4, H)``, the gates at every step in the order ``i, f, o, g``
    (the sigmoids first; not differentiable; for ``record_gates``).
    """

    @staticmethod
    def forward(ctx, x, h0, c0, w_ih, w_hh, b_ih, b_hh):
        L, N, _ = x.shape
        H = h0.shape[-1]
        # The forward works on the blocks reordered i, f, o, g (one sigmoid call per
        # step instead of two); the backward uses the weights as they are.
        # Both biases act in the same place: add them once, for all steps.
        bias = None if b_ih is None else _sigmoids_first(b_ih + b_hh)
        a = _project(x, _sigmoids_first(w_ih), bias)  # (L, N, 4H); becomes the gates
        gates = a.view(L, N, 4, H)
        h, c, tanh_c = (x.new_empty(L, N, H) for _ in range(3))
        # The reorder copies W_hh anyway: copying its transpose gives the loop a
        # contiguous W_hh^T at no extra cost, however short the sequence.
        w_hh_t = _sigmoids_first(w_hh.t(), dim=1)
        loops.active().lstm_forward(a, w_hh_t, h0, c0, h, c, tanh_c)
        ctx.save_for_backward(x, h0, c0, w_ih, w_hh, gates, c, tanh_c, h)
        ctx.has_bias = b_ih is not None
        ctx.mark_non_differentiable(gates)
        ctx.set_materialize_grads(False)
        return h, c, gates

    @staticmethod
    @once_differentiable
    def backward(ctx, dh_all, dc_all, _):
        x, h0, c0, w_ih, w_hh, gates, c, tanh_c, h = ctx.saved_tensors
        L, N, H = h.shape
        if dh_all is None:  # only c was used
            dh_all = torch.zeros_like(h)
        i, f, o, g = gates.unbind(2)
        c_prev = torch.cat((c0.unsqueeze(0), c[:-1]))
        # lstm_step_backward, with every factor that does not involve the carried
        # gradients computed once for all steps. With dc_total the full gradient on c_t:
        #   dc_total = dc + dh * o * (1 - tanh^2 c)
        #   da_i = dc_total * g * i (1 - i),  da_f = dc_total * c_prev * f (1 - f),
        #   da_g = dc_total * i * (1 - g^2),  da_o = dh * tanh(c) * o (1 - o),
        #   dc_prev = dc_total * f,           dh_prev = da W_hh (+ the loss's own dh).
        k_dc = o * (1 - tanh_c * tanh_c)
        k_cell = torch.stack((g * i * (1 - i), c_prev * f * (1 - f), i * (1 - g * g)), dim=2)
        k_out = tanh_c * o * (1 - o)
        da = x.new_empty(L, N, 4, H)  # blocks i, f, g, o, as in the weights
        dh0, dc0 = loops.active().lstm_backward(k_dc, k_cell, k_out, f, w_hh, dh_all, dc_all, da)
        da = da.view(L * N, 4 * H)
        dx, dw_ih, dw_hh = _weight_gradients(ctx, da, da, x, _previous(h0, h), w_ih)
        db = da.sum(0) if ctx.has_bias else None
        return dx, dh0, dc0, dw_ih, dw_hh, db, db


class GRUScan(torch.autograd.Function):
    """One GRU layer in one direction over a sequence, with the backward of
    ``lstmlib.scratch.gru.gru_backward``.

    ``GRUScan.apply(x, h0, w_ih, w_hh, b_ih, b_hh)`` with ``x: (L, N, I)``,
    ``h0: (N, H)``, ``w_ih: (3H, I)``, ``w_hh: (3H, H)``, ``b_ih, b_hh: (3H,)`` or
    both None; gate blocks ``r, z, n``. Returns ``h: (L, N, H)``, the hidden state
    after every step, and ``gates: (L, N, 3, H)``, ``r, z, n`` at every step (not
    differentiable).
    """

    @staticmethod
    def forward(ctx, x, h0, w_ih, w_hh, b_ih, b_hh):
        L, N, _ = x.shape
        H = h0.shape[-1]
        ax = _project(x, w_ih, b_ih)  # becomes the gates in place, step by step
        gates = ax.view(L, N, 3, H)
        ah = x.new_empty(L, N, 3 * H)  # h_{t-1} W_hh^T + b_hh, kept for ah_n
        h = x.new_empty(L, N, H)
        loops.active().gru_forward(ax, ah, _step_weight(w_hh, L), b_hh, h0, h)
        ah_n = ah[:, :, 2 * H :]
        ctx.save_for_backward(x, h0, w_ih, w_hh, gates, ah_n, h)
        ctx.has_bias = b_ih is not None
        ctx.mark_non_differentiable(gates)
        ctx.set_materialize_grads(False)
        return h, gates

    @staticmethod
    @once_differentiable
    def backward(ctx, dh_all, _):
        x, h0, w_ih, w_hh, gates, ah_n, h = ctx.saved_tensors
        L, N, H = h.shape
        if dh_all is None:  # only the gates were used: nothing to differentiate
            dh_all = torch.zeros_like(h)
        r, z, n = gates.unbind(2)
        h_prev = torch.cat((h0.unsqueeze(0), h[:-1]))
        # gru_step_backward, every pre-activation gradient being dh times a factor
        # that does not involve dh (computed once for all steps):
        #   da_n = dh * (1 - z) (1 - n^2),       dah_n = da_n * r,
        #   da_r = da_n * ah_n * r (1 - r),      da_z = dh * (h_prev - n) * z (1 - z),
        #   dh_prev = dh * z + dah W_hh,  dah = [da_r, da_z, dah_n] (the state's share).
        k_n = (1 - z) * (1 - n * n)
        k_r = k_n * ah_n * r * (1 - r)
        k_z = (h_prev - n) * z * (1 - z)
        k_ah = torch.stack((k_r, k_z, k_n * r), dim=2)  # (L, N, 3, H)
        dah = x.new_empty(L, N, 3, H)
        dh = h.new_empty(L, N, H)  # the full gradient on every h_t, for da_n after the loop
        dh0 = loops.active().gru_backward(k_ah, z, w_hh, dh_all, dah, dh)
        # The input's share gets the same r and z gradients; its n block is da_n itself.
        dax = dah.clone()
        torch.mul(dh, k_n, out=dax[:, :, 2])
        dax, dah = dax.view(L * N, 3 * H), dah.view(L * N, 3 * H)
        dx, dw_ih, dw_hh = _weight_gradients(ctx, dax, dah, x, h_prev.flatten(0, 1), w_ih)
        db_ih, db_hh = (dax.sum(0), dah.sum(0)) if ctx.has_bias else (None, None)
        return dx, dh0, dw_ih, dw_hh, db_ih, db_hh


class RNNScan(torch.autograd.Function):
    """One plain RNN layer in one direction over a sequence, with the backward of
    ``lstmlib.scratch.rnn.rnn_backward``.

    ``RNNScan.apply(x, h0, w_ih, w_hh, b_ih, b_hh, nonlinearity)`` with
    ``x: (L, N, I)``, ``h0: (N, H)``, ``w_ih: (H, I)``, ``w_hh: (H, H)``,
    ``b_ih, b_hh: (H,)`` or both None, ``nonlinearity`` ``"tanh"`` or ``"relu"``.
    Returns ``h: (L, N, H)``, the hidden state after every step.
    """

    @staticmethod
    def forward(ctx, x, h0, w_ih, w_hh, b_ih, b_hh, nonlinearity):
        h = _project(x, w_ih, None if b_ih is None else b_ih + b_hh)  # h in place, step by step
        loops.active().rnn_forward(h, _step_weight(w_hh, len(h)), h0, nonlinearity == "relu")
        ctx.save_for_backward(x, h0, w_ih, w_hh, h)
        ctx.has_bias, ctx.nonlinearity = b_ih is not None, nonlinearity
        return h

    @staticmethod
    @once_differentiable
    def backward(ctx, dh_all):
        x, h0, w_ih, w_hh, h = ctx.saved_tensors
        L, N, H = h.shape
        # The nonlinearity's derivative from its output: tanh' = 1 - h^2, relu' = [h > 0].
        k = 1 - h * h if ctx.nonlinearity == "tanh" else (h > 0).to(h.dtype)
        da = h.new_empty(L, N, H)
        dh0 = loops.active().rnn_backward(k, w_hh, dh_all, da)
        da = da.view(L * N, H)
        dx, dw_ih, dw_hh = _weight_gradients(ctx, da, da, x, _previous(h0, h), w_ih)
        db = da.sum(0) if ctx.has_bias else None
        return dx, dh0, dw_ih, dw_hh, db, db, None


__all__ = ["GRUScan", "LSTMScan", "RNNScan"]
