"""Three witnesses for every gradient: the hand-written formula, autograd,
and central finite differences; and, layer by layer, where they part.

    finite difference:  dL/dtheta_k ~ (L(theta + h e_k) - L(theta - h e_k)) / (2h)

The two-sided difference is accurate to O(h^2); with h = 1e-6 in float64 the
truncation and rounding errors are both around 1e-10 of the gradient's size,
which is why the finite-difference columns use looser tolerances than the
manual-vs-autograd column (there, float64 agrees to about 1e-12).

Besides the parameters, the report compares dL/d(input of every layer) and
dL/d(network output), manual against autograd. Backpropagation computes them
from the loss backwards, so the first row to disagree in that order is the
layer whose backward is wrong: ``report.first_disagreement``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn
from torch.func import functional_call

from toolkit import manual
from toolkit.manual.module import grads_ready, handed_on
from toolkit.parameters import buffers_kept, vmap_or_loop
from toolkit.randomness import random_state_kept
from toolkit.twins import Twins

# (rtol, atol) for torch.allclose, by what is being compared.
TWIN_TOLERANCE = {torch.float64: (1e-10, 1e-12), torch.float32: (1e-4, 1e-6)}
FD_TOLERANCE = {torch.float64: (1e-5, 1e-7), torch.float32: (1e-3, 1e-4)}
FD_STEP = 1e-6


def tolerances(dtype: torch.dtype) -> tuple[tuple[float, float], tuple[float, float]]:
    """(rtol, atol) for manual vs autograd, and against finite differences, for ``dtype``."""
    if dtype not in TWIN_TOLERANCE:
        raise ValueError(f"gradient checks support float64 and float32 networks, not {dtype}")
    return TWIN_TOLERANCE[dtype], FD_TOLERANCE[dtype]

OUTPUT = "output"   # the key of dL/d(network output) among the layer gradients


@dataclass
class Comparison:
    """How two gradients of one tensor compare."""

    label: str          # e.g. "manual vs autograd"
    exact: bool         # bit-for-bit equal
    allclose: bool      # |a - b| <= atol + rtol |b| everywhere
    max_abs: float      # max |a - b|
    max_rel: float      # max |a - b| / max(|a|, |b|, 1e-12)


@dataclass
class Row:
    """The comparisons for one tensor: a parameter, or a layer's input or the network's output.

    layer: the index of the layer it belongs to (None for the network's
    output, which the loss's backward produces); where: e.g. "layer 2
    (Linear)" or "the loss (MSELoss)".
    """

    name: str
    shape: tuple[int, ...]
    layer: int | None
    where: str
    comparisons: list[Comparison] = field(default_factory=list)
    # The gradients themselves, for a diagnosis (toolkit.diagnose): the hand-written one, autograd's,
    # the finite differences' (parameters only), and the tensor this row is the gradient of (a layer's
    # input, the network's output, or the parameter).
    manual: torch.Tensor | None = field(default=None, repr=False, compare=False)
    autograd: torch.Tensor | None = field(default=None, repr=False, compare=False)
    differences: torch.Tensor | None = field(default=None, repr=False, compare=False)
    value: torch.Tensor | None = field(default=None, repr=False, compare=False)
    formula: torch.Tensor | None = field(default=None, repr=False, compare=False)   # see add_formulas

    @property
    def ok(self) -> bool:
        return all(c.allclose for c in self.comparisons)


@dataclass
class GradientReport:
    """One row per tensor; ``ok`` when every comparison is allclose."""

    rows: list[Row]
    dtype: torch.dtype
    title: str = "gradient check"
    # For a diagnosis: each layer's type ("Linear", "Tanh", ...) and, by layer index, the input it was given
    # (OUTPUT: the network's output), whether or not the report has a row for its gradient.
    layers: list[str] = field(default_factory=list, compare=False)
    values: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return all(row.ok for row in self.rows)

    @property
    def max_abs_twin_diff(self) -> float:
        return max((row.comparisons[0].max_abs for row in self.rows), default=0.0)

    @property
    def first_disagreement(self) -> str | None:
        """Where the disagreement starts, in the order backpropagation works: loss first, then the last layer.

        E.g. "layer 2 (Linear)" or "the loss (MSELoss)"; None when every row agrees.
        """
        bad = [row for row in self.rows if not row.ok]
        if not bad:
            return None
        return max(bad, key=lambda row: float("inf") if row.layer is None else row.layer).where

    def failed_labels(self) -> list[str]:
        """The comparison labels that fail in at least one row, in the report's order."""
        labels = []
        for row in self.rows:
            for c in row.comparisons:
                if not c.allclose and c.label not in labels:
                    labels.append(c.label)
        return labels

    def blames_manual(self) -> bool:
        """A hand-written gradient disagrees while autograd and the finite differences agree."""
        failed = self.failed_labels()
        return any(label.startswith("manual") for label in failed) and "autograd vs finite diff" not in failed

    def disagreeing(self) -> GradientReport:
        """The same report with only the rows that do not all agree."""
        return GradientReport([row for row in self.rows if not row.ok], self.dtype, self.title)

    def __str__(self) -> str:
        width = max([10] + [len(row.name) for row in self.rows])
        header = (f"{'tensor':<{width}} {'shape':<9} {'comparison':<23} {'exact':>5} {'close':>5} "
                  f"{'max|diff|':>10} {'max rel':>9}")
        lines = [f"{self.title} ({str(self.dtype).removeprefix('torch.')})", header, "-" * len(header)]
        for row in self.rows:
            for i, c in enumerate(row.comparisons):
                name = row.name if i == 0 else ""
                shape = str(tuple(row.shape)).replace(" ", "") if i == 0 else ""
                lines.append(
                    f"{name:<{width}} {shape:<9} {c.label:<23} {_yes(c.exact).lower():>5} {_yes(c.allclose):>5} "
                    f"{c.max_abs:>10.1e} {c.max_rel:>9.1e}"
                )
        where = self.first_disagreement
        lines.append("=> all gradients agree" if where is None else f"=> GRADIENTS DISAGREE; first disagreement: {where}")
        return "\n".join(lines)


def _yes(flag: bool) -> str:
    return "yes" if flag else "NO"


def compare(label: str, a: torch.Tensor, b: torch.Tensor, rtol: float, atol: float) -> Comparison:
    """Compare gradient ``a`` with reference ``b`` (both moved to float64 on the CPU).

    Gradients of different shapes (a hand-written dW transposed, say) disagree, by an infinite margin.
    """
    a = a.detach().to("cpu", torch.float64)
    b = b.detach().to("cpu", torch.float64)
    if a.shape != b.shape:
        return Comparison(label=label, exact=False, allclose=False, max_abs=float("inf"), max_rel=float("inf"))
    diff = (a - b).abs()
    scale = torch.maximum(a.abs(), b.abs()).clamp_min(1e-12)
    return Comparison(
        label=label,
        exact=bool(torch.equal(a, b)),
        allclose=bool(torch.allclose(a, b, rtol=rtol, atol=atol)),
        max_abs=float(diff.max()) if diff.numel() else 0.0,
        max_rel=float((diff / scale).max()) if diff.numel() else 0.0,
    )


# --------------------------------------------------------------------------- the witnesses


def _layers(net) -> list:
    """The top-level layers of a Sequential network; any other network counts as one layer."""
    if isinstance(net, (manual.Sequential, nn.Sequential)):
        return list(net)
    return [net]


def _layer_of(net, name: str) -> int:
    """The index of the top-level layer that owns parameter ``name`` ("2.weight" -> 2)."""
    return int(name.split(".", 1)[0]) if isinstance(net, (manual.Sequential, nn.Sequential)) else 0


def manual_gradients(twins: Twins, x: torch.Tensor, y: torch.Tensor, first_layer: bool = False
                     ) -> tuple[dict[str, torch.Tensor], dict]:
    """The hand-written backward pass, one layer at a time, on fresh gradients.

    Returns (dL/dparam by name, dL/d(input) by layer index plus
    ``OUTPUT``: dL/d(network output)). The first layer's input gradient is
    computed only with ``first_layer=True``.
    """
    layers = _layers(twins.manual_net)
    twins.manual_net.zero_grad()
    grads_ready(twins.manual_net)          # as autograd: every parameter gets a gradient
    out, shapes = x, []
    for layer in layers:
        shapes.append(out.shape)
        out = layer(out)
    twins.manual_loss(out, y)
    loss = type(twins.manual_loss)
    dout = handed_on(twins.manual_loss.backward(), out.shape, f"the backward of the loss ({loss.__name__})",
                     loss.backward)
    inputs = {OUTPUT: dout}
    for index in reversed(range(len(layers))):
        wanted = index > 0 or first_layer
        dout = layers[index].backward(dout, input_grad=wanted)
        if wanted:
            kind = type(layers[index])
            dout = handed_on(dout, shapes[index], f"the backward of layer {index} ({kind.__name__})", kind.backward)
            inputs[index] = dout
    # a gradient that never reached .grad counts as zero (and disagrees, unless it should be zero)
    params = {name: p.grad.clone() if p.grad is not None else torch.zeros_like(p)
              for name, p in twins.manual_net.named_parameters()}
    twins.manual_net.zero_grad()
    return params, inputs


def autograd_gradients(twins: Twins, x: torch.Tensor, y: torch.Tensor, first_layer: bool = False,
                       values: dict | None = None) -> tuple[dict[str, torch.Tensor], dict]:
    """The same two dicts from torch.autograd, the inputs' gradients kept with ``retain_grad``.

    A ``values`` dict, if given, receives every layer's input by index and the network's output
    under ``OUTPUT`` (detached): what each of those gradients is the gradient of.
    """
    layers = _layers(twins.torch_net)
    twins.torch_net.zero_grad()
    out = x.detach().clone().requires_grad_(first_layer and x.is_floating_point())
    inputs = []
    for layer in layers:
        if out.requires_grad:
            out.retain_grad()
        inputs.append(out)
        out = layer(out)
    out.retain_grad()
    twins.torch_loss(out, y).backward()
    if values is not None:
        values.update({index: h.detach() for index, h in enumerate(inputs)})
        values[OUTPUT] = out.detach()
    grads = {OUTPUT: out.grad}
    grads.update({index: h.grad for index, h in enumerate(inputs) if h.grad is not None})
    params = {name: p.grad.clone() for name, p in twins.torch_net.named_parameters()}
    twins.torch_net.zero_grad()
    return params, grads


def finite_difference_gradients(
    net: nn.Module, loss_fn, x: torch.Tensor, y: torch.Tensor, h: float = FD_STEP, chunk_size: int = 256
) -> dict[str, torch.Tensor]:
    """Central differences in float64, one parameter entry at a time.

    Every entry k needs L(theta + h e_k) and L(theta - h e_k). A whole chunk
    of perturbed parameter sets goes through ``functional_call`` at once
    (``vmap``, or a loop where vmap cannot apply); the network's own
    parameters and buffers are never touched.

    A random layer (dropout in training mode) must draw the same mask for
    every one of these losses, or their differences would measure the
    change of mask, not of theta: each evaluation starts from the random
    generator's state on entry (``random_state_kept``), which is where the
    other witnesses start too, and the generator is left there.
    """
    params = {name: p.detach().to(torch.float64) for name, p in net.named_parameters()}
    buffers = {name: b.detach().to(torch.float64) if b.is_floating_point() else b.detach()
               for name, b in net.named_buffers()}
    x64 = x.to(torch.float64) if x.is_floating_point() else x
    y64 = y.to(torch.float64) if y.is_floating_point() else y

    grads = {}
    with random_state_kept(x.device) as rewind:
        for name, value in params.items():
            def loss_at(entry_value: torch.Tensor) -> torch.Tensor:
                moved = {**params, name: entry_value, **{k: b.clone() for k, b in buffers.items()}}
                rewind()                                    # the same random draws for every point
                return loss_fn(functional_call(net, moved, (x64,)), y64)

            n = value.numel()
            flat_grad = torch.empty(n, dtype=torch.float64, device=value.device)
            for start in range(0, n, chunk_size):
                k = torch.arange(start, min(start + chunk_size, n), device=value.device)
                bumps = torch.zeros(len(k), n, dtype=torch.float64, device=value.device)
                bumps[torch.arange(len(k)), k] = h
                bumps = bumps.view(len(k), *value.shape)
                plus = vmap_or_loop(loss_at, value + bumps)
                minus = vmap_or_loop(loss_at, value - bumps)
                flat_grad[k] = (plus - minus) / (2 * h)
            grads[name] = flat_grad.view(value.shape)
    return grads


# --------------------------------------------------------------------------- the reports


def gradient_report(twins: Twins, x: torch.Tensor, y: torch.Tensor, title: str = "gradient check",
                    first_layer: bool = False) -> GradientReport:
    """Compare the three witnesses for every parameter, and manual vs autograd for every layer's input.

    Both networks must hold the same parameter values (``twin_of`` and
    ``make_twins`` see to it) and be in the same mode. The finite
    differences always run in float64, whatever the networks' dtype, so they
    stay a trustworthy reference. With ``first_layer=True`` the first
    layer's dL/dx is compared too (training never needs it).

    Rows, in the order of the forward pass: each layer's parameters and its
    input, then the network's output. No buffer (a running mean, say) is
    changed by the report: they are restored afterwards. Every witness
    starts from the same state of the random generator, so a random layer
    (dropout) draws the same mask for all three, and the generator is left
    as it was.
    """
    dtype = twins.dtype
    (twin_rtol, twin_atol), (fd_rtol, fd_atol) = tolerances(dtype)
    with buffers_kept(twins.manual_net, twins.torch_net), random_state_kept(x.device) as rewind:
        by_hand, inputs_by_hand = manual_gradients(twins, x, y, first_layer)
        values: dict = {}
        rewind()
        by_autograd, inputs_by_autograd = autograd_gradients(twins, x, y, first_layer, values)
        rewind()
        by_differences = finite_difference_gradients(twins.torch_net, twins.torch_loss, x, y)

    torch_layers = _layers(twins.torch_net)
    rows = []
    for index, layer in enumerate(torch_layers):
        where = f"layer {index} ({type(layer).__name__})"
        if index in inputs_by_hand and index in inputs_by_autograd:
            rows.append(Row(f"input of {index}", tuple(inputs_by_autograd[index].shape), index, where, [
                compare("manual vs autograd", inputs_by_hand[index], inputs_by_autograd[index],
                        twin_rtol, twin_atol)],
                manual=inputs_by_hand[index], autograd=inputs_by_autograd[index], value=values[index]))
        for name, param in twins.torch_net.named_parameters():
            if _layer_of(twins.torch_net, name) == index:
                rows.append(Row(name, tuple(param.shape), index, where, [
                    compare("manual vs autograd", by_hand[name], by_autograd[name], twin_rtol, twin_atol),
                    compare("manual vs finite diff", by_hand[name], by_differences[name], fd_rtol, fd_atol),
                    compare("autograd vs finite diff", by_autograd[name], by_differences[name], fd_rtol, fd_atol),
                ], manual=by_hand[name], autograd=by_autograd[name], differences=by_differences[name],
                    value=param.detach().clone()))
    rows.append(Row(OUTPUT, tuple(inputs_by_autograd[OUTPUT].shape), None,
                    f"the loss ({type(twins.torch_loss).__name__})", [
                        compare("manual vs autograd", inputs_by_hand[OUTPUT], inputs_by_autograd[OUTPUT],
                                twin_rtol, twin_atol)],
                    manual=inputs_by_hand[OUTPUT], autograd=inputs_by_autograd[OUTPUT], value=values[OUTPUT]))
    return GradientReport(rows, dtype, title, layers=[type(layer).__name__ for layer in torch_layers], values=values)


def add_formulas(report: GradientReport, formulas: dict) -> GradientReport:
    """Put gradients worked out by a formula (in a lesson, say) beside the report's, as a fourth witness.

    ``formulas`` maps a row's name ("0.weight", "input of 3", "output") to a tensor of that row's
    shape (a plain number will do for a one-number row). Each such row gets "formula vs autograd"
    and, for a parameter, "formula vs finite diff", with the tolerances of the hand-written column.
    Returns the report, changed in place; an unknown row name is a ValueError.
    """
    (twin_rtol, twin_atol), (fd_rtol, fd_atol) = tolerances(report.dtype)
    rows = {row.name: row for row in report.rows}
    for name, value in formulas.items():
        if name not in rows:
            raise ValueError(f"add_formulas: the report has no row '{name}'; it has {list(rows)}")
        row = rows[name]
        if not isinstance(value, (torch.Tensor, int, float)) or isinstance(value, bool):
            raise TypeError(f"add_formulas: the formula for '{name}' is {type(value).__name__}, not a number or a "
                            "tensor (a function that returns nothing gives None)")
        value = torch.as_tensor(value).detach()
        if value.numel() == 1 == row.autograd.numel():
            value = value.reshape(row.autograd.shape)
        row.formula = value
        row.comparisons.append(compare("formula vs autograd", value, row.autograd, twin_rtol, twin_atol))
        if row.differences is not None:
            row.comparisons.append(compare("formula vs finite diff", value, row.differences, fd_rtol, fd_atol))
    return report


def accumulation_report(twins: Twins, batches: list[tuple[torch.Tensor, torch.Tensor]],
                        title: str = "accumulation check") -> GradientReport:
    """Several backward passes with no zero_grad in between: .grad must hold their SUM.

    A single backward after zero_grad cannot tell ``grad = g`` from
    ``grad += g``; this check can. The hand-written total is compared with
    autograd doing the same, one row per parameter. Buffers are restored,
    and so is the random generator (both twins draw the same numbers for
    each batch, as in training).
    """
    (rtol, atol), _ = tolerances(twins.dtype)
    twins.zero_grad()
    device = next(iter(twins.torch_net.parameters())).device
    with buffers_kept(twins.manual_net, twins.torch_net), random_state_kept(device):
        for x, y in batches:
            with random_state_kept(device):
                twins.manual_loss(twins.manual_net(x), y)
                twins.manual_net.backward(twins.manual_loss.backward())
            twins.torch_loss(twins.torch_net(x), y).backward()
    torch_layers = _layers(twins.torch_net)
    rows = []
    for name, mine, theirs in twins.named_parameters():
        index = _layer_of(twins.torch_net, name)
        mine_grad = mine.grad if mine.grad is not None else torch.zeros_like(mine)
        rows.append(Row(name, tuple(theirs.shape), index, f"layer {index} ({type(torch_layers[index]).__name__})",
                        [compare("manual vs autograd", mine_grad, theirs.grad, rtol, atol)],
                        manual=mine_grad.clone(), autograd=theirs.grad.clone()))
    twins.zero_grad()
    return GradientReport(rows, twins.dtype, title)


# --------------------------------------------------------------------------- the local rules of an autograd engine


def engine_rule_reports(expression, leaf, shapes, *, where: str, seed: int = 0, device="cpu",
                        dtype: torch.dtype = torch.float64) -> tuple[GradientReport, GradientReport]:
    """One operation of a hand-written autograd engine against torch.autograd: (one sweep, two sweeps).

    ``expression(*inputs)`` is evaluated twice: on the engine's leaves,
    ``leaf(tensor)`` (values with ``.data``, ``.grad`` and
    ``backward(grad)``, as lesson 19's ``Value``), and on torch tensors that
    require grad. Both get the same random inputs of ``shapes`` and the same
    random upstream gradient (drawn from ``seed``; an all-ones one would hide
    mistakes). The first report compares each input's gradient after one
    sweep; the second after a second sweep without zeroing, which must have
    doubled it (lesson 01's accumulation check). ``where`` names the
    operation as a layer is named, "the engine's tanh (Tanh)", so that
    ``toolkit.diagnose`` reads the rows as it reads a layer's: one input is
    "input of 0", two are "a" and "b", and the output row holds the
    upstream gradient and the output.
    """
    (rtol, atol), _ = tolerances(dtype)
    generator = torch.Generator().manual_seed(seed)
    tensors = [torch.randn(shape, generator=generator, dtype=torch.float64).to(device, dtype) for shape in shapes]
    leaves = [leaf(t.clone()) for t in tensors]
    out = expression(*leaves)
    dout = torch.randn(tuple(out.data.shape), generator=generator, dtype=torch.float64).to(device, dtype)
    out.backward(dout)
    once = [value.grad.clone() for value in leaves]
    out.backward(dout)                                   # again, without zeroing: the gradients must add
    twice = [value.grad.clone() for value in leaves]
    reference = [t.clone().requires_grad_(True) for t in tensors]
    by_torch = torch.autograd.grad(expression(*reference), reference, dout)
    names = ["input of 0"] if len(tensors) == 1 else [chr(ord("a") + k) for k in range(len(tensors))]
    reports = []
    for mine, factor, title in ((once, 1, "one sweep"), (twice, 2, "two sweeps without zeroing")):
        rows = [Row(name, tuple(t.shape), 0, where, [compare("manual vs autograd", g, factor * t, rtol, atol)],
                    manual=g, autograd=factor * t, value=x)
                for name, g, t, x in zip(names, mine, by_torch, tensors)]
        rows.append(Row(OUTPUT, tuple(out.data.shape), None, where, [], autograd=factor * dout, value=out.data))
        reports.append(GradientReport(rows, dtype, f"{where}, {title}, against torch.autograd"))
    return reports[0], reports[1]
