"""Hand-written losses against torch.nn and autograd.

Forward values and dL/dpred are compared in float64 with a random upstream
gradient ``dloss`` (given both as a Python float and as a 0-d tensor).
"""

from __future__ import annotations

import math
import re

import pytest
import torch
from torch import nn

from helpers import ATOL, RTOL, close, gen, loss_reference, randn
from toolkit import manual


def random_dloss(g, device, as_tensor):
    # a random upstream scalar, well away from 1 (and sometimes negative)
    value = float(torch.empty(()).uniform_(-3.0, 3.0, generator=g))
    value = value if abs(value) > 0.1 else value + 0.5
    return torch.tensor(value, device=device) if as_tensor else value


def check_against_torch(manual_loss, torch_loss, pred, target, dloss, rtol=RTOL, atol=ATOL):
    loss_ref, dpred_ref = loss_reference(torch_loss, pred, target, dloss)
    loss = manual_loss(pred, target)
    assert loss.dim() == 0
    close(loss, loss_ref, rtol=rtol, atol=atol)
    dpred = manual_loss.backward(dloss)
    assert dpred.shape == pred.shape
    close(dpred, dpred_ref, rtol=rtol, atol=atol)
    return loss, dpred


ELEMENTWISE_SHAPES = [(1,), (1, 1), (6,), (1, 4), (5, 3), (2, 3, 4)]
CE_SHAPES = [(1, 1), (1, 5), (7, 2), (8, 3), (16, 10)]


# --------------------------------------------------------------------------- MSE


@pytest.mark.parametrize("as_tensor", [False, True])
@pytest.mark.parametrize("shape", ELEMENTWISE_SHAPES, ids=str)
def test_mse_matches_torch(device, shape, as_tensor):
    g = gen(sum(shape) * 7 + len(shape))
    pred, target = randn(shape, g, device, scale=2.0), randn(shape, g, device)
    dloss = random_dloss(g, device, as_tensor)
    check_against_torch(manual.MSELoss(), nn.MSELoss(), pred, target, dloss)


def test_mse_default_dloss_is_one(device):
    g = gen(1)
    pred, target = randn((4, 3), g, device), randn((4, 3), g, device)
    check_against_torch(manual.MSELoss(), nn.MSELoss(), pred, target, 1.0)
    loss_fn = manual.MSELoss()
    loss_fn(pred, target)
    close(loss_fn.backward(), loss_reference(nn.MSELoss(), pred, target, 1.0)[1])


# --------------------------------------------------------------------------- BCE with logits


@pytest.mark.parametrize("soft", [False, True])
@pytest.mark.parametrize("as_tensor", [False, True])
@pytest.mark.parametrize("shape", ELEMENTWISE_SHAPES, ids=str)
def test_bce_matches_torch(device, shape, as_tensor, soft):
    g = gen(sum(shape) * 11 + len(shape) + soft)
    logits = randn(shape, g, device, scale=3.0)
    target = torch.rand(shape, generator=g, dtype=torch.float64).to(device)
    if not soft:
        target = (target > 0.5).to(torch.float64)
    dloss = random_dloss(g, device, as_tensor)
    check_against_torch(manual.BCEWithLogitsLoss(), nn.BCEWithLogitsLoss(), logits, target, dloss)


def test_bce_stable_for_huge_logits(device):
    logits = torch.tensor([[5000.0, -5000.0, 5000.0, -5000.0, 3000.0, -4000.0, 0.0, 750.0]], device=device)
    target = torch.tensor([[1.0, 0.0, 0.0, 1.0, 0.3, 0.7, 1.0, 0.5]], device=device)
    dloss = 1.7
    loss, dpred = check_against_torch(manual.BCEWithLogitsLoss(), nn.BCEWithLogitsLoss(), logits, target, dloss)
    assert torch.isfinite(loss) and torch.isfinite(dpred).all()
    # by hand: per-item losses 0, 0, 5000, 5000, 2100, 2800, log 2, 375
    expected = (5000 + 5000 + 2100 + 2800 + math.log(2) + 375) / 8
    close(loss, torch.tensor(expected, device=device))


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_bce_huge_logits_all_confident(device, sign):
    # correct and confident everywhere: the loss is exactly zero, not nan
    logits = sign * torch.full((3, 4), 5000.0, device=device)
    target = torch.full((3, 4), 1.0 if sign > 0 else 0.0, device=device)
    loss, dpred = check_against_torch(manual.BCEWithLogitsLoss(), nn.BCEWithLogitsLoss(), logits, target, -0.8)
    assert loss.item() == 0.0
    assert torch.isfinite(dpred).all()


# --------------------------------------------------------------------------- cross-entropy


@pytest.mark.parametrize("as_tensor", [False, True])
@pytest.mark.parametrize("n,c", CE_SHAPES)
def test_ce_matches_torch(device, n, c, as_tensor):
    g = gen(n * 100 + c)
    logits = randn((n, c), g, device, scale=2.5)
    target = torch.randint(0, c, (n,), generator=g).to(device)
    dloss = random_dloss(g, device, as_tensor)
    check_against_torch(manual.CrossEntropyLoss(), nn.CrossEntropyLoss(), logits, target, dloss)


def test_ce_every_class_as_target(device):
    # the one-hot subtraction must land in the right column for every class
    g = gen(3)
    c = 6
    logits = randn((c, c), g, device)
    target = torch.arange(c, device=device).flip(0)
    check_against_torch(manual.CrossEntropyLoss(), nn.CrossEntropyLoss(), logits, target, 0.37)


def test_ce_repeated_targets(device):
    g = gen(4)
    logits = randn((5, 3), g, device)
    target = torch.tensor([2, 2, 2, 0, 2], device=device)
    check_against_torch(manual.CrossEntropyLoss(), nn.CrossEntropyLoss(), logits, target, -1.3)


@pytest.mark.parametrize("n,c", [(1, 3), (6, 4), (12, 10)])
def test_ce_stable_for_huge_logits(device, n, c):
    g = gen(n + c)
    logits = randn((n, c), g, device, scale=1e4)
    target = torch.randint(0, c, (n,), generator=g).to(device)
    # |loss| ~ 1e4, so a few ulps of the logits are ~1e-12 absolute
    loss, dpred = check_against_torch(
        manual.CrossEntropyLoss(), nn.CrossEntropyLoss(), logits, target, 0.9, atol=1e-14 * 1e4 * 10
    )
    assert torch.isfinite(loss) and torch.isfinite(dpred).all()


def test_ce_huge_equal_logits(device):
    # a plain softmax would compute exp(1e4) = inf and return nan
    logits = torch.full((3, 4), 1e4, device=device)
    logits[1] = -1e4
    target = torch.tensor([0, 3, 1], device=device)
    loss, dpred = check_against_torch(manual.CrossEntropyLoss(), nn.CrossEntropyLoss(), logits, target, 2.0)
    close(loss, torch.tensor(math.log(4), device=device))
    assert torch.isfinite(dpred).all()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("offset", [0.0, 1e5, 1e8, 1e17, 1e300])
def test_ce_is_shift_invariant_for_any_offset(device, dtype, offset):
    # Adding the same number to every logit of a row changes nothing: not the
    # loss, not the gradient (whose rows sum to 0). The inputs are rounded to
    # the dtype first, so torch and we see the same numbers.
    if offset > torch.finfo(dtype).max:
        pytest.skip(f"{offset:g} is not a finite {dtype}")
    base = torch.tensor([[0.25, -1.5, 2.0], [0.0, 0.0, 0.0], [3.0, 3.0, -4.0]], dtype=torch.float64)
    logits = (base + offset).to(device=device, dtype=dtype)
    target = torch.tensor([2, 1, 0], device=device)
    tolerance = dict(rtol=1e-5, atol=1e-6) if dtype == torch.float32 else dict(rtol=1e-12, atol=1e-14)
    loss, dpred = check_against_torch(manual.CrossEntropyLoss(), nn.CrossEntropyLoss(), logits, target, 1.0,
                                      **tolerance)
    assert torch.isfinite(loss) and loss > 0
    torch.testing.assert_close(dpred.sum(dim=1), torch.zeros(3, device=device, dtype=dtype), rtol=0, atol=1e-6)
    equal_row = torch.full((1, 3), offset, device=device, dtype=dtype)     # three equal logits: ln 3
    loss_fn = manual.CrossEntropyLoss()
    torch.testing.assert_close(loss_fn(equal_row, target[:1]).item(), math.log(3), rtol=1e-6, atol=0)


# --------------------------------------------------------------------------- dtype, device, order


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_loss_dtype_and_device_follow_inputs(device, dtype):
    g = gen(5)
    x = randn((4, 3), g, device, dtype=dtype)
    y = torch.rand(4, 3, generator=g).to(device=device, dtype=dtype)
    cls = torch.tensor([0, 2, 1, 2], device=device)
    for loss_fn, target in [
        (manual.MSELoss(), y),
        (manual.BCEWithLogitsLoss(), y),
        (manual.CrossEntropyLoss(), cls),
    ]:
        loss = loss_fn(x, target)
        dpred = loss_fn.backward(0.5)
        assert loss.dtype == dpred.dtype == dtype
        assert loss.device.type == dpred.device.type == device


@pytest.mark.parametrize("make", [manual.MSELoss, manual.BCEWithLogitsLoss, manual.CrossEntropyLoss])
def test_loss_backward_before_forward_raises(make):
    with pytest.raises(RuntimeError, match="before backward"):
        make().backward()


def test_backward_uses_the_latest_call(device):
    g = gen(6)
    loss_fn = manual.MSELoss()
    a, b = randn((3, 2), g, device), randn((3, 2), g, device)
    loss_fn(a, b)
    loss_fn(b, a)
    close(loss_fn.backward(0.7), loss_reference(nn.MSELoss(), b, a, 0.7)[1])


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "make,name", [(manual.MSELoss, "MSELoss"), (manual.BCEWithLogitsLoss, "BCEWithLogitsLoss")]
)
@pytest.mark.parametrize(
    "pred_shape,target_shape",
    [((3,), (3, 1)), ((4, 2), (2, 4)), ((4, 2), (4,)), ((1,), ())],
    ids=str,
)
def test_elementwise_loss_bad_shapes(device, make, name, pred_shape, target_shape):
    pred = torch.zeros(pred_shape, device=device)
    target = torch.zeros(target_shape, device=device)
    pattern = rf"{name}\(\).*{re.escape(str(tuple(pred_shape)))}.*{re.escape(str(tuple(target_shape)))}"
    with pytest.raises(ValueError, match=pattern):
        make()(pred, target)


@pytest.mark.parametrize(
    "logits_shape,target_shape,match",
    [
        ((5,), (5,), r"logits of shape \(N, C\).*\(5,\)"),
        ((2, 3, 4), (2,), r"logits of shape \(N, C\).*\(2, 3, 4\)"),
        ((4, 3), (4, 1), r"target of shape \(4,\).*\(4, 1\)"),
        ((4, 3), (3,), r"target of shape \(4,\).*\(3,\)"),
    ],
    ids=str,
)
def test_ce_bad_shapes(device, logits_shape, target_shape, match):
    logits = torch.zeros(logits_shape, device=device)
    target = torch.zeros(target_shape, dtype=torch.long, device=device)
    with pytest.raises(ValueError, match=r"CrossEntropyLoss\(\).*" + match):
        manual.CrossEntropyLoss()(logits, target)


@pytest.mark.parametrize("make, shape", [(manual.MSELoss, (0, 2)), (manual.BCEWithLogitsLoss, (0,)),
                                         (manual.CrossEntropyLoss, (0, 3))])
def test_an_empty_batch_is_refused_clearly(make, shape):
    pred = torch.zeros(shape)
    target = torch.zeros(0, dtype=torch.long) if make is manual.CrossEntropyLoss else torch.zeros(shape)
    with pytest.raises(ValueError, match=r"got an empty batch .*; the mean needs at least one value"):
        make()(pred, target)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.bool])
def test_ce_bad_target_dtype(device, dtype):
    logits = torch.zeros(3, 4, device=device)
    target = torch.zeros(3, device=device).to(dtype)
    with pytest.raises(ValueError, match=r"CrossEntropyLoss\(\).*torch\.long.*" + str(dtype).replace(".", r"\.")):
        manual.CrossEntropyLoss()(logits, target)


@pytest.mark.parametrize("bad", [-1, 4, 100, -100])
def test_ce_class_index_out_of_range(device, bad):
    logits = torch.zeros(3, 4, device=device)
    target = torch.tensor([0, bad, 1], device=device)
    with pytest.raises(ValueError, match=r"CrossEntropyLoss\(\).*class indices.*\[0, 3\]"):
        manual.CrossEntropyLoss()(logits, target)


def test_ce_boundary_class_indices_accepted(device):
    g = gen(7)
    logits = randn((2, 4), g, device)
    target = torch.tensor([0, 3], device=device)
    check_against_torch(manual.CrossEntropyLoss(), nn.CrossEntropyLoss(), logits, target, 1.1)


@pytest.mark.parametrize("which", ["mse", "bce", "ce"])
def test_loss_backward_leaves_its_inputs_alone(device, which):
    # backward may work in place only on tensors of its own
    g = gen(8)
    pred = randn((4, 3), g, device)
    if which == "ce":
        loss_fn, target = manual.CrossEntropyLoss(), torch.tensor([0, 2, 1, 2], device=device)
    else:
        loss_fn = manual.MSELoss() if which == "mse" else manual.BCEWithLogitsLoss()
        target = torch.rand(4, 3, generator=g, dtype=torch.float64).to(device)
    pred0, target0 = pred.clone(), target.clone()
    dloss = torch.tensor(0.6, device=device)
    loss = loss_fn(pred, target)
    d1 = loss_fn.backward(dloss)
    d1_copy = d1.clone()
    d2 = loss_fn.backward(dloss)
    assert d2 is not d1 and torch.equal(d1, d1_copy) and torch.equal(d1, d2)
    assert torch.equal(pred, pred0) and torch.equal(target, target0)
    assert dloss.item() == 0.6
    assert torch.equal(loss_fn(pred, target), loss)
