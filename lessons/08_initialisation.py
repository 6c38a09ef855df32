# %% [markdown]
# # 08 · Initialisation: where the descent starts, and how a signal survives depth
#
# Training begins by giving every parameter "a random value". So far we let
# torch's default pick those values, and on networks of two or three layers
# it hardly mattered. In a deep network it decides whether training can
# start at all. Every layer multiplies the signal passing through it by
# some factor, once on the way forward and once more for the gradient on
# the way back. Ten layers raise that factor to the tenth power, so a
# factor a little off 1 becomes a signal that vanishes or explodes. This
# lesson measures that for zeros, equal values, and random weights that are
# too small or too large, then derives the two scales that keep the signal
# steady, Xavier's and Kaiming's, and writes them by hand.

# %%
import math

import torch

from toolkit import data, lesson, manual, plots
from toolkit.gradient_check import autograd_gradients, manual_gradients
from toolkit.twins import Twins, make_twins

# lr and steps: every training run of the lesson (SGD with momentum 0.9, from lesson 07).
run = lesson.start("08_initialisation", steps=80, lr=0.02)

# %% [markdown]
# ## A deep, narrow network
# Lesson 05's two moons (its 200 training points, the same split), now
# through ten hidden layers of 32 units: 2 → 32 → … → 32 → 2, eleven Linear
# layers and 9,666 parameters, with tanh or ReLU. To try a starting point,
# `initialise` overwrites the hand-written weights, drawn in float64 from one
# CPU generator seeded with `--seed` (the same start on every machine), and
# `Twins.of` builds the torch twin again from them. Every bias starts at 0.

# %%
points, labels = data.two_moons(n=400, noise=0.15, seed=run.seed, device=run.device, dtype=run.dtype)
(x, y), (x_val, y_val) = data.split(points, labels, held_out=200, seed=run.seed)     # lesson 05's halves
DEPTH, WIDTH = 10, 32
SIZES = [2] + [WIDTH] * DEPTH + [2]


def initialise(net, draw, seed):
    """Each Linear layer's weight from draw(fan_out, fan_in, generator), its bias 0."""
    generator = torch.Generator().manual_seed(seed)
    for layer in net:
        if isinstance(layer, manual.Linear):
            layer.weight.copy_(draw(layer.out_features, layer.in_features, generator))   # float64 CPU -> the net's
            layer.bias.zero_()


def deep_twins(activation, draw):
    """The deep network with `activation`, its weights from `draw`, twinned afterwards."""
    twins = make_twins(SIZES, activation, loss=manual.CrossEntropyLoss(), seed=run.seed,
                       device=run.device, dtype=run.dtype)
    initialise(twins.manual_net, draw, run.seed)
    return Twins.of(twins.manual_net, twins.manual_loss)   # the torch twin copies the new weights


print("parameters:", sum(p.numel() for p in make_twins(SIZES).manual_net.parameters()))

# %% [markdown]
# ## Start from zero: the descent never begins
# Set every weight to 0. Every hidden unit outputs tanh(0) = 0 (or
# relu(0) = 0), the logits are 0, each class gets probability ½ and the
# loss is ln 2, the loss of a coin toss. A Linear layer's weight gradient is
# `doutᵀ h`, and its input h is 0; the gradient it passes back is `dout W`,
# and W is 0. So every weight gradient is exactly 0, by hand and by
# autograd. Only the output bias gets a gradient, the mean of
# (softmax − one-hot): it can learn how often each class occurs, no more.

# %%
def zeros(fan_out, fan_in, generator):
    return torch.zeros(fan_out, fan_in, dtype=torch.float64)


for activation in ("tanh", "relu"):
    zero = deep_twins(activation, zeros)
    by_hand, by_autograd = manual_gradients(zero, x, y)[0], autograd_gradients(zero, x, y)[0]
    weights = [name for name in by_hand if name.endswith("weight")]
    with torch.no_grad():
        loss = zero.torch_loss(zero.torch_net(x), y).item()
    print(f"{activation}: loss {loss:.6f} (ln 2 = {math.log(2):.6f}); largest |dL/dW|: "
          f"{max(float(by_hand[k].abs().max()) for k in weights):g} by hand, "
          f"{max(float(by_autograd[k].abs().max()) for k in weights):g} by autograd; "
          f"output bias {', '.join(f'{g:+.3f}' for g in by_hand[f'{len(zero.manual_net) - 1}.bias'].tolist())}")

# %% [markdown]
# ## Equal is no better than zero: the symmetry problem
# Now let every weight of a layer be 1/n, with n the fan-in. Every unit of
# the layer then computes the mean of its inputs, so all 32 hold the same
# value; on the way back each gets the same dL/dz, because the next layer's
# weights are all equal too. Their weight gradients, the rows of `doutᵀ h`,
# are equal, so the units take the same step and stay copies of each other:
# the network is as narrow as one unit per layer. We train it and check
# every hidden layer's weight matrix in both twins: how far it moved, and
# how far its rows (the incoming weights of different units) are apart.

# %%
def constant(fan_out, fan_in, generator):
    """Every weight 1/fan_in: each unit takes the mean of its inputs."""
    return torch.full((fan_out, fan_in), 1 / fan_in, dtype=torch.float64)


def row_spread(weight):
    """How far any row (one unit's incoming weights) of a weight matrix is from the first row."""
    return float((weight - weight[0]).abs().max())


symmetric = deep_twins("tanh", constant)
start = {name: by_hand.clone() for name, by_hand, _ in symmetric.named_parameters()}
symmetric_history = run.train(symmetric, x, y, momentum=0.9, label="tanh, every weight 1/n", main=False)
hidden_weights = [name for name, *_ in symmetric.named_parameters() if name.endswith("weight")][:-1]
print("layer       moved by   rows differ by (by hand, autograd)")
for name, by_hand, by_autograd in symmetric.named_parameters():
    if name in hidden_weights:
        moved = float((by_hand - start[name]).abs().max())
        print(f"{name:<10} {moved:9.1e}   {row_spread(by_hand):.0e}, {row_spread(by_autograd.detach()):.0e}")

# %% [markdown]
# Every layer moved, while the rows of each matrix still agree to the last
# digit. (The output layer is left out: its rows belong to the classes.)
# Random starting values break this symmetry: units that start different
# receive different gradients and can learn different features.
#
# ## Random, but on what scale? The variance of a sum
# Take one unit of a layer with fan-in n: z = Σⱼ wⱼ hⱼ (the bias is 0). The
# weights are independent, with mean 0 and variance σ², and independent of
# the inputs hⱼ. Each term has variance σ²·E[hⱼ²], and the variances of n
# independent terms add:
#
#     E[z²] = n·σ²·E[h²]
#
# ReLU sets the negative half of a symmetric z to 0, so E[h²] grows by
# n·σ²/2 per layer; tanh leaves a small z almost as it is (n·σ²) and
# squashes a large one towards ±1. Ten layers raise the factor to the tenth
# power. With n = 32 and N(0, 0.01²) weights, n·σ²/2 = 0.0016: the signal
# loses a factor 600 in mean square at every layer. With N(0, 1) the factor
# is 16 and it grows. It is 1 only for σ² = 2/n with ReLU, or 1/n with tanh.
#
# ## Xavier and Kaiming, written by hand
# The backward pass runs the same argument the other way: a layer passes
# back dL/dh = dL/dz·W, a sum over its n_out units, so the gradient's mean
# square is multiplied by n_out·σ². The forward pass wants σ² = 1/n_in and
# the backward pass 1/n_out. **Xavier** (Glorot and Bengio, 2010) splits the
# difference, σ² = gain² · 2 / (n_in + n_out), both of them when the layer
# is square; its uniform form draws from U(−a, a), whose variance is a²/3,
# so a = gain·√(6/(n_in + n_out)). We use gain 1, as the paper does.
# **Kaiming** (He et al., 2015) is for ReLU: it puts back the half that ReLU
# removes, σ² = 2/n_in. Each is a line or two:

# %%
def normal(std):
    """N(0, std²) for every weight, whatever the size of the layer."""
    def draw(fan_out, fan_in, generator):
        return std * torch.randn(fan_out, fan_in, generator=generator, dtype=torch.float64)
    return draw


def xavier_normal(fan_out, fan_in, generator, gain=1.0):
    std = gain * math.sqrt(2 / (fan_in + fan_out))
    return std * torch.randn(fan_out, fan_in, generator=generator, dtype=torch.float64)


def xavier_uniform(fan_out, fan_in, generator, gain=1.0):
    bound = gain * math.sqrt(6 / (fan_in + fan_out))     # U(-a, a) has variance a²/3
    return torch.empty(fan_out, fan_in, dtype=torch.float64).uniform_(-bound, bound, generator=generator)


def kaiming_normal(fan_out, fan_in, generator):
    std = math.sqrt(2 / fan_in)                          # fan_in mode, for ReLU
    return std * torch.randn(fan_out, fan_in, generator=generator, dtype=torch.float64)


# %% [markdown]
# `torch.nn.init` draws the very same numbers from the same generator state
# (its uniform bound, √3·std, may differ in the last bit). On a 256 × 512
# matrix, against the formula's standard deviation:

# %%
FAN_OUT, FAN_IN = 256, 512
torch_init = {
    "xavier_normal": lambda w, g: torch.nn.init.xavier_normal_(w, generator=g),
    "xavier_uniform": lambda w, g: torch.nn.init.xavier_uniform_(w, generator=g),
    "kaiming_normal": lambda w, g: torch.nn.init.kaiming_normal_(w, nonlinearity="relu", generator=g),
}
ours = {"xavier_normal": xavier_normal, "xavier_uniform": xavier_uniform, "kaiming_normal": kaiming_normal}
formula = {"xavier_normal": math.sqrt(2 / (FAN_IN + FAN_OUT)), "xavier_uniform": math.sqrt(2 / (FAN_IN + FAN_OUT)),
           "kaiming_normal": math.sqrt(2 / FAN_IN)}
for name in ours:
    mine = ours[name](FAN_OUT, FAN_IN, torch.Generator().manual_seed(run.seed))
    theirs = torch_init[name](torch.empty(FAN_OUT, FAN_IN, dtype=torch.float64),
                              torch.Generator().manual_seed(run.seed))
    print(f"{name:<15} std: formula {formula[name]:.5f}, ours {mine.std():.5f}; "
          f"same seed as torch: max |ours − torch| {(mine - theirs).abs().max():.0e}")

# %% [markdown]
# ## Ten layers, four starting points, two activations
# Four random starts, too small, too large, Xavier and Kaiming, with tanh
# and with ReLU: the hand-written forward pass keeps every hidden layer's
# output (and the torch twin computes the same values).

# %%
SCHEMES = {"zeros": zeros, "N(0, 0.01²)": normal(0.01), "N(0, 1)": normal(1.0),
           "Xavier": xavier_normal, "Kaiming": kaiming_normal}
COLORS = dict(zip(["Kaiming", "N(0, 0.01²)", "N(0, 1)", "Xavier", "zeros"], plots.RUN_COLORS))
RANDOM = [name for name in SCHEMES if name != "zeros"]
ACTIVATIONS = {"tanh": "tanh", "ReLU": "relu"}


def hidden_activations(net, inputs):
    """The output of every activation layer, h₁ … h_L, from the hand-written forward pass."""
    outputs, h = [], inputs
    for layer in net:
        h = layer(h)
        if not isinstance(layer, manual.Linear):
            outputs.append(h)
    return outputs


activations, gaps = {}, []
for scheme in RANDOM:
    activations[scheme] = {}
    for column, activation in ACTIVATIONS.items():
        twins = deep_twins(activation, SCHEMES[scheme])
        activations[scheme][column] = hidden_activations(twins.manual_net, x)
        with torch.no_grad():
            last = twins.torch_net[:-1](x)           # the torch twin, up to the last hidden activation
        gaps.append(float((last - activations[scheme][column][-1]).abs().max() / last.abs().max()))
print(f"the twins' last hidden layers differ by at most {max(gaps):.0e} of their largest value")

# %% [markdown]
# For ReLU the mean square E[h²] should change by n·σ²/2 from one hidden
# layer to the next (layers 2 to 10, all with fan-in 32):

# %%
def ratios(outputs):
    """E[h²] of each hidden layer over that of the layer before it: layers 2 … L."""
    power = torch.stack([h.pow(2).mean() for h in outputs])
    return power[1:] / power[:-1]


SIGMA2 = {"N(0, 0.01²)": 0.01**2, "N(0, 1)": 1.0, "Xavier": 2 / (WIDTH + WIDTH), "Kaiming": 2 / WIDTH}
print("ReLU        n·σ²/2   E[h²] ratio per layer, ℓ = 2 … 10                      geometric mean  ÷ n·σ²/2")
for scheme in RANDOM:
    theory = WIDTH * SIGMA2[scheme] / 2
    measured = ratios(activations[scheme]["ReLU"])
    geometric = measured.log().mean().exp().item()
    print(f"{scheme:<11} {theory:7.4g}   " + " ".join(f"{r:6.3g}" for r in measured.tolist())
          + f"   {geometric:9.4g}  {geometric / theory:6.3f}")

# %% [markdown]
# Layer by layer the ratios scatter around n·σ²/2 by tens of percent, the
# same wiggles in every row: the four starts scale the same random numbers,
# and a ReLU network without biases passes a scaled input through as a
# scaled output. Their geometric mean lands within about 5 % of the theory,
# across five orders of magnitude. The theory describes the average over
# random weights, so we average over 200 fresh draws of the Kaiming network:

# %%
DRAWS = 200
kaiming_net = deep_twins("relu", kaiming_normal).manual_net
draws = []
for draw in range(DRAWS):
    initialise(kaiming_net, kaiming_normal, seed=run.seed + 1 + draw)   # seeds other than the one above
    draws.append(ratios(hidden_activations(kaiming_net, x)))
draws = torch.stack(draws)                                    # (DRAWS, DEPTH - 1)
print(f"Kaiming, ReLU, the E[h²] ratio of layers 2 … {DEPTH} (theory: 1)")
print(f"  mean of {DRAWS} draws:    " + " ".join(f"{m:5.2f}" for m in draws.mean(dim=0).tolist()))
print("  scatter of one draw: ±" + " ±".join(f"{s:4.2f}" for s in draws.std(dim=0).tolist()))

# %% [markdown]
# One draw scatters by about ±0.3 around 1; the mean of 200 lands within a
# few percent of 1 at every layer. The histograms show each hidden layer's
# whole spread at layers 1, 4, 7 and 10: tanh's values on a linear axis,
# ReLU's positive values on a log axis (about half of every ReLU layer is
# exactly 0, counted in the panel titles). Every panel of a column uses the
# same bins.

# %%
LAYERS = [1, 4, 7, 10]
run.save(plots.initialisation.activation_histograms(activations, LAYERS, log_columns=["ReLU"],
                                                    title=f"Each hidden layer's activations at the start\n"
                                                          f"({DEPTH} layers of {WIDTH}, {len(x)} points)",
                                                    note="N(0, 0.01²) collapses to 0 layer by layer, N(0, 1) "
                                                         "saturates tanh and blows ReLU up; Xavier (tanh) and "
                                                         "Kaiming (ReLU) keep the spread"),
         "activations")

# %% [markdown]
# ## The gradient flows back through the same layers
# On the way back each Linear layer multiplies the gradient by Wᵀ and each
# activation by its slope (ReLU: 0 or 1; tanh: 1 − h², near 0 for a
# saturated unit), so the gradient's mean square changes by about the same
# factor per layer, from the output back to the input. The gradient report
# with `first_layer=True` compares dL/d(input of k) by hand and by autograd
# for all 21 layers, the data's own gradient dL/dx included. Here it checks
# the Kaiming ReLU network on 8 of the points (finite differences need two
# forward passes per parameter), with ReLU's backward written out: the
# gradient passes where the unit was active and stops where it was not.

# %%
class ReLU(manual.ReLU):
    """out = max(x, 0), with its backward written here."""

    def backward(self, dout, input_grad=True):
        """dL/dx = dout · [x > 0]: slope 1 where the unit was active, 0 elsewhere; shaped like x."""
        x = self._x                            # the input, kept by the forward pass
        # exercise relu_backward: return dL/dx = dout where the unit was active (its input x > 0), 0 elsewhere
        return dout * (x > 0)
        # end exercise


main = deep_twins("relu", kaiming_normal)
main.manual_net.layers = [ReLU() if isinstance(layer, manual.ReLU) else layer for layer in main.manual_net]
run.check(main, x[:8], y[:8], first_layer=True)

# %% [markdown]
# Backpropagation computes the `input of k` rows from `output` (dL/dlogits)
# down to `input of 0` (dL/dx), each from the one before: a wrong backward
# in layer k would show first in row k. All 21 agree. Now the size of those
# gradients at every depth, on all 200 points, for every start: the spread
# of the gradient reaching each layer's input, and of dL/dW = doutᵀ h.

# %%
def gradient_spread(twins):
    """std of dL/d(input) and of dL/dW for every Linear layer, by hand and by autograd."""
    spread = {}
    for who, gradients in (("manual", manual_gradients), ("autograd", autograd_gradients)):
        params, inputs = gradients(twins, x, y, first_layer=True)
        linear = range(0, len(twins.manual_net), 2)            # the Linear layers' indices: 0, 2, …, 20
        spread[f"input_{who}"] = torch.stack([inputs[k].std() for k in linear])
        spread[f"weight_{who}"] = torch.stack([params[f"{k}.weight"].std() for k in linear])
    return spread


flow = {column: {scheme: {"color": COLORS[scheme], **gradient_spread(deep_twins(activation, SCHEMES[scheme]))}
                 for scheme in SCHEMES} for column, activation in ACTIVATIONS.items()}
run.save(plots.initialisation.gradient_flow(flow, title="The gradient at every depth, at the start of training",
                                            note="the all-zero start has no line here: all its gradients are "
                                                 "exactly 0, and a log axis has no place for 0"),
         "gradient_flow")
# From the input of layer 11 back to the input of layer 2: nine steps, each through 32 units.
print("per layer on the way back (ℓ = 11 → 2), the factor in the gradient's std, against the theory")
for column, scheme in [("ReLU", s) for s in RANDOM] + [("tanh", "N(0, 0.01²)")]:
    spread = flow[column][scheme]["input_manual"]
    measured = (spread[1] / spread[-1]) ** (1 / (len(spread) - 2))
    theory = math.sqrt(WIDTH * SIGMA2[scheme] / (2 if column == "ReLU" else 1))
    print(f"  {column:<4} {scheme:<12} measured {measured:.3g}, theory "
          f"{'√(n·σ²/2)' if column == 'ReLU' else '√(n·σ²)'} = {theory:.3g}")

# %% [markdown]
# With N(0, 0.01²) the gradient reaching the input is more than 10¹² times
# smaller than at the output: it *vanishes*, by the square root of the
# forward factor per layer. With N(0, 1) it *explodes*, growing towards the
# input, with tanh too: the few units that are not saturated multiply by
# weights of size 1, summed over 32 units. Xavier + tanh and Kaiming + ReLU
# keep it within a factor of three across the hidden layers (the data's own
# gradient, at ℓ = 1, is larger: the first layer has fan-in 2). The weight
# gradients of N(0, 0.01²) are about the same at every layer, and all tiny
# (10⁻¹⁴ and below): doutᵀ h multiplies a backward signal that vanishes
# towards the input by a forward one that vanishes away from it.
#
# ## Training from each start
# Each network trains for the same number of steps with SGD and momentum
# 0.9 (lesson 07), every start at one shared learning rate, 0.02, and from
# one seed; the symmetric network from above joins the tanh panel. N(0, 1) is not in the race: with ReLU its logits
# are in the millions, and so is its first loss.

# %%
TRAINED = ["zeros", "N(0, 0.01²)", "Xavier", "Kaiming"]
histories = {column: {} for column in ACTIVATIONS}
for column, activation in ACTIVATIONS.items():
    for scheme in TRAINED:
        twins = main if (column, scheme) == ("ReLU", "Kaiming") else deep_twins(activation, SCHEMES[scheme])
        histories[column][scheme] = run.train(twins, x, y, momentum=0.9, label=f"{column}, {scheme}",
                                              main=(column, scheme) == ("ReLU", "Kaiming"))
large = deep_twins("relu", normal(1.0))
with torch.no_grad():
    print(f"ReLU, N(0, 1): first loss {large.torch_loss(large.torch_net(x), y).item():.2e}")
    right = {name: (net(inputs).argmax(dim=1) == labels).double().mean().item()
             for name, net, inputs, labels in (("training", main.torch_net, x, y),
                                               ("held-out", main.torch_net, x_val, y_val))}
print(f"ReLU + Kaiming: {right['training']:.1%} of the training points right, {right['held-out']:.1%} held out")

panels = []
for column in ACTIVATIONS:
    runs = {}
    for scheme, history in histories[column].items():
        # zeros and N(0, 0.01²) both stay at ln 2: the first is drawn wide and pale beneath the second
        wide = {"linewidth": 4.5, "alpha": 0.45} if scheme == "zeros" else {}
        runs[scheme] = {"history": history, "color": COLORS[scheme], **wide}
    if column == "tanh":
        runs["every weight 1/n (symmetric)"] = {"history": symmetric_history, "color": plots.style.MID,
                                                "linestyle": (0, (4, 2))}
    panels.append({"title": f"{column}: {DEPTH} hidden layers of {WIDTH}", "runs": runs})
run.save(plots.initialisation.init_loss_curves(panels, reference=(math.log(2), "ln 2: the loss of a coin toss"),
                                               note=f"{run.steps} steps of SGD, lr {run.lr:g}, momentum 0.9, from "
                                                    "each start; zeros (wide pale line) and N(0, 0.01²) lie on "
                                                    "each other just below ln 2"),
         "init_losses")

# %% [markdown]
# Zeros and N(0, 0.01²) stay just below ln 2: their weight gradients are 0,
# or 10⁻¹⁴ and smaller, and only the output bias learns, which class is the
# more common (109 of the 200 points are class 1: the loss of that guess is
# 0.689). The symmetric network learns as much as one unit per layer can.
# With ReLU, Xavier halves the signal's mean square at every layer,
# 2⁻⁹ ≈ 0.002 over nine layers, and the gradient shrinks the same way back:
# it stays near ln 2 for most of the run. Kaiming trains at once, on the
# held-out points too. This is one seed, and one rate shared by every
# start: Xavier + ReLU's early gradients are smaller than Kaiming's (a
# factor of about 0.73 per layer on the way back, against about 1), so at
# this rate its steps are smaller too, and part of its slow start may be
# the rate rather than the start. A rate tuned for each start would tell
# them apart. Deeper networks need more help, such as
# normalisation layers (lesson 14), but the first fix is the starting scale:
# a layer's factor n·σ² (n·σ²/2 after a ReLU), raised to the power of the
# depth, must stay near 1, forward and back.

# %% [markdown]
# ## Captions for course notes
# What `python -m toolkit figures` prints under each figure in the gallery's
# index: a caption for the notes and an alt text for readers who cannot see
# the image.

# %%
run.describe("activations",
             caption=f"Histograms of hidden layers 1, 4, 7 and 10 of the {DEPTH}-layer network at the start, one "
                     f"row per initialisation, tanh on a linear axis and ReLU's positive values on a log axis "
                     f"(about half of every ReLU layer is exactly 0, not drawn). N(0, 0.01²) collapses towards 0 "
                     f"layer by layer, N(0, 1) saturates tanh and blows ReLU up by many decades; Xavier (for tanh) "
                     f"and Kaiming (for ReLU) keep the spread.",
             alt="Eight histogram panels, a row per start and a column per activation, each with four outlined "
                 "histograms from dark purple (layer 1) to light green (layer 10). tanh: a spike at 0, spikes at "
                 "±1, a bell, a wide spread. ReLU: bumps marching left to 1e-15 for N(0, 0.01²), right to 1e5 for "
                 "N(0, 1), slowly left for Xavier, on top of each other near 1 for Kaiming.")
run.describe("gradient_flow",
             caption="The standard deviation of the gradient at every depth at the start, both twins (a cross in "
                     "every circle): dL/d(input of layer ℓ) in the first row, dL/dW in the second, for tanh and "
                     "ReLU, ℓ = 1 next to the input. With N(0, 0.01²) the input gradient vanishes towards the "
                     "input by more than 10¹², with N(0, 1) it explodes; Xavier + tanh and Kaiming + ReLU keep it "
                     "within a factor of a few. The all-zero start has no line: all its gradients are exactly 0.",
             alt="Four panels of lines with circles on log axes against the layer, 1 to 11. Input gradients: a "
                 "green line (N(0, 0.01²)) climbs from about 1e-17 to 1e-5, a pink line (N(0, 1)) falls from "
                 "about 10 (tanh) or 1e4 (ReLU) to 1e-2, black (Xavier) and light blue (Kaiming) lines stay flat "
                 "near 1e-3. Weight gradients: nearly flat lines, the green one near 1e-14.")
run.describe("init_losses",
             caption=f"The training loss from each start, {run.steps} steps of SGD with momentum 0.9 at one "
                     f"shared lr, {run.lr:g}, one seed. Zeros and N(0, 0.01²) stay just below ln 2, the loss of a coin toss; the "
                     f"symmetric start learns a little; with ReLU, Xavier stays near ln 2 for most of the run, "
                     f"while Kaiming trains at once ({right['training']:.1%} of the training points and "
                     f"{right['held-out']:.1%} of the held-out ones right). Xavier's early gradients with ReLU are "
                     f"smaller, so part of its slow start may be the shared rate.",
             alt="Two panels of training loss on a log axis against the step, a dotted line at ln 2. tanh: a wide "
                 "pale line and a green one flat on ln 2, a dashed grey line dipping below it, black and light "
                 "blue lines falling steeply. ReLU: every line near ln 2 but the light blue one, which falls.")
run.finish()
