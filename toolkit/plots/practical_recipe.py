"""Lesson 17's figures: the tiny batch and the learning-rate range test, update-to-weight ratios,
a run with and without gradient clipping, and Adagrad's step sizes."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from toolkit.plots import style
from toolkit.plots.shared import as_array, figure_legend, integer_steps
from toolkit.plots.style import house_style

BAND = {"color": style.GREEN, "alpha": 0.12}           # the healthy range of a ratio
LAYER_COLORS = [style.SKY_BLUE, style.PURPLE, style.GREEN, style.BLACK]
RUN_COLORS = {"plain": style.PURPLE, "protected": style.GREEN}


def range_test(tiny_losses, lrs, losses, smoothed, *, lowest: int, picked: float, two_over_start: float,
               curvature: dict, title: str = "") -> Figure:
    """The recipe's first two checks: a tiny batch overfitted, the learning-rate range test, and lr·λmax along it.

    tiny_losses: (T,) the loss on 20 images per step. lrs, losses, smoothed: (S,) the sweep's learning
    rate, mini-batch loss and smoothed loss at each step taken; lowest: the step where ``smoothed`` is
    lowest; picked: the learning rate chosen; two_over_start: 2/λmax at the start. curvature: {sweep
    step: λmax there}, drawn in the third panel as lr·λmax against the line at 2.
    """
    lrs, losses, smoothed = as_array(lrs), as_array(losses), as_array(smoothed)
    with house_style():
        fig, (tiny, sweep, product) = style.panels(11.0, 3.9, 3, 3)
        tiny.plot(np.arange(len(tiny_losses)), as_array(tiny_losses), color=style.GREEN)
        tiny.set_yscale("log")
        tiny.set_xlabel("step")
        integer_steps(tiny)
        tiny.set_ylabel("loss on the 20 images (log scale)")
        tiny.set_title("1. Overfit 20 images")
        sweep.plot(lrs, losses, color=style.SKY_BLUE, linewidth=0.9, label="loss on each mini-batch")
        sweep.plot(lrs, smoothed, color=style.BLACK, linewidth=1.6, label="smoothed")
        sweep.plot(lrs[lowest], smoothed[lowest], marker="v", markersize=9, color=style.PURPLE,
                   markeredgecolor=style.PAPER, linestyle="none", label=f"lowest smoothed loss, lr = {lrs[lowest]:.3g}",
                   zorder=5)
        for ax in (sweep, product):
            ax.axvline(picked, color=style.GREEN, linewidth=1.6, label=f"picked: half of it, lr = {picked:.3g}")
            ax.axvline(two_over_start, **style.THEORY, label=f"2/λmax at the start = {two_over_start:.2f}")
            ax.set_xscale("log")
            ax.set_xlim(lrs[0], lrs[-1] * 1.2)
            ax.set_xlabel("learning rate (log scale)")
        sweep.set_ylabel("loss")
        sweep.set_ylim(0.8 * min(smoothed.min(), losses.min()), 2 * smoothed[0])
        sweep.set_title("2. The learning-rate range test")
        steps = sorted(curvature)
        product.plot([lrs[step] for step in steps], [lrs[step] * curvature[step] for step in steps], marker="o",
                     color=style.PURPLE, markeredgecolor=style.PAPER, label="lr·λmax at points of the sweep")
        product.axhline(2, **style.REFERENCE)
        product.text(lrs[0], 2, " lr·λmax = 2", va="bottom")
        product.set_yscale("log")
        product.set_ylabel("lr·λmax")
        product.set_title("... checked against 2/λmax")
        handles, labels = sweep.get_legend_handles_labels()
        for handle, label in zip(*product.get_legend_handles_labels()):
            if label not in labels:
                handles.append(handle)
                labels.append(label)
        figure_legend(fig, handles, labels, ncols=3)
        fig.suptitle(title)
    return fig


def update_ratios(runs: dict, band: tuple[float, float], *, title: str = "") -> Figure:
    """log10(‖θₜ₊₁ − θₜ‖ / ‖θₜ‖) per step for every weight matrix, one panel per run, a healthy band shaded.

    runs: {run name: {layer name: (T,) log10 ratios}}; band: (low, high) in log10 units.
    """
    with house_style():
        fig, axes = style.panels(8.8, 3.4, len(runs), len(runs), sharey=True)
        for ax, (name, layers) in zip(axes, runs.items()):
            ax.axhspan(*band, **BAND, label=f"healthy here: {10 ** band[0]:.0%} to {10 ** band[1]:.0%} per step")
            for (layer, ratios), color in zip(layers.items(), LAYER_COLORS):
                ax.plot(np.arange(len(ratios)), as_array(ratios), color=color, linewidth=1.2,
                        label=f"weights of layer {layer.split('.')[0]}")
            ax.set_title(name)
            ax.set_xlabel("step")
        axes[0].set_ylabel("log₁₀(update / weights)")
        figure_legend(fig, *axes[0].get_legend_handles_labels(), ncols=3)
        fig.suptitle(title)
    return fig


def clipping(plain, protected, max_norm: float, *, labels: tuple[str, str], title: str = "") -> Figure:
    """Two runs through the same batches, the second clipped: the mini-batch loss (top), the gradient norm (bottom).

    plain, protected: ``History`` objects, with ``grad_norms`` (the norm before clipping) per step.
    """
    with house_style():
        fig, (losses, norms) = style.panels(7.6, 5.0, 2, 1, sharex=True)
        for history, color, label in ((plain, RUN_COLORS["plain"], labels[0]),
                                      (protected, RUN_COLORS["protected"], labels[1])):
            losses.plot(np.arange(len(history.grad_norms)), history.loss_manual[:len(history.grad_norms)],
                        color=color, linewidth=1.2, label=label)
            norms.plot(np.arange(len(history.grad_norms)), history.grad_norms, color=color, linewidth=1.2)
        norms.axhline(max_norm, **style.THEORY, label=f"max_norm = {max_norm:g}")
        for ax, label in ((losses, "loss on each mini-batch"), (norms, "gradient norm before clipping")):
            ax.set_yscale("log")
            ax.set_ylabel(label)
        norms.set_xlabel("step")
        handles, names = losses.get_legend_handles_labels()
        more = norms.get_legend_handles_labels()
        figure_legend(fig, handles + more[0], names + more[1], ncols=3)
        fig.suptitle(title)
    return fig


def adagrad_steps(adagrad, running_mean, *, title: str = "") -> Figure:
    """The median effective learning rate of the output layer per step: Adagrad's against a running mean's.

    adagrad, running_mean: (T,) lr/(√s + ε) with s the sum of the squared gradients, and with the
    running mean of the same squared gradients. Dashed: Adagrad's first value times 1/√t. Log-log.
    """
    adagrad, running_mean = as_array(adagrad), as_array(running_mean)
    steps = np.arange(1, len(adagrad) + 1)
    with house_style():
        fig = style.figure(5.8, 4.3)
        ax = fig.add_subplot()
        ax.plot(steps, adagrad, color=style.PURPLE, label="Adagrad: lr / √(sum of g²)")
        ax.plot(steps, running_mean, color=style.GREEN, label="lr / √(running mean of the same g²)")
        ax.plot(steps, adagrad[0] / np.sqrt(steps), **style.THEORY, label="Adagrad's first value × 1/√t")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("step t (log scale)")
        ax.set_ylabel("lr/(√s + ε), median over the output layer")
        figure_legend(fig, *ax.get_legend_handles_labels(), ncols=2)
        ax.set_title(title)
    return fig
