"""The feedback students get: no hidden test source, no traceback quoting it.

The course's own test cells hold no hidden code (their hidden cases live in the
judge), but an instructor's added test cell may use nbgrader's hidden-test
markers; ``HideHiddenTests`` keeps those hidden in the feedback too.
"""

from __future__ import annotations

from nbgrader.preprocessors import ClearHiddenTests


class HideHiddenTests(ClearHiddenTests):
    """For feedback: drop hidden tests' source, and tracebacks that would quote it."""

    def preprocess_cell(self, cell, resources, cell_index):
        if self.begin_test_delimeter in cell.source:
            for output in cell.get("outputs", []):
                if output.output_type == "error":
                    output.traceback = [f"{output.ename}: {output.evalue}"]
        return super().preprocess_cell(cell, resources, cell_index)
