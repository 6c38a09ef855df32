"""Lesson 04's own figure: the three weights and the loss at every step. (Its slices are ``planes``'.)"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure

from toolkit.plots import style
from toolkit.plots.shared import as_array, draw_loss_curves, integer_steps, twins_key
from toolkit.plots.style import AUTOGRAD_CROSS, MANUAL_LINE, RUN_COLORS, house_style
from toolkit.train import History


def weights_over_training(history: History, names: Sequence[str], *, shown: int | None = None,
                          title: str = "") -> Figure:
    """Left: every parameter of a small network at every step, both twins. Right: both losses per step.

    history.path_manual, path_autograd: (T, P), one column per name in
    ``names``. Each parameter has its own colour; the hand-written twin is
    the line and autograd the crosses on it (they coincide). ``shown``: how
    many leading points to draw (for a diverged run, the part before it
    blew up, see ``landscape.drawable_part``); default all.
    """
    manual_path, autograd_path = as_array(history.path_manual), as_array(history.path_autograd)
    shown = len(manual_path) if shown is None else max(1, min(shown, len(manual_path)))
    steps = np.arange(shown)
    every = max(1, shown // 25)
    with house_style():
        fig, (left, right) = style.panels(8.6, 3.4, 2, 2)
        for k, (color, name) in enumerate(zip(RUN_COLORS, names)):
            left.plot(steps, manual_path[:shown, k], color=color, label=name,
                      **{**MANUAL_LINE, "markevery": every, "markersize": 4})
            left.plot(steps[::every], autograd_path[:shown:every, k], **AUTOGRAD_CROSS)
        left.axhline(0.0, color=style.LIGHT, linewidth=0.8, zorder=1)
        left.set_xlabel("step")
        integer_steps(left)
        left.set_ylabel("weight value")
        left.set_title(title or "The weights at every step")
        handles, labels = left.get_legend_handles_labels()
        key, text = twins_key()
        legend = left.legend(handles + [key], labels + [text], loc="best")
        if history.diverged:
            legend.set_title(f"diverged at step {history.diverged_at_step};\ndrawn up to step {shown - 1}")

        draw_loss_curves(right, history)
        right.set_ylabel("training loss (log scale)")
        right.set_title("The loss at every step")
        right.legend(loc="best" if history.diverged else "upper right")
    return fig
