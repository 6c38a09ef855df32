"""toolkit.plots.adaptive_steps: lesson 11's figures (paths on the valley, step sizes, the race, weight decay)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from toolkit.plots import style
from toolkit.plots.curves import seed_sweep
from toolkit.plots.shared import (NO_LANDSCAPE, as_array, draw_contour, draw_run_path, figure_legend, integer_steps,
                                  legend_caption, log_levels, loss_colorbar, mark_start, merged_handles, panel_note,
                                  readable_log_range, round_log_axis, run_path_legend)
from toolkit.plots.style import AUTOGRAD, AUTOGRAD_CROSS, RUN_COLORS, house_style

# One colour per optimiser, the same in every figure of lesson 11 (blue and vermillion belong to the twins).
COLORS = {"gradient descent": RUN_COLORS[4], "momentum": RUN_COLORS[1], "RMSprop": RUN_COLORS[2],
          "Adam": RUN_COLORS[3], "AdamW": RUN_COLORS[0], "Adam + L2": RUN_COLORS[5]}


def color_of(name: str) -> str:
    """The colour of the optimiser a run's name starts with (the longest match: "AdamW" before "Adam")."""
    return COLORS[max((kind for kind in COLORS if name.startswith(kind)), key=len)]


def adaptive_paths(alphas, betas, Z, runs: dict, *, xlabel: str, ylabel: str, note: str | None = None) -> Figure:
    """Several optimisers' paths on ONE exact loss contour (two parameters, equal aspect).

    alphas: (A,), betas: (B,), Z: (B, A), the loss with Z[i, j] at (alphas[j], betas[i]).
    runs: label -> History with paths (T, 2), coloured by ``color_of(label)``. Each run is drawn as in
    lesson 07 (``draw_run_path``: the manual twin's circles, autograd's crosses inside them, the
    diverged X where it left); the shared start is one square. ``note`` heads the legend.
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
        for label, history in runs.items():
            draw_run_path(ax, as_array(history.path_manual), as_array(history.path_autograd), color=color_of(label),
                          label=label, window=window, diverged_at=history.diverged_at_step)
        if runs:
            mark_start(ax, as_array(next(iter(runs.values())).path_manual), zorder=8)
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


def adaptive_step_sizes(runs: dict, step_size, *, coordinates: Sequence[str], first: Sequence[float] = (),
                        references: Sequence[tuple[float, str]] = (), note: str | None = None) -> Figure:
    """Left: how far each coordinate moved per step, per run. Right: Adam's step size per coordinate.

    runs: label -> History with paths (T, P), coloured by ``color_of(label)``; the left panel draws
    |Δθ_i| per step for each coordinate i (``coordinates``: their P names, in line styles solid,
    dashed, ...), the manual twin as the line, autograd as crosses on it.
    step_size: (K, P) Adam's step size lr / (sqrt(v_hat) + eps) after each of its K steps, drawn on
    the right in Adam's colour and the same line styles, with ``references`` (value, label) as grey
    dotted lines (e.g. lr). first: (P,) the step size theory gives for step 1 (lr/|g|), drawn as
    grey open circles there.
    """
    from matplotlib.lines import Line2D

    dashes = ["-", (0, (5, 2)), ":", "-."]
    step_size = as_array(step_size)
    effective = {name: step_size[:, k] for k, name in enumerate(coordinates)}
    first = dict(zip(coordinates, first))
    effective_color = color_of("Adam")
    with house_style():
        fig, (left, right) = style.panels(8.6, 3.6, 2, 2)
        for label, history in runs.items():
            manual = _steps_per_coordinate(as_array(history.path_manual))
            autograd = _steps_per_coordinate(as_array(history.path_autograd))
            steps = np.arange(1, len(manual) + 1)
            every = max(1, len(steps) // 20)
            lone = {"marker": "o", "markersize": 4} if len(steps) == 1 else {}
            for k, (dash, name) in enumerate(zip(dashes, coordinates)):
                with np.errstate(divide="ignore"):
                    left.plot(steps, np.where(manual[:, k] > 0, manual[:, k], np.nan), color=color_of(label),
                              linestyle=dash, linewidth=1.5, **lone)
                    left.plot(steps[::every], np.where(autograd[:, k] > 0, autograd[:, k], np.nan)[::every],
                              color=AUTOGRAD["color"], marker="x", markersize=4, linestyle="none")
        left.set_yscale("log")
        round_log_axis(left)
        left.set_xlabel("step")
        integer_steps(left)
        left.set_ylabel("|Δθ| per step (log scale)")
        left.set_title("How far each coordinate moves")
        handles = [Line2D([], [], color=color_of(label), linewidth=2.2) for label in runs]
        labels = list(runs)
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
        for name, value in first.items():
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


def decay_comparison(histories: dict, held: dict[str, dict], ratios: dict, gradient_rms, *, decay: float,
                     bins: int = 6, note: str | None = None) -> Figure:
    """Weight decay three ways: the parameter vector's length, what the decay did by gradient size, held-out loss.

    histories: name ("Adam", "Adam + L2", "AdamW") -> History (left: ||theta|| at every point of both
    twins' paths, the manual twin's line with autograd's crosses); held: name -> {"held_loss",
    "held_accuracy"}, (S,) one per seed (right: a dot per seed and the mean, the accuracy under it).
    ratios: name -> (N,), one number per weight, e.g. |theta| at the end with decay over |theta|
    without, against ``gradient_rms`` (N,) (middle): the weights are split into ``bins`` groups of
    equal count by gradient size, and each group's median is drawn at its median gradient size, with
    a bar from its 25 % to its 75 % quantile. decay: λ, for the labels.
    """
    from matplotlib.lines import Line2D

    def label(name):
        return "Adam, no decay" if name == "Adam" else f"{name} (λ = {decay:g})"

    runs = [{"label": label(name), "color": color_of(name), "history": history, **held[name]}
            for name, history in histories.items()]
    ratios = [{"label": label(name), "color": color_of(name), "ratio": ratio} for name, ratio in ratios.items()]
    rms = as_array(gradient_rms)
    groups = np.array_split(np.argsort(rms, kind="stable"), bins)
    centres = np.array([np.median(rms[group]) for group in groups])
    with house_style():
        fig, (left, middle, right) = style.panels(11.4, 3.7, 3, 3)
        for run in runs:
            history = run["history"]
            manual = np.linalg.norm(as_array(history.path_manual), axis=1)
            autograd = np.linalg.norm(as_array(history.path_autograd), axis=1)
            steps = np.arange(len(manual))
            every = max(1, len(steps) // 20)
            left.plot(steps, manual, color=run["color"], label=run["label"])
            left.plot(steps[::every], autograd[::every], **{**AUTOGRAD_CROSS, "markersize": 4})
        left.set_xlabel("step")
        integer_steps(left)
        left.set_ylabel("‖θ‖, all parameters")
        left.set_ylim(bottom=0)
        left.set_title("The length of θ (one seed)")

        shifts = 10.0 ** (0.04 * (np.arange(len(ratios)) - (len(ratios) - 1) / 2))
        for shift, entry in zip(shifts, ratios):
            ratio = as_array(entry["ratio"])
            low, median, high = (np.array([np.quantile(ratio[group], q) for group in groups]) for q in (0.25, 0.5, 0.75))
            middle.errorbar(centres * shift, median, yerr=[median - low, high - median], color=entry["color"],
                            marker="D", markersize=5, markeredgecolor=style.INK, markeredgewidth=0.5, capsize=3,
                            linewidth=1.6, label=entry["label"], zorder=3)
        middle.axhline(1.0, **style.REFERENCE, zorder=1)
        middle.set_xscale("log")
        middle.set_yscale("log")
        round_log_axis(middle)
        middle.set_xlabel("gradient size √v̂ under plain Adam")
        middle.set_ylabel("|θ| with decay / |θ| without")
        middle.set_title(f"By gradient size ({len(rms):,} weights)")

        for k, run in enumerate(runs):
            loss = as_array(run["held_loss"])
            right.plot(np.full(len(loss), k), loss, linestyle="none", marker="o", markersize=4, color=run["color"],
                       alpha=0.6, markeredgewidth=0)
            right.plot([k - 0.25, k + 0.25], [loss.mean()] * 2, color=run["color"], linewidth=2.5)
        right.set_xticks(range(len(runs)))
        right.set_xticklabels([f"{run['label'].split(' (')[0]}\n{100 * as_array(run['held_accuracy']).mean():.1f} % right"
                               for run in runs])
        right.set_xlim(-0.6, len(runs) - 0.4)
        right.set_ylabel("held-out loss")
        right.set_ylim(bottom=0)
        right.set_title(f"Held out ({len(as_array(runs[0]['held_loss']))} seeds)")
        handles, labels = merged_handles([left, middle])
        handles += [Line2D([], [], **{**AUTOGRAD_CROSS, "markersize": 4}),
                    Line2D([], [], color=style.MID, marker="D", markersize=5, markeredgecolor=style.INK,
                           markeredgewidth=0.5),
                    Line2D([], [], color=style.MID, marker="o", markersize=4, linestyle="none", alpha=0.6),
                    Line2D([], [], **style.REFERENCE)]
        labels += ["×: autograd on the manual line", "median of a sixth of the weights, bar: 25 % to 75 %",
                   "held out: a dot per seed, a bar at their mean", "1: no change"]
        legend = figure_legend(fig, handles, labels, ncols=3)
        legend_caption(fig, legend, note)
    return fig


def rate_sweep(lrs: dict, train: dict, held: dict, chosen: dict[str, int], *, note: str) -> Figure:
    """The race's sweep (``curves.seed_sweep``): final training loss and held-out accuracy against the rate.

    Per optimiser name, coloured by ``color_of(name)``: lrs[name] (R,) the x positions (the heavy
    ball's effective steps lr/(1 − β)), train[name] and held[name] (R, S) the training loss after
    the last step and the held-out accuracy of every rate and seed, chosen[name] the index of the
    chosen rate (ringed). The loss line joins geometric means, the accuracy line means.
    """
    return seed_sweep(
        [{"key": "train", "ylabel": "training loss after 150 steps", "log": True, "geometric": True},
         {"key": "held", "ylabel": "held-out accuracy", "log": False}],
        [{"label": name, "color": color_of(name), "lrs": lrs[name], "train": train[name], "held": held[name],
          "chosen": chosen[name]} for name in lrs],
        xlabel="learning rate\n(momentum: its effective step lr/(1 − β))", note=note)


def seed_band_losses(runs: dict, *, title: str = "") -> Figure:
    """Several optimisers' training losses over seeds: the median per step, and a band around it.

    runs: label -> (S, T) the loss of each of S seeds at every step, coloured by ``color_of(label)``.
    The band runs from the 25 % to the 75 % quantile of the seeds at each step (with five seeds, from
    the second lowest to the second highest). A log axis; a seed whose run diverged leaves the band
    from there on.
    """
    from matplotlib.patches import Patch

    with house_style():
        fig = style.figure(5.6, 4.4)
        ax = fig.add_subplot()
        curves = []
        for label, losses in runs.items():
            losses = as_array(losses)
            steps = np.arange(losses.shape[1])
            with np.errstate(invalid="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)       # a step where every seed diverged
                low, median, high = np.nanquantile(losses, [0.25, 0.5, 0.75], axis=0)
            curves += [low, high]
            ax.fill_between(steps, low, high, color=color_of(label), alpha=0.18, linewidth=0, zorder=2)
            ax.plot(steps, median, color=color_of(label), linewidth=1.8, label=label, zorder=3)
        ax.set_yscale("log")
        readable_log_range(ax, *curves)
        round_log_axis(ax)
        ax.set_xlabel("step")
        integer_steps(ax)
        ax.set_ylabel("training loss (log scale)")
        ax.set_title(title)
        handles, labels = ax.get_legend_handles_labels()
        handles.append(Patch(color=style.LIGHT, alpha=0.4, linewidth=0))
        labels.append("line: the median seed at each step; band: the middle half of the seeds")
        figure_legend(fig, handles, labels, ncols=2)
    return fig
