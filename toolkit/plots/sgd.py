"""toolkit.plots.sgd."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from toolkit.plots import style
from toolkit.plots.shared import (NO_LANDSCAPE, as_array, draw_contour, draw_twin_paths, figure_legend, legend_caption,
                                  log_levels, loss_colorbar, on_scale, panel_note)
from toolkit.plots.style import AUTOGRAD, CMAP, MANUAL, RUN_COLORS, TEXT_BOX, house_style


def sgd_paths(alphas, betas, Z, panels: Sequence[dict], *, xlabel: str, ylabel: str, minimum: Sequence[float],
              zoom=None, title: str = "", note: str | None = None) -> Figure:
    """The same exact loss contour once per run, each panel with that run's descent path.

    alphas (A,), betas (B,), Z (B, A): the loss over one window shared by
    every panel (Z[i, j] at alphas[j], betas[i]), so the panels compare.
    Each panel is a dict with keys title, manual_path, autograd_path (T, 2)
    and optionally ``diverged_at`` (the step where that run diverged, if it
    did: drawn as ``draw_twin_paths`` draws it), ``last`` (how many points
    the run's last epoch holds) and ``radius`` (their root-mean-square
    distance from ``minimum``). A panel with ``last`` gets an inset: ``zoom`` = (alphas, betas, Z), a finer grid around
    the minimum, the same for every inset so that their scales compare, with
    the last epoch's points and a dashed circle of that radius around the
    minimum, the "ball" a noisy run wanders in. Equal aspect everywhere, so a
    circle is round. ``note``: a caption line under the legend.
    """
    from matplotlib.patches import Circle

    alphas, betas, z = as_array(alphas), as_array(betas), as_array(Z)
    levels = log_levels(z, count=20)
    norm = LogNorm(levels[0], levels[-1]) if levels is not None else None
    ball = {"fill": False, "edgecolor": style.INK, "linestyle": (0, (3, 2)), "linewidth": 1.2, "zorder": 6}
    with house_style():
        columns = 2 if len(panels) == 4 else len(panels)
        fig, axes = style.panels(7.2 if columns == 2 else 3.2 * columns + 1.0, 8.1 if columns == 2 else 4.2,
                                 len(panels), columns, sharex=True, sharey=True)
        for ax, panel in zip(axes, panels):
            if levels is not None:
                filled = draw_contour(ax, alphas, betas, z, levels, norm)
            else:
                panel_note(ax, NO_LANDSCAPE)
            manual_path, autograd_path = as_array(panel["manual_path"]), as_array(panel["autograd_path"])
            if panel.get("diverged_at") is None:
                draw_twin_paths(ax, manual_path, autograd_path, small=len(manual_path) > 100)
            else:       # drawn while inside the window, where it leaves an arrow and the X (house style)
                draw_twin_paths(ax, manual_path, autograd_path, diverged_at=panel["diverged_at"],
                                 window=((alphas[0], alphas[-1]), (betas[0], betas[-1])))
            ax.plot(*minimum, marker="P", markersize=9, color=style.PAPER, markeredgecolor=style.INK,
                    linestyle="none", label="minimum (least squares)", zorder=7)
            ax.set_xlim(alphas[0], alphas[-1])
            ax.set_ylim(betas[0], betas[-1])
            ax.set_aspect("equal", adjustable="box")
            ax.set_title(panel["title"])
            if ax.get_subplotspec().is_last_row():
                ax.set_xlabel(xlabel)
            if ax.get_subplotspec().is_first_col():
                ax.set_ylabel(ylabel)
            ax.grid(False)
            if zoom is None or panel.get("last") is None:
                continue
            za, zb, zz = (as_array(v) for v in zoom)
            inset = ax.inset_axes([0.02, 0.02, 0.47, 0.47])     # the high-loss corner, away from the paths
            if levels is not None:
                inset.contourf(za, zb, zz, levels=levels, norm=norm, cmap=CMAP)
            fine = log_levels(zz, count=8)
            if fine is not None:
                inset.contour(za, zb, zz, levels=fine, colors=style.PAPER, linewidths=0.4, alpha=0.6)
            last = panel["last"]
            inset.plot(manual_path[-last:, 0], manual_path[-last:, 1], color=MANUAL["color"], marker="o",
                       markersize=3.4, markeredgecolor=style.PAPER, markeredgewidth=0.3, linewidth=0.7, zorder=4)
            inset.plot(autograd_path[-last:, 0], autograd_path[-last:, 1], color=AUTOGRAD["color"], marker="x",
                       markersize=2.0, markeredgewidth=0.7, linestyle="none", zorder=5)
            inset.plot(*minimum, marker="+", markersize=7, markeredgewidth=1.0, color=style.PAPER,
                       linestyle="none", zorder=7)     # thin, so a tiny ball stays visible
            radius = panel.get("radius")
            if radius is not None:
                inset.add_patch(Circle(tuple(minimum), radius, **ball))
                inset.text(0.96, 0.04, f"radius {radius:.2g}", transform=inset.transAxes, ha="right", va="bottom", bbox=TEXT_BOX, zorder=9)
            inset.set_xlim(za[0], za[-1])
            inset.set_ylim(zb[0], zb[-1])
            inset.set_aspect("equal", adjustable="box")
            inset.set_xticks([])
            inset.set_yticks([])
            inset.text(0.04, 0.96, "last epoch, zoomed in", transform=inset.transAxes, ha="left", va="top", bbox=TEXT_BOX, zorder=9)
            inset.set_in_layout(False)     # inside its panel: the layout need not make room for it
            ax.indicate_inset_zoom(inset, edgecolor=style.INK, alpha=0.8)
        if zoom is not None and any(panel.get("radius") is not None for panel in panels):
            axes[0].plot([], [], color=style.INK, linestyle=ball["linestyle"], linewidth=ball["linewidth"],
                         label="last epoch: root-mean-square distance\nfrom the minimum (dashed circle)")
        handles = {}
        for ax in axes:
            for handle, label in zip(*ax.get_legend_handles_labels()):
                handles.setdefault(label, handle)
        legend = figure_legend(fig, list(handles.values()), list(handles), ncols=3)
        legend_caption(fig, legend, note)
        if levels is not None:
            loss_colorbar(fig, filled, list(axes), levels)
        if title:
            fig.suptitle(title)
    return fig


def minibatch_losses(runs: Sequence[dict], *, title: str = "", note: str | None = None) -> Figure:
    """The loss each step saw on its mini-batch, against the loss on all the data after each epoch.

    Each run is a dict with keys
        label, batch_size, n (the number of examples), history (a ``History``);
        epoch_manual, epoch_autograd (E + 1,): the full-data loss at each
        twin's parameters at the start and after every epoch.
    The x axis counts epochs, so runs with different batch sizes line up:
    step k has seen k * batch_size / n epochs. One panel per run (at most
    three, in RUN_COLORS): its
    per-step losses as a thin, pale line (the hand-written twin; autograd's
    as small crosses on it, every few steps) and its epoch losses as circles
    joined by a line (autograd: crosses in the circles). A last panel puts
    the epoch losses of every run together. All panels share the log axis.
    """
    from matplotlib.lines import Line2D

    with house_style():
        fig, axes = style.panels(7.4, 5.8, 4, 2, sharex=True, sharey=True)
        together = axes[len(runs)] if len(runs) < len(axes) else None
        for ax, color, run in zip(axes, RUN_COLORS, runs):
            history, size, n = run["history"], run["batch_size"], run["n"]
            steps = np.arange(len(history.loss_manual))
            at = steps * size / n
            first = history.loss_manual[0] if history.loss_manual else np.nan
            ax.plot(at, on_scale(history.loss_manual, first), color=color, linewidth=0.6, alpha=0.55, zorder=2)
            every = max(1, len(steps) // 40)
            ax.plot(at[::every], on_scale(history.loss_autograd, first)[::every], color=AUTOGRAD["color"],
                    marker="x", markersize=2.5, markeredgewidth=0.6, linestyle="none", alpha=0.7, zorder=3)
            for target in (ax, together):
                if target is None:
                    continue
                epochs = np.arange(len(run["epoch_manual"]))
                target.plot(epochs, on_scale(run["epoch_manual"], first), color=color, marker="o", markersize=5.5,
                            markeredgecolor=style.INK, markeredgewidth=0.6, linewidth=1.6, zorder=4,
                            label=run["label"] if target is together else None)
                target.plot(epochs, on_scale(run["epoch_autograd"], first), color=AUTOGRAD["color"], marker="x",
                            markersize=3.2, markeredgewidth=1.1, linestyle="none", zorder=5)
            ax.set_title(run["label"])
        if together is not None:
            together.set_title("the loss on all the data, every run")
            together.legend(loc="lower left")
        for ax in axes:
            ax.set_yscale("log")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        for ax in axes:
            if ax.get_subplotspec().is_last_row():
                ax.set_xlabel("epoch (passes through the data)")
            if ax.get_subplotspec().is_first_col():
                ax.set_ylabel("loss (log scale)")
        handles = [Line2D([], [], color=style.MID, linewidth=0.6, alpha=0.7),
                   Line2D([], [], color=style.MID, marker="o", markersize=5.5, markeredgecolor=style.INK,
                          markeredgewidth=0.6, linewidth=1.6),
                   Line2D([], [], color=AUTOGRAD["color"], marker="x", markersize=3.2, markeredgewidth=1.1,
                          linestyle="none")]
        labels = ["loss on the step's mini-batch (hand-written twin)",
                  "loss on all the data after each epoch (hand-written twin)",
                  "the same two, autograd twin"]
        legend = figure_legend(fig, handles, labels, ncols=2)
        legend_caption(fig, legend, note, title)
    return fig


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
            ax.annotate(f"B = N = {size:g}: measured\n{text}, below\nany log axis", (size, low * 2.5),
                        textcoords="offset points", xytext=(-8, 0), ha="right", va="center",
                        bbox=TEXT_BOX)
        ax.axhline(sigma2, color=style.LIGHT, linewidth=0.8, zorder=1)
        ax.annotate(f"σ² = {sigma2:.3g} (one example)", (1, sigma2), textcoords="offset points", xytext=(4, 4))
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xticks(sizes)
        ax.set_xticklabels([f"{s:g}" for s in sizes])
        ax.minorticks_off()
        ax.set_xlim(sizes.min() / 1.3, sizes.max() * 1.3)
        ax.set_ylim(low, high)
        ax.set_xlabel("batch size B (log scale)")
        ax.set_ylabel("E ‖g_B − ∇L‖² (log scale)")
        ax.set_title(title)
        legend = figure_legend(fig, *ax.get_legend_handles_labels(), ncols=1)
        legend_caption(fig, legend, note)
    return fig
