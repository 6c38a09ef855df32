"""Hand-written layers against torch.nn and autograd.

Every comparison is in float64 with random upstream gradients (never ones, so
a backward that ignores ``dout`` or transposes it cannot pass), on several
shapes including a batch of one.
"""

from __future__ import annotations

import math
import re

import pytest
import torch
from torch import nn

from helpers import autograd_reference, away_from_zero, close, copy_params, gen, randn
from toolkit import manual

# (batch, in_features, out_features)
LINEAR_SHAPES = [(1, 1, 1), (1, 5, 3), (4, 3, 7), (16, 10, 2), (33, 8, 8)]
# activations accept any shape
ACT_SHAPES = [(1,), (7,), (1, 1), (1, 6), (5, 4), (3, 2, 5)]
ACTIVATIONS = [
    (manual.ReLU, nn.ReLU),
    (manual.Tanh, nn.Tanh),
    (manual.Sigmoid, nn.Sigmoid),
]


def manual_net_and_twin(device, bias_mid=True):
    torch.manual_seed(1234)
    ref = nn.Sequential(
        nn.Linear(5, 7),
        nn.ReLU(),
        nn.Linear(7, 6, bias=bias_mid),
        nn.Tanh(),
        nn.Linear(6, 3),
        nn.Sigmoid(),
    ).to(device)
    net = manual.Sequential(
        manual.Linear(5, 7, device=device),
        manual.ReLU(),
        manual.Linear(7, 6, bias=bias_mid, device=device),
        manual.Tanh(),
        manual.Linear(6, 3, device=device),
        manual.Sigmoid(),
    )
    copy_params(net, ref)
    return net, ref


# --------------------------------------------------------------------------- Linear


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("batch,fin,fout", LINEAR_SHAPES)
def test_linear_matches_torch(device, batch, fin, fout, bias):
    g = gen(batch * 1000 + fin * 10 + fout)
    ref = nn.Linear(fin, fout, bias=bias, device=device)
    with torch.no_grad():  # fresh random values, not the init under test here
        for p in ref.parameters():
            p.copy_(randn(p.shape, g, device))
    layer = manual.Linear(fin, fout, bias=bias, device=device)
    copy_params(layer, ref)

    x = randn((batch, fin), g, device)
    dout = randn((batch, fout), g, device)
    out_ref, dx_ref, grads_ref = autograd_reference(ref, x, dout)

    out = layer(x)
    close(out, out_ref)
    dx = layer.backward(dout)
    close(dx, dx_ref)
    close(layer.weight.grad, grads_ref["weight"])
    if bias:
        close(layer.bias.grad, grads_ref["bias"])
    else:
        assert layer.bias is None
        assert [name for name, _ in layer.named_parameters()] == ["weight"]


def test_linear_noncontiguous_input(device):
    g = gen(7)
    ref = nn.Linear(4, 3, device=device)
    layer = manual.Linear(4, 3, device=device)
    copy_params(layer, ref)
    x = randn((4, 6), g, device).t()  # (6, 4), not contiguous
    assert not x.is_contiguous()
    dout = randn((6, 3), g, device)
    out_ref, dx_ref, grads_ref = autograd_reference(ref, x, dout)
    close(layer(x), out_ref)
    close(layer.backward(dout), dx_ref)
    close(layer.weight.grad, grads_ref["weight"])
    close(layer.bias.grad, grads_ref["bias"])


# --------------------------------------------------------------------------- activations


@pytest.mark.parametrize("shape", ACT_SHAPES, ids=str)
@pytest.mark.parametrize("make,make_ref", ACTIVATIONS, ids=lambda c: getattr(c, "__name__", ""))
def test_activation_matches_torch(device, make, make_ref, shape):
    g = gen(len(shape) * 100 + sum(shape))
    x = away_from_zero(randn(shape, g, device, scale=3.0))
    dout = randn(shape, g, device)
    out_ref, dx_ref, _ = autograd_reference(make_ref(), x, dout)
    layer = make()
    out = layer(x)
    close(out, out_ref)
    close(layer.backward(dout), dx_ref)
    assert list(layer.named_parameters()) == []


def test_relu_slope_is_zero_for_negative_and_one_for_positive(device):
    x = torch.tensor([[-2.0, -1e-3, 1e-3, 2.0]], device=device)
    dout = torch.tensor([[3.0, 5.0, 7.0, 11.0]], device=device)
    layer = manual.ReLU()
    layer(x)
    torch.testing.assert_close(layer.backward(dout), torch.tensor([[0.0, 0.0, 7.0, 11.0]], device=device),
                               rtol=0, atol=0)


def test_relu_at_the_kink_takes_torch_slope_zero(device):
    # away from the random tests: exactly at 0 (and -0.0) torch uses slope 0
    x = torch.tensor([[0.0, -0.0, 1.5]], device=device)
    dout = torch.tensor([[2.0, 3.0, 5.0]], device=device)
    _, dx_ref, _ = autograd_reference(nn.ReLU(), x, dout)
    layer = manual.ReLU()
    layer(x)
    torch.testing.assert_close(layer.backward(dout), dx_ref, rtol=0, atol=0)


# --------------------------------------------------------------------------- Sequential


@pytest.mark.parametrize("batch", [1, 2, 9])
@pytest.mark.parametrize("bias_mid", [True, False])
def test_sequential_matches_torch(device, batch, bias_mid):
    net, ref = manual_net_and_twin(device, bias_mid)
    g = gen(100 + batch)
    x = randn((batch, 5), g, device)
    dout = randn((batch, 3), g, device)
    out_ref, dx_ref, grads_ref = autograd_reference(ref, x, dout)

    close(net(x), out_ref)
    close(net.backward(dout), dx_ref)
    grads = {name: p.grad for name, p in net.named_parameters()}
    assert list(grads) == list(grads_ref)
    for name in grads_ref:
        close(grads[name], grads_ref[name])


@pytest.mark.parametrize("bias_mid", [True, False])
def test_sequential_names_match_torch(device, bias_mid):
    net, ref = manual_net_and_twin(device, bias_mid)
    names = [name for name, _ in net.named_parameters()]
    ref_names = [name for name, _ in ref.named_parameters()]
    assert names == ref_names
    expected = ["0.weight", "0.bias", "2.weight"] + (["2.bias"] if bias_mid else []) + ["4.weight", "4.bias"]
    assert names == expected
    for (_, p), (_, q) in zip(net.named_parameters(), ref.named_parameters()):
        assert p.shape == q.shape
    # parameters() is named_parameters() without the names, same order, same objects
    assert all(a is b for a, (_, b) in zip(net.parameters(), net.named_parameters(), strict=True))
    assert len(net) == 6 and isinstance(net[2], manual.Linear) and list(net)[1] is net[1]


def test_sequential_shares_parameters_with_its_layers(device):
    # the Sequential's parameters are the layers' tensors, not copies
    net, _ = manual_net_and_twin(device)
    params = dict(net.named_parameters())
    assert params["0.weight"] is net[0].weight
    assert params["4.bias"] is net[4].bias


# --------------------------------------------------------------------------- initialisation


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("fin,fout", [(1, 1), (3, 7), (10, 4), (64, 32)])
def test_linear_init_matches_nn_linear(fin, fout, bias):
    torch.manual_seed(42)
    layer = manual.Linear(fin, fout, bias=bias)
    after_manual = torch.rand(4)
    torch.manual_seed(42)
    ref = nn.Linear(fin, fout, bias=bias)
    after_ref = torch.rand(4)

    assert layer.weight.shape == (fout, fin) and layer.weight.dtype == torch.float64
    # bit for bit: the same function draws the same numbers
    torch.testing.assert_close(layer.weight, ref.weight.detach(), rtol=0, atol=0)
    if bias:
        torch.testing.assert_close(layer.bias, ref.bias.detach(), rtol=0, atol=0)
    else:
        assert layer.bias is None
    # the same amount of randomness was consumed, in the same order
    torch.testing.assert_close(after_manual, after_ref, rtol=0, atol=0)


def test_linear_init_bounds():
    torch.manual_seed(0)
    for fin, fout in [(1, 50), (4, 100), (100, 30)]:
        layer = manual.Linear(fin, fout)
        k = 1.0 / math.sqrt(fin)
        for p in layer.parameters():
            assert p.abs().max() <= k
            # U(-k, k), not something degenerate such as zeros or a tiny range
            assert p.abs().max() > 0.5 * k
            assert p.min() < 0 < p.max()
        assert not layer.weight.requires_grad and not layer.bias.requires_grad
        assert layer.weight.grad is None and layer.bias.grad is None


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_linear_init_dtype_device(device, dtype):
    layer = manual.Linear(3, 2, device=device, dtype=dtype)
    for p in layer.parameters():
        assert p.dtype == dtype and p.device.type == device


# --------------------------------------------------------------------------- accumulation


def test_two_backward_calls_double_the_gradient(device):
    net, _ = manual_net_and_twin(device)
    g = gen(3)
    x = randn((4, 5), g, device)
    dout = randn((4, 3), g, device)
    net(x)
    net.backward(dout)
    once = {name: p.grad.clone() for name, p in net.named_parameters()}
    net.backward(dout)
    for name, p in net.named_parameters():
        close(p.grad, 2 * once[name])


def test_zero_grad_resets_to_none(device):
    net, _ = manual_net_and_twin(device)
    g = gen(4)
    net(randn((3, 5), g, device))
    net.backward(randn((3, 3), g, device))
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())

    layer = manual.Linear(2, 2, device=device)
    layer(randn((1, 2), g, device))
    layer.backward(randn((1, 2), g, device))
    assert layer.weight.grad is not None and layer.bias.grad is not None
    layer.zero_grad()
    assert layer.weight.grad is None and layer.bias.grad is None


def test_grads_accumulate_across_batches_like_autograd(device):
    net, ref = manual_net_and_twin(device)
    g = gen(5)
    batches = [(randn((n, 5), g, device), randn((n, 3), g, device)) for n in (3, 1, 6)]
    for x, dout in batches:
        net(x)
        net.backward(dout)
        ref(x).backward(dout)  # no zero_grad in between: autograd accumulates
        for (name, p), (_, q) in zip(net.named_parameters(), ref.named_parameters(), strict=True):
            close(p.grad, q.grad)
    # and the total is the sum of the per-batch gradients
    totals = {name: torch.zeros_like(p) for name, p in net.named_parameters()}
    for x, dout in batches:
        net.zero_grad()
        net(x)
        net.backward(dout)
        for name, p in net.named_parameters():
            totals[name] += p.grad
    for name, q in ref.named_parameters():
        close(totals[name], q.grad)


def test_accumulation_does_not_touch_a_held_gradient(device):
    # after zero_grad, a new backward must not write into the old gradient tensor
    layer = manual.Linear(3, 2, device=device)
    g = gen(6)
    x, dout = randn((4, 3), g, device), randn((4, 2), g, device)
    layer(x)
    layer.backward(dout)
    held_w, held_b = layer.weight.grad, layer.bias.grad
    saved_w, saved_b = held_w.clone(), held_b.clone()
    layer.zero_grad()
    layer(x)
    layer.backward(dout)
    layer.backward(dout)
    assert torch.equal(held_w, saved_w) and torch.equal(held_b, saved_b)


# --------------------------------------------------------------------------- no autograd inside


def test_backward_without_autograd(device):
    net, ref = manual_net_and_twin(device)
    for p in net.parameters():
        assert not p.requires_grad
    g = gen(8)
    x = randn((4, 5), g, device)
    dout = randn((4, 3), g, device)
    out_ref, dx_ref, grads_ref = autograd_reference(ref, x, dout)

    with torch.no_grad():
        out = net(x)
        dx = net.backward(dout)
    close(out, out_ref)
    close(dx, dx_ref)
    for name, p in net.named_parameters():
        close(p.grad, grads_ref[name])
        assert p.grad.grad_fn is None and not p.grad.requires_grad
    assert out.grad_fn is None and dx.grad_fn is None

    # and with grad mode on, still nothing is recorded
    net.zero_grad()
    out = net(x)
    dx = net.backward(dout)
    assert out.grad_fn is None and not out.requires_grad
    assert dx.grad_fn is None and not dx.requires_grad
    for name, p in net.named_parameters():
        assert p.grad.grad_fn is None
        close(p.grad, grads_ref[name])


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize("shape", [(2, 5), (3,), (2, 3, 3), (4, 1)], ids=str)
def test_linear_wrong_input_shape(device, shape):
    layer = manual.Linear(3, 4, device=device)
    x = torch.zeros(shape, device=device)
    pattern = r"Linear\(in_features=3, out_features=4.*\(N, 3\).*" + re.escape(str(tuple(shape)))
    with pytest.raises(ValueError, match=pattern):
        layer(x)


def test_sequential_wrong_input_shape_names_the_layer(device):
    net, _ = manual_net_and_twin(device)
    with pytest.raises(ValueError, match=r"Linear\(in_features=5, out_features=7.*\(N, 5\).*\(2, 4\)"):
        net(torch.zeros(2, 4, device=device))


def test_linear_wrong_dout_shape(device):
    layer = manual.Linear(3, 4, device=device)
    layer(torch.zeros(2, 3, device=device))
    with pytest.raises(ValueError, match=r"Linear\(in_features=3, out_features=4.*\(N, 4\).*\(2, 5\)"):
        layer.backward(torch.zeros(2, 5, device=device))
    with pytest.raises(ValueError, match=r"Linear\(in_features=3.*3 rows.*2"):
        layer.backward(torch.zeros(3, 4, device=device))
    assert layer.weight.grad is None  # a rejected call left nothing behind


@pytest.mark.parametrize("dtype", [torch.float32, torch.int64])
def test_linear_dout_of_another_dtype_is_named(device, dtype):
    layer = manual.Linear(3, 4, device=device, dtype=torch.float64)
    layer(torch.zeros(2, 3, device=device, dtype=torch.float64))
    with pytest.raises(ValueError, match=rf"dout is {dtype} on .*, but the input was torch.float64"):
        layer.backward(torch.zeros(2, 4, device=device, dtype=dtype))


@pytest.mark.parametrize("sizes", [(0, 2), (2, 0), (-1, 3), (2.5, 3), (True, 3)])
def test_linear_sizes_must_be_positive_whole_numbers(sizes):
    with pytest.raises(ValueError, match=r"Linear: (in|out)_features must be a whole number >= 1"):
        manual.Linear(*sizes)


@pytest.mark.parametrize("make", [manual.ReLU, manual.Tanh, manual.Sigmoid])
def test_activation_wrong_dout_shape(device, make):
    layer = make()
    layer(torch.ones(2, 3, device=device))
    name = make.__name__
    with pytest.raises(ValueError, match=rf"{name}\(\).*\(2, 3\).*\(3, 2\)"):
        layer.backward(torch.ones(3, 2, device=device))


@pytest.mark.parametrize(
    "make",
    [
        lambda: manual.Linear(2, 2),
        lambda: manual.Linear(2, 2, bias=False),
        manual.ReLU,
        manual.Tanh,
        manual.Sigmoid,
        lambda: manual.Sequential(manual.Linear(2, 2), manual.Tanh()),
    ],
    ids=["Linear", "Linear-nobias", "ReLU", "Tanh", "Sigmoid", "Sequential"],
)
def test_backward_before_forward_raises(make):
    layer = make()
    with pytest.raises(RuntimeError, match="forward"):
        layer.backward(torch.ones(1, 2))


# --------------------------------------------------------------------------- input_grad=False


@pytest.mark.parametrize("batch", [1, 5])
def test_sequential_input_grad_false(device, batch):
    net, _ = manual_net_and_twin(device)
    g = gen(9)
    x = randn((batch, 5), g, device)
    dout = randn((batch, 3), g, device)

    net(x)
    dx = net.backward(dout, input_grad=True)
    assert dx is not None and dx.shape == x.shape
    with_dx = {name: p.grad.clone() for name, p in net.named_parameters()}

    net.zero_grad()
    net(x)
    assert net.backward(dout, input_grad=False) is None
    for name, p in net.named_parameters():
        assert torch.equal(p.grad, with_dx[name]), name


def test_layer_input_grad_false(device):
    g = gen(10)
    layer = manual.Linear(4, 3, device=device)
    x, dout = randn((2, 4), g, device), randn((2, 3), g, device)
    layer(x)
    layer.backward(dout)
    w, b = layer.weight.grad.clone(), layer.bias.grad.clone()
    layer.zero_grad()
    assert layer.backward(dout, input_grad=False) is None
    assert torch.equal(layer.weight.grad, w) and torch.equal(layer.bias.grad, b)
    for make in (manual.ReLU, manual.Tanh, manual.Sigmoid):
        act = make()
        act(x)
        assert act.backward(x, input_grad=False) is None


def test_sequential_input_grad_false_starting_with_activation(device):
    # the first layer has no parameters: input_grad=False must still return None
    # and the later layers' gradients must be those of input_grad=True
    torch.manual_seed(0)
    net = manual.Sequential(manual.Tanh(), manual.Linear(3, 2, device=device))
    g = gen(11)
    x, dout = randn((4, 3), g, device), randn((4, 2), g, device)
    net(x)
    assert net.backward(dout) is not None
    w = net[1].weight.grad.clone()
    net.zero_grad()
    net(x)
    assert net.backward(dout, input_grad=False) is None
    assert torch.equal(net[1].weight.grad, w)


# --------------------------------------------------------------------------- dtype and device


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_dtype_and_device_follow_inputs(device, dtype):
    torch.manual_seed(0)
    net = manual.Sequential(
        manual.Linear(4, 5, device=device, dtype=dtype),
        manual.ReLU(),
        manual.Linear(5, 3, device=device, dtype=dtype),
        manual.Tanh(),
        manual.Linear(3, 2, device=device, dtype=dtype),
        manual.Sigmoid(),
    )
    g = gen(12)
    x = randn((3, 4), g, device, dtype=dtype)
    dout = randn((3, 2), g, device, dtype=dtype)
    out = net(x)
    dx = net.backward(dout)
    for t in [out, dx] + [p.grad for p in net.parameters()]:
        assert t.dtype == dtype
        assert t.device.type == device
    for make in (manual.ReLU, manual.Tanh, manual.Sigmoid):
        layer = make()
        y = layer(x)
        d = layer.backward(x)
        assert y.dtype == d.dtype == dtype and y.device.type == d.device.type == device


# --------------------------------------------------------------------------- no side effects


@pytest.mark.parametrize(
    "make,shape",
    [
        (lambda d: manual.Linear(4, 3, device=d), (5, 4)),
        (lambda d: manual.Linear(4, 3, bias=False, device=d), (1, 4)),
        (lambda d: manual.ReLU(), (5, 4)),
        (lambda d: manual.Tanh(), (5, 4)),
        (lambda d: manual.Sigmoid(), (5, 4)),
    ],
    ids=["Linear", "Linear-nobias", "ReLU", "Tanh", "Sigmoid"],
)
def test_backward_leaves_its_inputs_alone(device, make, shape):
    # backward may work in place only on tensors of its own: dout, x, the
    # returned output and the parameters must come out unchanged, and a second
    # backward must return the same dx
    torch.manual_seed(0)
    layer = make(device)
    g = gen(13)
    x = away_from_zero(randn(shape, g, device))
    x0 = x.clone()
    params0 = [p.clone() for p in layer.parameters()]
    out = layer(x)
    out0 = out.clone()
    dout = randn(out.shape, g, device)
    dout0 = dout.clone()
    dx1 = layer.backward(dout)
    dx1_copy = dx1.clone()
    dx2 = layer.backward(dout)
    assert dx1 is not dout and dx2 is not dx1
    assert torch.equal(dx1, dx1_copy) and torch.equal(dx2, dx1)
    assert torch.equal(dout, dout0) and torch.equal(x, x0) and torch.equal(out, out0)
    for p, p0 in zip(layer.parameters(), params0, strict=True):
        assert torch.equal(p, p0)


def test_sequential_backward_leaves_dout_alone(device):
    net, _ = manual_net_and_twin(device)
    g = gen(14)
    x = randn((3, 5), g, device)
    out = net(x)
    out0 = out.clone()
    dout = randn((3, 3), g, device)
    dout0 = dout.clone()
    dx1 = net.backward(dout).clone()
    dx2 = net.backward(dout)
    assert torch.equal(dout, dout0) and torch.equal(out, out0)
    assert torch.equal(dx1, dx2)


# --------------------------------------------------------------------------- the empty network


def test_empty_sequential_is_the_identity_both_ways(device):
    # no layers: forward returns x and backward returns dout unchanged, as torch's
    # empty nn.Sequential does (its Jacobian is the identity)
    net = manual.Sequential()
    g = gen(15)
    x = randn((3, 4), g, device)
    dout = randn((3, 4), g, device)
    out_ref, dx_ref, _ = autograd_reference(nn.Sequential(), x, dout)
    assert torch.equal(net(x), out_ref)
    assert torch.equal(net.backward(dout), dx_ref)
    assert list(net.named_parameters()) == []
