"""A path through many dimensions seen on a plane, with what the plane hides drawn beside it.

Lessons 04, 05 and 15 draw a network's training path on planes (or slices) through
its parameter space. The path leaves the plane, so the contour under a step is
the loss at the step's projection, not the step's own loss. A panel below the
planes shows both per step: the true loss of the path (the twins) and the
loss each plane reads under it. Where the curves part, the path was off the
plane.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from toolkit.plots import style
from toolkit.plots.shared import (NO_LANDSCAPE, as_array, draw_contour, draw_run_losses, draw_twin_paths, figure_legend,
                                  integer_steps, log_levels, loss_colorbar, merged_handles, panel_note, points_inside,
                                  round_log_axis)
from toolkit.plots.style import house_style
from toolkit.train import History

# How each plane's reading of the path is drawn in the panel below: dashed, dotted, dash-dotted.
PLANE_LINES = ({"color": style.DARK, "linestyle": "--"}, {"color": style.MID, "linestyle": ":"},
               {"color": style.LIGHT, "linestyle": "-."})


def path_on_plane(alphas, betas, Z, manual_path, autograd_path, history: History, *,
                  xlabel: str, ylabel: str, title: str = "", note: str | None = None, path_losses=None,
                  second: dict | None = None, caption: str | None = None, name: str = "plane") -> Figure:
    """The loss on a plane (and optionally a ``second`` one beside it) with the twins' paths; below, the loss per step.

    alphas: (A,), betas: (B,), Z: (B, A) with Z[i, j] the loss at (alphas[j], betas[i]);
    *_path: (T, 2) the path's coordinates in the plane. second: a dict with
    the same keys (alphas, betas, Z, manual_path, autograd_path, xlabel,
    ylabel, title, and optionally note and name), e.g. a random plane through
    the same end point. See ``path_on_planes``.
    """
    first = {"alphas": alphas, "betas": betas, "Z": Z, "manual_path": manual_path, "autograd_path": autograd_path,
             "xlabel": xlabel, "ylabel": ylabel, "title": title, "note": note, "name": name}
    panels = [first] + ([{"name": "second plane", **second}] if second is not None else [])
    return path_on_planes(panels, history, path_losses=path_losses, caption=caption)


def path_on_planes(panels: Sequence[dict], history: History, *, path_losses=None,
                   caption: str | None = None) -> Figure:
    """Planes or slices through parameter space side by side, each with both twins' paths; below, the loss per step.

    Each panel is a dict with keys
        alphas (A,), betas (B,), Z (B, A): the loss on the plane, Z[i, j] at (alphas[j], betas[i]);
        manual_path, autograd_path (T, 2): the path's coordinates in the plane;
        xlabel, ylabel, title; optionally note (a remark inside the panel) and
        name (how the panel below calls it: "PCA plane", "(w1, w2) slice").
    The planes share one colour scale and are drawn at equal aspect (their
    coordinates are distances in parameter space). The panel below draws the
    true loss at every step (``path_losses``, (T,), default
    ``history.path_losses()``; both twins) and, for each plane, the loss read
    off its grid under each step of the path: where the curves part, the path
    was off the plane. A diverged run's projected path may hold huge values,
    inf or NaN: it is drawn while it stays in the window. ``caption``: a line
    under the legend.
    """
    losses = as_array(history.path_losses()[0] if path_losses is None else path_losses)
    diverged_at = history.diverged_at_step if history.diverged else None
    drawn = [_panel_data(panel, diverged_at) for panel in panels]
    levels = log_levels(np.concatenate([d["Z"].ravel() for d in drawn]), count=20)
    norm = LogNorm(levels[0], levels[-1]) if levels is not None else None
    ratios = [abs(d["window"][0][1] - d["window"][0][0]) / abs(d["window"][1][1] - d["window"][1][0]) for d in drawn]
    ratios = [r if np.isfinite(r) and r > 0 else 1.0 for r in ratios]
    count = len(panels)
    with house_style():
        fig = style.figure(3.6 * count + 1.0 if count > 1 else 5.0, 6.0, count=count + 1, columns=count)
        rows, columns = style.grid(count, count)
        # Below the planes, the loss per step, across the whole width: as tall as a row of planes once they
        # stack (a course-notes column). One grid, so that every panel's place is in figure coordinates.
        grid = fig.add_gridspec(rows + 1, columns, height_ratios=[1.6, 1] if rows == 1 else [1] * (rows + 1),
                                **({"width_ratios": ratios} if columns == count else {}))
        axes = [fig.add_subplot(grid[k // columns, k % columns]) for k in range(count)]
        filled = None
        for ax, data in zip(axes, drawn):
            filled = _draw_panel(ax, data, levels, norm, diverged_at) or filled
        if filled is not None:
            loss_colorbar(fig, filled, axes, levels)
        along = fig.add_subplot(grid[rows, :])
        _draw_losses_along(along, history, losses, drawn)
        handles, labels = merged_handles([*axes, along])
        figure_legend(fig, handles, labels, title=caption, ncols=4)
    return fig


def _panel_data(panel: dict, diverged_at: int | None) -> dict:
    """A plane of ``path_on_plane`` as arrays, with its window, how many leading points it shows, and
    the loss read off its grid under each point of the hand-written path."""
    data = {key: as_array(panel[key]) for key in ("alphas", "betas", "Z", "manual_path", "autograd_path")}
    data.update({key: panel.get(key) for key in ("xlabel", "ylabel", "title", "note", "name")})
    data["window"] = ((data["alphas"][0], data["alphas"][-1]), (data["betas"][0], data["betas"][-1]))
    path = data["manual_path"]
    data["shown"] = len(path) if diverged_at is None else points_inside(path, data["window"])
    data["under"] = grid_value(data["alphas"], data["betas"], data["Z"], path)
    return data


def grid_value(alphas: np.ndarray, betas: np.ndarray, Z: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Z read at ``points`` ((T, 2)) by bilinear interpolation on its grid; NaN outside the grid."""
    alphas, betas, Z, points = (np.asarray(v, dtype=float) for v in (alphas, betas, Z, points))
    values = np.full(len(points), np.nan)
    for k, (a, b) in enumerate(points):
        if not (np.isfinite(a) and np.isfinite(b)) or not (alphas[0] <= a <= alphas[-1] and betas[0] <= b <= betas[-1]):
            continue
        j = int(np.clip(np.searchsorted(alphas, a) - 1, 0, len(alphas) - 2))
        i = int(np.clip(np.searchsorted(betas, b) - 1, 0, len(betas) - 2))
        s = (a - alphas[j]) / (alphas[j + 1] - alphas[j])
        t = (b - betas[i]) / (betas[i + 1] - betas[i])
        with np.errstate(invalid="ignore", over="ignore"):      # a corner at inf gives inf (or NaN), as it should
            values[k] = ((1 - s) * (1 - t) * Z[i, j] + s * (1 - t) * Z[i, j + 1]
                         + (1 - s) * t * Z[i + 1, j] + s * t * Z[i + 1, j + 1])
    return values


def _draw_panel(ax, data: dict, levels, norm, diverged_at: int | None):
    """One plane: contours and both twins' paths. Returns the filled contour set (None if nothing is finite)."""
    filled = None
    if levels is not None and np.isfinite(data["Z"]).any():
        filled = draw_contour(ax, data["alphas"], data["betas"], data["Z"], levels, norm)
    head = draw_twin_paths(ax, data["manual_path"], data["autograd_path"], diverged_at=diverged_at,
                           window=data["window"], thin=True)
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


def _draw_losses_along(ax, history: History, losses: np.ndarray, drawn: list[dict]) -> None:
    """Per step: the path's true loss (both twins) and what each plane reads under it."""
    autograd = as_array(history.path_losses()[1])[:len(losses)]
    curves: list = []
    draw_run_losses(ax, history, label="the path's own loss", color=style.MANUAL["color"],
                    last_step=len(losses) - 1, curves=curves, values=(losses, autograd))
    for data, line in zip(drawn, PLANE_LINES):
        under = np.where(np.arange(len(data["under"])) < data["shown"], data["under"], np.nan)
        ax.plot(np.arange(len(under)), under, **line, linewidth=1.4, zorder=3,
                label=f"the {data['name']}'s loss under each step")
    ax.set_yscale("log")
    round_log_axis(ax)
    ax.set_xlabel("step")
    integer_steps(ax)
    ax.set_ylabel("loss (log scale)")


def plane_readings(fig) -> dict[str, np.ndarray]:
    """What ``path_on_plane`` drew in its panel below, by label: the true loss per step and each plane's reading.

    For checking a figure: the path's own loss must be the true loss, each plane's the grid under the path.
    """
    found = {}
    for ax in fig.axes:
        for line in ax.get_lines():
            label = line.get_label()
            if label == "the path's own loss" or label.endswith("loss under each step"):
                found[label] = np.asarray(line.get_ydata(), dtype=float)
    return found
