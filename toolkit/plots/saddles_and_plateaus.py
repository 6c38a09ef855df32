"""Lesson 09's figures: the plateau near a saddle, and the Hessian along the path that leaves it.

* ``plateau_curves``: the loss per step of runs started near and far from a saddle, beside the
  plateau's length against the starting distance (log scale), with the predicted slope;
* ``curvature_along_path``: the Hessian's two eigenvalues at every step of a path, beside the
  exact loss contour with the paths, the valley of minima and the saddle.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from toolkit.plots import style
from toolkit.plots.shared import (as_array, draw_contour, draw_run_losses, draw_run_path, figure_legend,
                                  integer_steps, legend_caption, log_levels, loss_colorbar, mark_start, panel_note,
                                  twins_key)
from toolkit.plots.style import AUTOGRAD, RUN_COLORS, SADDLE, TEXT_BOX, house_style


def plateau_curves(runs: Sequence[dict], scan: dict, *, best_loss: float, saddle_loss: float, title: str = "",
                   note: str | None = None) -> Figure:
    """Left: the loss per step of runs started at different distances from a saddle. Right: how long the plateau lasts.

    runs: dicts with ``label``, ``color``, ``history`` and ``plateau`` (the
    fractional step where the loss gap L − L* fell to half its start, or
    None). Linear loss axis, with the saddle's loss and the lowest loss L*
    dotted, and each plateau's end marked half-way down.

    scan: the plateau against the distance ε from the saddle: ``distances``
    (K,), ``manual`` and ``autograd`` (K,) the lengths measured on each
    twin's losses (None: never left within the run), and ``slope`` and
    ``offset`` of the line offset + slope·ln(1/ε) (slope from theory,
    offset fitted) with its ``label``; the distance axis is logarithmic, so
    the line is straight. A run of ``runs`` whose start is in the scan
    (``distance``) is ringed in its colour there.
    """
    with house_style():
        fig, (left, right) = style.panels(8.6, 3.8, 2, 2, width_ratios=[1.25, 1])
        last_step = max(len(run["history"].loss_manual) - 1 for run in runs)
        left.axhline(saddle_loss, color=style.MID, linestyle=(0, (1, 2)), linewidth=1.1, zorder=1)
        left.axhline(best_loss, color=style.MID, linestyle=":", linewidth=1.1, zorder=1)
        left.text(last_step, saddle_loss, f"loss at the saddle, {saddle_loss:.3g}", ha="right", va="bottom", color=style.MID)
        left.text(last_step, best_loss, f"lowest loss L* = {best_loss:.3g}", ha="right", va="bottom",
                  color=style.MID)
        plateaus = [run["plateau"] for run in runs if run.get("plateau") is not None]
        for run in runs:
            history = run["history"]
            draw_run_losses(left, history, label=run["label"], color=run["color"], last_step=last_step, curves=[])
            start = run["history"].loss_manual[0]
            if run.get("plateau") is not None:
                half = best_loss + (start - best_loss) / 2
                left.plot(run["plateau"], half, marker="o", markersize=9, color=style.NONE, markeredgecolor=style.INK,
                          markeredgewidth=1.2, linestyle="none", zorder=6)
                # The shortest plateau's note below its mark, the others above: on a narrow panel they stay apart.
                below = len(plateaus) > 1 and run["plateau"] == min(plateaus)
                left.annotate(f"half-way down\nafter {run['plateau']:.1f} steps", (run["plateau"], half),
                              textcoords="offset points", xytext=(9, -6) if below else (11, 5), ha="left",
                              va="top" if below else "bottom", bbox=TEXT_BOX, zorder=7)
        left.set_xlabel("step")
        integer_steps(left)
        left.set_ylabel("training loss")
        left.set_ylim(bottom=0)
        left.set_title("The loss per step")

        distances = np.asarray(scan["distances"], dtype=float)
        manual = np.array([np.nan if v is None else v for v in scan["manual"]], dtype=float)
        autograd = np.array([np.nan if v is None else v for v in scan["autograd"]], dtype=float)
        if scan.get("slope") is not None:
            grid = np.geomspace(distances.min() / 2, distances.max() * 2, 50)
            right.plot(grid, scan["offset"] + scan["slope"] * np.log(1 / grid), color=style.DARK, linestyle=(0, (4, 3)),
                       linewidth=1.2, zorder=2, label=scan["label"])
        # Neutral colours here: on the left, colour tells the runs apart. A cross in every circle, as for the twins.
        right.plot(distances, manual, color=style.PAPER, marker="o", markersize=7, markeredgecolor=style.INK,
                   markeredgewidth=1.1, linestyle="none", zorder=3, label="measured on the manual twin's losses")
        right.plot(distances, autograd, color=AUTOGRAD["color"], marker="x", markersize=4, markeredgewidth=1.0,
                   linestyle="none", zorder=4, label="measured on autograd's losses")
        for run in runs:
            if run.get("distance") in list(distances) and run.get("plateau") is not None:
                right.plot(run["distance"], run["plateau"], marker="o", markersize=13, color=style.NONE,
                           markeredgecolor=run["color"], markeredgewidth=2.0, linestyle="none", zorder=5,
                           label=f"ringed: the run on the left\nthat starts {run['distance']:g} away")
        if not np.isfinite(manual).any():
            panel_note(right, "no start left the plateau\nwithin the steps taken")
        right.set_xscale("log")
        right.set_xlabel("start's distance ε from the saddle (log scale)")
        right.set_ylabel("plateau length (steps)")
        right.set_title("Ten times closer: the same steps more")
        handles, labels = left.get_legend_handles_labels()
        more, more_labels = right.get_legend_handles_labels()
        key, text = twins_key()
        handles += [key] + more
        labels += [text] + more_labels
        legend = figure_legend(fig, handles, labels, ncols=3)
        legend_caption(fig, legend, note, title)
    return fig


def curvature_along_path(eigen_manual, eigen_autograd, *, names: Sequence[str] = ("λ₁", "λ₂"),
                         levels: Sequence[tuple[float, str]] = (), landscape: dict | None = None, title: str = "",
                         note: str | None = None) -> Figure:
    """Left: the Hessian's two eigenvalues at every step of a path. Right (optional): the path on the exact contour.

    eigen_manual, eigen_autograd: (T, 2), at every point of each twin's
    path, column k named ``names[k]`` (e.g. each eigenvalue followed along
    its eigenvector, or the smaller and the larger): the manual twin's as
    lines with circles, autograd's as crosses on them. The steps where one
    is negative (the path is in the saddle's region: the loss curves
    downwards in some direction) are shaded. levels: (value, label) pairs
    drawn dotted, e.g. the eigenvalues at the saddle from the formula.

    landscape: a dict with alphas (A,), betas (B,), Z (B, A), runs (dicts
    with label, color, manual_path, autograd_path, diverged_at), curves
    (dicts with ``pieces``, a list of (K, 2) arrays, and label, linestyle),
    saddle (2,), xlabel, ylabel: the loss contour (log levels, equal aspect)
    with the runs' paths, the curves (e.g. the hyperbola of minima) and the
    saddle marked.
    """
    manual, autograd = as_array(eigen_manual), as_array(eigen_autograd)
    steps = np.arange(len(manual))
    scale = np.nanmax(np.abs(manual)) if np.isfinite(manual).any() else 1.0
    inside = manual.min(axis=1) < -1e-9 * scale
    with house_style():
        if landscape is None:
            fig = style.figure(5.0, 3.8)
            left = fig.add_subplot()
        else:
            fig, (left, right) = style.panels(9.2, 4.6, 2, 2, width_ratios=[1, 1.15])
        if inside.any():
            # One band per stretch of negative curvature; half a step either side, so a single step shows.
            edges = np.flatnonzero(np.diff(np.concatenate([[0], inside.astype(int), [0]])))
            for first, stop in zip(edges[::2], edges[1::2]):
                left.axvspan(first - 0.5, stop - 0.5, color=style.PALE, zorder=0,
                             label="saddle region: one curvature < 0" if first == edges[0] else None)
        left.axhline(0.0, color=style.MID, linewidth=0.9, zorder=1)
        for value, label in levels:
            left.axhline(value, color=style.MID, linestyle=":", linewidth=1.1, zorder=1)
            left.annotate(label, (steps[-1], value), textcoords="offset points", xytext=(0, 3), ha="right",
                          va="bottom", color=style.DARK)
        every = max(1, len(steps) // 30)
        for k, (color, name) in enumerate(zip((RUN_COLORS[1], RUN_COLORS[3]), names)):
            left.plot(steps, manual[:, k], color=color, marker="o", markersize=4, markevery=every,
                      markeredgecolor=style.PAPER, markeredgewidth=0.4, label=name, zorder=3)
            left.plot(steps[::every], autograd[::every, k], color=AUTOGRAD["color"], marker="x", markersize=3,
                      markeredgewidth=0.8, linestyle="none", zorder=4)
        left.plot([], [], color=AUTOGRAD["color"], marker="x", markersize=3.5, linestyle="none",
                  label="x: on autograd's path")
        left.set_xlabel("step")
        integer_steps(left)
        left.set_ylabel("eigenvalue of the Hessian")
        left.set_title("Curvature at every step of the path")
        handles, labels = left.get_legend_handles_labels()
        if landscape is not None:
            more, more_labels = _draw_saddle_landscape(fig, right, landscape)
            handles, labels = handles + more, labels + more_labels
        # Long handles: a dashed curve needs room for a few dashes.
        legend = figure_legend(fig, handles, labels, ncols=3)
        legend_caption(fig, legend, note, title)
    return fig


def _draw_saddle_landscape(fig, ax, landscape: dict) -> tuple[list, list]:
    """The right panel of ``curvature_along_path``: contour, runs, curves, saddle; returns its legend entries."""
    from matplotlib import patheffects

    alphas, betas, z = as_array(landscape["alphas"]), as_array(landscape["betas"]), as_array(landscape["Z"])
    window = ((alphas[0], alphas[-1]), (betas[0], betas[-1]))
    levels = log_levels(z, count=20)
    if levels is not None:
        filled = draw_contour(ax, alphas, betas, z, levels, LogNorm(levels[0], levels[-1]))
        loss_colorbar(fig, filled, ax, levels)
    # White with a dark edge: it shows on the dark valley, on the light slopes and on the legend's white alike.
    edged = [patheffects.withStroke(linewidth=3.4, foreground=style.DARK)]
    for curve in landscape.get("curves", ()):
        for k, piece in enumerate(curve["pieces"]):
            piece = as_array(piece)
            ax.plot(piece[:, 0], piece[:, 1], color=style.PAPER, linestyle=curve.get("linestyle", "-"),
                    linewidth=1.6, zorder=3, path_effects=edged, label=curve["label"] if k == 0 else None)
    for run in landscape.get("runs", ()):
        draw_run_path(ax, as_array(run["manual_path"]), as_array(run["autograd_path"]), color=run["color"],
                       label=run["label"], window=window, diverged_at=run.get("diverged_at"))
        mark_start(ax, as_array(run["manual_path"]), zorder=8)
    if landscape.get("saddle") is not None:
        ax.plot(*as_array(landscape["saddle"]), label="saddle", zorder=7.5, **SADDLE)
    ax.set_xlim(*window[0])
    ax.set_ylim(*window[1])
    ax.set_aspect("equal", adjustable="box")
    ax.set_xlabel(landscape.get("xlabel", ""))
    ax.set_ylabel(landscape.get("ylabel", ""))
    ax.set_title(landscape.get("title", ""))
    ax.grid(False)
    seen = {}
    for handle, label in zip(*ax.get_legend_handles_labels()):
        seen.setdefault(label, handle)
    shared = ("start", "end", "saddle")       # markers every run shares go last
    order = [label for label in seen if label not in shared] + [label for label in shared if label in seen]
    return [seen[label] for label in order], order
