"""toolkit.noise_floor: the expected loss gap of mini-batch SGD on the averages problem, exactly.

The recursion is held against many simulated runs on shuffled epochs (the batches toolkit.train
draws), for a constant rate and for a decaying one; the floors against their closed forms and their
limits; and the batches of toolkit.train.batch_indices against the ones train itself uses.
"""

import math

import pytest
import torch

from helpers import gen
from toolkit import manual
from toolkit.noise_floor import AveragesSGD
from toolkit.train import batch_indices, train
from toolkit.twins import make_twins


def readings(n=200, d=20, seed=0):
    generator = gen(seed)
    return torch.randn(d, generator=generator) + torch.randn(n, d, generator=generator)


def simulated_gaps(data, start, rates, batch, runs, generator):
    """The loss gap of SGD on the averages problem for many shuffles at once: (len(rates) + 1, runs).

    One step is e <- (1 - a) e + a u with a = rate * 2/D and u the batch average's error, on
    shuffled epochs cut into batches, the update the twins take.
    """
    n, d = data.shape
    mean = data.mean(dim=0)
    error = (start - mean).expand(runs, d).clone()
    gaps = [error.pow(2).mean(dim=1)]
    per_epoch = n // batch
    for t, rate in enumerate(rates):
        if t % per_epoch == 0:
            order = torch.rand(runs, n, generator=generator, dtype=torch.float64).argsort(dim=1)
        k = t % per_epoch
        u = data[order[:, k * batch:(k + 1) * batch]].mean(dim=1) - mean        # (runs, D)
        a = rate * 2 / d
        error = (1 - a) * error + a * u
        gaps.append(error.pow(2).mean(dim=1))
    return torch.stack(gaps)


def test_the_problem_s_numbers():
    data = readings()
    noise = AveragesSGD(data, batch_size=5)
    torch.testing.assert_close(noise.mean, data.mean(dim=0))
    assert noise.best_loss == pytest.approx(((data - data.mean(dim=0)) ** 2).mean().item(), rel=1e-14)
    assert noise.curvature == 0.1 and noise.epoch == 40
    w = torch.randn(20, generator=gen(1))
    # L(w) = L* + 1/D ‖w − ȳ‖²: the gap from the weights equals the loss minus L*.
    loss = ((w - data) ** 2).mean().item()
    assert noise.gap(w).item() == pytest.approx(loss - noise.best_loss, rel=1e-12)
    assert noise.gap(torch.stack([w, noise.mean])).tolist() == pytest.approx([loss - noise.best_loss, 0.0])


@pytest.mark.parametrize("schedule", ["constant", "cosine"])
def test_the_expected_gap_matches_many_shuffles(schedule):
    data = readings()
    noise = AveragesSGD(data, batch_size=5)
    start = torch.randn(20, generator=gen(2))
    steps = 400
    rates = [1.0] * steps if schedule == "constant" else [(1 + math.cos(math.pi * t / steps)) / 2
                                                          for t in range(steps)]
    runs = 600
    gaps = simulated_gaps(data, start, rates, 5, runs, gen(3))
    mean, error = gaps.mean(dim=1), gaps.std(dim=1) / math.sqrt(runs)
    predicted = torch.tensor(noise.expected_gap(start, rates), dtype=torch.float64)
    assert ((mean - predicted).abs() <= 5 * error + 1e-12).all()
    if schedule == "cosine":
        # Without the shuffled epochs' term the prediction would be far off at the end.
        squares = (start - noise.mean) ** 2
        for rate in rates:
            a = rate * noise.curvature
            squares = (1 - a) ** 2 * squares + a ** 2 * noise.variance
        assert squares.mean().item() > 10 * mean[-1].item()


def test_the_floor_falls_with_the_rate_faster_than_with_independent_batches():
    # Independent batches: a·V/(2 − a), halved with the rate. Shuffled epochs: lower, and for small
    # rates proportional to the rate's square (quartered when it is halved).
    noise = AveragesSGD(readings(), batch_size=5)
    independent = lambda rate: noise.floor(rate, shuffled=False)       # noqa: E731
    a = noise.curvature
    assert independent(1.0) == pytest.approx((a * noise.variance / (2 - a)).mean().item(), rel=1e-14)
    assert noise.floor(1.0) == pytest.approx(0.00684, rel=0.01)
    assert noise.floor(1.0) < independent(1.0)
    assert independent(0.01) / independent(0.005) == pytest.approx(2.0, rel=0.01)
    assert noise.floor(1.0) / noise.floor(0.5) == pytest.approx(2.97, rel=0.01)
    assert noise.floor(0.01) / noise.floor(0.005) == pytest.approx(4.0, rel=0.02)
    assert noise.floor(20.0) is None and independent(25.0) is None and noise.floor(0.0) is None   # a ∉ (0, 2)


def test_the_floor_is_where_a_long_constant_run_settles():
    noise = AveragesSGD(readings(), batch_size=5)
    expected = noise.expected_gap(noise.mean + 1.0, [1.0] * 4000)
    last_epoch = expected[-noise.epoch - 1:-1]          # the steps of one epoch, its start included
    assert sum(last_epoch) / len(last_epoch) == pytest.approx(noise.floor(1.0), rel=1e-9)


def test_one_batch_of_all_the_readings_has_no_noise():
    noise = AveragesSGD(readings(n=10), batch_size=10)
    torch.testing.assert_close(noise.variance, torch.zeros(20, dtype=torch.float64))
    assert noise.floor(1.0) == 0.0


@pytest.mark.parametrize("shape, batch, message", [
    ((1, 3), 1, r"N >= 2"), ((10,), 1, r"\(N, D\)"), ((10, 3), 0, "from 1 to N = 10"),
    ((10, 3), 11, "from 1 to N = 10"), ((10, 3), 2.5, "whole number"), ((10, 3), True, "whole number"),
])
def test_bad_input_is_one_clear_line(shape, batch, message):
    with pytest.raises(ValueError, match=message):
        AveragesSGD(torch.zeros(shape), batch_size=batch)


def test_batch_indices_are_the_batches_train_uses():
    # Train on readings whose every entry is its own row number: the twins' path then shows which
    # rows each batch held, and a run on the batches from batch_indices takes the same steps.
    n, d, batch, steps = 12, 3, 4, 7
    data = torch.randn(n, d, generator=gen(4))
    twins = make_twins([1, d], bias=False, loss=manual.MSELoss(), seed=5)
    start = twins.torch_net[0].weight.detach()[:, 0].clone()
    history = train(twins, torch.ones(n, 1), data, steps=steps, lr=0.5, batch_size=batch, seed=9, quiet=True)
    batches = batch_indices(n, batch, seed=9, steps=steps)
    assert len(batches) == steps and all(b.shape == (batch,) for b in batches)
    for epoch in range(0, steps, n // batch):       # an epoch's batches are a partition of the rows
        rows = torch.cat(batches[epoch:epoch + n // batch])
        assert len(set(rows.tolist())) == len(rows)
    w = start.clone()
    for t, rows in enumerate(batches):
        w = w - 0.5 * 2 / d * (w - data[rows].mean(dim=0))
        torch.testing.assert_close(w, history.path_manual[t + 1], rtol=1e-12, atol=1e-14)
    assert batch_indices(n, None, seed=0, steps=3) == [None] * 3
