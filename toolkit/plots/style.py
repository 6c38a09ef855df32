"""The house style: every colour, marker, line width and font size of the course's figures, set once.

The rules a reader of any figure can rely on:

* the hand-written twin is a line through circles, the autograd twin vermillion × crosses placed in
  those circles ("a cross in every circle" where the twins agree). With one run the circles and the line
  are blue; with several runs on one axes each run has a colour of its own from ``RUN_COLORS``, and
  blue and vermillion are never used for anything else (nor orange, too close to vermillion to tell apart);
* the start of a path is a white square, its end a yellow star, a run that diverged ends in a black X;
* every loss landscape uses the same colour map, dark where the loss is low.

Colours come from Okabe & Ito's palette, which reads for the common kinds of colour blindness. Font
sizes, line widths and the rest are matplotlib rcParams (``RC``), applied by ``house_style()`` while a
figure is built and while it is saved; no figure function passes a font size of its own.

Course notes (``--width column|page``): ``use_width(name)`` makes every figure built afterwards that
wide, with its fonts at 8 to 9 pt (``NOTES_RC``); ``figure()`` and ``columns()`` build it for that width.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import matplotlib
from matplotlib.colors import LinearSegmentedColormap
from matplotlib.figure import Figure

# Okabe & Ito's colour-blind-safe palette, and one more from Paul Tol's for a sixth run.
BLUE, VERMILLION, ORANGE = "#0072B2", "#D55E00", "#E69F00"
SKY_BLUE, GREEN, YELLOW, PURPLE, BLACK = "#56B4E9", "#009E73", "#F0E442", "#CC79A7", "#000000"
WINE, OLIVE = "#882255", "#999933"
# Neutrals: text and marker edges (INK), lines that explain rather than measure (DARK to LIGHT greys).
INK, DARK, MID, LIGHT, PALE, PAPER, NONE = "black", "0.2", "0.4", "0.6", "0.87", "white", "none"

# The twins.
MANUAL = {"color": BLUE, "marker": "o", "label": "manual (hand-written)"}
AUTOGRAD = {"color": VERMILLION, "marker": "x", "label": "autograd (torch.nn)"}
# Runs compared on one axes. Never the twins' blue or vermillion, nor orange (a neighbour of vermillion)
# or the end star's yellow.
RUN_COLORS = [SKY_BLUE, GREEN, PURPLE, BLACK, WINE, MID]
# Several classes of data points (a classifier's regions): a colour and a marker each, so they read in grey.
CLASS_COLORS = [SKY_BLUE, ORANGE, GREEN, PURPLE, WINE, MID]
CLASS_MARKERS = ["o", "^", "D", "v", "P", "h"]
# Minima of one landscape, each with the paths that reach it (a marker each too, so they read in grey).
BASIN_COLORS = [SKY_BLUE, GREEN, PURPLE, BLACK, WINE, OLIVE, MID]
# The landscape under those coloured paths: greys only, from a mid grey where the loss is lowest (dark where
# low, as CMAP) to almost white where it is highest, so that every basin's colour shows on it.
BASIN_CMAP = LinearSegmentedColormap.from_list("toolkit_basin_greys", ["0.42", "0.97"])

# The hand-written twin's circles and autograd's crosses, as drawn on a path and on a loss curve.
MANUAL_LINE = {"marker": "o", "markersize": 5.5, "markeredgecolor": PAPER, "markeredgewidth": 0.5, "linewidth": 1.3}
AUTOGRAD_CROSS = {"color": VERMILLION, "marker": "x", "markersize": 3.2, "markeredgewidth": 1.1, "linestyle": "none"}
# Where a path starts and ends, and where a run diverged.
START = {"marker": "s", "markersize": 8, "color": PAPER, "markeredgecolor": INK, "linestyle": "none"}
END = {"marker": "*", "markersize": 13, "color": YELLOW, "markeredgecolor": INK, "linestyle": "none"}
DIVERGED = {"marker": "X", "markersize": 10, "color": INK, "markeredgecolor": PAPER, "linestyle": "none"}
# A known minimum of a landscape (least squares, a closed form).
MINIMUM = {"marker": "P", "markersize": 9, "color": PAPER, "markeredgecolor": INK, "linestyle": "none"}
# A saddle: a hollow diamond, large enough to leave a start square inside it visible.
SADDLE = {"marker": "D", "markersize": 13, "markerfacecolor": NONE, "markeredgecolor": INK, "markeredgewidth": 1.6,
          "linestyle": "none"}
# A line drawn from theory beside a measured one, and a reference level (L*, ln 3, 2/lr).
THEORY = {"color": DARK, "linestyle": (0, (4, 3)), "linewidth": 1.0}
REFERENCE = {"color": MID, "linestyle": ":", "linewidth": 1.2}

# Loss landscapes: dark where the loss is low; thin pale contour lines on top of the filled ones.
CMAP = "viridis"
# A probability between two classes: a diverging map, white at 0.5.
PROBABILITY_CMAP = "RdBu_r"
# Ink on paper (a handwritten digit's pixels): white where there is none, black where there is most.
INK_CMAP = "gray_r"
CONTOUR_LINES = {"colors": PAPER, "linewidths": 0.4, "alpha": 0.6}
# Behind a label that sits on lines or contours, and around a remark inside a panel.
TEXT_BOX = {"boxstyle": "round,pad=0.25", "facecolor": PAPER, "edgecolor": NONE, "alpha": 0.85}
NOTE_BOX = {"boxstyle": "round,pad=0.4", "facecolor": PAPER, "edgecolor": LIGHT, "alpha": 0.9}

RC = {
    "font.size": 8.5,               # texts placed in a panel (notes, labels on curves)
    "axes.titlesize": 10.5,
    "axes.labelsize": 10,
    "figure.titlesize": 10.5,
    "legend.fontsize": 8,
    "legend.title_fontsize": 8.5,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "lines.linewidth": 1.6,
    "image.cmap": CMAP,
    "svg.hashsalt": "toolkit",     # fixed ids inside SVG files: same bytes every run
    "svg.fonttype": "none",        # SVG text stays text: searchable, selectable, and the files are smaller
    "pdf.fonttype": 42,
}
# Course notes: every text at 8 to 9 pt at the final size, larger texts still larger.
NOTES_RC = {"font.size": 8, "axes.titlesize": 9, "axes.labelsize": 8.5, "figure.titlesize": 9,
            "legend.fontsize": 8, "legend.title_fontsize": 8, "xtick.labelsize": 8, "ytick.labelsize": 8}
NOTES_SIZES = (8.0, 9.0)

DPI = 200   # every file is rendered at this resolution (a PNG, and the images inside SVG and PDF)


@dataclass(frozen=True)
class WidthPreset:
    width: float            # inches: every figure of the preset is exactly this wide
    max_height: float       # inches: a taller figure's panels are squeezed instead
    min_panel: float        # inches: no panel narrower than this; a grid gets fewer columns instead


WIDTH_PRESETS = {
    "column": WidthPreset(width=3.4, max_height=9.0, min_panel=2.6),
    "page": WidthPreset(width=7.0, max_height=9.0, min_panel=2.2),
}
_active: WidthPreset | None = None
# Inches a panel needs beside (tick labels, y label) and above and below (title, x label) its box.
TEXT_ROOM = (0.6, 0.65)
_built_shapes: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_origins: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()     # figure -> where it was made, see origin


def use_width(name: str | None) -> None:
    """Build every figure from now on for a width preset ("column", "page"), or as built (None)."""
    global _active
    if name is not None and name not in WIDTH_PRESETS:
        raise ValueError(f"unknown width '{name}': choose one of {', '.join(WIDTH_PRESETS)}")
    _active = WIDTH_PRESETS[name] if name is not None else None


def active_width() -> WidthPreset | None:
    """The width preset figures are built for now, or None."""
    return _active


def house_style():
    """A context manager applying the house style (and the notes sizes under a width preset)."""
    return matplotlib.rc_context({**RC, **(NOTES_RC if _active is not None else {})})


def figure(width: float, height: float, *, count: int = 1, columns: int = 1) -> Figure:
    """A new figure in the house style, ``width`` x ``height`` inches as built, laid out by constrained layout.

    ``count`` panels in a grid ``columns`` wide make up the figure as built. Under a width preset the
    figure is exactly the preset's width; its grid gets the columns ``grid(count, columns)`` gives, and
    the figure is as tall as the panels need to keep the shape they have as built (``fit_to_width``
    settles it when the figure is saved). Build the figure inside ``house_style()``.
    """
    if _active is None:
        fig = Figure(figsize=(width, height), layout="constrained")
        _origins[fig] = _origin()
        return fig
    rows, new_columns = grid(count, columns)
    built_rows = -(-count // columns)
    # A panel's own box as built, without the room its title, labels and tick labels take.
    box_width = max(width / columns - TEXT_ROOM[0], 0.5)
    box_height = max(height / built_rows - TEXT_ROOM[1], 0.4)
    shape = box_height / box_width
    tall = rows * ((_active.width / new_columns - TEXT_ROOM[0]) * shape + TEXT_ROOM[1])
    fig = Figure(figsize=(_active.width, min(max(tall, 0.45 * _active.width), _active.max_height)),
                 layout="constrained")
    _built_shapes[fig] = shape
    _origins[fig] = _origin()
    return fig


def origin(fig: Figure) -> dict[str, str]:
    """Where ``fig`` was made: {"function": "toolkit/plots/sgd.py:sgd_paths", "called_at": "lessons/06_sgd.py:212"}.

    Either is missing when it is not known (a figure made outside ``figure``, or outside a lesson).
    """
    return dict(_origins.get(fig, {}))


def _origin() -> dict[str, str]:
    """The figure function that is calling ``figure`` now, and the lesson line that called it."""
    import inspect
    import re

    found: dict[str, str] = {}
    frame = inspect.currentframe().f_back.f_back
    while frame is not None:
        path = frame.f_code.co_filename.replace("\\", "/")
        name = frame.f_code.co_name
        module = re.search(r"(toolkit/plots/\w+\.py)$", path)
        if "function" not in found and module and not name.startswith("_") and "style.py" not in path:
            found["function"] = f"{module.group(1)}:{name}"
        lesson = re.search(r"(lessons/\d\d_\w+\.py)$", path)
        if lesson:
            found["called_at"] = f"{lesson.group(1)}:{frame.f_lineno}"
            break
        frame = frame.f_back
    return found


def built_panel_shape(fig: Figure) -> float | None:
    """The height / width of a panel's box as ``figure`` built it for a width preset; None for other figures."""
    return _built_shapes.get(fig)


def panels(width: float, height: float, count: int, columns: int, **subplots) -> tuple[Figure, list]:
    """A figure of ``count`` panels in a grid ``columns`` wide as built (``figure``), and its panels in reading order.

    ``subplots`` go to ``Figure.subplots`` (sharex, sharey, width_ratios: the last only if the grid keeps
    its columns). The list holds every cell of the grid; cells past ``count`` are there for a legend or
    are switched off by the caller. Ask a panel where it is with ``ax.get_subplotspec().is_first_col()``.
    """
    rows, new_columns = grid(count, columns)
    if new_columns != columns:
        subplots.pop("width_ratios", None)
    fig = figure(width, height, count=count, columns=columns)
    axes = fig.subplots(rows, new_columns, squeeze=False, **subplots)
    return fig, list(axes.ravel())


def columns_for(columns: int) -> int:
    """How many of a grid's ``columns`` panels fit side by side at the active width (all of them without one)."""
    if _active is None:
        return columns
    return max(1, min(columns, int(_active.width // _active.min_panel)))


def grid(count: int, columns: int) -> tuple[int, int]:
    """(rows, columns) of a grid of ``count`` panels built ``columns`` wide, at the active width."""
    columns = columns_for(min(columns, count))
    return -(-count // columns), columns
