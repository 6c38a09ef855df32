"""A lesson opened as a notebook runs top to bottom: figures inline, every report printed once.

The notebook is made as the README says (jupytext, written outside
lessons/) and executed in a real IPython kernel (nbclient, kernel python3).
``lesson.start`` is also tested on its own: it takes the lesson's name, reads
flags only when the lesson is the program being run, and still works where
the lesson's file cannot be found.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from toolkit import catalogue, lesson

PROJECT = Path(__file__).resolve().parents[1]
LESSONS = PROJECT / "lessons"
LESSON = LESSONS / "02_linear_regression.py"      # the README's example, and one of the fastest


def outputs_of(notebook):
    """Every output of every cell, in order."""
    return [output for cell in notebook.cells for output in cell.get("outputs", [])]


def text_of(output) -> str:
    if output.output_type == "stream":
        return output.text
    if output.output_type == "error":
        return "\n".join(output.traceback)
    return output.get("data", {}).get("text/plain", "")


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """Lesson 02, converted by jupytext into tmp/notebooks/ and executed there: (notebook, its folder)."""
    folder = tmp_path_factory.mktemp("notebook") / "notebooks"
    notebook_file = folder / f"{LESSON.stem}.ipynb"
    folder.mkdir()                 # as the README's command does: jupytext does not make the folder
    before = set(LESSONS.glob("*.ipynb"))
    converted = subprocess.run([sys.executable, "-m", "jupytext", "--to", "notebook", "--output", str(notebook_file),
                                str(LESSON.relative_to(PROJECT))], cwd=PROJECT, capture_output=True, text=True,
                               timeout=120)
    assert converted.returncode == 0, converted.stderr
    assert set(LESSONS.glob("*.ipynb")) == before, "the conversion wrote a notebook into lessons/"

    notebook = nbformat.read(notebook_file, as_version=4)
    # The kernel imports this checkout's toolkit, whatever is installed, and keeps its connection file here.
    saved = {name: os.environ.get(name) for name in ("PYTHONPATH", "JUPYTER_RUNTIME_DIR")}
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT), saved["PYTHONPATH"]]))
    os.environ["JUPYTER_RUNTIME_DIR"] = str(folder.parent / "runtime")
    try:
        NotebookClient(notebook, kernel_name="python3", timeout=180,
                       resources={"metadata": {"path": str(folder)}}).execute()   # raises on the first error
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    assert set(LESSONS.glob("*.ipynb")) == before, "running the notebook wrote a notebook into lessons/"
    return notebook, folder


def test_the_notebook_runs_and_writes_what_a_run_writes(executed):
    notebook, folder = executed
    assert not [o for o in outputs_of(notebook) if o.output_type == "error"]
    summary = json.loads((folder / "figures" / LESSON.stem / "summary.json").read_text())
    assert summary["lesson"] == LESSON.stem and summary["title"] == catalogue.title_of(LESSON)
    assert summary["steps"] == 80 and summary["lr"] == 0.05      # a notebook runs with the lesson's defaults
    assert summary["figures"] and all(name.endswith(".png") for name in summary["figures"])


def test_every_figure_is_shown_inline(executed):
    notebook, folder = executed
    saved = json.loads((folder / "figures" / LESSON.stem / "summary.json").read_text())["figures"]
    images = [o for o in outputs_of(notebook) if "image/png" in o.get("data", {})]
    assert len(images) >= len(saved) >= 1


def test_reports_are_printed_once_and_nothing_is_dumped(executed):
    notebook, folder = executed
    saved = json.loads((folder / "figures" / LESSON.stem / "summary.json").read_text())["figures"]
    outputs = outputs_of(notebook)
    text = "\n".join(text_of(o) for o in outputs)
    assert text.count(f"gradient check, {LESSON.stem}") == 1, text
    assert text.count("=> all gradients agree") == 1, text
    assert text.count(f"wrote {len(saved)} figures") == 1, text
    for unwanted in ("Traceback", "IProgress", "GradientReport(", "History(", "'final_loss':", "<Figure"):
        assert unwanted not in text, unwanted
    # No cell ends in a value that the notebook echoes, and nothing goes to stderr (no warnings).
    assert [text_of(o) for o in outputs if o.output_type == "execute_result"] == []
    assert [o.text for o in outputs if o.output_type == "stream" and o.name == "stderr"] == []


# --------------------------------------------------------------------------- lesson.start on its own

def test_in_a_kernel_the_flags_are_not_the_lessons(monkeypatch, tmp_path, capsys):
    # A kernel's own arguments (-f connection file) are not the lesson's: it runs with its defaults.
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["/somewhere/ipykernel_launcher.py", "-f", "/tmp/kernel-1.json"])
    run = lesson.start("02_linear_regression", steps=80, lr=0.05)
    assert (run.name, run.steps, run.lr, run.seed) == ("02_linear_regression", 80, 0.05, 0)
    assert run.title == catalogue.title_of(LESSON)
    assert capsys.readouterr().out.startswith(run.title)


def test_started_as_a_script_the_flags_are_read(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", [str(LESSON), "--steps", "7", "--lr", "0.2", "--seed", "3", "--no-figures"])
    run = lesson.start("02_linear_regression", steps=80, lr=0.05)
    assert (run.steps, run.lr, run.seed, run.options.save_figures) == (7, 0.2, 3, False)
    # A path (the older ``lesson.start(__file__, ...)``) names the same lesson.
    by_path = lesson.start(str(LESSON), steps=80, lr=0.05)
    assert (by_path.name, by_path.title, by_path.steps) == (run.name, run.title, 7)


def test_a_lesson_whose_file_cannot_be_found_runs_under_its_name(monkeypatch, tmp_path):
    # A notebook copied away from the project, with a plain install: no lessons/ anywhere.
    monkeypatch.setattr(catalogue, "PROJECT", tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["ipykernel_launcher.py"])
    run = lesson.start("07_my_own", steps=5, lr=0.1)
    assert (run.name, run.title, run.steps) == ("07_my_own", "07_my_own", 5)
    assert run.out_dir == Path("figures") / "07_my_own"
