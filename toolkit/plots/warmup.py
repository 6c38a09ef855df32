"""Lesson 13's figures: runs from a sharp start, their loss gap and their sharpness against 2/ηₜ."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from toolkit.plots import style
from toolkit.plots.shared import (as_array, draw_run_losses, figure_legend, integer_steps, legend_caption,
                                  readable_log_range, round_log_axis, twins_key)
from toolkit.plots.style import AUTOGRAD_CROSS, TEXT_BOX, house_style


def _limits(history, length: int) -> np.ndarray:
    """2/ηₜ at steps 0 .. length − 1 (the last rate held for a point after the last step)."""
    rates = np.asarray(history.lrs + history.lrs[-1:] * (length - len(history.lrs)), dtype=float)[:length]
    with np.errstate(divide="ignore"):
        return 2 / rates


def _sharpness_window(runs: Sequence[dict]) -> tuple[float, float]:
    """The sharpness axis' limits: every limit 2/ηₜ, and the sharpness of the runs that stayed finite
    (a diverged run's sharpness leaves through the top)."""
    values = []
    for entry in runs:
        sharpness = as_array(entry["manual_sharpness"])
        values += [_limits(entry["history"], len(sharpness)), sharpness if not entry["history"].diverged
                   else sharpness[:1]]
    finite = np.concatenate(values)
    finite = finite[np.isfinite(finite) & (finite > 0)]
    return (finite.min() / 1.6, finite.max() * 3.0) if finite.size else (0.1, 10.0)


def _draw_sharpness(ax, entry: dict, color: str, high: float) -> None:
    """One run's λmax per step (line with circles, autograd's crosses in them), its limit 2/ηₜ dashed in
    its colour, and the X where it diverged (at the top of the axes when off the scale)."""
    history = entry["history"]
    manual, autograd = as_array(entry["manual_sharpness"]), as_array(entry["autograd_sharpness"])
    steps = np.arange(len(manual))
    ax.plot(steps, manual, color=color, **{**style.MANUAL_LINE, "markersize": 3.6, "linewidth": 1.6}, zorder=3)
    ax.plot(steps, autograd, **{**AUTOGRAD_CROSS, "markersize": 2.6, "markeredgewidth": 0.8}, zorder=4)
    limit = _limits(history, len(manual))
    ax.plot(np.arange(len(limit)), limit, color=color, linestyle=(0, (4, 2.5)), linewidth=1.4, zorder=2)
    if not history.diverged:
        return
    step = history.diverged_at_step
    value = manual[step] if step < len(manual) else np.nan
    if np.isfinite(value) and value <= high:
        ax.plot(step, value, **{**style.DIVERGED, "zorder": 6})
        where, coords = (step, value), "data"
    else:       # off the scale: the X at the top of the axes, above its step
        ax.plot(step, 1.0, transform=ax.get_xaxis_transform(), clip_on=False, **{**style.DIVERGED, "zorder": 6})
        where, coords = (step, 1.0), ax.get_xaxis_transform()
    ax.annotate(f"diverged at step {step}:\nλmax = {value:.2g}", where, xycoords=coords, textcoords="offset points",
                xytext=(9, -6), ha="left", va="top", bbox=TEXT_BOX, zorder=7)


def sharpness_runs(runs: Sequence[dict], *, note: str | None = None) -> Figure:
    """Runs from one start: the loss gap L − L* per step (left) and the sharpness against its limit (right).

    runs: dicts with ``label``, ``history`` (a History), ``gap`` ((manual, autograd): each twin's L − L*
    at steps 0 .. K), ``manual_sharpness`` and ``autograd_sharpness`` (λmax of the Hessian at every point of
    each twin's path) and ``color`` (one of ``style.RUN_COLORS``). The right panel draws λmax per step and,
    dashed in the run's colour, its stability limit 2/ηₜ at that step's rate. A run that diverged ends in
    its X in both panels (at the top where its values are off the scale). Both axes are logarithmic.
    """
    with house_style():
        fig, (gap_ax, sharp_ax) = style.panels(7.0, 3.6, 2, 2)
        last_step = max((len(entry["history"].loss_manual) - 1 for entry in runs), default=0)
        curves = []
        for entry in runs:
            with np.errstate(invalid="ignore"):     # a gap of 0 or below (L* reached to rounding) has no log
                gap = [np.where(as_array(values) > 0, as_array(values), np.nan) for values in entry["gap"]]
            draw_run_losses(gap_ax, entry["history"], label=entry["label"], color=entry["color"],
                            last_step=last_step, curves=curves, values=gap)
        gap_ax.set_yscale("log")
        readable_log_range(gap_ax, *curves)
        gap_ax.set_xlabel("step")
        integer_steps(gap_ax)
        gap_ax.set_ylabel("loss gap L − L* (log scale)")
        gap_ax.set_title("The loss gap")

        low, high = _sharpness_window(runs)
        for entry in runs:
            _draw_sharpness(sharp_ax, entry, entry["color"], high)
        sharp_ax.set_yscale("log")
        sharp_ax.set_ylim(low, high)
        sharp_ax.set_xlim(gap_ax.get_xlim())
        sharp_ax.set_xlabel("step")
        integer_steps(sharp_ax)
        sharp_ax.set_ylabel("sharpness λmax (log scale)")
        sharp_ax.set_title("The sharpness, and its limit 2/ηₜ")
        round_log_axis(sharp_ax)

        handles, labels = gap_ax.get_legend_handles_labels()
        key, text = twins_key("circles: hand-written twin, ×: autograd twin")
        handles += [key, Line2D([], [], **style.THEORY)]
        labels += [text, "dashed, in a run's colour: its limit 2/ηₜ"]
        legend = figure_legend(fig, handles, labels, ncols=2)
        legend_caption(fig, legend, note)
    return fig
