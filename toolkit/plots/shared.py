"""The drawing pieces that more than one lesson uses.

* markers: a path's start (square), end (star), a known minimum (plus), a diverged run (X);
* legends: the figure legend below the panels, the twins' key, a caption under the legend,
  a remark inside a panel;
* paths on a contour: both twins' path, one run among several, where a path leaves the window;
* contours: filled log-spaced levels with a colour bar at round values;
* loss curves: one run's twins, one run among several, the divergence mark;
* axes: whole-number steps, round log ticks, a readable log range.

Every colour, marker and size comes from ``style``. A drawing piece moves here from a lesson's
module when a second lesson needs it.
"""

from __future__ import annotations

import textwrap

import numpy as np
from matplotlib.lines import Line2D
from matplotlib.ticker import FixedLocator, FuncFormatter, MaxNLocator, NullFormatter

from toolkit.plots import style
from toolkit.plots.style import AUTOGRAD, AUTOGRAD_CROSS, MANUAL, MANUAL_LINE
from toolkit.plots.tracks import track_path
from toolkit.train import DIVERGENCE_FACTOR, History

# A diverged run's loss can jump to 1e200 or to inf in one step. A loss curve
# shows losses up to OFF_SCALE times the first one (a thousand times past the
# point where training stops a run as diverged); a larger one, or one that
# is not a number at all, is marked as off the scale instead of being drawn.
OFF_SCALE = 1e3 * DIVERGENCE_FACTOR
NO_LANDSCAPE = "the loss is not a finite number\nanywhere in this window"
# Legend labels of the markers every path shares; they come after the runs' own entries.
MARKER_LABELS = ("start", "end", "minimum", "diverged")


def as_array(values) -> np.ndarray:
    """A tensor or sequence as a float64 NumPy array (on the CPU: only figures need it there)."""
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


def on_scale(values, first: float) -> np.ndarray:
    """Losses as a float array, NaN where a loss is not finite or is off the scale (see OFF_SCALE)."""
    values = np.asarray(values, dtype=float)
    keep = np.isfinite(values)
    if np.isfinite(first) and first > 0:
        keep &= values <= OFF_SCALE * first
    return np.where(keep, values, np.nan)


# ----------------------------------------------------------------------------------------------------------
# Markers
# ----------------------------------------------------------------------------------------------------------

def mark_start(ax, points: np.ndarray, zorder: float = 6, **extra):
    """The white square at the first of ``points`` ((T, 2)); returns the marker's line."""
    (marker,) = ax.plot(*points[0], **{**style.START, **extra}, label="start", zorder=zorder)
    return marker


def mark_end(ax, points: np.ndarray, zorder: float = 6, **extra):
    """The yellow star at the last of ``points`` ((T, 2)); returns the marker's line."""
    (marker,) = ax.plot(*points[-1], **{**style.END, **extra}, label="end", zorder=zorder)
    return marker


def mark_ends(ax, points: np.ndarray, zorder: float = 6) -> None:
    """Square at the start, star at the end: the same in every figure."""
    mark_start(ax, points, zorder)
    mark_end(ax, points, zorder)


def mark_minimum(ax, point, label: str = "minimum", zorder: float = 6, **extra):
    """A white plus at a known minimum (least squares, a closed form)."""
    (marker,) = ax.plot(*point, **{**style.MINIMUM, **extra}, label=label, zorder=zorder)
    return marker


def mark_diverged(ax, point, label: str = "diverged", zorder: float = 7, **extra):
    """The black X where a run diverged (or where it was last seen before it did).

    ``extra`` adds matplotlib options (``clip_on=False`` for an X on the frame of the axes).
    """
    (marker,) = ax.plot(*point, **{**style.DIVERGED, **extra}, label=label, zorder=zorder)
    return marker


# ----------------------------------------------------------------------------------------------------------
# Legends and remarks
# ----------------------------------------------------------------------------------------------------------

def merged_handles(axes) -> tuple[list, list[str]]:
    """Every labelled artist of ``axes``, each label once: the runs' own entries first, then the shared markers."""
    seen: dict[str, object] = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            seen.setdefault(label, handle)
    labels = [label for label in seen if label not in MARKER_LABELS]
    labels += [label for label in MARKER_LABELS if label in seen]
    return [seen[label] for label in labels], labels


def twins_key(text: str = "circles: hand-written twin, ×: autograd twin") -> tuple[Line2D, str]:
    """The legend entry that explains the twins when each run has its own colour: a grey circle with a cross."""
    key = Line2D([], [], color=style.MID, marker="o", markersize=5, markeredgecolor=style.PAPER,
                 markeredgewidth=0.4, linewidth=1.2)
    return key, text


def run_path_legend(axes, text: str = "circles: hand-written twin, ×: autograd twin") -> tuple[list, list[str]]:
    """Legend entries for several runs: each run once, then the shared markers, then the twins' key (``text``)."""
    handles, labels = merged_handles(axes)
    key, text = twins_key(text)
    return handles + [key], labels + [text]


def twin_handles() -> tuple[list, list[str]]:
    """The two legend entries of one run's twins: the blue line with circles, the vermillion crosses."""
    manual = Line2D([], [], color=MANUAL["color"], **MANUAL_LINE)
    autograd = Line2D([], [], **AUTOGRAD_CROSS)
    return [manual, autograd], [MANUAL["label"], AUTOGRAD["label"]]


def figure_legend(fig, handles, labels, *, title: str | None = None, ncols: int | None = None):
    """The figure's legend, below its panels (``title``: a caption line heading it).

    It gets as many of ``ncols`` columns as fit the figure's width, and
    labels too long for a column are wrapped, so that it is never wider than
    the figure (at a course-notes width, too).
    """
    import matplotlib

    ncols = min(ncols or 3, max(len(labels), 1))
    size = matplotlib.rcParams["legend.fontsize"]
    size = size if isinstance(size, (int, float)) else style.RC["legend.fontsize"]
    across = 0.95 * fig.get_figwidth() * 72 / (0.55 * size)          # characters across the figure, roughly
    longest = max((len(line) for label in labels for line in label.splitlines()), default=0)
    while ncols > 1 and ncols * (min(longest, 34) + 6) > across:
        ncols -= 1
    labels = [_wrapped(label, int(across / ncols) - 6) for label in labels]
    title = _wrapped(title, int(across) - 2) if title else title
    legend = fig.legend(handles, labels, loc="outside lower center", ncols=ncols)
    if title:
        legend.set_title(title)
    return legend


def legend_caption(fig, legend, note: str | None = None, title: str | None = None) -> None:
    """A figure's caption (``note``) as the title of its legend below, and its ``title`` above."""
    preset = style.active_width()
    if note:
        legend.set_title(_wrapped(note, int(preset.width * 16)) if preset is not None else note)
    if title:       # at a course-notes width the title is broken into lines that fit, as the caption is
        fig.suptitle(_wrapped(title, int(preset.width * 14)) if preset is not None else title)


def _wrapped(text: str, width: int) -> str:
    """``text`` with each of its lines broken at spaces to at most ``width`` characters."""
    return "\n".join(part for line in text.splitlines() for part in (textwrap.wrap(line, max(width, 12)) or [""]))


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
    ax.text(x, y, text, transform=ax.transAxes, ha=ha, va=va, multialignment="left", zorder=9,
            bbox=style.NOTE_BOX)


# ----------------------------------------------------------------------------------------------------------
# Paths on a landscape
# ----------------------------------------------------------------------------------------------------------

def points_inside(points: np.ndarray, window) -> int:
    """How many leading points are finite and inside window ((x0, x1), (y0, y1)); at least 1."""
    (x0, x1), (y0, y1) = (sorted(limits) for limits in window)
    with np.errstate(invalid="ignore"):
        ok = (np.isfinite(points).all(axis=1) & (points[:, 0] >= x0) & (points[:, 0] <= x1)
              & (points[:, 1] >= y0) & (points[:, 1] <= y1))
    outside = np.flatnonzero(~ok)
    return len(points) if outside.size == 0 else max(int(outside[0]), 1)


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


def draw_twin_paths(ax, manual_path: np.ndarray, autograd_path: np.ndarray, *, diverged_at: int | None = None,
                    window=None, thin: bool = False, small: bool = False) -> np.ndarray | None:
    """Both twins' paths ((T, 2) each): the blue line through circles, a vermillion cross in every circle.

    thin: where steps crowd together, put the markers on every few of them
    only (see ``spread_out``; the line still runs through every step), so
    that autograd's crosses do not bury the hand-written path. small: smaller
    markers and a thinner line, for a path of hundreds of steps whose points
    form a cloud.

    A diverged run (``diverged_at``: the step where training stopped it) may
    run off to huge values, inf or NaN. It is drawn while it is finite and
    inside ``window`` ((x0, x1), (y0, y1)); where it leaves, a dashed arrow
    points the way it went and the divergence X takes the place of the end
    star. Returns where that X is (None if the run did not diverge).
    """
    everything = manual_path
    if diverged_at is not None:
        shown = points_inside(manual_path, window)
        manual_path, autograd_path = manual_path[:shown], autograd_path[:shown]
    every = spread_out(manual_path, window) if thin else list(range(len(manual_path)))
    line_style, cross_style = dict(MANUAL_LINE), dict(AUTOGRAD_CROSS)
    if small:
        line_style.update(markersize=3.2, markeredgewidth=0.3, linewidth=0.6)
        cross_style.update(markersize=1.8, markeredgewidth=0.6)
    # Recorded for an animation of the path growing (toolkit.animation): which step each point is.
    track = track_path(ax, manual_path, autograd_path)
    (line,) = ax.plot(manual_path[:, 0], manual_path[:, 1], color=MANUAL["color"], markevery=every,
                      label=MANUAL["label"], zorder=4, **line_style)
    track.grow(line)
    (crosses,) = ax.plot(autograd_path[every, 0], autograd_path[every, 1], label=AUTOGRAD["label"], zorder=5,
                         **cross_style)
    track.grow(crosses, every)
    mark_start(ax, manual_path)
    with track.at_the_end(ax):
        if diverged_at is None:
            mark_end(ax, manual_path)
            return None
        return mark_exit(ax, everything, len(manual_path), diverged_at, window)


def draw_run_path(ax, manual_path: np.ndarray, autograd_path: np.ndarray, *, color: str, label: str,
                  window, diverged_at: int | None = None, every: int = 1, zorder: float = 4) -> None:
    """One run's path among several: the hand-written twin's circles and line in the run's ``color``,
    autograd's vermillion crosses in them (on every ``every``-th step).

    The line lies at ``zorder``, the crosses one above it and the end star two above: give a run drawn
    over another a higher ``zorder`` to keep it in sight.

    A white outline keeps the line visible on any contour colour. The path
    is drawn while it stays finite and inside ``window``; where it leaves, a
    dashed arrow in the run's colour points the way it went, and a run that
    diverged (``diverged_at``) ends in an X there. A run that stays inside
    ends in the house star.
    """
    from matplotlib import patheffects

    shown = points_inside(manual_path, window)
    outline = [patheffects.withStroke(linewidth=2.8, foreground=style.PAPER)]
    marked = list(range(0, shown, every)) + ([shown - 1] if (shown - 1) % every else [])
    track = track_path(ax, manual_path[:shown], autograd_path[:shown])     # for an animation, see toolkit.animation
    (line,) = ax.plot(manual_path[:shown, 0], manual_path[:shown, 1], color=color, marker="o", markersize=3.8,
                      markeredgecolor=style.PAPER, markeredgewidth=0.4, linewidth=1.3, markevery=marked,
                      label=label, zorder=zorder, path_effects=outline)
    (crosses,) = ax.plot(autograd_path[marked, 0], autograd_path[marked, 1], zorder=zorder + 1,
                         **{**AUTOGRAD_CROSS, "markersize": 2.6, "markeredgewidth": 0.8})
    track.grow(line)
    track.grow(crosses, marked)
    with track.at_the_end(ax):
        if shown == len(manual_path):
            mark_end(ax, manual_path, zorder=zorder + 2, markersize=11)
            return
        mark_exit(ax, manual_path, shown, diverged_at, window, color=color)


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
        mark_diverged(ax, head, clip_on=False)      # on the window's frame: half of it would be cut off
    if diverged_at is None:
        text = f"off the plot\nat step {shown}"
    elif shown < diverged_at:
        text = f"off the plot at step {shown}\n(diverged at step {diverged_at})"
    else:
        text = f"diverged\n(step {diverged_at})"
    (x0, x1), (y0, y1) = (sorted(limits) for limits in window)
    right, up = head[0] > (x0 + x1) / 2, head[1] > (y0 + y1) / 2
    ax.annotate(text, head, textcoords="offset points", xytext=(-9 if right else 9, -9 if up else 9),
                ha="right" if right else "left", va="top" if up else "bottom", zorder=8, bbox=style.TEXT_BOX)
    return head


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


# ----------------------------------------------------------------------------------------------------------
# Contours
# ----------------------------------------------------------------------------------------------------------

def draw_contour(ax, alphas, betas, z, levels, norm):
    """Filled contours at ``levels`` with thin lines on every second level; returns the filled set.

    The levels run from the smallest to the largest loss drawn: nothing lies outside, so no extend arrows.
    """
    filled = ax.contourf(alphas, betas, z, levels=levels, norm=norm, cmap=style.CMAP)
    ax.contour(alphas, betas, z, levels=levels[::2], **style.CONTOUR_LINES)
    ax.grid(False)
    return filled


def loss_colorbar(fig, filled, axes, levels, most: int = 8):
    """The colour bar of a loss contour, ticks at round values (1, 2, 5 x 10^k), not at the levels."""
    colorbar = fig.colorbar(filled, ax=axes, shrink=0.95, ticks=round_log_ticks(levels[0], levels[-1], most=most),
                            format=FuncFormatter(round_tick_text))
    colorbar.ax.minorticks_off()
    colorbar.set_label("loss (log scale)")
    return colorbar


# ----------------------------------------------------------------------------------------------------------
# Loss curves
# ----------------------------------------------------------------------------------------------------------

def draw_loss_curves(ax, history: History, *, crosses: int = 25) -> None:
    """One run's twins per step: the blue line (circles on every few steps), vermillion crosses in them."""
    steps = np.arange(len(history.loss_manual))
    first = history.loss_manual[0] if history.loss_manual else np.nan
    manual_loss = on_scale(history.loss_manual, first)
    autograd_loss = on_scale(history.loss_autograd, first)
    every = max(1, len(steps) // crosses)
    ax.plot(steps, manual_loss, color=MANUAL["color"], label=MANUAL["label"],
            **{**MANUAL_LINE, "markevery": every, "markersize": 4.5, "linewidth": 1.6})
    ax.plot(steps[::every], autograd_loss[::every], label=AUTOGRAD["label"], **AUTOGRAD_CROSS)
    if history.diverged:
        mark_divergence(ax, history)
    ax.set_yscale("log")
    readable_log_range(ax, manual_loss, autograd_loss)
    ax.set_xlabel("step")
    integer_steps(ax)


def draw_run_losses(ax, history: History, *, label: str, color: str, last_step: int, curves: list,
                    line_style: dict | None = None, crosses: int = 20, values=None) -> bool:
    """One run among several: the hand-written loss as a line in ``color`` with circles on about
    ``crosses`` steps, autograd's vermillion crosses in them.

    ``line_style`` adds matplotlib options to the line; ``values`` replaces
    the losses by what the axis shows ((manual, autograd) per step, e.g. the
    loss gap). A diverged run is marked where it left the scale. The plotted
    values are added to ``curves`` (for the axis range); returns True when a
    loss was off the scale.
    """
    manual, autograd = values if values is not None else (history.loss_manual, history.loss_autograd)
    steps = np.arange(len(manual))
    first = manual[0] if len(manual) else np.nan
    manual_loss, autograd_loss = on_scale(manual, first), on_scale(autograd, first)
    curves += [manual_loss, autograd_loss]
    every = max(1, len(steps) // crosses)
    ax.plot(steps, manual_loss, color=color, label=label,
            **{**MANUAL_LINE, "markevery": every, "markersize": 4, "linewidth": 1.6, **(line_style or {})})
    ax.plot(steps[::every], autograd_loss[::every], **{**AUTOGRAD_CROSS, "markersize": 2.8, "markeredgewidth": 0.9})
    return bool(history.diverged and mark_divergence(ax, history, last_step=last_step, values=manual_loss))


def mark_divergence(ax, history: History, last_step: int | None = None, values=None) -> bool:
    """The black X where a run diverged; True if its loss was off the scale (then the X sits at the top).

    last_step: the largest step on the axis (default: this run's), to keep the text inside.
    values: what the axis shows per step, if not the loss itself (e.g. the loss gap L - L*).
    """
    step = history.diverged_at_step
    values = history.loss_manual if values is None else values
    shown = on_scale(values, values[0])
    if np.isfinite(shown[step]):
        y = shown[step]
        mark_diverged(ax, (step, y), label="_diverged")
        # To the left of the X, level with it: above the rising curve that leads there.
        ax.annotate(f"diverged\n(step {step})", (step, y), textcoords="offset points", xytext=(-10, 0),
                    ha="right", va="center")
        return False
    # Off the scale (inf, NaN or astronomically large): the X at the top of the axes, above its
    # step, with a dotted line up to it from the last loss that is on the scale.
    top = ax.get_xaxis_transform()      # x in data, y in axes coordinates (1 = the top)
    mark_diverged(ax, (step, 1.0), label="_diverged", transform=top, clip_on=False)
    before = np.flatnonzero(np.isfinite(shown[:step]))
    if before.size:
        ax.annotate("", xy=(step, 1.0), xycoords=top, xytext=(before[-1], shown[before[-1]]), textcoords="data",
                    arrowprops={"arrowstyle": "-", "color": style.INK, "linestyle": ":", "lw": 1.2,
                                "shrinkA": 0, "shrinkB": 5})
    last_step = len(history.loss_manual) - 1 if last_step is None else last_step
    right = step > 0.5 * last_step
    ax.annotate(f"diverged\n(step {step}, loss {history.loss_manual[step]:.3g})", (step, 1.0), xycoords=top,
                textcoords="offset points", xytext=(-9 if right else 9, -6), ha="right" if right else "left",
                va="top", bbox=style.TEXT_BOX, zorder=7)
    return True


# ----------------------------------------------------------------------------------------------------------
# Axes
# ----------------------------------------------------------------------------------------------------------

def integer_steps(ax) -> None:
    """Steps are whole numbers: no tick at 0.5, and a one-step run gets the single tick 0
    (otherwise matplotlib's usual ticks)."""
    ax.xaxis.set_major_locator(MaxNLocator(nbins="auto", steps=[1, 2, 2.5, 5, 10], integer=True, min_n_ticks=1))


def readable_log_range(ax, *curves: np.ndarray) -> None:
    """A log axis over losses that hardly differ (one step, or twins one rounding error apart)
    would be a sliver with no tick: show the decade(s) around them instead."""
    values = np.concatenate([np.ravel(c) for c in curves])
    values = values[np.isfinite(values) & (values > 0)]
    if values.size and values.max() < 1.01 * values.min():
        low = np.floor(np.log10(values.min()))
        high = max(np.ceil(np.log10(values.max())), low + 1)
        ax.set_ylim(10.0 ** low, 10.0 ** high)


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
    low, high = ax.get_ylim()
    if not (0 < low < high < 1e4 * low):
        return      # over many decades matplotlib's own 10^k ticks read best
    ax.set_ylim(low, high)      # fixed ticks must not move the limits
    ax.yaxis.set_major_locator(FixedLocator(round_log_ticks(low, high)))
    ax.yaxis.set_major_formatter(FuncFormatter(round_tick_text))
    ax.yaxis.set_minor_formatter(NullFormatter())
