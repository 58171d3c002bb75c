"""The LSTM cell diagram: it draws every part it is asked for, and refuses unknown names."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from matplotlib.transforms import Bbox  # noqa: E402

from lstmlib.diagrams import PARTS, draw_lstm_cell  # noqa: E402


def texts(ax):
    return {t.get_text() for t in ax.texts}


def test_values_are_written_on_the_wires():
    ax = draw_lstm_cell(values={"f": "0.881", "c": "1.043"})
    assert {"0.881", "1.043"} <= texts(ax)
    plt.close("all")


def colors(ax):
    return [tuple(p.get_facecolor()) + tuple(p.get_edgecolor()) for p in ax.patches]


def test_highlighting_a_gate_fades_the_others():
    full, forget, output = (draw_lstm_cell(highlight=h) for h in (None, ["f"], ["o"]))
    assert colors(forget) != colors(full)
    assert colors(forget) != colors(output)
    plt.close("all")


@pytest.mark.parametrize("bad", [{"highlight": ["forget"]}, {"values": {"z": "1"}}])
def test_unknown_names_are_refused(bad):
    with pytest.raises(ValueError, match="unknown"):
        draw_lstm_cell(**bad)
    plt.close("all")


def test_parts_name_the_gates_and_paths():
    assert set("figo") <= set(PARTS) and {"c", "h"} <= set(PARTS)


def test_gru_cell_writes_values_highlights_gates_and_refuses_unknown_names():
    from lstmlib.diagrams import GRU_PARTS, draw_gru_cell

    assert set(GRU_PARTS) == {"h", "r", "z", "n"}
    ax = draw_gru_cell(values={"z": "0.731", "h": "0.332"}, title="GRU")
    assert {"0.731", "0.332", "GRU"} <= texts(ax) | {ax.get_title()}
    full, update, reset = (draw_gru_cell(highlight=h) for h in (None, ["z"], ["r"]))
    assert colors(update) != colors(full) and colors(update) != colors(reset)
    for bad in ({"highlight": ["f"]}, {"values": {"c": "1"}}):
        with pytest.raises(ValueError, match="unknown"):
            draw_gru_cell(**bad)
    plt.close("all")


LSTM_VALUES = ("x", "h_prev", "c_prev", "f", "i", "g", "o", "fc", "ig", "tanh_c", "c", "h")
GRU_VALUES = ("x", "h_prev", "r", "z", "n", "hn", "rhn", "zh", "one_minus_z", "write", "h")


def extent(text, renderer):
    """Where a text is drawn, with the box around it if it has one."""
    patch = text.get_bbox_patch()
    if patch is None:
        return text.get_window_extent(renderer)
    return Bbox.union([text.get_window_extent(renderer), patch.get_window_extent(renderer)])


def drawn_in_the_column(draw, value_keys):
    """A diagram as the chapters draw it: column-wide in the book's style, with every
    value written (numbers as long as the worked examples' ``0.8808``) and a title."""
    from lstmlib.plotting import figsize, use_book_style

    use_book_style()
    fig, ax = plt.subplots(figsize=figsize(3.7))
    draw(ax, values={key: "0.8808" for key in value_keys}, title="A title")
    fig.canvas.draw()
    return fig, ax


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_every_text_is_at_least_9_pt_and_the_layer_names_fit(kind):
    from lstmlib.diagrams import GATE_NAMES, GRU_GATE_NAMES, draw_gru_cell

    draw, keys, names = {
        "lstm": (draw_lstm_cell, LSTM_VALUES, GATE_NAMES),
        "gru": (draw_gru_cell, GRU_VALUES, GRU_GATE_NAMES),
    }[kind]
    with matplotlib.rc_context():
        fig, ax = drawn_in_the_column(draw, keys)
        everything = [*ax.texts, ax.title]
        small = {t.get_text(): t.get_fontsize() for t in everything if t.get_fontsize() < 9}
        assert not small, f"the book's figures use fonts of 9 pt or more: {small}"
        renderer = fig.canvas.get_renderer()
        labels = [t for t in ax.texts if t.get_text() in names.values()]
        assert len(labels) == len(names)
        outline = max(ax.patches, key=lambda p: p.get_window_extent(renderer).width)
        inside = outline.get_window_extent(renderer)
        for label in labels:
            box = extent(label, renderer)
            assert inside.x0 <= box.x0 and box.x1 <= inside.x1, label.get_text()
            assert inside.y0 <= box.y0 and box.y1 <= inside.y1, label.get_text()
            for other in ax.texts:
                if other is not label and other.get_text():
                    overlap = box.overlaps(extent(other, renderer))
                    assert not overlap, f"{label.get_text()!r} overlaps {other.get_text()!r}"
        plt.close(fig)
