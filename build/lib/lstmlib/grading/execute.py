"""Running a submission: a sandboxed kernel, bounded in time and output, that survives.

``SandboxedExecute`` replaces nbgrader's ``Execute`` in ``nbgrader_config.py``:

- the kernel runs in a bubblewrap sandbox (``lstmlib.grading.sandbox``) and learns
  the cases to compute from its environment (``lstmlib.grading.judge``);
- a cell that kills or hangs the kernel gets an error saying so, a fresh kernel
  replays the cells before it, and grading goes on, at most ``max_restarts``
  times per notebook;
- the whole notebook has ``notebook_timeout`` seconds, replays included; cells
  left when it is used up are not run, and say so;
- output is bounded: ``max_cell_output_bytes`` per cell and
  ``max_notebook_output_bytes`` per notebook, counting every kind (streams,
  displays, results, errors, from any thread); display updates and widget
  messages are ignored;
- a test cell whose source has a line ``# cell timeout: N s`` (one that trains
  a model) gets N seconds instead of the default; students cannot change it,
  since nbgrader restores test cells from the gradebook.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import tempfile
import time

from jupyter_core.utils import run_sync
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat.v4 import new_output
from nbgrader import utils
from nbgrader.preprocessors import Execute
from traitlets import Bool, Integer

from lstmlib.grading import sandbox
from lstmlib.grading.assignments import (
    given_of,
    graded_tests,
    judge_only_of,
    library_of,
    withheld_of,
)
from lstmlib.grading.judge import grading_cases, load_secret
from lstmlib.grading.oracle import ORACLE_ENV, OracleServer
from lstmlib.grading.spec import CASES_ENV, MIME

TIMEOUT_MARK = re.compile(r"^# cell timeout: (\d+) s$", re.MULTILINE)
TRUNCATED = "\n[output truncated: this cell printed more than the grader keeps]\n"


def _error(ename: str, message: str):
    return new_output("error", ename=ename, evalue=message, traceback=[f"{ename}: {message}"])


def _size(out) -> int:
    """Roughly the bytes an output adds to the notebook."""
    if out.output_type == "stream":
        return len(out.get("text", ""))
    if out.output_type == "error":
        return len(out.get("evalue", "")) + sum(len(line) for line in out.get("traceback", []))
    return len(json.dumps(out.get("data", {}), default=str))


# What reading a forged or corrupt kernel message raises (a bad signature, bad JSON, JSON
# nested too deep): the kernel is then treated as one that died.
KERNEL_MISBEHAVED = (ValueError, TypeError, KeyError, RecursionError, UnicodeError)


class OutOfBudget(Exception):
    """The notebook used up its time or its kernel restarts."""


# A Unix socket's path holds at most 107 bytes (sun_path). Under a long TMPDIR (a CI
# runner's, pytest's) the oracle's socket would not fit and every submission would fail.
UNIX_PATH_MAX = 107
ORACLE_SOCKET = os.path.join("oracle", "oracle.sock")


def channels_folder() -> str:
    """A new private folder for one notebook's grading: the oracle's socket, and a folder
    per kernel (its connection file and submission). In TMPDIR, or in /tmp when TMPDIR's
    path is too long for the socket. (The kernels' own sockets are inside the sandbox.)"""
    folder = tempfile.mkdtemp(prefix="lstm-course-kernels-")
    if len(os.fsencode(os.path.join(folder, ORACLE_SOCKET))) <= UNIX_PATH_MAX:
        return folder
    os.rmdir(folder)
    return tempfile.mkdtemp(prefix="lstm-course-kernels-", dir="/tmp")


class SandboxedExecute(Execute):
    """nbgrader's Execute in a sandbox, bounded, and surviving dead or hung kernels."""

    notebook_timeout = Integer(
        600, help="Seconds for a whole notebook, kernel restarts and replays included."
    ).tag(config=True)
    max_restarts = Integer(
        5, help="Kernel restarts per notebook (after a crash or a timeout)."
    ).tag(config=True)
    max_cell_output_bytes = Integer(100_000, help="Output kept per cell.").tag(config=True)
    max_notebook_output_bytes = Integer(2_000_000, help="Output kept per notebook.").tag(
        config=True
    )
    max_results_bytes = Integer(
        8_000_000, help="Size of the results a test cell may hand to the judge."
    ).tag(config=True)
    kernel_start_attempts = Integer(3, help="Tries to start a kernel.").tag(config=True)
    memory_limit_bytes = Integer(sandbox.Limits.memory_bytes).tag(config=True)
    unsandboxed = Bool(
        False,
        help="Grade without a sandbox (student code then runs with your rights). Only "
        "where bubblewrap cannot be had, and only for submissions you trust.",
    ).tag(config=True)

    def __init__(self, **kwargs):
        kwargs["kernel_manager_class"] = sandbox.SandboxedKernelManager
        super().__init__(**kwargs)
        self.store_widget_state = False

    # --- the notebook --------------------------------------------------------------

    def preprocess(self, nb, resources, km=None):
        if not self.unsandboxed:
            try:
                sandbox.check_sandbox()
            except sandbox.SandboxUnavailable as error:
                raise sandbox.SandboxUnavailable(
                    f"Not grading: {error} Student code must run in a sandbox; install "
                    "bubblewrap (Debian: apt-get install bubblewrap), or, only for "
                    "submissions you trust, pass --SandboxedExecute.unsandboxed=True."
                ) from None
        notebook = resources["nbgrader"]["notebook"]
        cases = grading_cases(notebook, load_secret(log=self.log))
        resources.setdefault("lstm_course", {})["cases"] = cases
        self._cases_json = json.dumps({k: [c.to_json() for c in v] for k, v in cases.items()})
        self._deadline = time.monotonic() + self.notebook_timeout
        self._failed_cells = set()
        self._restarts = 0
        self._stopped = None
        self._notebook_output = self._cell_output = self._results_output = 0
        self._running_test = False
        self._replaying = False
        self._tests = graded_tests(notebook)
        self._given = frozenset(given_of(notebook))
        channels = channels_folder()
        try:
            os.chmod(channels, 0o755)
            self._channels = channels
            socket_path = os.path.join(channels, ORACLE_SOCKET)
            os.mkdir(os.path.dirname(socket_path), 0o755)
            self._oracle = OracleServer(socket_path)
            try:
                return super().preprocess(nb, resources, km)
            finally:
                self._oracle.close()
        finally:
            # Sandboxed kernels cannot write here; an unsandboxed one could leave a tree too
            # deep for shutil.rmtree, which rm removes.
            try:
                shutil.rmtree(channels)
            except (OSError, RecursionError):
                subprocess.run(["/bin/rm", "-rf", channels], check=False)

    def create_kernel_manager(self):
        km = super().create_kernel_manager()
        km.prepare(
            channel=tempfile.mkdtemp(dir=self._channels),
            submission=self.resources["metadata"]["path"],
            environment=sandbox.kernel_env(
                {
                    CASES_ENV: self._cases_json,
                    ORACLE_ENV: self._oracle.path,
                    "NBGRADER_EXECUTION": os.environ.get("NBGRADER_EXECUTION", "autograde"),
                }
            ),
            limits=sandbox.Limits(memory_bytes=self.memory_limit_bytes),
            sandboxed=not self.unsandboxed,
            oracle=os.path.dirname(self._oracle.path),
            library=library_of(self.resources["nbgrader"]["notebook"]),
            judge_only=judge_only_of(self.resources["nbgrader"]["notebook"]),
            withheld=withheld_of(self.resources["nbgrader"]["notebook"]),
        )
        return km

    async def async_start_new_kernel_client(self):
        for attempt in range(1, self.kernel_start_attempts + 1):
            try:
                return await super().async_start_new_kernel_client()
            except Exception as error:
                if attempt == self.kernel_start_attempts:
                    raise
                log = self.km.log_tail() if self.km is not None else ""
                self.log.warning("Kernel did not start (%s); trying again. %s", error, log)
                if self.km is not None:
                    await self._async_cleanup_kernel()
                self.km = self.create_kernel_manager()
                await self.async_start_new_kernel()

    start_new_kernel_client = run_sync(async_start_new_kernel_client)

    # --- one cell ------------------------------------------------------------------

    def _allow_references(self, cell) -> None:
        """The reference functions the kernel may call while ``cell`` runs."""
        allowed = set(self._given)
        name = cell.metadata.get("nbgrader", {}).get("grade_id")
        if utils.is_grade(cell) and not utils.is_solution(cell) and name in self._tests:
            allowed |= {*self._tests[name].standins, *self._tests[name].references}
        self._oracle.allowed = frozenset(allowed)

    def execute_cell(self, cell, cell_index, execution_count=None, store_history=True):
        self._allow_references(cell)
        self._running_test = utils.is_grade(cell) and not utils.is_solution(cell)
        try:
            return super().execute_cell(cell, cell_index, execution_count, store_history)
        finally:
            self._oracle.allowed = frozenset(self._given)

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code":
            return cell, self.resources
        if self._stopped is None and time.monotonic() > self._deadline:
            self._stopped = f"the notebook used up its {self.notebook_timeout} s"
        if self._stopped is not None:
            cell.outputs = [_error("NotRun", f"This cell was not run: {self._stopped}.")]
            return cell, self.resources
        self._cell_output = self._results_output = 0
        try:
            return super().preprocess_cell(cell, resources, index)
        except DeadKernelError:
            reason = "The kernel died while running this cell (e.g. os._exit, a crash, or memory)."
        except CellTimeoutError:
            reason = f"This cell did not finish within {self._get_timeout(cell)} s and was stopped."
        except KERNEL_MISBEHAVED as error:
            self.log.warning("Unreadable kernel message in cell %d: %r", index, error)
            reason = "The kernel sent a message the grader could not read (forged or corrupt)."
        cell.outputs = [out for out in cell.outputs if out.output_type != "error"]
        try:
            self._restart_and_replay(index)
            reason += " Grading went on with a fresh kernel."
        except OutOfBudget as stop:
            self._stopped = str(stop)
            reason += f" Grading of this notebook stopped: {stop}."
        cell.outputs.append(_error("CellFailed", reason))
        return cell, self.resources

    def _get_timeout(self, cell):
        timeout = super()._get_timeout(cell)
        mark = TIMEOUT_MARK.search(cell.source) if cell is not None else None
        if mark and utils.is_grade(cell) and not utils.is_solution(cell):
            timeout = int(mark.group(1))
        remaining = max(1, int(self._deadline - time.monotonic()))
        return min(timeout, remaining) if timeout else remaining

    def on_cell_executed(self, **kwargs):
        super().on_cell_executed(**kwargs)
        cell = kwargs["cell"]
        for out in cell.outputs:
            if out.output_type == "error":  # the reply's traceback bypasses output()
                out.evalue = out.get("evalue", "")[:2_000]
                out.traceback = out.get("traceback", [])[-30:]
        if any(out.get("ename") == "CellTimeoutError" for out in cell.outputs):
            # An interrupted cell may leave the kernel running (a loop that catches
            # KeyboardInterrupt): start from a clean kernel rather than let every
            # later cell time out behind it.
            raise CellTimeoutError(f"cell {kwargs['cell_index']} timed out")

    def _restart_and_replay(self, failed_index: int):
        """Fresh kernel, then re-run the earlier cells (outputs discarded) to rebuild state."""
        self._failed_cells.add(failed_index)
        while True:
            self._restarts += 1
            if self._restarts > self.max_restarts:
                raise OutOfBudget(f"the kernel was restarted {self.max_restarts} times")
            self.shutdown_kernel = "immediate"
            self._cleanup_kernel()
            self.km = self.create_kernel_manager()
            self.start_new_kernel()
            self.start_new_kernel_client()
            try:
                for index, earlier in enumerate(self.nb.cells[:failed_index]):
                    if index in self._failed_cells or earlier.cell_type != "code":
                        continue
                    if time.monotonic() > self._deadline:
                        raise OutOfBudget(f"the notebook used up its {self.notebook_timeout} s")
                    self._cell_output = self._results_output = 0
                    self._replaying = True
                    try:
                        self.execute_cell(copy.deepcopy(earlier), index, store_history=False)
                    finally:
                        self._replaying = False
                return
            except (DeadKernelError, CellTimeoutError, *KERNEL_MISBEHAVED):
                self._failed_cells.add(index)

    # --- output --------------------------------------------------------------------

    def output(self, outs, msg, display_id, cell_index):
        content = msg.get("content", {})
        # Results count as results only in a test cell; elsewhere they are output like any.
        is_results = (
            self._running_test
            and msg["msg_type"] == "display_data"
            and MIME in content.get("data", {})
        )
        out = super().output(outs, msg, None, cell_index)
        if out is None:
            return None
        size = _size(out)
        if is_results:
            self._results_output += size
            limit_ok = self._results_output <= self.max_results_bytes
        else:
            self._cell_output += size
            if not self._replaying:  # replayed outputs are thrown away
                self._notebook_output += size
            limit_ok = (
                self._cell_output <= self.max_cell_output_bytes
                and self._notebook_output <= self.max_notebook_output_bytes
            )
        if not limit_ok:
            outs.remove(out)
            if not any(o.get("text") == TRUNCATED for o in outs):
                outs.append(new_output("stream", name="stdout", text=TRUNCATED))
            return None
        return out

    def _update_display_id(self, display_id, msg):
        """Display updates are ignored: they could rewrite earlier cells' outputs."""

    def handle_comm_msg(self, outs, msg, cell_index):
        """Widget messages are ignored: their state is not kept in graded notebooks."""
