"""Lesson 02's figures: the exact loss over (w, b) as a contour map and as a surface, with the descent path."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from toolkit.plots import style
from toolkit.plots.shared import (NO_LANDSCAPE, as_array, draw_contour, draw_twin_paths, figure_legend, log_levels,
                                  loss_colorbar, mark_diverged, mark_end, mark_minimum, mark_start, merged_handles,
                                  panel_note, points_inside)
from toolkit.plots.style import AUTOGRAD_CROSS, MANUAL, house_style


def contour_with_paths(alphas, betas, Z, manual_path, autograd_path, *, xlabel: str, ylabel: str,
                       title: str = "", minimum: Sequence[float] | None = None, note: str | None = None,
                       diverged_at: int | None = None, equal_aspect: bool = True) -> Figure:
    """Filled loss contours (log-spaced levels) with both twins' descent paths.

    alphas: (A,), betas: (B,), Z: (B, A) with Z[i, j] the loss at (alphas[j], betas[i]).
    *_path: (T, 2) coordinates of the parameters at every step. diverged_at:
    the step where the run diverged, if it did (see ``shared.draw_twin_paths``).
    equal_aspect: one unit is as long across as up (the default, for two
    parameters), so the gradient, and each step, is visibly perpendicular to
    the contours; False for axes in different units. ``note``: a line under
    the title.
    """
    alphas, betas, z = as_array(alphas), as_array(betas), as_array(Z)
    window = ((alphas[0], alphas[-1]), (betas[0], betas[-1]))
    with house_style():
        fig = style.figure(4.8, 4.1)
        ax = fig.add_subplot()
        levels = log_levels(z)
        if levels is not None:
            filled = draw_contour(ax, alphas, betas, z, levels, LogNorm(levels[0], levels[-1]))
            loss_colorbar(fig, filled, ax, levels)
        else:
            panel_note(ax, NO_LANDSCAPE)
        draw_twin_paths(ax, as_array(manual_path), as_array(autograd_path), diverged_at=diverged_at, window=window,
                        thin=True)
        if minimum is not None:
            mark_minimum(ax, minimum)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_title(f"{title}\n({note})" if title and note else title or note or "")
        ax.set_xlim(*window[0])
        ax.set_ylim(*window[1])
        if equal_aspect:
            # Kept at the left of its box when the aspect narrows it: the y label stays where the layout put it.
            ax.set_aspect("equal", adjustable="box", anchor="W")
        figure_legend(fig, *merged_handles([ax]), ncols=3)     # outside the axes: it never hides the path
    return fig


def surface_with_path(alphas, betas, Z, path, path_losses, *, xlabel: str, ylabel: str, title: str = "",
                      diverged_at: int | None = None, autograd_path=None, minimum: Sequence[float] | None = None,
                      minimum_loss: float | None = None) -> Figure:
    """The loss as a 3-D surface, the "mountain", with the descent path lying on it.

    path: (T, 2) the hand-written twin's (w, b) at every step, path_losses:
    (T,) its loss there; the path is drawn on top of the surface (not lifted
    above it: each point sits at its own loss). autograd_path: (T, 2) the
    other twin's, whose crosses go into every few circles. minimum, minimum_loss:
    the least-squares point and its loss, marked with the house plus.
    A diverged run (diverged_at: the step where it diverged) is drawn while
    it is finite and above the (w, b) window; the divergence X marks its last
    point there (in the legend only, if that point is the start).
    """
    alphas, betas, z = as_array(alphas), as_array(betas), as_array(Z)
    path, path_losses = as_array(path), as_array(path_losses)
    autograd = as_array(autograd_path) if autograd_path is not None else None
    shown = len(path)
    if diverged_at is not None:
        shown = points_inside(path, ((alphas[0], alphas[-1]), (betas[0], betas[-1])))
        not_finite = np.flatnonzero(~np.isfinite(path_losses[:shown]))
        if not_finite.size:
            shown = max(int(not_finite[0]), 1)
    path, path_losses = path[:shown], path_losses[:shown]
    grid_a, grid_b = np.meshgrid(alphas, betas)
    with house_style():
        fig = style.figure(5.0, 4.4)
        # Drawn in the order given, not sorted by depth: the path stays on top of the surface it lies on.
        ax = fig.add_subplot(projection="3d", computed_zorder=False)
        ax.plot_surface(grid_a, grid_b, z, cmap=style.CMAP, alpha=0.8, linewidth=0, antialiased=True,
                        rcount=60, ccount=60, zorder=1)
        every = max(1, len(path) // 25)
        ax.plot(path[:, 0], path[:, 1], path_losses, color=MANUAL["color"], marker="o", markersize=3.5,
                markeredgecolor=style.PAPER, markeredgewidth=0.4, markevery=every, linewidth=1.4,
                label=MANUAL["label"], zorder=10)
        if autograd is not None:
            ax.plot(autograd[:shown:every, 0], autograd[:shown:every, 1], path_losses[::every],
                    label=style.AUTOGRAD["label"], zorder=11, **{**AUTOGRAD_CROSS, "markersize": 2.6})
        mark_start(ax, np.column_stack([path, path_losses]), zorder=12, markersize=7)
        if minimum is not None and minimum_loss is not None:
            mark_minimum(ax, (*minimum, minimum_loss), zorder=12, markersize=8)
        if diverged_at is None:
            mark_end(ax, np.column_stack([path, path_losses]), zorder=12, markersize=12)
        elif len(path) > 1:
            last = len(path) - 1
            label = f"diverged (step {diverged_at})" if last == diverged_at else \
                f"step {last}, the last on the plot; diverged at step {diverged_at}"
            mark_diverged(ax, (*path[-1], path_losses[-1]), label=label, zorder=13)
        else:       # on the start it would hide the square: only in the legend
            mark_diverged(ax, ([], [], []), label=f"diverged at step {diverged_at}: off the plot after the start")
        ax.set_xlabel(xlabel, labelpad=2)
        ax.set_ylabel(ylabel, labelpad=2)
        ax.set_zlabel("loss", labelpad=2)
        ax.set_title(title)
        ax.view_init(elev=32, azim=-128)
        figure_legend(fig, *merged_handles([ax]), ncols=3)
    return fig
