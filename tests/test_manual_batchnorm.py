"""The hand-written BatchNorm1d against torch.nn.BatchNorm1d.

Forward and backward in both modes with random upstream gradients (float64),
the running statistics over several steps, torch's own gradcheck on our
backward, gradients that accumulate, the twin built by ``twin_of`` inside a
network trained in step with torch, and the errors for bad input.
"""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn
from torch.autograd.function import once_differentiable
from torch.autograd.gradcheck import GradcheckError, gradcheck

from helpers import close, gen, randn
from toolkit import manual
from toolkit.gradient_check import gradient_report
from toolkit.parameters import buffers_kept
from toolkit.train import train
from toolkit.twins import Twins, twin_of

SHAPES = [(2, 1), (5, 3), (16, 4), (33, 7)]


def pair(features: int, device, seed: int, momentum=0.1, eps=1e-5):
    """A hand-written layer with random gamma, beta and running statistics, and its torch twin."""
    g = gen(seed)
    layer = manual.BatchNorm1d(features, eps=eps, momentum=momentum, device=device, dtype=torch.float64)
    layer.weight = randn((features,), g, device) + 1.5
    layer.bias = randn((features,), g, device)
    layer.running_mean = randn((features,), g, device)
    layer.running_var = torch.rand(features, generator=g, dtype=torch.float64).to(device) + 0.5
    return layer, twin_of(layer)


def reference(module: nn.Module, x: torch.Tensor, dout: torch.Tensor):
    """Output, dL/dx and the parameter gradients of the torch module, by autograd."""
    x = x.detach().clone().requires_grad_(True)
    out = module(x)
    out.backward(dout)
    return out.detach(), x.grad, {name: p.grad for name, p in module.named_parameters()}


# --------------------------------------------------------------------------- forward and backward


@pytest.mark.parametrize("mode", ["train", "eval"])
@pytest.mark.parametrize("n,c", SHAPES)
def test_forward_and_backward_match_torch(device, n, c, mode):
    layer, twin = pair(c, device, seed=10 * n + c)
    layer.train(mode == "train")
    twin.train(mode == "train")
    g = gen(n + 100 * c)
    x = randn((n, c), g, device, scale=3.0) + 2.0          # far from mean 0 and variance 1
    dout = randn((n, c), g, device)                        # random upstream gradient, never ones
    out_ref, dx_ref, grads_ref = reference(twin, x, dout)
    out = layer(x)
    dx = layer.backward(dout)
    close(out, out_ref)
    close(dx, dx_ref, magnitude=float(dout.abs().max() * layer.weight.abs().max()))
    close(layer.weight.grad, grads_ref["weight"], magnitude=float(dout.abs().sum()))
    close(layer.bias.grad, grads_ref["bias"], magnitude=float(dout.abs().sum()))
    close(layer.running_mean, twin.running_mean)
    close(layer.running_var, twin.running_var)


def test_the_training_gradient_has_the_batch_in_it(device):
    # In training mode dx sums to 0 over the batch (moving every x together changes nothing); in evaluation
    # mode it is gamma * dout / sqrt(running_var + eps) and does not.
    layer, _ = pair(3, device, seed=1, eps=0.0)
    g = gen(2)
    x, dout = randn((8, 3), g, device, scale=2.0), randn((8, 3), g, device)
    layer(x)
    dx = layer.backward(dout)
    close(dx.sum(dim=0), torch.zeros(3, dtype=torch.float64, device=device), magnitude=float(dx.abs().max()))
    close((layer._x_hat * dx).sum(dim=0), torch.zeros(3, dtype=torch.float64, device=device),
          magnitude=float(dx.abs().max()) * 8)
    layer.eval()
    layer(x)
    dx_eval = layer.backward(dout)
    close(dx_eval, layer.weight / torch.sqrt(layer.running_var) * dout)


def test_running_statistics_follow_torch_over_many_steps(device):
    for momentum in (0.1, 0.35, None):
        layer, twin = pair(5, device, seed=3, momentum=momentum)
        g = gen(4)
        for step in range(12):
            x = randn((4 + step, 5), g, device, scale=1.0 + step) + step    # batches of changing size and spread
            layer(x)
            twin(x)
            close(layer.running_mean, twin.running_mean)
            close(layer.running_var, twin.running_var)
            assert int(layer.num_batches_tracked) == int(twin.num_batches_tracked) == step + 1
        # Evaluation mode uses them and leaves them alone.
        layer.eval()
        twin.eval()
        before = layer.running_mean.clone()
        close(layer(x), twin(x).detach())
        assert torch.equal(layer.running_mean, before) and int(layer.num_batches_tracked) == 12


def test_running_variance_is_unbiased():
    layer = manual.BatchNorm1d(1, momentum=1.0, dtype=torch.float64)
    x = torch.tensor([[1.0], [2.0], [4.0]], dtype=torch.float64)
    layer(x)
    assert layer.running_mean.item() == pytest.approx(7 / 3)
    assert layer.running_var.item() == pytest.approx(x.var(correction=1).item())
    # ... while the forward pass divides by the biased one
    assert layer._std.item() == pytest.approx((x.var(correction=0).item() + 1e-5) ** 0.5)


def test_gradients_accumulate_and_input_grad_false_skips_dx(device):
    layer, twin = pair(4, device, seed=5)
    g = gen(6)
    batches = [(randn((6, 4), g, device), randn((6, 4), g, device)) for _ in range(2)]
    for x, dout in batches:                     # two backward passes, no zero_grad in between
        layer(x)
        assert layer.backward(dout, input_grad=False) is None
        reference(twin, x, dout)
    close(layer.weight.grad, twin.weight.grad, magnitude=10.0)
    close(layer.bias.grad, twin.bias.grad, magnitude=10.0)
    layer.zero_grad()
    assert layer.weight.grad is None and layer.bias.grad is None


# --------------------------------------------------------------------------- torch's gradcheck on our backward


class BatchNormFunction(torch.autograd.Function):
    """y = our BatchNorm1d(x) with gamma and beta given; the backward is ours."""

    @staticmethod
    def forward(ctx, template, x, weight, bias):
        layer = copy.deepcopy(template)          # gradcheck runs many forwards before it asks for a backward
        layer.weight, layer.bias = weight.detach().clone(), bias.detach().clone()
        ctx.layer = layer
        return layer(x.detach())

    @staticmethod
    @once_differentiable
    def backward(ctx, dout):
        layer = ctx.layer
        layer.zero_grad()                        # gradcheck calls backward once per output entry
        dx = layer.backward(dout.contiguous())
        return None, dx, layer.weight.grad, layer.bias.grad


@pytest.mark.parametrize("mode", ["train", "eval"])
@pytest.mark.parametrize("n,c", [(2, 1), (5, 3)])
def test_gradcheck(device, n, c, mode):
    template, _ = pair(c, device, seed=n * c)
    template.train(mode == "train")
    g = gen(7 + n)
    x = (randn((n, c), g, device, scale=2.0) + 1.0).requires_grad_(True)
    weight = template.weight.clone().requires_grad_(True)
    bias = template.bias.clone().requires_grad_(True)
    assert gradcheck(lambda x, w, b: BatchNormFunction.apply(template, x, w, b), (x, weight, bias))


def test_gradcheck_catches_a_backward_without_the_mean_term():
    class ForgetsTheMean(manual.BatchNorm1d):
        def backward(self, dout, input_grad=True):
            dx = super().backward(dout, input_grad)
            return dx + dout.mean(dim=0) * self.weight / self._std       # BUG: the Σ dy term left out

    template = ForgetsTheMean(2, dtype=torch.float64)
    x = randn((4, 2), gen(8), "cpu").requires_grad_(True)
    weight, bias = template.weight.clone().requires_grad_(True), template.bias.clone().requires_grad_(True)
    with pytest.raises(GradcheckError):
        gradcheck(lambda x, w, b: BatchNormFunction.apply(template, x, w, b), (x, weight, bias))


# --------------------------------------------------------------------------- twins and training


def network(device="cpu", momentum=0.1) -> Twins:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(11)
        net = manual.Sequential(manual.Linear(3, 6, dtype=torch.float64),
                                manual.BatchNorm1d(6, momentum=momentum, dtype=torch.float64),
                                manual.ReLU(), manual.Linear(6, 2, dtype=torch.float64))
    return Twins.of(net.to(device=device), manual.CrossEntropyLoss())


def data(device="cpu"):
    g = gen(12)
    x = randn((40, 3), g, device, scale=2.0)
    y = (x[:, 0] * x[:, 1] > 0).long()
    return x, y


def test_twin_of_builds_torchs_layer_with_the_same_settings_parameters_and_buffers():
    layer = manual.BatchNorm1d(3, eps=1e-3, momentum=0.25, dtype=torch.float64)
    layer.weight = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    layer.running_var = torch.tensor([0.5, 1.5, 2.5], dtype=torch.float64)
    layer.num_batches_tracked = torch.tensor(7)
    twin = twin_of(layer.eval())
    assert isinstance(twin, nn.BatchNorm1d) and not twin.training
    assert (twin.num_features, twin.eps, twin.momentum) == (3, 1e-3, 0.25)
    assert [n for n, _ in twin.named_parameters()] == [n for n, _ in layer.named_parameters()] == ["weight", "bias"]
    assert [n for n, _ in twin.named_buffers()] == [n for n, _ in layer.named_buffers()] == [
        "running_mean", "running_var", "num_batches_tracked"]
    for (_, mine), theirs in zip(layer.named_buffers(), twin.buffers()):
        assert torch.equal(mine, theirs) and mine.dtype == theirs.dtype
    assert torch.equal(twin.weight.detach(), layer.weight)
    assert twin_of(manual.BatchNorm1d(2, momentum=None)).momentum is None


def test_defaults_and_to_keep_the_counter_an_integer():
    layer = manual.BatchNorm1d(3)
    assert torch.equal(layer.weight, torch.ones(3)) and torch.equal(layer.bias, torch.zeros(3))
    assert torch.equal(layer.running_mean, torch.zeros(3)) and torch.equal(layer.running_var, torch.ones(3))
    assert layer.to(dtype=torch.float32) is layer
    assert layer.weight.dtype == layer.running_var.dtype == torch.float32
    assert layer.num_batches_tracked.dtype == torch.long
    assert "BatchNorm1d" in manual.__all__


def test_a_network_with_batch_norm_trains_in_step_with_torch():
    twins = network(momentum=0.2)
    x, y = data()
    with torch.no_grad(), buffers_kept(twins.manual_net):
        start = float(twins.manual_loss(twins.manual_net(x), y))
    history = train(twins, x, y, steps=60, lr=0.1, batch_size=8, momentum=0.9, quiet=True)
    assert history.twins_agree and history.max_abs_grad_diff < 1e-12
    assert history.final_loss_manual < 0.7 * start
    mine, theirs = dict(twins.manual_net.named_buffers()), dict(twins.torch_net.named_buffers())
    assert list(mine) == list(theirs) == ["1.running_mean", "1.running_var", "1.num_batches_tracked"]
    close(mine["1.running_mean"], theirs["1.running_mean"])
    close(mine["1.running_var"], theirs["1.running_var"])
    # one count per training batch: the final loss on all the data is measured with the buffers kept
    assert int(mine["1.num_batches_tracked"]) == int(theirs["1.num_batches_tracked"]) == 60


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_gradient_report_passes_and_leaves_the_buffers(device, mode):
    twins = network(device)
    twins.train(mode == "train")
    x, y = data(device)
    before = [b.clone() for b in twins.manual_net.buffers()] + [b.clone() for b in twins.torch_net.buffers()]
    report = gradient_report(twins, x, y, first_layer=True)
    assert report.ok, str(report)
    after = list(twins.manual_net.buffers()) + list(twins.torch_net.buffers())
    assert all(torch.equal(a, b) for a, b in zip(before, after))


def test_gradient_report_locates_a_wrong_batch_norm_backward():
    class NoVarianceTerm(manual.BatchNorm1d):
        def backward(self, dout, input_grad=True):
            dx = super().backward(dout, input_grad)
            n = dout.shape[0]
            return dx + self._x_hat * (dout * self._x_hat).sum(dim=0) * self.weight / (n * self._std)   # BUG

    twins = network()
    wrong = NoVarianceTerm(6, dtype=torch.float64)
    wrong.weight, wrong.bias = twins.manual_net[1].weight, twins.manual_net[1].bias
    twins.manual_net.layers[1] = wrong
    x, y = data()
    assert gradient_report(twins, x, y).first_disagreement == "layer 1 (BatchNorm1d)"


# --------------------------------------------------------------------------- bad input


def test_bad_input_is_refused_in_one_clear_line():
    layer = manual.BatchNorm1d(3, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"expected input of shape \(N, 3\), got \(4, 3, 2\)"):
        layer(torch.zeros(4, 3, 2, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"expected input of shape \(N, 3\), got \(4, 2\)"):
        layer(torch.zeros(4, 2, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"training mode needs more than 1 value per feature"):
        layer(torch.zeros(1, 3, dtype=torch.float64))
    assert layer.eval()(torch.zeros(1, 3, dtype=torch.float64)).shape == (1, 3)      # evaluation mode can
    with pytest.raises(ValueError, match="convert one to match"):
        layer(torch.zeros(4, 3, dtype=torch.float32))
    with pytest.raises(ValueError, match=r"expected dout of shape \(1, 3\), got \(2, 3\)"):
        layer.backward(torch.zeros(2, 3, dtype=torch.float64))
    with pytest.raises(RuntimeError, match="call forward before backward"):
        manual.BatchNorm1d(3).backward(torch.zeros(2, 3))
    for bad in (0, 2.5, True):
        with pytest.raises(ValueError, match="num_features must be a whole number >= 1"):
            manual.BatchNorm1d(bad)
    with pytest.raises(ValueError, match="eps must be a finite number >= 0"):
        manual.BatchNorm1d(3, eps=-1.0)
    for bad in (1.5, -0.1, "0.1"):
        with pytest.raises(ValueError, match=r"momentum must be a number in \[0, 1\] or None"):
            manual.BatchNorm1d(3, momentum=bad)
