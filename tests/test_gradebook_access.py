"""How the graders open the gradebook: SQLite in WAL mode while grading, and one engine
per gradebook in each worker process, which must still see what other graders write."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import subprocess
import sys

from parallel_harness import env

from lstmlib.grading.parallel import sqlite_wal


def connect(path):
    """A connection that is closed at the end of ``with`` (sqlite3's own only commits)."""
    return contextlib.closing(sqlite3.connect(path, isolation_level=None))


def _journal_mode(path) -> str:
    with connect(path) as db:
        return db.execute("PRAGMA journal_mode").fetchone()[0]


def test_sqlite_wal_mode_only_while_grading(tmp_path):
    path = tmp_path / "gradebook.db"
    with connect(path) as db:
        db.execute("CREATE TABLE grade (student TEXT, score REAL)")
    url = f"sqlite:///{path}?timeout=60"
    with sqlite_wal(url):
        assert _journal_mode(path) == "wal"
        with connect(path) as db:
            db.execute("INSERT INTO grade VALUES ('a', 1.0)")
    assert _journal_mode(path) == "delete"
    assert not (tmp_path / "gradebook.db-wal").exists()

    # Another program still reading at the end: the mode stays, and nothing is lost.
    reader = sqlite3.connect(path)
    with sqlite_wal(url):
        with connect(path) as db:
            db.execute("INSERT INTO grade VALUES ('b', 2.0)")
        reader.execute("BEGIN")
        reader.execute("SELECT * FROM grade").fetchall()
    assert _journal_mode(path) == "wal"
    reader.rollback()
    reader.close()
    with connect(path) as db:
        assert db.execute("SELECT * FROM grade").fetchall() == [("a", 1.0), ("b", 2.0)]
    with sqlite_wal("postgresql://nobody@localhost/none"):  # other databases: untouched
        pass


def test_a_worker_shares_its_engines_and_still_sees_other_writers(tmp_path):
    # In a process of its own: sharing engines changes nbgrader.api for that process.
    url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    script = f"""
import json, sqlite3
from nbgrader.api import Gradebook
from lstmlib.grading.worker import _share_database_engines
_share_database_engines()
with Gradebook({url!r}) as gradebook:
    gradebook.add_student("ada")
    engine = gradebook.engine
with sqlite3.connect({str(tmp_path / "gradebook.db")!r}) as db:  # another grader writes
    db.execute("INSERT INTO student (id) VALUES ('grace')")
with Gradebook({url!r}) as gradebook:
    print(json.dumps({{"shared": gradebook.engine is engine,
                      "students": sorted(s.id for s in gradebook.students)}}))
"""
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        env=env(),  # with alembic on PATH: nbgrader runs it to create the gradebook
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.splitlines()[-1]) == {
        "shared": True,
        "students": ["ada", "grace"],
    }
