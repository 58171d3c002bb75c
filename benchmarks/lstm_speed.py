"""Speed of ``lstmlib.nn``'s ``LSTM``, ``GRU`` and ``RNN`` beside ``torch.nn``'s, same weights.

Three implementations of each layer run side by side on the same input:

- ``torch``: ``torch.nn.LSTM`` (``GRU``, ``RNN``), oneDNN's or cuDNN's fused kernels;
- ``bptt``: ``lstmlib.nn``'s layer as it runs by default, the backward being the
  hand-written backpropagation through time of ``lstmlib.nn.bptt``;
- ``autograd``: the same layer with ``bptt = False``, autograd through every step.

Before timing, each configuration checks that the three give the same outputs and
gradients (to float32 rounding). Timings: ``forward`` is inference (under
``torch.no_grad()``); ``fwd+bwd`` is a training step's forward and backward (the
gradients of the parameters, not of the input). The implementations alternate within
every repeat (in a rotating order, so none always runs first) and the table shows
medians and the ratios of medians to ``torch``. One thread by default. Not a test:
run it on a quiet machine, e.g.

    PYTHONPATH=. .venv/bin/python benchmarks/lstm_speed.py            # all, CPU
    PYTHONPATH=. .venv/bin/python benchmarks/lstm_speed.py --quick    # a smoke run
    PYTHONPATH=. .venv/bin/python benchmarks/lstm_speed.py --device cuda
    PYTHONPATH=. .venv/bin/python benchmarks/lstm_speed.py --per-step   # where time goes

The goals (issue 12) are printed in the last column: for the LSTM, at ``B >= 32`` and
``H >= 256`` forward+backward within 1.2x and forward within 1.5x of ``torch.nn``, at
batch 1 or ``H < 128`` both within 2.0x; for the GRU and the RNN both within 1.1x.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

import lstmlib.nn
from lstmlib.nn import loops

# (B, T, I, H): batch 1, small hidden sizes, and the large case of the goals.
CONFIGS = [
    (1, 64, 64, 128),
    (1, 64, 256, 256),
    (8, 64, 32, 64),
    (32, 64, 32, 64),
    (32, 64, 256, 256),
    (64, 32, 512, 512),
]
QUICK_CONFIGS = [(1, 32, 32, 64), (32, 32, 32, 64), (32, 16, 256, 256)]


def goal(kind, B, H):
    """The issue's goal for this case as ``(forward, fwd+bwd)`` ratios, or None."""
    if kind != "LSTM":
        return 1.1, 1.1
    if B >= 32 and H >= 256:
        return 1.5, 1.2
    if B == 1 or H < 128:
        return 2.0, 2.0
    return None


def build(kind, I, H, device, dtype):
    """``{name: module}`` for torch, bptt and autograd, all with the same weights."""
    torch.manual_seed(0)
    ours = getattr(lstmlib.nn, kind)(I, H, device=device, dtype=dtype)
    reference = getattr(lstmlib.nn, kind)(I, H, device=device, dtype=dtype)
    reference.load_state_dict(ours.state_dict())
    reference.bptt = False
    fused = getattr(torch.nn, kind)(I, H, device=device, dtype=dtype)
    fused.load_state_dict(ours.state_dict())
    return {"torch": fused, "bptt": ours, "autograd": reference}


def forward(model, x):
    with torch.no_grad():
        return model(x)[0]


def forward_backward(model, x, grad_out):
    for p in model.parameters():
        p.grad = None
    out = model(x)[0]
    out.backward(grad_out)
    return out


def assert_close32(actual, expected):
    """Equal to float32 rounding: within ``1e-4`` of ``expected``'s largest entry (a
    gradient sums ``B * T`` float32 products)."""
    torch.testing.assert_close(actual, expected, rtol=0, atol=1e-4 * float(expected.abs().max()))


def check_same(models, x, grad_out):
    """Outputs and parameter gradients of every model agree with the first's to float32
    rounding. The models must list their parameters in the same order and layout."""
    results = []
    for model in models.values():
        out = forward_backward(model, x, grad_out)
        results.append([out.detach(), *(p.grad for p in model.parameters())])
    for other in results[1:]:
        for a, b in zip(other, results[0], strict=True):
            assert_close32(a, b)


def synchronize(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def timed(fn, device):
    synchronize(device)
    start = time.perf_counter()
    fn()
    synchronize(device)
    return time.perf_counter() - start


def measure(models, x, grad_out, repeats, device):
    """Median seconds ``{(name, "forward" | "fwd+bwd"): s}``, runs alternating."""
    names = list(models)
    times = {(n, phase): [] for n in names for phase in ("forward", "fwd+bwd")}
    for r in range(repeats + 1):  # the first round warms up and is dropped
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            model = models[name]
            t_f = timed(lambda model=model: forward(model, x), device)
            t_fb = timed(lambda model=model: forward_backward(model, x, grad_out), device)
            if r:
                times[name, "forward"].append(t_f)
                times[name, "fwd+bwd"].append(t_fb)
    return {key: statistics.median(v) for key, v in times.items()}


def per_step_costs(models, B, T, I, repeats, device):
    """Forward costs split as ``fixed + steps * per_step``, from medians at T and 4T
    steps: ``{name: (fixed_us, per_step_us)}``. The ratio at one T mixes the two; the
    per-step cost is what a longer sequence multiplies."""
    g = torch.Generator().manual_seed(2)
    xs = {n: torch.randn(n, B, I, generator=g).to(device) for n in (T, 4 * T)}
    times = {(name, n): [] for name in models for n in xs}
    for r in range(repeats + 1):  # the first round warms up and is dropped
        for name, model in models.items():
            for n, x in xs.items():
                t = timed(lambda model=model, x=x: forward(model, x), device)
                if r:
                    times[name, n].append(t)
    costs = {}
    for name in models:
        short, long = (1e6 * statistics.median(times[name, n]) for n in (T, 4 * T))
        per_step = (long - short) / (3 * T)
        costs[name] = (short - T * per_step, per_step)
    return costs


def print_table_start(device, what, header):
    """The line every benchmark table starts with (torch, device, threads, dtype, then
    ``what`` was measured), the table's ``header`` and a rule under it."""
    compiled = loops.active() is not loops
    print(
        f"torch {torch.__version__}, {device}, {torch.get_num_threads()} thread(s), float32, "
        f"lstmlib's loops {'compiled' if compiled else 'in Python'}, {what}"
    )
    print(header)
    print("-" * len(header))


def timing_arguments(description, repeats, **extra):
    """The benchmarks' shared command line (``--repeats --threads --device --quick`` and
    ``extra`` arguments as ``name: add_argument kwargs``), parsed, threads set:
    ``(args, device, repeats)``, with 3 repeats under ``--quick``."""
    parser = argparse.ArgumentParser(description=description)
    for name, kwargs in extra.items():
        parser.add_argument(f"--{name.replace('_', '-')}", **kwargs)
    parser.add_argument("--repeats", type=int, default=repeats)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--quick", action="store_true", help="small cases, 3 repeats")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    return args, torch.device(args.device), 3 if args.quick else args.repeats


def main():
    args, device, repeats = timing_arguments(
        __doc__.splitlines()[0],
        15,
        kinds={"nargs": "*", "default": ["LSTM", "GRU", "RNN"]},
        per_step={
            "action": "store_true",
            "help": "forward only, split into a fixed cost and a cost per time step",
        },
    )
    configs = QUICK_CONFIGS if args.quick else CONFIGS
    if args.per_step:
        print_per_step_costs(args.kinds, configs, repeats, device)
        return
    header = (
        f"{'layer':5} {'B':>4} {'T':>4} {'I':>4} {'H':>4} | "
        f"{'fwd torch':>9} {'bptt':>7} {'autogr':>7} | "
        f"{'f+b torch':>9} {'bptt':>7} {'autogr':>7} | {'goal fwd, f+b':>13}"
    )
    what = f"medians of {repeats} alternating runs; ratios = lstmlib / torch.nn"
    print_table_start(device, what, header)
    for kind in args.kinds:
        for B, T, I, H in configs:
            models = build(kind, I, H, device, torch.float32)
            g = torch.Generator().manual_seed(1)
            x = torch.randn(T, B, I, generator=g).to(device)
            grad_out = torch.randn(T, B, H, generator=g).to(device)
            check_same(models, x, grad_out)
            m = measure(models, x, grad_out, repeats, device)

            def ratios(phase, m=m):
                base = m["torch", phase]
                return (
                    f"{1e3 * base:7.2f}ms {m['bptt', phase] / base:6.2f}x "
                    f"{m['autograd', phase] / base:6.2f}x"
                )

            target = goal(kind, B, H)
            if target is None:
                verdict = "-"
            else:
                met = (
                    m["bptt", "forward"] / m["torch", "forward"] <= target[0]
                    and m["bptt", "fwd+bwd"] / m["torch", "fwd+bwd"] <= target[1]
                )
                verdict = f"{target[0]}, {target[1]} {'met' if met else 'NOT met'}"
            print(
                f"{kind:5} {B:4} {T:4} {I:4} {H:4} | {ratios('forward')} | "
                f"{ratios('fwd+bwd')} | {verdict:>13}",
                flush=True,
            )


def print_per_step_costs(kinds, configs, repeats, device):
    header = (
        f"{'layer':5} {'B':>4} {'I':>4} {'H':>4} | {'fixed: torch':>12} {'bptt':>7} | "
        f"{'per step: torch':>15} {'bptt':>7} {'ratio':>6}"
    )
    what = f"forward, medians of {repeats} runs at T and 4T steps; microseconds"
    print_table_start(device, what, header)
    for kind in kinds:
        for B, T, I, H in configs:
            models = build(kind, I, H, device, torch.float32)
            del models["autograd"]
            costs = per_step_costs(models, B, T, I, repeats, device)
            (f_t, s_t), (f_b, s_b) = costs["torch"], costs["bptt"]
            # A negative fixed cost means a step of the longer run cost more (the
            # working set left the caches): there the split means nothing.
            f_t, f_b = (f"{f:.0f}" if f >= 0 else "-" for f in (f_t, f_b))
            print(
                f"{kind:5} {B:4} {I:4} {H:4} | {f_t:>12} {f_b:>7} | "
                f"{s_t:15.1f} {s_b:7.1f} {s_b / s_t:5.2f}x",
                flush=True,
            )


if __name__ == "__main__":
    main()
