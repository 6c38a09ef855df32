"""The house style, checked on a finished figure: what a reader of any figure of the course can rely on.

``violations(fig)`` walks every artist of a figure (insets and sub-figures included) and returns one
line per broken rule (an empty list for a figure that keeps the style):

* the autograd twin is vermillion × crosses: every "x" marker is vermillion, and vermillion is used
  for nothing else;
* the hand-written twin is a line with circles: the blue of the twins is used only on lines, their
  circles and arrows, never for text, fills or another kind of marker;
* no line uses orange, too close to vermillion to tell apart;
* a square is a path's start (white, black edge), a star its end (yellow, black edge), an X a
  diverged run (black, white edge);
* every loss landscape is dark where the loss is low;
* every text has one of the house sizes.
"""

from __future__ import annotations

import numpy as np
from matplotlib.colors import to_rgba

from toolkit.plots import style

MARKERS = {"s": (style.START, "start square"), "*": (style.END, "end star"), "X": (style.DIVERGED, "diverged X")}


def _same(a, b) -> bool:
    return np.allclose(to_rgba(a)[:3], to_rgba(b)[:3], atol=0.02)


def _colours(values) -> list:
    array = np.atleast_2d(np.asarray(values, dtype=float)) if len(np.shape(values)) else []
    return [tuple(row[:3]) for row in array] if len(array) and np.shape(array)[-1] in (3, 4) else []


def _luminance(rgba) -> float:
    r, g, b = rgba[:3]
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _lines(fig):
    from matplotlib.lines import Line2D

    return [line for line in fig.findobj(Line2D) if line.axes is not None and line.get_visible()]


def violations(fig, *, sizes=None) -> list[str]:
    """Every rule of the house style that ``fig`` breaks, one line each (see the module docstring)."""
    from matplotlib.collections import Collection
    from matplotlib.contour import ContourSet
    from matplotlib.patches import FancyArrowPatch, Patch
    from matplotlib.text import Text

    found = []
    for line in _lines(fig):
        marker, colour = line.get_marker(), line.get_color()
        face, edge = line.get_markerfacecolor(), line.get_markeredgecolor()
        label = line.get_label()
        if marker == "x" and not _same(colour, style.VERMILLION):
            found.append(f"an 'x' marker that is not vermillion: {label!r}, {colour}")
        if marker != "x" and any(_same(c, style.VERMILLION) for c in (colour, face, edge) if c not in ("none", None)):
            found.append(f"vermillion on something other than autograd's crosses: {label!r}, marker {marker!r}")
        if _same(colour, style.BLUE) and marker not in ("o", "None", None, "", " ", "none"):
            found.append(f"the twins' blue on a {marker!r} marker: {label!r}")
        if marker in ("None", None, "", " ", "none", "o") and _same(colour, style.ORANGE):
            found.append(f"an orange line, too close to autograd's vermillion: {label!r}")
        if marker in MARKERS:
            wanted, name = MARKERS[marker]
            if not (_same(face, wanted["color"]) and _same(edge, wanted["markeredgecolor"])):
                found.append(f"a {name} in colours other than the house's: {label!r}, face {face}, edge {edge}")
    for artist in fig.findobj(lambda a: isinstance(a, (Collection, Patch, Text)) and not isinstance(a, FancyArrowPatch)):
        if not artist.get_visible():
            continue
        if isinstance(artist, Text):
            colours = [artist.get_color()] if artist.get_text() else []
        elif isinstance(artist, Collection):
            colours = _colours(artist.get_facecolor()) + _colours(artist.get_edgecolor())
        else:
            colours = [artist.get_facecolor(), artist.get_edgecolor()]
        if any(_same(c, style.VERMILLION) for c in colours):
            found.append(f"vermillion on a {type(artist).__name__}")
        if any(_same(c, style.BLUE) for c in colours) and not isinstance(artist, Collection):
            found.append(f"the twins' blue on a {type(artist).__name__}")
    for contour in fig.findobj(lambda a: isinstance(a, ContourSet) and a.filled):
        cmap = contour.get_cmap()
        if cmap.name not in (style.CMAP, style.PROBABILITY_CMAP) and _luminance(cmap(0.0)) > _luminance(cmap(1.0)):
            found.append(f"a landscape light where the loss is low (colour map {cmap.name})")
    allowed = sizes if sizes is not None else {v for k, v in style.RC.items() if "size" in k}
    for text in fig.findobj(Text):
        if text.get_text() and text.get_visible() and text.get_fontsize() not in allowed:
            found.append(f"a text of {text.get_fontsize()} pt, not a house size: {text.get_text()[:30]!r}")
    return sorted(set(found))
