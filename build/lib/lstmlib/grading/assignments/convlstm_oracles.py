"""Exercise 06's oracles: the expected outputs of the two value tests.

Only the judge imports this module; the grading sandbox replaces it (see
``JUDGE_ONLY`` in ``convlstm``), since code that computes the right outputs must
not be in the kernel that reports the student's.
"""

from __future__ import annotations

from lstmlib.grading.assignments.convlstm import pixels, tensors


def expected_one_by_one(sizes, weight_ih, weight_hh, bias, x, h0, c0):
    import torch

    C_in, C_hid, _ = sizes
    lstm = torch.nn.LSTMCell(C_in, C_hid).double()
    with torch.no_grad():
        lstm.weight_ih.copy_(torch.from_numpy(weight_ih[..., 0, 0]))
        lstm.weight_hh.copy_(torch.from_numpy(weight_hh[..., 0, 0]))
        lstm.bias_ih.copy_(torch.from_numpy(bias))
        lstm.bias_hh.zero_()
        x, h0, c0 = (pixels(t) for t in tensors(x, h0, c0))
        h, c = lstm(x, (h0, c0))
    return {"c at every pixel": c, "h at every pixel": h}


def expected_kernel(sizes, weight_ih, weight_hh, bias, x, h0, c0):
    import torch

    from lstmlib.nn.convlstm import ConvLSTMCell

    oracle = ConvLSTMCell(*sizes).double()
    with torch.no_grad():
        for parameter, value in zip(
            (oracle.weight_ih, oracle.weight_hh, oracle.bias),
            tensors(weight_ih, weight_hh, bias),
            strict=True,
        ):
            parameter.copy_(value)
        h, c = oracle(*tensors(x), tuple(tensors(h0, c0)))
    return {"c": c, "h": h}
