"""The chapters' prose links every lstmlib name it mentions to the library reference."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "_ext"))
import link_library  # noqa: E402


def test_prose_links_every_lstmlib_name():
    unlinked = [
        f"{chapter.name}:{line}: `{name}`"
        for chapter in link_library.CHAPTERS
        for line, name in link_library.unlinked(chapter)
    ]
    assert not unlinked, (
        "lstmlib names in prose without a link to the reference; build the book, then run "
        "`python _ext/link_library.py --write`:\n  " + "\n  ".join(unlinked)
    )


def test_only_prose_counts(tmp_path):
    """Names in code cells, math and option lines are not prose; notes and tips are."""
    text = "\n".join(
        [
            "`lstmlib.nn.LSTM` in prose, and {py:mod}`lstmlib` linked already.",
            "```{code-cell} ipython3",
            ":tags: [remove-cell]",
            "x = '`lstmlib.scratch.rnn_forward`'",
            "```",
            "````{note}",
            "`lstmlib.ctc` in a note",
            "```python",
            "`lstmlib.text` in a literal block",
            "```",
            "````",
        ]
    )
    (tmp_path / "01-x.md").write_text(text, "utf-8")
    assert link_library.unlinked(tmp_path / "01-x.md") == [
        (1, "lstmlib.nn.LSTM"),
        (7, "lstmlib.ctc"),
    ]
