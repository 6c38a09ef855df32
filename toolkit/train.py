"""One training loop for every lesson: both twins, the same batches, side by side."""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field

import torch
from torch import nn
from tqdm.auto import tqdm

from toolkit import manual
from toolkit.errors import UsageError
from toolkit.gradient_check import TWIN_TOLERANCE
from toolkit.landscape import flatten
from toolkit.optim import SGD

DIVERGENCE_FACTOR = 1e12


@dataclass
class History:
    """What happened at every step of one run.

    Step k evaluates the loss and the gradients at theta_k and then moves to
    theta_{k+1}. So ``loss_manual[k]`` is the loss at theta_k, and the path
    holds theta_0 ... theta_K (one row more than the losses).
    """

    lr: float
    loss_manual: list[float] = field(default_factory=list)
    loss_autograd: list[float] = field(default_factory=list)
    grad_diff: list[dict[str, float]] = field(default_factory=list)   # per step: max |g_manual - g_autograd| per parameter
    twins_agree: bool = True          # every step, every parameter allclose (float64: rtol 1e-10)
    path_manual: torch.Tensor | None = None     # (K + 1, P), float64 on the CPU
    path_autograd: torch.Tensor | None = None
    diverged: bool = False
    diverged_at_step: int | None = None
    final_loss_manual: float = math.nan       # full-data loss at the last parameters
    final_loss_autograd: float = math.nan

    @property
    def steps(self) -> int:
        """How many updates were taken (fewer than asked if the run diverged)."""
        return len(self.grad_diff)

    def path_losses(self) -> tuple[list[float], list[float]]:
        """The loss at every point of the path (manual, autograd): K + 1 values each.

        With full-batch training these are exactly the losses the twins saw,
        plus the loss at the final parameters (unless the run diverged, when
        the last recorded loss already belongs to the last point).
        """
        if self.diverged:
            return list(self.loss_manual), list(self.loss_autograd)
        return self.loss_manual + [self.final_loss_manual], self.loss_autograd + [self.final_loss_autograd]

    @property
    def max_abs_grad_diff(self) -> float:
        return max((max(d.values()) for d in self.grad_diff), default=0.0)


def check_data(name: str, tensor: torch.Tensor, like: torch.Tensor) -> None:
    """Refuse data that would silently poison training, naming the tensor."""
    if tensor.device != like.device:
        raise UsageError(f"{name} is on {tensor.device} but the model is on {like.device}; move them to the same device")
    if tensor.is_floating_point():
        if tensor.dtype != like.dtype:
            raise UsageError(f"{name} is {tensor.dtype} but the model is {like.dtype}; convert one to match")
        bad = int((~torch.isfinite(tensor)).sum())
        if bad:
            raise UsageError(f"{name} contains {bad} NaN or inf value(s); training needs finite data")


def train(
    manual_net: manual.Module,
    torch_net: nn.Module,
    manual_loss,
    torch_loss,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    steps: int,
    lr: float,
    batch_size: int | None = None,
    seed: int = 0,
    momentum: float = 0.0,
    dampening: float = 0.0,
    weight_decay: float = 0.0,
    nesterov: bool = False,
    divergence_factor: float = DIVERGENCE_FACTOR,
    quiet: bool = False,
    desc: str = "training",
) -> History:
    """Train the hand-written network and its torch twin in lockstep.

    Each step, both networks see the same batch (the full data when
    ``batch_size`` is None, else a shuffled mini-batch from one seeded
    generator), compute their loss and gradients (by hand and by autograd)
    and take one step of our SGD. The run stops early, and is marked
    diverged, as soon as a loss is NaN/inf or exceeds ``divergence_factor``
    times the first loss.
    """
    if steps < 1:
        raise UsageError(f"steps must be at least 1, got {steps}")
    first = next(iter(torch_net.parameters()))
    check_data("x", x, first)
    check_data("y", y, first)

    manual_opt = SGD(manual_net.parameters(), lr=lr, momentum=momentum, dampening=dampening,
                     weight_decay=weight_decay, nesterov=nesterov)
    torch_opt = SGD(torch_net.parameters(), lr=lr, momentum=momentum, dampening=dampening,
                    weight_decay=weight_decay, nesterov=nesterov)
    rtol, atol = TWIN_TOLERANCE[first.dtype]
    names = [name for name, _ in torch_net.named_parameters()]
    batches = _batches(len(x), batch_size, seed, x.device)

    history = History(lr=lr)
    path_manual = [flatten(manual_net.named_parameters())]
    path_autograd = [flatten(torch_net.named_parameters())]
    bound = math.inf
    show = not quiet and sys.stdout.isatty()
    for step in tqdm(range(steps), desc=desc, disable=not show, leave=False):
        index = next(batches)
        xb, yb = (x, y) if index is None else (x[index], y[index])

        manual_opt.zero_grad()
        torch_opt.zero_grad()
        loss_m = manual_loss(manual_net(xb), yb)
        loss_t = torch_loss(torch_net(xb), yb)
        value_m, value_t = float(loss_m), float(loss_t.detach())
        history.loss_manual.append(value_m)
        history.loss_autograd.append(value_t)
        if step == 0 and value_m > 0:
            bound = divergence_factor * value_m
        if not (math.isfinite(value_m) and math.isfinite(value_t)) or max(value_m, value_t) > bound:
            history.diverged, history.diverged_at_step = True, step
            break

        # Hand-written backward (the data needs no gradient) and autograd's.
        manual_net.backward(manual_loss.backward(), input_grad=False)
        loss_t.backward()

        diffs = {}
        for name, pm, pt in zip(names, manual_net.parameters(), torch_net.parameters()):
            diffs[name] = float((pm.grad - pt.grad).abs().max())
            if history.twins_agree and not torch.allclose(pm.grad, pt.grad, rtol=rtol, atol=atol):
                history.twins_agree = False
        history.grad_diff.append(diffs)

        manual_opt.step()
        torch_opt.step()
        path_manual.append(flatten(manual_net.named_parameters()))
        path_autograd.append(flatten(torch_net.named_parameters()))

    history.path_manual = torch.stack(path_manual).to("cpu", torch.float64)
    history.path_autograd = torch.stack(path_autograd).to("cpu", torch.float64)
    if history.diverged:
        history.final_loss_manual = history.loss_manual[-1]
        history.final_loss_autograd = history.loss_autograd[-1]
    else:
        with torch.no_grad():
            history.final_loss_manual = float(manual_loss(manual_net(x), y))
            history.final_loss_autograd = float(torch_loss(torch_net(x), y))
    return history


def _batches(n: int, batch_size: int | None, seed: int, device: torch.device):
    """Yield batch indices forever: None (the full batch) or shuffled mini-batches.

    One CPU generator seeded once drives the shuffling, so a seed gives the
    same batches on every device.
    """
    if batch_size is None or batch_size >= n:
        while True:
            yield None
    generator = torch.Generator().manual_seed(seed)
    while True:
        order = torch.randperm(n, generator=generator).to(device)
        for start in range(0, n - batch_size + 1, batch_size):
            yield order[start:start + batch_size]
