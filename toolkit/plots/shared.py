"""toolkit.plots.shared."""

from __future__ import annotations

from collections.abc import Sequence
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
import matplotlib
import numpy as np
from toolkit.plots.tracks import track_path
from toolkit.train import DIVERGENCE_FACTOR
from toolkit.train import History
from toolkit.plots.style import AUTOGRAD, CMAP, MANUAL, RUN_COLORS, TEXT_BOX, house_style


# A diverged run's loss can jump to 1e200 or to inf in one step. A loss curve
# shows losses up to OFF_SCALE times the first one (a thousand times past the
# point where training stops a run as diverged); a larger one, or one that
# is not a number at all, is marked as off the scale instead of being drawn.
OFF_SCALE = 1e3 * DIVERGENCE_FACTOR


def as_array(values) -> np.ndarray:
    if hasattr(values, "detach"):
        values = values.detach().to("cpu").double().numpy()
    return np.asarray(values, dtype=float)


def log_levels(z: np.ndarray, count: int = 18) -> np.ndarray | None:
    """Log-spaced contour levels over the finite positive losses; None if there are none."""
    finite = z[np.isfinite(z) & (z > 0)]
    if finite.size == 0:
        return None
    low, high = finite.min(), finite.max()
    if high <= low * 1.0001:
        high = low * 1.01
    return np.geomspace(low, high, count)


def mark_start(ax, points: np.ndarray, zorder: int = 6) -> None:
    ax.plot(*points[0], marker="s", markersize=8, color="white", markeredgecolor="black",
            linestyle="none", label="start", zorder=zorder)


def mark_end(ax, points: np.ndarray, zorder: int = 6) -> None:
    ax.plot(*points[-1], marker="*", markersize=13, color="#F0E442", markeredgecolor="black",
            linestyle="none", label="end", zorder=zorder)


def mark_ends(ax, points: np.ndarray, zorder: int = 6) -> None:
    """Square at the start, star at the end: the same in every figure."""
    mark_start(ax, points, zorder)
    mark_end(ax, points, zorder)


def points_inside(points: np.ndarray, window) -> int:
    """How many leading points are finite and inside window ((x0, x1), (y0, y1)); at least 1."""
    (x0, x1), (y0, y1) = (sorted(limits) for limits in window)
    with np.errstate(invalid="ignore"):
        ok = (np.isfinite(points).all(axis=1) & (points[:, 0] >= x0) & (points[:, 0] <= x1)
              & (points[:, 1] >= y0) & (points[:, 1] <= y1))
    outside = np.flatnonzero(~ok)
    return len(points) if outside.size == 0 else max(int(outside[0]), 1)


def draw_twin_paths(ax, manual_path: np.ndarray, autograd_path: np.ndarray, *,
                     diverged_at: int | None = None, window=None, thin: bool = False) -> np.ndarray | None:
    """Both twins' paths, the start and the end marked.

    thin: where steps crowd together, put the markers on every few of them
    only (see ``spread_out``; the line still runs through every step), so
    that autograd's crosses do not bury the hand-written path.

    A diverged run (``diverged_at``: the step where training stopped it) may
    run off to huge values, inf or NaN. It is drawn while it is finite and
    inside ``window`` ((x0, x1), (y0, y1)); where it leaves, a dashed arrow
    points the way it went and the divergence X (as in the loss curves)
    takes the place of the end star. Returns where that X is (None if the
    run did not diverge).
    """
    everything = manual_path
    if diverged_at is not None:
        shown = points_inside(manual_path, window)
        manual_path, autograd_path = manual_path[:shown], autograd_path[:shown]
    # The hand-written path: a line through filled circles. Autograd's small crosses go on top, inside
    # the circles, so where the twins agree both stay visible: a cross in every circle.
    every = spread_out(manual_path, window) if thin else list(range(len(manual_path)))
    # Recorded for an animation of the path growing (toolkit.animation): which step each point is.
    track = track_path(ax, manual_path, autograd_path)
    (line,) = ax.plot(manual_path[:, 0], manual_path[:, 1], color=MANUAL["color"], marker="o", markersize=5.5,
                      markeredgecolor="white", markeredgewidth=0.5, markevery=every, linewidth=1.3,
                      label=MANUAL["label"], zorder=4)
    track.grow(line)
    (crosses,) = ax.plot(autograd_path[every, 0], autograd_path[every, 1], color=AUTOGRAD["color"], marker="x",
                         markersize=3.2, markeredgewidth=1.1, linestyle="none", label=AUTOGRAD["label"], zorder=5)
    track.grow(crosses, every)
    mark_start(ax, manual_path)
    with track.at_the_end(ax):
        if diverged_at is None:
            mark_end(ax, manual_path)
            return None
        return mark_exit(ax, everything, len(manual_path), diverged_at, window)


def exit_point(last: np.ndarray, following: np.ndarray, window) -> np.ndarray | None:
    """Where the straight line from ``last`` towards ``following`` crosses the window's frame.

    Directions are taken in units of the window's width and height. A point
    at inf (or so far away that only its signs matter) gives a diagonal
    from the signs; NaN coordinates give no direction, and then None.
    """
    (x0, x1), (y0, y1) = (sorted(limits) for limits in window)
    low, high = np.array([x0, y0]), np.array([x1, y1])
    span = high - low
    with np.errstate(all="ignore"):
        direction = (following - last) / span
    if np.isnan(direction).any():
        return None
    if np.isinf(direction).any():
        direction = np.sign(direction)
    if not direction.any():
        return None
    with np.errstate(divide="ignore", invalid="ignore"):
        room = np.where(direction > 0, (high - last) / span, (low - last) / span)
        reach = np.where(direction != 0, room / direction, np.inf)
    return last + reach.min() * direction * span


def mark_exit(ax, path: np.ndarray, shown: int, diverged_at: int | None, window, *,
               color: str = MANUAL["color"]) -> np.ndarray:
    """Where a path leaves the window: a dashed arrow in ``color`` the way it went, and a label.

    A path that diverged (``diverged_at``) ends in an X there, or at its last
    point if it never left the window. Returns the position of the head.
    """
    last = path[shown - 1]
    head = exit_point(last, path[shown], window) if shown < len(path) else None
    if head is not None:
        ax.annotate("", xy=head, xytext=last, zorder=6,
                    arrowprops={"arrowstyle": "-|>", "color": color, "lw": 1.3, "linestyle": "--",
                                "shrinkA": 0, "shrinkB": 7})
    else:
        head = last
    if diverged_at is not None:
        ax.plot(*head, marker="X", markersize=10, color="black", markeredgecolor="white", linestyle="none",
                label="diverged", zorder=7, clip_on=False)
    if diverged_at is None:
        text = f"off the plot\nat step {shown}"
    elif shown < diverged_at:
        text = f"off the plot at step {shown}\n(diverged at step {diverged_at})"
    else:
        text = f"diverged\n(step {diverged_at})"
    (x0, x1), (y0, y1) = (sorted(limits) for limits in window)
    right, up = head[0] > (x0 + x1) / 2, head[1] > (y0 + y1) / 2
    ax.annotate(text, head, textcoords="offset points", xytext=(-9 if right else 9, -9 if up else 9),
                ha="right" if right else "left", va="top" if up else "bottom", fontsize=8.5, zorder=8,
                bbox=TEXT_BOX)
    return head


def legend_caption(fig, legend, note: str | None = None, title: str | None = None) -> None:
    """A figure's caption (``note``) as the title of its legend below, and its ``title`` above."""
    if note:
        legend.set_title(note, prop={"size": 8.5})
    if title:
        fig.suptitle(title, fontsize=10.5)


def panel_note(ax, text: str, avoid=None) -> None:
    """A short remark inside a panel, e.g. why its landscape cannot be drawn.

    It goes into a corner: the top left, or with ``avoid`` (a point in data
    coordinates, e.g. a divergence X; set the axis limits first) the corner
    farthest from it.
    """
    right, up = False, True
    if avoid is not None:
        ax_x, ax_y = ax.transLimits.transform(avoid)     # axes coordinates: 0 to 1 across the panel
        right, up = ax_x < 0.5, ax_y < 0.5
    x, y = (0.97 if right else 0.03), (0.97 if up else 0.03)
    ha, va = ("right" if right else "left"), ("top" if up else "bottom")
    ax.text(x, y, text, transform=ax.transAxes, ha=ha, va=va, multialignment="left", fontsize=8.5, zorder=9,
            bbox={"boxstyle": "round,pad=0.4", "facecolor": "white", "edgecolor": "0.6", "alpha": 0.9})


def integer_steps(ax) -> None:
    """Steps are whole numbers: no tick at 0.5, and a one-step run gets the single tick 0
    (otherwise matplotlib's usual ticks)."""
    ax.xaxis.set_major_locator(MaxNLocator(nbins="auto", steps=[1, 2, 2.5, 5, 10], integer=True, min_n_ticks=1))


def on_scale(values, first: float) -> np.ndarray:
    """Losses as a float array, NaN where a loss is not finite or is off the scale (see OFF_SCALE)."""
    values = np.asarray(values, dtype=float)
    keep = np.isfinite(values)
    if np.isfinite(first) and first > 0:
        keep &= values <= OFF_SCALE * first
    return np.where(keep, values, np.nan)


def readable_log_range(ax, *curves: np.ndarray) -> None:
    """A log axis over losses that hardly differ (one step, or twins one rounding error apart)
    would be a sliver with no tick: show the decade(s) around them instead."""
    values = np.concatenate([np.ravel(c) for c in curves])
    values = values[np.isfinite(values) & (values > 0)]
    if values.size and values.max() < 1.01 * values.min():
        low = np.floor(np.log10(values.min()))
        high = max(np.ceil(np.log10(values.max())), low + 1)
        ax.set_ylim(10.0 ** low, 10.0 ** high)


def loss_curves(history: History, title: str = "Training loss", *, best_loss: float | None = None) -> Figure:
    """Both twins' loss per step on a log scale (the curves lie on top of each other).

    best_loss: the lowest loss there is (L*, e.g. from least squares), drawn as a dotted line,
    so that what is left to gain shows.
    """
    with house_style():
        fig = Figure(figsize=(4.6, 3.3), layout="constrained")
        ax = fig.add_subplot()
        if best_loss is not None:
            ax.axhline(best_loss, color="0.35", linestyle=":", linewidth=1.2, zorder=1,
                       label=f"lowest loss L* = {best_loss:.4g}")
        draw_loss_curves(ax, history)
        round_log_axis(ax)
        ax.set_ylabel("loss (log scale)")
        ax.set_title(title)
        # A diverged run ends in the top right corner, at its X.
        ax.legend(loc="best" if history.diverged else "upper right")
    return fig


def draw_loss_curves(ax, history: History) -> None:
    # The manual twin as a line, autograd as crosses on it (every few steps, so both stay visible).
    steps = np.arange(len(history.loss_manual))
    first = history.loss_manual[0] if history.loss_manual else np.nan
    manual_loss = on_scale(history.loss_manual, first)
    autograd_loss = on_scale(history.loss_autograd, first)
    # A single point would be an invisible line: give it a marker.
    lone = {"marker": "o", "markersize": 4} if np.isfinite(manual_loss).sum() == 1 else {}
    ax.plot(steps, manual_loss, color=MANUAL["color"], label=MANUAL["label"], **lone)
    every = max(1, len(steps) // 25)
    ax.plot(steps[::every], autograd_loss[::every], color=AUTOGRAD["color"],
            marker="x", markersize=5, linestyle="none", label=AUTOGRAD["label"])
    if history.diverged:
        mark_divergence(ax, history, color="black")
    ax.set_yscale("log")
    readable_log_range(ax, manual_loss, autograd_loss)
    ax.set_xlabel("step")
    integer_steps(ax)


def mark_divergence(ax, history: History, color: str, last_step: int | None = None, values=None) -> bool:
    """The X where a run diverged; True if its loss was off the scale (then the X sits at the top).

    last_step: the largest step on the axis (default: this run's), to keep the text inside.
    values: what the axis shows per step, if not the loss itself (e.g. the loss gap L - L*).
    """
    step = history.diverged_at_step
    values = history.loss_manual if values is None else values
    first = values[0]
    shown = on_scale(values, first)
    if np.isfinite(shown[step]):
        y = shown[step]
        ax.plot(step, y, marker="X", markersize=10, color=color, markeredgecolor="black", linestyle="none",
                zorder=6)
        # To the left of the X, level with it: above the rising curve that leads there.
        ax.annotate(f"diverged\n(step {step})", (step, y), textcoords="offset points", xytext=(-10, 0),
                    ha="right", va="center", fontsize=8.5)
        return False
    # Off the scale (inf, NaN or astronomically large): the X at the top of the axes, above its
    # step, with a dotted line up to it from the last loss that is on the scale.
    top = ax.get_xaxis_transform()      # x in data, y in axes coordinates (1 = the top)
    ax.plot(step, 1.0, marker="X", markersize=10, color=color, markeredgecolor="black", linestyle="none",
            zorder=6, clip_on=False, transform=top)
    before = np.flatnonzero(np.isfinite(shown[:step]))
    if before.size:
        ax.annotate("", xy=(step, 1.0), xycoords=top, xytext=(before[-1], shown[before[-1]]), textcoords="data",
                    arrowprops={"arrowstyle": "-", "color": color, "linestyle": ":", "lw": 1.2,
                                "shrinkA": 0, "shrinkB": 5})
    last_step = len(history.loss_manual) - 1 if last_step is None else last_step
    right = step > 0.5 * last_step
    ax.annotate(f"diverged\n(step {step}, loss {history.loss_manual[step]:.3g})", (step, 1.0), xycoords=top,
                textcoords="offset points", xytext=(-9 if right else 9, -6), ha="right" if right else "left",
                va="top", fontsize=8.5, bbox=TEXT_BOX, zorder=7)
    return True


def loss_colorbar(fig, filled, axes, levels) -> None:
    # Ticks at round values (1, 2, 5 x 10^k, see round_log_ticks), not at the contour levels.
    from matplotlib.ticker import FuncFormatter

    colorbar = fig.colorbar(filled, ax=axes, shrink=0.95, ticks=round_log_ticks(levels[0], levels[-1]),
                            format=FuncFormatter(round_tick_text))
    colorbar.ax.minorticks_off()
    colorbar.set_label("loss (log scale)")


def draw_contour(ax, alphas, betas, z, levels, norm):
    # The levels run from the smallest to the largest loss drawn: nothing lies outside, so no extend arrows.
    filled = ax.contourf(alphas, betas, z, levels=levels, norm=norm, cmap=CMAP)
    ax.contour(alphas, betas, z, levels=levels[::2], colors="white", linewidths=0.4, alpha=0.6)
    return filled


NO_LANDSCAPE = "the loss is not a finite number\nanywhere in this window"


def contour_with_paths(alphas, betas, Z, manual_path, autograd_path, *, xlabel: str, ylabel: str,
                       title: str = "", minimum: Sequence[float] | None = None, note: str | None = None,
                       diverged_at: int | None = None, equal_aspect: bool = True) -> Figure:
    """Filled loss contours (log-spaced levels) with both twins' descent paths.

    alphas: (A,), betas: (B,), Z: (B, A) with Z[i, j] the loss at (alphas[j], betas[i]).
    *_path: (T, 2) coordinates of the parameters at every step. diverged_at:
    the step where the run diverged, if it did (see ``draw_twin_paths``).
    equal_aspect: one unit is as long across as up (the default, for two
    parameters), so the gradient, and each step, is visibly perpendicular to
    the contours; False for axes in different units.
    """
    alphas, betas, z = as_array(alphas), as_array(betas), as_array(Z)
    manual_path, autograd_path = as_array(manual_path), as_array(autograd_path)
    window = ((alphas[0], alphas[-1]), (betas[0], betas[-1]))
    with house_style():
        fig = Figure(figsize=(4.8, 3.9), layout="constrained")
        ax = fig.add_subplot()
        levels = log_levels(z)
        if levels is not None:
            filled = draw_contour(ax, alphas, betas, z, levels, LogNorm(levels[0], levels[-1]))
        else:
            panel_note(ax, NO_LANDSCAPE)
        draw_twin_paths(ax, manual_path, autograd_path, diverged_at=diverged_at, window=window, thin=True)
        if minimum is not None:
            ax.plot(*minimum, marker="P", markersize=9, color="white", markeredgecolor="black",
                    linestyle="none", label="minimum", zorder=6)
        if levels is not None:
            loss_colorbar(fig, filled, ax, levels)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.grid(False)
        ax.set_xlim(alphas[0], alphas[-1])
        ax.set_ylim(betas[0], betas[-1])
        if equal_aspect:
            ax.set_aspect("equal", adjustable="box")
        # Outside the axes, so the legend never hides the path.
        fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncols=3, fontsize=8)
        if note:
            ax.set_title(f"{title}\n({note})" if title else note)
    return fig


def draw_run_losses(ax, history: History, *, label: str, color: str, last_step: int, curves: list,
                     line_style: dict | None = None, crosses: int = 20, cross_style: dict | None = None) -> bool:
    """One run among several: the hand-written loss as a line, autograd's as crosses on it (about ``crosses``).

    ``line_style`` and ``cross_style`` add matplotlib options to the two.
    A diverged run is marked where it left the scale. The plotted values are
    added to ``curves`` (for the axis range); returns True when a loss was off
    the scale.
    """
    steps = np.arange(len(history.loss_manual))
    first = history.loss_manual[0] if history.loss_manual else np.nan
    manual_loss = on_scale(history.loss_manual, first)
    autograd_loss = on_scale(history.loss_autograd, first)
    curves += [manual_loss, autograd_loss]
    lone = {"marker": "o", "markersize": 4} if np.isfinite(manual_loss).sum() == 1 else {}
    ax.plot(steps, manual_loss, color=color, label=label, **(line_style or {}), **lone)
    every = max(1, len(steps) // crosses)
    ax.plot(steps[::every], autograd_loss[::every], color=color, marker="x", markersize=4.5, linestyle="none",
            **(cross_style or {}))
    return bool(history.diverged and mark_divergence(ax, history, color=color, last_step=last_step))


def loss_curves_by_run(histories: dict[str, History], title: str = "Loss per step") -> Figure:
    """Several runs' loss curves on a log scale; a diverged run ends in a marked X.

    Each run has its own colour; the manual twin is the line and the
    autograd twin the crosses on it. A loss off the scale (see OFF_SCALE)
    puts the X at the top of the axes.
    """
    last_step = max((len(h.loss_manual) - 1 for h in histories.values()), default=0)
    with house_style():
        fig = Figure(figsize=(5.2, 3.6), layout="constrained")
        ax = fig.add_subplot()
        off_scale = False
        curves = []
        for color, (label, history) in zip(RUN_COLORS, histories.items()):
            off_scale |= draw_run_losses(ax, history, label=label, color=color, last_step=last_step, curves=curves)
        ax.plot([], [], color="0.3", label="line: manual, x: autograd")
        ax.set_yscale("log")
        readable_log_range(ax, *curves)
        ax.set_xlabel("step")
        integer_steps(ax)
        ax.set_ylabel("loss (log scale)")
        ax.set_title(title)
        ax.legend(loc="best" if off_scale else "upper left", fontsize=8)
    return fig


def path_on_plane(alphas, betas, Z, manual_path, autograd_path, history: History, *,
                  xlabel: str, ylabel: str, title: str = "", note: str | None = None, path_losses=None,
                  second: dict | None = None, caption: str | None = None) -> Figure:
    """The loss on a plane through parameter space, with both twins' projected paths on it.

    alphas: (A,), betas: (B,), Z: (B, A) with Z[i, j] the loss at (alphas[j], betas[i]);
    *_path: (T, 2) the path's coordinates in the plane. The hand-written
    path's circles are filled with ``path_losses`` ((T,), the TRUE loss at
    every step; default ``history.path_losses()``) on the contour's own
    colour scale: the path leaves the plane, so the contour under a circle
    is the loss at its projection, not its own loss, and where the two
    colours differ the path was off the plane then.

    second: an optional panel beside it, a dict with the same keys (alphas,
    betas, Z, manual_path, autograd_path, xlabel, ylabel, title, and
    optionally note), e.g. a random plane through the same end point; it
    shares the colour scale and the true losses. Both panels are drawn at
    equal aspect (the planes' coordinates are distances in parameter space).
    A diverged run's projected path may hold huge values, inf or NaN: it is
    drawn while it stays in the window (see ``draw_twin_paths``). ``note``:
    a short remark inside the first panel; ``caption``: a line under the legend.
    """
    panels = [{"alphas": alphas, "betas": betas, "Z": Z, "manual_path": manual_path,
               "autograd_path": autograd_path, "xlabel": xlabel, "ylabel": ylabel, "title": title, "note": note}]
    if second is not None:
        panels.append(second)
    losses = as_array(history.path_losses()[0] if path_losses is None else path_losses)
    diverged_at = history.diverged_at_step if history.diverged else None
    drawn = [_plane_panel_data(panel, losses, diverged_at) for panel in panels]
    # One scale for the planes and for the losses the path really had, so both are read off the same bar.
    values = [d["Z"].ravel() for d in drawn] + [losses[:d["shown"]] for d in drawn]
    levels = log_levels(np.concatenate(values), count=20)
    if levels is not None:     # a hair wider, so the extreme values themselves are inside
        levels[0], levels[-1] = levels[0] * (1 - 1e-9), levels[-1] * (1 + 1e-9)
    norm = LogNorm(levels[0], levels[-1]) if levels is not None else None
    # Equal aspect: panels as wide as their windows are, for one common height.
    ratios = [abs(d["window"][0][1] - d["window"][0][0]) / abs(d["window"][1][1] - d["window"][1][0]) for d in drawn]
    ratios = [r if np.isfinite(r) and r > 0 else 1.0 for r in ratios]
    with house_style():
        fig = Figure(figsize=(8.8, 3.6) if second is not None else (5.0, 4.0), layout="constrained")
        axes = np.atleast_1d(fig.subplots(1, len(panels), width_ratios=ratios))
        filled = None
        for ax, data in zip(axes, drawn):
            filled = _draw_plane_panel(ax, data, levels, norm, diverged_at) or filled
        if filled is not None:
            loss_colorbar(fig, filled, list(axes), levels)
        legend = fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncols=5, fontsize=8)
        if caption:
            legend.set_title(caption, prop={"size": 8.5})
    return fig


def marked_points(line, count: int) -> np.ndarray:
    """The indices of the first ``count`` points of a drawn line that carry a marker (its markevery)."""
    every = line.get_markevery()
    points = np.arange(count)
    if every is None:
        return points
    if isinstance(every, (int, np.integer)):
        return points[::every]
    if isinstance(every, slice):
        return points[every]
    every = np.asarray(every)
    if every.dtype == bool:
        return points[np.flatnonzero(every[:count])]
    if np.issubdtype(every.dtype, np.integer):
        return every[every < count]
    return points               # markevery by distance: fill every point (matplotlib's own rule)


def round_log_ticks(low: float, high: float, most: int = 8) -> list[float]:
    """Tick values at round numbers between ``low`` and ``high`` (0 < low <= high) for a log scale.

    1, 2, 5 x 10^k when that gives three to ``most`` ticks; beyond ``most``
    only the powers of ten (every second, third, ... one if there are still
    too many); a range too narrow for three of them takes 1, 2, ..., 9 x 10^k,
    and one too narrow even for two of those a few evenly spaced values, as
    round as the range allows (0.15, 0.16). Never a tick like 0.145 or 8.63.
    """
    if not (0 < low <= high and np.isfinite(high)):
        raise ValueError(f"round_log_ticks: need 0 < low <= high < inf, got {low!r}, {high!r}")
    powers = range(int(np.floor(np.log10(low))) - 1, int(np.ceil(np.log10(high))) + 1)

    def ladder(mantissas) -> list[float]:
        # float("2e-1") is the double nearest 0.2, so a tick prints as 0.2 and not 0.20000000000000001.
        values = (float(f"{m}e{k}") for k in powers for m in mantissas)
        return [v for v in values if low * (1 - 1e-9) <= v <= high * (1 + 1e-9)]

    ticks = ladder((1, 2, 5))
    if len(ticks) > most:
        ticks = ladder((1,))
        stride = -(-len(ticks) // most)          # ceil: every stride-th power of ten
        ticks = ticks[::stride]
    elif len(ticks) < 3:
        finer = ladder(range(1, 10))
        if len(ticks) < len(finer) <= most:
            ticks = finer
    if len(ticks) < 2:
        values = MaxNLocator(nbins=3, steps=[1, 2, 2.5, 5, 10]).tick_values(low, high)
        values = sorted({float(f"{v:.12g}") for v in values if low * (1 - 1e-9) <= v <= high * (1 + 1e-9)})
        if len(values) > len(ticks):
            ticks = values
    return ticks if ticks else [float(f"{low:.2g}")]


def round_tick_text(value: float, _position=None) -> str:
    """A tick label: 0.2, 5, 1000 as they are; very small or large values as 2×10⁻⁵ (mathtext)."""
    if value == 0 or 1e-3 <= abs(value) < 1e5:
        return f"{value:g}"
    mantissa, exponent = f"{value:.1e}".split("e")
    mantissa = mantissa.rstrip("0").rstrip(".")
    power = f"10^{{{int(exponent)}}}"
    return f"${power}$" if mantissa == "1" else f"${mantissa}{{\\times}}{power}$"


def round_log_axis(ax) -> None:
    """Ticks of a log y axis at round values with plain labels (0.2, 0.5, 1, 2), not 2×10⁻¹."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

    low, high = ax.get_ylim()
    if not (0 < low < high < 1e4 * low):
        return      # over many decades matplotlib's own 10^k ticks read best
    ax.set_ylim(low, high)      # fixed ticks must not move the limits
    ax.yaxis.set_major_locator(FixedLocator(round_log_ticks(low, high)))
    ax.yaxis.set_major_formatter(FuncFormatter(round_tick_text))
    ax.yaxis.set_minor_formatter(NullFormatter())


def spread_out(path: np.ndarray, window=None, gap: float = 0.022) -> list[int]:
    """Indices of the points of a path to mark: each at least ``gap`` (a fraction of the window's
    width or height) from every point marked before it, plus the last point; all of them where the
    steps are long. A zigzag that piles up at both walls is thinned at both.

    window: ((x0, x1), (y0, y1)); default the path's own extent. Non-finite points are skipped.
    """
    finite = np.flatnonzero(np.isfinite(path).all(axis=1)) if len(path) else np.array([], dtype=int)
    if finite.size == 0:
        return []
    if window is None:
        window = tuple((path[finite, k].min(), path[finite, k].max()) for k in range(2))
    span = np.array([abs(hi - lo) for lo, hi in window], dtype=float)
    span[~(span > 0)] = 1.0
    scaled = path / span
    chosen = []
    for index in finite:
        near = chosen and np.abs(scaled[chosen] - scaled[index]).max(axis=1).min() < gap
        if not near or index == len(path) - 1:
            chosen.append(int(index))
    return chosen


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
    several get one colour each (line: manual, x: autograd). Runs whose gap
    grows (diverged, or a theoretical factor above 1) go on an axis of their
    own on the right, so they do not flatten the others; a diverged run ends
    in its X (see ``mark_divergence``).
    """
    from matplotlib import patheffects
    from matplotlib.lines import Line2D

    theory = theory or {}
    single = len(histories) == 1

    def grows(label: str) -> bool:
        return histories[label].diverged or theory.get(label, (1.0, 0.0))[1] > 1

    groups = [[label for label in histories if not grows(label)], [label for label in histories if grows(label)]]
    groups = [group for group in groups if group]
    with house_style():
        if len(groups) == 2:
            fig = Figure(figsize=(8.6, 3.9), layout="constrained")
            axes = fig.subplots(1, 2, width_ratios=[1.45, 1])
        else:
            fig = Figure(figsize=(4.9, 3.6), layout="constrained")
            axes = [fig.add_subplot()]
        colors = dict(zip(histories, RUN_COLORS))
        for ax, group in zip(axes, groups):
            last_step = max(len(histories[label].path_losses()[0]) - 1 for label in group)
            curves = []
            for label in group:
                history = histories[label]
                losses_manual, losses_autograd = history.path_losses()
                manual_gap, autograd_gap = _gap(losses_manual, best_loss), _gap(losses_autograd, best_loss)
                first = manual_gap[0]
                manual_gap, autograd_gap = on_scale(manual_gap, first), on_scale(autograd_gap, first)
                curves += [manual_gap, autograd_gap]
                steps = np.arange(len(manual_gap))
                line_color = MANUAL["color"] if single else colors[label]
                cross_color = AUTOGRAD["color"] if single else colors[label]
                lone = {"marker": "o", "markersize": 4} if np.isfinite(manual_gap).sum() == 1 else {}
                # A wide line: the dashed theory line on top of it leaves it visible.
                ax.plot(steps, manual_gap, color=line_color, linewidth=2.4, label=MANUAL["label"] if single else label,
                        **lone)
                every = max(1, len(steps) // 20)
                ax.plot(steps[::every], autograd_gap[::every], color=cross_color, marker="x", markersize=4.5,
                        linestyle="none", label=AUTOGRAD["label"] if single else None)
                if label in theory:
                    start, factor = theory[label]
                    line = _theory_line(start, factor, len(steps), first)
                    if np.isfinite(line).sum() >= 2:
                        # On top of the run's line, dark-edged: where theory and run coincide both show.
                        edge = [patheffects.withStroke(linewidth=2.6, foreground="0.1")] if not single else None
                        ax.plot(steps, line, color="0.1" if single else colors[label], linestyle=(0, (4, 3)),
                                linewidth=1.2, zorder=3, path_effects=edge,
                                label=f"theory: ×{factor:.4g} per step")
                if history.diverged:
                    mark_divergence(ax, history, color=colors[label] if not single else "black",
                                     last_step=last_step, values=manual_gap)
            ax.set_yscale("log")
            readable_log_range(ax, *curves)
            round_log_axis(ax)
            ax.set_xlabel("step")
            integer_steps(ax)
            ax.set_ylabel("loss gap L − L* (log scale)")
        axes[0].set_title(title)
        if len(groups) == 2:
            axes[1].set_title(growing_title)
        handles, labels = [], []
        for ax in axes:
            for handle, label in zip(*ax.get_legend_handles_labels()):
                handles.append(handle)
                labels.append(label)
        if not single:
            handles.append(Line2D([], [], color="0.3", marker="x", markersize=4.5))
            labels.append("line: manual, x: autograd")
        # Runs in the first column, their theory lines beside them in the second.
        runs = [(h, t) for h, t in zip(handles, labels) if not t.startswith("theory")]
        lines = [(h, t) for h, t in zip(handles, labels) if t.startswith("theory")]
        if lines:
            rows = max(len(runs), len(lines))
            blank = (Line2D([], [], linestyle="none"), " ")
            ordered = runs + [blank] * (rows - len(runs)) + lines + [blank] * (rows - len(lines))
        else:
            ordered = runs
        fig.legend([h for h, _ in ordered], [t for _, t in ordered], loc="outside lower center",
                   ncols=2 if lines else min(len(ordered), 3), fontsize=8)
    return fig


def draw_run_path(ax, manual_path: np.ndarray, autograd_path: np.ndarray, *, color: str, label: str,
                   window, diverged_at: int | None = None) -> None:
    """One run's path among several: the hand-written twin in the run's colour, autograd's crosses on it.

    The manual twin is a line through filled circles with a white outline
    (it stays visible on any contour colour); autograd's small crosses (dark,
    or white in a black run) sit inside the circles, a cross in every circle
    where the twins agree.
    The path is drawn while it stays finite and inside ``window``; where it
    leaves, a dashed arrow in the run's colour points the way it went, and a
    run that diverged (``diverged_at``) ends in an X there. A run that stays
    inside ends in the house star.
    """
    from matplotlib import patheffects

    shown = points_inside(manual_path, window)
    outline = [patheffects.withStroke(linewidth=2.8, foreground="white")]
    track = track_path(ax, manual_path[:shown], autograd_path[:shown])     # for an animation, see toolkit.animation
    (line,) = ax.plot(manual_path[:shown, 0], manual_path[:shown, 1], color=color, marker="o", markersize=3.6,
                      markeredgecolor="white", markeredgewidth=0.4, linewidth=1.3, label=label, zorder=4,
                      path_effects=outline)
    # Crosses that show inside the circles: white in a black run's circles, nearly black in any other's.
    cross = "white" if matplotlib.colors.to_rgb(color) == (0.0, 0.0, 0.0) else "0.1"
    (crosses,) = ax.plot(autograd_path[:shown, 0], autograd_path[:shown, 1], color=cross, marker="x",
                         markersize=2.4, markeredgewidth=0.7, linestyle="none", zorder=5)
    track.grow(line)
    track.grow(crosses)
    with track.at_the_end(ax):
        if shown == len(manual_path):
            ax.plot(*manual_path[-1], marker="*", markersize=11, color="#F0E442", markeredgecolor="black",
                    linestyle="none", label="end", zorder=6)
            return
        mark_exit(ax, manual_path, shown, diverged_at, window, color=color)


def run_path_legend(axes, twins_label: str) -> tuple[list, list[str]]:
    """Legend entries for several runs' paths: each run once, then start/end/diverged, then the twins' key."""
    from matplotlib.lines import Line2D

    seen: dict[str, object] = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            seen.setdefault(label, handle)
    shared = ("start", "end", "diverged")       # runs first, then the markers every run shares
    labels = [label for label in seen if label not in shared] + [label for label in shared if label in seen]
    handles = [seen[label] for label in labels]
    handles.append(Line2D([], [], color="0.4", marker="o", markersize=4, markeredgecolor="white",
                          markeredgewidth=0.4))
    labels.append(twins_label)
    return handles, labels


def _plane_panel_data(panel: dict, losses: np.ndarray, diverged_at: int | None) -> dict:
    """A panel of ``path_on_plane`` as arrays, with its window and how many leading points it shows."""
    data = {key: as_array(panel[key]) for key in ("alphas", "betas", "Z", "manual_path", "autograd_path")}
    data.update({key: panel.get(key) for key in ("xlabel", "ylabel", "title", "note")})
    data["window"] = ((data["alphas"][0], data["alphas"][-1]), (data["betas"][0], data["betas"][-1]))
    manual_path = data["manual_path"]
    shown = len(manual_path) if diverged_at is None else points_inside(manual_path, data["window"])
    data["shown"] = min(shown, len(losses))
    data["losses"] = losses
    return data


def _draw_plane_panel(ax, data: dict, levels, norm, diverged_at: int | None):
    """One plane of ``path_on_plane``: contours, both paths, circles filled with the true loss.

    Returns the filled contour set (None when no loss in the window is finite)."""
    filled = None
    if levels is not None and np.isfinite(data["Z"]).any():
        filled = draw_contour(ax, data["alphas"], data["betas"], data["Z"], levels, norm)
    head = draw_twin_paths(ax, data["manual_path"], data["autograd_path"], diverged_at=diverged_at,
                            window=data["window"], thin=True)
    # The fill goes into exactly the circles the house style drew (it may mark only every few steps).
    (line,) = [line for line in ax.get_lines() if line.get_label() == MANUAL["label"]]
    marked = marked_points(line, data["shown"])
    fill = data["losses"][marked]
    keep = np.isfinite(fill)
    if norm is not None and keep.any():
        points = data["manual_path"][marked[keep]]
        ax.scatter(points[:, 0], points[:, 1], c=fill[keep], cmap=CMAP, norm=norm, s=48,
                   edgecolors=MANUAL["color"], linewidths=1.0, zorder=4.5, label="_true loss")
    (x0, x1), (y0, y1) = data["window"]
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect("equal", adjustable="box")
    notes = [text for text in (data["note"], None if filled is not None else NO_LANDSCAPE) if text]
    if notes:
        panel_note(ax, "\n".join(notes), avoid=head)
    ax.set_xlabel(data["xlabel"] or "")
    ax.set_ylabel(data["ylabel"] or "")
    ax.set_title(data["title"] or "")
    ax.grid(False)
    return filled


def true_loss_fill(ax) -> tuple[np.ndarray, np.ndarray, object]:
    """What ``path_on_plane`` filled a panel's circles with: (positions (K, 2), losses (K,), norm).

    For checking a figure: the fills must be the true losses, on the
    contour's norm. Empty arrays and None if nothing was filled."""
    for collection in ax.collections:
        if collection.get_label() == "_true loss":
            return np.asarray(collection.get_offsets()), np.asarray(collection.get_array()), collection.norm
    return np.zeros((0, 2)), np.zeros(0), None
