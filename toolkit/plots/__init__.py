"""Every figure of the course: the house style, the shared drawing pieces, and one module per lesson.

Where a figure's code lives:

* ``style``   the house style: every colour, marker, line width and font size, set once;
* ``shared``  the drawing pieces more than one lesson uses: the twins' paths on a contour,
              loss curves, the start and end markers, the diverged mark, log ticks;
* ``notes``   rendering to files: deterministic bytes, course-notes widths, titles into captions;
* ``tracks``  the record of which step each drawn point belongs to, for animations;
* one module per lesson, named after the lesson (``sgd`` for lessons/06_sgd.py), holding the
  figures only that lesson draws. A piece moves to ``shared`` when a second lesson needs it.

A lesson calls its own module's figures as ``plots.sgd.sgd_paths(...)`` and the shared ones as
``plots.loss_curves(...)``.
"""

from toolkit.plots import style, shared, notes, tracks  # noqa: F401  (the package's layout, in order)
from toolkit.plots import (adaptive_steps, hidden_layer, honest_landscapes, initialisation, learning_rate,  # noqa: F401
                           linear_regression, momentum, one_weight, real_mountain, schedules, sgd, softmax_batchnorm,
                           three_weights)
from toolkit.plots.notes import WIDTH_PRESETS, figure_bytes, fit_to_width, take_title  # noqa: F401
from toolkit.plots.shared import (contour_with_paths, loss_curves, loss_curves_by_run, loss_gap_curves,  # noqa: F401
                                  path_on_plane, round_log_ticks, round_tick_text, true_loss_fill)
from toolkit.plots.style import AUTOGRAD, MANUAL, RUN_COLORS, house_style  # noqa: F401
