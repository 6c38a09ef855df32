"""A diverging run is reported, not crashed, and its figures are still drawn; step axes count whole steps."""

import json
import math

import numpy as np
import pytest
import torch
from helpers import assert_rendered, draft_figures

from toolkit import catalogue, cli, plots
from toolkit.landscape import drawable_part
from toolkit.options import Options
from toolkit.train import History

EXPECTED_FIGURES = {
    "1": ("01_one_weight", {"loss_vs_w.png", "loss_gap.png"}),
    "2": ("02_linear_regression", {"contour.png", "surface.png", "loss_curves.png"}),
    "5": ("05_hidden_layer", {"pca_landscape.png", "losses.png", "decision_regions.png"}),
}


# Each of these used to stop with one error line and exit code 2 (a NaN axis limit, or no finite loss to
# take contour levels from): the path leaves every reasonable value at the first step.
@pytest.mark.parametrize("lesson, lr", [("1", "1e200"), ("1", "1e308"), ("2", "1e200"), ("5", "1e308")])
def test_a_run_that_diverges_at_once_still_draws_every_figure(tmp_path, capsys, lesson, lr):
    with draft_figures():
        code = cli.main(["run", lesson, "--lr", lr, "--quiet", "--device", "cpu", "--out", str(tmp_path)])
    output = capsys.readouterr()
    assert code == 0, output.err
    assert "DIVERGED at step 1" in output.out
    name, figures = EXPECTED_FIGURES[lesson]
    summary = json.loads((tmp_path / name / "summary.json").read_text())
    assert summary["diverged"] is True and summary["diverged_at_step"] == 1
    assert set(summary["figures"]) == figures
    assert_rendered(tmp_path / name, figures)


def capture(monkeypatch, function_name):
    """Keep every figure that plots.<function_name> returns while a lesson runs."""
    made = []
    module, _, function_name = function_name.rpartition(".")
    home = getattr(plots, module) if module else plots
    original = getattr(home, function_name)

    def keep(*args, **kwargs):
        made.append(original(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(home, function_name, keep)
    return made


def lines_labelled(ax, label):
    return [line for line in ax.get_lines() if line.get_label() == label]


def test_one_step_of_lesson_05_draws_its_two_point_path(tmp_path, monkeypatch):
    made = capture(monkeypatch, "planes.path_on_plane")
    loss_figures = capture(monkeypatch, "hidden_layer.train_validation_losses")
    path = catalogue.find_lesson("5")
    with draft_figures():
        run = cli.run_lesson(path, Options(device="cpu", steps=1, out=tmp_path, quiet=True))
    assert len(run.main.path_manual) == 2
    assert_rendered(tmp_path / path.stem, EXPECTED_FIGURES["5"][1])

    left, right = made[0].axes[0], loss_figures[0].axes[0]
    (manual,) = lines_labelled(left, plots.MANUAL["label"])
    points = manual.get_xydata()
    assert points.shape == (2, 2) and np.isfinite(points).all()
    # A window around both points, neither on its edge, and the path not a dot in it.
    (x0, x1), (y0, y1) = left.get_xlim(), left.get_ylim()
    assert (x0 < points[:, 0]).all() and (points[:, 0] < x1).all()
    assert (y0 < points[:, 1]).all() and (points[:, 1] < y1).all()
    assert np.ptp(points[:, 0]) > 0.5 * (x1 - x0)
    # The loss figure shows the losses inside its limits: a line through both points, or a marker on a lone
    # point (a lone line point is invisible).
    (loss,) = lines_labelled(right, plots.MANUAL["label"])
    low, high = right.get_ylim()
    assert np.isfinite(loss.get_ydata()).sum() == 2 or loss.get_marker() not in ("None", "", None)
    assert low < loss.get_ydata()[0] < high
    assert high / low >= 10 or len([tick for tick in right.get_yticks() if low <= tick <= high]) >= 2
    assert all(float(tick).is_integer() for tick in right.get_xticks())


def history_of(losses, diverged_at=None, params=1):
    history = History(lr=0.1, loss_manual=list(losses), loss_autograd=list(losses))
    steps = len(losses) - (1 if diverged_at is None else 0)
    history.grad_diff = [{"w": 0.0}] * steps
    history.path_manual = torch.zeros(len(losses) if diverged_at is not None else len(losses) + 1, params)
    history.path_autograd = history.path_manual.clone()
    if diverged_at is not None:
        history.diverged, history.diverged_at_step = True, diverged_at
        history.final_loss_manual = history.final_loss_autograd = losses[-1]
    else:
        history.final_loss_manual = history.final_loss_autograd = losses[-1] / 2
    return history


def visible_ticks(ax):
    low, high = sorted(ax.get_xlim())
    return [tick for tick in ax.get_xticks() if low <= tick <= high]


@pytest.mark.parametrize("losses", [[3.7], [3.7, 2.0], [3.7, 2.0, 1.1], [3.7, 2.0, 1.1, 0.7, 0.5, 0.4, 0.3]])
def test_step_axes_show_whole_steps(losses):
    history = history_of(losses)
    axes = [plots.curves.loss_curves(history).axes[0],
            plots.curves.loss_curves_by_run({"a": history, "b": history_of(losses[:1])}).axes[0]]
    for ax in axes:
        ticks = visible_ticks(ax)
        assert ticks, "no tick on the step axis"
        assert all(float(tick).is_integer() for tick in ticks), ticks


def test_a_one_step_run_has_the_single_step_tick_0():
    ax = plots.curves.loss_curves(history_of([3.7])).axes[0]
    assert visible_ticks(ax) == [0]


@pytest.mark.parametrize("last", [math.inf, math.nan, 1e250])
def test_a_loss_off_the_scale_is_marked_not_plotted(last):
    history = history_of([3.7, 2.0, last], diverged_at=2)
    fig = plots.curves.loss_curves(history)
    ax = fig.axes[0]
    low, high = ax.get_ylim()
    assert 0 < low < high < 1e20 and math.isfinite(high)
    assert any("diverged" in text.get_text() for text in ax.texts)
    assert len(plots.figure_bytes(fig, "png")) > 1000


def test_a_diverged_path_is_drawn_until_it_leaves_the_window():
    alphas, betas = np.linspace(-1, 1, 21), np.linspace(-1, 1, 17)
    Z = 1 + np.add.outer(betas ** 2, alphas ** 2)
    path = np.array([[0.5, 0.5], [-0.5, 0.2], [0.8, -0.6], [-30.0, 10.0], [np.inf, -np.inf]])
    fig = plots.linear_regression.contour_with_paths(alphas, betas, Z, path, path, xlabel="a", ylabel="b", diverged_at=4)
    ax = fig.axes[0]
    (manual,) = lines_labelled(ax, plots.MANUAL["label"])
    assert len(manual.get_xydata()) == 3                          # the three points inside
    assert not lines_labelled(ax, "end") and lines_labelled(ax, "diverged")
    assert any("off the plot at step 3" in text.get_text() for text in ax.texts)
    assert len(plots.figure_bytes(fig, "png")) > 1000


def test_a_path_with_no_direction_and_a_landscape_with_no_finite_loss_are_still_drawn():
    alphas, betas = np.linspace(-1, 1, 5), np.linspace(-1, 1, 4)
    path = np.array([[0.0, 0.0], [np.nan, np.nan]])
    history = history_of([0.7, math.nan], diverged_at=1, params=2)
    for Z in (np.full((4, 5), np.inf), 1 + np.add.outer(betas ** 2, alphas ** 2)):
        fig = plots.planes.path_on_plane(alphas, betas, Z, path, path, history, xlabel="a", ylabel="b",
                                  note="nothing to fit a plane to")
        left = fig.axes[0]
        assert lines_labelled(left, "diverged")
        assert any("nothing to fit" in text.get_text() for text in left.texts)
        assert len(plots.figure_bytes(fig, "png")) > 1000
    fig = plots.linear_regression.contour_with_paths(alphas, betas, np.full((4, 5), np.nan), path, path, xlabel="a", ylabel="b",
                                   diverged_at=1)
    assert any("not a finite number" in text.get_text() for text in fig.axes[0].texts)


def test_drawable_part_frames_a_diverged_run_by_its_steps_before_the_blow_up():
    assert drawable_part(history_of([4.0, 2.0, 1.0])) == 4                   # converged: the whole path
    assert drawable_part(history_of([4.0, 2.0, 50.0, 900.0, math.inf], diverged_at=4)) == 3
    assert drawable_part(history_of([4.0, math.inf], diverged_at=1)) == 1    # only the start
    history = history_of([4.0, 2.0, 3.0], diverged_at=2)
    history.path_manual[1, 0] = math.inf                                     # parameters not finite
    assert drawable_part(history) == 1
