"""Property-based tests: every hand-written layer and loss against torch.

Hypothesis draws the shapes, a value scale 10**k (k in -3..3, wider for the
losses' logits) and a seed; the tensors themselves come from a seeded
torch.Generator, which is much faster than drawing arrays element by element.
Forward must equal torch's, backward must equal autograd's, for a random
upstream gradient.
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

from toolkit import manual

DT = torch.float64
RTOL = 1e-10

SETTINGS = settings(
    max_examples=30,
    deadline=None,
    derandomize=True,  # the same examples every run: a failure reproduces
    # the only function-scoped fixture is conftest's float64 default, which is
    # safe to share between examples (every tensor here names its dtype anyway)
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

seeds = st.integers(0, 2**31 - 1)
batches = st.integers(1, 6)
features = st.integers(1, 7)
scales = st.integers(-3, 3).map(lambda k: 10.0**k)


def close(actual, expected, magnitude=1.0, rtol=RTOL):
    """Relative comparison; the absolute floor grows with the values' magnitude.

    ``magnitude`` is the size of the terms that went into the result, so that
    entries which cancel to almost zero are judged against the rounding of
    those terms rather than against their own (tiny) value.
    """
    torch.testing.assert_close(actual, expected, rtol=rtol, atol=1e-12 * max(1.0, magnitude))


def randn(g, *shape, scale=1.0, device="cpu"):
    return (torch.randn(*shape, generator=g, dtype=DT) * scale).to(device)


def away_from_zero(x, scale):
    # ReLU's kink: keep every entry at least 1e-3 * scale away from 0
    return torch.where(x >= 0, x + 1e-3 * scale, x - 1e-3 * scale)


def autograd(ref, x, dout):
    xr = x.detach().clone().requires_grad_(True)
    out = ref(xr)
    out.backward(dout)
    return out.detach(), xr.grad, {n: p.grad for n, p in ref.named_parameters()}


# --------------------------------------------------------------------------- layers


@SETTINGS
@given(seed=seeds, n=batches, fin=features, fout=features, bias=st.booleans(), xs=scales, ds=scales, ws=scales)
def test_linear_property(device, seed, n, fin, fout, bias, xs, ds, ws):
    g = torch.Generator().manual_seed(seed)
    ref = nn.Linear(fin, fout, bias=bias, device=device, dtype=DT)
    layer = manual.Linear(fin, fout, bias=bias, device=device, dtype=DT)
    with torch.no_grad():
        for (name, p), (_, q) in zip(layer.named_parameters(), ref.named_parameters(), strict=True):
            q.copy_(randn(g, *q.shape, scale=ws, device=device))
            p.copy_(q)
    x = randn(g, n, fin, scale=xs, device=device)
    dout = randn(g, n, fout, scale=ds, device=device)
    out_ref, dx_ref, grads = autograd(ref, x, dout)

    close(layer(x), out_ref, xs * ws * fin + ws)
    close(layer.backward(dout), dx_ref, ds * ws * fout)
    close(layer.weight.grad, grads["weight"], ds * xs * n)
    if bias:
        close(layer.bias.grad, grads["bias"], ds * n)


ACTS = {"ReLU": (manual.ReLU, nn.ReLU), "Tanh": (manual.Tanh, nn.Tanh), "Sigmoid": (manual.Sigmoid, nn.Sigmoid)}


@pytest.mark.parametrize("name", list(ACTS))
@SETTINGS
@given(seed=seeds, shape=st.lists(st.integers(1, 6), min_size=1, max_size=3), xs=scales, ds=scales)
def test_activation_property(device, name, seed, shape, xs, ds):
    make, make_ref = ACTS[name]
    g = torch.Generator().manual_seed(seed)
    x = away_from_zero(randn(g, *shape, scale=xs, device=device), xs)
    dout = randn(g, *shape, scale=ds, device=device)
    out_ref, dx_ref, _ = autograd(make_ref(), x, dout)
    layer = make()
    close(layer(x), out_ref, xs)
    close(layer.backward(dout), dx_ref, ds)


@SETTINGS
@given(
    seed=seeds,
    n=batches,
    widths=st.lists(st.integers(1, 6), min_size=2, max_size=5),
    acts=st.lists(st.sampled_from(list(ACTS)), min_size=4, max_size=4),
    biases=st.lists(st.booleans(), min_size=4, max_size=4),
    xs=scales,
    ds=scales,
)
def test_sequential_property(device, seed, n, widths, acts, biases, xs, ds):
    g = torch.Generator().manual_seed(seed)
    layers, ref_layers = [], []
    for i, (fin, fout) in enumerate(zip(widths, widths[1:])):
        layers.append(manual.Linear(fin, fout, bias=biases[i], device=device, dtype=DT))
        ref_layers.append(nn.Linear(fin, fout, bias=biases[i], device=device, dtype=DT))
        if i < len(widths) - 2:  # an activation between linears only
            make, make_ref = ACTS[acts[i]]
            layers.append(make())
            ref_layers.append(make_ref())
    net, ref = manual.Sequential(*layers), nn.Sequential(*ref_layers)
    assert [k for k, _ in net.named_parameters()] == [k for k, _ in ref.named_parameters()]
    with torch.no_grad():
        for (_, p), (_, q) in zip(net.named_parameters(), ref.named_parameters(), strict=True):
            q.copy_(randn(g, *q.shape, device=device))
            p.copy_(q)

    # ReLU's input is a hidden pre-activation here; a random draw lands within
    # rounding of 0 with probability ~0, so no nudging is needed.
    x = randn(g, n, widths[0], scale=xs, device=device)
    dout = randn(g, n, widths[-1], scale=ds, device=device)
    out_ref, dx_ref, grads = autograd(ref, x, dout)
    # weights are O(1): a layer can grow its input by up to ~width; scale the floor by that
    growth = float(max(widths)) ** (len(widths) - 1)
    close(net(x), out_ref, xs * growth)
    close(net.backward(dout), dx_ref, ds * growth)
    for name, p in net.named_parameters():
        close(p.grad, grads[name], ds * max(xs, 1.0) * growth * n)


# --------------------------------------------------------------------------- losses


def loss_reference(ref_fn, pred, target, dloss):
    pr = pred.detach().clone().requires_grad_(True)
    loss = ref_fn(pr, target)
    loss.backward(torch.tensor(dloss, dtype=DT, device=pred.device))
    return loss.detach(), pr.grad


dlosses = st.floats(-5.0, 5.0, allow_nan=False).filter(lambda v: abs(v) > 1e-3)
shapes = st.lists(st.integers(1, 6), min_size=1, max_size=3)


@SETTINGS
@given(seed=seeds, shape=shapes, ps=scales, ts=scales, dloss=dlosses)
def test_mse_property(device, seed, shape, ps, ts, dloss):
    g = torch.Generator().manual_seed(seed)
    pred = randn(g, *shape, scale=ps, device=device)
    target = randn(g, *shape, scale=ts, device=device)
    loss_ref, dpred_ref = loss_reference(nn.MSELoss(), pred, target, dloss)
    loss_fn = manual.MSELoss()
    m = max(ps, ts)
    close(loss_fn(pred, target), loss_ref, m * m)
    close(loss_fn.backward(dloss), dpred_ref, m * abs(dloss))


logit_scales = st.integers(-3, 4).map(lambda k: 10.0**k)  # up to 1e4: extreme logits


@SETTINGS
@given(seed=seeds, shape=shapes, zs=logit_scales, hard=st.booleans(), dloss=dlosses)
def test_bce_property(device, seed, shape, zs, hard, dloss):
    g = torch.Generator().manual_seed(seed)
    logits = randn(g, *shape, scale=zs, device=device)
    target = torch.rand(*shape, generator=g, dtype=DT).to(device)
    if hard:
        target = target.round()
    loss_ref, dpred_ref = loss_reference(nn.BCEWithLogitsLoss(), logits, target, dloss)
    loss_fn = manual.BCEWithLogitsLoss()
    loss = loss_fn(logits, target)
    dpred = loss_fn.backward(dloss)
    assert torch.isfinite(loss) and torch.isfinite(dpred).all()
    close(loss, loss_ref, zs)
    close(dpred, dpred_ref, abs(dloss))


@SETTINGS
@given(seed=seeds, n=batches, c=st.integers(1, 8), zs=logit_scales, dloss=dlosses)
def test_ce_property(device, seed, n, c, zs, dloss):
    g = torch.Generator().manual_seed(seed)
    logits = randn(g, n, c, scale=zs, device=device)
    target = torch.randint(0, c, (n,), generator=g).to(device)
    loss_ref, dpred_ref = loss_reference(nn.CrossEntropyLoss(), logits, target, dloss)
    loss_fn = manual.CrossEntropyLoss()
    loss = loss_fn(logits, target)
    dpred = loss_fn.backward(dloss)
    assert torch.isfinite(loss) and torch.isfinite(dpred).all()
    # logsumexp(z) - z[y] vs torch's log_softmax: both exact to a few ulps of the logits
    close(loss, loss_ref, zs)
    close(dpred, dpred_ref, abs(dloss) * max(1.0, zs * 1e-2))
