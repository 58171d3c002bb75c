"""Figures made with the book's style fit the text column (688 px at 1280 px, measured)."""

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from matplotlib import image  # noqa: E402

from lstmlib.plotting import figsize, use_book_style  # noqa: E402

COLUMN_PX = 688


def png_width(fig) -> int:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")  # as myst-nb's inline backend
    buffer.seek(0)
    return image.imread(buffer).shape[1]


def test_a_column_wide_figure_fits_the_column_without_shrinking():
    with matplotlib.rc_context():
        use_book_style()
        fig, axes = plt.subplots(1, 2, figsize=figsize(3))
        for ax in axes:
            ax.plot([0, 1000], [0, 1e5], label="a curve")
            ax.set_xlabel("time step $t$")
            ax.legend()
        width = png_width(fig)
        plt.close(fig)
    assert 0.9 * COLUMN_PX <= width <= COLUMN_PX


def test_figsize_rejects_sizes_outside_the_column():
    with pytest.raises(ValueError, match="fraction of the column"):
        figsize(3, width=1.5)
    with pytest.raises(ValueError, match="positive"):
        figsize(0)
