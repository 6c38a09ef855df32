"""The bug zoo: classic mistakes in hand-written gradients, and what catches them.

Each specimen is a copy of a correct layer or loss from ``toolkit.manual``
with ONE mistake in its backward pass: a subclass that overrides ``backward``
(the shipped classes are never touched). The copy is put into a small
network, and the network is compared with its torch.nn twin by two checks:

* the gradient report (``toolkit.gradient_check``): one batch on fresh
  gradients, manual vs autograd vs central finite differences;
* the accumulation check: two batches with no ``zero_grad`` in between, the
  hand-written total against autograd doing the same. (Autograd is the
  reference there; the gradient report has already shown, on the same
  network, that it agrees with the finite differences.)

A mistake in dL/dx does not show in the parameters of its own layer, only in
those of the layers before it. So no buggy layer is the first layer: its
wrong dx flows into the parameter gradients upstream, and those rows disagree.

A bug counts as caught when a check blames the hand-written gradient: a
"manual vs ..." comparison fails while autograd and the finite differences
(where the check has them) agree with each other. The report also compares
every layer's input gradient, so it names the layer where the disagreement
starts ("first disagreement: layer 3 (ReLU)"). The control rebuilds every
specimen's network with the correct class in place of the buggy copy; it must
pass both checks.

    python -m toolkit bugs
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

import torch

from toolkit import manual
from toolkit.gradient_check import GradientReport, accumulation_report, gradient_report
from toolkit.manual.module import accumulate_grad
from toolkit.twins import Twins, make_twins

DTYPE = torch.float64
BATCH = 8
SEED = 0
WIDTH = 79


# --------------------------------------------------------------------------- the specimens
# Each class is the correct one with a single line changed; the line is marked BUG.


class TransposedWeightGradLinear(manual.Linear):
    """Linear whose weight gradient is x^T dout, the transpose of dout^T x.

    x^T dout is right for out = x W with W stored as (in, out); torch (and
    toolkit.manual) store W as (out, in). Only a square layer takes it
    without a shape error.
    """

    def backward(self, dout: torch.Tensor, input_grad: bool = True) -> torch.Tensor | None:
        x = self._saved(self._x)
        accumulate_grad(self.weight, x.T @ dout)            # BUG: should be dout.T @ x
        if self.bias is not None:
            accumulate_grad(self.bias, dout.sum(dim=0))
        if not input_grad:
            return None
        return dout @ self.weight


class MSELossWithoutMean(manual.MSELoss):
    """MSE whose gradient is 2 (pred - target): the mean's 1/M is missing."""

    def backward(self, dloss: float | torch.Tensor = 1.0) -> torch.Tensor:
        pred, target = self._saved()
        return 2 * (pred - target) * dloss                  # BUG: should be 2 / pred.numel() * ...


class BCEWithLogitsLossFlippedSign(manual.BCEWithLogitsLoss):
    """Binary cross-entropy whose gradient is (y - sigma(z)) / M instead of (sigma(z) - y) / M."""

    def backward(self, dloss: float | torch.Tensor = 1.0) -> torch.Tensor:
        logits, target = self._saved()
        return dloss * (target - torch.sigmoid(logits)) / logits.numel()   # BUG: should be sigmoid - target


class BiasGradAveragedLinear(manual.Linear):
    """Linear whose bias gradient is the MEAN of dout over the batch instead of the sum."""

    def backward(self, dout: torch.Tensor, input_grad: bool = True) -> torch.Tensor | None:
        x = self._saved(self._x)
        accumulate_grad(self.weight, dout.T @ x)
        if self.bias is not None:
            accumulate_grad(self.bias, dout.mean(dim=0))    # BUG: should be dout.sum(dim=0)
        if not input_grad:
            return None
        return dout @ self.weight


class CrossEntropyLossWithoutOneHot(manual.CrossEntropyLoss):
    """Cross-entropy whose gradient is softmax(z) / N: the "- onehot(y)" is missing."""

    def backward(self, dloss: float | torch.Tensor = 1.0) -> torch.Tensor:
        shifted, target = self._saved()
        n = shifted.shape[0]
        probs = torch.exp(shifted) / torch.exp(shifted).sum(dim=1, keepdim=True)
        return dloss * probs / n                            # BUG: should be (probs - onehot) / N


class TanhSlopeFromInput(manual.Tanh):
    """Tanh whose slope is 1 - x^2 (from the input) instead of 1 - tanh(x)^2 (from the output).

    The shipped Tanh caches only its output; this copy also caches the input,
    just to be able to make the mistake.
    """

    def __init__(self) -> None:
        super().__init__()
        self._x: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._x = x
        return super().forward(x)

    def backward(self, dout: torch.Tensor, input_grad: bool = True) -> torch.Tensor | None:
        x = self._saved(self._x)
        if not input_grad:
            return None
        return dout * (1 - x**2)                            # BUG: should be 1 - out**2


class ReLUMaskFromGradient(manual.ReLU):
    """ReLU whose backward masks with [dout > 0] instead of [x > 0]."""

    def backward(self, dout: torch.Tensor, input_grad: bool = True) -> torch.Tensor | None:
        if not input_grad:
            return None
        return dout * (dout > 0)                            # BUG: should be dout * (x > 0)


class OverwritingLinear(manual.Linear):
    """Linear that SETS weight.grad and bias.grad instead of adding into them."""

    def backward(self, dout: torch.Tensor, input_grad: bool = True) -> torch.Tensor | None:
        x = self._saved(self._x)
        self.weight.grad = dout.T @ x                       # BUG: should add (accumulate_grad)
        if self.bias is not None:
            self.bias.grad = dout.sum(dim=0)                # BUG: should add (accumulate_grad)
        if not input_grad:
            return None
        return dout @ self.weight


# --------------------------------------------------------------------------- the catalogue


@dataclass(frozen=True)
class Specimen:
    """One bug, where it lives, and what it teaches.

    The network is always Linear(3,4) > act > Linear(4,4) > act > Linear(4,out),
    so layer indices are 0, 2, 4 for the Linear layers and 1, 3 for the
    activations; ``where`` is the index the buggy copy replaces, or "loss".
    """

    kind: str            # short name of the mistake
    title: str
    buggy: type          # the copy with the mistake
    correct: type        # the shipped class it copies
    where: int | str     # layer index in the network, or "loss"
    activation: str      # "tanh" or "relu"
    loss: str            # "mse", "bce" or "ce"
    mistake: str         # what goes wrong and why students write it


CATALOGUE = [
    Specimen(
        kind="missing-transpose",
        title="a missing transpose in the weight gradient",
        buggy=TransposedWeightGradLinear, correct=manual.Linear, where=2, activation="tanh", loss="mse",
        mistake=(
            "The weight gradient of out = x W^T + b is dout.T@x, shaped like W, "
            "(out, in). Many textbooks write the layer as out = x W with W stored "
            "as (in, out); there the gradient is x.T@dout, and that formula gets "
            "copied into a layer that stores W the torch way. The result is the "
            "transpose of the right gradient. In a layer with in != out the shapes "
            "differ and the first update fails loudly; in a square layer, as here "
            "(4 -> 4), the shape is right, nothing complains, and every off-diagonal "
            "entry is wrong (transposing leaves the diagonal in place). A shape "
            "check is not a gradient check. Only this layer's weight row "
            "disagrees: its bias gradient and its dx are right."
        ),
    ),
    Specimen(
        kind="forgotten-1/N",
        title="a forgotten 1/N in the MSE gradient",
        buggy=MSELossWithoutMean, correct=manual.MSELoss, where="loss", activation="tanh", loss="mse",
        mistake=(
            "The loss is a mean, L = (1/M) sum (pred-target)^2, so the gradient for "
            "each prediction is 2(pred-target)/M. Differentiating one squared error "
            "gives 2(pred-target), and the 1/M of the mean is easy to forget (here "
            "M = 8 samples x 2 outputs = 16). The direction is right and only the "
            "length is M times too large, so training still goes downhill, as if "
            "the learning rate were M times larger: the symptom is 'it diverges "
            "unless the learning rate is tiny'. The loss starts the backward pass, "
            "so every row disagrees, each with relative error 1 - 1/M = 0.94."
        ),
    ),
    Specimen(
        kind="flipped-sign",
        title="a flipped sign in the binary cross-entropy gradient",
        buggy=BCEWithLogitsLossFlippedSign, correct=manual.BCEWithLogitsLoss, where="loss", activation="tanh",
        loss="bce",
        mistake=(
            "The gradient of binary cross-entropy with respect to a logit is "
            "sigma(z)-y. Statistics texts derive logistic regression by MAXIMISING "
            "the log-likelihood, whose gradient is X^T(y-p), and climb it by "
            "gradient ascent; copied into a loss that is minimised, the formula has "
            "its sign flipped. The gradient has exactly the right size and points "
            "exactly the wrong way, so gradient descent walks uphill and the loss "
            "grows. Every row disagrees with relative error 2 (|g-(-g)| / |g|)."
        ),
    ),
    Specimen(
        kind="bias-not-summed",
        title="a bias gradient averaged instead of summed over the batch",
        buggy=BiasGradAveragedLinear, correct=manual.Linear, where=2, activation="tanh", loss="mse",
        mistake=(
            "Every sample in the batch uses the same bias, so the bias gradient is "
            "the SUM of dout over the batch. dout has one row per sample, so "
            "'db = dout' does not even have the bias's shape, and the quick fix "
            "that makes the shapes fit is dout.mean(0) (or dout[0], the first "
            "sample only). The mean looks natural because the loss is a mean, but "
            "the loss's 1/N is already inside dout: averaging again divides by the "
            "batch size twice. Only this layer's bias row disagrees, too small by "
            "N = 8 (relative error 1 - 1/8 = 0.875); the weight gradient, a matrix "
            "product, sums over the batch by itself."
        ),
    ),
    Specimen(
        kind="softmax-without-one-hot",
        title="a softmax gradient without the one-hot subtracted",
        buggy=CrossEntropyLossWithoutOneHot, correct=manual.CrossEntropyLoss, where="loss", activation="tanh",
        loss="ce",
        mistake=(
            "Softmax cross-entropy is L = logsumexp(z) - z[y], and its gradient is "
            "softmax(z) - onehot(y). Differentiating only the logsumexp term, or "
            "remembering 'the gradient of softmax is the softmax', drops the "
            "-onehot(y) that comes from the correct class's logit. What is left "
            "does not depend on the labels at all: it pushes every logit down in "
            "proportion to its probability, which only flattens the prediction, "
            "and never pulls the correct class up. Every row disagrees."
        ),
    ),
    Specimen(
        kind="tanh-slope-from-input",
        title="tanh' computed from the input instead of the output",
        buggy=TanhSlopeFromInput, correct=manual.Tanh, where=1, activation="tanh", loss="mse",
        mistake=(
            "tanh'(x) = 1 - tanh(x)^2, usually written with the output y as "
            "1 - y^2, because the forward pass has already computed y. Read as "
            "'1 - x^2', it gets the cached input. Near 0, tanh(x) ~ x and the two "
            "differ only by about x^4, so the bug hides for small inputs; with "
            "inputs of order 1 it is large, and for |x| > 1 the 'slope' is even "
            "negative, while the true one always lies in (0,1]. The mistake is in "
            "dx, which the tanh (layer 1) hands to the layer before it: the rows "
            "that disagree are layer 0's, while layers 2 and 4, after the tanh, "
            "agree."
        ),
    ),
    Specimen(
        kind="relu-mask-from-wrong-tensor",
        title="a ReLU mask taken from the gradient instead of the input",
        buggy=ReLUMaskFromGradient, correct=manual.ReLU, where=3, activation="relu", loss="mse",
        mistake=(
            "ReLU lets the gradient through where the unit was active: "
            "dx = dout*(x>0), a mask from the FORWARD pass. Written as "
            "dout*(dout>0), or dout[dout<0] = 0, it applies the ReLU to the "
            "incoming gradient, as if backward were another forward pass. That is "
            "right only where x > 0 and dout > 0 happen together; elsewhere it "
            "blocks the gradient of active units and lets it through dead ones. The "
            "mistake is in dx of the ReLU at layer 3, so the rows that disagree are "
            "those of layers 2 and 0, before it; layer 4 agrees."
        ),
    ),
    Specimen(
        kind="gradient-overwritten",
        title="a gradient overwritten instead of accumulated",
        buggy=OverwritingLinear, correct=manual.Linear, where=2, activation="tanh", loss="mse",
        mistake=(
            "Autograd ADDS every backward pass into param.grad, and so do the "
            "toolkit's layers: the gradients of several batches (gradient "
            "accumulation), or of several uses of one parameter, add up, which is "
            "why a training loop calls zero_grad. 'self.weight.grad = dout.T@x' is "
            "the natural way to write 'compute the gradient', and a single "
            "backward after zero_grad cannot tell = from +=, so the one-batch "
            "gradient report agrees everywhere. The accumulation check runs two "
            "batches without zero_grad in between: the overwriting layer keeps only "
            "the second batch's gradient, while autograd holds the sum of both."
        ),
    ),
]

LOSSES = {"mse": manual.MSELoss, "bce": manual.BCEWithLogitsLoss, "ce": manual.CrossEntropyLoss}
OUTPUTS = {"mse": 2, "bce": 2, "ce": 3}


# --------------------------------------------------------------------------- building a specimen


def make_batch(loss: str, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs of order 1 (so tanh and ReLU work away from 0) and targets for the loss."""
    x = 1.5 * torch.randn(BATCH, 3, generator=generator, dtype=DTYPE)
    if loss == "mse":
        y = torch.randn(BATCH, OUTPUTS[loss], generator=generator, dtype=DTYPE)
    elif loss == "bce":
        y = torch.randint(0, 2, (BATCH, OUTPUTS[loss]), generator=generator).to(DTYPE)
    else:
        y = torch.randint(0, OUTPUTS[loss], (BATCH,), generator=generator)
    return x, y


def copy_layer(cls: type, original: manual.Module) -> manual.Module:
    """A new layer of class ``cls`` holding ``original``'s parameter values."""
    if isinstance(original, manual.Linear):
        # the constructor draws random numbers: leave the caller's random state alone
        with torch.random.fork_rng(devices=[]):
            layer = cls(original.in_features, original.out_features, bias=original.bias is not None,
                        device=original.weight.device, dtype=original.weight.dtype)
        for name, value in original.named_parameters():
            setattr(layer, name, value.clone())
        return layer
    return cls()


def build(specimen: Specimen, buggy: bool = True) -> tuple[Twins, list[tuple[torch.Tensor, torch.Tensor]]]:
    """The specimen's twins with the buggy copy (or, for the control, a fresh correct one) in place,
    and two batches of data."""
    cls = specimen.buggy if buggy else specimen.correct
    twins = make_twins([3, 4, 4, OUTPUTS[specimen.loss]], specimen.activation, loss=LOSSES[specimen.loss](),
                       seed=SEED, dtype=DTYPE)
    if specimen.where == "loss":
        twins.manual_loss = cls()
    else:
        twins.manual_net.layers[specimen.where] = copy_layer(cls, twins.manual_net.layers[specimen.where])
    generator = torch.Generator().manual_seed(SEED)
    batches = [make_batch(specimen.loss, generator), make_batch(specimen.loss, generator)]
    return twins, batches


def describe_network(specimen: Specimen, twins: Twins) -> str:
    """E.g. 'Linear(3,4) > Tanh > Linear(4,4)* > Tanh > Linear(4,2)', * marking the buggy copy."""
    parts = []
    for index, layer in enumerate(twins.manual_net.layers):
        if isinstance(layer, manual.Linear):
            name = f"Linear({layer.in_features},{layer.out_features})"
        elif index == specimen.where:
            name = specimen.correct.__name__
        else:
            name = type(layer).__name__
        parts.append(name + ("*" if index == specimen.where else ""))
    return " > ".join(parts)


# --------------------------------------------------------------------------- the checks


@dataclass
class Examination:
    specimen: Specimen
    buggy: bool                     # False: the control, the correct class in the same place
    network: str                    # the network, as text
    one_batch: GradientReport       # the gradient report
    accumulation: GradientReport    # the accumulation check

    @property
    def caught(self) -> bool:
        return self.one_batch.blames_manual() or self.accumulation.blames_manual()

    @property
    def passes(self) -> bool:
        return self.one_batch.ok and self.accumulation.ok


def examine(specimen: Specimen, buggy: bool = True) -> Examination:
    """Build the specimen (or its correct control) and run both checks on it."""
    twins, batches = build(specimen, buggy)
    name = specimen.kind if buggy else f"control for {specimen.kind}"
    x, y = batches[0]
    one_batch = gradient_report(twins, x, y, title=f"gradient report, {name}")
    accumulation = accumulation_report(twins, batches, title=f"accumulation check, {name}")
    return Examination(specimen, buggy, describe_network(specimen, twins), one_batch, accumulation)


# --------------------------------------------------------------------------- the command

ONE_BATCH = "the gradient report (one batch)"
TWO_BATCHES = "the accumulation check (two batches, no zero_grad in between, against autograd doing the same)"


def paragraph(text: str) -> str:
    return textwrap.fill(text, WIDTH, initial_indent="   ", subsequent_indent="   ", break_on_hyphens=False)


def verdict_of(report: GradientReport, what: str) -> str:
    """Which comparisons of this check failed, and what that means."""
    failed = report.failed_labels()
    if not failed:
        return f"{what}: all {len(report.rows)} parameters agree; this check cannot see the mistake."
    text = f"{what}: " + " and ".join(failed) + (" disagree" if len(failed) > 1 else " disagrees")
    has_differences = any(c.label == "autograd vs finite diff" for row in report.rows for c in row.comparisons)
    if not has_differences:
        return text + "."
    if "autograd vs finite diff" in failed:
        return text + "; autograd and the finite differences disagree too, so this check proves nothing."
    return text + ", while autograd and the finite differences agree: the hand-written gradient is the odd one out."


def render(number: int, total: int, result: Examination) -> str:
    """One specimen: what it is, the mistake, the check that caught it, the rows that disagree."""
    specimen = result.specimen
    loss = LOSSES[specimen.loss].__name__ + ("*" if specimen.where == "loss" else "")
    lines = [
        f"== bug {number} of {total}: {specimen.title}",
        f"   buggy copy: {specimen.buggy.__name__} (*) of manual.{specimen.correct.__name__}",
        f"   network:    {result.network}",
        f"   loss:       {loss}",
        "the mistake:",
        paragraph(specimen.mistake),
        "what caught it:",
    ]
    if result.one_batch.blames_manual():
        catcher = result.one_batch
        lines.append(paragraph(verdict_of(result.one_batch, ONE_BATCH)))
        if result.accumulation.blames_manual():
            lines.append("   (the accumulation check flags it too)")
    elif result.accumulation.blames_manual():
        catcher = result.accumulation
        lines.append(paragraph(verdict_of(result.one_batch, ONE_BATCH)))
        lines.append(paragraph(verdict_of(result.accumulation, TWO_BATCHES)))
    else:
        catcher = None
        lines.append(paragraph(verdict_of(result.one_batch, ONE_BATCH)))
        lines.append(paragraph(verdict_of(result.accumulation, TWO_BATCHES)))
    if catcher is not None:
        bad = catcher.disagreeing()
        lines.append(f"the rows that disagree ({len(bad.rows)} of {len(catcher.rows)}):")
        lines.append(textwrap.indent(str(bad), "   "))
    lines.append(f"-> {'CAUGHT' if result.caught else 'MISSED'}")
    return "\n".join(lines)


def render_control(controls: list[Examination]) -> str:
    """One line per specimen's network, rebuilt with the correct class."""
    lines = [
        "== control: the correct layer passes",
        paragraph("Every network above, rebuilt with a fresh copy of the shipped class in place of the "
                  "buggy one (same parameters, data and checks), must pass both checks: the checker "
                  "does not cry wolf. max|diff| is the largest |manual - autograd| of either check."),
        f"   {'network of':<28} {'shipped class':<18} {'as':<8} {'checks':<7} max|diff|",
    ]
    for result in controls:
        where = "loss" if result.specimen.where == "loss" else f"layer {result.specimen.where}"
        diff = max(result.one_batch.max_abs_twin_diff, result.accumulation.max_abs_twin_diff)
        state = "pass" if result.passes else "FLAGGED"
        lines.append(f"   {result.specimen.kind:<28} {result.specimen.correct.__name__:<18} {where:<8} "
                     f"{state:<7} {diff:9.1e}")
    ok = all(result.passes for result in controls)
    lines.append(f"-> {'the control passes' if ok else 'CONTROL FLAGGED: the checker cries wolf'}")
    return "\n".join(lines)


def run_zoo() -> tuple[list[Examination], list[Examination]]:
    """Every specimen with its bug, and every specimen's control."""
    bugs = [examine(specimen, buggy=True) for specimen in CATALOGUE]
    controls = [examine(specimen, buggy=False) for specimen in CATALOGUE]
    return bugs, controls


def main() -> int:
    """Print the zoo; 0 when every bug is caught and the control passes, else 1."""
    bugs, controls = run_zoo()
    total = len(bugs)
    print(textwrap.fill(
        f"The bug zoo: {total} classic mistakes in hand-written gradients. Each is a copy of a "
        "correct toolkit.manual layer or loss with one line changed, put into a small float64 "
        f"network (batch of {BATCH}, seed {SEED}) and checked against its torch.nn twin.", WIDTH))
    print()
    for number, result in enumerate(bugs, start=1):
        print(render(number, total, result))
        print()
    print(render_control(controls))
    print()
    caught = sum(result.caught for result in bugs)
    control_ok = all(result.passes for result in controls)
    print(f"caught {caught} of {total} bugs")
    return 0 if caught == total and control_ok else 1
