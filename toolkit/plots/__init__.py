"""Every figure of the course: the house style, the shared drawing pieces, and one module per lesson.

Where a figure's code lives:

* ``style``   the house style: every colour, marker, line width and font size, set once;
* ``shared``  the drawing pieces more than one lesson uses: the twins' paths on a contour,
              loss curves, the start and end markers, the diverged mark, legends, log ticks;
* ``curves``, ``planes``  whole figures that several lessons draw (loss curves and loss gaps;
              a path on planes through parameter space);
* one module per lesson, named after the lesson (``sgd`` for lessons/06_sgd.py), holding the
  figures only that lesson draws. A piece moves to ``shared`` when a second lesson needs it;
* ``notes``   rendering to files: deterministic bytes, course-notes widths, titles into captions;
* ``tracks``  the record of which step each drawn point belongs to, for ``toolkit.animation``.

A lesson calls its own figures as ``plots.sgd.sgd_paths(...)`` and the shared ones as
``plots.curves.loss_curves(...)``. Nothing but ``style`` holds a colour.
"""

import importlib
import pkgutil

from toolkit.plots import curves, notes, planes, shared, style, tracks  # noqa: F401  (the shared layer)
from toolkit.plots.notes import figure_bytes, fit_to_width, take_title  # noqa: F401
from toolkit.plots.style import AUTOGRAD, MANUAL, RUN_COLORS, WIDTH_PRESETS, house_style  # noqa: F401

# Every lesson's module, so that ``plots.<lesson>.<figure>`` works after ``from toolkit import plots``;
# a new lesson adds its module and nothing here.
for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
