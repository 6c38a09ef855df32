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
    softmax_wrong_axis            g = (softmax over the batch axis − onehot)/N
    batchnorm_path_missing        batch norm's dz without its mean path (−Σdy), its variance path
                                  (−ẑ·Σdy·ẑ), its direct path (N·dy), or without γ (g = t/γ)
    slope_from_wrong_tensor       tanh: g = dout·(1 − x²) where dout·(1 − y²) belongs
    from_wrong_layer              g = dout·f'(another layer's output), or dout·W of another layer
    mask_from_wrong_tensor        ReLU: g = dout·[dout > 0] where dout·[x > 0] belongs
    mask_flipped                  ReLU: g = dout·[x ≤ 0]
    mask_missing                  ReLU: g = dout, no mask at all (tanh, sin: no slope at all)
    dropout_through_dropped_units Dropout: gradient through units the forward pass dropped
    dropout_scale_wrong           Dropout: the 1/(1 − p) left out or misplaced
    upstream_gradient_missing     g·dout = t: the layer's slope alone, dout left out
    function_for_its_slope        g = dout·f(x) where dout·f'(x) belongs (sin for cos)
    input_factor_missing          a weight's g = Σₙ dout[n], the x of Σₙ dout[n]·x[n] left out
    outer_product                 g = (Σₙ dout[n])·(Σₘ x[m]), or the N×N table dout·xᵀ unsummed
    forgotten_one_over_n          g = N·t (or M·t): the mean's 1/N left out
    mean_where_sum_belongs        g = t/N: at a bias, the batch averaged instead of summed;
                                  anywhere else, the 1/N applied twice
    forgotten_two                 g = t/2: the 2 of d(e²)/de = 2e left out
    nothing_written               g = 0 everywhere, while t is not

N is the number of samples in the batch, M the number of values the loss
averages (N times the outputs per sample for the mean squared error). An
update step (``run.check_update``) has rules of its own: ``not_in_place``,
``flipped_sign`` and ``learning_rate_missing``; so has gradient clipping
(``diagnose_clipping``, lesson 17's exercise): a norm per tensor instead of
one over all, a coefficient not capped at 1, the norms added instead of
squared and summed, values clipped one by one, the 1e-6 guard left out, the
norm returned after clipping, and gradients not changed in place. A
hand-written Adam step is probed once (``diagnose_adam_step``) and its step
compared with each classic way of writing the bias corrections wrong
(``_adam_variants``: missing, unpowered, swapped or off by one step, for m,
v or both, and ε inside the root). An error raised from a student's code has
rules of its own too (``FAILURE_RULES``: a function that returns nothing, a
gradient of the wrong shape, a name never assigned, a key missing, the wrong
number of values returned, a matrix product whose shapes do not fit...).

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
from toolkit.manual.module import GradientShapeError

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
    layer: int | None = None             # the row's layer (None: the loss)
    layers: list[str] = field(default_factory=list)     # every layer's type, in order
    outputs: dict = field(default_factory=dict)         # layer index -> its output (float64, on the CPU)
    params: dict = field(default_factory=dict)          # every parameter's value by name ("2.weight")

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
    """ReLU: g = dout, the gradient passed through unmasked, as if every unit were active.
    tanh, sigmoid, sin: g = dout, the slope left out (as if the layer were not there)."""
    kind = _activation(e)
    if kind is None or e.dout is None or not same(e.mine, e.dout, e.rtol):
        return None
    if kind == "ReLU":
        return Finding("relu-mask-missing", "a ReLU backward without its mask",
                       "yours is dout itself: the gradient passes inactive units too.",
                       "Multiply by the mask of active units, [x > 0].")
    return Finding("slope-missing", f"the slope of {kind.lower()} left out",
                   "yours is dout itself, the gradient that arrived, passed on unchanged.",
                   f"Multiply dout by the slope of {kind.lower()} at the input x.")


# The activations elementwise layers apply, as the layer types the report names them by (a lesson's own
# layer's torch twin may carry a longer name, TorchSin), with the function and its slope at the input x.
ACTIVATIONS: dict[str, tuple[Callable, Callable, str]] = {
    "Tanh": (torch.tanh, lambda x: 1 - torch.tanh(x) ** 2, "1 − tanh(x)²"),
    "Sigmoid": (torch.sigmoid, lambda x: torch.sigmoid(x) * (1 - torch.sigmoid(x)), "σ(x)·(1 − σ(x))"),
    "Sin": (torch.sin, torch.cos, "cos(x)"),
    "ReLU": (torch.relu, lambda x: (x > 0).to(x.dtype), "[x > 0]"),
}


def _activation(e: Evidence) -> str | None:
    """The activation behind the row ("Tanh", "Sin", ...), if it is the input of such a layer."""
    kind = e.layer_type or ""
    return next((name for name in ACTIVATIONS if kind == name or kind.endswith(name)), None)


def upstream_gradient_missing(e: Evidence) -> Finding | None:
    """An elementwise layer: g = f'(x) where dout·f'(x) belongs: the gradient arriving from above left out.

    The chain rule multiplies the layer's own slope by dL/d(its output),
    dout; without it, every layer below learns as if the loss were the
    layer's output. Signature: g·dout = t, entry for entry.
    """
    if _activation(e) is None or e.dout is None or not (e.mine.shape == e.dout.shape == e.true.shape):
        return None
    if not _nonzero(e.true) or not same(e.mine * e.dout, e.true, e.rtol):
        return None
    return Finding("upstream-gradient-missing", "the upstream gradient (dout) left out",
                   "yours times dout is the right gradient: yours is the layer's slope alone.",
                   "Multiply the slope by dout, the gradient that arrives from the layer above (the chain rule).")


def function_for_its_slope(e: Evidence) -> Finding | None:
    """g = dout·f(x) where dout·f'(x) belongs: the function itself taken for its slope (sin for cos, tanh for
    1 − tanh²)."""
    kind = _activation(e)
    if kind in (None, "ReLU") or e.dout is None or e.x is None or e.mine.shape != e.true.shape:
        return None
    function, _, slope = ACTIVATIONS[kind]
    if e.x.shape != e.mine.shape or not same(e.mine, e.dout * function(e.x), e.rtol):
        return None
    name = kind.lower()
    return Finding("function-for-its-slope", f"{name} where its slope {slope} belongs",
                   f"yours is dout·{name}(x): the function itself, not its derivative.",
                   f"The slope of {name} at x is {slope}.")


def mask_flipped(e: Evidence) -> Finding | None:
    """ReLU: g = dout·[x ≤ 0] where dout·[x > 0] belongs: the gradient passed where the unit was OFF."""
    if _activation(e) != "ReLU" or e.dout is None or e.x is None or not (e.mine.shape == e.x.shape == e.dout.shape):
        return None
    if not (same(e.mine, e.dout * (e.x <= 0), e.rtol) or same(e.mine, e.dout * (e.x < 0), e.rtol)):
        return None
    return Finding("relu-mask-flipped", "a flipped ReLU mask",
                   "yours is dout·[x ≤ 0]: the gradient passes the inactive units and stops at the active ones.",
                   "ReLU passes the gradient where the unit was active: dout·[x > 0].")


def from_wrong_layer(e: Evidence) -> Finding | None:
    """The slope (or weight) of ANOTHER layer taken: g = dout·f'(y_j) with y_j another tanh's output, or
    g = dout·W_j with W_j another Linear layer's weight, where this layer's own belongs.

    Writing the chain rule out by hand (lesson 04), h1 for h2 or w3 for w2
    is one character. Each other layer of the same kind whose numbers fit
    is tried; the first that reproduces g is named.
    """
    if e.layer is None or e.dout is None or not e.row.startswith("input of") or e.mine.shape != e.true.shape:
        return None
    kind = _activation(e)
    if kind in ("Tanh", "Sigmoid"):
        slope_of_output = SLOPES[kind][1]
        for other, output in e.outputs.items():
            if other != e.layer and e.layers[other] == e.layers[e.layer] and output.shape == e.mine.shape \
                    and same(e.mine, e.dout * slope_of_output(output), e.rtol):
                return Finding("slope-from-wrong-layer", "the slope taken from the wrong layer",
                               f"yours is dout·f'(the output of layer {other}), the slope of another {kind.lower()}.",
                               f"Take the slope from this layer's own output (layer {e.layer}).")
    if e.layer_type == "Linear":
        for name, weight in e.params.items():
            other = int(name.split(".")[0]) if name.split(".")[0].isdigit() else None
            if not name.endswith("weight") or other in (None, e.layer) or weight.dim() != 2:
                continue
            if e.dout.dim() == 2 and e.dout.shape[1] == weight.shape[0] and weight.shape[1] == e.mine.shape[-1] \
                    and same(e.mine, e.dout @ weight, e.rtol):
                return Finding("weight-from-wrong-layer", "the weight taken from the wrong layer",
                               f"yours is dout·W of layer {other}, not of this layer (layer {e.layer}).",
                               "dL/dx = dout·W with W this layer's own weight.")
    return None


def _weight_parts(e: Evidence) -> tuple[torch.Tensor, torch.Tensor] | None:
    """(dout, x) of the Linear layer whose weight the row is: (N, out) and (N, in), if the report has both."""
    if not e.row.endswith("weight") or e.dout is None or e.x is None or e.dout.dim() != 2 or e.x.dim() != 2:
        return None
    if e.true.dim() != 2 or e.true.shape != (e.dout.shape[1], e.x.shape[1]):
        return None
    return e.dout, e.x


def input_factor_missing(e: Evidence) -> Finding | None:
    """A weight's gradient without the input it multiplies: g = Σₙ dout[n] (for every input) where
    Σₙ dout[n]·x[n] belongs: the bias's gradient given to the weight (the x of 2/N Σ (w·xₙ − yₙ)·xₙ left out)."""
    parts = _weight_parts(e)
    if parts is None or e.mine.numel() != e.true.numel():
        return None
    dout, _ = parts
    if not same(e.mine.reshape(e.true.shape), dout.sum(dim=0)[:, None].expand(e.true.shape), e.rtol):
        return None
    return Finding("input-factor-missing", "the input factor x left out",
                   "yours is Σₙ dout[n], the same for every input: the gradient of a bias, not of a weight.",
                   "A weight multiplies its input, so its gradient carries it: Σₙ dout[n]·x[n] (doutᵀ·x).")


def outer_product(e: Evidence) -> Finding | None:
    """Every sample's error times every sample's input: g = (Σₙ dout[n])·(Σₘ x[m]) where Σₙ dout[n]·x[n]
    belongs, or, not yet summed, the N×N table dout·xᵀ whose diagonal alone adds up to the gradient.

    (N, 1) * (1, N) broadcasts into an outer product: ``(w*x - y) * x.T``.
    """
    parts = _weight_parts(e)
    if parts is None:
        return None
    dout, x = parts
    n = dout.shape[0]
    if e.mine.numel() == e.true.numel() and n > 1 and \
            same(e.mine.reshape(e.true.shape), torch.outer(dout.sum(dim=0), x.sum(dim=0)), e.rtol):
        return Finding("outer-product", "an outer product where a product per sample belongs",
                       "yours is (Σₙ dout[n])·(Σₘ x[m]): every sample's error times every sample's input.",
                       "Multiply each sample's error by its own input, then sum: Σₙ dout[n]·x[n]. Check for an "
                       "(N, 1) times (1, N) product, such as x.T where x belongs.")
    if e.true.numel() == 1 and e.mine.dim() == 2 and e.mine.shape == (n, n) and n > 1 and \
            same(e.mine.diagonal().sum().reshape(e.true.shape), e.true, e.rtol):
        return Finding("outer-product", "an outer product where a product per sample belongs",
                       f"yours is an {n}×{n} table, every sample's error times every sample's input; its diagonal "
                       "alone adds up to the right gradient.",
                       "Multiply each sample's error by its own input (both (N, 1)), then sum. Check for an "
                       "(N, 1) times (1, N) product, such as x.T where x belongs.")
    return None


def softmax_wrong_axis(e: Evidence) -> Finding | None:
    """Cross-entropy: g = (softmax over the batch axis − onehot)/N, where softmax over each sample's classes
    (axis 1) belongs: every column of probabilities sums to 1 instead of every row. (Of the logits, or of the
    logits shifted so that each row's largest is 0, as the loss keeps them.)"""
    if e.row != OUTPUT or "CrossEntropy" not in (e.layer_type or "") or e.x is None or e.mine.shape != e.true.shape:
        return None
    z, n = e.x, e.true.shape[0]
    if z.shape != e.true.shape or z.dim() != 2 or n < 2:
        return None
    onehot = torch.softmax(z, dim=1) - n * e.true
    if not bool(((onehot - onehot.round()).abs() <= 1e-6).all()):
        return None
    shifted = z - z.max(dim=1, keepdim=True).values       # the lesson's logits, each row's largest made 0
    if not any(same(e.mine, (torch.softmax(logits, dim=0) - onehot) / n, e.rtol) for logits in (z, shifted)):
        return None
    return Finding("softmax-wrong-axis", "softmax over the wrong axis",
                   "yours is (softmax over the samples − onehot)/N: each column of probabilities sums to 1, "
                   "not each sample's row.",
                   "Normalise over the classes of each sample: sum (and max) over dim=1, keepdim=True.")


def _batchnorm_parts(e: Evidence):
    """(dy, ẑ, γ, s, N) of a training-mode batch-norm layer whose input the row is, recovered from the report:
    ẑ = (y − β)/γ from the output, s per unit from (z − μ)·ẑ; None unless the right formula then gives t."""
    if not (e.layer_type or "").startswith("BatchNorm") or not e.row.startswith("input of") or e.layer is None:
        return None
    gamma, beta = e.params.get(f"{e.layer}.weight"), e.params.get(f"{e.layer}.bias")
    if gamma is None or beta is None or e.dout is None or e.x is None or e.out is None or e.x.dim() != 2:
        return None
    if bool((gamma == 0).any()) or e.mine.shape != e.true.shape or e.x.shape[0] < 2:
        return None
    dy, z, n = e.dout, e.x, e.x.shape[0]
    zhat = (e.out - beta) / gamma
    s = ((z - z.mean(dim=0)) * zhat).sum(dim=0) / (zhat * zhat).sum(dim=0)
    right = (gamma / s) * (n * dy - dy.sum(dim=0) - zhat * (dy * zhat).sum(dim=0)) / n
    return (dy, zhat, gamma, s, n) if same(right, e.true, 1e-6) else None


def batchnorm_path_missing(e: Evidence) -> Finding | None:
    """Batch norm's dz = (1/N)·(γ/s)·(N·dy − Σdy − ẑ·Σdy·ẑ) with one of its parts left out: the path through
    the mean (−Σdy), the path through the variance (−ẑ·Σdy·ẑ), the direct path (N·dy), or γ."""
    parts = _batchnorm_parts(e)
    if parts is None:
        return None
    dy, zhat, gamma, s, n = parts
    total, along = dy.sum(dim=0), (dy * zhat).sum(dim=0)
    variants = {
        "batchnorm-gamma-missing": ("γ left out of dz", (n * dy - total - zhat * along) / (n * s),
                                    "yours is the right dz divided by γ.", "dz carries γ: y = γ·ẑ + β."),
        "batchnorm-mean-path-missing": ("batch norm's path through the mean left out",
                                        (gamma / s) * (n * dy - zhat * along) / n,
                                        "yours lacks the −Σdy term: the path through μ.",
                                        "Every z moves μ, and μ moves every ẑ: subtract Σⱼ dyⱼ."),
        "batchnorm-variance-path-missing": ("batch norm's path through the variance left out",
                                            (gamma / s) * (n * dy - total) / n,
                                            "yours lacks the −ẑ·Σdy·ẑ term: the path through σ².",
                                            "Every z moves σ², and σ² moves every ẑ: subtract ẑᵢ·Σⱼ dyⱼ·ẑⱼ."),
        "batchnorm-direct-path-missing": ("batch norm's direct path left out",
                                          (gamma / s) * (-total - zhat * along) / n,
                                          "yours lacks the N·dy term: the path from zᵢ straight to ẑᵢ.",
                                          "zᵢ reaches yᵢ directly too: the first term is N·dyᵢ."),
    }
    for kind, (name, wrong, numbers, advice) in variants.items():
        if same(e.mine, wrong, e.rtol):
            return Finding(kind, name, numbers, advice)
    return None


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


def wrong_shape(mine: tuple[int, ...] | None, true: tuple[int, ...]) -> Finding:
    """From the shapes alone (a gradient of the wrong shape cannot even be stored in .grad, or handed on):
    nothing returned (None), one number where one per entry belongs, the transpose's shape, or an extra
    first axis; else no classic name."""
    true = tuple(true)
    if mine is None:
        return Finding("returns-nothing", "a backward that returns nothing",
                       f"it returned None where a gradient of shape {_shape(torch.empty(true))} belongs.",
                       "End it with return and the gradient it computes.")
    mine = tuple(mine)
    shapes = f"a gradient of shape {_shape(torch.empty(mine))} for a parameter of shape {_shape(torch.empty(true))}"
    if math.prod(mine) == 1 and math.prod(true) > 1:
        return Finding("gradient-reduced", "a gradient summed (or averaged) to one number",
                       f"a gradient of shape {_shape(torch.empty(mine))} where one of shape "
                       f"{_shape(torch.empty(true))} belongs, one value per entry.",
                       "Keep one value per entry of what it is the gradient of: no .sum() or .mean() over it.")
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


# The rules for a gradient, most specific first. A new mistake is one more small function whose docstring
# gives its signature in numbers, added here (and to the table in the module's docstring).
GRADIENT_RULES = [overwritten_instead_of_added, transposed_product, batch_not_summed, flipped_sign,
                  target_not_subtracted, softmax_wrong_axis, batchnorm_path_missing, slope_from_wrong_tensor,
                  from_wrong_layer, mask_from_wrong_tensor, mask_flipped, mask_missing,
                  dropout_through_dropped_units, dropout_scale_wrong, upstream_gradient_missing,
                  function_for_its_slope, input_factor_missing, outer_product, forgotten_one_over_n,
                  mean_where_sum_belongs, forgotten_two, nothing_written]


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


# --------------------------------------------------------------------------- Adam's step


def _adam_variants(m, v, t: int, beta1: float, beta2: float):
    """(kind, name, m_hat, v_hat, eps inside the root) of every classic way of writing Adam's bias corrections
    wrong, for the moments m and v of step t; the right one first, with kind None."""
    c1, c2 = 1 - beta1 ** t, 1 - beta2 ** t
    return [
        (None, "right", m / c1, v / c2, False),
        ("adam-bias-correction-missing-m", "m not corrected for its start at 0", m, v / c2, False),
        ("adam-bias-correction-missing-v", "v not corrected for its start at 0", m / c1, v, False),
        ("adam-bias-correction-missing", "neither m nor v corrected for their start at 0", m, v, False),
        ("adam-bias-correction-unpowered-m", "m divided by 1 − β₁ instead of 1 − β₁ᵗ", m / (1 - beta1), v / c2, False),
        ("adam-bias-correction-unpowered-v", "v divided by 1 − β₂ instead of 1 − β₂ᵗ", m / c1, v / (1 - beta2), False),
        ("adam-bias-correction-unpowered", "both corrections without the power t", m / (1 - beta1), v / (1 - beta2),
         False),
        ("adam-bias-corrections-swapped", "the two bias corrections swapped", m / c2, v / c1, False),
        ("adam-bias-correction-off-by-one-m", "m's correction at the wrong step (t ± 1)",
         [m / (1 - beta1 ** (t + 1)), m / (1 - beta1 ** (t - 1))], v / c2, False),
        ("adam-bias-correction-off-by-one-v", "v's correction at the wrong step (t ± 1)",
         m / c1, [v / (1 - beta2 ** (t + 1)), v / (1 - beta2 ** (t - 1))], False),
        ("adam-bias-correction-off-by-one", "both corrections at the wrong step (t ± 1)",
         [m / (1 - beta1 ** (t + 1)), m / (1 - beta1 ** (t - 1))],
         [v / (1 - beta2 ** (t + 1)), v / (1 - beta2 ** (t - 1))], False),
        ("adam-eps-inside-root", "ε inside the square root", m / c1, v / c2, True),
    ]


ADAM_ADVICE = {
    "missing": "Both means start at 0 and are too small early on: m̂ = m / (1 − β₁ᵗ), v̂ = v / (1 − β₂ᵗ).",
    "unpowered": "The correction of step t is 1 − βᵗ: β to the power of the step's number, from 1.",
    "swapped": "m, the mean of g, goes with β₁; v, the mean of g², with β₂.",
    "off-by-one": "t counts the steps from 1: the first step divides by 1 − β, the t-th by 1 − βᵗ.",
    "eps": "ε is added after the root: θ ← θ − lr·m̂ / (√v̂ + ε), as torch does.",
}


def diagnose_adam_step(adam_step, *, lr: float = 0.1, beta1: float = 0.9, beta2: float = 0.999,
                       eps: float = 1e-8, t: int = 3, seed: int = 0) -> Diagnosis | None:
    """Which classic mistake is in a hand-written Adam step ``adam_step(theta, g, m, v, t, lr)``, or None if it
    is right.

    The step is called once on a probe: random θ and gradients of about
    10⁻³ (so that √v̂ is small and ε's place shows), moments from earlier
    steps, at step t = 3 (where 1 − βᵗ differs from 1 − β and from t ± 1).
    Its new m and v must be the running means; its new θ is compared with
    every variant of ``_adam_variants``, each a rule with its own numbers.
    """
    generator = torch.Generator().manual_seed(seed)
    draw = lambda scale: scale * torch.randn(3, 4, generator=generator, dtype=torch.float64)  # noqa: E731
    theta, g, m, v = draw(1.0), draw(1e-3), draw(1e-3), draw(1e-3) ** 2 + 1e-8
    new_m, new_v = beta1 * m + (1 - beta1) * g, beta2 * v + (1 - beta2) * g * g
    here = "adam_step"
    try:
        result = adam_step(theta.clone(), g.clone(), m.clone(), v.clone(), t, lr)
        theta_1, m_1, v_1 = result
    except Exception as error:      # noqa: BLE001 - the student's code may fail in any way
        return Diagnosis(here, "adam", note=f"adam_step failed on a probe step: {type(error).__name__}: {error}")
    if not (isinstance(theta_1, torch.Tensor) and isinstance(m_1, torch.Tensor) and isinstance(v_1, torch.Tensor)):
        return Diagnosis(here, "adam", note="adam_step must return three tensors: (theta, m, v)")
    mine = theta_1.double() - theta
    if not (same(m_1.double(), new_m, 1e-9) and same(v_1.double(), new_v, 1e-9)):
        which = "m" if not same(m_1.double(), new_m, 1e-9) else "v"
        formula = "β₁·m + (1 − β₁)·g" if which == "m" else "β₂·v + (1 − β₂)·g²"
        return Diagnosis(here, "adam", [(here, Finding(None, "none of the classic mistakes fits",
                                                       f"your new {which} is not the running mean {formula}.",
                                                       "Update each mean from the old one and this step's g."))])
    for kind, name, m_hat, v_hat, inside in _adam_variants(new_m, new_v, t, beta1, beta2):
        for mh in (m_hat if isinstance(m_hat, list) else [m_hat]):
            for vh in (v_hat if isinstance(v_hat, list) else [v_hat]):
                step = -lr * mh / ((vh + eps).sqrt() if inside else vh.sqrt() + eps)
                if torch.isfinite(step).all() and same(mine, step, 1e-9):
                    if kind is None:
                        return None
                    advice = next(text for key, text in ADAM_ADVICE.items() if key in kind)
                    numbers = "your step is exactly the one this mistake gives, on a probe at step t = 3."
                    return Diagnosis(here, "adam", [(here, Finding(kind, name, numbers, advice))])
    return Diagnosis(here, "adam", [(here, unknown(Evidence(mine, -lr * (new_m / (1 - beta1 ** t)) / (
        (new_v / (1 - beta2 ** t)).sqrt() + eps), here, "adam_step's step")))])


# --------------------------------------------------------------------------- a student's code that fails


@dataclass
class Failure:
    """An error raised from (or because of) a student's exercise, for the rules below."""

    error: BaseException
    returns_nothing: bool = False       # the exercise's function has no return statement, where one belongs


def returned_nothing(f: Failure) -> Finding | None:
    """An exercise whose function has no ``return`` (a body of ``pass``, say) gives None, and None then fails
    wherever its value is used ('NoneType' object is not subscriptable, cannot unpack non-iterable None...)."""
    got_none = f.error.got is None if isinstance(f.error, GradientShapeError) else "None" in str(f.error)
    if not (f.returns_nothing and got_none):
        return None
    return Finding("returns-nothing", "it returns nothing",
                   "its code has no return statement, so the function gives None.",
                   "End it with return and the value it computes.")


def gradient_of_wrong_shape(f: Failure) -> Finding | None:
    """A backward that handed on a gradient whose shape is not its tensor's (``GradientShapeError``):
    read from the two shapes (``wrong_shape``)."""
    if not isinstance(f.error, GradientShapeError):
        return None
    finding = wrong_shape(f.error.got, f.error.expected)
    if f.error.backward is None:        # added into .grad (accumulate_grad): the shapes say it all
        return finding
    return Finding(finding.kind, finding.name, f"{f.error.what}: {finding.numbers}", finding.advice)


def name_never_assigned(f: Failure) -> Finding | None:
    """NameError: a name the code uses (dx, say) that it never assigned."""
    if not isinstance(f.error, NameError):
        return None
    name = getattr(f.error, "name", None) or (re.findall(r"'(\w+)'", str(f.error)) or ["?"])[0]
    return Finding("name-never-assigned", f"{name} is used but never assigned",
                   f"({f.error}).", f"Assign {name} in the exercise before it is used or returned.")


def key_missing(f: Failure) -> Finding | None:
    """KeyError: a dict the exercise returns lacks a key the lesson reads."""
    if not isinstance(f.error, KeyError):
        return None
    return Finding("key-missing", "a key missing from what it returns",
                   f"the lesson asked for {f.error.args[0]!r}, which is not there.",
                   "Return every key the exercise asks for, spelt as in its task.")


def wrong_number_of_values(f: Failure) -> Finding | None:
    """A function that returns more or fewer values than are unpacked from it (``a, b, c = f(...)``)."""
    found = re.search(r"(not enough|too many) values to unpack \(expected (\d+)(?:, got (\d+))?\)", str(f.error))
    if not isinstance(f.error, ValueError) or not found:
        return None
    got = f", not {found[3]}" if found[3] else ""
    return Finding("wrong-number-of-values", "a function returning the wrong number of values",
                   f"the lesson unpacks {found[2]} values from it{got}.",
                   "Return every value the docstring lists, in its order.")


def matrix_shapes_do_not_fit(f: Failure) -> Finding | None:
    """A matrix product of (A×B)·(C×D) with B ≠ C: most often a transpose missing or one too many
    (dx = dout·Wᵀ where dout·W belongs)."""
    found = re.search(r"shapes cannot be multiplied \((\d+)x(\d+) and (\d+)x(\d+)\)", str(f.error))
    if not found:
        return None
    return Finding("matmul-shapes", "a transposed product (the shapes of a matrix product do not fit)",
                   f"({found[1]}×{found[2]})·({found[3]}×{found[4]}): the inner sizes {found[2]} and {found[3]} "
                   "differ.",
                   "Write down each factor's shape: dL/dx = dout·W is (N, out)·(out, in). Check where a .T belongs.")


def one_number_expected(f: Failure) -> Finding | None:
    """A tensor of many entries where one number belongs (``.item()`` on it): most often a forgotten sum."""
    found = re.search(r"a Tensor with (\d+) elements cannot be converted to Scalar", str(f.error))
    if not found:
        return None
    return Finding("one-number-expected", "a tensor where one number belongs (a forgotten sum?)",
                   f"it has {found[1]} entries.", "Sum over the samples (.sum()) to get one number.")


def shapes_do_not_fit(f: Failure) -> Finding | None:
    """Two tensors combined entry by entry whose shapes do not fit (nor broadcast)."""
    found = re.search(r"size of tensor a \((\d+)\) must match the size of tensor b \((\d+)\)", str(f.error))
    if not found:
        return None
    return Finding("shape-mismatch", "tensors whose shapes do not fit",
                   f"a size {found[1]} meets a size {found[2]} in one entry-by-entry operation.",
                   "Write down each tensor's shape; a gradient has the shape of what it is the gradient of.")


# The rules for an error raised from a student's code, most specific first; extend as GRADIENT_RULES.
FAILURE_RULES = [returned_nothing, gradient_of_wrong_shape, name_never_assigned, key_missing, wrong_number_of_values,
                 matrix_shapes_do_not_fit, one_number_expected, shapes_do_not_fit]


def explain_failure(failure: Failure) -> Finding:
    """The first failure rule that fits, else the error itself in words."""
    for rule in FAILURE_RULES:
        finding = rule(failure)
        if finding is not None:
            return finding
    error = failure.error
    return Finding(None, f"{type(error).__name__}", f"{error}", "")


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
    "adam": "in the Adam step",
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
        if self.witness in ("update", "adam"):
            reference = "torch.optim.SGD" if self.witness == "update" else "torch.optim.Adam"
            lines = [f"diagnosis: the step of {rows} differs from {reference}'s"]
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
    e.layer, e.layers = row.layer, list(report.layers)
    count = len(report.layers)
    e.outputs = {k: _cpu(report.values.get(k + 1 if k + 1 < count else OUTPUT)) for k in range(count)
                 if report.values.get(k + 1 if k + 1 < count else OUTPUT) is not None}
    e.params = {r.name: _cpu(r.value) for r in report.rows
                if r.value is not None and r.name != OUTPUT and not r.name.startswith("input of")}
    if row.layer is not None and output is not None:
        after = rows.get(f"input of {row.layer + 1}", output)      # what the layer's output received
        e.dout, e.out = _cpu(after.autograd), _cpu(after.value)
        before = rows.get(f"input of {row.layer}")
        x = before.value if before is not None else report.values.get(row.layer)
        e.x = _cpu(x)
    elif row.layer is None and output is not None:
        e.x = _cpu(output.value)               # the loss's input: the network's output (logits)
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

def backtracking_problem(accepted: float, tried: list[tuple[float, float]], loss: float, slope: float, c: float,
                         first: float, shrink: float) -> str | None:
    """What is wrong with one backtracking search (lesson 18's exercise), in a sentence; None if nothing.

    accepted, tried: what the search returned, its t (0.0 for none) and every (t, L(θ + t·d)) tried, in order;
    loss = L(θ); slope = gᵀd; c: Armijo's constant. A right search tries first, first·shrink, ... and
    returns the first t with L(θ + t·d) ≤ L(θ) + c·t·gᵀd.
    """
    passes = [value <= loss + c * step * slope for step, value in tried]
    if any(step != first * shrink ** k for k, (step, _) in enumerate(tried)):
        return f"the steps tried, {[step for step, _ in tried]}, are not t, t·shrink, t·shrink², ..."
    if accepted == 0.0:
        return f"with c = {c:g} no step passed in {len(tried)} tries, though a short enough one always does"
    if not passes[-1] or tried[-1][0] != accepted:
        return f"with c = {c:g} the step accepted, t = {accepted:g}, breaks Armijo's condition"
    if any(passes[:-1]):
        return f"with c = {c:g} the step t = {tried[passes.index(True)][0]:g} passes and was refused"
    return None

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
