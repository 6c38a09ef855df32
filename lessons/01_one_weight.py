# %% [markdown]
# # 01 · One weight, one slope
#
# Training a neural network means choosing its parameters so that its
# predictions come out right. We start with the smallest network there is: a
# single weight `w`, and the prediction `ŷ = w · x`. Everything that later
# lessons do to millions of weights, we do here to one, where every number
# can be checked by hand.
#
# We build this network **twice**: once with its gradient written by hand
# (`toolkit.manual`) and once as an ordinary `torch.nn.Linear` whose gradient
# autograd finds for us. Then we check, at every step, that they agree.

# %%
import torch
from torch import nn

from toolkit import data, lesson, manual, plots
from toolkit.landscape import loss_on_plane
from toolkit.twins import make_twins

run = lesson.start(__file__, steps=25, lr=0.1)

# %% [markdown]
# ## The data
# Forty points scattered around the line y = 3x. A good weight is therefore
# somewhere near 3, but the noise means no weight fits every point exactly.

# %%
x, y = data.noisy_line(n=40, slope=3.0, intercept=0.0, noise=0.6, x_range=(-2.0, 2.0),
                       seed=run.seed, device=run.device, dtype=run.dtype)

# %% [markdown]
# ## A random start
# Before training, the weight is just a random number: the network knows
# nothing yet. Both twins start from the very same number.

# %%
by_hand, by_autograd = make_twins([1, 1], bias=False, seed=run.seed, device=run.device, dtype=run.dtype)
w = by_hand[0].weight
print(f"starting weight: w = {w.item():.4f} (hand-written), {by_autograd[0].weight.item():.4f} (torch.nn)")

# %% [markdown]
# ## Predict, then measure how wrong we are
# The loss turns "how wrong" into one number, the mean squared error:
#
#     L(w) = 1/N Σₙ (w·xₙ − yₙ)²
#
# A perfect fit would score 0. Our random weight scores much worse.

# %%
loss_fn = manual.MSELoss()
prediction = by_hand(x)
loss = loss_fn(prediction, y)
print(f"loss at the start: {loss.item():.4f}")

# %% [markdown]
# ## The slope of the loss
# Which way should `w` move? The derivative of the loss tells us: it is the
# slope of L at the current w. Differentiating term by term,
#
#     dL/dw = 2/N Σₙ (w·xₙ − yₙ) · xₙ
#
# A positive slope means the loss rises as w grows, so we should make w
# smaller, and the other way round. The hand-written network computes the
# same number through its backward pass; autograd computes it from the graph
# it recorded; and a finite difference measures it by nudging w a tiny bit
# either way. Three witnesses, one number:

# %%
slope_by_formula = (2 / len(x)) * ((w * x - y) * x).sum()
print(f"dL/dw from the formula above: {slope_by_formula.item():.10f}")
run.check(by_hand, by_autograd, manual.MSELoss(), nn.MSELoss(), x, y)

# %% [markdown]
# ## A step downhill, scaled by the learning rate
# One step of gradient descent moves the weight against the slope:
#
#     w ← w − lr · dL/dw
#
# The learning rate `lr` decides how far. The slope only describes the loss
# right where we stand, so we take a modest step, look again, and repeat.
# Our own SGD (`toolkit.optim.SGD`) makes exactly this update for both twins.

# %%
history = run.train(by_hand, by_autograd, manual.MSELoss(), nn.MSELoss(), x, y)
print(f"after {history.steps} steps: w = {by_hand[0].weight.item():.6f} (hand-written), "
      f"{by_autograd[0].weight.item():.6f} (torch.nn)")

# %% [markdown]
# ## Where did we end up?
# For this one-weight model the best w has a closed form: setting dL/dw = 0
# gives w* = Σ xy / Σ x². Gradient descent should have walked close to it.

# %%
best_w = ((x * y).sum() / (x * x).sum()).item()
print(f"best weight w* = {best_w:.6f}; distance left after training: {abs(by_hand[0].weight.item() - best_w):.2e}")

# %% [markdown]
# ## Figures
# The loss as a function of w is a parabola. Each descent step is a point on
# it: big steps where the slope is steep, smaller ones as the slope flattens
# near the bottom, even though the learning rate never changed.

# %%
path = history.path_manual[:, 0]
low, high = min(path.min().item(), best_w), max(path.max().item(), best_w)
margin = 0.35 * (high - low) + 0.1
weights = torch.linspace(low - margin, high + margin, 301, dtype=run.dtype, device=run.device)
one = torch.ones(1, dtype=run.dtype, device=run.device)
curve = loss_on_plane(by_autograd, nn.MSELoss(), x, y, center=0 * one, d1=one, d2=None, alphas=weights)
losses_manual, losses_autograd = history.path_losses()
run.save(plots.loss_vs_weight(weights, curve, history.path_manual[:, 0], history.path_autograd[:, 0],
                              losses_manual, losses_autograd, best=best_w,
                              title=f"Gradient descent on L(w), lr = {history.lr:g}"), "loss_vs_w")
run.save(plots.loss_curves(history, title=f"Loss per step, lr = {history.lr:g}"), "loss_curve")
run.finish()
