"""Figures drawn for the book's text column, so that the browser never has to shrink them.

The book's column is about 688 px wide on a 1280 px screen (sphinx-book-theme, measured in
Chromium). myst-nb saves figures as PNG at ``figure.dpi`` with a tight bounding box, so a
figure ``COLUMN_WIDTH`` inches wide comes out at about the column's width in pixels, and a
10-point label stays a 14 px label on the page instead of a 7 px one. Chapters call
``use_book_style()`` once in their set-up cell and then size figures with ``figsize``.
"""

from __future__ import annotations

import matplotlib as mpl

DPI = 100
COLUMN_WIDTH = 6.7  # inches; 670 px at DPI (a tight crop adds a few), inside the column

BOOK_STYLE = {
    "figure.dpi": DPI,
    "savefig.dpi": DPI,
    "figure.figsize": (COLUMN_WIDTH, 3.4),
    "font.size": 10,
    "axes.titlesize": 10.5,
    "axes.labelsize": 10,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 9,
    "figure.titlesize": 11,
    "figure.constrained_layout.use": True,  # axes fill the figure: a tight crop keeps its width
    "axes.spines.top": False,
    "axes.spines.right": False,
}


def use_book_style() -> None:
    """Set matplotlib's defaults to the book's: column-wide figures, legible fonts."""
    mpl.rcParams.update(BOOK_STYLE)


def figsize(height: float, width: float = 1.0) -> tuple[float, float]:
    """A figure size in inches: ``width`` as a fraction of the column, ``height`` in inches."""
    if not 0 < width <= 1:
        raise ValueError(f"width is a fraction of the column in (0, 1], got {width}")
    if height <= 0:
        raise ValueError(f"height must be positive inches, got {height}")
    return (COLUMN_WIDTH * width, height)
