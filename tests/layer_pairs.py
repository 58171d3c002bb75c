"""What the tests of ``lstmlib.nn``'s layers against ``torch.nn``'s share.

A layer of ours and torch's with the same constructor arguments and our weights
copied into torch's, in float64 so that the two must agree to rounding error
(``assert_close``: 1e-12 absolute), random inputs from seeded generators, and a random
linear loss whose gradient reaches every path of the graph.
"""

from __future__ import annotations

import torch

F64 = torch.float64


def assert_close(actual, expected):
    torch.testing.assert_close(actual, expected, rtol=0, atol=1e-12)


def assert_all_close(actual, expected):
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected, strict=True):
        assert_close(a, e)


def make_pair(ours_class, torch_class, input_size, hidden_size, device="cpu", seed=0, **kwargs):
    """``(ours, torch's)``: the same constructor arguments, our weights copied into torch's."""
    torch.manual_seed(seed)
    ours = ours_class(input_size, hidden_size, dtype=F64, device=device, **kwargs)
    ref = torch_class(input_size, hidden_size, dtype=F64, device=device, **kwargs)
    ref.load_state_dict(ours.state_dict())
    return ours, ref


def randn(*shape, device="cpu", seed=1, scale=1.0):
    """A float64 standard normal tensor from its own seeded generator (same on any device)."""
    g = torch.Generator().manual_seed(seed)
    return (scale * torch.randn(shape, generator=g, dtype=F64)).to(device)


def linear_loss(*tensors):
    """A random linear function of the tensors: its gradient reaches every path."""
    return sum(
        (t * randn(*t.shape, device=t.device, seed=10 + k)).sum() for k, t in enumerate(tensors)
    )


def grads(loss, inputs):
    return torch.autograd.grad(loss, inputs)


def zero_weights(model):
    """Set every weight matrix of ``model`` to zero, keeping the biases: its gates then
    equal the sigmoid of their bias, whatever the input."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.startswith("weight"):
                p.zero_()
