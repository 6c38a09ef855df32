"""Lesson 15: the loss on the line from start to end, the two planes, the sharpness against 2/lr.

The lesson runs once with its defaults (as ``python lessons/15_honest_landscapes.py``
would, into a temporary folder), keeping the figures it draws; then the line
is checked against the recorded losses and a direct evaluation, the panel
below the planes against the true losses and the grids, the spike that the
PCA plane does not show, the finite-difference Hessian-vector
products and the power iteration against torch.func and eigvalsh, the
sharpness's course against 2/lr, summary.json, and the exercise markers.
"""

import json

import numpy as np
import pytest
import torch
from torch.func import functional_call

from helpers import lesson_group, run_lesson_script, student_file
from toolkit import catalogue, exercises, plots
from toolkit.landscape import hessian, hessian_vector_product, hvp_finite_difference, manual_gradient
from toolkit.parameters import unflatten

PATH = catalogue.find_lesson("15")
FIGURES = {"interpolation.png", "planes.png", "sharpness.png"}
DRAWN = {"honest_landscapes.interpolation_curve": "interpolation", "planes.path_on_plane": "planes", "honest_landscapes.sharpness_curve": "sharpness"}

pytestmark = lesson_group(PATH.stem)


@pytest.fixture(scope="module")
def lesson(lesson_runs):
    """The lesson run with its defaults as a script: (output folder, its names, the figures it drew by function)."""
    run = lesson_runs(PATH.stem)
    return run.folder, run.names, {drawn: run.figures[saved] for drawn, saved in DRAWN.items()}


# ---------------------------------------------------------------- the line

def test_the_ends_of_the_line_are_the_recorded_first_and_last_losses(lesson):
    _, namespace, _ = lesson
    history, alphas = namespace["history"], namespace["alphas"]
    first, last = history.path_losses()[0][0], history.path_losses()[0][-1]
    for losses in (namespace["line_by_hand"], namespace["line_by_autograd"]):
        assert losses[alphas == 0].item() == pytest.approx(first, rel=1e-12)
        assert losses[alphas == 1].item() == pytest.approx(last, rel=1e-12)
    assert alphas[0].item() == -0.25 and alphas[-1].item() == 1.25


def test_both_twins_evaluate_the_line_and_agree_with_a_direct_forward_pass(lesson):
    _, namespace, _ = lesson
    by_hand, by_autograd = namespace["line_by_hand"], namespace["line_by_autograd"]
    torch.testing.assert_close(by_hand, by_autograd, rtol=1e-12, atol=0)
    twins, x, y, line = namespace["twins"], namespace["x"], namespace["y"], namespace["line"]
    theta_0, theta_T = namespace["theta_0"], namespace["theta_T"]
    like = dict(twins.torch_net.named_parameters())
    for k in (0, 17, 60):                                    # α = -0.25, 0.175, 1.25
        alpha = namespace["alphas"][k].item()
        theta = (1 - alpha) * theta_0 + alpha * theta_T
        torch.testing.assert_close(line[k], theta, rtol=1e-14, atol=1e-14)
        with torch.no_grad():
            direct = twins.torch_loss(functional_call(twins.torch_net, unflatten(line[k], like), (x,)), y).item()
        assert by_hand[k].item() == pytest.approx(direct, rel=1e-12)
    # the default seed: the line falls all the way from start to end, and a little further
    inside = by_hand[10:51]
    assert (inside[1:] < inside[:-1]).all()
    assert 1.0 < namespace["alphas"][namespace["lowest"]].item() < 1.25


def test_the_path_leaves_the_line_and_its_spike_does_not_show_on_it(lesson):
    _, namespace, made = lesson
    path_alphas, off_line = namespace["path_alphas"], namespace["off_line"]
    assert path_alphas[0].item() == 0 and path_alphas[-1].item() == pytest.approx(1, rel=1e-12)
    assert off_line[0].item() == 0 and off_line[-1].item() < 1e-12
    assert off_line.max() > 0.25 * namespace["direction"].norm()             # strays far from the line
    worst, losses = namespace["worst"], namespace["losses"]
    assert losses[worst] > 5 * namespace["on_line"].item()                    # the spike: 0.83 against 0.09
    fig = made["honest_landscapes.interpolation_curve"]
    labels = [text.get_text() for text in fig.legends[0].get_texts()]
    assert "start" in labels and "end" in labels and any("training path" in label for label in labels)
    assert fig.axes[0].get_yscale() == "log"


# ---------------------------------------------------------------- the planes

def test_the_planes_share_one_colour_scale_and_the_true_loss_is_drawn_below_them(lesson):
    _, namespace, made = lesson
    fig = made["planes.path_on_plane"]
    true_losses = np.array(namespace["history"].path_losses()[0])
    readings = plots.planes.plane_readings(fig)
    np.testing.assert_array_equal(readings["the path's own loss"], true_losses)
    norms = []
    for ax in fig.axes[:2]:
        assert ax.get_aspect() == 1.0
        filled = next(c for c in ax.collections if getattr(c, "filled", False))
        norms.append((filled.norm.vmin, filled.norm.vmax))
    assert norms[0] == norms[1]
    plane, random_plane = namespace["plane"], namespace["random_plane"]
    assert plane.captured > 0.95 and random_plane.captured < 0.2 and random_plane.captured < plane.captured / 5
    assert f"{plane.captured:.1%}" in fig.axes[0].get_title()
    assert f"{random_plane.captured:.1%}" in fig.axes[1].get_title()
    # the axis labels give each direction's share of the same sum as the title: they add up to it
    for ax, shares, whole in ((fig.axes[0], namespace["pca_shares"], plane.captured),
                              (fig.axes[1], namespace["random_shares"], random_plane.captured)):
        assert sum(shares) == pytest.approx(whole, rel=1e-12)
        assert f"{shares[0]:.1%}" in ax.get_xlabel() and f"{shares[1]:.1%}" in ax.get_ylabel()
    caption = fig.legends[0].get_title().get_text()
    assert f"{namespace['under_pca']:.2f}" in caption and f"{namespace['losses'][0]:.2f}" in caption
    # The panel below names each plane, and reads each grid under the path.
    assert set(readings) == {"the path's own loss", "the PCA plane's loss under each step",
                             "the random plane's loss under each step"}
    pca_reading = readings["the PCA plane's loss under each step"]
    grid = plots.planes.grid_value(namespace["plane_alphas"], namespace["plane_betas"], namespace["Z"],
                                   namespace["manual_xy"])
    np.testing.assert_allclose(pca_reading, grid, rtol=1e-12)


def test_the_pca_plane_flatters_the_start_and_hides_the_spike(lesson):
    _, namespace, made = lesson
    losses, worst = namespace["losses"], namespace["worst"]
    readings = plots.planes.plane_readings(made["planes.path_on_plane"])
    pca, random = readings["the PCA plane's loss under each step"], readings["the random plane's loss under each step"]
    assert worst == 39 and losses[worst] > 0.8
    # Under the spike the plane reads the loss at the projection (exactly, and on its grid): a tenth of the truth.
    assert namespace["under_spike"] < 0.1 * losses[worst] and pca[worst] < 0.15 * losses[worst]
    assert pca[worst] < pca[worst - 3]                        # no spike at all in the plane's reading: a dip
    assert namespace["in_plane"] < 0.2                        # the step into the spike left the plane
    assert namespace["under_pca"] < 0.5 * losses[0]          # the start is flattered
    assert np.nanmax(random) < 0.05 and np.abs(pca[60:] / np.array(losses[60:]) - 1).max() < 0.5


# ---------------------------------------------------------------- Hessian-vector products and power iteration

def test_the_lessons_hvp_by_hand_is_the_librarys_and_matches_torch_func(lesson):
    _, namespace, _ = lesson
    twins, x, y, path, probe = (namespace[k] for k in ("twins", "x", "y", "path", "probe"))
    theta = path[40]
    by_hand = namespace["hvp_by_hand"](theta, probe)
    torch.testing.assert_close(by_hand, hvp_finite_difference(twins, x, y, probe, theta=theta), rtol=0, atol=0)
    exact = hessian_vector_product(twins.torch_net, twins.torch_loss, x, y, probe, theta=theta)
    assert ((by_hand - exact).norm() / exact.norm()).item() < 1e-6
    assert namespace["hvp_gap"] < 1e-6 and namespace["hvp_tolerance"] == 1e-6


def test_the_lessons_check_would_catch_a_wrong_hvp(lesson):
    _, namespace, _ = lesson
    twins, x, y, path, probe, eps = (namespace[k] for k in ("twins", "x", "y", "path", "probe", "eps"))
    theta = path[0]
    h = eps / probe.norm()
    plus, minus = manual_gradient(twins, x, y, theta + h * probe), manual_gradient(twins, x, y, theta - h * probe)
    forgot_the_two = (plus - minus) / h
    one_sided = (plus - manual_gradient(twins, x, y, theta)) / h
    exact = hessian_vector_product(twins.torch_net, twins.torch_loss, x, y, probe, theta=theta)
    for wrong in (forgot_the_two, -exact):
        assert ((wrong - exact).norm() / exact.norm()).item() > 1e3 * namespace["hvp_tolerance"]
    # a one-sided difference is right to O(h) only: 1e-6 is still too strict for it, as it should be
    assert ((one_sided - exact).norm() / exact.norm()).item() > namespace["hvp_tolerance"]


def test_power_iteration_matches_the_full_hessians_largest_eigenvalue(lesson):
    _, namespace, _ = lesson
    sharpness, steps = namespace["sharpness"], namespace["measured_steps"]
    assert steps == list(range(len(namespace["path"])))                       # every step
    assert namespace["start_value"] == pytest.approx(namespace["start_spectrum"][-1].item(), rel=1e-9)
    assert max(namespace["power_gaps"]) < 1e-5
    assert namespace["check_steps"] == [0, namespace["sharpest"], steps[-1]]
    twins, x, y, path = (namespace[k] for k in ("twins", "x", "y", "path"))
    for step in (41, 70):                                                    # two steps the lesson did not check
        exact = torch.linalg.eigvalsh(hessian(twins.torch_net, twins.torch_loss, x, y, theta=path[step]))[-1]
        assert sharpness[step] == pytest.approx(exact.item(), rel=1e-4)


def test_the_sharpness_sharpens_to_two_over_lr_spikes_and_settles_there(lesson):
    _, namespace, _ = lesson
    s, limit, losses = np.array(namespace["sharpness"]), namespace["limit"], np.array(namespace["losses"])
    assert limit == 2 / namespace["history"].lr == 1.0
    assert s[0] > limit and s[5:10].max() < limit                             # starts above, falls below
    assert s[22] < limit < s[23] and s[36] > 1.8 * s[10]                       # progressive sharpening
    assert namespace["crossed_upward"][0] == 23                               # what the lesson's text says
    sharpest, spike = int(s.argmax()), int(losses[1:].argmax()) + 1
    assert 36 <= sharpest < spike <= sharpest + 2 and s.max() > 3 * limit      # the spike follows the peak
    assert s[spike:spike + 4].min() < 0.5 * limit                              # and flattens the landscape
    assert np.abs(s[60:] - limit).max() < 0.03 * limit                         # at the edge of stability
    assert (np.diff(losses[spike + 1:]) < 0).all()                            # while the loss falls at every step


# ---------------------------------------------------------------- the figures, the summary, the exercises

def test_the_sharpness_figure_draws_two_over_lr_and_the_checks(lesson):
    _, namespace, made = lesson
    fig = made["honest_landscapes.sharpness_curve"]
    top, bottom = fig.axes[:2]
    lines = {line.get_label(): line for line in top.get_lines()}
    (limit_line,) = [line for label, line in lines.items() if label.startswith("2/lr")]
    assert set(limit_line.get_ydata()) == {namespace["limit"]}
    (checks,) = [line for label, line in lines.items() if "eigvalsh" in label]
    np.testing.assert_array_equal(checks.get_xdata(), namespace["check_steps"])
    np.testing.assert_array_equal(checks.get_ydata(), namespace["check_values"])
    low, high = bottom.get_xlim()
    assert low < 0 and high > namespace["measured_steps"][-1]                   # no diamond cut in half
    assert top.get_shared_x_axes().joined(top, bottom) and bottom.get_yscale() == "log"


def test_summary_records_the_key_numbers_and_every_figure_has_a_caption_and_alt_text(lesson):
    folder, namespace, _ = lesson
    summary = json.loads((folder / "summary.json").read_text())
    assert set(summary["figures"]) == FIGURES
    for name in ("interpolation", "planes", "sharpness"):
        assert len(summary["captions"][name]["caption"]) > 80 and len(summary["captions"][name]["alt"]) > 80
    planes, sharpness = summary["planes"], summary["sharpness"]
    assert planes["pca_captured"] == namespace["plane"].captured
    assert planes["random_captured"] == namespace["random_plane"].captured
    assert sharpness["two_over_lr"] == 1.0 and sharpness["final"] == namespace["sharpness"][-1]
    assert sharpness["crossed_upward_at"] == namespace["crossed_upward"]
    assert planes["pca_shares"] == namespace["pca_shares"] and planes["random_shares"] == namespace["random_shares"]
    assert sharpness["max_abs_power_minus_eigvalsh"] == max(namespace["power_gaps"]) < 1e-5
    assert sharpness["max_rel_hvp_finite_difference_minus_torch_func"] < 1e-6
    assert summary["interpolation"]["max_abs_end_diff"] == 0.0
    assert summary["interpolation"]["max_abs_twin_diff"] < 1e-14


def test_the_twins_agree_at_every_step(lesson):
    _, namespace, _ = lesson
    run, history = namespace["run"], namespace["history"]
    assert run.reports and all(report.ok for report in run.reports)
    assert history.twins_agree and history.max_abs_grad_diff <= 1e-12 and not history.diverged


def test_the_exercises_are_marked_and_their_student_version_is_python():
    text = PATH.read_text(encoding="utf-8")
    assert [e.name for e in exercises.find_exercises(text)] == ["hvp", "power_iteration"]
    compile(exercises.student_version(text), PATH.name, "exec")


@pytest.mark.parametrize("name, body, stop", [
    ("hvp", "h = eps / v.norm()\n"
            "return (manual_gradient(twins, x, y, theta + h * v) - manual_gradient(twins, x, y, theta - h * v)) / h",
     "exercise hvp"),
    ("power_iteration", "v = v / v.norm()\nfor _ in range(iterations):\n    v = hvp(v) / hvp(v).norm()\n"
                        "return v.norm().item(), v", "exercise power_iteration"),
])
def test_a_wrong_answer_to_an_exercise_stops_the_lesson_at_its_check(tmp_path, capsys, name, body, stop):
    file = student_file(PATH, tmp_path, **{name: body})          # the other exercises: the lesson's own
    with pytest.raises(SystemExit) as stopped:
        run_lesson_script(file, "--no-figures", "--quiet", "--steps", "2", "--device", "cpu")
    assert stop in str(stopped.value.code)
    assert "THEY DISAGREE" in capsys.readouterr().out

