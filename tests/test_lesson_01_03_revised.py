"""Lessons 01-03 teach what their figures show: rates measured against theory, regimes from the Hessian."""

import numpy as np
import pytest
import torch

from helpers import lesson_group
from toolkit import catalogue, plots


LESSON_01, LESSON_03 = catalogue.find_lesson("1").stem, catalogue.find_lesson("3").stem


@pytest.fixture(scope="module")
def lesson_01(lesson_runs):
    """Everything lesson 01 defined, run as a script with its defaults (CPU)."""
    return lesson_runs(LESSON_01).names


@pytest.fixture(scope="module")
def lesson_03(lesson_runs):
    """Everything lesson 03 defined, run as a script with its defaults (CPU)."""
    return lesson_runs(LESSON_03).names


def least_squares(x, y):
    """The minimum (w*, b*) and L* of y ≈ w·x + b, and the Hessian 2/N [[Σx², Σx], [Σx, N]], all in closed form."""
    design = torch.cat([x, torch.ones_like(x)], dim=1)
    best = torch.linalg.lstsq(design, y).solution.flatten()
    best_loss = ((design @ best - y.flatten()) ** 2).mean().item()
    return best, best_loss, 2 / len(x) * design.T @ design


@lesson_group(LESSON_01)
def test_lesson_01_the_loss_gap_shrinks_by_one_minus_lr_lambda_squared_at_every_step(lesson_01):
    x, y, run = lesson_01["x"], lesson_01["y"], lesson_01["run"]
    history = run.main
    assert not history.diverged and history.steps == run.steps
    w_star = ((x * y).sum() / (x * x).sum()).item()
    best_loss = ((w_star * x - y) ** 2).mean().item()
    curvature = 2 * (x * x).mean().item()                      # λ = d²L/dw²
    theory = (1 - run.lr * curvature) ** 2
    gaps = np.array(history.path_losses()[0]) - best_loss
    measured = gaps[1:] / gaps[:-1]
    assert measured == pytest.approx(np.full(len(measured), theory), rel=1e-6)
    # The slope of log(L − L*) against the step, fitted over the whole run, is log((1 − lr·λ)²).
    slope = np.polyfit(np.arange(len(gaps)), np.log(gaps), 1)[0]
    assert slope == pytest.approx(np.log(theory), rel=1e-8)
    # The lesson says the same numbers, and its dashed line starts where the run does.
    assert lesson_01["factor"] == pytest.approx(theory, rel=1e-12)
    assert lesson_01["start_gap"] == pytest.approx(gaps[0], rel=1e-9)


@lesson_group(LESSON_01)
def test_lesson_01_the_slopes_on_its_figure_are_the_twins_gradients_on_a_straight_line(lesson_01):
    x, y, run = lesson_01["x"], lesson_01["y"], lesson_01["run"]
    path = run.main.path_manual[:-1, 0].numpy()
    slopes_by_hand = np.array(lesson_01["slopes_by_hand"])
    assert slopes_by_hand == pytest.approx(np.array(lesson_01["slopes_by_autograd"]), rel=1e-12, abs=1e-14)
    # dL/dw = 2/N Σ (w·x − y)·x: a straight line in w with slope λ, zero at w*.
    expected = [2 * ((w * x - y) * x).mean().item() for w in path]
    assert slopes_by_hand == pytest.approx(expected, rel=1e-10, abs=1e-12)


@lesson_group(LESSON_03)
def test_lesson_03_its_five_rates_are_the_formulas_of_the_hessians_eigenvalues(lesson_03):
    best, _, H = least_squares(lesson_03["x"], lesson_03["y"])
    low, high = torch.linalg.eigvalsh(H).tolist()
    histories = lesson_03["histories"]
    expected = {"too small": 0.1 / high, "no zigzag": 1 / high, "fastest": 2 / (low + high), "oscillating": 0.99 * 2 / high,
                "diverging": 1.2 * 2 / high}
    assert list(histories) == list(expected)
    for label, lr in expected.items():
        assert histories[label].lr == pytest.approx(lr, rel=1e-10), label
    assert lesson_03["kappa"] == pytest.approx(high / low, rel=1e-10)
    assert lesson_03["run"].main is histories["fastest"]


@lesson_group(LESSON_03)
def test_lesson_03_the_loss_falls_at_every_step_below_2_over_lambda_max_even_while_zigzagging(lesson_03):
    histories = lesson_03["histories"]
    for label in ["too small", "no zigzag", "fastest", "oscillating"]:
        history = histories[label]
        losses = np.array(history.path_losses()[0])
        assert not history.diverged and len(losses) == history.steps + 1 == 51, label
        assert (np.diff(losses) < 0).all(), label
    diverging = histories["diverging"]
    assert diverging.diverged and (np.diff(diverging.loss_manual) > 0).all()


def steep_errors(lesson_03, label):
    """The distance to the minimum along the Hessian's steepest eigenvector, at every point of the path."""
    best, _, H = least_squares(lesson_03["x"], lesson_03["y"])
    _, vectors = torch.linalg.eigh(H)
    return ((lesson_03["histories"][label].path_manual - best) @ vectors[:, 1]).numpy()


@lesson_group(LESSON_03)
def test_lesson_03_one_over_lambda_max_does_not_zigzag_and_the_barely_stable_rate_does(lesson_03):
    # 1/λmax: the steep error is wiped out by the first step (1 − lr·λmax = 0) and never comes back,
    # let alone changes sign; what is left of it is rounding.
    error = steep_errors(lesson_03, "no zigzag")
    assert abs(error[0]) > 0.5
    assert np.abs(error[1:]).max() < 1e-12 * abs(error[0])
    # Nor does the path turn back: every step moves the same way along the valley floor.
    steps = np.diff(lesson_03["histories"]["no zigzag"].path_manual.numpy(), axis=0)
    assert (steps[1:] @ steps[0] > 0).all()
    # 0.99 · 2/λmax: the steep error flips sign at every step, shrinking by only 2 % each time.
    error = steep_errors(lesson_03, "oscillating")
    assert (error[1:] * error[:-1] < 0).all()
    assert np.abs(error[1:] / error[:-1]) == pytest.approx(np.full(len(error) - 1, 0.98), rel=1e-6)


@lesson_group(LESSON_03)
def test_lesson_03_the_too_small_rate_is_safe_and_slow(lesson_03):
    # 0.1/λmax: the steep error keeps 0.9 of itself per step, never flipping sign, and the
    # shallow error 1 − 0.1/κ: after 50 steps the run is still far from the minimum, with a
    # loss gap far above the slowest stable rate's (the barely stable one).
    best, best_loss, H = least_squares(lesson_03["x"], lesson_03["y"])
    low, high = torch.linalg.eigvalsh(H).tolist()
    error = steep_errors(lesson_03, "too small")
    assert np.abs(error[1:] / error[:-1]) == pytest.approx(np.full(len(error) - 1, 0.9), rel=1e-6)
    assert (error[1:] * error[:-1] > 0).all()
    histories = lesson_03["histories"]
    path = histories["too small"].path_manual
    left = (path[-1] - best).norm() / (path[0] - best).norm()
    assert left > 0.5 * (1 - 0.1 * low / high) ** 50
    gaps = {label: histories[label].path_losses()[0][-1] - best_loss for label in ("too small", "oscillating")}
    assert gaps["too small"] > 2 * gaps["oscillating"]


@lesson_group(LESSON_03)
def test_lesson_03_each_loss_gap_shrinks_at_the_rate_its_eigenvalues_predict(lesson_03):
    _, best_loss, H = least_squares(lesson_03["x"], lesson_03["y"])
    curvatures = torch.linalg.eigvalsh(H)
    for label, history in lesson_03["histories"].items():
        factor = ((1 - history.lr * curvatures).abs().max() ** 2).item()
        assert lesson_03["theory"][label][1] == pytest.approx(factor, rel=1e-12)
        gaps = np.array(history.path_losses()[0]) - best_loss
        assert gaps[-1] / gaps[-2] == pytest.approx(factor, rel=1e-4), label


@pytest.mark.parametrize("low, high, expected", [
    (0.145, 12.0, [0.2, 0.5, 1, 2, 5, 10]),
    (0.145119, 0.3, [0.2, 0.3]),
    (3.0, 40.0, [5, 10, 20]),
    (1.0, 1.0, [1]),
    (1e-11, 20.0, [1e-11, 1e-9, 1e-7, 1e-5, 1e-3, 1e-1, 10]),
])
def test_round_log_ticks(low, high, expected):
    assert plots.shared.round_log_ticks(low, high) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("low", np.geomspace(1e-7, 1e7, 29))
@pytest.mark.parametrize("ratio", [1.0001, 1.05, 1.5, 3.0, 12.0, 1e3, 1e12])
def test_round_log_ticks_are_round_and_inside(low, ratio):
    high = low * ratio
    ticks = plots.shared.round_log_ticks(low, high)
    assert 1 <= len(ticks) <= 8
    assert all(low * (1 - 1e-9) <= tick <= high * (1 + 1e-9) for tick in ticks)
    if ratio >= 1.05:        # at most two significant digits (1.5, 7), three in a range only 5 % wide
        for tick in ticks:
            mantissa = float(f"{tick:.12e}".split("e")[0])
            assert round(mantissa, 2) == pytest.approx(mantissa, abs=1e-9), tick
        assert len(ticks) >= 2
    if ratio >= 10:          # a decade or more: only 1, 2, 5 x 10^k (or powers of ten), at least three
        assert len(ticks) >= 3
        assert all(float(f"{tick:.12e}".split("e")[0]) in (1.0, 2.0, 5.0) for tick in ticks)


def test_round_tick_text():
    assert [plots.shared.round_tick_text(v) for v in [0.2, 0.5, 1.0, 10.0, 2000.0]] == ["0.2", "0.5", "1", "10", "2000"]
    assert plots.shared.round_tick_text(1e-5) == "$10^{-5}$"
    assert plots.shared.round_tick_text(2e12) == "$2{\\times}10^{12}$"


def test_a_contour_has_equal_aspect_round_colour_bar_ticks_and_no_extend_arrows():
    alphas, betas = np.linspace(-1, 1, 21), np.linspace(-0.5, 0.5, 11)
    Z = 0.145 + np.add.outer(betas ** 2, 5 * alphas ** 2)          # from 0.145 up to 5.395
    path = np.array([[0.8, 0.4], [0.1, 0.2], [0.0, 0.0]])
    fig = plots.linear_regression.contour_with_paths(alphas, betas, Z, path, path, xlabel="w", ylabel="b")
    ax, bar = fig.axes
    assert ax.get_aspect() == 1.0
    assert list(bar.get_yticks()) == pytest.approx([0.2, 0.5, 1, 2, 5])
    assert [text.get_text() for text in bar.get_yticklabels()] == ["0.2", "0.5", "1", "2", "5"]
    (filled,) = [c for c in ax.collections if getattr(c, "filled", False)]
    assert filled.extend == "neither"


def test_learning_rate_panels_share_axes_when_their_grids_are_the_same():
    alphas, betas = np.linspace(-1, 1, 21), np.linspace(-1, 1, 17)
    Z = 1 + np.add.outer(betas ** 2, alphas ** 2)
    path = np.array([[0.5, 0.5], [-0.3, 0.2], [0.1, -0.1]])
    panel = {"title": "a", "alphas": alphas, "betas": betas, "Z": Z, "manual_path": path, "autograd_path": path}
    fig = plots.learning_rate.learning_rate_panels([panel] * 4, xlabel="w", ylabel="b", minimum=(0, 0),
                                     valley_axes=[np.array([1.0, 0.0]), np.array([0.0, 1.0])])
    axes = fig.axes[:4]
    assert all(ax.get_shared_x_axes().joined(axes[0], ax) and ax.get_aspect() == 1.0 for ax in axes)
    assert len(plots.figure_bytes(fig, "png")) > 1000


def test_the_hand_written_path_is_not_buried_under_autograds_crosses():
    # 200 points crowded into a tiny corner: the line is drawn through all of them, the markers thinned.
    t = np.linspace(0, 1, 200)
    path = np.column_stack([np.exp(-8 * t), np.exp(-8 * t) * 0.5])
    alphas, betas = np.linspace(-0.1, 1.1, 13), np.linspace(-0.1, 0.6, 8)
    Z = 1 + np.add.outer(betas ** 2, alphas ** 2)
    fig = plots.linear_regression.contour_with_paths(alphas, betas, Z, path, path, xlabel="w", ylabel="b")
    ax = fig.axes[0]
    (manual,) = [line for line in ax.get_lines() if line.get_label() == plots.MANUAL["label"]]
    (autograd,) = [line for line in ax.get_lines() if line.get_label() == plots.AUTOGRAD["label"]]
    assert len(manual.get_xydata()) == 200
    marked = manual.get_markevery()
    assert 5 < len(marked) < 100 and marked[0] == 0 and marked[-1] == 199
    assert np.array_equal(autograd.get_xydata(), path[marked])        # a cross in every circle
