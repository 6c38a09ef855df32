"""One call builds the same network twice: by hand and with torch.nn."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from toolkit import manual

ACTIVATIONS = {
    "relu": (manual.ReLU, nn.ReLU),
    "tanh": (manual.Tanh, nn.Tanh),
    "sigmoid": (manual.Sigmoid, nn.Sigmoid),
}


def make_twins(
    sizes: Sequence[int],
    activation: str | None = None,
    bias: bool = True,
    seed: int = 0,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float64,
) -> tuple[manual.Sequential, nn.Sequential]:
    """Build a hand-written network and its torch.nn twin with identical parameters.

    sizes: layer widths [in, hidden..., out]; a Linear joins each pair and
    ``activation`` ("relu", "tanh", "sigmoid" or None) follows every Linear
    but the last. Both networks have the same layer indices, so their
    parameters carry the same names ("0.weight", "0.bias", "2.weight", ...).

    The torch network is initialised from ``seed`` on the CPU (so every
    device starts from the same numbers), moved to ``device`` and ``dtype``,
    and its values are copied into the hand-written one. The global random
    state is left as it was.
    """
    if len(sizes) < 2:
        raise ValueError(f"make_twins: need at least [in, out] sizes, got {list(sizes)}")
    if activation is not None and activation not in ACTIVATIONS:
        raise ValueError(f"make_twins: unknown activation '{activation}', use one of {sorted(ACTIVATIONS)} or None")

    pairs = list(zip(sizes[:-1], sizes[1:]))
    device = torch.device(device)
    # Both constructors draw random numbers; keep the caller's random state untouched.
    cuda_devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=cuda_devices):
        torch.manual_seed(seed)
        torch_layers: list[nn.Module] = []
        for index, (fan_in, fan_out) in enumerate(pairs):
            torch_layers.append(nn.Linear(fan_in, fan_out, bias=bias, dtype=torch.float64))
            if activation is not None and index < len(pairs) - 1:
                torch_layers.append(ACTIVATIONS[activation][1]())
        manual_layers: list[manual.Module] = []
        for index, (fan_in, fan_out) in enumerate(pairs):
            manual_layers.append(manual.Linear(fan_in, fan_out, bias=bias, device=device, dtype=dtype))
            if activation is not None and index < len(pairs) - 1:
                manual_layers.append(ACTIVATIONS[activation][0]())

    reference = nn.Sequential(*torch_layers).to(device=device, dtype=dtype)
    twin = manual.Sequential(*manual_layers)
    with torch.no_grad():
        for (_, mine), (_, theirs) in zip(twin.named_parameters(), reference.named_parameters()):
            mine.copy_(theirs)
    return twin, reference
