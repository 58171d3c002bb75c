"""Numbers for the book's prose.

Chapters quote computed numbers in their text through myst-nb's ``glue``; this keeps
the way those numbers read the same on every page.
"""

from __future__ import annotations

import math

_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def sci(value) -> str:
    """A number for the prose: ``0.77``, ``24.7`` or ``8.8 × 10⁻¹⁶``.

    Three significant digits between 0.01 and 1000; outside that range, a mantissa
    with one decimal and a power of ten written with superscript digits.
    """
    value = float(value)
    if value == 0 or 0.01 <= abs(value) < 1000:
        return f"{value:.3g}"
    exponent = math.floor(math.log10(abs(value)))
    return f"{value / 10**exponent:.1f} × 10{str(exponent).translate(_SUPERSCRIPT)}"
