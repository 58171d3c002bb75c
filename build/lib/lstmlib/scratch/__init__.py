"""NumPy reference implementations with hand-written backward passes.

Conventions (the same for every model in this package):

- time-major sequences: ``x: (T, B, I)`` (time, batch, input features);
- weights multiply from the right: ``x @ Wx`` with ``Wx: (I, H)``, so that the
  code reads like the equations in the book;
- every ``*_forward`` returns ``(output, cache)``; the matching ``*_backward``
  takes the upstream gradient and that cache and returns one gradient per input,
  in the order of the forward's arguments.

Models: the RNN (``rnn.py``), the LSTM (``lstm.py``, gates ``i, f, g, o``), the GRU
(``gru.py``, gates ``r, z, n``), and ``bidirectional.py``, which runs any of them
both ways over a sequence (also on padded batches of variable lengths), and
``char_rnn.py``, the RNN made a character-level language model (one-hot input, linear
read-out, softmax cross-entropy, Adagrad, truncated BPTT). The exception
is ``convlstm.py``: one ConvLSTM step, forward only and in PyTorch's convolution layout
``(4 C_hid, C_in, k, k)``, to show what the convolutions compute.
"""

from lstmlib.scratch.bidirectional import (
    BidirectionalCache,
    bidirectional_backward,
    bidirectional_forward,
    reverse_padded,
)
from lstmlib.scratch.char_rnn import (
    char_rnn_loss,
    char_rnn_mean_loss,
    init_char_rnn,
    sample_char_rnn,
    softmax_cross_entropy_backward,
    softmax_cross_entropy_forward,
    train_char_rnn,
)
from lstmlib.scratch.convlstm import conv2d_same, convlstm_step_forward
from lstmlib.scratch.gru import (
    GRUStepCache,
    gru_backward,
    gru_forward,
    gru_step_backward,
    gru_step_forward,
)
from lstmlib.scratch.lstm import (
    LSTMStepCache,
    lstm_backward,
    lstm_forward,
    lstm_gradient_norm_by_lag,
    lstm_step_backward,
    lstm_step_forward,
)
from lstmlib.scratch.rnn import (
    RNNStepCache,
    gradient_norm_by_lag,
    rnn_backward,
    rnn_forward,
    rnn_step_backward,
    rnn_step_forward,
)

__all__ = [
    "conv2d_same",
    "convlstm_step_forward",
    "BidirectionalCache",
    "char_rnn_loss",
    "char_rnn_mean_loss",
    "init_char_rnn",
    "sample_char_rnn",
    "softmax_cross_entropy_backward",
    "softmax_cross_entropy_forward",
    "train_char_rnn",
    "GRUStepCache",
    "LSTMStepCache",
    "RNNStepCache",
    "bidirectional_backward",
    "bidirectional_forward",
    "gradient_norm_by_lag",
    "gru_backward",
    "gru_forward",
    "gru_step_backward",
    "gru_step_forward",
    "lstm_backward",
    "lstm_forward",
    "lstm_gradient_norm_by_lag",
    "lstm_step_backward",
    "lstm_step_forward",
    "reverse_padded",
    "rnn_backward",
    "rnn_forward",
    "rnn_step_backward",
    "rnn_step_forward",
]
