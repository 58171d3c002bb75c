r"""One step of the convolutional LSTM (Shi et al. 2015), forward only, in NumPy.

The LSTM of ``lstm.py`` with its matrix products replaced by 2-D convolutions
``*``, so the state is a stack of images, ``h, c: (B, C_hid, Y, X)``:

.. math::

    a &= W_x * x_t + W_h * h_{t-1} + b
        \quad\text{split along channels into } a_i, a_f, a_g, a_o \\
    i &= \sigma(a_i + w_{ci} \odot c_{t-1}), \quad
    f  = \sigma(a_f + w_{cf} \odot c_{t-1}), \quad g = \tanh(a_g) \\
    c_t &= f \odot c_{t-1} + i \odot g, \qquad
    o = \sigma(a_o + w_{co} \odot c_t), \qquad h_t = o \odot \tanh(c_t)

with the peephole terms ``w_c* ⊙ c`` optional. Unlike the rest of this package the
weights use PyTorch's convolution layout ``(C_out, C_in, kh, kw)`` (a convolution
has no "multiply from the right" form), so they copy to and from
``lstmlib.nn.ConvLSTMCell`` unchanged.
"""

from __future__ import annotations

import numpy as np

from lstmlib.scratch.lstm import sigmoid
from lstmlib.shapes import check_float, check_shape


def conv2d_same(x, weight):
    """2-D convolution with "same" zero padding, stride 1.

    What deep learning calls a convolution (and ``torch.nn.functional.conv2d``
    computes) is a cross-correlation: the kernel is not flipped,
    ``out[b, o, y, x] = sum_{c, dy, dx} weight[o, c, dy, dx] * x_pad[b, c, y + dy, x + dx]``.

    Args:
        x: (B, C_in, Y, X).
        weight: (C_out, C_in, kh, kw), kh and kw odd.

    Returns:
        (B, C_out, Y, X): the same spatial size as ``x``.
    """
    B, _, Y, X = x.shape
    C_out, _, kh, kw = weight.shape
    if kh % 2 == 0 or kw % 2 == 0:
        raise ValueError(f"kernel sizes must be odd for 'same' padding, got {kh}x{kw}")
    # Pad k // 2 zeros on every side: then the window of output pixel (y, x) starts
    # at (y, x) in the padded image, and Y x X windows fit.
    ph, pw = kh // 2, kw // 2
    x_pad = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    out = np.zeros((B, C_out, Y, X), dtype=np.result_type(x, weight))
    # One kernel offset at a time: every output pixel takes the input pixel at that
    # offset from it (a shifted copy of the image), times that offset's weights,
    # which mix the channels like the LSTM's matrix product.
    for dy in range(kh):
        for dx in range(kw):
            shifted = x_pad[:, :, dy : dy + Y, dx : dx + X]  # (B, C_in, Y, X)
            out += np.einsum("oc,bchw->bohw", weight[:, :, dy, dx], shifted)
    return out


def convlstm_step_forward(x, h_prev, c_prev, Wx, Wh, b, peephole=None):
    """One ConvLSTM step.

    Args:
        x: (B, C_in, Y, X) inputs at this step.
        h_prev: (B, C_hid, Y, X) hidden state from the previous step.
        c_prev: (B, C_hid, Y, X) cell state from the previous step.
        Wx: (4 C_hid, C_in, k, k) input-to-gates kernels, gate blocks i, f, g, o
            along the first axis; k odd (kh != kw works too).
        Wh: (4 C_hid, C_hid, k, k) hidden-to-gates kernels, same order.
        b: (4 C_hid,) bias, same order.
        peephole: None, or ``(w_ci, w_cf, w_co)``, each of a shape that broadcasts
            against (B, C_hid, Y, X): (C_hid, 1, 1) per channel as in
            ``lstmlib.nn.ConvLSTMCell``, or (C_hid, Y, X) as in Shi et al.

    Returns:
        h: (B, C_hid, Y, X) the new hidden state ``o * tanh(c)``.
        c: (B, C_hid, Y, X) the new cell state ``f * c_prev + i * g``.
    """
    sizes: dict[str, int] = {}
    check_shape("x", x, ("B", "C_in", "Y", "X"), sizes)
    check_shape("h_prev", h_prev, ("B", "C_hid", "Y", "X"), sizes)
    check_shape("c_prev", c_prev, ("B", "C_hid", "Y", "X"), sizes)
    sizes["4C_hid"] = 4 * sizes["C_hid"]
    check_shape("Wx", Wx, ("4C_hid", "C_in", "kh", "kw"), sizes)
    check_shape("Wh", Wh, ("4C_hid", "C_hid", "kh", "kw"), sizes)
    check_shape("b", b, ("4C_hid",), sizes)
    for name, value in (("x", x), ("h_prev", h_prev), ("c_prev", c_prev), ("Wx", Wx)):
        check_float(name, value)

    C = h_prev.shape[1]
    # (B, 4C, Y, X): all four gates at once; b[:, None, None] adds one bias per channel.
    a = conv2d_same(x, Wx) + conv2d_same(h_prev, Wh) + b[:, None, None]
    a_i, a_f, a_g, a_o = a[:, :C], a[:, C : 2 * C], a[:, 2 * C : 3 * C], a[:, 3 * C :]
    if peephole is not None:
        w_ci, w_cf, w_co = peephole
        a_i = a_i + w_ci * c_prev  # input and forget gates see the old cell state
        a_f = a_f + w_cf * c_prev
    i, f, g = sigmoid(a_i), sigmoid(a_f), np.tanh(a_g)
    c = f * c_prev + i * g
    if peephole is not None:
        a_o = a_o + w_co * c  # the output gate sees the new one
    o = sigmoid(a_o)
    h = o * np.tanh(c)
    return h, c
