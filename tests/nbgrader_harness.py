"""Drive nbgrader the way an instructor does, in a throwaway course folder.

Every exercise's round-trip test uses these: release the assignment from
solutions/, make student submissions from it, autograde them in one batch, read
the scores from nbgrader's own gradebook, and generate feedback.
"""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook

REPO = Path(__file__).resolve().parent.parent
SOLUTION_MARKERS = re.compile(r"^\s*### (BEGIN|END) SOLUTION\s*$\n?", re.MULTILINE)


def nbgrader(root: Path, *args: str, release_dir: Path | None = None, env=None):
    """Run ``nbgrader ARGS`` from the repository root with the course's config,
    but with all grading state under ``root`` (and ``env`` added to the environment)."""
    env = {**os.environ, **(env or {})}
    # nbgrader starts `alembic` from PATH: use the one installed beside this Python.
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    command = [sys.executable, "-m", "nbgrader", *args, f"--CourseDirectory.root={root}"]
    if release_dir is not None:
        command.append(f"--CourseDirectory.release_directory={release_dir}")
    return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=900)


def release(root: Path, assignment: str) -> Path:
    """Generate the student version of ``assignment`` into ``root/release`` (and the gradebook)."""
    release_dir = root / "release"
    result = nbgrader(root, "generate_assignment", assignment, "--force", release_dir=release_dir)
    assert result.returncode == 0, result.stdout + result.stderr
    return release_dir / assignment


def solved(released: nbformat.NotebookNode, solution: nbformat.NotebookNode):
    """The released notebook with every answer cell filled in as the solution does it."""
    answers = {
        cell.metadata["nbgrader"]["grade_id"]: SOLUTION_MARKERS.sub("", cell.source)
        for cell in solution.cells
        if cell.metadata.get("nbgrader", {}).get("solution")
    }
    nb = nbformat.from_dict(released)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell.source = answers[grade_id]
    return nb


def cell(nb: nbformat.NotebookNode, grade_id: str):
    """The cell with nbgrader id ``grade_id``."""
    for candidate in nb.cells:
        if candidate.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            return candidate
    raise KeyError(grade_id)


def edit(nb, grade_id: str, old: str, new: str):
    """A copy of ``nb`` with ``old`` replaced by ``new`` in one cell, which must contain it.

    An empty ``old`` appends ``new`` to the cell.
    """
    nb = nbformat.from_dict(nb)
    target = cell(nb, grade_id)
    if not old:
        target.source += new
        return nb
    assert old in target.source, f"{old!r} not in cell {grade_id}"
    target.source = target.source.replace(old, new)
    return nb


def test_cells(nb) -> list:
    return [
        c
        for c in nb.cells
        if c.metadata.get("nbgrader", {}).get("grade_id", "").startswith("test_")
    ]


def honest_variants(good, full: float, answer: str, warn_in: str) -> dict:
    """Honest notebooks that nbgrader alone mis-grades, each with the full score it deserves.

    ``answer`` is the grade id of an answer cell to copy and move about; ``warn_in`` the
    grade id of an answer cell whose code gets a line that warns on stderr.
    """
    deleted = nbformat.from_dict(good)
    deleted.cells = [c for c in deleted.cells if c not in test_cells(deleted)]
    duplicated = nbformat.from_dict(good)
    original = cell(duplicated, answer)
    # A copy-pasted cell: same metadata, and (as a text editor's copy has it) the same id.
    duplicated.cells.insert(duplicated.cells.index(original), copy.deepcopy(original))
    reordered = nbformat.from_dict(good)
    moved = cell(reordered, answer)
    reordered.cells.remove(moved)
    reordered.cells.append(moved)  # the answer now comes after its test
    pasted = nbformat.v4.new_notebook()
    pasted.metadata = copy.deepcopy(good.metadata)
    for original in good.cells:  # copied cell by cell into a fresh notebook: no metadata
        make = (
            nbformat.v4.new_code_cell
            if original.cell_type == "code"
            else nbformat.v4.new_markdown_cell
        )
        pasted.cells.append(make(original.source))
    warns = edit(
        good,
        warn_in,
        "",
        "\n\nimport sys\nimport warnings\n\nwarnings.warn('a harmless warning')\n"
        "print('a note on stderr', file=sys.stderr)\n",
    )
    return {
        "deletes_every_test": (deleted, full),
        # As JSON text: nbformat.write would give the copy a fresh id.
        "duplicates_an_answer": (json.dumps(duplicated), full),
        "moves_an_answer_below_its_test": (reordered, full),
        "pasted_into_a_new_notebook": (pasted, full),
        "warns_on_stderr": (warns, full),
    }


def score_without(points: dict[str, float], *failed_tests: str) -> float:
    """The full score of an exercise's test cells (``points``) less those a submission fails."""
    return sum(points.values()) - sum(points[test] for test in failed_tests)


def submit(root: Path, assignment: str, student: str, nb_or_text, name: str):
    """Place one submission where `nbgrader autograde` looks for it."""
    folder = root / "submitted" / student / assignment
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.ipynb"
    if isinstance(nb_or_text, str):
        path.write_text(nb_or_text)
    else:
        nbformat.write(nb_or_text, path)


def auto_scores(root: Path, assignment: str) -> dict[str, dict[str, float | None]]:
    """Per student, the autograded score of every test cell, from nbgrader's gradebook."""
    scores = {}
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gradebook:
        for submission in gradebook.assignment_submissions(assignment):
            grades = {}
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    if grade.cell.name.startswith("test_"):
                        grades[grade.cell.name] = grade.auto_score
            scores[submission.student.id] = grades
    return scores
