# %% [markdown]
# # 08 · Initialisation: where the descent starts, and how a signal survives depth
#
# Training begins by giving every parameter "a random value". So far we let
# torch's default pick those values, and on networks of two or three layers
# it hardly mattered. In a deep network it decides whether training can
# start at all. Every layer multiplies the signal passing through it by
# some factor, once on the way forward and once more for the gradient on the
# way back. Ten layers raise that factor to the tenth power, so a factor
# a little off 1 becomes a signal that vanishes or explodes. This lesson
# measures what goes wrong with zeros, with equal values, and with random
# weights that are too small or too large. Then it derives the two scales
# that keep the signal steady, Xavier's and Kaiming's, and writes them by hand.

# %%
import math

import torch

from toolkit import data, lesson, manual, plots
from toolkit.gradient_check import autograd_gradients, manual_gradients
from toolkit.train import train
from toolkit.twins import Twins, make_twins

# lr and steps: every training run of the lesson (SGD with momentum 0.9, from lesson 07).
run = lesson.start("08_initialisation", steps=80, lr=0.02)

# %% [markdown]
# ## A deep, narrow network
# Lesson 05's two moons, now through ten hidden layers of 32 units each:
# 2 → 32 → … → 32 → 2, eleven Linear layers and 9,666 parameters. The
# hidden layers use tanh or ReLU. `make_twins` builds the hand-written
# network and its torch twin. To try a starting point we overwrite the
# hand-written weights and build the torch twin again with `Twins.of`,
# which copies the values across, so both twins start from the same
# numbers. Every bias starts at 0.
#
# `initialise` draws the weights of every Linear layer, in order, from one
# CPU generator seeded with `--seed`, in float64, and then copies them to
# the network's device and dtype: a seed gives the same start on every
# machine.

# %%
x, y = data.two_moons(n=200, noise=0.15, seed=run.seed, device=run.device, dtype=run.dtype)
DEPTH, WIDTH = 10, 32
SIZES = [2] + [WIDTH] * DEPTH + [2]


def initialise(net, draw, seed):
    """Each Linear layer's weight from draw(fan_out, fan_in, generator), its bias 0."""
    generator = torch.Generator().manual_seed(seed)
    for layer in net:
        if isinstance(layer, manual.Linear):
            weight = draw(layer.out_features, layer.in_features, generator)   # float64, on the CPU
            layer.weight.copy_(weight)                   # to the network's device and dtype
            layer.bias.zero_()


def deep_twins(activation, draw):
    """The deep network with `activation`, its weights from `draw`, twinned afterwards."""
    twins = make_twins(SIZES, activation, loss=manual.CrossEntropyLoss(), seed=run.seed,
                       device=run.device, dtype=run.dtype)
    initialise(twins.manual_net, draw, run.seed)
    return Twins.of(twins.manual_net, twins.manual_loss)   # the torch twin copies the new weights


def largest_gradient(gradients):
    return max(float(g.abs().max()) for g in gradients.values())


print(make_twins(SIZES, "relu").manual_net)
print("parameters:", sum(p.numel() for p in make_twins(SIZES).manual_net.parameters()))

# %% [markdown]
# ## Start from zero: the descent never begins
# Set every weight to 0. Every hidden unit then outputs tanh(0) = 0 (or
# relu(0) = 0), the logits are 0, each class gets probability ½, and the
# loss is ln 2 ≈ 0.693, the loss of a coin toss. Backpropagation has
# nothing to work with. A Linear layer's weight gradient is `doutᵀ h`, and
# its input h is 0. The gradient it passes back is `dout W`, and W is 0.
# So every weight gradient is exactly 0, by hand and by autograd. Only the
# output bias could move. Its gradient is the mean of (softmax − one-hot),
# a hundred values of +½ and a hundred of −½ (divided by N) on these
# balanced classes: 0, up to the rounding of that sum.

# %%
def zeros(fan_out, fan_in, generator):
    return torch.zeros(fan_out, fan_in, dtype=torch.float64)


for activation in ("tanh", "relu"):
    zero = deep_twins(activation, zeros)
    by_hand, _ = manual_gradients(zero, x, y)
    by_autograd, _ = autograd_gradients(zero, x, y)
    weights = [name for name in by_hand if name.endswith("weight")]
    output_bias = f"{len(zero.manual_net) - 1}.bias"
    with torch.no_grad():
        loss = zero.torch_loss(zero.torch_net(x), y).item()
    print(f"{activation}: loss {loss:.6f} (ln 2 = {math.log(2):.6f}); largest |dL/dW| of the {len(weights)} "
          f"weight matrices: {largest_gradient({k: by_hand[k] for k in weights}):g} by hand, "
          f"{largest_gradient({k: by_autograd[k] for k in weights}):g} by autograd; "
          f"output bias: {by_hand[output_bias].abs().max():.0e}, {by_autograd[output_bias].abs().max():.0e}")

# %% [markdown]
# ## Equal is no better than zero: the symmetry problem
# Zero is only the extreme case. Suppose every weight of a layer is the same
# number, say 1/n with n the fan-in. Then every unit of the layer computes
# the mean of its inputs, so all 32 units hold the same value. On the way
# back each unit gets the same dL/dz, because the next layer's weights are
# all equal too. Their weight gradients, the rows of `doutᵀ h`, are then
# equal as well: the same gradient, so the same step, so they stay copies
# of one another. Now the gradients are not zero and the weights do move,
# but the 32 units move as one. The network stays as narrow as a single
# unit per layer, however wide we built it. We train it and check every
# hidden layer's weight matrix, in both twins: how far apart its rows are
# (that is, the incoming weights of different units), and how far it moved.

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
print("layer       moved by   rows differ by (by hand, autograd)")
hidden_weights = [name for name, *_ in symmetric.named_parameters() if name.endswith("weight")][:-1]
for name, by_hand, by_autograd in symmetric.named_parameters():
    if name in hidden_weights:
        moved = float((by_hand - start[name]).abs().max())
        print(f"{name:<10} {moved:9.1e}   {row_spread(by_hand):.0e}, {row_spread(by_autograd.detach()):.0e}")

# %% [markdown]
# Every layer's weights moved (the first layer's the most), while the
# rows of each matrix still agree exactly or to 10⁻¹⁷. Only the rounding of
# the last digit tells the units apart, far too little to pull them apart
# in a few dozen steps. (The output layer is left out: its two rows belong
# to the two classes and are meant to differ.)
# Random starting values are there to break this symmetry: units that start
# different receive different gradients and can learn different features.

# %% [markdown]
# ## Random, but on what scale? The variance of a sum
# Take one unit of a layer with fan-in n: z = Σⱼ wⱼ hⱼ (the bias is 0). The
# weights are independent, with mean 0 and variance σ², and independent of
# the inputs hⱼ. Each term has variance σ²·E[hⱼ²], and the variances of n
# independent terms add:
#
#     E[z²] = n·σ²·E[h²]
#
# So every Linear layer multiplies the signal's mean square by n·σ². The
# activation then changes it once more. ReLU sets the negative half of a
# symmetric z to 0 and keeps the rest, so E[relu(z)²] = ½·E[z²]. tanh
# leaves a small z almost as it is (tanh z ≈ z) and squashes a large one
# towards ±1. Per layer, then:
#
#     ReLU:  E[h²] grows by n·σ²/2        tanh (small signals):  by about n·σ²
#
# The same factor is applied at every layer, so ten layers raise it to the
# tenth power. With n = 32 and N(0, 0.01²) weights, n·σ²/2 = 0.0016: the
# signal loses a factor 600 in mean square at every layer. With N(0, 1),
# n·σ²/2 = 16 and it grows. The factor stays at 1 only if σ² = 2/n for
# ReLU, or σ² = 1/n for tanh.

# %%
def normal(std):
    """N(0, std²) for every weight, whatever the size of the layer."""
    def draw(fan_out, fan_in, generator):
        return std * torch.randn(fan_out, fan_in, generator=generator, dtype=torch.float64)
    return draw


n = WIDTH
for label, std in (("N(0, 0.01²)", 0.01), ("N(0, 1)", 1.0)):
    factor = n * std**2 / 2
    print(f"{label}, ReLU: n·σ²/2 = {factor:g} per layer, "
          f"{factor ** (DEPTH - 1):.1e} over the {DEPTH - 1} layers after the first")

# %% [markdown]
# ## Xavier and Kaiming, written by hand
# The backward pass runs the same argument the other way. A layer passes
# back dL/dh = dL/dz·W, a sum over the layer's n_out units, so the
# gradient's mean square is multiplied by n_out·σ² (halved again by ReLU's
# mask). The forward pass wants σ² = 1/n_in and the backward pass wants
# 1/n_out. **Xavier** (Glorot and Bengio, 2010) splits the difference:
#
#     σ² = gain² · 2 / (n_in + n_out)
#
# which is both of them when the layer is square. In the uniform form the
# weights come from U(−a, a), whose variance is a²/3, so
# a = gain·√(6/(n_in + n_out)). We use gain 1, as the paper does.
# (`torch.nn.init.calculate_gain("tanh")` suggests 5/3, a little more, to
# make up for tanh's squashing.) **Kaiming** (He et al., 2015) is for ReLU:
# it puts the halving back, σ² = 2/n_in. Each is a line or two, drawn from
# the generator it is handed:

# %%
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
# `torch.nn.init` has the same three initialisers. On one large matrix,
# ours and torch's, each drawn from its own seed, should have the same
# spread. With 131,072 weights a sample's standard deviation is within
# about 0.2 % of the true one. And from the *same* generator state torch
# draws the very same numbers as we do: its uniform bound is worked out as
# √3·std, so that one can differ from ours in the last bit.

# %%
FAN_OUT, FAN_IN = 256, 512
torch_init = {
    "xavier_normal": lambda w, g: torch.nn.init.xavier_normal_(w, generator=g),
    "xavier_uniform": lambda w, g: torch.nn.init.xavier_uniform_(w, generator=g),
    "kaiming_normal": lambda w, g: torch.nn.init.kaiming_normal_(w, nonlinearity="relu", generator=g),
}
ours = {"xavier_normal": xavier_normal, "xavier_uniform": xavier_uniform, "kaiming_normal": kaiming_normal}
xavier_std = math.sqrt(2 / (FAN_IN + FAN_OUT))
formula = {"xavier_normal": xavier_std, "xavier_uniform": xavier_std, "kaiming_normal": math.sqrt(2 / FAN_IN)}
print(f"a {FAN_OUT}×{FAN_IN} weight matrix (fan_in {FAN_IN}, fan_out {FAN_OUT}); "
      "ours and torch's from different seeds")
print(f"{'':<16} {'std: formula':>13} {'ours':>8} {'torch':>8}    same seed: max |ours − torch|")
for name in ours:
    mine = ours[name](FAN_OUT, FAN_IN, torch.Generator().manual_seed(run.seed))
    theirs = torch_init[name](torch.empty(FAN_OUT, FAN_IN, dtype=torch.float64),
                              torch.Generator().manual_seed(run.seed + 1))
    same_seed = torch_init[name](torch.empty(FAN_OUT, FAN_IN, dtype=torch.float64),
                                 torch.Generator().manual_seed(run.seed))
    print(f"{name:<16} {formula[name]:>13.5f} {mine.std():>8.5f} {theirs.std():>8.5f}    "
          f"{(mine - same_seed).abs().max():.0e}")
bound = math.sqrt(6 / (FAN_IN + FAN_OUT))
mine = xavier_uniform(FAN_OUT, FAN_IN, torch.Generator().manual_seed(run.seed))
theirs = torch.nn.init.xavier_uniform_(torch.empty(FAN_OUT, FAN_IN, dtype=torch.float64),
                                       generator=torch.Generator().manual_seed(run.seed + 1))
print(f"xavier_uniform: bound a = {bound:.6f}; largest |w|: ours {mine.abs().max():.6f}, "
      f"torch {theirs.abs().max():.6f}")

# %% [markdown]
# ## Ten layers, four starting points, two activations
# Four random starts for the deep network: too small, too large, Xavier and
# Kaiming. (All zeros would put every activation at exactly 0.) For each, and
# for tanh and ReLU, we run the hand-written forward pass and keep every
# hidden layer's output. The torch twin computes the same values: the
# largest difference in the last hidden layer, relative to its largest
# value, is printed first.

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

for column in ACTIVATIONS:
    print(f"{column}: the standard deviation of each hidden layer's activations")
    print("layer " + "".join(f"{scheme:>13}" for scheme in RANDOM))
    for k in range(DEPTH):
        print(f"{k + 1:>5} " + "".join(f"{activations[scheme][column][k].std():13.2e}" for scheme in RANDOM))

# %% [markdown]
# Kaiming keeps the ReLU activations' spread between about 0.8 and 1.5 over
# all ten layers. N(0, 0.01²) shrinks it by a roughly constant factor at
# every layer, and N(0, 1) grows it the same way. tanh cannot explode,
# since its values stay within ±1; too-large weights saturate it instead,
# with most units pinned near −1 or +1. Xavier's tanh spread drifts slowly
# down, to about half over the ten layers.
#
# Now the numbers against the theory. For ReLU, the mean square E[h²]
# should change by n·σ²/2 from one hidden layer to the next (layers 2 to
# 10, all with fan-in n = 32):

# %%
def mean_squares(outputs):
    return torch.stack([h.pow(2).mean() for h in outputs])


def ratios(outputs):
    """E[h²] of each hidden layer over that of the layer before it: layers 2 … L."""
    power = mean_squares(outputs)
    return power[1:] / power[:-1]


SIGMA2 = {"N(0, 0.01²)": 0.01**2, "N(0, 1)": 1.0, "Xavier": 2 / (WIDTH + WIDTH), "Kaiming": 2 / WIDTH}
print("ReLU       n·σ²/2   E[h²] ratio, layer ℓ over layer ℓ−1, for ℓ = 2 … 10          "
      "geometric mean   ÷ n·σ²/2")
for scheme in RANDOM:
    theory = WIDTH * SIGMA2[scheme] / 2
    measured = ratios(activations[scheme]["ReLU"])
    geometric = measured.log().mean().exp().item()
    print(f"{scheme:<11} {theory:7.4g}   " + " ".join(f"{r:7.3g}" for r in measured.tolist())
          + f"   {geometric:9.4g}     {geometric / theory:6.3f}")

# %% [markdown]
# From layer to layer the ratios scatter around n·σ²/2 by tens of percent,
# but their geometric mean over the nine layers lands within about 5 % of
# it, across five orders of magnitude. The wiggles are the same in every
# row, only scaled. That is no accident. All four starts draw the same
# random numbers and scale them differently. A ReLU network without biases passes a scaled input
# through as a scaled output (relu(c·z) = c·relu(z) for c > 0), so the four
# networks are one network at four scales. The wiggles themselves are the
# luck of one draw. Each layer has only 32 units, and the moons are two
# dimensional, so all units see strongly related inputs. The theory
# describes the average over random weights, so we average over 200
# fresh draws of the Kaiming network:

# %%
DRAWS = 200
kaiming_net = deep_twins("relu", kaiming_normal).manual_net
draws = []
for draw in range(DRAWS):
    initialise(kaiming_net, kaiming_normal, seed=run.seed + 1 + draw)   # seeds other than the one above
    draws.append(ratios(hidden_activations(kaiming_net, x)))
draws = torch.stack(draws)                                    # (DRAWS, DEPTH - 1)
print(f"Kaiming, ReLU: the E[h²] ratio of layers 2 … {DEPTH} (theory: 1)")
print(f"  mean of {DRAWS} draws:    " + " ".join(f"{m:5.2f}" for m in draws.mean(dim=0).tolist()))
print(f"  scatter of one draw: ±" + " ±".join(f"{s:4.2f}" for s in draws.std(dim=0).tolist()))

# %% [markdown]
# One draw scatters by about ±0.3 around 1 at every layer. The mean of 200
# draws lands within a few percent of 1 at every layer, as the theory
# says it should on average.
#
# The histograms show the whole spread, not just the standard deviation, at
# hidden layers 1, 4, 7 and 10. tanh's values lie on a linear axis from −1
# to 1. ReLU's positive values span 25 decades, so they go on a log axis;
# about half of every ReLU layer is exactly 0, and the panel titles count
# those zeros. Every panel in a column uses the same bins.

# %%
LAYERS = [1, 4, 7, 10]
run.save(plots.initialisation.activation_histograms(activations, LAYERS, log_columns=["ReLU"],
                                     title=f"Each hidden layer's activations at the start "
                                           f"({DEPTH} layers of {WIDTH}, {len(x)} points)",
                                     note="N(0, 0.01²) collapses to 0 layer by layer, N(0, 1) saturates tanh and "
                                          "blows ReLU up;\nXavier (tanh) and Kaiming (ReLU) keep the spread"),
         "activations",
         caption=f"Histograms of hidden layers 1, 4, 7 and 10 of the {DEPTH}-layer network at the start, one row "
                 f"per initialisation, tanh on a linear axis and ReLU's positive values on a log axis (about half "
                 f"of every ReLU layer is exactly 0 and not drawn). N(0, 0.01²) collapses towards 0 layer by "
                 f"layer, N(0, 1) saturates tanh at ±1 and blows ReLU up by many decades, while Xavier (for tanh) "
                 f"and Kaiming (for ReLU) keep the spread from layer to layer.",
         alt="A grid of eight histogram panels, four rows (N(0, 0.01²), N(0, 1), Xavier, Kaiming) by two "
             "columns (tanh, ReLU), each with four outlined histograms coloured from dark purple (layer 1) to "
             "light green (layer 10). tanh, N(0, 0.01²): one spike at 0. tanh, N(0, 1): two spikes at −1 and 1. "
             "tanh, Xavier: a bell that narrows slightly with depth; tanh, Kaiming: a wide flat spread with "
             "spikes at ±1 for layer 1. ReLU, N(0, 0.01²): four bumps marching left, from 1e-3 down to 1e-15; "
             "ReLU, N(0, 1): bumps marching right up to 1e5; ReLU, Xavier: bumps drifting slowly left; ReLU, "
             "Kaiming: four bumps on top of each other near 1.")

# %% [markdown]
# ## The gradient flows back through the same layers
# In the backward pass each Linear layer multiplies the gradient by Wᵀ, and
# each activation by its slope (ReLU: 0 or 1; tanh: 1 − h², close to 0 for
# a saturated unit). So the gradient's mean square changes by about the same
# factor per layer as the signal's did on the way forward, this time going
# from the output back to the input. The gradient report prints exactly
# these gradients. With `first_layer=True` it compares dL/d(input of k) by
# hand and by autograd for every one of the 21 layers, the data's own
# gradient dL/dx (`input of 0`) included. Here it runs on the Kaiming ReLU
# network, on 8 of the points (the finite differences need two forward
# passes per parameter).
#
# The ReLU's link is the simplest of all: the gradient passes where the
# unit was active and stops where it was not. We write it out here and put
# it into the hand-written network in place of the library's ReLU (which
# holds the same line), so the report checks it ten times over:

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
# Read the `input of k` rows from the bottom up, in the order
# backpropagation computes them: from `output` (dL/dlogits, from the loss)
# through `input of 20` (dL/dh₁₀) down to `input of 0` (dL/dx). Each row
# uses the row below it. A wrong backward in layer k would show first in
# row `input of k` and then in every row above it. Here all 21 agree, on
# the CPU even bit for bit (max|diff| 0). Twenty-one hand-written backward
# steps in a row add no error at all.
#
# Now the size of those gradients, for every start. `manual_gradients` and
# `autograd_gradients` are the functions the report uses. The top row of the
# figure shows the spread of the gradient that reaches each layer's input,
# the bottom row that of each layer's weight gradient dL/dW = doutᵀ h, on
# all 200 points.

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


flow = {column: {} for column in ACTIVATIONS}
for column, activation in ACTIVATIONS.items():
    for scheme, draw in SCHEMES.items():
        flow[column][scheme] = {"color": COLORS[scheme], **gradient_spread(deep_twins(activation, draw))}
    print(f"{column}: std of dL/d(input of Linear layer ℓ), ℓ = 1 (the data) … {DEPTH + 1}")
    for scheme in SCHEMES:
        print(f"  {scheme:<12}" + " ".join(f"{v:8.1e}" for v in flow[column][scheme]["input_manual"].tolist()))
run.save(plots.initialisation.gradient_flow(flow, title="The gradient at every depth, at the start of training",
                             note="both twins' gradients coincide (a cross in every circle); zeros: every "
                                  "gradient drawn here is exactly 0, so it has no place on a log axis"),
         "gradient_flow",
         caption="The standard deviation of the gradient at every depth at the start, for both twins (a cross "
                 "in every circle): dL/d(input of layer ℓ) in the first row, dL/dW of layer ℓ in the second, "
                 "for tanh and for ReLU, ℓ = 1 next to the input. With N(0, 0.01²) the input gradient vanishes "
                 "towards the input by more than 10¹², with N(0, 1) it explodes, and Xavier + tanh and Kaiming + "
                 "ReLU keep it within a factor of a few; the weight gradients of N(0, 0.01²) are tiny at every "
                 "layer. Zeros give gradients of exactly 0, which a log axis cannot show.",
         alt="Four panels of lines with circles on logarithmic axes against the layer, 1 to 11: input "
             "gradients in the first row, weight gradients in the second, one column for tanh and one for ReLU. "
             "In both input-gradient panels a green line (N(0, 0.01²)) climbs straight from about 1e-17 at "
             "layer 1 to about 1e-5 at layer 11, an orange line (N(0, 1)) falls from about 1e2 (tanh) or 1e4 "
             "(ReLU) to about 1e-2, and pink (Xavier) and light blue (Kaiming) lines stay nearly flat around "
             "1e-3. In the weight-gradient panels every line is nearly flat: green near 1e-14, the others "
             "between 1e-3 and 1e5; black crosses sit in every circle.")

# From the input of layer 11 back to the input of layer 2: nine steps, each through 32 units.
print("per layer on the way back (ℓ = 11 → 2), the factor in the gradient's std, against the theory")
for column, scheme in [("ReLU", s) for s in RANDOM] + [("tanh", "N(0, 0.01²)")]:
    spread = flow[column][scheme]["input_manual"]
    measured = (spread[1] / spread[-1]) ** (1 / (len(spread) - 2))
    theory = math.sqrt(WIDTH * SIGMA2[scheme] / (2 if column == "ReLU" else 1))
    rule = "√(n·σ²/2)" if column == "ReLU" else "√(n·σ²)"
    print(f"  {column:<4} {scheme:<12} measured {measured:.3g}, theory {rule} = {theory:.3g}")

# %% [markdown]
# With N(0, 0.01²) the gradient that reaches the input is more than 10¹²
# times smaller than at the output: it *vanishes*, by the factor the
# theory gives per layer, the square root of the forward factor (for tanh,
# whose small signals pass almost unchanged, √(n·σ²)). With N(0, 1) it
# *explodes*, growing towards the input, and with tanh too: the saturated
# units pass almost nothing back, but the few that are not saturated
# multiply by weights of size 1, summed over 32 units. Xavier + tanh and
# Kaiming + ReLU keep it within a factor of three across the hidden
# layers. (The data's own gradient, at ℓ = 1, is larger: the first layer's
# fan-in is 2, so its weights are large.) Xavier with ReLU shrinks it layer
# by layer, since there n·σ²/2 = ½.
#
# The bottom row holds a surprise: the weight gradients of N(0, 0.01²) are
# about the same at every layer. The weight gradient doutᵀ h multiplies a
# backward signal that vanishes towards the input by a forward signal that
# vanishes away from it. They are simply all tiny, 10⁻¹⁴ for tanh and 10⁻¹⁶
# for ReLU: a step of lr times that changes nothing.

# %% [markdown]
# ## Training from each start
# Now we train each network for the same number of steps, with SGD and
# momentum 0.9 (lesson 07) and the same learning rate for every start.
# The symmetric network from above joins the tanh panel.

# %%
TRAINED = ["zeros", "N(0, 0.01²)", "Xavier", "Kaiming"]
histories = {column: {} for column in ACTIVATIONS}
for column, activation in ACTIVATIONS.items():
    for scheme in TRAINED:
        twins = main if (column, scheme) == ("ReLU", "Kaiming") else deep_twins(activation, SCHEMES[scheme])
        histories[column][scheme] = run.train(twins, x, y, momentum=0.9, label=f"{column}, {scheme}",
                                              main=(column, scheme) == ("ReLU", "Kaiming"))
with torch.no_grad():
    accuracy = (main.torch_net(x).argmax(dim=1) == y).double().mean().item()
print(f"ReLU + Kaiming: training accuracy {accuracy:.1%}")

panels = []
for column in ACTIVATIONS:
    runs = {}
    for scheme, history in histories[column].items():
        # zeros and N(0, 0.01²) both stay at ln 2: the first is drawn wide and pale beneath the second
        wide = {"linewidth": 4.5, "alpha": 0.45} if scheme == "zeros" else {}
        runs[scheme] = {"history": history, "color": COLORS[scheme], **wide}
    if column == "tanh":
        runs["every weight 1/n (symmetric)"] = {"history": symmetric_history, "color": "0.35",
                                                "linestyle": (0, (4, 2))}
    panels.append({"title": f"{column}: {DEPTH} hidden layers of {WIDTH}", "runs": runs})
run.save(plots.initialisation.init_loss_curves(panels, reference=(math.log(2), "ln 2: the loss of a coin toss"),
                                note=f"{run.steps} steps of SGD, lr {run.lr:g}, momentum 0.9, from each start; "
                                     "zeros (wide pale line) and N(0, 0.01²) both stay at ln 2"),
         "init_losses",
         caption=f"The training loss from each start, {run.steps} steps of SGD with momentum 0.9 at lr "
                 f"{run.lr:g}, tanh and ReLU. Zeros and N(0, 0.01²) never leave ln 2, the loss of a coin toss; "
                 f"the symmetric start (every weight 1/n) learns only a little; with ReLU, Xavier stays close to "
                 f"ln 2 for most of the run, while Kaiming trains at once (to {accuracy:.1%} of the points right).",
         alt="Two panels of training loss on a logarithmic axis against the step, 0 to 80, with a dotted "
             "horizontal line at ln 2. tanh: a wide pale grey line and a green line lie flat on ln 2, a dashed "
             "grey line dips slightly below it, and a pink (Xavier) and a light blue (Kaiming) line fall away "
             "steeply, the light blue one lowest. ReLU: every line stays at ln 2 except the light blue one "
             "(Kaiming), which falls steadily to about 0.1; crosses of the autograd twin sit on the lines.")

# %% [markdown]
# Zeros and N(0, 0.01²) never leave ln 2. For zeros every weight gradient
# is 0. For N(0, 0.01²) the gradients are not quite 0, but they are of the
# order of 10⁻¹⁴ and smaller. The symmetric network learns a little, as much as one unit per
# layer can. With ReLU, Xavier's start halves the signal's mean square at
# every layer, 2⁻⁹ ≈ 0.002 over the nine layers after the first, and the
# gradient shrinks the same way on the way back: it stays close to ln 2
# for most of the run. Kaiming trains at once.
#
# ## Why N(0, 1) is not in the race
# With ReLU, the N(0, 1) network's logits are in the millions, and so is its
# loss; its gradients are nearly as large:

# %%
large = deep_twins("relu", normal(1.0))
with torch.no_grad():
    first_loss = large.torch_loss(large.torch_net(x), y).item()
print(f"ReLU, N(0, 1): first loss {first_loss:.2e}, "
      f"largest |gradient| {largest_gradient(manual_gradients(large, x, y)[0]):.1e}")

# %% [markdown]
# With tanh the loss starts at a sane value, but this network is
# *chaotic*: a tiny change anywhere grows as it passes through the layers.
# Our two twins differ only in the rounding of the last digit, since torch
# adds and multiplies in a different order. Train them side by side for a
# few steps (outside the lesson's record, which is kept for twins meant to
# agree). Then train a second torch twin whose one weight differs from the
# first's by the smallest step its floating-point type can take (one unit
# in the last place, 1 ulp):

# %%
def chaos(draw, steps=8):
    """Parameter distance per step: between the twins, and between two torch twins one weight 1 ulp apart."""
    twins = deep_twins("tanh", draw)
    nudged = deep_twins("tanh", draw)
    weight = nudged.manual_net[4].weight
    weight[0, 0] = torch.nextafter(weight[0, 0], torch.tensor(math.inf, dtype=weight.dtype, device=weight.device))
    nudged = Twins.of(nudged.manual_net, nudged.manual_loss)
    first = train(twins, x, y, steps=steps, lr=run.lr, momentum=0.9, quiet=True)
    second = train(nudged, x, y, steps=steps, lr=run.lr, momentum=0.9, quiet=True)
    between_twins = (first.path_manual - first.path_autograd).abs().max(dim=1).values
    one_ulp = (first.path_autograd - second.path_autograd).abs().max(dim=1).values
    return between_twins, one_ulp


CHAOS_STEPS = min(8, run.steps)
for scheme in ("N(0, 1)", "Xavier"):
    between_twins, one_ulp = chaos(SCHEMES[scheme], CHAOS_STEPS)
    print(f"tanh, {scheme}: largest parameter difference after each step")
    print("  between the twins:          " + " ".join(f"{d:7.0e}" for d in between_twins[1:].tolist()))
    print("  two torch twins, 1 ulp apart:" + " ".join(f"{d:7.0e}" for d in one_ulp[1:].tolist()))

# %% [markdown]
# With N(0, 1) both differences grow about a hundredfold or more per step,
# until they are as large as the weights themselves. After a handful of
# steps the two twins are two different training runs. The
# torch-only pair shows that neither twin is wrong: the network amplifies
# whatever differs. With Xavier the differences stay at the rounding level.
# A run whose last digits decide where it ends cannot be checked step by
# step, and its result cannot be reproduced on another machine either.
# That is one more reason to start at the right scale.
#
# ## What to take away
# * All zeros: every weight gradient is 0 and nothing moves. All equal: the units
#   get equal gradients and stay copies of each other. Random values break
#   the symmetry.
# * A Linear layer with fan-in n and weights of variance σ² multiplies the
#   signal's mean square by n·σ² (by n·σ²/2 after a ReLU), going forward
#   and, with n_out, going back. Over depth this factor is raised to a
#   power, so anything but 1 makes the signal vanish or explode.
# * Xavier, σ² = 2/(n_in + n_out), keeps it near 1 for tanh; Kaiming,
#   σ² = 2/n_in, keeps it at 1 for ReLU. Both are two lines of code, and
#   torch.nn.init draws the same numbers.
# * Deeper networks than these add more help on top: normalisation layers
#   and residual connections. The first fix is still the starting scale.

# %%
run.finish()
