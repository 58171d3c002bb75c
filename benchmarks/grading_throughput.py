"""Throughput of grading a class: stock serial ``nbgrader autograde`` beside the parallel
command (``python -m lstmlib.grading autograde --jobs N``), on the same synthetic class.

The class is an exercise's corpus of realistic submissions (``tests/cases_*.py``) copied
under many student ids. Every run grades a fresh copy of the same course folder; each
run's scores are checked against the serial run's before its time is shown. Not a
test: run it on a quiet machine, e.g.

    PYTHONPATH=. .venv/bin/python benchmarks/grading_throughput.py --copies 4

and it prints seconds per submission and the speed-up over stock nbgrader.
"""

from __future__ import annotations

import argparse
import importlib
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from parallel_harness import (  # noqa: E402 (the tests' helpers, found above)
    cli,
    make_course,
    scores,
    serial_autograde,
    sqlite_url,
)

from lstmlib.grading.parallel import usable_cores  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--exercise", default="cases_02_lstm_forward", help="a tests/cases_* module"
    )
    parser.add_argument("--copies", type=int, default=4, help="copies of the corpus in the class")
    parser.add_argument(
        "--jobs", type=int, nargs="*", help="worker counts (default: 1 up to the usable cores, +1)"
    )
    args = parser.parse_args()
    cases = importlib.import_module(args.exercise)
    jobs = args.jobs or list(range(1, usable_cores() + 2))
    with tempfile.TemporaryDirectory(prefix="grading-throughput-") as folder:
        template = Path(folder) / "template"
        make_course(template, cases, copies=args.copies)
        shutil.rmtree(template / "submitted" / "corrupt_file")  # timing honest work only
        n = len(list((template / "submitted").iterdir()))
        print(f"{cases.ASSIGNMENT}: {n} submissions, {usable_cores()} usable cores")

        def fresh(name: str) -> Path:
            root = Path(folder) / name
            shutil.copytree(template, root)
            return root

        rows = []
        root = fresh("serial")
        start = time.perf_counter()
        result = serial_autograde(root, cases.ASSIGNMENT)
        serial_seconds = time.perf_counter() - start
        assert result.returncode == 0, result.stderr[-3000:]
        reference = scores(sqlite_url(root), cases.ASSIGNMENT)
        assert len(reference) == n
        rows.append(("nbgrader autograde (serial)", "-", serial_seconds))
        for j in jobs:
            root = fresh(f"jobs-{j}")
            start = time.perf_counter()
            result = cli(root, "autograde", cases.ASSIGNMENT, "--jobs", str(j), "--no-report")
            seconds = time.perf_counter() - start
            assert result.returncode == 0, result.stdout + result.stderr[-3000:]
            assert scores(sqlite_url(root), cases.ASSIGNMENT) == reference, f"jobs {j} differs"
            rows.append(("python -m lstmlib.grading autograde", str(j), seconds))

    print(f"\n{'command':<38} {'jobs':>4} {'total s':>8} {'s/submission':>13} {'speed-up':>9}")
    for command, j, seconds in rows:
        print(
            f"{command:<38} {j:>4} {seconds:>8.1f} {seconds / n:>13.2f} "
            f"{serial_seconds / seconds:>8.2f}x"
        )


if __name__ == "__main__":
    main()
