"""Lesson 13: warmup, on lesson 09's chain from a sharp start.

The lesson runs once as a script with its defaults (into a temporary folder).
Then: λmax at the start and at the minimum match their closed forms; the run
without warmup diverges, the warmed-up one trains and keeps ηₜ·λmax below 2,
the control at a rate safe at the start trains more slowly; all of it holds on
five seeds, where the warmed-up line is the least-squares line on held-out
points too; the catapult just below the blow-up rate survives and the run just
above it does not; and both twins agree at every step.
"""

import json
import math

import pytest
import torch

from helpers import assert_drawn, lesson_group, run_lesson_script, student_file
from toolkit import catalogue

PATH = catalogue.find_lesson("13")
FIGURES = {"warmup.png", "catapult.png"}
WARMUP = "linear warmup, 10 steps"
CONTROL = "constant, safe at the start"


pytestmark = lesson_group(PATH.stem)


@pytest.fixture(scope="module")
def lesson(lesson_runs):
    """The lesson's shared run with its defaults (read-only): (its output folder, the names it defined)."""
    run = lesson_runs(PATH.stem)
    return run.folder, run.names


def test_the_sharpness_at_the_start_and_at_the_minimum_match_their_formulas(lesson):
    _, ns = lesson
    a, c, d = ns["a"], ns["c"], ns["d"]          # lesson 09's a = mean(x²), c = mean(x·y), d = mean(y²)
    x, y = ns["x"], ns["y"]
    assert len(x) == 40 and len(ns["held_x"]) == 200
    assert a == pytest.approx((x * x).mean().item()) and c == pytest.approx((x * y).mean().item())
    assert ns["best_slope"] == c / a and ns["best_loss"] == pytest.approx(d - c * c / a, rel=1e-14)
    start, end = ns["start_sharpness"], ns["end_sharpness"]
    assert start == pytest.approx(6 * a * 3.0 ** 2 - 2 * c, rel=1e-12) == pytest.approx(46.0, rel=0.01)
    assert end == pytest.approx(4 * c, rel=1e-12)
    assert 2 / start < ns["run"].lr < 2 / end     # too sharp for the rate at the start, not at the minimum
    # The exercise's formula, α + |β|, is the larger eigenvalue anywhere on the diagonal, the saddle included.
    for w in (0.0, 0.3, 1.0, 3.0, -2.0):
        h = 2 * a * w * w
        off = 4 * a * w * w - 2 * c
        largest = torch.linalg.eigvalsh(torch.tensor([[h, off], [off, h]], dtype=torch.float64))[-1].item()
        assert ns["diagonal_sharpness"](w, a, c) == pytest.approx(largest, rel=1e-12, abs=1e-14)


def student_version(tmp_path, body=None):
    """The lesson's student version in tmp_path, with ``body`` written into its exercise (None: the stub)."""
    return student_file(PATH, tmp_path, solve_others=False, **({} if body is None else {"diagonal_sharpness": body}))


def test_a_wrong_sharpness_formula_stops_the_student_version(tmp_path, capsys):
    file = student_version(tmp_path, "return 6 * a * w ** 2 - c")
    with pytest.raises(SystemExit) as ended:
        run_lesson_script(file, "--device", "cpu", "--quiet", "--no-figures")
    assert ended.value.code == 1
    out = capsys.readouterr().out
    assert "DISAGREE" in out and "fix exercise diagonal_sharpness and run this file again" in out


def test_the_stub_left_empty_says_what_to_write(tmp_path):
    file = student_version(tmp_path)
    with pytest.raises(NotImplementedError, match="exercise diagonal_sharpness: return α"):
        run_lesson_script(file, "--device", "cpu", "--quiet", "--no-figures")


def test_without_warmup_the_run_diverges_and_with_warmup_it_trains(lesson):
    _, ns = lesson
    no_warmup, with_warmup = ns["no_warmup"], ns["with_warmup"]
    assert no_warmup.lrs == [0.2] * no_warmup.steps
    assert no_warmup.diverged and no_warmup.diverged_at_step == 3
    assert not with_warmup.diverged
    assert with_warmup.final_loss_manual == pytest.approx(ns["best_loss"], rel=1e-12)
    assert with_warmup.lrs[:11] == pytest.approx([0.2 * (0.1 + 0.09 * t) for t in range(11)], rel=1e-12)
    assert with_warmup.lrs[10:] == pytest.approx([0.2] * 30, rel=1e-12)   # full after 10 steps of warmup


def test_the_sharpness_explains_it(lesson):
    _, ns = lesson
    a, c = ns["a"], ns["c"]
    for label, (manual, autograd) in ns["sharpness"].items():
        history = ns["histories"][label]
        assert manual == pytest.approx(autograd, rel=1e-12, nan_ok=True)
        # The symmetric start stays on the diagonal, where λmax = 6a·w² − 2c.
        torch.testing.assert_close(history.path_manual[:, 0], history.path_manual[:, 1], rtol=1e-14, atol=0)
        finite = [k for k, value in enumerate(manual) if math.isfinite(value)]
        assert [manual[k] for k in finite] == pytest.approx(
            [6 * a * history.path_manual[k, 0].item() ** 2 - 2 * c for k in finite], rel=1e-10)
    warm = ns["sharpness"][WARMUP][0]
    assert all(rate * value < 2 for rate, value in zip(ns["with_warmup"].lrs, warm))
    cold = ns["sharpness"]["no warmup"][0]
    assert 0.2 * cold[0] > 2 and cold[1] > cold[0]  # overshoots, and lands somewhere sharper


def test_the_control_at_a_rate_safe_for_the_start_trains_more_slowly(lesson):
    _, ns = lesson
    control = ns["histories"][CONTROL]
    assert ns["safe_lr"] == pytest.approx(0.9 * 2 / ns["start_sharpness"], rel=1e-14)
    assert control.lrs == [ns["safe_lr"]] * 40 and not control.diverged
    assert all(ns["safe_lr"] * value < 2 for value in ns["sharpness"][CONTROL][0])
    control_gap = control.final_loss_manual - ns["best_loss"]
    warm_gap = ns["with_warmup"].final_loss_manual - ns["best_loss"]
    assert 1e-8 < control_gap < 1e-4 and abs(warm_gap) < 1e-13
    # The warmed-up run is at L* to rounding long before the control's last step.
    reached = next(t for t, loss in enumerate(ns["with_warmup"].loss_manual) if loss - ns["best_loss"] < 1e-13)
    assert reached < 30


def test_on_five_seeds_warmup_trains_where_the_full_rate_blows_up(lesson):
    _, ns = lesson
    by_seed = ns["by_seed"]
    assert ns["SEEDS"] == [0, 1, 2, 3, 4] and ns["twins_agree"]
    assert [r["diverged"] for r in by_seed["no warmup"]] == [True] * 5
    assert not any(r["diverged"] for r in by_seed[WARMUP] + by_seed[CONTROL])
    starts = [r["sharpness_start"] for r in by_seed["no warmup"]]
    assert min(starts) == pytest.approx(ns["start_sharpness"], rel=1e-12) and max(starts) > 70
    for r in by_seed[WARMUP]:
        assert abs(r["gap"]) < 1e-13
        assert r["held_out"] == pytest.approx(r["least_squares"], rel=1e-10)    # the least-squares line, held out
    for r in by_seed[CONTROL]:
        assert 0 < r["gap"] < 1e-5 and r["held_out"] == pytest.approx(r["least_squares"], abs=5e-4)


def test_the_blow_up_rate_and_the_catapult(lesson):
    _, ns = lesson
    a, c = ns["a"], ns["c"]
    assert ns["blow_up_lr"] == pytest.approx(1 / (9 * a - c), rel=1e-12)
    survives, blows_up = ns["catapult"][0.9], ns["catapult"][1.1]
    assert 0.9 * ns["blow_up_lr"] * ns["start_sharpness"] > 2          # overshoots at the start, and yet
    assert not survives.diverged and survives.final_loss_manual == pytest.approx(ns["best_loss"], rel=1e-6)
    assert blows_up.diverged
    # As the text says: below the blow-up rate w1 lands at −2.4 and then near the origin; above it, at −3.6.
    w_below, w_above = survives.path_manual[:3, 0].tolist(), blows_up.path_manual[:2, 0].tolist()
    assert w_below[1] == pytest.approx(-2.4, abs=0.05) and abs(w_below[2]) < 0.3
    assert w_above[1] == pytest.approx(-3.6, abs=0.05)


def test_the_twins_agree_at_every_step_of_every_run(lesson):
    _, ns = lesson
    histories = ns["run"].histories
    assert len(histories) == 5
    for label, history in histories.items():
        assert history.twins_agree, label
        assert history.max_abs_grad_diff <= 1e-12, label
        torch.testing.assert_close(history.path_manual, history.path_autograd, rtol=1e-12, atol=1e-14)
    assert all(report.ok for report in ns["run"].reports)


def test_summary_and_figures(lesson, lesson_runs):
    folder, _ = lesson
    summary = json.loads((folder / "summary.json").read_text())
    assert set(summary["figures"]) == FIGURES
    for name in FIGURES:
        assert_drawn(lesson_runs(PATH.stem).figures, [name])
        entry = summary["captions"][name.removesuffix(".png")]
        assert entry["caption"] and entry["alt"] and "orange" not in entry["caption"] + entry["alt"]
    warmup = summary["warmup"]
    assert warmup["no_warmup_diverged_at_step"] == 3 and warmup["warmup_diverged"] is False
    assert warmup["sharpness_start"] == pytest.approx(46.0, rel=0.01)
    assert warmup["warmup_largest_lr_times_sharpness"] < 2
    assert warmup["catapult"]["0.9"]["diverged_at_step"] is None and warmup["catapult"]["1.1"]["diverged_at_step"]
    assert len(summary["seeds"][WARMUP]) == 5
    # The main run is the warmed-up one: the summary's lr is the rate it was given, its first step a tenth of it.
    assert summary["diverged"] is False and summary["lr"] == warmup["lr"] == 0.2
    assert lesson[1]["run"].main.lrs[0] == pytest.approx(0.02)


def test_a_smaller_rate_and_a_short_run_still_draw_every_figure(tmp_path):
    # At η = 0.05 the full rate overshoots at the start (η·λmax ≈ 2.3) but stays below the blow-up rate.
    ns = run_lesson_script(PATH, "--device", "cpu", "--quiet", "--out", str(tmp_path), "--lr", "0.05", "--steps", "3")
    summary = json.loads((tmp_path / PATH.stem / "summary.json").read_text())
    assert set(summary["figures"]) == FIGURES
    assert all(history.twins_agree for history in ns["run"].histories.values())
    assert not ns["no_warmup"].diverged and ns["no_warmup"].steps == 3
