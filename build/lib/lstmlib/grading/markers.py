"""What a re-run of the parallel grader grades: one marker per graded submission.

A marker records the digest of what was graded (the submission's files, the
assignment's source files, and the gradebook it went to), and it is written only
after that submission's grading returned, i.e. after nbgrader committed its grades
to the gradebook. So a run killed at any moment leaves either a valid marker (the
grades are in) or none (the submission is graded again next time): a re-run grades
the submissions that are new, changed, or without a valid marker.

A submission that could not be graded gets a failure record instead (the reason,
for the instructor's report); it is graded again on the next run, and the record
is removed once it is graded.

Layout, under the course's grading folder::

    markers/<assignment>/<student>.json          graded: {"digest": ..., "graded_at": ...}
    markers/<assignment>/<student>.failed.json   not graded: {"digest": ..., "reason": ...}
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

from sqlalchemy.engine import make_url

# Files nbgrader itself ignores in a submission folder.
IGNORED_PARTS = {".ipynb_checkpoints", "__pycache__"}


def _files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and not IGNORED_PARTS & set(p.relative_to(folder).parts)
    )


def folder_digest(folder: str | os.PathLike) -> str:
    """sha256 over every file's relative path and bytes (no timestamps: a copy is the same)."""
    folder = Path(folder)
    digest = hashlib.sha256()
    for path in _files(folder):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def gradebook_identity(db_url: str) -> str:
    """The gradebook a marker belongs to: the URL without password or connection options."""
    url = make_url(db_url)
    return url._replace(password=None, query={}).render_as_string(hide_password=True)


def grading_digest(submission: Path, source: Path, db_url: str) -> str:
    """What a marker must match: submission, assignment source and gradebook alike."""
    parts = [folder_digest(submission), folder_digest(source), gradebook_identity(db_url)]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _write_atomically(path: Path, record: dict) -> None:
    """Readers see the old file or the new one, never half of one (also after a SIGKILL)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w") as stream:
        json.dump(record, stream)
        stream.flush()
        os.fsync(stream.fileno())
    os.replace(tmp, path)


class Markers:
    """The markers of one assignment, in ``<grading root>/markers/<assignment>/``."""

    def __init__(self, root: str | os.PathLike, assignment: str):
        self.folder = Path(root) / "markers" / assignment

    def _graded(self, student: str) -> Path:
        return self.folder / f"{student}.json"

    def _failed(self, student: str) -> Path:
        return self.folder / f"{student}.failed.json"

    def is_current(self, student: str, digest: str) -> bool:
        try:
            record = json.loads(self._graded(student).read_text())
        except (OSError, ValueError):
            return False
        return isinstance(record, dict) and record.get("digest") == digest

    def record_graded(self, student: str, digest: str) -> None:
        """Call only once the submission's grades are committed to the gradebook."""
        _write_atomically(self._graded(student), {"digest": digest, "graded_at": time.time()})
        self._failed(student).unlink(missing_ok=True)

    def record_failed(self, student: str, digest: str, reason: str) -> None:
        self._graded(student).unlink(missing_ok=True)
        record = {"digest": digest, "reason": reason, "failed_at": time.time()}
        _write_atomically(self._failed(student), record)

    def forget(self, student: str) -> None:
        """Before grading again: until it succeeds, the submission counts as not graded."""
        self._graded(student).unlink(missing_ok=True)

    def failures(self) -> dict[str, str]:
        """Student -> why the last attempt to grade them failed."""
        found = {}
        for path in sorted(self.folder.glob("*.failed.json")):
            try:
                found[path.name[: -len(".failed.json")]] = json.loads(path.read_text())["reason"]
            except (OSError, ValueError, KeyError):
                continue
        return found
