"""The chapters' Colab notebooks (``chapters/colab/``) are the chapters, up to date."""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "_ext"))
import colab_notebooks  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def test_every_chapter_has_an_up_to_date_notebook():
    problems = [f"out of date: {c.name}" for c in colab_notebooks.stale()]
    problems += [f"no chapter: {p.name}" for p in colab_notebooks.orphans()]
    assert not problems, (
        "run `python _ext/colab_notebooks.py --write` and commit chapters/colab/:\n  "
        + "\n  ".join(problems)
    )


def test_notebook_is_the_chapters_code_after_the_install_cell():
    """Read independently of the generator: the committed notebook's code cells are the
    chapter's ``{code-cell}`` blocks, in order, after the install cell."""
    chapter = REPO / "chapters" / "06-long-range.md"
    blocks, inside = [], None
    for line in chapter.read_text().splitlines():
        if inside is None and line.startswith("```{code-cell}"):
            inside = []
        elif inside is not None and line == "```":
            blocks.append("\n".join(x for x in inside if not x.startswith(":tags:")).strip())
            inside = None
        elif inside is not None:
            inside.append(line)
    notebook = json.loads((REPO / "chapters" / "colab" / "06-long-range.ipynb").read_text())
    code = ["".join(c["source"]).strip() for c in notebook["cells"] if c["cell_type"] == "code"]
    assert 'if importlib.util.find_spec("lstmlib") is None:' in code[0]
    assert "git+https://github.com/lstm-course/lstm-course" in code[0]
    assert code[1:] == blocks
    assert not any(c.get("outputs") for c in notebook["cells"] if c["cell_type"] == "code")


def test_colab_url_names_the_committed_notebook():
    url = colab_notebooks.colab_url("chapters/06-long-range")
    assert url == (
        "https://colab.research.google.com/github/lstm-course/lstm-course/blob/main/"
        "chapters/colab/06-long-range.ipynb"
    )
    path = url.split("/blob/main/", 1)[1]
    assert (REPO / path).is_file()
