"""Figures into files: deterministic bytes, course-notes widths, and titles moved into captions.

Every file of the same figure is the same bytes on every run (no dates, no
software versions, fixed SVG ids, see ``style.RC``). In SVG and PDF, large
filled areas (filled contours, meshes, images, 3-D surfaces) are stored as
one 200-dpi image each and everything else (lines, markers, text) as vectors,
so the files stay small and their text stays searchable.

Course notes set a figure at the width of a column (3.4 in) or of a page
(7 in). Figures are *built* for that width (``style.use_width``: the house
helpers choose the size, the grid and the legend's columns), so that saving
only has to make sure of three things (``fit_to_width``): the file is exactly
the preset's width, every text is 8 to 9 pt, and each panel keeps the shape it
was built with. Only public matplotlib is used.
"""

from __future__ import annotations

import contextlib
import io

import numpy as np
from matplotlib.figure import Figure

from toolkit.plots import style
from toolkit.plots.style import DPI, WIDTH_PRESETS, WidthPreset, house_style

# Without these, each file would carry its creation time or matplotlib's version.
METADATA = {
    "png": {"Software": None},
    "svg": {"Date": None, "Creator": None},
    "pdf": {"CreationDate": None, "ModDate": None, "Creator": None, "Producer": None},
}
COLORBAR = "<colorbar>"     # the label matplotlib gives a colour bar's axes


def figure_bytes(fig: Figure, fmt: str, *, tight: bool = True, dpi: int = DPI) -> bytes:
    """Render a figure to PNG, SVG or PDF bytes, deterministically.

    tight: crop the file to what is drawn (plus a small margin), as the
    gallery does; False keeps the figure's own size exactly, as a width
    preset needs (see ``fit_to_width``). dpi: the resolution (the house
    style's DPI unless a quick draft is wanted).
    """
    buffer = io.BytesIO()
    crop = {"bbox_inches": "tight", "pad_inches": 0.05} if tight else {}
    with house_style(), _rasterised_fills(fig, fmt in ("svg", "pdf")):
        fig.savefig(buffer, format=fmt, dpi=dpi, metadata=METADATA[fmt], **crop)
    return buffer.getvalue()


def take_title(fig: Figure) -> str | None:
    """Remove the figure's title from the image and return its text (lines joined), or None if it has none.

    The title is the suptitle, and in a figure with one panel that panel's
    own title (where the single-panel figures put theirs). Panel titles of a
    figure with several panels name the panels and stay.
    """
    taken = []
    if fig.get_suptitle().strip():
        taken.append(fig.get_suptitle())
        emptied = fig.suptitle("")
        emptied.set_visible(False)
        emptied.set_in_layout(False)
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


def notes_font_size(built: float) -> float:
    """The size (pt) a text of ``built`` pt gets in course notes: 8 to 9 pt, a larger one still larger.

    The house sizes (8 to 10.5 pt) are mapped in order onto 8 to 9 pt.
    """
    (low, high), (b0, b1) = style.NOTES_SIZES, (8.0, 10.5)
    return float(min(max(low + (built - b0) * (high - low) / (b1 - b0), low), high))


def fit_to_width(fig: Figure, preset: str | WidthPreset) -> Figure:
    """Make ``fig`` exactly a width preset wide ("column", "page"), its texts 8 to 9 pt, its panels in shape.

    A figure built under ``style.use_width`` has the width already, and here
    only its height is settled; any other figure is scaled to the width first.
    Save it afterwards with ``figure_bytes(fig, fmt, tight=False)``, so that
    the file is exactly the preset's width.
    """
    preset = WIDTH_PRESETS[preset] if isinstance(preset, str) else preset
    fig.set_dpi(DPI)
    if fig.get_layout_engine() is None:
        fig.set_layout_engine("constrained")
    with house_style():
        width, height = fig.get_size_inches()
        shape = style.built_panel_shape(fig)
        elsewhere = shape is None
        if elsewhere:       # not built for the preset: each panel keeps the shape it has now
            _lay_out(fig)
            shape = _median_shape(fig)
        _notes_fonts(fig, built=elsewhere)
        fig.set_size_inches(preset.width, min(height * preset.width / width, preset.max_height))
        if shape is not None:
            _settle_height(fig, shape, preset)
    return fig


def _panels(fig: Figure) -> list:
    """The figure's panels: its axes without colour bars and insets."""
    return [ax for ax in fig.axes if ax.get_label() != COLORBAR and ax.get_axes_locator() is None]


def _lay_out(fig: Figure) -> bool:
    """Run the figure's layout (nothing is drawn); False if it found no room for the panels."""
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig.get_layout_engine().execute(fig)
    collapsed = [w for w in caught if "collapsed to zero" in str(w.message)]
    for w in caught:
        if w not in collapsed:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return not collapsed


def _median_shape(fig: Figure) -> float | None:
    """The median height / width of the panels' boxes (as the layout placed them), None without panels."""
    width, height = fig.get_size_inches()
    shapes = [box.height * height / (box.width * width) for box in
              (ax.get_position(original=True) for ax in _panels(fig) if ax.axison) if box.width > 0]
    return float(np.median(shapes)) if shapes else None


def _settle_height(fig: Figure, shape: float, preset: WidthPreset) -> None:
    """Make the figure as tall as its panels need to be ``shape`` (height / width) each, within the preset."""
    for _ in range(6):
        if not _lay_out(fig):       # no room at all: taller, then try again
            width, height = fig.get_size_inches()
            if height >= preset.max_height:
                break
            fig.set_size_inches(preset.width, min(1.5 * height, preset.max_height))
            continue
        now = _median_shape(fig)
        if now is None or abs(now - shape) < 0.02 * shape:
            break
        width, height = fig.get_size_inches()
        rows = max(len({round(ax.get_position(original=True).y0, 3) for ax in _panels(fig) if ax.axison}), 1)
        panel_width = _panel_width(fig)
        change = rows * panel_width * (shape - now)
        new = float(np.clip(height + change, 0.45 * preset.width, preset.max_height))
        new = round(new * DPI) / DPI        # whole pixels
        if abs(new - height) < 1 / DPI:
            break
        fig.set_size_inches(preset.width, new)
    if not _lay_out(fig):
        raise ValueError("this figure has no room for its panels at this width: build it with plots.style.panels")


def _panel_width(fig: Figure) -> float:
    width = fig.get_size_inches()[0]
    widths = [ax.get_position(original=True).width * width for ax in _panels(fig) if ax.axison]
    return float(np.median(widths)) if widths else width


def _notes_fonts(fig: Figure, *, built: bool) -> None:
    """Every text of the figure at 8 to 9 pt, tick labels included.

    built=True: the figure was built at another size and its texts are mapped in order
    (``notes_font_size``); False: it was built for the preset, and a text outside 8 to 9 pt is
    brought to the nearest of the two.
    """
    from matplotlib.text import Text

    size = notes_font_size if built else _clamp
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            for which, ticks in (("major", axis.get_major_ticks()), ("minor", axis.get_minor_ticks())):
                if ticks:
                    axis.set_tick_params(which=which, labelsize=size(ticks[0].label1.get_fontsize()))
    for text in fig.findobj(Text):
        text.set_fontsize(size(text.get_fontsize()))


def _clamp(size: float) -> float:
    low, high = style.NOTES_SIZES
    return float(min(max(size, low), high))


@contextlib.contextmanager
def _rasterised_fills(fig: Figure, on: bool):
    """While saving a vector file, store large filled areas as images; afterwards put every setting back.

    Meshes, images and 3-D surfaces are marked rasterised one by one. Filled contours are rasterised
    through their axes' rasterisation z-order (everything drawn below the contour's own z-order,
    the contour included, becomes one image), which every supported matplotlib honours.
    """
    from matplotlib.collections import QuadMesh
    from matplotlib.contour import ContourSet
    from matplotlib.image import AxesImage
    from mpl_toolkits.mplot3d.art3d import Poly3DCollection

    changed = [artist for artist in fig.findobj(lambda a: isinstance(a, (QuadMesh, AxesImage, Poly3DCollection)))
               if not artist.get_rasterized()] if on else []
    below = {}
    for contour in (fig.findobj(lambda a: isinstance(a, ContourSet) and a.filled) if on else []):
        ax = contour.axes
        level = max(below.get(ax, (None, -np.inf))[1], contour.get_zorder() + 1e-3)
        below[ax] = (below.get(ax, (ax.get_rasterization_zorder(), None))[0], level)
    for artist in changed:
        artist.set_rasterized(True)
    for ax, (_, level) in below.items():
        ax.set_rasterization_zorder(level)
    try:
        yield
    finally:
        for artist in changed:
            artist.set_rasterized(False)
        for ax, (before, _) in below.items():
            ax.set_rasterization_zorder(before)
