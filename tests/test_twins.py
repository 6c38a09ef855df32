"""make_twins: two networks, one set of starting numbers."""

import pytest
import torch
from torch import nn

from toolkit import manual
from toolkit.twins import make_twins


def test_twins_have_identical_parameters_and_names(device):
    by_hand, reference = make_twins([3, 5, 4, 2], activation="tanh", seed=3, device=device)
    names_hand = [name for name, _ in by_hand.named_parameters()]
    names_ref = [name for name, _ in reference.named_parameters()]
    assert names_hand == names_ref == ["0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"]
    for mine, theirs in zip(by_hand.parameters(), reference.parameters()):
        assert torch.equal(mine, theirs.detach())
        assert mine.device.type == device and mine.dtype == torch.float64
        assert not mine.requires_grad and theirs.requires_grad


def test_layer_structure_mirrors_torch():
    by_hand, reference = make_twins([2, 4, 1], activation="relu", bias=False)
    assert [type(layer).__name__ for layer in by_hand] == ["Linear", "ReLU", "Linear"]
    assert [type(layer).__name__ for layer in reference] == ["Linear", "ReLU", "Linear"]
    assert isinstance(reference, nn.Sequential) and isinstance(by_hand, manual.Sequential)
    assert by_hand[0].bias is None and reference[0].bias is None


def test_same_seed_same_numbers_different_seed_different_numbers():
    a, _ = make_twins([3, 4, 1], "sigmoid", seed=7)
    b, _ = make_twins([3, 4, 1], "sigmoid", seed=7)
    c, _ = make_twins([3, 4, 1], "sigmoid", seed=8)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert not torch.equal(a[0].weight, c[0].weight)


def test_initialisation_matches_a_seeded_torch_network():
    by_hand, _ = make_twins([3, 4, 2], "tanh", seed=11)
    torch.manual_seed(11)
    plain = nn.Sequential(nn.Linear(3, 4, dtype=torch.float64), nn.Tanh(), nn.Linear(4, 2, dtype=torch.float64))
    for mine, theirs in zip(by_hand.parameters(), plain.parameters()):
        assert torch.equal(mine, theirs.detach())


def test_global_random_state_is_untouched():
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    make_twins([2, 3, 1], "relu", seed=5)
    assert torch.equal(torch.rand(3), expected)


def test_float32_twins():
    by_hand, reference = make_twins([2, 2], dtype=torch.float32)
    assert by_hand[0].weight.dtype == torch.float32 == reference[0].weight.dtype


@pytest.mark.parametrize("sizes, activation", [([3], None), ([2, 2], "gelu")])
def test_bad_specification_raises(sizes, activation):
    with pytest.raises(ValueError):
        make_twins(sizes, activation)
