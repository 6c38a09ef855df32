"""Lesson 10's figures: where gradient descent from a grid of starts ends, and a walker that noise moves.

* ``basin_paths``: descent paths from a grid of starts on an exact 2-D loss, each path and its
  start in the colour of the minimum it reaches, so that the starts map out the basins;
* ``valley_escape``: a few runs from one start on the exact loss (full-batch descent and
  mini-batch SGD), beside each run's loss on all the data per step, the minima's losses dotted.

The second coordinate may be an angle (a phase): then a path that leaves through one edge of the
window comes back through the other, and a minimum is drawn wherever a copy of it falls inside.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from toolkit.plots import style
from toolkit.plots.shared import (NO_LANDSCAPE, as_array, draw_contour, draw_run_losses, draw_run_path,
                                  figure_legend, integer_steps, legend_caption, log_levels, loss_colorbar,
                                  mark_minimum, mark_start, panel_note, readable_log_range, round_log_axis,
                                  run_path_legend)
from toolkit.plots.style import BASIN_COLORS, TEXT_BOX, house_style
from toolkit.train import History

# A marker per minimum as well as a colour, so that the figure reads in grey.
BASIN_MARKERS = ["o", "p", "^", "D", "v", "h", "P"]


def _copies(values: np.ndarray, low: float, high: float, period: float | None) -> list[float]:
    """The shifts k·period that bring some of ``values`` into [low, high]; [0] without a period."""
    if period is None:
        return [0.0]
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return [0.0]
    first = int(np.floor((low - finite.max()) / period))
    last = int(np.ceil((high - finite.min()) / period))
    return [k * period for k in range(first, last + 1)]


def _into_period(values: np.ndarray, low: float, period: float | None) -> np.ndarray:
    """Values put into [low, low + period), as an angle is; unchanged without a period."""
    return values if period is None else low + np.mod(values - low, period)


def _basin_style(index: int) -> tuple[str, str]:
    return BASIN_COLORS[index % len(BASIN_COLORS)], BASIN_MARKERS[index % len(BASIN_MARKERS)]


def _name_minimum(ax, point, name: str, color=None) -> None:
    """The minimum's letter beside its marker, on a white box so it reads on any contour."""
    ax.annotate(name, point, textcoords="offset points", xytext=(8, 6), ha="left", va="bottom", zorder=9,
                color=color or style.INK, bbox=TEXT_BOX)


def basin_paths(alphas, betas, Z, paths, basin, minima: Sequence[dict], *, period: float | None = None,
                xlabel: str, ylabel: str, title: str = "", note: str | None = None) -> Figure:
    """Gradient descent from a grid of starts on an exact 2-D loss contour, each path coloured by where it ends.

    alphas (A,), betas (B,), Z (B, A): the true loss, Z[i, j] at (alphas[j], betas[i]).
    paths: (T, S, 2), S descent paths of T points; basin: (S,), the index
    into ``minima`` of the minimum each path reaches. minima: dicts with
    ``point`` (2,), ``name`` ("A") and ``label`` (for the legend). Each start
    is a dot in its minimum's colour, so the dots map the basins; each
    minimum is a large marker of that colour and shape, named beside it.

    period: the second coordinate is an angle of this period (a phase): the
    window [betas[0], betas[0] + period) shows all of it, and a path that
    leaves through one edge comes back in through the other (every path is
    drawn with its copies shifted by whole periods, and the axes clip them).

    The contour is in greys (``style.BASIN_CMAP``, dark where the loss is
    low, as every landscape of the course), with a colour bar: colour is
    kept for the basins.
    """
    from matplotlib import patheffects
    from matplotlib.lines import Line2D

    alphas, betas, z = as_array(alphas), as_array(betas), as_array(Z)
    paths, basin = as_array(paths), np.asarray(as_array(basin), dtype=int)
    low, high = betas[0], betas[-1]
    levels = log_levels(z, count=18)
    with house_style():
        fig = style.figure(5.0, 6.4)
        ax = fig.add_subplot()
        if levels is not None:
            norm = LogNorm(levels[0], levels[-1])
            filled = ax.contourf(alphas, betas, z, levels=levels, norm=norm, cmap=style.BASIN_CMAP)
            ax.contour(alphas, betas, z, levels=levels[::2], colors=style.MID, linewidths=0.4, alpha=0.5)
            loss_colorbar(fig, filled, ax, levels)
        else:
            panel_note(ax, NO_LANDSCAPE)
        outline = [patheffects.withStroke(linewidth=2.4, foreground=style.PAPER)]
        for s in range(paths.shape[1]):
            color, _ = _basin_style(basin[s])
            for shift in _copies(paths[:, s, 1], low, high, period):
                ax.plot(paths[:, s, 0], paths[:, s, 1] + shift, color=color, linewidth=1.0, zorder=3,
                        path_effects=outline)
        starts = paths[0]
        for k in np.unique(basin):
            color, _ = _basin_style(k)
            chosen = starts[basin == k]
            ax.plot(chosen[:, 0], _into_period(chosen[:, 1], low, period), marker="o", markersize=5, color=color,
                    markeredgecolor=style.INK, markeredgewidth=0.6, linestyle="none", zorder=4)
        handles, labels = [], []
        for k, minimum in enumerate(minima):
            color, marker = _basin_style(k)
            point = as_array(minimum["point"])
            where = (point[0], _into_period(point[1:], low, period)[0])
            ax.plot(*where, marker=marker, markersize=13, color=color, markeredgecolor=style.INK,
                    markeredgewidth=1.3, linestyle="none", zorder=7)
            _name_minimum(ax, where, minimum["name"])
            handles.append(Line2D([], [], color=color, marker=marker, markersize=8, markeredgecolor=style.INK,
                                  linewidth=1.2))
            labels.append(minimum["label"])
        handles.append(Line2D([], [], color=style.LIGHT, marker="o", markersize=5, markeredgecolor=style.INK,
                              markeredgewidth=0.6, linestyle="none"))
        labels.append("a start, in the colour of\nthe minimum it reaches")
        ax.set_xlim(alphas[0], alphas[-1])
        ax.set_ylim(low, high)
        ax.set_aspect("equal", adjustable="box")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.grid(False)
        ax.set_title(title)
        legend = figure_legend(fig, handles, labels, ncols=2)
        legend_caption(fig, legend, note)
    return fig


def valley_escape(alphas, betas, Z, runs: Sequence[dict], minima: Sequence[dict], *, period: float | None = None,
                  xlabel: str, ylabel: str, title: str = "", note: str | None = None) -> Figure:
    """Left: a few runs from one start on the exact loss. Right: each run's loss on all the data, per step.

    alphas (A,), betas (B,), Z (B, A): the true loss, Z[i, j] at (alphas[j], betas[i]).
    runs: dicts with ``label``, ``color`` (from ``style.RUN_COLORS``),
    ``history`` (a ``History``), ``manual_path`` and ``autograd_path``
    ((T, 2) each) and ``losses`` ((manual, autograd), the loss on all the
    data at every point of each twin's path: for a mini-batch run this is
    not the loss it trained on), and optionally ``every`` (circles on every
    few steps of a long path). Each run's hand-written twin is a line
    through circles in its colour, autograd's vermillion crosses sit in the
    circles, and a run ends in the house star; they share the start square.

    minima: dicts with ``point`` (2,), ``name`` and ``loss``: a white plus,
    named, at every copy of the point inside the window (see ``period``);
    those with ``level`` true (where the runs start and end, say) also get
    a dotted level at their loss on the right, named in the margin.
    """
    alphas, betas, z = as_array(alphas), as_array(betas), as_array(Z)
    window = ((alphas[0], alphas[-1]), (betas[0], betas[-1]))
    levels = log_levels(z, count=20)
    with house_style():
        fig, (left, right) = style.panels(9.4, 4.8, 2, 2, width_ratios=[1.1, 1])
        if levels is not None:
            filled = draw_contour(left, alphas, betas, z, levels, LogNorm(levels[0], levels[-1]))
            loss_colorbar(fig, filled, left, levels)
        else:
            panel_note(left, NO_LANDSCAPE)
        for minimum in minima:
            point = as_array(minimum["point"])
            for shift in _copies(point[1:], betas[0], betas[-1], period):
                where = (point[0], point[1] + shift)
                if alphas[0] <= where[0] <= alphas[-1] and betas[0] <= where[1] <= betas[-1]:
                    # Over the paths, under their end stars: a run that ends on a minimum shows its star.
                    mark_minimum(left, where, label="minimum (named by its letter)", zorder=5.5)
                    _name_minimum(left, where, minimum["name"])
        last_step, curves = 0, []
        for run in runs:
            manual_path, autograd_path = as_array(run["manual_path"]), as_array(run["autograd_path"])
            history: History = run["history"]
            draw_run_path(left, manual_path, autograd_path, color=run["color"], label=run["label"], window=window,
                          diverged_at=history.diverged_at_step, every=run.get("every", 1))
            last_step = max(last_step, len(manual_path) - 1)
        mark_start(left, as_array(runs[0]["manual_path"]), zorder=8)
        left.set_xlim(*window[0])
        left.set_ylim(*window[1])
        left.set_aspect("equal", adjustable="box")
        left.set_xlabel(xlabel)
        left.set_ylabel(ylabel)
        left.grid(False)
        left.set_title("The paths on the exact loss")
        for minimum in minima:
            if minimum.get("level"):
                right.axhline(minimum["loss"], **style.REFERENCE, zorder=1)
                name = right.annotate(f"{minimum['name']}: {minimum['loss']:.3g}", (1.0, minimum["loss"]),
                                      xycoords=("axes fraction", "data"), textcoords="offset points", xytext=(3, 0),
                                      ha="left", va="center", color=style.DARK, annotation_clip=False)
                # In the margin. At a notes width the panels stack, and the margin the contour's colour bar
                # takes above holds the name: the layout need not widen it (and part the bar from its contour).
                name.set_in_layout(style.active_width() is None)
        for run in runs:
            manual_losses, autograd_losses = (as_array(v) for v in run["losses"])
            draw_run_losses(right, run["history"], label=run["label"], color=run["color"], last_step=last_step,
                            curves=curves, values=(manual_losses, autograd_losses), crosses=25)
        right.set_yscale("log")
        readable_log_range(right, *curves)
        round_log_axis(right)
        right.set_xlabel("step")
        integer_steps(right)
        right.set_ylabel("loss on all the data (log scale)")
        right.set_title("The loss per step")
        handles, labels = run_path_legend([left, right])
        legend = figure_legend(fig, handles, labels, ncols=3)
        legend_caption(fig, legend, note, title)
    return fig
