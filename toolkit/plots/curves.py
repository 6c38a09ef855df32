"""Curves that several lessons draw: one run's twins, several runs, the loss gap against theory, and a
measure against the learning rate over seeds."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

from toolkit.plots import style
from toolkit.plots.shared import (as_array, draw_loss_curves, draw_run_losses, figure_legend, integer_steps,
                                  legend_caption, mark_diverged, merged_handles, on_scale, readable_log_range,
                                  round_log_axis, round_tick_text, twin_handles, twins_key)
from toolkit.plots.style import house_style
from toolkit.train import History


def loss_curves(history: History, title: str = "Training loss", *, best_loss: float | None = None) -> Figure:
    """Both twins' loss per step on a log scale (the curves lie on top of each other).

    best_loss: the lowest loss there is (L*, e.g. from least squares), drawn as a dotted line,
    so that what is left to gain shows.
    """
    with house_style():
        fig = style.figure(4.6, 3.3)
        ax = fig.add_subplot()
        if best_loss is not None:
            ax.axhline(best_loss, **style.REFERENCE, zorder=1, label=f"lowest loss L* = {best_loss:.4g}")
        draw_loss_curves(ax, history)
        round_log_axis(ax)
        ax.set_ylabel("loss (log scale)")
        ax.set_title(title)
        # A diverged run ends in the top right corner, at its X.
        ax.legend(loc="best" if history.diverged else "upper right")
    return fig


def loss_curves_by_run(histories: dict[str, History], title: str = "Loss per step") -> Figure:
    """Several runs' loss curves on a log scale; a diverged run ends in a marked X.

    Each run has its own colour; its hand-written twin is the line with
    circles and the autograd twin the vermillion crosses in them. A loss off
    the scale (see ``shared.OFF_SCALE``) puts the X at the top of the axes.
    """
    last_step = max((len(h.loss_manual) - 1 for h in histories.values()), default=0)
    with house_style():
        fig = style.figure(5.2, 3.6)
        ax = fig.add_subplot()
        off_scale = False
        curves = []
        for color, (label, history) in zip(style.RUN_COLORS, histories.items()):
            off_scale |= draw_run_losses(ax, history, label=label, color=color, last_step=last_step, curves=curves)
        ax.set_yscale("log")
        readable_log_range(ax, *curves)
        ax.set_xlabel("step")
        integer_steps(ax)
        ax.set_ylabel("loss (log scale)")
        ax.set_title(title)
        handles, labels = ax.get_legend_handles_labels()
        key, text = twins_key()
        ax.legend(handles + [key], labels + [text], loc="best" if off_scale else "upper left")
    return fig


def _gap(values, best_loss: float) -> np.ndarray:
    """L - L* as a float array; NaN where it is not positive (a log axis cannot show it)."""
    with np.errstate(invalid="ignore"):
        gap = np.asarray(values, dtype=float) - best_loss
        return np.where(gap > 0, gap, np.nan)


def _theory_line(start: float, factor: float, count: int, first: float) -> np.ndarray:
    """start * factor**t for t = 0 .. count - 1, NaN where it overflows or is off the scale of ``first``."""
    with np.errstate(over="ignore", invalid="ignore"):
        line = start * np.power(float(factor), np.arange(count, dtype=float))
    return on_scale(line, first)


def loss_gap_curves(histories: dict[str, History], best_loss: float, *,
                    theory: dict[str, tuple[float, float]] | None = None, title: str = "",
                    growing_title: str = "Diverging: on an axis of its own") -> Figure:
    """The loss gap L - L* per step on a log scale, where geometric convergence is a straight line.

    histories: the runs by label; best_loss: L*, the lowest loss there is
    (from a closed form or least squares). theory[label] = (start, factor):
    a dashed line start * factor**t beside that run, the rate theory predicts
    (on a quadratic, factor = max_i (1 - lr * lambda_i)^2); its slope is to be
    compared with the run's. One run is drawn in the twins' house colours;
    several get one colour each. Runs whose gap grows (diverged, or a
    theoretical factor above 1) go on an axis of their own on the right, so
    they do not flatten the others; a diverged run ends in its X.
    """
    theory = theory or {}
    single = len(histories) == 1

    def grows(label: str) -> bool:
        return histories[label].diverged or theory.get(label, (1.0, 0.0))[1] > 1

    groups = [[label for label in histories if not grows(label)], [label for label in histories if grows(label)]]
    groups = [group for group in groups if group]
    colors = dict(zip(histories, style.RUN_COLORS))
    with house_style():
        if len(groups) == 2:
            fig, axes = style.panels(8.6, 3.9, 2, 2, width_ratios=[1.45, 1])
        else:
            fig = style.figure(4.9, 3.6)
            axes = [fig.add_subplot()]
        for ax, group in zip(axes, groups):
            last_step = max(len(histories[label].path_losses()[0]) - 1 for label in group)
            curves = []
            for label in group:
                _draw_gap(ax, histories[label], best_loss, theory.get(label), last_step=last_step, curves=curves,
                          color=style.MANUAL["color"] if single else colors[label],
                          label=style.MANUAL["label"] if single else label)
            ax.set_yscale("log")
            readable_log_range(ax, *curves)
            round_log_axis(ax)
            ax.set_xlabel("step")
            integer_steps(ax)
            ax.set_ylabel("loss gap L − L* (log scale)")
        axes[0].set_title(title)
        if len(groups) == 2:
            axes[1].set_title(growing_title)
        _gap_legend(fig, axes, single)
    return fig


def _draw_gap(ax, history: History, best_loss: float, theory, *, color: str, label: str, last_step: int,
              curves: list) -> None:
    """One run's loss gap per step (both twins), and the theory's dashed line beside it."""
    losses_manual, losses_autograd = history.path_losses()
    gaps = (_gap(losses_manual, best_loss), _gap(losses_autograd, best_loss))
    draw_run_losses(ax, history, label=label, color=color, last_step=last_step, curves=curves, values=gaps,
                    line_style={"linewidth": 2.4})   # wide: the dashed theory line on top leaves it visible
    if theory is not None:
        start, factor = theory
        line = _theory_line(start, factor, len(gaps[0]), gaps[0][0])
        if np.isfinite(line).sum() >= 2:
            ax.plot(np.arange(len(line)), line, **style.THEORY, zorder=3, label=f"theory: ×{factor:.4g} per step")


def _gap_legend(fig, axes, single: bool) -> None:
    """Runs in the first column, their theory lines beside them in the second."""
    handles, labels = [], []
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            if label not in labels:
                handles.append(handle)
                labels.append(label)
    extra = twin_handles() if single else ([twins_key()[0]], [twins_key()[1]])
    if single:       # the blue line is already the hand-written twin's: add autograd's crosses
        extra = ([extra[0][1]], [extra[1][1]])
    handles += extra[0]
    labels += extra[1]
    runs = [(h, t) for h, t in zip(handles, labels) if not t.startswith("theory")]
    lines = [(h, t) for h, t in zip(handles, labels) if t.startswith("theory")]
    if lines:
        rows = max(len(runs), len(lines))
        blank = (Line2D([], [], linestyle="none"), " ")
        ordered = runs + [blank] * (rows - len(runs)) + lines + [blank] * (rows - len(lines))
    else:
        ordered = runs
    figure_legend(fig, [h for h, _ in ordered], [t for _, t in ordered], ncols=2 if lines else min(len(ordered), 3))


def seed_sweep(panels: Sequence[dict], series: Sequence[dict], *, xlabel: str, note: str | None = None,
               seeds_label: str = "seed") -> Figure:
    """Measures against the learning rate over several seeds: one panel per measure, one line per method.

    panels: dicts with ``key``, ``ylabel``, ``log`` (a log y axis) and optionally ``geometric`` (the
    line joins the geometric means over the seeds, for values that span decades; else the means).
    series: dicts with ``label``, ``color``, ``lrs`` ((R,) the x positions, e.g. momentum's effective
    step), under each panel's key the values (R, S), one column per seed, and optionally ``chosen``
    (an index into lrs: that rate is ringed). Every seed is a small dot, the series side by side a
    little around their rate so that the dots stay apart; a NaN (a run that diverged) is the
    diverged X at the top of its panel. The x ticks are the rates themselves.
    """
    with house_style():
        fig, axes = style.panels(3.8 * len(panels) + 0.4, 3.5, len(panels), len(panels))
        spread = 0.03 * (np.arange(len(series)) - (len(series) - 1) / 2)       # decades, side by side
        for ax, panel in zip(axes, panels):
            for shift, entry in zip(spread, series):
                values = as_array(entry[panel["key"]])
                lrs = as_array(entry["lrs"]) * 10.0 ** shift
                with np.errstate(invalid="ignore", divide="ignore"):
                    centre = (np.exp(np.nanmean(np.log(values), axis=1)) if panel.get("geometric")
                              else np.nanmean(values, axis=1))
                seeds = values.shape[1]
                ax.plot(np.repeat(lrs, seeds), values.ravel(), linestyle="none", marker="o", markersize=3,
                        color=entry["color"], alpha=0.45, markeredgewidth=0, zorder=2)
                ax.plot(lrs, centre, color=entry["color"], marker="D", markersize=4.5, markeredgecolor=style.INK,
                        markeredgewidth=0.5, label=entry["label"], zorder=3)
                if entry.get("chosen") is not None:
                    k = entry["chosen"]
                    ax.plot(lrs[k], centre[k], linestyle="none", marker="o", markersize=11, markerfacecolor=style.NONE,
                            markeredgecolor=style.INK, markeredgewidth=1.2, zorder=4, label="the rate chosen")
                for k in np.flatnonzero(np.isnan(values).any(axis=1)):
                    mark_diverged(ax, (lrs[k], 1.0), label="diverged (a seed or more)",
                                  transform=ax.get_xaxis_transform(), clip_on=False)
            ax.set_xscale("log")
            rates = sorted({float(lr) for entry in series for lr in as_array(entry["lrs"])})
            ax.xaxis.set_major_locator(FixedLocator(rates))
            ax.xaxis.set_major_formatter(FuncFormatter(round_tick_text))
            ax.xaxis.set_minor_locator(NullLocator())
            ax.set_xlim(rates[0] / 10 ** 0.25, rates[-1] * 10 ** 0.25)
            if panel["log"]:
                ax.set_yscale("log")
                round_log_axis(ax)
            ax.set_xlabel(xlabel)
            ax.set_ylabel(panel["ylabel"])
        handles, labels = merged_handles(axes)
        order = [label for label in labels if label in {entry["label"] for entry in series}]
        order += [label for label in labels if label not in order]
        handles, labels = [handles[labels.index(label)] for label in order], order
        handles.append(Line2D([], [], linestyle="none", marker="o", markersize=3, color=style.MID, alpha=0.6,
                              markeredgewidth=0))
        geometric = [panel["ylabel"] for panel in panels if panel.get("geometric")]
        labels.append(f"dots: one {seeds_label} each; line: their mean"
                      + (f" (geometric for the {geometric[0]})" if geometric else ""))
        legend = figure_legend(fig, handles, labels, ncols=3)
        legend_caption(fig, legend, note)
    return fig
