"""The figures of lesson 17 (choosing and protecting the step), in the house style of toolkit.plots.

Colours and markers come from ``toolkit.plots`` (the run colours, never the
twins' blue or vermillion, nor orange); each figure's caption and alt text
are in ``CAPTIONS``.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from toolkit.plots import RUN_COLORS, house_style

SKY_BLUE, GREEN, PURPLE, BLACK = RUN_COLORS[0], RUN_COLORS[1], RUN_COLORS[3], RUN_COLORS[4]
BAND = {"color": GREEN, "alpha": 0.12}
REFERENCE = {"color": BLACK, "linestyle": "--", "linewidth": 1.0}


def _array(values) -> np.ndarray:
    return np.asarray(values.detach().cpu() if hasattr(values, "detach") else values, dtype=float)


def range_test(tiny_losses, lrs, losses, smoothed, *, lowest: int, picked: float, two_over_start: float,
               curvature: dict, title: str = "") -> Figure:
    """The recipe's first two checks: a tiny batch overfitted, and the learning-rate range test.

    tiny_losses: (T,) the loss on 20 images per step. lrs, losses, smoothed: (S,) the sweep's learning
    rate, mini-batch loss and its smoothed loss per step; lowest: the step where ``smoothed`` is lowest;
    picked: the learning rate chosen; two_over_start: 2/λmax at the start. curvature: {sweep step: λmax
    there}, drawn below as lr·λmax against the line at 2.
    """
    lrs, losses, smoothed = _array(lrs), _array(losses), _array(smoothed)
    with house_style():
        fig = Figure(figsize=(9.6, 5.2), layout="constrained")
        left, right = fig.subfigures(1, 2, width_ratios=[1, 1.6])
        tiny = left.subplots()
        tiny.plot(np.arange(len(tiny_losses)), _array(tiny_losses), color=GREEN)
        tiny.set_yscale("log")
        tiny.set_xlabel("step")
        tiny.set_ylabel("loss on the 20 images (log scale)")
        tiny.set_title("1. Overfit 20 images")
        sweep, product = right.subplots(2, 1, sharex=True, height_ratios=[2, 1])
        sweep.plot(lrs, losses, color=SKY_BLUE, linewidth=0.9, alpha=0.8, label="loss on each mini-batch")
        sweep.plot(lrs, smoothed, color=BLACK, linewidth=1.6, label="smoothed")
        sweep.plot(lrs[lowest], smoothed[lowest], marker="v", markersize=9, color=PURPLE, markeredgecolor="white",
                   linestyle="none", label=f"lowest smoothed loss, lr = {lrs[lowest]:.3g}", zorder=5)
        for ax in (sweep, product):
            ax.axvline(picked, color=GREEN, linewidth=1.6, label=f"picked: half of it, lr = {picked:.3g}")
            ax.axvline(two_over_start, **REFERENCE, label=f"2/λmax at the start = {two_over_start:.2f}")
        sweep.set_ylabel("loss")
        sweep.set_ylim(0.8 * min(smoothed.min(), losses.min()), 2 * smoothed[0])
        sweep.set_title("2. The learning-rate range test")
        steps = sorted(curvature)
        values = [lrs[step] * curvature[step] for step in steps]
        product.plot([lrs[step] for step in steps], values, marker="o", color=PURPLE, markeredgecolor="white",
                     linestyle="-", label="lr·λmax at points of the sweep")
        product.axhline(2, color=BLACK, linestyle=":", linewidth=1.2)
        product.text(lrs[0], 2, " lr·λmax = 2", va="bottom")
        product.set_yscale("log")
        product.set_xscale("log")
        product.set_xlabel("learning rate (log scale), growing by the same factor every step")
        product.set_ylabel("lr·λmax")
        handles, labels = sweep.get_legend_handles_labels()
        for handle, label in zip(*product.get_legend_handles_labels()):
            if label not in labels:
                handles.append(handle)
                labels.append(label)
        right.legend(handles, labels, loc="outside lower center", ncols=2)
        fig.suptitle(title)
    return fig


def update_ratios(runs: dict, band: tuple[float, float], *, title: str = "") -> Figure:
    """log10(‖θₜ₊₁ − θₜ‖ / ‖θₜ‖) per step for every weight matrix, one panel per run, the healthy band shaded.

    runs: {run name: {layer name: (T,) log10 ratios}}; band: (low, high) in log10 units.
    """
    colors = [SKY_BLUE, PURPLE, GREEN, BLACK]
    with house_style():
        fig = Figure(figsize=(8.8, 3.4), layout="constrained")
        axes = np.atleast_1d(fig.subplots(1, len(runs), sharey=True))
        for ax, (name, layers) in zip(axes, runs.items()):
            ax.axhspan(*band, **BAND, label=f"healthy here: {10 ** band[0]:.0%} to {10 ** band[1]:.0%} per step")
            for (layer, ratios), color in zip(layers.items(), colors):
                ax.plot(np.arange(len(ratios)), _array(ratios), color=color, linewidth=1.2, label=f"weights of {layer}")
            ax.set_title(name)
            ax.set_xlabel("step")
        axes[0].set_ylabel("log₁₀(update / weights)")
        fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncols=3)
        fig.suptitle(title)
    return fig


def clipping(runs: dict, max_norm: float, *, title: str = "") -> Figure:
    """Two runs through the same batches, one clipped: the mini-batch loss (top) and the gradient norm (bottom).

    runs: {name: History} with ``grad_norms`` (the norm before clipping) per step.
    """
    colors = [PURPLE, GREEN, SKY_BLUE]
    with house_style():
        fig = Figure(figsize=(7.6, 5.0), layout="constrained")
        losses, norms = fig.subplots(2, 1, sharex=True)
        for (name, history), color in zip(runs.items(), colors):
            steps = np.arange(len(history.loss_manual))
            losses.plot(steps, history.loss_manual, color=color, linewidth=1.2, label=name)
            norms.plot(np.arange(len(history.grad_norms)), history.grad_norms, color=color, linewidth=1.2)
        norms.axhline(max_norm, **REFERENCE, label=f"max_norm = {max_norm:g}")
        for ax, label in ((losses, "loss on each mini-batch"), (norms, "gradient norm before clipping")):
            ax.set_yscale("log")
            ax.set_ylabel(label)
        norms.set_xlabel("step")
        losses.legend(loc="upper right")
        norms.legend(loc="upper right")
        fig.suptitle(title)
    return fig


def adagrad_steps(adagrad, running_mean, *, title: str = "") -> Figure:
    """The median step size of the output layer per step, Adagrad's against a running mean's, log-log.

    adagrad, running_mean: (T,) lr/(√s + ε) with s the sum of the squared gradients, and with the
    running mean of the same squared gradients. Dashed: Adagrad's first step size times 1/√t.
    """
    adagrad, running_mean = _array(adagrad), _array(running_mean)
    steps = np.arange(1, len(adagrad) + 1)
    with house_style():
        fig = Figure(figsize=(5.8, 3.9), layout="constrained")
        ax = fig.add_subplot()
        ax.plot(steps, adagrad, color=PURPLE, label="Adagrad: lr / √(sum of g²)")
        ax.plot(steps, running_mean, color=GREEN, label="lr / √(running mean of the same g²)")
        ax.plot(steps, adagrad[0] / np.sqrt(steps), **REFERENCE, label="Adagrad's first step size × 1/√t")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("step t (log scale)")
        ax.set_ylabel("lr/(√s + ε), median over the output layer")
        ax.legend(loc="lower left")
        ax.set_title(title)
    return fig


CAPTIONS = {
    "range_test": {
        "caption": "Left: the loss on 20 training images falls towards 0, so the network and its gradients can "
                   "learn. Right: the learning-rate range test, one run of SGD whose learning rate grows "
                   "exponentially from 10⁻⁴ towards 10 until the loss blows up; the loss per mini-batch and its "
                   "smoothed curve, the lowest "
                   "point, the learning rate picked (half of it) and 2/λmax at the start. Below, lr·λmax at "
                   "points the sweep passed: the loss turns up where it crosses 2.",
        "alt": "Left, a falling green curve on a log scale from 2.3 to below 0.01 over 100 steps. Right top, loss "
               "against a logarithmic learning rate: flat near 2.3 up to about 0.05, falling to about 2 near lr 1, "
               "then jumping up; a triangle marks the lowest smoothed point, a green vertical line the picked "
               "rate near 0.6 and a dashed line 2/λmax near 3.4. Right bottom, purple points of lr·λmax rising "
               "steeply and crossing a dotted line at 2 between the picked rate and the lowest point.",
    },
    "update_ratios": {
        "caption": "How far each step moves each weight matrix, relative to its size, on a log scale; the green "
                   "band (1% to 10% per step) is what a run of 150 steps needs. Left: torch's initialisation at "
                   "the picked learning rate, inside the band but for a few steps. Right: the same run from "
                   "N(0, 1) weights, whose first steps rewrite the output layer by 40% and whose later steps "
                   "barely move the oversized weights.",
        "alt": "Two panels of log ratio against the step from 0 to 150, each with a shaded band from −2 to −1. "
               "Left, two noisy lines start near −1.3, touch −0.75 near step 20 and drift down to about −1.7, "
               "mostly inside the band. Right, the lines start above the band near −0.4 and −0.9, drop below it "
               "within five steps and slide from −2.2 to about −2.5.",
    },
    "clipping": {
        "caption": "The same batches, one of them holding a corrupted image whose pixels are a thousand times too "
                   "large. Top: the loss on each mini-batch; bottom: the gradient's norm before clipping, with "
                   "max_norm dashed. Unclipped, the first step on the corrupted image wrecks the network; clipped, "
                   "that step is shortened to max_norm and training goes on.",
        "alt": "Two panels sharing a step axis from 0 to 150, both on log scales. Top: a purple line (no clipping) "
               "jumps to a loss of about 100 at step 4 and 200 at step 12 and then stays high, between 1 and 2; "
               "a green line (clipped) falls steadily to about 0.1. Bottom: gradient norms near 0.5, both runs "
               "spiking to about 30 at step 3 and the purple one again to several hundred at step 12 and 30 at "
               "step 27; a dashed line at 2.",
    },
    "adagrad": {
        "caption": "Adagrad's effective learning rate lr/(√s + ε) (the median over the output layer's weights) "
                   "falls fast while the large early gradients pile up in its sum s, and keeps falling after "
                   "them; it can never rise. Fed the same squared gradients, a running mean (RMSprop's "
                   "denominator) forgets the early ones, and its effective rate rises as the gradients shrink. "
                   "Dashed: 1/√t from Adagrad's first value.",
        "alt": "A log-log chart against the step from 1 to 150. A purple line falls steeply from about 40 to 2 by "
               "step 10 and then slowly to below 1; a dashed line falls with slope one half from the same start; a "
               "green line starts at the same point, dips to about 6 near step 8 and then rises to about 60.",
    },
}
