"""Lesson 06, stochastic gradient descent: what the lesson claims about mini-batch gradients.

* Over one epoch (a shuffled partition of the data into equal batches) the
  mini-batch gradients average to the full gradient, by the hand-written
  backward and by autograd alike.
* The lesson's per-example gradients (torch.func) are each example's own
  gradient, as the hand-written backward on that example alone gives it.
* The variance of the mini-batch gradient, over batches drawn without
  replacement, is sigma^2 / B * (N - B) / (N - 1), within sampling error;
  at B = N it is exactly 0.
* The lesson draws its figures. (That the twins agree at every step of every
  run is tested with the other lessons, in test_lessons.py.)
"""

import json
import math

import pytest
import torch
from helpers import assert_drawn, close, lesson_group

from toolkit import data, manual
from toolkit.catalogue import lessons_folder
from toolkit.parameters import flatten
from toolkit.twins import make_twins

LESSON = lessons_folder() / "06_sgd.py"
FIGURES = {"sgd_paths.png", "sgd_ball.png", "sgd_losses.png", "gradient_variance.png"}

pytestmark = lesson_group(LESSON.stem)


def line(seed: int = 0):
    x, y = data.noisy_line(n=40, slope=-1.0, intercept=2.0, noise=0.5, x_range=(-1.0, 3.0), seed=seed)
    return make_twins([1, 1], loss=manual.MSELoss(), seed=seed), x, y


def moons(seed: int = 0):
    points, labels = data.two_moons(n=400, noise=0.15, seed=seed)
    (x, y), _ = data.split(points, labels, held_out=200, seed=seed)       # lesson 05's training half
    return make_twins([2, 16, 16, 2], "tanh", loss=manual.CrossEntropyLoss(), seed=seed), x, y


PROBLEMS = {"line": line, "moons": moons}


def twin_gradients(twins, xb, yb):
    """Both twins' gradients on one batch, flat: (by the hand-written backward, by autograd)."""
    twins.zero_grad()
    twins.manual_loss(twins.manual_net(xb), yb)
    twins.manual_net.backward(twins.manual_loss.backward(), input_grad=False)
    twins.torch_loss(twins.torch_net(xb), yb).backward()
    by_hand = flatten((name, p.grad) for name, p in twins.manual_net.named_parameters())
    by_autograd = flatten((name, p.grad) for name, p in twins.torch_net.named_parameters())
    twins.zero_grad()
    return by_hand, by_autograd


@pytest.mark.parametrize("problem, batch_size", [("line", 1), ("line", 8), ("line", 20), ("moons", 8), ("moons", 40)])
def test_one_epoch_of_minibatch_gradients_averages_to_the_full_gradient(problem, batch_size):
    twins, x, y = PROBLEMS[problem]()
    n = len(x)
    assert n % batch_size == 0
    batches = torch.randperm(n, generator=torch.Generator().manual_seed(7)).reshape(n // batch_size, batch_size)
    full = twin_gradients(twins, x, y)
    per_batch = [twin_gradients(twins, x[batch], y[batch]) for batch in batches]
    for twin in (0, 1):                       # 0: by hand, 1: by autograd
        gradients = torch.stack([pair[twin] for pair in per_batch])
        # The batches really differ (else the average would prove nothing) ...
        assert (gradients - full[twin]).abs().max() > 1e-3
        # ... and still average to the full gradient, up to the rounding of the sums (float64).
        magnitude = gradients.abs().max().item()
        close(gradients.mean(dim=0), full[twin], rtol=1e-12, atol=1e-15, magnitude=magnitude)


# --------------------------------------------------------------------------- the lesson itself

@pytest.fixture(scope="module")
def lesson_run(lesson_runs):
    """The lesson run once with its defaults (20 epochs), as `python -m toolkit run 6` would: (out, its names)."""
    run = lesson_runs(LESSON.stem)
    return run.folder.parent, run.names


def loop_reference(twins, x, y) -> torch.Tensor:
    """(N, P): each example's gradient from the hand-written backward on that example alone."""
    return torch.stack([twin_gradients(twins, x[i:i + 1], y[i:i + 1])[0] for i in range(len(x))])


@pytest.mark.parametrize("problem", PROBLEMS)
def test_per_example_gradients_by_torch_func_are_each_examples_own(lesson_run, problem):
    _, names = lesson_run
    twins, x, y = PROBLEMS[problem](seed=1)
    G = names["per_example_gradients"](twins, x, y)
    reference = loop_reference(twins, x, y)
    assert G.shape == reference.shape == (len(x), sum(p.numel() for p in twins.torch_net.parameters()))
    close(G, reference, magnitude=reference.abs().max().item())
    close(G.mean(dim=0), twin_gradients(twins, x, y)[1], magnitude=reference.abs().max().item())


def test_the_lessons_variance_table_matches_the_theory(lesson_run):
    _, names = lesson_run
    n, sigma2 = names["N"], names["sigma2"]
    G = names["G"]
    assert sigma2 == pytest.approx((G - G.mean(dim=0)).pow(2).sum(dim=1).mean().item(), rel=1e-12)
    assert names["sizes"][-1] == n
    for size, measured, error, theory in zip(names["sizes"], names["measured"], names["errors"], names["theory"]):
        assert theory == pytest.approx(sigma2 / size * (n - size) / (n - 1), rel=1e-12, abs=0)
        if size == n:
            assert measured == 0.0 and error == 0.0      # every batch is all the data, summed in order
        else:                                        # 10,000 draws: the standard error is about 1.5 %
            assert abs(measured - theory) <= 4 * error, (size, measured, theory, error)


@pytest.mark.parametrize("batch_size", [4, 10])
def test_gradient_variance_without_replacement_is_the_finite_population_formula(lesson_run, batch_size):
    """An implementation independent of the lesson's, checked with many draws.

    Q_r = ||g_B - g||^2 for R independent random batches; their mean estimates
    E Q with standard error std(Q) / sqrt(R) (central limit theorem). With
    R = 40,000 that is about 1 % of E Q here, and the test allows 4 standard
    errors (a correct formula would fail for about 1 seed in 16,000). The
    same tolerance rejects sigma^2 / B, the formula for drawing with
    replacement, which is (B - 1) / (N - 1) too high (23 % for B = 10).
    """
    _, names = lesson_run
    twins, x, y = line(seed=2)
    G = loop_reference(twins, x, y)                    # the hand-written backward, example by example
    n, draws = len(x), 40_000
    full = G.mean(dim=0)
    sigma2 = (G - full).pow(2).sum(dim=1).mean().item()
    generator = torch.Generator().manual_seed(11)
    squared = torch.empty(draws, dtype=torch.float64)
    for start in range(0, draws, 10_000):
        keys = torch.rand(10_000, n, generator=generator, dtype=torch.float64)
        picks = keys.topk(batch_size, dim=1).indices     # B distinct examples: no replacement
        squared[start:start + 10_000] = (G[picks].sum(dim=1) / batch_size - full).pow(2).sum(dim=1)
    mean, error = squared.mean().item(), squared.std().item() / math.sqrt(draws)
    theory = sigma2 / batch_size * (n - batch_size) / (n - 1)
    assert error < 0.02 * theory                         # the tolerance below is tight enough to mean something
    assert abs(mean - theory) <= 4 * error, (mean, theory, error)
    assert abs(mean - sigma2 / batch_size) > 4 * error   # ... and tells the two formulas apart
    # The lesson's own measurement agrees too (its own draws, its own standard error).
    measured, lesson_error = names["minibatch_variance"](G, batch_size, 10_000, torch.Generator().manual_seed(5))
    assert abs(measured - theory) <= 4 * lesson_error


def test_every_run_and_the_figures(lesson_run, lesson_runs):
    out, names = lesson_run
    run = names["run"]
    assert run.finished and all(report.ok for report in run.reports) and len(run.reports) == 4   # 2 networks
    # On the line: three batch sizes and B = 1 at half the rate, the same number of steps each; one main run.
    line = ["line, B = 40 (full batch: GD)", "line, B = 8", "line, B = 1", "line, B = 1, half the rate"]
    rates = [f"{lr:g}" for lr in names["RATES"]]
    moons = [f"moons, B = {size}, lr = {lr}" for size in (200, 8) for lr in rates] + ["moons, B = 200, 100 steps"]
    assert list(run.histories) == line + moons
    assert run.main is run.histories["line, B = 8"]
    assert [run.histories[label].steps for label in line] == [run.steps] * 4
    # On the moons, the same work (4 epochs of 200 examples) for both batch sizes, at every rate of the sweep.
    assert [run.histories[label].steps for label in moons] == [4] * len(rates) + [100] * len(rates) + [100]
    assert all(h.twins_agree for h in run.histories.values())
    # The recorded loop shuffled exactly as the lesson showed: its first loss is batch 1's.
    assert names["line_histories"]["B = 8"].loss_manual[0] == pytest.approx(names["first_batch_loss"], rel=1e-14)
    folder = out / "06_sgd"
    summary = json.loads((folder / "summary.json").read_text())
    assert set(summary["figures"]) == FIGURES
    assert_drawn(lesson_runs(LESSON.stem).figures, FIGURES)


def test_gradient_descent_settles_and_the_ball_grows_with_the_rate_and_the_noise(lesson_run):
    _, names = lesson_run
    radii, histories, best = names["radii"], names["line_histories"], names["best"]
    full, eight, one, half = (radii[label] for label in names["line_runs"])
    assert full < 0.02 * eight < eight < half < one
    # Halving the rate shrinks the ball (to 0.57 of it with the default seed); B = 8's is a quarter of B = 1's.
    assert 0.4 < half / one < 0.8 and 0.15 < eight / one < 0.35
    # Gradient descent closes in by 1 − lr·λmin per step along the valley's floor: 200 steps leave 1e-5 of the way.
    start = (histories["B = 40 (full batch: GD)"].path_manual[0] - best).norm()
    assert (histories["B = 40 (full batch: GD)"].path_manual[-1] - best).norm() < 1e-5 * start


def test_the_races_are_fair_each_at_its_own_rate_over_seeds(lesson_run):
    _, names = lesson_run
    sweep, best_rate, results = names["sweep"], names["best_rate"], names["results"]
    for size in (200, 8):
        # The best rate is the sweep's lowest training loss after the same work.
        assert best_rate[size] == min(names["RATES"], key=lambda lr: sweep[size, lr].final_loss_manual)
        assert len(results[size]) == 5 and all(row[3] for row in results[size])       # the twins agreed
    # What the text says: B = 8 ends lower on average, on the training and on the held-out points,
    # and with the lower training loss on 4 of the 5 seeds.
    mean = {size: torch.tensor([row[:3] for row in rows]).mean(dim=0) for size, rows in results.items()}
    assert mean[8][0] < mean[200][0] and mean[8][1] < mean[200][1] and mean[8][2] > mean[200][2]
    assert sum(small[0] < full[0] for small, full in zip(results[8], results[200])) == 4
    # At the same number of steps gradient descent (25 times the work) ends far lower.
    assert names["same_steps"].steps == 100 and names["same_steps"].final_loss_manual < 0.2 * names["small_path"][-1]
