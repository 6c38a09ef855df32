"""Lesson 17: a practical recipe for choosing and protecting the step.

The lesson runs once for this module; the tests check that its numbers say
what its text says. Its exercise (the clipping rule) is checked on the
student version's function alone, which is cheaper than running the lesson
up to it.
"""

from __future__ import annotations


import pytest
import torch

from helpers import lesson_group
from toolkit import catalogue, exercises

PATH = catalogue.find_lesson("17")


pytestmark = lesson_group(PATH.stem)


@pytest.fixture(scope="module")
def lesson(lesson_runs):
    """The lesson's shared run (read-only): its names and summary.json."""
    run = lesson_runs(PATH.stem)
    return run.names, run.summary()


def test_every_run_of_the_twins_agrees(lesson):
    names, summary = lesson
    run = names["run"]
    assert run.reports and all(report.ok for report in run.reports)
    for label, history in run.histories.items():
        assert history.twins_agree and history.max_abs_grad_diff <= 1e-12, label
    assert set(summary["figures"]) == {"range_test.png", "update_ratios.png", "clipping.png", "adagrad.png"}
    assert summary["clipping_check"]["agree"] is True


def test_the_tiny_batch_is_learned(lesson):
    names, _ = lesson
    assert names["tiny"].final_loss_manual < 0.01


def test_the_range_test_turns_where_lr_times_lambda_max_passes_two(lesson):
    names, summary = lesson
    sweep, lowest, along = names["sweep"], names["lowest"], names["along"]
    assert summary["range_test"]["picked_lr"] == pytest.approx(sweep.lrs[lowest] / 2)
    before = [step for step in along if step < lowest]
    assert all(sweep.lrs[step] * along[step] < 2 for step in before)
    assert sweep.lrs[lowest] * along[lowest] > 2
    lr = names["lr"]
    assert lr * names["at_start"] < 2 and lr * along[lowest] < 2          # the pick is below the bound at both


def test_the_healthy_run_ends_at_the_edge_of_stability(lesson):
    names, _ = lesson
    assert 1.8 < names["lr"] * names["end_sharpness"] < 2.2


def test_the_update_ratios_as_the_text_says(lesson):
    names, _ = lesson
    healthy, bad = names["ratios"]["healthy"], names["ratios"]["N(0, 1)"]
    for ratios in healthy.values():
        inside = ((ratios > -2) & (ratios < -1)).double().mean()
        assert inside > 0.8
    for ratios in bad.values():
        assert ratios[0] > -1 and ratios[-20:].mean() < -2
    scores = names["scores"]
    assert scores["healthy"][1].item() > scores["N(0, 1)"][1].item() + 0.03


def test_clipping_survives_the_corrupted_image_and_the_plain_run_does_not(lesson):
    names, summary = lesson
    plain, clipped = summary["clipping"]["no clipping"], summary["clipping"]["clipped at 2"]
    assert plain["largest_grad_norm"] > 100 and clipped["largest_grad_norm"] < 100
    assert plain["final_loss"] > 1 and clipped["final_loss"] < 0.2
    spiky = names["spiky"]
    norms = torch.tensor(spiky["clipped at 2"].grad_norms)
    assert int((norms > 2).sum()) <= 2          # the cap leaves ordinary steps alone


def test_adagrads_step_size_never_grows(lesson):
    names, _ = lesson
    sizes = names["adagrad_sizes"]
    assert all(b <= a for a, b in zip(sizes, sizes[1:]))
    assert names["running_mean_sizes"][-1] > 10 * sizes[-1]


# --------------------------------------------------------------------------- the exercise


def student_function(body=None):
    """clip_by_total_norm as the student version defines it (stubbed, or with ``body`` written in)."""
    text = exercises.student_version(PATH.read_text(encoding="utf-8"))
    if body is not None:
        text = exercises.fill_exercise(text, "clip_by_total_norm", body)
    start = text.index("def clip_by_total_norm")
    source = text[start:text.index("\n\n\n", start)]
    namespace = {"torch": torch}
    exec(compile(source, str(PATH), "exec"), namespace)
    return namespace["clip_by_total_norm"]


def test_an_unwritten_clipping_is_one_line():
    with pytest.raises(NotImplementedError) as stopped:
        student_function()([torch.ones(2)], 1.0)
    line = exercises.friendly_line(stopped.value)
    assert line.startswith("exercise clip_by_total_norm is not written yet:") and "\n" not in line


def test_the_lessons_own_answer_agrees_and_a_classic_mistake_is_named():
    from toolkit import diagnose

    assert diagnose.diagnose_clipping(exercises.clipping_cases(student_function(_solution()))) is None
    wrong = student_function("total = torch.stack([g.norm() for g in grads]).norm()\n"
                             "for g in grads:\n    g.mul_(max_norm / (total + 1e-6))\nreturn total")
    diagnosis = diagnose.diagnose_clipping(exercises.clipping_cases(wrong), "clip_by_total_norm")
    assert diagnosis.kind == "clip-scales-up"


def _solution() -> str:
    text = PATH.read_text(encoding="utf-8")
    found = next(e for e in exercises.find_exercises(text) if e.name == "clip_by_total_norm")
    lines = text.splitlines()[found.start:found.end - 1]
    return "\n".join(line[len(found.indent):] for line in lines)
