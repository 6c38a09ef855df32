"""toolkit.plots.learning_rate."""

from __future__ import annotations

from collections.abc import Sequence
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
import numpy as np
from toolkit.plots.shared import NO_LANDSCAPE, loss_colorbar, draw_contour, draw_twin_paths, log_levels, as_array, panel_note
from toolkit.plots.style import house_style


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
    through ``minimum``.
    """
    grids = [(as_array(p["alphas"]), as_array(p["betas"])) for p in panels]
    shared = all(np.array_equal(a, grids[0][0]) and np.array_equal(b, grids[0][1]) for a, b in grids)
    all_z = np.concatenate([as_array(p["Z"]).ravel() for p in panels])
    levels = log_levels(all_z, count=20)
    norm = LogNorm(levels[0], levels[-1]) if levels is not None else None
    with house_style():
        fig = Figure(figsize=(7.6, 6.9 if title else 6.6), layout="constrained")
        axes = fig.subplots(2, 2, sharex=shared, sharey=shared).ravel()
        for index, (ax, panel, (alphas, betas)) in enumerate(zip(axes, panels, grids)):
            if levels is not None:
                filled = draw_contour(ax, alphas, betas, as_array(panel["Z"]), levels, norm)
            else:
                panel_note(ax, NO_LANDSCAPE)
            window = ((alphas[0], alphas[-1]), (betas[0], betas[-1]))
            draw_twin_paths(ax, as_array(panel["manual_path"]), as_array(panel["autograd_path"]),
                             diverged_at=panel.get("diverged_at"), window=window, thin=True)
            if minimum is not None:
                ax.plot(*minimum, marker="P", markersize=8, color="white", markeredgecolor="black",
                        linestyle="none", label="minimum", zorder=6)
            if minimum is not None and valley_axes is not None:
                for k, direction in enumerate(valley_axes):
                    direction = as_array(direction)
                    ax.axline(tuple(minimum), tuple(np.asarray(minimum, dtype=float) + direction), color="white",
                              linestyle=(0, (1, 2)), linewidth=1.0, alpha=0.9, zorder=3,
                              label=VALLEY_AXES if k == 0 else None)
            ax.set_xlim(alphas[0], alphas[-1])
            ax.set_ylim(betas[0], betas[-1])
            ax.set_aspect("equal", adjustable="box")
            ax.set_title(panel["title"])
            if not shared or index >= 2:
                ax.set_xlabel(xlabel)
            if not shared or index % 2 == 0:
                ax.set_ylabel(ylabel)
            ax.grid(False)
        handles = {}
        for ax in axes:
            for handle, label in zip(*ax.get_legend_handles_labels()):
                handles.setdefault(label, handle)
        if VALLEY_AXES in handles:     # white dots would not show on the legend's white
            from matplotlib.lines import Line2D

            handles[VALLEY_AXES] = Line2D([], [], color="0.45", linestyle=(0, (1, 2)), linewidth=1.2)
        fig.legend(list(handles.values()), list(handles), loc="outside lower center",
                   ncols=min(len(handles), 4), fontsize=8.5)
        if levels is not None:
            loss_colorbar(fig, filled, list(axes), levels)
        if title:
            fig.suptitle(title, fontsize=10.5)
    return fig


# The legend label of the valley's axes in learning_rate_panels.
VALLEY_AXES = "the valley's axes (eigenvectors of H)"
