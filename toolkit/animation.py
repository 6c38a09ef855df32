"""A descent path drawn step by step: the GIF of a figure whose path grows on its contour.

The path-drawing pieces of ``toolkit.plots.shared`` (``draw_twin_paths``,
``draw_run_path``) record what they drew (``toolkit.plots.tracks``): a ``PathTrack`` per path, holding the lines that grow with the path
(and which step each of their points belongs to) and the artists that belong
to its end (the end star; for a path that leaves the window, the dashed
arrow, the divergence X and its label). Any figure drawn with those helpers
can therefore be animated without knowing how it was built:

    gif = path_gif(fig)      # bytes, or None if no path lies on a contour

Frame k shows every recorded path up to step k, and a step counter at the
top of the figure; everything else (contours, colour bar, legend, titles)
is as in the still. Other markers that sit exactly on a recorded path's
points (circles filled with the true loss, the start square, a zoomed inset
of the last epoch) are recognised and grow with it.

At most ``MAX_FRAMES`` frames (the steps are subsampled, the first and the
last always included), at most ``DPI`` dots per inch, and the file is kept
under ``MAX_BYTES`` by lowering the resolution if it has to be. The frames
are rendered by ``matplotlib.animation`` (``FuncAnimation`` and Pillow, no
external programs), so the same figure gives the same bytes. The figure is
left as it was: every change is undone afterwards.
"""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

import numpy as np

from toolkit.plots.style import house_style
from toolkit.plots.tracks import tracks_of

MAX_FRAMES = 60
DPI = 100
SMALLER_DPI = (72, 60, 48)         # tried in turn while the file is larger than MAX_BYTES
MAX_BYTES = 1_000_000
FRAME_MS, FIRST_MS, LAST_MS = 100, 700, 2500    # how long a frame is shown; the last one is held
FIGURE_SPACE = "\u2007"           # as wide as a digit: the counter keeps its width


def _all_axes(fig) -> list:
    """Every axes of the figure, insets (child axes) included."""
    found, todo = [], list(fig.get_axes())
    while todo:
        ax = todo.pop(0)
        if ax not in found:
            found.append(ax)
            todo += list(getattr(ax, "child_axes", []))
    return found


def _has_contour(ax) -> bool:
    from matplotlib.contour import ContourSet

    return any(isinstance(collection, ContourSet) for collection in ax.collections)


def animatable(fig) -> bool:
    """True when the figure has a recorded descent path on an axes with a contour."""
    return any(tracks_of(ax) and _has_contour(ax) for ax in _all_axes(fig))


def frame_steps(last: int, most: int = MAX_FRAMES) -> list[int]:
    """The steps the frames show: all of 0 .. last, or ``most`` of them evenly spread, first and last included."""
    if last < 0 or most < 2:
        raise ValueError(f"frame_steps: need last >= 0 and most >= 2, got {last}, {most}")
    if last + 1 <= most:
        return list(range(last + 1))
    return sorted({int(round(value)) for value in np.linspace(0, last, most)})


def _step_of_points(points: np.ndarray, path: np.ndarray) -> np.ndarray | None:
    """For points lying exactly on ``path`` (in order), the index of each on it; None if one does not."""
    if points.ndim != 2 or points.shape[1] != 2 or path.shape[1] != 2 or not len(points):
        return None
    if not np.isfinite(points).all():
        return None
    where: dict[tuple[float, float], list[int]] = {}
    for index, point in enumerate(path):
        where.setdefault((float(point[0]), float(point[1])), []).append(index)
    steps, previous = [], -1
    for point in points:
        later = [index for index in where.get((float(point[0]), float(point[1])), []) if index > previous]
        if not later:
            return None
        previous = later[0]
        steps.append(previous)
    return np.asarray(steps, dtype=int)


def _line_points(line) -> np.ndarray:
    x, y = line.get_xdata(), line.get_ydata()
    try:
        return np.column_stack([np.asarray(x, dtype=float), np.asarray(y, dtype=float)])
    except (TypeError, ValueError):
        return np.zeros((0, 3))


class _Growing:
    """A line or a scatter of markers that shows its points up to the current step; ``restore`` undoes it."""

    def __init__(self, artist, steps: np.ndarray):
        from matplotlib.lines import Line2D

        self.artist, self.steps = artist, steps
        self.is_line = isinstance(artist, Line2D)
        self.visible = artist.get_visible()
        if self.is_line:
            self.data = (np.asarray(artist.get_xdata()), np.asarray(artist.get_ydata()))
            self.markevery = artist.get_markevery()
        else:
            self.offsets = np.asarray(artist.get_offsets())
            self.array = artist.get_array()
            self.sizes = np.asarray(artist.get_sizes())
            self.colors = {name: np.asarray(getattr(artist, f"get_{name}")())
                           for name in ("facecolor", "edgecolor", "linewidth")}

    def show(self, step: int) -> None:
        count = int(np.searchsorted(self.steps, step, side="right"))
        self.artist.set_visible(self.visible and count > 0)
        if self.is_line:
            self.artist.set_data(self.data[0][:count], self.data[1][:count])
            self.artist.set_markevery(self._markevery(count))
        else:
            self._cut(count)

    def _markevery(self, count: int):
        every = self.markevery
        if every is None or isinstance(every, (int, np.integer, float, slice, tuple)):
            return every
        every = np.asarray(every)
        if every.dtype == bool:
            return every[:count]
        if np.issubdtype(every.dtype, np.integer):
            return [int(i) for i in every if i < count]
        return self.markevery

    def _cut(self, count: int) -> None:
        total = len(self.offsets)
        self.artist.set_offsets(self.offsets[:count])
        if self.array is not None and len(self.array) == total:
            self.artist.set_array(self.array[:count])
        if len(self.sizes) == total:
            self.artist.set_sizes(self.sizes[:count])
        for name, values in self.colors.items():
            if self.array is None or name != "facecolor":
                if len(values) == total and total > 1:
                    getattr(self.artist, f"set_{name}")(values[:count])

    def restore(self) -> None:
        if self.is_line:
            self.artist.set_data(*self.data)
            self.artist.set_markevery(self.markevery)
        else:
            self.artist.set_offsets(self.offsets)
            if self.array is not None:
                self.artist.set_array(self.array)
            self.artist.set_sizes(self.sizes)
            for name, values in self.colors.items():
                if self.array is None or name != "facecolor":
                    if len(values) == len(self.offsets) and len(values) > 1:
                        getattr(self.artist, f"set_{name}")(values)
        self.artist.set_visible(self.visible)


class PathAnimation:
    """The frames of a figure's recorded paths: ``show(step)`` draws every path up to ``step``.

    ``last`` is the largest step there is (the longest path's), ``steps``
    the steps the frames show. ``restore()`` puts the figure back as it was.
    """

    def __init__(self, fig, most: int = MAX_FRAMES):
        from matplotlib.collections import PathCollection
        from matplotlib.lines import Line2D

        self.fig = fig
        self.growing: list[_Growing] = []
        self.finales: list[tuple[object, bool, int]] = []     # artist, its visibility, the step it appears at
        tracks = [(ax, track) for ax in _all_axes(fig) for track in tracks_of(ax)]
        if not tracks:
            raise ValueError("this figure has no recorded descent path to animate")
        self.last = max(track.length for _, track in tracks) - 1
        self.steps = frame_steps(self.last, most)
        recorded = set()
        for ax, track in tracks:
            for artist, steps in track.growing:
                self.growing.append(_Growing(artist, steps))
                recorded.add(id(artist))
            for artist in track.finale:
                self.finales.append((artist, artist.get_visible(), track.length - 1))
                recorded.add(id(artist))
        # Markers drawn exactly on a recorded path's points grow with it (in insets of its axes too).
        for ax, track in tracks:
            insets = [a for a in _all_axes(fig) if a is ax or _is_inset_of(a, ax)]
            for other in insets:
                for artist in [*other.lines, *other.collections]:
                    if id(artist) in recorded or not isinstance(artist, (Line2D, PathCollection)):
                        continue
                    points = _line_points(artist) if isinstance(artist, Line2D) else np.asarray(artist.get_offsets())
                    for path in track.paths:
                        steps = _step_of_points(points, path)
                        if steps is not None:
                            self.growing.append(_Growing(artist, steps))
                            recorded.add(id(artist))
                            break
        # Autoscaling is lazy: settle every axis range now, from the whole paths. And keep where the
        # layout put every axes, so that restore() gives the next drawing the same starting point.
        self.positions = []
        for ax in _all_axes(fig):
            ax.get_xlim(), ax.get_ylim()
            self.positions.append((ax, ax.get_position(original=True), ax.get_position(original=False)))
        # The counter goes under the figure's title, or is its title: the layout makes room for it.
        self.width = len(str(self.last))
        self.title = fig.get_suptitle()
        self.counter = fig.suptitle(self.title)     # the title's text object (a new one if there was none)
        self.counter_visible, self.counter_in_layout = self.counter.get_visible(), self.counter.get_in_layout()
        self.counter.set_visible(True)
        self.counter.set_in_layout(True)
        self.title_position = self.counter.get_position()
        self.counter.set_text(self.counter_text(self.last))

    def counter_text(self, step: int) -> str:
        count = f"step {str(step).rjust(self.width, FIGURE_SPACE)} of {self.last}"
        return f"{self.title}\n{count}" if self.title else count

    def show(self, step: int) -> None:
        for growing in self.growing:
            growing.show(step)
        for artist, visible, at in self.finales:
            artist.set_visible(visible and step >= at)
        self.counter.set_text(self.counter_text(step))

    def restore(self) -> None:
        for growing in self.growing:
            growing.restore()
        for artist, visible, _ in self.finales:
            artist.set_visible(visible)
        # A figure without a title keeps an empty, hidden one, which neither shows nor takes room.
        self.counter.set_text(self.title)
        self.counter.set_position(self.title_position)
        self.counter.set_visible(self.counter_visible and bool(self.title))
        self.counter.set_in_layout(self.counter_in_layout and bool(self.title))
        for ax, original, active in self.positions:
            in_layout = ax.get_in_layout()
            ax.set_position(original, which="original")     # as the layout engine left them
            ax.set_position(active, which="active")
            ax.set_in_layout(in_layout)                     # set_position takes the axes out of the layout


def _is_inset_of(child, parent) -> bool:
    return child in getattr(parent, "child_axes", [])


def path_gif(fig, *, most: int = MAX_FRAMES, dpi: int = DPI, max_bytes: int = MAX_BYTES) -> bytes | None:
    """The GIF of the figure's descent paths growing step by step; None if no path lies on a contour.

    Frame k shows every path up to step k; at most ``most`` frames, the
    first and the last held a little longer. Rendered at ``dpi`` (lowered
    while the file would be larger than ``max_bytes``). The figure is left
    as it was.
    """
    if not animatable(fig):
        return None
    data = b""
    for resolution in (dpi, *[d for d in SMALLER_DPI if d < dpi]):
        data = _render(fig, most, resolution)
        if len(data) <= max_bytes:
            break
    return data


def _gif_writer():
    """The GIF writer class, made when first needed (matplotlib's animation module loads only then)."""
    from matplotlib.animation import AbstractMovieWriter

    class GifWriter(AbstractMovieWriter):
        """Frames into a GIF, each shown ``FRAME_MS`` (the first and the last held longer); Pillow writes it."""

        def setup(self, fig, outfile, dpi=None):
            super().setup(fig, outfile, dpi)
            self.frames = []

        def grab_frame(self, **savefig_kwargs):
            from PIL import Image

            buffer = io.BytesIO()
            self.fig.savefig(buffer, format="png", dpi=self.dpi)
            self.frames.append(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"))

        def finish(self):
            from PIL import Image

            # One palette for every frame, from the last (it holds every colour the paths bring), and no
            # dithering: from one frame to the next only the pixels where the path grew change, and
            # the GIF stores just those.
            palette = self.frames[-1].quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
            frames = [frame.quantize(palette=palette, dither=Image.Dither.NONE) for frame in self.frames]
            durations = [FRAME_MS] * len(frames)
            durations[0] = FIRST_MS
            durations[-1] = LAST_MS
            frames[0].save(self.outfile, format="GIF", save_all=True, append_images=frames[1:], duration=durations,
                           loop=0)

    return GifWriter


def _render(fig, most: int, dpi: int) -> bytes:
    from matplotlib.animation import FuncAnimation

    engine = fig.get_layout_engine()
    animation = PathAnimation(fig, most)
    try:
        with house_style(), tempfile.TemporaryDirectory(prefix="toolkit-gif-") as folder:
            # Lay the figure out once, the paths whole and the counter at its widest, then keep that
            # layout: frames must not shift when the end markers appear.
            animation.show(animation.last)
            for _ in range(2):      # the second pass settles it, whatever the figure was drawn like before
                fig.savefig(io.BytesIO(), format="rgba", dpi=dpi)
            fig.set_layout_engine(None)     # no engine at all: a placeholder would still re-draw every frame
            player = FuncAnimation(fig, animation.show, frames=animation.steps, interval=FRAME_MS,
                                   repeat=False, cache_frame_data=False)
            target = Path(folder) / "path.gif"
            player.save(target, writer=_gif_writer()(fps=1000 / FRAME_MS), dpi=dpi)
            return target.read_bytes()
    finally:
        animation.restore()
        if engine is not None:
            fig.set_layout_engine(engine)
