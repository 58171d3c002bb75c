"""Interactive figures that degrade to a static figure in the built book.

In Jupyter, ``interactive_figure`` shows sliders that redraw the figure. A static
HTML page has no kernel to redraw anything, so when the book is built (the
book's Sphinx extension sets ``LSTM_COURSE_STATIC_WIDGETS=1`` for the kernels it
starts) the same call draws the figure once at the sliders' default values and
says, in a line under it, that the figure is interactive in Jupyter.
"""

from __future__ import annotations

import os
from collections.abc import Callable

STATIC_ENV = "LSTM_COURSE_STATIC_WIDGETS"


def static_mode() -> bool:
    """True while the book is being built (no live kernel behind the page)."""
    return os.environ.get(STATIC_ENV, "") not in ("", "0")


def interactive_figure(draw: Callable, **controls):
    """Show ``draw(**values)`` with one ipywidgets control per keyword argument.

    Args:
        draw: function that draws one figure (with matplotlib) from the controls'
            values, passed as keyword arguments.
        **controls: ipywidgets value widgets (``FloatSlider``, ``IntSlider``,
            ``Dropdown``...); their ``value`` is the default setting.

    Returns None, so that nothing is printed under the figure or the controls.
    """
    from IPython.display import Markdown, display

    if static_mode():
        import matplotlib.pyplot as plt

        draw(**{name: control.value for name, control in controls.items()})
        plt.show()
        settings = ", ".join(
            f"{control.description or name} = {control.value}" for name, control in controls.items()
        )
        display(
            Markdown(
                f"*Interactive in Jupyter: this figure shows the default setting ({settings}). "
                "Open this page as a notebook to move the controls and watch it redraw.*"
            )
        )
        return
    import ipywidgets

    ipywidgets.interact(draw, **controls)  # displays the controls; its return value is not needed


def progress(iterable, **tqdm_kwargs):
    """``tqdm.auto.tqdm(iterable)``: a progress bar for training loops in Jupyter.

    tqdm's notebook bar is an ipywidget, so in the built book it would be a widget
    with no kernel behind it; there the bar is switched off (the loop runs as is).
    """
    from tqdm.auto import tqdm

    return tqdm(iterable, disable=static_mode() or tqdm_kwargs.pop("disable", False), **tqdm_kwargs)
