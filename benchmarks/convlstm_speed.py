"""Speed of ``lstmlib.nn.ConvLSTM`` beside ``ndrplz/ConvLSTM_pytorch``, same weights.

The comparison is the most used public PyTorch ConvLSTM, vendored unchanged in
``benchmarks/ndrplz_ConvLSTM_pytorch/`` (MIT licence there): one ``Conv2d`` over
``cat([x_t, h])`` per step. ``lstmlib.nn.ConvLSTM`` runs in both of its designs
(``input_convolution``): ``hoisted`` (the input convolved for all frames before the
loop, ``h`` at every step) and ``per_step`` (``cat([x_t, h])`` per step, like ndrplz),
and as it runs by default, ``auto``, which picks one of the two per call (per step in
inference, hoisted in training when the input has at least as many channels as the
state). The goal (issue 12): ``auto`` never slower than ndrplz. Before timing, each
case checks that all give the same outputs and gradients (float32 rounding). Timing as in
``lstm_speed.py`` (its helpers are reused): inference forward, and forward+backward
(parameter gradients), alternating, medians, one thread. Not a test: run it on a quiet
machine, e.g.

    PYTHONPATH=. .venv/bin/python benchmarks/convlstm_speed.py [--quick]
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from torch import nn

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "ndrplz_ConvLSTM_pytorch"))
sys.path.insert(0, str(HERE))

from convlstm import ConvLSTM as NdrplzConvLSTM  # noqa: E402 (vendored, found above)
from lstm_speed import (  # noqa: E402
    assert_close32,
    forward_backward,
    measure,
    print_table_start,
    timing_arguments,
)

from lstmlib.nn import ConvLSTM  # noqa: E402

# (B, T, C_in, C_hid, size, kernel): few input channels (frames of digits, RGB video),
# as many input channels as hidden ones, and a stacked layer's input.
CASES = [
    (8, 10, 1, 8, 8, 3),
    (4, 10, 1, 16, 16, 3),
    (4, 10, 3, 16, 32, 5),
    (4, 10, 16, 32, 32, 3),
    (2, 10, 64, 64, 16, 3),
    (2, 10, 32, 16, 32, 3),
]
QUICK_CASES = [(4, 6, 1, 8, 8, 3), (2, 6, 16, 16, 16, 3)]


def ndrplz_layout(*ours):
    """Our weight (or ``weight_ih, weight_hh``, side by side along the input channels
    as ndrplz convolves ``cat([x, h])``), gate blocks ``i, f, g, o`` reordered as
    ndrplz's ``i, f, o, g``."""
    i, f, g, o = torch.cat(ours, dim=1 if len(ours) > 1 else 0).chunk(4, dim=0)
    return torch.cat((i, f, o, g))


def check_same(models, x, grad_out):
    """Outputs and weight gradients of lstmlib's designs equal ndrplz's (float32)."""
    results = []
    for name, model in models.items():
        out = forward_backward(model, x, grad_out).detach()
        if name == "ndrplz":
            conv = model.model.cell_list[0].conv
            results.append([out, conv.weight.grad, conv.bias.grad])
        else:
            (cell,) = model.cells
            grads = [ndrplz_layout(cell.weight_ih.grad, cell.weight_hh.grad)]
            results.append([out, *grads, ndrplz_layout(cell.bias.grad)])
    for other in results[1:]:
        for a, b in zip(other, results[0], strict=True):
            assert_close32(a, b)


class Ndrplz(nn.Module):
    """ndrplz's ConvLSTM with ``lstmlib.nn.ConvLSTM``'s calling convention:
    ``model(x) -> (output, (h_n, c_n))``; weights copied from ``ours``."""

    def __init__(self, ours):
        super().__init__()
        (cell,) = ours.cells
        self.model = NdrplzConvLSTM(
            cell.input_channels, cell.hidden_channels, cell.kernel_size, 1, batch_first=True
        )

        conv = self.model.cell_list[0].conv
        with torch.no_grad():
            conv.weight.copy_(ndrplz_layout(cell.weight_ih, cell.weight_hh))
            conv.bias.copy_(ndrplz_layout(cell.bias))

    def forward(self, x):
        outputs, states = self.model(x)
        return outputs[0], states[0]


def build(C_in, C_hid, k):
    torch.manual_seed(0)
    hoisted = ConvLSTM(C_in, C_hid, k, input_convolution="hoisted")
    per_step = ConvLSTM(C_in, C_hid, k, input_convolution="per_step")
    auto = ConvLSTM(C_in, C_hid, k)
    per_step.load_state_dict(hoisted.state_dict())
    auto.load_state_dict(hoisted.state_dict())
    return {"ndrplz": Ndrplz(hoisted), "hoisted": hoisted, "per_step": per_step, "auto": auto}


def main():
    args, device, repeats = timing_arguments(__doc__.splitlines()[0], 11)
    cases = QUICK_CASES if args.quick else CASES
    header = (
        f"{'B':>3} {'T':>3} {'C_in':>4} {'C_hid':>5} {'size':>4} {'k':>2} | "
        f"{'fwd ndrplz':>10} {'hoisted':>8} {'per_step':>8} {'auto':>8} | "
        f"{'f+b ndrplz':>10} {'hoisted':>8} {'per_step':>8} {'auto':>8}"
    )
    what = f"medians of {repeats} alternating runs; ratios = lstmlib / ndrplz"
    print_table_start(device, what, header)
    worst_auto = []
    for B, T, C_in, C_hid, size, k in cases:
        models = {name: m.to(device) for name, m in build(C_in, C_hid, k).items()}
        g = torch.Generator().manual_seed(1)
        x = torch.randn(B, T, C_in, size, size, generator=g).to(device)
        grad_out = torch.randn(B, T, C_hid, size, size, generator=g).to(device)
        check_same(models, x, grad_out)  # against ndrplz, the first
        m = measure(models, x, grad_out, repeats, device)

        def cells(phase, m=m):
            base = m["ndrplz", phase]
            ratios = (f"{m[name, phase] / base:7.2f}x" for name in ("hoisted", "per_step", "auto"))
            return f"{1e3 * base:8.2f}ms " + " ".join(ratios)

        worst = max(m["auto", phase] / m["ndrplz", phase] for phase in ("forward", "fwd+bwd"))
        worst_auto.append(worst)
        print(
            f"{B:3} {T:3} {C_in:4} {C_hid:5} {size:4} {k:2} | {cells('forward')} | "
            f"{cells('fwd+bwd')}",
            flush=True,
        )
    verdict = "met" if max(worst_auto) <= 1.0 else "NOT met"
    print(
        f"auto against ndrplz, worst ratio over all cases: {max(worst_auto):.2f}x "
        f"(goal <= 1.0: {verdict})"
    )


if __name__ == "__main__":
    main()
