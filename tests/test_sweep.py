"""toolkit.sweep: many seeds and settings at once, each member the run train() makes with its seed."""

import math

import pytest
import torch

from toolkit import data, manual
from toolkit.optim import SGD, Adam, AdamW
from toolkit.sweep import sweep
from toolkit.train import train
from toolkit.twins import Twins, make_twins


def moons(seed):
    return data.two_moons(n=40, seed=seed)


def tanh_net(setting, seed):
    return make_twins([2, 5, 2], activation="tanh", loss=manual.CrossEntropyLoss(), seed=seed).torch_net


@pytest.mark.parametrize("optimizer, options, batch_size", [
    (SGD, {"lr": 0.3, "momentum": 0.9}, 10),
    (Adam, {"lr": 0.05}, None),
    (AdamW, {"lr": 0.05, "weight_decay": 0.1}, None),
])
def test_every_member_is_the_run_train_makes_with_its_seed(optimizer, options, batch_size):
    settings = {"a": (optimizer, options), "b": (optimizer, {**options, "lr": options["lr"] / 3})}
    result = sweep(tanh_net, moons, settings, seeds=[0, 1], steps=12, batch_size=batch_size)
    for name, (_, setting) in settings.items():
        for seed in (0, 1):
            twins = make_twins([2, 5, 2], activation="tanh", loss=manual.CrossEntropyLoss(), seed=seed)
            history = train(twins, *moons(seed), steps=12, optimizer=optimizer, batch_size=batch_size, seed=seed,
                            quiet=True, **setting)
            torch.testing.assert_close(result.final(name, seed), history.path_autograd[-1], rtol=1e-12, atol=1e-13)
            row = result.losses[result.index(name, seed)]
            torch.testing.assert_close(row, torch.tensor(history.loss_autograd), rtol=1e-12, atol=1e-13)
    assert result.losses.shape == (4, 12) and not result.diverged.any()


def test_batch_norm_members_keep_their_own_running_statistics():
    def network(setting, seed):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            net = manual.Sequential(manual.Linear(2, 6), manual.BatchNorm1d(6), manual.ReLU(), manual.Linear(6, 2))
        return Twins.of(net, manual.CrossEntropyLoss())

    result = sweep(lambda setting, seed: network(setting, seed).torch_net, moons, {"sgd": (SGD, {"lr": 0.2})},
                   seeds=[0, 5], steps=8, batch_size=10)
    for seed in (0, 5):
        twins = network("sgd", seed)
        history = train(twins, *moons(seed), steps=8, lr=0.2, batch_size=10, seed=seed, quiet=True)
        torch.testing.assert_close(result.final("sgd", seed), history.path_autograd[-1], rtol=1e-12, atol=1e-13)
        row = result.index("sgd", seed)
        for name, value in twins.torch_net.named_buffers():
            torch.testing.assert_close(result.buffers[name][row], value, rtol=1e-12, atol=1e-13)
        # evaluation mode: the running statistics, as the trained torch twin classifies
        twins.torch_net.eval()
        x, y = moons(seed)
        with torch.no_grad():
            out = twins.torch_net(x)
        loss, accuracy = result.evaluate(moons)
        i = result.seeds.index(seed)
        assert float(loss[0, i]) == pytest.approx(float(torch.nn.functional.cross_entropy(out, y)), rel=1e-12)
        assert float(accuracy[0, i]) == pytest.approx(float((out.argmax(dim=1) == y).double().mean()))


def test_a_member_that_diverges_is_marked_and_harms_no_other():
    settings = {"calm": (SGD, {"lr": 0.1}), "wild": (SGD, {"lr": 1e6})}
    result = sweep(tanh_net, moons, settings, seeds=[0], steps=6, divergence_factor=10.0)
    assert result.diverged.tolist() == [[False], [True]]
    wild = result.losses[result.index("wild", 0)]
    assert math.isfinite(float(wild[0])) and torch.isnan(wild[-1])
    alone = sweep(tanh_net, moons, {"calm": settings["calm"]}, seeds=[0], steps=6)
    torch.testing.assert_close(result.final("calm", 0), alone.final("calm", 0), rtol=0, atol=0)
    loss, accuracy = result.evaluate(moons)
    assert math.isfinite(float(loss[0, 0])) and math.isnan(float(loss[1, 0])) and math.isnan(float(accuracy[1, 0]))


def test_bad_arguments_are_refused_in_one_line():
    with pytest.raises(ValueError, match="steps must be a whole number >= 1"):
        sweep(tanh_net, moons, {"a": (SGD, {"lr": 0.1})}, seeds=[0], steps=0)
    with pytest.raises(ValueError, match="at least one seed and one setting"):
        sweep(tanh_net, moons, {}, seeds=[0], steps=1)
