"""Diagrams of the course's cells, drawn with matplotlib (no image files to keep in sync).

``draw_lstm_cell`` draws one LSTM step in the layout the chapters use: the cell state
runs along the top, the hidden state and the input enter at the bottom, and the four
layers (forget, input, candidate, output) sit in between. It can highlight parts of the
cell and write numbers next to the wires, so the same picture serves for the equations,
for each gate in turn, and for a worked example.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import matplotlib.pyplot as plt
from matplotlib.colors import to_rgb
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch

# One colour per layer, the same in every chapter.
GATE_COLORS = {"f": "#f4b6a6", "i": "#b8e0b0", "g": "#b9d3ee", "o": "#f7d59c"}
GATE_NAMES = {"f": "forget", "i": "input", "g": "candidate", "o": "output"}
PARTS = ("c", "f", "i", "g", "o", "h")

# Where the wires run (data coordinates; the cell's box spans x 0.._WIDTH, y 0..6).
_Y_CELL = 5.0  # the cell-state line
_Y_BUS = 0.9  # [h_{t-1}, x_t], the input of all four layers
_Y_LAYER = 2.2  # centre of the four layer boxes
_Y_WRITE = 3.75  # the product i * g
_X = {"f": 1.8, "i": 3.6, "g": 5.6, "o": 7.4, "out": 9.1}
_WIDTH = 10.6  # of the cell's box
_END = _WIDTH + 1.45  # where c_t and h_t leave the picture
_BACKGROUND = "#f4f4f4"
_FAINT = 0.22  # opacity of the parts that are not highlighted
_LAYER_W, _LAYER_H, _NODE_R = 1.0, 0.7, 0.3
# The smallest text in the diagrams (the layers' names), the book's minimum of 9 pt.
LABEL_FONTSIZE = 9

# Where the optional numbers are written, and how they are aligned.
_VALUE_SPOTS = {
    "c_prev": ((-1.45, 5.45), "left"),
    "h_prev": ((-1.45, 1.35), "left"),
    "x": ((1.25, -0.55), "left"),
    "f": ((_X["f"] + 0.18, 3.7), "left"),
    "fc": ((_X["f"] + 0.35, 5.45), "left"),
    "i": ((_X["i"] + 0.18, 3.1), "left"),
    "g": ((_X["g"] + 0.18, 3.05), "left"),
    "ig": ((_X["g"] + 0.18, 4.4), "left"),
    "o": ((_X["o"] + 0.65, 1.68), "left"),
    "tanh_c": ((_X["out"] + 0.55, 3.85), "left"),
    "c": ((_END + 0.05, 5.45), "right"),
    "h": ((_END + 0.05, 1.35), "right"),
}


def _prepare(ax, highlight, values, parts, spots):
    """The axes to draw into and the parts drawn at full strength; checks every name."""
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 5.2))
    shown = set(parts if highlight is None else highlight)
    unknown = shown - set(parts)
    if unknown:
        raise ValueError(f"highlight: unknown parts {sorted(unknown)}; choose from {parts}")
    unknown_values = set(values or {}) - set(spots)
    if unknown_values:
        raise ValueError(f"values: unknown keys {sorted(unknown_values)}")
    return ax, shown


def _faded(base, full_strength):
    """``base`` as an opaque colour, faded into the background unless at full strength."""
    a = 1.0 if full_strength else _FAINT
    pairs = zip(to_rgb(base), to_rgb(_BACKGROUND), strict=True)
    return tuple(a * v + (1 - a) * w for v, w in pairs)


def _finish(ax, values, spots, title):
    """Write the values next to their wires, the title, and frame the cell."""
    for key, text in (values or {}).items():
        (x, y), ha = spots[key]
        ax.text(
            x,
            y,
            text,
            ha=ha,
            va="center",
            fontsize=9.5,
            color="#08306b",
            zorder=5,
            bbox=dict(boxstyle="round,pad=0.2", fc="white", ec="#6baed6", lw=0.8),
        )
    if title:
        ax.set_title(title, fontsize=12)
    ax.set_xlim(-2.6, _END + 1.1)
    ax.set_ylim(-1.5, 6.4)
    ax.set_aspect("equal")
    ax.axis("off")
    return ax


def draw_lstm_cell(
    ax=None,
    highlight: Iterable[str] | None = None,
    values: Mapping[str, str] | None = None,
    title: str | None = None,
    labels: bool = True,
):
    r"""Draw one LSTM step: :math:`c_t = f \odot c_{t-1} + i \odot g`, :math:`h_t = o \odot
    \tanh(c_t)`, with the four layers fed by :math:`[h_{t-1}, x_t]`.

    Args:
        ax: the matplotlib axes to draw into; a new figure if None.
        highlight: parts to emphasise, the others drawn faint: any of ``"c"`` (the
            cell-state line), ``"f"``, ``"i"``, ``"g"``, ``"o"`` (a layer and the wire it
            drives) and ``"h"`` (the output path through ``tanh(c_t)``). None: all.
        values: text (e.g. numbers) written next to the wires, keyed by ``"x"``,
            ``"h_prev"``, ``"c_prev"``, ``"f"``, ``"i"``, ``"g"``, ``"o"``, ``"fc"``
            (:math:`f \odot c_{t-1}`), ``"ig"`` (:math:`i \odot g`), ``"tanh_c"``, ``"c"``,
            ``"h"``.
        title: a title above the cell.
        labels: write the layers' names (forget, input, candidate, output) under them.

    Returns:
        The axes.
    """
    ax, shown = _prepare(ax, highlight, values, PARTS, _VALUE_SPOTS)

    emphasis = highlight is not None

    def color(base, part):
        return _faded(base, part is None or part in shown)

    def width(lw, part):
        return lw + (0.8 if emphasis and part in shown else 0.0)

    def wire(points, part=None, arrow=True, lw=1.6):
        ink, lw = color("k", part), width(lw, part)
        xs, ys = zip(*points, strict=True)
        if arrow and len(points) > 2:
            ax.plot(xs[:-1], ys[:-1], color=ink, lw=lw, solid_capstyle="round", zorder=1)
            points = points[-2:]
        if arrow:
            ax.add_patch(
                FancyArrowPatch(
                    points[0],
                    points[1],
                    arrowstyle="-|>",
                    mutation_scale=13,
                    lw=lw,
                    color=ink,
                    shrinkA=0,
                    shrinkB=0,
                    zorder=1,
                )
            )
        else:
            ax.plot(xs, ys, color=ink, lw=lw, solid_capstyle="round", zorder=1)

    def layer(name, text, symbol, symbol_xy):
        x = _X[name]
        ax.add_patch(
            FancyBboxPatch(
                (x - _LAYER_W / 2, _Y_LAYER - _LAYER_H / 2),
                _LAYER_W,
                _LAYER_H,
                boxstyle="round,pad=0.04",
                fc=color(GATE_COLORS[name], name),
                ec=color("k", name),
                lw=2.4 if emphasis and name in shown else 1.2,
                zorder=3,
            )
        )
        ax.text(x, _Y_LAYER, text, ha="center", va="center", fontsize=13, color=color("k", name))
        ax.text(*symbol_xy, symbol, ha="right", va="center", fontsize=13, color=color("k", name))
        if labels:
            ax.text(
                x,
                _Y_LAYER - _LAYER_H / 2 - 0.12,
                GATE_NAMES[name],
                ha="center",
                va="top",
                fontsize=LABEL_FONTSIZE,
                style="italic",
                color=color("k", name),
                zorder=4,
                bbox=dict(fc=_BACKGROUND, ec="none", pad=0.5),
            )

    def node(xy, text, part):
        ax.add_patch(
            Circle(xy, _NODE_R, fc="white", ec=color("k", part), lw=width(1.3, part), zorder=3)
        )
        ax.text(*xy, text, ha="center", va="center", fontsize=15, color=color("k", part), zorder=4)

    # The cell's outline.
    ax.add_patch(
        FancyBboxPatch(
            (0, 0),
            _WIDTH,
            6,
            boxstyle="round,pad=0.1",
            fc=_BACKGROUND,
            ec="#888888",
            lw=1.0,
            zorder=0,
        )
    )

    # The cell state: straight across the top, touched only by the forget product and the sum.
    yc, yb, r = _Y_CELL, _Y_BUS, _NODE_R
    xf, xi, xg, xo, xout = (_X[k] for k in ("f", "i", "g", "o", "out"))
    ax.plot(
        [-1.4, _END - 0.45], [yc, yc], color=color("#333333", "c"), lw=width(3.2, "c"), zorder=1
    )
    wire([(_END - 0.55, yc), (_END, yc)], "c", lw=2.0)
    node((xf, yc), r"$\times$", "f")
    node((xg, yc), r"$+$", "c")
    ax.text(-1.5, yc, r"$c_{t-1}$", ha="right", va="center", fontsize=14, color=color("k", "c"))
    ax.text(_END + 0.1, yc, r"$c_t$", ha="left", va="center", fontsize=14, color=color("k", "c"))

    # The inputs: h_{t-1} from the left and x_t from below join into one bus.
    ax.plot([-1.4, xo], [yb, yb], color="k", lw=1.6, solid_capstyle="round", zorder=1)
    wire([(1.0, -0.85), (1.0, yb)], None, arrow=False)
    ax.add_patch(Circle((1.0, yb), 0.06, color="k", zorder=2))
    ax.text(-1.5, yb, r"$h_{t-1}$", ha="right", va="center", fontsize=14)
    ax.text(1.0, -0.95, r"$x_t$", ha="center", va="top", fontsize=14)
    for name in ("f", "i", "g", "o"):
        wire([(_X[name], yb), (_X[name], _Y_LAYER - _LAYER_H / 2 - 0.04)], name)

    # The four layers, each computing from [h_{t-1}, x_t].
    top = _Y_LAYER + _LAYER_H / 2 + 0.04
    layer("f", r"$\sigma$", r"$f_t$", (xf - 0.12, 3.7))
    layer("i", r"$\sigma$", r"$i_t$", (xi - 0.12, 3.1))
    layer("g", r"$\tanh$", r"$g_t$", (xg - 0.12, 3.05))
    layer("o", r"$\sigma$", r"$o_t$", ((xo + xout) / 2 + 0.35, 2.5))
    # Forget: f multiplies the old cell state.
    wire([(xf, top), (xf, yc - r)], "f")
    # Write: i * g is added to the cell state.
    wire([(xi, top), (xi, _Y_WRITE), (xg - r, _Y_WRITE)], "i")
    wire([(xg, top), (xg, _Y_WRITE - r)], "g")
    node((xg, _Y_WRITE), r"$\times$", "i")
    wire([(xg, _Y_WRITE + r), (xg, yc - r)], "i")
    # Output: o times tanh of the new cell state.
    y_tanh = 3.85
    ax.add_patch(
        FancyBboxPatch(
            (xout - 0.42, y_tanh - 0.22),
            0.84,
            0.44,
            boxstyle="round,pad=0.06",
            fc="white",
            ec=color("k", "h"),
            lw=width(1.1, "h"),
            zorder=3,
        )
    )
    ax.text(xout, y_tanh, r"$\tanh$", ha="center", va="center", fontsize=11, color=color("k", "h"))
    wire([(xout, yc), (xout, y_tanh + 0.29)], "h")
    wire([(xout, y_tanh - 0.29), (xout, _Y_LAYER + r)], "h")
    wire([(xo + _LAYER_W / 2 + 0.04, _Y_LAYER), (xout - r, _Y_LAYER)], "o")
    node((xout, _Y_LAYER), r"$\times$", "o")
    ax.add_patch(Circle((xout, yc), 0.07, color=color("k", "h"), zorder=2))
    wire([(xout, _Y_LAYER - r), (xout, yb), (_END, yb)], "h")
    ax.text(_END + 0.1, yb, r"$h_t$", ha="left", va="center", fontsize=14, color=color("k", "h"))

    return _finish(ax, values, _VALUE_SPOTS, title)


# --- The GRU cell -------------------------------------------------------------------------

# One colour per layer. The update gate borrows the forget gate's colour (z = 1 keeps the
# old state, as f = 1 does) and the candidate the LSTM candidate's; the reset gate has its own.
GRU_GATE_COLORS = {"r": "#d4c4e8", "z": GATE_COLORS["f"], "n": GATE_COLORS["g"]}
GRU_GATE_NAMES = {"r": "reset", "z": "update", "n": "candidate"}
GRU_PARTS = ("h", "r", "z", "n")

# Where the GRU's wires run (the cell's box spans x 0.._WIDTH, y 0..6, like the LSTM's).
_GRU_X = {"drop": 0.5, "x": 1.1, "z": 2.0, "r": 3.8, "lin": 5.6, "bend": 6.6, "n": 7.6,
          "one_minus": 4.7, "out": 9.3}  # fmt: skip
_GRU_Y_RESET = 3.25  # the reset product r * (h W_hn + b_hn)
_GRU_Y_MIX = 4.1  # the 1 - z wire and the product (1 - z) * n

_GRU_VALUE_SPOTS = {
    "h_prev": ((-1.45, 5.45), "left"),
    "x": ((_GRU_X["x"] + 0.25, -0.55), "left"),
    "z": ((_GRU_X["z"] + 0.18, 3.3), "left"),
    "zh": ((_GRU_X["z"] + 0.35, 5.45), "left"),
    "one_minus_z": ((_GRU_X["one_minus"] + 0.05, 4.6), "center"),
    "r": ((_GRU_X["r"] + 0.2, _GRU_Y_RESET + 0.38), "left"),
    "hn": ((_GRU_X["lin"] - 0.18, 2.85), "right"),
    "rhn": ((_GRU_X["lin"] + 0.35, 3.6), "left"),
    "n": ((_GRU_X["n"] + 0.18, 3.05), "left"),
    "write": ((_GRU_X["n"] + 0.35, 4.55), "left"),
    "h": ((_END + 0.05, 5.45), "right"),
}


def draw_gru_cell(
    ax=None,
    highlight: Iterable[str] | None = None,
    values: Mapping[str, str] | None = None,
    title: str | None = None,
    labels: bool = True,
):
    r"""Draw one GRU step in PyTorch's form (gates r, z, n), laid out like ``draw_lstm_cell``.

    .. math::

        r &= \sigma(\cdot), \quad z = \sigma(\cdot), \\
        n &= \tanh\big(x W_{xn} + b_{xn} + r \odot (h_{t-1} W_{hn} + b_{hn})\big), \\
        h_t &= z \odot h_{t-1} + (1 - z) \odot n

    The hidden state runs along the top, where the GRU keeps its memory: it meets the
    product with the update gate and the sum with the written candidate, the same two
    operations as the LSTM's cell state. It also drops to the bus ``[h_{t-1}, x_t]`` at
    the bottom that feeds the layers, and leaves twice on the right: to the next step
    (top) and as the output (bottom). The small white box is the hidden state's share of
    the candidate, ``h_{t-1} W_hn + b_hn`` (it reads only ``h_{t-1}`` from the bus),
    which the reset gate scales before it enters the ``tanh``.

    Args:
        ax: the matplotlib axes to draw into; a new figure if None.
        highlight: parts to emphasise, the others drawn faint: any of ``"h"`` (the state
            line), ``"z"`` (the update gate and both its wires, ``z`` and ``1 - z``),
            ``"r"`` (the reset gate and the reset product), ``"n"`` (the candidate and
            the hidden state's share of it). None: all.
        values: text (e.g. numbers) written next to the wires, keyed by ``"x"``,
            ``"h_prev"``, ``"r"``, ``"z"``, ``"n"``, ``"hn"`` (:math:`h_{t-1} W_{hn} +
            b_{hn}`), ``"rhn"`` (its product with ``r``), ``"zh"`` (:math:`z \odot
            h_{t-1}`), ``"one_minus_z"``, ``"write"`` (:math:`(1 - z) \odot n`), ``"h"``.
        title: a title above the cell.
        labels: write the layers' names (update, reset, candidate) under them.

    Returns:
        The axes.
    """
    ax, shown = _prepare(ax, highlight, values, GRU_PARTS, _GRU_VALUE_SPOTS)
    emphasis = highlight is not None

    def color(base, part):
        return _faded(base, part is None or part in shown)

    def width(lw, part):
        return lw + (0.8 if emphasis and part in shown else 0.0)

    def line(points, part, lw=1.6, ink="k"):
        xs, ys = zip(*points, strict=True)
        ax.plot(
            xs, ys, color=color(ink, part), lw=width(lw, part), solid_capstyle="round", zorder=1
        )

    def arrow(points, part, lw=1.6):
        """A wire through ``points`` with an arrowhead at the last one."""
        if len(points) > 2:
            line(points[:-1], part, lw)
        ax.add_patch(
            FancyArrowPatch(
                points[-2],
                points[-1],
                arrowstyle="-|>",
                mutation_scale=13,
                lw=width(lw, part),
                color=color("k", part),
                shrinkA=0,
                shrinkB=0,
                zorder=1,
            )
        )

    def dot(xy, part):
        ax.add_patch(Circle(xy, 0.07, color=color("k", part), zorder=2))

    def node(xy, text, part, fontsize=15):
        ax.add_patch(
            Circle(xy, _NODE_R, fc="white", ec=color("k", part), lw=width(1.3, part), zorder=3)
        )
        ax.text(
            *xy, text, ha="center", va="center", fontsize=fontsize, color=color("k", part), zorder=4
        )

    def box(x, y, w, h, text, fc, part, fontsize=13, thick=False):
        ax.add_patch(
            FancyBboxPatch(
                (x - w / 2, y - h / 2),
                w,
                h,
                boxstyle="round,pad=0.04",
                fc=color(fc, part),
                ec=color("k", part),
                lw=(2.4 if emphasis and part in shown else 1.2) if thick else width(1.1, part),
                zorder=3,
            )
        )
        ax.text(x, y, text, ha="center", va="center", fontsize=fontsize, color=color("k", part))

    def layer(name, text, symbol, symbol_xy):
        x = _GRU_X[name]
        box(x, _Y_LAYER, _LAYER_W, _LAYER_H, text, GRU_GATE_COLORS[name], name, thick=True)
        ax.text(*symbol_xy, symbol, ha="right", va="center", fontsize=13, color=color("k", name))
        if labels:
            ax.text(
                x,
                _Y_LAYER - _LAYER_H / 2 - 0.12,
                GRU_GATE_NAMES[name],
                ha="center",
                va="top",
                fontsize=LABEL_FONTSIZE,
                style="italic",
                color=color("k", name),
                zorder=4,
                bbox=dict(fc=_BACKGROUND, ec="none", pad=0.5),
            )

    # The cell's outline.
    ax.add_patch(
        FancyBboxPatch(
            (0, 0),
            _WIDTH,
            6,
            boxstyle="round,pad=0.1",
            fc=_BACKGROUND,
            ec="#888888",
            lw=1.0,
            zorder=0,
        )
    )

    ys, yb, r = _Y_CELL, _Y_BUS, _NODE_R
    top = _Y_LAYER + _LAYER_H / 2 + 0.04  # just above a layer box
    bottom = _Y_LAYER - _LAYER_H / 2 - 0.04  # just below it
    xz, xr, xlin, xn, xout = (_GRU_X[k] for k in ("z", "r", "lin", "n", "out"))

    # The hidden state along the top: kept where z = 1, mixed with the candidate where z < 1.
    line([(-1.4, ys), (_END - 0.45, ys)], "h", lw=3.2, ink="#333333")
    arrow([(_END - 0.55, ys), (_END, ys)], "h", lw=2.0)
    node((xz, ys), r"$\times$", "z")
    node((xn, ys), r"$+$", "h")
    ax.text(-1.5, ys, r"$h_{t-1}$", ha="right", va="center", fontsize=14, color=color("k", "h"))
    ax.text(_END + 0.1, ys, r"$h_t$", ha="left", va="center", fontsize=14, color=color("k", "h"))

    # h_{t-1} drops to the bus, where x_t joins it: the input of every layer.
    xd, xx = _GRU_X["drop"], _GRU_X["x"]
    dot((xd, ys), None)
    line([(xd, ys), (xd, yb), (xn, yb)], None)
    line([(xx, -0.85), (xx, yb)], None)
    dot((xx, yb), None)
    ax.text(xx, -0.95, r"$x_t$", ha="center", va="top", fontsize=14)
    for name, x in (("z", xz), ("r", xr), ("n", xlin), ("n", xn)):
        arrow([(x, yb), (x, bottom if x != xlin else _Y_LAYER - 0.26)], name)

    # The layers.
    layer("z", r"$\sigma$", r"$z_t$", (xz - 0.12, 3.3))
    layer("r", r"$\sigma$", r"$r_t$", (xr - 0.12, 2.95))
    layer("n", r"$\tanh$", r"$n_t$", (xn - 0.12, 3.05))
    box(xlin, _Y_LAYER, 0.84, 0.44, r"$W_{hn}$", "white", "n", fontsize=11)

    # Update gate: z keeps the old state; 1 - z lets the candidate in.
    arrow([(xz, top), (xz, ys - r)], "z")
    dot((xz, _GRU_Y_MIX), "z")
    xm = _GRU_X["one_minus"]
    arrow([(xz, _GRU_Y_MIX), (xm - r, _GRU_Y_MIX)], "z")
    node((xm, _GRU_Y_MIX), r"$1-$", "z", fontsize=10)
    arrow([(xm + r, _GRU_Y_MIX), (xn - r, _GRU_Y_MIX)], "z")
    node((xn, _GRU_Y_MIX), r"$\times$", "z")
    arrow([(xn, _GRU_Y_MIX + r), (xn, ys - r)], "z")

    # Reset gate: r scales the hidden state's share of the candidate, which enters the tanh.
    arrow([(xr, top), (xr, _GRU_Y_RESET), (xlin - r, _GRU_Y_RESET)], "r")
    arrow([(xlin, _Y_LAYER + 0.26), (xlin, _GRU_Y_RESET - r)], "n")
    node((xlin, _GRU_Y_RESET), r"$\times$", "r")
    xbend = _GRU_X["bend"]
    arrow(
        [(xlin + r, _GRU_Y_RESET), (xbend, _GRU_Y_RESET), (xbend, _Y_LAYER),
         (xn - _LAYER_W / 2 - 0.04, _Y_LAYER)],
        "r",
    )  # fmt: skip

    # Candidate: n goes up to the product with 1 - z.
    arrow([(xn, top), (xn, _GRU_Y_MIX - r)], "n")

    # The new state is also the output.
    dot((xout, ys), "h")
    arrow([(xout, ys), (xout, yb), (_END, yb)], "h")
    ax.text(_END + 0.1, yb, r"$h_t$", ha="left", va="center", fontsize=14, color=color("k", "h"))

    return _finish(ax, values, _GRU_VALUE_SPOTS, title)
