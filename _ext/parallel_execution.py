"""Execute the book's chapters several at a time, before Sphinx reads them.

In ``cache`` mode myst-nb executes a notebook when Sphinx reads it, one after another. On
``builder-inited``, after myst-nb and myst-parser have set up their configuration, this
extension reads every notebook of the table of contents as myst-nb does, looks it up in
the jupyter-cache, and executes those that are missing N at a time (N: the environment
variable ``BOOK_JOBS``, else the usable cores), each in a process of its own with
jupyter-cache's own ``single_nb_execution`` and myst-nb's settings (timeout, working
directory, errors). Successes go into the cache exactly as myst-nb would put them there,
so that Sphinx then reads every chapter from the cache. A chapter that fails is left out
of the cache: myst-nb executes it again while reading and reports its error as usual,
and ``-W`` fails the build with that message.

Each chapter's execution time (now, or when it was cached) is printed and written to
``_build/execution-times.txt``, so a chapter that grows slow is seen as it grows.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import nbformat
from jupyter_cache import get_cache
from jupyter_cache.base import CacheBundleIn
from myst_nb.core.read import create_nb_reader
from sphinx.application import Sphinx
from sphinx.util import logging

logger = logging.getLogger(__name__)
REPORT = "execution-times.txt"  # in the build folder, next to .jupyter_cache


def _jobs() -> int:
    if os.environ.get("BOOK_JOBS"):
        return max(1, int(os.environ["BOOK_JOBS"]))
    return max(1, len(os.sched_getaffinity(0)))


def _execute(notebook: dict, cwd: str, timeout: int | None, allow_errors: bool):
    """Run one notebook in this worker process; the executed notebook and its time."""
    from jupyter_cache.executors.utils import single_nb_execution

    nb = nbformat.from_dict(notebook)
    start = time.perf_counter()
    result = single_nb_execution(
        nb, cwd=cwd, timeout=timeout, allow_errors=allow_errors, meta_override=True
    )
    error = None if result.err is None else f"{type(result.err).__name__}: {result.err}"
    return nb, time.perf_counter() - start, error


def _toc_notebooks(app: Sphinx) -> list[tuple[str, Path, nbformat.NotebookNode]]:
    """(docname, path, notebook as myst-nb reads it) of each notebook in the toc."""
    site = app.config.external_site_map
    out = []
    for docname in site:
        for suffix in app.config.source_suffix:
            path = Path(app.srcdir) / f"{docname}{suffix}"
            if path.is_file():
                break
        else:
            continue
        content = path.read_text(encoding="utf-8")
        reader = create_nb_reader(str(path), app.env.myst_config, app.env.mystnb_config, content)
        if reader is not None:
            out.append((docname, path, reader.read(content)))
    return out


def execute_in_parallel(app: Sphinx) -> None:
    nb_config = app.env.mystnb_config
    if nb_config.execution_mode != "cache":
        return
    cache = get_cache(nb_config.execution_cache_path)
    times: dict[str, tuple[float | None, str]] = {}
    pending = []
    for docname, path, notebook in _toc_notebooks(app):
        try:
            record = cache.match_cache_notebook(notebook)
            times[docname] = (record.data.get("execution_seconds"), "cached")
        except KeyError:
            pending.append((docname, path, notebook))
    jobs = min(_jobs(), len(pending))
    if pending:
        logger.info(f"executing {len(pending)} notebooks, {jobs} at a time")
        start = time.perf_counter()
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            futures = {
                pool.submit(
                    _execute,
                    notebook,
                    str(path.parent),
                    nb_config.execution_timeout,
                    nb_config.execution_allow_errors,
                ): (docname, path)
                for docname, path, notebook in pending
            }
            for future in as_completed(futures):
                docname, path = futures[future]
                executed, seconds, error = future.result()
                if error is None:
                    cache.cache_notebook_bundle(
                        CacheBundleIn(executed, str(path), data={"execution_seconds": seconds}),
                        check_validity=False,
                        overwrite=True,
                    )
                    times[docname] = (seconds, "executed")
                else:  # myst-nb runs it again while reading, and reports the error
                    times[docname] = (seconds, f"failed ({error.splitlines()[0][:80]})")
                logger.info(f"{docname}: {seconds:.0f} s, {times[docname][1]}")
        wall = time.perf_counter() - start
        logger.info(f"executed in {wall:.0f} s of wall time")
    lines = [f"{'seconds':>8}  {'':9} chapter"]
    for docname, (seconds, how) in sorted(times.items(), key=lambda kv: -(kv[1][0] or 0)):
        shown = f"{seconds:8.1f}" if seconds is not None else f"{'?':>8}"
        lines.append(f"{shown}  {how:9} {docname}")
    if pending:  # what running them N at a time saved
        busy = sum(times[docname][0] for docname, _, _ in pending)
        lines.append(
            f"{len(pending)} executed, {jobs} at a time: {busy:.0f} s of chapter time "
            f"in {wall:.0f} s of wall time"
        )
    report = Path(nb_config.execution_cache_path).parent / REPORT
    report.write_text("\n".join(lines) + "\n", encoding="utf-8")
    logger.info(f"chapter execution times in {report}")


def setup(app: Sphinx) -> dict:
    # After myst-parser's and myst-nb's own builder-inited handlers (priority 500).
    app.connect("builder-inited", execute_in_parallel, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
