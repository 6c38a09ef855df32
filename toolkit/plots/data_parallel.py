"""toolkit.plots.data_parallel: the figures of lesson 20, data-parallel SGD on several worker processes."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from toolkit.plots import style
from toolkit.plots.shared import (as_array, draw_run_losses, figure_legend, integer_steps, legend_caption,
                                  mark_diverged, panel_note, readable_log_range, round_log_axis, twin_handles)
from toolkit.plots.style import AUTOGRAD, AUTOGRAD_CROSS, MANUAL, MANUAL_LINE, TEXT_BOX, house_style
from toolkit.train import History

TWINS = ("manual", "autograd")


def _twin_curve(ax, x, manual, autograd, *, color: str = MANUAL["color"], label: str | None = None) -> None:
    """One quantity of both twins: the hand-written one as a line through circles, autograd's crosses in them."""
    ax.plot(x, manual, color=color, label=label, **{**MANUAL_LINE, "markersize": 4.5})
    ax.plot(x, autograd, **{**AUTOGRAD_CROSS, "markersize": 3})


def equal_to_one_process(history: History, differences: dict[str, Sequence[float]], *, world_size: int,
                         tolerance: float, note: str | None = None) -> Figure:
    """Full-batch training on ``world_size`` workers against one process, step by step.

    history: the one-process run (its loss per step, both twins, on the left).
    differences: {"manual, workers": [...], "autograd, workers": [...], "manual, accumulated": [...],
    "autograd, accumulated": [...]}, each the largest |difference| of any parameter from the one-process
    run after every step (step 0 first, where all runs start from the same numbers). The middle panel
    shows the workers, the right one gradient accumulation in one process, on one log axis with the
    tolerance of the comparison (dashed) and float64's spacing of numbers near 1 (dotted). A difference
    of exactly 0 cannot sit on a log axis; how many there were is written in the panel.
    """
    with house_style():
        fig, (loss_ax, *diff_axes) = style.panels(10.2, 3.6, 3, 3)
        steps = np.arange(len(history.loss_manual))
        _twin_curve(loss_ax, steps, history.loss_manual, history.loss_autograd)
        loss_ax.set_yscale("log")
        readable_log_range(loss_ax, as_array(history.loss_manual))
        round_log_axis(loss_ax)
        loss_ax.set_xlabel("step")
        integer_steps(loss_ax)
        loss_ax.set_ylabel("loss (log scale)")
        loss_ax.set_title("One process, the whole batch")

        eps = float(np.finfo(np.float64).eps)
        shown = [as_array(values)[1:] for values in differences.values()]
        positive = np.concatenate([v[v > 0] for v in shown] + [np.array([eps])])
        low, high = min(positive.min(), eps) / 10, tolerance * 10
        for ax, how, title in zip(diff_axes, ("workers", "accumulated"),
                                  (f"{world_size} workers", f"One process, {world_size} shares accumulated")):
            manual, autograd = (as_array(differences[f"{twin}, {how}"]) for twin in TWINS)
            after = np.arange(1, len(manual))
            zeros = int((manual[1:] == 0).sum() + (autograd[1:] == 0).sum())
            _twin_curve(ax, after, np.where(manual[1:] > 0, manual[1:], np.nan),
                        np.where(autograd[1:] > 0, autograd[1:], np.nan))
            ax.axhline(tolerance, **style.THEORY)
            ax.axhline(eps, **style.REFERENCE)
            if zeros:
                panel_note(ax, f"{zeros} point{'s' if zeros != 1 else ''} exactly 0: not drawn")
            ax.set_yscale("log")
            ax.set_ylim(low, high)
            ax.set_xlabel("step")
            integer_steps(ax)
            ax.set_title(title)
        diff_axes[0].set_ylabel("largest |difference| from one process")
        handles, labels = twin_handles()
        handles += [Line2D([], [], **style.THEORY), Line2D([], [], **style.REFERENCE)]
        labels += [f"the tolerance of the twins' comparison, {tolerance:g}",
                   f"float64's spacing of numbers near 1, {eps:.2g}"]
        legend = figure_legend(fig, handles, labels, ncols=2)
        legend_caption(fig, legend, note)
    return fig


def _held_out_curve(ax, run: tuple, *, label: str, color: str, steps_per_epoch: int, wide: bool = False) -> None:
    """A run's held-out loss after every epoch, both twins; a run that diverged ends in its X at the top.

    wide: a broader line, drawn beneath, for a baseline that others may cover.
    """
    history, held = run
    manual, autograd = as_array(held["manual"]), as_array(held["autograd"])
    finite = np.isfinite(manual) & (manual < 1e3 * manual[0])
    epoch = np.arange(len(manual))
    if wide:
        ax.plot(epoch[finite], manual[finite], color=color, label=label,
                **{**MANUAL_LINE, "linewidth": 3, "markersize": 7, "zorder": 1})
        ax.plot(epoch[finite], autograd[finite], **{**AUTOGRAD_CROSS, "markersize": 3, "zorder": 1})
    else:
        _twin_curve(ax, epoch[finite], manual[finite], autograd[finite], color=color, label=label)
    if history.diverged:
        where = history.diverged_at_step / steps_per_epoch
        mark_diverged(ax, (where, 1.0), label="_diverged", transform=ax.get_xaxis_transform(), clip_on=False)
        ax.annotate(f"diverged at step {history.diverged_at_step}", (where, 1.0), xycoords=ax.get_xaxis_transform(),
                    textcoords="offset points", xytext=(9, -4), ha="left", va="top", bbox=TEXT_BOX)


def linear_scaling(scaled: dict, unscaled: tuple, at_the_wall: dict[int, History], *, ks: Sequence[int],
                   shown: int, batch: int, lr: float, epochs: int, train_size: int, limits: dict[str, float],
                   best_loss: float, note: str | None = None) -> Figure:
    """The linear scaling rule on a network with a sharp start, and where it breaks.

    scaled: {(k, warmup): (history, held)} for batch ``batch``·k at rate k·``lr`` on ``train_size`` examples,
    held = {"manual": [...], "autograd": [...]}, the held-out loss at the start and after each of ``epochs``
    epochs; unscaled: the
    same for batch ``batch``·``shown`` at rate ``lr``. Left: the held-out loss by epoch at k = 1 and
    k = ``shown`` (without warmup, with it, and unscaled). Middle: the final held-out loss against k, with
    and without warmup, a diverged run as an X at the top, and ``limits`` ({name: rate}) as dashed lines
    at k = rate/lr. Right: ``at_the_wall`` {k: history}, full-batch runs at rate k·``lr`` started next to
    the minimum, their loss per step against the lowest loss ``best_loss`` (dotted).
    """
    colors = {"baseline": style.BLACK, "without": style.WINE, "with": style.GREEN, "unscaled": style.PURPLE}
    with house_style():
        fig, (epoch_ax, k_ax, wall_ax) = style.panels(10.6, 3.9, 3, 3)
        runs = [(f"k = 1: batch {batch}, rate {lr:g}", scaled[(1, True)], colors["baseline"], 1),
                (f"k = {shown}, rate {shown * lr:g}, no warmup", scaled[(shown, False)], colors["without"], shown),
                (f"k = {shown}, rate {shown * lr:g}, warmup", scaled[(shown, True)], colors["with"], shown),
                (f"batch {batch * shown}, rate {lr:g} (not scaled)", unscaled, colors["unscaled"], shown)]
        for label, run, color, k in runs:
            _held_out_curve(epoch_ax, run, label=label, color=color, steps_per_epoch=train_size // (batch * k),
                            wide=color == colors["baseline"])
        epoch_ax.set_yscale("log")
        epoch_ax.set_xlabel("epoch")
        integer_steps(epoch_ax)
        epoch_ax.set_ylabel("held-out loss (log scale)")
        epoch_ax.set_title(f"Batch {batch}·k at rate k·{lr:g}")

        finals = [as_array(run[1]["manual"])[-1] for run in scaled.values() if not run[0].diverged]
        top = max(finals) * 3
        for warmup, color, nudge, marker_label in ((False, colors["without"], 0.87, "every k, no warmup"),
                                                   (True, colors["with"], 1.15, "every k, warmup")):
            kept = [k for k in ks if not scaled[(k, warmup)][0].diverged]
            manual = [as_array(scaled[(k, warmup)][1]["manual"])[-1] for k in kept]
            autograd = [as_array(scaled[(k, warmup)][1]["autograd"])[-1] for k in kept]
            _twin_curve(k_ax, np.array(kept) * nudge, manual, autograd, color=color, label=marker_label)
            for k in ks:
                if scaled[(k, warmup)][0].diverged:
                    mark_diverged(k_ax, (k * nudge, 1.0), label="_diverged", transform=k_ax.get_xaxis_transform(),
                                  clip_on=False)
        for (name, rate), line in zip(limits.items(), ((0, (1, 2)), (0, (4, 2)), (0, (8, 2, 2, 2)))):
            k_ax.axvline(rate / lr, color=style.DARK, linestyle=line, linewidth=1.1,
                         label=f"k·η = {name}: k = {rate / lr:.3g}")
        k_ax.set_xscale("log", base=2)
        k_ax.set_xticks(list(ks))
        k_ax.set_xticklabels([f"{k}" for k in ks])
        k_ax.minorticks_off()
        k_ax.set_xlim(min(ks) / 1.5, max(ks) * 1.5)
        k_ax.set_yscale("log")
        k_ax.set_ylim(min(finals) / 1.5, top)
        k_ax.set_xlabel("k: batch and rate multiplied by (log scale)")
        k_ax.set_ylabel(f"held-out loss after {epochs} epochs")
        k_ax.set_title("The rule, and where it breaks")

        wall_ax.axhline(best_loss, **style.REFERENCE, label=f"the lowest loss, {best_loss:.3g}")
        last = max(h.steps for h in at_the_wall.values())
        curves = []
        for (k, history), color in zip(at_the_wall.items(), (style.SKY_BLUE, style.MID)):
            draw_run_losses(wall_ax, history, label=f"from the minimum's doorstep, rate {k * lr:g} (k = {k})",
                            color=color, last_step=last, curves=curves)
        wall_ax.set_yscale("log")
        readable_log_range(wall_ax, *curves)
        wall_ax.set_xlabel("step (whole batch)")
        integer_steps(wall_ax)
        wall_ax.set_ylabel("training loss (log scale)")
        wall_ax.set_title("On either side of 2/λmax of the floor")

        handles, labels = [], []
        for ax in (epoch_ax, k_ax, wall_ax):
            h, l = ax.get_legend_handles_labels()
            handles += h
            labels += l
        handles.append(Line2D([], [], **style.DIVERGED))
        labels.append("diverged")
        twins, twin_labels = twin_handles()
        legend = figure_legend(fig, handles + twins, labels + twin_labels, ncols=3)
        legend_caption(fig, legend, note)
    return fig


def noise_scale(ks: Sequence[int], measured: dict[str, Sequence[float]], predicted: dict[str, Sequence[float]], *,
                batch: int, lr: float, n: int, draws: int, note: str | None = None) -> Figure:
    """The noise of moving k·lr·∇L downhill, three ways, against k (log-log): measured points, predicted lines.

    measured: {"k small steps": ..., "one step, batch kB": ..., "one step, batch B": ...}, each the mean
    over ``draws`` random draws of ‖displacement − its mean‖²; predicted: {"one step, batch kB": ...,
    "one step, batch B": ...} from lesson 06's formula (k small steps share the first). A value of exactly
    0 (at k·batch = n the big batch is all the data) cannot sit on a log axis: an arrow marks it.
    """
    ks = as_array(ks)
    series = {"k small steps": (f"k steps of {lr:g}, disjoint batches of {batch}", style.SKY_BLUE, "^"),
              "one step, batch kB": (f"one step of k·{lr:g} on a batch of k·{batch}", style.GREEN, "o"),
              "one step, batch B": (f"one step of k·{lr:g} on a batch of {batch}", style.PURPLE, "D")}
    values = np.concatenate([as_array(v) for v in measured.values()])
    zero = 1e-20 * values.max()         # below that: 0, or the rounding of a 0 (the sums are taken in another order)
    low, high = values[values > zero].min() / 20, values.max() * 3
    with house_style():
        fig = style.figure(5.6, 4.1)
        ax = fig.add_subplot()
        for name, expected in predicted.items():
            expected = as_array(expected)
            color = series[name][1]
            ax.plot(ks, np.where(expected > 0, expected, np.nan), color=color, linestyle=(0, (4, 2)),
                    linewidth=1.3, zorder=2)
        for name, (label, color, marker) in series.items():
            points = as_array(measured[name])
            positive = points > zero
            look = ({"markersize": 11, "markerfacecolor": style.NONE, "markeredgecolor": color, "markeredgewidth": 1.4}
                    if marker == "^" else {"markersize": 6.5, "markeredgecolor": style.PAPER, "markeredgewidth": 0.6})
            ax.plot(ks[positive], points[positive], color=color, marker=marker, linestyle="none", label=label,
                    zorder=4, **look)
            for k in ks[~positive]:
                ax.annotate("", xy=(k, low), xytext=(k, low * 8), arrowprops={"arrowstyle": "-|>", "color": color,
                                                                               "lw": 1.4})
        whole = ks[as_array(measured["one step, batch kB"]) <= zero]
        if whole.size:
            ax.annotate(f"k·{batch} = N = {n}: the whole data set,\nno noise (0 up to rounding)", (whole[0], low * 3),
                        textcoords="offset points", xytext=(-10, 0), ha="right", va="center", bbox=TEXT_BOX)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xticks(ks)
        ax.set_xticklabels([f"{k:g}" for k in ks])
        ax.minorticks_off()
        ax.set_xlim(ks.min() / 1.3, ks.max() * 1.3)
        ax.set_ylim(low, high)
        ax.set_xlabel("k (log scale)")
        ax.set_ylabel("noise of the move, E‖Δθ − E Δθ‖²")
        ax.set_title(f"Going k·{lr:g}·∇L downhill: how noisy")
        handles, labels = ax.get_legend_handles_labels()
        handles.append(Line2D([], [], color=style.DARK, linestyle=(0, (4, 2)), linewidth=1.3))
        labels.append("predicted: (k·η)²·σ²/b·(N − b)/(N − 1), b the batch")
        legend = figure_legend(fig, handles, labels, ncols=1)
        legend_caption(fig, legend, note or f"measured over {draws:,} random draws each")
    return fig


def cost(sizes: Sequence[dict], benchmark: dict | None, *, note: str | None = None) -> Figure:
    """What the workers cost: bytes all-reduced per step against the parameters (left), time per step (right).

    sizes: [{"parameters": P, "bytes": ..., "width": ...}] as counted in one step. benchmark: what
    ``benchmarks/data_parallel.py --write`` measured ({"networks": [{"name", "parameters", "global_batch",
    "workers", "seconds_per_step", "cpu_seconds_per_step", ...}], "machine": {"cpus", ...}, "measured": date,
    "load_average": [before, after]}), or None: then the right panel says how to make it. Per network the
    right panel draws the wall-clock time of a step (solid), one worker's CPU time in it (dashed), and
    one worker's CPU time divided by k (dotted): the work shared out perfectly.
    """
    parameters = as_array([row["parameters"] for row in sizes])
    sent = as_array([row["bytes"] for row in sizes])
    with house_style():
        fig, (bytes_ax, time_ax) = style.panels(8.6, 3.8, 2, 2)
        line = np.geomspace(parameters.min() / 2, parameters.max() * 2, 50)
        bytes_ax.plot(line, 8 * line, label="8 bytes per parameter (float64)", **style.THEORY)
        bytes_ax.plot(parameters, sent, color=style.GREEN, marker="o", markersize=6.5, markeredgecolor=style.PAPER,
                      linestyle="none", label="counted in DDP's communication hook", zorder=4)
        for row in sizes:
            bytes_ax.annotate(f"width {row['width']}", (row["parameters"], row["bytes"]), textcoords="offset points",
                              xytext=(6, -2), ha="left", va="top")
        bytes_ax.set_xscale("log")
        bytes_ax.set_yscale("log")
        bytes_ax.set_xlabel("parameters P (log scale)")
        bytes_ax.set_ylabel("bytes per worker per step (log scale)")
        bytes_ax.set_title("All-reduced per step")

        if benchmark is None:
            time_ax.set_axis_off()
            panel_note(time_ax, "Time per step: not measured yet.\nRun python benchmarks/data_parallel.py --write")
        else:
            for network, color in zip(benchmark["networks"], (style.SKY_BLUE, style.PURPLE, style.BLACK)):
                workers = as_array(network["workers"])
                wall = 1e3 * as_array(network["seconds_per_step"])
                cpu = 1e3 * as_array(network["cpu_seconds_per_step"])
                label = f"{network['name']}: P = {network['parameters']:,}, batch {network['global_batch']}"
                time_ax.plot(workers, wall, color=color, marker="o", markersize=6, markeredgecolor=style.PAPER,
                             label=label, zorder=4)
                time_ax.plot(workers, cpu, color=color, marker="v", markersize=5, markerfacecolor=style.NONE,
                             linestyle=(0, (4, 2)), linewidth=1.3, zorder=3)
                time_ax.plot(workers, cpu[0] / workers, color=color, linestyle=":", linewidth=1.2, zorder=2)
            time_ax.set_xscale("log", base=2)
            time_ax.set_xticks(workers)
            time_ax.set_xticklabels([f"{k:g}" for k in workers])
            time_ax.minorticks_off()
            time_ax.set_yscale("log")
            machine = benchmark["machine"]
            time_ax.set_title(f"Time per step on {machine['cpus']} CPU cores")
            time_ax.set_xlabel("worker processes k (log scale)")
            time_ax.set_ylabel("milliseconds per step (log scale)")
        handles, labels = [], []
        for ax in (bytes_ax, time_ax):
            h, l = ax.get_legend_handles_labels()
            handles += h
            labels += l
        if benchmark is not None:
            handles += [Line2D([], [], color=style.DARK, marker="o", markersize=6, markeredgecolor=style.PAPER),
                        Line2D([], [], color=style.DARK, marker="v", markersize=5, markerfacecolor=style.NONE,
                               linestyle=(0, (4, 2)), linewidth=1.3),
                        Line2D([], [], color=style.DARK, linestyle=":", linewidth=1.2)]
            labels += ["solid: the step, by the clock", "dashed: one worker's CPU time in the step",
                       "dotted: one worker's CPU time divided by k"]
            load = benchmark.get("load_average")
            if load and note is None:
                note = (f"measured {benchmark['measured']} by benchmarks/data_parallel.py; other programs kept the "
                        f"machine's load average at {min(load):.1f} to {max(load):.1f}")
        legend = figure_legend(fig, handles, labels, ncols=2)
        legend_caption(fig, legend, note)
    return fig
