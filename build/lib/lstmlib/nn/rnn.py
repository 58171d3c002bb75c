r"""A plain (Elman) RNN as PyTorch modules, written from the equations.

One step computes, in PyTorch's convention,

.. math:: h_t = \tanh(x_t W_{ih}^T + b_{ih} + h_{t-1} W_{hh}^T + b_{hh})

with ``W_ih: (H, I)`` and ``W_hh: (H, H)`` stored as ``(out_features, in_features)``
like every ``torch.nn`` weight. The NumPy reference ``lstmlib.scratch.rnn`` writes
the same step as ``tanh(x @ Wx + h @ Wh + b)`` with ``Wx: (I, H)``, so the two meet
at ``Wx = W_ih.T``, ``Wh = W_hh.T`` and ``b = b_ih + b_hh`` (PyTorch keeps two bias
vectors only for compatibility with cuDNN; their sum is all that matters).

The layer's backward is the hand-written backpropagation through time of
``lstmlib.nn.bptt.RNNScan`` (``rnn.bptt = False``: autograd through the step, the
reference it is tested against; the cell uses autograd). The parameter names and
layouts are those of ``torch.nn.RNN`` and ``torch.nn.RNNCell``, so ``state_dict``s
load both ways.

Speed: as for the LSTM and the GRU, the layer computes the input's share
``x_t W_ih^T + b_ih + b_hh`` for all steps in one matrix product; the loop over time
keeps ``h_{t-1} W_hh^T`` and the nonlinearity. Everything else (checks, variable
lengths, ``bidirectional``, dropout, ``record_gates``, which records ``"h"``) is
shared with the LSTM and the GRU, in ``lstmlib.nn._recurrent``. Not supported:
``proj_size`` (torch has it for the LSTM only).

``identity_init_`` gives an ``RNN`` or ``RNNCell`` the initialisation of Le, Jaitly &
Hinton (2015): recurrent weights the identity and zero biases, which with
``nonlinearity="relu"`` makes their IRNN.
"""

from __future__ import annotations

import numbers

import torch
import torch.nn.functional as F

from lstmlib.nn._recurrent import RecurrentCell, RecurrentLayer
from lstmlib.nn.bptt import RNNScan

_NONLINEARITIES = {"tanh": torch.tanh, "relu": torch.relu}


def rnn_step(x, h, w_ih, w_hh, b_ih=None, b_hh=None, nonlinearity="tanh"):
    """One RNN step: ``act(x @ w_ih.T + b_ih + h @ w_hh.T + b_hh)``.

    Args:
        x: (N, I) inputs at this step.
        h: (N, H) hidden state from the previous step.
        w_ih: (H, I), w_hh: (H, H) weights; b_ih, b_hh: (H,) biases or None.
        nonlinearity: "tanh" or "relu".

    Returns:
        (N, H) the new hidden state.
    """
    return _NONLINEARITIES[nonlinearity](F.linear(x, w_ih, b_ih) + F.linear(h, w_hh, b_hh))


def _check_nonlinearity(nonlinearity):
    if nonlinearity not in _NONLINEARITIES:
        raise ValueError(
            f"nonlinearity must be one of {sorted(_NONLINEARITIES)}, got {nonlinearity!r}"
        )


class RNNCell(RecurrentCell):
    """One RNN step as a module, with ``torch.nn.RNNCell``'s API and parameters.

    Parameters: ``weight_ih: (H, I)``, ``weight_hh: (H, H)``, ``bias_ih: (H,)``,
    ``bias_hh: (H,)`` (no biases if ``bias=False``), all uniform in ``±1/sqrt(H)``.
    ``record_gates`` records ``"h"`` (a plain RNN has no gates).
    """

    GATES, BLOCKS, STATES = (), 1, ("h",)

    def __init__(
        self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None, dtype=None
    ):
        _check_nonlinearity(nonlinearity)
        super().__init__(input_size, hidden_size, bias, device, dtype)
        self.nonlinearity = nonlinearity
        self.reset_parameters()

    def _cell_step(self, input, state):
        params = (self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        h = rnn_step(input, *state, *params, nonlinearity=self.nonlinearity)
        return (h,), ()

    def extra_repr(self):
        s = super().extra_repr()
        if self.nonlinearity != "tanh":
            s += f", nonlinearity={self.nonlinearity!r}"
        return s


class RNN(RecurrentLayer):
    """A stack of ``num_layers`` RNNs, with ``torch.nn.RNN``'s API and parameters.

    Layer ``k`` has ``weight_ih_l{k}: (H, I)`` (``(H, D * H)`` for ``k > 0``, whose
    input is the output of layer ``k - 1``), ``weight_hh_l{k}: (H, H)`` and, if
    ``bias``, ``bias_ih_l{k}: (H,)`` and ``bias_hh_l{k}: (H,)``. With
    ``bidirectional=True`` (``D = 2``) each layer also has the same four with the
    suffix ``_reverse`` for the backward direction. Registered in ``torch.nn.RNN``'s
    order and drawn uniform in ``±1/sqrt(H)``, so the same seed gives torch's initial
    weights. The constructor's arguments come in ``torch.nn.RNN``'s order
    (``nonlinearity`` fourth).

    ``dropout`` zeroes the outputs of every layer but the last, in training mode
    only, like torch. Beyond torch: ``forward`` takes ``lengths=`` for padded
    variable-length batches, and ``record_gates`` records ``"h"``.
    """

    GATES, BLOCKS, STATES = (), 1, ("h",)

    def __init__(
        self,
        input_size,
        hidden_size,
        num_layers=1,
        nonlinearity="tanh",
        bias=True,
        batch_first=False,
        dropout=0.0,
        bidirectional=False,
        device=None,
        dtype=None,
    ):
        _check_nonlinearity(nonlinearity)
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
        self.nonlinearity = nonlinearity
        self.reset_parameters()

    @staticmethod
    def _project(x, w_ih, b_ih, b_hh):
        # Both biases go in here, once for all steps: the step only adds h W_hh^T.
        return F.linear(x, w_ih, None if b_ih is None else b_ih + b_hh)

    def _step(self, xw, state, w_hh_t, b_hh):
        (h,) = state
        h = _NONLINEARITIES[self.nonlinearity](torch.addmm(xw, h, w_hh_t))
        return (h,), ()

    def _bptt(self, x, state, params):
        return RNNScan.apply(x, *state, *params, self.nonlinearity), (), ()

    def extra_repr(self):
        s = super().extra_repr()
        if self.nonlinearity != "tanh":
            s += f", nonlinearity={self.nonlinearity!r}"
        return s


def identity_init_(rnn, input_std=1e-3):
    """Initialise ``rnn`` in place as Le, Jaitly & Hinton's (2015) IRNN; return it.

    Every recurrent matrix ``W_hh: (H, H)`` (all layers and directions) becomes the
    identity, every bias zero, and every input matrix ``W_ih`` is drawn from a normal
    distribution with mean 0 and standard deviation ``input_std``. With
    ``nonlinearity="relu"`` a state ``h >= 0`` is then copied unchanged from step to
    step while the inputs are small, and so is the gradient that flows back along it:
    the network starts out remembering, where a tanh RNN starts out forgetting. Used on
    a tanh RNN, the identity is only the start of ``tanh``'s contraction.

    Args:
        rnn: an ``RNN`` or ``RNNCell`` of ``lstmlib.nn`` (or of ``torch.nn``: the
            parameter names are the same).
        input_std: the standard deviation of the input weights (non-negative).
    """
    if not isinstance(rnn, (RNN, RNNCell, torch.nn.RNN, torch.nn.RNNCell)):
        raise TypeError(f"identity_init_ expects an RNN or RNNCell, got {type(rnn).__name__}")
    if isinstance(input_std, bool) or not isinstance(input_std, numbers.Real) or input_std < 0:
        raise ValueError(f"input_std must be a non-negative number, got {input_std!r}")
    with torch.no_grad():
        for name, p in rnn.named_parameters():
            if name.startswith("weight_hh"):
                p.copy_(torch.eye(rnn.hidden_size, dtype=p.dtype, device=p.device))
            elif name.startswith("weight_ih"):
                p.normal_(0.0, input_std)
            else:  # bias_ih..., bias_hh...
                p.zero_()
    return rnn
