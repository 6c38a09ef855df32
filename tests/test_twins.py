"""twin_of, Twins and make_twins: two networks, one set of starting numbers."""

import pytest
import torch
from torch import nn

from toolkit import bugs, manual
from toolkit.twins import TORCH_TWIN, Twins, make_twins, twin_of


def test_twins_have_identical_parameters_and_names(device):
    twins = make_twins([3, 5, 4, 2], activation="tanh", seed=3, device=device)
    names_hand = [name for name, _ in twins.manual_net.named_parameters()]
    names_ref = [name for name, _ in twins.torch_net.named_parameters()]
    assert names_hand == names_ref == ["0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"]
    for _, mine, theirs in twins.named_parameters():
        assert torch.equal(mine, theirs.detach())
        assert mine.device.type == device and mine.dtype == torch.float64
        assert not mine.requires_grad and theirs.requires_grad
    assert twins.device.type == device and twins.dtype == torch.float64


def test_layer_structure_mirrors_torch():
    twins = make_twins([2, 4, 1], activation="relu", bias=False)
    assert [type(layer).__name__ for layer in twins.manual_net] == ["Linear", "ReLU", "Linear"]
    assert [type(layer).__name__ for layer in twins.torch_net] == ["Linear", "ReLU", "Linear"]
    assert isinstance(twins.torch_net, nn.Sequential) and isinstance(twins.manual_net, manual.Sequential)
    assert twins.manual_net[0].bias is None and twins.torch_net[0].bias is None


def test_the_losses_are_twinned_too():
    assert isinstance(make_twins([2, 1]).torch_loss, nn.MSELoss)
    twins = make_twins([2, 3], loss=manual.CrossEntropyLoss())
    assert isinstance(twins.manual_loss, manual.CrossEntropyLoss) and isinstance(twins.torch_loss, nn.CrossEntropyLoss)
    assert isinstance(twin_of(manual.BCEWithLogitsLoss()), nn.BCEWithLogitsLoss)


def test_same_seed_same_numbers_different_seed_different_numbers():
    a = make_twins([3, 4, 1], "sigmoid", seed=7).manual_net
    b = make_twins([3, 4, 1], "sigmoid", seed=7).manual_net
    c = make_twins([3, 4, 1], "sigmoid", seed=8).manual_net
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert not torch.equal(a[0].weight, c[0].weight)


def test_initialisation_matches_a_seeded_torch_network():
    by_hand = make_twins([3, 4, 2], "tanh", seed=11).manual_net
    torch.manual_seed(11)
    plain = nn.Sequential(nn.Linear(3, 4, dtype=torch.float64), nn.Tanh(), nn.Linear(4, 2, dtype=torch.float64))
    for mine, theirs in zip(by_hand.parameters(), plain.parameters()):
        assert torch.equal(mine, theirs.detach())


def test_float32_twins_start_from_the_float64_numbers_rounded():
    wide = make_twins([2, 2], seed=1).manual_net
    narrow = make_twins([2, 2], seed=1, dtype=torch.float32)
    assert narrow.manual_net[0].weight.dtype == torch.float32 == narrow.torch_net[0].weight.dtype
    assert torch.equal(narrow.manual_net[0].weight, wide[0].weight.float())


def test_make_twins_leaves_the_global_random_state_alone():
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    make_twins([2, 3, 1], "relu", seed=5)
    assert torch.equal(torch.rand(3), expected)


def test_twin_of_draws_no_random_numbers():
    net = manual.Sequential(manual.Linear(2, 2), manual.Tanh())
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    twin_of(net)                          # built on the meta device, then filled with our values
    assert torch.equal(torch.rand(3), expected)


@pytest.mark.parametrize("sizes, activation", [([3], None), ([2, 2], "gelu"), ([2, 0, 1], None),
                                               ([2, -4, 1], "tanh"), ([2.0, 1], None)])
def test_bad_specification_raises(sizes, activation):
    with pytest.raises(ValueError):
        make_twins(sizes, activation)


# --------------------------------------------------------------------------- twin_of


def test_twin_of_any_hand_written_network(device):
    net = manual.Sequential(manual.Linear(3, 5, device=device, dtype=torch.float64), manual.Sigmoid(),
                            manual.Linear(5, 4, bias=False, device=device, dtype=torch.float64), manual.ReLU(),
                            manual.Linear(4, 1, device=device, dtype=torch.float64))
    twin = twin_of(net)
    assert isinstance(twin, nn.Sequential)
    assert [type(m).__name__ for m in twin] == ["Linear", "Sigmoid", "Linear", "ReLU", "Linear"]
    assert twin[2].bias is None
    for (name, mine), (their_name, theirs) in zip(net.named_parameters(), twin.named_parameters(), strict=True):
        assert name == their_name and torch.equal(mine, theirs.detach())
        assert theirs.device.type == device and theirs.dtype == torch.float64
    x = torch.randn(6, 3, dtype=torch.float64, device=device)
    torch.testing.assert_close(net(x), twin(x).detach(), rtol=1e-14, atol=1e-15)


def test_twin_of_a_single_layer_and_nested_sequentials():
    layer = manual.Linear(2, 3, dtype=torch.float64)
    assert isinstance(twin_of(layer), nn.Linear)
    inner = manual.Sequential(manual.Linear(2, 2, dtype=torch.float64), manual.Tanh())
    twin = twin_of(manual.Sequential(inner, manual.Linear(2, 1, dtype=torch.float64)))
    assert [name for name, _ in twin.named_parameters()] == ["0.0.weight", "0.0.bias", "1.weight", "1.bias"]


def test_twin_of_holds_a_copy_not_the_same_tensors():
    net = manual.Sequential(manual.Linear(2, 2, dtype=torch.float64))
    twin = twin_of(net)
    with torch.no_grad():
        twin[0].weight.add_(1.0)
    assert not torch.equal(net[0].weight, twin[0].weight.detach())


def test_a_subclass_uses_its_parents_registry_line():
    # the bug zoo's layers are subclasses of the shipped ones
    assert isinstance(twin_of(bugs.TransposedWeightGradLinear(2, 2)), nn.Linear)
    assert isinstance(twin_of(bugs.MSELossWithoutMean()), nn.MSELoss)


def test_a_layer_without_a_counterpart_is_named():
    class Swish(manual.Module):
        def forward(self, x):
            return x * torch.sigmoid(x)

    with pytest.raises(ValueError, match=r"twin_of: Swish has no torch.nn counterpart; add a line for it to "
                                         r"toolkit.twins.TORCH_TWIN"):
        twin_of(manual.Sequential(manual.Linear(2, 2), Swish()))


def test_names_that_do_not_match_torchs_are_refused(monkeypatch):
    class Scale(manual.Module):
        _param_names = ("scale",)

        def __init__(self):
            super().__init__()
            self.scale = torch.ones(2, dtype=torch.float64)

    class TorchScale(nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = nn.Parameter(torch.ones(2))

    monkeypatch.setitem(TORCH_TWIN, Scale, lambda layer: TorchScale())
    with pytest.raises(ValueError, match=r"has parameters \['0.scale'\], but its torch twin has \['0.weight'\]"):
        twin_of(manual.Sequential(Scale()))


def test_twins_of_builds_both_and_zero_grad_clears_both():
    twins = Twins.of(manual.Sequential(manual.Linear(2, 1, dtype=torch.float64)), manual.MSELoss())
    x, y = torch.ones(3, 2, dtype=torch.float64), torch.zeros(3, 1, dtype=torch.float64)
    twins.manual_loss(twins.manual_net(x), y)
    twins.manual_net.backward(twins.manual_loss.backward())
    twins.torch_loss(twins.torch_net(x), y).backward()
    twins.zero_grad()
    assert all(p.grad is None for _, p, _ in twins.named_parameters())
    assert all(q.grad is None for _, _, q in twins.named_parameters())


def test_linear_twins_at_start_at_the_given_weight_and_agree():
    from toolkit import manual
    from toolkit.twins import linear_twins_at

    twins = linear_twins_at([[-5.0, -2.0]], manual.MSELoss())
    assert torch.equal(twins.manual_net[0].weight, torch.tensor([[-5.0, -2.0]], dtype=torch.float64))
    assert torch.equal(twins.torch_net[0].weight.detach(), twins.manual_net[0].weight)
    assert twins.manual_net[0].bias is None
    with pytest.raises(ValueError, match="shape"):
        linear_twins_at([1.0, 2.0])


@pytest.mark.parametrize("dtype", [torch.complex128, torch.complex64, torch.int64])
def test_make_twins_refuses_a_dtype_the_twins_cannot_share(dtype):
    # complex128 left the torch twin silently float32, and training then failed with a dtype error
    with pytest.raises(ValueError, match="^make_twins: dtype must be a real floating-point dtype"):
        make_twins([2, 3], "tanh", dtype=dtype)


def test_twin_of_refuses_a_complex_network():
    layer = manual.Linear(2, 3).to(dtype=torch.float64)
    layer.weight = layer.weight.to(torch.complex128)
    with pytest.raises(ValueError, match="complex128 tensors; the twins are real networks"):
        twin_of(layer)


def test_chain_twins_at_starts_both_twins_at_the_given_weights():
    from toolkit.twins import chain_twins_at

    twins = chain_twins_at(0.8, -0.6)
    x = torch.linspace(-1, 1, 5).reshape(5, 1)
    for net in (twins.manual_net, twins.torch_net):
        assert [net[k].weight.item() for k in (0, 1)] == [0.8, -0.6]
        torch.testing.assert_close(net(x).detach(), -0.6 * (0.8 * x))
