"""The gradient report: three witnesses per parameter, manual vs autograd per layer input.

It must pass correct gradients, flag wrong ones, and name the layer where a
wrong backward starts the disagreement.
"""

import pytest
import torch

from toolkit import manual
from toolkit.bugs import copy_layer
from toolkit.gradient_check import accumulation_report, finite_difference_gradients, gradient_report
from toolkit.twins import Twins, make_twins


def _problem(device, dtype=torch.float64):
    generator = torch.Generator().manual_seed(0)
    x = (torch.rand(9, 3, generator=generator, dtype=torch.float64) + 0.1).to(device, dtype)
    y = torch.randn(9, 2, generator=generator, dtype=torch.float64).to(device, dtype)
    return x, y


def test_correct_gradients_pass_all_three_comparisons(device):
    x, y = _problem(device)
    twins = make_twins([3, 6, 2], "tanh", seed=1, device=device)
    report = gradient_report(twins, x, y)
    assert report.ok and report.first_disagreement is None
    names = [row.name for row in report.rows]
    assert names == ["0.weight", "0.bias", "input of 1", "input of 2", "2.weight", "2.bias", "output"]
    for row in report.rows:
        labels = [c.label for c in row.comparisons]
        if row.name.startswith(("input", "output")):
            assert labels == ["manual vs autograd"]
        else:
            assert labels == ["manual vs autograd", "manual vs finite diff", "autograd vs finite diff"]
            assert row.comparisons[1].max_rel < 1e-5
        assert row.comparisons[0].max_abs <= 1e-12
    assert report.max_abs_twin_diff <= 1e-12
    assert str(report).endswith("=> all gradients agree")


def test_layer_rows_carry_the_shape_of_each_layers_input():
    x, y = _problem("cpu")
    report = gradient_report(make_twins([3, 6, 2], "relu", seed=1), x, y, first_layer=True)
    shapes = {row.name: row.shape for row in report.rows}
    assert shapes["input of 0"] == (9, 3) and shapes["input of 1"] == (9, 6)
    assert shapes["input of 2"] == (9, 6) and shapes["output"] == (9, 2)
    assert [row.where for row in report.rows if row.name.startswith("input")] == [
        "layer 0 (Linear)", "layer 1 (ReLU)", "layer 2 (Linear)"]


def test_finite_differences_match_autograd_in_float64():
    x, y = _problem("cpu")
    twins = make_twins([3, 5, 2], "sigmoid", seed=2)
    fd = finite_difference_gradients(twins.torch_net, twins.torch_loss, x, y)
    twins.torch_loss(twins.torch_net(x), y).backward()
    for name, param in twins.torch_net.named_parameters():
        torch.testing.assert_close(fd[name], param.grad, rtol=1e-6, atol=1e-8)


class HalfTanh(manual.Tanh):
    """A Tanh whose dx is half what it should be."""

    def backward(self, dout, input_grad=True):
        dx = super().backward(dout, input_grad)
        return None if dx is None else 0.5 * dx


def test_a_wrong_gradient_is_flagged_and_located():
    x, y = _problem("cpu")
    twins = make_twins([3, 6, 6, 2], "tanh", seed=1)
    twins.manual_net.layers[3] = HalfTanh()
    report = gradient_report(twins, x, y)
    assert not report.ok
    rows = {row.name: row for row in report.rows}
    first = rows["0.weight"].comparisons
    assert not first[0].allclose and not first[1].allclose
    assert first[2].allclose                         # autograd and finite differences still agree
    assert rows["4.weight"].ok and rows["input of 4"].ok and rows["output"].ok   # after the bug
    assert not rows["input of 3"].ok                 # the bug's own dx
    assert report.first_disagreement == "layer 3 (Tanh)"
    assert report.blames_manual()
    assert "GRADIENTS DISAGREE; first disagreement: layer 3 (Tanh)" in str(report)
    assert {row.name for row in report.disagreeing().rows} == {
        "0.weight", "0.bias", "input of 1", "input of 2", "2.weight", "2.bias", "input of 3"}


def test_a_wrong_loss_gradient_is_located_at_the_loss():
    class DoubledMSE(manual.MSELoss):
        def backward(self, dloss=1.0):
            return 2 * super().backward(dloss)

    x, y = _problem("cpu")
    twins = make_twins([3, 4, 2], "tanh", seed=1)
    twins.manual_loss = DoubledMSE()
    report = gradient_report(twins, x, y)
    assert report.first_disagreement == "the loss (MSELoss)"


def test_the_first_layers_dx_is_compared_when_asked():
    class WrongInputGradLinear(manual.Linear):
        def backward(self, dout, input_grad=True):
            dx = super().backward(dout, input_grad)
            return None if dx is None else -dx

    x, y = _problem("cpu")
    twins = make_twins([3, 4, 2], "tanh", seed=1)
    twins.manual_net.layers[0] = copy_layer(WrongInputGradLinear, twins.manual_net[0])
    # training never needs dL/dx of the first layer: by default it is not compared
    assert gradient_report(twins, x, y).ok
    report = gradient_report(twins, x, y, first_layer=True)
    assert [row.name for row in report.disagreeing().rows] == ["input of 0"]
    assert report.first_disagreement == "layer 0 (Linear)"


def test_a_network_that_is_not_sequential_counts_as_one_layer():
    x, y = _problem("cpu")
    twins = Twins.of(manual.Linear(3, 2, dtype=torch.float64), manual.MSELoss())
    report = gradient_report(twins, x, y, first_layer=True)
    assert report.ok
    assert [row.name for row in report.rows] == ["input of 0", "weight", "bias", "output"]


def test_float32_networks_use_float32_tolerances_and_float64_differences():
    x, y = _problem("cpu", torch.float32)
    twins = make_twins([3, 4, 2], "tanh", seed=3, dtype=torch.float32)
    report = gradient_report(twins, x, y)
    assert report.ok and report.dtype == torch.float32
    assert "(float32)" in str(report)


def test_an_unsupported_dtype_is_named():
    x, y = _problem("cpu", torch.bfloat16)
    twins = make_twins([3, 2], seed=0, dtype=torch.bfloat16)
    with pytest.raises(ValueError, match=r"support float64 and float32 networks, not torch.bfloat16"):
        gradient_report(twins, x, y)


def test_report_leaves_no_gradients_behind():
    x, y = _problem("cpu")
    twins = make_twins([3, 2], seed=0)
    gradient_report(twins, x, y)
    accumulation_report(twins, [(x, y), (x, y)])
    assert all(p.grad is None for p in twins.manual_net.parameters())
    assert all(p.grad is None for p in twins.torch_net.parameters())


def test_accumulation_report_locates_an_overwriting_layer():
    class OverwritingLinear(manual.Linear):
        def backward(self, dout, input_grad=True):
            self.weight.grad = None
            return super().backward(dout, input_grad)

    x, y = _problem("cpu")
    twins = make_twins([3, 4, 2], "tanh", seed=1)
    twins.manual_net.layers[2] = copy_layer(OverwritingLinear, twins.manual_net[2])
    assert gradient_report(twins, x, y).ok       # one backward cannot tell = from +=
    report = accumulation_report(twins, [(x[:4], y[:4]), (x[4:], y[4:])])
    assert [row.name for row in report.disagreeing().rows] == ["2.weight"]
    assert report.first_disagreement == "layer 2 (Linear)"


@pytest.mark.parametrize("bad_row", ["0.weight", "output"])
def test_failed_labels_say_which_comparisons_fail(bad_row):
    x, y = _problem("cpu")
    twins = make_twins([3, 2], seed=0)
    report = gradient_report(twins, x, y)
    row = next(r for r in report.rows if r.name == bad_row)
    row.comparisons[0].allclose = False
    assert report.failed_labels() == ["manual vs autograd"]
    assert report.blames_manual()
