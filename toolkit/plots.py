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
                     diverged_at: int | None = None, window=None) -> np.ndarray | None:
    """Both twins' paths, the start and the end marked.

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
    # Autograd's small crosses sit on the manual circles: when the twins agree they coincide.
    ax.plot(manual_path[:, 0], manual_path[:, 1], color=MANUAL["color"], marker="o", markersize=4.5,
            markerfacecolor="none", linewidth=1.2, label=MANUAL["label"], zorder=4)
    ax.plot(autograd_path[:, 0], autograd_path[:, 1], color=AUTOGRAD["color"], marker="x", markersize=3.5,
            linestyle="none", label=AUTOGRAD["label"], zorder=5)
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


def _mark_exit(ax, path: np.ndarray, shown: int, diverged_at: int, window) -> np.ndarray:
    """The X of a diverged path: where it leaves the window (with an arrow), or its last point.

    Returns the X's position."""
    last = path[shown - 1]
    head = _exit_point(last, path[shown], window) if shown < len(path) else None
    if head is not None:
        ax.annotate("", xy=head, xytext=last, zorder=6,
                    arrowprops={"arrowstyle": "-|>", "color": MANUAL["color"], "lw": 1.3, "linestyle": "--",
                                "shrinkA": 0, "shrinkB": 7})
    else:
        head = last
    ax.plot(*head, marker="X", markersize=10, color="black", markeredgecolor="white", linestyle="none",
            label="diverged", zorder=7, clip_on=False)
    if shown < diverged_at:
        text = f"off the plot at step {shown}\n(diverged at step {diverged_at})"
    else:
        text = f"diverged\n(step {diverged_at})"
    (x0, x1), (y0, y1) = (sorted(limits) for limits in window)
    right, up = head[0] > (x0 + x1) / 2, head[1] > (y0 + y1) / 2
    ax.annotate(text, head, textcoords="offset points", xytext=(-9 if right else 9, -9 if up else 9),
                ha="right" if right else "left", va="top" if up else "bottom", fontsize=8.5, zorder=8,
                bbox=TEXT_BOX)
    return head


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


def loss_curves(history: History, title: str = "Training loss") -> Figure:
    """Both twins' loss per step on a log scale (the curves lie on top of each other)."""
    with house_style():
        fig = Figure(figsize=(4.6, 3.3), layout="constrained")
        ax = fig.add_subplot()
        _draw_loss_curves(ax, history)
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


def _mark_divergence(ax, history: History, color: str, last_step: int | None = None) -> bool:
    """The X where a run diverged; True if its loss was off the scale (then the X sits at the top).

    last_step: the largest step on the axis (default: this run's), to keep the text inside.
    """
    step = history.diverged_at_step
    first = history.loss_manual[0]
    shown = _on_scale(history.loss_manual, first)
    if np.isfinite(shown[step]):
        y = shown[step]
        ax.plot(step, y, marker="X", markersize=10, color=color, markeredgecolor="black", linestyle="none",
                zorder=6)
        ax.annotate(f"diverged\n(step {step})", (step, y), textcoords="offset points", xytext=(-6, -4),
                    ha="right", va="top", fontsize=8.5)
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
                   diverged_at: int | None = None) -> Figure:
    """A one-parameter loss curve L(w) with the descent steps drawn on it.

    weights, losses: the curve, shape (G,). *_path: w at every step, (T,);
    *_losses: L at those w, (T,). diverged_at: the step where the run
    diverged, if it did; its path is then drawn until it leaves the curve's
    window (to huge values, inf or NaN), and where it went is marked.
    """
    weights, losses = _numpy(weights), _numpy(losses)
    manual_pts = np.column_stack([_numpy(manual_path), _numpy(manual_losses)])
    autograd_pts = np.column_stack([_numpy(autograd_path), _numpy(autograd_losses)])
    finite = losses[np.isfinite(losses)]
    top = float(finite.max()) * 1.45 if finite.size else 1.0
    window = ((weights.min(), weights.max()), (0.0, top))
    shown = len(manual_pts) if diverged_at is None else _inside(manual_pts, window)
    with house_style():
        fig = Figure(figsize=(4.6, 3.4), layout="constrained")
        ax = fig.add_subplot()
        ax.plot(weights, losses, color="0.25", linewidth=1.4, label="loss L(w)", zorder=2)
        if best is not None:
            ax.axvline(best, color="0.45", linestyle=":", linewidth=1.1, label=f"minimum, w = {best:.3f}")
        _draw_twin_paths(ax, manual_pts, autograd_pts, diverged_at=diverged_at, window=window)
        drawn = manual_pts[:shown]
        for a, b in zip(drawn[:4], drawn[1:5]):   # arrows for the first steps show the direction
            ax.annotate("", xy=b, xytext=a, arrowprops={"arrowstyle": "->", "color": MANUAL["color"], "lw": 1.0})
        ax.set_xlabel(xlabel)
        ax.set_ylabel("loss L(w)")
        ax.set_title(title)
        if diverged_at is None:
            ax.legend(loc="upper center", ncols=2, fontsize=8)
        else:   # the path leaves through the top: the legend goes below the axes
            fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncols=3, fontsize=8)
        ax.set_ylim(bottom=0, top=top)
    return fig


def _colorbar(fig, filled, axes, levels) -> None:
    # A handful of round tick values reads better than every contour level.
    ticks = levels[::max(1, len(levels) // 5)]
    colorbar = fig.colorbar(filled, ax=axes, shrink=0.95, ticks=ticks, format="%.3g")
    colorbar.ax.minorticks_off()
    colorbar.set_label("loss (log scale)")


def _contour(ax, alphas, betas, z, levels, norm):
    filled = ax.contourf(alphas, betas, z, levels=levels, norm=norm, cmap=CMAP, extend="both")
    ax.contour(alphas, betas, z, levels=levels[::2], colors="white", linewidths=0.4, alpha=0.6)
    return filled


NO_LANDSCAPE = "the loss is not a finite number\nanywhere in this window"


def contour_with_paths(alphas, betas, Z, manual_path, autograd_path, *, xlabel: str, ylabel: str,
                       title: str = "", minimum: Sequence[float] | None = None, note: str | None = None,
                       diverged_at: int | None = None) -> Figure:
    """Filled loss contours (log-spaced levels) with both twins' descent paths.

    alphas: (A,), betas: (B,), Z: (B, A) with Z[i, j] the loss at (alphas[j], betas[i]).
    *_path: (T, 2) coordinates of the parameters at every step. diverged_at:
    the step where the run diverged, if it did (see ``_draw_twin_paths``).
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
        _draw_twin_paths(ax, manual_path, autograd_path, diverged_at=diverged_at, window=window)
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


def learning_rate_panels(panels: Sequence[dict], *, xlabel: str, ylabel: str, minimum=None) -> Figure:
    """One contour panel per learning rate, sharing one colour scale.

    Each panel is a dict with keys title, alphas, betas, Z, manual_path, autograd_path.
    """
    all_z = np.concatenate([_numpy(p["Z"]).ravel() for p in panels])
    levels = _log_levels(all_z, count=20)
    norm = LogNorm(levels[0], levels[-1]) if levels is not None else None
    with house_style():
        fig = Figure(figsize=(7.6, 6.6), layout="constrained")
        axes = fig.subplots(2, 2).ravel()
        for ax, panel in zip(axes, panels):
            alphas, betas = _numpy(panel["alphas"]), _numpy(panel["betas"])
            if levels is not None:
                filled = _contour(ax, alphas, betas, _numpy(panel["Z"]), levels, norm)
            else:
                _panel_note(ax, NO_LANDSCAPE)
            _draw_twin_paths(ax, _numpy(panel["manual_path"]), _numpy(panel["autograd_path"]))
            if minimum is not None:
                ax.plot(*minimum, marker="P", markersize=8, color="white", markeredgecolor="black",
                        linestyle="none", label="minimum", zorder=6)
            ax.set_xlim(alphas[0], alphas[-1])
            ax.set_ylim(betas[0], betas[-1])
            ax.set_title(panel["title"])
            ax.set_xlabel(xlabel)
            ax.set_ylabel(ylabel)
            ax.grid(False)
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncols=len(labels), fontsize=8.5)
        if levels is not None:
            _colorbar(fig, filled, list(axes), levels)
    return fig


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
            steps = np.arange(len(history.loss_manual))
            first = history.loss_manual[0] if history.loss_manual else np.nan
            manual_loss = _on_scale(history.loss_manual, first)
            autograd_loss = _on_scale(history.loss_autograd, first)
            curves += [manual_loss, autograd_loss]
            lone = {"marker": "o", "markersize": 4} if np.isfinite(manual_loss).sum() == 1 else {}
            ax.plot(steps, manual_loss, color=color, label=label, **lone)
            every = max(1, len(steps) // 20)
            ax.plot(steps[::every], autograd_loss[::every], color=color,
                    marker="x", markersize=4.5, linestyle="none")
            if history.diverged:
                off_scale |= _mark_divergence(ax, history, color=color, last_step=last_step)
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
                  xlabel: str, ylabel: str, title: str = "", note: str | None = None) -> Figure:
    """Left: the loss on a plane through parameter space with the projected paths.
    Right: the loss the twins actually saw at every step.

    Beside a projected path the true loss curve is needed: the path leaves
    the plane, so the contour under a point is not exactly its loss. A
    diverged run's projected path may hold huge values, inf or NaN: it is
    drawn while it stays in the window (see ``_draw_twin_paths``). ``note``:
    a short remark shown inside the left panel.
    """
    alphas, betas, z = _numpy(alphas), _numpy(betas), _numpy(Z)
    window = ((alphas[0], alphas[-1]), (betas[0], betas[-1]))
    with house_style():
        fig = Figure(figsize=(8.6, 3.7), layout="constrained")
        fig.get_layout_engine().set(wspace=0.08)     # room between the colour bar and the second panel
        left, right = fig.subplots(1, 2, width_ratios=[1.25, 1])
        levels = _log_levels(z)
        if levels is not None:
            filled = _contour(left, alphas, betas, z, levels, LogNorm(levels[0], levels[-1]))
        head = _draw_twin_paths(left, _numpy(manual_path), _numpy(autograd_path),
                                diverged_at=history.diverged_at_step if history.diverged else None, window=window)
        if levels is not None:
            _colorbar(fig, filled, left, levels)
        left.set_xlim(alphas[0], alphas[-1])
        left.set_ylim(betas[0], betas[-1])
        notes = [text for text in (note, None if levels is not None else NO_LANDSCAPE) if text]
        if notes:
            _panel_note(left, "\n".join(notes), avoid=head)
        left.set_xlabel(xlabel)
        left.set_ylabel(ylabel)
        left.set_title(title)
        left.grid(False)

        _draw_loss_curves(right, history)
        right.set_ylabel("training loss")
        right.set_title("The loss along the true path")
        fig.legend(*left.get_legend_handles_labels(), loc="outside lower center", ncols=4, fontsize=8)
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
