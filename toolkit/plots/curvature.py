"""toolkit.plots.curvature: lesson 18's figures.

Newton on lesson 02's valley and on lesson 09's saddle, a backtracking line search on a slice of the
loss, Adam's and RMSprop's denominators as a preconditioner, and the race counted in evaluations. The
lesson computes; these functions only draw what they are given.
"""

from __future__ import annotations

import numpy as np
from matplotlib.colors import ListedColormap, LogNorm
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle

from toolkit.plots import style
from toolkit.plots.shared import (as_array, draw_contour, draw_run_path, figure_legend, integer_steps, log_levels,
                                  loss_colorbar, mark_minimum, mark_start, round_log_axis, run_path_legend)
from toolkit.plots.style import AUTOGRAD_CROSS, MANUAL_LINE, TEXT_BOX, house_style

# One colour per method, in every figure of the lesson.
METHOD_COLORS = {"gradient descent": style.BLACK, "Newton": style.PURPLE, "saddle-free Newton": style.GREEN,
                 "gradient descent + backtracking": style.SKY_BLUE, "L-BFGS": style.WINE}
# Where each start of the chain's grid ends: at the saddle, on the valley floor, elsewhere (or nowhere finite).
DESTINATIONS = [(style.PURPLE, "start ends at the saddle"), (style.SKY_BLUE, "start ends on the valley floor"),
                (style.PAPER, "start ends elsewhere")]
DESTINATION_ALPHA = 0.45
TWINS_KEY = "circles: hand-written twin, × in them: autograd twin (they coincide)"


def method_color(name: str) -> str:
    """The colour of the method a run's name starts with (the longest match: "saddle-free Newton" before "Newton")."""
    return METHOD_COLORS[max((m for m in METHOD_COLORS if name.startswith(m)), key=len)]


def plain_number(value: float) -> str:
    """Three significant digits, without an exponent for large numbers: 7.89, 227, 3,006."""
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def draw_twin_curve(ax, x, manual, autograd, *, color: str, label: str | None, crosses: int = 15, **line) -> None:
    """One run's twins against ``x``: a line in the run's colour with circles on about ``crosses`` points,
    autograd's vermillion crosses in them (``shared.draw_run_losses`` for an x that is not the step)."""
    x, manual, autograd = as_array(x), as_array(manual), as_array(autograd)
    every = max(1, len(x) // crosses)
    ax.plot(x, manual, color=color, label=label,
            **{**MANUAL_LINE, "markevery": every, "markersize": 4, "linewidth": 1.6, **line})
    ax.plot(x[::every], autograd[::every], **{**AUTOGRAD_CROSS, "markersize": 2.8, "markeredgewidth": 0.9})


def loss_gaps(history, best_loss: float) -> tuple[np.ndarray, np.ndarray]:
    """Both twins' loss gaps L − L* per step, ((T,), (T,)), raised to the rounding floor ε·L* where smaller."""
    floor = np.finfo(np.float64).eps * best_loss
    return tuple(np.clip(np.asarray(losses, dtype=np.float64) - best_loss, floor, None)
                 for losses in history.path_losses())


def newton_quadratic(valleys: dict, *, steps: int) -> Figure:
    """Lesson 02's valley, as it is and moved, with gradient descent's and Newton's paths on its exact loss, and
    the loss gap L − L* per step of both methods on both valleys beside gradient descent's theoretical rate.

    valleys: name -> dict with alphas (A,), betas (B,), Z (B, A) the loss, Z[i, j] at (alphas[j], betas[i]);
    best (2,) the least-squares minimum; best_loss: L* there; kappa; gd and newton: History; gd_rate: the
    gap's theoretical factor per step. ``steps``: how far the theoretical line runs. Gaps below ε·L* are
    rounding, drawn on that floor.
    """
    names = list(valleys)
    with house_style():
        fig, axes = style.panels(10.5, 3.6, 3, 3, width_ratios=[1, 1, 1.25])
        for ax, name in zip(axes[:2], names):
            valley = valleys[name]
            alphas, betas, z = as_array(valley["alphas"]), as_array(valley["betas"]), as_array(valley["Z"])
            window = ((alphas[0], alphas[-1]), (betas[0], betas[-1]))
            levels = log_levels(z)
            filled = draw_contour(ax, alphas, betas, z, levels, LogNorm(levels[0], levels[-1]))
            for method, history in (("gradient descent", valley["gd"]), ("Newton", valley["newton"])):
                draw_run_path(ax, as_array(history.path_manual), as_array(history.path_autograd),
                              color=method_color(method), label=method, window=window)
            mark_start(ax, as_array(valley["gd"].path_manual), zorder=8)
            mark_minimum(ax, as_array(valley["best"]), label="least-squares minimum", zorder=7)
            ax.set_xlim(*window[0])
            ax.set_ylim(*window[1])
            ax.set_aspect("equal", adjustable="box")
            ax.set_xlabel("weight w")
            ax.set_ylabel("bias b")
            ax.set_title(f"{name}: κ = {plain_number(valley['kappa'])}")
        loss_colorbar(fig, filled, list(axes[:2]), levels)

        floor = np.finfo(np.float64).eps * min(valley["best_loss"] for valley in valleys.values())
        right, dashes = axes[2], ("-", (0, (5, 2)))
        for name, dash in zip(names, dashes):
            valley = valleys[name]
            for method, key in (("gradient descent", "gd"), ("Newton", "newton")):
                manual, autograd = loss_gaps(valley[key], valley["best_loss"])
                draw_twin_curve(right, np.arange(len(manual)), manual, autograd, color=method_color(method),
                                label=None, linestyle=dash)
            theory = loss_gaps(valley["gd"], valley["best_loss"])[0][0] * valley["gd_rate"] ** np.arange(steps + 1)
            right.plot(np.arange(steps + 1), theory, zorder=1, **style.THEORY)
        right.set_yscale("log")
        right.axhline(floor, **style.REFERENCE)
        right.text(0.08, floor, "rounding of float64", transform=right.get_yaxis_transform(), ha="left",
                   va="bottom", color=style.MID)
        right.set_ylim(bottom=floor / 30)
        right.set_xlabel("step")
        integer_steps(right)
        right.set_ylabel("loss gap L − L* (log scale)")
        right.set_title("The gap to the least-squares loss")
        handles, labels = run_path_legend(axes[:2], TWINS_KEY)
        for name, dash in zip(names, dashes):
            handles.append(Line2D([], [], color=style.DARK, linestyle=dash))
            labels.append(f"right: {name}")
        handles.append(Line2D([], [], **style.THEORY))
        labels.append("right: theory, ((κ − 1)/(κ + 1))² per step")
        figure_legend(fig, handles, labels, ncols=4)
    return fig


def newton_saddle(runs: dict, destinations: dict, grid, *, loss: tuple[float, float, float], saddle,
                  best_product: float) -> Figure:
    """Lesson 09's chain: each method's path from one start on the exact loss, and two maps of where every start
    of a grid ends after Newton's steps and after saddle-free Newton's.

    runs: method -> History; destinations: method -> (G, G) codes 0 (saddle), 1 (valley floor), 2 (elsewhere),
    [i, j] the start (grid[j], grid[i]); loss: (a, c, d), the chain's loss a·p² − 2c·p + d of p = w1·w2,
    drawn on a 201 × 201 grid over the same square.
    """
    grid = as_array(grid)
    fine = np.linspace(grid[0], grid[-1], 201)
    product = fine[None, :] * fine[:, None]                                 # [i, j]: w1 = fine[j], w2 = fine[i]
    z = loss[0] * product ** 2 - 2 * loss[1] * product + loss[2]
    window = ((grid[0], grid[-1]), (grid[0], grid[-1]))
    levels = log_levels(z)
    codes = ListedColormap([color for color, _ in DESTINATIONS], name="toolkit_destinations")
    with house_style():
        fig, axes = style.panels(10.5, 4.0, 3, 3)
        filled = draw_contour(axes[0], fine, fine, z, levels, LogNorm(levels[0], levels[-1]))
        for name in sorted(runs, key=lambda name: name != "gradient descent"):     # the control underneath
            draw_run_path(axes[0], as_array(runs[name].path_manual), as_array(runs[name].path_autograd),
                          color=method_color(name), label=name, window=window)
        mark_start(axes[0], as_array(next(iter(runs.values())).path_manual), zorder=8)
        step = grid[1] - grid[0]
        edges = np.concatenate([grid - step / 2, [grid[-1] + step / 2]])
        for ax, (name, ends) in zip(axes[1:], destinations.items()):
            ends = as_array(ends)
            ax.pcolormesh(edges, edges, ends, cmap=codes, vmin=-0.5, vmax=2.5, alpha=DESTINATION_ALPHA,
                          rasterized=True)
            ax.contour(fine, fine, z, levels=levels[::2], colors=style.LIGHT, linewidths=0.4)
            shares = [100 * np.mean(ends == k) for k in range(3)]
            ax.set_title(f"{name} from every start:\n{shares[0]:.0f}% end at the saddle, {shares[1]:.0f}% on the floor")
        branch = np.linspace(0.05, grid[-1], 200)
        inside = np.abs(best_product / branch) <= grid[-1]
        for ax in axes:
            for sign in (1, -1):
                ax.plot(sign * branch[inside], sign * best_product / branch[inside], color=style.PAPER,
                        linestyle="--", linewidth=1.2, zorder=3)
            ax.plot(*saddle, label="saddle", zorder=7.5, **style.SADDLE)
            ax.set_xlim(*window[0])
            ax.set_ylim(*window[1])
            ax.set_aspect("equal", adjustable="box")
            ax.set_xlabel("w₁")
            ax.set_ylabel("w₂")
            ax.grid(False)
        axes[0].set_title("One start, 20 steps each")
        loss_colorbar(fig, filled, [axes[0]], levels)
        handles, labels = run_path_legend(axes[:1], TWINS_KEY)
        handles.append(Line2D([], [], color=style.MID, linestyle="--", linewidth=1.2))
        labels.append("valley floor w₁·w₂ = p* (white)")
        for color, what in DESTINATIONS:
            handles.append(Patch(facecolor=color, alpha=DESTINATION_ALPHA, edgecolor=style.MID))
            labels.append(what)
        figure_legend(fig, handles, labels, ncols=4)
    return fig


def line_search(t, losses, tried, accepted: float, loss: float, slope: float, c: float, *, zoom: float) -> Figure:
    """The loss along the search direction, L(θ + t·d), with the tangent, Armijo's line and every step tried:
    the whole search on the left, the last steps (t ≤ ``zoom``) enlarged on the right.

    t, losses: (K,) the slice; tried: [(t, L(θ + t·d)), ...] in order, the last one accepted; loss = L(θ);
    slope = gᵀd; c: Armijo's constant.
    """
    t, losses = as_array(t), as_array(losses)
    with house_style():
        fig, axes = style.panels(9.4, 3.9, 2, 2)
        for ax, last in zip(axes, (t[-1], zoom)):
            shown = t <= last
            ts, values = t[shown], losses[shown]
            armijo = loss + c * ts * slope
            ax.plot(ts, values, color=style.INK, label="L(θ + t·d), d = −g", zorder=3)
            ax.plot(ts, loss + ts * slope, color=style.MID, linestyle=":", label="tangent L(θ) + t·gᵀd")
            ax.plot(ts, armijo, color=style.GREEN, linestyle="--", label=f"Armijo's line L(θ) + c·t·gᵀd, c = {c:g}")
            low, high = min(values.min(), armijo.min()), values.max()
            ax.fill_between(ts, armijo, low - (high - low), color=style.GREEN, alpha=0.1, linewidth=0,
                            label="Armijo's condition holds (on or below the line)")
            for k, (step, value) in enumerate(tried):
                if step > last * 1.001:
                    continue
                ok = k == len(tried) - 1 and step == accepted
                ax.plot(step, value, marker="o", markersize=8, linestyle="none", zorder=5,
                        color=style.GREEN if ok else style.PAPER, markeredgecolor=style.INK,
                        label="the step accepted" if ok else "a step tried and refused")
                if ax is axes[1] or step > zoom:          # the small steps are labelled where they are enlarged
                    below = ok and ax is axes[1]
                    ax.annotate(f"try {k + 1}: t = {step:g}", (step, value), textcoords="offset points",
                                xytext=(8, -10) if below else (-8, 8), ha="left" if below else "right",
                                va="top" if below else "bottom", bbox=TEXT_BOX, zorder=6)
            ax.set_ylim(low - 0.06 * (high - low), high + 0.12 * (high - low))
            ax.set_xlim(0, last * 1.04)
            ax.set_xlabel("step length t along d")
        axes[0].set_ylabel("training loss")
        axes[0].set_title(f"The whole search, from t = {tried[0][0]:g}")
        (x0, x1), (y0, y1) = axes[1].get_xlim(), axes[1].get_ylim()
        axes[0].add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, edgecolor=style.DARK, linewidth=1.0,
                                    zorder=4))
        axes[1].set_title(f"Enlarged: t ≤ {zoom:g}")
        handles, labels = axes[1].get_legend_handles_labels()
        unique = dict(zip(labels, handles))
        figure_legend(fig, list(unique.values()), list(unique), ncols=3)
    return fig


def preconditioning(kappas: dict, diagonal: dict, *, raw: float) -> Figure:
    """Left: κ of the preconditioned valley D^(−½)·H·D^(−½) at every step of RMSprop and Adam, against the raw
    κ (``raw``) and Newton's 1. Right: lesson 02's valleys, raw, with the best diagonal D = diag(H), and Newton.

    kappas: name -> [κ at each step]; diagonal: valley name -> (raw κ, κ with D = diag(H)).
    """
    with house_style():
        fig, (left, right) = style.panels(9.0, 3.7, 2, 2, width_ratios=[1.4, 1])
        for color, (name, values) in zip((style.SKY_BLUE, style.WINE), kappas.items()):
            left.plot(np.arange(1, len(values) + 1), values, color=color, marker="o", markersize=3, label=name)
        left.axhline(raw, color=style.BLACK, linestyle="--", linewidth=1.2, label=f"no preconditioner: κ = {raw:g}")
        left.axhline(1.0, color=method_color("Newton"), linestyle=":", linewidth=1.4, label="Newton, D = H: κ = 1")
        left.set_yscale("log")
        left.set_ylim(0.7, 2 * raw)
        left.set_xlabel("step")
        integer_steps(left)
        left.set_ylabel("κ of D^(−½)·H·D^(−½) (log scale)")
        left.set_title("Lesson 07's valley, H = diag(0.2, 4)")
        left.legend(loc="upper right", bbox_to_anchor=(1.0, 0.9))

        names = list(diagonal)
        x = np.arange(len(names))
        width = 0.26
        bars = {"as it is": ([diagonal[n][0] for n in names], style.DARK),
                "D = diag(H)": ([diagonal[n][1] for n in names], style.SKY_BLUE),
                "Newton, D = H": ([1.0] * len(names), method_color("Newton"))}
        for offset, (label, (values, color)) in zip((-width, 0, width), bars.items()):
            right.bar(x + offset, values, width, color=color, label=label)
            for position, value in zip(x + offset, values):
                right.text(position, value * 1.15, plain_number(value), ha="center", va="bottom")
        right.set_yscale("log")
        right.set_ylim(0.5, max(v for v, _ in diagonal.values()) * 8)
        right.set_xticks(x, names)
        right.set_ylabel("condition number κ (log scale)")
        right.set_title("Lesson 02's diagonal valleys")
        right.legend(loc="upper left")
        right.grid(axis="x", visible=False)
    return fig


def race(runs: dict) -> Figure:
    """Each method's loss against the gradient evaluations it needed (left, log) and against its steps (right).

    runs: name -> dict with history (History) and evaluations ((T,) the gradient evaluations made when each
    recorded loss is known, its own included: 1 for the start).
    """
    with house_style():
        fig, (left, right) = style.panels(9.6, 3.9, 2, 2, sharey=True)
        for name, run in runs.items():
            manual, autograd = run["history"].path_losses()
            color = method_color(name)
            draw_twin_curve(left, run["evaluations"], manual, autograd, color=color, label=name)
            draw_twin_curve(right, np.arange(len(manual)), manual, autograd, color=color, label=None)
        left.set_xscale("log")
        left.set_yscale("log")
        round_log_axis(left)
        left.set_xlabel("gradient evaluations so far (log scale; a Hessian counts as P)")
        left.set_ylabel("training loss (log scale)")
        left.set_title("Per evaluation")
        right.set_xlabel("step (iteration)")
        integer_steps(right)
        right.set_title("Per step")
        handles, labels = left.get_legend_handles_labels()
        key = Line2D([], [], color=style.MID, **{**MANUAL_LINE, "markersize": 4})
        figure_legend(fig, handles + [key], labels + ["circles: hand-written twin, × in them: autograd twin"],
                      ncols=3)
    return fig
