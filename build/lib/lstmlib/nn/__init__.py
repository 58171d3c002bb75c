"""PyTorch modules written from the book's equations.

Conventions (the same for every model in this package):

- constructor arguments, parameter names and layouts, initialisation and
  ``forward``'s shapes are those of the matching ``torch.nn`` module, so
  a ``state_dict`` loads both ways and the modules are drop-in replacements;
- weights are stored ``(out_features, in_features)`` and multiply as ``x @ W.T``
  (the NumPy reference in ``lstmlib.scratch`` uses ``x @ Wx`` with ``Wx = W.T``);
- one step is a plain function (``rnn_step``, ``lstm_step``, ``gru_step``); the cell
  module applies it once, the layer module applies it along the sequence, layer by
  layer;
- everything the forward pass creates (such as a zero initial state) lives on the
  input's device and dtype; wrong shapes or dtypes raise errors from
  ``lstmlib.shapes`` that name the expected and the received shape.

Modules: ``RNN``/``RNNCell`` (``rnn.py``, with ``identity_init_``, the IRNN's
initialisation); ``LSTM``/``LSTMCell`` (``lstm.py``, with a
``forget_bias`` initialisation) and ``GRU``/``GRUCell`` (``gru.py``). All three layers
also take variable-length batches (as ``lengths=`` or a ``PackedSequence``),
``bidirectional=True`` and ``dropout``; what they share is in ``_recurrent.py``,
including ``record_gates``, a context manager that records their gates and states
at every step for plotting (just ``"h"`` for the plain RNN). The layers' backward
is the hand-written backpropagation through time the book derives (``bptt.py``: one
``torch.autograd.Function`` per layer and direction, weight gradients as
whole-sequence products); ``layer.bptt = False`` switches to autograd through the
step, the reference it is tested against. The cells and the other modules use autograd.
``ConvLSTM``/``ConvLSTMCell`` (``convlstm.py``): the convolutional LSTM of Shi et al.
(2015), over image sequences ``(B, T, C, H, W)``.
``AdditiveAttention`` (``attention.py``): Bahdanau et al.'s (2015) attention over
time-major encoder outputs ``(S, B, K)``, padding masked by lengths or a mask
(``masked_softmax``: the softmax over the source positions that leaves padding out).
"""

from lstmlib.nn.attention import AdditiveAttention, length_mask, masked_softmax
from lstmlib.nn.convlstm import ConvLSTM, ConvLSTMCell, convlstm_step
from lstmlib.nn.gru import GRU, GRUCell, gru_step
from lstmlib.nn.lstm import LSTM, LSTMCell, lstm_step, record_gates
from lstmlib.nn.rnn import RNN, RNNCell, identity_init_, rnn_step

__all__ = [
    "AdditiveAttention",
    "ConvLSTM",
    "ConvLSTMCell",
    "GRU",
    "GRUCell",
    "LSTM",
    "LSTMCell",
    "RNN",
    "RNNCell",
    "convlstm_step",
    "gru_step",
    "identity_init_",
    "length_mask",
    "masked_softmax",
    "lstm_step",
    "record_gates",
    "rnn_step",
]
