"""The house style and every figure the lessons draw.

One look for all figures: colour-blind-safe colours (Okabe & Ito), the same
colour and marker for "manual" and "autograd" everywhere, log-spaced contour
levels, and files that are byte-identical for the same seed. Figures are
built with matplotlib's object API (``Figure``), so no window opens and no
global pyplot state is touched.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import matplotlib
import numpy as np
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from toolkit.train import DIVERGENCE_FACTOR, History

# The twins, in every figure.
MANUAL = {"color": "#0072B2", "marker": "o", "label": "manual (hand-written)"}
AUTOGRAD = {"color": "#D55E00", "marker": "x", "label": "autograd (torch.nn)"}
# Other colours from the same colour-blind-safe palette, for several runs at once.
RUN_COLORS = ["#56B4E9", "#009E73", "#E69F00", "#CC79A7", "#000000"]
CMAP = "viridis"
# A diverged run's loss can jump to 1e200 or to inf in one step. A loss curve
# shows losses up to OFF_SCALE times the first one (a thousand times past the
# point where training stops a run as diverged); a larger one, or one that
# is not a number at all, is marked as off the scale instead of being drawn.
OFF_SCALE = 1e3 * DIVERGENCE_FACTOR
# Behind a label that sits on lines or contours.
TEXT_BOX = {"boxstyle": "round,pad=0.25", "facecolor": "white", "edgecolor": "none", "alpha": 0.85}

STYLE = {
    "font.size": 10,
    "axes.titlesize": 10.5,
    "axes.labelsize": 10,
    "legend.fontsize": 8.5,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "lines.linewidth": 1.6,
    "svg.hashsalt": "toolkit",     # fixed ids inside SVG files: same bytes every run
    "svg.fonttype": "path",
    "pdf.fonttype": 42,
}

# Without these, each file would carry its creation time or matplotlib's version.
METADATA = {
    "png": {"Software": None},
    "svg": {"Date": None, "Creator": None},
    "pdf": {"CreationDate": None, "ModDate": None, "Creator": None, "Producer": None},
}


def house_style():
    """A context manager applying the house style while a figure is built."""
    return matplotlib.rc_context(STYLE)


def figure_bytes(fig: Figure, fmt: str) -> bytes:
    """Render a figure to PNG, SVG or PDF bytes, deterministically."""
    buffer = io.BytesIO()
    with house_style():
        fig.savefig(buffer, format=fmt, dpi=200, bbox_inches="tight", pad_inches=0.05, metadata=METADATA[fmt])
    return buffer.getvalue()


def _numpy(values) -> np.ndarray:
    if hasattr(values, "detach"):
        values = values.detach().to("cpu").double().numpy()
    return np.asarray(values, dtype=float)


def _log_levels(z: np.ndarray, count: int = 18) -> np.ndarray | None:
    """Log-spaced contour levels over the finite positive losses; None if there are none."""
    finite = z[np.isfinite(z) & (z > 0)]
    if finite.size == 0:
        return None
    low, high = finite.min(), finite.max()
    if high <= low * 1.0001:
        high = low * 1.01
    return np.geomspace(low, high, count)


def _mark_start(ax, points: np.ndarray, zorder: int = 6) -> None:
    ax.plot(*points[0], marker="s", markersize=8, color="white", markeredgecolor="black",
            linestyle="none", label="start", zorder=zorder)


def _mark_ends(ax, points: np.ndarray, zorder: int = 6) -> None:
    """Square at the start, star at the end: the same in every figure."""
    _mark_start(ax, points, zorder)
    ax.plot(*points[-1], marker="*", markersize=13, color="#F0E442", markeredgecolor="black",
            linestyle="none", label="end", zorder=zorder)


def _inside(points: np.ndarray, window) -> int:
    """How many leading points are finite and inside window ((x0, x1), (y0, y1)); at least 1."""
    (x0, x1), (y0, y1) = (sorted(limits) for limits in window)
    with np.errstate(invalid="ignore"):
        ok = (np.isfinite(points).all(axis=1) & (points[:, 0] >= x0) & (points[:, 0] <= x1)
              & (points[:, 1] >= y0) & (points[:, 1] <= y1))
    outside = np.flatnonzero(~ok)
    return len(points) if outside.size == 0 else max(int(outside[0]), 1)


def _draw_twin_paths(ax, manual_path: np.ndarray, autograd_path: np.ndarray, *,
                     diverged_at: int | None = None, window=None, thin: bool = False) -> np.ndarray | None:
    """Both twins' paths, the start and the end marked.

    thin: where steps crowd together, put the markers on every few of them
    only (see ``_spread_out``; the line still runs through every step), so
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
        shown = _inside(manual_path, window)
        manual_path, autograd_path = manual_path[:shown], autograd_path[:shown]
    # The hand-written path: a line through filled circles. Autograd's small crosses go on top, inside
    # the circles, so where the twins agree both stay visible: a cross in every circle.
    every = _spread_out(manual_path, window) if thin else list(range(len(manual_path)))
    ax.plot(manual_path[:, 0], manual_path[:, 1], color=MANUAL["color"], marker="o", markersize=5.5,
            markeredgecolor="white", markeredgewidth=0.5, markevery=every, linewidth=1.3, label=MANUAL["label"],
            zorder=4)
    ax.plot(autograd_path[every, 0], autograd_path[every, 1], color=AUTOGRAD["color"], marker="x",
            markersize=3.2, markeredgewidth=1.1, linestyle="none", label=AUTOGRAD["label"], zorder=5)
    if diverged_at is None:
        _mark_ends(ax, manual_path)
        return None
    _mark_start(ax, manual_path)
    return _mark_exit(ax, everything, len(manual_path), diverged_at, window)


def _exit_point(last: np.ndarray, following: np.ndarray, window) -> np.ndarray | None:
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


def _mark_exit(ax, path: np.ndarray, shown: int, diverged_at: int | None, window, *,
               color: str = MANUAL["color"]) -> np.ndarray:
    """Where a path leaves the window: a dashed arrow in ``color`` the way it went, and a label.

    A path that diverged (``diverged_at``) ends in an X there, or at its last
    point if it never left the window. Returns the position of the head.
    """
    last = path[shown - 1]
    head = _exit_point(last, path[shown], window) if shown < len(path) else None
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


def _caption(fig, legend, note: str | None = None, title: str | None = None) -> None:
    """A figure's caption (``note``) as the title of its legend below, and its ``title`` above."""
    if note:
        legend.set_title(note, prop={"size": 8.5})
    if title:
        fig.suptitle(title, fontsize=10.5)


def _panel_note(ax, text: str, avoid=None) -> None:
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


def _integer_steps(ax) -> None:
    """Steps are whole numbers: no tick at 0.5, and a one-step run gets the single tick 0
    (otherwise matplotlib's usual ticks)."""
    ax.xaxis.set_major_locator(MaxNLocator(nbins="auto", steps=[1, 2, 2.5, 5, 10], integer=True, min_n_ticks=1))


def _on_scale(values, first: float) -> np.ndarray:
    """Losses as a float array, NaN where a loss is not finite or is off the scale (see OFF_SCALE)."""
    values = np.asarray(values, dtype=float)
    keep = np.isfinite(values)
    if np.isfinite(first) and first > 0:
        keep &= values <= OFF_SCALE * first
    return np.where(keep, values, np.nan)


def _readable_log_range(ax, *curves: np.ndarray) -> None:
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
        _draw_loss_curves(ax, history)
        _round_log_axis(ax)
        ax.set_ylabel("loss (log scale)")
        ax.set_title(title)
        # A diverged run ends in the top right corner, at its X.
        ax.legend(loc="best" if history.diverged else "upper right")
    return fig


def _draw_loss_curves(ax, history: History) -> None:
    # The manual twin as a line, autograd as crosses on it (every few steps, so both stay visible).
    steps = np.arange(len(history.loss_manual))
    first = history.loss_manual[0] if history.loss_manual else np.nan
    manual_loss = _on_scale(history.loss_manual, first)
    autograd_loss = _on_scale(history.loss_autograd, first)
    # A single point would be an invisible line: give it a marker.
    lone = {"marker": "o", "markersize": 4} if np.isfinite(manual_loss).sum() == 1 else {}
    ax.plot(steps, manual_loss, color=MANUAL["color"], label=MANUAL["label"], **lone)
    every = max(1, len(steps) // 25)
    ax.plot(steps[::every], autograd_loss[::every], color=AUTOGRAD["color"],
            marker="x", markersize=5, linestyle="none", label=AUTOGRAD["label"])
    if history.diverged:
        _mark_divergence(ax, history, color="black")
    ax.set_yscale("log")
    _readable_log_range(ax, manual_loss, autograd_loss)
    ax.set_xlabel("step")
    _integer_steps(ax)


def _mark_divergence(ax, history: History, color: str, last_step: int | None = None, values=None) -> bool:
    """The X where a run diverged; True if its loss was off the scale (then the X sits at the top).

    last_step: the largest step on the axis (default: this run's), to keep the text inside.
    values: what the axis shows per step, if not the loss itself (e.g. the loss gap L - L*).
    """
    step = history.diverged_at_step
    values = history.loss_manual if values is None else values
    first = values[0]
    shown = _on_scale(values, first)
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


def loss_vs_weight(weights, losses, manual_path, autograd_path, manual_losses, autograd_losses,
                   best: float | None = None, xlabel: str = "weight w", title: str = "",
                   diverged_at: int | None = None, *, slope_curve=None, manual_slopes=None, autograd_slopes=None,
                   slope_label: str = "slope dL/dw", slope_title: str = "The slope at each step") -> Figure:
    """A one-parameter loss curve L(w) with the descent steps drawn on it.

    weights, losses: the curve, shape (G,). *_path: w at every step, (T,);
    *_losses: L at those w, (T,). diverged_at: the step where the run
    diverged, if it did; its path is then drawn until it leaves the curve's
    window (to huge values, inf or NaN), and where it went is marked.

    With ``slope_curve`` (dL/dw at ``weights``, (G,)) a second panel beside
    it draws the derivative itself, labelled ``slope_label``, and marks on
    it the slope each twin computed at each step: manual_slopes,
    autograd_slopes, (S,), the gradient at path point t for t < S.
    """
    weights, losses = _numpy(weights), _numpy(losses)
    manual_pts = np.column_stack([_numpy(manual_path), _numpy(manual_losses)])
    autograd_pts = np.column_stack([_numpy(autograd_path), _numpy(autograd_losses)])
    finite = losses[np.isfinite(losses)]
    top = float(finite.max()) * 1.45 if finite.size else 1.0
    window = ((weights.min(), weights.max()), (0.0, top))
    shown = len(manual_pts) if diverged_at is None else _inside(manual_pts, window)
    with house_style():
        if slope_curve is None:
            fig = Figure(figsize=(4.6, 3.4), layout="constrained")
            ax = fig.add_subplot()
        else:
            fig = Figure(figsize=(8.8, 3.7), layout="constrained")
            ax, slope_ax = fig.subplots(1, 2, sharex=True)
        ax.plot(weights, losses, color="0.25", linewidth=1.4, label="loss L(w)", zorder=2)
        if best is not None:
            ax.axvline(best, color="0.45", linestyle=":", linewidth=1.1, label=f"minimum, w = {best:.3f}")
        _draw_twin_paths(ax, manual_pts, autograd_pts, diverged_at=diverged_at, window=window, thin=True)
        drawn = manual_pts[:shown]
        for a, b in zip(drawn[:4], drawn[1:5]):   # arrows for the first steps show the direction
            ax.annotate("", xy=b, xytext=a, arrowprops={"arrowstyle": "->", "color": MANUAL["color"], "lw": 1.0})
        ax.set_xlabel(xlabel)
        ax.set_ylabel("loss L(w)")
        ax.set_title(title)
        ax.set_ylim(bottom=0, top=top)
        if slope_curve is not None:
            _draw_slopes(slope_ax, weights, _numpy(slope_curve), manual_pts[:shown, 0],
                         _numpy(manual_slopes if manual_slopes is not None else []),
                         _numpy(autograd_slopes if autograd_slopes is not None else []),
                         best=best, label=slope_label, diverged_at=diverged_at)
            slope_ax.set_xlabel(xlabel)
            slope_ax.set_title(slope_title)
            handles, labels = {}, []
            for panel in (ax, slope_ax):
                for handle, label in zip(*panel.get_legend_handles_labels()):
                    if label not in handles:
                        handles[label] = handle
                        labels.append(label)
            fig.legend([handles[label] for label in labels], labels, loc="outside lower center", ncols=4,
                       fontsize=8)
        elif diverged_at is None:
            ax.legend(loc="upper center", ncols=2, fontsize=8)
        else:   # the path leaves through the top: the legend goes below the axes
            fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncols=3, fontsize=8)
    return fig


def _colorbar(fig, filled, axes, levels) -> None:
    # Ticks at round values (1, 2, 5 x 10^k, see round_log_ticks), not at the contour levels.
    from matplotlib.ticker import FuncFormatter

    colorbar = fig.colorbar(filled, ax=axes, shrink=0.95, ticks=round_log_ticks(levels[0], levels[-1]),
                            format=FuncFormatter(round_tick_text))
    colorbar.ax.minorticks_off()
    colorbar.set_label("loss (log scale)")


def _contour(ax, alphas, betas, z, levels, norm):
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
    the step where the run diverged, if it did (see ``_draw_twin_paths``).
    equal_aspect: one unit is as long across as up (the default, for two
    parameters), so the gradient, and each step, is visibly perpendicular to
    the contours; False for axes in different units.
    """
    alphas, betas, z = _numpy(alphas), _numpy(betas), _numpy(Z)
    manual_path, autograd_path = _numpy(manual_path), _numpy(autograd_path)
    window = ((alphas[0], alphas[-1]), (betas[0], betas[-1]))
    with house_style():
        fig = Figure(figsize=(4.8, 3.9), layout="constrained")
        ax = fig.add_subplot()
        levels = _log_levels(z)
        if levels is not None:
            filled = _contour(ax, alphas, betas, z, levels, LogNorm(levels[0], levels[-1]))
        else:
            _panel_note(ax, NO_LANDSCAPE)
        _draw_twin_paths(ax, manual_path, autograd_path, diverged_at=diverged_at, window=window, thin=True)
        if minimum is not None:
            ax.plot(*minimum, marker="P", markersize=9, color="white", markeredgecolor="black",
                    linestyle="none", label="minimum", zorder=6)
        if levels is not None:
            _colorbar(fig, filled, ax, levels)
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


def surface_with_path(alphas, betas, Z, path, path_losses, *, xlabel: str, ylabel: str, title: str = "",
                      diverged_at: int | None = None) -> Figure:
    """The loss as a 3-D surface, the "mountain", with the descent path on it.

    The path is lifted slightly above the surface so the surface never hides it.
    A diverged run (diverged_at: the step where it diverged) is drawn while
    it is finite and above the (w, b) window; the divergence X marks its last
    point there (in the legend only, if that point is the start).
    """
    alphas, betas, z = _numpy(alphas), _numpy(betas), _numpy(Z)
    path, path_losses = _numpy(path), _numpy(path_losses)
    finite = z[np.isfinite(z)]
    lift = 0.02 * (finite.max() - finite.min()) if finite.size else 0.0
    if diverged_at is not None:
        shown = _inside(path, ((alphas[0], alphas[-1]), (betas[0], betas[-1])))
        not_finite = np.flatnonzero(~np.isfinite(path_losses[:shown]))
        if not_finite.size:
            shown = max(int(not_finite[0]), 1)
        path, path_losses = path[:shown], path_losses[:shown]
    grid_a, grid_b = np.meshgrid(alphas, betas)
    with house_style():
        fig = Figure(figsize=(5.0, 4.2), layout="constrained")
        ax = fig.add_subplot(projection="3d")
        ax.plot_surface(grid_a, grid_b, z, cmap=CMAP, alpha=0.75, linewidth=0, antialiased=True,
                        rcount=60, ccount=60)
        ax.plot(path[:, 0], path[:, 1], path_losses + lift, color=MANUAL["color"], marker="o", markersize=3,
                linewidth=1.4, label=MANUAL["label"], zorder=10)
        ax.plot(*path[0], path_losses[0] + lift, marker="s", markersize=7, color="white",
                markeredgecolor="black", linestyle="none", label="start", zorder=11)
        if diverged_at is None:
            ax.plot(*path[-1], path_losses[-1] + lift, marker="*", markersize=12, color="#F0E442",
                    markeredgecolor="black", linestyle="none", label="end", zorder=11)
        else:
            # The divergence X on the last point drawn; on the start it would hide the square,
            # so then it is only in the legend.
            cross = {"marker": "X", "markersize": 10, "color": "black", "markeredgecolor": "white",
                     "linestyle": "none", "zorder": 12}
            last = len(path) - 1
            if last == diverged_at:
                ax.plot(*path[-1], path_losses[-1] + lift, label=f"diverged (step {diverged_at})", **cross)
            elif last > 0:
                ax.plot(*path[-1], path_losses[-1] + lift,
                        label=f"step {last}, the last on the plot; diverged at step {diverged_at}", **cross)
            else:
                ax.plot([], [], label=f"diverged at step {diverged_at}: off the plot after the start", **cross)
        ax.set_xlabel(xlabel, labelpad=2)
        ax.set_ylabel(ylabel, labelpad=2)
        ax.set_zlabel("loss", labelpad=2)
        ax.set_title(title)
        ax.view_init(elev=32, azim=-128)
        ax.legend(loc="upper left", fontsize=7.5)
    return fig


def learning_rate_panels(panels: Sequence[dict], *, xlabel: str, ylabel: str, minimum=None,
                         title: str | None = None, valley_axes: Sequence | None = None) -> Figure:
    """One contour panel per learning rate, sharing one colour scale.

    Each panel is a dict with keys title, alphas, betas, Z, manual_path,
    autograd_path, and optionally diverged_at (the step where that run
    diverged: its path is drawn until it leaves the panel, and where it went
    is marked, see ``_draw_twin_paths``). Panels whose grids are all the same
    share their axes; parameter space is drawn at equal aspect. title: a line
    above the panels (say there whether they share axes). valley_axes:
    directions (2,), e.g. the Hessian's eigenvectors, drawn as dotted lines
    through ``minimum``.
    """
    grids = [(_numpy(p["alphas"]), _numpy(p["betas"])) for p in panels]
    shared = all(np.array_equal(a, grids[0][0]) and np.array_equal(b, grids[0][1]) for a, b in grids)
    all_z = np.concatenate([_numpy(p["Z"]).ravel() for p in panels])
    levels = _log_levels(all_z, count=20)
    norm = LogNorm(levels[0], levels[-1]) if levels is not None else None
    with house_style():
        fig = Figure(figsize=(7.6, 6.9 if title else 6.6), layout="constrained")
        axes = fig.subplots(2, 2, sharex=shared, sharey=shared).ravel()
        for index, (ax, panel, (alphas, betas)) in enumerate(zip(axes, panels, grids)):
            if levels is not None:
                filled = _contour(ax, alphas, betas, _numpy(panel["Z"]), levels, norm)
            else:
                _panel_note(ax, NO_LANDSCAPE)
            window = ((alphas[0], alphas[-1]), (betas[0], betas[-1]))
            _draw_twin_paths(ax, _numpy(panel["manual_path"]), _numpy(panel["autograd_path"]),
                             diverged_at=panel.get("diverged_at"), window=window, thin=True)
            if minimum is not None:
                ax.plot(*minimum, marker="P", markersize=8, color="white", markeredgecolor="black",
                        linestyle="none", label="minimum", zorder=6)
            if minimum is not None and valley_axes is not None:
                for k, direction in enumerate(valley_axes):
                    direction = _numpy(direction)
                    ax.axline(tuple(minimum), tuple(np.asarray(minimum, dtype=float) + direction), color="white",
                              linestyle=(0, (1, 2)), linewidth=1.0, alpha=0.9, zorder=3,
                              label=VALLEY_AXES if k == 0 else None)
            ax.set_xlim(alphas[0], alphas[-1])
            ax.set_ylim(betas[0], betas[-1])
            ax.set_aspect("equal", adjustable="box")
            ax.set_title(panel["title"])
            if not shared or index >= 2:
                ax.set_xlabel(xlabel)
            if not shared or index % 2 == 0:
                ax.set_ylabel(ylabel)
            ax.grid(False)
        handles = {}
        for ax in axes:
            for handle, label in zip(*ax.get_legend_handles_labels()):
                handles.setdefault(label, handle)
        if VALLEY_AXES in handles:     # white dots would not show on the legend's white
            from matplotlib.lines import Line2D

            handles[VALLEY_AXES] = Line2D([], [], color="0.45", linestyle=(0, (1, 2)), linewidth=1.2)
        fig.legend(list(handles.values()), list(handles), loc="outside lower center",
                   ncols=min(len(handles), 4), fontsize=8.5)
        if levels is not None:
            _colorbar(fig, filled, list(axes), levels)
        if title:
            fig.suptitle(title, fontsize=10.5)
    return fig


def _draw_run_losses(ax, history: History, *, label: str, color: str, last_step: int, curves: list,
                     line_style: dict | None = None, crosses: int = 20, cross_style: dict | None = None) -> bool:
    """One run among several: the hand-written loss as a line, autograd's as crosses on it (about ``crosses``).

    ``line_style`` and ``cross_style`` add matplotlib options to the two.
    A diverged run is marked where it left the scale. The plotted values are
    added to ``curves`` (for the axis range); returns True when a loss was off
    the scale.
    """
    steps = np.arange(len(history.loss_manual))
    first = history.loss_manual[0] if history.loss_manual else np.nan
    manual_loss = _on_scale(history.loss_manual, first)
    autograd_loss = _on_scale(history.loss_autograd, first)
    curves += [manual_loss, autograd_loss]
    lone = {"marker": "o", "markersize": 4} if np.isfinite(manual_loss).sum() == 1 else {}
    ax.plot(steps, manual_loss, color=color, label=label, **(line_style or {}), **lone)
    every = max(1, len(steps) // crosses)
    ax.plot(steps[::every], autograd_loss[::every], color=color, marker="x", markersize=4.5, linestyle="none",
            **(cross_style or {}))
    return bool(history.diverged and _mark_divergence(ax, history, color=color, last_step=last_step))


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
            off_scale |= _draw_run_losses(ax, history, label=label, color=color, last_step=last_step, curves=curves)
        ax.plot([], [], color="0.3", label="line: manual, x: autograd")
        ax.set_yscale("log")
        _readable_log_range(ax, *curves)
        ax.set_xlabel("step")
        _integer_steps(ax)
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
    drawn while it stays in the window (see ``_draw_twin_paths``). ``note``:
    a short remark inside the first panel; ``caption``: a line under the legend.
    """
    panels = [{"alphas": alphas, "betas": betas, "Z": Z, "manual_path": manual_path,
               "autograd_path": autograd_path, "xlabel": xlabel, "ylabel": ylabel, "title": title, "note": note}]
    if second is not None:
        panels.append(second)
    losses = _numpy(history.path_losses()[0] if path_losses is None else path_losses)
    diverged_at = history.diverged_at_step if history.diverged else None
    drawn = [_plane_panel_data(panel, losses, diverged_at) for panel in panels]
    # One scale for the planes and for the losses the path really had, so both are read off the same bar.
    values = [d["Z"].ravel() for d in drawn] + [losses[:d["shown"]] for d in drawn]
    levels = _log_levels(np.concatenate(values), count=20)
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
            _colorbar(fig, filled, list(axes), levels)
        legend = fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncols=5, fontsize=8)
        if caption:
            legend.set_title(caption, prop={"size": 8.5})
    return fig


def decision_regions(model_probability, x, y, *, title: str = "", resolution: int = 200) -> Figure:
    """The classifier's P(class 1) over the input plane, with the data on top.

    model_probability: a function taking points (K, 2) and returning (K,)
    probabilities; x: (N, 2) inputs; y: (N,) class indices 0 or 1. Classes
    differ by marker as well as colour, so the figure reads in grey too.
    """
    points, labels = _numpy(x), _numpy(y).astype(int)
    low, high = points.min(axis=0) - 0.5, points.max(axis=0) + 0.5
    grid_a = np.linspace(low[0], high[0], resolution)
    grid_b = np.linspace(low[1], high[1], resolution)
    mesh_a, mesh_b = np.meshgrid(grid_a, grid_b)
    probability = _numpy(model_probability(np.column_stack([mesh_a.ravel(), mesh_b.ravel()])))
    probability = probability.reshape(mesh_a.shape)
    with house_style():
        fig = Figure(figsize=(4.8, 3.9), layout="constrained")
        ax = fig.add_subplot()
        defined = np.isfinite(probability)
        if defined.any():
            filled = ax.contourf(grid_a, grid_b, probability, levels=np.linspace(0, 1, 11), cmap="RdBu_r",
                                 alpha=0.85)
            ax.contour(grid_a, grid_b, probability, levels=[0.5], colors="black", linewidths=1.4)
        if not defined.all():     # a diverged network can output NaN
            _panel_note(ax, "P(class 1) is not a number anywhere:\nthe network's weights are not finite"
                        if not defined.any() else "white: P(class 1) is not a number there")
        for label, marker, face, edge in [(0, "o", "white", "black"), (1, "^", "black", "white")]:
            chosen = points[labels == label]
            ax.scatter(chosen[:, 0], chosen[:, 1], marker=marker, s=18, color=face, edgecolors=edge,
                       linewidths=0.6, label=f"class {label}", zorder=3)
        if defined.any():
            colorbar = fig.colorbar(filled, ax=ax, shrink=0.95, ticks=[0, 0.25, 0.5, 0.75, 1])
            colorbar.set_label("P(class 1)")
        ax.set_xlabel("input x₁")
        ax.set_ylabel("input x₂")
        ax.set_title(title)
        ax.grid(False)
        ax.legend(loc="upper right", fontsize=8, framealpha=0.9)
    return fig


# --------------------------------------------------------------------------
# Lesson 04 · The chain rule: three weights
# --------------------------------------------------------------------------

def _marked_points(line, count: int) -> np.ndarray:
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


def weight_slices(panels: Sequence[dict], *, diverged_at: int | None = None, note: str | None = None) -> Figure:
    """Slices of the loss over pairs of weights, side by side, each with the descent path on it.

    Each panel is a dict with keys
        alphas (A,), betas (B,), Z (B, A): the loss on the slice, Z[i, j] at (alphas[j], betas[i]);
        manual_path, autograd_path (T, 2): the slice's two weights at every step;
        path_losses (T,): the TRUE loss at every step (every weight as it was then);
        xlabel, ylabel, title.
    All panels share one log colour scale. It also fills the hand-written
    path's circles with the true loss at each step: where a circle's fill
    differs from the contour under it, the path was off the slice then (the
    weights not drawn had other values). ``diverged_at``: the step where the
    run diverged, if it did (see ``_draw_twin_paths``). ``note``: a caption
    line under the legend.
    """
    drawn = []
    for panel in panels:
        alphas, betas = _numpy(panel["alphas"]), _numpy(panel["betas"])
        manual_path = _numpy(panel["manual_path"])
        window = ((alphas[0], alphas[-1]), (betas[0], betas[-1]))
        shown = len(manual_path) if diverged_at is None else _inside(manual_path, window)
        drawn.append((alphas, betas, _numpy(panel["Z"]), manual_path, _numpy(panel["autograd_path"]),
                      _numpy(panel["path_losses"]), window, shown))
    # One scale for the slices and the losses the path really had, so both can be read off the same bar.
    values = [z.ravel() for _, _, z, *_ in drawn] + [losses[:shown] for *_, losses, _, shown in drawn]
    levels = _log_levels(np.concatenate(values), count=20)
    if levels is not None:     # a hair wider, so the extreme values themselves are inside
        levels[0], levels[-1] = levels[0] * (1 - 1e-9), levels[-1] * (1 + 1e-9)
    norm = LogNorm(levels[0], levels[-1]) if levels is not None else None
    with house_style():
        fig = Figure(figsize=(8.8, 3.9), layout="constrained")
        axes = fig.subplots(1, len(panels))
        axes = np.atleast_1d(axes)
        for ax, panel, (alphas, betas, z, manual_path, autograd_path, losses, window, shown) in zip(
                axes, panels, drawn):
            if levels is not None:
                # Every value lies inside the levels (they are taken from all of them): no extend arrows.
                filled = ax.contourf(alphas, betas, z, levels=levels, norm=norm, cmap=CMAP)
                ax.contour(alphas, betas, z, levels=levels[::2], colors="white", linewidths=0.4, alpha=0.6)
            else:
                _panel_note(ax, NO_LANDSCAPE)
            _draw_twin_paths(ax, manual_path, autograd_path, diverged_at=diverged_at, window=window)
            # The fill goes into exactly the circles the house style drew (it may mark only every few steps).
            (line,) = [line for line in ax.get_lines() if line.get_label() == MANUAL["label"]]
            marked = _marked_points(line, shown)
            fill = losses[marked]
            if norm is not None and np.isfinite(fill).all():
                ax.scatter(manual_path[marked, 0], manual_path[marked, 1], c=fill, cmap=CMAP, norm=norm, s=40,
                           edgecolors=MANUAL["color"], linewidths=1.0, zorder=4.5)
            ax.set_xlim(*window[0])
            ax.set_ylim(*window[1])
            ax.set_aspect("equal", adjustable="box")
            ax.set_xlabel(panel["xlabel"])
            ax.set_ylabel(panel["ylabel"])
            ax.set_title(panel["title"])
            ax.grid(False)
        if levels is not None:
            colorbar = fig.colorbar(filled, ax=list(axes), shrink=0.95, ticks=round_log_ticks(levels[0], levels[-1], most=7),
                                    format="%g")
            colorbar.ax.minorticks_off()
            colorbar.set_label("loss (log scale)")
        handles, labels = axes[0].get_legend_handles_labels()
        legend = fig.legend(handles, labels, loc="outside lower center", ncols=len(labels), fontsize=8.5)
        _caption(fig, legend, note)
    return fig


def weights_over_training(history: History, names: Sequence[str], *, shown: int | None = None,
                          title: str = "") -> Figure:
    """Left: every parameter of a small network at every step, both twins. Right: both losses per step.

    history.path_manual, path_autograd: (T, P), one column per name in
    ``names``. Each parameter has its own colour; the hand-written twin is
    the line and autograd the crosses on it (they coincide). ``shown``: how
    many leading points to draw (for a diverged run, the part before it
    blew up, see ``landscape.drawable_part``); default all.
    """
    manual_path, autograd_path = _numpy(history.path_manual), _numpy(history.path_autograd)
    shown = len(manual_path) if shown is None else max(1, min(shown, len(manual_path)))
    steps = np.arange(shown)
    every = max(1, shown // 25)
    with house_style():
        fig = Figure(figsize=(8.6, 3.4), layout="constrained")
        left, right = fig.subplots(1, 2)
        lone = {"marker": "o", "markersize": 4} if shown == 1 else {}
        for k, (color, name) in enumerate(zip(RUN_COLORS, names)):
            left.plot(steps, manual_path[:shown, k], color=color, label=name, **lone)
            left.plot(steps[::every], autograd_path[:shown:every, k], color=color, marker="x", markersize=4.5,
                      linestyle="none")
        left.plot([], [], color="0.3", marker="x", markersize=4.5, label="line: manual, x: autograd")
        left.axhline(0.0, color="0.5", linewidth=0.8, zorder=1)
        left.set_xlabel("step")
        _integer_steps(left)
        left.set_ylabel("weight value")
        left.set_title(title or "The weights at every step")
        legend = left.legend(loc="best", fontsize=8)
        if history.diverged:
            legend.set_title(f"diverged at step {history.diverged_at_step};\ndrawn up to step {shown - 1}",
                             prop={"size": 8})

        _draw_loss_curves(right, history)
        right.set_ylabel("training loss (log scale)")
        right.set_title("The loss at every step")
        right.legend(loc="best" if history.diverged else "upper right", fontsize=8)
    return fig


# --------------------------------------------------------------------------
# Lessons 01-03 · One weight, linear regression, the learning rate:
# round colour-bar ticks, and the loss gap L - L* against the rate theory predicts
# --------------------------------------------------------------------------

# The legend label of the valley's axes in learning_rate_panels.
VALLEY_AXES = "the valley's axes (eigenvectors of H)"


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


def _draw_slopes(ax, weights, slope_curve, path, manual_slopes, autograd_slopes, *, best, label, diverged_at):
    """The derivative dL/dw against w, and the slope each twin computed at each step drawn (path[t], slope[t])."""
    ax.plot(weights, slope_curve, color="0.25", linewidth=1.4, label=label, zorder=2)
    ax.axhline(0.0, color="0.45", linewidth=0.9, zorder=1)
    if best is not None:
        ax.axvline(best, color="0.45", linestyle=":", linewidth=1.1)
    finite = slope_curve[np.isfinite(slope_curve)]
    low, high = (finite.min(), finite.max()) if finite.size else (-1.0, 1.0)
    pad = 0.08 * (high - low) if high > low else 1.0
    ax.set_ylim(low - pad, high + pad)
    count = min(len(path), len(manual_slopes), len(autograd_slopes))
    points = np.column_stack([path[:count], manual_slopes[:count]])
    window = ((weights.min(), weights.max()), (low - pad, high + pad))
    inside = _inside(points, window) if count else 0
    points = points[:inside]
    if inside:
        every = _spread_out(points, window)     # crowded near the bottom: a marker on every few only
        ax.plot(points[every, 0], points[every, 1], color=MANUAL["color"], marker="o", markersize=5.5,
                markeredgecolor="white", markeredgewidth=0.5, linestyle="none", label=MANUAL["label"], zorder=4)
        ax.plot(path[:inside][every], autograd_slopes[:inside][every], color=AUTOGRAD["color"], marker="x",
                markersize=3.2, markeredgewidth=1.1, linestyle="none", label=AUTOGRAD["label"], zorder=5)
        _mark_start(ax, points)
        for a, b in zip(points[:4], points[1:5]):
            ax.annotate("", xy=b, xytext=a, arrowprops={"arrowstyle": "->", "color": MANUAL["color"], "lw": 1.0})
    ax.set_ylabel("slope dL/dw")
    text = "each step moves w against the slope,\nw ← w − lr·dL/dw: where the slope is\nnegative w grows, where positive it shrinks"
    if diverged_at is not None:
        text += f"\n(diverged at step {diverged_at}: the steps\ninside this window are drawn)"
    _panel_note(ax, text)


def _round_log_axis(ax) -> None:
    """Ticks of a log y axis at round values with plain labels (0.2, 0.5, 1, 2), not 2×10⁻¹."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

    low, high = ax.get_ylim()
    if not (0 < low < high < 1e4 * low):
        return      # over many decades matplotlib's own 10^k ticks read best
    ax.set_ylim(low, high)      # fixed ticks must not move the limits
    ax.yaxis.set_major_locator(FixedLocator(round_log_ticks(low, high)))
    ax.yaxis.set_major_formatter(FuncFormatter(round_tick_text))
    ax.yaxis.set_minor_formatter(NullFormatter())


def _spread_out(path: np.ndarray, window=None, gap: float = 0.022) -> list[int]:
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
    return _on_scale(line, first)


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
    in its X (see ``_mark_divergence``).
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
                manual_gap, autograd_gap = _on_scale(manual_gap, first), _on_scale(autograd_gap, first)
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
                    _mark_divergence(ax, history, color=colors[label] if not single else "black",
                                     last_step=last_step, values=manual_gap)
            ax.set_yscale("log")
            _readable_log_range(ax, *curves)
            _round_log_axis(ax)
            ax.set_xlabel("step")
            _integer_steps(ax)
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


# --------------------------------------------------------------------------
# Lesson 07 · Momentum and Nesterov: several runs on one landscape, the
# distance to the minimum against the rate theory predicts, loss curves side by side
# --------------------------------------------------------------------------

def _draw_run_path(ax, manual_path: np.ndarray, autograd_path: np.ndarray, *, color: str, label: str,
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

    shown = _inside(manual_path, window)
    outline = [patheffects.withStroke(linewidth=2.8, foreground="white")]
    ax.plot(manual_path[:shown, 0], manual_path[:shown, 1], color=color, marker="o", markersize=3.6,
            markeredgecolor="white", markeredgewidth=0.4, linewidth=1.3, label=label, zorder=4,
            path_effects=outline)
    # Crosses that show inside the circles: white in a black run's circles, nearly black in any other's.
    cross = "white" if matplotlib.colors.to_rgb(color) == (0.0, 0.0, 0.0) else "0.1"
    ax.plot(autograd_path[:shown, 0], autograd_path[:shown, 1], color=cross, marker="x", markersize=2.4,
            markeredgewidth=0.7, linestyle="none", zorder=5)
    if shown == len(manual_path):
        ax.plot(*manual_path[-1], marker="*", markersize=11, color="#F0E442", markeredgecolor="black",
                linestyle="none", label="end", zorder=6)
        return
    _mark_exit(ax, manual_path, shown, diverged_at, window, color=color)


def momentum_paths(panels: Sequence[dict], *, xlabel: str, ylabel: str, note: str | None = None) -> Figure:
    """Several runs' descent paths on panels of the same loss contour, one colour scale, two panels a row.

    Each panel is a dict with keys
        title; alphas (A,), betas (B,), Z (B, A): the loss, Z[i, j] at (alphas[j], betas[i]);
        runs: a list of dicts with label, color, manual_path and autograd_path
              ((T, 2) each) and diverged_at (the step where the run diverged, or None).
    Equal aspect (both axes are parameters). A label used in several panels
    (the same setting, the same colour) appears once in the legend, which
    takes the empty place of an odd panel count (else goes below).
    ``note``: a line heading the legend.
    """
    from matplotlib.lines import Line2D

    levels = _log_levels(np.concatenate([_numpy(panel["Z"]).ravel() for panel in panels]), count=20)
    norm = LogNorm(levels[0], levels[-1]) if levels is not None else None
    columns = min(2, len(panels))
    rows = -(-len(panels) // columns)
    with house_style():
        fig = Figure(figsize=(7.6, 2.35 * rows + 0.3), layout="constrained")
        grid = np.atleast_1d(fig.subplots(rows, columns)).ravel()
        axes, spare = grid[:len(panels)], grid[len(panels):]
        for ax, panel in zip(axes, panels):
            alphas, betas = _numpy(panel["alphas"]), _numpy(panel["betas"])
            window = ((alphas[0], alphas[-1]), (betas[0], betas[-1]))
            if levels is not None:
                filled = _contour(ax, alphas, betas, _numpy(panel["Z"]), levels, norm)
            else:
                _panel_note(ax, NO_LANDSCAPE)
            for run in panel["runs"]:
                _draw_run_path(ax, _numpy(run["manual_path"]), _numpy(run["autograd_path"]), color=run["color"],
                               label=run["label"], window=window, diverged_at=run.get("diverged_at"))
            if panel["runs"]:
                _mark_start(ax, _numpy(panel["runs"][0]["manual_path"]), zorder=8)
            ax.set_xlim(*window[0])
            ax.set_ylim(*window[1])
            ax.set_aspect("equal", adjustable="box")
            ax.set_xlabel(xlabel)
            ax.set_ylabel(ylabel)
            ax.set_title(panel["title"])
            ax.grid(False)
        if levels is not None:
            _colorbar(fig, filled, list(grid), levels)
        seen: dict[str, object] = {}
        for ax in axes:
            for handle, label in zip(*ax.get_legend_handles_labels()):
                seen.setdefault(label, handle)
        # Runs first, then the markers every run shares.
        shared = ("start", "end", "diverged")
        labels = [label for label in seen if label not in shared] + [label for label in shared if label in seen]
        handles = [seen[label] for label in labels]
        handles.append(Line2D([], [], color="0.4", marker="o", markersize=4, markeredgecolor="white",
                              markeredgewidth=0.4))
        labels.append("circles: manual,\nx inside: autograd\n(the twins coincide)")
        if spare.size:
            for ax in spare:
                ax.axis("off")
            legend = spare[0].legend(handles, labels, loc="center", ncols=1, fontsize=8, frameon=False)
        else:
            legend = fig.legend(handles, labels, loc="outside lower center", ncols=3, fontsize=8)
        _caption(fig, legend, note)
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
        fig = Figure(figsize=(5.4, 4.0), layout="constrained")
        ax = fig.add_subplot()
        last = 0
        for run in runs:
            manual, autograd = _numpy(run["manual"]), _numpy(run["autograd"])
            steps = np.arange(len(manual))
            above = np.flatnonzero(manual > floor) if floor is not None else steps
            last = max(last, int(above[-1]) if above.size else 0, 1)
            with np.errstate(divide="ignore"):
                ax.plot(steps, np.where(manual > 0, manual, np.nan), color=run["color"], linewidth=1.4,
                        label=f"{run['label']}: measured ×{run['measured']:.4f} per step"
                        if run.get("measured") is not None else run["label"], zorder=3)
            every = max(1, len(steps) // 40)
            ax.plot(steps[::every], np.where(autograd > 0, autograd, np.nan)[::every], color=run["color"],
                    marker="x", markersize=4, linestyle="none", zorder=4)
            if run.get("fit") is not None:
                first, stop = run["fit"]
                ax.plot(steps[first:stop + 1], manual[first:stop + 1], color=run["color"], linewidth=4.0,
                        alpha=0.45, solid_capstyle="butt", zorder=2)
            if run.get("theory") is not None:
                anchor = run.get("anchor", 0)
                with np.errstate(over="ignore", under="ignore"):
                    line = manual[anchor] * np.power(float(run["theory"]), steps - anchor)
                # Dark, on top: where measurement and theory agree the dashes run along the coloured line.
                ax.plot(steps, line, color="0.1", linestyle=(0, (4, 3)), linewidth=1.0, zorder=5,
                        label=f"theory: ×{run['theory']:.4f} per step")
        shown = min(len(manual) - 1, int(1.15 * last) + 2)
        ax.set_xlim(0, shown)
        ax.set_yscale("log")
        values = np.concatenate([_numpy(run["manual"])[:shown + 1] for run in runs])
        values = values[np.isfinite(values) & (values > 0)]
        low = max(values.min(), floor / 30) if floor is not None and values.size else None
        if values.size:
            ax.set_ylim(low / 3 if low else None, values.max() * 3)
        if floor is not None and floor > ax.get_ylim()[0]:    # a short run may stop well above the noise
            ax.axhspan(ax.get_ylim()[0], floor, color="0.85", zorder=0)
            ax.text(0.98, floor, "rounding noise", transform=ax.get_yaxis_transform(), ha="right", va="top",
                    fontsize=8, color="0.3")
        ax.set_xlabel("step")
        _integer_steps(ax)
        ax.set_ylabel("distance to the minimum ‖θ − θ*‖ (log scale)")
        ax.set_title(title)
        handles, labels = ax.get_legend_handles_labels()
        from matplotlib.lines import Line2D

        handles += [Line2D([], [], color="0.3", linewidth=4.0, alpha=0.45),
                    Line2D([], [], color="0.3", marker="x", markersize=4, linestyle="none")]
        labels += ["steps the rate was fitted over", "x: autograd (on the manual line)"]
        legend = fig.legend(handles, labels, loc="outside lower center", ncols=2, fontsize=8)
        _caption(fig, legend, note)
    return fig


def loss_curve_panels(panels: Sequence[dict], *, note: str | None = None) -> Figure:
    """Groups of runs' loss curves, one panel per group, sharing a log loss axis.

    Each panel is a dict with keys title and runs: a dict label -> (History,
    colour). The manual twin is the line and autograd the crosses on it; a
    diverged run ends in its X (see ``_mark_divergence``). ``note``: a caption
    line under the legend.
    """
    with house_style():
        fig = Figure(figsize=(3.6 * len(panels) + 0.4, 3.6), layout="constrained")
        axes = np.atleast_1d(fig.subplots(1, len(panels), sharey=True))
        curves = []
        for ax, panel in zip(axes, panels):
            last_step = max((len(h.loss_manual) - 1 for h, _ in panel["runs"].values()), default=0)
            for label, (history, color) in panel["runs"].items():
                _draw_run_losses(ax, history, label=label, color=color, last_step=last_step, curves=curves)
            ax.plot([], [], color="0.3", marker="x", markersize=4.5, label="line: manual, x: autograd")
            ax.set_yscale("log")
            ax.set_xlabel("step")
            _integer_steps(ax)
            ax.set_title(panel["title"])
            ax.legend(loc="upper right", fontsize=7.5)
        _readable_log_range(axes[0], *curves)
        axes[0].set_ylabel("training loss (log scale)")
        if note:
            fig.text(0.5, 0.0, note, ha="center", va="top", fontsize=8.5, transform=fig.transFigure)
    return fig


# --------------------------------------------------------------------------
# Lesson 06 · Stochastic gradient descent: noisy paths on one landscape,
# per-step against per-epoch losses, the mini-batch gradient's variance
# --------------------------------------------------------------------------

def _draw_long_twin_paths(ax, manual_path: np.ndarray, autograd_path: np.ndarray) -> None:
    """Both twins' paths in the house style, start and end marked; the markers of a long path are smaller.

    A path of hundreds of steps drawn with full-size circles would be one
    blot: from 100 points on, the circles and crosses shrink, and where the
    path wanders the points form a cloud whose density shows.
    """
    small = len(manual_path) > 100
    ax.plot(manual_path[:, 0], manual_path[:, 1], color=MANUAL["color"], marker="o",
            markersize=3.2 if small else 5.5, markeredgecolor="white", markeredgewidth=0.3 if small else 0.6,
            linewidth=0.6 if small else 1.3, label=MANUAL["label"], zorder=4)
    ax.plot(autograd_path[:, 0], autograd_path[:, 1], color=AUTOGRAD["color"], marker="x",
            markersize=1.8 if small else 3.2, markeredgewidth=0.6 if small else 1.1, linestyle="none",
            label=AUTOGRAD["label"], zorder=5)
    _mark_ends(ax, manual_path)


def sgd_paths(alphas, betas, Z, panels: Sequence[dict], *, xlabel: str, ylabel: str, minimum: Sequence[float],
              zoom=None, title: str = "", note: str | None = None) -> Figure:
    """The same exact loss contour once per run, each panel with that run's descent path.

    alphas (A,), betas (B,), Z (B, A): the loss over one window shared by
    every panel (Z[i, j] at alphas[j], betas[i]), so the panels compare.
    Each panel is a dict with keys title, manual_path, autograd_path (T, 2)
    and optionally ``diverged_at`` (the step where that run diverged, if it
    did: drawn as ``_draw_twin_paths`` draws it), ``last`` (how many points
    the run's last epoch holds) and ``radius`` (their root-mean-square
    distance from ``minimum``). A panel with ``last`` gets an inset: ``zoom`` = (alphas, betas, Z), a finer grid around
    the minimum, the same for every inset so that their scales compare, with
    the last epoch's points and a dashed circle of that radius around the
    minimum, the "ball" a noisy run wanders in. Equal aspect everywhere, so a
    circle is round. ``note``: a caption line under the legend.
    """
    from matplotlib.patches import Circle

    alphas, betas, z = _numpy(alphas), _numpy(betas), _numpy(Z)
    levels = _log_levels(z, count=20)
    norm = LogNorm(levels[0], levels[-1]) if levels is not None else None
    rows = 2 if len(panels) == 4 else 1
    cols = len(panels) // rows
    ball = {"fill": False, "edgecolor": "black", "linestyle": (0, (3, 2)), "linewidth": 1.2, "zorder": 6}
    with house_style():
        fig = Figure(figsize=(7.2, 8.1) if rows == 2 else (3.2 * cols + 1.0, 4.2), layout="constrained")
        axes = np.atleast_1d(fig.subplots(rows, cols, sharex=True, sharey=True)).ravel()
        for index, (ax, panel) in enumerate(zip(axes, panels)):
            if levels is not None:
                filled = _contour(ax, alphas, betas, z, levels, norm)
            else:
                _panel_note(ax, NO_LANDSCAPE)
            manual_path, autograd_path = _numpy(panel["manual_path"]), _numpy(panel["autograd_path"])
            if panel.get("diverged_at") is None:
                _draw_long_twin_paths(ax, manual_path, autograd_path)
            else:       # drawn while inside the window, where it leaves an arrow and the X (house style)
                _draw_twin_paths(ax, manual_path, autograd_path, diverged_at=panel["diverged_at"],
                                 window=((alphas[0], alphas[-1]), (betas[0], betas[-1])))
            ax.plot(*minimum, marker="P", markersize=9, color="white", markeredgecolor="black",
                    linestyle="none", label="minimum (least squares)", zorder=7)
            ax.set_xlim(alphas[0], alphas[-1])
            ax.set_ylim(betas[0], betas[-1])
            ax.set_aspect("equal", adjustable="box")
            ax.set_title(panel["title"])
            if index // cols == rows - 1:
                ax.set_xlabel(xlabel)
            if index % cols == 0:
                ax.set_ylabel(ylabel)
            ax.grid(False)
            if zoom is None or panel.get("last") is None:
                continue
            za, zb, zz = (_numpy(v) for v in zoom)
            inset = ax.inset_axes([0.02, 0.02, 0.47, 0.47])     # the high-loss corner, away from the paths
            if levels is not None:
                inset.contourf(za, zb, zz, levels=levels, norm=norm, cmap=CMAP)
            fine = _log_levels(zz, count=8)
            if fine is not None:
                inset.contour(za, zb, zz, levels=fine, colors="white", linewidths=0.4, alpha=0.6)
            last = panel["last"]
            inset.plot(manual_path[-last:, 0], manual_path[-last:, 1], color=MANUAL["color"], marker="o",
                       markersize=3.4, markeredgecolor="white", markeredgewidth=0.3, linewidth=0.7, zorder=4)
            inset.plot(autograd_path[-last:, 0], autograd_path[-last:, 1], color=AUTOGRAD["color"], marker="x",
                       markersize=2.0, markeredgewidth=0.7, linestyle="none", zorder=5)
            inset.plot(*minimum, marker="+", markersize=7, markeredgewidth=1.0, color="white",
                       linestyle="none", zorder=7)     # thin, so a tiny ball stays visible
            radius = panel.get("radius")
            if radius is not None:
                inset.add_patch(Circle(tuple(minimum), radius, **ball))
                inset.text(0.96, 0.04, f"radius {radius:.2g}", transform=inset.transAxes, ha="right", va="bottom",
                           fontsize=7.5, bbox=TEXT_BOX, zorder=9)
            inset.set_xlim(za[0], za[-1])
            inset.set_ylim(zb[0], zb[-1])
            inset.set_aspect("equal", adjustable="box")
            inset.set_xticks([])
            inset.set_yticks([])
            inset.text(0.04, 0.96, "last epoch, zoomed in", transform=inset.transAxes, ha="left", va="top",
                       fontsize=7.5, bbox=TEXT_BOX, zorder=9)
            inset.set_in_layout(False)     # inside its panel: the layout need not make room for it
            ax.indicate_inset_zoom(inset, edgecolor="black", alpha=0.8)
        if zoom is not None and any(panel.get("radius") is not None for panel in panels):
            axes[0].plot([], [], color="black", linestyle=ball["linestyle"], linewidth=ball["linewidth"],
                         label="last epoch: root-mean-square distance\nfrom the minimum (dashed circle)")
        handles = {}
        for ax in axes:
            for handle, label in zip(*ax.get_legend_handles_labels()):
                handles.setdefault(label, handle)
        legend = fig.legend(list(handles.values()), list(handles), loc="outside lower center", ncols=3, fontsize=8)
        _caption(fig, legend, note)
        if levels is not None:
            _colorbar(fig, filled, list(axes), levels)
        if title:
            fig.suptitle(title, fontsize=10.5)
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
        fig = Figure(figsize=(7.4, 5.8), layout="constrained")
        axes = fig.subplots(2, 2, sharex=True, sharey=True).ravel()
        together = axes[len(runs)] if len(runs) < len(axes) else None
        for ax, color, run in zip(axes, RUN_COLORS, runs):
            history, size, n = run["history"], run["batch_size"], run["n"]
            steps = np.arange(len(history.loss_manual))
            at = steps * size / n
            first = history.loss_manual[0] if history.loss_manual else np.nan
            ax.plot(at, _on_scale(history.loss_manual, first), color=color, linewidth=0.6, alpha=0.55, zorder=2)
            every = max(1, len(steps) // 40)
            ax.plot(at[::every], _on_scale(history.loss_autograd, first)[::every], color=AUTOGRAD["color"],
                    marker="x", markersize=2.5, markeredgewidth=0.6, linestyle="none", alpha=0.7, zorder=3)
            for target in (ax, together):
                if target is None:
                    continue
                epochs = np.arange(len(run["epoch_manual"]))
                target.plot(epochs, _on_scale(run["epoch_manual"], first), color=color, marker="o", markersize=5.5,
                            markeredgecolor="black", markeredgewidth=0.6, linewidth=1.6, zorder=4,
                            label=run["label"] if target is together else None)
                target.plot(epochs, _on_scale(run["epoch_autograd"], first), color=AUTOGRAD["color"], marker="x",
                            markersize=3.2, markeredgewidth=1.1, linestyle="none", zorder=5)
            ax.set_title(run["label"])
        if together is not None:
            together.set_title("the loss on all the data, every run")
            together.legend(loc="lower left", fontsize=8)
        for ax in axes:
            ax.set_yscale("log")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        for ax in axes[-2:]:
            ax.set_xlabel("epoch (passes through the data)")
        for ax in axes[::2]:
            ax.set_ylabel("loss (log scale)")
        handles = [Line2D([], [], color="0.35", linewidth=0.6, alpha=0.7),
                   Line2D([], [], color="0.35", marker="o", markersize=5.5, markeredgecolor="black",
                          markeredgewidth=0.6, linewidth=1.6),
                   Line2D([], [], color=AUTOGRAD["color"], marker="x", markersize=3.2, markeredgewidth=1.1,
                          linestyle="none")]
        labels = ["loss on the step's mini-batch (hand-written twin)",
                  "loss on all the data after each epoch (hand-written twin)",
                  "the same two, autograd twin"]
        legend = fig.legend(handles, labels, loc="outside lower center", ncols=2, fontsize=8)
        _caption(fig, legend, note, title)
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
    sizes, values, errors = _numpy(batch_sizes), _numpy(measured), _numpy(standard_error)
    positive = values > 1e-20 * sigma2      # below that: zero, or the rounding of a zero (on some devices)
    low = values[positive].min() / 40 if positive.any() else sigma2 / n / 10
    high = sigma2 * 2.2
    curve_b = np.geomspace(1, n, 400)
    with np.errstate(divide="ignore"):
        theory = sigma2 / curve_b * (n - curve_b) / (n - 1)
    with house_style():
        fig = Figure(figsize=(5.2, 3.9), layout="constrained")
        ax = fig.add_subplot()
        ax.plot(curve_b, sigma2 / curve_b, color="0.45", linestyle=":", linewidth=1.3,
                label="σ²/B (batches drawn with replacement)")
        ax.plot(curve_b, np.where(theory > 0, theory, low / 10), color="0.1", linewidth=1.4,
                label="theory σ²/B · (N − B)/(N − 1) (without replacement)")
        ax.errorbar(sizes[positive], values[positive], yerr=2 * errors[positive], color=MANUAL["color"],
                    marker="o", markersize=6, markeredgecolor="white", markeredgewidth=0.6, linestyle="none",
                    elinewidth=1.2, capsize=3, zorder=4,
                    label="measured (bars: ± 2 standard errors, most of them hidden by the dots)")
        for size, value in zip(sizes[~positive], values[~positive]):
            ax.annotate("", xy=(size, low), xytext=(size, low * 6),
                        arrowprops={"arrowstyle": "-|>", "color": MANUAL["color"], "lw": 1.4})
            text = "exactly 0" if value == 0 else f"{value:.0e} (rounding)"
            ax.annotate(f"B = N = {size:g}: measured\n{text}, below\nany log axis", (size, low * 2.5),
                        textcoords="offset points", xytext=(-8, 0), ha="right", va="center", fontsize=8.5,
                        bbox=TEXT_BOX)
        ax.axhline(sigma2, color="0.6", linewidth=0.8, zorder=1)
        ax.annotate(f"σ² = {sigma2:.3g} (one example)", (1, sigma2), textcoords="offset points", xytext=(4, 4),
                    fontsize=8.5)
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
        legend = fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncols=1, fontsize=8)
        _caption(fig, legend, note)
    return fig


# --------------------------------------------------------------------------
# Lesson 05 · A hidden layer: planes through 354 dimensions, honestly coloured;
# training and validation loss
# --------------------------------------------------------------------------

def _plane_panel_data(panel: dict, losses: np.ndarray, diverged_at: int | None) -> dict:
    """A panel of ``path_on_plane`` as arrays, with its window and how many leading points it shows."""
    data = {key: _numpy(panel[key]) for key in ("alphas", "betas", "Z", "manual_path", "autograd_path")}
    data.update({key: panel.get(key) for key in ("xlabel", "ylabel", "title", "note")})
    data["window"] = ((data["alphas"][0], data["alphas"][-1]), (data["betas"][0], data["betas"][-1]))
    manual_path = data["manual_path"]
    shown = len(manual_path) if diverged_at is None else _inside(manual_path, data["window"])
    data["shown"] = min(shown, len(losses))
    data["losses"] = losses
    return data


def _draw_plane_panel(ax, data: dict, levels, norm, diverged_at: int | None):
    """One plane of ``path_on_plane``: contours, both paths, circles filled with the true loss.

    Returns the filled contour set (None when no loss in the window is finite)."""
    filled = None
    if levels is not None and np.isfinite(data["Z"]).any():
        filled = _contour(ax, data["alphas"], data["betas"], data["Z"], levels, norm)
    head = _draw_twin_paths(ax, data["manual_path"], data["autograd_path"], diverged_at=diverged_at,
                            window=data["window"], thin=True)
    # The fill goes into exactly the circles the house style drew (it may mark only every few steps).
    (line,) = [line for line in ax.get_lines() if line.get_label() == MANUAL["label"]]
    marked = _marked_points(line, data["shown"])
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
        _panel_note(ax, "\n".join(notes), avoid=head)
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


def train_validation_losses(history: History, validation_manual, validation_autograd, *, title: str = "",
                            caption: str | None = None) -> Figure:
    """The loss on the training data and on held-out data at every step, both twins, log scale.

    history: the training run (its ``path_losses()`` are the training curve,
    with the divergence marked if it diverged); validation_manual, validation_autograd:
    (T,) the loss on held-out data at every point of each twin's path
    (T = steps + 1). Solid lines: training; dashed: validation. The
    hand-written twin is the line, autograd the crosses on it (they
    coincide). The lowest validation loss is marked if it came before the
    end: past it the network still improved on the data it learns from,
    and got worse on new data.
    """
    manual_val, autograd_val = _numpy(validation_manual), _numpy(validation_autograd)
    first = manual_val[0] if manual_val.size else np.nan
    manual_val, autograd_val = _on_scale(manual_val, first), _on_scale(autograd_val, first)
    steps = np.arange(len(manual_val))
    if not history.diverged:     # the training loss at every point of the path too, the last one included
        from dataclasses import replace

        history = replace(history, **dict(zip(("loss_manual", "loss_autograd"), history.path_losses())))
    with house_style():
        fig = Figure(figsize=(5.2, 3.8), layout="constrained")
        ax = fig.add_subplot()
        _draw_loss_curves(ax, history)
        lone = {"marker": "o", "markersize": 4} if np.isfinite(manual_val).sum() == 1 else {}
        ax.plot(steps, manual_val, color=MANUAL["color"], linestyle="--", **lone)
        every = max(1, len(steps) // 25)
        ax.plot(steps[::every], autograd_val[::every], color=AUTOGRAD["color"], marker="x", markersize=5,
                linestyle="none")
        best = int(np.nanargmin(manual_val)) if np.isfinite(manual_val).sum() > 1 else len(manual_val) - 1
        if best < len(manual_val) - 1:     # a turning point: the held-out loss rose after it
            ax.plot(best, manual_val[best], marker="v", markersize=9, color="none", markeredgecolor="black",
                    linestyle="none", zorder=6, label=f"lowest held-out loss, {manual_val[best]:.3g} "
                                                        f"(step {best})")
        train_manual = _on_scale(history.loss_manual, history.loss_manual[0] if history.loss_manual else np.nan)
        _readable_log_range(ax, train_manual, manual_val)
        _round_log_axis(ax)
        from matplotlib.lines import Line2D

        handles, labels = ax.get_legend_handles_labels()
        handles += [Line2D([], [], color="0.3"), Line2D([], [], color="0.3", linestyle="--")]
        labels += ["training data", "held-out data"]
        ax.set_ylabel("loss (log scale)")
        ax.set_title(title)
        legend = fig.legend(handles, labels, loc="outside lower center", ncols=2, fontsize=8)
        if caption:
            legend.set_title(caption, prop={"size": 8.5})
    return fig


# --------------------------------------------------------------------------
# Lesson 08 · Initialisation: each layer's activations per starting point,
# the gradient's spread against depth, the loss curves from each start
# --------------------------------------------------------------------------

def _layer_colors(count: int) -> list:
    """Dark (the first layer) to light (the deepest), from the house colour map, stopping short of its
    pale yellow end so that every line stays visible on white."""
    from matplotlib import colormaps

    return [colormaps[CMAP](v) for v in np.linspace(0.0, 0.8, count)]


def _two_digits(value: float) -> str:
    """Two significant digits: 0.71, 0.0094, 3.4e-15, 3.4e+05."""
    return f"{value:.2g}"


def activation_histograms(values: dict[str, dict[str, Sequence]], layers: Sequence[int], *,
                          log_columns: Sequence[str] = (), bins: int = 51, title: str = "",
                          note: str | None = None) -> Figure:
    """How each hidden layer's activations are spread: one row per starting point, one column per activation.

    values[row][column]: the activations of hidden layers 1, 2, ... (tensors or
    arrays of any shape, layer 1 first). ``layers``: the hidden layers to draw
    (counted from 1), overlaid in each panel as outlined histograms, dark for
    the first and light for the deepest. The y axis is the fraction of the
    layer's values that falls into each bin, so the layers compare.

    Every panel of a column uses the same bins. A plain column gets linear
    bins over its largest |value| either side of 0 (tanh: nearly [-1, 1];
    an odd number of bins puts 0 in the middle of one);
    a column named in ``log_columns`` (ReLU: values >= 0 across many
    decades) gets log-spaced bins over its positive values, and the exact
    zeros, which a log axis cannot show, are counted in the panel's title.
    Each title also gives the standard deviation of the first and the last
    layer drawn.
    """
    from matplotlib.lines import Line2D

    rows = list(values)
    columns = list(values[rows[0]])
    colors = _layer_colors(len(layers))
    edges = {}
    for column in columns:
        drawn = np.concatenate([_numpy(values[row][column][k - 1]).ravel() for row in rows for k in layers])
        drawn = drawn[np.isfinite(drawn)]
        if column in log_columns:
            positive = drawn[drawn > 0]
            low, high = (positive.min(), positive.max()) if positive.size else (1e-3, 1.0)
            edges[column] = np.geomspace(low, high * (1 + 1e-9), bins + 1)
        else:
            reach = np.abs(drawn).max() if drawn.size else 1.0
            reach = reach if reach > 0 else 1.0
            edges[column] = np.linspace(-reach, reach, bins + 1)
    with house_style():
        fig = Figure(figsize=(7.0, 1.75 * len(rows) + 1.0), layout="constrained")
        axes = np.atleast_2d(fig.subplots(len(rows), len(columns), sharex="col", squeeze=False))
        for i, row in enumerate(rows):
            for j, column in enumerate(columns):
                ax = axes[i, j]
                log = column in log_columns
                for color, k in zip(colors, layers):
                    h = _numpy(values[row][column][k - 1]).ravel()
                    counts, _ = np.histogram(h, edges[column])
                    fraction = counts / max(h.size, 1)
                    ax.stairs(fraction, edges[column], color=color, linewidth=1.3, zorder=3)
                    ax.stairs(fraction, edges[column], color=color, fill=True, alpha=0.12, zorder=2)
                first = _numpy(values[row][column][layers[0] - 1])
                last = _numpy(values[row][column][layers[-1] - 1])
                text = f"{column}: std {_two_digits(first.std())} → {_two_digits(last.std())}"
                if log:
                    everything = np.concatenate([_numpy(values[row][column][k - 1]).ravel() for k in layers])
                    text += f", {np.mean(everything == 0):.0%} exact zeros (not drawn)"
                ax.set_title(text, fontsize=8.5, loc="left")
                if log:
                    ax.set_xscale("log")
                ax.set_ylim(bottom=0)
                ax.yaxis.set_major_locator(MaxNLocator(nbins=3))
                if j == 0:
                    ax.set_ylabel(f"{row}\nfraction per bin", fontsize=9)
                if i == len(rows) - 1:
                    ax.set_xlabel(f"activation ({column})" + (", log scale" if log else ""))
        handles = [Line2D([], [], color=color, linewidth=2) for color in colors]
        legend = fig.legend(handles, [f"hidden layer {k}" for k in layers], loc="outside lower center",
                            ncols=len(layers), fontsize=8)
        _caption(fig, legend, note, title)
    return fig


def gradient_flow(curves: dict[str, dict[str, dict]], *, title: str = "", note: str | None = None) -> Figure:
    """The spread of the gradient at every depth, at the start of training: one panel per activation.

    curves[column][scheme] is a dict with ``color`` and four arrays over the
    Linear layers 1 .. L (1 is next to the input): ``input_manual``,
    ``input_autograd`` (the standard deviation of dL/d(the layer's input);
    layer 1's input is the data) and ``weight_manual``, ``weight_autograd``
    (of dL/dW). Top row the former, bottom row the latter, log scales shared
    along each row. The hand-written twin is the line with circles, autograd
    the crosses on it. A scheme whose gradients are all exactly 0 cannot sit
    on a log axis and is left out (say so in ``note``).
    """
    from matplotlib.lines import Line2D

    columns = list(curves)
    rows = [("input", "std of dL/d(input of layer ℓ)\n(log scale)"),
            ("weight", "std of dL/dW of layer ℓ\n(log scale)")]
    with house_style():
        fig = Figure(figsize=(7.0, 5.9), layout="constrained")
        axes = fig.subplots(len(rows), len(columns), sharex=True, sharey="row", squeeze=False)
        handles = {}
        for j, column in enumerate(columns):
            for i, (key, ylabel) in enumerate(rows):
                ax = axes[i, j]
                for scheme, curve in curves[column].items():
                    manual_values = _numpy(curve[f"{key}_manual"])
                    autograd_values = _numpy(curve[f"{key}_autograd"])
                    if not (manual_values > 0).any():
                        continue
                    layer = np.arange(1, len(manual_values) + 1)
                    with np.errstate(invalid="ignore"):
                        manual_values = np.where(manual_values > 0, manual_values, np.nan)
                        autograd_values = np.where(autograd_values > 0, autograd_values, np.nan)
                    line, = ax.plot(layer, manual_values, color=curve["color"], marker="o", markersize=5,
                                    markeredgecolor="white", markeredgewidth=0.5, zorder=3)
                    ax.plot(layer, autograd_values, color="black", marker="x", markersize=3.5,
                            markeredgewidth=0.9, linestyle="none", zorder=4)
                    handles.setdefault(scheme, line)
                ax.set_yscale("log")
                ax.xaxis.set_major_locator(MaxNLocator(integer=True))
                if i == 0:
                    ax.set_title(column)
                if i == len(rows) - 1:
                    ax.set_xlabel("Linear layer ℓ (1 = next to the input)")
                if j == 0:
                    ax.set_ylabel(ylabel)
        labels = list(handles)
        lines = list(handles.values())
        lines.append(Line2D([], [], color="0.5", marker="o", markersize=5, markeredgecolor="white"))
        labels.append("line and circles: manual")
        lines.append(Line2D([], [], color="black", marker="x", markersize=3.5, linestyle="none"))
        labels.append("x: autograd")
        legend = fig.legend(lines, labels, loc="outside lower center", ncols=4, fontsize=8)
        _caption(fig, legend, note, title)
    return fig


def init_loss_curves(panels: Sequence[dict], *, reference: tuple[float, str] | None = None,
                     note: str | None = None) -> Figure:
    """The training loss from several starting points, one panel per group, on a shared log axis.

    Each panel is a dict with keys title and runs: a dict label -> dict with
    ``history`` and ``color`` and optionally ``linewidth``, ``alpha`` (a
    wide, pale line keeps a run visible under another that lies exactly on
    it) and ``linestyle``. The hand-written twin is the line, autograd the crosses on it; a
    diverged run ends in its X. ``reference``: (loss, label), drawn as a
    dotted line in every panel (e.g. ln 2, the loss of guessing).
    """
    from matplotlib.lines import Line2D

    with house_style():
        fig = Figure(figsize=(7.0, 3.7), layout="constrained")
        axes = np.atleast_1d(fig.subplots(1, len(panels), sharey=True))
        curves = []
        for ax, panel in zip(axes, panels):
            last_step = max((len(run["history"].loss_manual) - 1 for run in panel["runs"].values()), default=0)
            if reference is not None:
                ax.axhline(reference[0], color="0.4", linestyle=":", linewidth=1.1, zorder=1)
            for label, run in panel["runs"].items():
                line_style = {"linewidth": run.get("linewidth", 1.6), "alpha": run.get("alpha", 1.0),
                              "linestyle": run.get("linestyle", "-"), "zorder": 2}
                _draw_run_losses(ax, run["history"], label=label, color=run["color"], last_step=last_step,
                                 curves=curves, line_style=line_style, crosses=16, cross_style={"zorder": 3})
            ax.set_yscale("log")
            ax.set_xlabel("step")
            _integer_steps(ax)
            ax.set_title(panel["title"])
        _readable_log_range(axes[0], *curves)
        _round_log_axis(axes[0])
        axes[0].set_ylabel("training loss (log scale)")
        handles = {}
        for ax in axes:
            for handle, label in zip(*ax.get_legend_handles_labels()):
                handles.setdefault(label, handle)
        if reference is not None:
            handles[reference[1]] = Line2D([], [], color="0.4", linestyle=":", linewidth=1.1)
        handles["line: manual, x: autograd"] = Line2D([], [], color="0.3", marker="x", markersize=4.5)
        legend = fig.legend(list(handles.values()), list(handles), loc="outside lower center", ncols=3, fontsize=8)
        _caption(fig, legend, note)
    return fig
