"""Exercise 06 (a ConvLSTM cell in PyTorch): submissions and the score each one deserves.

Points: layers 1, shapes 1 (kernel 3), 1x1 kernel vs torch.nn.LSTMCell at every pixel 2,
larger kernels vs lstmlib.nn.convlstm.ConvLSTMCell 2.
"""

from __future__ import annotations

from nbgrader_harness import edit, honest_variants, score_without, solved

ASSIGNMENT = "06-convlstm"
NOTEBOOK = "06-convlstm"
POINTS = {
    "test_convlstm_layers": 1,
    "test_convlstm_shapes": 1,
    "test_convlstm_one_by_one": 2,
    "test_convlstm_kernel": 2,
}
FULL = sum(POINTS.values())
CELL = "convlstm_cell"


def make_submissions(released, solution):
    """Each case: (notebook, expected autograded score)."""
    good = solved(released, solution)
    use_reference = (
        "        from lstmlib.nn.convlstm import convlstm_step\n\n"
        "        w_x, w_h, b = self.conv_x.weight, self.conv_h.weight, self.conv_x.bias\n"
        "        h, c, _ = convlstm_step(x, h_prev, c_prev, w_x, w_h, b)"
    )
    return {
        "solution": (good, FULL),
        **honest_variants(good, FULL, answer="convlstm_cell", warn_in="convlstm_cell"),
        # Harmless settings of the library, and attributes set the long way round.
        "library_settings": (
            edit(
                good,
                CELL,
                "",
                "\n\ntorch.backends.cudnn.deterministic = True\n"
                "torch.backends.cudnn.benchmark = False\ntorch.set_num_threads(1)\n",
            ),
            FULL,
        ),
        "setattr_in_own_module": (
            edit(
                good,
                CELL,
                "        self.hidden_channels = hidden_channels\n",
                "        setattr(self, 'hidden_channels', hidden_channels)\n",
            ),
            FULL,
        ),
        "untouched": (released, 0),
        # Without padding the image shrinks: only a 1x1 kernel still works.
        "no_padding": (
            edit(good, CELL, "padding = kernel_size // 2", "padding = 0"),
            score_without(POINTS, "test_convlstm_shapes", "test_convlstm_kernel"),
        ),
        "gate_order_swapped": (
            edit(good, CELL, "i, f, g, o = a.chunk(4, dim=1)", "i, f, o, g = a.chunk(4, dim=1)"),
            score_without(POINTS, "test_convlstm_one_by_one", "test_convlstm_kernel"),
        ),
        "ignores_hidden_state": (
            edit(good, CELL, "a = self.conv_x(x) + self.conv_h(h_prev)", "a = self.conv_x(x)"),
            score_without(POINTS, "test_convlstm_one_by_one", "test_convlstm_kernel"),
        ),
        # Builds the layers itself but runs the course's step function.
        "calls_reference": (
            edit(
                good,
                CELL,
                "        c = f * c_prev + i * g\n        h = o * torch.tanh(c)",
                use_reference,
            ),
            score_without(
                POINTS, "test_convlstm_shapes", "test_convlstm_one_by_one", "test_convlstm_kernel"
            ),
        ),
    }


# (student, test cell, words its error message must contain)
EXPLAINED = [
    ("untouched", "test_convlstm_layers", "ConvLSTMCell is not implemented yet"),
    ("no_padding", "test_convlstm_shapes", "ConvLSTMCell.forward raised RuntimeError"),
    ("gate_order_swapped", "test_convlstm_one_by_one", "has wrong values"),
    ("calls_reference", "test_convlstm_kernel", "reference implementation is not available"),
]
