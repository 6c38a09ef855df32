"""Lesson 18's figures: Newton on a quadratic and on a saddle, a backtracking line search, Adam as a
preconditioner, and the race counted in evaluations.

Computing is the lesson's; these functions only draw what they are given. Each figure's caption and
alt text are templates here (``CAPTIONS``, ``ALT``), filled with the lesson's numbers by ``captioned``.
"""

from __future__ import annotations

import numpy as np
from matplotlib.colors import ListedColormap, LogNorm
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from toolkit.plots import RUN_COLORS, TEXT_BOX, house_style
from toolkit.plots import SADDLE as SADDLE_MARK
from toolkit.plots import _colorbar as loss_colorbar
from toolkit.plots import _contour as draw_contour
from toolkit.plots import _draw_run_path as draw_run_path
from toolkit.plots import _integer_steps as integer_steps
from toolkit.plots import _log_levels as log_levels
from toolkit.plots import _mark_start as mark_start
from toolkit.plots import _numpy as as_array
from toolkit.plots import _round_log_axis as round_log_axis
from toolkit.plots import _run_path_legend as run_path_legend

# One colour per method, in every figure of the lesson (none is the twins' blue or vermillion).
METHOD_COLORS = {"gradient descent": RUN_COLORS[4], "Newton": RUN_COLORS[3], "saddle-free Newton": RUN_COLORS[1],
                 "gradient descent + backtracking": RUN_COLORS[0], "L-BFGS": RUN_COLORS[2]}
# Where each start of the chain's grid ends: at the saddle, on the valley floor, elsewhere.
DESTINATION_COLORS = ListedColormap(["#E69F00", "#CFE8F5", "white"], name="toolkit_destinations")
TWINS_KEY = "line through circles: manual,\nx on them: autograd (they coincide)"


def plain_number(value: float) -> str:
    """3 significant digits, without an exponent for large numbers: 7.89, 227, 3,006."""
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def method_color(name: str) -> str:
    """The colour of the method a run's name starts with (the longest match: "saddle-free Newton" before "Newton")."""
    return METHOD_COLORS[max((m for m in METHOD_COLORS if name.startswith(m)), key=len)]


def _gap_axis(ax, floor: float) -> None:
    ax.set_yscale("log")
    ax.axhline(floor, color="0.5", linestyle=":", linewidth=1.0, zorder=1)
    ax.text(0.08, floor, "rounding of float64", transform=ax.get_yaxis_transform(), ha="left", va="bottom",
            color="0.35", zorder=2)


def newton_quadratic(valleys: dict, *, steps: int) -> Figure:
    """Two panels of lesson 02's valley (as it is, and moved) with gradient descent's and Newton's paths,
    and the loss gap L − L* per step of both methods on both.

    valleys: name -> dict with alphas (A,), betas (B,), Z (B, A) the exact loss; best (2,) the
    least-squares minimum; kappa; gd and newton: History; gaps: name -> ((T,) manual, (T,) autograd)
    for "gd" and "newton"; gd_rate: the theoretical factor of the gap per step.
    """
    names = list(valleys)
    with house_style():
        fig = Figure(figsize=(10.5, 3.5), layout="constrained")
        axes = fig.subplots(1, 3, width_ratios=[1, 1, 1.25])
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
            ax.plot(*as_array(valley["best"]), marker="P", markersize=9, color="white", markeredgecolor="black",
                    linestyle="none", label="least-squares minimum", zorder=7)
            ax.set_xlim(*window[0])
            ax.set_ylim(*window[1])
            ax.set_aspect("equal", adjustable="box")
            ax.set_xlabel("weight w")
            ax.set_ylabel("bias b")
            ax.set_title(f"{name}: κ = {plain_number(valley['kappa'])}")
            ax.grid(False)
        loss_colorbar(fig, filled, list(axes[:2]), levels)

        right = axes[2]
        floor = np.inf
        for name, dashes in zip(names, ("-", (0, (5, 2)))):
            valley = valleys[name]
            for method in ("gd", "newton"):
                manual, autograd = (np.clip(as_array(g), 1e-300, None) for g in valley["gaps"][method])
                color = method_color("Newton" if method == "newton" else "gradient descent")
                k = np.arange(len(manual))
                right.plot(k, manual, color=color, linestyle=dashes, marker="o" if method == "newton" else None,
                           markersize=4)
                every = max(1, len(k) // 20)
                right.plot(k[::every], autograd[::every], color=color, marker="x", markersize=4, linestyle="none")
            floor = min(floor, valley["floor"])
            theory = float(valley["gaps"]["gd"][0][0]) * valley["gd_rate"] ** np.arange(steps + 1)
            right.plot(np.arange(steps + 1), theory, color="0.55", linestyle=(0, (1, 1.5)), linewidth=1.3, zorder=1)
        _gap_axis(right, floor)
        right.set_ylim(bottom=floor / 30)
        right.set_xlabel("step")
        integer_steps(right)
        right.set_ylabel("loss gap L − L* (log scale)")
        right.set_title("The gap to the least-squares loss")
        handles, labels = run_path_legend(axes[:2], TWINS_KEY)
        for (name, dashes) in zip(names, ("-", (0, (5, 2)))):
            handles.append(Line2D([], [], color="0.3", linestyle=dashes))
            labels.append(f"right: {name}")
        handles.append(Line2D([], [], color="0.55", linestyle=(0, (1, 1.5)), linewidth=1.3))
        labels.append("right: theory, ((κ − 1)/(κ + 1))² per step")
        fig.legend(handles, labels, loc="outside lower center", ncols=5)
    return fig


def newton_saddle(runs: dict, destinations: dict, grid, Z, *, saddle, best_product: float) -> Figure:
    """The chain's exact loss with each method's path from one start, and two maps of where every start of a
    grid ends after Newton's steps and after saddle-free Newton's.

    runs: method -> History; destinations: method -> (G, G) codes 0 (saddle), 1 (valley floor), 2 (elsewhere)
    with [i, j] the start (grid[j], grid[i]); Z: (G', G') the loss on the fine grid spanning the same square.
    """
    grid = as_array(grid)
    z = as_array(Z)
    fine = np.linspace(grid[0], grid[-1], z.shape[0])
    window = ((grid[0], grid[-1]), (grid[0], grid[-1]))
    levels = log_levels(z)
    with house_style():
        fig = Figure(figsize=(10.5, 3.9), layout="constrained")
        axes = fig.subplots(1, 3)
        filled = draw_contour(axes[0], fine, fine, z, levels, LogNorm(levels[0], levels[-1]))
        for name in sorted(runs, key=lambda name: name != "gradient descent"):     # the control underneath
            history = runs[name]
            draw_run_path(axes[0], as_array(history.path_manual), as_array(history.path_autograd),
                          color=method_color(name), label=name, window=window)
        mark_start(axes[0], as_array(next(iter(runs.values())).path_manual), zorder=8)
        step = grid[1] - grid[0]
        edges = np.concatenate([grid - step / 2, [grid[-1] + step / 2]])
        for ax, (name, ends) in zip(axes[1:], destinations.items()):
            ax.pcolormesh(edges, edges, as_array(ends), cmap=DESTINATION_COLORS, vmin=-0.5, vmax=2.5,
                          rasterized=True)
            ax.contour(fine, fine, z, levels=levels[::2], colors="0.55", linewidths=0.4)
            ends = as_array(ends)
            shares = [100 * np.mean(ends == k) for k in range(3)]
            ax.set_title(f"{name} from every start:\n{shares[0]:.0f}% end at the saddle, {shares[1]:.0f}% on the floor")
        branch = np.linspace(0.05, grid[-1], 200)
        for ax in axes:
            for sign in (1, -1):
                inside = np.abs(best_product / branch) <= grid[-1]
                ax.plot(sign * branch[inside], sign * best_product / branch[inside], color="white", linestyle="--",
                        linewidth=1.2, zorder=3)
            ax.plot(*saddle, label="saddle", zorder=7.5, **SADDLE_MARK)
            ax.set_xlim(*window[0])
            ax.set_ylim(*window[1])
            ax.set_aspect("equal", adjustable="box")
            ax.set_xlabel("w₁")
            ax.grid(False)
        axes[0].set_ylabel("w₂")
        axes[0].set_title("One start, 20 steps each")
        loss_colorbar(fig, filled, [axes[0]], levels)
        handles, labels = run_path_legend(axes[:1], TWINS_KEY)
        handles.append(Line2D([], [], color="0.35", linestyle="--", linewidth=1.2))
        labels.append("valley floor w₁·w₂ = p* (white)")
        for code, what in ((0, "start ends at the saddle"), (1, "start ends on the valley floor"),
                           (2, "start ends elsewhere")):
            handles.append(Line2D([], [], marker="s", markersize=9, linestyle="none", markeredgecolor="0.5",
                                  color=DESTINATION_COLORS(code)))
            labels.append(what)
        fig.legend(handles, labels, loc="outside lower center", ncols=5)
    return fig


def line_search(t, losses, tried, accepted: float, loss: float, slope: float, c: float, *, zoom: float) -> Figure:
    """The loss along the search direction, L(θ + t·d), with the tangent, Armijo's line and every step tried:
    the whole search on the left, the last steps (t ≤ ``zoom``) enlarged on the right.

    t, losses: (K,) the slice; tried: [(t, L(θ + t·d)), ...] in order; the last was accepted.
    """
    t, losses = as_array(t), as_array(losses)
    with house_style():
        fig = Figure(figsize=(9.4, 3.8), layout="constrained")
        axes = fig.subplots(1, 2)
        for ax, last in zip(axes, (t[-1], zoom)):
            shown = t <= last
            ts, values = t[shown], losses[shown]
            tangent, armijo = loss + ts * slope, loss + c * ts * slope
            ax.plot(ts, values, color="black", label="L(θ + t·d), d = −g", zorder=3)
            ax.plot(ts, tangent, color="0.45", linestyle=":", label="tangent L(θ) + t·gᵀd")
            ax.plot(ts, armijo, color=RUN_COLORS[1], linestyle="--", label=f"Armijo's line L(θ) + c·t·gᵀd, c = {c:g}")
            low = min(values.min(), armijo.min())
            high = values.max()
            ax.fill_between(ts, armijo, low - (high - low), color=RUN_COLORS[1], alpha=0.1, linewidth=0,
                            label="Armijo's condition holds (on or below the line)")
            for k, (step, value) in enumerate(tried):
                if step > last * 1.001:
                    continue
                ok = k == len(tried) - 1 and step == accepted
                ax.plot(step, value, marker="o", markersize=8, linestyle="none", zorder=5,
                        color=RUN_COLORS[1] if ok else "white", markeredgecolor="black",
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
        axes[0].set_title("The whole search, from t = 4")
        axes[0].add_patch(matplotlib_rectangle(axes[1]))
        axes[1].set_title(f"Enlarged: t ≤ {zoom:g}")
        handles, labels = axes[1].get_legend_handles_labels()
        unique = dict(zip(labels, handles))
        fig.legend(unique.values(), unique.keys(), loc="outside lower center", ncols=3)
    return fig


def matplotlib_rectangle(zoomed):
    """The frame of the enlarged panel's window, to draw on the whole view."""
    from matplotlib.patches import Rectangle

    (x0, x1), (y0, y1) = zoomed.get_xlim(), zoomed.get_ylim()
    return Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, edgecolor="0.3", linewidth=1.0, zorder=4)


def preconditioning(kappas: dict, diagonal: dict) -> Figure:
    """Left: κ of the preconditioned valley D^(−½)·H·D^(−½) at every step of RMSprop and Adam, against the raw
    κ and Newton's 1. Right: lesson 02's valleys, raw, with the best diagonal D = diag(H), and Newton.

    kappas: name -> [κ at each step]; diagonal: valley name -> (raw κ, κ with D = diag(H)).
    """
    with house_style():
        fig = Figure(figsize=(9.0, 3.6), layout="constrained")
        left, right = fig.subplots(1, 2, width_ratios=[1.4, 1])
        raw = 20.0
        for color, (name, values) in zip((RUN_COLORS[0], RUN_COLORS[2]), kappas.items()):
            left.plot(np.arange(1, len(values) + 1), values, color=color, marker="o", markersize=3, label=name)
        left.axhline(raw, color="black", linestyle="--", linewidth=1.2, label="no preconditioner: κ = 20")
        left.axhline(1.0, color=method_color("Newton"), linestyle=":", linewidth=1.4, label="Newton, D = H: κ = 1")
        left.set_yscale("log")
        left.set_ylim(0.7, 40)
        left.set_xlabel("step")
        integer_steps(left)
        left.set_ylabel("κ of D^(−½)·H·D^(−½) (log scale)")
        left.set_title("Lesson 07's valley, H = diag(0.2, 4)")
        left.legend(loc="upper right", bbox_to_anchor=(1.0, 0.9))

        names = list(diagonal)
        x = np.arange(len(names))
        width = 0.26
        bars = {"as it is": ([diagonal[n][0] for n in names], "0.25"),
                "D = diag(H)": ([diagonal[n][1] for n in names], RUN_COLORS[0]),
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
    """Each method's loss against the gradient evaluations it needed (left) and against its steps (right).

    runs: name -> dict with history (History) and evaluations ((T,) the gradient evaluations made when
    each recorded loss is known, its own included: 1 for the start).
    """
    with house_style():
        fig = Figure(figsize=(9.6, 3.8), layout="constrained")
        left, right = fig.subplots(1, 2, sharey=True)
        for name, run in runs.items():
            history, color = run["history"], method_color(name)
            manual, autograd = history.path_losses()
            manual, autograd = np.asarray(manual), np.asarray(autograd)
            for ax, x in ((left, as_array(run["evaluations"])), (right, np.arange(len(manual)))):
                ax.plot(x, manual, color=color, label=name if ax is left else None)
                every = max(1, len(x) // 15)
                ax.plot(x[::every], autograd[::every], color=color, marker="x", markersize=4.5, linestyle="none")
        left.set_xscale("log")
        left.set_xlabel("gradient evaluations so far (log scale; a Hessian counts as P)")
        left.set_ylabel("training loss (log scale)")
        left.set_yscale("log")
        round_log_axis(left)
        left.set_title("Per evaluation")
        right.set_xlabel("step (iteration)")
        integer_steps(right)
        right.set_title("Per step")
        handles, labels = left.get_legend_handles_labels()
        handles.append(Line2D([], [], color="0.3", marker="x", markersize=4.5))
        labels.append("line: manual, x: autograd")
        fig.legend(handles, labels, loc="outside lower center", ncols=5)
    return fig


CAPTIONS = {
    "newton_quadratic": (
        "Lesson 02's line fit, whose loss is exactly quadratic, on its own points (κ = {kappa_a:.3g}) and on the "
        "same points moved to x ∈ (5, 9) (κ = {kappa_b:,.0f}). One Newton step lands on the least-squares minimum "
        "in both (to {landed:.0e} of its size), while gradient descent at its best constant rate 2/(λmin + λmax) "
        "crawls along the valley floor, its loss gap shrinking on the dotted theoretical line ((κ − 1)/(κ + 1))² "
        "per step, which for the moved valley is {rate_b:.4f}. Both twins coincide in every path and curve."),
    "newton_saddle": (
        "Lesson 09's chain ŷ = w₂·w₁·x. Left: from (0.8, −0.6), where H has a negative curvature, Newton's steps "
        "go to the saddle at the origin and stay there; saddle-free Newton, dividing by |λ| + δ (δ = {delta:g}), "
        "and gradient descent (lr = 0.2) reach the valley floor. Middle and right: where 25 steps take each start "
        "of a 61 × 61 grid; Newton sends {newton_saddle:.0%} of them to the saddle, saddle-free Newton "
        "{free_saddle:.0%} (the starts on the line w₁ = −w₂, which leads into the saddle). Both twins coincide."),
    "line_search": (
        "Backtracking at the start of the sine network's training (49 parameters), along d = −g: the loss on that "
        "line (black), its tangent (dotted) and Armijo's line with c = {c:g} (dashed). The steps tried, t = "
        "{first:g}, {first_half:g}, ..., halve until one lands on or below Armijo's line: t = {accepted:g}, where "
        "L = {value:.4f} ≤ {bound:.4f}."),
    "preconditioning": (
        "RMSprop's and Adam's denominators √v̂ + ε as a diagonal preconditioner D. Left: on lesson 07's valley "
        "(κ = 20) the preconditioned Hessian D^(−½)·H·D^(−½) has κ between {low:.2g} and {high:.2g} at every step "
        "of either, without any second derivative. Right: a diagonal D cannot undo a valley that lies "
        "diagonally: on lesson 02's valleys even the best, D = diag(H), leaves κ = {jacobi_a:.3g} and "
        "{jacobi_b:.3g}; Newton's D = H makes it 1."),
    "race": (
        "Four methods on the sine network (49 parameters), one seed, both twins drawn (they coincide). Left: "
        "loss against the gradient evaluations each method needed: gradient descent at the best of lr = 0.1, "
        "0.2, 0.3 ({best_lr:g}); with backtracking, which needs {search_evaluations:.2g} evaluations per step; "
        "L-BFGS at lr = {lbfgs_lr:g}; saddle-free Newton at the better of δ = 0.1 and 0.5 ({delta:g}), charged "
        "P = 49 evaluations for each Hessian. Right: "
        "the same losses per step. Newton is best per step and worst per evaluation; L-BFGS gets close to "
        "Newton at the price of gradient descent."),
}

ALT = {
    "newton_quadratic": (
        "Three panels. Two contour maps of narrow diagonal valleys, the second far narrower, each with a black "
        "path of gradient descent that drops to the valley floor and crawls along it, and a pink path of Newton "
        "that jumps from the white start square straight onto the white plus of the minimum. Right: loss gaps on "
        "a logarithmic axis against the step: Newton's fall to the rounding line after one step, gradient "
        "descent's fall slowly along dotted theory lines, the moved valley's hardly at all."),
    "newton_saddle": (
        "Three square panels over w1 and w2 from −2.5 to 2.5, each with dashed white hyperbola branches for the "
        "valley floor and a diamond at the origin for the saddle. Left: a contour map with a pink path going "
        "into the diamond and green and black paths going to the upper-right branch. Middle: a map where a "
        "large orange region around the origin marks starts that Newton sends to the saddle. Right: the same "
        "map for saddle-free Newton, almost entirely light blue (valley floor) with one orange diagonal line."),
    "line_search": (
        "A curve of the loss against the step length t from 0 to 4, dipping and then rising steeply, with a "
        "dotted falling tangent at t = 0 and a dashed shallower falling line. Four white circles at t = 4, 2, 1 "
        "and 0.5 lie above the dashed line; a green circle at t = 0.25 lies below it."),
    "preconditioning": (
        "Left: two curves on a log axis against the step, staying between 2 and 5, far below a dashed line at "
        "20 and above a dotted line at 1. Right: grouped bars on a log axis for two valleys, the raw condition "
        "number tall (about 8 and 3000), diag(H) a little lower, Newton's bar at 1."),
    "race": (
        "Two panels of training loss on a log axis. Left, against gradient evaluations on a log axis: the "
        "orange L-BFGS curve drops to below 0.01 within 40 evaluations; black and light blue gradient-descent "
        "curves stay above 0.1; the green Newton curve reaches the lowest loss only after hundreds of "
        "evaluations. Right, against the step: the green Newton curve drops fastest, orange next, the two "
        "gradient-descent curves slowly."),
}


def captioned(name: str, **numbers) -> dict:
    """``caption`` and ``alt`` for ``run.save``: the templates of figure ``name`` filled with the lesson's numbers."""
    return {"caption": CAPTIONS[name].format(**numbers), "alt": ALT[name].format(**numbers)}
