r"""The GRU as PyTorch modules, written from the equations.

One step computes, with PyTorch's gate order ``r, z, n``,

.. math::

    a^x &= x_t W_{ih}^T + b_{ih}, \qquad a^h = h_{t-1} W_{hh}^T + b_{hh}
        \quad\text{(each split into blocks } \cdot_r, \cdot_z, \cdot_n \text{ of width } H) \\
    r &= \sigma(a^x_r + a^h_r), \qquad z = \sigma(a^x_z + a^h_z) \\
    n &= \tanh(a^x_n + r \odot a^h_n) \\
    h_t &= (1 - z) \odot n + z \odot h_{t-1}

with ``W_ih: (3H, I)`` and ``W_hh: (3H, H)`` stacked along the first axis, as in
``torch.nn.GRU``, so ``state_dict``s load both ways. The reset gate multiplies
``a^h_n`` *with* its bias ``b_hn``, which is why, unlike the LSTM's, the two biases
cannot be merged into one. The NumPy reference ``lstmlib.scratch.gru`` computes
the same step with ``Wx = W_ih.T``, ``Wh = W_hh.T``, ``bx = b_ih``, ``bh = b_hh``.

Speed: as for the LSTM, the layer computes the input's share ``a^x`` for all steps
in one matrix product; the loop over time keeps ``h_{t-1} W_{hh}^T`` and the
elementwise arithmetic. The backward is the hand-written backpropagation through
time of ``lstmlib.nn.bptt.GRUScan`` (``gru.bptt = False``: autograd through the
step, the reference it is tested against). Everything else (checks, variable lengths,
``bidirectional``, dropout, ``record_gates``) is shared with the LSTM, in
``lstmlib.nn._recurrent``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from lstmlib.nn._recurrent import RecurrentCell, RecurrentLayer, set_second_gate_bias
from lstmlib.nn.bptt import GRUScan

GRU_GATES = ("r", "z", "n")


def _gru_update(ax, ah, h):
    """The elementwise part of a step: the input's and the state's shares of the
    pre-activations ``ax, ah: (N, 3H)`` (biases included) and ``h: (N, H)`` to
    ``(h, (r, z, n))``, each ``(N, H)``."""
    ax_r, ax_z, ax_n = ax.chunk(3, dim=-1)
    ah_r, ah_z, ah_n = ah.chunk(3, dim=-1)
    r = torch.sigmoid(ax_r + ah_r)
    z = torch.sigmoid(ax_z + ah_z)
    n = torch.tanh(ax_n + r * ah_n)
    # (1 - z) * n + z * h in one operation: lerp(n, h, z) = n + z * (h - n).
    h = torch.lerp(n, h, z)
    return h, (r, z, n)


def gru_step(x, h, w_ih, w_hh, b_ih=None, b_hh=None):
    """One GRU step (gate order ``r, z, n`` like PyTorch).

    Args:
        x: (N, I) inputs at this step.
        h: (N, H) hidden state from the previous step.
        w_ih: (3H, I), w_hh: (3H, H) weights; b_ih, b_hh: (3H,) biases or None.

    Returns:
        ``(h, gates)``: the new ``h: (N, H)`` and ``gates = (r, z, n)``, each ``(N, H)``.
    """
    return _gru_update(F.linear(x, w_ih, b_ih), F.linear(h, w_hh, b_hh), h)


class GRUCell(RecurrentCell):
    """One GRU step as a module, with ``torch.nn.GRUCell``'s API and parameters.

    Parameters: ``weight_ih: (3H, I)``, ``weight_hh: (3H, H)``, ``bias_ih: (3H,)``,
    ``bias_hh: (3H,)`` (no biases if ``bias=False``), gate blocks in the order
    ``r, z, n``, all uniform in ``±1/sqrt(H)``.
    """

    GATES, STATES = GRU_GATES, ("h",)

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, device, dtype)
        self.reset_parameters()

    def _cell_step(self, input, state):
        params = (self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        h, gates = gru_step(input, *state, *params)
        return (h,), gates


class GRU(RecurrentLayer):
    """A stack of ``num_layers`` GRUs, with ``torch.nn.GRU``'s API and parameters.

    Layer ``k`` has ``weight_ih_l{k}: (3H, I)`` (``(3H, D * H)`` for ``k > 0``, whose
    input is the output of layer ``k - 1``), ``weight_hh_l{k}: (3H, H)`` and, if
    ``bias``, ``bias_ih_l{k}: (3H,)`` and ``bias_hh_l{k}: (3H,)``; gate blocks in the
    order ``r, z, n``. With ``bidirectional=True`` (``D = 2``) each layer also has
    the same four with the suffix ``_reverse`` for the backward direction.
    Registered in ``torch.nn.GRU``'s order and drawn uniform in ``±1/sqrt(H)``, so
    the same seed gives torch's initial weights.

    ``dropout`` zeroes the outputs of every layer but the last, in training mode
    only, like torch. Beyond torch: ``forward`` takes ``lengths=`` for padded
    variable-length batches, and ``record_gates`` records ``r, z, n, h``.

    Args beyond ``torch.nn.GRU``'s:
        update_bias: if not None, after the usual init set the update-gate slice
            ``[H:2H]`` of every ``bias_ih_l{k}`` to ``update_bias`` and of
            ``bias_hh_l{k}`` to 0. ``z = sigmoid(a^x_z + a^h_z)`` sees only their sum,
            so the update gate's effective bias is exactly ``update_bias``: the GRU's
            counterpart of the LSTM's ``forget_bias`` (a positive value starts the
            units keeping their state). ``reset_parameters`` does the same again.
    """

    GATES, STATES = GRU_GATES, ("h",)

    def __init__(
        self,
        input_size,
        hidden_size,
        num_layers=1,
        bias=True,
        batch_first=False,
        dropout=0.0,
        bidirectional=False,
        device=None,
        dtype=None,
        *,
        update_bias=None,
    ):
        if update_bias is not None and not bias:
            raise ValueError("update_bias needs bias=True (there is no bias to set)")
        super().__init__(
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            device,
            dtype,
        )
        self.update_bias = update_bias
        self.reset_parameters()

    def reset_parameters(self):
        """torch.nn's init (uniform in ``±1/sqrt(H)``), then the update-gate bias."""
        super().reset_parameters()
        if self.update_bias is not None:
            set_second_gate_bias(self, self.update_bias)

    def extra_repr(self):
        s = super().extra_repr()
        if self.update_bias is not None:
            s += f", update_bias={self.update_bias}"
        return s

    @staticmethod
    def _project(x, w_ih, b_ih, b_hh):
        return F.linear(x, w_ih, b_ih)  # b_hh stays apart: r multiplies its n block

    @staticmethod
    def _step(ax, state, w_hh_t, b_hh):
        (h,) = state
        ah = h @ w_hh_t if b_hh is None else torch.addmm(b_hh, h, w_hh_t)
        h, gates = _gru_update(ax, ah, h)
        return (h,), gates

    @staticmethod
    def _bptt(x, state, params):
        h, gates = GRUScan.apply(x, *state, *params)
        return h, (), gates.unbind(2)
