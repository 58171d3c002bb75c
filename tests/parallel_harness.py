"""A class to grade in parallel: the course folder, the CLI, and the gradebook's scores.

Shared by the parallel-grading tests, the PostgreSQL / Dask tests and the throughput
benchmark. Every course made here grades with the same secret (``SECRET``), so that
two courses holding the same submissions must get the same scores.
"""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook
from nbgrader_harness import REPO, nbgrader, submit

SECRET = "parallel-grading-tests"
ENV = {"LSTM_COURSE_GRADING_SECRET": SECRET, "PYTHONPATH": str(REPO)}


def env(secret: str | None = None) -> dict[str, str]:
    full = {**os.environ, **ENV}
    if secret is not None:  # grade with another course's secret, to compare with it
        full["LSTM_COURSE_GRADING_SECRET"] = secret
    full["PATH"] = str(Path(sys.executable).parent) + os.pathsep + full.get("PATH", "")
    return full


def make_course(root: Path, cases, db: str | None = None, copies: int = 1) -> dict[str, float]:
    """Release ``cases.ASSIGNMENT`` into a course at ``root`` (gradebook ``db``, default
    SQLite in ``root``) and submit its corpus (``copies`` times, as ``<case>_<i>`` after the
    first) plus an unreadable file; the expected score of each student."""
    root.mkdir(parents=True, exist_ok=True)
    args = ["generate_assignment", cases.ASSIGNMENT, "--force"] + ([f"--db={db}"] if db else [])
    result = nbgrader(root, *args, release_dir=root / "release", env=ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    released = nbformat.read(
        root / "release" / cases.ASSIGNMENT / f"{cases.NOTEBOOK}.ipynb", as_version=4
    )
    solution = nbformat.read(
        REPO / "solutions" / cases.ASSIGNMENT / f"{cases.NOTEBOOK}.ipynb", as_version=4
    )
    expected = {}
    for copy in range(copies):
        for student, (nb, score) in cases.make_submissions(released, solution).items():
            name = student if copy == 0 else f"{student}_{copy}"
            submit(root, cases.ASSIGNMENT, name, nb, cases.NOTEBOOK)
            expected[name] = score
    submit(root, cases.ASSIGNMENT, "corrupt_file", "{ this is not a notebook", cases.NOTEBOOK)
    return expected


def cli(
    root: Path, *args: str, db: str | None = None, popen: bool = False, secret: str | None = None
):
    """``python -m lstmlib.grading ARGS`` for the course at ``root`` (with ``SECRET``, or
    ``secret``)."""
    command = [sys.executable, "-m", "lstmlib.grading", *args, f"--CourseDirectory.root={root}"]
    if db:
        command.append(f"--db={db}")
    if popen:
        return subprocess.Popen(
            command,
            cwd=REPO,
            env=env(secret),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    return subprocess.run(
        command, cwd=REPO, env=env(secret), capture_output=True, text=True, timeout=900
    )


def serial_autograde(root: Path, assignment: str, *args: str):
    """Stock ``nbgrader autograde``, one submission after another."""
    return nbgrader(root, "autograde", assignment, *args, env=ENV)


def sqlite_url(root: Path) -> str:
    return f"sqlite:///{root / 'gradebook.db'}"


def scores(db_url: str, assignment: str) -> dict[str, dict[str, float | None]]:
    """Per student, the auto score of every graded cell, from the gradebook at ``db_url``."""
    found = {}
    with Gradebook(db_url) as gradebook:
        for submission in gradebook.assignment_submissions(assignment):
            found[submission.student.id] = {
                grade.cell.name: grade.auto_score
                for notebook in submission.notebooks
                for grade in notebook.grades
            }
    return found


def totals(per_cell: dict[str, dict[str, float | None]]) -> dict[str, float]:
    return {s: sum(v or 0 for v in cells.values()) for s, cells in per_cell.items()}


def sqlite_is_intact(root: Path) -> bool:
    with sqlite3.connect(root / "gradebook.db") as db:
        return db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]


LOG_ENTRY = re.compile(r"^== (\S+) \(", re.MULTILINE)


def graded_in_log(root: Path, assignment: str) -> list[str]:
    """Every student the grader attempted, in order, over all its runs on ``root``."""
    log = root / "logs" / f"autograde-{assignment}.log"
    return LOG_ENTRY.findall(log.read_text()) if log.exists() else []
