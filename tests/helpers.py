"""Helpers shared by the tests that compare the hand-written layers and losses with torch.

Import them with ``from helpers import ...``: pytest puts tests/ on sys.path
(there is no tests/__init__.py on purpose).

Everything here works in float64 unless told otherwise, and draws its random
numbers on the CPU from a seeded generator, so a test sees the same numbers on
every run and on every device.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from torch import nn

from toolkit import manual

# Default tolerances of ``close``: float64 results that should agree to rounding.
RTOL, ATOL = 1e-10, 1e-12


def gen(seed: int) -> torch.Generator:
    """A CPU generator seeded with ``seed``, to pass to ``randn`` and torch.rand."""
    return torch.Generator().manual_seed(seed)


def randn(shape, generator: torch.Generator, device, *, scale: float = 1.0, dtype=torch.float64) -> torch.Tensor:
    """A tensor of the given ``shape`` with entries drawn from N(0, scale**2).

    The numbers are drawn in float64 on the CPU from ``generator`` and only then
    moved to ``device`` and cast to ``dtype``, so every device and dtype sees
    the same draw.
    """
    return (torch.randn(shape, generator=generator, dtype=torch.float64) * scale).to(device=device, dtype=dtype)


def close(actual: torch.Tensor, expected: torch.Tensor, *, rtol: float = RTOL, atol: float = ATOL,
          magnitude: float = 1.0) -> None:
    """Assert that ``actual`` equals ``expected`` up to rounding (same shape, dtype, device).

    ``magnitude`` is the size of the terms that went into the result: the
    absolute tolerance is ``atol * max(1, magnitude)``, so that entries which
    cancel to almost zero are judged against the rounding of those terms rather
    than against their own (tiny) value.
    """
    torch.testing.assert_close(actual, expected, rtol=rtol, atol=atol * max(1.0, magnitude))


def away_from_zero(x: torch.Tensor, margin: float = 1e-3) -> torch.Tensor:
    """``x`` with every entry pushed ``margin`` further from 0 (same shape).

    For inputs of ReLU: its slope jumps at 0, so a comparison (or a finite
    difference) right at the kink would test nothing useful.
    """
    return torch.where(x >= 0, x + margin, x - margin)


def copy_params(dst: manual.Module, src: nn.Module) -> None:
    """Copy an nn module's parameters into its manual twin, matched by name.

    The two must have the same parameter names in the same order.
    """
    src_params = dict(src.named_parameters())
    names = [name for name, _ in dst.named_parameters()]
    assert names == list(src_params), (names, list(src_params))
    with torch.no_grad():
        for name, param in dst.named_parameters():
            param.copy_(src_params[name])


def autograd_reference(module: nn.Module, x: torch.Tensor, dout: torch.Tensor):
    """What a hand-written layer must return, by autograd on its nn twin.

    ``x`` is the input (any shape the module takes) and ``dout`` the upstream
    gradient, shaped like the output. Returns ``(out, dx, grads)``: the output,
    dL/dx (shaped like ``x``) and a dict of dL/dparam by parameter name.
    The gradients accumulate into the module's ``.grad`` as autograd does.
    """
    x = x.detach().clone().requires_grad_(True)
    out = module(x)
    out.backward(dout)
    return out.detach(), x.grad, {name: p.grad for name, p in module.named_parameters()}


def loss_reference(loss_fn: nn.Module, pred: torch.Tensor, target: torch.Tensor, dloss):
    """What a hand-written loss must return, by autograd on torch's loss.

    ``dloss`` is the upstream gradient of the 0-d loss, a Python float or a 0-d
    tensor. Returns ``(loss, dpred)``: the 0-d loss and dL/dpred (shaped like
    ``pred``).
    """
    pred = pred.detach().clone().requires_grad_(True)
    loss = loss_fn(pred, target)
    loss.backward(torch.as_tensor(dloss, dtype=loss.dtype, device=loss.device))
    return loss.detach(), pred.grad


def run_lesson_script(path, *flags: str) -> dict:
    """Run a lesson file as ``python lessons/NN_name.py FLAGS`` would, in this process; returns its names.

    The argument list and torch's default dtype are put back afterwards.
    """
    import runpy
    import sys

    saved_argv, saved_dtype = sys.argv, torch.get_default_dtype()
    sys.argv = [str(path), *flags]
    try:
        return runpy.run_path(str(path), run_name="__main__")
    finally:
        sys.argv = saved_argv
        torch.set_default_dtype(saved_dtype)


def run_lesson_keeping_figures(path, names, *flags: str) -> tuple[dict, dict]:
    """Run a lesson as a script (see ``run_lesson_script``), keeping the figures that ``plots.<name>`` made
    (``names`` like "planes.path_on_plane" for a shared figure, "sgd.sgd_paths" for a lesson's own).

    Returns the lesson's names and {plot function name: the Figure it returned last}; the plot
    functions are put back afterwards.
    """
    made = {}
    originals = {name: getattr(*_plot_home(name)) for name in names}

    def keeping(name):
        def keep(*args, **kwargs):
            made[name] = originals[name](*args, **kwargs)
            return made[name]
        return keep

    for name in originals:
        setattr(*_plot_home(name), keeping(name))
    try:
        return run_lesson_script(path, *flags), made
    finally:
        for name, original in originals.items():
            setattr(*_plot_home(name), original)


def _plot_home(name: str):
    """Where a lesson finds the plot function ``name``: ("sgd.sgd_paths") -> (toolkit.plots.sgd, "sgd_paths").

    A name without a module ("loss_curves") is one of the shared figures the package itself offers.
    """
    import importlib

    module, _, function = name.rpartition(".")
    return importlib.import_module(f"toolkit.plots.{module}" if module else "toolkit.plots"), function


# --------------------------------------------------------------------------- one run of each lesson, shared

@dataclass
class LessonRun:
    """A lesson run once with its defaults, as ``python -m toolkit figures --device cpu --quiet`` runs it.

    Tests get one from the session fixture ``lesson_runs`` (tests/conftest.py) and share it,
    so they must treat it as read-only: copy a tensor or build new twins before changing anything.
    """
    path: Path          # the lesson's file
    folder: Path        # OUT/<lesson>: its figures and summary.json
    names: dict         # every name the lesson defined, ``names["run"]`` among them
    figures: dict       # {name given to run.save: the Figure it was given}

    @property
    def run(self):
        """The lesson's ``Lesson`` object (its histories, reports and options)."""
        return self.names["run"]

    def summary(self) -> dict:
        """Its summary.json, as written."""
        return json.loads((self.folder / "summary.json").read_text(encoding="utf-8"))


def run_lesson_once(path: Path, out: Path) -> LessonRun:
    """Run the lesson at ``path`` as a script with its defaults (CPU, quiet) into ``out/<lesson>``.

    The figures it saves are kept as well (by the name given to ``run.save``),
    drawn but not rendered: its folder holds summary.json and an empty file in
    place of each image (``figures_unrendered``). ``Lesson.save`` is put back
    afterwards.
    """
    from toolkit.lesson import Lesson

    figures = {}
    original = Lesson.save

    def keeping(self, fig, name, **kwargs):
        figures[name] = fig
        return original(self, fig, name, **kwargs)

    Lesson.save = keeping
    try:
        with figures_unrendered():
            names = run_lesson_script(path, "--device", "cpu", "--quiet", "--out", str(out))
    finally:
        Lesson.save = original
    return LessonRun(Path(path), Path(out) / Path(path).stem, names, figures)


@contextlib.contextmanager
def _renderer(render):
    from toolkit import plots

    original = plots.figure_bytes
    plots.figure_bytes = render
    try:
        yield
    finally:
        plots.figure_bytes = original


def figures_unrendered():
    """While inside, lessons draw their figures but write an empty file in place of each image.

    Rendering is most of a lesson's cost in the suite; the figures are checked
    as drawn (``assert_drawn``, the house style), and rendered where the
    rendering itself is tested (test_lessons, test_figures_jobs,
    test_course_notes, test_diverged_figures). CI renders the whole gallery.
    """
    return _renderer(lambda fig, fmt, tight=True: b"")


def draft_figures():
    """While inside, lessons write their figure files as drafts: rendered once, uncropped, at DRAFT_DPI."""
    from toolkit import plots

    render = plots.figure_bytes
    return _renderer(lambda fig, fmt, tight=True: render(fig, fmt, tight=False, dpi=DRAFT_DPI))


DRAFT_DPI = 30


def assert_drawn(figures: dict, names) -> None:
    """Each figure (``{name: Figure}``, file names ``name.png`` allowed) has a figure's size and something drawn."""
    for name in names:
        fig = figures[str(name).removesuffix(".png")]
        width, height = fig.get_size_inches()
        assert 2.5 < width < 12.5 and 2 < height < 12.5, (name, f"{width:.2f} × {height:.2f} inches")
        panels = [ax for ax in fig.axes if ax.get_visible()]
        drawn = [ax for ax in panels if ax.lines or ax.collections or ax.images or ax.patches or ax.texts or ax.artists]
        assert drawn, f"{name}: no panel has anything drawn on it"


def assert_rendered(folder: Path, names) -> None:
    """Each of these draft PNG files (``draft_figures``) is a figure: of a figure's size, and not blank."""
    import numpy as np
    from matplotlib.image import imread

    for name in names:
        pixels = imread(folder / name)[..., :3]
        height, width = (size / DRAFT_DPI for size in pixels.shape[:2])
        assert 2.5 < width < 12.5 and 2 < height < 12.5, (name, f"{width:.2f} × {height:.2f} inches")
        rgb = (pixels.reshape(-1, 3) * 255).astype(np.uint32)
        assert len(np.unique(rgb[:, 0] << 16 | rgb[:, 1] << 8 | rgb[:, 2])) > 20, f"{name} looks blank"
        assert pixels.std() > 0.05, f"{name} looks blank"


def student_file(path: Path, folder: Path, *, solve_others: bool = True, **bodies: str) -> Path:
    """The lesson at ``path`` as a student gets it (``exercises``), written into ``folder``.

    Each exercise named in ``bodies`` holds that body; every other one holds
    the lesson's own solution (``solve_others``) or is left as its stub.
    """
    from toolkit import exercises

    text = path.read_text(encoding="utf-8")
    lines, student = text.splitlines(), exercises.student_version(text)
    for exercise in exercises.find_exercises(text):
        if exercise.name in bodies:
            body = bodies[exercise.name]
        elif solve_others:
            body = "\n".join(line[len(exercise.indent):] for line in lines[exercise.start:exercise.end - 1])
        else:
            continue
        student = exercises.fill_exercise(student, exercise.name, body)
    file = Path(folder) / path.name
    file.write_text(student, encoding="utf-8")
    return file


def lesson_group(stem: str):
    """The mark that keeps the tests of one lesson on one pytest-xdist worker: ``lesson_group(PATH.stem)``.

    Tests that use ``lesson_runs`` for a lesson carry it, so the lesson runs once in the
    whole parallel suite (once per worker that runs one of them), not once per worker.
    """
    return pytest.mark.xdist_group(stem)
