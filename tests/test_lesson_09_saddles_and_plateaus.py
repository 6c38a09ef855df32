"""Lesson 09: the saddle and the valley of minima of ŷ = w2·w1·x, and the plateau near the saddle.

The lesson runs once as a script with its defaults (no figure files: the
gallery test draws them); its numbers are then checked against the closed forms it derives:
the Hessian at the origin and along the path, the hyperbola w1·w2 = c/a of minima, and the
plateau that grows by ln 10/ln(1 + 2·lr·c) steps per factor of ten.
"""

import math

import pytest
import torch

from helpers import gen, lesson_group, randn, run_lesson_script, student_file
from toolkit import catalogue, exercises
from toolkit.landscape import hessian

PATH = catalogue.find_lesson("9")
FIGURES = {"plateau.png", "saddle_curvature.png"}


pytestmark = lesson_group(PATH.stem)


@pytest.fixture(scope="module")
def lesson(lesson_runs):
    """The lesson run as a script with its defaults: (its summary.json, the names it defined)."""
    run = lesson_runs(PATH.stem)
    return run.summary(), run.names


def data_numbers(namespace):
    """a = mean(x²), c = mean(xy), d = mean(y²) of the chain's data, computed here."""
    x, y = namespace["x"], namespace["y"]
    return (x * x).mean().item(), (x * y).mean().item(), (y * y).mean().item()


# --------------------------------------------------------------------------- the saddle and the valley

def test_the_hessian_at_the_origin_is_the_closed_form(lesson):
    summary, namespace = lesson
    _, c, d = data_numbers(namespace)
    twins = namespace["chain_twins"](0.0, 0.0)
    H = hessian(twins.torch_net, twins.torch_loss, namespace["x"], namespace["y"])
    expected = torch.tensor([[0.0, -2 * c], [-2 * c, 0.0]], dtype=torch.float64)
    torch.testing.assert_close(H, expected, rtol=0, atol=1e-12)
    assert torch.linalg.eigvalsh(H).tolist() == pytest.approx([-2 * c, 2 * c], abs=1e-12)
    assert c > 0     # one eigenvalue of each sign: a saddle, not a minimum
    assert summary["saddle"]["eigenvalues"] == pytest.approx([-2 * c, 2 * c], abs=1e-12)
    assert summary["saddle"]["loss"] == pytest.approx(d, rel=1e-12)


def test_the_hessian_formula_holds_everywhere(lesson):
    _, namespace = lesson
    points = randn((20, 2), gen(9), "cpu", scale=1.5)
    exact = torch.stack([hessian(t.torch_net, t.torch_loss, namespace["x"], namespace["y"])
                         for t in (namespace["chain_twins"](*p.tolist()) for p in points)])
    torch.testing.assert_close(namespace["chain_hessian_formula"](points), exact, rtol=1e-12, atol=1e-12)


def test_the_minima_lie_on_the_hyperbola_of_the_best_slope(lesson):
    summary, namespace = lesson
    a, c, d = data_numbers(namespace)
    x, y = namespace["x"], namespace["y"]
    # Every run of the chain that left the saddle ends on w1·w2 = c/a, at the lowest loss d − c²/a.
    runs = [h for label, h in namespace["run"].histories.items() if label != "exactly at the saddle"]
    assert len(runs) == 9
    for history in runs:
        for path in (history.path_manual, history.path_autograd):
            assert (path[-1, 0] * path[-1, 1]).item() == pytest.approx(c / a, rel=1e-9)
        assert history.final_loss_manual == pytest.approx(d - c * c / a, rel=1e-12)
    # And every point of the hyperbola is a minimum: no slope (by hand), curvatures 0 and 2a(w1² + w2²).
    for w1 in (-3.0, -0.4, 0.25, 1.0, 2.5):
        w2 = c / a / w1
        twins = namespace["chain_twins"](w1, w2)
        loss = twins.manual_loss(twins.manual_net(x), y)
        twins.manual_net.backward(twins.manual_loss.backward())
        assert loss.item() == pytest.approx(d - c * c / a, rel=1e-12)
        assert all(abs(p.grad.item()) < 1e-12 for p in twins.manual_net.parameters())
        eigenvalues = torch.linalg.eigvalsh(hessian(twins.torch_net, twins.torch_loss, x, y)).tolist()
        assert eigenvalues == pytest.approx([0.0, 2 * a * (w1 * w1 + w2 * w2)], abs=1e-10)


def test_a_start_exactly_at_the_saddle_never_moves(lesson):
    _, namespace = lesson
    stuck = namespace["run"].histories["exactly at the saddle"]
    assert stuck.twins_agree and torch.equal(stuck.path_manual, torch.zeros_like(stuck.path_manual))


def test_the_curvature_along_the_path_goes_from_the_saddle_to_the_floor(lesson):
    summary, namespace = lesson
    a, c, _ = data_numbers(namespace)
    eigenvalues = namespace["curvature"]["manual"]
    torch.testing.assert_close(namespace["curvature"]["autograd"], eigenvalues, rtol=0, atol=1e-12)
    end = namespace["near"].path_manual[-1]
    # Each followed along its direction, which stays (1, 1) or (1, −1) on this diagonal path: the way out of
    # the pass (−2c) ends across the valley, its steep side; the direction across the pass (+2c) ends along
    # the level floor.
    assert namespace["off_diagonal"] < 1e-3          # degrees
    assert eigenvalues[0].tolist() == pytest.approx([-2 * c, 2 * c], rel=1e-6)
    assert eigenvalues[-1].tolist() == pytest.approx([2 * a * end.pow(2).sum().item(), 0.0], abs=1e-9)
    sorted_exactly = torch.linalg.eigvalsh(torch.func.hessian(namespace["chain_loss_at"])(end))
    assert sorted_exactly.tolist() == pytest.approx(sorted(eigenvalues[-1].tolist()), abs=1e-12)
    leaves = summary["curvature_along_path"]["leaves_saddle_region_at_step"]
    assert 10 < leaves < len(eigenvalues)
    assert (eigenvalues[:leaves - 1, 0] < 0).all() and (eigenvalues[leaves:].min(dim=1).values > -1e-9).all()
    # The smaller curvature changes sign where the path crosses w1·w2 = c/(3a).
    products = namespace["near"].path_manual.prod(dim=1)
    assert products[leaves - 1] < c / (3 * a) < products[leaves]


def test_the_far_run_ends_elsewhere_on_the_floor_as_w1_squared_minus_w2_squared_says(lesson):
    summary, namespace = lesson
    a, c, _ = data_numbers(namespace)
    near, far, lr = namespace["near"].path_manual, namespace["far"].path_manual, summary["lr"]
    assert far[0].tolist() == summary["plateau"]["far"]["start"] == [1.5, 0.0]
    assert (far[-1] - near[-1]).norm() > 0.3           # two clearly different minima on the level floor
    # One step multiplies w1² − w2² by exactly 1 − (lr·dL/dp)², dL/dp = 2a·p − 2c.
    for path in (near, far):
        spread = path[:, 0] ** 2 - path[:, 1] ** 2
        slope = 2 * a * path[:-1].prod(dim=1) - 2 * c
        torch.testing.assert_close(spread[1:], spread[:-1] * (1 - (lr * slope) ** 2), rtol=1e-9, atol=1e-15)
    assert abs(near[-1, 0] - near[-1, 1]) < 1e-6 and 1.5 < (far[-1, 0] ** 2 - far[-1, 1] ** 2) < 2.25


# --------------------------------------------------------------------------- the plateau

def test_the_plateau_grows_like_log_one_over_the_distance(lesson):
    summary, namespace = lesson
    _, c, _ = data_numbers(namespace)
    plateau = summary["plateau"]
    lr = summary["lr"]
    predicted = math.log(10) / math.log(1 + 2 * lr * c)
    assert plateau["predicted_steps_per_decade"] == pytest.approx(predicted, rel=1e-12)
    assert plateau["measured_steps_per_decade"] == pytest.approx(predicted, rel=0.01)
    lengths = [plateau["lengths"][f"{10.0 ** -k:g}"] for k in range(1, 9)]
    increments = [later - earlier for earlier, later in zip(lengths, lengths[1:])]
    assert increments == pytest.approx([predicted] * len(increments), rel=0.03)
    # Near the saddle a long plateau; far from it, the loss is halved within a few steps.
    assert plateau["near"]["length"] > 25 and plateau["far"]["length"] < 3


def test_the_figures_have_captions_and_alt_text(lesson):
    summary, _ = lesson
    assert {f"{name}.png" for name in summary["captions"]} == FIGURES      # the files: see test_lessons.py
    assert not summary["diverged"] and summary["lr"] == 0.2 and summary["steps"] == 100
    for name in ("plateau", "saddle_curvature"):
        entry = summary["captions"][name]
        assert len(entry["caption"]) > 100 and len(entry["alt"]) > 100


def test_the_exercise_is_marked_and_a_wrong_hessian_stops_the_lesson_at_its_check(tmp_path, capsys):
    text = PATH.read_text(encoding="utf-8")
    assert [e.name for e in exercises.find_exercises(text)] == ["chain_hessian"]
    # The off-diagonal entry without the 4a·p term (the first derivative's −2c only): right at the origin,
    # wrong everywhere else, so the random points catch it.
    wrong = ("w1, w2 = theta[:, 0], theta[:, 1]\n"
             "cross = -2 * c + 0 * w1\n"
             "return torch.stack([torch.stack([2 * a * w2 * w2, cross], dim=1), "
             "torch.stack([cross, 2 * a * w1 * w1], dim=1)], dim=1)")
    file = student_file(PATH, tmp_path, chain_hessian=wrong)
    with pytest.raises(SystemExit) as stopped:
        run_lesson_script(file, "--no-figures", "--quiet", "--steps", "2", "--device", "cpu")
    assert "exercise chain_hessian" in str(stopped.value.code)
    assert "THEY DISAGREE" in capsys.readouterr().out
