"""Lesson 06's figures: SGD's paths and the ball it wanders in, mini-batch noise and fair races, the gradient's variance."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from toolkit.plots import style
from toolkit.plots.shared import (NO_LANDSCAPE, as_array, draw_contour, draw_run_losses, draw_twin_paths, figure_legend,
                                  integer_steps, legend_caption, log_levels, loss_colorbar, mark_minimum, merged_handles, on_scale,
                                  panel_note, round_log_axis, twins_key)
from toolkit.plots.style import AUTOGRAD, AUTOGRAD_CROSS, MANUAL, MANUAL_LINE, RUN_COLORS, house_style


MINIMUM_LABEL = "minimum (least squares)"


def _landscape(alphas, betas, Z, *, count: int):
    """A loss grid drawn in every panel: (alphas, betas, Z as arrays, its log levels, their norm, the window)."""
    alphas, betas, z = as_array(alphas), as_array(betas), as_array(Z)
    levels = log_levels(z, count=count)
    norm = LogNorm(levels[0], levels[-1]) if levels is not None else None
    return alphas, betas, z, levels, norm, ((alphas[0], alphas[-1]), (betas[0], betas[-1]))


def _finish(fig, axes, filled, levels, title: str, *, ncols: int) -> None:
    """The legend below the panels, one colour bar for all of them (if a landscape was drawn), the title."""
    _legend(fig, axes, ncols=ncols)
    if filled is not None:
        loss_colorbar(fig, filled, list(axes), levels)
    if title:
        fig.suptitle(title)


def sgd_paths(alphas, betas, Z, panels: Sequence[dict], *, xlabel: str, ylabel: str, minimum: Sequence[float],
              title: str = "") -> Figure:
    """The same exact loss contour once per run, each panel with that run's descent path.

    alphas (A,), betas (B,), Z (B, A): the loss over one window shared by
    every panel (Z[i, j] at alphas[j], betas[i]), so the panels compare.
    Each panel is a dict with keys title, manual_path, autograd_path (T, 2)
    and optionally ``diverged_at`` (the step where that run diverged, if it
    did: drawn as ``draw_twin_paths`` draws it). The minimum is a thin plus
    rimmed in black over the paths and their end stars, so that it hides
    nothing and nothing hides it. Equal aspect everywhere.
    """
    alphas, betas, z, levels, norm, window = _landscape(alphas, betas, Z, count=20)
    with house_style():
        fig, axes = style.panels(7.2, 7.4, len(panels), 2, sharex=True, sharey=True)
        filled = None
        for ax, panel in zip(axes, panels):
            if levels is not None:
                filled = draw_contour(ax, alphas, betas, z, levels, norm)
            else:
                panel_note(ax, NO_LANDSCAPE)
            manual_path, autograd_path = as_array(panel["manual_path"]), as_array(panel["autograd_path"])
            draw_twin_paths(ax, manual_path, autograd_path, diverged_at=panel.get("diverged_at"), window=window,
                            small=len(manual_path) > 100)
            _thin_minimum(ax, minimum, outline=True)
            _parameter_axes(ax, window, panel["title"], xlabel, ylabel)
        _finish(fig, axes, filled, levels, title, ncols=3)
    return fig


def sgd_balls(alphas, betas, Z, panels: Sequence[dict], *, last: int, xlabel: str, ylabel: str,
              minimum: Sequence[float], title: str = "") -> Figure:
    """The last steps of each run in one zoomed window around the minimum, with the ball they wander in.

    alphas (A,), betas (B,), Z (B, A): the loss on a fine grid around the
    minimum, the same window for every panel so that the balls compare.
    Each panel is a dict as for ``sgd_paths`` with ``radius``: the
    root-mean-square distance of the run's ``last`` points from ``minimum``,
    drawn as a dashed circle and written in the panel (a diverged run has
    None and gets no ball). The points are the hand-written twin's circles
    with autograd's crosses in them, no line: a cloud, not a walk.
    """
    from matplotlib import patheffects
    from matplotlib.patches import Circle

    alphas, betas, z, levels, norm, window = _landscape(alphas, betas, Z, count=14)
    with house_style():
        fig, axes = style.panels(7.2, 7.4, len(panels), 2, sharex=True, sharey=True)
        filled = None
        for ax, panel in zip(axes, panels):
            if levels is not None:
                filled = draw_contour(ax, alphas, betas, z, levels, norm)
            radius = panel.get("radius")
            if radius is not None:
                manual_path, autograd_path = as_array(panel["manual_path"]), as_array(panel["autograd_path"])
                ax.plot(manual_path[-last:, 0], manual_path[-last:, 1], color=MANUAL["color"],
                        **{**MANUAL_LINE, "linestyle": "none", "markersize": 4}, label=MANUAL["label"], zorder=4)
                ax.plot(autograd_path[-last:, 0], autograd_path[-last:, 1], label=AUTOGRAD["label"], zorder=5,
                        **{**AUTOGRAD_CROSS, "markersize": 2.6, "markeredgewidth": 0.8})
                # Dashed white with a dark outline, on top of the points: it reads however small the ball is.
                ax.add_patch(Circle(tuple(minimum), radius, fill=False, edgecolor=style.PAPER, linewidth=1.4,
                                    linestyle=(0, (3, 2)), zorder=6,
                                    path_effects=[patheffects.withStroke(linewidth=2.8, foreground=style.INK)]))
                ax.plot([], [], color=style.MID, linewidth=1.4, linestyle=(0, (3, 2)),
                        label=f"root-mean-square distance of the last {last} steps from the minimum")
                panel_note(ax, f"radius {radius:.2g}")
            else:
                panel_note(ax, "diverged: no ball to measure")
            _thin_minimum(ax, minimum)
            _parameter_axes(ax, window, panel["title"], xlabel, ylabel)
            ax.xaxis.set_major_locator(MaxNLocator(nbins=3))
        _finish(fig, axes, filled, levels, title, ncols=2)
    return fig


def _legend(fig, axes, ncols: int) -> None:
    """The figure legend below the panels; the minimum's white plus is drawn dark there, on the legend's white."""
    handles, labels = merged_handles(axes)
    if MINIMUM_LABEL in labels:
        handles[labels.index(MINIMUM_LABEL)] = Line2D([], [], marker="+", color=style.INK, markersize=8,
                                                      markeredgewidth=1.0, linestyle="none")
    figure_legend(fig, handles, labels, ncols=ncols)


def _thin_minimum(ax, minimum, outline: bool = False) -> None:
    """The least-squares minimum as a thin white plus over everything: a small ball stays visible under it.

    ``outline`` rims it in black, so that it reads on a path's circles and on its yellow end star too.
    """
    from matplotlib import patheffects

    rim = {"path_effects": [patheffects.withStroke(linewidth=2.6, foreground=style.INK)]} if outline else {}
    mark_minimum(ax, minimum, label=MINIMUM_LABEL, marker="+", color=style.PAPER,
                 markeredgecolor=style.PAPER, markersize=8, markeredgewidth=1.0, zorder=8, **rim)


def _parameter_axes(ax, window, title: str, xlabel: str, ylabel: str) -> None:
    """A panel of parameter space: the window, equal aspect, its title, labels on the outer panels only."""
    (x0, x1), (y0, y1) = window
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect("equal", adjustable="box")
    ax.set_title(title)
    if ax.get_subplotspec().is_last_row():
        ax.set_xlabel(xlabel)
    if ax.get_subplotspec().is_first_col():
        ax.set_ylabel(ylabel)
    ax.grid(False)


def minibatch_losses(runs: Sequence[dict], per_step: Sequence[dict], *, title: str = "") -> Figure:
    """Mini-batch noise, then two fair comparisons: the same work (epochs) and the same number of steps.

    runs: the runs compared at the same work, each a dict with keys
        label, batch_size, n (the number of training examples), history (a ``History``);
        epoch_manual, epoch_autograd (E + 1,): the loss on all the training data at each twin's
        parameters at the start and after every epoch; held_manual, held_autograd (E + 1,): the
        same on the held-out data.
    per_step: the runs compared at the same number of steps, each a dict with keys label and
        manual, autograd (T + 1,): the loss on all the training data at every step.
    First panel: the last of ``runs`` (the smallest batch), its loss on each step's mini-batch
    (thin line; the x axis counts epochs: step k has seen k * batch_size / n of them) against its
    loss on all the data after each epoch (circles). Second: every run's epoch losses, training
    (solid) and held-out (dashed). Third: per_step against the step. Each run has one colour in
    every panel; the autograd twin is the vermillion crosses on the hand-written twin's line.
    """
    colors = dict(zip([run["label"] for run in runs], RUN_COLORS))
    with house_style():
        fig, axes = style.panels(10.2, 3.9, 3, 3)
        noisy, work, steps_ax = axes
        _draw_batch_noise(noisy, runs[-1], colors[runs[-1]["label"]])
        curves: list = []
        for run in runs:
            history, color = run["history"], colors[run["label"]]
            draw_run_losses(work, history, label=run["label"], color=color, last_step=len(run["epoch_manual"]) - 1,
                            curves=curves, values=(run["epoch_manual"], run["epoch_autograd"]), crosses=40)
            draw_run_losses(work, history, label="_held", color=color, last_step=len(run["held_manual"]) - 1,
                            curves=curves, values=(run["held_manual"], run["held_autograd"]), crosses=40,
                            line_style={"linestyle": "--"})
        work.set_xlabel("epoch (passes through the data)")
        work.set_title("The same work: the loss after each epoch")
        for entry in per_step:
            color = colors.get(entry["label"], style.MID)
            draw_run_losses(steps_ax, runs[0]["history"], label=entry["label"], color=color,
                            last_step=len(entry["manual"]) - 1, curves=curves,
                            values=(entry["manual"], entry["autograd"]), crosses=25)
        steps_ax.set_title("The same number of steps")
        for ax in axes:
            ax.set_yscale("log")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            round_log_axis(ax)
        steps_ax.set_xlabel("step")
        integer_steps(steps_ax)
        for ax in axes:
            if ax.get_subplotspec().is_first_col():
                ax.set_ylabel("loss (log scale)")
        handles, labels = merged_handles(axes)
        handles += [Line2D([], [], color=style.MID, linewidth=1.6),
                    Line2D([], [], color=style.MID, linewidth=1.6, linestyle="--"),
                    Line2D([], [], color=style.MID, linewidth=0.6, alpha=0.7), twins_key()[0]]
        labels += ["on all the training data", "on the held-out data",
                   "on the step's own mini-batch", twins_key()[1]]
        figure_legend(fig, handles, labels, ncols=3)
        if title:
            fig.suptitle(title)
    return fig


def _draw_batch_noise(ax, run: dict, color: str) -> None:
    """One run's loss on each step's mini-batch (thin) and on all the data after each epoch (circles)."""
    history, size, n = run["history"], run["batch_size"], run["n"]
    steps = np.arange(len(history.loss_manual))
    at = steps * size / n
    first = history.loss_manual[0] if history.loss_manual else np.nan
    ax.plot(at, on_scale(history.loss_manual, first), color=color, linewidth=0.6, alpha=0.7, zorder=2)
    every = max(1, len(steps) // 40)
    ax.plot(at[::every], on_scale(history.loss_autograd, first)[::every],
            **{**AUTOGRAD_CROSS, "markersize": 2.5, "markeredgewidth": 0.6}, zorder=3)
    epochs = np.arange(len(run["epoch_manual"]))
    ax.plot(epochs, on_scale(run["epoch_manual"], first), color=color, zorder=4,
            **{**MANUAL_LINE, "markersize": 5.5})
    ax.plot(epochs, on_scale(run["epoch_autograd"], first), **AUTOGRAD_CROSS, zorder=5)
    ax.set_xlabel("epoch (passes through the data)")
    ax.set_title(f"{run['label']}: noisy steps")


def gradient_variance(batch_sizes, measured, standard_error, *, sigma2: float, n: int, title: str = "",
                      note: str | None = None) -> Figure:
    """The variance of the mini-batch gradient against the batch size B, on log-log axes, with the theory.

    batch_sizes (K,), measured (K,): the mean over many random batches of
    ||g_B - g||^2 (g the full gradient); standard_error (K,): its standard
    error, drawn as bars of two standard errors. sigma2: the per-example
    variance, the mean over examples of ||g_i - g||^2; n: the number of
    examples. The theory for batches drawn without replacement,
    sigma2 / B * (n - B) / (n - 1), is the solid line; sigma2 / B (with
    replacement) the dotted one. A measured 0 (at B = n every batch is all
    the data) cannot sit on a log axis: it is marked at the bottom edge.
    """
    sizes, values, errors = as_array(batch_sizes), as_array(measured), as_array(standard_error)
    positive = values > 1e-20 * sigma2      # below that: zero, or the rounding of a zero (on some devices)
    low = values[positive].min() / 40 if positive.any() else sigma2 / n / 10
    high = sigma2 * 2.2
    curve_b = np.geomspace(1, n, 400)
    with np.errstate(divide="ignore"):
        theory = sigma2 / curve_b * (n - curve_b) / (n - 1)
    with house_style():
        fig = style.figure(5.2, 3.9)
        ax = fig.add_subplot()
        ax.plot(curve_b, sigma2 / curve_b, color=style.MID, linestyle=":", linewidth=1.3,
                label="σ²/B (batches drawn with replacement)")
        ax.plot(curve_b, np.where(theory > 0, theory, low / 10), color=style.DARK, linewidth=1.4,
                label="theory σ²/B · (N − B)/(N − 1) (without replacement)")
        ax.errorbar(sizes[positive], values[positive], yerr=2 * errors[positive], color=style.GREEN,
                    marker="o", markersize=6, markeredgecolor=style.PAPER, markeredgewidth=0.6, linestyle="none",
                    elinewidth=1.2, capsize=3, zorder=4,
                    label="measured (bars: ± 2 standard errors, most of them hidden by the dots)")
        for size, value in zip(sizes[~positive], values[~positive]):
            ax.annotate("", xy=(size, low), xytext=(size, low * 6),
                        arrowprops={"arrowstyle": "-|>", "color": style.GREEN, "lw": 1.4})
            text = "exactly 0" if value == 0 else f"{value:.0e} (rounding)"
            # In the empty lower left, clear of the axis and the curves, with a thin line to the arrow.
            ax.annotate(f"B = N = {size:g}: measured {text},\nbelow any log axis", xy=(size, low * 3),
                        xytext=(0.2, 0.08), textcoords="axes fraction", ha="left", va="bottom",
                        arrowprops={"arrowstyle": "-", "color": style.MID, "lw": 0.8, "shrinkB": 3})
        ax.axhline(sigma2, color=style.LIGHT, linewidth=0.8, zorder=1)
        ax.annotate(f"σ² = {sigma2:.3g} (one example)", (1, sigma2), textcoords="offset points", xytext=(4, 4))
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xticks(sizes)
        # In a narrow figure two sizes less than a factor 1.4 apart (32 and 40) would print as one number.
        narrow = style.active_width() is not None and style.active_width().width < 4
        crowded = [narrow and k + 1 < len(sizes) and sizes[k + 1] < 1.4 * s for k, s in enumerate(sizes)]
        ax.set_xticklabels(["" if skip else f"{s:g}" for s, skip in zip(sizes, crowded)])
        ax.minorticks_off()
        ax.set_xlim(sizes.min() / 1.3, sizes.max() * 1.3)
        ax.set_ylim(low, high)
        ax.set_xlabel("batch size B (log scale)")
        ax.set_ylabel("E ‖g_B − ∇L‖² (log scale)")
        ax.set_title(title)
        legend = figure_legend(fig, *ax.get_legend_handles_labels(), ncols=1)
        legend_caption(fig, legend, note)
    return fig
