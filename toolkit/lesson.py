"""What a lesson script needs around its own story: options, training, saving.

A lesson starts with ``run = lesson.start(__file__, steps=..., lr=...)`` and
ends with ``run.finish()``. In between it reads like a worked example; the
``run`` object supplies the device, dtype, seed, step count and learning
rate. The options come from the lesson's own argument list, whether it was
started as a script (``python lessons/02_linear_regression.py --seed 3``) or
by ``python -m toolkit run 2 --seed 3``, which runs the same file with those
flags; imported or opened as a notebook, it uses the defaults.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import torch

from toolkit.catalogue import title_of
from toolkit.devices import dtype_name, resolve_device, resolve_dtype
from toolkit.files import replace_folder, writable_folder
from toolkit.gradient_check import GradientReport, accumulation_report, gradient_report
from toolkit.options import ArgumentParser, Options, add_run_options, options_from
from toolkit.train import History, train
from toolkit.twins import Twins


def start(file: str, *, steps: int, lr: float | None) -> Lesson:
    """Begin a lesson: read its options from the argument list and return the ``run`` object.

    ``steps`` and ``lr`` are the lesson's defaults; --steps and --lr override
    them. A lesson that works out its own learning rates passes ``lr=None``.
    A bad option is one line on stderr and exit code 2.
    """
    path = Path(file).resolve()
    started_as_script = bool(sys.argv) and Path(sys.argv[0]).resolve() == path
    parser = ArgumentParser(prog=f"python lessons/{path.name}", description=title_of(path))
    add_run_options(parser)
    options = options_from(parser.parse_args(sys.argv[1:] if started_as_script else []))
    try:
        return Lesson(path, options, steps=steps, lr=lr)
    except ValueError as error:
        parser.error(str(error))


def prepare(options: Options, name: str) -> tuple[torch.device, torch.dtype, Path]:
    """The device, dtype and output folder that ``options`` ask for; ValueError if any cannot be had.

    The output folder is DIR/<lesson name>, DIR being --out or figures/ in
    the current folder; DIR is created and tested for writing only when
    figures are to be saved.
    """
    device = resolve_device(options.device)
    dtype = resolve_dtype(options.dtype, device)
    out = options.out if options.out is not None else Path("figures")
    if options.save_figures:
        writable_folder(out)
    return device, dtype, out / name


class Lesson:
    """Options, results and figures of one lesson run."""

    def __init__(self, path: Path, options: Options, *, steps: int, lr: float | None) -> None:
        self.name = path.stem
        self.title = title_of(path)
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
        self.finished = False
        print(f"{self.title}  [device {self.device}, {dtype_name(self.dtype)}, seed {self.seed}]")

    def check(self, twins: Twins, x, y, first_layer: bool = False) -> GradientReport:
        """Print the three-witness gradient report at the twins' current parameters.

        Then check that gradients accumulate as autograd's do: backward on
        each half of the data, no zero_grad in between, must leave the sum.
        With ``first_layer=True`` the report compares the first layer's dL/dx too.
        """
        report = gradient_report(twins, x, y, title=f"gradient check, {self.name}", first_layer=first_layer)
        half = len(x) // 2
        accumulation = accumulation_report(twins, [(x[:half], y[:half]), (x[half:], y[half:])],
                                           title=f"accumulation check, {self.name}")
        self.reports += [report, accumulation]
        print(report)
        verdict = "they agree" if accumulation.ok else f"THEY DISAGREE (first: {accumulation.first_disagreement})"
        print(f"accumulation: two backward passes without zero_grad, manual vs autograd: {verdict} "
              f"(max |diff| {accumulation.max_abs_twin_diff:.1e})")
        return report

    def train(self, twins: Twins, x, y, *, lr: float | None = None, label: str = "main", main: bool = True,
              **options) -> History:
        """Train both twins with this run's steps, seed and (unless given) learning rate.

        ``options`` go to ``toolkit.train.train``: ``optimizer=``, its
        options (``momentum=0.9``), ``scheduler=``, ``batch_size=``.
        """
        lr = self.lr if lr is None else lr
        if lr is None:
            raise ValueError(f"{self.name}: no learning rate given to run.train and none set for the lesson")
        history = train(twins, x, y, steps=self.steps, lr=lr, seed=self.seed, quiet=self.quiet,
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

    def save(self, fig, name: str) -> None:
        """Render ``fig`` in every requested format; files are written by finish()."""
        if self.options.save_figures:
            from toolkit.plots import figure_bytes

            for fmt in self.options.formats:
                self.figures[f"{name}.{fmt}"] = figure_bytes(fig, fmt)

    def summary(self) -> dict:
        main = self.main
        if main is None:
            raise RuntimeError(f"{self.name}: the lesson never called run.train(...)")
        return {
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
            "runs": [
                {"label": label, "lr": h.lr, "steps_taken": h.steps, "diverged": h.diverged,
                 "diverged_at_step": h.diverged_at_step,
                 "final_loss": {"manual": _finite_or_none(h.final_loss_manual),
                                "autograd": _finite_or_none(h.final_loss_autograd)}}
                for label, h in self.histories.items()
            ],
        }

    def finish(self) -> dict:
        """Write the figures and summary.json, replacing this lesson's folder as one unit, and say where.

        Nothing is written before this point, and a failure while writing
        leaves the previous set of files as it was.
        """
        summary = self.summary()
        self.finished = True
        if self.options.save_figures:
            text = json.dumps(summary, indent=2, ensure_ascii=False) + "\n"
            try:
                replace_folder(self.out_dir, {**self.figures, "summary.json": text.encode()})
            except OSError as error:
                raise ValueError(f"could not write {self.out_dir}: {error.strerror or error}; "
                                 "the files from before are unchanged") from None
            count = len(self.figures) // max(len(self.options.formats), 1)
            formats = ", ".join(self.options.formats)
            print(f"wrote {count} figures ({len(self.figures)} files: {formats}) and summary.json to {self.out_dir}")
        return summary


def _finite_or_none(value: float) -> float | None:
    # JSON has no NaN or infinity: a diverged loss is written as null.
    return value if math.isfinite(value) else None
