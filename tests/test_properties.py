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

from helpers import autograd_reference, away_from_zero, close, copy_params, gen, loss_reference, randn
from toolkit import manual

DT = torch.float64

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


# --------------------------------------------------------------------------- layers


@SETTINGS
@given(seed=seeds, n=batches, fin=features, fout=features, bias=st.booleans(), xs=scales, ds=scales, ws=scales)
def test_linear_property(device, seed, n, fin, fout, bias, xs, ds, ws):
    g = gen(seed)
    ref = nn.Linear(fin, fout, bias=bias, device=device, dtype=DT)
    layer = manual.Linear(fin, fout, bias=bias, device=device, dtype=DT)
    with torch.no_grad():
        for q in ref.parameters():
            q.copy_(randn(q.shape, g, device, scale=ws))
    copy_params(layer, ref)
    x = randn((n, fin), g, device, scale=xs)
    dout = randn((n, fout), g, device, scale=ds)
    out_ref, dx_ref, grads = autograd_reference(ref, x, dout)

    close(layer(x), out_ref, magnitude=xs * ws * fin + ws)
    close(layer.backward(dout), dx_ref, magnitude=ds * ws * fout)
    close(layer.weight.grad, grads["weight"], magnitude=ds * xs * n)
    if bias:
        close(layer.bias.grad, grads["bias"], magnitude=ds * n)


ACTS = {"ReLU": (manual.ReLU, nn.ReLU), "Tanh": (manual.Tanh, nn.Tanh), "Sigmoid": (manual.Sigmoid, nn.Sigmoid)}


@pytest.mark.parametrize("name", list(ACTS))
@SETTINGS
@given(seed=seeds, shape=st.lists(st.integers(1, 6), min_size=1, max_size=3), xs=scales, ds=scales)
def test_activation_property(device, name, seed, shape, xs, ds):
    make, make_ref = ACTS[name]
    g = gen(seed)
    # ReLU's kink: keep every entry at least 1e-3 * xs away from 0
    x = away_from_zero(randn(shape, g, device, scale=xs), margin=1e-3 * xs)
    dout = randn(shape, g, device, scale=ds)
    out_ref, dx_ref, _ = autograd_reference(make_ref(), x, dout)
    layer = make()
    close(layer(x), out_ref, magnitude=xs)
    close(layer.backward(dout), dx_ref, magnitude=ds)


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
    g = gen(seed)
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
        for q in ref.parameters():
            q.copy_(randn(q.shape, g, device))
    copy_params(net, ref)

    # ReLU's input is a hidden pre-activation here; a random draw lands within
    # rounding of 0 with probability ~0, so no nudging is needed.
    x = randn((n, widths[0]), g, device, scale=xs)
    dout = randn((n, widths[-1]), g, device, scale=ds)
    out_ref, dx_ref, grads = autograd_reference(ref, x, dout)
    # weights are O(1): a layer can grow its input by up to ~width; scale the floor by that
    growth = float(max(widths)) ** (len(widths) - 1)
    close(net(x), out_ref, magnitude=xs * growth)
    close(net.backward(dout), dx_ref, magnitude=ds * growth)
    for name, p in net.named_parameters():
        close(p.grad, grads[name], magnitude=ds * max(xs, 1.0) * growth * n)


# --------------------------------------------------------------------------- losses


dlosses = st.floats(-5.0, 5.0, allow_nan=False).filter(lambda v: abs(v) > 1e-3)
shapes = st.lists(st.integers(1, 6), min_size=1, max_size=3)


@SETTINGS
@given(seed=seeds, shape=shapes, ps=scales, ts=scales, dloss=dlosses)
def test_mse_property(device, seed, shape, ps, ts, dloss):
    g = gen(seed)
    pred = randn(shape, g, device, scale=ps)
    target = randn(shape, g, device, scale=ts)
    loss_ref, dpred_ref = loss_reference(nn.MSELoss(), pred, target, dloss)
    loss_fn = manual.MSELoss()
    m = max(ps, ts)
    close(loss_fn(pred, target), loss_ref, magnitude=m * m)
    close(loss_fn.backward(dloss), dpred_ref, magnitude=m * abs(dloss))


logit_scales = st.integers(-3, 4).map(lambda k: 10.0**k)  # up to 1e4: extreme logits


@SETTINGS
@given(seed=seeds, shape=shapes, zs=logit_scales, hard=st.booleans(), dloss=dlosses)
def test_bce_property(device, seed, shape, zs, hard, dloss):
    g = gen(seed)
    logits = randn(shape, g, device, scale=zs)
    target = torch.rand(*shape, generator=g, dtype=DT).to(device)
    if hard:
        target = target.round()
    loss_ref, dpred_ref = loss_reference(nn.BCEWithLogitsLoss(), logits, target, dloss)
    loss_fn = manual.BCEWithLogitsLoss()
    loss = loss_fn(logits, target)
    dpred = loss_fn.backward(dloss)
    assert torch.isfinite(loss) and torch.isfinite(dpred).all()
    close(loss, loss_ref, magnitude=zs)
    close(dpred, dpred_ref, magnitude=abs(dloss))


@SETTINGS
@given(seed=seeds, n=batches, c=st.integers(1, 8), zs=logit_scales, dloss=dlosses)
def test_ce_property(device, seed, n, c, zs, dloss):
    g = gen(seed)
    logits = randn((n, c), g, device, scale=zs)
    target = torch.randint(0, c, (n,), generator=g).to(device)
    loss_ref, dpred_ref = loss_reference(nn.CrossEntropyLoss(), logits, target, dloss)
    loss_fn = manual.CrossEntropyLoss()
    loss = loss_fn(logits, target)
    dpred = loss_fn.backward(dloss)
    assert torch.isfinite(loss) and torch.isfinite(dpred).all()
    # logsumexp(z) - z[y] vs torch's log_softmax: both exact to a few ulps of the logits
    close(loss, loss_ref, magnitude=zs)
    close(dpred, dpred_ref, magnitude=abs(dloss) * max(1.0, zs * 1e-2))
