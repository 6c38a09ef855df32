"""Lesson 07: momentum reproduces d2l's numbers, obeys its stability condition and its rate, and draws its figures."""

import math

import pytest
import torch

from helpers import assert_drawn, lesson_group
from toolkit import data, manual
from toolkit.landscape import largest_stable_lr
from toolkit.train import train
from toolkit.twins import Twins, make_twins


def valley_twins(start=(-5.0, -2.0)):
    """f(x1, x2) = 0.1 x1^2 + 2 x2^2 as Linear(2, 1, bias=False) + MSE on two points; the weight is (x1, x2)."""
    twins = make_twins([2, 1], bias=False, loss=manual.MSELoss())
    with torch.no_grad():
        twins.manual_net[0].weight.copy_(torch.tensor([start], dtype=torch.float64))
    return Twins.of(twins.manual_net, twins.manual_loss)


VALLEY_X = torch.tensor([[math.sqrt(0.2), 0.0], [0.0, 2.0]], dtype=torch.float64)
VALLEY_Y = torch.zeros(2, 1, dtype=torch.float64)


def test_the_network_computes_f_and_its_gradient():
    twins = valley_twins((1.5, -0.7))
    for net, loss_fn in ((twins.manual_net, twins.manual_loss), (twins.torch_net, twins.torch_loss)):
        assert loss_fn(net(VALLEY_X), VALLEY_Y).item() == pytest.approx(0.1 * 1.5**2 + 2 * 0.7**2, rel=1e-14)
    twins.manual_net.backward(twins.manual_loss.backward())
    assert twins.manual_net[0].weight.grad.flatten().tolist() == pytest.approx([0.2 * 1.5, 4 * -0.7], rel=1e-14)


@pytest.mark.parametrize("lr, momentum, published", [
    (0.4, 0.0, (-0.943467, -0.000073)),     # d2l, "Momentum": gradient descent, eta = 0.4, 20 steps
    (0.6, 0.5, (0.007188, 0.002553)),       # d2l, "Momentum": eta = 0.6, beta = 0.5, 20 steps
])
def test_d2l_end_points(lr, momentum, published):
    history = train(valley_twins(), VALLEY_X, VALLEY_Y, steps=20, lr=lr, momentum=momentum, quiet=True)
    assert history.twins_agree and not history.diverged
    for path in (history.path_manual, history.path_autograd):
        assert path[-1].tolist() == pytest.approx(published, abs=1e-6)


def test_plain_descent_at_06_grows_without_end():
    history = train(valley_twins(), VALLEY_X, VALLEY_Y, steps=20, lr=0.6, quiet=True)
    # x2 is multiplied by 1 - 0.6 * 4 = -1.4 every step.
    assert history.path_manual[-1, 1].item() == pytest.approx(-2.0 * (-1.4) ** 20, rel=1e-10)


@pytest.mark.parametrize("beta, nesterov", [(0.0, False), (0.5, False), (0.9, False), (0.9, True)])
def test_stability_edge(beta, nesterov):
    # Heavy ball: stable iff 0 < eta * lambda < 2 + 2 beta; Nesterov (torch's form): < (2 + 2 beta) / (1 + 2 beta).
    twins = valley_twins()
    _, curvatures = largest_stable_lr(twins.torch_net, twins.torch_loss, VALLEY_X, VALLEY_Y)
    assert curvatures.tolist() == pytest.approx([0.2, 4.0], rel=1e-12)
    ceiling = (2 + 2 * beta) / (1 + 2 * beta if nesterov else 1)
    edge = ceiling / curvatures[-1].item()
    start = torch.tensor([-5.0, -2.0], dtype=torch.float64).norm()
    options = {"momentum": beta, "nesterov": nesterov} if beta else {}
    inside = train(valley_twins(), VALLEY_X, VALLEY_Y, steps=400, lr=0.98 * edge, quiet=True, **options)
    outside = train(valley_twins(), VALLEY_X, VALLEY_Y, steps=400, lr=1.02 * edge, quiet=True, **options)
    assert not inside.diverged and inside.path_manual[-1].norm() < 1e-4 * start
    assert outside.diverged or outside.path_manual[-1].norm() > 1e3 * start


def fitted_rate(distances: torch.Tensor, floor: float, double_root: bool) -> float:
    """exp(slope) of log distance (over t for a double root) across the later half of the steps above the noise."""
    last = int((distances > 100 * floor).long().argmin()) - 1
    steps = torch.arange(last // 2, last + 1, dtype=torch.float64)
    values = distances[last // 2:last + 1].log() - (steps.log() if double_root else 0)
    slope = torch.linalg.lstsq(torch.stack([steps, torch.ones_like(steps)], dim=1), values[:, None]).solution[0]
    return math.exp(slope.item())


def test_heavy_ball_rate_on_lesson_03s_bowl_matches_theory():
    x, y = data.noisy_line(n=40, slope=-1.0, intercept=2.0, noise=0.5, x_range=(-1.0, 3.0), seed=0)
    twins = make_twins([1, 1], loss=manual.MSELoss())
    _, curvatures = largest_stable_lr(twins.torch_net, twins.torch_loss, x, y)
    low, high = curvatures.tolist()
    kappa = high / low
    best_beta = ((math.sqrt(kappa) - 1) / (math.sqrt(kappa) + 1)) ** 2
    best_lr = 4 / (math.sqrt(high) + math.sqrt(low)) ** 2
    best = torch.linalg.lstsq(torch.cat([x, torch.ones_like(x)], dim=1), y).solution.flatten()
    floor = 10 * torch.finfo(torch.float64).eps * best.norm().item()

    heavy = train(make_twins([1, 1], loss=manual.MSELoss()), x, y, steps=150, lr=best_lr, momentum=best_beta,
                  quiet=True)
    plain = train(make_twins([1, 1], loss=manual.MSELoss()), x, y, steps=150, lr=2 / (low + high), quiet=True)
    heavy_rate = fitted_rate((heavy.path_manual - best).norm(dim=1), floor, double_root=True)
    plain_rate = fitted_rate((plain.path_manual - best).norm(dim=1), floor, double_root=False)
    assert heavy_rate == pytest.approx(math.sqrt(best_beta), rel=0.02)
    assert plain_rate == pytest.approx((kappa - 1) / (kappa + 1), rel=0.005)
    assert heavy_rate < plain_rate


@lesson_group("07_momentum")
def test_lesson_writes_its_figures_and_reproduces_d2l(lesson_runs):
    lesson = lesson_runs("7")                   # run once with its defaults, shared with test_lessons.py
    summary = lesson.summary()
    assert set(summary["figures"]) == {"momentum_paths.png", "momentum_rates.png", "effective_step.png"}
    assert_drawn(lesson.figures, summary["figures"])
    histories = lesson.run.histories
    assert histories["valley: plain GD, η = 0.4"].path_manual[20].tolist() == pytest.approx((-0.943467, -0.000073),
                                                                                           abs=1e-6)
    assert histories["valley: heavy ball β = 0.5, η = 0.6"].path_manual[20].tolist() == pytest.approx(
        (0.007188, 0.002553), abs=1e-6)
    assert all(history.twins_agree for history in histories.values())
    assert summary["lr"] == 0.3 and not summary["diverged"]
    # The network trains on lesson 05's data exactly: its training half of the same 400 points.
    points, labels = data.two_moons(n=400, noise=0.15, seed=0)
    (x, y), _ = data.split(points, labels, held_out=200, seed=0)
    twins = make_twins([2, 16, 16, 2], "tanh", loss=manual.CrossEntropyLoss(), seed=0)
    first = twins.torch_loss(twins.torch_net(x), y).item()
    same_step = [histories["moons: plain GD, η = 0.5"], histories["moons: heavy ball β = 0.9, η = 0.05"]]
    assert [h.loss_manual[0] for h in same_step] == pytest.approx([first, first], rel=1e-14)
    # ... at the same effective step η/(1 − β) = 0.5.
    assert same_step[0].lr == pytest.approx(same_step[1].lr / (1 - 0.9))
