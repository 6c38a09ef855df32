"""torch.autograd.gradcheck on the hand-written backward passes.

PyTorch's own checker, run on our layers and losses: an outside witness for
the same gradients that the toolkit's gradient report (toolkit/gradient_check.py,
tested in test_gradient_report.py) checks with its own finite differences.

Each layer and loss is wrapped as a torch.autograd.Function whose backward
calls OUR backward, so gradcheck compares the hand-written gradient (for the
input and every parameter) with finite differences, in float64.

Every Function call builds its own manual layer and keeps it in ``ctx``:
gradcheck runs the forward many times with perturbed inputs before it asks for
the analytical gradient, and a shared layer would by then have cached the
wrong input. Every backward starts from zeroed gradients, because gradcheck
calls it once per output entry on the same graph (and a second time to check
that it is reproducible), while our layers accumulate.
"""

from __future__ import annotations

import copy

import pytest
import torch
from torch.autograd.gradcheck import GradcheckError, gradcheck
from torch.autograd.function import once_differentiable

from helpers import away_from_zero, gen, randn
from toolkit import manual


class LayerFunction(torch.autograd.Function):
    """y = layer(x) with parameters ``params`` (in named_parameters order)."""

    @staticmethod
    def forward(ctx, template, x, *params):
        layer = copy.deepcopy(template)
        names = [name for name, _ in template.named_parameters()]
        assert len(names) == len(params)
        for name, value in zip(names, params):
            *path, attr = name.split(".")
            owner = layer
            for index in path:
                owner = owner[int(index)]
            setattr(owner, attr, value.detach().clone())
        layer.zero_grad()
        ctx.layer = layer
        return layer(x.detach())

    @staticmethod
    @once_differentiable
    def backward(ctx, dout):
        layer = ctx.layer
        layer.zero_grad()
        dx = layer.backward(dout.contiguous())
        grads = [p.grad for p in layer.parameters()]
        layer.zero_grad()
        return (None, dx, *grads)


def apply_layer(template, x, *params):
    return LayerFunction.apply(template, x, *params)


class LossFunction(torch.autograd.Function):
    """L = loss(pred, target); the gradient flows to pred only."""

    @staticmethod
    def forward(ctx, make_loss, pred, target):
        loss_fn = make_loss()
        ctx.loss_fn = loss_fn
        return loss_fn(pred.detach(), target)

    @staticmethod
    @once_differentiable
    def backward(ctx, dloss):
        # dloss is a 0-d tensor: the upstream gradient gradcheck chose
        return None, ctx.loss_fn.backward(dloss), None


def leaf(t):
    """A detached copy of ``t`` that requires grad: an input gradcheck differentiates."""
    return t.detach().clone().requires_grad_(True)


# --------------------------------------------------------------------------- layers


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("n,fin,fout", [(1, 3, 2), (4, 2, 5)])
def test_gradcheck_linear(device, n, fin, fout, bias):
    g = gen(n + fin + fout)
    template = manual.Linear(fin, fout, bias=bias, device=device)
    x = leaf(randn((n, fin), g, device))
    weight = leaf(randn((fout, fin), g, device))
    params = (weight, leaf(randn((fout,), g, device))) if bias else (weight,)
    assert gradcheck(lambda x, *p: apply_layer(template, x, *p), (x, *params))


@pytest.mark.parametrize("make", [manual.ReLU, manual.Tanh, manual.Sigmoid], ids=lambda m: m.__name__)
@pytest.mark.parametrize("shape", [(1, 1), (3, 4), (2, 3, 2)], ids=str)
def test_gradcheck_activation(device, make, shape):
    g = gen(sum(shape))
    # ReLU's kink is far beyond gradcheck's eps
    x = away_from_zero(randn(shape, g, device, scale=2.0), margin=1e-2)
    assert gradcheck(lambda x: apply_layer(make(), x), (leaf(x),))


@pytest.mark.parametrize("n", [1, 3])
def test_gradcheck_sequential(device, n):
    torch.manual_seed(0)
    template = manual.Sequential(
        manual.Linear(3, 4, device=device),
        manual.Tanh(),
        manual.Linear(4, 4, bias=False, device=device),
        manual.Sigmoid(),
        manual.Linear(4, 5, device=device),
        manual.ReLU(),
        manual.Linear(5, 2, device=device),
    )
    g = gen(10 + n)
    x = leaf(randn((n, 3), g, device))
    params = [leaf(randn(p.shape, g, device)) for p in template.parameters()]
    # keep ReLU's inputs away from 0, where its derivative jumps
    pre_relu = _pre_relu(template, x, params)
    assert pre_relu.abs().min() > 1e-3, "pick another seed: a ReLU input is too close to 0"
    assert gradcheck(lambda x, *p: apply_layer(template, x, *p), (x, *params))


def _pre_relu(template, x, params):
    """The input of the ReLU (layer 5) for these parameters."""
    layer = copy.deepcopy(template)
    with torch.no_grad():
        for (_, p), value in zip(layer.named_parameters(), params):
            p.copy_(value)
        h = x.detach()
        for sub in layer.layers[:5]:
            h = sub(h)
    return h


# --------------------------------------------------------------------------- losses


@pytest.mark.parametrize("shape", [(1,), (3, 4), (2, 2, 3)], ids=str)
def test_gradcheck_mse(device, shape):
    g = gen(len(shape))
    pred, target = randn(shape, g, device), randn(shape, g, device)
    assert gradcheck(lambda p: LossFunction.apply(manual.MSELoss, p, target), (leaf(pred),))


@pytest.mark.parametrize("soft", [False, True])
@pytest.mark.parametrize("shape", [(1,), (3, 4), (2, 2, 3)], ids=str)
def test_gradcheck_bce(device, shape, soft):
    g = gen(len(shape) + 5)
    logits = randn(shape, g, device, scale=3.0)
    target = torch.rand(*shape, generator=g, dtype=torch.float64).to(device)
    if not soft:
        target = target.round()
    assert gradcheck(lambda z: LossFunction.apply(manual.BCEWithLogitsLoss, z, target), (leaf(logits),))


@pytest.mark.parametrize("n,c", [(1, 1), (1, 4), (5, 3), (4, 6)])
def test_gradcheck_cross_entropy(device, n, c):
    g = gen(n * 10 + c)
    logits = randn((n, c), g, device, scale=2.0)
    target = torch.randint(0, c, (n,), generator=g).to(device)
    assert gradcheck(lambda z: LossFunction.apply(manual.CrossEntropyLoss, z, target), (leaf(logits),))


# --------------------------------------------------------------------------- the wrapper can fail


def test_gradcheck_catches_a_wrong_backward(device):
    # guard against a wrapper that would pass anything: break Tanh's slope
    class BrokenTanh(manual.Tanh):
        def backward(self, dout, input_grad=True):
            return super().backward(dout, input_grad) * 1.01

    x = leaf(randn((3, 2), gen(0), device))
    with pytest.raises(GradcheckError):
        gradcheck(lambda x: apply_layer(BrokenTanh(), x), (x,))

    class BrokenLinear(manual.Linear):
        def backward(self, dout, input_grad=True):
            dx = super().backward(dout, input_grad)
            self.bias.grad = self.bias.grad * 0.5  # dx and dweight right, dbias wrong
            return dx

    torch.manual_seed(0)
    template = BrokenLinear(2, 3, device=device)
    params = [leaf(p) for p in template.parameters()]
    with pytest.raises(GradcheckError):
        gradcheck(lambda x, *p: apply_layer(template, x, *p), (x, *params))
