"""Every lesson runs, its twins agree at every step, and its figures are real pictures."""

import json

import numpy as np
import pytest

from helpers import assert_drawn, lesson_group
from toolkit import catalogue, cli
from toolkit.options import Options

LESSONS = catalogue.lesson_files()
EXPECTED_FIGURES = {
    "01_one_weight": {"loss_vs_w.png", "loss_gap.png"},
    "02_linear_regression": {"contour.png", "surface.png", "loss_curves.png"},
    "03_learning_rate": {"lr_paths.png", "lr_loss_gap.png"},
    "04_three_weights": {"weight_slices.png", "weights.png"},
    "05_hidden_layer": {"pca_landscape.png", "losses.png", "decision_regions.png"},
    "06_sgd": {"sgd_paths.png", "sgd_ball.png", "sgd_losses.png", "gradient_variance.png"},
    "07_momentum": {"momentum_paths.png", "momentum_rates.png", "effective_step.png"},
    "08_initialisation": {"activations.png", "gradient_flow.png", "init_losses.png"},
    "09_saddles_and_plateaus": {"plateau.png", "saddle_curvature.png"},
    "10_many_valleys": {"basins.png", "escape.png"},
    "11_adaptive_steps": {"adaptive_paths.png", "step_sizes.png", "rate_sweep.png", "moons_losses.png",
                          "weight_decay.png"},
    "12_schedules": {"schedules.png", "noise_floor.png"},
    "13_warmup": {"warmup.png", "catapult.png"},
    "14_softmax_batchnorm": {"preactivations.png", "seeds_and_rates.png", "decision_regions.png"},
    "15_honest_landscapes": {"interpolation.png", "planes.png", "sharpness.png"},
    "16_digits": {"digits.png", "generalisation.png", "planes.png", "regularisers.png", "sharpness.png"},
    "17_practical_recipe": {"range_test.png", "update_ratios.png", "clipping.png", "adagrad.png"},
    "18_curvature": {"newton_quadratic.png", "newton_saddle.png", "line_search.png", "preconditioning.png", "race.png"},
    "19_inside_autograd": {"graph.png", "three_twins.png", "modes.png"},
    "20_data_parallel": {"one_process.png", "linear_scaling.png", "noise_scale.png", "cost.png"},
}


# One parameter per lesson, each in its lesson's xdist group: a lesson runs once (see conftest.lesson_runs).
NAMES = [pytest.param(name, marks=lesson_group(name)) for name in EXPECTED_FIGURES]


def test_every_lesson_is_known_here():
    assert [p.stem for p in LESSONS] == list(EXPECTED_FIGURES)


@lesson_group("05_hidden_layer")
def test_lesson_05_draws_a_plane_that_holds_the_path(lesson_runs):
    run = lesson_runs("05_hidden_layer").run
    assert run.main.final_loss_manual < 0.05 * run.main.loss_manual[0]
    from toolkit.landscape import pca_plane

    assert pca_plane(run.main.path_manual).captured > 0.8


@pytest.mark.parametrize("name", NAMES)
def test_twins_agree_at_every_step(lesson_runs, name):
    run = lesson_runs(name).run
    assert run.reports and all(report.ok for report in run.reports)
    for history in run.histories.values():
        assert history.twins_agree
        assert history.max_abs_grad_diff <= 1e-12
        assert history.loss_manual == pytest.approx(history.loss_autograd, rel=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_figures_exist_and_are_not_blank(lesson_runs, name):
    folder = lesson_runs(name).folder
    summary = json.loads((folder / "summary.json").read_text())
    assert set(summary["figures"]) == EXPECTED_FIGURES[name]
    assert_drawn(lesson_runs(name).figures, EXPECTED_FIGURES[name])


@lesson_group("03_learning_rate")
def test_lesson_03_finds_the_stability_limit_and_shows_every_regime(lesson_runs):
    histories = lesson_runs("03_learning_rate").run.histories
    assert list(histories) == ["too small", "no zigzag", "fastest", "oscillating", "diverging"]
    assert histories["diverging"].diverged and not histories["oscillating"].diverged
    assert histories["fastest"].final_loss_manual < histories["no zigzag"].final_loss_manual
    losses = np.array(histories["oscillating"].loss_manual)
    assert (np.diff(losses) < 0).all()            # oscillating but still converging
    path = histories["oscillating"].path_manual
    steps = path[1:] - path[:-1]
    # Zigzag: consecutive steps point in nearly opposite directions at first.
    assert (steps[0] @ steps[1]) < 0


@pytest.mark.parametrize("name", NAMES)
def test_summary_keys_for_every_lesson(lesson_runs, name):
    summary = json.loads((lesson_runs(name).folder / "summary.json").read_text())
    assert summary["lesson"] == name and summary["device"] == "cpu" and summary["dtype"] == "float64"
    assert summary["diverged"] is False and summary["diverged_at_step"] is None
    assert summary["final_loss"]["manual"] == pytest.approx(summary["final_loss"]["autograd"], rel=1e-12)


def test_same_seed_gives_byte_identical_figures(tmp_path):
    path = LESSONS[0]
    # (PDF bytes are checked figure by figure in test_every_format_is_deterministic.)
    for folder in ("first", "second"):
        cli.run_lesson(path, Options(device="cpu", out=tmp_path / folder, quiet=True, formats=("png", "svg")))
    first, second = tmp_path / "first" / path.stem, tmp_path / "second" / path.stem
    assert len(list(first.glob("*.png"))) == len(list(first.glob("*.svg"))) == 2
    for name in sorted(p.name for p in first.iterdir()):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


@lesson_group("02_linear_regression")
@pytest.mark.parametrize("fmt", ["png", "svg", "pdf"])
def test_every_format_is_deterministic(lesson_runs, fmt):
    # Two figures built from scratch must give the same bytes: no dates, versions or random ids inside.
    from toolkit import plots

    history = lesson_runs("02_linear_regression").run.main
    first = plots.figure_bytes(plots.curves.loss_curves(history), fmt)
    second = plots.figure_bytes(plots.curves.loss_curves(history), fmt)
    assert first == second and len(first) > 1000


def test_lessons_run_on_every_device(device):
    # Train and check only (no files): everything must live on the requested device.
    run = cli.run_lesson(LESSONS[1], Options(device=device, quiet=True, save_figures=False, steps=5))
    assert run.device.type == device
    assert run.main.twins_agree and run.reports[0].ok


@pytest.mark.parametrize("name", NAMES)
def test_every_figure_has_a_caption_and_alt_text(lesson_runs, name):
    # The course notes and the figures' index print them: run.save(fig, name, caption=..., alt=...).
    summary = json.loads((lesson_runs(name).folder / "summary.json").read_text())
    saved = {figure.rsplit(".", 1)[0] for figure in summary["figures"]}
    captions = summary.get("captions", {})
    assert set(captions) == saved, f"{name}: figures without an entry: {sorted(saved - set(captions))}"
    for figure, about in captions.items():
        for key in ("caption", "alt"):
            text = about.get(key) or ""
            assert len(text.split()) >= 5, f"{name}/{figure}: the {key} is missing or too short: {text!r}"
