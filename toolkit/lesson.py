"""What a lesson script needs around its own story: options, training, saving.

A lesson starts with ``run = lesson.start(__file__, steps=..., lr=...)`` and
ends with ``run.finish()``. In between it reads like a worked example; the
``run`` object supplies the device, dtype, seed, step count and learning
rate, whether the lesson was started as a script, from a notebook, or by
``python -m toolkit run N``.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import torch

from toolkit.devices import dtype_name, resolve_device, resolve_dtype
from toolkit.errors import UsageError
from toolkit.files import atomic_write_bytes, writable_folder
from toolkit.gradient_check import GradientReport, accumulation_report, gradient_report
from toolkit.options import ArgumentParser, Options, add_run_options, options_from
from toolkit.train import History, train

PROJECT = Path(__file__).resolve().parent.parent
LESSONS = PROJECT / "lessons"
FIGURES = PROJECT / "figures"

# Set by the command line just before it runs a lesson file; read by start().
given_options: Options | None = None
# The lesson that started last, so the command line can read its results.
current: Lesson | None = None


def start(file: str, *, steps: int, lr: float | None) -> Lesson:
    """Begin a lesson: work out its options and return the ``run`` object.

    ``steps`` and ``lr`` are the lesson's defaults; --steps and --lr override
    them. A lesson that works out its own learning rates passes ``lr=None``.
    """
    global current
    path = Path(file).resolve()
    if given_options is not None:
        options = given_options
    elif sys.argv and Path(sys.argv[0]).resolve() == path:
        # Started as `python lessons/NN_name.py [flags]`.
        parser = ArgumentParser(prog=f"python lessons/{path.name}", description=title_of(path))
        add_run_options(parser)
        options = options_from(parser.parse_args(sys.argv[1:]))
    else:
        options = Options()          # imported, or opened as a notebook
    try:
        current = Lesson(path, options, steps=steps, lr=lr)
    except UsageError as error:
        if given_options is not None:
            raise
        sys.exit(f"error: {error}")
    return current


def title_of(path: Path) -> str:
    """The lesson's title: its first markdown heading ("# # 02 · Linear regression")."""
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# # "):
            return line[4:].strip()
    return path.stem


class Lesson:
    """Options, results and figures of one lesson run."""

    def __init__(self, path: Path, options: Options, *, steps: int, lr: float | None) -> None:
        self.name = path.stem
        self.title = title_of(path)
        self.options = options
        self.device = resolve_device(options.device)
        self.dtype = resolve_dtype(options.dtype, self.device)
        self.seed = options.seed
        self.steps = options.steps if options.steps is not None else steps
        self.lr = options.lr if options.lr is not None else lr
        self.quiet = options.quiet
        self.out_dir = (options.out if options.out is not None else FIGURES) / self.name
        if options.save_figures:
            writable_folder(self.out_dir)
        self.reports: list[GradientReport] = []
        self.histories: dict[str, History] = {}
        self.main: History | None = None
        self.figures: dict[str, bytes] = {}
        print(f"{self.title}  [device {self.device}, {dtype_name(self.dtype)}, seed {self.seed}]")

    def check(self, manual_net, torch_net, manual_loss, torch_loss, x, y) -> GradientReport:
        """Print the three-witness gradient report at the networks' current parameters.

        Then check that gradients accumulate as autograd's do: backward on
        each half of the data, no zero_grad in between, must leave the sum.
        """
        report = gradient_report(manual_net, torch_net, manual_loss, torch_loss, x, y,
                                 title=f"gradient check, {self.name}")
        half = len(x) // 2
        accumulation = accumulation_report(manual_net, torch_net, manual_loss, torch_loss,
                                           [(x[:half], y[:half]), (x[half:], y[half:])],
                                           title=f"accumulation check, {self.name}")
        self.reports += [report, accumulation]
        print(report)
        verdict = "they agree" if accumulation.ok else "THEY DISAGREE"
        print(f"accumulation: two backward passes without zero_grad, manual vs autograd: {verdict} "
              f"(max |diff| {accumulation.max_abs_twin_diff:.1e})")
        return report

    def train(self, manual_net, torch_net, manual_loss, torch_loss, x, y, *,
              lr: float | None = None, label: str = "main", main: bool = True, **options) -> History:
        """Train both twins with this run's steps, seed and (unless given) learning rate."""
        lr = self.lr if lr is None else lr
        if lr is None:
            raise ValueError(f"{self.name}: no learning rate given to run.train and none set for the lesson")
        history = train(manual_net, torch_net, manual_loss, torch_loss, x, y, steps=self.steps, lr=lr,
                        seed=self.seed, quiet=self.quiet, desc=f"{self.name} lr={lr:.3g}", **options)
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
        """Write the figures and summary.json (each atomically) and report where."""
        summary = self.summary()
        if self.options.save_figures:
            for name, data in self.figures.items():
                atomic_write_bytes(self.out_dir / name, data)
            text = json.dumps(summary, indent=2, ensure_ascii=False) + "\n"
            atomic_write_bytes(self.out_dir / "summary.json", text.encode())
            print(f"wrote {len(self.figures)} figure(s) and summary.json to {self.out_dir}")
        return summary


def _finite_or_none(value: float) -> float | None:
    # JSON has no NaN or infinity: a diverged loss is written as null.
    return value if math.isfinite(value) else None


def lesson_files() -> list[Path]:
    """The numbered lesson scripts, in order."""
    return sorted(p for p in LESSONS.glob("[0-9][0-9]_*.py"))
