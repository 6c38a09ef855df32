"""The one recorded training loop: both twins, the same batches, side by side.

This is the loop that lesson 01 writes out by hand (forward, loss, backward,
step), with the record keeping added: at every step it stores both losses,
the largest gradient difference per parameter and where both twins stand.

    for each step:
        zero_grad                      (both twins)
        loss = loss_fn(net(x), y)      (both twins, the same batch, the same random draws)
        backward                       (by hand / by autograd)
        compare the gradients          (they must agree)
        clip_grad_norm_                (if asked: each twin's gradients, to max_grad_norm)
        optimizer.step()               (each twin has its own optimiser; one whose step
                                        needs a closure, L-BFGS, gets one per twin)
        scheduler.step()               (if there is one)
"""

from __future__ import annotations

import inspect
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from tqdm import tqdm   # plain text bars in a terminal; in a notebook see _progress

from toolkit.gradient_check import tolerances
from toolkit.optim import SGD, clip_grad_norm_, grad_norm
from toolkit.parameters import buffers_kept, flatten
from toolkit.randomness import random_state_kept
from toolkit.twins import Twins

DIVERGENCE_FACTOR = 1e12


@dataclass
class History:
    """What happened at every step of one run.

    Step k evaluates the loss and the gradients at theta_k and then moves to
    theta_{k+1}. So ``loss_manual[k]`` is the loss at theta_k, and the path
    holds theta_0 ... theta_K (one row more than the losses). The paths stay
    on the twins' device, in their dtype; plotting converts them.
    """

    lr: float                                  # the rate it was given (a scheduler's base rate; each step's: lrs)
    loss_manual: list[float] = field(default_factory=list)
    loss_autograd: list[float] = field(default_factory=list)
    lrs: list[float] = field(default_factory=list)                    # per step, as a scheduler set it
    grad_diff: list[dict[str, float]] = field(default_factory=list)   # per step: max |g_manual - g_autograd| per parameter
    grad_norms: list[float] = field(default_factory=list)   # per step: the hand-written gradient's 2-norm, before clipping
    disagreeing_steps: list[int] = field(default_factory=list)   # steps where some parameter's twins were not allclose
    path_manual: torch.Tensor | None = None     # (K + 1, P)
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
    def twins_agree(self) -> bool:
        """At every step, every parameter's two gradients allclose (float64: rtol 1e-10)."""
        return not self.disagreeing_steps

    def agreement(self) -> str:
        """What the comparison found, in words: "agree at all 100 steps", or where they did not."""
        if self.twins_agree:
            return f"agree at all {self.steps} steps"
        bad = self.disagreeing_steps
        return (f"DISAGREE at {len(bad)} of {self.steps} steps (first at step {bad[0]}"
                + (f", last at step {bad[-1]})" if len(bad) > 1 else ")"))

    @property
    def max_abs_grad_diff(self) -> float:
        return max((max(d.values()) for d in self.grad_diff), default=0.0)


def check_data(name: str, tensor: torch.Tensor, like: torch.Tensor) -> None:
    """Refuse data that would silently poison training, naming the tensor."""
    if tensor.device != like.device:
        raise ValueError(f"{name} is on {tensor.device} but the model is on {like.device}; move them to the same device")
    if tensor.is_floating_point():
        if tensor.dtype != like.dtype:
            raise ValueError(f"{name} is {tensor.dtype} but the model is {like.dtype}; convert one to match")
        bad = int((~torch.isfinite(tensor)).sum())
        if bad:
            raise ValueError(f"{name} contains {bad} NaN or inf value(s); training needs finite data")


def train(
    twins: Twins,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    steps: int,
    lr: float | None = None,
    optimizer: Callable[..., torch.optim.Optimizer] = SGD,
    scheduler: Callable[[torch.optim.Optimizer], object] | None = None,
    batch_size: int | None = None,
    max_grad_norm: float | None = None,
    seed: int = 0,
    divergence_factor: float = DIVERGENCE_FACTOR,
    quiet: bool = False,
    desc: str = "training",
    **options,
) -> History:
    """Train the hand-written network and its torch twin in lockstep.

    optimizer: a class from ``toolkit.optim`` (default: our SGD), called as
        ``optimizer(params, lr=lr, **options)`` once for each twin, so both
        get their own instance with identical settings; or any factory
        ``params -> Optimizer`` (then leave out ``lr`` and ``options``).
    scheduler: optional factory ``optimizer -> scheduler``, for example
        ``lambda opt: torch.optim.lr_scheduler.StepLR(opt, step_size=10)``;
        each twin's optimiser gets one, stepped after every update.
    max_grad_norm: if given, each twin's gradients are clipped to this total
        2-norm (``toolkit.optim.clip_grad_norm_``) after they are compared
        and before the step. Every run records the norm before clipping
        (``History.grad_norms``).

    An optimiser whose ``step(closure)`` cannot be called without a closure
    (``toolkit.optim.LBFGS``, torch.optim.LBFGS) gets one for each twin,
    which evaluates that twin again on the step's batch (zero_grad, forward,
    backward; it returns the loss): such an optimiser calls it as often as it
    needs within one step. The loop's own evaluation at the start of each
    step, which is recorded and compared, is not counted among them.

    Each step, both networks see the same batch (the full data when
    ``batch_size`` is None, else a shuffled mini-batch from one seeded
    generator), compute their loss and gradients (by hand and by autograd)
    and take one optimiser step. The run stops early, and is marked
    diverged, as soon as a loss is NaN/inf or exceeds ``divergence_factor``
    times the first loss. The twins' mode (train or eval) is left as given.
    Both forward passes of a step start from the same state of the random
    generator, so a random layer (dropout) draws the same numbers in both
    twins; the generator then moves on as if one network had drawn.
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a whole number >= 1, got {steps!r}")
    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1):
        raise ValueError(f"batch_size must be None (the full batch) or a whole number >= 1, got {batch_size!r}")
    if max_grad_norm is not None and (isinstance(max_grad_norm, bool) or not isinstance(max_grad_norm, (int, float))
                                      or not max_grad_norm > 0):
        raise ValueError(f"max_grad_norm must be None (no clipping) or a number > 0, got {max_grad_norm!r}")
    if len(x) == 0 or len(x) != len(y):
        raise ValueError(f"x and y must hold the same number of samples, at least one; got {len(x)} and {len(y)}")
    first = next(iter(twins.torch_net.parameters()), None)
    if first is None:
        raise ValueError("train: the network has no parameters, so there is nothing to train")
    check_data("x", x, first)
    check_data("y", y, first)

    if lr is not None:
        if isinstance(lr, (int, float)) and abs(lr) > torch.finfo(first.dtype).max:
            raise ValueError(f"lr = {lr:g} does not fit in {first.dtype} (largest {torch.finfo(first.dtype).max:.3g}); "
                             "use a smaller lr or float64")
        options = {"lr": lr, **options}
    optimizers = (optimizer(twins.manual_net.parameters(), **options),
                  optimizer(twins.torch_net.parameters(), **options))
    base_lr = float(optimizers[0].param_groups[0]["lr"])      # before a scheduler rewrites it (LinearLR at once)
    schedulers = [scheduler(opt) for opt in optimizers] if scheduler is not None else []
    closures = _needs_closure(optimizers[0])
    (rtol, atol), _ = tolerances(first.dtype)
    batches = _batches(len(x), batch_size, seed, x.device)

    history = History(lr=base_lr)
    path_manual = [flatten(twins.manual_net.named_parameters())]
    path_autograd = [flatten(twins.torch_net.named_parameters())]
    bound = math.inf
    for step in _progress(steps, desc, quiet):
        index = next(batches)
        xb, yb = (x, y) if index is None else (x[index], y[index])

        twins.zero_grad()
        with random_state_kept(x.device):          # the torch twin's forward below draws the same numbers
            loss_m = twins.manual_loss(twins.manual_net(xb), yb)
        loss_t = twins.torch_loss(twins.torch_net(xb), yb)
        value_m, value_t = float(loss_m), float(loss_t.detach())
        history.loss_manual.append(value_m)
        history.loss_autograd.append(value_t)
        if step == 0 and value_m > 0:
            bound = divergence_factor * value_m
        if not (math.isfinite(value_m) and math.isfinite(value_t)) or max(value_m, value_t) > bound:
            history.diverged, history.diverged_at_step = True, step
            break

        # Hand-written backward (the data needs no gradient) and autograd's.
        twins.manual_net.backward(twins.manual_loss.backward(), input_grad=False)
        loss_t.backward()

        diffs, agree = {}, True
        for name, pm, pt in twins.named_parameters():
            diffs[name] = float((pm.grad - pt.grad).abs().max())
            agree = agree and torch.allclose(pm.grad, pt.grad, rtol=rtol, atol=atol)
        history.grad_diff.append(diffs)
        if not agree:
            history.disagreeing_steps.append(step)
        history.grad_norms.append(float(grad_norm(p.grad for p in twins.manual_net.parameters() if p.grad is not None)))
        if max_grad_norm is not None:
            for net in (twins.manual_net, twins.torch_net):
                clip_grad_norm_(net.parameters(), max_grad_norm)

        history.lrs.append(float(optimizers[0].param_groups[0]["lr"]))   # a tensor lr too
        if closures:
            for opt, closure in zip(optimizers, twin_closures(twins, xb, yb)):
                opt.step(closure)
        else:
            for opt in optimizers:
                opt.step()
        for sched in schedulers:
            sched.step()
        path_manual.append(flatten(twins.manual_net.named_parameters()))
        path_autograd.append(flatten(twins.torch_net.named_parameters()))

    history.path_manual = torch.stack(path_manual)
    history.path_autograd = torch.stack(path_autograd)
    if history.diverged:
        history.final_loss_manual = history.loss_manual[-1]
        history.final_loss_autograd = history.loss_autograd[-1]
    else:
        # A measurement: it leaves the buffers and the random generator as they were.
        with torch.no_grad(), buffers_kept(twins.manual_net, twins.torch_net), random_state_kept(x.device) as rewind:
            history.final_loss_manual = float(twins.manual_loss(twins.manual_net(x), y))
            rewind()
            history.final_loss_autograd = float(twins.torch_loss(twins.torch_net(x), y))
    return history


def _needs_closure(optimizer: torch.optim.Optimizer) -> bool:
    """True for an optimiser whose ``step`` has no default for its closure (L-BFGS evaluates the loss itself)."""
    closure = inspect.signature(optimizer.step).parameters.get("closure")
    return closure is not None and closure.default is inspect.Parameter.empty


def twin_closures(twins: Twins, xb: torch.Tensor, yb: torch.Tensor) -> tuple[Callable, Callable]:
    """(by hand, by autograd): one closure per twin for ``optimizer.step(closure)``, returning its loss.

    They are what ``train`` gives an optimiser that needs a closure (L-BFGS
    calls it as often as it likes). Each call starts from zero gradients and
    runs forward, the loss and the backward pass (by hand, or by autograd)
    at the twin's current parameters.
    """
    def by_hand():
        twins.manual_net.zero_grad()
        loss = twins.manual_loss(twins.manual_net(xb), yb)
        twins.manual_net.backward(twins.manual_loss.backward(), input_grad=False)
        return loss

    def by_autograd():
        twins.torch_net.zero_grad()
        loss = twins.torch_loss(twins.torch_net(xb), yb)
        loss.backward()
        return loss

    return by_hand, by_autograd


def _progress(steps: int, desc: str, quiet: bool):
    """range(steps), with a progress bar that suits where it runs.

    In a terminal, tqdm's text bar (erased when done); in a Jupyter kernel,
    tqdm's notebook widget when ipywidgets is installed, else no bar at all:
    a text bar would fill the cell's output, and tqdm.auto without
    ipywidgets warns. Nowhere else (a pipe, a file, ``quiet``) a bar.
    """
    if quiet:
        return range(steps)
    if _in_kernel():
        import importlib.util
        import warnings

        if importlib.util.find_spec("ipywidgets") is None:
            return range(steps)
        from tqdm import TqdmWarning
        from tqdm.notebook import tqdm as notebook_tqdm

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", TqdmWarning)
                return notebook_tqdm(range(steps), desc=desc, leave=False)
        except ImportError:        # an ipywidgets too old for tqdm
            return range(steps)
    return tqdm(range(steps), desc=desc, disable=not sys.stdout.isatty(), leave=False)


def _in_kernel() -> bool:
    """True inside an IPython kernel (Jupyter, VS Code, Colab); as toolkit.lesson's check."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None and hasattr(ipython, "get_ipython") else None
    return getattr(shell, "kernel", None) is not None


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


def batch_indices(n: int, batch_size: int | None, seed: int, steps: int,
                  device: torch.device | str = "cpu") -> list[torch.Tensor | None]:
    """The batches ``train`` gives the twins at each of ``steps`` steps: index tensors (batch_size,), or None.

    None stands for the full batch (``batch_size`` None, or at least ``n``).
    With them, a computation outside ``train`` (many walkers at once under
    ``vmap``, say) can walk on exactly the twins' batches.
    """
    batches = _batches(n, batch_size, seed, torch.device(device))
    return [next(batches) for _ in range(steps)]
