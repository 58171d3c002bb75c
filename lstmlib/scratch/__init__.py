"""NumPy reference implementations with hand-written backward passes.

Conventions (the same for every model in this package):

- time-major sequences: ``x: (T, B, I)`` (time, batch, input features);
- weights multiply from the right: ``x @ Wx`` with ``Wx: (I, H)``, so that the
  code reads like the equations in the book;
- every ``*_forward`` returns ``(output, cache)``; the matching ``*_backward``
  takes the upstream gradient and that cache and returns one gradient per input,
  in the order of the forward's arguments.
"""

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
    "LSTMStepCache",
    "RNNStepCache",
    "gradient_norm_by_lag",
    "lstm_backward",
    "lstm_forward",
    "lstm_gradient_norm_by_lag",
    "lstm_step_backward",
    "lstm_step_forward",
    "rnn_backward",
    "rnn_forward",
    "rnn_step_backward",
    "rnn_step_forward",
]
