r"""The loops over time inside ``lstmlib.nn.bptt``'s Functions: the part that is sequential.

``bptt`` computes everything that can be done for all steps at once (the input's share
of the pre-activations, the factors of the backward that do not involve the carried
gradient, the weight gradients); what is left is a loop over time, forward for the
states and backward for the carried gradients. These functions are those loops. Each
writes its results into tensors the caller has allocated, in place, step by step.

Each has a twin in ``loops.cpp``: the same tensor operations on the same operands in the
same order, compiled, so that the results are equal bit for bit (``tests/test_nn_loops.py``
checks it). ``active()`` returns the compiled loops, ``torch.ops.lstmlib``, when they are
built, and this module otherwise; ``bptt`` calls whichever it returns. The compiled loops
exist only for speed: a step at batch 1 or at a small hidden size is a few tiny kernels,
and calling each one from Python takes longer than running it (see
``benchmarks/lstm_speed.py --per-step``). ``lstmlib.nn.compile_loops`` builds them.

Shapes: ``L`` steps, batch ``N``, hidden size ``H``.
"""

from __future__ import annotations

import sys

import torch


def lstm_forward(a, w_hh_t, h0, c0, h, c, tanh_c):
    """The LSTM's states, step by step.

    ``a: (L, N, 4H)``: ``x W_ih^T + b`` for every step, gate blocks in the order
    ``i, f, o, g`` (the sigmoids first); it becomes the gates after their
    nonlinearity, in place. ``w_hh_t: (H, 4H)``, blocks in the same order.
    ``h0, c0: (N, H)``. Writes ``h, c, tanh_c: (L, N, H)``: the hidden state, the
    cell state and its tanh after every step."""
    L, N, _ = a.shape
    gates = a.view(L, N, 4, -1)
    # Every step's views, made before the loop (indexing inside it costs time).
    steps = zip(
        a.unbind(0),
        gates[:, :, :3].unbind(0),  # i, f, o
        *(gates[:, :, k].unbind(0) for k in range(4)),  # i, f, o, g
        c.unbind(0),
        tanh_c.unbind(0),
        h.unbind(0),
        strict=True,
    )
    h_prev, c_prev = h0, c0
    for a_t, ifo_t, i_t, f_t, o_t, g_t, c_t, tanh_c_t, h_t in steps:
        a_t.addmm_(h_prev, w_hh_t)  # a = x W_ih^T + b + h_{t-1} W_hh^T
        ifo_t.sigmoid_()
        g_t.tanh_()
        torch.mul(f_t, c_prev, out=c_t)  # c = f * c_prev + i * g
        c_t.addcmul_(i_t, g_t)
        torch.tanh(c_t, out=tanh_c_t)
        torch.mul(o_t, tanh_c_t, out=h_t)  # h = o * tanh(c)
        h_prev, c_prev = h_t, c_t


def lstm_backward(k_dc, k_cell, k_out, f, w_hh, dh_all, dc_all, da):
    """The gradients carried back through the LSTM's steps (``lstm_step_backward``).

    The factors of the step's backward that do not involve the carried gradients:
    ``k_dc = o (1 - tanh^2 c): (L, N, H)``, ``k_cell: (L, N, 3, H)`` (for ``da_i, da_f,
    da_g``), ``k_out = tanh(c) o (1 - o): (L, N, H)``, and the forget gate ``f``.
    ``w_hh: (4H, H)``, blocks ``i, f, g, o``. ``dh_all: (L, N, H)`` and ``dc_all`` (or
    None) are the loss's own gradients on every ``h_t`` and ``c_t``. Writes
    ``da: (L, N, 4, H)``, the gradient on every step's pre-activations, blocks
    ``i, f, g, o``; returns ``dh0, dc0: (N, H)``."""
    L, N, _, H = da.shape
    # What step t needs, as lists of views: the loss's own gradients on h_{t-1} and
    # c_{t-1} come with step t.
    dh_own = [None, *dh_all.unbind(0)[:-1]]
    dc_own = [None, *dc_all.unbind(0)[:-1]] if dc_all is not None else [None] * L
    steps = zip(
        k_dc.unbind(0),
        k_cell.unbind(0),
        k_out.unbind(0),
        f.unbind(0),
        da[:, :, :3].unbind(0),
        da[:, :, 3].unbind(0),
        da.view(L, N, 4 * H).unbind(0),
        dh_own,
        dc_own,
        strict=True,
    )
    dh = dh_all[-1]
    dc = torch.zeros_like(dh) if dc_all is None else dc_all[-1]
    for k_dc_t, k_cell_t, k_out_t, f_t, da_ifg_t, da_o_t, da_t, dh_prev, dc_prev in reversed(
        list(steps)
    ):
        dc_total = torch.addcmul(dc, dh, k_dc_t)
        torch.mul(k_cell_t, dc_total.unsqueeze(1), out=da_ifg_t)
        torch.mul(k_out_t, dh, out=da_o_t)
        # What step t hands back to step t - 1, plus the loss's own gradients there.
        dh = torch.mm(da_t, w_hh) if dh_prev is None else torch.addmm(dh_prev, da_t, w_hh)
        dc = dc_total * f_t if dc_prev is None else torch.addcmul(dc_prev, dc_total, f_t)
    return dh, dc


def gru_forward(ax, ah, w_hh_t, b_hh, h0, h):
    """The GRU's states, step by step.

    ``ax: (L, N, 3H)``: ``x W_ih^T + b_ih`` for every step, blocks ``r, z, n``; it
    becomes the gates, in place. Writes ``ah: (L, N, 3H)``, ``h_{t-1} W_hh^T + b_hh``
    (the backward needs its ``n`` block), and ``h: (L, N, H)``.
    ``w_hh_t: (H, 3H)``, ``b_hh: (3H,)`` or None, ``h0: (N, H)``."""
    L, N, _ = ax.shape
    H = h0.shape[-1]
    gates = ax.view(L, N, 3, H)
    steps = zip(
        ah.unbind(0),
        ax[:, :, : 2 * H].unbind(0),  # r and z: their two shares added
        ah[:, :, : 2 * H].unbind(0),
        gates[:, :, 2].unbind(0),  # n
        ah[:, :, 2 * H :].unbind(0),
        gates[:, :, 1].unbind(0),  # z, once it is the gate
        gates[:, :, 0].unbind(0),  # r, once it is the gate
        h.unbind(0),
        strict=True,
    )
    h_prev = h0
    for ah_t, rz_t, ah_rz_t, n_t, ah_n_t, z_t, r_t, h_t in steps:
        if b_hh is None:
            torch.mm(h_prev, w_hh_t, out=ah_t)
        else:
            torch.addmm(b_hh, h_prev, w_hh_t, out=ah_t)
        rz_t.add_(ah_rz_t).sigmoid_()  # r, z = sigmoid(ax + ah)
        n_t.addcmul_(r_t, ah_n_t).tanh_()  # n = tanh(ax_n + r * ah_n)
        torch.lerp(n_t, h_prev, z_t, out=h_t)  # h = (1 - z) * n + z * h_prev
        h_prev = h_t


def gru_backward(k_ah, z, w_hh, dh_all, dah, dh):
    """The gradient carried back through the GRU's steps (``gru_step_backward``).

    ``k_ah: (L, N, 3, H)``: the factors that turn the full gradient on ``h_t`` into the
    gradients on the state's share of the pre-activations; ``z: (L, N, H)``;
    ``w_hh: (3H, H)``; ``dh_all: (L, N, H)``, the loss's own gradients on every ``h_t``.
    Writes ``dah: (L, N, 3, H)`` and ``dh: (L, N, H)``, the full gradient on every
    ``h_t``; returns ``dh0: (N, H)``."""
    L, N, _, H = dah.shape
    dh[-1] = dh_all[-1]
    # The loss's own gradient on h_{t-1} and dh_{t-1}'s place come with step t.
    steps = zip(
        k_ah.unbind(0),
        z.unbind(0),
        dah.unbind(0),
        dah.view(L, N, 3 * H).unbind(0),
        dh.unbind(0),
        [None, *dh_all.unbind(0)[:-1]],
        [None, *dh.unbind(0)[:-1]],
        strict=True,
    )
    for k_ah_t, z_t, dah_t, dah_rows_t, dh_t, dh_own, dh_prev in reversed(list(steps)):
        torch.mul(k_ah_t, dh_t.unsqueeze(1), out=dah_t)
        # dh_prev = dh * z (+ the loss's own gradient on h_{t-1}) + dah W_hh
        direct = dh_t * z_t if dh_own is None else torch.addcmul(dh_own, dh_t, z_t)
        if dh_prev is None:
            dh0 = torch.addmm(direct, dah_rows_t, w_hh)
        else:
            torch.addmm(direct, dah_rows_t, w_hh, out=dh_prev)
    return dh0


def rnn_forward(h, w_hh_t, h0, relu):
    """The plain RNN's states: ``h: (L, N, H)`` holds ``x W_ih^T + b`` for every step
    and becomes ``act(x W_ih^T + b + h_{t-1} W_hh^T)`` in place (``act`` is ReLU if
    ``relu``, else tanh). ``w_hh_t: (H, H)``, ``h0: (N, H)``."""
    activate = torch.Tensor.relu_ if relu else torch.Tensor.tanh_
    h_prev = h0
    for h_t in h.unbind(0):
        activate(h_t.addmm_(h_prev, w_hh_t))
        h_prev = h_t


def rnn_backward(k, w_hh, dh_all, da):
    """The gradient carried back through the plain RNN's steps: ``k: (L, N, H)``, the
    nonlinearity's derivative at every step; ``w_hh: (H, H)``; ``dh_all: (L, N, H)``,
    the loss's own gradients. Writes ``da: (L, N, H)``, the gradient on every step's
    pre-activation; returns ``dh0: (N, H)``."""
    steps = zip(k.unbind(0), da.unbind(0), [None, *dh_all.unbind(0)[:-1]], strict=True)
    dh = dh_all[-1]
    for k_t, da_t, dh_own in reversed(list(steps)):
        torch.mul(dh, k_t, out=da_t)
        # What step t hands back to step t - 1, plus the loss's own gradient there.
        dh = torch.mm(da_t, w_hh) if dh_own is None else torch.addmm(dh_own, da_t, w_hh)
    return dh


def active():
    """The loops ``bptt`` runs: the compiled ones (``torch.ops.lstmlib``) if
    ``lstmlib.nn.compile_loops`` could build or find them, else this module."""
    from lstmlib.nn import compile_loops

    return compile_loops.load() or sys.modules[__name__]
