"""The library reference (``api/``): lstmlib's Google-style docstrings as Sphinx reads them.

napoleon reads a Google ``Returns:`` section as one result with a type, but lstmlib's
docstrings name each result on its own line, the way ``Args:`` names each argument::

    Returns:
        h: (T, B, H) the hidden states,
            zero past each length.
        cache: what the backward pass needs.

Before napoleon sees it, such a section becomes a ``:returns:`` field holding one bullet
per named result (continuation lines kept with their result), so that every result reads
as the arguments do, instead of the first name being taken for a type and the rest
running together.
"""

from __future__ import annotations

import re

from sphinx.application import Sphinx

SECTION = re.compile(r"^(\s*)(Returns|Yields):\s*$")
# "h:", "dx, dh:" or "(h, c):" at the start of an item, then its description.
ITEM = re.compile(r"^([A-Za-z_][\w.]*(?:\s*,\s*[A-Za-z_][\w.]*)*|\([^)]*\)):\s+(.*)$")


def _named_results(lines: list[str], start: int, indent: int) -> tuple[list, int]:
    """The items of the section whose header is ``lines[start - 1]``, and where it ends."""
    items: list[list[str]] = []
    end = start
    while end < len(lines):
        line = lines[end]
        if line.strip() and len(line) - len(line.lstrip()) <= indent:
            break  # the next section, or the docstring's text after it
        end += 1
    body = lines[start:end]
    while body and not body[-1].strip():
        body.pop()
        end -= 1
    text = [line for line in body if line.strip()]
    if not text:
        return [], start
    item_indent = min(len(line) - len(line.lstrip()) for line in text)
    for line in body:
        stripped = line.strip()
        at_item_level = stripped and len(line) - len(line.lstrip()) == item_indent
        match = ITEM.match(stripped) if at_item_level else None
        if match:
            items.append([match.group(1), match.group(2)])
        elif items and stripped:
            items[-1].append(stripped)
        elif stripped:  # free text before any name: not a list of named results
            return [], start
    return items, end


def named_returns(app, what, name, obj, options, lines: list[str]) -> None:
    out: list[str] = []
    i = 0
    while i < len(lines):
        match = SECTION.match(lines[i])
        if match:
            indent = len(match.group(1))
            items, end = _named_results(lines, i + 1, indent)
            if items:
                field = "returns" if match.group(2) == "Returns" else "yields"
                out.append(f"{match.group(1)}:{field}:")
                pad = match.group(1) + "    "
                for result, *description in items:
                    out.append(f"{pad}- **{result}** -- {description[0]}")
                    out.extend(f"{pad}  {more}" for more in description[1:])
                out.append("")
                i = end
                continue
        out.append(lines[i])
        i += 1
    lines[:] = out


def skip_field_aliases(app, what, name, obj, skip, options):
    """Leave out a NamedTuple's field properties ("Alias for field number 0"): the class's
    own ``Attributes:`` section already describes each field, with its shape."""
    if (getattr(obj, "__doc__", None) or "").startswith("Alias for field number"):
        return True
    return None


def setup(app: Sphinx) -> dict:
    app.connect("autodoc-skip-member", skip_field_aliases)
    # Before napoleon, which rewrites Google sections at the default priority (500).
    app.connect("autodoc-process-docstring", named_returns, priority=400)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
