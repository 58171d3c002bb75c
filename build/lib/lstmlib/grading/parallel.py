"""Grading a class in parallel: which submissions to grade, on which workers, with progress.

The coordinator (``python -m lstmlib.grading autograde``) finds the submissions,
decides which need grading (``markers``), sends one task per submission to the
workers (``worker.run_task``), shows progress, records a marker for each
submission whose grades are in the gradebook, and sums up. Workers are either
local processes (``LocalWorkers``) or a Dask distributed cluster (``DaskWorkers``);
both run the same task.

Why it is faster than ``nbgrader autograde``: several submissions are graded at once
(while one worker waits on its kernel, the others compute), and a worker does less per
submission than nbgrader alone: it keeps its gradebook engine from one submission to
the next (``worker._share_database_engines``), and an SQLite gradebook is in WAL mode
while the batch runs (``sqlite_wal``), so that workers do not wait for each other's
reads. Kernels are never shared: nbgrader starts one for every notebook.
"""

from __future__ import annotations

import collections
import concurrent.futures as cf
import contextlib
import multiprocessing
import os
import re
import sys
import time
from collections.abc import Iterable, Iterator
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path

from tqdm import tqdm

from lstmlib.grading.markers import Markers, grading_digest
from lstmlib.grading.worker import AUTOGRADE, FEEDBACK, Course, Outcome, init_local_worker, run_task

SQLITE_BUSY_TIMEOUT_S = 60
DIED = "the grading process died while grading this submission (it was retried alone)"


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def with_busy_timeout(db_url: str) -> str:
    """An SQLite URL whose connections wait for other writers (up to a minute) instead of
    failing at once with "database is locked"; other URLs as they are."""
    from sqlalchemy.engine import make_url

    url = make_url(db_url)
    if url.get_backend_name() != "sqlite" or "timeout" in url.query:
        return db_url
    return url.update_query_dict({"timeout": str(SQLITE_BUSY_TIMEOUT_S)}).render_as_string(
        hide_password=False
    )


@contextlib.contextmanager
def sqlite_wal(db_url: str):
    """While grading, an SQLite gradebook in write-ahead-log mode; other URLs as they are.

    In SQLite's default (rollback-journal) mode a writer's commit waits until nobody
    reads, and readers wait while it commits; the waiting is spent asleep in SQLite's
    busy handler. Measured on 2 cores, 2 workers then kept 1.1 cores busy, and 1.5 in
    WAL mode, where readers and the writer go on at once. Afterwards the gradebook
    returns to a single file, so that copying ``gradebook.db`` copies all of it.
    When another program holds the gradebook open, the mode stays as it is.
    """
    import sqlite3

    from sqlalchemy.engine import make_url

    url = make_url(db_url)
    path = url.database
    if url.get_backend_name() != "sqlite" or not path or path == ":memory:":
        yield
        return

    def journal_mode(mode: str) -> None:
        with (
            contextlib.suppress(sqlite3.Error),
            contextlib.closing(sqlite3.connect(path, timeout=5)) as db,
        ):
            db.execute(f"PRAGMA journal_mode={mode}")

    journal_mode("WAL")
    try:
        yield
    finally:
        journal_mode("DELETE")


# --- the course ---------------------------------------------------------------------


@dataclass
class CourseInfo:
    """What the coordinator needs to know of the course (read from nbgrader's config)."""

    coursedir: object  # nbgrader.coursedir.CourseDirectory
    db_url: str
    course_id: str

    @property
    def root(self) -> Path:
        return Path(self.coursedir.root)

    def folder(self, step: str, student: str, assignment: str) -> Path:
        return Path(self.coursedir.format_path(step, student, assignment))

    def source(self, assignment: str) -> Path:
        return Path(self.coursedir.format_path(self.coursedir.source_directory, ".", assignment))


def load_course(config_dir: str, nbgrader_args: Iterable[str], db: str | None) -> CourseInfo:
    """The course's configuration, as ``nbgrader`` run in ``config_dir`` would read it."""
    from nbgrader.apps import AutogradeApp

    here = os.getcwd()
    os.chdir(config_dir)
    try:
        app = AutogradeApp()
        app.initialize(list(nbgrader_args))
    finally:
        os.chdir(here)
    coursedir = app.coursedir
    return CourseInfo(coursedir, db or coursedir.db_url, coursedir.course_id)


def find_students(info: CourseInfo, step: str, assignment: str, pattern: str) -> dict[str, Path]:
    """Student id -> folder of their ``assignment`` under ``step`` (e.g. submitted), for
    the students whose id matches the glob ``pattern`` and whose folder holds a notebook."""
    found = {}
    wanted = re.compile(
        info.coursedir.format_path(
            re.escape(step), "(?P<student>[^/]+)", re.escape(assignment), True
        )
    )
    for folder in sorted(Path(p) for p in _glob(info.folder(step, "*", assignment))):
        match = wanted.fullmatch(str(folder))
        if match and fnmatchcase(match["student"], pattern) and any(folder.glob("*.ipynb")):
            found[match["student"]] = folder
    return found


def _glob(path: Path) -> list[str]:
    import glob

    return glob.glob(str(path))


# --- workers --------------------------------------------------------------------------


class LocalWorkers:
    """``jobs`` worker processes on this machine (spawned: no state forked from here).

    At most ``jobs`` tasks are in flight, so when a worker process dies (which breaks a
    ``ProcessPoolExecutor``), only those few are affected: each is retried alone, and the
    one that kills its worker again is recorded as such; the batch goes on on a new pool.
    """

    def __init__(self, jobs: int):
        self.jobs = jobs
        self._pool = self._new_pool()

    def _new_pool(self):
        return cf.ProcessPoolExecutor(
            max_workers=self.jobs,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=init_local_worker,
        )

    def run(self, task_args: dict[str, tuple]) -> Iterator[Outcome]:
        queue = collections.deque(task_args)
        suspects: collections.deque[str] = collections.deque()
        in_flight: dict[cf.Future, tuple[str, bool]] = {}
        broken = False
        while queue or suspects or in_flight:
            if broken and not in_flight:
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = self._new_pool()
                broken = False
            if not broken:
                if suspects:
                    if not in_flight:  # a suspect runs alone, so a crash is its own
                        student = suspects.popleft()
                        future = self._pool.submit(run_task, *task_args[student])
                        in_flight[future] = (student, True)
                else:
                    while queue and len(in_flight) < self.jobs:
                        student = queue.popleft()
                        future = self._pool.submit(run_task, *task_args[student])
                        in_flight[future] = (student, False)
            done, _ = cf.wait(in_flight, return_when=cf.FIRST_COMPLETED)
            for future in done:
                student, alone = in_flight.pop(future)
                try:
                    yield future.result()
                except BrokenProcessPool:
                    broken = True
                    if alone:
                        yield Outcome(student, False, 0.0, DIED)
                    else:
                        suspects.append(student)
                except Exception as error:  # noqa: BLE001 (e.g. an unpicklable result)
                    yield Outcome(student, False, 0.0, f"{type(error).__name__}: {error}")

    def close(self):
        self._pool.shutdown(wait=True, cancel_futures=True)


class DaskWorkers:
    """The workers of a Dask distributed cluster (``tcp://host:port`` of its scheduler).

    Every worker must see the course folder at the same path (a shared file system) and
    reach the gradebook (use PostgreSQL beyond one machine). Give workers one thread each
    (``dask worker --nthreads 1 --nworkers N``): nbgrader changes the working directory, so
    a worker process grades one submission at a time whatever its threads.
    """

    def __init__(self, address: str):
        from distributed import Client

        self.client = Client(address)

    @property
    def jobs(self) -> int:
        return sum(w["nthreads"] for w in self.client.scheduler_info()["workers"].values())

    def run(self, task_args: dict[str, tuple]) -> Iterator[Outcome]:
        from distributed import as_completed

        futures = {
            self.client.submit(run_task, *args, pure=False, key=f"{args[0]}-{student}-{i}"): student
            for i, (student, args) in enumerate(task_args.items())
        }
        for future in as_completed(futures):
            student = futures[future]
            try:
                yield future.result()
            except Exception as error:  # noqa: BLE001 (a worker died: KilledWorker, ...)
                yield Outcome(student, False, 0.0, f"{type(error).__name__}: {error}")

    def close(self):
        self.client.close()


def make_workers(jobs: int | None, scheduler: str | None):
    if scheduler:
        return DaskWorkers(scheduler)
    return LocalWorkers(jobs or usable_cores())


# --- a batch ----------------------------------------------------------------------------


@dataclass
class Summary:
    kind: str
    assignment: str
    total: int  # submissions matched
    skipped: int  # unchanged since they were graded
    done: list[Outcome] = field(default_factory=list)
    seconds: float = 0.0
    jobs: int = 1

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.done if not o.ok]

    def text(self) -> str:
        graded = len(self.done) - len(self.failed)
        verb = "Graded" if self.kind == AUTOGRADE else "Generated feedback for"
        lines = [
            f"{verb} {graded} of {len(self.done)} submissions of {self.assignment} in "
            f"{self.seconds:.1f} s with {self.jobs} workers"
            + (f" ({self.seconds / len(self.done):.2f} s per submission)" if self.done else "")
            + (f"; {self.skipped} unchanged since graded, skipped" if self.skipped else "")
            + "."
        ]
        if self.failed:
            lines.append(f"{len(self.failed)} need attention:")
            lines += [f"  {o.student}: {o.reason}" for o in self.failed]
        return "\n".join(lines)


def run_batch(kind, workers, task_args: dict[str, tuple], on_outcome, log_path: Path):
    """Run every task, calling ``on_outcome`` as each completes; a progress bar meanwhile."""
    outcomes = []
    failures = 0
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with (
        open(log_path, "a") as log,
        tqdm(total=len(task_args), unit="submission", desc=kind, file=sys.stderr) as bar,
    ):
        bar.set_postfix(failures=0)
        for outcome in workers.run(task_args):
            on_outcome(outcome)
            outcomes.append(outcome)
            failures += not outcome.ok
            status = "ok" if outcome.ok else f"NEEDS ATTENTION: {outcome.reason}"
            log.write(
                f"== {outcome.student} ({outcome.seconds:.1f} s, {outcome.worker}) {status}\n"
            )
            if outcome.log:
                log.write(outcome.log.rstrip() + "\n")
            log.flush()
            bar.set_postfix(failures=failures)
            bar.update()
    return outcomes


def _check_assignment(info: CourseInfo, assignment: str) -> None:
    from nbgrader.api import Gradebook, MissingEntry

    # Opening the gradebook here also creates its tables before any worker writes.
    with Gradebook(info.db_url, info.course_id) as gradebook:
        try:
            gradebook.find_assignment(assignment)
        except MissingEntry:
            raise SystemExit(
                f"{assignment} is not in the gradebook ({info.db_url}): run "
                f"`nbgrader generate_assignment {assignment} --force` (with the same --db) first."
            ) from None


def graded_students(info: CourseInfo, assignment: str) -> set[str]:
    """Students with a submission of ``assignment`` in the gradebook."""
    from nbgrader.api import Gradebook

    with Gradebook(info.db_url, info.course_id) as gradebook:
        return {s.student.id for s in gradebook.assignment_submissions(assignment)}


def autograde(
    info: CourseInfo,
    course: Course,
    assignment: str,
    *,
    workers,
    pattern: str = "*",
    force: bool = False,
) -> Summary:
    """Grade every submission of ``assignment`` that needs it (all with ``force``)."""
    start = time.monotonic()
    _check_assignment(info, assignment)
    submitted = find_students(info, info.coursedir.submitted_directory, assignment, pattern)
    markers = Markers(info.root, assignment)
    in_gradebook = graded_students(info, assignment)
    source = info.source(assignment)
    digests, todo = {}, {}
    for student, folder in submitted.items():
        digests[student] = grading_digest(folder, source, info.db_url)
        autograded = info.folder(info.coursedir.autograded_directory, student, assignment)
        current = (
            markers.is_current(student, digests[student])
            and student in in_gradebook
            and all((autograded / nb.name).exists() for nb in folder.glob("*.ipynb"))
        )
        if force or not current:
            markers.forget(student)  # until its grades are in again
            todo[student] = (AUTOGRADE, course, assignment, student, True)

    def record(outcome: Outcome):
        if outcome.ok:
            markers.record_graded(outcome.student, digests[outcome.student])
        else:
            markers.record_failed(outcome.student, digests[outcome.student], outcome.reason)

    log_path = info.root / "logs" / f"autograde-{assignment}.log"
    with sqlite_wal(info.db_url):
        outcomes = run_batch(AUTOGRADE, workers, todo, record, log_path)
    return Summary(
        AUTOGRADE,
        assignment,
        len(submitted),
        len(submitted) - len(todo),
        outcomes,
        time.monotonic() - start,
        workers.jobs,
    )


def feedback(
    info: CourseInfo,
    course: Course,
    assignment: str,
    *,
    workers,
    pattern: str = "*",
    force: bool = False,
) -> Summary:
    """``nbgrader generate_feedback`` for every autograded student of ``assignment``."""
    start = time.monotonic()
    graded = find_students(info, info.coursedir.autograded_directory, assignment, pattern)
    todo = {s: (FEEDBACK, course, assignment, s, force) for s in graded}
    log_path = info.root / "logs" / f"feedback-{assignment}.log"
    with sqlite_wal(info.db_url):
        outcomes = run_batch(FEEDBACK, workers, todo, lambda outcome: None, log_path)
    return Summary(
        FEEDBACK, assignment, len(graded), 0, outcomes, time.monotonic() - start, workers.jobs
    )
