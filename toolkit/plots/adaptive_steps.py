"""toolkit.plots.adaptive_steps."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from toolkit.plots import style
from toolkit.plots.shared import (NO_LANDSCAPE, as_array, draw_contour, draw_run_losses, draw_run_path, figure_legend,
                                  integer_steps, legend_caption, log_levels, loss_colorbar, mark_start, panel_note,
                                  readable_log_range, round_log_axis, round_log_ticks, run_path_legend)
from toolkit.plots.style import AUTOGRAD, house_style
from toolkit.train import History


def adaptive_paths(alphas, betas, Z, runs: Sequence[dict], *, xlabel: str, ylabel: str,
                   note: str | None = None) -> Figure:
    """Several optimisers' paths on ONE exact loss contour (two parameters, equal aspect).

    alphas: (A,), betas: (B,), Z: (B, A), the loss with Z[i, j] at (alphas[j], betas[i]).
    runs: dicts with label, color, manual_path and autograd_path ((T, 2)
    each) and optionally diverged_at. Each run is drawn as in lesson 07
    (``draw_run_path``: the manual twin's circles, autograd's crosses
    inside them); the shared start is one square. ``note`` heads the legend.
    """

    alphas, betas, z = as_array(alphas), as_array(betas), as_array(Z)
    window = ((alphas[0], alphas[-1]), (betas[0], betas[-1]))
    with house_style():
        fig = style.figure(6.8, 4.4)
        ax = fig.add_subplot()
        levels = log_levels(z, count=20)
        if levels is not None:
            filled = draw_contour(ax, alphas, betas, z, levels, LogNorm(levels[0], levels[-1]))
        else:
            panel_note(ax, NO_LANDSCAPE)
        for run in runs:
            draw_run_path(ax, as_array(run["manual_path"]), as_array(run["autograd_path"]), color=run["color"],
                           label=run["label"], window=window, diverged_at=run.get("diverged_at"))
        if runs:
            mark_start(ax, as_array(runs[0]["manual_path"]), zorder=8)
        ax.set_xlim(*window[0])
        ax.set_ylim(*window[1])
        ax.set_aspect("equal", adjustable="box")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.grid(False)
        if levels is not None:
            loss_colorbar(fig, filled, ax, levels)
        handles, labels = run_path_legend([ax], "circles: manual, x inside:\nautograd (the twins coincide)")
        legend = figure_legend(fig, handles, labels, ncols=3)
        legend_caption(fig, legend, note)
    return fig


def _steps_per_coordinate(path: np.ndarray) -> np.ndarray:
    """|theta_{k+1} - theta_k| per coordinate: (T - 1, P) from a path (T, P)."""
    return np.abs(np.diff(path, axis=0))


def adaptive_step_sizes(runs: Sequence[dict], effective: dict[str, np.ndarray], *, coordinates: Sequence[str],
                        references: Sequence[tuple[float, str]] = (), first: dict[str, float] | None = None,
                        effective_color: str = style.DARK, note: str | None = None) -> Figure:
    """Left: how far each coordinate moved per step, per run. Right: Adam's step size per coordinate.

    runs: dicts with label, color, manual_path and autograd_path ((T, P)
    each); the left panel draws |Δθ_i| per step for each coordinate i
    (``coordinates``: their names, in line styles solid, dashed, ...),
    the manual twin as the line, autograd as crosses on it.
    effective: coordinate name -> (K,) Adam's step size lr / (sqrt(v_hat) + eps)
    after each of its K steps; drawn on the right in ``effective_color``
    (Adam's colour on the left) and the same line styles, with
    ``references`` (value, label) as grey dotted lines (e.g. lr).
    first: coordinate name -> the step size theory gives for step 1
    (lr/|g|), drawn as a grey open circle there.
    """
    from matplotlib.lines import Line2D

    dashes = ["-", (0, (5, 2)), ":", "-."]
    with house_style():
        fig, (left, right) = style.panels(8.6, 3.6, 2, 2)
        for run in runs:
            manual = _steps_per_coordinate(as_array(run["manual_path"]))
            autograd = _steps_per_coordinate(as_array(run["autograd_path"]))
            steps = np.arange(1, len(manual) + 1)
            every = max(1, len(steps) // 20)
            lone = {"marker": "o", "markersize": 4} if len(steps) == 1 else {}
            for k, (dash, name) in enumerate(zip(dashes, coordinates)):
                with np.errstate(divide="ignore"):
                    left.plot(steps, np.where(manual[:, k] > 0, manual[:, k], np.nan), color=run["color"],
                              linestyle=dash, linewidth=1.5, **lone)
                    left.plot(steps[::every], np.where(autograd[:, k] > 0, autograd[:, k], np.nan)[::every],
                              color=AUTOGRAD["color"], marker="x", markersize=4, linestyle="none")
        left.set_yscale("log")
        round_log_axis(left)
        left.set_xlabel("step")
        integer_steps(left)
        left.set_ylabel("|Δθ| per step (log scale)")
        left.set_title("How far each coordinate moves")
        handles = [Line2D([], [], color=run["color"], linewidth=2.2) for run in runs]
        labels = [run["label"] for run in runs]
        handles += [Line2D([], [], color=style.MID, linestyle=dash) for dash, _ in zip(dashes, coordinates)]
        labels += list(coordinates)
        handles.append(Line2D([], [], color=AUTOGRAD["color"], marker="x", markersize=4, linestyle="none"))
        labels.append("x: autograd (on the manual line)")
        left.legend(handles, labels, loc="best")

        curves = []
        for (name, values), dash in zip(effective.items(), dashes):
            values = as_array(values)
            curves.append(values)
            lone = {"marker": "o", "markersize": 4} if len(values) == 1 else {}
            right.plot(np.arange(1, len(values) + 1), values, color=effective_color, linestyle=dash, linewidth=1.5,
                       label=f"Adam, {name}", **lone)
        for name, value in (first or {}).items():
            right.plot(1, value, marker="o", markersize=9, markerfacecolor=style.NONE, markeredgecolor=style.MID,
                       markeredgewidth=1.4, linestyle="none", zorder=5,
                       label="lr/|g| at step 1 (theory)" if name == next(iter(first)) else None)
            curves.append(np.array([value]))
        for value, label in references:
            right.axhline(value, color=style.LIGHT, linestyle=":", linewidth=1.2, zorder=1)
            right.annotate(label, (1.0, value), xycoords=("axes fraction", "data"), textcoords="offset points",
                           xytext=(-4, 3), ha="right", va="bottom", color=style.MID)
            curves.append(np.array([value]))
        right.set_yscale("log")
        readable_log_range(right, *curves)
        values = np.concatenate([np.ravel(c) for c in curves])
        values = values[np.isfinite(values) & (values > 0)]
        if values.size:
            right.set_ylim(values.min() / 1.4, values.max() * 1.4)
        round_log_axis(right)
        right.set_xlabel("step")
        integer_steps(right)
        right.set_ylabel("lr / (√v̂ + ε) (log scale)")
        right.set_title("Adam's step size per coordinate")
        right.legend(loc="lower right")
        right.minorticks_off()
        if note:
            fig.text(0.5, 0.0, note, ha="center", va="top", transform=fig.transFigure)
    return fig


def decay_comparison(runs: Sequence[dict], ratios: Sequence[dict], gradient_rms, *, note: str | None = None,
                     bins: int = 6) -> Figure:
    """Left: the length of the parameter vector per step, per run. Right: what the decay did to each weight.

    runs: dicts with label, color and History ``history``; the left panel
    draws ||theta|| at every point of both twins' paths (manual: the line,
    autograd: the crosses). ratios: dicts with label, color and ``ratio``
    (P,), one number per parameter, e.g. |theta| at the end of a run with
    decay over |theta| at the end of the same run without; the right panel
    draws them against ``gradient_rms`` (P,) on log scales, with the
    median of each of ``bins`` groups of equal count (from the smallest
    gradients to the largest; ``np.array_split`` of the order, so the first
    groups hold one more when the count does not divide) as a line through them.
    """
    from matplotlib.lines import Line2D

    rms = as_array(gradient_rms)
    order = np.argsort(rms, kind="stable")
    groups = np.array_split(order, bins)
    with house_style():
        fig, (left, right) = style.panels(8.6, 3.7, 2, 2)
        for run in runs:
            history = run["history"]
            manual = np.linalg.norm(as_array(history.path_manual), axis=1)
            autograd = np.linalg.norm(as_array(history.path_autograd), axis=1)
            steps = np.arange(len(manual))
            every = max(1, len(steps) // 20)
            left.plot(steps, manual, color=run["color"], label=run["label"])
            left.plot(steps[::every], autograd[::every], color=AUTOGRAD["color"], marker="x", markersize=4.5,
                      linestyle="none")
        left.plot([], [], color=AUTOGRAD["color"], marker="x", markersize=4.5, label="line: manual, x: autograd")
        left.set_xlabel("step")
        integer_steps(left)
        left.set_ylabel("‖θ‖, all parameters")
        left.set_ylim(bottom=0)
        left.set_title("The length of the parameter vector")
        left.legend(loc="upper left")

        for entry in ratios:
            ratio = as_array(entry["ratio"])
            right.scatter(rms, ratio, s=9, color=entry["color"], alpha=0.45, edgecolors=style.NONE, zorder=2)
            centres = [np.median(rms[group]) for group in groups]
            medians = [np.median(ratio[group]) for group in groups]
            right.plot(centres, medians, color=entry["color"], marker="o", markersize=6, markeredgecolor=style.INK,
                       markeredgewidth=0.6, linewidth=1.8, zorder=3, label=f"{entry['label']}")
        right.axhline(1.0, color=style.LIGHT, linestyle=":", linewidth=1.1, zorder=1)
        right.set_xscale("log")
        right.set_yscale("log")
        right.set_xlabel("the weight's gradient size √v̂ under plain Adam (log scale)")
        right.set_ylabel("|θ| with decay / |θ| without")
        right.set_title("What the decay did to each weight")
        handles, labels = right.get_legend_handles_labels()
        handles.append(Line2D([], [], color=style.MID, marker="o", markersize=3, linestyle="none", alpha=0.6))
        groups_name = {2: "half", 3: "third", 4: "quarter"}.get(bins)
        labels.append("dots: one parameter each;\nline: " + (f"median of each {groups_name}\nof gradient size"
                      if groups_name else f"medians of {bins} groups\nby gradient size"))
        right.legend(handles, labels, loc="lower right")
        if note:
            fig.text(0.5, 0.0, note, ha="center", va="top", transform=fig.transFigure)
    return fig


def optimizer_losses(runs: dict[str, tuple[History, str]], *, title: str = "") -> Figure:
    """Several runs' training losses on one log axis, each in its own colour, the legend below.

    runs: label -> (History, colour). The hand-written twin is the line and
    autograd the crosses on it (``draw_run_losses``); a diverged run ends in
    its X.
    """
    from matplotlib.lines import Line2D

    last_step = max((len(h.loss_manual) - 1 for h, _ in runs.values()), default=0)
    with house_style():
        fig = style.figure(5.6, 4.4)
        ax = fig.add_subplot()
        curves = []
        for label, (history, color) in runs.items():
            draw_run_losses(ax, history, label=label, color=color, last_step=last_step, curves=curves)
        ax.set_yscale("log")
        readable_log_range(ax, *curves)
        low, high = ax.get_ylim()
        if 0 < low < high and round_log_ticks(low, high)[-1] < high / 2:
            ax.set_ylim(low, 10.0 ** np.ceil(np.log10(high)))     # a labelled tick at the top, above the first losses
        round_log_axis(ax)
        ax.set_xlabel("step")
        integer_steps(ax)
        ax.set_ylabel("training loss (log scale)")
        ax.set_title(title)
        handles, labels = ax.get_legend_handles_labels()
        handles.append(Line2D([], [], color=AUTOGRAD["color"], marker="x", markersize=4.5))
        labels.append("line: manual, x: autograd")
        figure_legend(fig, handles, labels, ncols=2)
    return fig
