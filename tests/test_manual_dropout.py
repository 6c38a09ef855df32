"""toolkit.manual.Dropout against torch.nn.Dropout, and random layers in the loop, the report and the witnesses.

From the same state of the random generator both layers drop the same units
and scale the kept ones by the same number, so forward and backward agree
bit for bit. On the CPU torch draws the mask with ``bernoulli_(1 - p)`` and
we do the same. On CUDA torch fuses dropout into one kernel with its own
random stream; there our layer takes the mask from that kernel
(``torch.native_dropout``), and the CUDA cases below check that the two still
agree (they run only where a GPU is present).
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from helpers import gen, randn
from toolkit import manual
from toolkit.gradient_check import accumulation_report, finite_difference_gradients, gradient_report
from toolkit.landscape import hvp_finite_difference, manual_gradient
from toolkit.randomness import random_state_kept
from toolkit.train import train
from toolkit.twins import make_twins, twin_of


def generator_state(device):
    device = torch.device(device)
    return torch.cuda.get_rng_state(device) if device.type == "cuda" else torch.get_rng_state()


def both_layers(p, x, dout, device, seed=11):
    """(manual out, manual dx, torch out, torch dx), both forwards from the generator seeded with ``seed``."""
    torch.manual_seed(seed)
    mine = manual.Dropout(p)
    with random_state_kept(device):
        out = mine(x)
    theirs = nn.Dropout(p)
    leaf = x.detach().clone().requires_grad_(True)
    their_out = theirs(leaf)
    their_out.backward(dout)
    return out, mine.backward(dout), their_out.detach(), leaf.grad


@pytest.mark.parametrize("p", [0.5, 0.1, 0.15, 0.3, 0.9])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("shape", [(37, 53), (4, 3, 5)])
def test_dropout_is_torchs_bit_for_bit(device, p, dtype, shape):
    g = gen(1)
    x, dout = randn(shape, g, device, dtype=dtype), randn(shape, g, device, dtype=dtype)
    out, dx, their_out, their_dx = both_layers(p, x, dout, device)
    torch.testing.assert_close(out, their_out, rtol=0, atol=0)
    torch.testing.assert_close(dx, their_dx, rtol=0, atol=0)


def test_dropout_drops_about_p_and_scales_the_rest_by_one_over_one_minus_p(device):
    x = torch.ones(200, 100, dtype=torch.float64, device=device)
    torch.manual_seed(0)
    out = manual.Dropout(0.3)(x)
    kept = out != 0
    assert abs(1 - kept.double().mean().item() - 0.3) < 0.01          # 20,000 draws: std 0.003
    assert torch.equal(out[kept], torch.full_like(out[kept], 1 / (1 - 0.3)))
    assert abs(out.mean().item() - 1) < 0.02                           # E[out] = x


def test_backward_uses_the_forwards_mask_and_two_forwards_draw_different_masks(device):
    g = gen(2)
    x, dout = randn((30, 20), g, device), randn((30, 20), g, device)
    layer = manual.Dropout(0.5)
    torch.manual_seed(0)
    first = layer(x)
    dx = layer.backward(dout)
    assert torch.equal(dx == 0, first == 0)                  # no gradient through a dropped unit
    torch.testing.assert_close(dx[first != 0], 2 * dout[first != 0], rtol=0, atol=0)
    second = layer(x)
    assert not torch.equal(first == 0, second == 0)          # the generator moved on


def test_eval_mode_is_the_identity_and_draws_nothing(device):
    g = gen(3)
    x, dout = randn((8, 5), g, device), randn((8, 5), g, device)
    layer = manual.Dropout(0.5).eval()
    before = generator_state(device)
    out = layer(x)
    assert out is x and torch.equal(generator_state(device), before)
    assert torch.equal(layer.backward(dout), dout)
    torch.testing.assert_close(out, nn.Dropout(0.5).eval()(x), rtol=0, atol=0)


def test_p_zero_drops_nothing_and_draws_nothing(device):
    g = gen(4)
    x, dout = randn((6, 7), g, device), randn((6, 7), g, device)
    out, dx, their_out, their_dx = both_layers(0.0, x, dout, device)
    after = generator_state(device)
    assert torch.equal(out, x) and torch.equal(dx, dout)
    assert torch.equal(their_out, out) and torch.equal(their_dx, dx)
    torch.manual_seed(11)                       # both_layers seeded the generator: no layer drew from it
    assert torch.equal(generator_state(device), after)


@pytest.mark.parametrize("p", [1, 1.0, -0.1, 1.5, float("nan"), True, "0.5", None])
def test_p_outside_zero_to_one_is_refused(p):
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        manual.Dropout(p)


def test_usage_errors():
    layer = manual.Dropout(0.5)
    with pytest.raises(RuntimeError, match="forward before backward"):
        layer.backward(torch.ones(2, 3))
    layer(torch.ones(2, 3, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"\(2, 3\)"):
        layer.backward(torch.ones(3, 2, dtype=torch.float64))
    assert repr(layer) == "Dropout(p=0.5)" and list(layer.named_parameters()) == []


def test_the_torch_twin_is_nn_dropout_with_the_same_p_and_mode():
    twin = twin_of(manual.Sequential(manual.Linear(3, 4), manual.ReLU(), manual.Dropout(0.25).eval()))
    assert isinstance(twin[2], nn.Dropout) and twin[2].p == 0.25
    net = manual.Sequential(manual.Linear(3, 4), manual.Dropout(0.2)).eval()
    assert not twin_of(net)[1].training


def test_make_twins_puts_dropout_after_every_hidden_layer_and_keeps_the_weights():
    plain = make_twins([5, 8, 8, 3], "relu", seed=3)
    dropped = make_twins([5, 8, 8, 3], "relu", seed=3, dropout=0.4)
    assert [type(layer).__name__ for layer in dropped.manual_net] == [
        "Linear", "ReLU", "Dropout", "Linear", "ReLU", "Dropout", "Linear"]
    assert [type(layer).__name__ for layer in dropped.torch_net] == [
        "Linear", "ReLU", "Dropout", "Linear", "ReLU", "Dropout", "Linear"]
    for a, b in zip(plain.manual_net.parameters(), dropped.manual_net.parameters(), strict=True):
        assert torch.equal(a, b)
    with pytest.raises(ValueError, match="dropout"):
        make_twins([5, 3], dropout=1.0)


# --------------------------------------------------------------------------- the loop, the report, the witnesses


def _classification(n=40, seed=5):
    g = gen(seed)
    x = torch.randn(n, 6, generator=g, dtype=torch.float64)
    return x, torch.randint(0, 3, (n,), generator=g)


def _dropout_twins(seed=0, p=0.5):
    return make_twins([6, 16, 16, 3], "relu", loss=manual.CrossEntropyLoss(), seed=seed, dropout=p)


def test_training_gives_both_twins_the_same_masks_at_every_step():
    x, y = _classification()
    twins = _dropout_twins()
    torch.manual_seed(0)
    history = train(twins, x, y, steps=25, lr=0.2, batch_size=10, quiet=True)
    assert history.twins_agree and history.max_abs_grad_diff <= 1e-15
    # the losses differ by a rounding of the cross-entropy at most: with other masks they would differ by far more
    assert history.loss_manual == pytest.approx(history.loss_autograd, rel=1e-14)
    torch.testing.assert_close(history.path_manual, history.path_autograd, rtol=1e-13, atol=1e-15)
    # the same seed gives the same run; the masks are fresh at every step
    torch.manual_seed(0)
    again = train(_dropout_twins(), x, y, steps=25, lr=0.2, batch_size=10, quiet=True)
    assert torch.equal(again.path_manual, history.path_manual)
    torch.manual_seed(0)
    eval_run = train(_dropout_twins().eval(), x, y, steps=25, lr=0.2, batch_size=10, quiet=True)
    assert eval_run.loss_manual != history.loss_manual


def test_a_network_without_random_layers_draws_nothing_in_the_loop_or_the_report():
    # so the existing lessons' numbers cannot change: the generator is exactly where it was
    x, y = _classification()
    twins = make_twins([6, 8, 3], "tanh", loss=manual.CrossEntropyLoss(), seed=1)
    before = torch.get_rng_state()
    train(twins, x, y, steps=5, lr=0.1, quiet=True)
    gradient_report(twins, x[:10], y[:10])
    assert torch.equal(torch.get_rng_state(), before)


def test_the_loop_moves_the_generator_on_as_one_network_would():
    x, y = _classification()
    twins = _dropout_twins()
    torch.manual_seed(4)
    train(twins, x, y, steps=3, lr=0.1, quiet=True)
    after_training = torch.get_rng_state()
    torch.manual_seed(4)
    net = _dropout_twins().manual_net
    for _ in range(3):
        net(x)                  # three forward passes of one network; the final loss draws nothing
    assert torch.equal(after_training, torch.get_rng_state())


def test_the_gradient_report_holds_the_mask_fixed_for_all_three_witnesses():
    x, y = _classification(n=12)
    twins = _dropout_twins(seed=2)
    torch.manual_seed(9)
    before = torch.get_rng_state()
    report = gradient_report(twins, x, y, first_layer=True)
    assert report.ok, str(report)
    assert torch.equal(torch.get_rng_state(), before)          # a measurement draws nothing for good
    assert accumulation_report(twins, [(x[:6], y[:6]), (x[6:], y[6:])]).ok
    # the control: without holding the mask, two evaluations of the same loss differ
    with torch.no_grad():
        assert twins.torch_loss(twins.torch_net(x), y) != twins.torch_loss(twins.torch_net(x), y)


def test_finite_differences_match_the_gradient_with_the_same_mask():
    x, y = _classification(n=12)
    twins = _dropout_twins(seed=3, p=0.3)
    torch.manual_seed(1)
    with random_state_kept("cpu") as rewind:
        differences = finite_difference_gradients(twins.torch_net, twins.torch_loss, x, y)
        rewind()
        twins.torch_net.zero_grad()
        twins.torch_loss(twins.torch_net(x), y).backward()
    for name, param in twins.torch_net.named_parameters():
        torch.testing.assert_close(differences[name], param.grad, rtol=1e-5, atol=1e-7)


def test_the_hessian_vector_product_holds_the_mask_fixed():
    x, y = _classification(n=12)
    twins = _dropout_twins(seed=4)
    theta = torch.cat([p.reshape(-1) for p in twins.manual_net.parameters()])
    v = torch.randn(theta.shape, generator=gen(0), dtype=torch.float64)
    torch.manual_seed(2)
    with random_state_kept("cpu") as rewind:
        hv = hvp_finite_difference(twins, x, y, v)
        rewind()
        g_plus = manual_gradient(twins, x, y, theta + 1e-6 * v)
        rewind()
        g = manual_gradient(twins, x, y, theta)
    # a gradient with the same mask is linear in the step to first order: the product predicts the change
    torch.testing.assert_close(g_plus - g, 1e-6 * hv, rtol=1e-3, atol=1e-9)


def test_the_report_of_a_dropout_network_runs_vectorised_and_fast_enough():
    # vmap draws one mask for the whole chunk (randomness="same"); the loop would take far longer
    import time

    x, y = _classification(n=20)
    twins = make_twins([6, 64, 3], "relu", loss=manual.CrossEntropyLoss(), seed=0, dropout=0.5)
    start = time.process_time()
    assert gradient_report(twins, x, y).ok
    plain = make_twins([6, 64, 3], "relu", loss=manual.CrossEntropyLoss(), seed=0)
    middle = time.process_time()
    assert gradient_report(plain, x, y).ok
    end = time.process_time()
    assert middle - start < 5 * (end - middle) + 0.5
