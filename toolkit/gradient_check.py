"""Three witnesses for every gradient: the hand-written formula, autograd,
and central finite differences.

    finite difference:  dL/dtheta_k ~ (L(theta + h e_k) - L(theta - h e_k)) / (2h)

The two-sided difference is accurate to O(h^2); with h = 1e-6 in float64 the
truncation and rounding errors are both around 1e-10 of the gradient's size,
which is why the finite-difference columns use looser tolerances than the
manual-vs-autograd column (there, float64 agrees to about 1e-12).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn
from torch.func import functional_call, vmap

from toolkit import manual

# (rtol, atol) for torch.allclose, by what is being compared.
TWIN_TOLERANCE = {torch.float64: (1e-10, 1e-12), torch.float32: (1e-4, 1e-6)}
FD_TOLERANCE = {torch.float64: (1e-5, 1e-7), torch.float32: (1e-3, 1e-4)}
FD_STEP = 1e-6


@dataclass
class Comparison:
    """How two gradients of one parameter compare."""

    label: str          # e.g. "manual vs autograd"
    exact: bool         # bit-for-bit equal
    allclose: bool      # |a - b| <= atol + rtol |b| everywhere
    max_abs: float      # max |a - b|
    max_rel: float      # max |a - b| / max(|a|, |b|, 1e-12)


@dataclass
class ParameterReport:
    name: str
    shape: tuple[int, ...]
    comparisons: list[Comparison] = field(default_factory=list)


@dataclass
class GradientReport:
    """One row per parameter and comparison; ``ok`` when every pair is allclose."""

    rows: list[ParameterReport]
    dtype: torch.dtype
    title: str = "gradient check"

    @property
    def ok(self) -> bool:
        return all(c.allclose for row in self.rows for c in row.comparisons)

    @property
    def max_abs_twin_diff(self) -> float:
        return max(row.comparisons[0].max_abs for row in self.rows)

    def __str__(self) -> str:
        header = f"{'parameter':<10} {'shape':<9} {'comparison':<23} {'exact':>5} {'close':>5} {'max|diff|':>10} {'max rel':>9}"
        lines = [f"{self.title} ({str(self.dtype).removeprefix('torch.')})", header, "-" * len(header)]
        for row in self.rows:
            for i, c in enumerate(row.comparisons):
                name = row.name if i == 0 else ""
                shape = str(tuple(row.shape)).replace(" ", "") if i == 0 else ""
                lines.append(
                    f"{name:<10} {shape:<9} {c.label:<23} {_yes(c.exact).lower():>5} {_yes(c.allclose):>5} "
                    f"{c.max_abs:>10.1e} {c.max_rel:>9.1e}"
                )
        verdict = "all gradients agree" if self.ok else "GRADIENTS DISAGREE"
        lines.append(f"=> {verdict}")
        return "\n".join(lines)


def _yes(flag: bool) -> str:
    return "yes" if flag else "NO"


def compare(label: str, a: torch.Tensor, b: torch.Tensor, rtol: float, atol: float) -> Comparison:
    """Compare gradient ``a`` with reference ``b`` (both moved to float64 on the CPU)."""
    a = a.detach().to("cpu", torch.float64)
    b = b.detach().to("cpu", torch.float64)
    diff = (a - b).abs()
    scale = torch.maximum(a.abs(), b.abs()).clamp_min(1e-12)
    return Comparison(
        label=label,
        exact=bool(torch.equal(a, b)),
        allclose=bool(torch.allclose(a, b, rtol=rtol, atol=atol)),
        max_abs=float(diff.max()) if diff.numel() else 0.0,
        max_rel=float((diff / scale).max()) if diff.numel() else 0.0,
    )


def manual_gradients(net: manual.Module, loss_fn, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
    """dL/dparam from the hand-written backward pass, on a fresh zero_grad."""
    net.zero_grad()
    loss_fn(net(x), y)
    net.backward(loss_fn.backward())
    grads = {name: p.grad.clone() for name, p in net.named_parameters()}
    net.zero_grad()
    return grads


def autograd_gradients(net: nn.Module, loss_fn, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
    """dL/dparam from torch.autograd."""
    net.zero_grad()
    loss_fn(net(x), y).backward()
    grads = {name: p.grad.clone() for name, p in net.named_parameters()}
    net.zero_grad()
    return grads


def finite_difference_gradients(
    net: nn.Module, loss_fn, x: torch.Tensor, y: torch.Tensor, h: float = FD_STEP, chunk_size: int = 256
) -> dict[str, torch.Tensor]:
    """Central differences in float64, one parameter entry at a time.

    Every entry k needs L(theta + h e_k) and L(theta - h e_k). Instead of a
    Python loop over k, torch.func.vmap evaluates a whole chunk of perturbed
    parameter sets in one batched call; the network itself is never touched.
    """
    params = {name: p.detach().to(torch.float64) for name, p in net.named_parameters()}
    x64 = x.to(torch.float64)
    y64 = y.to(torch.float64) if y.is_floating_point() else y

    grads = {}
    for name, value in params.items():
        def loss_at(entry_value: torch.Tensor) -> torch.Tensor:
            moved = dict(params)
            moved[name] = entry_value
            return loss_fn(functional_call(net, moved, (x64,)), y64)

        n = value.numel()
        flat_grad = torch.empty(n, dtype=torch.float64, device=value.device)
        for start in range(0, n, chunk_size):
            k = torch.arange(start, min(start + chunk_size, n), device=value.device)
            bumps = torch.zeros(len(k), n, dtype=torch.float64, device=value.device)
            bumps[torch.arange(len(k)), k] = h
            bumps = bumps.view(len(k), *value.shape)
            plus = vmap(loss_at)(value + bumps)
            minus = vmap(loss_at)(value - bumps)
            flat_grad[k] = (plus - minus) / (2 * h)
        grads[name] = flat_grad.view(value.shape)
    return grads


def gradient_report(
    manual_net: manual.Module,
    torch_net: nn.Module,
    manual_loss,
    torch_loss,
    x: torch.Tensor,
    y: torch.Tensor,
    title: str = "gradient check",
) -> GradientReport:
    """Compare the three witnesses for every parameter of the twin networks.

    Both networks must hold the same parameter values (``make_twins`` does
    this). The finite differences always run in float64, whatever the
    networks' dtype, so they stay a trustworthy reference.
    """
    dtype = next(manual_net.parameters()).dtype
    twin_rtol, twin_atol = TWIN_TOLERANCE[dtype]
    fd_rtol, fd_atol = FD_TOLERANCE[dtype]
    by_hand = manual_gradients(manual_net, manual_loss, x, y)
    by_autograd = autograd_gradients(torch_net, torch_loss, x, y)
    by_differences = finite_difference_gradients(torch_net, torch_loss, x, y)

    rows = []
    for name, param in torch_net.named_parameters():
        rows.append(ParameterReport(name, tuple(param.shape), [
            compare("manual vs autograd", by_hand[name], by_autograd[name], twin_rtol, twin_atol),
            compare("manual vs finite diff", by_hand[name], by_differences[name], fd_rtol, fd_atol),
            compare("autograd vs finite diff", by_autograd[name], by_differences[name], fd_rtol, fd_atol),
        ]))
    return GradientReport(rows, dtype, title)


def accumulation_report(
    manual_net: manual.Module,
    torch_net: nn.Module,
    manual_loss,
    torch_loss,
    batches: list[tuple[torch.Tensor, torch.Tensor]],
    title: str = "accumulation check",
) -> GradientReport:
    """Several backward passes with no zero_grad in between: .grad must hold their SUM.

    A single backward after zero_grad cannot tell ``grad = g`` from
    ``grad += g``; this check can. The hand-written total is compared with
    autograd doing the same, one row per parameter.
    """
    dtype = next(manual_net.parameters()).dtype
    rtol, atol = TWIN_TOLERANCE[dtype]
    manual_net.zero_grad()
    torch_net.zero_grad()
    for x, y in batches:
        manual_loss(manual_net(x), y)
        manual_net.backward(manual_loss.backward())
        torch_loss(torch_net(x), y).backward()
    rows = [
        ParameterReport(name, tuple(theirs.shape), [compare("manual vs autograd", mine.grad, theirs.grad, rtol, atol)])
        for (name, mine), (_, theirs) in zip(manual_net.named_parameters(), torch_net.named_parameters())
    ]
    manual_net.zero_grad()
    torch_net.zero_grad()
    return GradientReport(rows, dtype, title)
