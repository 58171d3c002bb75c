"""``python -m lstmlib.grading``: grade a class in parallel, give feedback, write the report.

Run it where you run nbgrader (the folder with ``nbgrader_config.py``)::

    python -m lstmlib.grading autograde 01-rnn [--jobs N] [--student PATTERN] [--force]
                                               [--db URL] [--scheduler tcp://HOST:PORT]
    python -m lstmlib.grading feedback 01-rnn [--jobs N] [--student PATTERN] [--force]
    python -m lstmlib.grading report 01-rnn

Options nbgrader itself takes (``--CourseDirectory.root=...``) are passed on to it.
``autograde`` exits 1 when a submission needs attention (as ``nbgrader autograde``
does), after grading all the others.
"""

from __future__ import annotations

import argparse
import os
import sys

from lstmlib.grading import parallel
from lstmlib.grading.worker import Course


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m lstmlib.grading",
        description="Grade a class with the course's nbgrader configuration, in parallel.",
        epilog="Other options of the form --Class.trait=value are passed on to nbgrader.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in [
        ("autograde", "grade every new or changed submission, then write the report"),
        ("feedback", "generate every autograded student's feedback"),
        ("report", "write the instructor's report from the gradebook"),
    ]:
        command = commands.add_parser(name, help=text, description=text)
        command.add_argument("assignment")
        command.add_argument(
            "--db", help="gradebook URL (SQLAlchemy), e.g. postgresql+psycopg2://user@host/db"
        )
        if name == "report":
            continue
        command.add_argument(
            "--jobs",
            "-j",
            type=int,
            default=None,
            help=f"submissions at a time (default: the usable cores, {parallel.usable_cores()})",
        )
        command.add_argument(
            "--student", default="*", help="only students whose id matches this glob"
        )
        command.add_argument(
            "--force", action="store_true", help="also redo those already done and unchanged"
        )
        command.add_argument(
            "--scheduler", help="address of a Dask distributed scheduler to grade on its workers"
        )
        if name == "autograde":
            command.add_argument(
                "--no-report", action="store_true", help="do not write the report afterwards"
            )
    return parser


def main(argv: list[str] | None = None) -> int:
    args, extra = _parser().parse_known_args(argv)
    unknown = [a for a in extra if not (a.startswith("--") and "." in a.split("=", 1)[0])]
    if unknown:
        _parser().error(f"unrecognised arguments: {' '.join(unknown)}")
    config_dir = os.getcwd()
    info = parallel.load_course(config_dir, extra, args.db)
    db_url = parallel.with_busy_timeout(info.db_url)
    info.db_url = db_url
    course = Course(config_dir, (*extra, f"--CourseDirectory.db_url={db_url}"))

    if args.command == "report":
        from lstmlib.grading import report

        print(report.write_report(info, args.assignment))
        return 0

    if args.jobs is not None and args.jobs < 1:
        _parser().error("--jobs must be at least 1")
    workers = parallel.make_workers(args.jobs, args.scheduler)
    try:
        run = parallel.autograde if args.command == "autograde" else parallel.feedback
        summary = run(
            info, course, args.assignment, workers=workers, pattern=args.student, force=args.force
        )
    finally:
        workers.close()
    print(summary.text())
    if args.command == "autograde" and not args.no_report:
        from lstmlib.grading import report

        print(f"Report: {report.write_report(info, args.assignment)}")
    return 1 if summary.failed else 0


if __name__ == "__main__":
    sys.exit(main())
