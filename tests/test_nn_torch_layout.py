"""What every recurrent layer of lstmlib.nn shares with its torch.nn counterpart.

The same parameter names, shapes and order (so ``state_dict``s load both ways), and the
same refusal of an empty sequence. One test each, for RNN, GRU and LSTM alike.
"""

import pytest
import torch

from lstmlib.nn import GRU, LSTM, RNN
from lstmlib.shapes import ShapeError

I, H, L, N = 3, 5, 4, 3
PAIRS = [(RNN, torch.nn.RNN), (GRU, torch.nn.GRU), (LSTM, torch.nn.LSTM)]
pairs = pytest.mark.parametrize("ours_cls, ref_cls", PAIRS, ids=lambda c: c.__module__)


@pytest.mark.parametrize("bias", [True, False])
@pairs
def test_state_dict_keys_and_shapes_are_torchs(ours_cls, ref_cls, bias):
    ours = ours_cls(I, H, num_layers=3, bias=bias)
    ref = ref_cls(I, H, num_layers=3, bias=bias)
    assert [(k, v.shape) for k, v in ours.state_dict().items()] == [
        (k, v.shape) for k, v in ref.state_dict().items()
    ]


@pairs
def test_state_dict_loads_both_ways(ours_cls, ref_cls):
    ours, ref = ours_cls(I, H, num_layers=2), ref_cls(I, H, num_layers=2)
    x = torch.randn(L, N, I)
    ours.load_state_dict(ref.state_dict())
    torch.testing.assert_close(ours(x), ref(x))
    ours.reset_parameters()
    ref.load_state_dict(ours.state_dict())
    torch.testing.assert_close(ref(x), ours(x))


@pairs
def test_empty_sequence_is_rejected(ours_cls, ref_cls):
    with pytest.raises(ShapeError, match="at least one time step"):
        ours_cls(I, H)(torch.zeros(0, N, I))
