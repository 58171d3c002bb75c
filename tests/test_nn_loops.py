"""The compiled loops of ``lstmlib/nn/loops.cpp`` against the Python loops of
``lstmlib.nn.loops``, their oracle: the same tensor operations in the same order, so the
layers' outputs and gradients must be equal bit for bit, on every layer and setting the
loops take. (``test_nn_bptt.py`` checks whichever loops are active against ``torch.nn``,
autograd and finite differences.) Also: the switch that turns them off, and the
fall-back to the Python loops when they cannot be built."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from lstmlib.nn import GRU, LSTM, RNN, compile_loops, loops

I, H, N = 3, 5, 4


@pytest.fixture(scope="module")
def compiled():
    ops = compile_loops.load()
    if ops is None:
        if os.environ.get("CI"):
            pytest.fail("CI has a C++ compiler, so the compiled loops must build there")
        pytest.skip("the compiled loops could not be built on this machine")
    return ops


def make_layer(kind, device, dtype, **settings):
    torch.manual_seed(0)
    if kind.startswith("RNN"):
        return RNN(I, H, nonlinearity=kind[4:], **settings).to(device, dtype)
    return {"LSTM": LSTM, "GRU": GRU}[kind](I, H, **settings).to(device, dtype)


def outputs_and_gradients(layer, x, loss_on):
    """The layer's output and final state, and the gradients of a loss on one of them
    with respect to the input, the initial state and the weights (a plain sum hands the
    backward a broadcast gradient, a square a dense one)."""
    x = x.clone().requires_grad_()
    shape = (layer.num_layers * (1 + layer.bidirectional), x.shape[1], H)
    generator = torch.Generator().manual_seed(3)
    h0, c0 = (torch.randn(shape, generator=generator).to(x).requires_grad_() for _ in "hc")
    output, state = layer(x, (h0, c0) if isinstance(layer, LSTM) else h0)
    initial = [h0, c0] if isinstance(layer, LSTM) else [h0]
    h_n, c_n = state if isinstance(state, tuple) else (state, None)
    loss = {"output": output.square().sum(), "h_n": h_n.sum(), "c_n": c_n}[loss_on]
    if loss_on == "c_n":
        loss = (
            loss * torch.arange(loss.numel(), dtype=loss.dtype, device=loss.device).view_as(loss)
        ).sum() + output.sum()
    grads = torch.autograd.grad(loss, [x, *initial, *layer.parameters()])
    return [output, h_n, *([] if c_n is None else [c_n]), *grads]


def assert_same_bits(first, second):
    assert len(first) == len(second)
    for a, b in zip(first, second, strict=True):
        assert a.dtype == b.dtype and a.shape == b.shape
        assert torch.equal(a, b), f"differ by up to {(a - b).abs().max().item():.3g}"


def run_both(monkeypatch, compiled, layer, x, loss_on):
    python = outputs_and_gradients(layer, x, loss_on)
    monkeypatch.setattr(loops, "active", lambda: compiled)
    return python, outputs_and_gradients(layer, x, loss_on)


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN_tanh", "RNN_relu"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("steps", [1, 7, 40])  # 40 >= bptt.STEPS_TO_COPY
def test_compiled_loops_equal_the_python_loops(
    monkeypatch, compiled, device, kind, dtype, bias, steps
):
    monkeypatch.setattr(loops, "active", lambda: loops)
    layer = make_layer(kind, device, dtype, bias=bias)
    x = torch.randn(steps, N, I, generator=torch.Generator().manual_seed(1))
    python, ours = run_both(monkeypatch, compiled, layer, x.to(device, dtype), "output")
    assert_same_bits(python, ours)


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN_tanh"])
@pytest.mark.parametrize("loss_on", ["output", "h_n", "c_n"])
def test_compiled_loops_equal_the_python_loops_stacked_and_bidirectional(
    monkeypatch, compiled, kind, loss_on
):
    if loss_on == "c_n" and kind != "LSTM":
        pytest.skip("only the LSTM has a cell state")
    monkeypatch.setattr(loops, "active", lambda: loops)
    layer = make_layer(kind, "cpu", torch.float64, num_layers=2, bidirectional=True)
    x = torch.randn(9, N, I, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    assert_same_bits(*run_both(monkeypatch, compiled, layer, x, loss_on))


def test_the_compiled_loops_are_what_the_layers_run(compiled):
    assert loops.active() is compiled
    assert compiled.lstm_forward.default.name() == "lstmlib::lstm_forward"


def run_python(code, **env):
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result


def test_the_switch_turns_the_compiled_loops_off():
    code = "from lstmlib.nn import loops; print(loops.active().__name__)"
    assert run_python(code, LSTMLIB_COMPILED_LOOPS="0").stdout.strip() == "lstmlib.nn.loops"


def test_a_failed_build_warns_and_falls_back_to_the_python_loops(tmp_path):
    broken = tmp_path / "loops.cpp"
    broken.write_text("#error this source is broken on purpose\n")
    code = (
        "import pathlib, warnings\n"
        "from lstmlib.nn import compile_loops, loops\n"
        f"compile_loops.SOURCE = pathlib.Path({str(broken)!r})\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        "    print(loops.active().__name__)\n"
        "print(*(str(w.message) for w in caught), sep='\\n')\n"
    )
    cache = tmp_path / "cache"
    # A second process reads the note and does not build again: with no compiler at all
    # it still reports the first build's error.
    for attempt, compiler in [("the build", "c++"), ("its note", "/no/compiler")]:
        result = run_python(code, TORCH_EXTENSIONS_DIR=str(cache), CXX=compiler)
        active, *messages = result.stdout.strip().splitlines()
        assert active == "lstmlib.nn.loops", attempt
        assert len(messages) == 1, attempt
        assert "could not build the compiled loops" in messages[0]
        assert "broken on purpose" in messages[0], attempt  # the compiler's own words
        assert not list(cache.rglob("*.so"))  # nothing half-built left to load
        assert [p.name for p in cache.rglob("*.txt")] == ["build-failed.txt"]
        assert not list(cache.rglob("build-*/")), "the build folder is removed"
