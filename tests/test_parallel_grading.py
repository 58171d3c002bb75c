"""``python -m lstmlib.grading autograde``: the scores of serial nbgrader, faster, resumable.

One course graded by stock ``nbgrader autograde`` (the oracle) and copies of it graded
by the parallel command, on exercise 02's corpus of realistic submissions (the
cheapest corpus that has wrong, moved, pasted, deleted-test and unreadable
submissions). The scores are compared cell by cell with nbgrader's own.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import time

import cases_02_lstm_forward as cases
import nbformat
import pytest
from parallel_harness import (
    cli,
    graded_in_log,
    make_course,
    scores,
    sqlite_is_intact,
    sqlite_url,
)

pytestmark = pytest.mark.slow
A = cases.ASSIGNMENT


@pytest.fixture(scope="module")
def serial(serial_02_scores):
    return serial_02_scores


@pytest.fixture(scope="module")
def parallel(tmp_path_factory):
    """The same corpus graded by the parallel command, two jobs."""
    root = tmp_path_factory.mktemp("parallel")
    make_course(root, cases)
    return root, cli(root, "autograde", A, "--jobs", "2")


def test_scores_equal_serial_nbgrader(serial, parallel):
    root, result = parallel
    assert scores(sqlite_url(root), A) == serial
    assert sqlite_is_intact(root)


def test_the_gradebook_is_one_file_again_after_grading(parallel):
    root, _ = parallel  # graded in WAL mode (see test_gradebook_access.py)
    assert not (root / "gradebook.db-wal").exists()
    with sqlite3.connect(root / "gradebook.db") as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("delete",)


def test_an_unreadable_submission_does_not_stop_the_batch(serial, parallel):
    root, result = parallel
    assert result.returncode == 1, result.stderr[-3000:]  # as nbgrader: someone needs attention
    assert "1 need attention" in result.stdout
    assert "corrupt_file: nbformat.reader.NotJSONError" in result.stdout
    assert sorted(graded_in_log(root, A)) == sorted(serial)  # everyone attempted once


def test_progress_bar_counts_and_failures(parallel):
    _, result = parallel
    assert "failures=1" in result.stderr
    assert "13/13" in result.stderr


def test_report_is_written(parallel):
    root, _ = parallel
    assert (root / "reports" / f"{A}.html").exists()
    csv = (root / "reports" / f"{A}.csv").read_text().splitlines()
    assert csv[0].startswith("student,score,max_score,")
    assert len(csv) == 1 + 13


def test_rerun_grades_only_what_is_not_graded(parallel, serial):
    root, _ = parallel
    before = len(graded_in_log(root, A))
    again = cli(root, "autograde", A, "--jobs", "2")
    attempted = graded_in_log(root, A)[before:]
    assert attempted == ["corrupt_file"], again.stdout  # it has no valid marker: tried again
    assert "12 unchanged since graded, skipped" in again.stdout
    assert scores(sqlite_url(root), A) == serial


def test_changed_submission_is_regraded(parallel, serial):
    root, _ = parallel
    # The student fixes the missing tanh of their output: it now deserves the full score.
    path = root / "submitted" / "output_without_tanh" / A / f"{cases.NOTEBOOK}.ipynb"
    good = nbformat.read(root / "submitted" / "solution" / A / f"{cases.NOTEBOOK}.ipynb", 4)
    nbformat.write(good, path)
    before = len(graded_in_log(root, A))
    cli(root, "autograde", A, "--jobs", "2")
    assert sorted(graded_in_log(root, A)[before:]) == ["corrupt_file", "output_without_tanh"]
    now = scores(sqlite_url(root), A)
    assert now["output_without_tanh"] == serial["solution"]
    assert {s: v for s, v in now.items() if s != "output_without_tanh"} == {
        s: v for s, v in serial.items() if s != "output_without_tanh"
    }


def test_force_regrades_everyone(parallel, serial):
    root, _ = parallel
    before = len(graded_in_log(root, A))
    cli(root, "autograde", A, "--jobs", "2", "--force", "--student", "s*")
    assert sorted(graded_in_log(root, A)[before:]) == ["solution"]


def test_sigkill_mid_batch_then_rerun_completes(tmp_path, serial):
    root = tmp_path / "killed"
    make_course(root, cases)
    markers = root / "markers" / A
    process = cli(root, "autograde", A, "--jobs", "2", popen=True)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and process.poll() is None:
        if markers.is_dir() and len(list(markers.glob("*[!d].json"))) >= 3:
            break
        time.sleep(0.05)
    assert process.poll() is None, "the batch ended before it could be killed"
    workers = _children(process.pid)
    assert len(workers) >= 2
    os.kill(process.pid, signal.SIGKILL)  # no clean-up of any kind
    process.wait(timeout=30)
    done_before = {p.stem for p in markers.glob("*.json") if not p.name.endswith(".failed.json")}
    assert 3 <= len(done_before) < len(serial)
    # Its workers die with it (and their sandboxed kernels with them): none goes on writing.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(_alive(pid) for pid in workers):
        time.sleep(0.2)
    assert not [pid for pid in workers if _alive(pid)]
    again = cli(root, "autograde", A, "--jobs", "2")
    assert f"{len(done_before)} unchanged since graded, skipped" in again.stdout, again.stdout
    assert scores(sqlite_url(root), A) == serial
    assert sqlite_is_intact(root)


def _children(parent: int) -> list[int]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = open(f"/proc/{pid}/stat").read()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == parent:
            found.append(int(pid))
    return found


def _alive(pid: int) -> bool:
    try:
        state = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_feedback_for_everyone_in_parallel(parallel):
    root, _ = parallel
    result = cli(root, "feedback", A, "--jobs", "2")
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    pages = sorted(p.parent.parent.name for p in (root / "feedback").glob(f"*/{A}/*.html"))
    graded = sorted(p.parent.parent.name for p in (root / "autograded").glob(f"*/{A}/*.ipynb"))
    assert pages == graded and len(pages) == 12


def test_report_renders_offline_in_chromium(parallel):
    from playwright.sync_api import sync_playwright
    from test_book import CHROMIUM, CHROMIUM_ARGS

    root, _ = parallel
    page_path = root / "reports" / f"{A}.html"
    if not CHROMIUM.exists():
        pytest.fail(f"Chromium is missing ({CHROMIUM}): install it with `make browser`.")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page()
        requests = []
        page.on("request", lambda request: requests.append(request.url))
        page.goto(page_path.as_uri())
        page.wait_for_load_state("networkidle")
        figures = page.locator("svg").count()
        attention = page.locator("#attention + table").inner_text()
        failures = page.locator("body").inner_text()
        totals_rows = page.locator("#totals + table tr").count()
        drawn = page.evaluate("[...document.querySelectorAll('svg')].map(s => s.getBBox().width)")
        browser.close()
    assert requests == [page_path.as_uri()], requests  # the page itself, nothing else
    assert figures == 1 + len(cases.POINTS)  # the total and one per graded part
    assert all(width > 100 for width in drawn)
    assert "corrupt_file" in attention and "NotJSONError" in attention
    assert "h has wrong values" in failures  # a judge's verdict, counted per test
    assert totals_rows == 1 + 1 + 13  # header, points, every student
