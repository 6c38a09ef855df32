"""toolkit.plots.honest_landscapes."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from toolkit.plots import style
from toolkit.plots.shared import (as_array, draw_loss_curves, figure_legend, legend_caption, mark_ends,
                                  readable_log_range, round_log_axis)
from toolkit.plots.style import AUTOGRAD, MANUAL, RUN_COLORS, house_style
from toolkit.train import History


# The training path's own losses beside the line's, and the curvature checks.
PATH_COLOR = RUN_COLORS[1]


def interpolation_curve(alphas, manual_losses, autograd_losses, *, path_alphas=None, path_losses=None,
                        title: str = "", caption: str | None = None) -> Figure:
    """The loss along the straight line theta(alpha) = (1 - alpha) theta_0 + alpha theta_T, both twins.

    alphas: (K,) ascending, from at most 0 to at least 1; *_losses: (K,)
    each twin's loss at theta(alpha), the hand-written one as a line through
    circles, autograd's crosses inside them. The start (alpha = 0) is a
    square, the end (alpha = 1) a star, on the curve; the bands beyond the
    ends are shaded. Log scale.

    path_alphas, path_losses: optional (T,) where each step of the training
    path projects onto the line, and its true loss there. The path is not on
    the line, so these need not lie on the curve: drawn in their own colour.
    """
    alphas, manual_losses, autograd_losses = as_array(alphas), as_array(manual_losses), as_array(autograd_losses)
    with house_style():
        fig = style.figure(5.4, 3.9)
        ax = fig.add_subplot()
        if alphas[0] < 0:
            ax.axvspan(alphas[0], 0.0, color=style.PALE, zorder=0, label="beyond the start or the end")
        if alphas[-1] > 1:
            ax.axvspan(1.0, alphas[-1], color=style.PALE, zorder=0)
        curves = [manual_losses, autograd_losses]
        if path_alphas is not None and path_losses is not None:
            path_alphas, path_losses = as_array(path_alphas), as_array(path_losses)
            curves.append(path_losses)
            ax.plot(path_alphas, path_losses, color=PATH_COLOR, linewidth=0.9, marker="o", markersize=2.6,
                    zorder=2, label="training path: each step's own loss,\nat the α where it projects onto the line")
        ax.plot(alphas, manual_losses, color=MANUAL["color"], marker="o", markersize=4.5, markeredgecolor=style.PAPER,
                markeredgewidth=0.4, linewidth=1.3, zorder=3, label=f"on the line: {MANUAL['label']}")
        ax.plot(alphas, autograd_losses, color=AUTOGRAD["color"], marker="x", markersize=3.0, markeredgewidth=0.9,
                linestyle="none", zorder=4, label=f"on the line: {AUTOGRAD['label']}")
        mark_ends(ax, np.column_stack([[0.0, 1.0], np.interp([0.0, 1.0], alphas, manual_losses)]))
        ax.set_yscale("log")
        readable_log_range(ax, *curves)
        round_log_axis(ax)
        ax.set_xlim(alphas[0], alphas[-1])
        ax.set_xlabel(r"$\alpha$   (0: the start $\theta_0$, 1: the end $\theta_T$)")
        ax.set_ylabel("training loss (log scale)")
        ax.set_title(title)
        legend = figure_legend(fig, *ax.get_legend_handles_labels(), ncols=2)
        legend_caption(fig, legend, caption)
    return fig


def sharpness_curve(steps, sharpness, lr: float, history: History, *, checks=None, title: str = "",
                    caption: str | None = None) -> Figure:
    """The sharpness (the Hessian's largest eigenvalue) along training against 2/lr, the loss below it.

    steps: (K,) the steps where it was measured; sharpness: (K,) lambda_max
    there (power iteration on the hand-written Hessian-vector products), in
    the hand-written twin's colour. lr: the dashed line 2/lr, lesson 03's
    limit: above it (shaded) one gradient step multiplies the error along the
    top eigenvector by |1 - lr lambda_max| > 1. checks: optional
    (steps, values), lambda_max from the full Hessian's eigenvalues, as open
    diamonds. Below, on the same step axis: both twins' loss at every point
    of the path (log scale).
    """
    from dataclasses import replace

    steps, sharpness = as_array(steps), as_array(sharpness)
    limit = 2.0 / lr
    if not history.diverged:     # the loss at every point of the path, the last one included
        history = replace(history, **dict(zip(("loss_manual", "loss_autograd"), history.path_losses())))
    with house_style():
        fig, (top, bottom) = style.panels(5.6, 5.0, 2, 1, sharex=True, height_ratios=[3, 2])
        finite = sharpness[np.isfinite(sharpness)]
        high = max([limit, *finite.tolist()]) * 1.08
        top.axhspan(limit, high, color=style.LIGHT, alpha=0.15, zorder=0,
                    label="lr·λmax > 2: unstable along the top direction")
        top.axhline(limit, color=style.INK, linestyle="--", linewidth=1.2, zorder=1,
                    label=f"2/lr = {limit:.3g}, lesson 03's limit")
        top.plot(steps, sharpness, color=MANUAL["color"], marker="o", markersize=2.8, linewidth=1.2, zorder=3,
                 label="λmax: power iteration on the hand-written H·v")
        if checks is not None:
            check_steps, check_values = as_array(checks[0]), as_array(checks[1])
            top.plot(check_steps, check_values, linestyle="none", marker="D", markersize=8.5,
                     markerfacecolor=style.NONE, markeredgecolor=style.INK, markeredgewidth=1.4, zorder=4,
                     label="λmax from eigvalsh of the full Hessian (torch.func)")
        top.set_ylim(0.0, high)
        top.set_ylabel("sharpness λmax")
        top.set_title(title)
        draw_loss_curves(bottom, history)
        round_log_axis(bottom)
        bottom.set_ylabel("loss (log scale)")
        first, last = min(steps.min(initial=0.0), 0.0), max(len(history.loss_manual) - 1, steps.max(initial=0.0))
        pad = 0.02 * (last - first) if last > first else 0.5      # room for the markers at both ends
        bottom.set_xlim(first - pad, last + pad)
        handles, labels = top.get_legend_handles_labels()
        more = bottom.get_legend_handles_labels()
        legend = figure_legend(fig, handles + more[0], labels + [f"loss: {label}" for label in more[1]], ncols=2)
        legend_caption(fig, legend, caption)
    return fig
