"""Lesson 05: a hidden layer, its honest PCA plane, a random filter-normalised plane, held-out loss.

The lesson runs once (as ``python lessons/05_hidden_layer.py`` would, into a
temporary folder) with the figures it draws kept; then the directions of
``filter_normalized_plane`` are checked against their definition, the two
planes against each other, the circles of the plane figure against the true
losses, the held-out loss against a direct evaluation, and summary.json.
"""

import json

import numpy as np
import pytest
import torch
from torch import nn

from helpers import gen, lesson_group
from toolkit import catalogue, plots
from toolkit.landscape import (
    filter_normalized_direction,
    filter_normalized_plane,
    loss_along_path,
    pca_plane,
)
from toolkit.lesson import Lesson
from toolkit.options import Options
from toolkit.parameters import flatten, unflatten
from toolkit.train import History
from toolkit.twins import make_twins

PATH = catalogue.find_lesson("5")
FIGURES = {"pca_landscape.png", "losses.png", "decision_regions.png"}


pytestmark = lesson_group(PATH.stem)


@pytest.fixture(scope="module")
def lesson(lesson_runs):
    """The lesson run with its defaults as a script: (output folder, its names, the figures it drew by function)."""
    run = lesson_runs(PATH.stem)
    made = {"planes.path_on_plane": run.figures["pca_landscape"], "hidden_layer.train_validation_losses": run.figures["losses"]}
    return run.folder, run.names, made


def small_net(device="cpu"):
    """Linear layers of different widths and a Conv1d (its filters are its output channels)."""
    torch.manual_seed(3)
    return nn.Sequential(nn.Conv1d(2, 3, kernel_size=2), nn.Flatten(), nn.Linear(6, 5), nn.Tanh(),
                         nn.Linear(5, 2)).to(device=device, dtype=torch.float64)


def rows(vector, net):
    """The flat vector as the network's tensors, each weight as (filters, fan_in) rows."""
    return {name: (t.reshape(t.shape[0], -1) if t.dim() >= 2 else t)
            for name, t in unflatten(vector, dict(net.named_parameters())).items()}


# ---------------------------------------------------------------- the directions

@pytest.mark.parametrize("seed", range(3))
def test_a_filter_normalised_direction_has_the_weights_row_norms_and_no_bias(seed):
    net = small_net()
    direction = filter_normalized_direction(net, gen(seed))
    weights = rows(flatten(net.named_parameters()), net)
    for name, part in rows(direction, net).items():
        if name.endswith("bias"):
            assert (part == 0).all(), name
        else:
            torch.testing.assert_close(part.norm(dim=1), weights[name].norm(dim=1), rtol=1e-12, atol=0)
            # random, not the weights themselves: no row points along its weight row
            cosine = (part * weights[name]).sum(dim=1) / (part.norm(dim=1) * weights[name].norm(dim=1))
            assert (cosine.abs() < 0.999).all(), name


@pytest.mark.parametrize("seed", range(3))
def test_the_plane_orthogonalises_the_second_direction_after_normalising(seed):
    net = small_net()
    generator = gen(seed)
    first, second = filter_normalized_direction(net, generator), filter_normalized_direction(net, generator)
    plane = filter_normalized_plane(net, gen(seed))
    assert torch.equal(plane.center, flatten(net.named_parameters()))
    torch.testing.assert_close(plane.d1, first, rtol=0, atol=0)                 # d1: the first direction as drawn
    torch.testing.assert_close(plane.d2, second - (second @ first) / (first @ first) * first, rtol=1e-14, atol=1e-15)
    assert abs(plane.d1 @ plane.d2) < 1e-12 * plane.d1.norm() * plane.d2.norm()
    weights = rows(plane.center, net)
    for name, part in rows(plane.d2, net).items():
        if name.endswith("bias"):
            assert (part == 0).all(), name
        else:       # only slightly off the weights' row norms: the removed part is small
            ratio = part.norm(dim=1) / weights[name].norm(dim=1)
            assert ((ratio > 0.5) & (ratio < 1.5)).all(), (name, ratio)


def test_directions_come_from_the_cpu_generator_whatever_the_device(device):
    cpu, there = small_net(), small_net(device)
    on_cpu = filter_normalized_plane(cpu, gen(5))
    on_device = filter_normalized_plane(there, gen(5))
    assert on_device.d1.device.type == device
    torch.testing.assert_close(on_device.d1.cpu(), on_cpu.d1, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(on_device.d2.cpu(), on_cpu.d2, rtol=1e-12, atol=1e-14)
    if device != "cpu":
        with pytest.raises(ValueError, match="CPU"):
            filter_normalized_direction(there, torch.Generator(device=device))


def test_the_plane_measures_a_path_in_it_and_one_across_it():
    net = small_net()
    plane = filter_normalized_plane(net, gen(0))
    t = torch.linspace(0, 1, 7).unsqueeze(1)
    inside = plane.center + t * plane.d1 + t**2 * plane.d2
    assert filter_normalized_plane(net, gen(0), path=inside).captured == pytest.approx(1.0, abs=1e-12)
    across = torch.randn(plane.center.shape[0], generator=gen(9), dtype=torch.float64)
    for d in (plane.d1, plane.d2):
        across = across - (across @ d) / (d @ d) * d
    measured = filter_normalized_plane(net, gen(0), path=plane.center + t * across)
    assert measured.captured == pytest.approx(0.0, abs=1e-12)
    assert sum(measured.explained) == pytest.approx(0.0, abs=1e-12)


# ---------------------------------------------------------------- the lesson's planes

def test_the_random_plane_holds_far_less_of_the_path_than_the_pca_plane(lesson):
    _, namespace, _ = lesson
    pca, random = namespace["plane"], namespace["random_plane"]
    assert pca.captured > 0.95
    assert random.captured < 0.2 and random.captured < pca.captured / 5
    # the same measure for both: captured by pca_plane's own definition, for the random plane's directions too
    path = namespace["history"].path_manual
    assert pca_plane(path).captured == pca.captured
    assert torch.equal(random.center, path[-1])


def test_below_the_planes_the_true_loss_is_drawn_beside_what_each_plane_reads(lesson):
    _, namespace, made = lesson
    history = namespace["history"]
    true_losses = np.array(history.path_losses()[0])
    fig = made["planes.path_on_plane"]
    readings = plots.planes.plane_readings(fig)
    np.testing.assert_array_equal(readings.pop("the path's own loss"), true_losses)
    planes = [(namespace["alphas"], namespace["betas"], namespace["Z"], namespace["manual_xy"]),
              (namespace["random_panel"]["alphas"], namespace["random_panel"]["betas"],
               namespace["random_panel"]["Z"], namespace["random_panel"]["manual_path"])]
    assert len(readings) == len(planes)
    for reading, (alphas, betas, Z, path) in zip(readings.values(), planes):
        expected = plots.planes.grid_value(alphas.cpu().numpy(), betas.cpu().numpy(), Z.cpu().numpy(),
                                           path.cpu().numpy())
        np.testing.assert_array_equal(reading, expected)
    for ax in fig.axes[:2]:
        assert ax.get_aspect() == 1.0                                           # equal aspect
        (filled,) = [c for c in ax.collections if hasattr(c, "levels") and len(c.levels) > 0 and c.filled]
        assert filled.get_cmap().name == plots.style.CMAP
    first, second = [next(c for c in ax.collections if getattr(c, "filled", False)) for ax in fig.axes[:2]]
    assert (first.norm.vmin, first.norm.vmax) == (second.norm.vmin, second.norm.vmax)   # one colour scale


def test_the_start_check_compares_the_plane_with_the_true_loss(lesson):
    _, namespace, made = lesson
    plane, x, y = namespace["plane"], namespace["x"], namespace["y"]
    twins, start = namespace["twins"], namespace["history"].path_manual[0]
    a0, b0 = namespace["manual_xy"][0]
    projection = plane.center + a0 * plane.d1 + b0 * plane.d2
    net = namespace["by_autograd"]
    on_plane, at_start = loss_along_path(net, twins.torch_loss, x, y, torch.stack([projection, start])).tolist()
    assert namespace["under_start"] == pytest.approx(on_plane, rel=1e-12)
    assert namespace["train_losses"][0] == pytest.approx(at_start, rel=1e-12)
    assert on_plane < 0.8 * at_start          # with the default seed the plane flatters the start: 0.48 against 0.71
    caption = made["planes.path_on_plane"].legends[0].get_title().get_text()
    assert f"{on_plane:.2f}" in caption and f"{at_start:.2f}" in caption


# ---------------------------------------------------------------- held-out loss

def test_the_held_out_loss_is_the_loss_at_every_recorded_step(lesson):
    _, namespace, made = lesson
    history, x_val, y_val = namespace["history"], namespace["x_val"], namespace["y_val"]
    val_manual, val_autograd = namespace["val_manual"], namespace["val_autograd"]
    assert len(val_manual) == len(val_autograd) == history.steps + 1
    fresh = make_twins([2, 16, 16, 2], activation="tanh", seed=1, dtype=torch.float64).torch_net
    for k in (0, 1, 57, history.steps):
        with torch.no_grad():
            for p, value in zip(fresh.parameters(), unflatten(history.path_manual[k],
                                                              dict(fresh.named_parameters())).values()):
                p.copy_(value)
            direct = nn.functional.cross_entropy(fresh(x_val), y_val).item()
        assert val_manual[k].item() == pytest.approx(direct, rel=1e-12)
    torch.testing.assert_close(val_manual, val_autograd, rtol=1e-12, atol=0)
    # The held-out loss falls far, but stays well above the training loss: the gap the text describes.
    train_losses = namespace["train_losses"]
    assert val_manual[-1] < 0.05 * val_manual[0] and val_manual[-1] > 2 * train_losses[-1]
    assert int(val_manual.argmin()) == history.steps                        # still falling at the end
    fig = made["hidden_layer.train_validation_losses"]
    assert not any("lowest" in text.get_text() for text in fig.legends[0].get_texts())


def test_the_held_out_half_is_disjoint_from_the_training_half(lesson):
    _, namespace, _ = lesson
    x, x_val, points = namespace["x"], namespace["x_val"], namespace["points"]
    assert len(x) == len(x_val) == 200
    assert torch.cdist(x, x_val).min() > 0                                  # no point in both halves
    assert torch.equal(torch.sort(torch.cat([x, x_val]), dim=0).values, torch.sort(points, dim=0).values)


def test_a_turning_point_of_the_held_out_loss_is_marked():
    history = History(lr=0.1, loss_manual=[1.0, 0.5, 0.3, 0.2], loss_autograd=[1.0, 0.5, 0.3, 0.2])
    history.grad_diff = [{"w": 0.0}] * 4
    history.final_loss_manual = history.final_loss_autograd = 0.15
    held_out = [1.1, 0.7, 0.5, 0.55, 0.6]
    fig = plots.hidden_layer.train_validation_losses(history, held_out, held_out)
    labels = [text.get_text() for text in fig.legends[0].get_texts()]
    assert "lowest held-out loss, 0.5 (step 2)" in labels
    (train,) = [line for line in fig.axes[0].get_lines() if line.get_label() == plots.MANUAL["label"]]
    assert list(train.get_ydata()) == [1.0, 0.5, 0.3, 0.2, 0.15]            # the loss at every point of the path


# ---------------------------------------------------------------- files and the summary

def test_summary_records_the_plane(lesson):
    folder, namespace, _ = lesson
    summary = json.loads((folder / "summary.json").read_text())
    assert set(summary["figures"]) == FIGURES
    plane = summary["plane"]
    assert set(plane) == {"kind", "explained_variance", "off_plane"} and plane["kind"] == "pca"
    assert plane["explained_variance"] == pytest.approx(list(namespace["plane"].explained), rel=1e-12)
    assert plane["off_plane"] == pytest.approx(1 - namespace["plane"].captured, rel=1e-12)
    assert 0 <= plane["off_plane"] < 0.05 and 0.9 < sum(plane["explained_variance"]) <= 1


def test_a_lesson_records_extra_keys_but_not_over_the_standard_ones():
    run = Lesson("05_hidden_layer", Options(device="cpu", save_figures=False, quiet=True), steps=1, lr=0.1)
    run.main = History(lr=0.1, final_loss_manual=1.0, final_loss_autograd=1.0)
    run.histories["main"] = run.main
    run.record("plane", {"kind": "pca"})
    assert run.summary()["plane"] == {"kind": "pca"} and run.summary()["lesson"] == "05_hidden_layer"
    run.record("steps", 3)
    with pytest.raises(ValueError, match="steps"):
        run.summary()


def test_the_twins_agree_and_the_network_learns_with_plain_gradient_descent(lesson):
    _, namespace, _ = lesson
    run, history = namespace["run"], namespace["history"]
    assert run.reports and all(report.ok for report in run.reports)
    assert history.twins_agree and history.max_abs_grad_diff <= 1e-12
    # Plain gradient descent: every step is -lr times the gradient where it starts (momentum would add the past).
    net, x, y = namespace["by_autograd"], namespace["x"], namespace["y"]
    like = dict(net.named_parameters())

    def loss_of(theta):
        return nn.functional.cross_entropy(torch.func.functional_call(net, unflatten(theta, like), (x,)), y)

    for k in (0, 1, 2, 100):
        step = history.path_manual[k + 1] - history.path_manual[k]
        torch.testing.assert_close(step, -0.5 * torch.func.grad(loss_of)(history.path_manual[k]),
                                   rtol=1e-9, atol=1e-15)
    assert history.final_loss_manual < 0.02 * history.loss_manual[0]
    assert namespace["train_accuracy"] == 1.0 and namespace["val_accuracy"] > 0.95
