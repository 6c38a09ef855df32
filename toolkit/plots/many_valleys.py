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


def _name_minimum(ax, point, name: str, color=None, zorder: float = 9) -> None:
    """The minimum's letter beside its marker, on a white box so it reads on any contour."""
    ax.annotate(name, point, textcoords="offset points", xytext=(8, 6), ha="left", va="bottom", zorder=zorder,
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


def _mark_minima(ax, minima: Sequence[dict], window, period: float | None, zorder: float) -> None:
    """A white plus, named, at every copy of each minimum inside ``window`` ((x0, x1), (y0, y1))."""
    (x0, x1), (y0, y1) = window
    for minimum in minima:
        point = as_array(minimum["point"])
        for shift in _copies(point[1:], y0, y1, period):
            where = (point[0], point[1] + shift)
            if x0 <= where[0] <= x1 and y0 <= where[1] <= y1:
                mark_minimum(ax, where, label="minimum (named by its letter)", zorder=zorder)
                _name_minimum(ax, where, minimum["name"], zorder=zorder + 0.5)


def _close_up(left, alphas, betas, z, levels, run: dict, minima: Sequence[dict], period: float | None) -> None:
    """A run too short to see at the scale of ``left``, drawn again enlarged in an inset at its top left corner,
    on the same contours, with a frame on ``left`` round the part enlarged."""
    manual_path, autograd_path = as_array(run["manual_path"]), as_array(run["autograd_path"])
    middle = (manual_path.min(axis=0) + manual_path.max(axis=0)) / 2
    half = 1.0 * (manual_path.max(axis=0) - manual_path.min(axis=0)).max()
    window = ((middle[0] - half, middle[0] + half), (middle[1] - half, middle[1] + half))
    inset = left.inset_axes([0.03, 0.64, 0.36, 0.33])
    if levels is not None:
        draw_contour(inset, alphas, betas, z, levels, LogNorm(levels[0], levels[-1]))
    _mark_minima(inset, minima, window, period, zorder=7)
    draw_run_path(inset, manual_path, autograd_path, color=run["color"], label=f"_{run['label']}", window=window,
                  every=max(1, len(manual_path) // 15), zorder=4)
    mark_start(inset, manual_path, zorder=8)
    inset.set_xlim(*window[0])
    inset.set_ylim(*window[1])
    inset.set_aspect("equal", adjustable="box", anchor="NW")
    inset.set_xticks([])
    inset.set_yticks([])
    left.indicate_inset_zoom(inset, edgecolor=style.INK)


def valley_escape(alphas, betas, Z, runs: Sequence[dict], minima: Sequence[dict], *, period: float | None = None,
                  xlabel: str, ylabel: str, title: str = "", note: str | None = None,
                  close_up: int | None = None) -> Figure:
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

    The runs are drawn in order, each over the ones before it, and the
    minima over them all. close_up: the index of a run whose path is too
    short to see at the window's scale (a full-batch control that hardly
    moves, say), drawn again enlarged in an inset.
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
        last_step, curves = 0, []
        for k, run in enumerate(runs):                  # each run over the ones before: line, crosses, star
            manual_path, autograd_path = as_array(run["manual_path"]), as_array(run["autograd_path"])
            history: History = run["history"]
            draw_run_path(left, manual_path, autograd_path, color=run["color"], label=run["label"], window=window,
                          diverged_at=history.diverged_at_step, every=run.get("every", 1), zorder=4 + 3 * k)
            last_step = max(last_step, len(manual_path) - 1)
        # Over every path and its end star (a run that ends on a minimum ends under its plus), under the start.
        on_top = 4 + 3 * len(runs)
        _mark_minima(left, minima, window, period, zorder=on_top)
        mark_start(left, as_array(runs[0]["manual_path"]), zorder=on_top + 1)
        if close_up is not None:
            _close_up(left, alphas, betas, z, levels, runs[close_up], minima, period)
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
