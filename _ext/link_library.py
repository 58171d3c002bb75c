"""Link the chapters' prose to the library reference: `lstmlib.x.y` -> {py:func}`lstmlib.x.y`.

Only inline code in prose that names a documented lstmlib object changes (code cells,
math and other literal blocks are left alone), with the role of the object's kind. The
kinds come from the built book's inventory, so build first::

    jupyter-book build . -W -n --keep-going
    python _ext/link_library.py          # list what would change
    python _ext/link_library.py --write  # change it

Prose is not part of a notebook's execution hash: linking re-executes no chapter.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "chapters").glob("[0-9][0-9]-*.md"))
# `lstmlib`, `lstmlib.nn.LSTM`, `lstmlib.scratch.rnn_forward()`: not already in a role.
TOKEN = re.compile(r"(?<![\w{}`])`(lstmlib(?:\.[A-Za-z_]\w*)*)(\(\))?`(?!`)")
FENCE = re.compile(r"^\s*(`{3,}|~{3,})\s*(.*)$")
# Fenced directives whose body is prose; every other fence (code-cell, math, ...) is not.
PROSE_DIRECTIVES = {
    "admonition", "attention", "caution", "danger", "dropdown", "epigraph", "error",
    "figure", "hint", "important", "margin", "note", "seealso", "sidebar", "tip", "topic",
    "warning",
}  # fmt: skip
ROLES = {
    "py:module": "py:mod",
    "py:class": "py:class",
    "py:exception": "py:exc",
    "py:function": "py:func",
    "py:method": "py:meth",
    "py:attribute": "py:attr",
    "py:data": "py:data",
}


def prose_lines(lines: list[str]):
    """The indices of ``lines`` that are prose: outside code and math fences, not options."""
    stack: list[tuple[str, bool]] = []  # open fences, and whether each holds prose
    for i, line in enumerate(lines):
        match = FENCE.match(line)
        if match:
            fence, info = match.group(1), match.group(2).strip()
            top = stack[-1][0] if stack else None
            if top and not info and fence[0] == top[0] and len(fence) >= len(top):
                stack.pop()
            else:
                directive = re.match(r"\{([\w:-]+)\}", info)
                stack.append((fence, bool(directive) and directive.group(1) in PROSE_DIRECTIVES))
            continue
        if all(prose for _, prose in stack) and not line.lstrip().startswith(":"):
            yield i


def unlinked(path: Path) -> list[tuple[int, str]]:
    """(line number, name) of every lstmlib name in ``path``'s prose that is not a link."""
    lines = path.read_text("utf-8").splitlines()
    return [
        (i + 1, match.group(1)) for i in prose_lines(lines) for match in TOKEN.finditer(lines[i])
    ]


def documented_kinds(inventory: Path) -> dict[str, str]:
    from sphinx.util.inventory import InventoryFile

    with open(inventory, "rb") as stream:
        inv = InventoryFile.load(stream, "", lambda base, uri: uri)
    return {name: kind for kind, items in inv.items() for name in items}


def link(path: Path, kinds: dict[str, str], write: bool) -> list[str]:
    lines = path.read_text("utf-8").splitlines(keepends=True)
    report = []
    for i in prose_lines(lines):

        def role(match: re.Match, i: int = i) -> str:
            name = match.group(1)
            if kinds.get(name) not in ROLES:
                report.append(f"{path.name}:{i + 1}: {name} is not in the reference")
                return match.group(0)
            return f"{{{ROLES[kinds[name]]}}}`{name}`"

        new = TOKEN.sub(role, lines[i])
        if new != lines[i]:
            report.append(f"{path.name}:{i + 1}: {new.strip()}")
            lines[i] = new
    if write:
        path.write_text("".join(lines), "utf-8")
    return report


if __name__ == "__main__":
    kinds = documented_kinds(ROOT / "_build" / "html" / "objects.inv")
    for chapter in CHAPTERS:
        print(*link(chapter, kinds, write="--write" in sys.argv), sep="\n")
