"""Lesson 10: the basins of a sine fit, and mini-batch noise carrying a walker from one valley into another.

The lesson runs once as a script with its defaults (no figure files: the
gallery test draws them); then every minimum the grid of starts reaches is
checked to be a true local minimum, the mirror images against the identity
sin(−a·x + π − b) = sin(a·x + b), the hand-written sine layer against
autograd, the mini-batch gradients of an epoch against the full gradient,
and the escape experiment: the control stays, the noisy walkers leave the
shallow valley for lower ones and none leaves the deepest, on exactly the
batches the twins train on.
"""

import math

import pytest
import torch

from helpers import gen, lesson_group, randn
from toolkit import catalogue
from toolkit.gradient_check import gradient_report
from toolkit.train import batch_indices, train
from toolkit.twins import Twins

PATH = catalogue.find_lesson("10")
FIGURES = {"basins.png", "escape.png"}


pytestmark = lesson_group(PATH.stem)


@pytest.fixture(scope="module")
def lesson(lesson_runs):
    """The lesson's shared run with its defaults (read-only): (its summary, the names it defined)."""
    run = lesson_runs(PATH.stem)
    return run.summary(), run.names


# --------------------------------------------------------------------------- the sine layer

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


# --------------------------------------------------------------------------- the basins

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
    minima, names, loss_at = namespace["minima"], namespace["names"], namespace["wave_loss_at"]
    assert namespace["mirrors"] == {name: {"B": "C", "C": "B"}.get(name) for name in names}
    for k, name in enumerate(names):
        image = namespace["wrapped"](torch.stack([-minima[k][0], math.pi - minima[k][1]]))
        # sin(−a·x + π − b) = sin(a·x + b): the same loss at the image
        assert loss_at(image).item() == pytest.approx(loss_at(minima[k]).item(), abs=1e-12)
        if name not in ("B", "C"):
            assert image[0] < 0


# --------------------------------------------------------------------------- the noise

def test_an_epoch_of_mini_batch_gradients_averages_to_the_full_gradient(lesson):
    _, namespace = lesson
    grad, batch_loss_at, x, y = torch.func.grad, namespace["batch_loss_at"], namespace["wave_x"], namespace["wave_y"]
    theta = namespace["start"]
    for size in (5, 2, 7):       # 7 does not divide 60: the last 4 points of each epoch are left out
        epoch = batch_indices(60, size, 3, 60 // size)
        assert sorted(torch.cat(epoch).tolist()) == sorted(set(torch.cat(epoch).tolist()))   # each point once
        mean = torch.stack([grad(batch_loss_at)(theta, x[i], y[i]) for i in epoch]).mean(dim=0)
        if 60 % size == 0:
            torch.testing.assert_close(mean, grad(namespace["wave_loss_at"])(theta), rtol=0, atol=1e-14)
    # They are the batches train gives the twins, in order, epoch after epoch.
    generator = torch.Generator().manual_seed(3)
    first, second = torch.randperm(60, generator=generator), torch.randperm(60, generator=generator)
    shown = batch_indices(60, 5, 3, 24)
    assert torch.equal(torch.cat(shown[:12]), first) and torch.equal(torch.cat(shown[12:]), second)
    assert batch_indices(60, None, 3, 2) == [None, None] and batch_indices(60, 60, 3, 1) == [None]


def test_full_batch_descent_stays_in_the_shallow_valley_on_the_vmap_path(lesson):
    summary, namespace = lesson
    escape, names, minima = summary["escape"], namespace["names"], namespace["minima"]
    shallow = namespace["shallow"]
    assert escape["valley"] == names[shallow] == names[-1]                  # the highest loss
    control = namespace["control"]
    assert control.twins_agree and control.max_abs_grad_diff <= 1e-12
    assert escape["full_batch_ends_in"] == names[shallow]
    assert namespace["apart"](control.path_manual[-1], minima[shallow]) < 1e-2
    start_index = namespace["nearest_start"][shallow]
    for path in (control.path_manual, control.path_autograd):
        torch.testing.assert_close(path, namespace["paths"][:, start_index], rtol=0, atol=1e-12)


def test_mini_batch_walkers_leave_the_shallow_valley_for_lower_ones_and_none_leaves_the_deepest(lesson):
    summary, namespace = lesson
    sgd, names, seeds = summary["escape"]["sgd"], namespace["names"], len(namespace["SEEDS"])
    shallow = names[namespace["shallow"]]
    for size in (5, 2):
        leaving = sgd[f"{shallow}, B = {size}"]
        assert sum(leaving["ended_in"].values()) == seeds
        assert leaving["left"] == seeds - leaving["ended_in"].get(shallow, 0) >= seeds // 2
        assert leaving["lower"] + leaving["higher"] == leaving["left"]     # no valley is as deep as the shallowest
        staying = sgd[f"{names[0]}, B = {size}"]
        assert staying == {"left": 0, "lower": 0, "higher": 0, "ended_in": {names[0]: seeds}}
    # The noisier walk goes further: with B = 2 some reach A, the best fit.
    assert sgd[f"{shallow}, B = 2"]["ended_in"].get(names[0], 0) > 0


def test_the_noisy_twins_walk_the_vmap_path_and_so_does_another_seed(lesson):
    _, namespace = lesson
    noisy, walks = namespace["noisy"], namespace["walks"]             # walks: (steps + 1, valley, B, seed, 2)
    assert noisy.twins_agree and noisy.max_abs_grad_diff <= 1e-12
    for path in (noisy.path_manual, noisy.path_autograd):
        torch.testing.assert_close(path, walks[:, 0, 0, 0], rtol=0, atol=1e-12)
    # A seed the lesson did not train as twins: B = 2, the walker that ends nearest A.
    found = namespace["found"][0, 1]
    seed = int((found == 0).nonzero()[0])
    history = train(namespace["wave_twins"](*namespace["start"].tolist()), namespace["wave_x"], namespace["wave_y"],
                    steps=namespace["run"].steps, lr=namespace["run"].lr, batch_size=2,
                    seed=namespace["SEEDS"][seed], quiet=True)
    assert history.twins_agree
    torch.testing.assert_close(history.path_manual, walks[:, 0, 1, seed], rtol=0, atol=1e-12)


# --------------------------------------------------------------------------- the figures

def test_the_figures_have_captions_alt_text_and_show_the_runs(lesson):
    summary, namespace = lesson
    assert {f"{name}.png" for name in summary["captions"]} == FIGURES      # the files: see test_lessons.py
    assert summary["lr"] == 0.3 and summary["steps"] == 200
    for name in ("basins", "escape"):
        entry = summary["captions"][name]
        assert len(entry["caption"]) > 100 and len(entry["alt"]) > 100
    escape = namespace["run"].drawn["escape"]
    contour, losses = escape.axes[0], escape.axes[1]
    labels = [line.get_label() for line in contour.get_lines()]
    assert any(label.startswith("full batch") for label in labels)
    assert any(label.startswith("mini-batch SGD, B = 5") for label in labels)
    levels = sorted(line.get_ydata()[0] for line in losses.get_lines() if line.get_linestyle() == ":")
    shallow, end = namespace["shallow"], namespace["names"].index(namespace["noisy_end"])
    assert levels == pytest.approx(sorted({namespace["losses"][shallow], namespace["losses"][end]}), rel=1e-12)
