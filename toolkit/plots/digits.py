"""Lesson 16's figures: handwritten digits, training against validation, one path on two landscapes,
the regularisers against their controls, and sharpness against held-out accuracy."""

from __future__ import annotations

import numpy as np
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from toolkit.plots import style
from toolkit.plots.shared import as_array, draw_contour, draw_twin_paths, figure_legend, log_levels, loss_colorbar
from toolkit.plots.style import house_style

# The two parts of the data, the same colours in every figure of the lesson; seeds told apart by the line.
TRAINING, VALIDATION = style.GREEN, style.PURPLE
SEED_LINES = ["-", "--", "-."]
WRONG = style.PURPLE                            # the frame and title of a digit the network got wrong
# Where early stopping stops (the lowest validation loss): a white diamond.
STOP = {"marker": "D", "markersize": 6.5, "color": style.PAPER, "markeredgecolor": style.INK, "linestyle": "none"}


def digit_grid(images, labels, predictions, *, columns: int = 10, title: str = "") -> Figure:
    """Digits as 8 × 8 images, each titled with the network's answer; a wrong one framed and titled "true → said".

    images: (N, 64) or (N, 8, 8) pixel values in [0, 1]; labels, predictions: (N,) class indices.
    All the images are laid out in one picture on one axes (quick to draw), a cell of 11 × 14 pixels each.
    """
    images = as_array(images).reshape(-1, 8, 8)
    labels, predictions = as_array(labels).astype(int), as_array(predictions).astype(int)
    rows, cell = -(-len(images) // columns), 11
    mosaic = np.zeros((rows * (cell + 3), columns * cell))
    with house_style():
        fig = style.figure(0.72 * columns, 0.95 * rows + 0.45)
        ax = fig.add_subplot()
        for k, image in enumerate(images):
            top, left = (k // columns) * (cell + 3) + 4, (k % columns) * cell + 1
            mosaic[top:top + 8, left:left + 8] = image
            wrong = labels[k] != predictions[k]
            ax.text(left + 3.5, top - 1.2, f"{labels[k]} → {predictions[k]}" if wrong else f"{predictions[k]}",
                    ha="center", va="bottom", color=WRONG if wrong else style.INK)
            if wrong:
                ax.add_patch(Rectangle((left - 0.9, top - 0.9), 9.8, 9.8, fill=False, edgecolor=WRONG, linewidth=2.2))
        ax.imshow(mosaic, cmap=style.INK_CMAP, vmin=0, vmax=1, interpolation="nearest")
        ax.set_axis_off()
        fig.suptitle(title)
    return fig


def training_against_validation(epochs, curves: dict, best: int, runs: dict, *, title: str = "") -> Figure:
    """Training against validation: loss (top) and accuracy (bottom), per epoch (left) and per step (right).

    Left, one run: curves = {"training": {"loss": (E,), "accuracy": (E,)}, "validation": {...}} at
    ``epochs``, with a dotted line at epoch ``best``. Right, several seeds:
    runs = {seed: {"train_loss": (T,), "val_loss": (T,), "val_accuracy": (T,), "stop": step}}, each
    seed's stop (its lowest validation loss) marked with a diamond.
    """
    epochs = as_array(epochs)
    with house_style():
        fig, (loss_e, loss_s, acc_e, acc_s) = style.panels(9.0, 5.6, 4, 2, sharex="col")
        for part, color in (("training", TRAINING), ("validation", VALIDATION)):
            loss_e.plot(epochs, as_array(curves[part]["loss"]), color=color, marker="o", markersize=3.5,
                        label=f"{part} images")
            acc_e.plot(epochs, 100 * as_array(curves[part]["accuracy"]), color=color, marker="o", markersize=3.5)
        for ax in (loss_e, acc_e):
            ax.axvline(best, **style.REFERENCE, label="lowest validation loss")
        for (seed, run), line in zip(runs.items(), SEED_LINES):
            val, acc = as_array(run["val_loss"]), 100 * as_array(run["val_accuracy"])
            steps, stop = np.arange(len(val)), run["stop"]
            loss_s.plot(steps, as_array(run["train_loss"]), color=TRAINING, linestyle=line, linewidth=1.3)
            loss_s.plot(steps, val, color=VALIDATION, linestyle=line, linewidth=1.3)
            acc_s.plot(steps, acc, color=VALIDATION, linestyle=line, linewidth=1.3)
            for ax, values in ((loss_s, val), (acc_s, acc)):
                ax.plot(stop, values[stop], **STOP, zorder=5)
            loss_s.plot([], [], color=style.DARK, linestyle=line, linewidth=1.3, label=f"seed {seed}")
        loss_s.plot([], [], **STOP, label="each seed's lowest validation loss")
        for ax in (loss_e, loss_s):
            ax.set_yscale("log")
        loss_e.set_ylabel("loss (log scale)")
        acc_e.set_ylabel("accuracy (%)")
        acc_e.set_ylim(top=100)
        low = min(np.nanmin(100 * as_array(r["val_accuracy"])[len(r["val_accuracy"]) // 4:]) for r in runs.values())
        acc_s.set_ylim(max(0.0, low - 5), 100)
        loss_e.set_title("all 1,000 training images, per epoch")
        loss_s.set_title("100 training images, three seeds, per step")
        acc_e.set_xlabel("epoch")
        acc_s.set_xlabel("step")
        handles, labels = loss_e.get_legend_handles_labels()
        more = loss_s.get_legend_handles_labels()
        figure_legend(fig, handles + more[0], labels + more[1], ncols=4)
        fig.suptitle(title)
    return fig


def train_and_validation_planes(alphas, betas, training, validation, manual_path, autograd_path, stop: int, *,
                                xlabel: str, ylabel: str, title: str = "") -> Figure:
    """One training path on a plane, over the training loss (left) and the validation loss (right).

    alphas: (A,), betas: (B,); training, validation: (B, A) losses at (alphas[j], betas[i]);
    *_path: (T, 2) both twins' coordinates in the plane; stop: the step marked with a diamond
    (the lowest validation loss). Each panel has its own log colour scale (two different functions),
    both at equal aspect. The twins' paths are recorded for the GIF.
    """
    alphas, betas = as_array(alphas), as_array(betas)
    manual_path, autograd_path = as_array(manual_path), as_array(autograd_path)
    window = ((alphas[0], alphas[-1]), (betas[0], betas[-1]))
    with house_style():
        fig, axes = style.panels(9.6, 3.9, 2, 2, sharex=True, sharey=True)
        for ax, grid, name in zip(axes, (as_array(training), as_array(validation)),
                                  ("training loss (its 100 images)", "validation loss (400 images)")):
            levels = log_levels(grid, count=16)
            filled = draw_contour(ax, alphas, betas, grid, levels, LogNorm(levels[0], levels[-1]))
            loss_colorbar(fig, filled, ax, levels)
            draw_twin_paths(ax, manual_path, autograd_path, window=window, thin=True)
            ax.plot(*manual_path[stop], **STOP, zorder=7, label=f"lowest validation loss (step {stop})")
            ax.set_xlim(*window[0])
            ax.set_ylim(*window[1])
            ax.set_title(name)
            ax.set_xlabel(xlabel)
            ax.set_aspect("equal", adjustable="box")
        axes[0].set_ylabel(ylabel)
        figure_legend(fig, *axes[0].get_legend_handles_labels(), ncols=5)
        fig.suptitle(title)
    return fig


def paired_gains(rows: dict, *, title: str = "") -> Figure:
    """Each method against its control, seed by seed: the change in validation accuracy and in validation loss.

    rows: {method: {"accuracy": [points per seed], "loss": [change per seed]}}; one dot per seed,
    the mean as a bar, the spread (one sample standard deviation) as a line. Zero: no change.
    """
    names = list(rows)
    with house_style():
        fig, axes = style.panels(8.4, 0.55 * len(names) + 1.6, 2, 2, sharey=True)
        for ax, key, label in ((axes[0], "accuracy", "validation accuracy − control's (points)"),
                               (axes[1], "loss", "validation loss − control's")):
            for k, name in enumerate(names):
                values = np.asarray(rows[name][key], dtype=float)
                mean, spread = values.mean(), values.std(ddof=1) if len(values) > 1 else 0.0
                ax.barh(k, mean, height=0.5, color=style.SKY_BLUE, alpha=0.55,
                        label="mean over the seeds" if k == 0 else None)
                ax.errorbar(mean, k, xerr=spread, color=style.INK, capsize=3, linewidth=1.2,
                            label="± one standard deviation" if k == 0 else None)
                ax.plot(values, np.full(len(values), k), linestyle="none", marker="o", markersize=5,
                        color=style.GREEN, markeredgecolor=style.PAPER, label="one seed" if k == 0 else None, zorder=4)
            ax.axvline(0, color=style.INK, linewidth=0.9)
            ax.set_xlabel(label)
        axes[0].set_yticks(range(len(names)), names)
        axes[0].invert_yaxis()
        figure_legend(fig, *axes[0].get_legend_handles_labels(), ncols=3)
        fig.suptitle(title)
    return fig


def sharpness_and_accuracy(runs: dict, two_over_lr: float, *, title: str = "") -> Figure:
    """Sharpness at the end of training against validation accuracy, one point per run, a line per seed.

    runs: {batch size: {seed: (sharpness, validation accuracy in [0, 1])}}; the dashed line is 2/lr,
    the largest sharpness at which full-batch gradient descent at this lr is stable.
    """
    markers, colors = ["v", "^", "D", "P"], [style.GREEN, style.PURPLE, style.SKY_BLUE, style.BLACK]
    sizes = list(runs)
    seeds = list(runs[sizes[0]])
    with house_style():
        fig = style.figure(5.6, 4.1)
        ax = fig.add_subplot()
        for seed in seeds:
            ax.plot([runs[batch][seed][0] for batch in sizes], [100 * runs[batch][seed][1] for batch in sizes],
                    color=style.LIGHT, linewidth=0.9, zorder=2)
        for batch, marker, color in zip(sizes, markers, colors):
            values = np.array([runs[batch][seed] for seed in seeds], dtype=float)
            ax.plot(values[:, 0], 100 * values[:, 1], linestyle="none", marker=marker, markersize=8, color=color,
                    markeredgecolor=style.PAPER, label=f"batches of {batch}", zorder=3)
        ax.plot([], [], color=style.LIGHT, linewidth=0.9, label="one seed: the same start and images")
        ax.axvline(two_over_lr, **style.THEORY, label=f"2/lr = {two_over_lr:g}")
        ax.set_xlim(0, two_over_lr * 1.08)
        ax.set_xlabel("sharpness at the end: the Hessian's largest eigenvalue")
        ax.set_ylabel("validation accuracy (%)")
        figure_legend(fig, *ax.get_legend_handles_labels(), ncols=2)
        ax.set_title(title)
    return fig
