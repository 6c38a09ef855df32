"""Lesson 01's figures: the loss of one weight with the descent steps on it, and the slope at each step."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from toolkit.plots import style
from toolkit.plots.shared import (as_array, draw_twin_paths, figure_legend, mark_start, merged_handles, panel_note,
                                  points_inside, spread_out)
from toolkit.plots.style import AUTOGRAD, AUTOGRAD_CROSS, MANUAL, MANUAL_LINE, house_style


def loss_vs_weight(weights, losses, manual_path, autograd_path, manual_losses, autograd_losses,
                   best: float | None = None, xlabel: str = "weight w", title: str = "",
                   diverged_at: int | None = None, *, slope_curve=None, manual_slopes=None, autograd_slopes=None,
                   slope_label: str = "slope dL/dw", slope_title: str = "The slope at each step") -> Figure:
    """A one-parameter loss curve L(w) with the descent steps drawn on it.

    weights, losses: the curve, shape (G,). *_path: w at every step, (T,);
    *_losses: L at those w, (T,). diverged_at: the step where the run
    diverged, if it did; its path is then drawn until it leaves the curve's
    window (to huge values, inf or NaN), and where it went is marked.

    With ``slope_curve`` (dL/dw at ``weights``, (G,)) a second panel beside
    it draws the derivative itself, labelled ``slope_label``, and marks on
    it the slope each twin computed at each step: manual_slopes,
    autograd_slopes, (S,), the gradient at path point t for t < S.
    """
    weights, losses = as_array(weights), as_array(losses)
    manual_pts = np.column_stack([as_array(manual_path), as_array(manual_losses)])
    autograd_pts = np.column_stack([as_array(autograd_path), as_array(autograd_losses)])
    finite = losses[np.isfinite(losses)]
    top = float(finite.max()) * 1.45 if finite.size else 1.0
    window = ((weights.min(), weights.max()), (0.0, top))
    shown = len(manual_pts) if diverged_at is None else points_inside(manual_pts, window)
    with house_style():
        if slope_curve is None:
            fig = style.figure(4.6, 3.4)
            ax = fig.add_subplot()
        else:
            fig, (ax, slope_ax) = style.panels(8.8, 3.7, 2, 2, sharex=True)
        ax.plot(weights, losses, color=style.DARK, linewidth=1.4, label="loss L(w)", zorder=2)
        if best is not None:
            ax.axvline(best, **style.REFERENCE, label=f"minimum, w = {best:.3f}")
        draw_twin_paths(ax, manual_pts, autograd_pts, diverged_at=diverged_at, window=window, thin=True)
        drawn = manual_pts[:shown]
        for a, b in zip(drawn[:4], drawn[1:5]):   # arrows for the first steps show the direction
            ax.annotate("", xy=b, xytext=a, arrowprops={"arrowstyle": "->", "color": MANUAL["color"], "lw": 1.0})
        ax.set_xlabel(xlabel)
        ax.set_ylabel("loss L(w)")
        ax.set_title(title)
        ax.set_ylim(bottom=0, top=top)
        if slope_curve is not None:
            _draw_slopes(slope_ax, weights, as_array(slope_curve), manual_pts[:shown, 0],
                         as_array(manual_slopes if manual_slopes is not None else []),
                         as_array(autograd_slopes if autograd_slopes is not None else []),
                         best=best, label=slope_label, diverged_at=diverged_at)
            slope_ax.set_xlabel(xlabel)
            slope_ax.set_title(slope_title)
            figure_legend(fig, *merged_handles([ax, slope_ax]), ncols=4)
        else:   # below the axes: the path may leave through the top
            figure_legend(fig, *merged_handles([ax]), ncols=3)
    return fig


def _draw_slopes(ax, weights, slope_curve, path, manual_slopes, autograd_slopes, *, best, label, diverged_at):
    """The derivative dL/dw against w, and the slope each twin computed at each step drawn (path[t], slope[t])."""
    ax.plot(weights, slope_curve, color=style.DARK, linewidth=1.4, label=label, zorder=2)
    ax.axhline(0.0, color=style.MID, linewidth=0.9, zorder=1)
    if best is not None:
        ax.axvline(best, **style.REFERENCE)
    finite = slope_curve[np.isfinite(slope_curve)]
    low, high = (finite.min(), finite.max()) if finite.size else (-1.0, 1.0)
    pad = 0.08 * (high - low) if high > low else 1.0
    ax.set_ylim(low - pad, high + pad)
    count = min(len(path), len(manual_slopes), len(autograd_slopes))
    points = np.column_stack([path[:count], manual_slopes[:count]])
    window = ((weights.min(), weights.max()), (low - pad, high + pad))
    inside = points_inside(points, window) if count else 0
    points = points[:inside]
    if inside:
        every = spread_out(points, window)     # crowded near the bottom: a marker on every few only
        ax.plot(points[every, 0], points[every, 1], color=MANUAL["color"], **{**MANUAL_LINE, "linestyle": "none"},
                label=MANUAL["label"], zorder=4)
        ax.plot(path[:inside][every], autograd_slopes[:inside][every], **AUTOGRAD_CROSS, label=AUTOGRAD["label"],
                zorder=5)
        mark_start(ax, points)
        for a, b in zip(points[:4], points[1:5]):
            ax.annotate("", xy=b, xytext=a, arrowprops={"arrowstyle": "->", "color": MANUAL["color"], "lw": 1.0})
    ax.set_ylabel("slope dL/dw")
    text = "each step moves w against the slope,\nw ← w − lr·dL/dw: where the slope is\nnegative w grows, where positive it shrinks"
    if diverged_at is not None:
        text += f"\n(diverged at step {diverged_at}: the steps\ninside this window are drawn)"
    panel_note(ax, text)
