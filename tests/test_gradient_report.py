"""The three-witness report: it must pass correct gradients and flag wrong ones."""

import torch
from torch import nn

from toolkit import manual
from toolkit.gradient_check import finite_difference_gradients, gradient_report
from toolkit.twins import make_twins


def _problem(device, dtype=torch.float64):
    generator = torch.Generator().manual_seed(0)
    x = (torch.rand(9, 3, generator=generator, dtype=torch.float64) + 0.1).to(device, dtype)
    y = torch.randn(9, 2, generator=generator, dtype=torch.float64).to(device, dtype)
    return x, y


def test_correct_gradients_pass_all_three_comparisons(device):
    x, y = _problem(device)
    by_hand, reference = make_twins([3, 6, 2], "tanh", seed=1, device=device)
    report = gradient_report(by_hand, reference, manual.MSELoss(), nn.MSELoss(), x, y)
    assert report.ok
    assert [row.name for row in report.rows] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    for row in report.rows:
        labels = [c.label for c in row.comparisons]
        assert labels == ["manual vs autograd", "manual vs finite diff", "autograd vs finite diff"]
        assert row.comparisons[0].max_abs <= 1e-12
        assert row.comparisons[1].max_rel < 1e-5
    assert report.max_abs_twin_diff <= 1e-12
    assert "all gradients agree" in str(report)


def test_finite_differences_match_autograd_in_float64():
    x, y = _problem("cpu")
    _, reference = make_twins([3, 5, 2], "sigmoid", seed=2)
    fd = finite_difference_gradients(reference, nn.MSELoss(), x, y)
    reference.zero_grad()
    nn.MSELoss()(reference(x), y).backward()
    for name, param in reference.named_parameters():
        torch.testing.assert_close(fd[name], param.grad, rtol=1e-6, atol=1e-8)


def test_a_wrong_gradient_is_flagged():
    class HalfTanh(manual.Tanh):
        def backward(self, dout, input_grad=True):
            return 0.5 * super().backward(dout, input_grad)

    x, y = _problem("cpu")
    by_hand, reference = make_twins([3, 6, 2], "tanh", seed=1)
    by_hand.layers[1] = HalfTanh()
    report = gradient_report(by_hand, reference, manual.MSELoss(), nn.MSELoss(), x, y)
    assert not report.ok
    first_layer = report.rows[0].comparisons
    assert not first_layer[0].allclose and not first_layer[1].allclose
    assert first_layer[2].allclose          # autograd and finite differences still agree
    assert report.rows[2].comparisons[0].allclose   # the last layer is upstream of the bug
    assert "GRADIENTS DISAGREE" in str(report)


def test_float32_networks_use_float32_tolerances_and_float64_differences():
    x, y = _problem("cpu", torch.float32)
    by_hand, reference = make_twins([3, 4, 2], "tanh", seed=3, dtype=torch.float32)
    report = gradient_report(by_hand, reference, manual.MSELoss(), nn.MSELoss(), x, y)
    assert report.ok and report.dtype == torch.float32
    assert "(float32)" in str(report)


def test_report_leaves_no_gradients_behind():
    x, y = _problem("cpu")
    by_hand, reference = make_twins([3, 2], seed=0)
    gradient_report(by_hand, reference, manual.MSELoss(), nn.MSELoss(), x, y)
    assert all(p.grad is None for p in by_hand.parameters())
    assert all(p.grad is None for p in reference.parameters())
