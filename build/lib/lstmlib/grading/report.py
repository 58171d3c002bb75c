"""The instructor's report of an assignment: one self-contained HTML page and a CSV.

Written after every parallel grading run (``python -m lstmlib.grading autograde``)
to ``<grading root>/reports/<assignment>.html`` and ``.csv``, from nbgrader's
gradebook and the autograded notebooks:

- the distribution of total scores and of every graded part's score (histograms);
- the most common failure messages of every test, with counts (the judge's
  verdicts, numbers masked so that "6 of 8 entries are off" and "2 of 8 ..." count
  as one message);
- the submissions that need attention: not graded (and why), a sandbox limit hit,
  a kernel that died, a cell or notebook timeout, manual grading pending;
- every student's total, per part (the CSV holds the same table).

The page works offline: figures are inline SVG, styles inline, no script.
"""

from __future__ import annotations

import collections
import csv
import html
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from lstmlib.grading.markers import Markers
from lstmlib.grading.parallel import find_students

# What SandboxedExecute and the judge write into a cell when a limit was hit.
ATTENTION_PATTERNS = [
    ("kernel died", re.compile(r"kernel died")),
    ("cell timeout", re.compile(r"did not finish within \d+ s")),
    ("notebook time limit", re.compile(r"used up its \d+ s")),
    ("too many kernel restarts", re.compile(r"kernel was restarted \d+ times")),
    ("output limit hit", re.compile(r"output truncated")),
    ("memory limit hit", re.compile(r"MemoryError")),
    ("unreadable kernel message", re.compile(r"message the grader could not read")),
]
NUMBER = re.compile(r"(?<![\w.])[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?(?![\w])")


@dataclass
class StudentRow:
    student: str
    score: float | None = None
    max_score: float = 0.0
    parts: dict[str, float | None] = field(default_factory=dict)
    needs_manual_grade: bool = False
    attention: list[str] = field(default_factory=list)


@dataclass
class ReportData:
    assignment: str
    parts: dict[str, float]  # graded part (cell name) -> its points
    max_score: float
    rows: list[StudentRow]
    failures: dict[str, collections.Counter]  # test -> masked message -> count
    examples: dict[tuple[str, str], str]  # (test, masked message) -> one real message


def masked(message: str) -> str:
    """A failure message with its numbers masked, so that messages of one kind group."""
    return NUMBER.sub("#", " ".join(message.split()))


def _cell_messages(cell) -> list[str]:
    texts = []
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            texts.append(out.get("evalue", ""))
        elif out.get("output_type") == "stream":
            texts.append(out.get("text", ""))
    return texts


def collect(info, assignment: str) -> ReportData:
    """Everything the report shows, from the gradebook, autograded notebooks and markers."""
    from nbgrader.api import Gradebook

    coursedir = info.coursedir
    rows: dict[str, StudentRow] = {}
    failures: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    examples: dict[tuple[str, str], str] = {}
    with Gradebook(info.db_url, info.course_id) as gradebook:
        entry = gradebook.find_assignment(assignment)
        notebooks = [nb.name for nb in entry.notebooks]
        parts = {}
        for notebook in entry.notebooks:
            for cell in notebook.grade_cells:
                name = cell.name if len(notebooks) == 1 else f"{notebook.name}/{cell.name}"
                parts[name] = float(cell.max_score)
        for submission in gradebook.assignment_submissions(assignment):
            row = StudentRow(submission.student.id, max_score=float(submission.max_score))
            row.score = float(submission.score)
            row.needs_manual_grade = bool(submission.needs_manual_grade)
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    name = (
                        grade.cell.name
                        if len(notebooks) == 1
                        else f"{notebook.notebook.name}/{grade.cell.name}"
                    )
                    row.parts[name] = None if grade.score is None else float(grade.score)
            rows[row.student] = row
    max_score = sum(parts.values())
    for student, row in rows.items():
        folder = Path(coursedir.format_path(coursedir.autograded_directory, student, assignment))
        kinds = set()
        for name in notebooks:
            path = folder / f"{name}.ipynb"
            if not path.exists():
                continue
            nb = nbformat.read(path, as_version=4)
            for cell in nb.cells:
                grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
                texts = _cell_messages(cell)
                for label, pattern in ATTENTION_PATTERNS:
                    if any(pattern.search(text) for text in texts):
                        kinds.add(label)
                is_test = cell.metadata.get("nbgrader", {}).get("grade") and not cell.metadata[
                    "nbgrader"
                ].get("solution")
                if not is_test:
                    continue
                test = grade_id if len(notebooks) == 1 else f"{name}/{grade_id}"
                for out in cell.get("outputs", []):
                    if out.get("output_type") == "error":
                        message = out.get("evalue", "") or out.get("ename", "")
                        key = masked(message)
                        failures[test][key] += 1
                        examples.setdefault((test, key), message)
        row.attention += sorted(kinds)
        if row.needs_manual_grade:
            row.attention.append("manual grading pending")
    for student in find_students(info, coursedir.submitted_directory, assignment, "*"):
        if student not in rows:
            rows[student] = StudentRow(student, None, max_score, attention=["not graded"])
    for student, reason in Markers(info.root, assignment).failures().items():
        row = rows.setdefault(student, StudentRow(student, None, max_score))
        row.score, row.parts = None, {}  # what the gradebook holds is not a grade
        row.attention = [a for a in row.attention if a != "not graded"]
        row.attention.insert(0, f"not graded: {reason}")
    return ReportData(
        assignment,
        parts,
        max_score,
        sorted(rows.values(), key=lambda r: r.student),
        dict(failures),
        examples,
    )


# --- figures ----------------------------------------------------------------------------


def _histogram_svg(values: list[float], top: float, title: str, size=(4.0, 2.4)) -> str:
    import matplotlib

    matplotlib.use("agg")
    import matplotlib.pyplot as plt
    import numpy as np

    with plt.rc_context({"svg.fonttype": "path", "font.size": 8}):
        fig, ax = plt.subplots(figsize=size)
        # One bar per possible score when scores are whole points, else 10 bins.
        whole = all(float(v).is_integer() for v in values) and top <= 40
        bins = np.arange(-0.5, top + 1.5) if whole else np.linspace(0, max(top, 1e-9), 11)
        ax.hist(values, bins=bins, color="#4c72b0", edgecolor="white")
        if whole:
            ax.set_xticks(range(0, int(top) + 1, max(1, int(top) // 10)))
        ax.set_xlabel("score")
        ax.set_ylabel("students")
        ax.set_title(title)
        ax.yaxis.get_major_locator().set_params(integer=True)
        fig.tight_layout()
        buffer = io.StringIO()
        fig.savefig(buffer, format="svg", metadata={"Date": None})
        plt.close(fig)
    text = buffer.getvalue()
    return text[text.index("<svg") :]  # no XML prolog or DOCTYPE inside HTML


# --- output -----------------------------------------------------------------------------

STYLE = """
body { font-family: sans-serif; margin: 2em; max-width: 70em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; }
td.num { text-align: right; }
.figures { display: flex; flex-wrap: wrap; gap: 1em; }
.attention { color: #a00; }
"""


def _fmt(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def render_html(data: ReportData) -> str:
    esc = html.escape
    graded = [row for row in data.rows if row.score is not None]
    scores = [row.score for row in graded]
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>Grading report: {esc(data.assignment)}</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>Grading report: {esc(data.assignment)}</h1>",
        f"<p id='summary'>{len(graded)} of {len(data.rows)} students graded; "
        + (
            f"mean {sum(scores) / len(scores):.2f}, lowest {min(scores):g}, highest "
            f"{max(scores):g} of {data.max_score:g} points.</p>"
            if scores
            else "no scores yet.</p>"
        ),
        "<h2>Score distribution</h2><div class='figures'>",
    ]
    if scores:
        out.append(_histogram_svg(scores, data.max_score, "total", size=(5.0, 2.8)))
        for part, points in data.parts.items():
            values = [row.parts[part] for row in graded if row.parts.get(part) is not None]
            if values:
                out.append(_histogram_svg(values, points, part, size=(3.2, 2.2)))
    out.append("</div>")

    out.append("<h2 id='failures'>Most common failure messages, per test</h2>")
    if not data.failures:
        out.append("<p>No test failed.</p>")
    for test in sorted(data.failures):
        out.append(f"<h3>{esc(test)}</h3><table><tr><th>students</th><th>message</th></tr>")
        for key, count in data.failures[test].most_common(10):
            out.append(
                f"<tr><td class='num'>{count}</td><td>{esc(data.examples[(test, key)])}</td></tr>"
            )
        out.append("</table>")

    out.append("<h2 id='attention'>Submissions that need attention</h2>")
    flagged = [row for row in data.rows if row.attention]
    if not flagged:
        out.append("<p>None.</p>")
    else:
        out.append("<table><tr><th>student</th><th>why</th></tr>")
        for row in flagged:
            out.append(
                f"<tr><td>{esc(row.student)}</td>"
                f"<td class='attention'>{esc('; '.join(row.attention))}</td></tr>"
            )
        out.append("</table>")

    out.append("<h2 id='totals'>Per-student totals</h2><table><tr><th>student</th>")
    out.append("<th>total</th>" + "".join(f"<th>{esc(p)}</th>" for p in data.parts) + "</tr>")
    out.append(
        "<tr><td><em>points</em></td>"
        f"<td class='num'>{data.max_score:g}</td>"
        + "".join(f"<td class='num'>{p:g}</td>" for p in data.parts.values())
        + "</tr>"
    )
    for row in data.rows:
        cells = "".join(f"<td class='num'>{_fmt(row.parts.get(p))}</td>" for p in data.parts)
        out.append(
            f"<tr><td>{esc(row.student)}</td><td class='num'>{_fmt(row.score)}</td>{cells}</tr>"
        )
    out.append("</table></body></html>")
    return "\n".join(out)


def write_csv(data: ReportData, path: Path) -> None:
    with open(path, "w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["student", "score", "max_score", *data.parts, "needs_attention"])
        for row in data.rows:
            writer.writerow(
                [
                    row.student,
                    _fmt(row.score),
                    f"{data.max_score:g}",
                    *(_fmt(row.parts.get(p)) for p in data.parts),
                    "; ".join(row.attention),
                ]
            )


def write_report(info, assignment: str) -> Path:
    """Write ``reports/<assignment>.html`` and ``.csv`` under the grading root; the HTML path."""
    data = collect(info, assignment)
    folder = info.root / "reports"
    folder.mkdir(parents=True, exist_ok=True)
    page = folder / f"{assignment}.html"
    page.write_text(render_html(data))
    write_csv(data, folder / f"{assignment}.csv")
    return page
