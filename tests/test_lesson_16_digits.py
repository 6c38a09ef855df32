"""Lesson 16: real handwritten digits, and what generalises.

The lesson runs once for this module (with figures and a GIF); the tests read
its numbers and files. Its exercise, the Dropout backward, is checked on the
student version, which stops at the lesson's gradient check.
"""

from __future__ import annotations

import math
import re

import pytest

from helpers import lesson_group, run_lesson_script, student_file
from toolkit import catalogue, exercises

PATH = catalogue.find_lesson("16")


pytestmark = lesson_group(PATH.stem)


@pytest.fixture(scope="module")
def lesson(lesson_runs):
    """The lesson's shared run (read-only): its names, summary.json and saved figures."""
    run = lesson_runs(PATH.stem)
    return run.names, run.summary(), run.figures


def test_every_run_of_the_twins_agrees_and_both_checks_pass(lesson):
    names, summary, _ = lesson
    run = names["run"]
    assert len(run.reports) == 2 and all(report.ok for report in run.reports)
    assert any(row.where == "layer 2 (Dropout)" for row in run.reports[0].rows)     # the check has dropout
    assert len(run.histories) == 1 + 3 + 9 + 6
    for label, history in run.histories.items():
        assert history.twins_agree and history.max_abs_grad_diff <= 1e-12, label
    assert summary["max_abs_grad_diff"] <= 1e-12


def test_the_data_and_the_first_loss(lesson):
    names, _, _ = lesson
    assert (len(names["x"]), len(names["x_val"]), len(names["x_test"])) == (1000, 400, 397)
    assert abs(names["first_loss"] - math.log(10)) < 0.05          # a fresh network guesses: ln 10
    kept = names["kept"]
    assert abs((kept == 0).double().mean().item() - 0.3) < 0.02 and abs(kept.max().item() - 1 / 0.7) < 1e-12


def test_the_test_images_are_looked_at_once(lesson):
    # Only the last cell evaluates on the test part; nothing chooses with it.
    code = "\n".join(line for line in PATH.read_text(encoding="utf-8").splitlines() if not line.startswith("#"))
    uses = [line.replace("len(x_test)", "") for line in code.splitlines() if "x_test" in line]
    uses = [line for line in uses if "x_test" in line and not line.startswith("(x, y), (x_val, y_val), (x_test")]
    assert len(uses) == 1 and "scores_along_path(twins, x_test, y_test, chosen" in uses[0], uses
    names, summary, _ = lesson
    assert summary["chosen"]["test_accuracy"] > 0.9
    assert summary["chosen"]["epoch"] == int(names["val_loss"].argmin())


def test_overfitting_and_early_stopping_as_the_text_says(lesson):
    names, _, _ = lesson
    for seed, curve in names["curves"].items():
        (train_loss, train_acc), (val_loss, _) = curve["train"], curve["validation"]
        stop = curve["stop"]
        assert train_acc[-1] == 1 and train_loss[-1] < 0.01
        assert 10 < stop < len(val_loss) - 20 and val_loss[stop] < val_loss[-1]
    assert (names["loss_gains"] < 0).all() and (names["acc_gains"] <= 0).all()


def test_the_regularisers_are_compared_seed_by_seed(lesson):
    _, summary, _ = lesson
    rows = summary["regularisers"]
    assert list(rows) == ["early stopping", "L2 inside Adam", "AdamW", "dropout 0.3"]
    assert all(len(row["accuracy"]) == len(row["loss"]) == 3 for row in rows.values())
    for name in ("L2 inside Adam", "AdamW"):
        assert sum(rows[name]["loss"]) < 0          # weight decay lowers the validation loss on average


def test_small_batches_end_flatter_on_every_seed(lesson):
    names, _, _ = lesson
    sharpness = names["sharpness"]
    for seed in names["SEEDS"]:
        assert sharpness[(10, seed)]["sharpness"] < sharpness[(100, seed)]["sharpness"] < 2 / names["BATCH_LR"]


def test_the_figures_and_the_one_gif(lesson):
    from toolkit.animation import path_gif

    _, summary, figures = lesson
    pngs = {"digits", "generalisation", "planes", "regularisers", "sharpness"}
    assert set(summary["figures"]) == {f"{name}.png" for name in pngs}
    gifs = {name: path_gif(figures[name], most=3, dpi=30) for name in pngs}    # what --format gif adds (drafts)
    assert [name for name, gif in gifs.items() if gif is not None] == ["planes"]
    assert gifs["planes"][:6] in (b"GIF87a", b"GIF89a")
    for name in pngs:
        assert len(summary["captions"][name]["caption"].split()) > 10


# --------------------------------------------------------------------------- the exercise


def student(tmp_path, body=None):
    return student_file(PATH, tmp_path, solve_others=False, **({} if body is None else {"dropout_backward": body}))


def test_an_unwritten_dropout_backward_is_one_line(tmp_path):
    with pytest.raises(NotImplementedError) as stopped:
        run_lesson_script(student(tmp_path), "--quiet", "--no-figures", "--device", "cpu")
    line = exercises.friendly_line(stopped.value)
    assert line.startswith("exercise dropout_backward is not written yet:") and "\n" not in line


@pytest.mark.parametrize("body, words", [
    ("return dout * mask", "not scaled at all"),
    ("return dout / (1 - p)", "no mask at all"),
])
def test_a_wrong_dropout_backward_is_named_and_stops_the_student_version(tmp_path, capsys, body, words):
    with pytest.raises(SystemExit) as stopped:
        run_lesson_script(student(tmp_path, body), "--quiet", "--no-figures", "--device", "cpu")
    assert stopped.value.code == 1
    out = capsys.readouterr().out
    assert "layer 2 (Dropout)" in out and words in out and "exercise dropout_backward" in out
    assert re.search(r"fix exercise dropout_backward", out)
