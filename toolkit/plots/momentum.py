"""Lesson 07's figures: one run per panel on the valley, the distance to the minimum against its rate, loss curves."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from toolkit.plots import style
from toolkit.plots.shared import (NO_LANDSCAPE, as_array, draw_contour, draw_run_losses, draw_twin_paths,
                                  figure_legend, integer_steps, legend_caption, log_levels, loss_colorbar,
                                  merged_handles, panel_note, readable_log_range, run_path_legend)
from toolkit.plots.style import AUTOGRAD_CROSS, MANUAL_LINE, house_style


def momentum_paths(alphas, betas, Z, panels: Sequence[dict], *, xlabel: str, ylabel: str,
                   note: str | None = None) -> Figure:
    """One run per panel, every panel the same exact loss contour and window, two panels a row.

    alphas (A,), betas (B,), Z (B, A): the loss, Z[i, j] at (alphas[j], betas[i]).
    Each panel is a dict with keys title (say the setting and the effective
    step), manual_path, autograd_path ((T, 2) each) and diverged_at (the
    step where the run diverged, or None: drawn until it leaves the window,
    see ``draw_twin_paths``). Equal aspect (both axes are parameters).
    ``note``: a line heading the legend below.
    """
    alphas, betas, z = as_array(alphas), as_array(betas), as_array(Z)
    levels = log_levels(z, count=20)
    norm = LogNorm(levels[0], levels[-1]) if levels is not None else None
    window = ((alphas[0], alphas[-1]), (betas[0], betas[-1]))
    with house_style():
        fig, axes = style.panels(7.6, 2.3 * -(-len(panels) // 2) + 0.6, len(panels), 2, sharex=True, sharey=True)
        filled = None
        for ax, panel in zip(axes, panels):
            if levels is not None:
                filled = draw_contour(ax, alphas, betas, z, levels, norm)
            else:
                panel_note(ax, NO_LANDSCAPE)
            draw_twin_paths(ax, as_array(panel["manual_path"]), as_array(panel["autograd_path"]),
                            diverged_at=panel.get("diverged_at"), window=window, thin=True)
            ax.set_xlim(*window[0])
            ax.set_ylim(*window[1])
            ax.set_aspect("equal", adjustable="box")
            ax.set_title(panel["title"])
            if ax.get_subplotspec().is_last_row():
                ax.set_xlabel(xlabel)
            if ax.get_subplotspec().is_first_col():
                ax.set_ylabel(ylabel)
            ax.grid(False)
        if filled is not None:
            loss_colorbar(fig, filled, list(axes), levels)
        figure_legend(fig, *merged_handles(axes), title=note, ncols=3)
    return fig


def distance_rates(runs: Sequence[dict], *, floor: float | None = None, title: str = "",
                   note: str | None = None) -> Figure:
    """The distance to the minimum per step on a log scale, beside the rate theory predicts.

    Each run is a dict with keys
        label, color; manual, autograd (T,): ||theta_t - theta*|| of each twin;
        theory: the factor per step theory predicts, drawn as a dark dashed line
        of that slope through the measured curve at step ``anchor``;
        fit: (first, last), the steps the measured rate was fitted over (drawn thicker);
        measured: the fitted factor per step (for the legend).
    ``floor``: distances below it are rounding noise (the dtype's precision
    times the size of theta*); that band is shaded, and the step axis ends
    soon after the slowest run reaches it.
    """
    with house_style():
        fig = style.figure(5.4, 4.0)
        ax = fig.add_subplot()
        last = 0
        for run in runs:
            manual, autograd = as_array(run["manual"]), as_array(run["autograd"])
            steps = np.arange(len(manual))
            above = np.flatnonzero(manual > floor) if floor is not None else steps
            last = max(last, int(above[-1]) if above.size else 0, 1)
            every = max(1, len(steps) // 40)
            with np.errstate(divide="ignore"):
                ax.plot(steps, np.where(manual > 0, manual, np.nan), color=run["color"],
                        label=f"{run['label']}: measured ×{run['measured']:.4f} per step"
                        if run.get("measured") is not None else run["label"], zorder=3,
                        **{**MANUAL_LINE, "markevery": every, "markersize": 3.5, "linewidth": 1.4})
            ax.plot(steps[::every], np.where(autograd > 0, autograd, np.nan)[::every], zorder=4,
                    **{**AUTOGRAD_CROSS, "markersize": 2.6, "markeredgewidth": 0.8})
            if run.get("fit") is not None:
                first, stop = run["fit"]
                ax.plot(steps[first:stop + 1], manual[first:stop + 1], color=run["color"], linewidth=4.0,
                        alpha=0.45, solid_capstyle="butt", zorder=2)
            if run.get("theory") is not None:
                anchor = run.get("anchor", 0)
                with np.errstate(over="ignore", under="ignore"):
                    line = manual[anchor] * np.power(float(run["theory"]), steps - anchor)
                # Dark, on top: where measurement and theory agree the dashes run along the coloured line.
                ax.plot(steps, line, **style.THEORY, zorder=5, label=f"theory: ×{run['theory']:.4f} per step")
        shown = min(len(manual) - 1, int(1.15 * last) + 2)
        ax.set_xlim(0, shown)
        ax.set_yscale("log")
        values = np.concatenate([as_array(run["manual"])[:shown + 1] for run in runs])
        values = values[np.isfinite(values) & (values > 0)]
        low = max(values.min(), floor / 30) if floor is not None and values.size else None
        if values.size:
            ax.set_ylim(low / 3 if low else None, values.max() * 3)
        if floor is not None and floor > ax.get_ylim()[0]:    # a short run may stop well above the noise
            ax.axhspan(ax.get_ylim()[0], floor, color=style.PALE, zorder=0)
            # At the left, where every run is still far above the noise: no line crosses the label there.
            ax.text(0.02, floor, "rounding noise", transform=ax.get_yaxis_transform(), ha="left", va="top", color=style.MID)
        ax.set_xlabel("step")
        integer_steps(ax)
        ax.set_ylabel("distance ‖θ − θ*‖ (log scale)")
        ax.set_title(title)
        handles, labels = ax.get_legend_handles_labels()
        handles += [Line2D([], [], color=style.MID, linewidth=4.0, alpha=0.45), Line2D([], [], **AUTOGRAD_CROSS)]
        labels += ["steps the rate was fitted over", "× : autograd twin (on the hand-written line)"]
        legend = figure_legend(fig, handles, labels, ncols=2)
        legend_caption(fig, legend, note)
    return fig


def loss_curve_panels(panels: Sequence[dict], *, note: str | None = None) -> Figure:
    """Groups of runs' loss curves, one panel per group, sharing a log loss axis.

    Each panel is a dict with keys title and runs: a dict label -> (History,
    colour); a run in several panels keeps its label and colour. The manual
    twin is the line and autograd the crosses on it; a diverged run ends in
    its X (see ``mark_divergence``). One legend below the panels, so that no
    curve hides under it. ``note``: a line above the panels.
    """
    with house_style():
        fig, axes = style.panels(3.6 * len(panels) + 0.4, 3.6, len(panels), len(panels), sharey=True)
        curves = []
        for ax, panel in zip(axes, panels):
            last_step = max((len(h.loss_manual) - 1 for h, _ in panel["runs"].values()), default=0)
            for label, (history, color) in panel["runs"].items():
                draw_run_losses(ax, history, label=label, color=color, last_step=last_step, curves=curves)
            ax.set_yscale("log")
            ax.set_xlabel("step")
            integer_steps(ax)
            ax.set_title(panel["title"])
            if ax.get_subplotspec().is_first_col():
                ax.set_ylabel("training loss (log scale)")
        readable_log_range(axes[0], *curves)
        figure_legend(fig, *run_path_legend(axes), ncols=3)
        if note:
            fig.suptitle(note)
    return fig
