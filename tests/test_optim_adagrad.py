"""toolkit.optim.Adagrad against torch.optim.Adagrad, for every option.

Our step is the textbook formula (s + g*g, then lr_t * g / (sqrt(s) + eps))
where torch fuses addcmul_ and addcdiv_, so the two agree to float64
rounding, not bit for bit.
"""

from __future__ import annotations

import inspect
import itertools
import math

import pytest
import torch
from torch import nn

from toolkit import manual
from toolkit.optim import Adagrad

ROUNDING = dict(rtol=1e-12, atol=1e-12)
STEPS = 50
SHAPES = [(3, 4), (5,), (2, 2), (4,)]
# step -> indices of the parameters without a gradient in that step (parameter 1 starts late)
NONE_GRADS = {0: {1}, 1: {1}, 2: {2}, 3: {1, 2}, 17: {0}, 30: {3}}

# lr_decay, weight_decay, initial_accumulator_value, eps
COMBOS = list(itertools.product([0.0, 0.05], [0.0, 0.1], [0.0, 0.5], [1e-10, 1e-3]))


def combo_id(combo):
    lr_decay, weight_decay, initial, eps = combo
    return f"decay{lr_decay}-wd{weight_decay}-init{initial}-eps{eps:g}"


def make_params(device, seed=4):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(s, generator=g, dtype=torch.float64).to(device) for s in SHAPES]


def grads_for(step, device):
    """One step's gradients, their sizes spread over three orders of magnitude (None: no gradient)."""
    g = torch.Generator().manual_seed(500 + step)
    scales = [1.0, 10.0, 0.01, 0.3]
    return [None if i in NONE_GRADS.get(step, ()) else scale * torch.randn(s, generator=g, dtype=torch.float64).to(device)
            for i, (s, scale) in enumerate(zip(SHAPES, scales, strict=True))]


def pair(device, **kwargs):
    """Ours and torch's single-tensor Adagrad on copies of the same parameters, two groups (the second at lr/4)."""
    ours_params = make_params(device)
    their_params = [nn.Parameter(p.clone()) for p in ours_params]
    lr = kwargs.setdefault("lr", 0.1)
    ours = Adagrad([{"params": ours_params[:3]}, {"params": ours_params[3:], "lr": lr / 4}], **kwargs)
    theirs = torch.optim.Adagrad([{"params": their_params[:3]}, {"params": their_params[3:], "lr": lr / 4}],
                                 foreach=False, **kwargs)
    return ours, theirs, ours_params, their_params


def step_both(ours, theirs, ours_params, their_params, grads):
    for p, q, grad in zip(ours_params, their_params, grads, strict=True):
        p.grad = None if grad is None else grad.clone()
        q.grad = None if grad is None else grad.clone()
    ours.step()
    theirs.step()


@pytest.mark.parametrize("combo", COMBOS, ids=combo_id)
def test_adagrad_matches_torch_over_many_steps(device, combo):
    lr_decay, weight_decay, initial, eps = combo
    ours, theirs, ours_params, their_params = pair(device, lr_decay=lr_decay, weight_decay=weight_decay,
                                                   initial_accumulator_value=initial, eps=eps)
    start = [p.clone() for p in ours_params]
    for step in range(STEPS):
        step_both(ours, theirs, ours_params, their_params, grads_for(step, device))
        for p, q in zip(ours_params, their_params, strict=True):
            torch.testing.assert_close(p, q.detach(), **ROUNDING)
    for p, q, p0 in zip(ours_params, their_params, start, strict=True):
        assert not torch.equal(p, p0)
        mine, their = ours.state[p], theirs.state[q]
        assert set(mine) == set(their) == {"step", "sum"}
        assert mine["step"] == int(their["step"].item())
        torch.testing.assert_close(mine["sum"], their["sum"], **ROUNDING)
    skipped = [sum(i in none for none in NONE_GRADS.values()) for i in range(len(SHAPES))]
    assert [ours.state[p]["step"] for p in ours_params] == [STEPS - k for k in skipped]


def test_adagrad_step_is_its_formula(device):
    # Three steps by hand: s grows by g² every step, so the same gradient takes ever smaller steps.
    lr, lr_decay, eps = 0.5, 0.1, 1e-10
    theta = torch.tensor([1.0, -2.0], dtype=torch.float64, device=device)
    g = torch.tensor([0.5, 4.0], dtype=torch.float64, device=device)
    opt = Adagrad([theta], lr=lr, lr_decay=lr_decay, initial_accumulator_value=0.25, eps=eps)
    expected, s, steps = theta.clone(), torch.full_like(theta, 0.25), []
    for t in range(1, 4):
        theta.grad = g.clone()
        before = theta.clone()
        opt.step()
        s = s + g * g
        expected = expected - lr / (1 + (t - 1) * lr_decay) * g / (s.sqrt() + eps)
        torch.testing.assert_close(theta, expected, **ROUNDING)
        steps.append((before - theta).abs())
    assert (steps[1] < steps[0]).all() and (steps[2] < steps[1]).all()


def test_adagrad_defaults_and_their_order_are_torchs():
    ours = inspect.signature(Adagrad.__init__).parameters
    theirs = inspect.signature(torch.optim.Adagrad.__init__).parameters
    names = [key for key in ours if key not in ("self", "params")]
    assert names == ["lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps", "maximize"]
    assert names == [key for key in theirs if key in ours and key not in ("self", "params")]
    for key in names:
        assert ours[key].default == theirs[key].default, key


@pytest.mark.parametrize("key", ["lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps"])
@pytest.mark.parametrize("value", [-0.1, math.nan, math.inf])
def test_adagrad_invalid_settings_raise(key, value):
    with pytest.raises(ValueError, match=key):
        Adagrad([torch.zeros(2)], **{key: value})
    if value < 0:
        with pytest.raises(ValueError):
            torch.optim.Adagrad([nn.Parameter(torch.zeros(2))], **{key: value})    # torch refuses it too


def test_adagrad_state_dict_round_trips(device):
    kwargs = dict(lr=0.1, lr_decay=0.05, weight_decay=0.1, initial_accumulator_value=0.5)
    ours, theirs, ours_params, their_params = pair(device, **kwargs)
    for step in range(5):
        step_both(ours, theirs, ours_params, their_params, grads_for(step, device))
    saved = ours.state_dict()
    copies = [p.clone() for p in ours_params]
    again = Adagrad([{"params": copies[:3]}, {"params": copies[3:]}], **kwargs)
    again.load_state_dict(saved)
    assert [g["lr"] for g in again.param_groups] == [g["lr"] for g in ours.param_groups]
    for step in range(5, 12):
        grads = grads_for(step, device)
        step_both(ours, theirs, ours_params, their_params, grads)
        for p, grad in zip(copies, grads, strict=True):
            p.grad = None if grad is None else grad.clone()
        again.step()
    for p, q, r in zip(ours_params, copies, their_params, strict=True):
        torch.testing.assert_close(q, p, rtol=0, atol=0)
        torch.testing.assert_close(r.detach(), p, **ROUNDING)


def test_adagrad_under_a_torch_scheduler(device):
    ours, theirs, ours_params, their_params = pair(device, lr=0.1)
    schedules = [torch.optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.5) for opt in (ours, theirs)]
    for step in range(10):
        step_both(ours, theirs, ours_params, their_params, grads_for(step, device))
        for schedule in schedules:
            schedule.step()
        for p, q in zip(ours_params, their_params, strict=True):
            torch.testing.assert_close(p, q.detach(), **ROUNDING)
    assert ours.param_groups[0]["lr"] == theirs.param_groups[0]["lr"] == 0.1 * 0.5 ** 3


def test_adagrad_returns_the_closures_loss(device):
    params = make_params(device)

    def closure():
        for p in params:
            p.grad = torch.ones_like(p)
        return torch.tensor(2.5)

    opt = Adagrad(params)
    assert opt.step(closure).item() == 2.5
    assert opt.step() is None


def test_adagrad_trains_both_twins_in_lockstep():
    from toolkit.train import train
    from toolkit.twins import make_twins

    g = torch.Generator().manual_seed(7)
    x = torch.randn(32, 3, generator=g, dtype=torch.float64)
    y = torch.randint(0, 3, (32,), generator=g)
    twins = make_twins([3, 8, 3], "tanh", loss=manual.CrossEntropyLoss(), seed=2)
    history = train(twins, x, y, steps=30, lr=0.1, optimizer=Adagrad, quiet=True, lr_decay=0.01, weight_decay=1e-3)
    assert history.twins_agree and history.final_loss_manual < history.loss_manual[0]
    torch.testing.assert_close(history.path_manual, history.path_autograd, **ROUNDING)
