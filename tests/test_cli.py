"""The command line: its commands, and one clear line for every kind of bad input."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from helpers import run_lesson_script
from toolkit import catalogue, cli, lesson, train, workers
from toolkit.options import Options

PROJECT = Path(__file__).resolve().parent.parent


def toolkit(*args, cwd=PROJECT):
    return subprocess.run([sys.executable, "-m", "toolkit", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=120)


def test_list_shows_numbered_lessons(capsys):
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == len(catalogue.lesson_files()) >= 3
    assert out[0].split()[0] == "1" and "One weight" in out[0]
    assert "lessons/03_learning_rate.py" in out[2]


def test_run_writes_figures_and_summary(tmp_path, capsys):
    assert cli.main(["run", "1", "--out", str(tmp_path), "--steps", "7", "--lr", "0.2", "--seed", "3",
                     "--format", "png,svg", "--quiet", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "all gradients agree" in out and "final loss" in out
    folder = tmp_path / "01_one_weight"
    summary = json.loads((folder / "summary.json").read_text())
    assert set(summary) >= {"lesson", "device", "dtype", "seed", "steps", "lr", "final_loss",
                            "max_abs_grad_diff", "diverged", "diverged_at_step", "figures"}
    assert summary["lesson"] == "01_one_weight"
    assert (summary["device"], summary["dtype"], summary["seed"]) == ("cpu", "float64", 3)
    assert (summary["steps"], summary["lr"]) == (7, 0.2)
    assert set(summary["final_loss"]) == {"manual", "autograd"}
    assert summary["final_loss"]["manual"] == pytest.approx(summary["final_loss"]["autograd"], rel=1e-12)
    assert summary["diverged"] is False and summary["diverged_at_step"] is None
    assert summary["max_abs_grad_diff"] <= 1e-12
    assert sorted(summary["figures"]) == sorted(p.name for p in folder.iterdir() if p.name != "summary.json")
    assert {"loss_vs_w.png", "loss_vs_w.svg", "loss_gap.png", "loss_gap.svg"} <= set(summary["figures"])
    assert not list(tmp_path.rglob("*.tmp")), "temporary files left behind"


def test_lesson_script_takes_the_same_flags(tmp_path):
    # As `python lessons/01_one_weight.py ...` (in this process; a real script process: see the exit status test)
    run_lesson_script(PROJECT / "lessons" / "01_one_weight.py", "--out", str(tmp_path), "--steps", "3", "--quiet",
                      "--dtype", "float32")
    summary = json.loads((tmp_path / "01_one_weight" / "summary.json").read_text())
    assert summary["steps"] == 3 and summary["dtype"] == "float32"


def test_a_diverging_run_is_reported_not_crashed(tmp_path, capsys):
    code = cli.main(["run", "2", "--lr", "1.5", "--steps", "200", "--out", str(tmp_path), "--quiet"])
    assert code == 0
    assert "DIVERGED at step" in capsys.readouterr().out
    summary = json.loads((tmp_path / "02_linear_regression" / "summary.json").read_text())
    assert summary["diverged"] is True and isinstance(summary["diverged_at_step"], int)
    assert summary["lr"] == 1.5 and summary["runs"][0]["steps_taken"] == summary["diverged_at_step"]
    for name in summary["figures"]:          # figures are still drawn for the finite part
        assert (tmp_path / "02_linear_regression" / name).stat().st_size > 10_000


def test_check_one_lesson_passes(capsys):
    assert cli.main(["check", "1"]) == 0
    out = capsys.readouterr().out
    assert "twins agree at all 25 steps" in out and "all lessons agree" in out


def test_ctrl_c_leaves_no_files(tmp_path, monkeypatch, capsys):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(train.SGD, "step", interrupted)
    assert cli.main(["run", "2", "--out", str(tmp_path), "--quiet"]) == 130
    assert "interrupted" in capsys.readouterr().err
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


BAD_INPUT = [
    (["run", "99"], "unknown lesson '99'"),
    (["run", "one"], "unknown lesson 'one'"),
    (["check", "42"], "unknown lesson '42'"),
    (["run", "1", "--lr", "-0.1"], "--lr: must be a finite number > 0"),
    (["run", "1", "--lr", "0"], "--lr: must be a finite number > 0"),
    (["run", "1", "--lr", "nan"], "--lr: must be a finite number > 0"),
    (["run", "1", "--lr", "inf"], "--lr: must be a finite number > 0"),
    (["run", "1", "--lr", "fast"], "--lr: must be a number > 0"),
    (["run", "1", "--steps", "0"], "--steps: must be a whole number from 1 to 50000"),
    (["run", "1", "--steps", "2.5"], "--steps: must be a whole number from 1 to 50000"),
    (["run", "1", "--steps", "18446744073709551616"], "--steps: must be a whole number from 1 to 50000"),
    (["run", "1", "--steps", "50001"], "--steps: must be a whole number from 1 to 50000"),
    (["run", "1", "--steps", "³"], "--steps: must be a whole number from 1 to 50000"),
    (["run", "²"], "unknown lesson '²'"),
    (["check", "²"], "unknown lesson '²'"),
    (["run", "1", "--seed", "-1"], "--seed: must be a whole number from 0 to 2**63 - 1"),
    (["run", "1", "--seed", str(2**64)], "--seed: must be a whole number from 0 to 2**63 - 1"),
    (["run", "1", "--seed", str(-2**63 - 1)], "--seed: must be a whole number from 0 to 2**63 - 1"),
    (["run", "1", "--seed", str(2**63)], "--seed: must be a whole number from 0 to 2**63 - 1"),
    (["run", "1", "--out", ""], "--out: must name a folder, got an empty string"),
    (["run", "1", "--lr", "1e200", "--dtype", "float32"], "--lr 1e+200 does not fit in float32"),
    (["run", "1", "--out", "/tmp/" + "x" * 300], "File name too long"),
    (["run", "1", "--device", "tpu"], "unknown device 'tpu'"),
    (["run", "1", "--dtype", "float16"], "invalid choice: 'float16'"),
    (["run", "1", "--format", "bmp"], "is not a list of png, svg, pdf, gif"),
    (["notebooks", "99"], "unknown lesson '99'"),
    (["notebooks", "1", "--out", ""], "--out: must name a folder, got an empty string"),
    (["notebooks", "1", "--figures", "somewhere"], "--figures needs --execute"),
    (["figures", "--jobs", "0"], "--jobs: must be a whole number from 1 to 64"),
    (["figures", "--jobs", "two"], "--jobs: must be a whole number from 1 to 64"),
    (["dance"], "invalid choice: 'dance'"),
    (["run", "1", "--out", "   "], "--out: must name a folder, got '   '"),
    (["figures", "--out", ""], "--out: must name a folder, got an empty string"),
    (["exercises", "--out", ""], "--out: must name a folder, got an empty string"),
    (["exercises", "--out", "  "], "--out: must name a folder, got '  '"),
    (["notebooks", "--figures", " ", "--execute"], "--figures: must name a folder, got ' '"),
    (["figures", "1", "99"], "unknown lesson '99'"),
    (["check", "1", "99"], "unknown lesson '99'"),
    (["notebooks", "2", "99"], "unknown lesson '99'"),
    (["exercises"], "the following arguments are required: --out"),
]
if not torch.cuda.is_available():
    BAD_INPUT.append((["run", "1", "--device", "cuda"], "device 'cuda' is not available"))
    BAD_INPUT.append((["run", "1", "--device", "cuda:1"], "device 'cuda:1' is not available"))
    BAD_INPUT.append((["figures", "--device", "cuda", "--out", "/nonexistent/figures"], "device 'cuda' is not available"))


@pytest.mark.parametrize("args, message", BAD_INPUT, ids=[" ".join(a) for a, _ in BAD_INPUT])
def test_bad_input_is_one_line_and_exit_code_2(args, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        code = cli.main(args)
        raise SystemExit(code)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("toolkit: error: "), err       # one prefix, whichever command (and lesson scripts too)
    assert "Traceback" not in err


@pytest.mark.parametrize("command", [["run", "1"], ["figures"]])
def test_out_that_is_a_file_is_refused(tmp_path, capsys, command):
    target = tmp_path / "taken"
    target.write_text("keep me")
    assert cli.main([*command, "--out", str(target), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "is a file" in err and len(err.strip().splitlines()) == 1
    assert target.read_text() == "keep me"


@pytest.mark.skipif(sys.platform != "linux" or not Path("/sys").is_dir(), reason="needs Linux's read-only /sys")
def test_out_that_cannot_be_written_is_refused(capsys):
    assert cli.main(["run", "1", "--out", "/sys/toolkit-figures", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "cannot write to output folder '/sys/toolkit-figures" in err and len(err.strip().splitlines()) == 1


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root can write to read-only folders")
def test_read_only_out_is_refused(tmp_path, capsys):
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        assert cli.main(["run", "1", "--out", str(folder), "--quiet"]) == 2
        assert "cannot write to output folder" in capsys.readouterr().err
    finally:
        folder.chmod(0o700)


def test_subprocess_bad_input_has_no_traceback():
    result = toolkit("run", "77", "--quiet")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "Traceback" not in result.stderr
    assert "unknown lesson '77'" in result.stderr


# --------------------------------------------------------------------------- lessons that go wrong

GOOD_LESSON = '''# # {number:02d} · A tiny lesson
from toolkit import data, lesson, manual
from toolkit.twins import make_twins

run = lesson.start(__file__, steps=3, lr=0.1)
x, y = data.noisy_line(n=8, seed=run.seed, device=run.device, dtype=run.dtype)
twins = make_twins([1, 1], loss=manual.MSELoss(), seed=run.seed, device=run.device, dtype=run.dtype)
run.check(twins, x, y)
run.train(twins, x, y)
{ending}
'''


@pytest.fixture
def lessons_here(tmp_path, monkeypatch):
    """A project folder of our own: its lessons/ is where the command line looks."""
    monkeypatch.setattr(catalogue, "PROJECT", tmp_path)
    (tmp_path / "lessons").mkdir()
    monkeypatch.chdir(tmp_path)

    def write(name, text):
        (tmp_path / "lessons" / name).write_bytes(text if isinstance(text, bytes) else text.encode())

    return write


def test_a_lesson_file_that_is_not_utf8_is_listed_and_refused_in_one_line(lessons_here, capsys):
    lessons_here("01_tiny.py", GOOD_LESSON.format(number=1, ending="run.finish()"))
    lessons_here("02_latin1.py", "# # 02 · Caf\xe9\nplace = 'Caf\xe9'\n".encode("latin-1"))
    assert cli.main(["list"]) == 0
    assert "Caf\ufffd" in capsys.readouterr().out
    assert cli.main(["run", "2", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "02_latin1.py is not a Python file this toolkit can run" in err and len(err.strip().splitlines()) == 1


def test_two_lessons_with_one_number_are_refused_naming_both(lessons_here, capsys):
    lessons_here("03_first.py", GOOD_LESSON.format(number=3, ending="run.finish()"))
    lessons_here("03_second.py", GOOD_LESSON.format(number=3, ending="run.finish()"))
    assert cli.main(["run", "3", "--quiet"]) == 2
    assert "two lessons have the number 3: 03_first.py and 03_second.py" in capsys.readouterr().err


def test_a_lesson_that_never_finishes_is_reported(lessons_here, capsys):
    lessons_here("01_unfinished.py", GOOD_LESSON.format(number=1, ending="# forgot run.finish()"))
    assert cli.main(["run", "1", "--quiet"]) == 2
    assert "01_unfinished.py never called run.finish(): it wrote nothing" in capsys.readouterr().err


def test_figures_and_check_finish_every_lesson_and_fail_if_one_fails(lessons_here, capsys, tmp_path):
    # figures in this process (--jobs 1); in worker processes, see test_figures_jobs.py
    lessons_here("01_broken.py", "from toolkit import lesson\nrun = lesson.start(__file__, steps=1, lr=0.1)\n"
                                 "raise ValueError('this lesson is broken')\n")
    lessons_here("02_tiny.py", GOOD_LESSON.format(number=2, ending="run.finish()"))
    assert cli.main(["figures", "--quiet", "--jobs", "1", "--out", str(tmp_path / "out")]) == 1
    out, err = capsys.readouterr()
    assert "[01_broken: FAILED: this lesson is broken" in out and "[02_tiny: ok" in out
    # In the lessons' order, each lesson's output whole and then its status line.
    assert out.index("[01_broken:") < out.index("02 · A tiny lesson") < out.index("final loss") < out.index("[02_tiny:")
    assert (tmp_path / "out" / "02_tiny" / "summary.json").is_file()
    assert "1 lesson(s) failed: 01_broken" in err
    assert cli.main(["check"]) == 1
    out = capsys.readouterr().out
    assert "-> 01_broken: FAILED: this lesson is broken" in out and "-> 02_tiny: OK" in out


def test_check_with_no_lessons_fails(lessons_here, capsys):
    assert cli.main(["check"]) == 2
    assert "no lessons found" in capsys.readouterr().err


def test_rerunning_with_fewer_formats_leaves_no_stale_files(tmp_path):
    assert cli.main(["run", "1", "--steps", "2", "--quiet", "--format", "png,svg", "--out", str(tmp_path)]) == 0
    assert cli.main(["run", "1", "--steps", "2", "--quiet", "--out", str(tmp_path)]) == 0
    names = sorted(p.name for p in (tmp_path / "01_one_weight").iterdir())
    assert names == ["loss_gap.png", "loss_vs_w.png", "summary.json"]
    assert [p.name for p in tmp_path.iterdir()] == ["01_one_weight"]


def test_the_default_output_folder_is_figures_in_the_current_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["run", "1", "--steps", "2", "--quiet"]) == 0
    assert (tmp_path / "figures" / "01_one_weight" / "summary.json").is_file()
    assert "wrote 2 figures (2 files: png) and summary.json" in capsys.readouterr().out


def test_a_closed_pipe_ends_quietly():
    with subprocess.Popen([sys.executable, "-m", "toolkit", "list"], cwd=PROJECT, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE) as listing:
        listing.stdout.close()               # the reader is gone before anything is written
        err = listing.stderr.read().decode()
        assert listing.wait(timeout=60) == 141
    assert err == ""


def test_ctrl_c_while_loading_is_not_a_traceback():
    code = ("import builtins, runpy\n"
            "real = builtins.__import__\n"
            "def interrupted(name, *args, **kwargs):\n"
            "    if name == 'toolkit.cli':\n"
            "        raise KeyboardInterrupt\n"
            "    return real(name, *args, **kwargs)\n"
            "builtins.__import__ = interrupted\n"
            "runpy.run_module('toolkit', run_name='__main__')\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=PROJECT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 130 and "Traceback" not in done.stderr


def test_sigterm_while_a_lesson_trains_leaves_nothing_behind(tmp_path):
    import signal
    import time

    # ``python -m toolkit run 5 ...``, with torch._dynamo loaded first: torch loads it when the first optimiser
    # is built, which takes a second or two, and the signal is meant to land in the training that follows.
    code = "import runpy, torch._dynamo; runpy.run_module('toolkit', run_name='__main__', alter_sys=True)"
    running = subprocess.Popen([sys.executable, "-c", code, "run", "5", "--steps", "50000", "--quiet",
                                "--out", str(tmp_path)], cwd=PROJECT, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    line = "start"
    while line and not line.startswith("accumulation:"):    # the gradient check's last line: training is next
        line = running.stdout.readline()
    time.sleep(0.5)
    running.send_signal(signal.SIGTERM)
    _, err = running.communicate(timeout=60)
    assert running.returncode == 130
    assert "interrupted: no file was left half-written" in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_warnings_as_errors_do_not_break_a_lesson():
    done = subprocess.run([sys.executable, "-W", "error", "-m", "toolkit", "run", "3", "--no-figures", "--quiet"],
                          cwd=PROJECT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Warning" not in done.stderr


def test_argument_errors_are_answered_before_torch_loads():
    code = ("import sys\n"
            "from toolkit import cli\n"
            "for args in (['run', '1', '--lr', '-1'], ['run', '1', '--steps', '0'], ['dance']):\n"
            "    try:\n"
            "        cli.main(args)\n"
            "    except SystemExit as done:\n"
            "        assert done.code == 2, done.code\n"
            "print('torch' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=PROJECT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_a_lesson_run_as_a_script_exits_2_on_bad_input():
    # A real script process: it finds the toolkit from lessons/, and a bad flag is its exit status 2.
    done = subprocess.run([sys.executable, "lessons/01_one_weight.py", "--lr", "-1"], cwd=PROJECT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith("toolkit: error: ")


@pytest.mark.parametrize("flags", [["--lr", "-1"], ["--device", "tpu"], ["--seed", "-1"]])
def test_a_lesson_run_as_a_script_exits_2_on_bad_input_like_the_command_line(flags, capsys):
    # In this process (the exit status itself is tested above): what the script does with each bad flag.
    with pytest.raises(SystemExit) as stopped:
        run_lesson_script(PROJECT / "lessons" / "01_one_weight.py", *flags)
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_a_lesson_runs_on_one_thread_so_its_bytes_do_not_depend_on_the_cores():
    # Matrix products split their sums across threads, and a different split can change the last digits
    # (and with them pixels). A lesson therefore runs torch on one thread, whatever it was set to before
    # (OMP_NUM_THREADS, or the number of cores).
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        assert torch.get_num_threads() == 2
        cli.run_lesson(catalogue.find_lesson("2"), Options(steps=2, quiet=True, save_figures=False))
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(previous)


def test_out_expands_the_home_folder(monkeypatch, tmp_path):
    from toolkit.options import output_folder

    monkeypatch.setenv("HOME", str(tmp_path))
    assert output_folder("~/notes/figures") == tmp_path / "notes" / "figures"


@pytest.mark.parametrize("args", [["run", "1", "--width", "poster"], ["figures", "--width", "3.4"]])
def test_an_unknown_width_preset_is_one_line_and_exit_code_2(args, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(args)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "--width: invalid choice" in err and "'column', 'page'" in err and len(err.strip().splitlines()) == 1


# --------------------------------------------------------------------------- figures: a device, one set, several lessons


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="this machine has CUDA")
def test_figures_on_a_missing_device_is_one_line_and_touches_nothing(tmp_path, capsys):
    # It ran (and failed) all thirteen lessons, exit 1, and rewrote the index as made "--device cuda"
    gallery = tmp_path / "figures"
    gallery.mkdir()
    (gallery / "README.md").write_text("the old index\n")
    for args in (["figures", "--device", "cuda", "--out", str(gallery)],
                 ["figures", "--device", "cuda", "--out", str(tmp_path / "new")],
                 ["check", "--device", "cuda:3"]):
        assert cli.main(args) == 2
        err = capsys.readouterr().err
        assert err.startswith("toolkit: error: device 'cuda") and len(err.strip().splitlines()) == 1, err
    assert [p.name for p in tmp_path.iterdir()] == ["figures"] and [p.name for p in gallery.iterdir()] == ["README.md"]
    assert (gallery / "README.md").read_text() == "the old index\n"


FAKE_RUNS = __import__("itertools").count()


def fake_lessons(monkeypatch, interrupt_at=None):
    """Make figures run a stand-in for each lesson: it writes one figure and a summary, as a lesson does,
    in no time (or raises KeyboardInterrupt at lesson ``interrupt_at``). Returns the stems it ran."""
    from toolkit.files import replace_folder

    ran = []
    generation = next(FAKE_RUNS)

    def run_lesson(path, options):
        ran.append(path.stem)
        if path.stem.startswith(interrupt_at or "-"):
            raise KeyboardInterrupt
        summary = {"lesson": path.stem, "title": path.stem, "seed": options.seed, "captions": {"plot": {}}}
        if options.save_figures:
            replace_folder(options.out / path.stem, {"plot.png": f"{path.stem} {generation}".encode(),
                                                     "summary.json": json.dumps(summary).encode()})
        return type("Run", (), {"reports": [], "histories": {}, "title": path.stem})()

    monkeypatch.setattr(cli, "run_lesson", run_lesson)
    monkeypatch.setattr(workers, "run_lesson", run_lesson)
    monkeypatch.setattr(workers, "default_jobs", lambda lessons: 1)     # the fake runs here, not in workers
    return ran


def gallery_bytes(folder):
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_figures_replaces_the_gallery_and_its_index_as_one_set_or_leaves_the_old_one(tmp_path, monkeypatch, capsys):
    # Interrupting figures left some lessons new and the rest old, and an index that did not list them
    from toolkit.figure_index import listed_files, present_files

    gallery = tmp_path / "figures"
    fake_lessons(monkeypatch)
    assert cli.main(["figures", "--quiet", "--out", str(gallery)]) == 0
    before = gallery_bytes(gallery)
    assert listed_files((gallery / "README.md").read_text()) >= present_files(gallery)
    for stem in ("03", "01"):               # at the first lesson, and part of the way through
        fake_lessons(monkeypatch, interrupt_at=stem)
        assert cli.main(["figures", "--quiet", "--out", str(gallery)]) == 130
        assert capsys.readouterr().err.strip() == "interrupted: no file was left half-written"
        assert gallery_bytes(gallery) == before
        assert [p.name for p in gallery.iterdir() if p.name.startswith(".")] == []
    ran = fake_lessons(monkeypatch)
    assert cli.main(["figures", "--quiet", "--out", str(gallery)]) == 0
    after = gallery_bytes(gallery)
    assert len(ran) == len(catalogue.lesson_files()) and set(after) == set(before) and after != before
    assert listed_files((gallery / "README.md").read_text()) >= present_files(gallery)


def test_an_interrupt_waits_for_the_renames_that_belong_together():
    import signal

    from toolkit.files import signals_deferred

    done = []
    with pytest.raises(KeyboardInterrupt):
        with signals_deferred():
            os.kill(os.getpid(), signal.SIGINT)
            done.append("after the signal")
    assert done == ["after the signal"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_figures_check_and_notebooks_take_several_lessons(tmp_path, monkeypatch, capsys):
    gallery = tmp_path / "figures"
    ran = fake_lessons(monkeypatch)
    assert cli.main(["figures", "--quiet", "--out", str(gallery)]) == 0
    before = gallery_bytes(gallery)
    ran = fake_lessons(monkeypatch)
    assert cli.main(["figures", "5", "2", "05", "--quiet", "--out", str(gallery)]) == 0
    assert ran == ["05_hidden_layer", "02_linear_regression"]          # in the order given, each once
    after = gallery_bytes(gallery)
    changed = {name.split("/")[0] for name in after if after[name] != before.get(name)}
    assert set(after) == set(before) and changed == {"05_hidden_layer", "02_linear_regression"}   # the rest kept
    ran.clear()
    assert cli.main(["check", "2", "1"]) == 0 and ran == ["02_linear_regression", "01_one_weight"]
    capsys.readouterr()
    pytest.importorskip("jupytext")
    assert cli.main(["notebooks", "1", "2", "--out", str(tmp_path / "nb")]) == 0
    assert sorted(p.name for p in (tmp_path / "nb").iterdir()) == ["01_one_weight.ipynb", "02_linear_regression.ipynb"]


# --------------------------------------------------------------------------- a format a lesson cannot make


def test_a_format_the_lesson_cannot_make_leaves_its_files_alone_and_says_so(tmp_path, capsys):
    # run 1 --format gif printed "wrote 0 figures" and deleted the lesson's PNGs
    import matplotlib.pyplot as plt

    from toolkit.options import Options
    from toolkit.train import History

    folder = tmp_path / "01_one_weight"
    folder.mkdir()
    (folder / "loss_gap.png").write_bytes(b"the old figure")

    def finished(formats):
        run = lesson.Lesson("01_one_weight", Options(out=tmp_path, formats=formats), steps=1, lr=0.1)
        run.main = run.histories["main"] = History(lr=0.1, final_loss_manual=1.0, final_loss_autograd=1.0)
        figure, axes = plt.subplots()
        axes.plot([1, 2, 3])           # no descent path on a contour: nothing to animate
        run.save(figure, "loss_gap")
        capsys.readouterr()
        run.finish()
        return capsys.readouterr().out

    out = finished(("gif",))
    assert out.startswith("no gif files: none of this lesson's 1 figures can be made as gif (a gif needs a figure "
                          "that draws a descent path on a contour)")
    assert f"{folder} is left as it was" in out
    assert [p.name for p in folder.iterdir()] == ["loss_gap.png"] and (folder / "loss_gap.png").read_bytes() == \
        b"the old figure"
    out = finished(("png", "gif"))
    assert "no gif files: none of this lesson's figures can be made as gif" in out and "wrote 1 figures" in out
    assert sorted(p.name for p in folder.iterdir()) == ["loss_gap.png", "summary.json"]


# --------------------------------------------------------------------------- no traceback on accepted input


STOPPING_LESSON = '''# # {number:02d} · A lesson whose numbers give out
import math
from toolkit import lesson

run = lesson.start(__file__, steps=3, lr=0.1)
{line}
run.finish()
'''


@pytest.mark.parametrize("line, flags, error", [
    ("steps_per_e = 1 / math.log(1 + run.lr * 1e-17)", ["--lr", "1e-17"], "ZeroDivisionError: float division by zero"),
    ("squared = (1 - run.lr) ** 2", ["--lr", "1e160"], "OverflowError: (34, 'Numerical result out of range')"),
])
def test_numbers_a_lesson_cannot_carry_are_one_line_not_a_traceback(lessons_here, capsys, line, flags, error):
    # run 9 --lr 1e-17 ended in a ZeroDivisionError, run 11 --lr 1e160 in an OverflowError, each a traceback
    lessons_here("01_numbers.py", STOPPING_LESSON.format(number=1, line=line))
    assert cli.main(["run", "1", "--quiet", "--no-figures", *flags]) == 1
    err = capsys.readouterr().err
    assert err.splitlines() == [f"toolkit: error: the lesson stopped on line 6 of 01_numbers.py: {error}; its "
                                f"numbers do not survive --lr {float(flags[1])!r}: choose values nearer the lesson's own"]


def test_output_falls_back_to_ascii_on_a_terminal_that_is_not_utf8(monkeypatch):
    # PYTHONIOENCODING=ascii turned run 1 into an "error" that blamed the arguments
    import io

    streams = {name: io.TextIOWrapper(io.BytesIO(), encoding="ascii") for name in ("stdout", "stderr")}
    for name, stream in streams.items():
        monkeypatch.setattr(sys, name, stream)
    code = cli.main(["run", "1", "--steps", "2", "--no-figures", "--quiet"])
    for stream in streams.values():
        stream.flush()
    out, err = (streams[name].buffer.getvalue() for name in ("stdout", "stderr"))
    monkeypatch.undo()
    assert code == 0, err
    assert err == b"" and out.isascii()
    text = out.decode()
    assert text.startswith("01 * One weight, one slope") and "all gradients agree" in text


@pytest.mark.parametrize("signal_name", ["SIGINT", "SIGTERM"])
def test_a_lesson_script_ends_in_one_line_on_ctrl_c_and_sigterm(tmp_path, signal_name):
    # Ctrl-C during python lessons/NN.py came out as a KeyboardInterrupt traceback through matplotlib
    script = tmp_path / "01_tiny.py"
    script.write_text("import os, signal\nfrom toolkit import lesson\n"
                      "run = lesson.start(__file__, steps=1, lr=0.1)\n"
                      f"os.kill(os.getpid(), signal.{signal_name})\n"
                      "print('never')\n")
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode in (130, -2) and "never" not in done.stdout       # ended as by Ctrl-C
    assert done.stderr.splitlines() == ["interrupted: no file was left half-written"]


def test_a_lesson_script_ends_in_one_line_when_its_numbers_give_out(monkeypatch, capsys):
    # As a script (python lessons/09_saddles_and_plateaus.py --lr 1e-17) the same error was a traceback. What Python
    # does with an error nobody caught: it calls sys.excepthook, then exits with code 1.
    import signal

    monkeypatch.setattr(sys, "excepthook", sys.__excepthook__)
    monkeypatch.setattr(sys, "argv", ["lessons/09_saddles_and_plateaus.py", "--lr", "1e-17", "--no-figures"])
    previous = signal.getsignal(signal.SIGTERM)
    lesson._handle_the_end_of_a_script()
    signal.signal(signal.SIGTERM, previous)
    try:
        1 / __import__("math").log(1 + 1e-17)
    except ZeroDivisionError as error:
        sys.excepthook(type(error), error, error.__traceback__)
    line = capsys.readouterr().err.splitlines()
    assert len(line) == 1 and line[0].startswith("toolkit: error: the lesson stopped on line ")
    assert line[0].endswith("ZeroDivisionError: float division by zero; its numbers do not survive --lr 1e-17: "
                            "choose values nearer the lesson's own")
