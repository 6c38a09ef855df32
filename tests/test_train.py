"""The training loop: both twins in lockstep, divergence caught, bad data refused."""

import math

import pytest
import torch
from torch import nn

from toolkit import data, manual
from toolkit.errors import UsageError
from toolkit.train import train
from toolkit.twins import make_twins


def _line(device, dtype=torch.float64, n=40):
    return data.noisy_line(n=n, seed=1, device=device, dtype=dtype)


def test_twins_agree_at_every_step_full_batch(device):
    x, y = _line(device)
    by_hand, reference = make_twins([1, 1], seed=2, device=device)
    history = train(by_hand, reference, manual.MSELoss(), nn.MSELoss(), x, y, steps=30, lr=0.1, quiet=True)
    assert history.steps == 30 and not history.diverged
    assert history.twins_agree
    assert history.max_abs_grad_diff <= 1e-12
    assert history.loss_manual == pytest.approx(history.loss_autograd, rel=1e-12, abs=0)
    assert history.path_manual.shape == (31, 2) and history.path_manual.device.type == "cpu"
    torch.testing.assert_close(history.path_manual, history.path_autograd, rtol=1e-12, atol=1e-12)
    # Training must actually have reduced the loss.
    assert history.final_loss_manual < 0.5 * history.loss_manual[0]


@pytest.mark.parametrize("options", [
    {"batch_size": 8},
    {"batch_size": 7, "momentum": 0.9, "nesterov": True},
    {"batch_size": 16, "momentum": 0.5, "dampening": 0.3, "weight_decay": 1e-2},
])
def test_twins_agree_on_mlp_with_minibatches_and_momentum(device, options):
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(48, 3, generator=generator).to(device)
    y = torch.randint(0, 4, (48,), generator=generator).to(device)
    by_hand, reference = make_twins([3, 8, 8, 4], "tanh", seed=4, device=device)
    history = train(by_hand, reference, manual.CrossEntropyLoss(), nn.CrossEntropyLoss(), x, y,
                    steps=25, lr=0.2, quiet=True, **options)
    assert history.twins_agree and history.max_abs_grad_diff < 1e-12
    torch.testing.assert_close(history.path_manual, history.path_autograd, rtol=1e-10, atol=1e-12)
    assert history.final_loss_manual < history.loss_manual[0]


def test_minibatches_come_from_the_seed():
    x, y = _line("cpu")

    def run(seed):
        by_hand, reference = make_twins([1, 1], seed=0)
        return train(by_hand, reference, manual.MSELoss(), nn.MSELoss(), x, y, steps=10, lr=0.1,
                     batch_size=5, seed=seed, quiet=True).loss_manual

    assert run(3) == run(3)
    assert run(3) != run(4)


def test_divergence_stops_cleanly_and_is_reported():
    x, y = _line("cpu")
    by_hand, reference = make_twins([1, 1], seed=0)
    history = train(by_hand, reference, manual.MSELoss(), nn.MSELoss(), x, y, steps=500, lr=2.0, quiet=True)
    assert history.diverged
    assert history.diverged_at_step == history.steps < 500
    assert history.loss_manual[-1] > 1e12 * history.loss_manual[0]
    assert all(math.isfinite(v) for v in history.loss_manual[:-1])
    assert history.path_manual.shape[0] == history.steps + 1
    assert len(history.path_losses()[0]) == history.path_manual.shape[0]


def test_non_finite_loss_counts_as_divergence():
    x, y = _line("cpu")
    by_hand, reference = make_twins([1, 1], seed=0)
    history = train(by_hand, reference, manual.MSELoss(), nn.MSELoss(), x, y, steps=2000, lr=2.0,
                    divergence_factor=math.inf, quiet=True)
    assert history.diverged and not math.isfinite(history.loss_manual[-1])


def test_nan_in_data_is_refused_with_the_tensors_name():
    x, y = _line("cpu")
    y[3, 0] = math.nan
    by_hand, reference = make_twins([1, 1])
    with pytest.raises(UsageError, match=r"^y contains 1 NaN or inf"):
        train(by_hand, reference, manual.MSELoss(), nn.MSELoss(), x, y, steps=1, lr=0.1)
    x[0, 0] = math.inf
    with pytest.raises(UsageError, match=r"^x contains"):
        train(by_hand, reference, manual.MSELoss(), nn.MSELoss(), x, y, steps=1, lr=0.1)


def test_dtype_mismatch_names_both():
    x, y = _line("cpu", dtype=torch.float32)
    by_hand, reference = make_twins([1, 1])
    with pytest.raises(UsageError, match=r"x is torch.float32 but the model is torch.float64"):
        train(by_hand, reference, manual.MSELoss(), nn.MSELoss(), x, y, steps=1, lr=0.1)


def test_device_mismatch_names_both():
    x, y = _line("cpu")
    by_hand, reference = make_twins([1, 1], device="meta")
    with pytest.raises(UsageError, match=r"x is on cpu but the model is on meta"):
        train(by_hand, reference, manual.MSELoss(), nn.MSELoss(), x, y, steps=1, lr=0.1)


def test_steps_below_one_are_refused():
    x, y = _line("cpu")
    by_hand, reference = make_twins([1, 1])
    with pytest.raises(UsageError, match="steps must be at least 1"):
        train(by_hand, reference, manual.MSELoss(), nn.MSELoss(), x, y, steps=0, lr=0.1)


def test_hand_written_layer_names_both_dtypes_on_mismatch():
    from toolkit.manual import Linear

    layer = Linear(2, 3, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"input is torch.float32 on cpu, but the weight is torch.float64 on cpu"):
        layer(torch.ones(4, 2, dtype=torch.float32))
