"""Lesson 05's own figures: the decision regions of two classes, and the training and held-out loss."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from toolkit.plots import style
from toolkit.plots.shared import (as_array, draw_loss_curves, figure_legend, on_scale, panel_note, readable_log_range,
                                  round_log_axis)
from toolkit.plots.style import AUTOGRAD_CROSS, MANUAL, MANUAL_LINE, house_style
from toolkit.train import History


def decision_regions(model_probability, x, y, *, title: str = "", resolution: int = 200) -> Figure:
    """The classifier's P(class 1) over the input plane, with the data on top.

    model_probability: a function taking points (K, 2) and returning (K,)
    probabilities; x: (N, 2) inputs; y: (N,) class indices 0 or 1. Classes
    differ by marker as well as colour, so the figure reads in grey too.
    """
    points, labels = as_array(x), as_array(y).astype(int)
    low, high = points.min(axis=0) - 0.5, points.max(axis=0) + 0.5
    grid_a = np.linspace(low[0], high[0], resolution)
    grid_b = np.linspace(low[1], high[1], resolution)
    mesh_a, mesh_b = np.meshgrid(grid_a, grid_b)
    probability = as_array(model_probability(np.column_stack([mesh_a.ravel(), mesh_b.ravel()])))
    probability = probability.reshape(mesh_a.shape)
    with house_style():
        fig = style.figure(4.8, 3.9)
        ax = fig.add_subplot()
        defined = np.isfinite(probability)
        if defined.any():
            filled = ax.contourf(grid_a, grid_b, probability, levels=np.linspace(0, 1, 11), cmap=style.PROBABILITY_CMAP,
                                 alpha=0.85)
            ax.contour(grid_a, grid_b, probability, levels=[0.5], colors=style.INK, linewidths=1.4)
        if not defined.all():     # a diverged network can output NaN
            panel_note(ax, "P(class 1) is not a number anywhere:\nthe network's weights are not finite"
                        if not defined.any() else "white: P(class 1) is not a number there")
        for label, marker, face, edge in [(0, "o", style.PAPER, style.INK), (1, "^", style.INK, style.PAPER)]:
            chosen = points[labels == label]
            ax.scatter(chosen[:, 0], chosen[:, 1], marker=marker, s=18, color=face, edgecolors=edge,
                       linewidths=0.6, label=f"class {label}", zorder=3)
        if defined.any():
            colorbar = fig.colorbar(filled, ax=ax, shrink=0.95, ticks=[0, 0.25, 0.5, 0.75, 1])
            colorbar.set_label("P(class 1)")
        ax.set_xlabel("input x₁")
        ax.set_ylabel("input x₂")
        ax.set_title(title)
        ax.grid(False)
        ax.legend(loc="upper right", framealpha=0.9)
    return fig


def train_validation_losses(history: History, validation_manual, validation_autograd, *, title: str = "",
                            caption: str | None = None) -> Figure:
    """The loss on the training data and on held-out data at every step, both twins, log scale.

    history: the training run (its ``path_losses()`` are the training curve,
    with the divergence marked if it diverged); validation_manual, validation_autograd:
    (T,) the loss on held-out data at every point of each twin's path
    (T = steps + 1). Solid lines: training; dashed: validation. The
    hand-written twin is the line, autograd the crosses on it (they
    coincide). The lowest validation loss is marked if it came before the
    end: past it the network still improved on the data it learns from,
    and got worse on new data.
    """
    manual_val, autograd_val = as_array(validation_manual), as_array(validation_autograd)
    first = manual_val[0] if manual_val.size else np.nan
    manual_val, autograd_val = on_scale(manual_val, first), on_scale(autograd_val, first)
    steps = np.arange(len(manual_val))
    if not history.diverged:     # the training loss at every point of the path too, the last one included
        from dataclasses import replace

        history = replace(history, **dict(zip(("loss_manual", "loss_autograd"), history.path_losses())))
    with house_style():
        fig = style.figure(5.2, 3.8)
        ax = fig.add_subplot()
        draw_loss_curves(ax, history)
        every = max(1, len(steps) // 25)
        ax.plot(steps, manual_val, color=MANUAL["color"], **{**MANUAL_LINE, "markevery": every, "markersize": 4.5,
                                                            "linewidth": 1.6, "linestyle": "--"})
        ax.plot(steps[::every], autograd_val[::every], **AUTOGRAD_CROSS)
        best = int(np.nanargmin(manual_val)) if np.isfinite(manual_val).sum() > 1 else len(manual_val) - 1
        if best < len(manual_val) - 1:     # a turning point: the held-out loss rose after it
            ax.plot(best, manual_val[best], marker="v", markersize=9, color=style.NONE, markeredgecolor=style.INK,
                    linestyle="none", zorder=6, label=f"lowest held-out loss, {manual_val[best]:.3g} "
                                                        f"(step {best})")
        train_manual = on_scale(history.loss_manual, history.loss_manual[0] if history.loss_manual else np.nan)
        readable_log_range(ax, train_manual, manual_val)
        round_log_axis(ax)
        handles, labels = ax.get_legend_handles_labels()
        handles += [Line2D([], [], color=style.MID), Line2D([], [], color=style.MID, linestyle="--")]
        labels += ["training data", "held-out data"]
        ax.set_ylabel("loss (log scale)")
        ax.set_title(title)
        figure_legend(fig, handles, labels, title=caption, ncols=2)
    return fig
