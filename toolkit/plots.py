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

from toolkit.train import History

# The twins, in every figure.
MANUAL = {"color": "#0072B2", "marker": "o", "label": "manual (hand-written)"}
AUTOGRAD = {"color": "#D55E00", "marker": "x", "label": "autograd (torch.nn)"}
# Other colours from the same colour-blind-safe palette, for several runs at once.
RUN_COLORS = ["#56B4E9", "#009E73", "#E69F00", "#CC79A7", "#000000"]
CMAP = "viridis"

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


def _log_levels(z: np.ndarray, count: int = 18) -> np.ndarray:
    finite = z[np.isfinite(z) & (z > 0)]
    low, high = finite.min(), finite.max()
    if high <= low * 1.0001:
        high = low * 1.01
    return np.geomspace(low, high, count)


def _mark_ends(ax, points: np.ndarray, zorder: int = 6) -> None:
    """Square at the start, star at the end: the same in every figure."""
    ax.plot(*points[0], marker="s", markersize=8, color="white", markeredgecolor="black",
            linestyle="none", label="start", zorder=zorder)
    ax.plot(*points[-1], marker="*", markersize=13, color="#F0E442", markeredgecolor="black",
            linestyle="none", label="end", zorder=zorder)


def _draw_twin_paths(ax, manual_path: np.ndarray, autograd_path: np.ndarray) -> None:
    # Autograd's small crosses sit on the manual circles: when the twins agree they coincide.
    ax.plot(manual_path[:, 0], manual_path[:, 1], color=MANUAL["color"], marker="o", markersize=4.5,
            markerfacecolor="none", linewidth=1.2, label=MANUAL["label"], zorder=4)
    ax.plot(autograd_path[:, 0], autograd_path[:, 1], color=AUTOGRAD["color"], marker="x", markersize=3.5,
            linestyle="none", label=AUTOGRAD["label"], zorder=5)
    _mark_ends(ax, manual_path)


def loss_curves(history: History, title: str = "Training loss") -> Figure:
    """Both twins' loss per step on a log scale (the curves lie on top of each other)."""
    with house_style():
        fig = Figure(figsize=(4.6, 3.3), layout="constrained")
        ax = fig.add_subplot()
        _draw_loss_curves(ax, history)
        ax.set_ylabel("loss (log scale)")
        ax.set_title(title)
        ax.legend(loc="upper right")
    return fig


def _draw_loss_curves(ax, history: History) -> None:
    # The manual twin as a line, autograd as crosses on it (every few steps, so both stay visible).
    steps = np.arange(len(history.loss_manual))
    ax.plot(steps, history.loss_manual, color=MANUAL["color"], label=MANUAL["label"])
    every = max(1, len(steps) // 25)
    ax.plot(steps[::every], np.asarray(history.loss_autograd)[::every], color=AUTOGRAD["color"],
            marker="x", markersize=5, linestyle="none", label=AUTOGRAD["label"])
    if history.diverged:
        _mark_divergence(ax, history, color="black")
    ax.set_yscale("log")
    ax.set_xlabel("step")


def _mark_divergence(ax, history: History, color: str) -> None:
    step = history.diverged_at_step
    finite = [v for v in history.loss_manual if np.isfinite(v)]
    y = finite[-1] if finite else 1.0
    ax.plot(step, y, marker="X", markersize=10, color=color, markeredgecolor="black", linestyle="none", zorder=6)
    ax.annotate(f"diverged\n(step {step})", (step, y), textcoords="offset points", xytext=(-6, -4),
                ha="right", va="top", fontsize=8.5)


def loss_vs_weight(weights, losses, manual_path, autograd_path, manual_losses, autograd_losses,
                   best: float | None = None, xlabel: str = "weight w", title: str = "") -> Figure:
    """A one-parameter loss curve L(w) with the descent steps drawn on it.

    weights, losses: the curve, shape (G,). *_path: w at every step, (T,);
    *_losses: L at those w, (T,).
    """
    weights, losses = _numpy(weights), _numpy(losses)
    manual_pts = np.column_stack([_numpy(manual_path), _numpy(manual_losses)])
    autograd_pts = np.column_stack([_numpy(autograd_path), _numpy(autograd_losses)])
    with house_style():
        fig = Figure(figsize=(4.6, 3.4), layout="constrained")
        ax = fig.add_subplot()
        ax.plot(weights, losses, color="0.25", linewidth=1.4, label="loss L(w)", zorder=2)
        if best is not None:
            ax.axvline(best, color="0.45", linestyle=":", linewidth=1.1, label=f"minimum, w = {best:.3f}")
        _draw_twin_paths(ax, manual_pts, autograd_pts)
        for a, b in zip(manual_pts[:4], manual_pts[1:5]):   # arrows for the first steps show the direction
            ax.annotate("", xy=b, xytext=a, arrowprops={"arrowstyle": "->", "color": MANUAL["color"], "lw": 1.0})
        ax.set_xlabel(xlabel)
        ax.set_ylabel("loss L(w)")
        ax.set_title(title)
        ax.legend(loc="upper center", ncols=2, fontsize=8)
        ax.set_ylim(bottom=0, top=float(losses.max()) * 1.45)
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


def contour_with_paths(alphas, betas, Z, manual_path, autograd_path, *, xlabel: str, ylabel: str,
                       title: str = "", minimum: Sequence[float] | None = None, note: str | None = None) -> Figure:
    """Filled loss contours (log-spaced levels) with both twins' descent paths.

    alphas: (A,), betas: (B,), Z: (B, A) with Z[i, j] the loss at (alphas[j], betas[i]).
    *_path: (T, 2) coordinates of the parameters at every step.
    """
    alphas, betas, z = _numpy(alphas), _numpy(betas), _numpy(Z)
    manual_path, autograd_path = _numpy(manual_path), _numpy(autograd_path)
    levels = _log_levels(z)
    with house_style():
        fig = Figure(figsize=(4.8, 3.9), layout="constrained")
        ax = fig.add_subplot()
        filled = _contour(ax, alphas, betas, z, levels, LogNorm(levels[0], levels[-1]))
        _draw_twin_paths(ax, manual_path, autograd_path)
        if minimum is not None:
            ax.plot(*minimum, marker="P", markersize=9, color="white", markeredgecolor="black",
                    linestyle="none", label="minimum", zorder=6)
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


def surface_with_path(alphas, betas, Z, path, path_losses, *, xlabel: str, ylabel: str, title: str = "") -> Figure:
    """The loss as a 3-D surface, the "mountain", with the descent path on it.

    The path is lifted slightly above the surface so the surface never hides it.
    """
    alphas, betas, z = _numpy(alphas), _numpy(betas), _numpy(Z)
    path, path_losses = _numpy(path), _numpy(path_losses)
    lift = 0.02 * (np.nanmax(z) - np.nanmin(z))
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
        ax.plot(*path[-1], path_losses[-1] + lift, marker="*", markersize=12, color="#F0E442",
                markeredgecolor="black", linestyle="none", label="end", zorder=11)
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
    norm = LogNorm(levels[0], levels[-1])
    with house_style():
        fig = Figure(figsize=(7.6, 6.6), layout="constrained")
        axes = fig.subplots(2, 2).ravel()
        for ax, panel in zip(axes, panels):
            alphas, betas = _numpy(panel["alphas"]), _numpy(panel["betas"])
            filled = _contour(ax, alphas, betas, _numpy(panel["Z"]), levels, norm)
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
        _colorbar(fig, filled, list(axes), levels)
    return fig


def loss_curves_by_run(histories: dict[str, History], title: str = "Loss per step") -> Figure:
    """Several runs' loss curves on a log scale; a diverged run ends in a marked X.

    Each run has its own colour; the manual twin is the line and the
    autograd twin the crosses on it.
    """
    with house_style():
        fig = Figure(figsize=(5.2, 3.6), layout="constrained")
        ax = fig.add_subplot()
        for color, (label, history) in zip(RUN_COLORS, histories.items()):
            steps = np.arange(len(history.loss_manual))
            manual_loss = np.asarray(history.loss_manual)
            manual_loss = np.where(np.isfinite(manual_loss), manual_loss, np.nan)
            ax.plot(steps, manual_loss, color=color, label=label)
            every = max(1, len(steps) // 20)
            ax.plot(steps[::every], np.asarray(history.loss_autograd)[::every], color=color,
                    marker="x", markersize=4.5, linestyle="none")
            if history.diverged:
                _mark_divergence(ax, history, color=color)
        ax.plot([], [], color="0.3", label="line: manual, x: autograd")
        ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.set_ylabel("loss (log scale)")
        ax.set_title(title)
        ax.legend(loc="upper left", fontsize=8)
    return fig


def path_on_plane(alphas, betas, Z, manual_path, autograd_path, history: History, *,
                  xlabel: str, ylabel: str, title: str = "") -> Figure:
    """Left: the loss on a plane through parameter space with the projected paths.
    Right: the loss the twins actually saw at every step.

    Beside a projected path the true loss curve is needed: the path leaves
    the plane, so the contour under a point is not exactly its loss.
    """
    alphas, betas, z = _numpy(alphas), _numpy(betas), _numpy(Z)
    levels = _log_levels(z)
    with house_style():
        fig = Figure(figsize=(8.6, 3.7), layout="constrained")
        fig.get_layout_engine().set(wspace=0.08)     # room between the colour bar and the second panel
        left, right = fig.subplots(1, 2, width_ratios=[1.25, 1])
        filled = _contour(left, alphas, betas, z, levels, LogNorm(levels[0], levels[-1]))
        _draw_twin_paths(left, _numpy(manual_path), _numpy(autograd_path))
        _colorbar(fig, filled, left, levels)
        left.set_xlim(alphas[0], alphas[-1])
        left.set_ylim(betas[0], betas[-1])
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
        filled = ax.contourf(grid_a, grid_b, probability, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.85)
        ax.contour(grid_a, grid_b, probability, levels=[0.5], colors="black", linewidths=1.4)
        for label, marker, face, edge in [(0, "o", "white", "black"), (1, "^", "black", "white")]:
            chosen = points[labels == label]
            ax.scatter(chosen[:, 0], chosen[:, 1], marker=marker, s=18, color=face, edgecolors=edge,
                       linewidths=0.6, label=f"class {label}", zorder=3)
        colorbar = fig.colorbar(filled, ax=ax, shrink=0.95, ticks=[0, 0.25, 0.5, 0.75, 1])
        colorbar.set_label("P(class 1)")
        ax.set_xlabel("input x₁")
        ax.set_ylabel("input x₂")
        ax.set_title(title)
        ax.grid(False)
        ax.legend(loc="upper right", fontsize=8, framealpha=0.9)
    return fig
