"""Which step each drawn point of a descent path belongs to, so a figure can be animated later.

The shared path-drawing pieces (``shared.draw_twin_paths``,
``shared.draw_run_path``, and a lesson's own path drawers) record what they
drew: a ``PathTrack`` per path, holding the lines that grow with the path
(and the step each of their points belongs to) and the artists that belong
to its end (the end star; for a path that leaves the window, the dashed
arrow, the divergence X and its label). ``toolkit.animation`` reads these
records to draw the path step by step; it needs to know nothing else of how
the figure was built. This module draws nothing and imports no matplotlib.
"""

from __future__ import annotations

import contextlib
import weakref
from dataclasses import dataclass, field

import numpy as np

# Every axes' tracks, kept beside the axes rather than on them; an axes that goes away takes its tracks with it.
_TRACKS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


@dataclass(eq=False)
class PathTrack:
    """One descent path as drawn on an axes: ``length`` points, steps 0 .. length - 1.

    paths: the points drawn ((length, 2) arrays: the hand-written twin's,
    autograd's), to recognise other artists placed on them. growing: each
    line that grows with the path and, per point of its data, the step it
    belongs to. finale: artists shown only once the whole path is drawn.
    """

    length: int
    paths: list[np.ndarray]
    growing: list[tuple[object, np.ndarray]] = field(default_factory=list)
    finale: list[object] = field(default_factory=list)

    def grow(self, line, steps=None) -> None:
        """``line`` grows with the path; its i-th point belongs to step ``steps[i]`` (default: step i)."""
        count = len(line.get_xdata())
        steps = np.arange(count) if steps is None else np.asarray(steps, dtype=int).ravel()
        if len(steps) != count or np.any(np.diff(steps) < 0):
            raise ValueError(f"grow: need {count} steps in increasing order, one per point, got {len(steps)}")
        self.growing.append((line, steps))

    @contextlib.contextmanager
    def at_the_end(self, ax):
        """Every artist the block adds to ``ax`` is shown only once the whole path is drawn."""
        before = {id(artist) for artist in ax.get_children()}
        yield
        self.finale += [artist for artist in ax.get_children() if id(artist) not in before]


def track_path(ax, *paths) -> PathTrack:
    """Start recording a path drawn on ``ax``: ``paths`` are the points drawn, (T, 2) each, the first one's T counting."""
    arrays = [np.asarray(path, dtype=float).reshape(len(path), -1) for path in paths]
    track = PathTrack(length=len(arrays[0]), paths=arrays)
    _TRACKS.setdefault(ax, []).append(track)
    return track


def tracks_of(ax) -> list[PathTrack]:
    """The paths recorded on ``ax`` that have at least one point, in the order they were drawn."""
    return [track for track in _TRACKS.get(ax, []) if track.length > 0]
