"""Train/eval modes, buffers, and a layer whose forward pass depends on the batch.

``BatchCenter`` is a small layer defined here, in the spirit of batch norm:
in training mode it subtracts the batch mean and updates a running mean (a
buffer); in evaluation mode it subtracts the running mean. It is twinned
with ``twin_of`` through one registry line, and then everything that the
toolkit does to a network must work on it: the gradient report, a loss
landscape and training, with no running statistic changed by a measurement.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.func import functional_call, vmap

from toolkit import manual
from toolkit.gradient_check import gradient_report
from toolkit.landscape import loss_on_plane, loss_on_plane_loop
from toolkit.parameters import buffers_kept, flatten
from toolkit.train import train
from toolkit.twins import TORCH_TWIN, Twins, twin_of


class BatchCenter(manual.Module):
    """out = x - mean + bias, the mean over the batch (training) or the running mean (evaluation).

    x, out: (N, features); bias: (features,) parameter; running_mean: (features,) buffer.
    """

    _param_names = ("bias",)
    _buffer_names = ("running_mean",)

    def __init__(self, features: int, momentum: float = 0.1) -> None:
        super().__init__()
        self.features = features
        self.momentum = momentum
        self.bias = torch.linspace(-0.3, 0.4, features, dtype=torch.float64)
        self.running_mean = torch.zeros(features, dtype=torch.float64)
        self._training_pass: bool | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._training_pass = self.training
        if self.training:
            mean = x.mean(dim=0)
            self.running_mean = (1 - self.momentum) * self.running_mean + self.momentum * mean
        else:
            mean = self.running_mean
        return x - mean + self.bias

    def backward(self, dout: torch.Tensor, input_grad: bool = True) -> torch.Tensor | None:
        """dbias = sum_n dout[n];  dx = dout - mean_n dout[n] in training (every x moves the mean), else dout."""
        if self._training_pass is None:
            raise RuntimeError("call forward before backward")
        manual.module.accumulate_grad(self.bias, dout.sum(dim=0))
        if not input_grad:
            return None
        return dout - dout.mean(dim=0) if self._training_pass else dout


class TorchBatchCenter(nn.Module):
    """The same layer in torch.nn; the running mean is updated in place, as BatchNorm does."""

    def __init__(self, features: int, momentum: float = 0.1) -> None:
        super().__init__()
        self.momentum = momentum
        self.bias = nn.Parameter(torch.zeros(features))
        self.register_buffer("running_mean", torch.zeros(features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            mean = x.mean(dim=0)
            with torch.no_grad():
                self.running_mean.mul_(1 - self.momentum).add_(self.momentum * mean)
        else:
            mean = self.running_mean
        return x - mean + self.bias


@pytest.fixture(autouse=True)
def registered(monkeypatch):
    # The one registry line that adding a layer takes.
    monkeypatch.setitem(TORCH_TWIN, BatchCenter, lambda layer: TorchBatchCenter(layer.features, layer.momentum))


def network(device="cpu") -> Twins:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(5)
        net = manual.Sequential(manual.Linear(3, 4, dtype=torch.float64), BatchCenter(4), manual.Tanh(),
                                manual.Linear(4, 2, dtype=torch.float64))
    net[1].running_mean = torch.tensor([0.5, -0.25, 0.125, 1.0], dtype=torch.float64)
    return Twins.of(net.to(device=device), manual.MSELoss())


def data(device="cpu"):
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(10, 3, generator=generator, dtype=torch.float64).to(device)
    y = torch.randn(10, 2, generator=generator, dtype=torch.float64).to(device)
    return x, y


def buffers(twins: Twins) -> list[torch.Tensor]:
    return [b.clone() for b in twins.manual_net.buffers()] + [b.clone() for b in twins.torch_net.buffers()]


def assert_same(before: list[torch.Tensor], after: list[torch.Tensor]) -> None:
    assert len(before) == len(after)
    for a, b in zip(before, after):
        assert torch.equal(a, b)


# --------------------------------------------------------------------------- modes and buffers


def test_train_and_eval_return_the_module_and_reach_every_layer():
    net = manual.Sequential(manual.Linear(2, 2), manual.ReLU(), BatchCenter(2))
    assert net.training and all(layer.training for layer in net)
    assert net.eval() is net
    assert not net.training and not any(layer.training for layer in net)
    assert net.train() is net and all(layer.training for layer in net)
    assert net.train(False) is net and not net[2].training


def test_buffers_have_torchs_names_and_are_not_parameters():
    twins = network()
    assert [name for name, _ in twins.manual_net.named_buffers()] == ["1.running_mean"]
    assert [name for name, _ in twins.torch_net.named_buffers()] == ["1.running_mean"]
    assert [name for name, _ in twins.manual_net.named_parameters()] == [
        "0.weight", "0.bias", "1.bias", "3.weight", "3.bias"]
    assert len(list(twins.manual_net.buffers())) == 1
    assert list(manual.Linear(2, 3).buffers()) == []


def test_twin_of_copies_parameters_and_buffers():
    twins = network()
    for (name, mine), (their_name, theirs) in zip(twins.manual_net.named_parameters(),
                                                  twins.torch_net.named_parameters()):
        assert name == their_name and torch.equal(mine, theirs.detach())
    torch.testing.assert_close(twins.torch_net[1].running_mean, torch.tensor([0.5, -0.25, 0.125, 1.0]),
                               rtol=0, atol=0, check_dtype=False)
    assert twins.torch_net[1].running_mean.dtype == torch.float64


def test_twin_of_takes_the_mode_and_twins_switch_together():
    net = network().manual_net.eval()
    assert not twin_of(net).training
    twins = Twins.of(net, manual.MSELoss())
    assert twins.train() is twins
    assert twins.manual_net[1].training and twins.torch_net[1].training
    twins.eval()
    assert not twins.manual_net[1].training and not twins.torch_net[1].training


def test_module_to_moves_parameters_and_buffers_and_keeps_integer_buffers():
    layer = BatchCenter(3)
    layer.steps = torch.tensor(4)
    layer._buffer_names = ("running_mean", "steps")
    assert layer.to(dtype=torch.float32) is layer
    assert layer.bias.dtype == torch.float32 and layer.running_mean.dtype == torch.float32
    assert layer.steps.dtype == torch.int64


# --------------------------------------------------------------------------- the toolkit on a batch-statistics net


def test_this_network_cannot_go_through_vmap_in_training_mode():
    # The reason the toolkit needs its fall-back: vmap refuses the in-place running-mean update.
    twins = network()
    x, y = data()
    params = dict(twins.torch_net.named_parameters())
    theta = flatten(params).unsqueeze(0).repeat(3, 1)

    def loss_of(vector):
        moved = {}
        start = 0
        for name, p in params.items():
            moved[name] = vector[start:start + p.numel()].view(p.shape)
            start += p.numel()
        return twins.torch_loss(functional_call(twins.torch_net, moved, (x,)), y)

    with buffers_kept(twins.torch_net), pytest.raises(RuntimeError):
        vmap(loss_of)(theta)


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_gradient_report_works_and_changes_no_running_statistic(device, mode):
    twins = network(device)
    twins.train(mode == "train")
    x, y = data(device)
    before = buffers(twins)
    report = gradient_report(twins, x, y, first_layer=True)
    assert report.ok, str(report)
    assert "input of 1" in [row.name for row in report.rows]
    assert_same(before, buffers(twins))


def test_batch_statistics_show_in_the_gradient():
    # In training mode dx of BatchCenter is dout minus its batch mean; in eval mode dout itself.
    twins = network()
    x, y = data()
    rows_train = {r.name: r for r in gradient_report(twins.train(), x, y).rows}
    rows_eval = {r.name: r for r in gradient_report(twins.eval(), x, y).rows}
    assert rows_train["0.weight"].ok and rows_eval["0.weight"].ok
    twins.train()
    loss = twins.torch_loss(twins.torch_net(x), y)
    grad_train = torch.autograd.grad(loss, twins.torch_net[0].weight)[0]
    twins.eval()
    loss = twins.torch_loss(twins.torch_net(x), y)
    grad_eval = torch.autograd.grad(loss, twins.torch_net[0].weight)[0]
    assert not torch.allclose(grad_train, grad_eval)


def test_a_wrong_batch_statistics_backward_is_located():
    class ForgetsTheMean(BatchCenter):
        def backward(self, dout, input_grad=True):
            manual.module.accumulate_grad(self.bias, dout.sum(dim=0))
            return dout if input_grad else None          # BUG in training mode: the mean's share is missing

    twins = network()
    wrong = ForgetsTheMean(4)
    wrong.bias, wrong.running_mean = twins.manual_net[1].bias, twins.manual_net[1].running_mean
    twins.manual_net.layers[1] = wrong
    x, y = data()
    report = gradient_report(twins, x, y)
    assert report.first_disagreement == "layer 1 (TorchBatchCenter)"


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_landscape_grid_works_and_changes_no_running_statistic(mode):
    twins = network()
    twins.train(mode == "train")
    x, y = data()
    before = buffers(twins)
    center = flatten(twins.torch_net.named_parameters())
    generator = torch.Generator().manual_seed(3)
    d1 = torch.randn(center.shape, generator=generator, dtype=torch.float64)
    d2 = torch.randn(center.shape, generator=generator, dtype=torch.float64)
    alphas, betas = torch.linspace(-1, 1, 5), torch.linspace(-0.5, 0.5, 4)
    z = loss_on_plane(twins.torch_net, twins.torch_loss, x, y, center, d1, d2, alphas, betas, chunk_size=7)
    z_loop = loss_on_plane_loop(twins.torch_net, twins.torch_loss, x, y, center, d1, d2, alphas, betas)
    assert z.shape == (4, 5)
    torch.testing.assert_close(z, z_loop, rtol=1e-12, atol=1e-14)
    assert_same(before, buffers(twins))
    # the grid's centre point is the loss of the network as it stands (one forward pass, buffers kept)
    centre = loss_on_plane(twins.torch_net, twins.torch_loss, x, y, center, d1, None, torch.zeros(1))
    with torch.no_grad(), buffers_kept(twins.torch_net):
        expected = twins.torch_loss(twins.torch_net(x), y)
    torch.testing.assert_close(centre[0], expected, rtol=1e-13, atol=0)


def test_training_moves_both_running_means_alike():
    twins = network()
    x, y = data()
    history = train(twins, x, y, steps=15, lr=0.1, batch_size=5, momentum=0.9, quiet=True)
    assert history.twins_agree and history.max_abs_grad_diff < 1e-12
    mine, theirs = twins.manual_net[1].running_mean, twins.torch_net[1].running_mean
    assert not torch.equal(mine, torch.tensor([0.5, -0.25, 0.125, 1.0], dtype=torch.float64))
    torch.testing.assert_close(mine, theirs, rtol=1e-12, atol=1e-14)


def test_buffers_kept_restores_even_after_an_error():
    twins = network()
    x, _ = data()
    before = buffers(twins)
    with pytest.raises(ZeroDivisionError), buffers_kept(twins.manual_net, twins.torch_net):
        twins.manual_net(x)
        twins.torch_net(x)
        assert not torch.equal(buffers(twins)[0], before[0])
        raise ZeroDivisionError
    assert_same(before, buffers(twins))
