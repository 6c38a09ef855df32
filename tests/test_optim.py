"""toolkit.optim.SGD against torch.optim.SGD.

The update is the same sequence of floating-point operations as torch's
single-tensor SGD, so the parameters must agree exactly (rtol=0, atol=0),
not merely to within a tolerance.
"""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from torch import nn

from toolkit import manual
from toolkit.optim import SGD

EXACT = dict(rtol=0, atol=0)

ALL_COMBOS = list(
    itertools.product([0.0, 0.9], [0.0, 0.5], [0.0, 1e-2], [False, True])  # momentum, dampening, wd, nesterov
)


def is_valid(momentum, dampening, weight_decay, nesterov):
    return not nesterov or (momentum > 0 and dampening == 0)


VALID = [c for c in ALL_COMBOS if is_valid(*c)]
INVALID = [c for c in ALL_COMBOS if not is_valid(*c)]


def combo_id(c):
    momentum, dampening, weight_decay, nesterov = c
    return f"m{momentum}-d{dampening}-wd{weight_decay}-{'nesterov' if nesterov else 'plain'}"


SHAPES = [(3, 4), (5,), (2, 2), (4,)]
# step -> indices of the parameters whose grad is None in that step
NONE_GRADS = {0: {1}, 2: {2}, 3: {1, 2}}
N_STEPS = 6


def make_params(device, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(s, generator=g, dtype=torch.float64).to(device) for s in SHAPES]


def grads_for(step, device, seed=0):
    g = torch.Generator().manual_seed(1000 * seed + step + 1)
    return [
        None if i in NONE_GRADS.get(step, ()) else torch.randn(s, generator=g, dtype=torch.float64).to(device)
        for i, s in enumerate(SHAPES)
    ]


def groups(params, second_lr=0.05):
    # two groups: the first takes the optimiser's lr, the second its own
    return [{"params": params[:3]}, {"params": params[3:], "lr": second_lr}]


def assert_buffers_equal(ours, theirs, ours_params, their_params):
    for p, q in zip(ours_params, their_params, strict=True):
        a = ours.state[p].get("momentum_buffer") if p in ours.state else None
        b = theirs.state[q].get("momentum_buffer") if q in theirs.state else None
        if b is None:
            assert a is None
        else:
            assert a is not None
            torch.testing.assert_close(a, b, **EXACT)


def step_both(ours, theirs, ours_params, their_params, grads):
    """Give both optimisers' parameters the same gradients (None = no gradient), then step both."""
    for p, q, grad in zip(ours_params, their_params, grads, strict=True):
        p.grad = None if grad is None else grad.clone()
        q.grad = None if grad is None else grad.clone()
    ours.step()
    theirs.step()


@pytest.mark.parametrize("combo", VALID, ids=combo_id)
def test_sgd_matches_torch_exactly(device, combo):
    momentum, dampening, weight_decay, nesterov = combo
    kwargs = dict(lr=0.1, momentum=momentum, dampening=dampening, weight_decay=weight_decay, nesterov=nesterov)

    ours_params = make_params(device)  # plain tensors, like the manual network's
    their_params = [nn.Parameter(p.clone()) for p in ours_params]
    start = [p.clone() for p in ours_params]
    ours = SGD(groups(ours_params), **kwargs)
    theirs = torch.optim.SGD(groups(their_params), foreach=False, **kwargs)

    for step in range(N_STEPS):
        step_both(ours, theirs, ours_params, their_params, grads_for(step, device))
        for p, q in zip(ours_params, their_params, strict=True):
            torch.testing.assert_close(p, q.detach(), **EXACT)
        assert_buffers_equal(ours, theirs, ours_params, their_params)

    # the test is not vacuous: every parameter moved
    for p, p0 in zip(ours_params, start, strict=True):
        assert not torch.equal(p, p0)
    # a parameter whose first gradient came late has a buffer all the same
    if momentum:
        assert "momentum_buffer" in ours.state[ours_params[1]]


@pytest.mark.parametrize("combo", VALID, ids=combo_id)
def test_sgd_matches_torch_foreach(device, combo):
    # torch's multi-tensor path (its default on CUDA) is meant to give the same numbers
    momentum, dampening, weight_decay, nesterov = combo
    kwargs = dict(lr=0.1, momentum=momentum, dampening=dampening, weight_decay=weight_decay, nesterov=nesterov)
    ours_params = make_params(device, seed=1)
    their_params = [nn.Parameter(p.clone()) for p in ours_params]
    ours = SGD(groups(ours_params), **kwargs)
    theirs = torch.optim.SGD(groups(their_params), foreach=True, **kwargs)
    for step in range(N_STEPS):
        step_both(ours, theirs, ours_params, their_params, grads_for(step, device, seed=1))
    for p, q in zip(ours_params, their_params, strict=True):
        torch.testing.assert_close(p, q.detach(), **EXACT)
    assert_buffers_equal(ours, theirs, ours_params, their_params)


def test_param_groups_use_their_own_lr(device):
    # a single step with no momentum: theta - lr * g, with each group's lr
    params = make_params(device)
    start = [p.clone() for p in params]
    grads = grads_for(5, device)
    for p, grad in zip(params, grads, strict=True):
        p.grad = grad
    opt = SGD(groups(params, second_lr=0.05), lr=0.1)
    opt.step()
    for i, (p, p0, grad) in enumerate(zip(params, start, grads, strict=True)):
        lr = 0.1 if i < 3 else 0.05
        torch.testing.assert_close(p, p0 - lr * grad, rtol=1e-15, atol=1e-15)


def test_param_without_grad_does_not_move(device):
    params = make_params(device)
    start = [p.clone() for p in params]
    opt = SGD(params, lr=0.1, momentum=0.9, weight_decay=0.1)
    params[0].grad = torch.ones_like(params[0])
    opt.step()
    assert not torch.equal(params[0], start[0])
    for p, p0 in zip(params[1:], start[1:]):
        assert torch.equal(p, p0)  # weight decay alone must not move it
        assert p not in opt.state or "momentum_buffer" not in opt.state[p]


def test_step_returns_closure_value(device):
    params = make_params(device)
    calls = []

    def closure():
        calls.append(1)
        for p in params:
            p.grad = torch.ones_like(p)
        return torch.tensor(3.5)

    opt = SGD(params, lr=0.1)
    assert opt.step(closure).item() == 3.5
    assert calls == [1]
    assert opt.step() is None


# --------------------------------------------------------------------------- invalid settings


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(lr=-0.1), "lr"),
        (dict(lr=-1e-12), "lr"),
        (dict(lr=math.nan), "lr"),
        (dict(lr=math.inf), "lr"),
        (dict(lr=-math.inf), "lr"),
        (dict(lr=0.1, momentum=-0.5), "momentum"),
        (dict(lr=0.1, momentum=math.nan), "momentum"),
        (dict(lr=0.1, weight_decay=-1e-3), "weight_decay"),
        (dict(lr=0.1, dampening=math.inf), "dampening"),
        (dict(lr=0.1, nesterov=True), "nesterov"),
        (dict(lr=0.1, momentum=0.0, nesterov=True), "nesterov"),
        (dict(lr=0.1, momentum=0.9, dampening=0.5, nesterov=True), "nesterov"),
    ],
    ids=lambda v: str(v) if isinstance(v, dict) else "",
)
def test_invalid_settings_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SGD([torch.zeros(2)], **kwargs)


@pytest.mark.parametrize("combo", INVALID, ids=combo_id)
def test_invalid_combinations_raise_like_torch(combo):
    momentum, dampening, weight_decay, nesterov = combo
    kwargs = dict(lr=0.1, momentum=momentum, dampening=dampening, weight_decay=weight_decay, nesterov=nesterov)
    with pytest.raises(ValueError):
        torch.optim.SGD([nn.Parameter(torch.zeros(2))], **kwargs)  # the combination really is invalid
    with pytest.raises(ValueError, match="nesterov"):
        SGD([torch.zeros(2)], **kwargs)


def test_zero_lr_is_valid_and_does_nothing(device):
    params = make_params(device)
    start = [p.clone() for p in params]
    for p in params:
        p.grad = torch.ones_like(p)
    SGD(params, lr=0.0, momentum=0.9).step()
    for p, p0 in zip(params, start, strict=True):
        assert torch.equal(p, p0)


# --------------------------------------------------------------------------- training


def test_sgd_trains_manual_and_nn_networks_identically(device):
    torch.manual_seed(0)
    ref = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 3)).to(device)
    torch_ref = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 3)).to(device)
    net = manual.Sequential(
        manual.Linear(4, 8, device=device), manual.Tanh(),
        manual.Linear(8, 8, device=device), manual.ReLU(),
        manual.Linear(8, 3, device=device),
    )
    with torch.no_grad():
        ref_params = dict(ref.named_parameters())
        for name, p in net.named_parameters():
            p.copy_(ref_params[name])
        for q, p in zip(torch_ref.parameters(), ref.parameters(), strict=True):
            q.copy_(p)
    start = {name: p.clone() for name, p in net.named_parameters()}

    kwargs = dict(lr=0.2, momentum=0.9, weight_decay=1e-2, nesterov=True)
    opt = SGD(net.parameters(), **kwargs)
    opt_ref = SGD(ref.parameters(), **kwargs)
    opt_torch = torch.optim.SGD(torch_ref.parameters(), foreach=False, **kwargs)
    loss_fn, loss_ref = manual.CrossEntropyLoss(), nn.CrossEntropyLoss()

    g = torch.Generator().manual_seed(3)
    x = torch.randn(16, 4, generator=g, dtype=torch.float64).to(device)
    y = torch.randint(0, 3, (16,), generator=g).to(device)
    losses = []
    for _ in range(5):
        net.zero_grad()
        loss = loss_fn(net(x), y)
        net.backward(loss_fn.backward(), input_grad=False)
        opt.step()

        opt_ref.zero_grad()
        loss_r = loss_ref(ref(x), y)
        loss_r.backward()
        opt_ref.step()

        opt_torch.zero_grad()
        loss_ref(torch_ref(x), y).backward()
        opt_torch.step()

        torch.testing.assert_close(loss, loss_r.detach(), rtol=1e-10, atol=1e-12)
        for name, q in ref.named_parameters():
            # hand-written vs autograd gradients differ only by rounding
            torch.testing.assert_close(dict(net.named_parameters())[name], q.detach(), rtol=1e-10, atol=1e-12)
        for p, q in zip(ref.parameters(), torch_ref.parameters(), strict=True):
            # our SGD vs torch's on the same nn network: bit for bit
            torch.testing.assert_close(p, q, **EXACT)
        losses.append(loss.item())

    assert losses[-1] < losses[0]  # it really trained
    for name, p in net.named_parameters():
        assert not torch.equal(p, start[name])


# --------------------------------------------------------------------------- edge values


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_weight_decay_of_one_matches_torch(device, momentum):
    # 1 is an ordinary weight decay: g = grad + 1 * theta, exactly as torch computes it
    kwargs = dict(lr=0.1, momentum=momentum, weight_decay=1.0)
    ours_params = make_params(device, seed=2)
    their_params = [nn.Parameter(p.clone()) for p in ours_params]
    ours = SGD(ours_params, **kwargs)
    theirs = torch.optim.SGD(their_params, foreach=False, **kwargs)
    for step in range(3):
        step_both(ours, theirs, ours_params, their_params, grads_for(step, device, seed=2))
        for p, q in zip(ours_params, their_params, strict=True):
            torch.testing.assert_close(p, q.detach(), **EXACT)


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_without_weight_decay_the_parameter_stays_out_of_the_step(device, momentum):
    # weight_decay=0 means no decay term at all, not "+ 0 * theta": an infinite
    # entry of theta stays infinite (as in torch) instead of turning into nan
    ours_params = make_params(device, seed=3)
    with torch.no_grad():
        ours_params[0][0, 0] = math.inf
        ours_params[0][1, 2] = -math.inf
    their_params = [nn.Parameter(p.clone()) for p in ours_params]
    ours = SGD(ours_params, lr=0.1, momentum=momentum)
    theirs = torch.optim.SGD(their_params, lr=0.1, momentum=momentum, foreach=False)
    for step in range(2):
        step_both(ours, theirs, ours_params, their_params, grads_for(step, device, seed=3))
    for p, q in zip(ours_params, their_params, strict=True):
        torch.testing.assert_close(p, q.detach(), **EXACT)
    assert ours_params[0][0, 0] == math.inf and ours_params[0][1, 2] == -math.inf
    assert not ours_params[0].isnan().any()


# --------------------------------------------------------------------------- schedulers

SCHEDULERS = {
    "step": lambda opt: torch.optim.lr_scheduler.StepLR(opt, step_size=4, gamma=0.3),
    "exponential": lambda opt: torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.9),
    "cosine": lambda opt: torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=10, eta_min=1e-3),
    "linear-warmup": lambda opt: torch.optim.lr_scheduler.LinearLR(opt, start_factor=0.1, total_iters=5),
    "lambda": lambda opt: torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 1 / (1 + step)),
    # OneCycleLR also cycles the momentum, which our SGD reads from its param groups
    "one-cycle": lambda opt: torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.5, total_steps=12),
}


@pytest.mark.parametrize("name", list(SCHEDULERS))
def test_torch_schedulers_drive_our_sgd_as_they_drive_torchs(device, name):
    make = SCHEDULERS[name]
    ours_params = make_params(device)
    their_params = [nn.Parameter(p.clone()) for p in ours_params]
    ours = SGD(groups(ours_params), lr=0.1, momentum=0.9)
    theirs = torch.optim.SGD(groups(their_params), lr=0.1, momentum=0.9, foreach=False)
    ours_schedule, their_schedule = make(ours), make(theirs)
    seen = set()
    for step in range(12):
        rates = [group["lr"] for group in ours.param_groups]
        assert rates == [group["lr"] for group in theirs.param_groups]
        assert [g["momentum"] for g in ours.param_groups] == [g["momentum"] for g in theirs.param_groups]
        seen.add(tuple(rates))
        step_both(ours, theirs, ours_params, their_params, grads_for(step, device))
        ours_schedule.step()
        their_schedule.step()
        for p, q in zip(ours_params, their_params, strict=True):
            torch.testing.assert_close(p, q.detach(), **EXACT)
    assert len(seen) > 1, "the schedule never changed the learning rate"
    assert ours_schedule.get_last_lr() == their_schedule.get_last_lr()
