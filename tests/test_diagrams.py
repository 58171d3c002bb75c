"""The LSTM cell diagram: it draws every part it is asked for, and refuses unknown names."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

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
