"""The training loop: both twins in lockstep, divergence caught, bad data refused."""

import math

import pytest
import torch
from toolkit import data, manual
from toolkit.optim import SGD
from toolkit.train import train
from toolkit.twins import Twins, make_twins


def _line(device, dtype=torch.float64, n=40):
    return data.noisy_line(n=n, seed=1, device=device, dtype=dtype)


def test_twins_agree_at_every_step_full_batch(device):
    x, y = _line(device)
    twins = make_twins([1, 1], seed=2, device=device)
    history = train(twins, x, y, steps=30, lr=0.1, quiet=True)
    assert history.steps == 30 and not history.diverged
    assert history.twins_agree
    assert history.max_abs_grad_diff <= 1e-12
    assert history.loss_manual == pytest.approx(history.loss_autograd, rel=1e-12, abs=0)
    # the path stays where the twins are, in their dtype: plotting converts it
    assert history.path_manual.shape == (31, 2) and history.path_manual.device.type == device
    assert history.path_manual.dtype == torch.float64
    torch.testing.assert_close(history.path_manual, history.path_autograd, rtol=1e-12, atol=1e-12)
    # Training must actually have reduced the loss.
    assert history.final_loss_manual < 0.5 * history.loss_manual[0]


@pytest.mark.parametrize("options", [
    {"batch_size": 8},
    {"batch_size": 7, "momentum": 0.9, "nesterov": True},
    {"batch_size": 16, "momentum": 0.5, "dampening": 0.3, "weight_decay": 1e-2},
])
def test_twins_agree_on_mlp_with_minibatches_and_momentum(device, options):
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(48, 3, generator=generator).to(device)
    y = torch.randint(0, 4, (48,), generator=generator).to(device)
    twins = make_twins([3, 8, 8, 4], "tanh", loss=manual.CrossEntropyLoss(), seed=4, device=device)
    history = train(twins, x, y, steps=25, lr=0.2, quiet=True, **options)
    assert history.twins_agree and history.max_abs_grad_diff < 1e-12
    torch.testing.assert_close(history.path_manual, history.path_autograd, rtol=1e-10, atol=1e-12)
    assert history.final_loss_manual < history.loss_manual[0]


def test_minibatches_come_from_the_seed():
    x, y = _line("cpu")

    def run(seed):
        twins = make_twins([1, 1], seed=0)
        return train(twins, x, y, steps=10, lr=0.1,
                     batch_size=5, seed=seed, quiet=True).loss_manual

    assert run(3) == run(3)
    assert run(3) != run(4)


def test_divergence_stops_cleanly_and_is_reported():
    x, y = _line("cpu")
    twins = make_twins([1, 1], seed=0)
    history = train(twins, x, y, steps=500, lr=2.0, quiet=True)
    assert history.diverged
    assert history.diverged_at_step == history.steps < 500
    assert history.loss_manual[-1] > 1e12 * history.loss_manual[0]
    assert all(math.isfinite(v) for v in history.loss_manual[:-1])
    assert history.path_manual.shape[0] == history.steps + 1
    assert len(history.path_losses()[0]) == history.path_manual.shape[0]


def test_non_finite_loss_counts_as_divergence():
    x, y = _line("cpu")
    twins = make_twins([1, 1], seed=0)
    history = train(twins, x, y, steps=2000, lr=2.0,
                    divergence_factor=math.inf, quiet=True)
    assert history.diverged and not math.isfinite(history.loss_manual[-1])


def test_nan_in_data_is_refused_with_the_tensors_name():
    x, y = _line("cpu")
    y[3, 0] = math.nan
    twins = make_twins([1, 1])
    with pytest.raises(ValueError, match=r"^y contains 1 NaN or inf"):
        train(twins, x, y, steps=1, lr=0.1)
    x[0, 0] = math.inf
    with pytest.raises(ValueError, match=r"^x contains"):
        train(twins, x, y, steps=1, lr=0.1)


def test_dtype_mismatch_names_both():
    x, y = _line("cpu", dtype=torch.float32)
    twins = make_twins([1, 1])
    with pytest.raises(ValueError, match=r"x is torch.float32 but the model is torch.float64"):
        train(twins, x, y, steps=1, lr=0.1)


def test_device_mismatch_names_both():
    x, y = _line("cpu")
    twins = make_twins([1, 1], device="meta")
    with pytest.raises(ValueError, match=r"x is on cpu but the model is on meta"):
        train(twins, x, y, steps=1, lr=0.1)


def test_steps_below_one_are_refused():
    x, y = _line("cpu")
    twins = make_twins([1, 1])
    with pytest.raises(ValueError, match="steps must be a whole number >= 1"):
        train(twins, x, y, steps=0, lr=0.1)


def test_hand_written_layer_names_both_dtypes_on_mismatch():
    from toolkit.manual import Linear

    layer = Linear(2, 3, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"input is torch.float32 on cpu, but the weight is torch.float64 on cpu"):
        layer(torch.ones(4, 2, dtype=torch.float32))


# --------------------------------------------------------------------------- any optimiser


class CountingSGD(SGD):
    """Our SGD, counting its instances: each twin must get its own."""

    made: list = []

    def __init__(self, params, **options):
        super().__init__(params, **options)
        CountingSGD.made.append(self)


def test_optimizer_is_a_class_plus_options_and_each_twin_gets_its_own():
    x, y = _line("cpu")
    CountingSGD.made.clear()
    twins = make_twins([1, 1], seed=0)
    train(twins, x, y, steps=3, lr=0.05, optimizer=CountingSGD, momentum=0.9, quiet=True)
    first, second = CountingSGD.made
    assert first is not second
    for opt in (first, second):
        assert opt.param_groups[0]["lr"] == 0.05 and opt.param_groups[0]["momentum"] == 0.9
    assert {id(p) for p in first.param_groups[0]["params"]} == {id(p) for p in twins.manual_net.parameters()}
    assert {id(p) for p in second.param_groups[0]["params"]} == {id(p) for p in twins.torch_net.parameters()}


def test_a_factory_and_a_class_with_options_take_the_same_steps():
    x, y = _line("cpu")
    by_class = train(make_twins([1, 1], seed=0), x, y, steps=12, lr=0.05, momentum=0.5, quiet=True)
    by_factory = train(make_twins([1, 1], seed=0), x, y, steps=12, quiet=True,
                       optimizer=lambda params: SGD(params, lr=0.05, momentum=0.5))
    assert torch.equal(by_class.path_manual, by_factory.path_manual)
    assert by_factory.lr == 0.05


def test_our_sgd_is_the_default_and_matches_plain_gradient_descent():
    x, y = _line("cpu")
    twins = make_twins([1, 1], seed=0)
    start = [p.clone() for p in twins.manual_net.parameters()]
    history = train(twins, x, y, steps=1, lr=0.1, quiet=True)
    twins_again = make_twins([1, 1], seed=0)
    loss = twins_again.torch_loss(twins_again.torch_net(x), y)
    loss.backward()
    for before, param, after in zip(start, twins_again.torch_net.parameters(), twins.manual_net.parameters()):
        torch.testing.assert_close(after, before - 0.1 * param.grad, rtol=1e-15, atol=0)
    assert history.lrs == [0.1]


def test_a_torch_scheduler_drives_both_twins():
    x, y = _line("cpu")
    twins = make_twins([1, 1], seed=0)
    history = train(twins, x, y, steps=7, lr=0.1, quiet=True,
                    scheduler=lambda opt: torch.optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.5))
    assert history.lrs == [0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025]
    assert history.twins_agree
    torch.testing.assert_close(history.path_manual, history.path_autograd, rtol=1e-12, atol=1e-14)
    # the recorded steps are exactly what the scheduled rates give, for one twin by hand
    plain = make_twins([1, 1], seed=0)
    for lr in history.lrs:
        plain.torch_net.zero_grad()
        plain.torch_loss(plain.torch_net(x), y).backward()
        with torch.no_grad():
            for param in plain.torch_net.parameters():
                param -= lr * param.grad
    torch.testing.assert_close(history.path_autograd[-1], torch.cat([p.detach().reshape(-1)
                                                                     for p in plain.torch_net.parameters()]),
                               rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("batch_size", [0, -3, 2.5, True])
def test_a_bad_batch_size_is_refused(batch_size):
    x, y = _line("cpu")
    with pytest.raises(ValueError, match="batch_size must be None"):
        train(make_twins([1, 1]), x, y, steps=1, lr=0.1, batch_size=batch_size)


def test_empty_data_is_refused():
    x, y = _line("cpu")
    with pytest.raises(ValueError, match="at least one"):
        train(make_twins([1, 1]), x[:0], y[:0], steps=1, lr=0.1)


def test_a_learning_rate_too_large_for_float32_is_refused_by_name():
    x, y = _line("cpu", dtype=torch.float32)
    with pytest.raises(ValueError, match=r"lr = 1e\+200 does not fit in torch.float32"):
        train(make_twins([1, 1], dtype=torch.float32), x, y, steps=1, lr=1e200)


def test_a_network_without_parameters_is_refused_in_one_line():
    twins = Twins.of(manual.Sequential(manual.Tanh()), manual.MSELoss())
    x, y = _line("cpu")
    with pytest.raises(ValueError, match="^train: the network has no parameters"):
        train(twins, x, y, steps=2, lr=0.1, quiet=True)


class _WrongOnThirdBackward(manual.Linear):
    """A Linear whose weight gradient is off by 1 on its third backward only."""

    calls = 0

    def backward(self, dout, input_grad=True):
        dx = super().backward(dout, input_grad)
        type(self).calls += 1
        if type(self).calls in (3, 5):
            self.weight.grad += 1.0
        return dx


def test_every_step_is_compared_and_the_steps_that_disagree_are_told():
    # After the first disagreement the loop went on comparing nothing, and `check` then said
    # "twins DISAGREE at all 100 steps" for one step that did
    from toolkit.bugs import copy_layer
    from toolkit.cli import training_line

    twins = make_twins([1, 1], seed=2)
    _WrongOnThirdBackward.calls = 0
    twins.manual_net.layers = [copy_layer(_WrongOnThirdBackward, twins.manual_net[0])]
    x, y = _line("cpu")
    history = train(twins, x, y, steps=6, lr=0.0, quiet=True)     # lr 0: the twins stay together after a slip
    assert history.disagreeing_steps == [2, 4] and not history.twins_agree
    assert history.agreement() == "DISAGREE at 2 of 6 steps (first at step 2, last at step 4)"
    assert training_line("main", history).startswith("training run 'main' (lr 0): twins DISAGREE at 2 of 6 steps")
    fine = train(make_twins([1, 1], seed=2), x, y, steps=6, lr=0.1, quiet=True)
    assert fine.agreement() == "agree at all 6 steps" and fine.disagreeing_steps == []
