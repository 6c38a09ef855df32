"""toolkit.plots.linear_regression."""

from __future__ import annotations

from matplotlib.figure import Figure
import numpy as np
from toolkit.plots.shared import points_inside, as_array
from toolkit.plots.style import CMAP, MANUAL, house_style


def surface_with_path(alphas, betas, Z, path, path_losses, *, xlabel: str, ylabel: str, title: str = "",
                      diverged_at: int | None = None) -> Figure:
    """The loss as a 3-D surface, the "mountain", with the descent path on it.

    The path is lifted slightly above the surface so the surface never hides it.
    A diverged run (diverged_at: the step where it diverged) is drawn while
    it is finite and above the (w, b) window; the divergence X marks its last
    point there (in the legend only, if that point is the start).
    """
    alphas, betas, z = as_array(alphas), as_array(betas), as_array(Z)
    path, path_losses = as_array(path), as_array(path_losses)
    finite = z[np.isfinite(z)]
    lift = 0.02 * (finite.max() - finite.min()) if finite.size else 0.0
    if diverged_at is not None:
        shown = points_inside(path, ((alphas[0], alphas[-1]), (betas[0], betas[-1])))
        not_finite = np.flatnonzero(~np.isfinite(path_losses[:shown]))
        if not_finite.size:
            shown = max(int(not_finite[0]), 1)
        path, path_losses = path[:shown], path_losses[:shown]
    grid_a, grid_b = np.meshgrid(alphas, betas)
    with house_style():
        fig = Figure(figsize=(5.0, 4.2), layout="constrained")
        ax = fig.add_subplot(projection="3d")
        ax.plot_surface(grid_a, grid_b, z, cmap=CMAP, alpha=0.75, linewidth=0, antialiased=True,
                        rcount=60, ccount=60)
        ax.plot(path[:, 0], path[:, 1], path_losses + lift, color=MANUAL["color"], marker="o", markersize=3,
                linewidth=1.4, label=MANUAL["label"], zorder=10)
        ax.plot(*path[0], path_losses[0] + lift, marker="s", markersize=7, color="white",
                markeredgecolor="black", linestyle="none", label="start", zorder=11)
        if diverged_at is None:
            ax.plot(*path[-1], path_losses[-1] + lift, marker="*", markersize=12, color="#F0E442",
                    markeredgecolor="black", linestyle="none", label="end", zorder=11)
        else:
            # The divergence X on the last point drawn; on the start it would hide the square,
            # so then it is only in the legend.
            cross = {"marker": "X", "markersize": 10, "color": "black", "markeredgecolor": "white",
                     "linestyle": "none", "zorder": 12}
            last = len(path) - 1
            if last == diverged_at:
                ax.plot(*path[-1], path_losses[-1] + lift, label=f"diverged (step {diverged_at})", **cross)
            elif last > 0:
                ax.plot(*path[-1], path_losses[-1] + lift,
                        label=f"step {last}, the last on the plot; diverged at step {diverged_at}", **cross)
            else:
                ax.plot([], [], label=f"diverged at step {diverged_at}: off the plot after the start", **cross)
        ax.set_xlabel(xlabel, labelpad=2)
        ax.set_ylabel(ylabel, labelpad=2)
        ax.set_zlabel("loss", labelpad=2)
        ax.set_title(title)
        ax.view_init(elev=32, azim=-128)
        ax.legend(loc="upper left", fontsize=7.5)
    return fig
