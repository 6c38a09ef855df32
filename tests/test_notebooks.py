"""A lesson opened as a notebook runs top to bottom: figures inline, every report printed once, no files.

``python -m toolkit notebooks --execute`` makes the notebook (jupytext, written
outside lessons/) and executes it in a real IPython kernel (nbclient, kernel
python3). ``lesson.start`` is also tested on its own: it takes the lesson's
name, reads flags only when the lesson is the program being run, writes no
files in a kernel unless asked, and still works where the lesson's file
cannot be found.
"""

import json
import os
import re
import sys
from pathlib import Path

import nbformat
import pytest

from toolkit import catalogue, cli, lesson, notebooks, train

PROJECT = Path(__file__).resolve().parents[1]
LESSONS = PROJECT / "lessons"
LESSON = LESSONS / "01_one_weight.py"      # the fastest lesson, with its defaults

pytestmark = pytest.mark.xdist_group(__name__)    # the module fixtures are built once: keep it on one xdist worker


def outputs_of(notebook):
    """Every output of every cell, in order."""
    return [output for cell in notebook.cells for output in cell.get("outputs", [])]


def text_of(output) -> str:
    if output.output_type == "stream":
        return output.text
    if output.output_type == "error":
        return "\n".join(output.traceback)
    return output.get("data", {}).get("text/plain", "")


def figures_saved_by(path: Path) -> int:
    """How many figures a lesson saves: its run.save calls."""
    return len(re.findall(r"^run\.save\(", path.read_text(encoding="utf-8"), re.M))


def files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """``python -m toolkit notebooks 1 --execute`` run from an empty folder: (notebook, that folder, exit code)."""
    here = tmp_path_factory.mktemp("notebook")
    before = set(LESSONS.glob("*.ipynb"))
    saved = os.environ.get("JUPYTER_RUNTIME_DIR")
    os.environ["JUPYTER_RUNTIME_DIR"] = str(tmp_path_factory.mktemp("runtime"))   # the kernel's connection file
    previous = Path.cwd()
    os.chdir(here)
    try:
        code = cli.main(["notebooks", "1", "--execute"])
    finally:
        os.chdir(previous)
        if saved is None:
            os.environ.pop("JUPYTER_RUNTIME_DIR", None)
        else:
            os.environ["JUPYTER_RUNTIME_DIR"] = saved
    assert set(LESSONS.glob("*.ipynb")) == before, "a notebook was written into lessons/"
    notebook = nbformat.read(here / "notebooks" / f"{LESSON.stem}.ipynb", as_version=4)
    return notebook, here, code


def test_the_notebook_runs_and_writes_nothing_but_itself(executed):
    notebook, here, code = executed
    assert code == 0
    assert not [o for o in outputs_of(notebook) if o.output_type == "error"]
    assert files_under(here) == [f"notebooks/{LESSON.stem}.ipynb"]     # no figures/, no summary.json
    assert notebook.metadata["kernelspec"]["name"] == "python3"


def test_every_figure_is_shown_inline(executed):
    notebook, _, _ = executed
    images = [o for o in outputs_of(notebook) if "image/png" in o.get("data", {})]
    assert len(images) == figures_saved_by(LESSON) >= 1


def test_reports_are_printed_once_and_nothing_is_dumped(executed):
    notebook, _, _ = executed
    outputs = outputs_of(notebook)
    text = "\n".join(text_of(o) for o in outputs)
    assert text.count(f"gradient check, {LESSON.stem}") == 1, text
    assert text.count("=> all gradients agree") == 1, text
    assert text.count("no files were written") == 1, text
    assert "steps, final loss" in text and "wrote" not in text
    for unwanted in ("Traceback", "IProgress", "GradientReport(", "History(", "'final_loss':", "<Figure", "it/s"):
        assert unwanted not in text, unwanted
    # No cell ends in a value that the notebook echoes, and nothing goes to stderr (no warnings, no bars).
    assert [text_of(o) for o in outputs if o.output_type == "execute_result"] == []
    assert [o.text for o in outputs if o.output_type == "stream" and o.name == "stderr"] == []


def test_a_notebook_holds_the_lessons_cells_and_is_the_same_every_time(tmp_path, capsys):
    import jupytext

    assert cli.main(["notebooks", "2", "--out", str(tmp_path / "a")]) == 0
    assert cli.main(["notebooks", "2", "--out", str(tmp_path / "b")]) == 0
    assert "02_linear_regression.ipynb: written" in capsys.readouterr().out
    first = (tmp_path / "a" / "02_linear_regression.ipynb").read_bytes()
    assert first == (tmp_path / "b" / "02_linear_regression.ipynb").read_bytes()
    notebook = nbformat.reads(first.decode(), as_version=4)
    nbformat.validate(notebook)
    source = jupytext.read(LESSONS / "02_linear_regression.py")
    install, *cells = notebook.cells         # the first cell installs the toolkit where it is missing
    assert install.metadata["tags"] == ["install-toolkit"] and "pip" in install.source
    assert [(c.cell_type, c.source) for c in cells] == [(c.cell_type, c.source) for c in source.cells]
    assert outputs_of(notebook) == [] and notebook.metadata["kernelspec"]["name"] == "python3"
    assert files_under(tmp_path) == ["a/02_linear_regression.ipynb", "b/02_linear_regression.ipynb"]


def test_without_jupytext_the_command_says_what_to_install(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "jupytext", None)       # import jupytext now raises ImportError
    assert cli.main(["notebooks", "1", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and 'pip install -e ".[notebooks]"' in err
    assert files_under(tmp_path) == []


@pytest.mark.slow
def test_every_lesson_runs_as_a_notebook(tmp_path, monkeypatch, capsys):
    # python -m pytest -m slow: every lesson executed, and with --figures its files written as a run writes them.
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    assert cli.main(["notebooks", "--execute", "--figures", "figures"]) == 0, capsys.readouterr().err
    for path in catalogue.lesson_files():
        notebook = nbformat.read(tmp_path / "notebooks" / f"{path.stem}.ipynb", as_version=4)
        assert not [o for o in outputs_of(notebook) if o.output_type == "error"], path.stem
        images = [o for o in outputs_of(notebook) if "image/png" in o.get("data", {})]
        summary = json.loads((tmp_path / "figures" / path.stem / "summary.json").read_text())
        assert len(images) == len(summary["figures"]) == figures_saved_by(path), path.stem


# --------------------------------------------------------------------------- lesson.start on its own

def test_in_a_kernel_the_flags_are_not_the_lessons(monkeypatch, tmp_path, capsys):
    # A kernel's own arguments (-f connection file) are not the lesson's: it runs with its defaults.
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["/somewhere/ipykernel_launcher.py", "-f", "/tmp/kernel-1.json"])
    run = lesson.start("02_linear_regression", steps=80, lr=0.05)
    assert (run.name, run.steps, run.lr, run.seed) == ("02_linear_regression", 80, 0.05, 0)
    assert run.title == catalogue.title_of(LESSONS / "02_linear_regression.py")
    assert capsys.readouterr().out.startswith(run.title)


def test_started_as_a_script_the_flags_are_read(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", [str(LESSONS / "02_linear_regression.py"), "--steps", "7", "--lr", "0.2", "--seed", "3", "--no-figures"])
    run = lesson.start("02_linear_regression", steps=80, lr=0.05)
    assert (run.steps, run.lr, run.seed, run.options.save_figures) == (7, 0.2, 3, False)
    # A path (the older ``lesson.start(__file__, ...)``) names the same lesson.
    by_path = lesson.start(str(LESSONS / "02_linear_regression.py"), steps=80, lr=0.05)
    assert (by_path.name, by_path.title, by_path.steps) == (run.name, run.title, 7)


def test_a_lesson_whose_file_cannot_be_found_runs_under_its_name(monkeypatch, tmp_path):
    # A notebook copied away from the project, with a plain install: no lessons/ anywhere.
    monkeypatch.setattr(catalogue, "PROJECT", tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["ipykernel_launcher.py"])
    run = lesson.start("07_my_own", steps=5, lr=0.1)
    assert (run.name, run.title, run.steps) == ("07_my_own", "07_my_own", 5)
    assert run.out_dir == Path("figures") / "07_my_own"


# --------------------------------------------------------------------------- in a kernel: files and progress bars

def test_in_a_kernel_a_lesson_writes_no_files_unless_asked(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(lesson, "_in_notebook", lambda: True)
    monkeypatch.setattr(sys, "argv", ["/somewhere/ipykernel_launcher.py", "-f", "/tmp/kernel-1.json"])
    monkeypatch.delenv(lesson.FIGURES_VARIABLE, raising=False)
    monkeypatch.delenv(lesson.QUIET_VARIABLE, raising=False)
    run = lesson.start("02_linear_regression", steps=80, lr=0.05)
    assert run.options.save_figures is False and not run.quiet
    assert list(tmp_path.iterdir()) == []
    monkeypatch.setenv(lesson.FIGURES_VARIABLE, str(tmp_path / "asked"))
    monkeypatch.setenv(lesson.QUIET_VARIABLE, "1")
    run = lesson.start("02_linear_regression", steps=80, lr=0.05)
    assert run.options.save_figures is True and run.quiet
    assert run.out_dir == tmp_path / "asked" / "02_linear_regression"
    # Started as a script (or by python -m toolkit run) inside a kernel, it does what its flags say.
    monkeypatch.setattr(sys, "argv", [str(LESSONS / "02_linear_regression.py"), "--steps", "3"])
    run = lesson.start("02_linear_regression", steps=80, lr=0.05)
    assert run.options.save_figures is True and run.out_dir == Path("figures") / "02_linear_regression"


def test_in_a_kernel_without_ipywidgets_there_is_no_bar_and_no_warning(monkeypatch):
    import importlib.util

    monkeypatch.setattr(train, "_in_kernel", lambda: True)
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "ipywidgets" else real(name, *a))
    assert isinstance(train._progress(5, "lesson", quiet=False), range)      # filterwarnings=error: quiet
    assert isinstance(train._progress(5, "lesson", quiet=True), range)


def test_a_notebook_opened_on_its_own_first_installs_the_toolkit(tmp_path, monkeypatch):
    # A notebook opened on Colab had no toolkit to import; its first cell now installs it where it is missing
    import importlib.util
    import subprocess

    monkeypatch.delenv(notebooks.SOURCE_VARIABLE, raising=False)
    assert notebooks.install_source()           # without the variable: the project's origin, or where pip got it
    monkeypatch.setenv(notebooks.SOURCE_VARIABLE, "git+https://example.org/toolkit.git")
    install = notebooks.notebook_of(LESSON).cells[0]
    assert install.cell_type == "code" and install.id == "cell-000"
    ran = []
    monkeypatch.setattr(subprocess, "run", lambda command, **kwargs: ran.append(command))
    exec(compile(install.source, "install cell", "exec"), {})                  # the toolkit is here: nothing
    assert ran == []
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *args: None)
    exec(compile(install.source, "install cell", "exec"), {})                  # a kernel without it: pip install
    assert ran == [[sys.executable, "-m", "pip", "install", "--quiet", "git+https://example.org/toolkit.git"]]


STOPPED_NOTEBOOK = """# %%
from pathlib import Path
Path("started").write_text("yes")
import time
time.sleep(120)
"""


@pytest.mark.parametrize("signal_name", ["SIGINT", "SIGTERM"])
def test_ctrl_c_or_sigterm_during_execute_is_one_line(tmp_path, signal_name):
    # It was some seventy lines of nbclient's errors (DeadKernelError, then an AssertionError)
    import signal
    import subprocess
    import time

    (tmp_path / "project" / "lessons").mkdir(parents=True)
    (tmp_path / "project" / "lessons" / "01_sleeps.py").write_text(STOPPED_NOTEBOOK)
    out = tmp_path / "notebooks"
    code = ("import sys\nfrom pathlib import Path\nfrom toolkit import catalogue, cli\n"
            "catalogue.PROJECT = Path(sys.argv[1])\n"
            "sys.exit(cli.main(['notebooks', '1', '--execute', '--out', sys.argv[2]]))\n")
    env = {**os.environ, "PYTHONPATH": str(PROJECT), "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime")}
    running = subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "project"), str(out)], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    waited = 0.0
    while not (out / "started").exists() and waited < 60 and running.poll() is None:
        time.sleep(0.1)
        waited += 0.1
    running.send_signal(getattr(signal, signal_name))
    _, err = running.communicate(timeout=60)
    assert running.returncode == 130, err
    assert err.strip() == "interrupted: no file was left half-written"
    assert sorted(p.name for p in out.iterdir()) == ["started"]          # no notebook, nothing half-written
