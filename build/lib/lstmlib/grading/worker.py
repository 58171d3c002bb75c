"""One submission, graded (or given its feedback) by nbgrader, in a long-lived process.

``run_task`` is what the parallel grader sends to its workers: local processes
(``concurrent.futures``, spawn) or the workers of a Dask cluster. Each worker process
loads nbgrader and the course's configuration once (about 1.7 s that ``nbgrader
autograde`` pays at every start) and then runs nbgrader's own converter
(``Autograde`` or ``GenerateFeedback``) for one student per task, exactly as
``nbgrader autograde ASSIGNMENT --student S --force`` would, with the course's
sanitize and autograde preprocessors and its sandbox. Every notebook gets a kernel
of its own (nbgrader starts one per notebook), so no kernel serves two students.

A task never raises: whatever goes wrong (an unreadable notebook, a crash inside
nbgrader, the gradebook refusing a write) comes back as an ``Outcome`` with the
reason, and the batch goes on.
"""

from __future__ import annotations

import ctypes
import glob
import logging
import os
import random
import signal
import socket
import threading
import time
import traceback
from dataclasses import dataclass

AUTOGRADE = "autograde"
FEEDBACK = "feedback"
# Errors that mean "try the same submission again": a gradebook busy with other writers.
TRANSIENT = ("database is locked", "database table is locked", "could not serialize access")
ATTEMPTS = 4


@dataclass(frozen=True)
class Course:
    """Where a worker finds the course: the folder holding ``nbgrader_config.py`` (a shared
    path on every machine that grades) and nbgrader options (``--CourseDirectory.db_url=...``).
    """

    config_dir: str
    nbgrader_args: tuple[str, ...] = ()


@dataclass(frozen=True)
class Outcome:
    student: str
    ok: bool
    seconds: float
    reason: str | None = None  # why the submission needs attention (ok is False)
    log: str = ""  # what nbgrader logged while doing it (warnings and errors)
    worker: str = ""  # host:pid, to tell where it ran


class _Records(logging.Handler):
    """Collects the log records of one task."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.records: list[logging.LogRecord] = []

    def emit(self, record):
        self.records.append(record)


_apps: dict = {}  # (kind, course) -> the nbgrader application, once per process
_one_at_a_time = threading.Lock()  # nbgrader changes directory: one task per process


def _share_database_engines() -> None:
    """One SQLAlchemy engine per gradebook URL for the life of this process.

    nbgrader creates an engine whenever it opens the gradebook (about nine times per
    submission graded), and every new engine starts with an empty cache of compiled
    queries: about 10 ms of CPU per opening, a tenth of a worker's own time. A worker
    grades submission after submission, so it keeps its engines. nbgrader still closes
    its sessions and disposes of the engine's connections after each use, as before.
    """
    import nbgrader.api

    if getattr(nbgrader.api.create_engine, "shared", False):
        return
    create = nbgrader.api.create_engine
    engines = {}

    def create_engine(url, **options):
        key = (str(url), tuple(sorted(options.items())))
        if key not in engines:
            engines[key] = create(url, **options)
        return engines[key]

    create_engine.shared = True
    nbgrader.api.create_engine = create_engine


def _application(kind: str, course: Course):
    key = (kind, course)
    if key not in _apps:
        from nbgrader.apps import AutogradeApp, GenerateFeedbackApp

        _share_database_engines()

        os.chdir(course.config_dir)  # nbgrader reads nbgrader_config.py from here
        app = (AutogradeApp if kind == AUTOGRADE else GenerateFeedbackApp)()
        app.initialize(list(course.nbgrader_args))
        for handler in list(app.log.handlers):  # the coordinator reports; workers stay quiet
            app.log.removeHandler(handler)
        app.log.propagate = False
        app.log.setLevel(logging.INFO)
        # Python warnings (nbgrader's SQLAlchemy and nbformat ones) go to the task's log too.
        logging.captureWarnings(True)
        logging.getLogger("py.warnings").propagate = False
        _apps[key] = app
    return _apps[key]


def _reason(records: list[logging.LogRecord], error: BaseException | None) -> str:
    """The most telling line: the last line of the traceback nbgrader logged, if any."""
    if error is not None and not _is_nbgrader_summary(error):
        return f"{type(error).__name__}: {error}"
    for record in records:
        message = record.getMessage()
        if record.levelno >= logging.ERROR and message.startswith("Traceback"):
            lines = [line for line in message.strip().splitlines() if line.strip()]
            return lines[-1].strip()
    errors = [r.getMessage() for r in records if r.levelno >= logging.ERROR]
    return errors[0] if errors else "nbgrader reported an error without a message"


def _is_nbgrader_summary(error: BaseException) -> bool:
    from nbgrader.converters import NbGraderException

    return isinstance(error, NbGraderException)


def _convert(kind: str, course: Course, assignment: str, student: str, force: bool):
    from nbgrader.converters import Autograde, GenerateFeedback

    app = _application(kind, course)
    os.chdir(course.config_dir)
    app.coursedir.assignment_id = assignment
    app.coursedir.student_id = glob.escape(student)  # nbgrader globs it
    converter_class = Autograde if kind == AUTOGRADE else GenerateFeedback
    converter = converter_class(coursedir=app.coursedir, parent=app)
    converter.force = force
    converter.start()


def run_task(kind: str, course: Course, assignment: str, student: str, force: bool = True):
    """Grade (``kind="autograde"``) or give feedback to (``"feedback"``) one student."""
    start = time.monotonic()
    with _one_at_a_time:
        app = _application(kind, course)
        for attempt in range(1, ATTEMPTS + 1):
            records = _Records()
            app.log.addHandler(records)
            logging.getLogger("py.warnings").addHandler(records)
            error = None
            try:
                _convert(kind, course, assignment, student, force)
            except (Exception, SystemExit) as caught:  # a task must never raise
                error = caught
                if not _is_nbgrader_summary(caught):
                    records.records.append(
                        logging.makeLogRecord(
                            {"levelno": logging.ERROR, "msg": traceback.format_exc()}
                        )
                    )
            finally:
                app.log.removeHandler(records)
                logging.getLogger("py.warnings").removeHandler(records)
            log = "\n".join(
                f"[{r.levelname}] {r.getMessage()}"
                for r in records.records
                if r.levelno >= logging.WARNING
            )
            if error is None:
                return Outcome(student, True, time.monotonic() - start, None, log, _where())
            reason = _reason(records.records, error)
            if attempt < ATTEMPTS and any(t in log or t in reason for t in TRANSIENT):
                time.sleep(random.uniform(0.5, 2.0) * attempt)  # let the other writer finish
                continue
            return Outcome(student, False, time.monotonic() - start, reason, log, _where())
    raise AssertionError("unreachable")


def _where() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


PR_SET_PDEATHSIG = 1


def init_local_worker() -> None:
    """For local worker processes: die with the coordinator, and leave Ctrl-C to it.

    Killed at any moment (even by SIGKILL, which it cannot catch), the coordinator takes
    its workers with it, and bubblewrap (``--die-with-parent``) their kernels.
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: workers then exit on their own
        pass
    if os.getppid() == 1:  # the coordinator died before prctl took effect
        os._exit(1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
