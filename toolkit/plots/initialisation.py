"""Lesson 08's figures: each hidden layer's activations, the gradient at every depth, the loss from each start."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from toolkit.plots import style
from toolkit.plots.shared import (as_array, draw_run_losses, figure_legend, integer_steps, legend_caption,
                                  readable_log_range, round_log_axis, run_path_legend, twins_key)
from toolkit.plots.style import AUTOGRAD_CROSS, CMAP, MANUAL_LINE, house_style


def _layer_colors(count: int) -> list:
    """Dark (the first layer) to light (the deepest), from the house colour map, stopping short of its
    pale yellow end so that every line stays visible on white."""
    from matplotlib import colormaps

    return [colormaps[CMAP](v) for v in np.linspace(0.0, 0.8, count)]


def _two_digits(value: float) -> str:
    """Two significant digits: 0.71, 0.0094, 3.4e-15, 3.4e+05."""
    return f"{value:.2g}"


def activation_histograms(values: dict[str, dict[str, Sequence]], layers: Sequence[int], *,
                          log_columns: Sequence[str] = (), bins: int = 51, title: str = "",
                          note: str | None = None) -> Figure:
    """How each hidden layer's activations are spread: one row per starting point, one column per activation.

    values[row][column]: the activations of hidden layers 1, 2, ... (tensors or
    arrays of any shape, layer 1 first). ``layers``: the hidden layers to draw
    (counted from 1), overlaid in each panel as outlined histograms, dark for
    the first and light for the deepest. The y axis is the fraction of the
    layer's values that falls into each bin, so the layers compare.

    Every panel of a column uses the same bins. A plain column gets linear
    bins over its largest |value| either side of 0 (tanh: nearly [-1, 1];
    an odd number of bins puts 0 in the middle of one);
    a column named in ``log_columns`` (ReLU: values >= 0 across many
    decades) gets log-spaced bins over its positive values, and the exact
    zeros, which a log axis cannot show, are counted in the panel's title
    ("56% zeros": say in the caption that they are not drawn).
    Each title also gives the standard deviation of the first and the last
    layer drawn.
    """
    from matplotlib.lines import Line2D

    rows = list(values)
    columns = list(values[rows[0]])
    colors = _layer_colors(len(layers))
    edges = {}
    for column in columns:
        drawn = np.concatenate([as_array(values[row][column][k - 1]).ravel() for row in rows for k in layers])
        drawn = drawn[np.isfinite(drawn)]
        if column in log_columns:
            positive = drawn[drawn > 0]
            low, high = (positive.min(), positive.max()) if positive.size else (1e-3, 1.0)
            edges[column] = np.geomspace(low, high * (1 + 1e-9), bins + 1)
        else:
            reach = np.abs(drawn).max() if drawn.size else 1.0
            reach = reach if reach > 0 else 1.0
            edges[column] = np.linspace(-reach, reach, bins + 1)
    with house_style():
        fig, cells = style.panels(7.0, 1.75 * len(rows) + 1.0, len(rows) * len(columns), len(columns))
        for i, row in enumerate(rows):
            for j, column in enumerate(columns):
                ax = cells[i * len(columns) + j]
                log = column in log_columns
                for color, k in zip(colors, layers):
                    h = as_array(values[row][column][k - 1]).ravel()
                    counts, _ = np.histogram(h, edges[column])
                    fraction = counts / max(h.size, 1)
                    ax.stairs(fraction, edges[column], color=color, linewidth=1.3, zorder=3)
                    ax.stairs(fraction, edges[column], color=color, fill=True, alpha=0.12, zorder=2)
                first = as_array(values[row][column][layers[0] - 1])
                last = as_array(values[row][column][layers[-1] - 1])
                text = f"{column}: std {_two_digits(first.std())} → {_two_digits(last.std())}"
                if log:
                    everything = np.concatenate([as_array(values[row][column][k - 1]).ravel() for k in layers])
                    text += f", {np.mean(everything == 0):.0%} zeros"
                reflowed = style.columns_for(len(columns)) < len(columns)    # one column: the row's name on top
                ax.set_title(f"{row}\n{text}" if reflowed else text, loc="left")
                if log:
                    ax.set_xscale("log")
                ax.set_ylim(bottom=0)
                ax.yaxis.set_major_locator(MaxNLocator(nbins=2 if reflowed else 3))
                if ax.get_subplotspec().is_first_col():
                    ax.set_ylabel("fraction" if reflowed else f"{row}\nfraction per bin")
                if i == len(rows) - 1:      # stacked in one column, the titles name each panel's activation
                    ax.set_xlabel(f"activation ({column})" + (", log scale" if log else ""))
        handles = [Line2D([], [], color=color, linewidth=2) for color in colors]
        legend = figure_legend(fig, handles, [f"hidden layer {k}" for k in layers], ncols=len(layers))
        legend_caption(fig, legend, note, title)
    return fig


def gradient_flow(curves: dict[str, dict[str, dict]], *, title: str = "", note: str | None = None) -> Figure:
    """The spread of the gradient at every depth, at the start of training: one panel per activation.

    curves[column][scheme] is a dict with ``color`` and four arrays over the
    Linear layers 1 .. L (1 is next to the input): ``input_manual``,
    ``input_autograd`` (the standard deviation of dL/d(the layer's input);
    layer 1's input is the data) and ``weight_manual``, ``weight_autograd``
    (of dL/dW). Top row the former, bottom row the latter, log scales shared
    along each row. The hand-written twin is the line with circles, autograd
    the crosses on it. A scheme whose gradients are all exactly 0 cannot sit
    on a log axis and is left out (say so in ``note``).
    """
    columns = list(curves)
    rows = [("input", "std of dL/d(input of layer ℓ)\n(log scale)"),
            ("weight", "std of dL/dW of layer ℓ\n(log scale)")]
    with house_style():
        fig, cells = style.panels(7.0, 5.9, len(rows) * len(columns), len(columns))
        handles = {}
        for j, column in enumerate(columns):
            for i, (key, ylabel) in enumerate(rows):
                ax = cells[i * len(columns) + j]
                for scheme, curve in curves[column].items():
                    manual_values = as_array(curve[f"{key}_manual"])
                    autograd_values = as_array(curve[f"{key}_autograd"])
                    if not (manual_values > 0).any():
                        continue
                    layer = np.arange(1, len(manual_values) + 1)
                    with np.errstate(invalid="ignore"):
                        manual_values = np.where(manual_values > 0, manual_values, np.nan)
                        autograd_values = np.where(autograd_values > 0, autograd_values, np.nan)
                    line, = ax.plot(layer, manual_values, color=curve["color"], zorder=3,
                                    **{**MANUAL_LINE, "markersize": 5})
                    ax.plot(layer, autograd_values, zorder=4, **AUTOGRAD_CROSS)
                    handles.setdefault(scheme, line)
                ax.set_yscale("log")
                ax.xaxis.set_major_locator(MaxNLocator(integer=True))
                reflowed = style.columns_for(len(columns)) < len(columns)     # each panel names its column
                if i == 0 or reflowed:
                    ax.set_title(column)
                if i == len(rows) - 1 or reflowed:
                    ax.set_xlabel("Linear layer ℓ (1 = next to the input)")
                if ax.get_subplotspec().is_first_col():
                    ax.set_ylabel(ylabel)
        key, text = twins_key()
        legend = figure_legend(fig, [*handles.values(), key], [*handles, text], ncols=4)
        legend_caption(fig, legend, note, title)
    return fig


def init_loss_curves(panels: Sequence[dict], *, reference: tuple[float, str] | None = None,
                     note: str | None = None) -> Figure:
    """The training loss from several starting points, one panel per group, on a shared log axis.

    Each panel is a dict with keys title and runs: a dict label -> dict with
    ``history`` and ``color`` and optionally ``linewidth``, ``alpha`` (a
    wide, pale line keeps a run visible under another that lies exactly on
    it) and ``linestyle``. The hand-written twin is the line, autograd the crosses on it; a
    diverged run ends in its X. ``reference``: (loss, label), drawn as a
    dotted line in every panel (e.g. ln 2, the loss of guessing).
    """
    with house_style():
        fig, axes = style.panels(7.0, 3.7, len(panels), len(panels), sharey=True)
        curves = []
        for ax, panel in zip(axes, panels):
            last_step = max((len(run["history"].loss_manual) - 1 for run in panel["runs"].values()), default=0)
            if reference is not None:
                ax.axhline(reference[0], **style.REFERENCE, zorder=1)
            for label, run in panel["runs"].items():
                line_style = {"linewidth": run.get("linewidth", 1.6), "alpha": run.get("alpha", 1.0),
                              "linestyle": run.get("linestyle", "-"), "zorder": 2}
                draw_run_losses(ax, run["history"], label=label, color=run["color"], last_step=last_step,
                                curves=curves, line_style=line_style, crosses=16)
            ax.set_yscale("log")
            ax.set_xlabel("step")
            integer_steps(ax)
            ax.set_title(panel["title"])
        readable_log_range(axes[0], *curves)
        round_log_axis(axes[0])
        axes[0].set_ylabel("training loss (log scale)")
        handles, labels = run_path_legend(axes)
        if reference is not None:
            handles.insert(-1, Line2D([], [], **style.REFERENCE))
            labels.insert(-1, reference[1])
        legend = figure_legend(fig, handles, labels, ncols=3)
        legend_caption(fig, legend, note)
    return fig
