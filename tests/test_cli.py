"""The command line: its commands, and one clear line for every kind of bad input."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from toolkit import cli, lesson, train

PROJECT = Path(__file__).resolve().parent.parent


def toolkit(*args, cwd=PROJECT):
    return subprocess.run([sys.executable, "-m", "toolkit", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=120)


def test_list_shows_numbered_lessons(capsys):
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == len(lesson.lesson_files()) >= 3
    assert out[0].split()[0] == "1" and "One weight" in out[0]
    assert "lessons/03_learning_rate.py" in out[2]


def test_run_writes_figures_and_summary(tmp_path):
    result = toolkit("run", "1", "--out", str(tmp_path), "--steps", "7", "--lr", "0.2", "--seed", "3",
                     "--format", "png,svg", "--quiet", "--device", "cpu")
    assert result.returncode == 0, result.stderr
    assert "all gradients agree" in result.stdout and "final loss" in result.stdout
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
    assert {"loss_vs_w.png", "loss_vs_w.svg", "loss_curve.png", "loss_curve.svg"} <= set(summary["figures"])
    assert not list(tmp_path.rglob("*.tmp")), "temporary files left behind"


def test_lesson_script_takes_the_same_flags(tmp_path):
    result = subprocess.run([sys.executable, "lessons/01_one_weight.py", "--out", str(tmp_path), "--steps", "3",
                             "--quiet", "--dtype", "float32"], capture_output=True, text=True, cwd=PROJECT,
                            timeout=120)
    assert result.returncode == 0, result.stderr
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
    (["run", "9"], "unknown lesson '9'"),
    (["run", "one"], "unknown lesson 'one'"),
    (["check", "42"], "unknown lesson '42'"),
    (["run", "1", "--lr", "-0.1"], "--lr: must be a finite number > 0"),
    (["run", "1", "--lr", "0"], "--lr: must be a finite number > 0"),
    (["run", "1", "--lr", "nan"], "--lr: must be a finite number > 0"),
    (["run", "1", "--lr", "inf"], "--lr: must be a finite number > 0"),
    (["run", "1", "--lr", "fast"], "--lr: must be a number > 0"),
    (["run", "1", "--steps", "0"], "--steps: must be a whole number >= 1"),
    (["run", "1", "--steps", "2.5"], "--steps: must be a whole number >= 1"),
    (["run", "1", "--device", "tpu"], "unknown device 'tpu'"),
    (["run", "1", "--dtype", "float16"], "invalid choice: 'float16'"),
    (["run", "1", "--format", "gif"], "is not a list of png, svg, pdf"),
    (["dance"], "invalid choice: 'dance'"),
]
if not __import__("torch").cuda.is_available():
    BAD_INPUT.append((["run", "1", "--device", "cuda"], "device 'cuda' is not available"))
    BAD_INPUT.append((["run", "1", "--device", "cuda:1"], "device 'cuda:1' is not available"))


@pytest.mark.parametrize("args, message", BAD_INPUT, ids=[" ".join(a) for a, _ in BAD_INPUT])
def test_bad_input_is_one_line_and_exit_code_2(args, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        code = cli.main(args)
        raise SystemExit(code)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err


def test_out_that_is_a_file_is_refused(tmp_path, capsys):
    target = tmp_path / "taken"
    target.write_text("keep me")
    assert cli.main(["run", "1", "--out", str(target), "--quiet"]) == 2
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
    result = toolkit("run", "7", "--quiet")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "Traceback" not in result.stderr
    assert "unknown lesson '7'" in result.stderr
