"""The lessons as Jupyter notebooks: ``python -m toolkit notebooks [N] [--out DIR] [--execute]``.

Each lesson is a jupytext percent-format script; jupytext turns it into an
``.ipynb`` (one notebook cell per ``# %%`` cell), written to DIR (default
``notebooks/`` in the current folder, never beside the lessons). With
``--execute`` every notebook is run top to bottom in a fresh Jupyter kernel
(nbclient, kernel ``python3``) before it is saved, so it opens with its
printed reports and its figures inline.

In a kernel a lesson shows its figures and writes no files (see
``toolkit.lesson.start``); ``--figures DIR`` asks it to write them as
``python -m toolkit run`` would, into DIR/<lesson>/. Batch execution shows
no progress bars (nobody watches them, and a widget would stay behind in the
saved notebook as dead output).

Each notebook is written whole or not at all: into a temporary file beside
it, renamed into place when complete.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

from toolkit.catalogue import PROJECT, lesson_files
from toolkit.files import writable_folder

NEEDS = "the notebooks command needs jupytext, nbclient and ipykernel: python -m pip install -e \".[notebooks]\""
KERNEL = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
CELL_TIMEOUT = 600      # seconds a cell may run; a lesson takes a few


def _require(*modules: str) -> None:
    """Import the optional packages the command needs, or stop with one line saying how to get them."""
    import importlib

    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError:
            raise ValueError(NEEDS) from None


def notebook_of(path: Path):
    """The lesson file at ``path`` as a notebook (nbformat 4), with a python3 kernel and stable cell ids.

    The ids are the cell numbers, so the same lesson always gives the same file.
    """
    _require("jupytext")
    import jupytext

    notebook = jupytext.read(path, fmt="py:percent")
    notebook.metadata["kernelspec"] = dict(KERNEL)
    for index, cell in enumerate(notebook.cells):
        cell["id"] = f"cell-{index:03d}"
    return notebook


def execute(notebook, folder: Path, *, figures: Path | None = None):
    """Run ``notebook`` top to bottom in a fresh python3 kernel started in ``folder``; returns it with its outputs.

    The kernel imports the toolkit this command runs from. ``figures``: a
    folder the lesson also writes its figures and summary.json into (by
    default a lesson in a kernel writes nothing). Raises nbclient's
    CellExecutionError at the first cell that fails; the notebook then holds
    the outputs up to that cell.
    """
    _require("nbclient", "ipykernel")
    from nbclient import NotebookClient

    environment = dict(os.environ)
    package_root = str(Path(__file__).resolve().parent.parent)
    environment["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, environment.get("PYTHONPATH")]))
    environment["TOOLKIT_QUIET"] = "1"          # no progress bars in a notebook nobody watches run
    environment.pop("TOOLKIT_FIGURES", None)
    if figures is not None:
        environment["TOOLKIT_FIGURES"] = str(Path(figures).resolve())
    # The kernel's own log (a warning that it talks over local TCP, say) is not the lesson's output.
    client = NotebookClient(notebook, kernel_name="python3", timeout=CELL_TIMEOUT, record_timing=False,
                            resources={"metadata": {"path": str(folder)}},
                            extra_arguments=["--IPKernelApp.log_level=ERROR"])
    client.execute(env=environment)
    return notebook


def write_notebook(notebook, target: Path) -> None:
    """Write ``notebook`` to ``target`` whole or not at all (a temporary file beside it, renamed into place)."""
    import nbformat

    text = nbformat.writes(notebook)
    if not text.endswith("\n"):
        text += "\n"
    target = Path(target)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(temporary, 0o666 & ~mask)       # what an ordinary write gives (0644 under umask 022)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def make_notebooks(paths: list[Path], out: Path, *, run: bool = False, figures: Path | None = None) -> int:
    """Write ``out/<lesson>.ipynb`` for every lesson file in ``paths``, executed when ``run``; returns the exit code.

    One status line per lesson; a lesson that fails to run still gets its
    notebook (with the error in it) and the others go on. 0 when every
    notebook was made (and ran), 1 otherwise.
    """
    _require("jupytext", "nbformat", *(("nbclient", "ipykernel") if run else ()))
    out = writable_folder(Path(out))
    if figures is not None:
        writable_folder(Path(figures))
    failed = []
    for path in paths:
        started = time.perf_counter()
        target = out / f"{path.stem}.ipynb"
        notebook = notebook_of(path)
        status = "written"
        if run:
            from nbclient.exceptions import CellExecutionError

            try:
                execute(notebook, out, figures=figures)
                status = "executed"
            except CellExecutionError as error:
                failed.append(path.stem)
                reason = getattr(error, "ename", "") or "error"
                status = f"FAILED: a cell raised {reason} (the notebook holds the traceback)"
        write_notebook(notebook, target)
        print(f"{target}: {status}, {time.perf_counter() - started:.1f} s", flush=True)
    if failed:
        print(f"python -m toolkit: {len(failed)} notebook(s) failed to run: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


def all_lessons() -> list[Path]:
    files = lesson_files()
    if not files:
        raise ValueError(f"no lessons found in {PROJECT / 'lessons'}")
    return files
