"""The benchmark scripts still run: their smoke mode (``--quick``) times nothing worth
reading, but it builds every implementation, checks that they agree before timing (the
scripts raise if outputs or gradients differ) and prints the table. Speed itself is not
tested here; the scripts print it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def run_benchmark(script, *args):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), "--quick", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def table_rows(lines, first_word):
    return [line.split() for line in lines if line.split()[:1] == [first_word]]


def ratio(cell):
    assert cell.endswith("x"), cell
    return float(cell[:-1])


def test_lstm_speed_checks_and_prints_every_layer():
    lines = run_benchmark("lstm_speed.py")
    for kind in ("LSTM", "GRU", "RNN"):
        rows = table_rows(lines, kind)
        assert len(rows) == 3, lines  # the three quick configurations
        for row in rows:
            cells = row[row.index("|") + 1 :]
            assert all(ratio(cell) > 0 for cell in (cells[1], cells[2], cells[5], cells[6]))


def test_per_step_costs_split_the_forward():
    rows = table_rows(run_benchmark("lstm_speed.py", "--per-step", "--kinds", "GRU"), "GRU")
    assert len(rows) == 3
    for row in rows:
        # 4T steps take longer than T steps, so each step has a positive cost.
        per_step_torch, per_step_ours = float(row[-3]), float(row[-2])
        assert per_step_torch > 0 and per_step_ours > 0, row


def test_convlstm_speed_checks_and_prints():
    lines = run_benchmark("convlstm_speed.py")
    rows = [line for line in lines if line.count("|") == 2 and line.split()[0].isdigit()]
    assert len(rows) == 2, lines  # the two quick configurations
    assert "worst ratio over all cases" in lines[-1]
