"""lstmlib.formatting.sci: how computed numbers read in the book's prose."""

import pytest

from lstmlib.formatting import sci


@pytest.mark.parametrize(
    "value, text",
    [
        (0, "0"),
        (0.7731, "0.773"),
        (24.71, "24.7"),
        (999.4, "999"),
        (1234.0, "1.2 × 10³"),
        (8.8e-16, "8.8 × 10⁻¹⁶"),
        (-3.7e-20, "-3.7 × 10⁻²⁰"),
        (0.0099, "9.9 × 10⁻³"),
    ],
)
def test_sci(value, text):
    assert sci(value) == text
