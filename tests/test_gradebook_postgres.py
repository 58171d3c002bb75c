"""A gradebook in PostgreSQL, two graders writing at once, and grading on a Dask cluster.

The fixture starts a real PostgreSQL server (Debian's ``postgresql`` package; ``make
postgres`` installs it) in a temporary folder, listening only on a Unix socket there
(no network), as an unprivileged user when the tests run as root (PostgreSQL refuses
to run as root). Scores are compared with serial ``nbgrader autograde`` into SQLite.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import cases_02_lstm_forward as cases
import pytest
from parallel_harness import ENV, cli, make_course, scores

pytestmark = pytest.mark.slow
A = cases.ASSIGNMENT
USER = "grader"


def _server_binaries() -> Path | None:
    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if os.path.exists(os.path.join(folder, "initdb")):
            return Path(folder)
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


@pytest.fixture(scope="module")
def postgres():
    """A running PostgreSQL server; yields a function making a fresh database's URL."""
    binaries = _server_binaries()
    if binaries is None:
        message = (
            "PostgreSQL's server is not installed (make postgres, or apt-get install postgresql)"
        )
        if os.environ.get("CI"):
            pytest.fail(message)  # CI installs it: a skip there would hide a broken set-up
        pytest.skip(message)
    # Not under pytest's tmp_path: its parents are private to root, and the server's user
    # must reach its folder. The socket lives there too (no TCP port at all).
    folder = tempfile.mkdtemp(prefix="lstm-pg-")
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(folder, "nobody")
        as_user = ["runuser", "-u", "nobody", "--"]
    data = os.path.join(folder, "data")

    def run(*command):
        result = subprocess.run(command, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, (command, result.stdout, result.stderr)

    run(*as_user, binaries / "initdb", "-D", data, "-U", USER, "--auth=trust", "--no-sync")
    options = f"-k {folder} -c listen_addresses='' -c fsync=off -c max_connections=200"
    log = os.path.join(folder, "server.log")
    run(*as_user, binaries / "pg_ctl", "-D", data, "-l", log, "-o", options, "-w", "start")
    names = iter(range(1000))

    def new_database() -> str:
        name = f"gradebook{next(names)}"
        run(binaries / "createdb", "-h", folder, "-U", USER, name)
        return f"postgresql+psycopg2://{USER}@/{name}?host={folder}"

    try:
        yield new_database
    finally:
        subprocess.run(
            [*as_user, binaries / "pg_ctl", "-D", data, "-m", "immediate", "stop"],
            capture_output=True,
        )
        shutil.rmtree(folder, ignore_errors=True)


def test_grading_into_postgresql_equals_serial_sqlite(postgres, tmp_path, serial_02_scores):
    url = postgres()
    make_course(tmp_path, cases, db=url)
    result = cli(tmp_path, "autograde", A, "--jobs", "2", db=url)
    assert "Graded 12 of 13" in result.stdout, result.stdout + result.stderr[-3000:]
    assert scores(url, A) == serial_02_scores
    assert not (tmp_path / "gradebook.db").exists()  # nothing went to SQLite by mistake


def test_two_graders_writing_at_once_both_land(postgres, tmp_path, serial_02_scores):
    url = postgres()
    make_course(tmp_path, cases, db=url)
    # Two instructors (or machines) grade disjoint halves of the class at the same time.
    first = cli(tmp_path, "autograde", A, "--jobs", "2", "--student", "[a-f]*", db=url, popen=True)
    second = cli(
        tmp_path, "autograde", A, "--jobs", "2", "--student", "[!a-f]*", db=url, popen=True
    )
    outputs = [process.communicate(timeout=900) for process in (first, second)]
    assert all("need attention" not in out or "corrupt_file" in out for out, _ in outputs)
    halves = [{s for s in serial_02_scores if s[0] in "abcdef"}, None]
    halves[1] = set(serial_02_scores) - halves[0]
    assert halves[0] and halves[1]
    for (out, err), half in zip(outputs, halves, strict=True):
        graded = len(half - {"corrupt_file"})
        assert f"Graded {graded} of {len(half)}" in out, out + err[-3000:]
    assert scores(url, A) == serial_02_scores


def test_dask_cluster_grades_into_postgresql(postgres, tmp_path, serial_02_scores, monkeypatch):
    from distributed import Client, LocalCluster

    url = postgres()
    make_course(tmp_path, cases, db=url)
    for key, value in ENV.items():  # the workers' environment: the course's secret
        monkeypatch.setenv(key, value)
    with LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        memory_limit=0,
        host="127.0.0.1",
    ) as cluster:
        result = cli(tmp_path, "autograde", A, "--scheduler", cluster.scheduler_address, db=url)
        with Client(cluster) as client:
            worker_pids = set(client.run(os.getpid).values())
    assert "Graded 12 of 13" in result.stdout, result.stdout + result.stderr[-3000:]
    assert "with 2 workers" in result.stdout
    assert scores(url, A) == serial_02_scores
    # The tasks ran on the cluster's two workers, not in the command's own processes.
    log = (tmp_path / "logs" / f"autograde-{A}.log").read_text()
    used = {int(pid) for pid in re.findall(r"^== \S+ \([\d.]+ s, [^:]*:(\d+)\)", log, re.M)}
    assert used and used <= worker_pids
