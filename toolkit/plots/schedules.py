"""Lesson 12's figures: each schedule's rate against its formula, and mini-batch SGD's noise floor under a
constant rate and under decay."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure

from toolkit.plots import style
from toolkit.plots.shared import (as_array, figure_legend, integer_steps, legend_caption, mark_diverged, on_scale,
                                  readable_log_range)
from toolkit.plots.style import AUTOGRAD, RUN_COLORS, house_style


def _schedule_color(entry: dict, index: int) -> str:
    """A schedule's colour: the entry's own ``color`` if it has one (so that a lesson keeps one colour per
    schedule across its figures), else the index-th of RUN_COLORS."""
    return entry.get("color") or RUN_COLORS[index % len(RUN_COLORS)]


def _formula_dashes(color: str) -> str:
    """The colour of a formula's dashes drawn on a line of ``color``: white on black, else near-black."""
    return style.PAPER if color in (style.BLACK, style.INK) else style.DARK


def schedule_panels(panels: Sequence[dict], *, note: str | None = None) -> Figure:
    """Each schedule's rate per step: the scheduler's values as a wide line with dots, its formula dashed on top.

    panels: dicts with ``title`` (the schedule's name), ``formula`` (a short text), ``scheduler`` (the rates
    the torch scheduler set at steps 0 .. T), ``formula_values`` (the formula's, the same steps) and
    optionally ``color``. One panel each, three to a row, sharing both axes; one more panel shows every
    schedule on one axis. How closely they agree is for the caption to say (the lines coincide at any size
    a reader can see). ``note``: a caption line under the legend.
    """
    from matplotlib.lines import Line2D

    count = len(panels) + 1
    rows = -(-count // 3)
    with house_style():
        fig, axes = style.panels(7.0, 2.25 * rows + 0.5, rows * 3, 3, sharex=True, sharey=True)
        overlay = axes[len(panels)]
        top = 1.08 * max((max(max(p["scheduler"]), max(p["formula_values"])) for p in panels), default=1.0)
        colors = [_schedule_color(panel, index) for index, panel in enumerate(panels)]
        for ax, panel, color in zip(axes, panels, colors):
            dashes = _formula_dashes(color)
            steps = np.arange(len(panel["scheduler"]))
            scheduler = as_array(panel["scheduler"])
            every = max(1, len(steps) // 20)
            ax.plot(steps, scheduler, color=color, linewidth=3.2, marker="o", markersize=3.4, markevery=every,
                    solid_capstyle="butt", zorder=2)
            ax.plot(steps, as_array(panel["formula_values"]), color=dashes, linestyle=(0, (3, 2)), linewidth=1.1,
                    zorder=3)
            overlay.plot(steps, scheduler, color=color, linewidth=1.8)
            ax.set_title(f"{panel['title']}\n{panel['formula']}")
            ax.set_ylim(0, top)
            ax.set_xlim(steps[0] - 0.02 * max(len(steps) - 1, 1), steps[-1] + 0.02 * max(len(steps) - 1, 1))
        overlay.set_title("all of them on one axis\n(colours as in their panels)")
        for ax in axes[count:]:
            ax.set_visible(False)
        for ax in axes[:count]:
            integer_steps(ax)
        columns = style.columns_for(3)
        for index, ax in enumerate(axes[:count]):
            if index + columns >= count:       # no panel below it: the step axis is labelled here
                ax.set_xlabel("step t")
            if ax.get_subplotspec().is_first_col():
                ax.set_ylabel("learning rate ηₜ")
        handles = [Line2D([], [], color=style.LIGHT, linewidth=3.2, marker="o", markersize=3.4),
                   Line2D([], [], color=style.DARK, linestyle=(0, (3, 2)), linewidth=1.1)]
        # The swatch shows the dark dashes; where a line is black its dashes are white, and the label says so.
        formula = "our formula, dashed" + (" (white on the black line)"
                                           if any(_formula_dashes(color) == style.PAPER for color in colors) else "")
        legend = figure_legend(fig, handles, ["torch's scheduler, driving our SGD", formula], ncols=2)
        legend_caption(fig, legend, note)
    return fig


def noise_floor_runs(runs: Sequence[dict], *, floor: float | None = None, epoch: int | None = None,
                     note: str | None = None) -> Figure:
    """Mini-batch SGD under several schedules: the rate per step above, the loss gap L - L* per step below.

    runs: dicts with ``label``, ``lrs`` (the rate of every step), ``manual`` and ``autograd`` (each twin's
    gap at steps 0 .. K), ``expected`` (the predicted expected gap, the same steps; drawn dashed on the
    run) and optionally ``diverged_at`` and ``color``. ``floor``: the noise floor of a constant rate, a dotted line.
    ``epoch``: the steps per epoch; the step axis then has a tick at the start of every epoch (or
    every second, third, ... one when there are many).
    The hand-written twin is the line, autograd the crosses on it (every few steps).
    """
    from matplotlib import patheffects
    from matplotlib.lines import Line2D

    with house_style():
        fig, (rate_ax, gap_ax) = style.panels(6.4, 5.2, 2, 1, sharex=True, height_ratios=[1, 2.3])
        curves, run_handles, run_labels = [], [], []
        for index, entry in enumerate(runs):
            color = _schedule_color(entry, index)
            rates = as_array(entry["lrs"])
            rate_ax.plot(np.arange(len(rates)), rates, color=color, linewidth=1.8)
            run_handles.append(Line2D([], [], color=color, linewidth=1.8))
            run_labels.append(entry["label"])
            manual, autograd = as_array(entry["manual"]), as_array(entry["autograd"])
            first = manual[0] if len(manual) else np.nan
            manual, autograd = on_scale(manual, first), on_scale(autograd, first)
            with np.errstate(invalid="ignore"):
                manual = np.where(manual > 0, manual, np.nan)
                autograd = np.where(autograd > 0, autograd, np.nan)
            curves += [manual, autograd]
            steps = np.arange(len(manual))
            gap_ax.plot(steps, manual, color=color, linewidth=0.9, alpha=0.85, zorder=2)
            every = max(1, len(steps) // 25)
            gap_ax.plot(steps[::every], autograd[::every], color=AUTOGRAD["color"], marker="x", markersize=4,
                        linestyle="none", zorder=3)
            expected = on_scale(as_array(entry["expected"]), first)
            gap_ax.plot(np.arange(len(expected)), expected, color=color, linestyle=(0, (4, 2.5)), linewidth=1.3,
                        zorder=4, path_effects=[patheffects.withStroke(linewidth=2.8, foreground=style.DARK)])
            if entry.get("diverged_at") is not None and np.isfinite(manual).any():
                last = np.flatnonzero(np.isfinite(manual))[-1]
                mark_diverged(gap_ax, (last, manual[last]), label="_diverged", zorder=6)
                gap_ax.annotate(f"diverged\n(step {entry['diverged_at']})", (last, manual[last]),
                                textcoords="offset points", xytext=(-8, 0), ha="right", va="center")
        if floor is not None and np.isfinite(floor) and floor > 0:
            gap_ax.axhline(floor, color=style.MID, linestyle=":", linewidth=1.4, zorder=1)
        top = max((np.nanmax(as_array(entry["lrs"])) for entry in runs if len(entry["lrs"])), default=1.0)
        rate_ax.set_ylim(0, 1.1 * top if np.isfinite(top) and top > 0 else 1.0)
        rate_ax.set_ylabel("rate ηₜ")
        gap_ax.set_yscale("log")
        readable_log_range(gap_ax, *curves)
        gap_ax.set_ylabel("loss gap L − L* (log scale)")
        integer_steps(gap_ax)
        last = max((len(entry["manual"]) for entry in runs), default=1)
        every = epoch * max(1, -(-last // (6 * epoch))) if epoch else 0     # at most about six labelled ticks
        if epoch and last > 2 * every:
            from matplotlib.ticker import MultipleLocator

            for ax in (rate_ax, gap_ax):
                ax.xaxis.set_major_locator(MultipleLocator(every))
                ax.xaxis.set_minor_locator(MultipleLocator(epoch))
            gap_ax.set_xlabel(f"step (a tick per epoch of {epoch} steps)")
        else:
            gap_ax.set_xlabel("step")
        handles = [Line2D([], [], color=style.DARK, linewidth=0.9),
                   Line2D([], [], color=AUTOGRAD["color"], marker="x", markersize=4, linestyle="none"),
                   Line2D([], [], color=style.LIGHT, linestyle=(0, (4, 2.5)), linewidth=1.3,
                          path_effects=[patheffects.withStroke(linewidth=2.8, foreground=style.DARK)])]
        labels = ["measured, hand-written twin", "measured, autograd twin", "predicted expectation"]
        if floor is not None and np.isfinite(floor) and floor > 0:
            handles.append(Line2D([], [], color=style.MID, linestyle=":", linewidth=1.4))
            labels.append(f"noise floor of the constant rate ({floor:.2g})")
        # The runs in the first column, how each is drawn in the second.
        rows = max(len(run_handles), len(handles))
        blank = Line2D([], [], linestyle="none")
        handles = run_handles + [blank] * (rows - len(run_handles)) + handles + [blank] * (rows - len(handles))
        labels = run_labels + [" "] * (rows - len(run_labels)) + labels + [" "] * (rows - len(labels))
        legend = figure_legend(fig, handles, labels, ncols=2)
        legend_caption(fig, legend, note)
    return fig
