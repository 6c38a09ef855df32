"""toolkit.data: the held-out split that the lessons share."""

import pytest
import torch

from toolkit import data


def test_split_is_a_seeded_permutation_cut_into_training_and_held_out():
    x, y = data.two_moons(n=400, noise=0.15, seed=3)
    (x_train, y_train), (x_held, y_held) = data.split(x, y, held_out=150, seed=3)
    assert len(x_train) == len(y_train) == 250 and len(x_held) == len(y_held) == 150
    # The same as cutting torch.randperm(N) with the seed: every sample exactly once.
    order = torch.randperm(400, generator=torch.Generator().manual_seed(3))
    assert torch.equal(x_train, x[order[:250]]) and torch.equal(y_held, y[order[250:]])
    again = data.split(x, y, held_out=150, seed=3)
    assert torch.equal(again[0][0], x_train) and torch.equal(again[1][1], y_held)
    other = data.split(x, y, held_out=150, seed=4)
    assert not torch.equal(other[0][0], x_train)


@pytest.mark.parametrize("held_out", [0, 400, 401, -1, 2.5, True])
def test_split_refuses_a_held_out_part_that_leaves_nothing(held_out):
    x, y = data.two_moons(n=400)
    with pytest.raises(ValueError, match="held_out"):
        data.split(x, y, held_out=held_out)


def test_split_refuses_x_and_y_of_different_lengths():
    x, y = data.two_moons(n=40)
    with pytest.raises(ValueError, match="same number"):
        data.split(x, y[:-1], held_out=10)
