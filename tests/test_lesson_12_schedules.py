"""Lesson 12: learning-rate schedules, and the noise floor of a constant rate that decay goes below.

The lesson runs once as a script with its defaults (into a temporary folder).
Its schedule formulas are then checked against torch's schedulers, on its own
settings and on others; its runs: the constant rate stays at its predicted
noise floor while decay goes far below it, on every one of its 20 seeds, the
held-out readings agree, and both twins agree at every step. (The prediction
itself is tested in test_noise_floor.py.)
"""

import json

import pytest
import torch
from torch.optim import lr_scheduler

from helpers import assert_drawn, lesson_group, run_lesson_script
from toolkit import catalogue
from toolkit.optim import SGD

PATH = catalogue.find_lesson("12")
FIGURES = {"schedules.png", "noise_floor.png"}
SCHEDULES = ["StepLR", "ExponentialLR", "CosineAnnealingLR", "LinearLR (warmup)", "warmup, then cosine"]


pytestmark = lesson_group(PATH.stem)


@pytest.fixture(scope="module")
def lesson(lesson_runs):
    """The lesson run as a script with its defaults: (its output folder, the names it defined)."""
    run = lesson_runs(PATH.stem)
    return run.folder, run.names


def rates_of(make_scheduler, lr0, steps):
    """The rates a torch scheduler sets at steps 0 .. steps, driving our SGD."""
    optimizer = SGD([torch.zeros(1, dtype=torch.float64)], lr=lr0)
    scheduler = make_scheduler(optimizer)
    rates = []
    for _ in range(steps + 1):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return rates


# --------------------------------------------------------------------------- the formulas


def test_each_formula_equals_its_scheduler_at_every_step_of_the_lesson(lesson):
    _, ns = lesson
    assert list(ns["sweeps"]) == SCHEDULES
    for name, (by_torch, by_formula) in ns["sweeps"].items():
        assert len(by_torch) == len(by_formula) == ns["T"] + 1 == 401
        worst = max(abs(a - b) for a, b in zip(by_torch, by_formula))
        assert worst <= 1e-14, name                  # equal up to rounding (η₀ = 1)
        assert worst == ns["differences"][name]
    assert ns["sweeps"]["StepLR"][0] == ns["sweeps"]["StepLR"][1]     # powers of 0.5: bit for bit


@pytest.mark.parametrize("case", ["step", "exponential", "cosine", "warmup", "warmup then cosine"])
def test_each_formula_equals_its_scheduler_on_other_settings(lesson, case):
    # Other constants than the lesson's, over 1000 steps: the formulas are general, not fitted to one run.
    _, ns = lesson
    lr0, steps = 0.37, 1000
    make, formula = {
        "step": (lambda opt: lr_scheduler.StepLR(opt, step_size=7, gamma=0.3),
                 lambda t: ns["step_rate"](t, lr0, 7, 0.3)),
        "exponential": (lambda opt: lr_scheduler.ExponentialLR(opt, gamma=0.995),
                        lambda t: ns["exponential_rate"](t, lr0, 0.995)),
        "cosine": (lambda opt: lr_scheduler.CosineAnnealingLR(opt, T_max=steps, eta_min=0.01),
                   lambda t: ns["cosine_rate"](t, lr0, steps, 0.01)),
        "warmup": (lambda opt: lr_scheduler.LinearLR(opt, start_factor=0.25, total_iters=123),
                   lambda t: ns["warmup_rate"](t, lr0, 0.25, 123)),
        "warmup then cosine": (
            lambda opt: lr_scheduler.SequentialLR(
                opt, [lr_scheduler.LinearLR(opt, start_factor=0.05, total_iters=30),
                      lr_scheduler.CosineAnnealingLR(opt, T_max=steps - 30)], milestones=[30]),
            lambda t: ns["warmup_cosine_rate"](t, lr0, 0.05, 30, steps)),
    }[case]
    by_torch = rates_of(make, lr0, steps)
    by_formula = [formula(t) for t in range(steps + 1)]
    assert max(abs(a - b) for a, b in zip(by_torch, by_formula)) <= 1e-12 * lr0
    assert by_formula[0] == pytest.approx(by_torch[0], abs=1e-15)


def test_training_used_the_rates_the_schedulers_set(lesson):
    _, ns = lesson
    histories = ns["histories"]
    assert histories["constant"].lrs == [ns["run"].lr] * 400
    for name in ("StepLR", "CosineAnnealingLR"):
        assert histories[name].lrs == ns["sweeps"][name][0][:400]


def test_the_schedules_figure_says_nothing_a_reader_does_not_need(lesson):
    # The largest difference is stated once, in the caption; the panels carry no "max |diff|" labels.
    folder, ns = lesson
    fig = ns["run"].drawn["schedules"]
    texts = [text.get_text() for text in fig.findobj(lambda a: hasattr(a, "get_text"))]
    assert not [text for text in texts if "diff" in text]
    caption = json.loads((folder / "summary.json").read_text())["captions"]["schedules"]["caption"]
    assert f"{max(ns['differences'].values()):.0e}" in caption


# --------------------------------------------------------------------------- the twins


def test_the_twins_agree_at_every_step_of_every_run(lesson):
    _, ns = lesson
    histories = ns["run"].histories
    assert list(histories) == [f"noise floor: {label}" for label in ("constant", "StepLR", "CosineAnnealingLR")]
    for label, history in histories.items():
        assert history.twins_agree, label
        assert history.max_abs_grad_diff <= 1e-12, label
        assert history.loss_manual == pytest.approx(history.loss_autograd, rel=1e-12), label
        torch.testing.assert_close(history.path_manual, history.path_autograd, rtol=1e-12, atol=1e-14)
    assert all(report.ok for report in ns["run"].reports)


# --------------------------------------------------------------------------- the noise floor


def test_the_constant_rate_stays_at_its_floor_and_decay_goes_far_below_it(lesson):
    _, ns = lesson
    floor, gaps, epoch = ns["floor"], ns["gaps"], ns["noise"].epoch
    assert floor == pytest.approx(0.00684, rel=0.01) == ns["noise"].floor(1.0)
    # Both twins measure the same gaps, and the gap from the weights is the final loss minus L*.
    for label in gaps:
        assert gaps[label][0] == pytest.approx(gaps[label][1], rel=1e-10, abs=1e-15)
        history = ns["histories"][label]
        assert gaps[label][0][-1] == pytest.approx(history.final_loss_manual - ns["noise"].best_loss, rel=1e-8)
    constant = gaps["constant"][0][200:]          # the second half: long settled
    assert sum(constant) / len(constant) == pytest.approx(floor, rel=0.15)
    assert min(constant) > floor / 5              # it never gets below the floor for good
    for label in ("StepLR", "CosineAnnealingLR"):
        assert max(gaps[label][0][-epoch:]) < floor / 20, label
    # The measured last epochs agree with the prediction (within the noise of one run).
    for label in gaps:
        measured, predicted = gaps[label][0][-epoch:], ns["predictions"][label][-epoch:]
        assert sum(measured) / epoch == pytest.approx(sum(predicted) / epoch, rel=0.3), label


def test_the_floor_table_falls_faster_than_the_rate(lesson):
    _, ns = lesson
    table = ns["table"]
    assert [row["rate"] for row in table] == [1.0 / 2 ** k for k in range(7)]
    for before, after in zip(table, table[1:]):
        assert 2.9 < before["floor"] / after["floor"] < 4.0
        assert 1.99 < before["floor_independent_batches"] / after["floor_independent_batches"] < 2.06


def test_the_seeds_train_as_the_twins_do(lesson):
    # The row of the lesson's seed in the stacked runs takes the twins' steps.
    _, ns = lesson
    for label, make_scheduler in ns["runs"].items():
        path = ns["train_seeds"](make_scheduler)
        assert path.shape == (401, 20, 20)
        torch.testing.assert_close(path[:, ns["SEEDS"].index(0)], ns["histories"][label].path_manual,
                                   rtol=1e-12, atol=1e-14)


def test_over_twenty_seeds_decay_wins_in_training_and_on_held_out_readings(lesson):
    _, ns = lesson
    by_seed, floors = ns["by_seed"], ns["floors"]
    assert ns["SEEDS"] == list(range(20)) and floors.shape == (20,)
    # The constant rate's gap over the second half of its run sits at each seed's predicted floor.
    ratio = by_seed["constant"]["second_half"] / floors
    assert ratio.mean().item() == pytest.approx(1.0, abs=0.03)
    assert ((ratio > 0.8) & (ratio < 1.2)).all()
    for label in ("StepLR", "CosineAnnealingLR"):
        assert by_seed[label]["gap"].max() < floors.min() / 50, label         # on every seed, far below
        change = by_seed[label]["held_out"] - by_seed["constant"]["held_out"]
        assert (change < 0).sum() >= 15, label                                # on most seeds, not all
        assert change.mean() < -2 * change.std() / 20 ** 0.5, label          # and not by chance
        # about as large as the training gap the constant rate leaves at the end
        assert -change.mean() == pytest.approx(by_seed["constant"]["gap"].mean(), rel=0.5), label
    held = by_seed["StepLR"]["held_out"]
    assert (held - ns["best_held_out"]).abs().max() < 0.002 < held.mean() - 1     # the data's own noise stays


# --------------------------------------------------------------------------- files


def test_summary_and_figures(lesson, lesson_runs):
    folder, _ = lesson
    summary = json.loads((folder / "summary.json").read_text())
    assert set(summary["figures"]) == FIGURES
    for name in FIGURES:
        assert_drawn(lesson_runs(PATH.stem).figures, [name])
        entry = summary["captions"][name.removesuffix(".png")]
        assert entry["caption"] and entry["alt"] and "orange" not in entry["caption"] + entry["alt"]
    assert set(summary["formula_vs_scheduler"]) == set(SCHEDULES)
    assert max(summary["formula_vs_scheduler"].values()) <= 1e-14
    noise = summary["noise_floor"]
    assert noise["floor"] < noise["floor_independent_batches"] and len(noise["floor_by_rate"]) == 7
    assert set(noise["by_seed"]) == {"constant", "StepLR", "CosineAnnealingLR"}
    assert all(len(values) == 20 for numbers in noise["by_seed"].values() for values in numbers.values())
    assert summary["diverged"] is False and summary["lr"] == 1.0


def test_a_short_run_at_a_diverging_rate_still_draws_every_figure(tmp_path):
    # Five steps (every schedule a few steps long) at a = ηλ = 10⁶: every noise-floor run blows up at once.
    ns = run_lesson_script(PATH, "--device", "cpu", "--quiet", "--out", str(tmp_path), "--lr", "1e7", "--steps", "5")
    summary = json.loads((tmp_path / PATH.stem / "summary.json").read_text())
    assert set(summary["figures"]) == FIGURES
    assert all(history.twins_agree for history in ns["run"].histories.values())
    assert summary["noise_floor"]["floor"] is None and summary["noise_floor"]["by_seed"] == {}
    assert all(ns["histories"][label].diverged for label in ns["runs"])
    assert summary["diverged"] is True
