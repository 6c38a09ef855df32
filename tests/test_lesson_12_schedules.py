"""Lesson 12: learning-rate schedules, the noise floor of a constant rate, and warmup.

The lesson runs once as a script with its defaults (into a temporary folder).
Its schedule formulas are then checked against torch's schedulers, on its own
settings and on others; its prediction of the expected loss gap against many
simulated shuffled epochs; and its runs: the constant rate stays at its noise
floor while decay goes far below it, the run without warmup diverges and the
one with warmup does not, and both twins agree at every step.
"""

import json
import math

import pytest
import torch
from torch.optim import lr_scheduler

from helpers import gen, lesson_group, run_lesson_script
from toolkit import catalogue
from toolkit.optim import SGD

PATH = catalogue.find_lesson("12")
FIGURES = {"schedules.png", "noise_floor.png", "warmup.png"}


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
    assert list(ns["sweeps"]) == ["StepLR", "ExponentialLR", "CosineAnnealingLR", "LinearLR (warmup)",
                                  "warmup, then cosine"]
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


# --------------------------------------------------------------------------- the twins


def test_the_twins_agree_at_every_step_of_every_run(lesson):
    _, ns = lesson
    histories = ns["run"].histories
    assert len(histories) == 7
    for label, history in histories.items():
        assert history.twins_agree, label
        assert history.max_abs_grad_diff <= 1e-12, label
        assert history.loss_manual == pytest.approx(history.loss_autograd, rel=1e-12), label
        torch.testing.assert_close(history.path_manual, history.path_autograd, rtol=1e-12, atol=1e-14)
    assert all(report.ok for report in ns["run"].reports)


# --------------------------------------------------------------------------- the noise floor


def test_the_constant_rate_stays_at_its_floor_and_decay_goes_far_below_it(lesson):
    _, ns = lesson
    floor, gaps, epoch = ns["floor"], ns["gaps"], ns["epoch"]
    assert floor == pytest.approx(0.00684, rel=0.01)
    # Both twins measure the same gaps.
    for label in gaps:
        assert gaps[label][0] == pytest.approx(gaps[label][1], rel=1e-10, abs=1e-15)
    constant = gaps["constant"][0][200:]          # the second half: long settled
    assert sum(constant) / len(constant) == pytest.approx(floor, rel=0.15)
    assert min(constant) > floor / 5              # it never gets below the floor for good
    for label in ("StepLR", "CosineAnnealingLR"):
        last_epoch = gaps[label][0][-epoch:]
        assert max(last_epoch) < floor / 20, label
    # The measured last epochs agree with the prediction (within the noise of one run).
    for label, numbers in ns["final"].items():
        assert numbers["measured"] == pytest.approx(numbers["predicted"], rel=0.3), label


def test_the_floor_falls_with_the_rate_faster_than_with_independent_batches(lesson):
    # Independent batches: a·V/(2 − a), halved with the rate. Shuffled epochs: lower, and for small rates
    # proportional to the rate's square (quartered when it is halved).
    _, ns = lesson
    floor, independent = ns["noise_floor"], ns["independent_floor"]
    assert floor(1.0) == ns["floor"] and independent(1.0) == ns["independent"]
    assert floor(1.0) < independent(1.0)
    assert independent(0.01) / independent(0.005) == pytest.approx(2.0, rel=0.01)
    assert floor(1.0) / floor(0.5) == pytest.approx(2.97, rel=0.01)
    assert floor(0.01) / floor(0.005) == pytest.approx(4.0, rel=0.02)
    assert floor(25.0) is None and independent(25.0) is None         # a = 2.5: the error grows


def simulated_gaps(readings, start, rates, batch, runs, generator):
    """The loss gap of SGD on the averages problem, for many shuffles at once: (len(rates) + 1, runs).

    One step is e <- (1 - a) e + a u with a = rate * 2/D and u the batch average's error, on shuffled
    epochs cut into batches, exactly the update the twins take.
    """
    n, d = readings.shape
    mean = readings.mean(dim=0)
    error = (start - mean).expand(runs, d).clone()
    gaps = [error.pow(2).mean(dim=1)]
    per_epoch = n // batch
    for t, rate in enumerate(rates):
        if t % per_epoch == 0:
            order = torch.rand(runs, n, generator=generator, dtype=torch.float64).argsort(dim=1)
        k = t % per_epoch
        u = readings[order[:, k * batch:(k + 1) * batch]].mean(dim=1) - mean        # (runs, D)
        a = rate * 2 / d
        error = (1 - a) * error + a * u
        gaps.append(error.pow(2).mean(dim=1))
    return torch.stack(gaps)


@pytest.mark.parametrize("schedule", ["constant", "CosineAnnealingLR"])
def test_the_predicted_expected_gap_matches_many_shuffles(lesson, schedule):
    _, ns = lesson
    history = ns["histories"][schedule]
    start, rates = history.path_manual[0], history.lrs
    runs = 600
    gaps = simulated_gaps(ns["readings"], start, rates, ns["B"], runs, gen(1))
    mean, error = gaps.mean(dim=1), gaps.std(dim=1) / math.sqrt(runs)
    predicted = torch.tensor(ns["expected_gap"](start, rates), dtype=torch.float64)
    assert ((mean - predicted).abs() <= 5 * error + 1e-12).all()
    if schedule == "CosineAnnealingLR":
        # Without the shuffled epochs' term the prediction would be far off at the end.
        squared = (start - ns["best_w"]) ** 2
        for rate in rates:
            a = rate * ns["curvature"]
            squared = (1 - a) ** 2 * squared + a ** 2 * ns["batch_variance"]
        assert squared.mean().item() > 10 * mean[-1].item()


# --------------------------------------------------------------------------- warmup


def test_without_warmup_the_run_diverges_and_with_warmup_it_trains(lesson):
    _, ns = lesson
    no_warmup, with_warmup = ns["no_warmup"], ns["with_warmup"]
    assert no_warmup.lrs == [0.2] * no_warmup.steps
    assert with_warmup.lrs[10:] == pytest.approx([0.2] * 30, rel=1e-12)   # full after 10 steps of warmup
    assert no_warmup.diverged and no_warmup.diverged_at_step == 3
    assert not with_warmup.diverged
    assert with_warmup.final_loss_manual == pytest.approx(ns["chain_best_loss"], rel=1e-9)
    assert with_warmup.lrs[:11] == pytest.approx([0.2 * (0.1 + 0.09 * t) for t in range(11)], rel=1e-12)


def test_the_sharpness_explains_it(lesson):
    _, ns = lesson
    a, c, lr = ns["a"], ns["c"], ns["WARM_LR"]          # lesson 09's a = mean(x²), c = mean(x·y)
    assert ns["best_slope"] == c / a
    start, end = ns["start_sharpness"], ns["end_sharpness"]
    assert start == pytest.approx(6 * a * 3.0 ** 2 - 2 * c, rel=1e-12)
    assert end == pytest.approx(4 * c, rel=1e-12)
    assert 2 / start < lr < 2 / end               # too sharp for the rate at the start, not at the minimum
    for label, (manual, autograd) in ns["warm_sharpness"].items():
        path = ns["warm_histories"][label].path_manual
        assert manual == pytest.approx(autograd, rel=1e-12)
        # The symmetric start stays on the diagonal, where λmax = 6a·w² − 2c.
        assert torch.equal(path[:, 0], path[:, 1])
        finite = [k for k, value in enumerate(manual) if math.isfinite(value)]
        assert [manual[k] for k in finite] == pytest.approx(
            [6 * a * path[k, 0].item() ** 2 - 2 * c for k in finite], rel=1e-10)
    warm = ns["warm_sharpness"]["linear warmup, 10 steps"][0]
    rates = ns["with_warmup"].lrs
    assert all(rate * value < 2 for rate, value in zip(rates, warm))
    cold = ns["warm_sharpness"]["no warmup"][0]
    assert lr * cold[0] > 2 and cold[1] > cold[0]  # overshoots, and lands somewhere sharper


def test_the_blow_up_rate_and_the_catapult(lesson):
    _, ns = lesson
    a, c = ns["a"], ns["c"]
    assert ns["blow_up_lr"] == pytest.approx(1 / (9 * a - c), rel=1e-12)
    survives, blows_up = ns["catapult"][0.9], ns["catapult"][1.1]
    assert 0.9 * ns["blow_up_lr"] * ns["start_sharpness"] > 2          # overshoots at the start, and yet
    assert not survives.diverged and survives.final_loss_manual == pytest.approx(ns["chain_best_loss"], rel=1e-6)
    assert blows_up.diverged


# --------------------------------------------------------------------------- files


def test_summary_and_figures(lesson):
    folder, _ = lesson
    summary = json.loads((folder / "summary.json").read_text())
    assert set(summary["figures"]) == FIGURES
    for name in FIGURES:
        assert (folder / name).stat().st_size > 10_000
        entry = summary["captions"][name.removesuffix(".png")]
        assert entry["caption"] and entry["alt"]
    assert set(summary["formula_vs_scheduler"]) == {"StepLR", "ExponentialLR", "CosineAnnealingLR",
                                                    "LinearLR (warmup)", "warmup, then cosine"}
    assert max(summary["formula_vs_scheduler"].values()) <= 1e-14
    assert summary["warmup"]["no_warmup_diverged_at_step"] == 3 and summary["warmup"]["warmup_diverged"] is False
    assert summary["warmup"]["sharpness_start"] == pytest.approx(46.0, rel=0.01)
    assert summary["warmup"]["warmup_largest_lr_times_sharpness"] < 2
    assert summary["noise_floor"]["floor"] < summary["noise_floor"]["floor_independent_batches"]
    assert summary["diverged"] is False and summary["lr"] == 1.0


def test_a_short_run_at_a_diverging_rate_still_draws_every_figure(tmp_path):
    # Five steps (every schedule a few steps long) at a = ηλ = 10⁶: every noise-floor run blows up at once.
    ns = run_lesson_script(PATH, "--device", "cpu", "--quiet", "--out", str(tmp_path), "--lr", "1e7", "--steps", "5")
    summary = json.loads((tmp_path / PATH.stem / "summary.json").read_text())
    assert set(summary["figures"]) == FIGURES
    assert all(history.twins_agree for history in ns["run"].histories.values())
    assert summary["noise_floor"]["floor"] is None and summary["noise_floor"]["final_gap"] == {}
    assert all(ns["histories"][label].diverged for label in ns["runs"])
    assert summary["diverged"] is True and summary["warmup"]["warmup_diverged"] is False
