"""Put a submission back into the assignment's shape before nbgrader checks it.

Students copy, paste, move and delete cells. nbgrader matches cells by their
metadata, so some honest notebooks lose points or are left ungraded: a cell
pasted into a fresh notebook has no metadata, a deleted test cell may crash
``OverwriteCells.add_missing_grade_cells``, a test cell moved above its answer
fails. ``RepairSubmission`` runs first among the sanitizing preprocessors and:

1. gives duplicated cell ids fresh ones, and drops metadata that names no cell of
   the assignment;
2. keeps the last of several cells with one grade id (the one whose code is in
   effect when the notebook runs top to bottom); the others become plain cells;
3. recognises cells without metadata: an answer cell by the functions and
   classes it defines, a locked cell by its exact source;
4. puts the assignment's cells back in the assignment's order, each student cell
   staying right after the cell it followed;
5. restores every missing cell of the assignment from the gradebook, in place:
   test cells as they were released, answer cells as the released stub.
"""

from __future__ import annotations

import ast
import uuid

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell
from nbgrader.api import Gradebook
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import NbGraderPreprocessor


def grade_id(cell) -> str | None:
    meta = cell.get("metadata", {}).get("nbgrader")
    if isinstance(meta, dict) and isinstance(meta.get("grade_id"), str):
        return meta["grade_id"]
    return None


def defined_names(source: str) -> set[str]:
    """Top-level functions and classes that ``source`` defines."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    return {
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
    }


class RepairSubmission(NbGraderPreprocessor):
    """Match, deduplicate, reorder and restore a submission's cells (see the module)."""

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        with Gradebook(info["db_url"]) as gradebook:
            source_nb = gradebook.find_notebook(info["notebook"], info["assignment"])
            self._source = {
                c.name: (c.cell_type, c.locked, c.source) for c in source_nb.source_cells
            }
            self._points = {c.name: c.max_score for c in source_nb.grade_cells}
            self._solutions = {c.name for c in source_nb.solution_cells}
            self._tasks = {c.name for c in source_nb.task_cells}
        order = self._order(info["assignment"], info["notebook"])

        self._fresh_ids(nb)
        self._drop_unknown_and_duplicates(nb)
        self._recognise_unmarked(nb)
        nb.cells = self._in_order(nb.cells, order)
        return nb, resources

    def _order(self, assignment: str, notebook: str) -> list[str]:
        """The assignment's cell ids in the order of its source notebook."""
        coursedir = CourseDirectory(config=self.config)
        path = coursedir.format_path(coursedir.source_directory, ".", assignment)
        try:
            source = nbformat.read(f"{path}/{notebook}.ipynb", as_version=4)
        except OSError:
            return sorted(self._source)  # no source notebook here: keep what we know
        names = [grade_id(cell) for cell in source.cells]
        ordered = [name for name in names if name in self._source]
        return ordered + sorted(set(self._source) - set(ordered))

    def _fresh_ids(self, nb):
        seen = set()
        for cell in nb.cells:
            if "id" in cell and cell["id"] in seen:
                cell["id"] = uuid.uuid4().hex[:8]
            seen.add(cell.get("id"))

    def _drop_unknown_and_duplicates(self, nb):
        seen = set()
        for cell in reversed(nb.cells):
            name = grade_id(cell)
            if "nbgrader" in cell.get("metadata", {}) and (
                name is None or name not in self._source or name in seen
            ):
                del cell.metadata["nbgrader"]
                continue
            if name is not None:
                seen.add(name)

    def _recognise_unmarked(self, nb):
        present = {grade_id(cell) for cell in nb.cells} - {None}
        unmarked = [c for c in nb.cells if c.cell_type == "code" and grade_id(c) is None]
        for name, (cell_type, _locked, source) in self._source.items():
            if name in present or cell_type != "code":
                continue
            if name in self._solutions:
                wanted = defined_names(source)
                matches = [c for c in unmarked if wanted and wanted <= defined_names(c.source)]
            else:
                matches = [c for c in unmarked if c.source.strip() == source.strip()]
            if matches:
                cell = matches[-1]
                cell.metadata["nbgrader"] = self._metadata(name)
                unmarked.remove(cell)
                present.add(name)

    def _metadata(self, name: str) -> dict:
        cell_type, locked, _ = self._source[name]
        meta = {
            "grade": name in self._points,
            "grade_id": name,
            "locked": bool(locked),
            "schema_version": 3,
            "solution": name in self._solutions,
            "task": name in self._tasks,
        }
        if name in self._points:
            meta["points"] = self._points[name]
        return meta

    def _restored(self, name: str):
        cell_type, _, source = self._source[name]
        self.log.warning("Cell %r was missing from the submission: restored.", name)
        make = new_code_cell if cell_type == "code" else new_markdown_cell
        cell = make(source=source)
        cell.metadata["nbgrader"] = self._metadata(name)
        return cell

    def _in_order(self, cells, order: list[str]):
        head, groups, current = [], {}, None
        for cell in cells:
            name = grade_id(cell)
            if name is not None:
                groups[name] = [cell]
                current = name
            elif current is None:
                head.append(cell)
            else:
                groups[current].append(cell)
        ordered = list(head)
        for name in order:
            ordered += groups.get(name) or [self._restored(name)]
        return ordered
