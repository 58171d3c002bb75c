"""Sphinx extension of the lstm-course book: a site that works offline, chapters as notebooks.

- MathJax 3 is served from the build (``_static/mathjax/``), copied at build time from the
  installed ``django-static-mathjax`` package instead of loading from a CDN.
- myst-nb's ipywidgets scripts (require.js and the widget manager, from CDNs) are turned
  off: the kernels run with ``LSTM_COURSE_STATIC_WIDGETS=1``, so ``lstmlib.widgets`` draws
  static figures and the pages have no widgets to render.
- Every notebook page offers its executed ``.ipynb`` in the theme's download menu, with a
  first code cell that installs lstmlib where it is missing (Colab, a bare Jupyter); the
  sources hold no such cell and the build never runs it.
- The launch menu opens a chapter in Colab, from its notebook in ``chapters/colab/``
  (``colab_notebooks``).
- Chapters execute several at a time before Sphinx reads them (``parallel_execution``).
"""

from __future__ import annotations

import os
import shutil
from contextlib import suppress
from importlib.resources import files
from pathlib import Path

import colab_notebooks
import nbformat
from jupyter_cache import get_cache
from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.errors import ExtensionError

from lstmlib.widgets import STATIC_ENV

MATHJAX_DIR = "mathjax"  # under _static/
# The entry script, and what it loads on demand relative to its own URL: the CHTML fonts,
# the TeX packages autoloaded by macros such as \boldsymbol or \cancel, and the menu with
# its accessibility and SVG-renderer options. The rest of the package (43 MB) is not needed.
MATHJAX_FILES = [
    "tex-chtml.js",
    "output/chtml/fonts/woff-v2",
    "input/tex/extensions",
    "ui",
    "a11y",
    "sre",
    "output/svg.js",
    "output/svg",
]


def mathjax_source() -> Path:
    """The es5 build of MathJax 3 inside the installed django-static-mathjax package."""
    es5 = Path(str(files("mathjax").joinpath("static", "mathjax", "es5")))
    if not (es5 / "tex-chtml.js").is_file():
        raise ExtensionError(f"MathJax 3 (es5/tex-chtml.js) not found in {es5}")
    return es5


def configure(app: Sphinx, config: Config) -> None:
    # A relative mathjax_path is served from _static/ (Sphinx prefixes it).
    config.mathjax_path = f"{MATHJAX_DIR}/tex-chtml.js"
    # An empty mapping: myst-nb adds no widget-manager scripts (it would load them from CDNs
    # on any page whose notebook holds widget state, e.g. from a slider that was created).
    config.nb_ipywidgets_js = {}


def copy_mathjax(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    source = mathjax_source()
    target = Path(app.outdir, "_static", MATHJAX_DIR)
    for name in MATHJAX_FILES:
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        if (source / name).is_dir():
            shutil.copytree(source / name, target / name, dirs_exist_ok=True)
        else:
            shutil.copy2(source / name, target / name)


def executed_notebook(app: Sphinx, docname: str) -> nbformat.NotebookNode:
    """The notebook of ``docname`` with the outputs the build computed."""
    config = app.env.mystnb_config
    notebook = nbformat.read(Path(config.output_folder, f"{docname}.ipynb"), as_version=4)
    if config.execution_mode == "cache":
        # On a cache hit myst-nb writes this notebook without outputs; merge them from the
        # cache (no match: a notebook excluded from execution, which has no outputs anyway).
        with suppress(KeyError):
            _, notebook = get_cache(config.execution_cache_path).merge_match_into_notebook(notebook)
    notebook.metadata.pop("source_map", None)  # myst-nb's bookkeeping, meaningless in Jupyter
    return notebook


def _offers_notebook(app: Sphinx, pagename: str, context: dict) -> bool:
    # myst-nb records a kernelspec only for notebooks; an .ipynb source is offered as is.
    return "kernelspec" in app.env.metadata.get(pagename, {}) and (
        context.get("page_source_suffix") != ".ipynb"
    )


def offer_notebook(app: Sphinx, pagename: str, templatename, context: dict, doctree) -> None:
    """Name the page's notebook in ``ipynb_source``, which sphinx-book-theme's download
    menu offers as ``.ipynb`` (before the theme builds its header buttons)."""
    if _offers_notebook(app, pagename, context):
        context["ipynb_source"] = f"{pagename}.ipynb"


def write_notebook(app: Sphinx, pagename: str, templatename, context: dict, doctree) -> None:
    """Put the executed notebook, with the install cell, next to the page's source in
    _sources/. After the theme's launch buttons, which copy myst-nb's notebook there
    (without the outputs that a cache hit leaves in the cache only)."""
    if not _offers_notebook(app, pagename, context):
        return
    target = Path(app.outdir, "_sources", f"{pagename}.ipynb")
    target.parent.mkdir(parents=True, exist_ok=True)
    # The same install cell as the Colab notebooks, naming the repository of _config.yml.
    notebook = executed_notebook(app, pagename)
    repository, _ = colab_notebooks.repository()
    nbformat.write(colab_notebooks.with_install_cell(notebook, repository), target)


def add_colab_button(app: Sphinx, pagename: str, templatename, context: dict, doctree) -> None:
    """Add Colab to the theme's launch menu, opening the chapter's notebook in
    ``chapters/colab/`` (Colab cannot open the ``.md`` the theme's own button would name)."""
    if not _offers_notebook(app, pagename, context):
        return
    for group in context.get("header_buttons", []):
        if group.get("label") == "launch-buttons":
            group["buttons"].append(
                {
                    "type": "link",
                    "text": "Colab",
                    "tooltip": "Launch on Colab",
                    "icon": "_static/images/logo_colab.png",
                    "url": colab_notebooks.colab_url(pagename),
                }
            )


def setup(app: Sphinx) -> dict:
    # Set before any notebook runs: the kernels that the build starts inherit it.
    os.environ[STATIC_ENV] = "1"
    # Chapters execute several at a time before Sphinx reads them (parallel_execution.py).
    app.setup_extension("parallel_execution")
    # The library reference: named results in Returns sections (api_docs.py).
    app.setup_extension("api_docs")
    app.connect("config-inited", configure)
    app.connect("build-finished", copy_mathjax)
    # Before sphinx-book-theme builds its header buttons (priority 501), and the file after
    # its launch buttons have copied theirs (also 501).
    app.connect("html-page-context", offer_notebook, priority=400)
    app.connect("html-page-context", add_colab_button, priority=550)
    app.connect("html-page-context", write_notebook, priority=600)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
