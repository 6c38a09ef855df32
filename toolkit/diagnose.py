"""Which classic mistake is it? Reading a gradient that disagrees, number by number.

The gradient report (``toolkit.gradient_check``) says THAT a hand-written
gradient is wrong and WHERE the disagreement starts: backpropagation computes
the gradients from the loss backwards, so the first row to disagree in that
order belongs to the piece whose backward is wrong. This module guesses WHY.
At that row it compares your gradient g with the true one t (autograd's,
which the finite differences confirm) and tries the numeric signature of
each classic mistake in turn; the first that fits names the mistake:

    rule                          the numbers (g: yours, t: the true gradient)
    overwritten_instead_of_added  one backward agrees, two without zero_grad do not
    transposed_product            g = tᵀ, entry for entry (or g has tᵀ's shape and values)
    batch_not_summed              g has one row per sample, and summing them gives t
    flipped_sign                  g = −t
    target_not_subtracted         g − t = onehot(y)/N: the softmax (or sigmoid) alone
    slope_from_wrong_tensor       tanh: g = dout·(1 − x²) where dout·(1 − y²) belongs
    mask_from_wrong_tensor        ReLU: g = dout·[dout > 0] where dout·[x > 0] belongs
    mask_missing                  ReLU: g = dout, no mask at all
    forgotten_one_over_n          g = N·t (or M·t): the mean's 1/N left out
    mean_where_sum_belongs        g = t/N: at a bias, the batch averaged instead of summed;
                                  anywhere else, the 1/N applied twice
    forgotten_two                 g = t/2: the 2 of d(e²)/de = 2e left out
    nothing_written               g = 0 everywhere, while t is not
    dropout_through_dropped_units Dropout: gradient through units the forward pass dropped
    dropout_scale_wrong           Dropout: the 1/(1 − p) left out or misplaced

N is the number of samples in the batch, M the number of values the loss
averages (N times the outputs per sample for the mean squared error). An
update step (``run.check_update``) has rules of its own: ``not_in_place``,
``flipped_sign`` and ``learning_rate_missing``; so has gradient clipping
(``diagnose_clipping``, lesson 17's exercise): a norm per tensor instead of
one over all, a coefficient not capped at 1, the norms added instead of
squared and summed, values clipped one by one, the 1e-6 guard left out,
the norm returned after clipping, and gradients not changed in place.

When no rule fits, the diagnosis says so and describes the difference: a
constant factor that is none of the classic ones, or a difference entry by
entry. A right answer is never named as a mistake: a row that agrees is not
diagnosed at all.

The bug zoo (``toolkit/bugs.py``, ``python -m toolkit bugs``) holds a
specimen of eight of these mistakes; each rule that catches one reports
the zoo's name for it (``missing-transpose``, ``forgotten-1/N``, ...), and the
tests check that every specimen is diagnosed as its own kind.
"""

from __future__ import annotations

import math
import re
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from toolkit.gradient_check import OUTPUT, GradientReport, Row

WIDTH = 100


@dataclass
class Evidence:
    """What a rule may look at: one gradient, yours and the true one, and where it is.

    For the input of a layer ("input of 3"), ``dout`` is the true gradient
    arriving at the layer's output, ``x`` the layer's input and ``out`` its
    output, so a rule can work out what a slope or a mask taken from the
    wrong tensor would have given.
    """

    mine: torch.Tensor                   # g, yours (float64, on the CPU)
    true: torch.Tensor                   # t, autograd's
    row: str                             # "2.weight", "input of 3", "output"
    where: str                           # "layer 2 (Linear)", "the loss (MSELoss)"
    samples: int | None = None           # N, the batch size
    values: int | None = None            # M, the number of values the loss averages (its input's size)
    dout: torch.Tensor | None = None
    x: torch.Tensor | None = None
    out: torch.Tensor | None = None
    lr: float | None = None              # for an update step
    local: torch.Tensor | None = None    # for an average over workers: this worker's own gradient, before it
    workers: int | None = None           # ... and the number of workers, k
    one_batch_agrees: bool = False       # the accumulation check disagrees, one backward does not
    rtol: float = 1e-6                   # how close "=" is, relative to the largest value

    @property
    def layer_type(self) -> str | None:
        """"Linear", "Tanh", ... from ``where`` (a loss gives "MSELoss", ...)."""
        found = re.search(r"\((\w+)\)$", self.where)
        return found[1] if found else None


@dataclass
class Finding:
    """A rule's verdict: which mistake, the numbers that show it, and what to look for."""

    kind: str | None      # e.g. "flipped-sign" (the bug zoo's names where it has the mistake); None: unknown
    name: str             # "a flipped sign"
    numbers: str          # what the numbers show
    advice: str = ""      # where to look in the code


# --------------------------------------------------------------------------- helpers


def same(a: torch.Tensor | None, b: torch.Tensor | None, rtol: float = 1e-6) -> bool:
    """a = b up to rounding: the same shape, every entry within rtol of the larger of the two tensors' sizes."""
    if a is None or b is None or a.shape != b.shape:
        return False
    scale = max(float(a.abs().max()), float(b.abs().max())) if a.numel() else 0.0
    return bool(torch.allclose(a, b, rtol=rtol, atol=rtol * max(scale, 1e-300)))


def _nonzero(t: torch.Tensor) -> bool:
    return t.numel() > 0 and float(t.abs().max()) > 0


def _is_bias(row: str) -> bool:
    return row == "bias" or row.endswith(".bias")


def _shape(t: torch.Tensor) -> str:
    return str(tuple(t.shape)).replace(" ", "")


# --------------------------------------------------------------------------- the rules, most specific first


def overwritten_instead_of_added(e: Evidence) -> Finding | None:
    """One backward pass on fresh gradients agrees; two without zero_grad in between do not.

    A single backward cannot tell ``grad = g`` from ``grad += g``: both
    leave g. Only a second backward shows it: autograd then holds the sum of
    both batches' gradients, an overwriting layer only the second one. (The
    bug zoo's ``gradient-overwritten``: OverwritingLinear.)
    """
    if not e.one_batch_agrees:
        return None
    return Finding("gradient-overwritten", "a gradient overwritten instead of added (accumulated)",
                   "one backward pass agrees with autograd, but after two without zero_grad yours is not the sum "
                   "of both.",
                   "Add into .grad (accumulate_grad(param, g), or param.grad += g) instead of setting "
                   "param.grad = g.")


def transposed_product(e: Evidence) -> Finding | None:
    """g is the transpose of t: g = tᵀ entry for entry, or g has tᵀ's shape (a non-square layer) and values.

    The weight gradient of out = x Wᵀ + b is doutᵀ·x, shaped like W (out, in);
    xᵀ·dout, the formula for a layer stored as (in, out), is its transpose.
    A symmetric t looks the same transposed, so it proves nothing and is
    skipped. (The bug zoo's ``missing-transpose``: TransposedWeightGradLinear.)
    """
    g, t = e.mine, e.true
    if t.dim() != 2 or g.dim() != 2 or t.numel() < 2 or g.shape != t.T.shape:
        return None
    if (t.shape[0] == t.shape[1] and same(t, t.T, e.rtol)) or not same(g, t.T, e.rtol):
        return None
    if g.shape == t.shape:
        numbers = f"yours is the right gradient transposed, entry for entry ({_shape(t)})."
    else:
        numbers = f"yours has shape {_shape(g)} where {_shape(t)} belongs, and holds the right gradient transposed."
    return Finding("missing-transpose", "a transposed product", numbers,
                   "dL/dW = doutᵀ·x has W's shape (out, in); xᵀ·dout is its transpose. "
                   "Check the order of a matrix product and where a .T belongs.")


def batch_not_summed(e: Evidence) -> Finding | None:
    """g has one row per sample (N rows where t has another shape), and its rows add up to t.

    Every sample uses the same parameter, so its gradient is the sum of the
    samples' contributions; ``db = dout`` keeps them apart.
    """
    g, t = e.mine, e.true
    if e.samples is None or g.shape == t.shape or g.dim() == 0 or g.shape[0] != e.samples:
        return None
    total = g.sum(dim=0)
    if total.numel() != t.numel() or not same(total.reshape(t.shape), t, e.rtol):
        return None
    return Finding("batch-not-summed", "a gradient not summed over the batch",
                   f"yours has shape {_shape(g)}, one row per sample, where {_shape(t)} belongs; "
                   "the sum of your rows is the right gradient.",
                   "Every sample uses the same parameter: add up their contributions (dout.sum(dim=0)).")


def flipped_sign(e: Evidence) -> Finding | None:
    """g = −t: exactly the right size, pointing exactly the wrong way.

    Typically y − p for p − y (the log-likelihood's gradient, which is
    climbed, copied into a loss, which is descended), or a step that adds
    the gradient. (The bug zoo's ``flipped-sign``: BCEWithLogitsLossFlippedSign.)
    """
    if not _nonzero(e.true) or not same(e.mine, -e.true, e.rtol):
        return None
    if e.lr is not None:
        return Finding("flipped-sign", "a flipped sign: the step climbs",
                       "your step is −1 times the right one, in every entry.",
                       "A step goes AGAINST the gradient: weight −= lr · weight.grad, not +=.")
    return Finding("flipped-sign", "a flipped sign", "yours is −1 times the right gradient, in every entry.",
                   "Look for a difference written the wrong way round (y − ŷ for ŷ − y) or a lost minus.")


def target_not_subtracted(e: Evidence) -> Finding | None:
    """At a cross-entropy loss, g − t = onehot(y)/N: 1/N at the true class of each sample, 0 elsewhere.

    The gradient of softmax cross-entropy is (softmax(z) − onehot(y))/N;
    without the one-hot, what is left does not depend on the labels at all.
    For binary cross-entropy the same mistake leaves g − t = y/M. (The bug
    zoo's ``softmax-without-one-hot``: CrossEntropyLossWithoutOneHot.)
    """
    g, t, loss = e.mine, e.true, e.layer_type or ""
    if e.row != OUTPUT or g.shape != t.shape or not ("CrossEntropy" in loss or "BCE" in loss):
        return None
    difference = g - t
    for count in (e.samples, e.values):
        if not count:
            continue
        scaled = difference * count
        ones = (scaled - 1).abs() <= 1e-6
        zeros = scaled.abs() <= 1e-6
        if not bool((ones | zeros).all()) or not bool(ones.any()):
            continue
        if "CrossEntropy" in loss and (g.dim() != 2 or not bool((ones.sum(dim=1) == 1).all())):
            continue
        return Finding("softmax-without-one-hot", "a softmax gradient without the one-hot (target) subtracted",
                       f"yours minus the right gradient is 1/{count} at the true class of each sample and 0 "
                       "elsewhere: onehot(y)/N.",
                       "dL/dlogits = (softmax(logits) − onehot(y)) / N: subtract the target.")
    return None


# The slope of each activation as a function of its OUTPUT y, as backward uses it, and the function itself.
SLOPES: dict[str, tuple[str, Callable, Callable]] = {
    "Tanh": ("1 − y²", lambda y: 1 - y**2, torch.tanh),
    "Sigmoid": ("y·(1 − y)", lambda y: y * (1 - y), torch.sigmoid),
}


def slope_from_wrong_tensor(e: Evidence) -> Finding | None:
    """tanh and sigmoid: g = dout·f'(…) with the slope's formula applied to the wrong tensor.

    tanh'(x) = 1 − tanh(x)² = 1 − y², from the output y that forward saved.
    Written 1 − x², with the input, it is wrong (and even negative for
    |x| > 1); written 1 − tanh(y)², tanh is applied twice. Likewise σ' =
    y(1 − y). (The bug zoo's ``tanh-slope-from-input``: TanhSlopeFromInput.)
    """
    kind = e.layer_type
    if kind not in SLOPES or e.dout is None or e.x is None or e.out is None or e.mine.shape != e.true.shape:
        return None
    formula, slope, function = SLOPES[kind]
    if same(e.mine, e.dout * slope(e.x), e.rtol):
        zoo = "tanh-slope-from-input" if kind == "Tanh" else "slope-from-wrong-tensor"
        return Finding(zoo, f"{kind.lower()}'s slope taken from the input instead of the output",
                       f"yours is dout times {formula.replace('y', 'x')}, with x the layer's INPUT.",
                       f"The slope is {formula}, with y = {kind.lower()}(x), the OUTPUT that forward saved.")
    if same(e.mine, e.dout * slope(function(e.out)), e.rtol):
        return Finding("slope-from-wrong-tensor", f"{kind.lower()}'s slope taken at the output instead of the input",
                       f"yours is dout times {kind.lower()}'({kind.lower()}(x)): {kind.lower()} applied twice.",
                       f"The output y already is {kind.lower()}(x): the slope is {formula}.")
    return None


def mask_from_wrong_tensor(e: Evidence) -> Finding | None:
    """ReLU: g = dout·[dout > 0], the mask taken from the incoming gradient instead of the input.

    ReLU passes the gradient where the unit was active, dout·[x > 0], a mask
    from the forward pass. (A mask from the output, [y > 0], is the same
    thing: relu(x) > 0 exactly where x > 0.) (The bug zoo's
    ``relu-mask-from-wrong-tensor``: ReLUMaskFromGradient.)
    """
    if e.layer_type != "ReLU" or e.dout is None or e.mine.shape != e.true.shape:
        return None
    if not same(e.mine, e.dout * (e.dout > 0), e.rtol):
        return None
    return Finding("relu-mask-from-wrong-tensor", "a ReLU mask taken from the gradient instead of the input",
                   "yours is dout·[dout > 0]: the mask comes from the gradient arriving.",
                   "The mask is the forward pass's: dout·[x > 0], with x the layer's saved input.")


def mask_missing(e: Evidence) -> Finding | None:
    """ReLU: g = dout, the gradient passed through unmasked, as if every unit were active."""
    if e.layer_type != "ReLU" or e.dout is None or not same(e.mine, e.dout, e.rtol):
        return None
    return Finding("relu-mask-missing", "a ReLU backward without its mask",
                   "yours is dout itself: the gradient passes inactive units too.",
                   "Multiply by the mask of active units, [x > 0].")


def _factor(e: Evidence, factor: float) -> bool:
    return _nonzero(e.true) and same(e.mine, factor * e.true, e.rtol)


def forgotten_one_over_n(e: Evidence) -> Finding | None:
    """g = N·t (or M·t): the 1/N of a mean left out, so the gradient is N times too long.

    The direction is right: training still goes downhill, as if the learning
    rate were N times larger. (The bug zoo's ``forgotten-1/N``: MSELossWithoutMean.)
    """
    for count, what in ((e.samples, "N, the number of samples"), (e.values, "M, the number of values averaged")):
        if count and count > 1 and _factor(e, count):
            return Finding("forgotten-1/N", "a forgotten 1/N",
                           f"yours is {count} times the right gradient: {count} = {what}.",
                           "The loss is a MEAN: each of its terms counts 1/N, and so does its gradient.")
    return None


def mean_where_sum_belongs(e: Evidence) -> Finding | None:
    """g = t/N. At a bias: the batch averaged (dout.mean(0)) where the sum belongs. Elsewhere: 1/N twice.

    The two are one numeric signature; where it occurs tells them apart. A
    bias's gradient is the SUM of dout over the batch: the loss's 1/N is
    already inside dout, so averaging divides by N a second time. (The bug
    zoo's ``bias-not-summed``: BiasGradAveragedLinear.)
    """
    for count in (e.samples, e.values):
        if count and count > 1 and _factor(e, 1 / count):
            if _is_bias(e.row):
                return Finding("bias-not-summed", "a bias gradient averaged instead of summed over the batch",
                               f"yours is the right gradient divided by {count}, the batch size.",
                               "db = dout.sum(dim=0): the loss's 1/N is already inside dout.")
            return Finding("extra-1/N", "a 1/N applied twice",
                           f"yours is the right gradient divided by {count}.",
                           "The loss's 1/N is already inside dout (and in the loss's own gradient): divide once.")
    return None


def forgotten_two(e: Evidence) -> Finding | None:
    """g = t/2: the 2 of a square's slope left out, d(e²)/de = 2e."""
    if not _factor(e, 0.5):
        return None
    return Finding("forgotten-2", "a forgotten factor 2", "yours is half the right gradient.",
                   "The slope of a square is twice its base: d(ŷ − y)²/dŷ = 2(ŷ − y).")


def nothing_written(e: Evidence) -> Finding | None:
    """g = 0 everywhere while t is not: the gradient never reached .grad (or zeros were returned)."""
    if not _nonzero(e.true) or e.mine.shape != e.true.shape or _nonzero(e.mine):
        return None
    return Finding("gradient-missing", "no gradient at all", "yours is 0 in every entry.",
                   "Add the gradient into .grad (accumulate_grad), or return it.")


def wrong_shape(mine: tuple[int, ...], true: tuple[int, ...]) -> Finding:
    """From the shapes alone (a gradient of the wrong shape cannot even be stored in .grad):
    the transpose's shape, or an extra first axis; else no classic name."""
    mine, true = tuple(mine), tuple(true)
    shapes = f"a gradient of shape {_shape(torch.empty(mine))} for a parameter of shape {_shape(torch.empty(true))}"
    if len(true) == 2 and mine == true[::-1]:
        return Finding("missing-transpose", "a transposed product", f"{shapes}, its transpose.",
                       "dL/dW = doutᵀ·x has W's shape (out, in); xᵀ·dout is its transpose.")
    if len(mine) == len(true) + 1 and mine[1:] == true:
        return Finding("batch-not-summed", "a gradient not summed over the batch",
                       f"{shapes}: one row per sample.",
                       "Every sample uses the same parameter: add up their contributions (dout.sum(dim=0)).")
    return Finding(None, "none of the classic mistakes fits", f"{shapes}.",
                   "A gradient has the shape of what it is the gradient of.")


# --------------------------------------------------------------------------- Dropout (lesson 16)


def _dropout_draw(e: Evidence) -> tuple[torch.Tensor, torch.Tensor, float] | None:
    """(known, kept, p) of the Dropout layer behind ``e``, read off its input and output: out = x·mask/(1 − p).

    Where the input x is 0 (a ReLU before it was off) the output is 0 whatever the mask, so the mask
    is known only where x is not 0: ``known``. There ``kept`` = out ≠ 0, and kept units have
    out/x = 1/(1 − p). None unless the layer dropped something (evaluation mode and p = 0 do not).
    """
    if e.layer_type != "Dropout" or e.x is None or e.out is None or e.dout is None or e.mine.shape != e.true.shape:
        return None
    known = e.x.abs() > 1e-12
    kept = (e.out != 0) & known
    if not bool(kept.any()) or not bool((known & ~kept).any()):
        return None
    scale = float((e.out[kept] / e.x[kept]).median())
    return known, kept, 1 - 1 / scale


def dropout_through_dropped_units(e: Evidence) -> Finding | None:
    """Dropout: gradient reaches units the forward pass dropped: a mask drawn anew, or none at all."""
    draw = _dropout_draw(e)
    if draw is None:
        return None
    known, kept, p = draw
    dropped = known & ~kept
    if not bool((dropped & (e.mine.abs() > 0) & (e.dout.abs() > 0)).any()):
        return None
    if same(e.mine[known], e.dout[known], e.rtol) or same(e.mine[known], e.dout[known] / (1 - p), e.rtol):
        numbers = "yours passes the gradient through every unit, the dropped ones too: no mask at all."
    else:
        numbers = "yours is not 0 at units the forward pass dropped: the mask is not the forward pass's."
    return Finding("dropout-mask-missing", "a dropout backward without the forward pass's mask", numbers,
                   "Multiply by the mask that forward drew and saved (1 kept, 0 dropped); never draw a new one "
                   "in backward.")


def dropout_scale_wrong(e: Evidence) -> Finding | None:
    """Dropout: the right mask, but the kept units scaled by 1 (or by 1 − p, or by 1/p) instead of 1/(1 − p)."""
    draw = _dropout_draw(e)
    if draw is None:
        return None
    known, kept, p = draw
    dout = e.dout[known] * kept[known]
    for wrong, what in ((1.0, "not scaled at all: the 1/(1 − p) is left out"),
                        (1 - p, "multiplied by 1 − p where the backward divides by it"),
                        (1 / p if p > 0 else None, "divided by p where 1 − p belongs")):
        if wrong is not None and same(e.mine[known], dout * wrong, e.rtol):
            return Finding("dropout-scale", "a dropout gradient with the wrong scale",
                           f"yours is dout·mask {what} (p = {p:.3g}).",
                           "The forward pass multiplied every kept unit by 1/(1 − p); the gradient gets the same "
                           "factor: dx = dout·mask/(1 − p).")
    return None


GRADIENT_RULES = [overwritten_instead_of_added, transposed_product, batch_not_summed, flipped_sign,
                  target_not_subtracted, slope_from_wrong_tensor, mask_from_wrong_tensor, mask_missing,
                  dropout_through_dropped_units, dropout_scale_wrong,
                  forgotten_one_over_n, mean_where_sum_belongs, forgotten_two, nothing_written]


def not_in_place(e: Evidence) -> Finding | None:
    """An update whose weight did not move: g = 0, while the step should not be.

    ``weight = weight − lr·grad`` makes a new tensor and binds the name to
    it; the layer keeps the old one. ``weight -= lr·grad`` changes it in place.
    """
    if not _nonzero(e.true) or _nonzero(e.mine):
        return None
    return Finding("update-not-in-place", "an update that does not change the weight in place",
                   "the weight did not move at all.",
                   "weight = weight − … (or returning a new tensor) makes a new tensor that the layer never "
                   "sees: write weight −= lr · weight.grad.")


def learning_rate_missing(e: Evidence) -> Finding | None:
    """An update step g = t/lr: the gradient itself was subtracted, without the learning rate."""
    if e.lr is None or e.lr == 1 or not _factor(e, 1 / e.lr):
        return None
    return Finding("learning-rate-missing", "a step without the learning rate",
                   f"your step is 1/lr = {1 / e.lr:g} times the right one.", "The step is lr · weight.grad.")


UPDATE_RULES = [not_in_place, flipped_sign, learning_rate_missing]


def unknown(e: Evidence) -> Finding:
    """None of the classic mistakes fits: describe the difference as well as the numbers allow."""
    g, t = e.mine, e.true
    if g.shape != t.shape:
        return Finding(None, "none of the classic mistakes fits",
                       f"yours has shape {_shape(g)}, the right gradient {_shape(t)}.",
                       "A gradient has the shape of what it is the gradient of.")
    norm = float((t * t).sum())
    if norm > 0 and torch.isfinite(g).all():
        k = float((g * t).sum()) / norm
        if k != 0 and same(g, k * t, e.rtol):
            return Finding(None, "none of the classic mistakes fits",
                           f"yours is {k:.4g} times the right gradient: a constant factor, but not a classic one.",
                           "Check every constant in your formula.")
    difference = float((g - t).abs().max())
    return Finding(None, "none of the classic mistakes fits",
                   f"yours differs from the right gradient entry by entry, not by a constant factor "
                   f"(largest difference {difference:.3g}).",
                   "Compare your formula with the docstring's, term by term.")


def examine(e: Evidence, rules: list[Callable] = GRADIENT_RULES) -> Finding | None:
    """The first rule that fits, or ``unknown``; None when g = t (a right answer is never a mistake)."""
    if e.mine.shape == e.true.shape and same(e.mine, e.true, e.rtol) and not e.one_batch_agrees:
        return None
    for rule in rules:
        finding = rule(e)
        if finding is not None:
            return finding
    return unknown(e)


# --------------------------------------------------------------------------- the diagnosis of a report


WITNESS = {
    "manual": "the hand-written backward",
    "formula": "the formula given to run.check",
    "accumulation": "after two backward passes without zero_grad",
    "update": "in the update step",
    "clipping": "in gradient clipping",
}


@dataclass
class Diagnosis:
    """Where the disagreement starts, and a finding for each row that disagrees there."""

    where: str                                  # "layer 2 (Linear)", "the loss (MSELoss)"
    witness: str                                # "manual", "formula", "accumulation" or "update"
    findings: list[tuple[str, Finding]] = field(default_factory=list)   # (row name, finding)
    note: str | None = None                     # instead of findings, when nothing can be blamed

    @property
    def rows(self) -> list[str]:
        return [row for row, _ in self.findings]

    @property
    def kinds(self) -> list[str | None]:
        return [finding.kind for _, finding in self.findings]

    @property
    def kind(self) -> str | None:
        """The first finding's kind: the mistake named, or None."""
        return self.kinds[0] if self.findings else None

    def lines(self) -> list[str]:
        if self.note is not None:
            return textwrap.wrap(f"diagnosis: {self.note}", WIDTH, subsequent_indent="  ")
        rows = ", ".join(self.rows)
        if self.witness == "update":
            lines = [f"diagnosis: the step of {rows} differs from torch.optim.SGD's"]
        elif self.witness == "clipping":
            lines = [f"diagnosis: {rows} differs from torch.nn.utils.clip_grad_norm_ ({self.where})"]
        else:
            lines = textwrap.wrap(f"diagnosis: the disagreement starts at {self.where}, {rows} "
                                  f"({WITNESS[self.witness]})", WIDTH, subsequent_indent="  ")
        groups: list[tuple[list[str], Finding]] = []     # rows with the same finding are told once
        for row, finding in self.findings:
            if groups and groups[-1][1] == finding:
                groups[-1][0].append(row)
            else:
                groups.append(([row], finding))
        for names, finding in groups:
            head = finding.name if finding.kind is None else f"most likely {finding.name}"
            lines += textwrap.wrap(f"  {', '.join(names)}: {head}", WIDTH, subsequent_indent="    ")
            lines += textwrap.wrap(f"{finding.numbers} {finding.advice}".strip(), WIDTH, initial_indent="    ",
                                   subsequent_indent="    ", break_on_hyphens=False)
            if finding.kind in ZOO_KINDS:
                lines.append(f'    (the bug zoo\'s "{finding.kind}": python -m toolkit bugs)')
        return lines

    def __str__(self) -> str:
        return "\n".join(self.lines())


def _backward_order(row: Row) -> float:
    # backpropagation starts at the loss (no layer) and works back from the last layer
    return -math.inf if row.layer is None else -row.layer


def evidence(report: GradientReport, row: Row, witness: str) -> Evidence:
    """Everything a rule may need about ``row`` of ``report``, for the given witness."""
    rows = {r.name: r for r in report.rows}
    output = rows.get(OUTPUT)
    mine = row.formula if witness == "formula" else row.manual
    e = Evidence(_cpu(mine), _cpu(row.autograd), row.name, row.where,
                 one_batch_agrees=witness == "accumulation",
                 rtol=1e-3 if report.dtype == torch.float32 else 1e-6)
    if output is not None and output.autograd is not None:
        e.samples = output.autograd.shape[0] if output.autograd.dim() else None
        e.values = output.autograd.numel()
    if row.layer is not None and output is not None:
        after = rows.get(f"input of {row.layer + 1}", output)      # what the layer's output received
        e.dout, e.out = _cpu(after.autograd), _cpu(after.value)
        before = rows.get(f"input of {row.layer}")
        e.x = _cpu(before.value) if before is not None else None
    return e


def _cpu(t: torch.Tensor | None) -> torch.Tensor | None:
    return None if t is None else t.detach().to("cpu", torch.float64)


def _findings(report: GradientReport, bad: list[Row], witness: str) -> Diagnosis:
    first = min(bad, key=_backward_order)
    here = [row for row in bad if row.layer == first.layer]
    findings = []
    for row in here:
        e = evidence(report, row, witness)
        found = examine(e)
        if found is None:       # equal at the rules' tolerance, not at the report's
            found = Finding(None, "a difference of the size of rounding errors",
                            f"yours agrees with the right gradient to about {e.rtol:g} of its size, but not to "
                            f"the report's tolerance (largest difference {float((e.mine - e.true).abs().max()):.2g}).",
                            "A different order of operations, or float32?")
        findings.append((row.name, found))
    return Diagnosis(first.where, witness, findings)


def diagnose(report: GradientReport, accumulation: GradientReport | None = None) -> Diagnosis | None:
    """What went wrong in a disagreeing report (and accumulation check); None when both agree.

    The hand-written gradients are read first, then a lesson's formulas
    (``by_formula``), then the accumulation check. If autograd and the finite
    differences disagree with each other, nothing is blamed: the check
    itself is unsure (an input at a ReLU kink, say, or float32).
    """
    if report.ok and (accumulation is None or accumulation.ok):
        return None
    if "autograd vs finite diff" in report.failed_labels():
        return Diagnosis(report.first_disagreement or "?", "manual",
                         note="autograd and the finite differences disagree with each other too, so the check "
                              "cannot tell who is wrong (an input exactly at a ReLU kink? float32?); no mistake "
                              "is named.")
    for witness in ("manual", "formula"):
        bad = [row for row in report.rows
               if any(not c.allclose and c.label.startswith(witness) for c in row.comparisons)
               and (row.formula if witness == "formula" else row.manual) is not None]
        if bad:
            return _findings(report, bad, witness)
    if accumulation is not None and not accumulation.ok:
        return _findings(accumulation, [row for row in accumulation.rows if not row.ok], "accumulation")
    return None


def diagnose_update(report: GradientReport, lr: float) -> Diagnosis | None:
    """What went wrong in an update check (``toolkit.exercises.update_report``); None when it agrees."""
    if report.ok:
        return None
    row = report.rows[0]
    e = Evidence(_cpu(row.manual), _cpu(row.autograd), row.name, row.where, lr=lr,
                 rtol=1e-3 if report.dtype == torch.float32 else 1e-6)
    found = examine(e, UPDATE_RULES)
    return Diagnosis(row.where, "update", [(row.name, found if found is not None else unknown(e))])


# --------------------------------------------------------------------------- gradient clipping (lesson 17)


@dataclass
class ClipCase:
    """One call of a hand-written clipping function and of torch's, for the clipping rules.

    grads: the gradients before clipping; max_norm: the cap; mine / true: the
    gradients after yours and after ``torch.nn.utils.clip_grad_norm_``;
    mine_total / true_total: the norms returned.
    """

    grads: list[torch.Tensor]
    max_norm: float
    mine: list[torch.Tensor]
    true: list[torch.Tensor]
    mine_total: float
    true_total: float

    @property
    def agrees(self) -> bool:
        return (_all_same(self.mine, self.true, 1e-10)
                and abs(self.mine_total - self.true_total) <= 1e-10 * max(self.true_total, 1e-300))


def _clipped(case: ClipCase, total: float, cap: bool = True, guard: float = 1e-6) -> list[torch.Tensor]:
    c = case.max_norm / (total + guard)
    return [g * (min(c, 1.0) if cap else c) for g in case.grads]


def _all_same(a: list[torch.Tensor], b: list[torch.Tensor], rtol: float = 1e-9) -> bool:
    return len(a) == len(b) and all(same(x, y, rtol) for x, y in zip(a, b))


def clip_not_in_place(case: ClipCase) -> Finding | None:
    """Gradients left as they were, although they should have shrunk: new tensors made, the old ones kept."""
    if case.true_total <= case.max_norm or not _all_same(case.mine, case.grads, 1e-12):
        return None
    return Finding("clip-not-in-place", "gradients not changed in place",
                   "the gradients are exactly as they were, although their norm is above max_norm.",
                   "g = g * c makes a new tensor that the optimiser never sees: write g.mul_(c).")


def clip_each_tensor(case: ClipCase) -> Finding | None:
    """Every tensor clipped by its own norm, not by the norm of all of them together."""
    each = [g * min(case.max_norm / (float(g.norm()) + 1e-6), 1.0) for g in case.grads]
    if _all_same(each, case.true) or not _all_same(case.mine, each):
        return None
    return Finding("clip-per-tensor", "a norm per tensor instead of one over all of them",
                   "yours scales each tensor by its own norm, so the step changes direction.",
                   "Take ONE norm over all the gradients together (the norm of their norms) and scale every "
                   "tensor by the same factor.")


def clip_scales_up(case: ClipCase) -> Finding | None:
    """The coefficient max_norm/(total + 1e-6) used without the cap at 1: small gradients are blown up."""
    if case.true_total >= case.max_norm or not _all_same(case.mine, _clipped(case, case.true_total, cap=False)):
        return None
    return Finding("clip-scales-up", "a clipping coefficient not capped at 1",
                   f"the gradients' norm {case.true_total:.3g} is below max_norm {case.max_norm:.3g}, and yours "
                   "scaled them UP to max_norm.",
                   "Clipping only ever shrinks: multiply by min(1, max_norm / (norm + 1e-6)).")


def clip_norms_added(case: ClipCase) -> Finding | None:
    """The tensors' norms added up, where the total is the root of the sum of their squares."""
    summed = sum(float(g.norm()) for g in case.grads)
    if not _all_same(case.mine, _clipped(case, summed)):
        return None
    return Finding("clip-norms-added", "the tensors' norms added instead of combined as one vector",
                   f"yours divides by ‖g₁‖ + ‖g₂‖ + … = {summed:.4g}; the total norm is "
                   f"√(‖g₁‖² + ‖g₂‖² + …) = {case.true_total:.4g}.",
                   "The total norm is the norm of all entries as one vector: the norm of the tensors' norms.")


def clip_by_value(case: ClipCase) -> Finding | None:
    """Every entry clamped to [-max_norm, max_norm] (clip_grad_value_), not the norm capped."""
    if not _all_same(case.mine, [g.clamp(-case.max_norm, case.max_norm) for g in case.grads]):
        return None
    return Finding("clip-by-value", "each entry clipped to ±max_norm instead of the norm capped",
                   "yours clamps every entry on its own (torch's clip_grad_value_), which changes the direction.",
                   "Scale all the gradients by one factor, min(1, max_norm / (norm + 1e-6)).")


def clip_guard_missing(case: ClipCase) -> Finding | None:
    """max_norm / total without torch's + 1e-6: a difference of about 1e-6 / total, relative."""
    if case.true_total <= case.max_norm or not _all_same(case.mine, _clipped(case, case.true_total, guard=0.0), 1e-12):
        return None
    return Finding("clip-guard-missing", "the 1e-6 in the denominator left out",
                   "yours divides by the norm itself; torch divides by norm + 1e-6 (which also keeps an all-zero "
                   "gradient from a division by zero).",
                   "coefficient = max_norm / (norm + 1e-6), then capped at 1.")


def clip_returns_clipped_norm(case: ClipCase) -> Finding | None:
    """The right gradients, but the norm returned is the one after clipping (about max_norm)."""
    if not _all_same(case.mine, case.true) or abs(case.mine_total - case.true_total) <= 1e-9 * case.true_total:
        return None
    after = math.sqrt(sum(float((g * g).sum()) for g in case.true))
    if not abs(case.mine_total - after) <= 1e-6 * after:
        return None
    return Finding("clip-returns-after", "the norm after clipping returned",
                   f"yours returned {case.mine_total:.4g}, the norm after clipping; torch returns the norm before, "
                   f"{case.true_total:.4g}.",
                   "Return the total norm measured before scaling: it is the number that shows a spike.")


CLIP_RULES = [clip_not_in_place, clip_each_tensor, clip_scales_up, clip_norms_added, clip_by_value,
              clip_guard_missing, clip_returns_clipped_norm]


def diagnose_clipping(cases: dict[str, ClipCase], name: str = "clipping") -> Diagnosis | None:
    """What went wrong in a hand-written clipping function, from calls that disagree with torch's; None if none does.

    ``cases``: {what the call was: its ClipCase}. The first rule (in CLIP_RULES' order) that fits a
    disagreeing call names the mistake; when none fits, the difference is described.
    """
    bad = {label: case for label, case in cases.items() if not case.agrees}
    if not bad:
        return None
    for rule in CLIP_RULES:
        for label, case in bad.items():
            finding = rule(case)
            if finding is not None:
                return Diagnosis(label, "clipping", [(name, finding)])
    label, case = next(iter(bad.items()))
    if _all_same(case.mine, case.true, 1e-10):
        return Diagnosis(label, "clipping", [(name, Finding(
            None, "the returned norm differs", f"yours returned {case.mine_total:.6g}, torch {case.true_total:.6g}.",
            "Return the total norm of all the gradients, measured before clipping."))])
    mine = torch.cat([g.reshape(-1) for g in case.mine])
    true = torch.cat([g.reshape(-1) for g in case.true])
    return Diagnosis(label, "clipping", [(name, unknown(Evidence(_cpu(mine), _cpu(true), name, label)))])



def _zoo_kinds() -> set[str]:
    from toolkit import bugs      # the zoo imports the report, as this module does: import it late

    return {specimen.kind for specimen in bugs.CATALOGUE}


class _ZooKinds:
    """The bug zoo's kinds, looked up when first needed."""

    _kinds: set[str] | None = None

    def __contains__(self, kind: object) -> bool:
        if self._kinds is None:
            self._kinds = _zoo_kinds()
        return kind in self._kinds


ZOO_KINDS = _ZooKinds()


# --------------------------------------------------------------------------- a Newton direction (lesson 18)
# The rules see d, yours, beside the true d = −H⁻¹g, with H and g themselves: d is a solve, not a product,
# so each classic mistake is a product or a solve that is not the right one.

WITNESS["newton"] = "against torch.linalg.solve(H, −g)"


def newton_sign_flipped(d, true, hessian, gradient) -> Finding | None:
    """d = +H⁻¹g: the solve is right, the minus is lost, and the step climbs the quadratic model."""
    if not same(d, -true):
        return None
    return Finding("newton-sign", "a Newton direction with its sign flipped", "yours is +H⁻¹g, −1 times the right d.",
                   "The model L + gᵀd + ½dᵀHd is lowest where its slope g + Hd is 0: solve H·d = −g.")


def newton_multiplied(d, true, hessian, gradient) -> Finding | None:
    """d = −H·g: the Hessian multiplied where it should be divided out (solved for)."""
    if not same(d, -(hessian @ gradient)):
        return None
    return Finding("newton-multiplied", "the gradient multiplied by H instead of solved for",
                   "yours is −H·g, the gradient multiplied by the Hessian.",
                   "Newton's direction divides by the curvature: d = −H⁻¹g, that is torch.linalg.solve(H, −g).")


def newton_without_hessian(d, true, hessian, gradient) -> Finding | None:
    """d = −g, or −g/diag(H): the Hessian left out, or only its diagonal used."""
    if same(d, -gradient):
        return Finding("newton-without-hessian", "a gradient step instead of a Newton step",
                       "yours is −g: the Hessian does not appear.", "Solve H·d = −g with the whole H.")
    if same(d, -gradient / torch.diagonal(hessian)):
        return Finding("newton-diagonal-only", "only the diagonal of H used",
                       "yours is −g/diag(H): every coordinate divided by its own curvature, the couplings left out.",
                       "Solve H·d = −g with the whole H, off-diagonal entries too.")
    return None


NEWTON_RULES = [newton_sign_flipped, newton_multiplied, newton_without_hessian]


def diagnose_newton(d: torch.Tensor, hessian: torch.Tensor, gradient: torch.Tensor) -> Diagnosis | None:
    """Which classic mistake a Newton direction d (P,) shows, for the Hessian (P, P) and gradient (P,)
    it was computed from; None when d = −H⁻¹g."""
    d, hessian, gradient = (_cpu(t) for t in (d, hessian, gradient))
    true = torch.linalg.solve(hessian, -gradient)
    if d.shape == true.shape and same(d, true):
        return None
    finding = None
    if d.shape == true.shape:
        finding = next((found for rule in NEWTON_RULES if (found := rule(d, true, hessian, gradient))), None)
    if finding is None:
        finding = unknown(Evidence(d, true, "d", "the Newton direction"))
    return Diagnosis("the Newton direction", "newton", [("d", finding)])

# --------------------------------------------------------------------------- the average over the workers
#
# Lesson 20's exercise averages each worker's gradient over k workers with dist.all_reduce. Its rules
# compare your average g on a worker with t, the whole batch's gradient in one process, and l, that
# worker's own gradient before the all-reduce:
#
#     rule                      the numbers
#     summed_not_averaged       g = k·t: the all-reduce's sum, never divided by k
#     divided_twice             g = t/k: the sum divided by k twice (or a mean divided again)
#     own_gradient_only         g = l ≠ t: no all-reduce; each worker steps on its own share
#     sum_went_into_a_copy      g = l/k: all_reduce summed a copy; the worker divided its own gradient

WITNESS["all_reduce"] = "after the all-reduce"


def summed_not_averaged(e: Evidence) -> Finding | None:
    """g = k·t: every worker holds the sum of the k gradients, which is k times the mean."""
    if not e.workers or e.workers < 2 or not _factor(e, e.workers):
        return None
    return Finding("sum-not-averaged", "gradients summed over the workers but not averaged",
                   f"yours is {e.workers} times the whole batch's gradient: {e.workers} = k, the number of workers.",
                   "dist.all_reduce leaves the SUM of the k gradients on every worker; divide it by k "
                   "(world_size).")


def divided_twice(e: Evidence) -> Finding | None:
    """g = t/k: the mean divided by k once more."""
    if not e.workers or e.workers < 2 or not _factor(e, 1 / e.workers):
        return None
    return Finding("average-divided-twice", "the average divided by k twice",
                   f"yours is the whole batch's gradient divided by {e.workers} = k.",
                   "Each worker's loss is already a mean over its share: after the all-reduce's sum, divide by "
                   "k once.")


def own_gradient_only(e: Evidence) -> Finding | None:
    """g = l, and l is not t: the gradients never met; each worker steps on its own share."""
    if e.local is None or same(e.local, e.true, e.rtol) or not same(e.mine, e.local, e.rtol):
        return None
    return Finding("no-all-reduce", "no all-reduce: each worker kept its own gradient",
                   "yours is this worker's own gradient, on its share alone; the workers' copies of the network "
                   "now drift apart.",
                   "Call dist.all_reduce(param.grad) for every parameter, then divide by k.")


def sum_went_into_a_copy(e: Evidence) -> Finding | None:
    """g = l/k: all_reduce summed a copy (param.grad.clone(), a new tensor) and the result was dropped."""
    if not e.workers or e.workers < 2 or e.local is None or same(e.local, e.true, e.rtol):
        return None
    if not same(e.mine, e.local / e.workers, e.rtol):
        return None
    return Finding("all-reduce-into-a-copy", "the all-reduce's sum went into a copy",
                   f"yours is this worker's own gradient divided by {e.workers}: the sum never reached .grad.",
                   "dist.all_reduce works IN PLACE on the tensor it is given and returns nothing useful: "
                   "pass param.grad itself.")


ALL_REDUCE_RULES = [summed_not_averaged, divided_twice, own_gradient_only, sum_went_into_a_copy, flipped_sign,
                    nothing_written]


def diagnose_average(report: GradientReport, local: dict[str, torch.Tensor], workers: int,
                     where: str = "the average over the workers") -> Diagnosis | None:
    """What went wrong in averaging gradients over ``workers`` workers; None when the report agrees.

    ``report``'s rows hold your averaged gradient (``manual``) and the whole
    batch's (``autograd``) for every parameter; ``local`` the worker's own
    gradients before the all-reduce, by parameter name.
    """
    bad = [row for row in report.rows if not row.ok and row.manual is not None]
    if not bad:
        return None
    rtol = 1e-3 if report.dtype == torch.float32 else 1e-6
    findings = []
    for row in bad:
        e = Evidence(_cpu(row.manual), _cpu(row.autograd), row.name, row.where, local=_cpu(local.get(row.name)),
                     workers=workers, rtol=rtol)
        findings.append((row.name, examine(e, ALL_REDUCE_RULES) or unknown(e)))
    return Diagnosis(where, "all_reduce", findings)
