"""Lesson 20, data-parallel SGD: what the lesson claims, checked.

* On k worker processes both twins take exactly one process's full-batch
  steps (to float64 rounding), every worker holds the same parameters bit
  for bit, and gradient accumulation over the same shares matches too; for
  1, 3 and 4 workers as for the default 2.
* The limits of the linear scaling rule are the chain's formulas, and the
  runs fall on the predicted sides of them: without warmup the first steps
  blow up past 1/(a·w² − c), with warmup training holds up to 2/λmax of the
  valley floor, and from next to the minimum a rate past that limit never
  settles.
* A step's noise is lesson 06's σ²/b·(N − b)/(N − 1) times the rate squared.
* DDP all-reduces 8 bytes per float64 parameter per step.
* A worker killed mid-run ends `python -m toolkit run 20` with one line and
  exit code 1, and no worker is left behind; a bad TOOLKIT_WORLD_SIZE is
  one line and exit code 2; a wrong average over the workers is named.
"""

import os
import re
import signal
import subprocess
import sys
import time

import pytest
import torch
from helpers import lesson_group

from toolkit import cli, distributed, exercises
from toolkit.catalogue import lessons_folder
from toolkit.options import Options

LESSON = lessons_folder() / "20_data_parallel.py"
PROJECT = lessons_folder().parent


pytestmark = lesson_group(LESSON.stem)


@pytest.fixture(scope="module")
def lesson(lesson_runs):
    """The lesson's shared run with its defaults (read-only): its names and summary.json.

    (Its figures are checked with every other lesson's, in test_lessons.py.)
    """
    run = lesson_runs(LESSON.stem)
    return run.names, run.summary()


def test_two_workers_take_one_process_steps(lesson):
    names, summary = lesson
    assert summary["world_size"] == 2
    largest = summary["max_abs_diff_vs_one_process"]
    assert set(largest) == {"manual, workers", "autograd, workers", "manual, accumulated", "autograd, accumulated",
                            "between_workers"}
    assert largest.pop("between_workers") == 0.0
    assert all(0 <= value <= 1e-12 for value in largest.values())
    titles = [report.title for report in names["run"].reports]
    assert any(t.startswith("all-reduce check") for t in titles)
    assert any(t.startswith("data-parallel check") for t in titles)
    assert all(report.ok for report in names["run"].reports)
    assert names["run"].main.steps == 30 and not names["run"].main.diverged


@pytest.mark.parametrize("world_size", [1, 3, 4])
def test_other_numbers_of_workers_take_the_same_steps(lesson, world_size):
    names, _ = lesson
    steps = 3
    results = distributed.launch(names["data_parallel_worker"], world_size,
                                 args=(names["moons_twins"]("cpu"), names["x"], names["y"], steps, names["run"].lr))
    for twin in ("manual", "autograd"):
        reference = names["one_process"][twin][:steps + 1]
        for result in results:
            torch.testing.assert_close(result["paths"][twin], reference, rtol=0, atol=1e-12)
    accumulated = names["accumulated_run"](names["moons_twins"](), names["x"], names["y"], world_size, steps,
                                           names["run"].lr)
    for twin in ("manual", "autograd"):
        torch.testing.assert_close(accumulated[twin], names["one_process"][twin][:steps + 1], rtol=0, atol=1e-12)


def test_the_limits_are_the_chains_formulas(lesson):
    names, summary = lesson
    a, c, w = names["a"], names["c"], names["START"]
    limits = summary["linear_scaling"]["limits_lr"]
    assert limits["2/λmax at the start"] == pytest.approx(2 / (6 * a * w**2 - 2 * c), rel=1e-9)
    assert limits["1/(a·w² − c), the first step blows up"] == pytest.approx(1 / (a * w**2 - c), rel=1e-12)
    assert limits["2/λmax on the valley floor"] == pytest.approx(2 / (4 * c), rel=1e-9)


def test_the_runs_fall_on_the_predicted_sides_of_the_limits(lesson):
    names, summary = lesson
    eta = names["ETA"]
    limits = summary["linear_scaling"]["limits_lr"]
    blow_up, floor = limits["1/(a·w² − c), the first step blows up"], limits["2/λmax on the valley floor"]
    runs = summary["linear_scaling"]["runs"]
    baseline = runs["k=1, warmup"]["held_out_loss"]
    for k in names["KS"]:
        without, with_warmup = (names["scaled"][(k, warmup)][0] for warmup in (False, True))
        assert without.diverged == (k * eta > blow_up), k
        assert not with_warmup.diverged, k
        held = runs[f"k={k}, warmup"]["held_out_loss"]
        if k * eta < floor / 2:                 # well inside the floor's limit: as good as the baseline
            assert held < 1.02 * baseline, k
        if k * eta > floor:                     # past it: no warmup saves the run
            assert held > 3 * baseline, k
    control = names["unscaled"][1]["manual"][-1]
    assert baseline * 1.02 < control < 2 * baseline           # the batch grew, the rate did not: behind
    settles, does_not = names["at_the_wall"][16], names["at_the_wall"][32]
    assert 16 * eta < floor < 32 * eta
    assert settles.final_loss_manual < settles.loss_manual[0]
    assert does_not.final_loss_manual > 2 * does_not.loss_manual[0]
    for history in [*(h for h, _ in names["scaled"].values()), names["unscaled"][0], settles, does_not]:
        assert history.twins_agree and history.max_abs_grad_diff <= 1e-12


def test_a_steps_noise_is_lesson_06s_formula(lesson):
    names, _ = lesson
    measured, predicted, ks = names["noise"], names["noise_theory"], names["KS"]
    for label in predicted:
        for k, value, expected in zip(ks, measured[label], predicted[label]):
            if expected == 0:
                assert value < 1e-20, (label, k)                 # the whole data set: no noise at all
            else:
                assert value == pytest.approx(expected, rel=0.1), (label, k)
    for small, big in zip(measured["k small steps"], measured["one step, batch kB"]):
        assert small == pytest.approx(big, rel=0.1, abs=1e-20)
    ratio = [b / s for s, b in zip(measured["one step, batch kB"], measured["one step, batch B"]) if s > 0]
    assert ratio[0] == pytest.approx(1, rel=0.1) and ratio[-1] > 0.5 * ks[len(ratio) - 1]


def test_ddp_all_reduces_eight_bytes_per_parameter(lesson):
    _, summary = lesson
    rows = summary["bytes_per_step"]
    assert [row["parameters"] for row in rows] == sorted(row["parameters"] for row in rows)
    assert rows[1]["parameters"] == 354
    assert all(row["bytes"] == 8 * row["parameters"] for row in rows)


def test_the_exercise_is_the_average(lesson):
    (exercise,) = exercises.find_exercises(LESSON.read_text(encoding="utf-8"))
    assert exercise.name == "average_gradients"


# --------------------------------------------------------------------------- failures


def children_of(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (Linux: from /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as file:
                    fields = file.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry))
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds the workers through /proc")
def test_a_worker_killed_mid_run_ends_the_lesson_with_one_line_and_nothing_left_behind(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(PROJECT), distributed.WORLD_SIZE_VARIABLE: "2"}
    lesson = subprocess.Popen([sys.executable, "-m", "toolkit", "run", "20", "--no-figures", "--quiet",
                               "--device", "cpu", "--steps", "50000"], cwd=tmp_path, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        workers = []
        while len(workers) < 2 and time.monotonic() < deadline and lesson.poll() is None:
            time.sleep(0.05)
            workers = children_of(lesson.pid)
        assert len(workers) == 2, "the workers never started"
        time.sleep(0.5)                                   # mid-run: both are stepping
        os.kill(max(workers), signal.SIGKILL)
        _, err = lesson.communicate(timeout=60)
    finally:
        if lesson.poll() is None:
            lesson.kill()
            lesson.wait()
    assert lesson.returncode == 1
    (line,) = err.splitlines()
    assert re.fullmatch(r"data-parallel worker [01] of 2 was killed by SIGKILL; the other workers were stopped", line)
    assert not any(os.path.exists(f"/proc/{pid}") for pid in workers)


def test_a_bad_number_of_workers_is_one_line_and_exit_code_2(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv(distributed.WORLD_SIZE_VARIABLE, "7")
    with pytest.raises(SystemExit) as ended:
        cli.run_lesson(LESSON, Options(device="cpu", out=tmp_path, quiet=True, save_figures=False))
    assert ended.value.code == 2
    err = capsys.readouterr().err
    assert err.splitlines() == ["20_data_parallel.py: error: TOOLKIT_WORLD_SIZE='7' must be one of "
                                "1, 2, 3, 4, 5, 6, 8 (the number of workers must divide the 240 examples)"]


def test_a_wrong_average_is_named_and_stops_the_student_version(tmp_path, monkeypatch, capsys):
    from test_exercises import run_student, solved_except, student_file

    body = "for param in net.parameters():\n    dist.all_reduce(param.grad)"      # summed, never divided by k
    file = student_file(tmp_path, "20", **solved_except("20", average_gradients=body))
    explained, ended = run_student(file, monkeypatch, stop_after_checks=False)
    assert isinstance(ended, SystemExit) and ended.code == 1, ended
    (diagnosis,) = explained
    assert diagnosis.kind == "sum-not-averaged" and diagnosis.witness == "all_reduce"
    out = capsys.readouterr().out
    assert "most likely gradients summed over the workers but not averaged" in " ".join(out.split())
    assert f"in exercise average_gradients ({file.name}, line " in out
    assert "fix exercise average_gradients and run this file again" in out
