"""Lesson 09: the saddle and the valley of minima of ŷ = w2·w1·x, the plateau near the saddle, the basins of a sine fit.

The lesson runs once as a script with its defaults (no figure files: the
gallery test draws them); its numbers are then checked against the closed forms it derives:
the Hessian at the origin, the hyperbola w1·w2 = c/a of minima, the plateau
that grows by ln 10/ln(1 + 2·lr·c) steps per factor of ten, and the minima
the grid of starts reaches, each a true local minimum.
"""

import json
import math

import pytest
import torch

from helpers import gen, lesson_group, randn
from toolkit import catalogue
from toolkit.gradient_check import gradient_report
from toolkit.landscape import hessian
from toolkit.twins import Twins

PATH = catalogue.find_lesson("9")
FIGURES = {"basins.png", "plateau.png", "saddle_curvature.png"}


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
    runs = [h for label, h in namespace["run"].histories.items() if label != "exactly at the saddle"
            and not label.startswith("sine")]
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


# --------------------------------------------------------------------------- the sine fit and its basins

def test_every_start_reaches_a_true_local_minimum(lesson):
    summary, namespace = lesson
    loss_at, apart = namespace["wave_loss_at"], namespace["apart"]
    minima, basin, paths = namespace["minima"], namespace["basin"], namespace["paths"]
    assert len(minima) >= 3 and len(basin) == 144 == len(paths[0])
    for k, point in enumerate(minima):
        gradient = torch.func.grad(loss_at)(point)
        curvatures = torch.linalg.eigvalsh(torch.func.hessian(loss_at)(point))
        assert gradient.norm() < 1e-10 and curvatures[0] > 1e-3, (k, gradient, curvatures)
        # Strict: the loss is higher all round the minimum.
        angles = torch.linspace(0, 2 * math.pi, 17, dtype=torch.float64)[:-1]
        ring = point + 1e-3 * torch.stack([angles.cos(), angles.sin()], dim=1)
        assert (torch.stack([loss_at(q) for q in ring]) > loss_at(point)).all()
    # Each start ends at the minimum it is assigned to (the phase taken round its turn).
    distances = apart(paths[-1], torch.stack(minima)[basin])
    assert distances.max() < 1e-2
    counts = [entry["starts"] for entry in summary["basins"]]
    assert sum(counts) == 144 and all(count > 0 for count in counts)
    assert counts == [int((basin == k).sum()) for k in range(len(minima))]
    losses = [entry["loss"] for entry in summary["basins"]]
    assert losses == sorted(losses) and losses[0] < 0.02     # A is the good fit: the noise is 0.1
    assert losses[-1] > summary["loss_of_predicting_zero"]    # and some valleys are worse than predicting 0


def test_only_b_and_c_are_mirror_images_the_others_mirrors_lie_at_negative_frequency(lesson):
    _, namespace = lesson
    minima, names, mirror_of = namespace["minima"], namespace["names"], namespace["mirror_of"]
    mirrors = {name: mirror_of(k) for k, name in enumerate(names)}
    assert mirrors["B"] == "C" and mirrors["C"] == "B"
    for k, name in enumerate(names):
        image = namespace["mirror_image"](minima[k])
        # sin(−a·x + π − b) = sin(a·x + b): the same loss at the image
        assert namespace["wave_loss_at"](image).item() == pytest.approx(namespace["wave_loss_at"](minima[k]).item(),
                                                                        abs=1e-12)
        if name not in ("B", "C"):
            assert mirrors[name] is None and image[0] < 0


def test_two_neighbours_trained_as_twins_walk_the_vmap_paths_into_different_valleys(lesson):
    summary, namespace = lesson
    starts, paths, basin = namespace["starts"], namespace["paths"], namespace["basin"]
    here, there = namespace["pair"]
    assert abs(here - there) in (1, 12)          # next to each other in the 12 × 12 grid
    assert {int(basin[here]) == 0, int(basin[there]) == 0} == {True, False}
    for index, neighbour in zip((here, there), namespace["neighbours"]):
        history = neighbour["history"]
        assert history.twins_agree and history.max_abs_grad_diff <= 1e-12
        assert neighbour["start"] == tuple(starts[index].tolist())
        for path in (history.path_manual, history.path_autograd):
            torch.testing.assert_close(path, paths[:, index], rtol=0, atol=1e-12)
    assert [n["minimum"] for n in summary["neighbours"]][0] != [n["minimum"] for n in summary["neighbours"]][1]


def test_the_sine_layer_matches_autograd_and_a_wrong_one_is_caught(lesson):
    _, namespace = lesson
    Sin, TorchSin = namespace["Sin"], namespace["TorchSin"]
    x = randn((7, 3), gen(1), "cpu", scale=2.0)
    dout = randn((7, 3), gen(2), "cpu")
    layer = Sin()
    torch.testing.assert_close(layer(x), torch.sin(x), rtol=0, atol=0)
    reference = x.clone().requires_grad_(True)
    TorchSin()(reference).backward(dout)
    torch.testing.assert_close(layer.backward(dout), reference.grad, rtol=1e-12, atol=1e-12)

    class WrongSin(Sin):
        def backward(self, dout, input_grad=True):
            return dout * torch.sin(self._x)          # the function instead of its slope

    wave = namespace["wave"]
    first = wave.manual_net[0]
    report = gradient_report(Twins.of(type(wave.manual_net)(first, WrongSin()), wave.manual_loss),
                             namespace["wave_x"], namespace["wave_y"])
    assert not report.ok and report.first_disagreement.startswith("layer 1")


def test_the_figures_have_captions_and_alt_text(lesson):
    summary, _ = lesson
    assert {f"{name}.png" for name in summary["captions"]} == FIGURES      # the files: see test_lessons.py
    assert not summary["diverged"] and summary["lr"] == 0.2 and summary["steps"] == 100
    for name in ("basins", "plateau", "saddle_curvature"):
        entry = summary["captions"][name]
        assert len(entry["caption"]) > 100 and len(entry["alt"]) > 100
