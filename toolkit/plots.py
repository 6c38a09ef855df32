"""The house style and every figure the lessons draw.

One look for all figures: colour-blind-safe colours (Okabe & Ito), the same
colour and marker for "manual" and "autograd" everywhere, log-spaced contour
levels, and files that are byte-identical for the same seed. Figures are
built with matplotlib's object API (``Figure``), so no window opens and no
global pyplot state is touched.
"""

from __future__ import annotations

import contextlib
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib
import numpy as np
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from toolkit.animation import track_path
from toolkit.train import DIVERGENCE_FACTOR, History

# The twins, in every figure.
MANUAL = {"color": "#0072B2", "marker": "o", "label": "manual (hand-written)"}
AUTOGRAD = {"color": "#D55E00", "marker": "x", "label": "autograd (torch.nn)"}
# Other colours from the same colour-blind-safe palette, for several runs at once.
RUN_COLORS = ["#56B4E9", "#009E73", "#E69F00", "#CC79A7", "#000000"]
CMAP = "viridis"
# A diverged run's loss can jump to 1e200 or to inf in one step. A loss curve
# shows losses up to OFF_SCALE times the first one (a thousand times past the
# point where training stops a run as diverged); a larger one, or one that
# is not a number at all, is marked as off the scale instead of being drawn.
OFF_SCALE = 1e3 * DIVERGENCE_FACTOR
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


def figure_bytes(fig: Figure, fmt: str, *, tight: bool = True) -> bytes:
    """Render a figure to PNG, SVG or PDF bytes, deterministically.

    tight: crop the file to what is drawn (plus a small margin), as the
    gallery does; False keeps the figure's own size exactly, as a width
    preset needs (see ``fit_to_width``). In SVG and PDF, large filled areas
    (filled contours, meshes, images, 3-D surfaces) are stored as one
    200-dpi image each, everything else (lines, markers, text) as vectors.
    """
    buffer = io.BytesIO()
    crop = {"bbox_inches": "tight", "pad_inches": 0.05} if tight else {}
    with house_style(), _rasterised_fills(fig, fmt in ("svg", "pdf")):
        fig.savefig(buffer, format=fmt, dpi=DPI, metadata=METADATA[fmt], **crop)
    return buffer.getvalue()


# --------------------------------------------------------------------------
# Course-notes sizes: width presets, titles into captions, small vector files
# --------------------------------------------------------------------------
# A preset is applied when a figure is saved, not when it is built, so every
# figure gets it without a change to the function that drew it. The figure
# gets the preset's width and its fonts 8 to 9 pt at that size; long titles
# are wrapped and wide legends get fewer columns. The height follows from the
# panels: each keeps the shape it was built with (text does not shrink with
# the figure, so most figures get a little taller than a scaled copy), up to
# the preset's largest height, past which the panels are squeezed. A grid of
# panels whose smallest panel would come out narrower or lower than
# READABLE is re-flowed into fewer columns, in reading order (a figure of
# two panels side by side becomes two panels one above the other), when that
# gives larger panels; such a figure gets much taller.


@dataclass(frozen=True)
class WidthPreset:
    width: float            # inches: every figure of the preset is exactly this wide
    max_height: float       # inches: the panels of a taller figure are squeezed instead


WIDTH_PRESETS = {
    "column": WidthPreset(width=3.4, max_height=9.0),
    "page": WidthPreset(width=7.0, max_height=9.0),
}
READABLE = 1.2          # inches: a panel at least this wide and this high keeps the grid it was built in
LOWEST_PANEL = 0.9      # inches: a narrowed panel keeps at least this much height (if it had it), room permitting
SIDE_LEGEND = 0.4       # a figure legend beside the panels that is wider than this share of the figure goes below
# Fonts as built (7.5 to 10.5 pt) are mapped linearly onto 8 to 9 pt at the final size, so the order
# of sizes (title > axis label > tick label > legend) is kept.
BUILT_FONTS = (7.5, 10.5)
NOTES_FONTS = (8.0, 9.0)


def notes_font_size(built: float) -> float:
    """The size (pt) a font of ``built`` pt gets in a width preset: 8 to 9 pt, larger stays larger."""
    (b0, b1), (n0, n1) = BUILT_FONTS, NOTES_FONTS
    return float(min(max(n0 + (built - b0) * (n1 - n0) / (b1 - b0), n0), n1))


def take_title(fig: Figure) -> str | None:
    """Remove the figure's title from the image and return its text (lines joined), or None if it has none.

    The title is the suptitle, and in a figure with one panel that panel's
    own title (where the single-panel figures put theirs). Panel titles of a
    figure with several panels name the panels and stay.
    """
    taken = []
    suptitle = getattr(fig, "_suptitle", None)
    if suptitle is not None and suptitle.get_text().strip():
        taken.append(suptitle.get_text())
        suptitle.remove()
        fig._suptitle = None
    panels = _panels(fig)
    if len(panels) == 1:
        for loc in ("left", "center", "right"):
            text = panels[0].get_title(loc=loc)
            if text.strip():
                taken.append(text)
                panels[0].set_title("", loc=loc)
    if not taken:
        return None
    return " ".join(" ".join(line.strip() for line in text.splitlines() if line.strip()) for text in taken)


def fit_to_width(fig: Figure, preset: str | WidthPreset) -> Figure:
    """Give ``fig`` a width preset ("column" or "page", see WIDTH_PRESETS) in place, for course notes.

    Save it afterwards with ``figure_bytes(fig, fmt, tight=False)``, so the
    file is exactly the preset's width. Works on any figure (it is laid
    out with matplotlib's constrained layout); the function that drew it
    needs no change.
    """
    from matplotlib.layout_engine import ConstrainedLayoutEngine

    preset = WIDTH_PRESETS[preset] if isinstance(preset, str) else preset
    fig.set_dpi(DPI)        # texts measured as they will be drawn
    with house_style():
        if not isinstance(fig.get_layout_engine(), ConstrainedLayoutEngine):
            fig.set_layout_engine("constrained")
        _layout(fig)
        width, height = fig.get_size_inches()
        shapes = {ax: _box(ax, width, height) for ax in _panels(fig)}
        drawn = {}          # how much of its box a panel fills once an equal aspect has shrunk it
        for ax in shapes:
            ax.apply_aspect()
            box, active = ax.get_position(original=True), ax.get_position()
            drawn[ax] = (active.width / box.width if box.width else 1.0,
                         active.height / box.height if box.height else 1.0)
        _notes_fonts(fig)
        fig.set_size_inches(preset.width, preset.max_height)
        _fit_texts(fig, figure=True)
        built = _grid_columns(list(shapes))
        if built is not None and built > 1:
            columns = _columns_for(fig, shapes, drawn, built, preset)
            if columns != built:
                _reflow(fig, list(shapes), shapes, columns)
        _settle(fig, shapes, preset)
        _freeze_layout(fig)
    return fig


def _freeze_layout(fig: Figure) -> None:
    """Keep the layout as it is now, its positions rounded far below a pixel, and switch the layout engine off.

    The layout's solver can differ in the last bits from one run to the
    next; an SVG file names its clip paths by a hash of their exact
    coordinates, so unrounded positions would change its bytes.
    """
    from matplotlib.transforms import Bbox

    for ax in fig.axes:
        if ax.get_axes_locator() is None or getattr(ax, "_colorbar", None) is not None:
            box = ax.get_position(original=True)
            ax._set_position(Bbox.from_bounds(*(round(float(v), 9) for v in box.bounds)), which="both")
    fig.set_layout_engine("none")


def _columns_for(fig: Figure, shapes: dict, drawn: dict, built: int, preset: WidthPreset) -> int:
    """How many columns the grid should have at the preset's width: the built number if its smallest
    panel comes out at least READABLE on both sides (or at least three quarters of its built size),
    else the number that makes it largest.

    Estimated, not laid out (a layout of a large figure takes a good part of
    a second): each column costs the width of the widest panel's tick and
    axis labels, each row the height of the tallest panel's title and
    labels; colour bars, figure legends and the suptitle take their own room.
    """
    renderer = fig._get_renderer()
    pad = 2 * 3 / 72          # constrained layout's padding on both sides of a panel
    panels = [ax for ax in shapes if ax.axison]
    if not panels:
        return built
    # Left of a panel its y tick labels and label (a title or x label wider than the panel may reach
    # over its neighbours' room and is wrapped later); above and below it, its title and x axis.
    lefts = [ax.yaxis.get_tightbbox(renderer) for ax in panels]      # None: no tick labels, no label
    around_x = max(max(ax.bbox.x0 - left.x0, 0.0) if left is not None else 0.0
                   for ax, left in zip(panels, lefts)) / fig.dpi + pad
    around_y = max(ax.get_tightbbox(renderer).height - ax.bbox.height for ax in panels) / fig.dpi + pad
    # A title wider than its new panel is wrapped: so many more lines (inches of width, of a line).
    titles = {ax: [(t.get_window_extent(renderer).width / fig.dpi, 1.25 * t.get_fontsize() / 72)
                   for t in (ax.title, ax._left_title, ax._right_title) if t.get_text()] for ax in panels}
    bars = [ax for ax in fig.axes if getattr(ax, "_colorbar", None) is not None]
    fixed_x = sum(ax.get_tightbbox(renderer).width / fig.dpi + pad for ax in bars)
    texts = list(fig.legends) + [t for t in [getattr(fig, "_suptitle", None)] if t is not None]
    fixed_y = sum(t.get_window_extent(renderer).height / fig.dpi + pad for t in texts)
    cells = len({ax.get_subplotspec().num1 for ax in shapes})
    before = min(min(w * drawn[ax][0], h * drawn[ax][1]) for ax, (w, h) in shapes.items() if ax in panels)
    best = None
    # In the built grid the panels of a row share its width as they did; re-flowed, equally.
    row_of = {ax: ax.get_subplotspec().rowspan.start for ax in shapes}
    row_width: dict = {}
    for ax, (w, _) in shapes.items():
        row_width[row_of[ax]] = row_width.get(row_of[ax], 0.0) + w
    for columns in range(built, 0, -1):
        rows = -(-cells // columns)
        room_x = preset.width - fixed_x - columns * around_x
        widths = {ax: room_x * w / row_width[row_of[ax]] if columns == built else room_x / columns
                  for ax, (w, _) in shapes.items()}
        heights = {ax: widths[ax] * h / w for ax, (w, h) in shapes.items() if w > 0}
        tallest = max(heights.values(), default=room_x)
        wrapped = max((math.ceil(wide / max(widths[ax] + around_x, 0.1)) - 1) * line
                      for ax in panels for wide, line in titles[ax] or [(0.0, 0.0)])
        room = (preset.max_height - fixed_y) / rows - around_y - wrapped
        squeeze = min(1.0, room / tallest) if tallest > 0 else 1.0
        sides = []
        for ax in panels:
            w, h = widths[ax] * drawn[ax][0], heights.get(ax, widths[ax]) * drawn[ax][1]
            fixed_aspect = ax.get_aspect() != "auto" or ax.name == "3d"
            sides.append(min(w * squeeze, h * squeeze) if fixed_aspect else min(w, h * squeeze))
        smallest = min(sides)
        # The built grid stays if its panels stay READABLE, or lose at most a quarter of their size.
        if columns == built and smallest >= min(READABLE, 0.75 * before):
            return built
        if best is None or smallest > best[0] * 1.05:    # fewer columns only for clearly larger panels
            best = (smallest, columns)
    return best[1]


def _panels(fig: Figure) -> list:
    """The figure's panels: its axes without colour bars and insets."""
    return [ax for ax in fig.axes
            if getattr(ax, "_colorbar", None) is None and ax.get_axes_locator() is None]


def _box(ax, fig_width: float, fig_height: float) -> tuple[float, float]:
    """The (width, height) in inches that the layout gives a panel (before an equal aspect shrinks it)."""
    box = ax.get_position(original=True)
    return box.width * fig_width, box.height * fig_height


def _notes_fonts(fig: Figure) -> None:
    """Every text of the figure at its notes size (see notes_font_size), tick labels included."""
    from matplotlib.text import Text

    # Tick labels are made again as the ticks change: their size is a setting of the axis, read first.
    ticks = [(axis, which, found[0].label1.get_fontsize()) for ax in fig.axes for axis in ax._axis_map.values()
             for which, found in (("major", axis.get_major_ticks()), ("minor", axis.get_minor_ticks())) if found]
    done = set()
    for text in fig.findobj(Text):
        if id(text) not in done:
            done.add(id(text))
            text.set_fontsize(notes_font_size(text.get_fontsize()))
    for axis, which, size in ticks:
        axis.set_tick_params(which=which, labelsize=notes_font_size(size))


def _grid_columns(panels: list) -> int | None:
    """The number of columns of the grid the panels fill, one cell each; None if they do not form one."""
    specs = [ax.get_subplotspec() for ax in panels]
    if not panels or any(spec is None for spec in specs):
        return None
    grid = specs[0].get_gridspec()
    if any(spec.get_gridspec() is not grid or spec.num1 != spec.num2 for spec in specs):
        return None
    return grid.get_geometry()[1]


def _reflow(fig: Figure, panels: list, shapes: dict, columns: int) -> None:
    """Put the panels of a grid into ``columns`` columns, in reading order.

    Each new row is as tall as its panels' shapes need. Tick labels of
    shared axes show where no panel sharing them is next to them (below for
    x, to the left for y), a panel that lands where its axis label is read
    gets the label its old column (x) or row (y) showed, and titles only on
    the first row (column headings) go with every panel of their column.
    """
    from matplotlib.gridspec import GridSpec

    specs = {ax: ax.get_subplotspec() for ax in panels}
    old_columns = specs[panels[0]].get_gridspec().get_geometry()[1]
    cells = sorted({spec.num1 for spec in specs.values()})
    place = {cell: divmod(k, columns) for k, cell in enumerate(cells)}
    rows = -(-len(cells) // columns)
    aspect = [0.0] * rows
    for ax, spec in specs.items():
        w, h = shapes[ax]
        row = place[spec.num1][0]
        aspect[row] = max(aspect[row], h / w if w > 0 and ax.axison else 0.0)
    grid = GridSpec(rows, columns, figure=fig, height_ratios=[a or max(aspect) or 1.0 for a in aspect])
    old = {ax: divmod(spec.num1, old_columns) for ax, spec in specs.items()}
    new = {ax: place[spec.num1] for ax, spec in specs.items()}
    at = {position: ax for ax, position in new.items()}
    for ax in panels:
        ax.set_subplotspec(grid[new[ax]])

    def label_of(ax, name: str, index: int) -> str:
        # The label the panel's old column (x, index 1) or row (y, index 0) showed.
        current = getattr(ax, f"get_{name}label")()
        if current:
            return current
        return next((getattr(other, f"get_{name}label")() for other in panels
                     if old[other][index] == old[ax][index] and getattr(other, f"get_{name}label")()), "")

    for ax in panels:
        if not ax.axison:
            continue
        row, col = new[ax]
        for name, neighbour, side, index in (("x", at.get((row + 1, col)), "labelbottom", 1),
                                             ("y", at.get((row, col - 1)), "labelleft", 0)):
            axis = getattr(ax, f"{name}axis")
            shared = getattr(ax, f"get_shared_{name}_axes")().get_siblings(ax)
            inner = neighbour is not None and neighbour in shared and len(shared) > 1
            if len(shared) > 1:
                axis.set_tick_params(which="both", **{side: not inner})
                axis.offsetText.set_visible(not inner)
            if inner:
                getattr(ax, f"set_{name}label")("")
            elif name == "x" or col == 0:
                getattr(ax, f"set_{name}label")(label_of(ax, name, index))

    # Titles on the first row only are the columns' headings ("tanh", "ReLU"): every panel of the
    # column takes its heading along.
    def titles(ax) -> tuple:
        return ax.get_title(loc="left"), ax.get_title(loc="center"), ax.get_title(loc="right")

    for col in range(old_columns):
        column = sorted((ax for ax in panels if old[ax][1] == col and ax.axison), key=lambda ax: old[ax][0])
        if len(column) > 1 and any(titles(column[0])) and not any(any(titles(ax)) for ax in column[1:]):
            for ax in column[1:]:
                for loc, text in zip(("left", "center", "right"), titles(column[0])):
                    if text:
                        ax.set_title(text, loc=loc, fontsize=getattr(column[0], f"_{loc}_title" if loc != "center"
                                                                        else "title").get_fontsize())


def _settle(fig: Figure, shapes: dict, preset: WidthPreset) -> None:
    """Lay the figure out at the preset's width and the height its panels' shapes need."""
    fig.get_layout_engine().set(rect=(0, 0, 1, 1))
    # From the tallest the preset allows down to the height the panels need: the layout never
    # runs out of room on the way.
    height = preset.max_height
    fig.set_size_inches(preset.width, height)
    _fit_texts(fig, figure=True)
    _layout(fig)
    for attempt in range(2):
        # Once more if the panels' texts had to be wrapped again at the new height (a panel of fixed
        # aspect may have got narrower, an axis label longer than its panel is high).
        if not _fit_texts(fig, figure=False, shapes=shapes) and attempt:
            break
        _layout(fig)
        for _ in range(6):
            new = min(max(height + _missing_height(fig, shapes), preset.width * 0.45), preset.max_height)
            new = round(new * DPI) / DPI       # whole pixels
            if abs(new - height) < 0.01:
                break
            height = new
            fig.set_size_inches(preset.width, height)
            _layout(fig)
    _keep_inside(fig)


def _layout(fig: Figure) -> bool:
    """Run the figure's layout (nothing is drawn); False if it found no room for the panels."""
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig.get_layout_engine().execute(fig)
    collapsed = [w for w in caught if "constrained_layout not applied" in str(w.message)]
    for w in caught:
        if w not in collapsed:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return not collapsed


def _keep_inside(fig: Figure) -> None:
    """Shrink the layout's frame until everything drawn (a 3-D axis label, say) is inside the figure.

    Something the layout does not move (a text placed in figure
    coordinates) cannot be helped: the frame is then left as it was.
    """
    engine = fig.get_layout_engine()
    width, height = fig.get_size_inches()
    margins = np.zeros(4)       # inches: left, bottom, right, top
    rect = best = (0, 0, 1, 1)
    least = np.inf
    for _ in range(4):        # the figure has just been laid out with ``rect``
        drawn = fig.get_tightbbox(fig._get_renderer())      # in inches
        beyond = np.array([-drawn.x0, -drawn.y0, drawn.x1 - width, drawn.y1 - height])
        if (beyond <= 0).all():
            return
        if beyond.max() >= least:
            break
        least, best = beyond.max(), rect
        margins = np.minimum(margins + np.where(beyond > 0, beyond + 2 / 72, 0.0),
                             0.2 * np.array([width, height, width, height]))
        left, bottom, right, top = margins / [width, height, width, height]
        rect = (left, bottom, 1 - left - right, 1 - bottom - top)
        engine.set(rect=rect)
        if not _layout(fig):
            break
    if rect != best:
        engine.set(rect=best)
        _layout(fig)


def _fit_texts(fig: Figure, *, figure: bool, shapes: dict | None = None) -> bool:
    """Wrap titles wider than their room and give legends wider than theirs fewer columns; True if
    anything changed.

    figure=True: the suptitle and the figure's legends, whose room is the
    figure's width; False: the panels' titles, axis labels and legends,
    once the layout has placed the panels. A y label may be as long as its
    panel is high, at the shape the panel was built with (``shapes``).
    """
    renderer = fig._get_renderer()
    right = fig.bbox.width
    changed = False
    if figure:
        suptitle = getattr(fig, "_suptitle", None)
        if suptitle is not None:
            changed |= _wrap(suptitle, right * 0.97, renderer)
        for legend in fig.legends:
            # A legend beside the panels that would take much of a narrow figure goes below them.
            if (getattr(legend, "_outside_loc", None) in ("left", "right") and legend._bbox_to_anchor is None
                    and legend.get_window_extent(renderer).width > SIDE_LEGEND * right):
                legend.set_loc("outside lower center")
                changed = True
            changed |= _fit_legend(legend, right * 0.97, renderer)
        return changed
    beside = [ax for ax in fig.axes if getattr(ax, "_colorbar", None) is not None
              or (ax.axison and ax.get_axes_locator() is None)]
    for ax in beside:
        ax.apply_aspect()       # where the panel is drawn, inside the room the layout gave it
    for ax in fig.axes:
        box = ax.bbox
        # The room a title has: up to the nearest panel or colour bar level with it on either side
        # (half the gap to a neighbour's title), else the figure's edge.
        left, right_end = 0.0, right
        for other in beside:
            near = other.bbox
            if other is ax or near.y0 >= box.y1 + 0.3 * fig.dpi or near.y1 <= box.y0:
                continue
            bar = getattr(other, "_colorbar", None) is not None
            if near.x1 <= box.x0 + 1:
                left = max(left, near.x1 if bar else (near.x1 + box.x0) / 2)
            elif near.x0 >= box.x1 - 1:
                right_end = min(right_end, near.x0 if bar else (near.x0 + box.x1) / 2)
        middle = box.x0 + box.width / 2
        centred = 2 * min(middle - left, right_end - middle)
        texts = [(ax.title, centred), (ax._left_title, right_end - box.x0), (ax._right_title, box.x1 - left)]
        if ax.axison and ax.name != "3d" and getattr(ax, "_colorbar", None) is None:
            texts.append((ax.xaxis.label, centred))
        for text, room in texts:
            changed |= _wrap(text, 0.97 * room, renderer)
        if shapes and ax in shapes and ax.name != "3d" and shapes[ax][0] > 0:
            w0, h0 = shapes[ax]
            high = max(box.width * h0 / w0, LOWEST_PANEL * fig.dpi, box.height)
            changed |= _wrap(ax.yaxis.label, 1.05 * high, renderer, along="height")
        if ax.get_legend() is not None:
            changed |= _fit_legend(ax.get_legend(), box.width if ax.axison else right - box.x0, renderer)
    return changed


def _fit_legend(legend, space: float, renderer) -> bool:
    """Fewer columns for a legend wider than ``space`` (pixels), then its title and labels wrapped;
    True if anything changed."""
    changed = False
    columns = len(legend._legend_handle_box.get_children())
    while columns > 1 and legend.get_window_extent(renderer).width > space:
        columns -= 1
        _legend_columns(legend, columns)
        changed = True
    texts = [legend.get_title(), *legend.get_texts()]
    excess = np.inf
    for _ in range(4):
        before, excess = excess, legend.get_window_extent(renderer).width - space
        if excess <= 0 or excess >= before:
            break
        widths = [text.get_window_extent(renderer).width for text in texts]
        target = max(widths) - excess
        for text, wide in zip(texts, widths):
            if wide > target:
                changed |= _wrap(text, target, renderer)
    return changed


def _legend_columns(legend, count: int) -> None:
    """Re-pack a legend's entries into ``count`` columns, in their order (matplotlib packs them once)."""
    from matplotlib.offsetbox import HPacker, VPacker

    from matplotlib.offsetbox import TextArea

    def blank(item) -> bool:     # an entry with no label, which only padded a column
        return any(isinstance(box, TextArea) and not box.get_text().strip() for box in item.get_children())

    old = legend._legend_handle_box
    first = old.get_children()[0]
    items = [item for column in old.get_children() for item in column.get_children() if not blank(item)]
    columns = [VPacker(pad=first.pad, sep=first.sep, align=first.align, children=list(part))
               for part in np.array_split(np.array(items, dtype=object), count) if len(part)]
    _legend_box(legend, HPacker(pad=old.pad, sep=old.sep, align=old.align, mode=old.mode, children=columns), count)


def _legend_box(legend, box, count: int) -> None:
    """Put ``box`` (the packed entries) into the legend in place of the one it has."""
    children = legend._legend_box._children
    children[children.index(legend._legend_handle_box)] = box
    legend._legend_handle_box = box
    legend._ncols = count
    legend.stale = True


def _wrap(text, room: float, renderer, along: str = "width") -> bool:
    """Break the lines of ``text`` at spaces until it is at most ``room`` pixels wide (mathtext is left
    alone). The line breaks it has stay; a line that must be broken is broken into lines of about
    equal length, so no word is left alone on a line. ``along="height"``: the room is for the height
    (a y label, written upwards). True if it changed the text."""
    import textwrap

    content = text.get_text()
    if not content or "$" in content or not text.get_visible():
        return False
    lines = content.splitlines()
    for _ in range(10):
        wide = getattr(text.get_window_extent(renderer), along)
        if wide <= room:
            break
        current = text.get_text().splitlines()
        limit = int(max(len(line) for line in current) * room / wide)
        if limit < 8:
            break
        broken = []
        for line in lines:
            parts = len(textwrap.wrap(line, limit)) if len(line) > limit else 1
            balanced = -(-len(line) // parts) if parts > 1 else len(line)
            while parts > 1 and len(textwrap.wrap(line, balanced)) > parts:
                balanced += 1
            broken += textwrap.wrap(line, balanced) if parts > 1 else [line]
        if broken == current:
            break
        text.set_text("\n".join(broken))
    return text.get_text() != content


def _missing_height(fig: Figure, shapes: dict) -> float:
    """How much taller (inches; negative: shorter) the figure must be for its panels to keep their shapes
    (a panel narrowed a lot keeps at least LOWEST_PANEL of its height).

    Panels are grouped by grid row; each row needs the mean of its panels'
    shortfalls, and a grid needs the sum over its rows.
    """
    width, height = fig.get_size_inches()
    by_row: dict = {}
    for ax, (w0, h0) in shapes.items():
        w, h = _box(ax, width, height)
        spec = ax.get_subplotspec()
        key = (id(spec.get_gridspec()), spec.rowspan.start) if spec is not None else (id(ax), 0)
        wanted = max(w * h0 / w0 if w0 > 0 else h, min(h0, LOWEST_PANEL))
        by_row.setdefault(key, []).append(wanted - h)
    per_grid: dict = {}
    for (grid, _), shortfalls in by_row.items():
        per_grid[grid] = per_grid.get(grid, 0.0) + float(np.mean(shortfalls))
    return max(per_grid.values(), default=0.0)


@contextlib.contextmanager
def _rasterised_fills(fig: Figure, on: bool):
    """While saving a vector file, store large filled areas as images; afterwards put every flag back."""
    from matplotlib.collections import QuadMesh
    from matplotlib.contour import ContourSet
    from matplotlib.image import AxesImage
    from mpl_toolkits.mplot3d.art3d import Poly3DCollection

    def large_fill(artist) -> bool:
        return (isinstance(artist, ContourSet) and artist.filled) or isinstance(
            artist, (QuadMesh, AxesImage, Poly3DCollection))

    changed = [artist for artist in fig.findobj(large_fill) if not artist.get_rasterized()] if on else []
    for artist in changed:
        artist.set_rasterized(True)
    try:
        yield
    finally:
        for artist in changed:
            artist.set_rasterized(False)


def _numpy(values) -> np.ndarray:
    if hasattr(values, "detach"):
        values = values.detach().to("cpu").double().numpy()
    return np.asarray(values, dtype=float)


def _log_levels(z: np.ndarray, count: int = 18) -> np.ndarray | None:
    """Log-spaced contour levels over the finite positive losses; None if there are none."""
    finite = z[np.isfinite(z) & (z > 0)]
    if finite.size == 0:
        return None
    low, high = finite.min(), finite.max()
    if high <= low * 1.0001:
        high = low * 1.01
    return np.geomspace(low, high, count)


def _mark_start(ax, points: np.ndarray, zorder: int = 6) -> None:
    ax.plot(*points[0], marker="s", markersize=8, color="white", markeredgecolor="black",
            linestyle="none", label="start", zorder=zorder)


def _mark_end(ax, points: np.ndarray, zorder: int = 6) -> None:
    ax.plot(*points[-1], marker="*", markersize=13, color="#F0E442", markeredgecolor="black",
            linestyle="none", label="end", zorder=zorder)


def _mark_ends(ax, points: np.ndarray, zorder: int = 6) -> None:
    """Square at the start, star at the end: the same in every figure."""
    _mark_start(ax, points, zorder)
    _mark_end(ax, points, zorder)


def _inside(points: np.ndarray, window) -> int:
    """How many leading points are finite and inside window ((x0, x1), (y0, y1)); at least 1."""
    (x0, x1), (y0, y1) = (sorted(limits) for limits in window)
    with np.errstate(invalid="ignore"):
        ok = (np.isfinite(points).all(axis=1) & (points[:, 0] >= x0) & (points[:, 0] <= x1)
              & (points[:, 1] >= y0) & (points[:, 1] <= y1))
    outside = np.flatnonzero(~ok)
    return len(points) if outside.size == 0 else max(int(outside[0]), 1)


def _draw_twin_paths(ax, manual_path: np.ndarray, autograd_path: np.ndarray, *,
                     diverged_at: int | None = None, window=None, thin: bool = False) -> np.ndarray | None:
    """Both twins' paths, the start and the end marked.

    thin: where steps crowd together, put the markers on every few of them
    only (see ``_spread_out``; the line still runs through every step), so
    that autograd's crosses do not bury the hand-written path.

    A diverged run (``diverged_at``: the step where training stopped it) may
    run off to huge values, inf or NaN. It is drawn while it is finite and
    inside ``window`` ((x0, x1), (y0, y1)); where it leaves, a dashed arrow
    points the way it went and the divergence X (as in the loss curves)
    takes the place of the end star. Returns where that X is (None if the
    run did not diverge).
    """
    everything = manual_path
    if diverged_at is not None:
        shown = _inside(manual_path, window)
        manual_path, autograd_path = manual_path[:shown], autograd_path[:shown]
    # The hand-written path: a line through filled circles. Autograd's small crosses go on top, inside
    # the circles, so where the twins agree both stay visible: a cross in every circle.
    every = _spread_out(manual_path, window) if thin else list(range(len(manual_path)))
    # Recorded for an animation of the path growing (toolkit.animation): which step each point is.
    track = track_path(ax, manual_path, autograd_path)
    (line,) = ax.plot(manual_path[:, 0], manual_path[:, 1], color=MANUAL["color"], marker="o", markersize=5.5,
                      markeredgecolor="white", markeredgewidth=0.5, markevery=every, linewidth=1.3,
                      label=MANUAL["label"], zorder=4)
    track.grow(line)
    (crosses,) = ax.plot(autograd_path[every, 0], autograd_path[every, 1], color=AUTOGRAD["color"], marker="x",
                         markersize=3.2, markeredgewidth=1.1, linestyle="none", label=AUTOGRAD["label"], zorder=5)
    track.grow(crosses, every)
    _mark_start(ax, manual_path)
    with track.at_the_end(ax):
        if diverged_at is None:
            _mark_end(ax, manual_path)
            return None
        return _mark_exit(ax, everything, len(manual_path), diverged_at, window)


def _exit_point(last: np.ndarray, following: np.ndarray, window) -> np.ndarray | None:
    """Where the straight line from ``last`` towards ``following`` crosses the window's frame.

    Directions are taken in units of the window's width and height. A point
    at inf (or so far away that only its signs matter) gives a diagonal
    from the signs; NaN coordinates give no direction, and then None.
    """
    (x0, x1), (y0, y1) = (sorted(limits) for limits in window)
    low, high = np.array([x0, y0]), np.array([x1, y1])
    span = high - low
    with np.errstate(all="ignore"):
        direction = (following - last) / span
    if np.isnan(direction).any():
        return None
    if np.isinf(direction).any():
        direction = np.sign(direction)
    if not direction.any():
        return None
    with np.errstate(divide="ignore", invalid="ignore"):
        room = np.where(direction > 0, (high - last) / span, (low - last) / span)
        reach = np.where(direction != 0, room / direction, np.inf)
    return last + reach.min() * direction * span


def _mark_exit(ax, path: np.ndarray, shown: int, diverged_at: int | None, window, *,
               color: str = MANUAL["color"]) -> np.ndarray:
    """Where a path leaves the window: a dashed arrow in ``color`` the way it went, and a label.

    A path that diverged (``diverged_at``) ends in an X there, or at its last
    point if it never left the window. Returns the position of the head.
    """
    last = path[shown - 1]
    head = _exit_point(last, path[shown], window) if shown < len(path) else None
    if head is not None:
        ax.annotate("", xy=head, xytext=last, zorder=6,
                    arrowprops={"arrowstyle": "-|>", "color": color, "lw": 1.3, "linestyle": "--",
                                "shrinkA": 0, "shrinkB": 7})
    else:
        head = last
    if diverged_at is not None:
        ax.plot(*head, marker="X", markersize=10, color="black", markeredgecolor="white", linestyle="none",
                label="diverged", zorder=7, clip_on=False)
    if diverged_at is None:
        text = f"off the plot\nat step {shown}"
    elif shown < diverged_at:
        text = f"off the plot at step {shown}\n(diverged at step {diverged_at})"
    else:
        text = f"diverged\n(step {diverged_at})"
    (x0, x1), (y0, y1) = (sorted(limits) for limits in window)
    right, up = head[0] > (x0 + x1) / 2, head[1] > (y0 + y1) / 2
    ax.annotate(text, head, textcoords="offset points", xytext=(-9 if right else 9, -9 if up else 9),
                ha="right" if right else "left", va="top" if up else "bottom", fontsize=8.5, zorder=8,
                bbox=TEXT_BOX)
    return head


def _caption(fig, legend, note: str | None = None, title: str | None = None) -> None:
    """A figure's caption (``note``) as the title of its legend below, and its ``title`` above."""
    if note:
        legend.set_title(note, prop={"size": 8.5})
    if title:
        fig.suptitle(title, fontsize=10.5)


def _panel_note(ax, text: str, avoid=None) -> None:
    """A short remark inside a panel, e.g. why its landscape cannot be drawn.

    It goes into a corner: the top left, or with ``avoid`` (a point in data
    coordinates, e.g. a divergence X; set the axis limits first) the corner
    farthest from it.
    """
    right, up = False, True
    if avoid is not None:
        ax_x, ax_y = ax.transLimits.transform(avoid)     # axes coordinates: 0 to 1 across the panel
        right, up = ax_x < 0.5, ax_y < 0.5
    x, y = (0.97 if right else 0.03), (0.97 if up else 0.03)
    ha, va = ("right" if right else "left"), ("top" if up else "bottom")
    ax.text(x, y, text, transform=ax.transAxes, ha=ha, va=va, multialignment="left", fontsize=8.5, zorder=9,
            bbox={"boxstyle": "round,pad=0.4", "facecolor": "white", "edgecolor": "0.6", "alpha": 0.9})


def _integer_steps(ax) -> None:
    """Steps are whole numbers: no tick at 0.5, and a one-step run gets the single tick 0
    (otherwise matplotlib's usual ticks)."""
    ax.xaxis.set_major_locator(MaxNLocator(nbins="auto", steps=[1, 2, 2.5, 5, 10], integer=True, min_n_ticks=1))


def _on_scale(values, first: float) -> np.ndarray:
    """Losses as a float array, NaN where a loss is not finite or is off the scale (see OFF_SCALE)."""
    values = np.asarray(values, dtype=float)
    keep = np.isfinite(values)
    if np.isfinite(first) and first > 0:
        keep &= values <= OFF_SCALE * first
    return np.where(keep, values, np.nan)


def _readable_log_range(ax, *curves: np.ndarray) -> None:
    """A log axis over losses that hardly differ (one step, or twins one rounding error apart)
    would be a sliver with no tick: show the decade(s) around them instead."""
    values = np.concatenate([np.ravel(c) for c in curves])
    values = values[np.isfinite(values) & (values > 0)]
    if values.size and values.max() < 1.01 * values.min():
        low = np.floor(np.log10(values.min()))
        high = max(np.ceil(np.log10(values.max())), low + 1)
        ax.set_ylim(10.0 ** low, 10.0 ** high)


def loss_curves(history: History, title: str = "Training loss", *, best_loss: float | None = None) -> Figure:
    """Both twins' loss per step on a log scale (the curves lie on top of each other).

    best_loss: the lowest loss there is (L*, e.g. from least squares), drawn as a dotted line,
    so that what is left to gain shows.
    """
    with house_style():
        fig = Figure(figsize=(4.6, 3.3), layout="constrained")
        ax = fig.add_subplot()
        if best_loss is not None:
            ax.axhline(best_loss, color="0.35", linestyle=":", linewidth=1.2, zorder=1,
                       label=f"lowest loss L* = {best_loss:.4g}")
        _draw_loss_curves(ax, history)
        _round_log_axis(ax)
        ax.set_ylabel("loss (log scale)")
        ax.set_title(title)
        # A diverged run ends in the top right corner, at its X.
        ax.legend(loc="best" if history.diverged else "upper right")
    return fig


def _draw_loss_curves(ax, history: History) -> None:
    # The manual twin as a line, autograd as crosses on it (every few steps, so both stay visible).
    steps = np.arange(len(history.loss_manual))
    first = history.loss_manual[0] if history.loss_manual else np.nan
    manual_loss = _on_scale(history.loss_manual, first)
    autograd_loss = _on_scale(history.loss_autograd, first)
    # A single point would be an invisible line: give it a marker.
    lone = {"marker": "o", "markersize": 4} if np.isfinite(manual_loss).sum() == 1 else {}
    ax.plot(steps, manual_loss, color=MANUAL["color"], label=MANUAL["label"], **lone)
    every = max(1, len(steps) // 25)
    ax.plot(steps[::every], autograd_loss[::every], color=AUTOGRAD["color"],
            marker="x", markersize=5, linestyle="none", label=AUTOGRAD["label"])
    if history.diverged:
        _mark_divergence(ax, history, color="black")
    ax.set_yscale("log")
    _readable_log_range(ax, manual_loss, autograd_loss)
    ax.set_xlabel("step")
    _integer_steps(ax)


def _mark_divergence(ax, history: History, color: str, last_step: int | None = None, values=None) -> bool:
    """The X where a run diverged; True if its loss was off the scale (then the X sits at the top).

    last_step: the largest step on the axis (default: this run's), to keep the text inside.
    values: what the axis shows per step, if not the loss itself (e.g. the loss gap L - L*).
    """
    step = history.diverged_at_step
    values = history.loss_manual if values is None else values
    first = values[0]
    shown = _on_scale(values, first)
    if np.isfinite(shown[step]):
        y = shown[step]
        ax.plot(step, y, marker="X", markersize=10, color=color, markeredgecolor="black", linestyle="none",
                zorder=6)
        # To the left of the X, level with it: above the rising curve that leads there.
        ax.annotate(f"diverged\n(step {step})", (step, y), textcoords="offset points", xytext=(-10, 0),
                    ha="right", va="center", fontsize=8.5)
        return False
    # Off the scale (inf, NaN or astronomically large): the X at the top of the axes, above its
    # step, with a dotted line up to it from the last loss that is on the scale.
    top = ax.get_xaxis_transform()      # x in data, y in axes coordinates (1 = the top)
    ax.plot(step, 1.0, marker="X", markersize=10, color=color, markeredgecolor="black", linestyle="none",
            zorder=6, clip_on=False, transform=top)
    before = np.flatnonzero(np.isfinite(shown[:step]))
    if before.size:
        ax.annotate("", xy=(step, 1.0), xycoords=top, xytext=(before[-1], shown[before[-1]]), textcoords="data",
                    arrowprops={"arrowstyle": "-", "color": color, "linestyle": ":", "lw": 1.2,
                                "shrinkA": 0, "shrinkB": 5})
    last_step = len(history.loss_manual) - 1 if last_step is None else last_step
    right = step > 0.5 * last_step
    ax.annotate(f"diverged\n(step {step}, loss {history.loss_manual[step]:.3g})", (step, 1.0), xycoords=top,
                textcoords="offset points", xytext=(-9 if right else 9, -6), ha="right" if right else "left",
                va="top", fontsize=8.5, bbox=TEXT_BOX, zorder=7)
    return True


def loss_vs_weight(weights, losses, manual_path, autograd_path, manual_losses, autograd_losses,
                   best: float | None = None, xlabel: str = "weight w", title: str = "",
                   diverged_at: int | None = None, *, slope_curve=None, manual_slopes=None, autograd_slopes=None,
                   slope_label: str = "slope dL/dw", slope_title: str = "The slope at each step") -> Figure:
    """A one-parameter loss curve L(w) with the descent steps drawn on it.

    weights, losses: the curve, shape (G,). *_path: w at every step, (T,);
    *_losses: L at those w, (T,). diverged_at: the step where the run
    diverged, if it did; its path is then drawn until it leaves the curve's
    window (to huge values, inf or NaN), and where it went is marked.

    With ``slope_curve`` (dL/dw at ``weights``, (G,)) a second panel beside
    it draws the derivative itself, labelled ``slope_label``, and marks on
    it the slope each twin computed at each step: manual_slopes,
    autograd_slopes, (S,), the gradient at path point t for t < S.
    """
    weights, losses = _numpy(weights), _numpy(losses)
    manual_pts = np.column_stack([_numpy(manual_path), _numpy(manual_losses)])
    autograd_pts = np.column_stack([_numpy(autograd_path), _numpy(autograd_losses)])
    finite = losses[np.isfinite(losses)]
    top = float(finite.max()) * 1.45 if finite.size else 1.0
    window = ((weights.min(), weights.max()), (0.0, top))
    shown = len(manual_pts) if diverged_at is None else _inside(manual_pts, window)
    with house_style():
        if slope_curve is None:
            fig = Figure(figsize=(4.6, 3.4), layout="constrained")
            ax = fig.add_subplot()
        else:
            fig = Figure(figsize=(8.8, 3.7), layout="constrained")
            ax, slope_ax = fig.subplots(1, 2, sharex=True)
        ax.plot(weights, losses, color="0.25", linewidth=1.4, label="loss L(w)", zorder=2)
        if best is not None:
            ax.axvline(best, color="0.45", linestyle=":", linewidth=1.1, label=f"minimum, w = {best:.3f}")
        _draw_twin_paths(ax, manual_pts, autograd_pts, diverged_at=diverged_at, window=window, thin=True)
        drawn = manual_pts[:shown]
        for a, b in zip(drawn[:4], drawn[1:5]):   # arrows for the first steps show the direction
            ax.annotate("", xy=b, xytext=a, arrowprops={"arrowstyle": "->", "color": MANUAL["color"], "lw": 1.0})
        ax.set_xlabel(xlabel)
        ax.set_ylabel("loss L(w)")
        ax.set_title(title)
        ax.set_ylim(bottom=0, top=top)
        if slope_curve is not None:
            _draw_slopes(slope_ax, weights, _numpy(slope_curve), manual_pts[:shown, 0],
                         _numpy(manual_slopes if manual_slopes is not None else []),
                         _numpy(autograd_slopes if autograd_slopes is not None else []),
                         best=best, label=slope_label, diverged_at=diverged_at)
            slope_ax.set_xlabel(xlabel)
            slope_ax.set_title(slope_title)
            handles, labels = {}, []
            for panel in (ax, slope_ax):
                for handle, label in zip(*panel.get_legend_handles_labels()):
                    if label not in handles:
                        handles[label] = handle
                        labels.append(label)
            fig.legend([handles[label] for label in labels], labels, loc="outside lower center", ncols=4,
                       fontsize=8)
        elif diverged_at is None:
            ax.legend(loc="upper center", ncols=2, fontsize=8)
        else:   # the path leaves through the top: the legend goes below the axes
            fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncols=3, fontsize=8)
    return fig


def _colorbar(fig, filled, axes, levels) -> None:
    # Ticks at round values (1, 2, 5 x 10^k, see round_log_ticks), not at the contour levels.
    from matplotlib.ticker import FuncFormatter

    colorbar = fig.colorbar(filled, ax=axes, shrink=0.95, ticks=round_log_ticks(levels[0], levels[-1]),
                            format=FuncFormatter(round_tick_text))
    colorbar.ax.minorticks_off()
    colorbar.set_label("loss (log scale)")


def _contour(ax, alphas, betas, z, levels, norm):
    # The levels run from the smallest to the largest loss drawn: nothing lies outside, so no extend arrows.
    filled = ax.contourf(alphas, betas, z, levels=levels, norm=norm, cmap=CMAP)
    ax.contour(alphas, betas, z, levels=levels[::2], colors="white", linewidths=0.4, alpha=0.6)
    return filled


NO_LANDSCAPE = "the loss is not a finite number\nanywhere in this window"


def contour_with_paths(alphas, betas, Z, manual_path, autograd_path, *, xlabel: str, ylabel: str,
                       title: str = "", minimum: Sequence[float] | None = None, note: str | None = None,
                       diverged_at: int | None = None, equal_aspect: bool = True) -> Figure:
    """Filled loss contours (log-spaced levels) with both twins' descent paths.

    alphas: (A,), betas: (B,), Z: (B, A) with Z[i, j] the loss at (alphas[j], betas[i]).
    *_path: (T, 2) coordinates of the parameters at every step. diverged_at:
    the step where the run diverged, if it did (see ``_draw_twin_paths``).
    equal_aspect: one unit is as long across as up (the default, for two
    parameters), so the gradient, and each step, is visibly perpendicular to
    the contours; False for axes in different units.
    """
    alphas, betas, z = _numpy(alphas), _numpy(betas), _numpy(Z)
    manual_path, autograd_path = _numpy(manual_path), _numpy(autograd_path)
    window = ((alphas[0], alphas[-1]), (betas[0], betas[-1]))
    with house_style():
        fig = Figure(figsize=(4.8, 3.9), layout="constrained")
        ax = fig.add_subplot()
        levels = _log_levels(z)
        if levels is not None:
            filled = _contour(ax, alphas, betas, z, levels, LogNorm(levels[0], levels[-1]))
        else:
            _panel_note(ax, NO_LANDSCAPE)
        _draw_twin_paths(ax, manual_path, autograd_path, diverged_at=diverged_at, window=window, thin=True)
        if minimum is not None:
            ax.plot(*minimum, marker="P", markersize=9, color="white", markeredgecolor="black",
                    linestyle="none", label="minimum", zorder=6)
        if levels is not None:
            _colorbar(fig, filled, ax, levels)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.grid(False)
        ax.set_xlim(alphas[0], alphas[-1])
        ax.set_ylim(betas[0], betas[-1])
        if equal_aspect:
            ax.set_aspect("equal", adjustable="box")
        # Outside the axes, so the legend never hides the path.
        fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncols=3, fontsize=8)
        if note:
            ax.set_title(f"{title}\n({note})" if title else note)
    return fig


def surface_with_path(alphas, betas, Z, path, path_losses, *, xlabel: str, ylabel: str, title: str = "",
                      diverged_at: int | None = None) -> Figure:
    """The loss as a 3-D surface, the "mountain", with the descent path on it.

    The path is lifted slightly above the surface so the surface never hides it.
    A diverged run (diverged_at: the step where it diverged) is drawn while
    it is finite and above the (w, b) window; the divergence X marks its last
    point there (in the legend only, if that point is the start).
    """
    alphas, betas, z = _numpy(alphas), _numpy(betas), _numpy(Z)
    path, path_losses = _numpy(path), _numpy(path_losses)
    finite = z[np.isfinite(z)]
    lift = 0.02 * (finite.max() - finite.min()) if finite.size else 0.0
    if diverged_at is not None:
        shown = _inside(path, ((alphas[0], alphas[-1]), (betas[0], betas[-1])))
        not_finite = np.flatnonzero(~np.isfinite(path_losses[:shown]))
        if not_finite.size:
            shown = max(int(not_finite[0]), 1)
        path, path_losses = path[:shown], path_losses[:shown]
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
        if diverged_at is None:
            ax.plot(*path[-1], path_losses[-1] + lift, marker="*", markersize=12, color="#F0E442",
                    markeredgecolor="black", linestyle="none", label="end", zorder=11)
        else:
            # The divergence X on the last point drawn; on the start it would hide the square,
            # so then it is only in the legend.
            cross = {"marker": "X", "markersize": 10, "color": "black", "markeredgecolor": "white",
                     "linestyle": "none", "zorder": 12}
            last = len(path) - 1
            if last == diverged_at:
                ax.plot(*path[-1], path_losses[-1] + lift, label=f"diverged (step {diverged_at})", **cross)
            elif last > 0:
                ax.plot(*path[-1], path_losses[-1] + lift,
                        label=f"step {last}, the last on the plot; diverged at step {diverged_at}", **cross)
            else:
                ax.plot([], [], label=f"diverged at step {diverged_at}: off the plot after the start", **cross)
        ax.set_xlabel(xlabel, labelpad=2)
        ax.set_ylabel(ylabel, labelpad=2)
        ax.set_zlabel("loss", labelpad=2)
        ax.set_title(title)
        ax.view_init(elev=32, azim=-128)
        ax.legend(loc="upper left", fontsize=7.5)
    return fig


def learning_rate_panels(panels: Sequence[dict], *, xlabel: str, ylabel: str, minimum=None,
                         title: str | None = None, valley_axes: Sequence | None = None) -> Figure:
    """One contour panel per learning rate, sharing one colour scale.

    Each panel is a dict with keys title, alphas, betas, Z, manual_path,
    autograd_path, and optionally diverged_at (the step where that run
    diverged: its path is drawn until it leaves the panel, and where it went
    is marked, see ``_draw_twin_paths``). Panels whose grids are all the same
    share their axes; parameter space is drawn at equal aspect. title: a line
    above the panels (say there whether they share axes). valley_axes:
    directions (2,), e.g. the Hessian's eigenvectors, drawn as dotted lines
    through ``minimum``.
    """
    grids = [(_numpy(p["alphas"]), _numpy(p["betas"])) for p in panels]
    shared = all(np.array_equal(a, grids[0][0]) and np.array_equal(b, grids[0][1]) for a, b in grids)
    all_z = np.concatenate([_numpy(p["Z"]).ravel() for p in panels])
    levels = _log_levels(all_z, count=20)
    norm = LogNorm(levels[0], levels[-1]) if levels is not None else None
    with house_style():
        fig = Figure(figsize=(7.6, 6.9 if title else 6.6), layout="constrained")
        axes = fig.subplots(2, 2, sharex=shared, sharey=shared).ravel()
        for index, (ax, panel, (alphas, betas)) in enumerate(zip(axes, panels, grids)):
            if levels is not None:
                filled = _contour(ax, alphas, betas, _numpy(panel["Z"]), levels, norm)
            else:
                _panel_note(ax, NO_LANDSCAPE)
            window = ((alphas[0], alphas[-1]), (betas[0], betas[-1]))
            _draw_twin_paths(ax, _numpy(panel["manual_path"]), _numpy(panel["autograd_path"]),
                             diverged_at=panel.get("diverged_at"), window=window, thin=True)
            if minimum is not None:
                ax.plot(*minimum, marker="P", markersize=8, color="white", markeredgecolor="black",
                        linestyle="none", label="minimum", zorder=6)
            if minimum is not None and valley_axes is not None:
                for k, direction in enumerate(valley_axes):
                    direction = _numpy(direction)
                    ax.axline(tuple(minimum), tuple(np.asarray(minimum, dtype=float) + direction), color="white",
                              linestyle=(0, (1, 2)), linewidth=1.0, alpha=0.9, zorder=3,
                              label=VALLEY_AXES if k == 0 else None)
            ax.set_xlim(alphas[0], alphas[-1])
            ax.set_ylim(betas[0], betas[-1])
            ax.set_aspect("equal", adjustable="box")
            ax.set_title(panel["title"])
            if not shared or index >= 2:
                ax.set_xlabel(xlabel)
            if not shared or index % 2 == 0:
                ax.set_ylabel(ylabel)
            ax.grid(False)
        handles = {}
        for ax in axes:
            for handle, label in zip(*ax.get_legend_handles_labels()):
                handles.setdefault(label, handle)
        if VALLEY_AXES in handles:     # white dots would not show on the legend's white
            from matplotlib.lines import Line2D

            handles[VALLEY_AXES] = Line2D([], [], color="0.45", linestyle=(0, (1, 2)), linewidth=1.2)
        fig.legend(list(handles.values()), list(handles), loc="outside lower center",
                   ncols=min(len(handles), 4), fontsize=8.5)
        if levels is not None:
            _colorbar(fig, filled, list(axes), levels)
        if title:
            fig.suptitle(title, fontsize=10.5)
    return fig


def _draw_run_losses(ax, history: History, *, label: str, color: str, last_step: int, curves: list,
                     line_style: dict | None = None, crosses: int = 20, cross_style: dict | None = None) -> bool:
    """One run among several: the hand-written loss as a line, autograd's as crosses on it (about ``crosses``).

    ``line_style`` and ``cross_style`` add matplotlib options to the two.
    A diverged run is marked where it left the scale. The plotted values are
    added to ``curves`` (for the axis range); returns True when a loss was off
    the scale.
    """
    steps = np.arange(len(history.loss_manual))
    first = history.loss_manual[0] if history.loss_manual else np.nan
    manual_loss = _on_scale(history.loss_manual, first)
    autograd_loss = _on_scale(history.loss_autograd, first)
    curves += [manual_loss, autograd_loss]
    lone = {"marker": "o", "markersize": 4} if np.isfinite(manual_loss).sum() == 1 else {}
    ax.plot(steps, manual_loss, color=color, label=label, **(line_style or {}), **lone)
    every = max(1, len(steps) // crosses)
    ax.plot(steps[::every], autograd_loss[::every], color=color, marker="x", markersize=4.5, linestyle="none",
            **(cross_style or {}))
    return bool(history.diverged and _mark_divergence(ax, history, color=color, last_step=last_step))


def loss_curves_by_run(histories: dict[str, History], title: str = "Loss per step") -> Figure:
    """Several runs' loss curves on a log scale; a diverged run ends in a marked X.

    Each run has its own colour; the manual twin is the line and the
    autograd twin the crosses on it. A loss off the scale (see OFF_SCALE)
    puts the X at the top of the axes.
    """
    last_step = max((len(h.loss_manual) - 1 for h in histories.values()), default=0)
    with house_style():
        fig = Figure(figsize=(5.2, 3.6), layout="constrained")
        ax = fig.add_subplot()
        off_scale = False
        curves = []
        for color, (label, history) in zip(RUN_COLORS, histories.items()):
            off_scale |= _draw_run_losses(ax, history, label=label, color=color, last_step=last_step, curves=curves)
        ax.plot([], [], color="0.3", label="line: manual, x: autograd")
        ax.set_yscale("log")
        _readable_log_range(ax, *curves)
        ax.set_xlabel("step")
        _integer_steps(ax)
        ax.set_ylabel("loss (log scale)")
        ax.set_title(title)
        ax.legend(loc="best" if off_scale else "upper left", fontsize=8)
    return fig


def path_on_plane(alphas, betas, Z, manual_path, autograd_path, history: History, *,
                  xlabel: str, ylabel: str, title: str = "", note: str | None = None, path_losses=None,
                  second: dict | None = None, caption: str | None = None) -> Figure:
    """The loss on a plane through parameter space, with both twins' projected paths on it.

    alphas: (A,), betas: (B,), Z: (B, A) with Z[i, j] the loss at (alphas[j], betas[i]);
    *_path: (T, 2) the path's coordinates in the plane. The hand-written
    path's circles are filled with ``path_losses`` ((T,), the TRUE loss at
    every step; default ``history.path_losses()``) on the contour's own
    colour scale: the path leaves the plane, so the contour under a circle
    is the loss at its projection, not its own loss, and where the two
    colours differ the path was off the plane then.

    second: an optional panel beside it, a dict with the same keys (alphas,
    betas, Z, manual_path, autograd_path, xlabel, ylabel, title, and
    optionally note), e.g. a random plane through the same end point; it
    shares the colour scale and the true losses. Both panels are drawn at
    equal aspect (the planes' coordinates are distances in parameter space).
    A diverged run's projected path may hold huge values, inf or NaN: it is
    drawn while it stays in the window (see ``_draw_twin_paths``). ``note``:
    a short remark inside the first panel; ``caption``: a line under the legend.
    """
    panels = [{"alphas": alphas, "betas": betas, "Z": Z, "manual_path": manual_path,
               "autograd_path": autograd_path, "xlabel": xlabel, "ylabel": ylabel, "title": title, "note": note}]
    if second is not None:
        panels.append(second)
    losses = _numpy(history.path_losses()[0] if path_losses is None else path_losses)
    diverged_at = history.diverged_at_step if history.diverged else None
    drawn = [_plane_panel_data(panel, losses, diverged_at) for panel in panels]
    # One scale for the planes and for the losses the path really had, so both are read off the same bar.
    values = [d["Z"].ravel() for d in drawn] + [losses[:d["shown"]] for d in drawn]
    levels = _log_levels(np.concatenate(values), count=20)
    if levels is not None:     # a hair wider, so the extreme values themselves are inside
        levels[0], levels[-1] = levels[0] * (1 - 1e-9), levels[-1] * (1 + 1e-9)
    norm = LogNorm(levels[0], levels[-1]) if levels is not None else None
    # Equal aspect: panels as wide as their windows are, for one common height.
    ratios = [abs(d["window"][0][1] - d["window"][0][0]) / abs(d["window"][1][1] - d["window"][1][0]) for d in drawn]
    ratios = [r if np.isfinite(r) and r > 0 else 1.0 for r in ratios]
    with house_style():
        fig = Figure(figsize=(8.8, 3.6) if second is not None else (5.0, 4.0), layout="constrained")
        axes = np.atleast_1d(fig.subplots(1, len(panels), width_ratios=ratios))
        filled = None
        for ax, data in zip(axes, drawn):
            filled = _draw_plane_panel(ax, data, levels, norm, diverged_at) or filled
        if filled is not None:
            _colorbar(fig, filled, list(axes), levels)
        legend = fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncols=5, fontsize=8)
        if caption:
            legend.set_title(caption, prop={"size": 8.5})
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
        defined = np.isfinite(probability)
        if defined.any():
            filled = ax.contourf(grid_a, grid_b, probability, levels=np.linspace(0, 1, 11), cmap="RdBu_r",
                                 alpha=0.85)
            ax.contour(grid_a, grid_b, probability, levels=[0.5], colors="black", linewidths=1.4)
        if not defined.all():     # a diverged network can output NaN
            _panel_note(ax, "P(class 1) is not a number anywhere:\nthe network's weights are not finite"
                        if not defined.any() else "white: P(class 1) is not a number there")
        for label, marker, face, edge in [(0, "o", "white", "black"), (1, "^", "black", "white")]:
            chosen = points[labels == label]
            ax.scatter(chosen[:, 0], chosen[:, 1], marker=marker, s=18, color=face, edgecolors=edge,
                       linewidths=0.6, label=f"class {label}", zorder=3)
        if defined.any():
            colorbar = fig.colorbar(filled, ax=ax, shrink=0.95, ticks=[0, 0.25, 0.5, 0.75, 1])
            colorbar.set_label("P(class 1)")
        ax.set_xlabel("input x₁")
        ax.set_ylabel("input x₂")
        ax.set_title(title)
        ax.grid(False)
        ax.legend(loc="upper right", fontsize=8, framealpha=0.9)
    return fig


# --------------------------------------------------------------------------
# Lesson 04 · The chain rule: three weights
# --------------------------------------------------------------------------

def _marked_points(line, count: int) -> np.ndarray:
    """The indices of the first ``count`` points of a drawn line that carry a marker (its markevery)."""
    every = line.get_markevery()
    points = np.arange(count)
    if every is None:
        return points
    if isinstance(every, (int, np.integer)):
        return points[::every]
    if isinstance(every, slice):
        return points[every]
    every = np.asarray(every)
    if every.dtype == bool:
        return points[np.flatnonzero(every[:count])]
    if np.issubdtype(every.dtype, np.integer):
        return every[every < count]
    return points               # markevery by distance: fill every point (matplotlib's own rule)


def weight_slices(panels: Sequence[dict], *, diverged_at: int | None = None, note: str | None = None) -> Figure:
    """Slices of the loss over pairs of weights, side by side, each with the descent path on it.

    Each panel is a dict with keys
        alphas (A,), betas (B,), Z (B, A): the loss on the slice, Z[i, j] at (alphas[j], betas[i]);
        manual_path, autograd_path (T, 2): the slice's two weights at every step;
        path_losses (T,): the TRUE loss at every step (every weight as it was then);
        xlabel, ylabel, title.
    All panels share one log colour scale. It also fills the hand-written
    path's circles with the true loss at each step: where a circle's fill
    differs from the contour under it, the path was off the slice then (the
    weights not drawn had other values). ``diverged_at``: the step where the
    run diverged, if it did (see ``_draw_twin_paths``). ``note``: a caption
    line under the legend.
    """
    drawn = []
    for panel in panels:
        alphas, betas = _numpy(panel["alphas"]), _numpy(panel["betas"])
        manual_path = _numpy(panel["manual_path"])
        window = ((alphas[0], alphas[-1]), (betas[0], betas[-1]))
        shown = len(manual_path) if diverged_at is None else _inside(manual_path, window)
        drawn.append((alphas, betas, _numpy(panel["Z"]), manual_path, _numpy(panel["autograd_path"]),
                      _numpy(panel["path_losses"]), window, shown))
    # One scale for the slices and the losses the path really had, so both can be read off the same bar.
    values = [z.ravel() for _, _, z, *_ in drawn] + [losses[:shown] for *_, losses, _, shown in drawn]
    levels = _log_levels(np.concatenate(values), count=20)
    if levels is not None:     # a hair wider, so the extreme values themselves are inside
        levels[0], levels[-1] = levels[0] * (1 - 1e-9), levels[-1] * (1 + 1e-9)
    norm = LogNorm(levels[0], levels[-1]) if levels is not None else None
    with house_style():
        fig = Figure(figsize=(8.8, 3.9), layout="constrained")
        axes = fig.subplots(1, len(panels))
        axes = np.atleast_1d(axes)
        for ax, panel, (alphas, betas, z, manual_path, autograd_path, losses, window, shown) in zip(
                axes, panels, drawn):
            if levels is not None:
                # Every value lies inside the levels (they are taken from all of them): no extend arrows.
                filled = ax.contourf(alphas, betas, z, levels=levels, norm=norm, cmap=CMAP)
                ax.contour(alphas, betas, z, levels=levels[::2], colors="white", linewidths=0.4, alpha=0.6)
            else:
                _panel_note(ax, NO_LANDSCAPE)
            _draw_twin_paths(ax, manual_path, autograd_path, diverged_at=diverged_at, window=window)
            # The fill goes into exactly the circles the house style drew (it may mark only every few steps).
            (line,) = [line for line in ax.get_lines() if line.get_label() == MANUAL["label"]]
            marked = _marked_points(line, shown)
            fill = losses[marked]
            if norm is not None and np.isfinite(fill).all():
                ax.scatter(manual_path[marked, 0], manual_path[marked, 1], c=fill, cmap=CMAP, norm=norm, s=40,
                           edgecolors=MANUAL["color"], linewidths=1.0, zorder=4.5)
            ax.set_xlim(*window[0])
            ax.set_ylim(*window[1])
            ax.set_aspect("equal", adjustable="box")
            ax.set_xlabel(panel["xlabel"])
            ax.set_ylabel(panel["ylabel"])
            ax.set_title(panel["title"])
            ax.grid(False)
        if levels is not None:
            colorbar = fig.colorbar(filled, ax=list(axes), shrink=0.95, ticks=round_log_ticks(levels[0], levels[-1], most=7),
                                    format="%g")
            colorbar.ax.minorticks_off()
            colorbar.set_label("loss (log scale)")
        handles, labels = axes[0].get_legend_handles_labels()
        legend = fig.legend(handles, labels, loc="outside lower center", ncols=len(labels), fontsize=8.5)
        _caption(fig, legend, note)
    return fig


def weights_over_training(history: History, names: Sequence[str], *, shown: int | None = None,
                          title: str = "") -> Figure:
    """Left: every parameter of a small network at every step, both twins. Right: both losses per step.

    history.path_manual, path_autograd: (T, P), one column per name in
    ``names``. Each parameter has its own colour; the hand-written twin is
    the line and autograd the crosses on it (they coincide). ``shown``: how
    many leading points to draw (for a diverged run, the part before it
    blew up, see ``landscape.drawable_part``); default all.
    """
    manual_path, autograd_path = _numpy(history.path_manual), _numpy(history.path_autograd)
    shown = len(manual_path) if shown is None else max(1, min(shown, len(manual_path)))
    steps = np.arange(shown)
    every = max(1, shown // 25)
    with house_style():
        fig = Figure(figsize=(8.6, 3.4), layout="constrained")
        left, right = fig.subplots(1, 2)
        lone = {"marker": "o", "markersize": 4} if shown == 1 else {}
        for k, (color, name) in enumerate(zip(RUN_COLORS, names)):
            left.plot(steps, manual_path[:shown, k], color=color, label=name, **lone)
            left.plot(steps[::every], autograd_path[:shown:every, k], color=color, marker="x", markersize=4.5,
                      linestyle="none")
        left.plot([], [], color="0.3", marker="x", markersize=4.5, label="line: manual, x: autograd")
        left.axhline(0.0, color="0.5", linewidth=0.8, zorder=1)
        left.set_xlabel("step")
        _integer_steps(left)
        left.set_ylabel("weight value")
        left.set_title(title or "The weights at every step")
        legend = left.legend(loc="best", fontsize=8)
        if history.diverged:
            legend.set_title(f"diverged at step {history.diverged_at_step};\ndrawn up to step {shown - 1}",
                             prop={"size": 8})

        _draw_loss_curves(right, history)
        right.set_ylabel("training loss (log scale)")
        right.set_title("The loss at every step")
        right.legend(loc="best" if history.diverged else "upper right", fontsize=8)
    return fig


# --------------------------------------------------------------------------
# Lessons 01-03 · One weight, linear regression, the learning rate:
# round colour-bar ticks, and the loss gap L - L* against the rate theory predicts
# --------------------------------------------------------------------------

# The legend label of the valley's axes in learning_rate_panels.
VALLEY_AXES = "the valley's axes (eigenvectors of H)"


def round_log_ticks(low: float, high: float, most: int = 8) -> list[float]:
    """Tick values at round numbers between ``low`` and ``high`` (0 < low <= high) for a log scale.

    1, 2, 5 x 10^k when that gives three to ``most`` ticks; beyond ``most``
    only the powers of ten (every second, third, ... one if there are still
    too many); a range too narrow for three of them takes 1, 2, ..., 9 x 10^k,
    and one too narrow even for two of those a few evenly spaced values, as
    round as the range allows (0.15, 0.16). Never a tick like 0.145 or 8.63.
    """
    if not (0 < low <= high and np.isfinite(high)):
        raise ValueError(f"round_log_ticks: need 0 < low <= high < inf, got {low!r}, {high!r}")
    powers = range(int(np.floor(np.log10(low))) - 1, int(np.ceil(np.log10(high))) + 1)

    def ladder(mantissas) -> list[float]:
        # float("2e-1") is the double nearest 0.2, so a tick prints as 0.2 and not 0.20000000000000001.
        values = (float(f"{m}e{k}") for k in powers for m in mantissas)
        return [v for v in values if low * (1 - 1e-9) <= v <= high * (1 + 1e-9)]

    ticks = ladder((1, 2, 5))
    if len(ticks) > most:
        ticks = ladder((1,))
        stride = -(-len(ticks) // most)          # ceil: every stride-th power of ten
        ticks = ticks[::stride]
    elif len(ticks) < 3:
        finer = ladder(range(1, 10))
        if len(ticks) < len(finer) <= most:
            ticks = finer
    if len(ticks) < 2:
        values = MaxNLocator(nbins=3, steps=[1, 2, 2.5, 5, 10]).tick_values(low, high)
        values = sorted({float(f"{v:.12g}") for v in values if low * (1 - 1e-9) <= v <= high * (1 + 1e-9)})
        if len(values) > len(ticks):
            ticks = values
    return ticks if ticks else [float(f"{low:.2g}")]


def round_tick_text(value: float, _position=None) -> str:
    """A tick label: 0.2, 5, 1000 as they are; very small or large values as 2×10⁻⁵ (mathtext)."""
    if value == 0 or 1e-3 <= abs(value) < 1e5:
        return f"{value:g}"
    mantissa, exponent = f"{value:.1e}".split("e")
    mantissa = mantissa.rstrip("0").rstrip(".")
    power = f"10^{{{int(exponent)}}}"
    return f"${power}$" if mantissa == "1" else f"${mantissa}{{\\times}}{power}$"


def _draw_slopes(ax, weights, slope_curve, path, manual_slopes, autograd_slopes, *, best, label, diverged_at):
    """The derivative dL/dw against w, and the slope each twin computed at each step drawn (path[t], slope[t])."""
    ax.plot(weights, slope_curve, color="0.25", linewidth=1.4, label=label, zorder=2)
    ax.axhline(0.0, color="0.45", linewidth=0.9, zorder=1)
    if best is not None:
        ax.axvline(best, color="0.45", linestyle=":", linewidth=1.1)
    finite = slope_curve[np.isfinite(slope_curve)]
    low, high = (finite.min(), finite.max()) if finite.size else (-1.0, 1.0)
    pad = 0.08 * (high - low) if high > low else 1.0
    ax.set_ylim(low - pad, high + pad)
    count = min(len(path), len(manual_slopes), len(autograd_slopes))
    points = np.column_stack([path[:count], manual_slopes[:count]])
    window = ((weights.min(), weights.max()), (low - pad, high + pad))
    inside = _inside(points, window) if count else 0
    points = points[:inside]
    if inside:
        every = _spread_out(points, window)     # crowded near the bottom: a marker on every few only
        ax.plot(points[every, 0], points[every, 1], color=MANUAL["color"], marker="o", markersize=5.5,
                markeredgecolor="white", markeredgewidth=0.5, linestyle="none", label=MANUAL["label"], zorder=4)
        ax.plot(path[:inside][every], autograd_slopes[:inside][every], color=AUTOGRAD["color"], marker="x",
                markersize=3.2, markeredgewidth=1.1, linestyle="none", label=AUTOGRAD["label"], zorder=5)
        _mark_start(ax, points)
        for a, b in zip(points[:4], points[1:5]):
            ax.annotate("", xy=b, xytext=a, arrowprops={"arrowstyle": "->", "color": MANUAL["color"], "lw": 1.0})
    ax.set_ylabel("slope dL/dw")
    text = "each step moves w against the slope,\nw ← w − lr·dL/dw: where the slope is\nnegative w grows, where positive it shrinks"
    if diverged_at is not None:
        text += f"\n(diverged at step {diverged_at}: the steps\ninside this window are drawn)"
    _panel_note(ax, text)


def _round_log_axis(ax) -> None:
    """Ticks of a log y axis at round values with plain labels (0.2, 0.5, 1, 2), not 2×10⁻¹."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

    low, high = ax.get_ylim()
    if not (0 < low < high < 1e4 * low):
        return      # over many decades matplotlib's own 10^k ticks read best
    ax.set_ylim(low, high)      # fixed ticks must not move the limits
    ax.yaxis.set_major_locator(FixedLocator(round_log_ticks(low, high)))
    ax.yaxis.set_major_formatter(FuncFormatter(round_tick_text))
    ax.yaxis.set_minor_formatter(NullFormatter())


def _spread_out(path: np.ndarray, window=None, gap: float = 0.022) -> list[int]:
    """Indices of the points of a path to mark: each at least ``gap`` (a fraction of the window's
    width or height) from every point marked before it, plus the last point; all of them where the
    steps are long. A zigzag that piles up at both walls is thinned at both.

    window: ((x0, x1), (y0, y1)); default the path's own extent. Non-finite points are skipped.
    """
    finite = np.flatnonzero(np.isfinite(path).all(axis=1)) if len(path) else np.array([], dtype=int)
    if finite.size == 0:
        return []
    if window is None:
        window = tuple((path[finite, k].min(), path[finite, k].max()) for k in range(2))
    span = np.array([abs(hi - lo) for lo, hi in window], dtype=float)
    span[~(span > 0)] = 1.0
    scaled = path / span
    chosen = []
    for index in finite:
        near = chosen and np.abs(scaled[chosen] - scaled[index]).max(axis=1).min() < gap
        if not near or index == len(path) - 1:
            chosen.append(int(index))
    return chosen


def _gap(values, best_loss: float) -> np.ndarray:
    """L - L* as a float array; NaN where it is not positive (a log axis cannot show it)."""
    with np.errstate(invalid="ignore"):
        gap = np.asarray(values, dtype=float) - best_loss
        return np.where(gap > 0, gap, np.nan)


def _theory_line(start: float, factor: float, count: int, first: float) -> np.ndarray:
    """start * factor**t for t = 0 .. count - 1, NaN where it overflows or is off the scale of ``first``."""
    with np.errstate(over="ignore", invalid="ignore"):
        line = start * np.power(float(factor), np.arange(count, dtype=float))
    return _on_scale(line, first)


def loss_gap_curves(histories: dict[str, History], best_loss: float, *,
                    theory: dict[str, tuple[float, float]] | None = None, title: str = "",
                    growing_title: str = "Diverging: on an axis of its own") -> Figure:
    """The loss gap L - L* per step on a log scale, where geometric convergence is a straight line.

    histories: the runs by label; best_loss: L*, the lowest loss there is
    (from a closed form or least squares). theory[label] = (start, factor):
    a dashed line start * factor**t beside that run, the rate theory predicts
    (on a quadratic, factor = max_i (1 - lr * lambda_i)^2); its slope is to be
    compared with the run's. One run is drawn in the twins' house colours;
    several get one colour each (line: manual, x: autograd). Runs whose gap
    grows (diverged, or a theoretical factor above 1) go on an axis of their
    own on the right, so they do not flatten the others; a diverged run ends
    in its X (see ``_mark_divergence``).
    """
    from matplotlib import patheffects
    from matplotlib.lines import Line2D

    theory = theory or {}
    single = len(histories) == 1

    def grows(label: str) -> bool:
        return histories[label].diverged or theory.get(label, (1.0, 0.0))[1] > 1

    groups = [[label for label in histories if not grows(label)], [label for label in histories if grows(label)]]
    groups = [group for group in groups if group]
    with house_style():
        if len(groups) == 2:
            fig = Figure(figsize=(8.6, 3.9), layout="constrained")
            axes = fig.subplots(1, 2, width_ratios=[1.45, 1])
        else:
            fig = Figure(figsize=(4.9, 3.6), layout="constrained")
            axes = [fig.add_subplot()]
        colors = dict(zip(histories, RUN_COLORS))
        for ax, group in zip(axes, groups):
            last_step = max(len(histories[label].path_losses()[0]) - 1 for label in group)
            curves = []
            for label in group:
                history = histories[label]
                losses_manual, losses_autograd = history.path_losses()
                manual_gap, autograd_gap = _gap(losses_manual, best_loss), _gap(losses_autograd, best_loss)
                first = manual_gap[0]
                manual_gap, autograd_gap = _on_scale(manual_gap, first), _on_scale(autograd_gap, first)
                curves += [manual_gap, autograd_gap]
                steps = np.arange(len(manual_gap))
                line_color = MANUAL["color"] if single else colors[label]
                cross_color = AUTOGRAD["color"] if single else colors[label]
                lone = {"marker": "o", "markersize": 4} if np.isfinite(manual_gap).sum() == 1 else {}
                # A wide line: the dashed theory line on top of it leaves it visible.
                ax.plot(steps, manual_gap, color=line_color, linewidth=2.4, label=MANUAL["label"] if single else label,
                        **lone)
                every = max(1, len(steps) // 20)
                ax.plot(steps[::every], autograd_gap[::every], color=cross_color, marker="x", markersize=4.5,
                        linestyle="none", label=AUTOGRAD["label"] if single else None)
                if label in theory:
                    start, factor = theory[label]
                    line = _theory_line(start, factor, len(steps), first)
                    if np.isfinite(line).sum() >= 2:
                        # On top of the run's line, dark-edged: where theory and run coincide both show.
                        edge = [patheffects.withStroke(linewidth=2.6, foreground="0.1")] if not single else None
                        ax.plot(steps, line, color="0.1" if single else colors[label], linestyle=(0, (4, 3)),
                                linewidth=1.2, zorder=3, path_effects=edge,
                                label=f"theory: ×{factor:.4g} per step")
                if history.diverged:
                    _mark_divergence(ax, history, color=colors[label] if not single else "black",
                                     last_step=last_step, values=manual_gap)
            ax.set_yscale("log")
            _readable_log_range(ax, *curves)
            _round_log_axis(ax)
            ax.set_xlabel("step")
            _integer_steps(ax)
            ax.set_ylabel("loss gap L − L* (log scale)")
        axes[0].set_title(title)
        if len(groups) == 2:
            axes[1].set_title(growing_title)
        handles, labels = [], []
        for ax in axes:
            for handle, label in zip(*ax.get_legend_handles_labels()):
                handles.append(handle)
                labels.append(label)
        if not single:
            handles.append(Line2D([], [], color="0.3", marker="x", markersize=4.5))
            labels.append("line: manual, x: autograd")
        # Runs in the first column, their theory lines beside them in the second.
        runs = [(h, t) for h, t in zip(handles, labels) if not t.startswith("theory")]
        lines = [(h, t) for h, t in zip(handles, labels) if t.startswith("theory")]
        if lines:
            rows = max(len(runs), len(lines))
            blank = (Line2D([], [], linestyle="none"), " ")
            ordered = runs + [blank] * (rows - len(runs)) + lines + [blank] * (rows - len(lines))
        else:
            ordered = runs
        fig.legend([h for h, _ in ordered], [t for _, t in ordered], loc="outside lower center",
                   ncols=2 if lines else min(len(ordered), 3), fontsize=8)
    return fig


# --------------------------------------------------------------------------
# Lesson 07 · Momentum and Nesterov: several runs on one landscape, the
# distance to the minimum against the rate theory predicts, loss curves side by side
# --------------------------------------------------------------------------

def _draw_run_path(ax, manual_path: np.ndarray, autograd_path: np.ndarray, *, color: str, label: str,
                   window, diverged_at: int | None = None) -> None:
    """One run's path among several: the hand-written twin in the run's colour, autograd's crosses on it.

    The manual twin is a line through filled circles with a white outline
    (it stays visible on any contour colour); autograd's small crosses (dark,
    or white in a black run) sit inside the circles, a cross in every circle
    where the twins agree.
    The path is drawn while it stays finite and inside ``window``; where it
    leaves, a dashed arrow in the run's colour points the way it went, and a
    run that diverged (``diverged_at``) ends in an X there. A run that stays
    inside ends in the house star.
    """
    from matplotlib import patheffects

    shown = _inside(manual_path, window)
    outline = [patheffects.withStroke(linewidth=2.8, foreground="white")]
    track = track_path(ax, manual_path[:shown], autograd_path[:shown])     # for an animation, see toolkit.animation
    (line,) = ax.plot(manual_path[:shown, 0], manual_path[:shown, 1], color=color, marker="o", markersize=3.6,
                      markeredgecolor="white", markeredgewidth=0.4, linewidth=1.3, label=label, zorder=4,
                      path_effects=outline)
    # Crosses that show inside the circles: white in a black run's circles, nearly black in any other's.
    cross = "white" if matplotlib.colors.to_rgb(color) == (0.0, 0.0, 0.0) else "0.1"
    (crosses,) = ax.plot(autograd_path[:shown, 0], autograd_path[:shown, 1], color=cross, marker="x",
                         markersize=2.4, markeredgewidth=0.7, linestyle="none", zorder=5)
    track.grow(line)
    track.grow(crosses)
    with track.at_the_end(ax):
        if shown == len(manual_path):
            ax.plot(*manual_path[-1], marker="*", markersize=11, color="#F0E442", markeredgecolor="black",
                    linestyle="none", label="end", zorder=6)
            return
        _mark_exit(ax, manual_path, shown, diverged_at, window, color=color)


def _run_path_legend(axes, twins_label: str) -> tuple[list, list[str]]:
    """Legend entries for several runs' paths: each run once, then start/end/diverged, then the twins' key."""
    from matplotlib.lines import Line2D

    seen: dict[str, object] = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            seen.setdefault(label, handle)
    shared = ("start", "end", "diverged")       # runs first, then the markers every run shares
    labels = [label for label in seen if label not in shared] + [label for label in shared if label in seen]
    handles = [seen[label] for label in labels]
    handles.append(Line2D([], [], color="0.4", marker="o", markersize=4, markeredgecolor="white",
                          markeredgewidth=0.4))
    labels.append(twins_label)
    return handles, labels


def momentum_paths(panels: Sequence[dict], *, xlabel: str, ylabel: str, note: str | None = None) -> Figure:
    """Several runs' descent paths on panels of the same loss contour, one colour scale, two panels a row.

    Each panel is a dict with keys
        title; alphas (A,), betas (B,), Z (B, A): the loss, Z[i, j] at (alphas[j], betas[i]);
        runs: a list of dicts with label, color, manual_path and autograd_path
              ((T, 2) each) and diverged_at (the step where the run diverged, or None).
    Equal aspect (both axes are parameters). A label used in several panels
    (the same setting, the same colour) appears once in the legend, which
    takes the empty place of an odd panel count (else goes below).
    ``note``: a line heading the legend.
    """
    from matplotlib.lines import Line2D

    levels = _log_levels(np.concatenate([_numpy(panel["Z"]).ravel() for panel in panels]), count=20)
    norm = LogNorm(levels[0], levels[-1]) if levels is not None else None
    columns = min(2, len(panels))
    rows = -(-len(panels) // columns)
    with house_style():
        fig = Figure(figsize=(7.6, 2.35 * rows + 0.3), layout="constrained")
        grid = np.atleast_1d(fig.subplots(rows, columns)).ravel()
        axes, spare = grid[:len(panels)], grid[len(panels):]
        for ax, panel in zip(axes, panels):
            alphas, betas = _numpy(panel["alphas"]), _numpy(panel["betas"])
            window = ((alphas[0], alphas[-1]), (betas[0], betas[-1]))
            if levels is not None:
                filled = _contour(ax, alphas, betas, _numpy(panel["Z"]), levels, norm)
            else:
                _panel_note(ax, NO_LANDSCAPE)
            for run in panel["runs"]:
                _draw_run_path(ax, _numpy(run["manual_path"]), _numpy(run["autograd_path"]), color=run["color"],
                               label=run["label"], window=window, diverged_at=run.get("diverged_at"))
            if panel["runs"]:
                _mark_start(ax, _numpy(panel["runs"][0]["manual_path"]), zorder=8)
            ax.set_xlim(*window[0])
            ax.set_ylim(*window[1])
            ax.set_aspect("equal", adjustable="box")
            ax.set_xlabel(xlabel)
            ax.set_ylabel(ylabel)
            ax.set_title(panel["title"])
            ax.grid(False)
        if levels is not None:
            _colorbar(fig, filled, list(grid), levels)
        handles, labels = _run_path_legend(axes, "circles: manual,\nx inside: autograd\n(the twins coincide)")
        if spare.size:
            for ax in spare:
                ax.axis("off")
            legend = spare[0].legend(handles, labels, loc="center", ncols=1, fontsize=8, frameon=False)
        else:
            legend = fig.legend(handles, labels, loc="outside lower center", ncols=3, fontsize=8)
        _caption(fig, legend, note)
    return fig


def distance_rates(runs: Sequence[dict], *, floor: float | None = None, title: str = "",
                   note: str | None = None) -> Figure:
    """The distance to the minimum per step on a log scale, beside the rate theory predicts.

    Each run is a dict with keys
        label, color; manual, autograd (T,): ||theta_t - theta*|| of each twin;
        theory: the factor per step theory predicts, drawn as a dark dashed line
        of that slope through the measured curve at step ``anchor``;
        fit: (first, last), the steps the measured rate was fitted over (drawn thicker);
        measured: the fitted factor per step (for the legend).
    ``floor``: distances below it are rounding noise (the dtype's precision
    times the size of theta*); that band is shaded, and the step axis ends
    soon after the slowest run reaches it.
    """
    with house_style():
        fig = Figure(figsize=(5.4, 4.0), layout="constrained")
        ax = fig.add_subplot()
        last = 0
        for run in runs:
            manual, autograd = _numpy(run["manual"]), _numpy(run["autograd"])
            steps = np.arange(len(manual))
            above = np.flatnonzero(manual > floor) if floor is not None else steps
            last = max(last, int(above[-1]) if above.size else 0, 1)
            with np.errstate(divide="ignore"):
                ax.plot(steps, np.where(manual > 0, manual, np.nan), color=run["color"], linewidth=1.4,
                        label=f"{run['label']}: measured ×{run['measured']:.4f} per step"
                        if run.get("measured") is not None else run["label"], zorder=3)
            every = max(1, len(steps) // 40)
            ax.plot(steps[::every], np.where(autograd > 0, autograd, np.nan)[::every], color=run["color"],
                    marker="x", markersize=4, linestyle="none", zorder=4)
            if run.get("fit") is not None:
                first, stop = run["fit"]
                ax.plot(steps[first:stop + 1], manual[first:stop + 1], color=run["color"], linewidth=4.0,
                        alpha=0.45, solid_capstyle="butt", zorder=2)
            if run.get("theory") is not None:
                anchor = run.get("anchor", 0)
                with np.errstate(over="ignore", under="ignore"):
                    line = manual[anchor] * np.power(float(run["theory"]), steps - anchor)
                # Dark, on top: where measurement and theory agree the dashes run along the coloured line.
                ax.plot(steps, line, color="0.1", linestyle=(0, (4, 3)), linewidth=1.0, zorder=5,
                        label=f"theory: ×{run['theory']:.4f} per step")
        shown = min(len(manual) - 1, int(1.15 * last) + 2)
        ax.set_xlim(0, shown)
        ax.set_yscale("log")
        values = np.concatenate([_numpy(run["manual"])[:shown + 1] for run in runs])
        values = values[np.isfinite(values) & (values > 0)]
        low = max(values.min(), floor / 30) if floor is not None and values.size else None
        if values.size:
            ax.set_ylim(low / 3 if low else None, values.max() * 3)
        if floor is not None and floor > ax.get_ylim()[0]:    # a short run may stop well above the noise
            ax.axhspan(ax.get_ylim()[0], floor, color="0.85", zorder=0)
            ax.text(0.98, floor, "rounding noise", transform=ax.get_yaxis_transform(), ha="right", va="top",
                    fontsize=8, color="0.3")
        ax.set_xlabel("step")
        _integer_steps(ax)
        ax.set_ylabel("distance to the minimum ‖θ − θ*‖ (log scale)")
        ax.set_title(title)
        handles, labels = ax.get_legend_handles_labels()
        from matplotlib.lines import Line2D

        handles += [Line2D([], [], color="0.3", linewidth=4.0, alpha=0.45),
                    Line2D([], [], color="0.3", marker="x", markersize=4, linestyle="none")]
        labels += ["steps the rate was fitted over", "x: autograd (on the manual line)"]
        legend = fig.legend(handles, labels, loc="outside lower center", ncols=2, fontsize=8)
        _caption(fig, legend, note)
    return fig


def loss_curve_panels(panels: Sequence[dict], *, note: str | None = None) -> Figure:
    """Groups of runs' loss curves, one panel per group, sharing a log loss axis.

    Each panel is a dict with keys title and runs: a dict label -> (History,
    colour). The manual twin is the line and autograd the crosses on it; a
    diverged run ends in its X (see ``_mark_divergence``). ``note``: a caption
    line under the legend.
    """
    with house_style():
        fig = Figure(figsize=(3.6 * len(panels) + 0.4, 3.6), layout="constrained")
        axes = np.atleast_1d(fig.subplots(1, len(panels), sharey=True))
        curves = []
        for ax, panel in zip(axes, panels):
            last_step = max((len(h.loss_manual) - 1 for h, _ in panel["runs"].values()), default=0)
            for label, (history, color) in panel["runs"].items():
                _draw_run_losses(ax, history, label=label, color=color, last_step=last_step, curves=curves)
            ax.plot([], [], color="0.3", marker="x", markersize=4.5, label="line: manual, x: autograd")
            ax.set_yscale("log")
            ax.set_xlabel("step")
            _integer_steps(ax)
            ax.set_title(panel["title"])
            ax.legend(loc="upper right", fontsize=7.5)
        _readable_log_range(axes[0], *curves)
        axes[0].set_ylabel("training loss (log scale)")
        if note:
            fig.text(0.5, 0.0, note, ha="center", va="top", fontsize=8.5, transform=fig.transFigure)
    return fig


# --------------------------------------------------------------------------
# Lesson 06 · Stochastic gradient descent: noisy paths on one landscape,
# per-step against per-epoch losses, the mini-batch gradient's variance
# --------------------------------------------------------------------------

def _draw_long_twin_paths(ax, manual_path: np.ndarray, autograd_path: np.ndarray) -> None:
    """Both twins' paths in the house style, start and end marked; the markers of a long path are smaller.

    A path of hundreds of steps drawn with full-size circles would be one
    blot: from 100 points on, the circles and crosses shrink, and where the
    path wanders the points form a cloud whose density shows.
    """
    small = len(manual_path) > 100
    track = track_path(ax, manual_path, autograd_path)     # for an animation, see toolkit.animation
    (line,) = ax.plot(manual_path[:, 0], manual_path[:, 1], color=MANUAL["color"], marker="o",
                      markersize=3.2 if small else 5.5, markeredgecolor="white",
                      markeredgewidth=0.3 if small else 0.6, linewidth=0.6 if small else 1.3,
                      label=MANUAL["label"], zorder=4)
    (crosses,) = ax.plot(autograd_path[:, 0], autograd_path[:, 1], color=AUTOGRAD["color"], marker="x",
                         markersize=1.8 if small else 3.2, markeredgewidth=0.6 if small else 1.1, linestyle="none",
                         label=AUTOGRAD["label"], zorder=5)
    track.grow(line)
    track.grow(crosses)
    _mark_start(ax, manual_path)
    with track.at_the_end(ax):
        _mark_end(ax, manual_path)


def sgd_paths(alphas, betas, Z, panels: Sequence[dict], *, xlabel: str, ylabel: str, minimum: Sequence[float],
              zoom=None, title: str = "", note: str | None = None) -> Figure:
    """The same exact loss contour once per run, each panel with that run's descent path.

    alphas (A,), betas (B,), Z (B, A): the loss over one window shared by
    every panel (Z[i, j] at alphas[j], betas[i]), so the panels compare.
    Each panel is a dict with keys title, manual_path, autograd_path (T, 2)
    and optionally ``diverged_at`` (the step where that run diverged, if it
    did: drawn as ``_draw_twin_paths`` draws it), ``last`` (how many points
    the run's last epoch holds) and ``radius`` (their root-mean-square
    distance from ``minimum``). A panel with ``last`` gets an inset: ``zoom`` = (alphas, betas, Z), a finer grid around
    the minimum, the same for every inset so that their scales compare, with
    the last epoch's points and a dashed circle of that radius around the
    minimum, the "ball" a noisy run wanders in. Equal aspect everywhere, so a
    circle is round. ``note``: a caption line under the legend.
    """
    from matplotlib.patches import Circle

    alphas, betas, z = _numpy(alphas), _numpy(betas), _numpy(Z)
    levels = _log_levels(z, count=20)
    norm = LogNorm(levels[0], levels[-1]) if levels is not None else None
    rows = 2 if len(panels) == 4 else 1
    cols = len(panels) // rows
    ball = {"fill": False, "edgecolor": "black", "linestyle": (0, (3, 2)), "linewidth": 1.2, "zorder": 6}
    with house_style():
        fig = Figure(figsize=(7.2, 8.1) if rows == 2 else (3.2 * cols + 1.0, 4.2), layout="constrained")
        axes = np.atleast_1d(fig.subplots(rows, cols, sharex=True, sharey=True)).ravel()
        for index, (ax, panel) in enumerate(zip(axes, panels)):
            if levels is not None:
                filled = _contour(ax, alphas, betas, z, levels, norm)
            else:
                _panel_note(ax, NO_LANDSCAPE)
            manual_path, autograd_path = _numpy(panel["manual_path"]), _numpy(panel["autograd_path"])
            if panel.get("diverged_at") is None:
                _draw_long_twin_paths(ax, manual_path, autograd_path)
            else:       # drawn while inside the window, where it leaves an arrow and the X (house style)
                _draw_twin_paths(ax, manual_path, autograd_path, diverged_at=panel["diverged_at"],
                                 window=((alphas[0], alphas[-1]), (betas[0], betas[-1])))
            ax.plot(*minimum, marker="P", markersize=9, color="white", markeredgecolor="black",
                    linestyle="none", label="minimum (least squares)", zorder=7)
            ax.set_xlim(alphas[0], alphas[-1])
            ax.set_ylim(betas[0], betas[-1])
            ax.set_aspect("equal", adjustable="box")
            ax.set_title(panel["title"])
            if index // cols == rows - 1:
                ax.set_xlabel(xlabel)
            if index % cols == 0:
                ax.set_ylabel(ylabel)
            ax.grid(False)
            if zoom is None or panel.get("last") is None:
                continue
            za, zb, zz = (_numpy(v) for v in zoom)
            inset = ax.inset_axes([0.02, 0.02, 0.47, 0.47])     # the high-loss corner, away from the paths
            if levels is not None:
                inset.contourf(za, zb, zz, levels=levels, norm=norm, cmap=CMAP)
            fine = _log_levels(zz, count=8)
            if fine is not None:
                inset.contour(za, zb, zz, levels=fine, colors="white", linewidths=0.4, alpha=0.6)
            last = panel["last"]
            inset.plot(manual_path[-last:, 0], manual_path[-last:, 1], color=MANUAL["color"], marker="o",
                       markersize=3.4, markeredgecolor="white", markeredgewidth=0.3, linewidth=0.7, zorder=4)
            inset.plot(autograd_path[-last:, 0], autograd_path[-last:, 1], color=AUTOGRAD["color"], marker="x",
                       markersize=2.0, markeredgewidth=0.7, linestyle="none", zorder=5)
            inset.plot(*minimum, marker="+", markersize=7, markeredgewidth=1.0, color="white",
                       linestyle="none", zorder=7)     # thin, so a tiny ball stays visible
            radius = panel.get("radius")
            if radius is not None:
                inset.add_patch(Circle(tuple(minimum), radius, **ball))
                inset.text(0.96, 0.04, f"radius {radius:.2g}", transform=inset.transAxes, ha="right", va="bottom",
                           fontsize=7.5, bbox=TEXT_BOX, zorder=9)
            inset.set_xlim(za[0], za[-1])
            inset.set_ylim(zb[0], zb[-1])
            inset.set_aspect("equal", adjustable="box")
            inset.set_xticks([])
            inset.set_yticks([])
            inset.text(0.04, 0.96, "last epoch, zoomed in", transform=inset.transAxes, ha="left", va="top",
                       fontsize=7.5, bbox=TEXT_BOX, zorder=9)
            inset.set_in_layout(False)     # inside its panel: the layout need not make room for it
            ax.indicate_inset_zoom(inset, edgecolor="black", alpha=0.8)
        if zoom is not None and any(panel.get("radius") is not None for panel in panels):
            axes[0].plot([], [], color="black", linestyle=ball["linestyle"], linewidth=ball["linewidth"],
                         label="last epoch: root-mean-square distance\nfrom the minimum (dashed circle)")
        handles = {}
        for ax in axes:
            for handle, label in zip(*ax.get_legend_handles_labels()):
                handles.setdefault(label, handle)
        legend = fig.legend(list(handles.values()), list(handles), loc="outside lower center", ncols=3, fontsize=8)
        _caption(fig, legend, note)
        if levels is not None:
            _colorbar(fig, filled, list(axes), levels)
        if title:
            fig.suptitle(title, fontsize=10.5)
    return fig


def minibatch_losses(runs: Sequence[dict], *, title: str = "", note: str | None = None) -> Figure:
    """The loss each step saw on its mini-batch, against the loss on all the data after each epoch.

    Each run is a dict with keys
        label, batch_size, n (the number of examples), history (a ``History``);
        epoch_manual, epoch_autograd (E + 1,): the full-data loss at each
        twin's parameters at the start and after every epoch.
    The x axis counts epochs, so runs with different batch sizes line up:
    step k has seen k * batch_size / n epochs. One panel per run (at most
    three, in RUN_COLORS): its
    per-step losses as a thin, pale line (the hand-written twin; autograd's
    as small crosses on it, every few steps) and its epoch losses as circles
    joined by a line (autograd: crosses in the circles). A last panel puts
    the epoch losses of every run together. All panels share the log axis.
    """
    from matplotlib.lines import Line2D

    with house_style():
        fig = Figure(figsize=(7.4, 5.8), layout="constrained")
        axes = fig.subplots(2, 2, sharex=True, sharey=True).ravel()
        together = axes[len(runs)] if len(runs) < len(axes) else None
        for ax, color, run in zip(axes, RUN_COLORS, runs):
            history, size, n = run["history"], run["batch_size"], run["n"]
            steps = np.arange(len(history.loss_manual))
            at = steps * size / n
            first = history.loss_manual[0] if history.loss_manual else np.nan
            ax.plot(at, _on_scale(history.loss_manual, first), color=color, linewidth=0.6, alpha=0.55, zorder=2)
            every = max(1, len(steps) // 40)
            ax.plot(at[::every], _on_scale(history.loss_autograd, first)[::every], color=AUTOGRAD["color"],
                    marker="x", markersize=2.5, markeredgewidth=0.6, linestyle="none", alpha=0.7, zorder=3)
            for target in (ax, together):
                if target is None:
                    continue
                epochs = np.arange(len(run["epoch_manual"]))
                target.plot(epochs, _on_scale(run["epoch_manual"], first), color=color, marker="o", markersize=5.5,
                            markeredgecolor="black", markeredgewidth=0.6, linewidth=1.6, zorder=4,
                            label=run["label"] if target is together else None)
                target.plot(epochs, _on_scale(run["epoch_autograd"], first), color=AUTOGRAD["color"], marker="x",
                            markersize=3.2, markeredgewidth=1.1, linestyle="none", zorder=5)
            ax.set_title(run["label"])
        if together is not None:
            together.set_title("the loss on all the data, every run")
            together.legend(loc="lower left", fontsize=8)
        for ax in axes:
            ax.set_yscale("log")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        for ax in axes[-2:]:
            ax.set_xlabel("epoch (passes through the data)")
        for ax in axes[::2]:
            ax.set_ylabel("loss (log scale)")
        handles = [Line2D([], [], color="0.35", linewidth=0.6, alpha=0.7),
                   Line2D([], [], color="0.35", marker="o", markersize=5.5, markeredgecolor="black",
                          markeredgewidth=0.6, linewidth=1.6),
                   Line2D([], [], color=AUTOGRAD["color"], marker="x", markersize=3.2, markeredgewidth=1.1,
                          linestyle="none")]
        labels = ["loss on the step's mini-batch (hand-written twin)",
                  "loss on all the data after each epoch (hand-written twin)",
                  "the same two, autograd twin"]
        legend = fig.legend(handles, labels, loc="outside lower center", ncols=2, fontsize=8)
        _caption(fig, legend, note, title)
    return fig


def gradient_variance(batch_sizes, measured, standard_error, *, sigma2: float, n: int, title: str = "",
                      note: str | None = None) -> Figure:
    """The variance of the mini-batch gradient against the batch size B, on log-log axes, with the theory.

    batch_sizes (K,), measured (K,): the mean over many random batches of
    ||g_B - g||^2 (g the full gradient); standard_error (K,): its standard
    error, drawn as bars of two standard errors. sigma2: the per-example
    variance, the mean over examples of ||g_i - g||^2; n: the number of
    examples. The theory for batches drawn without replacement,
    sigma2 / B * (n - B) / (n - 1), is the solid line; sigma2 / B (with
    replacement) the dotted one. A measured 0 (at B = n every batch is all
    the data) cannot sit on a log axis: it is marked at the bottom edge.
    """
    sizes, values, errors = _numpy(batch_sizes), _numpy(measured), _numpy(standard_error)
    positive = values > 1e-20 * sigma2      # below that: zero, or the rounding of a zero (on some devices)
    low = values[positive].min() / 40 if positive.any() else sigma2 / n / 10
    high = sigma2 * 2.2
    curve_b = np.geomspace(1, n, 400)
    with np.errstate(divide="ignore"):
        theory = sigma2 / curve_b * (n - curve_b) / (n - 1)
    with house_style():
        fig = Figure(figsize=(5.2, 3.9), layout="constrained")
        ax = fig.add_subplot()
        ax.plot(curve_b, sigma2 / curve_b, color="0.45", linestyle=":", linewidth=1.3,
                label="σ²/B (batches drawn with replacement)")
        ax.plot(curve_b, np.where(theory > 0, theory, low / 10), color="0.1", linewidth=1.4,
                label="theory σ²/B · (N − B)/(N − 1) (without replacement)")
        ax.errorbar(sizes[positive], values[positive], yerr=2 * errors[positive], color=MANUAL["color"],
                    marker="o", markersize=6, markeredgecolor="white", markeredgewidth=0.6, linestyle="none",
                    elinewidth=1.2, capsize=3, zorder=4,
                    label="measured (bars: ± 2 standard errors, most of them hidden by the dots)")
        for size, value in zip(sizes[~positive], values[~positive]):
            ax.annotate("", xy=(size, low), xytext=(size, low * 6),
                        arrowprops={"arrowstyle": "-|>", "color": MANUAL["color"], "lw": 1.4})
            text = "exactly 0" if value == 0 else f"{value:.0e} (rounding)"
            ax.annotate(f"B = N = {size:g}: measured\n{text}, below\nany log axis", (size, low * 2.5),
                        textcoords="offset points", xytext=(-8, 0), ha="right", va="center", fontsize=8.5,
                        bbox=TEXT_BOX)
        ax.axhline(sigma2, color="0.6", linewidth=0.8, zorder=1)
        ax.annotate(f"σ² = {sigma2:.3g} (one example)", (1, sigma2), textcoords="offset points", xytext=(4, 4),
                    fontsize=8.5)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xticks(sizes)
        ax.set_xticklabels([f"{s:g}" for s in sizes])
        ax.minorticks_off()
        ax.set_xlim(sizes.min() / 1.3, sizes.max() * 1.3)
        ax.set_ylim(low, high)
        ax.set_xlabel("batch size B (log scale)")
        ax.set_ylabel("E ‖g_B − ∇L‖² (log scale)")
        ax.set_title(title)
        legend = fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncols=1, fontsize=8)
        _caption(fig, legend, note)
    return fig


# --------------------------------------------------------------------------
# Lesson 05 · A hidden layer: planes through 354 dimensions, honestly coloured;
# training and validation loss
# --------------------------------------------------------------------------

def _plane_panel_data(panel: dict, losses: np.ndarray, diverged_at: int | None) -> dict:
    """A panel of ``path_on_plane`` as arrays, with its window and how many leading points it shows."""
    data = {key: _numpy(panel[key]) for key in ("alphas", "betas", "Z", "manual_path", "autograd_path")}
    data.update({key: panel.get(key) for key in ("xlabel", "ylabel", "title", "note")})
    data["window"] = ((data["alphas"][0], data["alphas"][-1]), (data["betas"][0], data["betas"][-1]))
    manual_path = data["manual_path"]
    shown = len(manual_path) if diverged_at is None else _inside(manual_path, data["window"])
    data["shown"] = min(shown, len(losses))
    data["losses"] = losses
    return data


def _draw_plane_panel(ax, data: dict, levels, norm, diverged_at: int | None):
    """One plane of ``path_on_plane``: contours, both paths, circles filled with the true loss.

    Returns the filled contour set (None when no loss in the window is finite)."""
    filled = None
    if levels is not None and np.isfinite(data["Z"]).any():
        filled = _contour(ax, data["alphas"], data["betas"], data["Z"], levels, norm)
    head = _draw_twin_paths(ax, data["manual_path"], data["autograd_path"], diverged_at=diverged_at,
                            window=data["window"], thin=True)
    # The fill goes into exactly the circles the house style drew (it may mark only every few steps).
    (line,) = [line for line in ax.get_lines() if line.get_label() == MANUAL["label"]]
    marked = _marked_points(line, data["shown"])
    fill = data["losses"][marked]
    keep = np.isfinite(fill)
    if norm is not None and keep.any():
        points = data["manual_path"][marked[keep]]
        ax.scatter(points[:, 0], points[:, 1], c=fill[keep], cmap=CMAP, norm=norm, s=48,
                   edgecolors=MANUAL["color"], linewidths=1.0, zorder=4.5, label="_true loss")
    (x0, x1), (y0, y1) = data["window"]
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect("equal", adjustable="box")
    notes = [text for text in (data["note"], None if filled is not None else NO_LANDSCAPE) if text]
    if notes:
        _panel_note(ax, "\n".join(notes), avoid=head)
    ax.set_xlabel(data["xlabel"] or "")
    ax.set_ylabel(data["ylabel"] or "")
    ax.set_title(data["title"] or "")
    ax.grid(False)
    return filled


def true_loss_fill(ax) -> tuple[np.ndarray, np.ndarray, object]:
    """What ``path_on_plane`` filled a panel's circles with: (positions (K, 2), losses (K,), norm).

    For checking a figure: the fills must be the true losses, on the
    contour's norm. Empty arrays and None if nothing was filled."""
    for collection in ax.collections:
        if collection.get_label() == "_true loss":
            return np.asarray(collection.get_offsets()), np.asarray(collection.get_array()), collection.norm
    return np.zeros((0, 2)), np.zeros(0), None


def train_validation_losses(history: History, validation_manual, validation_autograd, *, title: str = "",
                            caption: str | None = None) -> Figure:
    """The loss on the training data and on held-out data at every step, both twins, log scale.

    history: the training run (its ``path_losses()`` are the training curve,
    with the divergence marked if it diverged); validation_manual, validation_autograd:
    (T,) the loss on held-out data at every point of each twin's path
    (T = steps + 1). Solid lines: training; dashed: validation. The
    hand-written twin is the line, autograd the crosses on it (they
    coincide). The lowest validation loss is marked if it came before the
    end: past it the network still improved on the data it learns from,
    and got worse on new data.
    """
    manual_val, autograd_val = _numpy(validation_manual), _numpy(validation_autograd)
    first = manual_val[0] if manual_val.size else np.nan
    manual_val, autograd_val = _on_scale(manual_val, first), _on_scale(autograd_val, first)
    steps = np.arange(len(manual_val))
    if not history.diverged:     # the training loss at every point of the path too, the last one included
        from dataclasses import replace

        history = replace(history, **dict(zip(("loss_manual", "loss_autograd"), history.path_losses())))
    with house_style():
        fig = Figure(figsize=(5.2, 3.8), layout="constrained")
        ax = fig.add_subplot()
        _draw_loss_curves(ax, history)
        lone = {"marker": "o", "markersize": 4} if np.isfinite(manual_val).sum() == 1 else {}
        ax.plot(steps, manual_val, color=MANUAL["color"], linestyle="--", **lone)
        every = max(1, len(steps) // 25)
        ax.plot(steps[::every], autograd_val[::every], color=AUTOGRAD["color"], marker="x", markersize=5,
                linestyle="none")
        best = int(np.nanargmin(manual_val)) if np.isfinite(manual_val).sum() > 1 else len(manual_val) - 1
        if best < len(manual_val) - 1:     # a turning point: the held-out loss rose after it
            ax.plot(best, manual_val[best], marker="v", markersize=9, color="none", markeredgecolor="black",
                    linestyle="none", zorder=6, label=f"lowest held-out loss, {manual_val[best]:.3g} "
                                                        f"(step {best})")
        train_manual = _on_scale(history.loss_manual, history.loss_manual[0] if history.loss_manual else np.nan)
        _readable_log_range(ax, train_manual, manual_val)
        _round_log_axis(ax)
        from matplotlib.lines import Line2D

        handles, labels = ax.get_legend_handles_labels()
        handles += [Line2D([], [], color="0.3"), Line2D([], [], color="0.3", linestyle="--")]
        labels += ["training data", "held-out data"]
        ax.set_ylabel("loss (log scale)")
        ax.set_title(title)
        legend = fig.legend(handles, labels, loc="outside lower center", ncols=2, fontsize=8)
        if caption:
            legend.set_title(caption, prop={"size": 8.5})
    return fig


# --------------------------------------------------------------------------
# Lesson 08 · Initialisation: each layer's activations per starting point,
# the gradient's spread against depth, the loss curves from each start
# --------------------------------------------------------------------------

def _layer_colors(count: int) -> list:
    """Dark (the first layer) to light (the deepest), from the house colour map, stopping short of its
    pale yellow end so that every line stays visible on white."""
    from matplotlib import colormaps

    return [colormaps[CMAP](v) for v in np.linspace(0.0, 0.8, count)]


def _two_digits(value: float) -> str:
    """Two significant digits: 0.71, 0.0094, 3.4e-15, 3.4e+05."""
    return f"{value:.2g}"


def activation_histograms(values: dict[str, dict[str, Sequence]], layers: Sequence[int], *,
                          log_columns: Sequence[str] = (), bins: int = 51, title: str = "",
                          note: str | None = None) -> Figure:
    """How each hidden layer's activations are spread: one row per starting point, one column per activation.

    values[row][column]: the activations of hidden layers 1, 2, ... (tensors or
    arrays of any shape, layer 1 first). ``layers``: the hidden layers to draw
    (counted from 1), overlaid in each panel as outlined histograms, dark for
    the first and light for the deepest. The y axis is the fraction of the
    layer's values that falls into each bin, so the layers compare.

    Every panel of a column uses the same bins. A plain column gets linear
    bins over its largest |value| either side of 0 (tanh: nearly [-1, 1];
    an odd number of bins puts 0 in the middle of one);
    a column named in ``log_columns`` (ReLU: values >= 0 across many
    decades) gets log-spaced bins over its positive values, and the exact
    zeros, which a log axis cannot show, are counted in the panel's title.
    Each title also gives the standard deviation of the first and the last
    layer drawn.
    """
    from matplotlib.lines import Line2D

    rows = list(values)
    columns = list(values[rows[0]])
    colors = _layer_colors(len(layers))
    edges = {}
    for column in columns:
        drawn = np.concatenate([_numpy(values[row][column][k - 1]).ravel() for row in rows for k in layers])
        drawn = drawn[np.isfinite(drawn)]
        if column in log_columns:
            positive = drawn[drawn > 0]
            low, high = (positive.min(), positive.max()) if positive.size else (1e-3, 1.0)
            edges[column] = np.geomspace(low, high * (1 + 1e-9), bins + 1)
        else:
            reach = np.abs(drawn).max() if drawn.size else 1.0
            reach = reach if reach > 0 else 1.0
            edges[column] = np.linspace(-reach, reach, bins + 1)
    with house_style():
        fig = Figure(figsize=(7.0, 1.75 * len(rows) + 1.0), layout="constrained")
        axes = np.atleast_2d(fig.subplots(len(rows), len(columns), sharex="col", squeeze=False))
        for i, row in enumerate(rows):
            for j, column in enumerate(columns):
                ax = axes[i, j]
                log = column in log_columns
                for color, k in zip(colors, layers):
                    h = _numpy(values[row][column][k - 1]).ravel()
                    counts, _ = np.histogram(h, edges[column])
                    fraction = counts / max(h.size, 1)
                    ax.stairs(fraction, edges[column], color=color, linewidth=1.3, zorder=3)
                    ax.stairs(fraction, edges[column], color=color, fill=True, alpha=0.12, zorder=2)
                first = _numpy(values[row][column][layers[0] - 1])
                last = _numpy(values[row][column][layers[-1] - 1])
                text = f"{column}: std {_two_digits(first.std())} → {_two_digits(last.std())}"
                if log:
                    everything = np.concatenate([_numpy(values[row][column][k - 1]).ravel() for k in layers])
                    text += f", {np.mean(everything == 0):.0%} exact zeros (not drawn)"
                ax.set_title(text, fontsize=8.5, loc="left")
                if log:
                    ax.set_xscale("log")
                ax.set_ylim(bottom=0)
                ax.yaxis.set_major_locator(MaxNLocator(nbins=3))
                if j == 0:
                    ax.set_ylabel(f"{row}\nfraction per bin", fontsize=9)
                if i == len(rows) - 1:
                    ax.set_xlabel(f"activation ({column})" + (", log scale" if log else ""))
        handles = [Line2D([], [], color=color, linewidth=2) for color in colors]
        legend = fig.legend(handles, [f"hidden layer {k}" for k in layers], loc="outside lower center",
                            ncols=len(layers), fontsize=8)
        _caption(fig, legend, note, title)
    return fig


def gradient_flow(curves: dict[str, dict[str, dict]], *, title: str = "", note: str | None = None) -> Figure:
    """The spread of the gradient at every depth, at the start of training: one panel per activation.

    curves[column][scheme] is a dict with ``color`` and four arrays over the
    Linear layers 1 .. L (1 is next to the input): ``input_manual``,
    ``input_autograd`` (the standard deviation of dL/d(the layer's input);
    layer 1's input is the data) and ``weight_manual``, ``weight_autograd``
    (of dL/dW). Top row the former, bottom row the latter, log scales shared
    along each row. The hand-written twin is the line with circles, autograd
    the crosses on it. A scheme whose gradients are all exactly 0 cannot sit
    on a log axis and is left out (say so in ``note``).
    """
    from matplotlib.lines import Line2D

    columns = list(curves)
    rows = [("input", "std of dL/d(input of layer ℓ)\n(log scale)"),
            ("weight", "std of dL/dW of layer ℓ\n(log scale)")]
    with house_style():
        fig = Figure(figsize=(7.0, 5.9), layout="constrained")
        axes = fig.subplots(len(rows), len(columns), sharex=True, sharey="row", squeeze=False)
        handles = {}
        for j, column in enumerate(columns):
            for i, (key, ylabel) in enumerate(rows):
                ax = axes[i, j]
                for scheme, curve in curves[column].items():
                    manual_values = _numpy(curve[f"{key}_manual"])
                    autograd_values = _numpy(curve[f"{key}_autograd"])
                    if not (manual_values > 0).any():
                        continue
                    layer = np.arange(1, len(manual_values) + 1)
                    with np.errstate(invalid="ignore"):
                        manual_values = np.where(manual_values > 0, manual_values, np.nan)
                        autograd_values = np.where(autograd_values > 0, autograd_values, np.nan)
                    line, = ax.plot(layer, manual_values, color=curve["color"], marker="o", markersize=5,
                                    markeredgecolor="white", markeredgewidth=0.5, zorder=3)
                    ax.plot(layer, autograd_values, color="black", marker="x", markersize=3.5,
                            markeredgewidth=0.9, linestyle="none", zorder=4)
                    handles.setdefault(scheme, line)
                ax.set_yscale("log")
                ax.xaxis.set_major_locator(MaxNLocator(integer=True))
                if i == 0:
                    ax.set_title(column)
                if i == len(rows) - 1:
                    ax.set_xlabel("Linear layer ℓ (1 = next to the input)")
                if j == 0:
                    ax.set_ylabel(ylabel)
        labels = list(handles)
        lines = list(handles.values())
        lines.append(Line2D([], [], color="0.5", marker="o", markersize=5, markeredgecolor="white"))
        labels.append("line and circles: manual")
        lines.append(Line2D([], [], color="black", marker="x", markersize=3.5, linestyle="none"))
        labels.append("x: autograd")
        legend = fig.legend(lines, labels, loc="outside lower center", ncols=4, fontsize=8)
        _caption(fig, legend, note, title)
    return fig


def init_loss_curves(panels: Sequence[dict], *, reference: tuple[float, str] | None = None,
                     note: str | None = None) -> Figure:
    """The training loss from several starting points, one panel per group, on a shared log axis.

    Each panel is a dict with keys title and runs: a dict label -> dict with
    ``history`` and ``color`` and optionally ``linewidth``, ``alpha`` (a
    wide, pale line keeps a run visible under another that lies exactly on
    it) and ``linestyle``. The hand-written twin is the line, autograd the crosses on it; a
    diverged run ends in its X. ``reference``: (loss, label), drawn as a
    dotted line in every panel (e.g. ln 2, the loss of guessing).
    """
    from matplotlib.lines import Line2D

    with house_style():
        fig = Figure(figsize=(7.0, 3.7), layout="constrained")
        axes = np.atleast_1d(fig.subplots(1, len(panels), sharey=True))
        curves = []
        for ax, panel in zip(axes, panels):
            last_step = max((len(run["history"].loss_manual) - 1 for run in panel["runs"].values()), default=0)
            if reference is not None:
                ax.axhline(reference[0], color="0.4", linestyle=":", linewidth=1.1, zorder=1)
            for label, run in panel["runs"].items():
                line_style = {"linewidth": run.get("linewidth", 1.6), "alpha": run.get("alpha", 1.0),
                              "linestyle": run.get("linestyle", "-"), "zorder": 2}
                _draw_run_losses(ax, run["history"], label=label, color=run["color"], last_step=last_step,
                                 curves=curves, line_style=line_style, crosses=16, cross_style={"zorder": 3})
            ax.set_yscale("log")
            ax.set_xlabel("step")
            _integer_steps(ax)
            ax.set_title(panel["title"])
        _readable_log_range(axes[0], *curves)
        _round_log_axis(axes[0])
        axes[0].set_ylabel("training loss (log scale)")
        handles = {}
        for ax in axes:
            for handle, label in zip(*ax.get_legend_handles_labels()):
                handles.setdefault(label, handle)
        if reference is not None:
            handles[reference[1]] = Line2D([], [], color="0.4", linestyle=":", linewidth=1.1)
        handles["line: manual, x: autograd"] = Line2D([], [], color="0.3", marker="x", markersize=4.5)
        legend = fig.legend(list(handles.values()), list(handles), loc="outside lower center", ncols=3, fontsize=8)
        _caption(fig, legend, note)
    return fig


# --------------------------------------------------------------------------
# Lesson 13 · Looking at the landscape honestly: the loss on the straight
# line from start to end, and the sharpness along training against 2/lr
# --------------------------------------------------------------------------

# The training path's own losses beside the line's, and the curvature checks.
PATH_COLOR = RUN_COLORS[1]


def interpolation_curve(alphas, manual_losses, autograd_losses, *, path_alphas=None, path_losses=None,
                        title: str = "", caption: str | None = None) -> Figure:
    """The loss along the straight line theta(alpha) = (1 - alpha) theta_0 + alpha theta_T, both twins.

    alphas: (K,) ascending, from at most 0 to at least 1; *_losses: (K,)
    each twin's loss at theta(alpha), the hand-written one as a line through
    circles, autograd's crosses inside them. The start (alpha = 0) is a
    square, the end (alpha = 1) a star, on the curve; the bands beyond the
    ends are shaded. Log scale.

    path_alphas, path_losses: optional (T,) where each step of the training
    path projects onto the line, and its true loss there. The path is not on
    the line, so these need not lie on the curve: drawn in their own colour.
    """
    alphas, manual_losses, autograd_losses = _numpy(alphas), _numpy(manual_losses), _numpy(autograd_losses)
    with house_style():
        fig = Figure(figsize=(5.4, 3.9), layout="constrained")
        ax = fig.add_subplot()
        if alphas[0] < 0:
            ax.axvspan(alphas[0], 0.0, color="0.9", zorder=0, label="beyond the start or the end")
        if alphas[-1] > 1:
            ax.axvspan(1.0, alphas[-1], color="0.9", zorder=0)
        curves = [manual_losses, autograd_losses]
        if path_alphas is not None and path_losses is not None:
            path_alphas, path_losses = _numpy(path_alphas), _numpy(path_losses)
            curves.append(path_losses)
            ax.plot(path_alphas, path_losses, color=PATH_COLOR, linewidth=0.9, marker="o", markersize=2.6,
                    zorder=2, label="training path: each step's own loss,\nat the α where it projects onto the line")
        ax.plot(alphas, manual_losses, color=MANUAL["color"], marker="o", markersize=4.5, markeredgecolor="white",
                markeredgewidth=0.4, linewidth=1.3, zorder=3, label=f"on the line: {MANUAL['label']}")
        ax.plot(alphas, autograd_losses, color=AUTOGRAD["color"], marker="x", markersize=3.0, markeredgewidth=0.9,
                linestyle="none", zorder=4, label=f"on the line: {AUTOGRAD['label']}")
        _mark_ends(ax, np.column_stack([[0.0, 1.0], np.interp([0.0, 1.0], alphas, manual_losses)]))
        ax.set_yscale("log")
        _readable_log_range(ax, *curves)
        _round_log_axis(ax)
        ax.set_xlim(alphas[0], alphas[-1])
        ax.set_xlabel(r"$\alpha$   (0: the start $\theta_0$, 1: the end $\theta_T$)")
        ax.set_ylabel("training loss (log scale)")
        ax.set_title(title)
        legend = fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncols=2, fontsize=8)
        _caption(fig, legend, caption)
    return fig


def sharpness_curve(steps, sharpness, lr: float, history: History, *, checks=None, title: str = "",
                    caption: str | None = None) -> Figure:
    """The sharpness (the Hessian's largest eigenvalue) along training against 2/lr, the loss below it.

    steps: (K,) the steps where it was measured; sharpness: (K,) lambda_max
    there (power iteration on the hand-written Hessian-vector products), in
    the hand-written twin's colour. lr: the dashed line 2/lr, lesson 03's
    limit: above it (shaded) one gradient step multiplies the error along the
    top eigenvector by |1 - lr lambda_max| > 1. checks: optional
    (steps, values), lambda_max from the full Hessian's eigenvalues, as open
    diamonds. Below, on the same step axis: both twins' loss at every point
    of the path (log scale).
    """
    from dataclasses import replace

    steps, sharpness = _numpy(steps), _numpy(sharpness)
    limit = 2.0 / lr
    if not history.diverged:     # the loss at every point of the path, the last one included
        history = replace(history, **dict(zip(("loss_manual", "loss_autograd"), history.path_losses())))
    with house_style():
        fig = Figure(figsize=(5.6, 5.0), layout="constrained")
        top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[3, 2])
        finite = sharpness[np.isfinite(sharpness)]
        high = max([limit, *finite.tolist()]) * 1.08
        top.axhspan(limit, high, color=AUTOGRAD["color"], alpha=0.08, zorder=0,
                    label="lr·λmax > 2: unstable along the top direction")
        top.axhline(limit, color="black", linestyle="--", linewidth=1.2, zorder=1,
                    label=f"2/lr = {limit:.3g}, lesson 03's limit")
        top.plot(steps, sharpness, color=MANUAL["color"], marker="o", markersize=2.8, linewidth=1.2, zorder=3,
                 label="λmax: power iteration on the hand-written H·v")
        if checks is not None:
            check_steps, check_values = _numpy(checks[0]), _numpy(checks[1])
            top.plot(check_steps, check_values, linestyle="none", marker="D", markersize=8.5,
                     markerfacecolor="none", markeredgecolor=AUTOGRAD["color"], markeredgewidth=1.4, zorder=4,
                     label="λmax from eigvalsh of the full Hessian (torch.func)")
        top.set_ylim(0.0, high)
        top.set_ylabel("sharpness λmax")
        top.set_title(title)
        _draw_loss_curves(bottom, history)
        _round_log_axis(bottom)
        bottom.set_ylabel("loss (log scale)")
        first, last = min(steps.min(initial=0.0), 0.0), max(len(history.loss_manual) - 1, steps.max(initial=0.0))
        pad = 0.02 * (last - first) if last > first else 0.5      # room for the markers at both ends
        bottom.set_xlim(first - pad, last + pad)
        handles, labels = top.get_legend_handles_labels()
        more = bottom.get_legend_handles_labels()
        legend = fig.legend(handles + more[0], labels + [f"loss: {label}" for label in more[1]],
                            loc="outside lower center", ncols=2, fontsize=8)
        _caption(fig, legend, caption)
    return fig


# --------------------------------------------------------------------------
# Lesson 11 · Learning-rate schedules and warmup: each schedule against its
# formula, the noise floor of a constant rate, sharpness with and without warmup
# --------------------------------------------------------------------------

def _free_corner(ax, x: np.ndarray, y: np.ndarray) -> tuple[float, float, str, str]:
    """The corner of ``ax`` (set its limits first) whose box, 45% wide and 30% tall, holds no point of (x, y).

    Returns (x, y, ha, va) in axes coordinates for a text anchored there;
    the bottom left if no corner is free.
    """
    to_axes = ax.transLimits.transform(np.column_stack([x, y])) if len(x) else np.zeros((0, 2))
    corners = [(0.03, 0.04, "left", "bottom"), (0.97, 0.04, "right", "bottom"),
               (0.97, 0.96, "right", "top"), (0.03, 0.96, "left", "top")]
    for corner in corners:
        _, _, ha, va = corner
        in_x = (to_axes[:, 0] <= 0.45) if ha == "left" else (to_axes[:, 0] >= 0.55)
        in_y = (to_axes[:, 1] <= 0.30) if va == "bottom" else (to_axes[:, 1] >= 0.70)
        if not (in_x & in_y).any():
            return corner
    return corners[0]


def _schedule_color(entry: dict, index: int) -> str:
    """A schedule's colour: the entry's own ``color`` if it has one (so that a lesson keeps one colour per
    schedule across its figures), else the index-th of RUN_COLORS."""
    return entry.get("color") or RUN_COLORS[index % len(RUN_COLORS)]


def _formula_dashes(color: str) -> str:
    """The colour of a formula's dashes drawn on a line of ``color``: white on black, else near-black."""
    return "white" if color in ("#000000", "black", "k") else "0.1"


def schedule_panels(panels: Sequence[dict], *, note: str | None = None) -> Figure:
    """Each schedule's rate per step: the scheduler's values as a wide line with dots, its formula dashed on top.

    panels: dicts with ``title`` (the schedule's name), ``formula`` (a short text), ``scheduler`` (the rates
    the torch scheduler set at steps 0 .. T), ``formula_values`` (the formula's, the same steps),
    ``max_diff`` (the largest difference) and optionally ``color``. One panel each, three to a row, sharing both axes; one more
    panel shows every schedule on one axis. ``note``: a caption line under the legend.
    """
    from matplotlib.lines import Line2D

    count = len(panels) + 1
    rows = -(-count // 3)
    with house_style():
        fig = Figure(figsize=(7.0, 2.25 * rows + 0.5), layout="constrained")
        axes = np.atleast_2d(fig.subplots(rows, 3, sharex=True, sharey=True)).ravel()
        overlay = axes[len(panels)]
        top = 1.08 * max((max(max(p["scheduler"]), max(p["formula_values"])) for p in panels), default=1.0)
        colors = [_schedule_color(panel, index) for index, panel in enumerate(panels)]
        for ax, panel, color in zip(axes, panels, colors):
            dashes = _formula_dashes(color)
            steps = np.arange(len(panel["scheduler"]))
            scheduler = _numpy(panel["scheduler"])
            every = max(1, len(steps) // 20)
            ax.plot(steps, scheduler, color=color, linewidth=3.2, marker="o", markersize=3.4, markevery=every,
                    solid_capstyle="butt", zorder=2)
            ax.plot(steps, _numpy(panel["formula_values"]), color=dashes, linestyle=(0, (3, 2)), linewidth=1.1,
                    zorder=3)
            overlay.plot(steps, scheduler, color=color, linewidth=1.8)
            ax.set_title(f"{panel['title']}\n{panel['formula']}", fontsize=9)
            ax.set_ylim(0, top)
            ax.set_xlim(steps[0] - 0.02 * max(len(steps) - 1, 1), steps[-1] + 0.02 * max(len(steps) - 1, 1))
            x, y, ha, va = _free_corner(ax, steps, scheduler)
            diff = "0" if panel["max_diff"] == 0 else f"{panel['max_diff']:.0e}"
            ax.text(x, y, f"max |diff| {diff}", transform=ax.transAxes, ha=ha, va=va,
                    fontsize=7.5, bbox=TEXT_BOX, zorder=5)
        overlay.set_title("all of them on one axis\n(colours as in their panels)", fontsize=9)
        for ax in axes[count:]:
            ax.set_visible(False)
        for ax in axes[:count]:
            _integer_steps(ax)
        for ax in axes[-3:]:
            ax.set_xlabel("step t")
        for row in range(rows):
            axes[3 * row].set_ylabel("learning rate ηₜ")
        handles = [Line2D([], [], color="0.55", linewidth=3.2, marker="o", markersize=3.4),
                   Line2D([], [], color="0.1", linestyle=(0, (3, 2)), linewidth=1.1)]
        # The swatch shows the dark dashes; where a line is black its dashes are white, and the label says so.
        formula = "our formula, dashed" + (" (white on the black line)"
                                           if any(_formula_dashes(color) == "white" for color in colors) else "")
        legend = fig.legend(handles, ["torch's scheduler, driving our SGD", formula],
                            loc="outside lower center", ncols=2, fontsize=8)
        _caption(fig, legend, note)
    return fig


def noise_floor_runs(runs: Sequence[dict], *, floor: float | None = None, epoch: int | None = None,
                     note: str | None = None) -> Figure:
    """Mini-batch SGD under several schedules: the rate per step above, the loss gap L - L* per step below.

    runs: dicts with ``label``, ``lrs`` (the rate of every step), ``manual`` and ``autograd`` (each twin's
    gap at steps 0 .. K), ``expected`` (the predicted expected gap, the same steps; drawn dashed on the
    run) and optionally ``diverged_at`` and ``color``. ``floor``: the noise floor of a constant rate, a dotted line.
    ``epoch``: the steps per epoch; the step axis then has a tick at the start of every epoch (or
    every second, third, ... one when there are many).
    The hand-written twin is the line, autograd the crosses on it (every few steps).
    """
    from matplotlib import patheffects
    from matplotlib.lines import Line2D

    with house_style():
        fig = Figure(figsize=(6.4, 5.2), layout="constrained")
        rate_ax, gap_ax = fig.subplots(2, 1, sharex=True, height_ratios=[1, 2.3])
        curves, run_handles, run_labels = [], [], []
        for index, entry in enumerate(runs):
            color = _schedule_color(entry, index)
            rates = _numpy(entry["lrs"])
            rate_ax.plot(np.arange(len(rates)), rates, color=color, linewidth=1.8)
            run_handles.append(Line2D([], [], color=color, linewidth=1.8))
            run_labels.append(entry["label"])
            manual, autograd = _numpy(entry["manual"]), _numpy(entry["autograd"])
            first = manual[0] if len(manual) else np.nan
            manual, autograd = _on_scale(manual, first), _on_scale(autograd, first)
            with np.errstate(invalid="ignore"):
                manual = np.where(manual > 0, manual, np.nan)
                autograd = np.where(autograd > 0, autograd, np.nan)
            curves += [manual, autograd]
            steps = np.arange(len(manual))
            gap_ax.plot(steps, manual, color=color, linewidth=0.9, alpha=0.85, zorder=2)
            every = max(1, len(steps) // 25)
            gap_ax.plot(steps[::every], autograd[::every], color=color, marker="x", markersize=4, linestyle="none",
                        zorder=3)
            expected = _on_scale(_numpy(entry["expected"]), first)
            gap_ax.plot(np.arange(len(expected)), expected, color=color, linestyle=(0, (4, 2.5)), linewidth=1.3,
                        zorder=4, path_effects=[patheffects.withStroke(linewidth=2.8, foreground="0.1")])
            if entry.get("diverged_at") is not None and np.isfinite(manual).any():
                last = np.flatnonzero(np.isfinite(manual))[-1]
                gap_ax.plot(last, manual[last], marker="X", markersize=9, color=color, markeredgecolor="black",
                            linestyle="none", zorder=6)
                gap_ax.annotate(f"diverged\n(step {entry['diverged_at']})", (last, manual[last]),
                                textcoords="offset points", xytext=(-8, 0), ha="right", va="center", fontsize=8)
        if floor is not None and np.isfinite(floor) and floor > 0:
            gap_ax.axhline(floor, color="0.3", linestyle=":", linewidth=1.4, zorder=1)
        top = max((np.nanmax(_numpy(entry["lrs"])) for entry in runs if len(entry["lrs"])), default=1.0)
        rate_ax.set_ylim(0, 1.1 * top if np.isfinite(top) and top > 0 else 1.0)
        rate_ax.set_ylabel("rate ηₜ")
        gap_ax.set_yscale("log")
        _readable_log_range(gap_ax, *curves)
        gap_ax.set_ylabel("loss gap L − L* (log scale)")
        _integer_steps(gap_ax)
        last = max((len(entry["manual"]) for entry in runs), default=1)
        every = epoch * max(1, -(-last // (6 * epoch))) if epoch else 0     # at most about six labelled ticks
        if epoch and last > 2 * every:
            from matplotlib.ticker import MultipleLocator

            for ax in (rate_ax, gap_ax):
                ax.xaxis.set_major_locator(MultipleLocator(every))
                ax.xaxis.set_minor_locator(MultipleLocator(epoch))
            gap_ax.set_xlabel(f"step (a tick per epoch of {epoch} steps)")
        else:
            gap_ax.set_xlabel("step")
        handles = [Line2D([], [], color="0.1", linewidth=0.9),
                   Line2D([], [], color="0.1", marker="x", markersize=4, linestyle="none"),
                   Line2D([], [], color="0.6", linestyle=(0, (4, 2.5)), linewidth=1.3,
                          path_effects=[patheffects.withStroke(linewidth=2.8, foreground="0.1")])]
        labels = ["measured, hand-written twin", "measured, autograd twin", "predicted expectation"]
        if floor is not None and np.isfinite(floor) and floor > 0:
            handles.append(Line2D([], [], color="0.3", linestyle=":", linewidth=1.4))
            labels.append(f"noise floor of the constant rate ({floor:.2g})")
        # The runs in the first column, how each is drawn in the second.
        rows = max(len(run_handles), len(handles))
        blank = Line2D([], [], linestyle="none")
        handles = run_handles + [blank] * (rows - len(run_handles)) + handles + [blank] * (rows - len(handles))
        labels = run_labels + [" "] * (rows - len(run_labels)) + labels + [" "] * (rows - len(labels))
        legend = fig.legend(handles, labels, loc="outside lower center", ncols=2, fontsize=8)
        _caption(fig, legend, note)
    return fig


def warmup_sharpness(runs: Sequence[dict], *, best_loss: float | None = None, note: str | None = None) -> Figure:
    """Runs with and without warmup: the loss per step (left) and the sharpness against its limit (right).

    runs: dicts with ``label``, ``history`` (a History), ``manual_sharpness``, ``autograd_sharpness``
    (lambda_max of the Hessian at every point of each twin's path) and optionally ``color``. The right panel draws lambda_max per
    step, and dashed in the run's colour its stability limit 2 / eta_t at that step's rate. A run that
    diverged ends in its X in both panels (at the top where its values are off the scale).
    """
    from matplotlib.lines import Line2D

    with house_style():
        fig = Figure(figsize=(7.0, 3.6), layout="constrained")
        loss_ax, sharp_ax = fig.subplots(1, 2)
        last_step = max((len(entry["history"].loss_manual) - 1 for entry in runs), default=0)
        curves = []
        if best_loss is not None:
            loss_ax.axhline(best_loss, color="0.35", linestyle=":", linewidth=1.2, zorder=1)
        colors = [_schedule_color(entry, index + 1) for index, entry in enumerate(runs)]
        for color, entry in zip(colors, runs):
            history = entry["history"]
            _draw_run_losses(loss_ax, history, label=entry["label"], color=color, last_step=last_step, curves=curves)
        loss_ax.set_yscale("log")
        _readable_log_range(loss_ax, *curves)
        loss_ax.set_xlabel("step")
        _integer_steps(loss_ax)
        loss_ax.set_ylabel("training loss (log scale)")
        loss_ax.set_title("The loss")

        # The limits 2/eta_t and the sharpness of the runs that stayed finite set the window; a diverged
        # run's sharpness leaves through the top.
        limits, kept = [], []
        for entry in runs:
            history = entry["history"]
            rates = np.asarray(history.lrs + history.lrs[-1:] * (len(entry["manual_sharpness"]) - len(history.lrs)),
                               dtype=float)
            with np.errstate(divide="ignore"):
                limits.append(2 / rates)
            values = _numpy(entry["manual_sharpness"])
            kept.append(values if not history.diverged else values[:1])
        finite = np.concatenate([np.ravel(v) for v in limits + kept])
        finite = finite[np.isfinite(finite) & (finite > 0)]
        low, high = (finite.min() / 1.6, finite.max() * 3.0) if finite.size else (0.1, 10.0)
        top = sharp_ax.get_xaxis_transform()
        for color, entry, limit in zip(colors, runs, limits):
            history = entry["history"]
            manual, autograd = _numpy(entry["manual_sharpness"]), _numpy(entry["autograd_sharpness"])
            steps = np.arange(len(manual))
            sharp_ax.plot(steps, manual, color=color, linewidth=1.6, marker="o", markersize=3, zorder=3)
            sharp_ax.plot(steps, autograd, color="0.1", marker="x", markersize=2.6, markeredgewidth=0.7,
                          linestyle="none", zorder=4)
            sharp_ax.plot(np.arange(len(limit)), limit, color=color, linestyle=(0, (4, 2.5)), linewidth=1.4,
                          zorder=2)
            if history.diverged:
                step = history.diverged_at_step
                value = manual[step] if step < len(manual) else np.nan
                marker = {"marker": "X", "markersize": 10, "color": color, "markeredgecolor": "black",
                          "linestyle": "none", "zorder": 6}
                if np.isfinite(value) and value <= high:
                    sharp_ax.plot(step, value, **marker)
                    where, coords = (step, value), "data"
                else:       # off the scale: the X at the top of the axes, above its step
                    sharp_ax.plot(step, 1.0, transform=top, clip_on=False, **marker)
                    where, coords = (step, 1.0), top
                sharp_ax.annotate(f"diverged at step {step}:\nλmax = {value:.2g}", where, xycoords=coords,
                                  textcoords="offset points", xytext=(9, -6), ha="left", va="top", fontsize=8,
                                  bbox=TEXT_BOX, zorder=7)
        sharp_ax.set_yscale("log")
        sharp_ax.set_ylim(low, high)
        sharp_ax.set_xlim(loss_ax.get_xlim())
        sharp_ax.set_xlabel("step")
        _integer_steps(sharp_ax)
        sharp_ax.set_ylabel("sharpness λmax (log scale)")
        sharp_ax.set_title("The sharpness, and its limit 2/ηₜ")
        _round_log_axis(sharp_ax)

        handles, labels = loss_ax.get_legend_handles_labels()
        # How each run is drawn, in near-black: grey is a run's colour (a constant rate) here.
        handles.append(Line2D([], [], color="0.1", marker="x", markersize=4.5))
        labels.append("line: manual, x: autograd")
        handles.append(Line2D([], [], color="0.1", linestyle=(0, (4, 2.5)), linewidth=1.4))
        labels.append("2/ηₜ: the sharpest curvature the step's rate can take")
        if best_loss is not None:
            handles.append(Line2D([], [], color="0.35", linestyle=":", linewidth=1.2))
            labels.append(f"lowest loss L* = {best_loss:.3g}")
        legend = fig.legend(handles, labels, loc="outside lower center", ncols=2, fontsize=8)
        _caption(fig, legend, note)
    return fig


# --------------------------------------------------------------------------
# Lesson 12 · Softmax over K classes, and batch normalisation: the regions of
# several classes, and a hidden layer's pre-activations over training
# --------------------------------------------------------------------------

# One colour and one marker per class (Okabe & Ito), so the classes read in grey too.
CLASS_COLORS = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00"]
CLASS_MARKERS = ["o", "^", "s", "D", "v", "P"]


def class_regions(panels: Sequence[dict], x, y, *, resolution: int = 200, note: str | None = None) -> Figure:
    """Where a classifier predicts each of K classes, one panel per network, the data on top.

    panels: dicts with ``title`` and ``probabilities``, a function taking
    points (P, 2) (a NumPy array) and returning (P, K) class probabilities.
    x: (N, 2) inputs; y: (N,) class indices 0 .. K-1. Each point of the
    plane gets its predicted class's colour, paler where the network is less
    sure (the largest probability near 1/K), and a black line runs along
    every boundary between two classes. The panels share their axes, at
    equal aspect (both axes are the same input units). A network whose
    output is not a number somewhere leaves that part white and says so.
    """
    from matplotlib.colors import to_rgb
    from matplotlib.lines import Line2D

    points, labels = _numpy(x), _numpy(y).astype(int)
    classes = int(labels.max()) + 1
    if classes > len(CLASS_COLORS):
        raise ValueError(f"class_regions: at most {len(CLASS_COLORS)} classes, got {classes}")
    low, high = points.min(axis=0) - 0.25, points.max(axis=0) + 0.25
    grid_a = np.linspace(low[0], high[0], resolution)
    grid_b = np.linspace(low[1], high[1], resolution)
    mesh_a, mesh_b = np.meshgrid(grid_a, grid_b)
    grid = np.column_stack([mesh_a.ravel(), mesh_b.ravel()])
    colors = np.array([to_rgb(c) for c in CLASS_COLORS[:classes]])
    columns = 2 if len(panels) > 1 else 1
    rows = -(-len(panels) // columns)
    with house_style():
        fig = Figure(figsize=(3.3 * columns + 0.3, 3.2 * rows + 0.5), layout="constrained")
        axes = np.atleast_1d(fig.subplots(rows, columns, sharex=True, sharey=True, squeeze=False)).ravel()
        for ax, panel in zip(axes, panels):
            probability = _numpy(panel["probabilities"](grid)).reshape(resolution, resolution, -1)
            defined = np.isfinite(probability).all(axis=2)
            winner = np.where(defined, np.nan_to_num(probability).argmax(axis=2), 0)
            sure = np.where(defined, np.nan_to_num(probability).max(axis=2), 1 / classes)
            # 1/K (a guess) -> a pale tint, 1 (certain) -> the class colour at 60 % strength.
            strength = 0.15 + 0.45 * np.clip((sure - 1 / classes) / (1 - 1 / classes), 0, 1)
            image = 1 - strength[..., None] * (1 - colors[winner])
            image[~defined] = 1.0
            ax.imshow(image, origin="lower", extent=(low[0], high[0], low[1], high[1]), interpolation="nearest",
                      aspect="equal", zorder=1)
            if defined.any():
                for k in range(classes):
                    others = np.delete(probability, k, axis=2).max(axis=2)
                    margin = np.where(defined, probability[..., k] - others, np.nan)
                    if np.nanmin(margin) < 0 < np.nanmax(margin):
                        ax.contour(grid_a, grid_b, margin, levels=[0.0], colors="black", linewidths=0.9, zorder=2)
            if not defined.all():
                _panel_note(ax, "the network's output is not a number anywhere"
                            if not defined.any() else "white: the output is not a number there")
            for k in range(classes):
                chosen = points[labels == k]
                ax.scatter(chosen[:, 0], chosen[:, 1], marker=CLASS_MARKERS[k], s=14, color=CLASS_COLORS[k],
                           edgecolors="black", linewidths=0.45, zorder=3)
            ax.set_title(panel["title"], fontsize=9.5)
            ax.set_xlim(low[0], high[0])
            ax.set_ylim(low[1], high[1])
            ax.set_aspect("equal")
            ax.grid(False)
        for ax in axes[len(panels):]:
            ax.set_visible(False)
        for ax in axes[(rows - 1) * columns:]:
            ax.set_xlabel("input x₁")
        for ax in axes[::columns]:
            ax.set_ylabel("input x₂")
        handles = [Line2D([], [], marker=CLASS_MARKERS[k], color=CLASS_COLORS[k], markeredgecolor="black",
                          markeredgewidth=0.45, linestyle="none", markersize=6) for k in range(classes)]
        labels_text = [f"class {k}" for k in range(classes)]
        handles.append(Line2D([], [], color="black", linewidth=0.9))
        labels_text.append("boundary between two classes")
        legend = fig.legend(handles, labels_text, loc="outside lower center", ncols=classes + 1, fontsize=8)
        _caption(fig, legend, note)
    return fig


QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


def quantile_bands(panels: Sequence[Sequence[dict]], *, ylabel: str, note: str | None = None) -> Figure:
    """How a layer's values are spread over training: a grid of panels, one run each.

    panels: rows of dicts, each with ``title``, ``color``, ``steps`` ((T,)
    the steps drawn), ``manual`` and ``autograd`` ((T, Q) arrays: the
    QUANTILES of the values at those steps, from each twin's recorded
    parameters) and optionally ``note`` (a short remark inside the panel).
    The band between the 5 % and 95 % quantiles is pale, the one between
    25 % and 75 % darker; the median is the hand-written twin's line, with
    autograd's median as crosses on it. A dashed line marks 0 (where a ReLU
    cuts). Each panel has its own y range; all share the steps.
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    rows, columns = len(panels), max(len(row) for row in panels)
    with house_style():
        fig = Figure(figsize=(3.4 * columns + 0.4, 2.45 * rows + 0.7), layout="constrained")
        axes = fig.subplots(rows, columns, sharex=True, squeeze=False)
        for i, row in enumerate(panels):
            for j, panel in enumerate(row):
                ax = axes[i, j]
                manual, autograd = _numpy(panel["manual"]), _numpy(panel["autograd"])
                steps = _numpy(panel["steps"])
                color = panel["color"]
                ax.axhline(0.0, color="0.3", linestyle="--", linewidth=0.9, zorder=1)
                ax.fill_between(steps, manual[:, 0], manual[:, 4], color=color, alpha=0.25, linewidth=0, zorder=2)
                ax.fill_between(steps, manual[:, 1], manual[:, 3], color=color, alpha=0.55, linewidth=0, zorder=3)
                ax.plot(steps, manual[:, 2], color="black", linewidth=1.2, zorder=4)
                every = max(1, len(steps) // 25)
                ax.plot(steps[::every], autograd[::every, 2], color=AUTOGRAD["color"], marker="x", markersize=3.5,
                        markeredgewidth=0.9, linestyle="none", zorder=5)
                ax.set_title(panel["title"], fontsize=9.5)
                if panel.get("note"):
                    ax.text(0.97, 0.05, panel["note"], transform=ax.transAxes, ha="right", va="bottom",
                            fontsize=8, zorder=6, bbox=TEXT_BOX)
                _integer_steps(ax)
                if i == rows - 1:
                    ax.set_xlabel("step")
                if j == 0:
                    ax.set_ylabel(ylabel)
            for j in range(len(row), columns):
                axes[i, j].set_visible(False)
        handles = [Patch(color="0.5", alpha=0.25, linewidth=0), Patch(color="0.5", alpha=0.55, linewidth=0),
                   Line2D([], [], color="black", linewidth=1.2),
                   Line2D([], [], color=AUTOGRAD["color"], marker="x", markersize=3.5, linestyle="none"),
                   Line2D([], [], color="0.3", linestyle="--", linewidth=0.9)]
        labels = ["5 % to 95 % of the values", "25 % to 75 %", "median (manual)", "median (autograd)",
                  "0: a ReLU passes only what lies above"]
        legend = fig.legend(handles, labels, loc="outside lower center", ncols=3, fontsize=8)
        _caption(fig, legend, note)
    return fig


def batch_and_full_losses(panels: Sequence[dict], *, reference: tuple[float, str] | None = None,
                          note: str | None = None) -> Figure:
    """Mini-batch training: the loss on each step's batch, and the loss on all the data, one panel per group.

    Each panel is a dict with ``title`` and ``runs``: label -> dict with
    ``color``, ``batch`` (the hand-written twin's loss on the mini-batch of
    every step, as ``History.loss_manual``), ``steps`` ((T,) the steps at
    which the loss on all the data was evaluated) and ``manual``,
    ``autograd`` ((T,) that loss at those steps, from each twin's recorded
    parameters). The batch losses are a thin pale line; the loss on all the
    data is the thick line (manual) with crosses (autograd). The panels
    share a log loss axis; ``reference`` (loss, label) is a dotted line in
    each (e.g. ln K, the loss of guessing).
    """
    from matplotlib.lines import Line2D

    with house_style():
        fig = Figure(figsize=(7.0, 3.6), layout="constrained")
        axes = np.atleast_1d(fig.subplots(1, len(panels), sharey=True))
        curves = []
        handles = {}
        for ax, panel in zip(axes, panels):
            if reference is not None:
                ax.axhline(reference[0], color="0.35", linestyle=":", linewidth=1.1, zorder=1)
            for label, run in panel["runs"].items():
                batch = np.asarray(run["batch"], dtype=float)
                first = batch[0] if batch.size else np.nan
                batch = _on_scale(batch, first)
                steps = _numpy(run["steps"])
                manual, autograd = _on_scale(_numpy(run["manual"]), first), _on_scale(_numpy(run["autograd"]), first)
                curves += [batch, manual, autograd]
                ax.plot(np.arange(len(batch)), batch, color=run["color"], linewidth=0.7, alpha=0.45, zorder=2)
                line, = ax.plot(steps, manual, color=run["color"], linewidth=2.0, zorder=3)
                every = max(1, len(steps) // 16)
                ax.plot(steps[::every], autograd[::every], color="black", marker="x", markersize=4,
                        markeredgewidth=0.9, linestyle="none", zorder=4)
                handles.setdefault(label, line)
            ax.set_yscale("log")
            ax.set_xlabel("step")
            _integer_steps(ax)
            ax.set_title(panel["title"])
        _readable_log_range(axes[0], *curves)
        _round_log_axis(axes[0])
        axes[0].set_ylabel("training loss (log scale)")
        handles["thin, pale: on the step's mini-batch"] = Line2D([], [], color="0.5", linewidth=0.7, alpha=0.6)
        handles["thick: on all the data (manual)"] = Line2D([], [], color="0.3", linewidth=2.0)
        handles["x: on all the data (autograd)"] = Line2D([], [], color="black", marker="x", markersize=4,
                                                          linestyle="none")
        if reference is not None:
            handles[reference[1]] = Line2D([], [], color="0.35", linestyle=":", linewidth=1.1)
        legend = fig.legend(list(handles.values()), list(handles), loc="outside lower center", ncols=3, fontsize=8)
        _caption(fig, legend, note)
    return fig


# --------------------------------------------------------------------------
# Lesson 10 · Adaptive steps: several optimisers on one contour, the step each
# coordinate takes, weight norms under Adam's L2 and AdamW's decoupled decay
# --------------------------------------------------------------------------

def adaptive_paths(alphas, betas, Z, runs: Sequence[dict], *, xlabel: str, ylabel: str,
                   note: str | None = None) -> Figure:
    """Several optimisers' paths on ONE exact loss contour (two parameters, equal aspect).

    alphas: (A,), betas: (B,), Z: (B, A), the loss with Z[i, j] at (alphas[j], betas[i]).
    runs: dicts with label, color, manual_path and autograd_path ((T, 2)
    each) and optionally diverged_at. Each run is drawn as in lesson 07
    (``_draw_run_path``: the manual twin's circles, autograd's crosses
    inside them); the shared start is one square. ``note`` heads the legend.
    """
    from matplotlib.lines import Line2D

    alphas, betas, z = _numpy(alphas), _numpy(betas), _numpy(Z)
    window = ((alphas[0], alphas[-1]), (betas[0], betas[-1]))
    with house_style():
        fig = Figure(figsize=(6.8, 4.4), layout="constrained")
        ax = fig.add_subplot()
        levels = _log_levels(z, count=20)
        if levels is not None:
            filled = _contour(ax, alphas, betas, z, levels, LogNorm(levels[0], levels[-1]))
        else:
            _panel_note(ax, NO_LANDSCAPE)
        for run in runs:
            _draw_run_path(ax, _numpy(run["manual_path"]), _numpy(run["autograd_path"]), color=run["color"],
                           label=run["label"], window=window, diverged_at=run.get("diverged_at"))
        if runs:
            _mark_start(ax, _numpy(runs[0]["manual_path"]), zorder=8)
        ax.set_xlim(*window[0])
        ax.set_ylim(*window[1])
        ax.set_aspect("equal", adjustable="box")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.grid(False)
        if levels is not None:
            _colorbar(fig, filled, ax, levels)
        handles, labels = _run_path_legend([ax], "circles: manual, x inside:\nautograd (the twins coincide)")
        legend = fig.legend(handles, labels, loc="outside lower center", ncols=3, fontsize=8)
        _caption(fig, legend, note)
    return fig


def _steps_per_coordinate(path: np.ndarray) -> np.ndarray:
    """|theta_{k+1} - theta_k| per coordinate: (T - 1, P) from a path (T, P)."""
    return np.abs(np.diff(path, axis=0))


def adaptive_step_sizes(runs: Sequence[dict], effective: dict[str, np.ndarray], *, coordinates: Sequence[str],
                        references: Sequence[tuple[float, str]] = (), first: dict[str, float] | None = None,
                        effective_color: str = "0.15", note: str | None = None) -> Figure:
    """Left: how far each coordinate moved per step, per run. Right: Adam's step size per coordinate.

    runs: dicts with label, color, manual_path and autograd_path ((T, P)
    each); the left panel draws |Δθ_i| per step for each coordinate i
    (``coordinates``: their names, in line styles solid, dashed, ...),
    the manual twin as the line, autograd as crosses on it.
    effective: coordinate name -> (K,) Adam's step size lr / (sqrt(v_hat) + eps)
    after each of its K steps; drawn on the right in ``effective_color``
    (Adam's colour on the left) and the same line styles, with
    ``references`` (value, label) as grey dotted lines (e.g. lr).
    first: coordinate name -> the step size theory gives for step 1
    (lr/|g|), drawn as a grey open circle there.
    """
    from matplotlib.lines import Line2D

    styles = ["-", (0, (5, 2)), ":", "-."]
    with house_style():
        fig = Figure(figsize=(8.6, 3.6), layout="constrained")
        left, right = fig.subplots(1, 2)
        for run in runs:
            manual = _steps_per_coordinate(_numpy(run["manual_path"]))
            autograd = _steps_per_coordinate(_numpy(run["autograd_path"]))
            steps = np.arange(1, len(manual) + 1)
            every = max(1, len(steps) // 20)
            lone = {"marker": "o", "markersize": 4} if len(steps) == 1 else {}
            for k, (style, name) in enumerate(zip(styles, coordinates)):
                with np.errstate(divide="ignore"):
                    left.plot(steps, np.where(manual[:, k] > 0, manual[:, k], np.nan), color=run["color"],
                              linestyle=style, linewidth=1.5, **lone)
                    left.plot(steps[::every], np.where(autograd[:, k] > 0, autograd[:, k], np.nan)[::every],
                              color=run["color"], marker="x", markersize=4, linestyle="none")
        left.set_yscale("log")
        _round_log_axis(left)
        left.set_xlabel("step")
        _integer_steps(left)
        left.set_ylabel("|Δθ| per step (log scale)")
        left.set_title("How far each coordinate moves")
        handles = [Line2D([], [], color=run["color"], linewidth=2.2) for run in runs]
        labels = [run["label"] for run in runs]
        handles += [Line2D([], [], color="0.3", linestyle=style) for style, _ in zip(styles, coordinates)]
        labels += list(coordinates)
        handles.append(Line2D([], [], color="0.3", marker="x", markersize=4, linestyle="none"))
        labels.append("x: autograd (on the manual line)")
        left.legend(handles, labels, loc="best", fontsize=7.5)

        curves = []
        for (name, values), style in zip(effective.items(), styles):
            values = _numpy(values)
            curves.append(values)
            lone = {"marker": "o", "markersize": 4} if len(values) == 1 else {}
            right.plot(np.arange(1, len(values) + 1), values, color=effective_color, linestyle=style, linewidth=1.5,
                       label=f"Adam, {name}", **lone)
        for name, value in (first or {}).items():
            right.plot(1, value, marker="o", markersize=9, markerfacecolor="none", markeredgecolor="0.3",
                       markeredgewidth=1.4, linestyle="none", zorder=5,
                       label="lr/|g| at step 1 (theory)" if name == next(iter(first)) else None)
            curves.append(np.array([value]))
        for value, label in references:
            right.axhline(value, color="0.55", linestyle=":", linewidth=1.2, zorder=1)
            right.annotate(label, (1.0, value), xycoords=("axes fraction", "data"), textcoords="offset points",
                           xytext=(-4, 3), ha="right", va="bottom", fontsize=8, color="0.3")
            curves.append(np.array([value]))
        right.set_yscale("log")
        _readable_log_range(right, *curves)
        values = np.concatenate([np.ravel(c) for c in curves])
        values = values[np.isfinite(values) & (values > 0)]
        if values.size:
            right.set_ylim(values.min() / 1.4, values.max() * 1.4)
        _round_log_axis(right)
        right.set_xlabel("step")
        _integer_steps(right)
        right.set_ylabel("lr / (√v̂ + ε) (log scale)")
        right.set_title("Adam's step size per coordinate")
        right.legend(loc="lower right", fontsize=8)
        right.minorticks_off()
        if note:
            fig.text(0.5, 0.0, note, ha="center", va="top", fontsize=8.5, transform=fig.transFigure)
    return fig


def decay_comparison(runs: Sequence[dict], ratios: Sequence[dict], gradient_rms, *, note: str | None = None,
                     bins: int = 6) -> Figure:
    """Left: the length of the parameter vector per step, per run. Right: what the decay did to each weight.

    runs: dicts with label, color and History ``history``; the left panel
    draws ||theta|| at every point of both twins' paths (manual: the line,
    autograd: the crosses). ratios: dicts with label, color and ``ratio``
    (P,), one number per parameter, e.g. |theta| at the end of a run with
    decay over |theta| at the end of the same run without; the right panel
    draws them against ``gradient_rms`` (P,) on log scales, with the
    median of each of ``bins`` groups of equal count (from the smallest
    gradients to the largest; ``np.array_split`` of the order, so the first
    groups hold one more when the count does not divide) as a line through them.
    """
    from matplotlib.lines import Line2D

    rms = _numpy(gradient_rms)
    order = np.argsort(rms, kind="stable")
    groups = np.array_split(order, bins)
    with house_style():
        fig = Figure(figsize=(8.6, 3.7), layout="constrained")
        left, right = fig.subplots(1, 2)
        for run in runs:
            history = run["history"]
            manual = np.linalg.norm(_numpy(history.path_manual), axis=1)
            autograd = np.linalg.norm(_numpy(history.path_autograd), axis=1)
            steps = np.arange(len(manual))
            every = max(1, len(steps) // 20)
            left.plot(steps, manual, color=run["color"], label=run["label"])
            left.plot(steps[::every], autograd[::every], color=run["color"], marker="x", markersize=4.5,
                      linestyle="none")
        left.plot([], [], color="0.3", marker="x", markersize=4.5, label="line: manual, x: autograd")
        left.set_xlabel("step")
        _integer_steps(left)
        left.set_ylabel("‖θ‖, all parameters")
        left.set_ylim(bottom=0)
        left.set_title("The length of the parameter vector")
        left.legend(loc="upper left", fontsize=8)

        for entry in ratios:
            ratio = _numpy(entry["ratio"])
            right.scatter(rms, ratio, s=9, color=entry["color"], alpha=0.45, edgecolors="none", zorder=2)
            centres = [np.median(rms[group]) for group in groups]
            medians = [np.median(ratio[group]) for group in groups]
            right.plot(centres, medians, color=entry["color"], marker="o", markersize=6, markeredgecolor="black",
                       markeredgewidth=0.6, linewidth=1.8, zorder=3, label=f"{entry['label']}")
        right.axhline(1.0, color="0.5", linestyle=":", linewidth=1.1, zorder=1)
        right.set_xscale("log")
        right.set_yscale("log")
        right.set_xlabel("the weight's gradient size √v̂ under plain Adam (log scale)")
        right.set_ylabel("|θ| with decay / |θ| without")
        right.set_title("What the decay did to each weight")
        handles, labels = right.get_legend_handles_labels()
        handles.append(Line2D([], [], color="0.4", marker="o", markersize=3, linestyle="none", alpha=0.6))
        groups_name = {2: "half", 3: "third", 4: "quarter"}.get(bins)
        labels.append("dots: one parameter each;\nline: " + (f"median of each {groups_name}\nof gradient size"
                      if groups_name else f"medians of {bins} groups\nby gradient size"))
        right.legend(handles, labels, loc="lower right", fontsize=7.5)
        if note:
            fig.text(0.5, 0.0, note, ha="center", va="top", fontsize=8.5, transform=fig.transFigure)
    return fig


def optimizer_losses(runs: dict[str, tuple[History, str]], *, title: str = "") -> Figure:
    """Several runs' training losses on one log axis, each in its own colour, the legend below.

    runs: label -> (History, colour). The hand-written twin is the line and
    autograd the crosses on it (``_draw_run_losses``); a diverged run ends in
    its X.
    """
    from matplotlib.lines import Line2D

    last_step = max((len(h.loss_manual) - 1 for h, _ in runs.values()), default=0)
    with house_style():
        fig = Figure(figsize=(5.6, 4.4), layout="constrained")
        ax = fig.add_subplot()
        curves = []
        for label, (history, color) in runs.items():
            _draw_run_losses(ax, history, label=label, color=color, last_step=last_step, curves=curves)
        ax.set_yscale("log")
        _readable_log_range(ax, *curves)
        low, high = ax.get_ylim()
        if 0 < low < high and round_log_ticks(low, high)[-1] < high / 2:
            ax.set_ylim(low, 10.0 ** np.ceil(np.log10(high)))     # a labelled tick at the top, above the first losses
        _round_log_axis(ax)
        ax.set_xlabel("step")
        _integer_steps(ax)
        ax.set_ylabel("training loss (log scale)")
        ax.set_title(title)
        handles, labels = ax.get_legend_handles_labels()
        handles.append(Line2D([], [], color="0.3", marker="x", markersize=4.5))
        labels.append("line: manual, x: autograd")
        fig.legend(handles, labels, loc="outside lower center", ncols=2, fontsize=8)
    return fig


# --------------------------------------------------------------------------
# Lesson 09 · A real mountain: descent paths coloured by the minimum they
# reach, the plateau near a saddle, the curvature along a path
# --------------------------------------------------------------------------

# One colour per minimum, from the same colour-blind-safe palette, the twins' blue and vermillion left out
# (they mark the runs trained as twins) and so is the end star's yellow (Tol's wine instead); the marker
# differs too, so the figure reads in grey.
BASIN_COLORS = ["#E69F00", "#56B4E9", "#009E73", "#CC79A7", "#000000", "#882255", "#999999"]
BASIN_MARKERS = ["o", "s", "^", "D", "v", "P", "h"]
# A twin run's end star, small enough to sit inside the marker of the minimum it ends on.
_BASIN_END_SIZE = 8.5
# A saddle: a hollow diamond, large enough to leave a start square inside it visible.
SADDLE = {"marker": "D", "markersize": 13, "markerfacecolor": "none", "markeredgecolor": "black",
          "markeredgewidth": 1.6, "linestyle": "none"}


def _copies(values: np.ndarray, low: float, period: float | None) -> list[float]:
    """The shifts k·period that bring some of ``values`` into [low, low + period); [0] without a period."""
    if period is None:
        return [0.0]
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return [0.0]
    first = int(np.floor((low - finite.max()) / period))
    last = int(np.ceil((low + period - finite.min()) / period))
    return [k * period for k in range(first, last + 1)]


def _into_period(values: np.ndarray, low: float, period: float | None) -> np.ndarray:
    """Values put into [low, low + period), as an angle is; unchanged without a period."""
    return values if period is None else low + np.mod(values - low, period)


def _basin_style(index: int) -> tuple[str, str]:
    return BASIN_COLORS[index % len(BASIN_COLORS)], BASIN_MARKERS[index % len(BASIN_MARKERS)]


def basin_paths(alphas, betas, Z, paths, basin, minima: Sequence[dict], *, period: float | None = None,
                highlighted: Sequence[dict] = (), xlabel: str, ylabel: str, title: str = "",
                note: str | None = None) -> Figure:
    """Gradient descent from a grid of starts on an exact 2-D loss contour, each path coloured by where it ends.

    alphas (A,), betas (B,), Z (B, A): the true loss, Z[i, j] at (alphas[j], betas[i]).
    paths: (T, S, 2), S descent paths of T points; basin: (S,), the index
    into ``minima`` of the minimum each path reaches. minima: dicts with
    ``point`` (2,) and ``label`` (for the legend, e.g. "A: loss 0.0085").
    Each start is a dot in its minimum's colour, so the dots map the basins;
    each minimum is a large marker of that colour and shape.

    period: the second coordinate is an angle of this period (a phase): the
    window [betas[0], betas[0] + period) shows all of it, and a path that
    leaves through one edge comes back in through the other (every path is
    drawn with its copies shifted by whole periods, and the axes clip them).

    highlighted: runs trained as twins, dicts with ``manual_path`` and
    ``autograd_path`` ((T, 2) each), drawn on top in the house style (a
    cross in every circle), start square and end star. The contour is in
    greys, with a colour bar: colour is kept for the basins.
    """
    from matplotlib import patheffects
    from matplotlib.lines import Line2D

    alphas, betas, z = _numpy(alphas), _numpy(betas), _numpy(Z)
    paths, basin = _numpy(paths), np.asarray(_numpy(basin), dtype=int)
    low = betas[0]
    levels = _log_levels(z, count=18)
    with house_style():
        fig = Figure(figsize=(7.0, 4.9), layout="constrained")
        ax = fig.add_subplot()
        if levels is not None:
            norm = LogNorm(levels[0], levels[-1])
            filled = ax.contourf(alphas, betas, z, levels=levels, norm=norm, cmap=_GREYS)
            ax.contour(alphas, betas, z, levels=levels[::2], colors="white", linewidths=0.5, alpha=0.8)
        else:
            _panel_note(ax, NO_LANDSCAPE)
        outline = [patheffects.withStroke(linewidth=2.2, foreground="white")]
        for s in range(paths.shape[1]):
            color, _ = _basin_style(basin[s])
            for shift in _copies(paths[:, s, 1], low, period):
                ax.plot(paths[:, s, 0], paths[:, s, 1] + shift, color=color, linewidth=0.9, alpha=0.9, zorder=3,
                        path_effects=outline)
        starts = paths[0]
        for k in np.unique(basin):
            color, _ = _basin_style(k)
            chosen = starts[basin == k]
            ax.plot(chosen[:, 0], _into_period(chosen[:, 1], low, period), marker="o", markersize=3.8, color=color,
                    markeredgecolor="black", markeredgewidth=0.5, linestyle="none", zorder=4)
        for run in highlighted:
            _draw_periodic_twins(ax, _numpy(run["manual_path"]), _numpy(run["autograd_path"]), low, period)
        handles, labels = [], []
        for k, minimum in enumerate(minima):
            color, marker = _basin_style(k)
            point = _numpy(minimum["point"])
            ax.plot(point[0], _into_period(point[1:], low, period)[0], marker=marker, markersize=10, color=color,
                    markeredgecolor="black", markeredgewidth=1.1, linestyle="none", zorder=7)
            handles.append(Line2D([], [], color=color, marker=marker, markersize=8, markeredgecolor="black",
                                  linewidth=1.2))
            labels.append(minimum["label"])
        handles.append(Line2D([], [], color="0.5", marker="o", markersize=3.8, markeredgecolor="black",
                              markeredgewidth=0.5, linestyle="none"))
        labels.append("a start, coloured by\nthe minimum it reaches")
        if highlighted:
            handles += [Line2D([], [], color=MANUAL["color"], marker="o", markersize=5.5, markeredgecolor="white"),
                        Line2D([], [], color=AUTOGRAD["color"], marker="x", markersize=4, linestyle="none"),
                        Line2D([], [], marker="s", markersize=7, color="white", markeredgecolor="black",
                               linestyle="none"),
                        Line2D([], [], marker="*", markersize=_BASIN_END_SIZE, color="#F0E442",
                               markeredgecolor="black", linestyle="none")]
            labels += [MANUAL["label"], AUTOGRAD["label"], "start", "end (on its minimum's marker)"]
        if levels is not None:
            _colorbar(fig, filled, ax, levels)
        ax.set_xlim(alphas[0], alphas[-1])
        ax.set_ylim(betas[0], betas[-1])
        ax.set_aspect("equal", adjustable="box")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.grid(False)
        ax.set_title(title)
        legend = fig.legend(handles, labels, loc="outside right upper", fontsize=8)
        _caption(fig, legend, note)
    return fig


def _greys():
    """The house contour colours for a figure whose lines carry the colour: light greys, dark where the loss is high."""
    from matplotlib import colormaps
    from matplotlib.colors import ListedColormap

    return ListedColormap(colormaps["Greys"](np.linspace(0.06, 0.55, 256)), name="toolkit_light_greys")


_GREYS = _greys()


def _draw_periodic_twins(ax, manual_path: np.ndarray, autograd_path: np.ndarray, low: float,
                         period: float | None) -> None:
    """Both twins' path in the house style, with its copies shifted by whole periods (see ``basin_paths``)."""
    every = _spread_out(np.column_stack([manual_path[:, 0], _into_period(manual_path[:, 1], low, period)]))
    for shift in _copies(manual_path[:, 1], low, period):
        ax.plot(manual_path[:, 0], manual_path[:, 1] + shift, color=MANUAL["color"], marker="o", markersize=5,
                markeredgecolor="white", markeredgewidth=0.5, markevery=every, linewidth=1.4, zorder=5)
        ax.plot(autograd_path[every, 0], autograd_path[every, 1] + shift, color=AUTOGRAD["color"], marker="x",
                markersize=3, markeredgewidth=1.0, linestyle="none", zorder=6)
    ends = np.column_stack([manual_path[[0, -1], 0], _into_period(manual_path[[0, -1], 1], low, period)])
    _mark_start(ax, ends, zorder=8)
    # The end lies on a minimum's marker: a star small enough to sit inside it, drawn on top, so both show.
    ax.plot(*ends[-1], marker="*", markersize=_BASIN_END_SIZE, color="#F0E442", markeredgecolor="black",
            markeredgewidth=0.8, linestyle="none", label="end", zorder=8)


def plateau_curves(runs: Sequence[dict], scan: dict, *, best_loss: float, saddle_loss: float, title: str = "",
                   note: str | None = None) -> Figure:
    """Left: the loss per step of runs started at different distances from a saddle. Right: how long the plateau lasts.

    runs: dicts with ``label``, ``color``, ``history`` and ``plateau`` (the
    fractional step where the loss gap L − L* fell to half its start, or
    None). Linear loss axis, with the saddle's loss and the lowest loss L*
    dotted, and each plateau's end marked half-way down.

    scan: the plateau against the distance ε from the saddle: ``distances``
    (K,), ``manual`` and ``autograd`` (K,) the lengths measured on each
    twin's losses (None: never left within the run), and ``slope`` and
    ``offset`` of the line offset + slope·ln(1/ε) (slope from theory,
    offset fitted) with its ``label``; the distance axis is logarithmic, so
    the line is straight. A run of ``runs`` whose start is in the scan
    (``distance``) is ringed in its colour there.
    """
    from matplotlib.lines import Line2D

    with house_style():
        fig = Figure(figsize=(8.6, 3.8), layout="constrained")
        left, right = fig.subplots(1, 2, width_ratios=[1.25, 1])
        last_step = max(len(run["history"].loss_manual) - 1 for run in runs)
        left.axhline(saddle_loss, color="0.35", linestyle=(0, (1, 2)), linewidth=1.1, zorder=1)
        left.axhline(best_loss, color="0.35", linestyle=":", linewidth=1.1, zorder=1)
        left.text(last_step, saddle_loss, f"loss at the saddle, {saddle_loss:.3g}", ha="right", va="bottom",
                  fontsize=8, color="0.3")
        left.text(last_step, best_loss, f"lowest loss L* = {best_loss:.3g}", ha="right", va="bottom", fontsize=8,
                  color="0.3")
        for run in runs:
            history = run["history"]
            _draw_run_losses(left, history, label=run["label"], color=run["color"], last_step=last_step, curves=[])
            start = run["history"].loss_manual[0]
            if run.get("plateau") is not None:
                half = best_loss + (start - best_loss) / 2
                left.plot(run["plateau"], half, marker="o", markersize=9, color="none", markeredgecolor="black",
                          markeredgewidth=1.2, linestyle="none", zorder=6)
                left.annotate(f"half-way down\nafter {run['plateau']:.1f} steps", (run["plateau"], half),
                              textcoords="offset points", xytext=(9, 4), ha="left", va="bottom", fontsize=8,
                              bbox=TEXT_BOX, zorder=7)
        left.set_xlabel("step")
        _integer_steps(left)
        left.set_ylabel("training loss")
        left.set_ylim(bottom=0)
        left.set_title("The loss per step")

        distances = np.asarray(scan["distances"], dtype=float)
        manual = np.array([np.nan if v is None else v for v in scan["manual"]], dtype=float)
        autograd = np.array([np.nan if v is None else v for v in scan["autograd"]], dtype=float)
        if scan.get("slope") is not None:
            grid = np.geomspace(distances.min() / 2, distances.max() * 2, 50)
            right.plot(grid, scan["offset"] + scan["slope"] * np.log(1 / grid), color="0.1", linestyle=(0, (4, 3)),
                       linewidth=1.2, zorder=2, label=scan["label"])
        # Neutral colours here: on the left, colour tells the runs apart. A cross in every circle, as for the twins.
        right.plot(distances, manual, color="white", marker="o", markersize=7, markeredgecolor="black",
                   markeredgewidth=1.1, linestyle="none", zorder=3, label="measured on the manual twin's losses")
        right.plot(distances, autograd, color="black", marker="x", markersize=4, markeredgewidth=1.0,
                   linestyle="none", zorder=4, label="measured on autograd's losses")
        for run in runs:
            if run.get("distance") in list(distances) and run.get("plateau") is not None:
                right.plot(run["distance"], run["plateau"], marker="o", markersize=13, color="none",
                           markeredgecolor=run["color"], markeredgewidth=2.0, linestyle="none", zorder=5,
                           label=f"ringed: the run on the left\nthat starts {run['distance']:g} away")
        if not np.isfinite(manual).any():
            _panel_note(right, "no start left the plateau\nwithin the steps taken")
        right.set_xscale("log")
        right.set_xlabel("start's distance ε from the saddle (log scale)")
        right.set_ylabel("plateau length (steps)")
        right.set_title("Each factor of ten closer: the same steps more")
        handles, labels = left.get_legend_handles_labels()
        more, more_labels = right.get_legend_handles_labels()
        handles += [Line2D([], [], color="0.3", marker="x", markersize=4.5)] + more
        labels += ["line: manual, x: autograd"] + more_labels
        legend = fig.legend(handles, labels, loc="outside lower center", ncols=3, fontsize=8)
        _caption(fig, legend, note, title)
    return fig


def curvature_along_path(eigen_manual, eigen_autograd, *, names: Sequence[str] = ("λ₁", "λ₂"),
                         levels: Sequence[tuple[float, str]] = (), landscape: dict | None = None, title: str = "",
                         note: str | None = None) -> Figure:
    """Left: the Hessian's two eigenvalues at every step of a path. Right (optional): the path on the exact contour.

    eigen_manual, eigen_autograd: (T, 2), at every point of each twin's
    path, column k named ``names[k]`` (e.g. each eigenvalue followed along
    its eigenvector, or the smaller and the larger): the manual twin's as
    lines with circles, autograd's as crosses on them. The steps where one
    is negative (the path is in the saddle's region: the loss curves
    downwards in some direction) are shaded. levels: (value, label) pairs
    drawn dotted, e.g. the eigenvalues at the saddle from the formula.

    landscape: a dict with alphas (A,), betas (B,), Z (B, A), runs (dicts
    with label, color, manual_path, autograd_path, diverged_at), curves
    (dicts with ``pieces``, a list of (K, 2) arrays, and label, linestyle),
    saddle (2,), xlabel, ylabel: the loss contour (log levels, equal aspect)
    with the runs' paths, the curves (e.g. the hyperbola of minima) and the
    saddle marked.
    """
    manual, autograd = _numpy(eigen_manual), _numpy(eigen_autograd)
    steps = np.arange(len(manual))
    scale = np.nanmax(np.abs(manual)) if np.isfinite(manual).any() else 1.0
    inside = manual.min(axis=1) < -1e-9 * scale
    with house_style():
        if landscape is None:
            fig = Figure(figsize=(5.0, 3.8), layout="constrained")
            left = fig.add_subplot()
        else:
            fig = Figure(figsize=(9.2, 4.6), layout="constrained")
            left, right = fig.subplots(1, 2, width_ratios=[1, 1.15])
        if inside.any():
            # One band per stretch of negative curvature; half a step either side, so a single step shows.
            edges = np.flatnonzero(np.diff(np.concatenate([[0], inside.astype(int), [0]])))
            for first, stop in zip(edges[::2], edges[1::2]):
                left.axvspan(first - 0.5, stop - 0.5, color="0.88", zorder=0,
                             label="saddle region: one curvature < 0" if first == edges[0] else None)
        left.axhline(0.0, color="0.45", linewidth=0.9, zorder=1)
        for value, label in levels:
            left.axhline(value, color="0.3", linestyle=":", linewidth=1.1, zorder=1)
            left.annotate(label, (steps[-1], value), textcoords="offset points", xytext=(0, 3), ha="right",
                          va="bottom", fontsize=8, color="0.25")
        every = max(1, len(steps) // 30)
        for k, (color, name) in enumerate(zip((RUN_COLORS[1], RUN_COLORS[3]), names)):
            left.plot(steps, manual[:, k], color=color, marker="o", markersize=4, markevery=every,
                      markeredgecolor="white", markeredgewidth=0.4, label=name, zorder=3)
            left.plot(steps[::every], autograd[::every, k], color="0.1", marker="x", markersize=3,
                      markeredgewidth=0.8, linestyle="none", zorder=4)
        left.plot([], [], color="0.4", marker="x", markersize=3.5, linestyle="none",
                  label="x: on autograd's path")
        left.set_xlabel("step")
        _integer_steps(left)
        left.set_ylabel("eigenvalue of the Hessian")
        left.set_title("Curvature at every step of the path")
        handles, labels = left.get_legend_handles_labels()
        if landscape is not None:
            more, more_labels = _draw_saddle_landscape(fig, right, landscape)
            handles, labels = handles + more, labels + more_labels
        # Long handles: a dashed curve needs room for a few dashes.
        legend = fig.legend(handles, labels, loc="outside lower center", ncols=3, fontsize=8, handlelength=2.8)
        _caption(fig, legend, note, title)
    return fig


def _draw_saddle_landscape(fig, ax, landscape: dict) -> tuple[list, list]:
    """The right panel of ``curvature_along_path``: contour, runs, curves, saddle; returns its legend entries."""
    from matplotlib import patheffects

    alphas, betas, z = _numpy(landscape["alphas"]), _numpy(landscape["betas"]), _numpy(landscape["Z"])
    window = ((alphas[0], alphas[-1]), (betas[0], betas[-1]))
    levels = _log_levels(z, count=20)
    if levels is not None:
        filled = _contour(ax, alphas, betas, z, levels, LogNorm(levels[0], levels[-1]))
        _colorbar(fig, filled, ax, levels)
    # White with a dark edge: it shows on the dark valley, on the light slopes and on the legend's white alike.
    edged = [patheffects.withStroke(linewidth=3.4, foreground="0.15")]
    for curve in landscape.get("curves", ()):
        for k, piece in enumerate(curve["pieces"]):
            piece = _numpy(piece)
            ax.plot(piece[:, 0], piece[:, 1], color="white", linestyle=curve.get("linestyle", "-"),
                    linewidth=1.6, zorder=3, path_effects=edged, label=curve["label"] if k == 0 else None)
    for run in landscape.get("runs", ()):
        _draw_run_path(ax, _numpy(run["manual_path"]), _numpy(run["autograd_path"]), color=run["color"],
                       label=run["label"], window=window, diverged_at=run.get("diverged_at"))
        _mark_start(ax, _numpy(run["manual_path"]), zorder=8)
    if landscape.get("saddle") is not None:
        ax.plot(*_numpy(landscape["saddle"]), label="saddle", zorder=7.5, **SADDLE)
    ax.set_xlim(*window[0])
    ax.set_ylim(*window[1])
    ax.set_aspect("equal", adjustable="box")
    ax.set_xlabel(landscape.get("xlabel", ""))
    ax.set_ylabel(landscape.get("ylabel", ""))
    ax.set_title(landscape.get("title", ""))
    ax.grid(False)
    seen = {}
    for handle, label in zip(*ax.get_legend_handles_labels()):
        seen.setdefault(label, handle)
    shared = ("start", "end", "saddle")       # markers every run shares go last
    order = [label for label in seen if label not in shared] + [label for label in shared if label in seen]
    return [seen[label] for label in order], order
