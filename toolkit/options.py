"""The options a lesson runs with, and the command-line flags that set them.

Both ``python -m toolkit run N`` and ``python lessons/NN_name.py`` use these
flags, so a lesson behaves the same whichever way it is started.
"""

from __future__ import annotations

import argparse
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

FORMATS = ("png", "svg", "pdf", "gif")     # gif: the descent path growing, for figures that draw one
WIDTHS = ("column", "page")     # course-notes width presets: their sizes are toolkit.plots.WIDTH_PRESETS
MAX_STEPS = 50_000      # every step is recorded (both twins' parameters), so memory grows with steps
MAX_SEED = 2**63        # torch.manual_seed takes 0 <= seed < 2**63 without aliasing
MAX_JOBS = 64           # figures --jobs: lessons run at once, one worker process each


@dataclass
class Options:
    device: str = "auto"
    dtype: str = "float64"
    seed: int = 0
    steps: int | None = None        # None: the lesson's own default
    lr: float | None = None         # None: the lesson's own default
    out: Path | None = None         # None: figures/ in the current folder
    formats: tuple[str, ...] = ("png",)
    quiet: bool = False
    save_figures: bool = field(default=True)   # False (--no-figures): train and compare only
    width: str | None = None        # None: each figure at the size it was built; or one of WIDTHS
    titles: bool = True             # False (--no-titles): a figure's title goes into its caption


# Every error the toolkit reports starts so, whichever command or lesson script it comes from.
ERROR_PREFIX = "toolkit: error: "
# What Ctrl-C or SIGTERM leaves: every folder and file is replaced whole or not at all.
INTERRUPTED = "interrupted: no file was left half-written"


class LessonStopped(Exception):
    """A lesson that could not go on with the options it was given (its numbers left the range of a float,
    say): reported in one line, exit code 1."""


class ArgumentParser(argparse.ArgumentParser):
    """argparse, but a mistake is reported in one line (exit code 2), without the usage block."""

    def error(self, message: str):
        self.exit(2, f"{ERROR_PREFIX}{message}\n")


def learning_rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number > 0, got '{text}'") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got '{text}'")
    return value


def _whole_number(text: str, low: int, high: int, what: str) -> int:
    # int() would also take "²" and "1_000"; plain ASCII digits only
    if not re.fullmatch(r"[+-]?[0-9]+", text.strip()):
        raise argparse.ArgumentTypeError(f"must be {what}, got '{text}'")
    value = int(text)
    if not low <= value <= high:
        raise argparse.ArgumentTypeError(f"must be {what}, got '{text}'")
    return value


def step_count(text: str) -> int:
    return _whole_number(text, 1, MAX_STEPS, f"a whole number from 1 to {MAX_STEPS}")


def seed_value(text: str) -> int:
    return _whole_number(text, 0, MAX_SEED - 1, "a whole number from 0 to 2**63 - 1")


def job_count(text: str) -> int:
    return _whole_number(text, 1, MAX_JOBS, f"a whole number from 1 to {MAX_JOBS}")


def output_folder(text: str) -> Path:
    if not text.strip():
        raise argparse.ArgumentTypeError(f"must name a folder, got {repr(text) if text else 'an empty string'}")
    return Path(text).expanduser()


def format_list(text: str) -> tuple[str, ...]:
    formats = tuple(dict.fromkeys(part.strip().lower() for part in text.split(",") if part.strip()))
    unknown = [f for f in formats if f not in FORMATS]
    if not formats or unknown:
        raise argparse.ArgumentTypeError(f"'{text}' is not a list of {', '.join(FORMATS)} (e.g. png,svg)")
    return formats


def add_device_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="auto", help="auto (cuda if present, else cpu), cpu, cuda, cuda:K or mps")
    parser.add_argument("--dtype", default="float64", choices=["float64", "float32"], help="default float64: exact agreement")


def add_output_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=output_folder, default=None, metavar="DIR",
                        help="where figures go (default: figures/ in the current folder)")
    parser.add_argument("--format", dest="formats", type=format_list, default=("png",), metavar="png[,svg,pdf,gif]",
                        help="figure file formats (default: png); gif animates each figure's descent path "
                             "on its contour, step by step")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument("--width", choices=WIDTHS, default=None,
                        help="course-notes size: column (3.4 in) or page (7 in), fonts 8-9 pt at that size "
                             "(default: each figure's own size)")
    parser.add_argument("--no-titles", dest="titles", action="store_false",
                        help="leave the figure titles out of the images; they go into the captions")


def add_run_options(parser: argparse.ArgumentParser) -> None:
    add_device_options(parser)
    parser.add_argument("--seed", type=seed_value, default=0, help="random seed (default 0): same seed, same numbers")
    parser.add_argument("--steps", type=step_count, default=None,
                        help=f"training steps, at most {MAX_STEPS} (default: the lesson's)")
    parser.add_argument("--lr", type=learning_rate, default=None, help="learning rate (default: the lesson's)")
    add_output_options(parser)
    parser.add_argument("--no-figures", dest="save_figures", action="store_false",
                        help="train and report only: draw and write nothing")


def to_argv(options: Options) -> list[str]:
    """The flags that give ``options`` back when parsed by ``add_run_options``.

    This is how the command line hands its options to a lesson: the lesson
    parses its argument list, whichever way it was started.
    """
    argv = [f"--device={options.device}", f"--dtype={options.dtype}", f"--seed={options.seed}",
            f"--format={','.join(options.formats)}"]
    if options.steps is not None:
        argv.append(f"--steps={options.steps}")
    if options.lr is not None:
        argv.append(f"--lr={options.lr!r}")
    if options.out is not None:
        argv.append(f"--out={options.out}")
    if options.quiet:
        argv.append("--quiet")
    if options.width is not None:
        argv.append(f"--width={options.width}")
    if not options.titles:
        argv.append("--no-titles")
    if not options.save_figures:
        argv.append("--no-figures")
    return argv


def options_from(args: argparse.Namespace, **overrides) -> Options:
    values = {name: getattr(args, name) for name in Options.__dataclass_fields__ if hasattr(args, name)}
    values.update(overrides)
    return Options(**values)
