"""Lesson 04: the chain rule written out by hand on ŷ = w3·tanh(w2·tanh(w1·x)).

The lesson runs once (as ``python lessons/04_three_weights.py`` would, into a
temporary folder); its ``chain_rule`` is then checked against autograd for
random weights and data, its report rows are tied to the hand-derived
intermediate gradients, and its figures and twins are checked.
"""

import json

import pytest
import torch

from helpers import assert_drawn, gen, lesson_group
from toolkit import catalogue
from toolkit.gradient_check import OUTPUT, autograd_gradients
from toolkit.twins import make_twins

PATH = catalogue.find_lesson("4")
FIGURES = {"weight_slices.png", "weights.png"}
RTOL, ATOL = 1e-12, 1e-14


pytestmark = lesson_group(PATH.stem)


@pytest.fixture(scope="module")
def lesson(lesson_runs):
    """The lesson run with its defaults as a script: (output folder, the names it defined)."""
    run = lesson_runs(PATH.stem)
    return run.folder, run.names


def random_problem(seed: int, n: int = 17):
    """Random weights (spread so that the tanh units are neither linear nor saturated) and data, float64."""
    generator = gen(seed)
    w1, w2, w3 = (1.5 * torch.randn(3, generator=generator, dtype=torch.float64)).tolist()
    x = 2 * torch.randn(n, 1, generator=generator, dtype=torch.float64)
    y = torch.randn(n, 1, generator=generator, dtype=torch.float64)
    return (w1, w2, w3), x, y


@pytest.mark.parametrize("seed", range(6))
def test_hand_derived_gradients_equal_autograd(lesson, seed):
    _, namespace = lesson
    chain_rule = namespace["chain_rule"]
    (w1, w2, w3), x, y = random_problem(seed)
    by_hand = chain_rule(x, y, w1, w2, w3)

    # autograd, through the lesson's forward and through an independent torch.nn twin
    weights = [torch.tensor(w, dtype=torch.float64, requires_grad=True) for w in (w1, w2, w3)]
    y_hat = namespace["forward"](x, *weights)[-1]
    ((y_hat - y) ** 2).mean().backward()
    twins = make_twins([1, 1, 1, 1], "tanh", bias=False, seed=seed)
    with torch.no_grad():
        for k, w in zip((0, 2, 4), (w1, w2, w3)):
            twins.torch_net[k].weight.fill_(w)
    torch.nn.functional.mse_loss(twins.torch_net(x), y).backward()

    for name, weight, k in zip(("w1", "w2", "w3"), weights, (0, 2, 4)):
        assert by_hand[name].shape == ()
        torch.testing.assert_close(by_hand[name], weight.grad, rtol=RTOL, atol=ATOL)
        torch.testing.assert_close(by_hand[name], twins.torch_net[k].weight.grad[0, 0], rtol=RTOL, atol=ATOL)
        assert by_hand[name].abs() > 1e-8        # a gradient of zero would test nothing


@pytest.mark.parametrize("seed", range(3))
def test_every_intermediate_gradient_is_a_report_row(lesson, seed):
    # The lesson names which row of the gradient report each hand-derived gradient is.
    _, namespace = lesson
    (w1, w2, w3), x, y = random_problem(100 + seed)
    by_hand = namespace["chain_rule"](x, y, w1, w2, w3)
    twins = make_twins([1, 1, 1, 1], "tanh", bias=False, seed=seed)
    with torch.no_grad():
        for k, w in zip((0, 2, 4), (w1, w2, w3)):
            twins.torch_net[k].weight.fill_(w)
    _, rows = autograd_gradients(twins, x, y, first_layer=True)
    for row, name in {OUTPUT: "ŷ", 4: "h2", 3: "z2", 2: "h1", 1: "z1", 0: "x"}.items():
        torch.testing.assert_close(by_hand[name], rows[row], rtol=RTOL, atol=ATOL)


def test_the_lessons_own_numbers_agree(lesson):
    _, namespace = lesson
    run = namespace["run"]
    assert run.reports and all(report.ok for report in run.reports)
    assert any(row.name == "input of 0" for row in run.reports[0].rows)      # first_layer=True
    history = run.main
    assert history.twins_agree and history.max_abs_grad_diff <= 1e-12
    assert history.loss_manual == pytest.approx(history.loss_autograd, rel=1e-12)
    # The demonstration with a wrong tanh backward is caught, at the right layer.
    broken = namespace["broken_report"]
    assert not broken.ok and broken.first_disagreement == "layer 3 (Tanh)"
    assert all(row.ok for row in broken.rows if row.name in ("output", "input of 4", "4.weight"))


def test_training_fits_the_data(lesson):
    _, namespace = lesson
    history = namespace["history"]
    assert not history.diverged
    assert history.final_loss_manual < 0.01 * history.loss_manual[0]
    # As good as the weights that made the data (within the noise).
    assert history.final_loss_manual < 1.05 * namespace["data_loss"]
    # w3 starts near zero and moves first (the lesson's text says so for the default seed).
    steps = (history.path_manual[5] - history.path_manual[0]).abs()
    assert steps[2] > 4 * steps[0] and steps[2] > 4 * steps[1]


def test_the_slices_hold_the_true_loss(lesson):
    # Z[i, j] is the loss at (alphas[j], betas[i]) with the third weight at its end value.
    _, namespace = lesson
    forward, x, y, end = namespace["forward"], namespace["x"], namespace["y"], namespace["end"]
    generator = gen(7)
    for (i, j), panel in zip([(0, 1), (0, 2), (1, 2)], namespace["panels"]):
        alphas, betas, Z = panel["alphas"], panel["betas"], panel["Z"]
        assert Z.shape == (len(betas), len(alphas))
        for _ in range(5):
            a = int(torch.randint(len(alphas), (1,), generator=generator))
            b = int(torch.randint(len(betas), (1,), generator=generator))
            weights = end.clone()
            weights[i], weights[j] = alphas[a], betas[b]
            expected = ((forward(x, *weights.tolist())[-1] - y) ** 2).mean()
            torch.testing.assert_close(Z[b, a], expected, rtol=1e-12, atol=0)


def test_what_each_slice_reads_under_the_start_is_the_loss_with_the_third_weight_at_its_end(lesson):
    # The figure's panel below the slices reads each grid under the path; at the start that is the
    # loss with the start's two weights and the third at its end value (the lesson's start_readings),
    # up to the grid's interpolation. The (w1, w2) slice reads under half the true loss there.
    _, namespace = lesson
    from toolkit.plots.planes import grid_value

    true_start = namespace["losses_manual"][0]
    for panel, reading in zip(namespace["panels"], namespace["start_readings"]):
        drawn = grid_value(panel["alphas"].numpy(), panel["betas"].numpy(), panel["Z"].numpy(),
                           panel["manual_path"][:1].numpy())[0]
        assert drawn == pytest.approx(reading, rel=1e-3)
        assert panel["alphas"][-1] - panel["alphas"][0] == pytest.approx(panel["betas"][-1] - panel["betas"][0])
    assert namespace["start_readings"][0] < 0.5 * true_start
    assert namespace["start_readings"][2] == pytest.approx(true_start, rel=0.05)


def test_figures_exist(lesson, lesson_runs):
    folder, _ = lesson
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["lesson"] == "04_three_weights" and set(summary["figures"]) == FIGURES
    assert_drawn(lesson_runs(PATH.stem).figures, FIGURES)
