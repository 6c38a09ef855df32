"""Many runs of one network at once: settings x seeds, batched with ``torch.func.vmap``.

The twins check one run step by step. A claim that one method beats another
needs more: several seeds (a new start, a new draw of the data, a new split
and new batches each), and often several learning rates. ``sweep`` trains the
torch.nn twin alone for every (setting, seed) pair, all in one batched
forward and backward pass per step:

    for each step:
        every member's batch                      (the batches ``train`` would draw for its seed)
        loss and gradient of every member         (vmap over grad of torch.func.functional_call)
        each setting's optimiser steps its members (our hand-written optimisers, on stacked tensors)

Our optimisers work element by element, so one optimiser stepping a stack of
S copies of a parameter takes exactly the S steps the S runs would take on
their own. A sweep that includes the lesson's own seed can be held against
the twins' run with the same seed: the lesson compares the two end points
(they agree to rounding), which is what makes the other seeds' numbers worth
reading.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn
from torch.func import functional_call, grad_and_value, stack_module_state, vmap

from toolkit.parameters import unflatten
from toolkit.train import DIVERGENCE_FACTOR, _batches

Setting = tuple[Callable[..., torch.optim.Optimizer], dict]    # (optimiser class, its options, lr included)


@dataclass
class Sweep:
    """What a sweep did: M = len(settings) x len(seeds) members, setting by setting, seeds inside.

    params, buffers: each name's final values, stacked (M, ...). losses: (M, T) the loss of every
    member's batch at every step; a member that diverged holds NaN from the step it did on.
    optimizers: setting -> the optimiser that stepped its members (its state is stacked too).
    """

    settings: list[Hashable]
    seeds: list[int]
    params: dict[str, Tensor]
    buffers: dict[str, Tensor]
    losses: Tensor
    optimizers: dict[Hashable, torch.optim.Optimizer]
    base: nn.Module = field(repr=False)
    loss: Callable[[Tensor, Tensor], Tensor] = field(repr=False)

    def index(self, setting: Hashable, seed: int) -> int:
        """The row of (setting, seed) in every stacked tensor."""
        return self.settings.index(setting) * len(self.seeds) + self.seeds.index(seed)

    def final(self, setting: Hashable, seed: int) -> Tensor:
        """The member's final parameters as one vector, in the order of ``toolkit.parameters.flatten``."""
        row = self.index(setting, seed)
        return torch.cat([value[row].reshape(-1) for value in self.params.values()])

    @property
    def diverged(self) -> Tensor:
        """(len(settings), len(seeds)) bool: the members whose loss left the finite numbers."""
        return ~torch.isfinite(self.losses).all(dim=1).reshape(len(self.settings), len(self.seeds))

    def evaluate(self, data: Callable[[int], tuple[Tensor, Tensor]]) -> tuple[Tensor, Tensor]:
        """Loss and accuracy of every member on ``data(seed)``, in evaluation mode (running statistics).

        Returns two (len(settings), len(seeds)) tensors. A member that diverged gets NaN for both.
        """
        xs, ys = _stacked(data, self.seeds)
        rows = torch.arange(len(self.settings) * len(self.seeds), device=xs.device) % len(self.seeds)
        self.base.eval()

        def measure(params, buffers, x, y):
            out = functional_call(self.base, (params, buffers), (x,))
            return self.loss(out, y), (out.argmax(dim=1) == y).to(out.dtype).mean()

        with torch.no_grad():
            loss, accuracy = vmap(measure)(self.params, self.buffers, xs[rows], ys[rows])
        self.base.train()
        shape = (len(self.settings), len(self.seeds))
        bad = self.diverged.reshape(-1)
        return (torch.where(bad, math.nan, loss).reshape(shape),
                torch.where(bad, math.nan, accuracy).reshape(shape))


def _stacked(data: Callable[[int], tuple[Tensor, Tensor]], seeds: Sequence[int]) -> tuple[Tensor, Tensor]:
    pairs = [data(seed) for seed in seeds]
    return torch.stack([x for x, _ in pairs]), torch.stack([y for _, y in pairs])


def sweep(
    build: Callable[[Hashable, int], nn.Module],
    data: Callable[[int], tuple[Tensor, Tensor]],
    settings: dict[Hashable, Setting],
    *,
    seeds: Sequence[int],
    steps: int,
    batch_size: int | None = None,
    loss: Callable[[Tensor, Tensor], Tensor] = nn.functional.cross_entropy,
    divergence_factor: float = DIVERGENCE_FACTOR,
) -> Sweep:
    """Train ``build(setting, seed)`` on ``data(seed)`` for every setting and seed at once.

    build: a torch.nn module per member, all of one architecture; data: the
    training inputs and targets of a seed, (n, ...) and (n,), the same n
    for every seed; settings: name -> (optimiser class, options with
    ``lr``). Each setting's seeds are one tensor (S, P), a row per seed
    holding its parameters as one vector (``toolkit.parameters.flatten``),
    stepped by one optimiser. Batches are drawn per seed exactly as
    ``toolkit.train.train`` draws them, so a member is the run ``train``
    would make with that seed (the torch twin's half of it). A member whose
    loss is not finite or exceeds ``divergence_factor`` times its first
    loss is marked diverged; it goes on as NaN and harms no other member.
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"sweep: steps must be a whole number >= 1, got {steps!r}")
    seeds, names = list(seeds), list(settings)
    if not seeds or not names:
        raise ValueError("sweep: give at least one seed and one setting")
    xs, ys = _stacked(data, seeds)
    members = [build(name, seed) for name in names for seed in seeds]
    base = copy.deepcopy(members[0]).to("meta")
    like = dict(base.named_parameters())
    params, buffers = stack_module_state(members)
    flat = torch.cat([value.detach().reshape(len(members), -1) for value in params.values()], dim=1)
    count = len(seeds)
    rows = {name: slice(i * count, (i + 1) * count) for i, name in enumerate(names)}
    leaves = {name: flat[rows[name]].clone() for name in names}        # (S, P) per setting
    optimizers = {name: optimizer([leaves[name]], **options) for name, (optimizer, options) in settings.items()}

    def batch_loss(vector, member_buffers, x, y):
        return loss(functional_call(base, (unflatten(vector, like), member_buffers), (x,)), y)

    step_all = vmap(grad_and_value(batch_loss))
    batches = [_batches(xs.shape[1], batch_size, seed, xs.device) for seed in seeds]
    seed_of = torch.arange(len(members), device=xs.device) % count
    losses, bound = [], None
    for _ in range(steps):
        index = [next(b) for b in batches]
        if index[0] is None:
            xb, yb = xs, ys
        else:
            picked = torch.arange(count, device=xs.device)[:, None]
            xb, yb = xs[picked, torch.stack(index)], ys[picked, torch.stack(index)]
        grads, values = step_all(torch.cat([leaves[name] for name in names]), buffers, xb[seed_of], yb[seed_of])
        bound = torch.where(values > 0, divergence_factor * values, math.inf) if bound is None else bound
        losses.append(torch.where(torch.isfinite(values) & (values <= bound), values, math.nan))
        for name in names:
            leaves[name].grad = grads[rows[name]]
            optimizers[name].step()
    history = torch.stack(losses, dim=1)
    history = torch.where(torch.isnan(history).cummax(dim=1).values, math.nan, history)
    final = unflatten(torch.cat([leaves[name] for name in names]), like)
    return Sweep(names, seeds, final, buffers, history, optimizers, base, loss)
