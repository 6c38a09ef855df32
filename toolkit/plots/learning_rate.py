"""Lesson 03's figure: five learning rates on the same valley, each on a panel of its own."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from toolkit.plots import style
from toolkit.plots.shared import (NO_LANDSCAPE, as_array, draw_contour, draw_twin_paths, figure_legend, log_levels,
                                  loss_colorbar, mark_minimum, merged_handles, panel_note)
from toolkit.plots.style import house_style

# The legend label of the valley's axes in learning_rate_panels.
VALLEY_AXES = "the valley's axes (eigenvectors of H)"


def learning_rate_panels(panels: Sequence[dict], *, xlabel: str, ylabel: str, minimum=None,
                         title: str | None = None, valley_axes: Sequence | None = None) -> Figure:
    """One contour panel per learning rate, sharing one colour scale.

    Each panel is a dict with keys title, alphas, betas, Z, manual_path,
    autograd_path, and optionally diverged_at (the step where that run
    diverged: its path is drawn until it leaves the panel, and where it went
    is marked, see ``draw_twin_paths``). Panels whose grids are all the same
    share their axes; parameter space is drawn at equal aspect. title: a line
    above the panels (say there whether they share axes). valley_axes:
    directions (2,), e.g. the Hessian's eigenvectors, drawn as dotted lines
    through ``minimum``. Up to four panels go two a row, more three a row;
    the legend takes the place of a missing panel (else it goes below).
    """
    grids = [(as_array(p["alphas"]), as_array(p["betas"])) for p in panels]
    shared = all(np.array_equal(a, grids[0][0]) and np.array_equal(b, grids[0][1]) for a, b in grids)
    all_z = np.concatenate([as_array(p["Z"]).ravel() for p in panels])
    levels = log_levels(all_z, count=20)
    norm = LogNorm(levels[0], levels[-1]) if levels is not None else None
    with house_style():
        columns = 2 if len(panels) <= 4 else 3
        width, height = (7.6, 6.6) if columns == 2 else (10.2, 6.4)
        fig, cells = style.panels(width, height + (0.3 if title else 0.0), len(panels), columns,
                                  sharex=shared, sharey=shared)
        axes, spare = cells[:len(panels)], cells[len(panels):]
        for ax, panel, (alphas, betas) in zip(axes, panels, grids):
            if levels is not None:
                filled = draw_contour(ax, alphas, betas, as_array(panel["Z"]), levels, norm)
            else:
                panel_note(ax, NO_LANDSCAPE)
            window = ((alphas[0], alphas[-1]), (betas[0], betas[-1]))
            draw_twin_paths(ax, as_array(panel["manual_path"]), as_array(panel["autograd_path"]),
                             diverged_at=panel.get("diverged_at"), window=window, thin=True)
            if minimum is not None:
                mark_minimum(ax, minimum, markersize=8)
            if minimum is not None and valley_axes is not None:
                for k, direction in enumerate(valley_axes):
                    direction = as_array(direction)
                    ax.axline(tuple(minimum), tuple(np.asarray(minimum, dtype=float) + direction), color=style.PAPER,
                              linestyle=(0, (1, 2)), linewidth=1.0, alpha=0.9, zorder=3,
                              label=VALLEY_AXES if k == 0 else None)
            ax.set_xlim(alphas[0], alphas[-1])
            ax.set_ylim(betas[0], betas[-1])
            ax.set_aspect("equal", adjustable="box")
            ax.set_title(panel["title"])
            place = ax.get_subplotspec()
            if not shared or _nothing_below(ax, axes):
                ax.tick_params(labelbottom=True)
                ax.set_xlabel(xlabel)
            if not shared or place.is_first_col():
                ax.set_ylabel(ylabel)
        handles, labels = merged_handles(axes)
        if VALLEY_AXES in labels:     # white dots would not show on the legend's white
            handles[labels.index(VALLEY_AXES)] = Line2D([], [], color=style.MID, linestyle=(0, (1, 2)), linewidth=1.2)
        for ax in spare:
            ax.axis("off")
        if spare:
            spare[0].legend(handles, labels, loc="center", ncols=1, frameon=False)
        else:
            figure_legend(fig, handles, labels, ncols=4)
        if levels is not None:
            loss_colorbar(fig, filled, list(axes), levels)
        if title:
            fig.suptitle(title)
    return fig


def _nothing_below(ax, panels) -> bool:
    """True when no panel of ``panels`` sits right under ``ax`` (its x tick labels must then show)."""
    place = ax.get_subplotspec()
    return not any(other.get_subplotspec().colspan == place.colspan
                   and other.get_subplotspec().rowspan.start == place.rowspan.stop for other in panels)
