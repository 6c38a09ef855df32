"""The figures of lesson 16 (real handwritten digits, and what generalises), in the house style of toolkit.plots.

Every colour and marker comes from ``toolkit.plots``: the twins' blue circles
and vermillion crosses, the start square and the end star, and the run
colours (never orange, a neighbour of the autograd twin's vermillion). Each
figure's caption and alt text are in ``CAPTIONS``.
"""

from __future__ import annotations

import numpy as np
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from toolkit.animation import track_path
from toolkit.plots import (AUTOGRAD, CMAP, MANUAL, RUN_COLORS, _mark_end, _mark_start, house_style, round_log_ticks,
                           round_tick_text)

SKY_BLUE, GREEN, PURPLE, BLACK = RUN_COLORS[0], RUN_COLORS[1], RUN_COLORS[3], RUN_COLORS[4]
TRAINING, VALIDATION = GREEN, PURPLE                    # the same two colours in every figure of the lesson
SEED_STYLES = ["-", "--", "-."]                          # seeds told apart by the line, parts by the colour
WRONG = PURPLE                                          # the frame of a digit the network got wrong
STOP = {"marker": "D", "markersize": 6.5, "color": "white", "markeredgecolor": BLACK, "linestyle": "none"}


def _array(values) -> np.ndarray:
    return np.asarray(values.detach().cpu() if hasattr(values, "detach") else values, dtype=float)


def digit_grid(images, labels, predictions, *, columns: int = 10, title: str = "") -> Figure:
    """Digits as 8 × 8 images, each titled with the network's answer; a wrong answer framed, "true → said".

    images: (N, 64) or (N, 8, 8) pixel values in [0, 1]; labels, predictions: (N,) class indices.
    The images are laid out in one picture (one axes, one image: quick to draw), 10 pixels a cell.
    """
    from matplotlib.patches import Rectangle

    images = _array(images).reshape(-1, 8, 8)
    labels, predictions = np.asarray(labels).astype(int), np.asarray(predictions).astype(int)
    rows, cell = -(-len(images) // columns), 11                  # a cell: 8 pixels, a margin, room for the title
    mosaic = np.full((rows * (cell + 3), columns * cell), np.nan)
    with house_style():
        fig = Figure(figsize=(0.72 * columns, 0.95 * rows + 0.45), layout="constrained")
        ax = fig.add_subplot()
        for k, image in enumerate(images):
            top, left = (k // columns) * (cell + 3) + 4, (k % columns) * cell + 1.5
            mosaic[int(top):int(top) + 8, int(left):int(left) + 8] = image
            wrong = labels[k] != predictions[k]
            ax.text(left + 3.5, top - 1.2, f"{labels[k]} → {predictions[k]}" if wrong else f"{predictions[k]}",
                    ha="center", va="bottom", color=WRONG if wrong else BLACK)
            if wrong:
                ax.add_patch(Rectangle((int(left) - 0.9, top - 0.9), 9.8, 9.8, fill=False, edgecolor=WRONG,
                                       linewidth=2.2))
        ax.imshow(np.nan_to_num(mosaic, nan=0.0), cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
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
    epochs = np.asarray(epochs)
    with house_style():
        fig = Figure(figsize=(9.0, 5.6), layout="constrained")
        (loss_e, loss_s), (acc_e, acc_s) = fig.subplots(2, 2, sharex="col")
        for part, color in (("training", TRAINING), ("validation", VALIDATION)):
            loss_e.plot(epochs, _array(curves[part]["loss"]), color=color, marker="o", markersize=3.5,
                        label=f"{part} images")
            acc_e.plot(epochs, 100 * _array(curves[part]["accuracy"]), color=color, marker="o", markersize=3.5)
        for ax in (loss_e, acc_e):
            ax.axvline(best, color=BLACK, linestyle=":", linewidth=1.2, label="lowest validation loss")
        for (seed, run), line in zip(runs.items(), SEED_STYLES):
            steps, stop = np.arange(len(_array(run["val_loss"]))), run["stop"]
            val, acc = _array(run["val_loss"]), 100 * _array(run["val_accuracy"])
            loss_s.plot(steps, _array(run["train_loss"]), color=TRAINING, linestyle=line, linewidth=1.3)
            loss_s.plot(steps, val, color=VALIDATION, linestyle=line, linewidth=1.3)
            acc_s.plot(steps, acc, color=VALIDATION, linestyle=line, linewidth=1.3)
            for ax, values in ((loss_s, val), (acc_s, acc)):
                ax.plot(stop, values[stop], **STOP, zorder=5)
            loss_s.plot([], [], color=BLACK, linestyle=line, linewidth=1.3, label=f"seed {seed}")
        loss_s.plot([], [], **STOP, label="each seed's lowest validation loss")
        for ax in (loss_e, loss_s):
            ax.set_yscale("log")
        loss_e.set_ylabel("loss (log scale)")
        acc_e.set_ylabel("accuracy (%)")
        acc_e.set_ylim(top=100)
        low = min(np.nanmin(100 * _array(r["val_accuracy"])[len(_array(r["val_accuracy"])) // 4:]) for r in runs.values())
        acc_s.set_ylim(max(0, low - 5), 100)
        loss_e.set_title("all 1,000 training images, per epoch")
        loss_s.set_title("100 training images, three seeds, per step")
        acc_e.set_xlabel("epoch")
        acc_s.set_xlabel("step")
        handles, labels = loss_e.get_legend_handles_labels()
        more = loss_s.get_legend_handles_labels()
        fig.legend(handles + more[0], labels + more[1], loc="outside lower center", ncols=4)
        fig.suptitle(title)
    return fig


def _log_levels(values: np.ndarray, count: int = 16) -> np.ndarray:
    finite = values[np.isfinite(values) & (values > 0)]
    return np.geomspace(finite.min() * (1 - 1e-9), finite.max() * (1 + 1e-9), count)


def _spread_out(path: np.ndarray, window, gap: float = 0.025) -> list[int]:
    """Indices of the points to mark: the first, the last, and each one at least ``gap`` of the window from the last marked.

    Where the steps crowd together (a slowing path), marking every one would bury the hand-written
    circles under autograd's crosses; the line still runs through every point.
    """
    (x0, x1), (y0, y1) = window
    scaled = (path - [x0, y0]) / [x1 - x0, y1 - y0]
    marked = [0]
    for k in range(1, len(path) - 1):
        if np.hypot(*(scaled[k] - scaled[marked[-1]])) >= gap:
            marked.append(k)
    return marked + [len(path) - 1]


def train_and_validation_planes(alphas, betas, training, validation, manual_path, autograd_path, stop: int, *,
                                xlabel: str, ylabel: str, title: str = "") -> Figure:
    """The training path on one plane, over the training loss (left) and the validation loss (right).

    alphas: (A,), betas: (B,); training, validation: (B, A) losses at (alphas[j], betas[i]);
    *_path: (T, 2) both twins' coordinates in the plane; stop: the step marked with a diamond.
    Each panel has its own colour scale (two different functions), both at equal aspect; the
    paths are recorded for the GIF.
    """
    alphas, betas = _array(alphas), _array(betas)
    manual_path, autograd_path = _array(manual_path), _array(autograd_path)
    window = ((alphas[0], alphas[-1]), (betas[0], betas[-1]))
    every = _spread_out(manual_path, window)
    with house_style():
        fig = Figure(figsize=(9.6, 3.9), layout="constrained")
        axes = fig.subplots(1, 2, sharex=True, sharey=True)
        for ax, grid, name in zip(axes, (_array(training), _array(validation)),
                                  ("training loss (its 100 images)", "validation loss (400 images)")):
            levels = _log_levels(grid)
            filled = ax.contourf(alphas, betas, grid, levels=levels, norm=LogNorm(levels[0], levels[-1]), cmap=CMAP)
            ax.contour(alphas, betas, grid, levels=levels[::2], colors="white", linewidths=0.4, alpha=0.6)
            track = track_path(ax, manual_path, autograd_path)
            (line,) = ax.plot(*manual_path.T, color=MANUAL["color"], marker="o", markersize=5, markevery=every,
                              markeredgecolor="white", markeredgewidth=0.4, linewidth=1.2, label=MANUAL["label"],
                              zorder=4)
            track.grow(line)
            (crosses,) = ax.plot(*autograd_path[every].T, color=AUTOGRAD["color"], marker="x", markersize=3.0,
                                 markeredgewidth=1.0, linestyle="none", label=AUTOGRAD["label"], zorder=5)
            track.grow(crosses, every)
            _mark_start(ax, manual_path)
            with track.at_the_end(ax):
                _mark_end(ax, manual_path)
                ax.plot(*manual_path[stop], **STOP, zorder=7, label=f"lowest validation loss (step {stop})")
            bar = fig.colorbar(filled, ax=ax, shrink=0.9, ticks=round_log_ticks(levels[0], levels[-1]),
                               format=FuncFormatter(round_tick_text))
            bar.ax.minorticks_off()
            ax.set_title(name)
            ax.set_xlabel(xlabel)
            ax.set_aspect("equal", adjustable="box")
            ax.grid(False)
        axes[0].set_ylabel(ylabel)
        fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncols=5)
        fig.suptitle(title)
    return fig


def paired_gains(rows: dict, *, title: str = "") -> Figure:
    """Each method against its control, seed by seed: the change in validation accuracy and in validation loss.

    rows: {method: {"accuracy": [points per seed], "loss": [change per seed]}}; one dot per seed,
    the mean as a bar with the spread (one sample standard deviation) as a line. Zero: no change.
    """
    names = list(rows)
    with house_style():
        fig = Figure(figsize=(8.4, 0.55 * len(names) + 1.6), layout="constrained")
        axes = fig.subplots(1, 2, sharey=True)
        for ax, key, label in ((axes[0], "accuracy", "validation accuracy − control's (points)"),
                               (axes[1], "loss", "validation loss − control's")):
            for k, name in enumerate(names):
                values = np.asarray(rows[name][key], dtype=float)
                mean, spread = values.mean(), values.std(ddof=1) if len(values) > 1 else 0.0
                ax.barh(k, mean, height=0.5, color=SKY_BLUE, alpha=0.55, label="mean over the seeds" if k == 0 else None)
                ax.errorbar(mean, k, xerr=spread, color=BLACK, capsize=3, linewidth=1.2,
                            label="± one standard deviation" if k == 0 else None)
                ax.plot(values, np.full(len(values), k), linestyle="none", marker="o", markersize=5,
                        color=GREEN, markeredgecolor="white", label="one seed" if k == 0 else None, zorder=4)
            ax.axvline(0, color=BLACK, linewidth=0.9)
            ax.set_xlabel(label)
        axes[0].set_yticks(range(len(names)), names)
        axes[0].invert_yaxis()
        fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncols=3)
        fig.suptitle(title)
    return fig


def sharpness_and_accuracy(runs: dict, two_over_lr: float, *, title: str = "") -> Figure:
    """Sharpness at the end of training against validation accuracy, one point per run, a line per seed.

    runs: {batch size: {seed: (sharpness, validation accuracy in [0, 1])}}; the dashed line is 2/lr,
    the largest sharpness at which full-batch gradient descent at this lr is stable.
    """
    markers = ["v", "^", "D", "P"]
    with house_style():
        fig = Figure(figsize=(5.6, 3.9), layout="constrained")
        ax = fig.add_subplot()
        sizes = list(runs)
        seeds = list(runs[sizes[0]])
        for seed in seeds:
            xs = [runs[batch][seed][0] for batch in sizes]
            ys = [100 * runs[batch][seed][1] for batch in sizes]
            ax.plot(xs, ys, color=BLACK, linewidth=0.8, alpha=0.5, zorder=2)
        for batch, marker, color in zip(sizes, markers, (GREEN, PURPLE, SKY_BLUE, BLACK)):
            values = np.array([runs[batch][seed] for seed in seeds], dtype=float)
            ax.plot(values[:, 0], 100 * values[:, 1], linestyle="none", marker=marker, markersize=8, color=color,
                    markeredgecolor="white", label=f"batches of {batch}", zorder=3)
        ax.plot([], [], color=BLACK, linewidth=0.8, alpha=0.5, label="one seed: the same start and images")
        ax.axvline(two_over_lr, color=BLACK, linestyle="--", linewidth=1.0, label=f"2/lr = {two_over_lr:g}")
        ax.set_xlim(0, two_over_lr * 1.08)
        ax.set_xlabel("sharpness at the end: the Hessian's largest eigenvalue")
        ax.set_ylabel("validation accuracy (%)")
        ax.legend(loc="lower right")
        ax.set_title(title)
    return fig


CAPTIONS = {
    "digits": {
        "caption": "Validation images as the network sees them, 8 × 8 pixels of ink counts. Top row: one correctly "
                   "read digit of each class, titled with the network's answer. Then every validation image the "
                   "chosen network gets wrong, framed and titled \"true → answer\".",
        "alt": "A grid of small grey-scale pixel images of handwritten digits. The first row shows the digits 0 to 9, "
               "each titled with the same digit. The rows below show the misread images, each with a purple frame "
               "and a title such as '8 → 1'; many are thick, slanted or broken strokes.",
    },
    "generalisation": {
        "caption": "Training against validation. Left: the network trained on all 1,000 training images, loss (log "
                   "scale) and accuracy on the training images (green) and on the 400 validation images (purple) at "
                   "the end of every epoch; the gap opens slowly, and the validation loss is lowest at the last "
                   "epoch (dotted). Right: 100 training images, three seeds (each its own images and start): the "
                   "training loss falls towards 0 while the validation loss turns up after 30 to 45 steps "
                   "(diamonds, where early stopping would stop), and the validation accuracy barely moves after "
                   "that.",
        "alt": "A two-by-two grid of line charts. Top left, loss per epoch on a log scale: green and purple curves "
               "fall together from 2.3 and part after epoch 4, ending near 0.08 and 0.15. Bottom left, accuracy: "
               "both rise above 95 %. Top right, loss per step for three seeds (solid, dashed, dash-dotted): green lines "
               "fall to about 0.003, purple lines fall to between 0.3 and 0.55, are marked with white diamonds "
               "near steps 30 to 45, and rise slowly after. Bottom right, validation accuracy per step: purple "
               "lines rise to about 89 to 91 % and stay flat, diamonds near their tops.",
    },
    "planes": {
        "caption": "One training run (seed 0, 100 images) on the PCA plane of its own path, over two landscapes, "
                   "each with its own log colour scale: the training loss (left) and the validation loss (right). "
                   "Both twins' paths coincide, a cross in every circle. The path keeps going down the training "
                   "valley; on the validation landscape it passes its lowest ground near the diamond, where early "
                   "stopping stops, and goes on a little uphill.",
        "alt": "Two contour maps side by side sharing a log colour bar. In both, a path of blue circles with red "
               "crosses runs from a white square to a yellow star, with a white diamond part of the way along. "
               "On the left the contours keep falling towards the star; on the right the darkest region lies "
               "near the diamond and the star sits on lighter contours.",
    },
    "regularisers": {
        "caption": "Each way of regularising against the plain run from the same seed (same start, same 100 "
                   "images), on the 400 validation images: dots are seeds, bars the mean, lines one standard "
                   "deviation. Left the accuracy, right the loss (lower is better).",
        "alt": "Two horizontal bar charts sharing four rows: early stopping, L2 inside Adam, AdamW, dropout 0.3. "
               "Left, the change in validation accuracy in points, dots and bars within about two points of zero. "
               "Right, the change in validation loss, all bars to the left of zero.",
    },
    "sharpness": {
        "caption": "SGD at lr = 0.5 for 150 steps with batches of 10 and of all 100 images, three seeds: the "
                   "sharpness reached against the validation accuracy, each seed's two runs joined by a line. "
                   "The small batches end flatter on every seed, but not more accurate. Dashed: 2/lr.",
        "alt": "A scatter plot of validation accuracy between about 88 and 92 % against sharpness from 0 to 4. "
               "Three green downward triangles (batches of 10) lie at sharpness 0.8 to 1.5; three purple upward "
               "triangles (batches of 100) lie at 1.4 to 2.3; grey lines join the pairs and slope both ways. A "
               "dashed vertical line stands at 4.",
    },
}
