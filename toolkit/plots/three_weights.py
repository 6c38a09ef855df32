"""toolkit.plots.three_weights."""

from __future__ import annotations

from collections.abc import Sequence
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
import numpy as np
from toolkit.train import History
from toolkit.plots.shared import NO_LANDSCAPE, legend_caption, draw_loss_curves, draw_twin_paths, points_inside, integer_steps, log_levels, marked_points, as_array, panel_note, round_log_ticks
from toolkit.plots.style import CMAP, MANUAL, RUN_COLORS, house_style


def weight_slices(panels: Sequence[dict], *, diverged_at: int | None = None, note: str | None = None) -> Figure:
    """Slices of the loss over pairs of weights, side by side, each with the descent path on it.

    Each panel is a dict with keys
        alphas (A,), betas (B,), Z (B, A): the loss on the slice, Z[i, j] at (alphas[j], betas[i]);
        manual_path, autograd_path (T, 2): the slice's two weights at every step;
        path_losses (T,): the TRUE loss at every step (every weight as it was then);
        xlabel, ylabel, title.
    All panels share one log colour scale. It also fills the hand-written
    path's circles with the true loss at each step: where a circle's fill
    differs from the contour under it, the path was off the slice then (the
    weights not drawn had other values). ``diverged_at``: the step where the
    run diverged, if it did (see ``draw_twin_paths``). ``note``: a caption
    line under the legend.
    """
    drawn = []
    for panel in panels:
        alphas, betas = as_array(panel["alphas"]), as_array(panel["betas"])
        manual_path = as_array(panel["manual_path"])
        window = ((alphas[0], alphas[-1]), (betas[0], betas[-1]))
        shown = len(manual_path) if diverged_at is None else points_inside(manual_path, window)
        drawn.append((alphas, betas, as_array(panel["Z"]), manual_path, as_array(panel["autograd_path"]),
                      as_array(panel["path_losses"]), window, shown))
    # One scale for the slices and the losses the path really had, so both can be read off the same bar.
    values = [z.ravel() for _, _, z, *_ in drawn] + [losses[:shown] for *_, losses, _, shown in drawn]
    levels = log_levels(np.concatenate(values), count=20)
    if levels is not None:     # a hair wider, so the extreme values themselves are inside
        levels[0], levels[-1] = levels[0] * (1 - 1e-9), levels[-1] * (1 + 1e-9)
    norm = LogNorm(levels[0], levels[-1]) if levels is not None else None
    with house_style():
        fig = Figure(figsize=(8.8, 3.9), layout="constrained")
        axes = fig.subplots(1, len(panels))
        axes = np.atleast_1d(axes)
        for ax, panel, (alphas, betas, z, manual_path, autograd_path, losses, window, shown) in zip(
                axes, panels, drawn):
            if levels is not None:
                # Every value lies inside the levels (they are taken from all of them): no extend arrows.
                filled = ax.contourf(alphas, betas, z, levels=levels, norm=norm, cmap=CMAP)
                ax.contour(alphas, betas, z, levels=levels[::2], colors="white", linewidths=0.4, alpha=0.6)
            else:
                panel_note(ax, NO_LANDSCAPE)
            draw_twin_paths(ax, manual_path, autograd_path, diverged_at=diverged_at, window=window)
            # The fill goes into exactly the circles the house style drew (it may mark only every few steps).
            (line,) = [line for line in ax.get_lines() if line.get_label() == MANUAL["label"]]
            marked = marked_points(line, shown)
            fill = losses[marked]
            if norm is not None and np.isfinite(fill).all():
                ax.scatter(manual_path[marked, 0], manual_path[marked, 1], c=fill, cmap=CMAP, norm=norm, s=40,
                           edgecolors=MANUAL["color"], linewidths=1.0, zorder=4.5)
            ax.set_xlim(*window[0])
            ax.set_ylim(*window[1])
            ax.set_aspect("equal", adjustable="box")
            ax.set_xlabel(panel["xlabel"])
            ax.set_ylabel(panel["ylabel"])
            ax.set_title(panel["title"])
            ax.grid(False)
        if levels is not None:
            colorbar = fig.colorbar(filled, ax=list(axes), shrink=0.95, ticks=round_log_ticks(levels[0], levels[-1], most=7),
                                    format="%g")
            colorbar.ax.minorticks_off()
            colorbar.set_label("loss (log scale)")
        handles, labels = axes[0].get_legend_handles_labels()
        legend = fig.legend(handles, labels, loc="outside lower center", ncols=len(labels), fontsize=8.5)
        legend_caption(fig, legend, note)
    return fig


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
        fig = Figure(figsize=(8.6, 3.4), layout="constrained")
        left, right = fig.subplots(1, 2)
        lone = {"marker": "o", "markersize": 4} if shown == 1 else {}
        for k, (color, name) in enumerate(zip(RUN_COLORS, names)):
            left.plot(steps, manual_path[:shown, k], color=color, label=name, **lone)
            left.plot(steps[::every], autograd_path[:shown:every, k], color=color, marker="x", markersize=4.5,
                      linestyle="none")
        left.plot([], [], color="0.3", marker="x", markersize=4.5, label="line: manual, x: autograd")
        left.axhline(0.0, color="0.5", linewidth=0.8, zorder=1)
        left.set_xlabel("step")
        integer_steps(left)
        left.set_ylabel("weight value")
        left.set_title(title or "The weights at every step")
        legend = left.legend(loc="best", fontsize=8)
        if history.diverged:
            legend.set_title(f"diverged at step {history.diverged_at_step};\ndrawn up to step {shown - 1}",
                             prop={"size": 8})

        draw_loss_curves(right, history)
        right.set_ylabel("training loss (log scale)")
        right.set_title("The loss at every step")
        right.legend(loc="best" if history.diverged else "upper right", fontsize=8)
    return fig
