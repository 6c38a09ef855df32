"""``python -m toolkit figures`` runs the lessons side by side in worker processes (--jobs).

The files are the very bytes a run in one process writes; the output comes in
the lessons' order; a bad option stops the command before any worker starts;
and Ctrl-C or SIGTERM stops every worker, leaving the folder as it was: the
lessons publish their folders together, only when all have run.
"""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from toolkit import catalogue, cli, workers

PROJECT = Path(__file__).resolve().parents[1]


def project_with(tmp_path, lessons: dict) -> Path:
    """A project folder of our own whose lessons/ holds ``lessons`` ({file name: text or a lesson to copy})."""
    folder = tmp_path / "project"
    (folder / "lessons").mkdir(parents=True)
    for name, lesson in lessons.items():
        if isinstance(lesson, Path):
            shutil.copy(lesson, folder / "lessons" / name)
        else:
            (folder / "lessons" / name).write_text(lesson, encoding="utf-8")
    return folder


def files_in(folder: Path) -> dict:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


BROKEN = ("# # 03 · A broken lesson\nfrom toolkit import lesson\nrun = lesson.start(__file__, steps=1, lr=0.1)\n"
          "raise ValueError('this lesson is broken')\n")


def test_two_workers_write_the_same_bytes_as_one_process_and_a_failure_stops_no_other(tmp_path, monkeypatch, capsys):
    # Lesson 01 and a broken lesson (copied into a project of our own) in two worker processes, against
    # the same project in this process (`--jobs 1`), with the same options (`figures --device cpu`).
    first = catalogue.find_lesson("1")
    project = project_with(tmp_path, {first.name: first, "03_broken.py": BROKEN})
    monkeypatch.setattr(catalogue, "PROJECT", project)
    monkeypatch.chdir(project)
    here, there = tmp_path / "here", tmp_path / "there"
    assert cli.main(["figures", "--quiet", "--device", "cpu", "--jobs", "1", "--out", str(here)]) == 1
    capsys.readouterr()
    assert cli.main(["figures", "--quiet", "--device", "cpu", "--jobs", "2", "--out", str(there)]) == 1
    in_this_process = files_in(here / first.stem)
    assert len(in_this_process) >= 3 and files_in(there / first.stem) == in_this_process
    printed, err = capsys.readouterr()
    # In the lessons' order, each lesson's output whole and then its status line.
    assert printed.index("01 · ") < printed.index(f"[{first.stem}: ok") < printed.index("03 · A broken lesson") \
        < printed.index("[03_broken: FAILED: this lesson is broken") < printed.index("wrote the index")
    assert "1 lesson(s) failed: 03_broken" in err
    assert sorted(p.name for p in there.iterdir()) == sorted(["README.md", first.stem])


def test_a_device_this_machine_lacks_stops_the_command_before_anything_runs(tmp_path, capsys):
    missing = "mps" if torch.cuda.is_available() else "cuda"
    if missing == "mps" and torch.backends.mps.is_available():
        pytest.skip("this machine has every device")
    out = tmp_path / "out"
    assert cli.main(["figures", "--device", missing, "--quiet", "--out", str(out)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and len(captured.err.strip().splitlines()) == 1
    assert f"device '{missing}' is not available" in captured.err
    assert not out.exists()


def test_the_default_is_one_worker_per_core_and_at_most_one_per_lesson():
    assert workers.default_jobs(1) == 1
    assert 1 <= workers.default_jobs(20) <= workers.MAX_JOBS
    assert workers.default_jobs(20) <= (os.cpu_count() or 1)


# --------------------------------------------------------------------------- Ctrl-C and SIGTERM

QUICK = '''# # 01 · A lesson that finishes at once
from toolkit import data, lesson, manual
from toolkit.twins import make_twins

run = lesson.start(__file__, steps=3, lr=0.1)
x, y = data.noisy_line(n=8, seed=run.seed, device=run.device, dtype=run.dtype)
twins = make_twins([1, 1], loss=manual.MSELoss(), seed=run.seed, device=run.device, dtype=run.dtype)
run.train(twins, x, y)
run.finish()
'''

WAITING = '''# # 02 · A lesson that waits
import time
from pathlib import Path

from toolkit import lesson

run = lesson.start(__file__, steps=1, lr=0.1)
Path(__file__).with_suffix(".started").touch()
time.sleep(120)
'''

# `python -m toolkit figures --jobs 2 --out OUT` over the lessons of the project folder given first.
FIGURES = ("import sys\n"
           "from pathlib import Path\n"
           "from toolkit import catalogue, cli\n"
           "catalogue.PROJECT = Path(sys.argv[1])\n"
           "sys.exit(cli.main(['figures', '--quiet', '--jobs', '2', '--out', sys.argv[2]]))\n")


def children_of(pid: int) -> set[int]:
    return {int(child) for task in Path(f"/proc/{pid}/task").iterdir()
            for child in (task / "children").read_text().split()}


def gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state in ("Z", "X")          # exited, waiting for init to collect its status


def wait_until(condition, seconds: float = 60) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads the worker processes from Linux's /proc")
@pytest.mark.parametrize("how", ["SIGTERM to the command", "Ctrl-C to its process group"])
def test_an_interrupt_stops_every_worker_and_leaves_the_folder_as_it_was(tmp_path, how):
    project = project_with(tmp_path, {"01_quick.py": QUICK, "02_waiting.py": WAITING})
    out = tmp_path / "out"
    running = subprocess.Popen([sys.executable, "-c", FIGURES, str(project), str(out)], cwd=project,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        started = wait_until(lambda: (project / "lessons" / "02_waiting.started").exists()
                             and any(out.glob(".figures.new-*/01_quick/summary.json")))
        assert started, running.stderr.read() if running.poll() is not None else "the lessons did not start"
        spawned = children_of(running.pid)
        assert len(spawned) >= 2                    # the two workers (and multiprocessing's resource tracker)
        if how.startswith("SIGTERM"):
            running.send_signal(signal.SIGTERM)
        else:
            os.killpg(running.pid, signal.SIGINT)   # what a terminal does: the whole process group
        _, err = running.communicate(timeout=60)
    finally:
        if running.poll() is None:
            os.killpg(running.pid, signal.SIGKILL)
    assert running.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert wait_until(lambda: all(gone(pid) for pid in spawned), seconds=10), "a worker outlived the command"
    # Nothing was published (the finished lesson waited for the other), and no hidden folder is left.
    assert list(out.iterdir()) == []
