"""Red team: hostile submissions, graded by the real nbgrader beside honest ones.

For each of three exercises (01-rnn and 02-lstm-forward in NumPy, 06-convlstm in
PyTorch), one batch is released, submitted and autograded once, in a throwaway
course folder: the attacks of ``red_team_attacks`` (one student each) and two
honest students (the solution and a realistic wrong answer). Then:

1. no attack earns more than the honest work underneath it (exactly that, where
   the honest score is determined);
2. the honest students get exactly their scores;
3. every submission is graded on every test cell (the batch completes);
4. no feedback page and no graded notebook shows the grading secret or an
   expected value of a hidden case;
5. nothing outside the sandboxes changed: the gradebook is intact and its scores
   stay put after a wait (for detached processes), the repository's code and
   solutions and the other students' submissions are unchanged, no marker file an
   attack tried to create exists, no kernel reached a TCP server on 127.0.0.1,
   the grader's disk use stays bounded and its temporary folder is cleaned up,
   and graded notebooks stay small.

A failing test here is a hole in the grading machinery: see the attack's
docstring in ``red_team_attacks`` for what the student gains.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import site
import socket
import sqlite3
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import cases_01_rnn
import cases_02_lstm_forward
import cases_06_convlstm
import nbformat
import numpy as np
import pytest
from nbgrader.api import Gradebook
from nbgrader_harness import REPO, nbgrader, release, submit
from red_team_attacks import ATTACKS, TOKEN, Kit, honest_students

from lstmlib.grading.assignments import graded_tests
from lstmlib.grading.judge import grading_cases

pytestmark = pytest.mark.slow

CASES = {
    cases.ASSIGNMENT: cases for cases in (cases_01_rnn, cases_02_lstm_forward, cases_06_convlstm)
}
# A detached process would act within this many seconds after nbgrader exits.
SETTLE_SECONDS = 6
# The sandbox's own writable space is two tmpfs of 512 MiB; the folder it shares with the
# grader on the grader's disk should hold sockets, a log and a copy of one submission.
HOST_DISK_LIMIT = 100 * 2**20
# Outputs are capped at 2 MB per notebook and test cells hold only verdicts.
NOTEBOOK_LIMIT = 4 * 2**20
# How check_array quotes an expected value: f"expected {value:.6g}".
EXPECTED_VALUE = re.compile(r"expected (-?\d+(?:\.\d+)?(?:e[+-]\d+)?)")

ATTACK_IDS = [(assignment, name) for assignment in CASES for name in ATTACKS[assignment]]


# --- What the test watches from outside ----------------------------------------------


class Listener:
    """A TCP (and UDP) server on 127.0.0.1 that no kernel should reach."""

    def __init__(self):
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.settimeout(0.2)
        self.port = self.server.getsockname()[1]
        self.connections: list = []
        self._stop = threading.Event()
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        with contextlib.suppress(OSError):
            self.udp.bind(("127.0.0.1", self.port))
        self.udp.settimeout(0.2)
        self._threads = [
            threading.Thread(target=self._accept, daemon=True),
            threading.Thread(target=self._receive, daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def _accept(self):
        while not self._stop.is_set():
            try:
                connection, address = self.server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with connection:
                connection.settimeout(1)
                with contextlib.suppress(OSError):
                    self.connections.append(("tcp", address, connection.recv(200)))

    def _receive(self):
        while not self._stop.is_set():
            try:
                data, address = self.udp.recvfrom(200)
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections.append(("udp", address, data))

    def close(self):
        self._stop.set()
        for thread in self._threads:
            thread.join()
        self.server.close()
        self.udp.close()


class DiskWatch:
    """The peak size of a folder (the grader's temporary folder), sampled with du."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self):
        while not self._stop.wait(0.3):
            result = subprocess.run(["du", "-sb", str(self.folder)], capture_output=True, text=True)
            with contextlib.suppress(ValueError, IndexError):
                self.peak = max(self.peak, int(result.stdout.split()[0]))

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


@dataclass
class Grades:
    """One submission's grades in the gradebook."""

    auto: dict[str, float | None]  # per test cell
    max_scores: dict[str, float]
    total: float  # nbgrader's own total for the submission

    @property
    def earned(self) -> float:
        return sum(score or 0 for score in self.auto.values())

    @property
    def graded_tests(self) -> set[str]:
        return {test for test, score in self.auto.items() if score is not None}


def read_gradebook(root: Path, assignment: str) -> dict[str, Grades]:
    grades = {}
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gradebook:
        for submission in gradebook.assignment_submissions(assignment):
            auto, max_scores = {}, {}
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    if grade.cell.name.startswith("test_"):
                        auto[grade.cell.name] = grade.auto_score
                        max_scores[grade.cell.name] = grade.max_score
            grades[submission.student.id] = Grades(auto, max_scores, submission.score)
    return grades


def hashes(paths) -> dict[str, str]:
    return {
        str(path): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(paths)
        if path.is_file()
    }


def repository_files():
    return [
        *REPO.glob("lstmlib/**/*.py"),
        *REPO.glob("solutions/**/*"),
        REPO / "nbgrader_config.py",
    ]


def marker_files(*roots: Path) -> list[str]:
    """Files anywhere under ``roots`` (or next to them, for /tmp and the like) named with TOKEN."""
    deep = [str(path) for path in roots if path.exists()]
    shallow = [Path("/tmp"), Path.home(), REPO, *map(Path, site.getsitepackages())]
    found = []
    for folders, depth in (
        (deep, []),
        ([str(p) for p in shallow if p.exists()], ["-maxdepth", "2"]),
    ):
        result = subprocess.run(
            ["find", *folders, *depth, "-name", f"*{TOKEN}*"], capture_output=True, text=True
        )
        found += result.stdout.split()
    return sorted(set(found))


def hidden_expected_strings(assignment: str, secret: bytes) -> set[str]:
    """Every hidden expected value of the tests that must not reveal them, as a message
    would quote it (``.6g``), less those that some visible case's expected values share."""
    cases = grading_cases(assignment, secret)
    hidden, visible = set(), set()
    for name, test in graded_tests(assignment).items():
        if test.judge is not None or test.reveal_hidden:
            continue
        for case in cases[name]:
            for value in test.expected(*test.arguments(case)).values():
                value = value.detach().numpy() if hasattr(value, "detach") else value
                strings = {f"{v:.6g}" for v in np.asarray(value, dtype=np.float64).ravel()}
                (hidden if case.hidden else visible).update(strings)
    return hidden - visible


# --- One batch per exercise --------------------------------------------------------


@dataclass
class Batch:
    assignment: str
    root: Path
    grader_tmp: Path
    deserved: dict[str, float]  # student -> honest score
    honest: tuple[str, ...]
    autograde: subprocess.CompletedProcess
    feedback: subprocess.CompletedProcess
    grades: dict[str, Grades]
    grades_later: dict[str, Grades]
    repository_before: dict[str, str]
    repository_after: dict[str, str]
    submitted_before: dict[str, str]
    submitted_after: dict[str, str]
    peak_grader_tmp_bytes: int
    leftovers: list[str]
    connections: list = field(default_factory=list)
    seconds: float = 0.0


def grade_batch(assignment: str, tmp_path_factory, listener: Listener) -> Batch:
    cases = CASES[assignment]
    root = tmp_path_factory.mktemp(f"red-team-{assignment}")
    grader_tmp = tmp_path_factory.mktemp(f"grader-tmp-{assignment}")
    released_dir = release(root, assignment)
    kit = Kit(
        assignment=assignment,
        notebook=cases.NOTEBOOK,
        points=cases.POINTS,
        released=nbformat.read(released_dir / f"{cases.NOTEBOOK}.ipynb", as_version=4),
        solution_source=nbformat.read(
            REPO / "solutions" / assignment / f"{cases.NOTEBOOK}.ipynb", as_version=4
        ),
        port=listener.port,
    )
    students = honest_students(kit)
    honest = tuple(students)
    for name, attack in ATTACKS[assignment].items():
        students[name] = attack.build(kit)
    for student, (nb, _) in students.items():
        submit(root, assignment, student, nb, cases.NOTEBOOK)

    connections_before = len(listener.connections)
    repository_before = hashes(repository_files())
    submitted_before = hashes((root / "submitted").rglob("*"))
    watch = DiskWatch(grader_tmp)
    started = time.monotonic()
    # The kernels' socket folders go to the grader's temporary folder: watch it there.
    autograde = nbgrader(root, "autograde", assignment, env={"TMPDIR": str(grader_tmp)})
    finished = time.monotonic()
    grades = read_gradebook(root, assignment)
    feedback = nbgrader(root, "generate_feedback", assignment)
    time.sleep(max(0.0, SETTLE_SECONDS - (time.monotonic() - finished)))
    peak = watch.stop()
    leftovers = sorted(p.name for p in grader_tmp.iterdir())
    # A folder tree too deep for shutil.rmtree (an attack leaves one) would break the
    # clean-up of pytest's own temporary folders later: remove what is left with rm.
    subprocess.run(["rm", "-rf", *(str(grader_tmp / name) for name in leftovers)], check=True)
    return Batch(
        assignment=assignment,
        root=root,
        grader_tmp=grader_tmp,
        deserved={student: score for student, (_, score) in students.items()},
        honest=honest,
        autograde=autograde,
        feedback=feedback,
        grades=grades,
        grades_later=read_gradebook(root, assignment),
        repository_before=repository_before,
        repository_after=hashes(repository_files()),
        submitted_before=submitted_before,
        submitted_after=hashes((root / "submitted").rglob("*")),
        peak_grader_tmp_bytes=peak,
        leftovers=leftovers,
        connections=listener.connections[connections_before:],
        seconds=finished - started,
    )


@pytest.fixture(scope="module")
def listener():
    server = Listener()
    yield server
    server.close()


@pytest.fixture(scope="module")
def batch_of(tmp_path_factory, listener):
    """``batch_of(assignment)``: that exercise's batch, graded once for the whole module."""
    batches = {}

    def get(assignment: str) -> Batch:
        if assignment not in batches:
            batches[assignment] = grade_batch(assignment, tmp_path_factory, listener)
        return batches[assignment]

    return get


def log_of(batch: Batch, student: str) -> str:
    """The warnings and errors in nbgrader's log while it graded ``student``."""
    lines = (batch.autograde.stdout + batch.autograde.stderr).splitlines()
    mine = [i for i, line in enumerate(lines) if f"/submitted/{student}/" in line]
    if not mine:
        return ""
    end = next(
        (i for i in range(mine[-1] + 1, len(lines)) if "/submitted/" in lines[i]), len(lines)
    )
    block = [line for line in lines[mine[0] : end] if re.search(r"ERROR|WARN|Error", line)]
    return "nbgrader's log:\n" + "\n".join(block[-12:])


def graded_files(batch: Batch) -> list[Path]:
    return [
        *(batch.root / "feedback").rglob("*.html"),
        *(batch.root / "autograded").rglob("*.ipynb"),
    ]


# --- 1 and 3: every attack, one by one ----------------------------------------------


@pytest.mark.parametrize(
    ("assignment", "name"), ATTACK_IDS, ids=[f"{a}/{n}" for a, n in ATTACK_IDS]
)
def test_attack_earns_no_more_than_the_honest_work(batch_of, assignment, name):
    batch = batch_of(assignment)
    attack = ATTACKS[assignment][name]
    deserved = batch.deserved[name]
    grades = batch.grades.get(name)
    assert grades is not None, f"{name} is not in the gradebook:\n{log_of(batch, name)}"
    detail = (
        f"{attack.category}: {attack.hope}\nhonest score {deserved}, grades: {grades}\n"
        f"{log_of(batch, name)}"
    )
    assert grades.total == grades.earned, detail  # nothing but the test cells scores
    if attack.exact:
        assert grades.earned == deserved, detail
    else:
        assert grades.earned <= deserved, detail


@pytest.mark.parametrize(
    ("assignment", "name"), ATTACK_IDS, ids=[f"{a}/{n}" for a, n in ATTACK_IDS]
)
def test_attacked_notebook_is_graded_on_every_test(batch_of, assignment, name):
    batch = batch_of(assignment)
    points = CASES[assignment].POINTS
    grades = batch.grades.get(name)
    assert grades is not None, f"{name} is not in the gradebook:\n{log_of(batch, name)}"
    assert grades.graded_tests == set(points), (
        f"{name} was left ungraded ({ATTACKS[assignment][name].hope})\n{log_of(batch, name)}"
    )
    assert grades.max_scores == points


# --- 2: the honest students in the same batches ------------------------------------


@pytest.mark.parametrize("assignment", CASES)
def test_honest_students_get_exactly_their_scores(batch_of, assignment):
    batch = batch_of(assignment)
    points = CASES[assignment].POINTS
    for student in batch.honest:
        grades = batch.grades[student]
        assert grades.graded_tests == set(points), (student, grades)
        assert grades.max_scores == points, (student, grades)
        assert grades.earned == batch.deserved[student], (student, grades)
        assert grades.total == batch.deserved[student], (student, grades)


# --- 4: no secret and no hidden expected value shown -------------------------------


@pytest.mark.parametrize("assignment", CASES)
def test_no_secret_or_hidden_expected_value_is_shown(batch_of, assignment):
    batch = batch_of(assignment)
    pages = list((batch.root / "feedback").rglob("*.html"))
    assert len(pages) >= len(batch.honest), batch.feedback.stdout + batch.feedback.stderr
    secret = (batch.root / "grading-secret").read_text().strip()
    assert len(secret) >= 32
    hidden = hidden_expected_strings(assignment, secret.encode())
    assert hidden, "the exercise should have hidden expected values to protect"
    logs = batch.autograde.stdout + batch.autograde.stderr + batch.feedback.stdout
    assert secret not in logs + batch.feedback.stderr
    quoted_anywhere = set()
    for path in graded_files(batch):
        text = path.read_text(errors="replace")
        assert secret not in text, path
        quoted = set(EXPECTED_VALUE.findall(text))
        assert not quoted & hidden, (path, sorted(quoted & hidden)[:5])
        quoted_anywhere |= quoted
    # The scan does see the judge's wording: the wrong answer's visible case is quoted.
    assert quoted_anywhere


# --- 5: side effects outside the sandboxes -----------------------------------------


@pytest.mark.parametrize("assignment", CASES)
def test_gradebook_is_intact_and_stays_put(batch_of, assignment):
    batch = batch_of(assignment)
    with contextlib.closing(sqlite3.connect(batch.root / "gradebook.db")) as db:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master")]
    assert not [t for t in tables if TOKEN in t], tables
    assert batch.grades_later == batch.grades


@pytest.mark.parametrize("assignment", CASES)
def test_repository_code_and_solutions_are_unchanged(batch_of, assignment):
    batch = batch_of(assignment)
    before, after = batch.repository_before, batch.repository_after
    changed = sorted(p for p in before.keys() | after.keys() if before.get(p) != after.get(p))
    assert not changed


@pytest.mark.parametrize("assignment", CASES)
def test_submitted_notebooks_are_unchanged(batch_of, assignment):
    batch = batch_of(assignment)
    assert batch.submitted_after == batch.submitted_before


@pytest.mark.parametrize("assignment", CASES)
def test_no_marker_file_outside_the_sandboxes(batch_of, assignment):
    batch = batch_of(assignment)
    roots = [batch.root, batch.grader_tmp, REPO / "lstmlib", REPO / "solutions", REPO / "tests"]
    roots += [REPO / "exercises", REPO / ".grading"]
    assert marker_files(*roots) == []


@pytest.mark.parametrize("assignment", CASES)
def test_no_kernel_reaches_the_network(batch_of, assignment):
    assert batch_of(assignment).connections == []


@pytest.mark.parametrize("assignment", CASES)
def test_graded_notebooks_stay_small(batch_of, assignment):
    batch = batch_of(assignment)
    sizes = {p.parts[-3]: p.stat().st_size for p in (batch.root / "autograded").rglob("*.ipynb")}
    assert len(sizes) >= len(batch.honest)
    assert {student: size for student, size in sizes.items() if size > NOTEBOOK_LIMIT} == {}


@pytest.mark.parametrize("assignment", CASES)
def test_grader_disk_use_is_bounded(batch_of, assignment):
    batch = batch_of(assignment)
    assert batch.peak_grader_tmp_bytes < HOST_DISK_LIMIT, (
        f"{batch.peak_grader_tmp_bytes >> 20} MiB in the grader's temporary folder"
    )


@pytest.mark.parametrize("assignment", CASES)
def test_grader_cleans_up_its_temporary_folder(batch_of, assignment):
    batch = batch_of(assignment)
    assert batch.leftovers == []
