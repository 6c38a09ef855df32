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

import asyncio
import contextlib
import os
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

from toolkit.catalogue import PROJECT, lesson_files
from toolkit.files import writable_folder
from toolkit.options import ERROR_PREFIX

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


# The first cell of every notebook: a notebook opened on its own (Colab, a fresh kernel) installs the toolkit,
# lessons included, when it is missing; where the toolkit is installed it does nothing.
INSTALL_CELL = """\
# The toolkit this notebook runs on, installed first if this kernel lacks it (Colab, say).
import importlib.util
import subprocess
import sys

if importlib.util.find_spec("toolkit") is None:
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", {source!r}], check=True)"""
SOURCE_VARIABLE = "TOOLKIT_SOURCE"       # where the install cell installs from, if set (e.g. git+https://...)
DISTRIBUTION = "nn-optimisation-toolkit"


def install_source() -> str:
    """What the install cell hands to pip: where this toolkit came from.

    In order: the environment variable TOOLKIT_SOURCE; the project's git
    remote ``origin`` (as ``git+URL``); the URL pip installed it from (PEP 610:
    a git URL at its commit, or a local folder); else the distribution's name.
    """
    import json
    import subprocess
    from importlib import metadata

    given = os.environ.get(SOURCE_VARIABLE, "").strip()
    if given:
        return given
    if (PROJECT / ".git").exists():
        try:
            remote = subprocess.run(["git", "-C", str(PROJECT), "remote", "get-url", "origin"], capture_output=True,
                                    text=True, timeout=10)
            if remote.returncode == 0 and remote.stdout.strip():
                return f"git+{remote.stdout.strip()}"
        except (OSError, subprocess.SubprocessError):
            pass
    try:
        direct = json.loads(metadata.distribution(DISTRIBUTION).read_text("direct_url.json") or "null")
    except (metadata.PackageNotFoundError, ValueError):
        direct = None
    if isinstance(direct, dict) and direct.get("url"):
        vcs = direct.get("vcs_info")
        if isinstance(vcs, dict) and vcs.get("vcs") == "git":
            return f"git+{direct['url']}@{vcs.get('commit_id')}" if vcs.get("commit_id") else f"git+{direct['url']}"
        return direct["url"]
    return DISTRIBUTION


def notebook_of(path: Path):
    """The lesson file at ``path`` as a notebook (nbformat 4), with a python3 kernel and stable cell ids.

    Its first cell installs the toolkit where the kernel lacks it
    (``INSTALL_CELL``, from ``install_source()``), so that the notebook runs
    when opened on its own. The ids are the cell numbers, so the same lesson
    always gives the same file.
    """
    _require("jupytext")
    import jupytext
    import nbformat

    notebook = jupytext.read(path, fmt="py:percent")
    notebook.metadata["kernelspec"] = dict(KERNEL)
    install = nbformat.v4.new_code_cell(INSTALL_CELL.format(source=install_source()))
    install.metadata["tags"] = ["install-toolkit"]
    notebook.cells.insert(0, install)
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
    client = _interruptible(NotebookClient)(notebook, kernel_name="python3", timeout=CELL_TIMEOUT,
                                            record_timing=False, resources={"metadata": {"path": str(folder)}},
                                            extra_arguments=["--IPKernelApp.log_level=ERROR"])
    handlers = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        client.execute(env=environment)
    except BaseException:
        if client.received is not None:      # Ctrl-C or SIGTERM: whatever nbclient raised after it
            raise KeyboardInterrupt from None
        raise
    finally:
        if threading.current_thread() is threading.main_thread():
            for number, handler in handlers.items():     # nbclient leaves the defaults behind
                signal.signal(number, handler)
    return notebook


def _interruptible(client_class):
    """nbclient's client, but Ctrl-C and SIGTERM cancel the run and are remembered (``received``).

    nbclient's own handler shuts the kernel down under the running cell,
    which then fails with errors of its own (DeadKernelError, an
    AssertionError in its clean-up): some seventy lines of traceback for a
    Ctrl-C. Here the signal cancels the run instead; the kernel is shut down
    as after any run, and ``execute`` turns what follows into the interrupt
    it was, which the command line reports in one line.
    """

    class Interruptible(client_class):
        received: int | None = None

        async def async_start_new_kernel(self, **kwargs):
            task, loop = asyncio.current_task(), asyncio.get_running_loop()
            for number in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(RuntimeError, NotImplementedError, ValueError):
                    loop.add_signal_handler(number, self._cancel, number, task)
            await super().async_start_new_kernel(**kwargs)

        def _cancel(self, number: int, task) -> None:
            self.received = number
            self.shutdown_kernel = "immediate"      # no waiting for a busy kernel to answer, and no noise from it
            task.cancel()

    return Interruptible


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
        print(f"{ERROR_PREFIX}{len(failed)} notebook(s) failed to run: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


def all_lessons() -> list[Path]:
    files = lesson_files()
    if not files:
        raise ValueError(f"no lessons found in {PROJECT / 'lessons'}")
    return files
