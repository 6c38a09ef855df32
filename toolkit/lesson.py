"""What a lesson script needs around its own story: options, training, saving.

A lesson starts with

    run = lesson.start("02_linear_regression", steps=80, lr=0.05)

and ends with ``run.finish()``. In between it reads like a worked example;
the ``run`` object supplies the device, dtype, seed, step count and learning
rate. The options come from the lesson's own argument list, whether it was
started as a script (``python lessons/02_linear_regression.py --seed 3``) or
by ``python -m toolkit run 2 --seed 3``, which runs the same file with those
flags; imported or opened as a notebook, it uses the defaults. In a notebook
it writes no files unless asked (see ``notebook_options``).

The lesson names itself rather than passing ``__file__``, because a notebook
kernel has no ``__file__``. In a notebook (an IPython kernel) ``run.save``
also shows each figure inline, and ``run.check`` and ``run.finish`` print
their report once and return nothing for the notebook to echo.
"""

from __future__ import annotations

import json
import math
import os
import signal
import sys
import threading
import traceback
from pathlib import Path

import torch

from toolkit.catalogue import lessons_folder, title_of
from toolkit.devices import dtype_name, resolve_device, resolve_dtype
from toolkit.files import replace_folder, writable_folder
from toolkit.gradient_check import GradientReport, accumulation_report, add_formulas, gradient_report
from toolkit.options import ERROR_PREFIX, ArgumentParser, Options, add_run_options, options_from
from toolkit.train import History, train
from toolkit.twins import Twins


def start(name: str | os.PathLike, *, steps: int, lr: float | None) -> Lesson:
    """Begin a lesson: read its options from the argument list and return the ``run`` object.

    ``name`` is the lesson's file name without ``.py`` ("02_linear_regression");
    a path to the file (``__file__``) is accepted too. ``steps`` and ``lr`` are
    the lesson's defaults; --steps and --lr override them. A lesson that works
    out its own learning rates passes ``lr=None``. A bad option is one line on
    stderr and exit code 2.

    The flags are read only when this lesson is the program being run
    (``sys.argv[0]`` is the lesson's file, as for ``python lessons/NN_name.py``
    and ``python -m toolkit run N``); imported, or in a notebook, the lesson
    runs with the defaults.
    """
    stem = Path(os.fspath(name)).name.removesuffix(".py")
    script = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    started_as_script = script is not None and script.name.removesuffix(".py") == stem
    path = _lesson_file(name, stem, script if started_as_script else None)
    title = title_of(path) if path is not None else stem
    parser = ArgumentParser(prog=f"python lessons/{stem}.py", description=title)
    add_run_options(parser)
    options = options_from(parser.parse_args(sys.argv[1:] if started_as_script else []))
    if not started_as_script and _in_notebook():
        options = notebook_options(options)
    if _secondary_rank():
        # One of several processes started by torchrun (lesson 20): rank 0 writes the files, the others compute.
        from dataclasses import replace

        options = replace(options, save_figures=False, quiet=True)
    try:
        run = Lesson(stem, options, steps=steps, lr=lr, title=title)
    except ValueError as error:
        parser.error(str(error))
    run.file = path
    if started_as_script:
        _handle_the_end_of_a_script()
    return run


def _terminate(signum, frame):
    raise KeyboardInterrupt     # SIGTERM ends the lesson through the same clean-up as Ctrl-C


def _handle_the_end_of_a_script() -> None:
    """A lesson run as a script: how it ends when it cannot finish.

    An exercise not written yet (or answered so that the lesson cannot go
    on), Ctrl-C, SIGTERM and a number the lesson could not carry through
    each end it with one line instead of a traceback
    (``toolkit.exercises.report_unwritten_exercises``, with
    ``_arithmetic_error_line`` for the last); SIGTERM is handled as Ctrl-C is,
    and nothing is left half-written either way. Output the terminal cannot
    encode is written in ASCII.
    """
    from toolkit.console import fit_output_to_terminal
    from toolkit.exercises import report_unwritten_exercises

    fit_output_to_terminal()
    report_unwritten_exercises(other_errors=_arithmetic_error_line)
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _terminate)


def _arithmetic_error_line(error: BaseException) -> str | None:
    """The line a lesson run as a script ends with for arithmetic that its options drove out of range."""
    if isinstance(error, ArithmeticError):
        return ERROR_PREFIX + arithmetic_line(error, sys.argv[1:])
    return None


def arithmetic_line(error: ArithmeticError, flags: list[str]) -> str:
    """One line for arithmetic that a lesson could not carry through (an overflow, a division by zero).

    Names the line of the lesson where it happened and the options that set
    its numbers (``--lr``, ``--steps``, ``--dtype float32``), which is what to
    change; without any, the lesson itself is at fault.
    """
    frames = traceback.extract_tb(error.__traceback__)
    lessons = [frame for frame in frames if Path(frame.filename).parent.name != "toolkit"] or frames
    place = f" on line {lessons[-1].lineno} of {Path(lessons[-1].filename).name}" if lessons else ""
    words = [word for flag in flags for word in flag.split("=", 1)]
    given = [f"{name} {value}" for name, value in zip(words, words[1:])
             if name in ("--lr", "--steps") or (name, value) == ("--dtype", "float32")]
    what = f"{type(error).__name__}: {error}"
    if not given:
        return f"the lesson stopped{place}: {what}; with its own options this is a bug in the lesson"
    return (f"the lesson stopped{place}: {what}; its numbers do not survive {' '.join(given)}: "
            "choose values nearer the lesson's own")


def check_device(device: str, dtype: str) -> None:
    """ValueError (one line) unless this machine has ``device`` and it can compute in ``dtype``."""
    resolve_dtype(dtype, resolve_device(device))


# In a notebook kernel: the folder to write figures into (none unless set), and no progress bars when set.
FIGURES_VARIABLE, QUIET_VARIABLE = "TOOLKIT_FIGURES", "TOOLKIT_QUIET"


def notebook_options(options: Options) -> Options:
    """The options of a lesson run in a notebook kernel: figures shown inline, no files written.

    A notebook is for reading and trying things, and a kernel's current
    folder is wherever the notebook happens to be, so nothing is written
    there unless asked: the environment variable TOOLKIT_FIGURES=DIR (e.g.
    ``%env TOOLKIT_FIGURES=figures`` in a cell before ``lesson.start``) makes
    the lesson write its figures and summary.json into DIR/<lesson>/ as
    ``python -m toolkit run`` does. TOOLKIT_QUIET=1 turns off the progress
    bars (``python -m toolkit notebooks --execute`` sets it).
    """
    from dataclasses import replace

    from toolkit.options import output_folder

    quiet = options.quiet or os.environ.get(QUIET_VARIABLE, "").strip() not in ("", "0")
    folder = os.environ.get(FIGURES_VARIABLE, "").strip()
    if folder:
        return replace(options, out=output_folder(folder), quiet=quiet)
    return replace(options, save_figures=False, quiet=quiet)


def _lesson_file(name: str | os.PathLike, stem: str, script: Path | None) -> Path | None:
    """The lesson's own file, for its title: the path given, the script running, or lessons/<stem>.py.

    None when none of them is there (a notebook copied away from the
    project): the lesson then runs under its name.
    """
    given = Path(os.fspath(name))
    candidates = [given] if given.suffix == ".py" or len(given.parts) > 1 else []
    if script is not None:
        candidates.append(script)
    try:
        candidates.append(lessons_folder() / f"{stem}.py")
    except ValueError:
        pass
    return next((path.resolve() for path in candidates if path.is_file()), None)


def prepare(options: Options, name: str) -> tuple[torch.device, torch.dtype, Path]:
    """The device, dtype and output folder that ``options`` ask for; ValueError if any cannot be had.

    The output folder is DIR/<lesson name>, DIR being --out or figures/ in
    the current folder; DIR is created and tested for writing only when
    figures are to be saved.
    """
    device = resolve_device(options.device)
    dtype = resolve_dtype(options.dtype, device)
    if options.lr is not None and options.lr > torch.finfo(dtype).max:
        raise ValueError(f"--lr {options.lr:g} does not fit in {dtype_name(dtype)} "
                         f"(largest {torch.finfo(dtype).max:.3g}); use a smaller lr or float64")
    out = options.out if options.out is not None else Path("figures")
    if options.save_figures:
        writable_folder(out)
    return device, dtype, out / name


class Lesson:
    """Options, results and figures of one lesson run."""

    def __init__(self, name: str | Path, options: Options, *, steps: int, lr: float | None,
                 title: str | None = None) -> None:
        if isinstance(name, Path):          # a lesson's file: its title is in it
            name, title = name.stem, title if title is not None else title_of(name)
        self.name = name
        self.title = title if title is not None else name
        self.options = options
        self.device, self.dtype, self.out_dir = prepare(options, self.name)
        self.seed = options.seed
        self.steps = options.steps if options.steps is not None else steps
        self.lr = options.lr if options.lr is not None else lr
        self.quiet = options.quiet
        self.reports: list[GradientReport] = []
        self.histories: dict[str, History] = {}
        self.main: History | None = None
        self.figures: dict[str, bytes] = {}
        self.captions: dict[str, dict] = {}     # figure name -> {"caption": ..., "alt": ...}, see save()
        self.code: dict[str, dict] = {}         # figure name -> {"function": ..., "called_at": ...}, see save()
        self.titles: dict[str, str | None] = {}  # figure name -> the title --no-titles took out of it
        self.drawn: dict[str, object] = {}      # figure name -> the matplotlib Figure itself, as saved
        self.extra: dict[str, object] = {}      # lesson-specific keys for summary.json, see record()
        self.file: Path | None = None           # the lesson's own file, where start() found one
        self.finished = False
        # Lessons use small tensors, for which a second CPU thread only adds waiting (several
        # times slower on a busy machine); one thread also makes the figures' bytes the same
        # whatever the number of cores.
        torch.set_num_threads(1)
        _build_figures_for(options.width)
        print(f"{self.title}  [device {self.device}, {dtype_name(self.dtype)}, seed {self.seed}]")

    def check(self, twins: Twins, x, y, first_layer: bool = False, by_formula: dict | None = None) -> None:
        """Print the three-witness gradient report at the twins' current parameters.

        Then check that gradients accumulate as autograd's do: backward on
        each half of the data, no zero_grad in between, must leave the sum.
        With ``first_layer=True`` the report compares the first layer's dL/dx too.
        ``by_formula`` adds the lesson's own formulas as a fourth witness,
        {row name: tensor} (see ``gradient_check.add_formulas``).
        Both reports are kept in ``self.reports``; nothing is returned, so a
        notebook shows the printed report and no second copy of it.

        If they disagree, ``toolkit.diagnose`` says where the disagreement
        starts and which classic mistake it most likely is; a student
        version of the lesson stops there (``toolkit.exercises``).
        """
        report = gradient_report(twins, x, y, title=f"gradient check, {self.name}", first_layer=first_layer)
        if by_formula:
            add_formulas(report, by_formula)
        half = len(x) // 2
        accumulation = accumulation_report(twins, [(x[:half], y[:half]), (x[half:], y[half:])],
                                           title=f"accumulation check, {self.name}")
        self.reports += [report, accumulation]
        print(report)
        verdict = "they agree" if accumulation.ok else f"THEY DISAGREE (first: {accumulation.first_disagreement})"
        print(f"accumulation: two backward passes without zero_grad, manual vs autograd: {verdict} "
              f"(max |diff| {accumulation.max_abs_twin_diff:.1e})")
        if not (report.ok and accumulation.ok):
            from toolkit.exercises import check_gradients

            check_gradients(self, twins, report, accumulation)

    def check_update(self, update, lr: float | None = None, like: torch.Tensor | None = None) -> None:
        """Check a hand-written SGD step ``update(weight, lr)`` against torch.optim.SGD and print one line.

        Both take one step from the same random tensor with the same
        gradient (``toolkit.exercises.update_report``), of ``like``'s shape
        (the weight the lesson steps) or else (3, 4); ``lr`` defaults to the
        run's. The report is kept in ``self.reports``; a disagreement is
        diagnosed as in ``check``.
        """
        from toolkit.exercises import check_update

        check_update(self, update, self.lr if lr is None else lr, tuple(like.shape) if like is not None else (3, 4))

    def train(self, twins: Twins, x, y, *, lr: float | None = None, steps: int | None = None,
              label: str = "main", main: bool = True, seed: int | None = None, **options) -> History:
        """Train both twins with this run's seed and (unless given) its steps and learning rate.

        ``steps`` overrides the run's step count for this one run (a lesson
        that counts in epochs, say). ``options`` go to ``toolkit.train.train``:
        ``optimizer=``, its options (``momentum=0.9``), ``scheduler=``,
        ``batch_size=``, ``max_grad_norm=``.

        ``seed`` overrides the run's seed for the shuffling of this run's
        mini-batches (several runs that differ only in their batches).
        """
        lr = self.lr if lr is None else lr
        if lr is None:
            raise ValueError(f"{self.name}: no learning rate given to run.train and none set for the lesson")
        steps = self.steps if steps is None else steps
        history = train(twins, x, y, steps=steps, lr=lr, seed=self.seed if seed is None else seed, quiet=self.quiet,
                        desc=f"{self.name} lr={lr:.3g}", **options)
        self.histories[label] = history
        if main:
            self.main = history
        if history.diverged:
            print(f"lr = {lr:.4g}: DIVERGED at step {history.diverged_at_step} "
                  f"(loss {history.loss_manual[-1]:.3g}); stopped there")
        else:
            print(f"lr = {lr:.4g}: {history.steps} steps, final loss {history.final_loss_manual:.6g} (manual), "
                  f"{history.final_loss_autograd:.6g} (autograd); "
                  f"max |grad diff| {history.max_abs_grad_diff:.1e}")
        return history

    def save(self, fig, name: str, *, caption: str | None = None, alt: str | None = None) -> None:
        """Render ``fig`` in every requested format; files are written by finish().

        ``caption`` is the sentence or two a course text prints under the
        figure (what it shows and what to notice); ``alt`` describes the
        image for a reader who cannot see it. Both go into summary.json
        (``captions``) and from there into the figures' index. They may also
        be given later with ``describe``, so that they need not interrupt
        the lesson's code (a lesson gives its captions in one cell at its end).

        With --no-titles the figure's title is taken out of the image and
        put in front of the caption; with --width the figure is given that
        width preset before it is rendered (see ``plots.fit_to_width``).
        With gif among the formats, a figure that draws a descent path on a
        contour also gets ``name.gif``, the path growing step by step
        (``toolkit.animation.path_gif``); other figures get no GIF.

        Where the figure was drawn goes into summary.json too (``code``: the
        figure function, ``toolkit/plots/<module>.py:<name>``, and the lesson
        line that called it), and from there into the index.

        In a notebook the figure is also shown inline, as the PNG that is
        saved. The figure is closed afterwards, so figures do not pile up
        (and pyplot, if something loaded it, does not show it a second time).
        """
        from toolkit.plots import figure_bytes, fit_to_width, style, take_title

        notebook = _in_notebook()
        if not self.options.titles:
            self.titles[name] = take_title(fig)
        self.captions[name] = {"caption": caption, "alt": alt}
        self.code[name] = style.origin(fig)
        self.drawn[name] = fig
        if self.options.save_figures or notebook:

            if self.options.width is not None:
                fit_to_width(fig, self.options.width)
            tight = self.options.width is None      # a preset's files are exactly its width
            if self.options.save_figures:
                for fmt in self.options.formats:
                    if fmt != "gif":
                        self.figures[f"{name}.{fmt}"] = figure_bytes(fig, fmt, tight=tight)
                if "gif" in self.options.formats:
                    from toolkit.animation import path_gif

                    gif = path_gif(fig)     # only a figure with a descent path on a contour has one
                    if gif is not None:
                        self.figures[f"{name}.gif"] = gif
            if notebook:
                from IPython.display import Image, display

                png = self.figures.get(f"{name}.png") if self.options.save_figures else None
                # Rendered at 200 dpi: shown at half its pixel size, it is sharp and of ordinary size.
                display(Image(data=png or figure_bytes(fig, "png", tight=tight), format="png", retina=True))
        pyplot = sys.modules.get("matplotlib.pyplot")
        if pyplot is not None:
            pyplot.close(fig)

    def describe(self, name: str, *, caption: str, alt: str) -> None:
        """Give the saved figure ``name`` its caption and alt text (see ``save``), e.g. at the end of a lesson.

        A name that was never saved is refused (a typo would otherwise give a figure no caption).
        """
        if name not in self.captions:
            saved = ", ".join(self.captions) or "none yet"
            raise ValueError(f"{self.name}: no figure '{name}' was saved to describe (saved: {saved})")
        self.captions[name] = {"caption": caption, "alt": alt}

    def record(self, key: str, value) -> None:
        """Add ``key: value`` to summary.json, for a number this lesson alone computes.

        ``value`` must be plain JSON (numbers, strings, lists, dicts, None),
        e.g. ``run.record("plane", {"kind": "pca", "off_plane": 0.03})``.
        Recording a key again replaces its value; the standard keys
        (``lesson``, ``steps``, ``final_loss``, ...) cannot be replaced.
        """
        self.extra[key] = value

    def summary(self) -> dict:
        main = self.main
        if main is None:
            raise RuntimeError(f"{self.name}: the lesson never called run.train(...)")
        standard = {
            "lesson": self.name,
            "title": self.title,
            "device": str(self.device),
            "dtype": dtype_name(self.dtype),
            "seed": self.seed,
            "steps": self.steps,
            "lr": main.lr,
            "final_loss": {"manual": _finite_or_none(main.final_loss_manual),
                           "autograd": _finite_or_none(main.final_loss_autograd)},
            "max_abs_grad_diff": max(h.max_abs_grad_diff for h in self.histories.values()),
            "diverged": main.diverged,
            "diverged_at_step": main.diverged_at_step,
            "figures": sorted(self.figures),
            "captions": {name: {"caption": _title_into_caption(self.titles.get(name), about["caption"]),
                                "alt": about["alt"]} for name, about in self.captions.items()},
            "code": self.code,
            "command": self.command(),
            "runs": [
                {"label": label, "lr": h.lr, "steps_taken": h.steps, "diverged": h.diverged,
                 "diverged_at_step": h.diverged_at_step,
                 "final_loss": {"manual": _finite_or_none(h.final_loss_manual),
                                "autograd": _finite_or_none(h.final_loss_autograd)}}
                for label, h in self.histories.items()
            ],
        }
        clash = sorted(set(self.extra) & set(standard))
        if clash:
            raise ValueError(f"{self.name}: run.record cannot replace the standard summary key(s) {clash}")
        return {**standard, **self.extra}

    def command(self) -> str:
        """The command that makes this lesson's files again: its number, seed and the options that shape them."""
        options = self.options
        lesson = str(int(self.name[:2])) if self.name[:2].isdigit() else self.name
        flags = [f"--seed {self.seed}"]
        if options.device != "auto":
            flags.append(f"--device {options.device}")
        if options.dtype != "float64":
            flags.append(f"--dtype {options.dtype}")
        if options.steps is not None:
            flags.append(f"--steps {options.steps}")
        if options.lr is not None:
            flags.append(f"--lr {options.lr!r}")
        if options.formats != ("png",):
            flags.append(f"--format {','.join(options.formats)}")
        if options.width is not None:
            flags.append(f"--width {options.width}")
        if not options.titles:
            flags.append("--no-titles")
        return " ".join(["python -m toolkit run", lesson, *flags])

    def finish(self) -> None:
        """Write the figures and summary.json, replacing this lesson's folder as one unit, and say where.

        Nothing is written before this point, and a failure while writing
        leaves the previous set of files as it was. The summary is what
        ``summary()`` returns; nothing is returned here, so a notebook does
        not echo it.
        """
        summary = self.summary()
        self.finished = True
        if self.options.save_figures:
            formats = ", ".join(self.options.formats)
            missing = [fmt for fmt in self.options.formats if not any(f.endswith(f".{fmt}") for f in self.figures)]
            why = " (a gif needs a figure that draws a descent path on a contour)" if "gif" in missing else ""
            if self.captions and not self.figures:       # it drew figures, but none can be made as asked
                print(f"no {formats} files: none of this lesson's {len(self.captions)} figures can be made as "
                      f"{formats}{why}; {self.out_dir} is left as it was")
                return
            if self.captions and missing:
                print(f"no {', '.join(missing)} files: none of this lesson's figures can be made as "
                      f"{', '.join(missing)}{why}")
            text = json.dumps(summary, indent=2, ensure_ascii=False) + "\n"
            try:
                replace_folder(self.out_dir, {**self.figures, "summary.json": text.encode()})
            except OSError as error:
                raise ValueError(f"could not write {self.out_dir}: {error.strerror or error}; "
                                 "the files from before are unchanged") from None
            count = len({file.rsplit(".", 1)[0] for file in self.figures})
            print(f"wrote {count} figures ({len(self.figures)} files: {formats}) and summary.json to {self.out_dir}")
        elif _in_notebook():
            print(f"the figures are shown above; no files were written (to write them into DIR/{self.name}/, "
                  f"run %env {FIGURES_VARIABLE}=DIR before lesson.start)")


def _build_figures_for(width: str | None) -> None:
    """Have the figures of this run built for a course-notes width (or for none), as ``plots.style.use_width``.

    matplotlib is loaded only when a width asks for it; without one, a width left by an earlier lesson
    in this process is cleared if the figures were loaded.
    """
    style = sys.modules.get("toolkit.plots.style")
    if width is not None or style is not None:
        from toolkit.plots import style

        style.use_width(width)


def _in_notebook() -> bool:
    """True inside an IPython kernel (Jupyter, VS Code, Colab), where figures can be shown inline."""
    ipython = sys.modules.get("IPython")     # never imported here: a kernel has always loaded it
    shell = ipython.get_ipython() if ipython is not None and hasattr(ipython, "get_ipython") else None
    return getattr(shell, "kernel", None) is not None


def _secondary_rank() -> bool:
    """True in a process that torchrun started with a rank other than 0."""
    from toolkit.distributed import rank_from_environment

    return rank_from_environment() != 0


def _title_into_caption(title: str | None, caption: str | None) -> str | None:
    """The caption with the figure's title in front ("Title. Caption."), for --no-titles."""
    if not title:
        return caption
    if not caption:
        return title
    stop = "" if title.rstrip()[-1] in ".!?:" else "."
    return f"{title.rstrip()}{stop} {caption}"


def _finite_or_none(value: float) -> float | None:
    # JSON has no NaN or infinity: a diverged loss is written as null.
    return value if math.isfinite(value) else None
