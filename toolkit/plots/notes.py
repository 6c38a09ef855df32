"""toolkit.plots.notes."""

from __future__ import annotations

from dataclasses import dataclass
from matplotlib.figure import Figure
import contextlib
import io
import math
import numpy as np
from toolkit.plots.style import DPI, METADATA, house_style


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
