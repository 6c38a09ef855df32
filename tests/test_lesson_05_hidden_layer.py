"""Lesson 05: a hidden layer, its honest PCA plane with the true loss below it, held-out loss.

The lesson runs once (as ``python lessons/05_hidden_layer.py`` would, into a
temporary folder) with the figures it draws kept; then the plane is checked
against the path, the panel below it against the true losses and the grid,
the held-out loss against a direct evaluation, and summary.json.
(``filter_normalized_plane``, which lesson 15 uses, is tested in test_landscape.py.)
"""

import json

import numpy as np
import pytest
import torch
from torch import nn

from helpers import lesson_group
from toolkit import catalogue, plots
from toolkit.landscape import loss_along_path, pca_plane
from toolkit.lesson import Lesson
from toolkit.options import Options
from toolkit.parameters import unflatten
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


# ---------------------------------------------------------------- the lesson's planes

def test_the_pca_plane_holds_the_path(lesson):
    _, namespace, _ = lesson
    pca, path = namespace["plane"], namespace["history"].path_manual
    assert pca.captured > 0.95
    assert pca_plane(path).captured == pca.captured
    assert torch.equal(pca.center, path[-1])
    assert "random_plane" not in namespace           # one plane here; lesson 15 compares it with random ones


def test_below_the_plane_the_true_loss_is_drawn_beside_what_the_plane_reads(lesson):
    _, namespace, made = lesson
    history = namespace["history"]
    true_losses = np.array(history.path_losses()[0])
    fig = made["planes.path_on_plane"]
    readings = plots.planes.plane_readings(fig)
    np.testing.assert_array_equal(readings.pop("the path's own loss"), true_losses)
    assert list(readings) == ["the PCA plane's loss under each step"]
    expected = plots.planes.grid_value(namespace["alphas"].cpu().numpy(), namespace["betas"].cpu().numpy(),
                                       namespace["Z"].cpu().numpy(), namespace["manual_xy"].cpu().numpy())
    np.testing.assert_array_equal(readings["the PCA plane's loss under each step"], expected)
    # At the start the grid's reading is, up to the grid's interpolation, the plane's loss under the start square.
    assert expected[0] == pytest.approx(namespace["under_start"], rel=1e-2)
    plane_axes = fig.axes[0]
    assert plane_axes.get_aspect() == 1.0                                       # equal aspect
    (filled,) = [c for c in plane_axes.collections if hasattr(c, "levels") and len(c.levels) > 0 and c.filled]
    assert filled.get_cmap().name == plots.style.CMAP


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
    assert on_plane < 0.8 * at_start          # with the default seed the plane flatters the start: 0.39 against 0.69
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
