"""toolkit.plots.style."""

from __future__ import annotations

import matplotlib


# The twins, in every figure.
MANUAL = {"color": "#0072B2", "marker": "o", "label": "manual (hand-written)"}


AUTOGRAD = {"color": "#D55E00", "marker": "x", "label": "autograd (torch.nn)"}


# Other colours from the same colour-blind-safe palette, for several runs at once.
RUN_COLORS = ["#56B4E9", "#009E73", "#E69F00", "#CC79A7", "#000000"]


CMAP = "viridis"


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
    "svg.fonttype": "none",        # SVG text stays text: searchable, selectable, and the files are smaller
    "pdf.fonttype": 42,
}


DPI = 200   # every file is rendered at this resolution (a PNG, and the images inside SVG and PDF)


# Without these, each file would carry its creation time or matplotlib's version.
METADATA = {
    "png": {"Software": None},
    "svg": {"Date": None, "Creator": None},
    "pdf": {"CreationDate": None, "ModDate": None, "Creator": None, "Producer": None},
}


def house_style():
    """A context manager applying the house style while a figure is built."""
    return matplotlib.rc_context(STYLE)
