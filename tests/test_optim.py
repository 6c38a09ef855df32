"""toolkit.optim.SGD against torch.optim.SGD.

The update is the same sequence of floating-point operations as torch's
single-tensor SGD, so the parameters must agree exactly (rtol=0, atol=0),
not merely to within a tolerance.
"""

from __future__ import annotations

import copy
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


# --------------------------------------------------------------------------- RMSprop, Adam, AdamW
#
# These are written as their textbook formulas (beta * m + (1 - beta) * g rather
# than torch's fused lerp_ and addcmul_), so they agree with torch to float64
# rounding rather than bit for bit: over 50 steps the parameters (of size about
# 1 to 10) differ by a few units in the 16th digit.

from toolkit.optim import Adam, AdamW, RMSprop  # noqa: E402

ROUNDING = dict(rtol=1e-12, atol=1e-12)
ADAPTIVE_STEPS = 50
# step -> indices of the parameters whose grad is None in that step (parameter 1 starts late)
ADAPTIVE_NONE_GRADS = {0: {1}, 1: {1}, 2: {2}, 3: {1, 2}, 17: {0}, 30: {3}}

RMSPROP_COMBOS = list(itertools.product([0.0, 0.9], [False, True], [0.0, 0.1]))   # momentum, centered, wd
ADAM_COMBOS = list(itertools.product([False, True], [0.0, 0.1]))                   # amsgrad, wd

ADAPTIVE = {
    "RMSprop": (RMSprop, torch.optim.RMSprop),
    "Adam": (Adam, torch.optim.Adam),
    "AdamW": (AdamW, torch.optim.AdamW),
}
ADAPTIVE_CASES = (
    [("RMSprop", dict(lr=0.01, momentum=m, centered=c, weight_decay=wd)) for m, c, wd in RMSPROP_COMBOS]
    + [(name, dict(lr=0.05, amsgrad=a, weight_decay=wd)) for name in ("Adam", "AdamW") for a, wd in ADAM_COMBOS]
)


def adaptive_id(case):
    name, kwargs = case
    return name + "-" + "-".join(f"{key}={value}" for key, value in kwargs.items() if key != "lr")


def adaptive_grads(step, device):
    """Gradients for one step, their sizes spread over three orders of magnitude (as in a real network)."""
    g = torch.Generator().manual_seed(500 + step)
    scales = [1.0, 10.0, 0.01, 0.3]
    skipped = ADAPTIVE_NONE_GRADS.get(step, ())
    return [
        None if i in skipped else scale * torch.randn(s, generator=g, dtype=torch.float64).to(device)
        for i, (s, scale) in enumerate(zip(SHAPES, scales, strict=True))
    ]


def adaptive_pair(name, kwargs, device, seed=4):
    """Our optimiser and torch's (single-tensor path), two parameter groups with different lr."""
    ours_cls, their_cls = ADAPTIVE[name]
    ours_params = make_params(device, seed=seed)
    their_params = [nn.Parameter(p.clone()) for p in ours_params]
    second = {"lr": kwargs["lr"] / 4}
    ours = ours_cls([{"params": ours_params[:3]}, {"params": ours_params[3:], **second}], **kwargs)
    theirs = their_cls([{"params": their_params[:3]}, {"params": their_params[3:], **second}],
                       foreach=False, **kwargs)
    return ours, theirs, ours_params, their_params


def assert_states_close(ours, theirs, ours_params, their_params):
    """The same state entries under torch's names, with the same values (and the same step count)."""
    for p, q in zip(ours_params, their_params, strict=True):
        mine, their = ours.state.get(p, {}), theirs.state.get(q, {})
        assert set(mine) == set(their)
        for key, value in their.items():
            if key == "step":
                assert mine[key] == int(value.item())
            else:
                torch.testing.assert_close(mine[key], value, **ROUNDING)


@pytest.mark.parametrize("case", ADAPTIVE_CASES, ids=adaptive_id)
def test_adaptive_optimisers_match_torch_over_many_steps(device, case):
    name, kwargs = case
    ours, theirs, ours_params, their_params = adaptive_pair(name, kwargs, device)
    start = [p.clone() for p in ours_params]
    for step in range(ADAPTIVE_STEPS):
        step_both(ours, theirs, ours_params, their_params, adaptive_grads(step, device))
        for p, q in zip(ours_params, their_params, strict=True):
            torch.testing.assert_close(p, q.detach(), **ROUNDING)
    assert_states_close(ours, theirs, ours_params, their_params)
    # every parameter moved, and the ones that skipped steps counted only the steps they took
    for p, p0 in zip(ours_params, start, strict=True):
        assert not torch.equal(p, p0)
    skipped = [sum(i in none for none in ADAPTIVE_NONE_GRADS.values()) for i in range(len(SHAPES))]
    assert [ours.state[p]["step"] for p in ours_params] == [ADAPTIVE_STEPS - k for k in skipped]


@pytest.mark.parametrize("name", ["Adam", "AdamW", "RMSprop"])
def test_adaptive_defaults_are_torchs(name):
    import inspect

    ours_cls, their_cls = ADAPTIVE[name]
    ours = inspect.signature(ours_cls.__init__).parameters
    theirs = inspect.signature(their_cls.__init__).parameters
    for key, parameter in ours.items():
        if key not in ("self", "params"):
            assert parameter.default == theirs[key].default, key
    assert list(ours)[2:] == [key for key in theirs if key in ours][2:]       # the same order too


def test_adam_first_step_is_lr_times_the_sign_of_the_gradient(device):
    # m_hat = g and v_hat = g**2 after one step, so the step is lr * g / (|g| + eps): lr * sign(g),
    # short of it by lr * eps / (|g| + eps), whatever the size of g (here over four orders of magnitude)
    lr, eps = 0.1, 1e-8
    params = make_params(device)
    start = [p.clone() for p in params]
    grads = adaptive_grads(5, device)
    for p, grad in zip(params, grads, strict=True):
        p.grad = grad
    Adam(params, lr=lr, eps=eps).step()
    for p, p0, grad in zip(params, start, grads, strict=True):
        torch.testing.assert_close(p0 - p, lr * grad / (grad.abs() + eps), **ROUNDING)
        assert ((p0 - p - lr * grad.sign()).abs() <= lr * eps / grad.abs() * (1 + 1e-6)).all()


@pytest.mark.parametrize("amsgrad", [False, True])
def test_adamw_decay_is_decoupled(device, amsgrad):
    # Every optimiser gets the same gradients, whatever its parameters. Then plain Adam and AdamW
    # keep the same moments, and at every step AdamW's new theta is theta * (1 - lr * wd) minus
    # the very step plain Adam takes; Adam with the same weight_decay (L2 in the gradient) does not.
    wd, lr = 0.5, 0.05
    start = make_params(device, seed=5)
    plain, adamw, adam_l2 = ([p.clone() for p in start] for _ in range(3))
    optimisers = (Adam(plain, lr=lr, amsgrad=amsgrad), AdamW(adamw, lr=lr, weight_decay=wd, amsgrad=amsgrad),
                  Adam(adam_l2, lr=lr, weight_decay=wd, amsgrad=amsgrad))
    for step in range(ADAPTIVE_STEPS):
        grads = adaptive_grads(step, device)
        plain_before, adamw_before = [p.clone() for p in plain], [p.clone() for p in adamw]
        for group in (plain, adamw, adam_l2):
            for p, grad in zip(group, grads, strict=True):
                p.grad = None if grad is None else grad.clone()
        for opt in optimisers:
            opt.step()
        for p0, p, q0, q, grad in zip(plain_before, plain, adamw_before, adamw, grads, strict=True):
            if grad is None:
                torch.testing.assert_close(q, q0, rtol=0, atol=0)     # no gradient: no decay either
            else:
                adam_step = p0 - p
                torch.testing.assert_close(q, q0 * (1 - lr * wd) - adam_step, **ROUNDING)
    for p, q, r in zip(plain, adamw, adam_l2, strict=True):
        for key in ("exp_avg", "exp_avg_sq"):
            torch.testing.assert_close(optimisers[1].state[q][key], optimisers[0].state[p][key], **ROUNDING)
            assert not torch.allclose(optimisers[2].state[r][key], optimisers[0].state[p][key])
        assert (r - q).abs().max() > 1e-2        # L2 inside Adam ends somewhere else


def test_adam_and_adamw_without_decay_are_the_same(device):
    ours, _, ours_params, _ = adaptive_pair("Adam", dict(lr=0.05), device)
    other, _, other_params, _ = adaptive_pair("AdamW", dict(lr=0.05, weight_decay=0.0), device)
    for step in range(10):
        step_both(ours, other, ours_params, other_params, adaptive_grads(step, device))
    for p, q in zip(ours_params, other_params, strict=True):
        torch.testing.assert_close(p, q, rtol=0, atol=0)


@pytest.mark.parametrize(
    "cls,kwargs,match",
    [
        (RMSprop, dict(lr=-0.1), "lr"),
        (RMSprop, dict(lr=math.nan), "lr"),
        (RMSprop, dict(eps=-1e-8), "eps"),
        (RMSprop, dict(alpha=-0.5), "alpha"),
        (RMSprop, dict(momentum=-0.1), "momentum"),
        (RMSprop, dict(weight_decay=-1e-3), "weight_decay"),
        (Adam, dict(lr=-1e-3), "lr"),
        (Adam, dict(lr=math.inf), "lr"),
        (Adam, dict(eps=-1e-8), "eps"),
        (Adam, dict(betas=(1.0, 0.999)), "betas"),
        (Adam, dict(betas=(0.9, 1.0)), "betas"),
        (Adam, dict(betas=(-0.1, 0.999)), "betas"),
        (Adam, dict(betas=(0.9, -0.5)), "betas"),
        (Adam, dict(betas=(0.9,)), "betas"),
        (Adam, dict(weight_decay=-0.1), "weight_decay"),
        (AdamW, dict(lr=-1e-3), "lr"),
        (AdamW, dict(eps=-1.0), "eps"),
        (AdamW, dict(betas=(0.9, 1.5)), "betas"),
        (AdamW, dict(weight_decay=-1e-2), "weight_decay"),
    ],
    ids=lambda v: v.__name__ if isinstance(v, type) else (str(v) if isinstance(v, dict) else ""),
)
def test_adaptive_invalid_settings_raise_like_torch(cls, kwargs, match):
    with pytest.raises(ValueError, match=match):
        cls([torch.zeros(2)], **kwargs)
    if not (kwargs.get("betas") == (0.9,) or any(isinstance(v, float) and not math.isfinite(v)
                                                 for v in kwargs.values())):
        their_cls = getattr(torch.optim, cls.__name__)
        with pytest.raises(ValueError):
            their_cls([nn.Parameter(torch.zeros(2))], **kwargs)   # torch refuses it too


@pytest.mark.parametrize("name", ["RMSprop", "Adam", "AdamW"])
def test_adaptive_state_dict_round_trips(device, name):
    kwargs = {"RMSprop": dict(lr=0.01, momentum=0.9, centered=True, weight_decay=0.1),
              "Adam": dict(lr=0.05, amsgrad=True, weight_decay=0.1),
              "AdamW": dict(lr=0.05, amsgrad=True, weight_decay=0.1)}[name]
    ours, theirs, ours_params, their_params = adaptive_pair(name, kwargs, device)
    for step in range(5):
        step_both(ours, theirs, ours_params, their_params, adaptive_grads(step, device))
    # Saved and loaded into fresh optimisers, ours and torch's, on copies of the parameters:
    # all three go on as if nothing had happened.
    saved = ours.state_dict()
    copies = [p.clone() for p in ours_params]
    their_copies = [nn.Parameter(p.clone()) for p in ours_params]
    ours_cls, their_cls = ADAPTIVE[name]
    again = ours_cls([{"params": copies[:3]}, {"params": copies[3:]}], **kwargs)
    again.load_state_dict(saved)
    torch_again = their_cls([{"params": their_copies[:3]}, {"params": their_copies[3:]}], foreach=False, **kwargs)
    torch_again.load_state_dict(saved)
    assert [g["lr"] for g in again.param_groups] == [g["lr"] for g in ours.param_groups]
    for step in range(5, 12):
        grads = adaptive_grads(step, device)
        step_both(ours, theirs, ours_params, their_params, grads)
        step_both(again, torch_again, copies, their_copies, grads)
    for p, q, r in zip(ours_params, copies, their_copies, strict=True):
        torch.testing.assert_close(q, p, rtol=0, atol=0)
        torch.testing.assert_close(r.detach(), p, **ROUNDING)


@pytest.mark.parametrize("name", ["RMSprop", "Adam", "AdamW"])
@pytest.mark.parametrize("schedule", ["step", "cosine", "linear-warmup"])
def test_torch_schedulers_drive_the_adaptive_optimisers(device, name, schedule):
    kwargs = {"RMSprop": dict(lr=0.01, momentum=0.5), "Adam": dict(lr=0.05), "AdamW": dict(lr=0.05)}[name]
    ours, theirs, ours_params, their_params = adaptive_pair(name, kwargs, device)
    ours_schedule, their_schedule = SCHEDULERS[schedule](ours), SCHEDULERS[schedule](theirs)
    seen = set()
    for step in range(12):
        rates = [group["lr"] for group in ours.param_groups]
        assert rates == [group["lr"] for group in theirs.param_groups]
        seen.add(tuple(rates))
        step_both(ours, theirs, ours_params, their_params, adaptive_grads(step, device))
        ours_schedule.step()
        their_schedule.step()
        for p, q in zip(ours_params, their_params, strict=True):
            torch.testing.assert_close(p, q.detach(), **ROUNDING)
    assert len(seen) > 1, "the schedule never changed the learning rate"


@pytest.mark.parametrize("name", ["RMSprop", "Adam", "AdamW"])
def test_adaptive_optimisers_train_both_twins_in_lockstep(name):
    from toolkit.train import train
    from toolkit.twins import make_twins

    g = torch.Generator().manual_seed(7)
    x = torch.randn(32, 3, generator=g, dtype=torch.float64)
    y = torch.randint(0, 3, (32,), generator=g)
    twins = make_twins([3, 8, 3], "tanh", loss=manual.CrossEntropyLoss(), seed=2)
    options = {"RMSprop": dict(momentum=0.5), "Adam": dict(betas=(0.8, 0.99)), "AdamW": dict(weight_decay=0.1)}[name]
    history = train(twins, x, y, steps=30, lr=0.01, optimizer=ADAPTIVE[name][0], quiet=True, **options)
    assert history.twins_agree and history.final_loss_manual < history.loss_manual[0]
    torch.testing.assert_close(history.path_manual, history.path_autograd, **ROUNDING)


@pytest.mark.parametrize("name", ["RMSprop", "Adam", "AdamW"])
def test_adaptive_step_returns_closure_value(device, name):
    params = make_params(device)

    def closure():
        for p in params:
            p.grad = torch.ones_like(p)
        return torch.tensor(3.5)

    opt = ADAPTIVE[name][0](params, lr=0.1)
    assert opt.step(closure).item() == 3.5
    assert opt.step() is None


@pytest.mark.parametrize("name", ["RMSprop", "Adam", "AdamW"])
def test_adaptive_weight_decay_of_one_matches_torch(device, name):
    # 1 is an ordinary weight decay, not a special value that switches the decay off
    ours, theirs, ours_params, their_params = adaptive_pair(name, dict(lr=0.05, weight_decay=1.0), device)
    for step in range(5):
        step_both(ours, theirs, ours_params, their_params, adaptive_grads(step, device))
        for p, q in zip(ours_params, their_params, strict=True):
            torch.testing.assert_close(p, q.detach(), **ROUNDING)


@pytest.mark.parametrize("name", ["RMSprop", "Adam"])
def test_adaptive_without_weight_decay_the_parameter_stays_out_of_the_step(device, name):
    # as for SGD: weight_decay=0 adds no "0 * theta", so an infinite entry stays infinite, not nan
    ours, theirs, ours_params, their_params = adaptive_pair(name, dict(lr=0.05), device)
    with torch.no_grad():
        for params in (ours_params, their_params):
            params[0][0, 0] = math.inf
    for step in range(2):
        step_both(ours, theirs, ours_params, their_params, adaptive_grads(step, device))
    assert ours_params[0][0, 0] == math.inf and their_params[0][0, 0] == math.inf
    assert not ours_params[0].isnan().any()


# --------------------------------------------------------------------------- torch's options, torch's state


from toolkit.optim import Adagrad  # noqa: E402

WITH_STATE = {"Adagrad": (Adagrad, torch.optim.Adagrad), **ADAPTIVE}      # the optimisers that count their steps
OURS_AND_TORCHS = {"SGD": (SGD, torch.optim.SGD), **WITH_STATE}
PARITY_OPTIONS = {"SGD": dict(momentum=0.9, weight_decay=0.1), "Adagrad": dict(lr_decay=0.01, weight_decay=0.1),
                  "RMSprop": dict(momentum=0.5, centered=True), "Adam": dict(amsgrad=True, weight_decay=0.1),
                  "AdamW": dict(weight_decay=0.1)}


@pytest.mark.parametrize("lr_kind", ["number", "tensor", "one-element tensor"])
@pytest.mark.parametrize("name", list(OURS_AND_TORCHS))
def test_maximize_and_a_tensor_lr_as_torch_takes_them(device, name, lr_kind):
    # maximize=True climbs (g = -grad before everything else); lr may be a one-element tensor, which a
    # scheduler changes in place. Both are matched against torch's own optimiser, step by step.
    ours_cls, their_cls = OURS_AND_TORCHS[name]
    rate = {"number": lambda: 0.02, "tensor": lambda: torch.tensor(0.02, dtype=torch.float64),
            "one-element tensor": lambda: torch.tensor([0.02], dtype=torch.float32)}[lr_kind]
    ours_params = make_params(device, seed=6)
    their_params = [nn.Parameter(p.clone()) for p in ours_params]
    options = dict(PARITY_OPTIONS[name], maximize=True)
    ours = ours_cls(ours_params, lr=rate(), **options)
    theirs = their_cls(their_params, lr=rate(), foreach=False, **options)
    schedules = [torch.optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.5) for opt in (ours, theirs)]
    start = [p.clone() for p in ours_params]
    tolerance = EXACT if name == "SGD" else ROUNDING
    for step in range(8):
        step_both(ours, theirs, ours_params, their_params, adaptive_grads(step, device))
        for schedule in schedules:
            schedule.step()
        for p, q in zip(ours_params, their_params, strict=True):
            torch.testing.assert_close(p, q.detach(), **tolerance)
    rates = [group["lr"] for group in (ours.param_groups[0], theirs.param_groups[0])]
    assert float(rates[0]) == float(rates[1]) < 0.02                  # the scheduler reached both
    assert torch.is_tensor(rates[0]) == (lr_kind != "number")        # in place, when it is a tensor
    # maximize climbs: the first step moves every parameter along its gradient, not against it
    climbing = [p0.clone() for p0 in start]
    grads = adaptive_grads(0, device)
    for p, grad in zip(climbing, grads, strict=True):
        p.grad = grad
    ours_cls(climbing, lr=0.02, maximize=True, **PARITY_OPTIONS[name]).step()
    for p, p0, grad in zip(climbing, start, grads, strict=True):
        assert grad is None or float(((p - p0) * grad).sum()) > 0


@pytest.mark.parametrize("name", list(OURS_AND_TORCHS))
def test_a_tensor_lr_must_hold_one_number(name):
    ours_cls, their_cls = OURS_AND_TORCHS[name]
    with pytest.raises(ValueError, match="one floating-point number"):
        ours_cls([torch.zeros(2)], lr=torch.tensor([0.1, 0.2]))
    with pytest.raises(ValueError):
        their_cls([nn.Parameter(torch.zeros(2))], lr=torch.tensor([0.1, 0.2]))     # torch refuses it too
    with pytest.raises(ValueError, match="lr must be a finite number >= 0"):
        ours_cls([torch.zeros(2)], lr=torch.tensor(-0.1))


@pytest.mark.parametrize("name", list(WITH_STATE))
def test_complex_parameters_are_refused_in_one_line(name):
    # torch steps a complex parameter as two real ones; ours would square a complex gradient instead
    # (after 5 steps 0.5 to 1.9 away from torch), so they are refused when the optimiser is made
    ours_cls, _ = WITH_STATE[name]
    with pytest.raises(ValueError, match=f"^{name}: complex parameters are not supported") as refused:
        ours_cls([torch.zeros(2, dtype=torch.complex128)], lr=0.1)
    assert "\n" not in str(refused.value)
    opt = ours_cls([torch.zeros(2)], lr=0.1)
    with pytest.raises(ValueError, match="complex parameters"):
        opt.add_param_group({"params": [torch.zeros(2, dtype=torch.complex64)]})


@pytest.mark.parametrize("name", list(OURS_AND_TORCHS))
def test_parameters_that_are_not_floating_point_are_refused(name):
    with pytest.raises(ValueError, match="must be floating-point tensors, got torch.int64"):
        OURS_AND_TORCHS[name][0]([torch.zeros(2, dtype=torch.int64)], lr=0.1)


def test_sgd_steps_complex_parameters_as_torch_does(device):
    g = torch.Generator().manual_seed(8)
    ours_params = [torch.randn(3, 2, generator=g, dtype=torch.complex128).to(device)]
    their_params = [nn.Parameter(ours_params[0].clone())]
    ours = SGD(ours_params, lr=0.1, momentum=0.9, weight_decay=0.1, nesterov=True)
    theirs = torch.optim.SGD(their_params, lr=0.1, momentum=0.9, weight_decay=0.1, nesterov=True, foreach=False)
    for _ in range(5):
        grad = torch.randn(3, 2, generator=g, dtype=torch.complex128).to(device)
        step_both(ours, theirs, ours_params, their_params, [grad])
    torch.testing.assert_close(ours_params[0], their_params[0].detach(), **EXACT)


@pytest.mark.parametrize("name", list(WITH_STATE))
def test_a_state_from_torchs_optimiser_resumes_as_torch_does(device, name):
    # torch keeps the step count as a float32 tensor (float64 only under a float64 default dtype); bias
    # corrections 1 - beta**t computed from it in float32 left Adam 3e-5 away from torch after 50 steps
    # (Adagrad's decayed rate lr / (1 + (t - 1) lr_decay) likewise). Ours counts on in a Python number,
    # as torch's own step does with .item().
    ours_cls, their_cls = WITH_STATE[name]
    options = {"Adagrad": dict(lr_decay=0.01)}.get(name, {})
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float32)      # what a user has: torch's step counters are float32
    try:
        their_params = [nn.Parameter(p) for p in make_params(device, seed=9)]
        first = their_cls(their_params, lr=0.05, foreach=False, **options)
        for step in range(10):
            for q, grad in zip(their_params, adaptive_grads(step, device), strict=True):
                q.grad = grad
            first.step()
        saved = copy.deepcopy(first.state_dict())          # as torch.save and torch.load would give it
        assert saved["state"][0]["step"].dtype == torch.float32
        ours_params = [q.detach().clone() for q in their_params]
        ours = ours_cls(ours_params, lr=0.05, **options)
        ours.load_state_dict(copy.deepcopy(saved))
        theirs = their_cls(their_params, lr=0.05, foreach=False, **options)
        theirs.load_state_dict(copy.deepcopy(saved))
        for step in range(10, 60):
            step_both(ours, theirs, ours_params, their_params, adaptive_grads(step, device))
        for p, q in zip(ours_params, their_params, strict=True):
            torch.testing.assert_close(p, q.detach(), **ROUNDING)
        assert ours.state[ours_params[0]]["step"] == int(theirs.state[their_params[0]]["step"]) > 50
        assert saved["state"][0]["step"] == 10           # the loaded state dict was not counted on in place
    finally:
        torch.set_default_dtype(previous)
