# %% [markdown]
# # 14 · Softmax over K classes, and batch normalisation
#
# Until now every classifier chose between two classes. With K classes the
# network outputs one score (logit) per class, and a softmax turns them
# into K probabilities; the loss and its gradient hardly change, and the
# first loss tells at once whether the start is sane. The second half adds
# a layer that looks at the whole batch at once: batch normalisation
# standardises every hidden unit over it. We derive its backward pass,
# check it three ways, and ask what it is good for, beside the control a
# fair comparison needs: a plain network started the way lesson 08 taught.

# %%
import copy
import math

import torch

from toolkit import data, lesson, manual, plots
from toolkit.gradient_check import manual_gradients
from toolkit.manual.module import accumulate_grad
from toolkit.optim import SGD
from toolkit.parameters import buffers_kept, unflatten
from toolkit.sweep import sweep
from toolkit.twins import Twins

# lr: the rate of the three twin runs (the sweep over seeds adds a tenth and four times it); steps: every run.
run = lesson.start("14_softmax_batchnorm", steps=150, lr=0.5)

# %% [markdown]
# ## Three interleaved spirals
# Three arms winding out from the centre, the classic three-class toy
# problem of Stanford's CS231n notes. No straight line separates any arm
# from the other two, and near the centre, where the arms are close, the
# noise makes them overlap. We draw 450 points and hold 150 of them out, a
# split fixed by the seed (`data.split`, as lesson 05 split its
# moons): the networks train on 300 and are judged on the other 150 too.

# %%
K, HELD_OUT = 3, 150


def spirals(seed):
    """450 points of K arms, split by ``seed``: ((x, y) to train on, (x, y) held out)."""
    points, labels = data.spiral(n=450, classes=K, noise=0.2, seed=seed, device=run.device, dtype=run.dtype)
    return data.split(points, labels, held_out=HELD_OUT, seed=seed)


(x, y), (x_held, y_held) = spirals(run.seed)
print(f"{len(x)} training points, per class {torch.bincount(y, minlength=K).tolist()}; "
      f"{len(x_held)} held out, per class {torch.bincount(y_held, minlength=K).tolist()}")

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
# probability 1/K, and the loss is ln K: for three classes ln 3 ≈ 1.0986,
# the loss of guessing. A freshly initialised network has small logits, so
# its first loss must come out near ln 3; much higher would mean a start
# that is confidently wrong (weights too large, lesson 08).
#
# ## Three networks, and their first loss
# Two inputs, three hidden layers of 32 ReLU units, three logits: lesson
# 08's ReLU network, cut to three hidden layers. `network` builds it by
# hand and `Twins.of` its torch twin, in three versions:
#
# * **default init**: torch's own draw for a Linear layer, U(−1/√n_in,
#   1/√n_in), the scale lesson 08 warned about for ReLU layers.
# * **Kaiming init**: weights from N(0, 2/n_in), biases 0 (He et al., lesson
#   08; `torch.nn.init.kaiming_normal_` draws lesson 08's numbers).
# * **batch norm**: the default draw, with a batch-normalisation layer (the
#   second half) after every hidden Linear layer.

# %%
WIDTH, DEPTH = 32, 3


def network(norm=None, width=WIDTH, init="default", seed=None):
    """2 → width (×DEPTH, ReLU) → K, with `norm(width)` after each hidden Linear if given; twinned.

    init: "default" (torch's draw, from the seed) or "kaiming" (N(0, 2/n_in) weights, zero biases).
    """
    seed = run.seed if seed is None else seed
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        layers, fan_in = [], 2
        for _ in range(DEPTH):
            layers.append(manual.Linear(fan_in, width, dtype=torch.float64))
            if norm is not None:
                layers.append(norm(width, dtype=torch.float64))
            layers.append(manual.ReLU())
            fan_in = width
        layers.append(manual.Linear(width, K, dtype=torch.float64))
    if init == "kaiming":
        generator = torch.Generator().manual_seed(seed)
        for layer in (layer for layer in layers if isinstance(layer, manual.Linear)):
            torch.nn.init.kaiming_normal_(layer.weight, nonlinearity="relu", generator=generator)
            layer.bias.zero_()
    net = manual.Sequential(*layers).to(device=run.device, dtype=run.dtype)
    return Twins.of(net, manual.CrossEntropyLoss())


def full_loss(twins):
    """Both twins' loss on the training points; running statistics are put back afterwards."""
    with torch.no_grad(), buffers_kept(twins.manual_net, twins.torch_net):
        return (float(twins.manual_loss(twins.manual_net(x), y)),
                float(twins.torch_loss(twins.torch_net(x), y)))


NETWORKS = {"default init": (None, "default"), "Kaiming init": (None, "kaiming"),
            "batch norm": (manual.BatchNorm1d, "default")}
print(network().manual_net)
chance = math.log(K)
first_losses = {}
for label, (norm, init) in NETWORKS.items():
    by_hand, by_autograd = first_losses[label] = full_loss(network(norm, init=init))
    print(f"first loss, {label}: {by_hand:.4f} (manual), {by_autograd:.4f} (autograd); "
          f"ln {K} = {chance:.4f}: off by {by_hand - chance:+.4f}")
run.record("first_loss", {"ln_K": chance, **{label: {"manual": hand, "autograd": auto}
                                              for label, (hand, auto) in first_losses.items()}})

# %% [markdown]
# With the default draw the first loss lies within a few thousandths of
# ln 3: the signal's mean square shrinks by n·σ²/2 = 1/6 per layer (lesson
# 08), so the logits start tiny. Kaiming's rule keeps the signal's size
# from layer to layer, the logits start larger, and the first loss can lie
# further from ln 3, on either side (1.07 here; seed 2 gives 1.55): still a
# guess, not a confidently wrong start. With batch norm every hidden unit
# starts with variance 1 over the data.
#
# The gradient report checks the whole backward pass. Finite differences
# need two forward passes per parameter, and this network has 2,307
# parameters, so the report runs on a narrow copy with 8 units per layer
# (195 parameters) and all 300 training points. Every layer's formula is
# the same at any width.

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
# ## Three runs: default init, Kaiming init, batch norm
# The three networks train by plain stochastic gradient descent at
# lr = 0.5 on shuffled mini-batches of 50 points (lesson 06), the setting
# batch norm was made for: each mini-batch supplies its own μ and σ². They
# see the same batches, and each run is two twins compared at every step.

# %%
BATCH = 50
NETWORKS["batch norm"] = (LessonBatchNorm, "default")       # the layer whose backward was written above
runs = {}
for label, (norm, init) in NETWORKS.items():
    twins = network(norm, init=init)
    history = run.train(twins, x, y, batch_size=BATCH, label=label, main=norm is not None)
    runs[label] = {"twins": twins, "history": history, "bn": norm is not None}
print(f"{run.steps} steps of {BATCH} points: {run.steps * BATCH / len(x):.3g} passes over the training points")

# %% [markdown]
# How did they end? Loss and accuracy are measured the way a trained
# network is used, in evaluation mode (batch norm with its running
# statistics), on the 300 training points and on the 150 held-out ones. To
# see inside, we replay each twin's recorded parameters, every fourth step
# and the last, on the training points, and keep the input of the last
# hidden ReLU (32 units × 300 points). "Dead" counts the units of that
# layer whose input is below 0 for every training point: their ReLU
# outputs 0 everywhere, and passes no gradient back.

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


def judged(twins, inputs, targets):
    """The hand-written twin's loss and accuracy in evaluation mode, and at how many points the twins differ."""
    manual_probs, autograd_probs = predictions(twins, inputs)
    picked = manual_probs[torch.arange(len(targets)), targets]
    differ = int((manual_probs.argmax(dim=1) != autograd_probs.argmax(dim=1)).sum())
    return -picked.log().mean().item(), (manual_probs.argmax(dim=1) == targets).double().mean().item(), differ


def replay(net, path):
    """Every STRIDE-th point of a recorded path and the last, on the training points.

    Returns the steps and the input of the last hidden ReLU at each, (T, N, WIDTH).
    A copy of the network takes each step's parameters in turn (a batch norm in it normalises over
    all N points), so the network itself and its running statistics are not touched.
    """
    steps = list(range(0, len(path), STRIDE))
    steps += [len(path) - 1] if steps[-1] != len(path) - 1 else []
    copy_of_net = copy.deepcopy(net)
    layers = list(copy_of_net)
    last_relu = max(i for i, layer in enumerate(layers) if isinstance(layer, (manual.ReLU, torch.nn.ReLU)))
    params = dict(copy_of_net.named_parameters())
    values = []
    with torch.no_grad():
        for step in steps:
            for name, value in unflatten(path[step], params).items():
                params[name].copy_(value)
            h = x
            for layer in layers[:last_relu]:
                h = layer(h)
            values.append(h)
    return torch.tensor(steps), torch.stack(values)


print(f"{'network':<14} {'training: loss':>15} {'right':>6} {'held out: loss':>15} {'right':>6} "
      f"{'dead units: start → end':>24}")
differ = 0
for label, entry in runs.items():
    twins, history = entry["twins"], entry["history"]
    entry["train_loss"], entry["train_accuracy"], differ_train = judged(twins, x, y)
    entry["held_loss"], entry["held_accuracy"], differ_held = judged(twins, x_held, y_held)
    differ += differ_train + differ_held
    entry["steps"], entry["values_manual"] = replay(twins.manual_net, history.path_manual)
    _, entry["values_autograd"] = replay(twins.torch_net, history.path_autograd)
    dead = (entry["values_manual"] <= 0).all(dim=1).sum(dim=1)       # per replayed step
    entry["dead_start"], entry["dead"] = int(dead[0]), int(dead[-1])
    print(f"{label:<14} {entry['train_loss']:>15.4f} {entry['train_accuracy']:>6.1%} {entry['held_loss']:>15.4f} "
          f"{entry['held_accuracy']:>6.1%} {entry['dead_start']:>13} → {entry['dead']} of {WIDTH}")
run.record("bn_runs", {label: {key: entry[key] for key in ("train_loss", "train_accuracy", "held_loss",
                                                          "held_accuracy", "dead_start", "dead")}
                       | {"lr": entry["history"].lr, "twins_agree": entry["history"].twins_agree}
                       for label, entry in runs.items()})
print("the twins classify every point alike in all three runs" if differ == 0 else
      f"the twins classify {differ} point(s) differently (rounding at a boundary)")

# %% [markdown]
# ## What happened inside: the last hidden layer
# The default-init network learns slowly. The input of its last hidden
# ReLU shows why: at every replayed step the bands hold the middle 50 %
# and the middle 90 % of its 9,600 values.

# %%
COLORS = dict(zip(NETWORKS, plots.RUN_COLORS))


def bands(values):
    """(T, 5): the 5, 25, 50, 75 and 95 % quantiles of each step's values; values: (T, ...)."""
    levels = torch.tensor(plots.softmax_batchnorm.QUANTILES, dtype=values.dtype, device=values.device)
    return torch.quantile(values.reshape(len(values), -1), levels, dim=1).T


run.save(plots.softmax_batchnorm.quantile_bands(
    [[{"title": f"{label}\ndead units: {entry['dead_start']} → {entry['dead']}", "color": COLORS[label],
       "steps": entry["steps"], "manual": bands(entry["values_manual"]), "autograd": bands(entry["values_autograd"])}
      for label, entry in runs.items()]],
    ylabel="input of the last\nhidden ReLU",
    note=f"every {STRIDE}th step and the last: the {WIDTH * len(x):,} values of {WIDTH} units on all "
         f"{len(x)} training points"), "preactivations")

# %% [markdown]
# Half of the default-init network's last-layer units are dead before
# training starts (16 of 32 with the default seed). Its signal has shrunk
# so much by the third layer that a unit's z hardly varies over the points,
# less than the biases do: a unit with a negative bias is negative
# everywhere. A dead unit's weights get a zero gradient, and it passes none
# back; only a change in the layers below can revive it. The live units
# learn slowly too, since the backward pass shrinks the gradients through
# the same small weights.
#
# Kaiming's draw keeps the signal's size through the layers: its band
# spans 0 widely from the first step, a few units start dead (6) and none
# is dead at the end. Batch norm gets there by another route: whatever the
# weights below do, each unit's z is re-centred on every batch to mean β
# with spread γ, and the optimiser moves β and γ directly. (A unit can
# still die with batch norm, if training drives its β far below 0 against
# a small γ; none does here.)
#
# ## Over seeds and learning rates
# One seed at one rate is not a result. `toolkit.sweep` trains the torch
# twin of each network with five seeds (each a new start, draw of the
# spirals, split and order of batches) at three rates: a tenth of lr, lr
# and four times lr, all seeds and rates of a network in one batched
# forward and backward pass per step (`torch.func.vmap`). Its 45 runs cost
# about as much as the three twin runs above, and its run with the
# lesson's seed at lr = 0.5 is the twins' run, step for step:

# %%
SEEDS = list(range(run.seed, run.seed + 5))
RATES = [run.lr / 10, run.lr, 4 * run.lr]


def torch_network(setting, seed):
    norm, init = NETWORKS[setting[0]]
    return network(norm, init=init, seed=seed).torch_net


swept = {}
for names in (("default init", "Kaiming init"), ("batch norm",)):          # one sweep per architecture
    result = sweep(torch_network, lambda seed: spirals(seed)[0],
                   {(name, lr): (SGD, {"lr": lr}) for name in names for lr in RATES},
                   seeds=SEEDS, steps=run.steps, batch_size=BATCH)
    held = result.evaluate(lambda seed: spirals(seed)[1])
    for name in names:
        rows = [result.settings.index((name, lr)) for lr in RATES]
        gap = (result.final((name, run.lr), run.seed) - runs[name]["history"].path_autograd[-1]).abs().max().item()
        swept[name] = {"held_loss": held[0][rows], "held_accuracy": held[1][rows], "gap_to_twins": gap}
        print(f"{name}: the sweep's run with seed {run.seed} at lr {run.lr:g} ends {gap:.0e} from the twins' run")
print(f"{'held out, ' + str(len(SEEDS)) + ' seeds':<22}" + "".join(f"{'lr ' + format(lr, 'g'):>20}" for lr in RATES))
for name, result in swept.items():
    cells = [f"{a.mean():.1%} ± {a.std():.1%}" for a in result["held_accuracy"]]
    print(f"{name + ', right':<22}" + "".join(f"{cell:>20}" for cell in cells))
    cells = [f"{v.mean():.3f} ± {v.std():.3f}" for v in result["held_loss"]]
    print(f"{name + ', loss':<22}" + "".join(f"{cell:>20}" for cell in cells))
run.record("sweep", {"seeds": SEEDS, "lrs": RATES, **{
    name: {"held_accuracy": result["held_accuracy"].tolist(), "held_loss": result["held_loss"].tolist(),
           "gap_to_twins": result["gap_to_twins"]} for name, result in swept.items()}})
run.save(plots.curves.seed_sweep(
    [{"key": "held_loss", "ylabel": "held-out loss (log scale)", "log": True},
     {"key": "held_accuracy", "ylabel": "held-out accuracy", "log": False}],
    [{"label": name, "color": COLORS[name], "lrs": RATES, **result} for name, result in swept.items()],
    xlabel="learning rate (log scale)",
    note=f"{len(SEEDS)} seeds (start, data, split and batches), {run.steps} steps of plain SGD, "
         f"{HELD_OUT} held-out points each"), "seeds_and_rates")

# %% [markdown]
# At lr = 0.5 the plain network started by Kaiming's rule does as well as
# batch norm: 96.7 ± 2.3 % of the held-out points right against
# 96.4 ± 1.7 % (mean ± standard deviation over the five seeds), with about
# the same held-out loss, 0.11. Each at its best rate of the three, the two
# tie at 96.7 %. The default-init network gets 77 ± 10 %. So what made the
# difference was the start, not batch norm: torch's default draw leaves
# half the last layer dead and the signal tiny.
#
# Batch norm's own gain shows across the rates: it stays between 93 % and
# 97 % from lr = 0.05 to lr = 2, a forty-fold range, where the Kaiming
# network needs a rate near 0.5 (85 % at a tenth of it, 42 % with a wide
# spread at four times it). One reason, analysed by Arora, Li and Lyu
# (2019): a layer followed by batch norm can be scaled without changing
# the loss, so its gradient is at right angles to its weights and every
# step makes them longer; longer weights make the same step a smaller
# turn, so a rate that is too large tames itself.
#
# ## The decision regions
# Drawn in evaluation mode, as the accuracies above, over the held-out
# points.

# %%
grid_gap = []


def probabilities_of(twins):
    def probabilities(points):
        inputs = torch.as_tensor(points, dtype=run.dtype, device=run.device)
        manual_probs, autograd_probs = predictions(twins, inputs)
        grid_gap.append((manual_probs - autograd_probs).abs().max().item())
        return autograd_probs.cpu()
    return probabilities


run.save(plots.softmax_batchnorm.class_regions(
    [{"title": f"{label}: {entry['held_accuracy']:.0%} right", "probabilities": probabilities_of(entry["twins"])}
     for label, entry in runs.items()], x_held, y_held, resolution=150, columns=3,
    note=f"the {len(x_held)} held-out points, classified in evaluation mode"), "decision_regions")
print(f"the twins' probabilities on the plotting grid differ by at most {max(grid_gap):.0e}")

# %% [markdown]
# ## What to take away
# * For K classes: K logits, a softmax, −ln p of the true class; the
#   gradient is still p − onehot. A first loss near ln K says the start
#   is a fair guess.
# * Batch norm standardises every unit over the batch and then scales and
#   shifts it with two learned numbers. Its backward pass has three paths
#   per input, which collapse into (1/N)·(γ/s)·(N·dy − Σ dy − ẑ·Σ dy·ẑ).
# * A fair comparison needs its control. Against a plain network started
#   by Kaiming's rule, batch norm's advantage at a good rate vanishes
#   (96.7 % against 96.4 % held out, five seeds); what it adds is a network
#   that trains well at every rate from 0.05 to 2.
# * Evaluation mode swaps the batch's statistics for the running ones, so
#   a single point gets a prediction of its own.

# %% [markdown]
# ## Captions for course notes
# What `python -m toolkit figures` prints under each figure in the gallery's
# index: a caption for the notes and an alt text for readers who cannot see
# the image.

# %%
run.describe("preactivations",
             caption="The input of the last hidden ReLU during training, all units and training points together: "
                     "the middle 90 % (pale) and 50 % (dark) of the values, and their median, with the autograd "
                     "twin's median as crosses on it. With torch's default draw the values start small, the median "
                     "below 0, and half the units dead (mind the scale); Kaiming's draw and batch norm both start "
                     "with a band that spans 0 widely and keep it.",
             alt="Three panels of value against step with shaded quantile bands around a black median line and "
                 "a dashed line at 0, each titled with its dead units at the start and the end. Light blue, "
                 "default init, on a small scale: a band from about -0.3 to 0.2 that widens slowly to about -0.8 "
                 "to 1.4. Green, Kaiming init: a band from about -1 to 1 that widens to about -2 to 2.3. Pink, "
                 "batch norm: a band from about -1.5 to 2 at every step. Vermillion crosses sit on every median.")
run.describe("seeds_and_rates",
             caption=f"The three networks over {len(SEEDS)} seeds at three learning rates, the torch twins alone "
                     f"(the sweep's run with the lesson's seed at lr {run.lr:g} is the twins' run): held-out loss "
                     "and accuracy, a dot per seed, lines through the means. At the middle rate the Kaiming "
                     "network matches batch norm; only batch norm holds up at a tenth and at four times that "
                     "rate; torch's default draw trails at every rate.",
             alt="Two panels against the learning rate on a log axis at 0.05, 0.5 and 2, each with three coloured "
                 "lines through diamonds and a dot per seed. Held-out accuracy: pink, batch norm, stays between "
                 "0.93 and 0.97; green, Kaiming, rises from 0.85 to 0.97 at 0.5 and falls to about 0.4 at 2 with "
                 "widely scattered dots; light blue, default init, goes from 0.5 to 0.77 and down to 0.34. The "
                 "held-out loss panel mirrors it on a log scale, lowest near 0.1.")
run.describe("decision_regions",
             caption="The class each network predicts at every point of the plane after training, in evaluation "
                     "mode (paler where it is less sure), with the held-out points on top. The default-init "
                     "network follows the arms only roughly; the Kaiming-initialised network and the one with "
                     "batch norm wind their regions along all three arms.",
             alt="Three square panels of the plane coloured light blue, orange and green by predicted class, with "
                 "the held-out points of the three spiral arms drawn as circles, triangles and diamonds. In the "
                 "default-init panel the borders cut across the arms; in the other two the coloured regions "
                 "follow each arm.")
run.finish()
