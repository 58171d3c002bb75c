"""nbgrader preprocessors that make autograding fair to every student in a batch.

Stock nbgrader gives a whole notebook 0 ("needs manual grade") when the kernel
dies, lets one endless loop time out every later cell that depends on a hung
kernel, keeps every line a runaway ``print`` produces, awards full marks to an
answer cell that sets ``np.isclose = lambda *a, **k: True``, and shows the
source of hidden tests in the feedback. ``nbgrader_config.py`` swaps in:

- ``ResilientExecute``: after a cell kills or hangs the kernel, that cell gets an
  error explaining why, a fresh kernel replays the cells before it, and grading
  goes on; output beyond ``max_output_chars`` per cell is dropped while it runs; a
  test cell whose source has a line ``# cell timeout: N s`` (one that trains a model)
  gets N seconds instead of the default.
- ``FlagTampering``: if an answer cell modifies numpy, torch, lstmlib or Python's
  builtins, every autograded test fails with a message saying so.
- ``HideHiddenTests`` (feedback): removes hidden tests' source and reduces their
  tracebacks to the error message, which ``lstmlib.grading.checks`` words for
  the student.
"""

from __future__ import annotations

import ast
import copy
import re

from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat.v4 import new_output
from nbgrader import utils
from nbgrader.preprocessors import ClearHiddenTests, Execute, NbGraderPreprocessor
from traitlets import Integer


def _error(ename: str, message: str):
    return new_output("error", ename=ename, evalue=message, traceback=[f"{ename}: {message}"])


# A test cell that trains a model may need more than the default time. It says so in its
# source, which nbgrader restores from the gradebook, so students cannot change it.
TIMEOUT_MARK = re.compile(r"^# cell timeout: (\d+) s$", re.MULTILINE)


class ResilientExecute(Execute):
    """nbgrader's Execute, made to survive a dead or hung kernel and runaway output."""

    max_output_chars = Integer(
        20_000, help="Stream output kept per cell while it runs; the rest is dropped."
    ).tag(config=True)

    def preprocess(self, nb, resources, retries=None):
        self._failed_cells = set()
        return super().preprocess(nb, resources, retries)

    def preprocess_cell(self, cell, resources, index):
        try:
            return super().preprocess_cell(cell, resources, index)
        except DeadKernelError:
            reason = "The kernel died while running this cell (e.g. os._exit, or a crash)."
        except CellTimeoutError:
            reason = f"This cell did not finish within {self.timeout} s and was stopped."
        else:
            return cell, self.resources
        # Replace the bare KeyboardInterrupt / CellTimeoutError outputs with one explanation.
        cell.outputs = [out for out in cell.outputs if out.output_type != "error"]
        cell.outputs.append(_error("CellFailed", reason + " Grading went on with a fresh kernel."))
        self._restart_and_replay(index)
        return cell, self.resources

    def _get_timeout(self, cell):
        mark = TIMEOUT_MARK.search(cell.source) if cell is not None else None
        if mark and utils.is_grade(cell) and not utils.is_solution(cell):
            return int(mark.group(1))
        return super()._get_timeout(cell)

    def on_cell_executed(self, **kwargs):
        super().on_cell_executed(**kwargs)
        cell = kwargs["cell"]
        if any(out.get("ename") == "CellTimeoutError" for out in cell.outputs):
            # An interrupted cell may leave the kernel running (a loop that catches
            # KeyboardInterrupt): start from a clean kernel rather than let every
            # later cell time out behind it.
            raise CellTimeoutError(f"cell {kwargs['cell_index']} timed out")

    def _restart_and_replay(self, failed_index: int):
        """Fresh kernel, then re-run the earlier cells (outputs discarded) to rebuild state."""
        self._failed_cells.add(failed_index)
        self.shutdown_kernel = "immediate"
        self._cleanup_kernel()
        self.km = self.create_kernel_manager()
        self.start_new_kernel()
        self.start_new_kernel_client()
        for index, earlier in enumerate(self.nb.cells[:failed_index]):
            if index not in self._failed_cells:
                self.execute_cell(copy.deepcopy(earlier), index, store_history=False)

    def output(self, outs, msg, display_id, cell_index):
        if msg["msg_type"] == "stream":
            kept = sum(len(out.get("text", "")) for out in outs if out.output_type == "stream")
            if kept >= self.max_output_chars:
                if not outs[-1].get("text", "").endswith("[output truncated]\n"):
                    outs.append(new_output("stream", name="stdout", text="\n[output truncated]\n"))
                return None
        return super().output(outs, msg, display_id, cell_index)


# Modules an answer cell has no reason to modify: changing them can fake a test's result.
PROTECTED_MODULES = ("numpy", "torch", "lstmlib", "builtins", "sys", "math", "importlib")
DYNAMIC_CALLS = ("setattr", "delattr", "exec", "eval", "compile", "__import__", "globals", "vars")


def _module_aliases(nb) -> set[str]:
    """Names that refer to protected modules (or things imported from them) in this notebook."""
    aliases = {"np", "numpy", "torch", "lstmlib", "builtins", "__builtins__", "sys"}
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] in PROTECTED_MODULES:
                        aliases.add((alias.asname or alias.name).split(".")[0])
            elif isinstance(node, ast.ImportFrom) and node.module:
                if node.module.split(".")[0] in PROTECTED_MODULES:
                    aliases.update(alias.asname or alias.name for alias in node.names)
    return aliases


def _root_name(node):
    while isinstance(node, ast.Attribute | ast.Subscript):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def find_tampering(source: str, aliases: set[str]) -> list[str]:
    """Describe each statement in ``source`` that modifies a protected module."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []  # the cell fails on its own when it runs
    found = []
    for node in ast.walk(tree):
        targets = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AugAssign | ast.AnnAssign):
            targets = [node.target]
        elif isinstance(node, ast.Delete):
            targets = node.targets
        for target in targets:
            if isinstance(target, ast.Attribute | ast.Subscript) and _root_name(target) in aliases:
                found.append(f"line {node.lineno} changes `{ast.unparse(target)}`")
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in DYNAMIC_CALLS
        ):
            found.append(f"line {node.lineno} calls `{node.func.id}()`")
    return found


class FlagTampering(NbGraderPreprocessor):
    """Fail every autograded test of a notebook whose answers modify protected modules."""

    def preprocess(self, nb, resources):
        aliases = _module_aliases(nb)
        findings = []
        for cell in nb.cells:
            if cell.cell_type == "code" and utils.is_solution(cell):
                cell_id = cell.metadata["nbgrader"].get("grade_id", "?")
                for finding in find_tampering(cell.source, aliases):
                    findings.append(f"answer cell '{cell_id}': {finding}")
        if findings:
            message = (
                "Answer cells must not modify numpy, torch, lstmlib or Python's builtins, "
                "nor run code built from strings: with them changed no test result can be "
                "trusted, so no test earns points. Found: " + "; ".join(findings) + "."
            )
            tests = [c for c in nb.cells if utils.is_grade(c) and not utils.is_solution(c)]
            for cell in tests:
                if cell.cell_type == "code":
                    cell.outputs.append(_error("TamperingDetected", message))
        return nb, resources


class HideHiddenTests(ClearHiddenTests):
    """For feedback: drop hidden tests' source, and tracebacks that would quote it."""

    def preprocess_cell(self, cell, resources, cell_index):
        if self.begin_test_delimeter in cell.source:
            for output in cell.get("outputs", []):
                if output.output_type == "error":
                    output.traceback = [f"{output.ename}: {output.evalue}"]
        return super().preprocess_cell(cell, resources, cell_index)
