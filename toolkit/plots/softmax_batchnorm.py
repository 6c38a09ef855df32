"""toolkit.plots.softmax_batchnorm: lesson 14's figures (a classifier's regions, a layer's values over training).

``last_relu_inputs`` replays a recorded training path to collect what the
last hidden ReLU received at each step, ``bands`` summarises those values by
their quantiles, and ``quantile_bands`` draws them.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import numpy as np
import torch
from matplotlib.figure import Figure

from toolkit import manual
from toolkit.parameters import unflatten
from toolkit.plots import style
from toolkit.plots.shared import as_array, figure_legend, integer_steps, legend_caption, panel_note
from toolkit.plots.style import AUTOGRAD, TEXT_BOX, house_style


def class_regions(panels: Sequence[dict], x, y, *, resolution: int = 200, note: str | None = None,
                  columns: int = 2) -> Figure:
    """Where a classifier predicts each of K classes, one panel per network, the data on top.

    panels: dicts with ``title`` and ``probabilities``, a function taking
    points (P, 2) (a NumPy array) and returning (P, K) class probabilities.
    x: (N, 2) inputs; y: (N,) class indices 0 .. K-1. Each point of the
    plane gets its predicted class's colour, paler where the network is less
    sure (the largest probability near 1/K), and a black line runs along
    every boundary between two classes. The panels share their axes, at
    equal aspect (both axes are the same input units), ``columns`` to a row.
    A network whose output is not a number somewhere leaves that part white
    and says so.
    """
    from matplotlib.colors import to_rgb
    from matplotlib.lines import Line2D

    points, labels = as_array(x), as_array(y).astype(int)
    classes = int(labels.max()) + 1
    if classes > len(style.CLASS_COLORS):
        raise ValueError(f"class_regions: at most {len(style.CLASS_COLORS)} classes, got {classes}")
    low, high = points.min(axis=0) - 0.25, points.max(axis=0) + 0.25
    grid_a = np.linspace(low[0], high[0], resolution)
    grid_b = np.linspace(low[1], high[1], resolution)
    mesh_a, mesh_b = np.meshgrid(grid_a, grid_b)
    grid = np.column_stack([mesh_a.ravel(), mesh_b.ravel()])
    colors = np.array([to_rgb(c) for c in style.CLASS_COLORS[:classes]])
    columns = max(1, min(columns, len(panels)))
    rows = -(-len(panels) // columns)
    with house_style():
        fig, axes = style.panels(3.3 * columns + 0.3, 3.2 * rows + 0.9, rows * columns, columns, sharex=True,
                                 sharey=True)
        for ax, panel in zip(axes, panels):
            probability = as_array(panel["probabilities"](grid)).reshape(resolution, resolution, -1)
            defined = np.isfinite(probability).all(axis=2)
            winner = np.where(defined, np.nan_to_num(probability).argmax(axis=2), 0)
            sure = np.where(defined, np.nan_to_num(probability).max(axis=2), 1 / classes)
            # 1/K (a guess) -> a pale tint, 1 (certain) -> the class colour at 60 % strength.
            strength = 0.15 + 0.45 * np.clip((sure - 1 / classes) / (1 - 1 / classes), 0, 1)
            image = 1 - strength[..., None] * (1 - colors[winner])
            image[~defined] = 1.0
            ax.imshow(image, origin="lower", extent=(low[0], high[0], low[1], high[1]), interpolation="nearest",
                      aspect="equal", zorder=1)
            if defined.any():
                for k in range(classes):
                    others = np.delete(probability, k, axis=2).max(axis=2)
                    margin = np.where(defined, probability[..., k] - others, np.nan)
                    if np.nanmin(margin) < 0 < np.nanmax(margin):
                        ax.contour(grid_a, grid_b, margin, levels=[0.0], colors=style.INK, linewidths=0.9, zorder=2)
            if not defined.all():
                panel_note(ax, "the network's output is not a number anywhere"
                            if not defined.any() else "white: the output is not a number there")
            for k in range(classes):
                chosen = points[labels == k]
                ax.scatter(chosen[:, 0], chosen[:, 1], marker=style.CLASS_MARKERS[k], s=14, color=style.CLASS_COLORS[k],
                           edgecolors=style.INK, linewidths=0.45, zorder=3)
            ax.set_title(panel["title"])
            ax.set_xlim(low[0], high[0])
            ax.set_ylim(low[1], high[1])
            ax.set_aspect("equal")
            ax.grid(False)
        for ax in axes[len(panels):]:
            ax.set_visible(False)
        for ax in axes[:len(panels)]:
            if ax.get_subplotspec().is_last_row() or style.columns_for(columns) < columns:
                ax.set_xlabel("input x₁")
            if ax.get_subplotspec().is_first_col():
                ax.set_ylabel("input x₂")
        handles = [Line2D([], [], marker=style.CLASS_MARKERS[k], color=style.CLASS_COLORS[k], markeredgecolor=style.INK,
                          markeredgewidth=0.45, linestyle="none", markersize=6) for k in range(classes)]
        labels_text = [f"class {k}" for k in range(classes)]
        handles.append(Line2D([], [], color=style.INK, linewidth=0.9))
        labels_text.append("boundary between two classes")
        legend = figure_legend(fig, handles, labels_text, ncols=classes + 1)
        legend_caption(fig, legend, note)
    return fig


QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


def last_relu_inputs(net, x: torch.Tensor, path: torch.Tensor, stride: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The input of ``net``'s last ReLU at every ``stride``-th point of a recorded path and at the last.

    net: a Sequential, hand-written or torch; x: (N, D) inputs; path: (T + 1, P) parameter vectors, as
    ``history.path_manual``. Returns steps (S,) and values (S, N, width). A copy of ``net`` takes each
    step's parameters in turn (a batch norm in it normalises over all N points), so ``net`` itself and its
    running statistics are not touched.
    """
    steps = list(range(0, len(path), stride))
    steps += [len(path) - 1] if steps[-1] != len(path) - 1 else []
    copy_of_net = copy.deepcopy(net)
    layers = list(copy_of_net)
    last_relu = max(i for i, layer in enumerate(layers) if isinstance(layer, (manual.ReLU, torch.nn.ReLU)))
    params = dict(copy_of_net.named_parameters())
    values = []
    with torch.no_grad():
        for step in steps:
            for name, value in unflatten(path[step], params).items():
                params[name].copy_(value)
            h = x
            for layer in layers[:last_relu]:
                h = layer(h)
            values.append(h)
    return torch.tensor(steps), torch.stack(values)


def bands(values: torch.Tensor) -> torch.Tensor:
    """(T, 5): the QUANTILES (5, 25, 50, 75 and 95 %) of each step's values; values: (T, ...)."""
    levels = torch.tensor(QUANTILES, dtype=values.dtype, device=values.device)
    return torch.quantile(values.reshape(len(values), -1), levels, dim=1).T


def quantile_bands(panels: Sequence[Sequence[dict]], *, ylabel: str, note: str | None = None) -> Figure:
    """How a layer's values are spread over training: a grid of panels, one run each.

    panels: rows of dicts, each with ``title``, ``color``, ``steps`` ((T,)
    the steps drawn), ``manual`` and ``autograd`` ((T, ...) tensors: the
    values at those steps, from each twin's recorded parameters, as
    ``last_relu_inputs`` returns them; ``bands`` takes their QUANTILES) and
    optionally ``note`` (a short remark inside the panel).
    The band between the 5 % and 95 % quantiles is pale, the one between
    25 % and 75 % darker; the median is the hand-written twin's line, with
    autograd's median as crosses on it. A dashed line marks 0 (where a ReLU
    cuts). Each panel has its own y range; all share the steps.
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    rows, columns = len(panels), max(len(row) for row in panels)
    with house_style():
        fig, cells = style.panels(3.4 * columns + 0.4, 2.45 * rows + 0.7, rows * columns, columns, sharex=True)
        for i, row in enumerate(panels):
            for j, panel in enumerate(row):
                ax = cells[i * columns + j]
                by_hand, by_autograd = as_array(bands(panel["manual"])), as_array(bands(panel["autograd"]))
                steps = as_array(panel["steps"])
                color = panel["color"]
                ax.axhline(0.0, color=style.MID, linestyle="--", linewidth=0.9, zorder=1)
                ax.fill_between(steps, by_hand[:, 0], by_hand[:, 4], color=color, alpha=0.25, linewidth=0, zorder=2)
                ax.fill_between(steps, by_hand[:, 1], by_hand[:, 3], color=color, alpha=0.55, linewidth=0, zorder=3)
                ax.plot(steps, by_hand[:, 2], color=style.INK, linewidth=1.2, zorder=4)
                every = max(1, len(steps) // 25)
                ax.plot(steps[::every], by_autograd[::every, 2], color=AUTOGRAD["color"], marker="x", markersize=3.5,
                        markeredgewidth=0.9, linestyle="none", zorder=5)
                ax.set_title(panel["title"])
                if panel.get("note"):
                    ax.text(0.97, 0.05, panel["note"], transform=ax.transAxes, ha="right", va="bottom", zorder=6, bbox=TEXT_BOX)
                integer_steps(ax)
                if i == rows - 1 or style.columns_for(columns) < columns:
                    ax.set_xlabel("step")
                if ax.get_subplotspec().is_first_col():
                    ax.set_ylabel(ylabel)
            for j in range(len(row), columns):
                cells[i * columns + j].set_visible(False)
        handles = [Patch(color=style.LIGHT, alpha=0.25, linewidth=0), Patch(color=style.LIGHT, alpha=0.55, linewidth=0),
                   Line2D([], [], color=style.INK, linewidth=1.2),
                   Line2D([], [], color=AUTOGRAD["color"], marker="x", markersize=3.5, linestyle="none"),
                   Line2D([], [], color=style.MID, linestyle="--", linewidth=0.9)]
        labels = ["5 % to 95 % of the values", "25 % to 75 %", "median (manual)", "median (autograd)",
                  "0: a ReLU passes only what lies above"]
        legend = figure_legend(fig, handles, labels, ncols=3)
        legend_caption(fig, legend, note)
    return fig
