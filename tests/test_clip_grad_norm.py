"""toolkit.optim.clip_grad_norm_ against torch.nn.utils.clip_grad_norm_, and clipping in the training loop.

Ours computes the same numbers in the same order as torch's, so the
returned norm and the clipped gradients must be equal bit for bit.
"""

from __future__ import annotations

import math

import pytest
import torch

from toolkit import manual
from toolkit.optim import clip_grad_norm_, grad_norm
from toolkit.train import train
from toolkit.twins import make_twins

SHAPES = [(3, 4), (5,), (2,), (2, 3)]
NORM_TYPES = [2.0, 1.0, math.inf, 3.0, 0.5]


def params_with_grads(device, dtype=torch.float64, seed=0, without=(1,), scale=1.0):
    """Two copies of the same parameters and gradients (parameters in ``without`` have none)."""
    g = torch.Generator().manual_seed(seed)
    ours, theirs = [], []
    for i, shape in enumerate(SHAPES):
        p = torch.randn(shape, generator=g, dtype=torch.float64).to(device, dtype)
        grad = None if i in without else (scale * torch.randn(shape, generator=g, dtype=torch.float64)).to(device, dtype)
        a, b = p.clone(), p.clone()
        a.grad, b.grad = (None, None) if grad is None else (grad.clone(), grad.clone())
        ours.append(a)
        theirs.append(b)
    return ours, theirs


@pytest.mark.parametrize("norm_type", NORM_TYPES, ids=lambda p: f"p={p}")
@pytest.mark.parametrize("max_norm", [0.1, 2.0, 1e3])
def test_clip_grad_norm_is_torchs_bit_for_bit(device, norm_type, max_norm):
    ours, theirs = params_with_grads(device)
    total = clip_grad_norm_(ours, max_norm, norm_type)
    expected = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type)
    assert total.dim() == 0 and total.device == expected.device
    torch.testing.assert_close(total, expected, rtol=0, atol=0)
    for a, b in zip(ours, theirs, strict=True):
        assert (a.grad is None) == (b.grad is None)
        if a.grad is not None:
            torch.testing.assert_close(a.grad, b.grad, rtol=0, atol=0)


@pytest.mark.parametrize("norm_type", NORM_TYPES, ids=lambda p: f"p={p}")
def test_the_total_is_the_norm_of_all_entries_as_one_vector(norm_type):
    ours, _ = params_with_grads("cpu")
    flat = torch.cat([p.grad.reshape(-1) for p in ours if p.grad is not None])
    expected = flat.abs().max() if math.isinf(norm_type) else flat.abs().pow(norm_type).sum().pow(1 / norm_type)
    torch.testing.assert_close(clip_grad_norm_(ours, 1e9, norm_type), expected, rtol=1e-12, atol=0)


def test_a_large_gradient_is_shrunk_to_max_norm_keeping_its_direction(device):
    ours, _ = params_with_grads(device, scale=100.0)
    before = torch.cat([p.grad.reshape(-1) for p in ours if p.grad is not None])
    total = clip_grad_norm_(ours, 1.0)
    after = torch.cat([p.grad.reshape(-1) for p in ours if p.grad is not None])
    assert total.item() == pytest.approx(before.norm().item(), rel=1e-12)
    assert after.norm().item() == pytest.approx(1.0 / (1 + 1e-6 / total.item()), rel=1e-12)   # 1e-6: torch's guard
    torch.testing.assert_close(after / after.norm(), before / before.norm(), rtol=1e-12, atol=1e-15)


def test_a_small_gradient_is_left_exactly_as_it_was(device):
    # The coefficient max_norm / (total + 1e-6) is clamped at 1: clipping never scales a gradient up.
    ours, _ = params_with_grads(device, scale=1e-3)
    before = [None if p.grad is None else p.grad.clone() for p in ours]
    total = clip_grad_norm_(ours, 1.0)
    assert total.item() < 1.0 / 100
    for p, grad in zip(ours, before, strict=True):
        assert (p.grad is None and grad is None) or torch.equal(p.grad, grad)


def test_parameters_without_a_gradient_are_skipped_and_keep_none():
    ours, theirs = params_with_grads("cpu", without=(0, 2))
    total = clip_grad_norm_(ours, 0.5)
    assert ours[0].grad is None and ours[2].grad is None
    torch.testing.assert_close(total, torch.nn.utils.clip_grad_norm_(theirs, 0.5), rtol=0, atol=0)


def test_no_gradient_at_all_gives_zero_as_torch_does():
    params = [torch.zeros(3), torch.ones(2)]
    total = clip_grad_norm_(params, 1.0)
    expected = torch.nn.utils.clip_grad_norm_([torch.zeros(3), torch.ones(2)], 1.0)
    assert total.item() == expected.item() == 0.0 and total.dtype == expected.dtype
    assert all(p.grad is None for p in params)


def test_a_single_tensor_and_a_generator_are_accepted():
    ours, theirs = params_with_grads("cpu", without=())
    torch.testing.assert_close(clip_grad_norm_(ours[0], 0.3), torch.nn.utils.clip_grad_norm_(theirs[0], 0.3),
                               rtol=0, atol=0)
    torch.testing.assert_close(ours[0].grad, theirs[0].grad, rtol=0, atol=0)
    total = clip_grad_norm_((p for p in ours[1:]), 0.3)
    torch.testing.assert_close(total, torch.nn.utils.clip_grad_norm_(theirs[1:], 0.3), rtol=0, atol=0)


def test_float32(device):
    ours, theirs = params_with_grads(device, dtype=torch.float32, scale=10.0)
    torch.testing.assert_close(clip_grad_norm_(ours, 1.0), torch.nn.utils.clip_grad_norm_(theirs, 1.0),
                               rtol=0, atol=0)
    for a, b in zip(ours, theirs, strict=True):
        if a.grad is not None:
            torch.testing.assert_close(a.grad, b.grad, rtol=0, atol=0)


def test_grad_norm_of_nothing_is_zero():
    assert grad_norm([]).item() == 0.0


# --------------------------------------------------------------------------- in the training loop


def _data():
    g = torch.Generator().manual_seed(3)
    x = torch.randn(40, 3, generator=g, dtype=torch.float64)
    return x, torch.randint(0, 3, (40,), generator=g)


def test_training_records_the_gradient_norm_before_clipping():
    x, y = _data()
    plain = train(make_twins([3, 8, 3], "tanh", loss=manual.CrossEntropyLoss(), seed=1), x, y,
                  steps=6, lr=0.5, quiet=True)
    twins = make_twins([3, 8, 3], "tanh", loss=manual.CrossEntropyLoss(), seed=1)
    clipped = train(twins, x, y, steps=6, lr=0.5, quiet=True, max_grad_norm=0.05)
    assert len(plain.grad_norms) == len(clipped.grad_norms) == 6
    assert plain.grad_norms[0] == clipped.grad_norms[0] > 0.05        # the same start, and clipping is needed
    assert clipped.twins_agree and clipped.max_abs_grad_diff <= 1e-12
    torch.testing.assert_close(clipped.path_manual, clipped.path_autograd, rtol=1e-12, atol=1e-14)
    # every clipped step has length lr * max_norm (to the 1e-6 guard), shorter than the plain first step
    steps = (clipped.path_manual[1:] - clipped.path_manual[:-1]).norm(dim=1)
    for length, norm in zip(steps.tolist(), clipped.grad_norms, strict=True):
        assert length == pytest.approx(0.5 * min(norm, 0.05 / (1 + 1e-6 / norm)), rel=1e-9)
    assert (plain.path_manual[1] - plain.path_manual[0]).norm() > steps[0]


def test_clipping_with_a_large_max_norm_changes_nothing():
    x, y = _data()
    plain = train(make_twins([3, 8, 3], "tanh", loss=manual.CrossEntropyLoss(), seed=1), x, y,
                  steps=5, lr=0.5, quiet=True)
    loose = train(make_twins([3, 8, 3], "tanh", loss=manual.CrossEntropyLoss(), seed=1), x, y,
                  steps=5, lr=0.5, quiet=True, max_grad_norm=1e6)
    assert torch.equal(plain.path_manual, loose.path_manual)


@pytest.mark.parametrize("bad", [0, -1.0, math.nan, True, "1"])
def test_a_bad_max_grad_norm_is_refused(bad):
    x, y = _data()
    with pytest.raises(ValueError, match="max_grad_norm"):
        train(make_twins([3, 4, 3], "tanh", loss=manual.CrossEntropyLoss()), x, y, steps=2, lr=0.1,
              quiet=True, max_grad_norm=bad)
