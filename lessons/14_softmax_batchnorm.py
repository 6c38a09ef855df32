# %% [markdown]
# # 14 · Softmax over K classes, and batch normalisation
#
# Until now every classifier chose between two classes. Most real tasks have
# more: digits, words, species. The network then outputs one score (logit)
# per class, and a softmax turns the K scores into K probabilities. The
# loss and its gradient hardly change, and the first loss tells us at once
# whether the start is sane. The second half of the lesson adds a layer that
# does something no layer so far has done: batch normalisation looks at the
# whole batch at once, standardising every hidden unit over it. We derive
# its backward pass, check it three ways, and compare training with and
# without it at two learning rates, one ten times the other.

# %%
import copy
import math

import torch

from toolkit import data, lesson, manual, plots
from toolkit.gradient_check import manual_gradients
from toolkit.manual.module import accumulate_grad
from toolkit.parameters import buffers_kept, unflatten
from toolkit.twins import Twins

# lr: the smaller of the two learning rates (the larger is ten times it); steps: every training run.
run = lesson.start("14_softmax_batchnorm", steps=150, lr=0.05)

# %% [markdown]
# ## Three interleaved spirals
# Three arms winding out from the centre, 100 points each, the classic
# three-class toy problem of Stanford's CS231n notes. No straight line
# separates any arm from the other two, and near the centre, where the arms
# are close, the noise makes them overlap.

# %%
K = 3
x, y = data.spiral(n=300, classes=K, noise=0.2, seed=run.seed, device=run.device, dtype=run.dtype)
print(f"{len(x)} points in {K} classes: {[int((y == k).sum()) for k in range(K)]} per class")

# %% [markdown]
# ## Softmax over K classes
# The last layer gives each point K logits z₁ … z_K. The softmax makes them
# positive and makes them sum to 1:
#
#     p_k = exp(z_k) / Σ_j exp(z_j)
#
# Adding one number to every logit of a point changes nothing (it
# multiplies top and bottom by the same factor), so only differences
# between logits matter. The cross-entropy charges −ln p_y, minus the log of
# the probability given to the true class y, averaged over the batch. Its
# gradient keeps the form it had for two classes (lesson 05):
#
#     dL/dz = (p − onehot(y)) / N
#
# the predicted probabilities with 1 taken off at the true class. Three
# points show the range: one scored mostly right, one with equal logits,
# and one confidently wrong.

# %%
logits = torch.tensor([[2.0, 1.0, -1.0], [0.0, 0.0, 0.0], [0.0, 0.0, 5.0]], dtype=run.dtype, device=run.device)
targets = torch.tensor([0, 1, 0], device=run.device)
probs = torch.exp(logits) / torch.exp(logits).sum(dim=1, keepdim=True)
cross_entropy = manual.CrossEntropyLoss()
loss = cross_entropy(logits, targets)
for z, p, t in zip(logits.tolist(), probs.tolist(), targets.tolist()):
    print(f"logits {z} -> p = [{', '.join(f'{v:.3f}' for v in p)}], true class {t}: −ln p = {-math.log(p[t]):.4f}")
print(f"loss (the mean) {loss:.4f}; dL/dz = (p − onehot)/N by hand:")
print(cross_entropy.backward())
print(f"shifting every logit by 100 changes the loss by {abs(cross_entropy(logits + 100, targets) - loss):.1e}")

# %% [markdown]
# The middle point is the important one. Equal logits give every class
# probability 1/K, and the loss is ln K: for three classes ln 3 ≈ 1.0986.
# That is the loss of guessing, the chance level. A freshly initialised
# network has small, nearly equal logits, so its first loss must come out
# close to ln 3. Much higher would mean a start that is confidently wrong
# (weights too large, lesson 08); that check costs one line and catches a
# bad start before any training.
#
# ## The network, and the first loss
# Two inputs, three hidden layers of 32 ReLU units, three logits: lesson
# 08's ReLU network, cut to three hidden layers. `network` builds it by hand,
# drawing the Linear layers from `--seed` exactly as torch would, and
# `Twins.of` builds its torch twin. Given a normalisation layer (batch
# norm, the subject of the second half), it puts one after every hidden
# Linear layer. The Linear weights are drawn the same either way, so both
# versions start from the same numbers.

# %%
WIDTH, DEPTH = 32, 3


def network(norm=None, width=WIDTH):
    """2 → width (×DEPTH, ReLU) → K, with `norm(width)` after each hidden Linear if given; twinned."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(run.seed)
        layers, fan_in = [], 2
        for _ in range(DEPTH):
            layers.append(manual.Linear(fan_in, width, dtype=torch.float64))
            if norm is not None:
                layers.append(norm(width, dtype=torch.float64))
            layers.append(manual.ReLU())
            fan_in = width
        layers.append(manual.Linear(width, K, dtype=torch.float64))
    net = manual.Sequential(*layers).to(device=run.device, dtype=run.dtype)
    return Twins.of(net, manual.CrossEntropyLoss())


def full_loss(twins):
    """Both twins' loss on all the points; running statistics are put back afterwards."""
    with torch.no_grad(), buffers_kept(twins.manual_net, twins.torch_net):
        return (float(twins.manual_loss(twins.manual_net(x), y)),
                float(twins.torch_loss(twins.torch_net(x), y)))


plain = network()
print(plain.manual_net)
chance = math.log(K)
first_plain = full_loss(plain)
first_bn = full_loss(network(manual.BatchNorm1d))
for name, (by_hand, by_autograd) in (("without batch norm", first_plain), ("with batch norm", first_bn)):
    print(f"first loss {name}: {by_hand:.4f} (manual), {by_autograd:.4f} (autograd); "
          f"ln {K} = {chance:.4f}: off by {by_hand - chance:+.4f}")
run.record("first_loss", {"ln_K": chance, "without_bn": {"manual": first_plain[0], "autograd": first_plain[1]},
                          "with_bn": {"manual": first_bn[0], "autograd": first_bn[1]}})

# %% [markdown]
# Without batch norm the first loss is within a thousandth of ln 3. A ReLU
# network drawn with torch's default scale shrinks its signal layer by
# layer (lesson 08: the mean square shrinks by n·σ²/2 = 1/6 per layer), so
# the logits start tiny and the network starts by guessing, as it should.
# With batch norm (below) every hidden unit starts with variance 1 over the
# data, the logits are a little larger, and the first loss lies a little
# further from ln 3, on either side of it depending on the draw.
#
# The gradient report checks the whole backward pass. Finite differences
# need two forward passes per parameter, and this network has 2,307
# parameters, so the report runs on a narrow copy with 8 units per layer
# (195 parameters) and all 300 points. Every layer's formula is the same at
# any width.

# %%
run.check(network(width=8), x, y)

# %% [markdown]
# ## Batch normalisation
# A hidden unit's pre-activation z (the Linear layer's output, before the
# ReLU) can drift anywhere during training: its mean and its spread over the
# data change whenever the weights below it change. If every z of a unit
# ends below 0, the ReLU outputs 0 for every point and passes back a zero
# gradient: the unit is dead, and only changes in the layers below it can
# revive it. Batch normalisation
# (Ioffe and Szegedy, 2015) pins each unit down. For every unit
# (column) separately, over the N points of the batch:
#
#     μ = (1/N) Σᵢ zᵢ            σ² = (1/N) Σᵢ (zᵢ − μ)²
#     ẑᵢ = (zᵢ − μ) / √(σ² + ε)  mean 0 and variance 1 over the batch
#     yᵢ = γ ẑᵢ + β              γ, β: a scale and a shift per unit, learned
#
# ε = 10⁻⁵ keeps the division safe. γ and β let the network move and
# stretch each unit again, but now they are two parameters per unit that
# the optimiser sets directly, no longer the side effect of all the weights
# below. During training the layer also keeps running averages of μ and σ²
# (buffers, not parameters). A trained network then classifies with those
# fixed numbers instead of the batch's (evaluation mode), so that a point's
# prediction does not depend on which other points came with it.
#
# ## Its backward pass
# The new thing is that every output yⱼ depends on every input zᵢ of the
# batch, through μ and σ². The chain rule then has three paths from zᵢ:
# directly, through μ, and through σ². Write gᵢ = dL/dẑᵢ = γ·dyᵢ and
# s = √(σ² + ε).
#
# 1. Through σ²: dL/dσ² = Σⱼ gⱼ·(zⱼ − μ)·(−½)·s⁻³ = −(1/(2s²))·Σⱼ gⱼ ẑⱼ.
# 2. Through μ: dL/dμ = −(1/s)·Σⱼ gⱼ. (σ² depends on μ too, but with
#    slope −(2/N)·Σⱼ (zⱼ − μ) = 0.)
# 3. Collect, with dμ/dzᵢ = 1/N and dσ²/dzᵢ = 2(zᵢ − μ)/N = 2s·ẑᵢ/N:
#
#        dzᵢ = gᵢ/s + dL/dσ²·2s·ẑᵢ/N + dL/dμ/N
#            = (1/N)·(γ/s)·(N·dyᵢ − Σⱼ dyⱼ − ẑᵢ·Σⱼ dyⱼ ẑⱼ)
#
# and from yᵢ = γẑᵢ + β directly: dγ = Σᵢ dyᵢ ẑᵢ and dβ = Σᵢ dyᵢ. The
# three terms of dz read as: the gradient itself, minus its mean (moving
# every z of the batch together moves μ and changes nothing), minus its
# part along ẑ (stretching the batch moves σ and changes nothing).
# Here is that backward pass as a function:

# %%
def batchnorm_backward(dout, x_hat, gamma, std):
    """dL/dz, dL/dγ and dL/dβ of batch normalisation in training mode.

    dout: (N, C) dL/dy;  x_hat: (N, C) the normalised input ẑ;  gamma, std: (C,) γ and s = √(σ² + ε).
    Returns dz (N, C), dgamma (C,), dbeta (C,).
    """
    # exercise batchnorm_backward: dbeta = Σ dy, dgamma = Σ dy·ẑ, dz = (1/N)·(γ/s)·(N·dy − Σ dy − ẑ·Σ dy·ẑ)
    n = dout.shape[0]
    dbeta = dout.sum(dim=0)
    dgamma = (dout * x_hat).sum(dim=0)
    dz = (1 / n) * (gamma / std) * (n * dout - dbeta - x_hat * dgamma)
    return dz, dgamma, dbeta
    # end exercise


# %% [markdown]
# The toolkit's `manual.BatchNorm1d` does the forward pass above and keeps
# ẑ and s for the backward pass. A subclass hands its backward in training
# mode to our function (evaluation mode divides by a fixed s, and its
# backward is just dz = γ·dy/s). `twin_of` finds its torch twin,
# `torch.nn.BatchNorm1d`, through the parent class.

# %%
class LessonBatchNorm(manual.BatchNorm1d):
    """manual.BatchNorm1d whose training-mode backward is batchnorm_backward above."""

    def backward(self, dout, input_grad=True):
        if not self._training_pass:
            return super().backward(dout, input_grad)
        dz, dgamma, dbeta = batchnorm_backward(dout, self._saved(self._x_hat), self.weight, self._saved(self._std))
        accumulate_grad(self.weight, dgamma)
        accumulate_grad(self.bias, dbeta)
        return dz if input_grad else None


# %% [markdown]
# First one layer on its own, with inputs far from mean 0 and variance 1
# and a random upstream gradient (an all-ones dy would hide a wrong
# formula, since Σ dy·ẑ is then 0), and with γ and β away from 1 and 0,
# where a layer starts (at γ = 1 a dz that forgot γ would look right). We
# set ε = 0 for this check, so that ẑ has mean 0 and standard deviation 1
# per unit exactly, and the two sums that the derivation says must vanish
# do vanish. (With ε the second is off by about ε/σ² of its terms: 10⁻⁶
# here.)

# %%
generator = torch.Generator().manual_seed(run.seed)            # on the CPU: the same numbers on every device
z = (3 * torch.randn(50, 4, generator=generator, dtype=torch.float64) + 2).to(run.device, run.dtype)
dy = torch.randn(50, 4, generator=generator, dtype=torch.float64).to(run.device, run.dtype)
gamma_beta = (0.5 + torch.rand(4, generator=generator, dtype=torch.float64),
              torch.randn(4, generator=generator, dtype=torch.float64))
layer = LessonBatchNorm(4, eps=0.0, device=run.device, dtype=run.dtype)
with torch.no_grad():
    layer.weight.copy_(gamma_beta[0])
    layer.bias.copy_(gamma_beta[1])
out = layer(z)
dz = layer.backward(dy)
print(f"inputs: mean {z.mean().item():.2f}, std {z.std().item():.2f}; ẑ per unit: "
      f"largest |mean| {layer._x_hat.mean(dim=0).abs().max().item():.0e}, std (1/N) "
      f"{', '.join(f'{s:.4f}' for s in layer._x_hat.std(dim=0, correction=0).tolist())}")
print(f"Σᵢ dzᵢ: largest {dz.sum(dim=0).abs().max().item():.0e};  Σᵢ ẑᵢ·dzᵢ: largest "
      f"{(layer._x_hat * dz).sum(dim=0).abs().max().item():.0e}")

# %% [markdown]
# Now the whole network with a LessonBatchNorm after every hidden Linear layer,
# narrow again (the finite differences of a batch-norm network run one
# parameter at a time: its forward pass updates the running statistics in
# place, which `torch.func.vmap` cannot batch). A wrong line in
# `batchnorm_backward` would show in the report's `input of` rows, first
# at the last batch-norm layer. In training mode the report compares the
# batch-statistics gradients, and it puts the running statistics back
# afterwards.

# %%
narrow = network(LessonBatchNorm, width=8)
with torch.no_grad():        # γ and β away from 1 and 0, as for the single layer: a dz without γ would agree at 1
    for norm in (module for module in narrow.manual_net if isinstance(module, LessonBatchNorm)):
        norm.weight.copy_(0.5 + torch.rand(norm.num_features, generator=generator, dtype=torch.float64))
        norm.bias.copy_(torch.randn(norm.num_features, generator=generator, dtype=torch.float64))
narrow = Twins.of(narrow.manual_net, narrow.manual_loss)      # the torch twin with the same γ and β
run.check(narrow, x, y)
with buffers_kept(narrow.manual_net):
    gradients, _ = manual_gradients(narrow, x, y)
print("largest |dL/dbias| of each Linear layer: " + ", ".join(
    f"{name} {gradients[name].abs().max().item():.0e}" for name in gradients
    if name.endswith("bias") and isinstance(narrow.manual_net[int(name.split(".")[0])], manual.Linear)))

# %% [markdown]
# The `input of` rows agree although each of them depends on the whole
# batch. And the biases of the three Linear layers just before a batch norm
# (0, 3 and 6) get no gradient, up to rounding: adding a constant to a
# unit's z moves μ by the same amount, and it is subtracted straight away.
# Such a bias is useless, so in practice the Linear layer before a batch
# norm is built with `bias=False`. (We keep it, so that the networks with
# and without batch norm have the same Linear layers.)
#
# The toolkit's own `manual.BatchNorm1d` holds the same formula; the runs
# below train with `LessonBatchNorm`, the one written here:

# %%
library_layer = manual.BatchNorm1d(4, eps=0.0, device=run.device, dtype=run.dtype)
with torch.no_grad():
    library_layer.weight.copy_(gamma_beta[0])
    library_layer.bias.copy_(gamma_beta[1])
library_layer(z)
print(f"library dz against ours: largest difference {(library_layer.backward(dy) - dz).abs().max().item():.0e}")

# %% [markdown]
# ## Four runs: with and without batch norm, at two learning rates
# The same network with and without batch norm, each at lr = 0.05 and at
# ten times that, 0.5. All four train by plain stochastic gradient descent
# on shuffled mini-batches of 50 points (lesson 06), the setting batch
# norm was made for: each mini-batch supplies its own μ and σ². The runs
# start from the same Linear weights and see the same batches, and each
# is, as always, two twins compared at every step.

# %%
BATCH = 50
runs = {}
for name, norm in (("without BN", None), ("with BN", LessonBatchNorm)):
    for factor in (1, 10):
        twins = network(norm)
        label = f"{name}, lr {factor * run.lr:g}"
        history = run.train(twins, x, y, lr=factor * run.lr, batch_size=BATCH, label=label,
                            main=(norm is not None and factor == 1))
        runs[label] = {"twins": twins, "history": history, "bn": norm is not None, "factor": factor}
epochs = run.steps * BATCH / len(x)
print(f"{run.steps} steps of {BATCH} points: {epochs:.3g} passes over the data")

# %% [markdown]
# How did they end? Accuracy is measured the way a trained network is used,
# in evaluation mode (batch norm with its running statistics), on all 300
# points, by both twins. To see inside, we replay each twin's recorded
# parameters, every fourth step and the last, on all 300 points: the loss
# on all the data, and the input of the last hidden ReLU (32 units × 300
# points). "Dead" counts the units of that layer whose input is below 0 for
# every one of the 300 points: their ReLU outputs 0 everywhere.

# %%
STRIDE = 4


def predictions(twins, inputs):
    """Both twins' class probabilities in evaluation mode; the twins are put back in training mode."""
    twins.eval()
    with torch.no_grad():
        manual_probs = torch.softmax(twins.manual_net(inputs), dim=1)
        autograd_probs = torch.softmax(twins.torch_net(inputs), dim=1)
    twins.train()
    return manual_probs, autograd_probs


def replay(net, loss_fn, path):
    """Every STRIDE-th point of a recorded path and the last, on all N points.

    Returns the steps, the loss at each, and the input of the last hidden ReLU at each, (T, N, WIDTH).
    A copy of the network takes each step's parameters in turn (a batch norm in it normalises over
    all N points), so the network itself and its running statistics are not touched.
    """
    steps = list(range(0, len(path), STRIDE))
    steps += [len(path) - 1] if steps[-1] != len(path) - 1 else []
    copy_of_net = copy.deepcopy(net)
    layers = list(copy_of_net)
    last_relu = max(i for i, layer in enumerate(layers) if isinstance(layer, (manual.ReLU, torch.nn.ReLU)))
    params = dict(copy_of_net.named_parameters())
    losses, values = [], []
    with torch.no_grad():
        for step in steps:
            for name, value in unflatten(path[step], params).items():
                params[name].copy_(value)
            h = x
            for index, layer in enumerate(layers):
                if index == last_relu:
                    values.append(h)
                h = layer(h)
            losses.append(float(loss_fn(h, y)))
    return torch.tensor(steps), torch.tensor(losses, dtype=torch.float64), torch.stack(values)


summary = {}
print(f"{'run':<22} {'loss on all points':>18} {'accuracy':>9} {'dead units: start → end':>24}")
for label, entry in runs.items():
    twins, history = entry["twins"], entry["history"]
    manual_probs, autograd_probs = predictions(twins, x)
    entry["accuracy"] = (manual_probs.argmax(dim=1) == y).double().mean().item()
    entry["twins_differ_on"] = int((manual_probs.argmax(dim=1) != autograd_probs.argmax(dim=1)).sum())
    entry["steps"], entry["loss_manual"], entry["values_manual"] = replay(twins.manual_net, twins.manual_loss,
                                                                          history.path_manual)
    _, entry["loss_autograd"], entry["values_autograd"] = replay(twins.torch_net, twins.torch_loss,
                                                                 history.path_autograd)
    dead = (entry["values_manual"] <= 0).all(dim=1).sum(dim=1)       # per replayed step
    entry["dead_start"], entry["dead"] = int(dead[0]), int(dead[-1])
    print(f"{label:<22} {history.final_loss_manual:>18.4f} {entry['accuracy']:>9.1%} "
          f"{entry['dead_start']:>13} → {entry['dead']} of {WIDTH}")
    summary[label] = {"lr": history.lr, "final_loss": history.final_loss_manual, "accuracy": entry["accuracy"],
                      "dead_units_start": entry["dead_start"], "dead_units_end": entry["dead"],
                      "twins_agree": history.twins_agree}
run.record("bn_runs", summary)
differ = sum(entry["twins_differ_on"] for entry in runs.values())
print("the twins classify every point alike in all four runs" if differ == 0 else
      f"the twins classify {differ} point(s) differently (rounding at a boundary)")

# %% [markdown]
# ## The loss
# The thin pale lines are the loss on each step's mini-batch, noisy as in
# lesson 06; the thick lines the loss on all 300 points, from the replay.
# The dotted line is ln 3, the loss of guessing.

# %%
COLORS = {1: plots.RUN_COLORS[0], 10: plots.RUN_COLORS[2]}
panels = []
for name in ("without BN", "with BN"):
    panels.append({"title": name.replace("BN", "batch norm"),
                   "runs": {f"lr {entry['factor'] * run.lr:g} ({entry['factor']}×)":
                            {"color": COLORS[entry["factor"]], "batch": entry["history"].loss_manual,
                             "steps": entry["steps"], "manual": entry["loss_manual"],
                             "autograd": entry["loss_autograd"]}
                            for label, entry in runs.items() if label.startswith(name)}})
run.save(plots.softmax_batchnorm.batch_and_full_losses(panels, reference=(chance, f"ln {K}: the loss of guessing"),
                                     note=f"mini-batches of {BATCH}, plain SGD; every run starts from the same "
                                          "weights and sees the same batches"),
         "bn_losses",
         caption="The training loss of the four runs: thin, on each step's mini-batch; thick, on all 300 "
                 "points, with the autograd twin's values as crosses on the hand-written twin's line. Without "
                 "batch norm the network hardly leaves ln 3, the loss of guessing, at lr 0.05, and at lr 0.5 it "
                 "gets only part of the way down. With batch norm both rates fall fast, lr 0.5 with more "
                 "bumps, and even lr 0.05 ends well below the plain network at ten times the rate.",
         alt="Two panels of loss against step on a log scale. Left, without batch norm: the lr 0.05 curve stays "
             "flat just under the dotted ln 3 line at 1.1; the lr 0.5 curve falls unevenly to about 0.5. "
             "Right, with batch norm: both curves drop quickly, lr 0.5 faster and with spikes, and they end "
             "near 0.1 and 0.15.")

# %% [markdown]
# ## What happened inside: the last hidden layer
# The loss says that the plain network learns slowly, not why. The input
# of its last hidden ReLU shows more: at every replayed step the bands hold
# the middle 50 % and the middle 90 % of its 9,600 values.

# %%
def bands(values):
    """(T, 5): the 5, 25, 50, 75 and 95 % quantiles of each step's values; values: (T, ...)."""
    levels = torch.tensor(plots.softmax_batchnorm.QUANTILES, dtype=values.dtype, device=values.device)
    return torch.quantile(values.reshape(len(values), -1), levels, dim=1).T


grid = []
for name in ("without BN", "with BN"):
    row = []
    for label, entry in runs.items():
        if label.startswith(name):
            row.append({"title": label.replace("BN", "batch norm"), "color": COLORS[entry["factor"]],
                        "steps": entry["steps"], "manual": bands(entry["values_manual"]),
                        "autograd": bands(entry["values_autograd"]),
                        "note": f"dead units: {entry['dead_start']} at the start, {entry['dead']} at the end"})
    grid.append(row)
run.save(plots.softmax_batchnorm.quantile_bands(grid, ylabel="input of the last\nhidden ReLU",
                              note=f"every {STRIDE}th step and the last: the {WIDTH * len(x):,} values of "
                                   f"{WIDTH} units on all {len(x)} points"),
         "preactivations",
         caption="The input of the last hidden ReLU during training, all units and points together: the middle "
                 "90 % (pale) and 50 % (dark) of the values, and their median. Without batch norm the values "
                 "start small, with the median below 0 (mind the top row's scales); at lr 0.05 they hardly "
                 "change, and at lr 0.5 the band slowly widens as the layers below grow. With batch norm every "
                 "unit is standardised on each batch, so the band spans about −1.5 to 2 from the first step at "
                 "both rates. The autograd twin's median (crosses) lies on the hand-written one.",
         alt="Four panels of value against step, each with shaded quantile bands around a median line and a "
             "dashed line at 0. Top row, without batch norm, on small scales: at lr 0.05 a flat band from "
             "about −0.3 to 0.2 with the median at −0.05; at lr 0.5 the same band widens to about −0.6 to 1.1 "
             "by the end. Bottom row, with batch norm: bands from about −1.5 to 2 across 0 at both rates; the "
             "median drifts from 0 to about −0.15 at lr 0.05 and −0.25 at lr 0.5.")

# %% [markdown]
# Half of the plain network's last-layer units are dead before training
# starts (16 of 32 with the default seed). Its signal has shrunk so much by
# the third layer (lesson 08) that a unit's z hardly varies over the
# points, about ±0.03, against biases of about ±0.08: a unit with a
# negative bias is negative everywhere. A dead unit's own weights get a
# zero gradient, and it passes none back; only a change in the layers below
# can bring its z above 0 again. The live units learn slowly too, since the
# backward pass shrinks the gradients through the same small weights. At
# lr = 0.05 little happens in 150 steps (13 units are still dead at the
# end). At lr = 0.5 the layers below grow enough to revive most of them
# (5 are dead at the end) and the network starts to learn, but it first has
# to grow its signal from almost nothing.
#
# With batch norm no unit starts dead, and none can die like that later:
# whatever the weights below it do, its z is re-centred on every batch to
# mean β with spread γ, and the optimiser moves β and γ directly. Every
# unit passes a signal of size about 1 from the first step, and at
# lr = 0.05 the network with batch norm ends well below the plain network
# at ten times the rate. How far each run gets depends on the seed, the
# plain network at lr = 0.5 most of all (from under 60 % to over 95 %
# right with seeds 0 to 9), but with each of those seeds batch norm at
# lr = 0.05 ends at a lower loss than the plain network at lr = 0.5.
#
# ## Larger rates, and why the lesson does not use them
# Batch norm is known for tolerating larger learning rates, and it does so
# here too. Run the lesson with `--lr 0.2` (rates 0.2 and 2). With the
# default seed the plain network at lr = 2 then loses every unit of its
# last hidden layer within about 50 steps. Once they are all dead, no
# gradient passes through that layer, everything below it freezes, and the
# loss stays near ln 3 for good. With batch norm both rates still train
# (98 % and 92 % right). But training at such rates is chaotic: a
# difference in the last digit grows from step to step, as in lesson 08's
# N(0, 1) tanh network, and the twins, which differ only in rounding,
# drift apart. With some seeds they no longer agree to 10⁻¹⁰ within a
# hundred steps: `python -m toolkit run 14 --lr 0.2 --seed 2` reports a
# largest gradient difference of about 10⁻⁶ for the plain network at
# lr = 2 (the exact size depends on the machine), where rounding alone
# gives 10⁻¹⁴. Neither twin is wrong, but such a run cannot be checked
# step by step. So the lesson trains at 0.05 and 0.5, where the twins
# agree at every step with every seed we tried (0 to 19).
#
# ## The decision regions
# Drawn in evaluation mode, as the accuracies above: each point of the plane
# is classified on its own, with the running statistics.

# %%
grid_gap = []


def probabilities_of(twins):
    def probabilities(points):
        inputs = torch.as_tensor(points, dtype=run.dtype, device=run.device)
        manual_probs, autograd_probs = predictions(twins, inputs)
        grid_gap.append((manual_probs - autograd_probs).abs().max().item())
        return autograd_probs.cpu()
    return probabilities


run.save(plots.softmax_batchnorm.class_regions([{"title": f"{label.replace('BN', 'batch norm')}: {entry['accuracy']:.0%} right",
                               "probabilities": probabilities_of(entry["twins"])}
                              for label, entry in runs.items()], x, y, resolution=150),
         "decision_regions",
         caption="The class each network predicts at every point of the plane after training (paler where it "
                 "is less sure), with the 300 training points on top. Without batch norm, lr 0.05 has only "
                 "cut the plane into three pale wedges and lr 0.5 follows the arms roughly; with batch norm "
                 "both rates wind their regions along the spiral arms.",
         alt="Four square panels of the plane coloured blue, orange and green by predicted class, with the "
             "three spiral arms of points drawn as circles, triangles and squares. Without batch norm at "
             "lr 0.05 three pale regions meet near the centre with nearly straight borders that cut across "
             "the arms; at lr 0.5 the regions are stronger and bend with the arms only roughly. With batch "
             "norm the coloured regions follow all three arms at both rates.")
print(f"the twins' probabilities on the plotting grid differ by at most {max(grid_gap):.0e}")

# %% [markdown]
# ## Training mode and evaluation mode
# In training mode a point's output depends on the batch it comes with.
# Five points classified in the company of all 300, and then alone, give
# different logits; in evaluation mode, with the running statistics, they
# do not:

# %%
bn_twins = runs[f"with BN, lr {run.lr:g}"]["twins"]
with torch.no_grad(), buffers_kept(bn_twins.manual_net, bn_twins.torch_net):
    in_company = bn_twins.torch_net(x)[:5]
    alone = bn_twins.torch_net(x[:5])
    bn_twins.eval()
    gap_eval = (bn_twins.torch_net(x)[:5] - bn_twins.torch_net(x[:5])).abs().max().item()
    bn_twins.train()
gap_train = (in_company - alone).abs().max().item()
print(f"training mode: the logits of the first five points differ by up to {gap_train:.2f}; "
      f"evaluation mode: by {gap_eval:.0e}")
running = [(name, mine, theirs) for (name, mine), theirs in zip(bn_twins.manual_net.named_buffers(),
                                                                  bn_twins.torch_net.buffers())]
print("running statistics, hand-written against torch: largest difference "
      f"{max((mine.double() - theirs.double()).abs().max().item() for _, mine, theirs in running):.0e}")

# %% [markdown]
# The running statistics are what the hand-written layer and torch's
# updated side by side at each of the 150 steps, running = 0.9·running +
# 0.1·(the batch's value), with the unbiased variance, N/(N − 1)·σ², as
# torch keeps it.
#
# ## What to take away
# * For K classes: K logits, a softmax, −ln p of the true class; the
#   gradient is still p − onehot. A first loss near ln K says the start
#   is a fair guess.
# * Batch norm standardises every unit over the batch and then scales and
#   shifts it with two learned numbers. Its backward pass has three paths
#   per input, which collapse into (1/N)·(γ/s)·(N·dy − Σ dy − ẑ·Σ dy·ẑ).
# * It makes a unit's z independent of the scale and offset of the
#   weights below it: here no unit started dead or died, and at a tenth of
#   the rate it trained further than the plain network. At larger rates it
#   keeps the ReLUs alive where the plain network loses them all, but such
#   runs are chaotic, and their twins drift apart with some seeds.
# * Evaluation mode swaps the batch's statistics for the running ones, so
#   a single point gets a prediction of its own.

# %%
run.finish()
