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

from toolkit import data, lesson, manual, plots
from toolkit.landscape import loss_on_plane
from toolkit.optim import SGD
from toolkit.twins import make_twins

run = lesson.start("01_one_weight", steps=25, lr=0.1)

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
# nothing yet. `make_twins` builds the network twice, `Linear(1, 1)` without
# a bias, and gives both twins the very same number. It also pairs each with
# its loss, the mean squared error (hand-written and `torch.nn.MSELoss`).

# %%
twins = make_twins([1, 1], bias=False, loss=manual.MSELoss(), seed=run.seed, device=run.device, dtype=run.dtype)
by_hand, by_autograd = twins.manual_net, twins.torch_net
w, w_torch = by_hand[0].weight, by_autograd[0].weight
print(f"starting weight: w = {w.item():.4f} (hand-written), {w_torch.item():.4f} (torch.nn)")

# %% [markdown]
# ## Predict, then measure how wrong we are
# The loss turns "how wrong" into one number, the mean squared error:
#
#     L(w) = 1/N Σₙ (w·xₙ − yₙ)²
#
# A perfect fit would score 0. Our random weight scores much worse.

# %%
loss_fn = twins.manual_loss
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
run.check(twins, x, y)

# %% [markdown]
# ## A step downhill, scaled by the learning rate
# One step of gradient descent moves the weight against the slope:
#
#     w ← w − lr · dL/dw
#
# The learning rate `lr` decides how far. The slope only describes the loss
# right where we stand, so we take a modest step, look again, and repeat.
# Here is that loop, written out for both twins. Each pass does four things:
#
# 1. **forward**: predict and measure the loss;
# 2. **backward**: compute dL/dw (`zero_grad` first, because backward *adds*
#    into `.grad`);
# 3. **compare**: the two twins must hold the same slope;
# 4. **update**: `w ← w − lr · dL/dw`, in place, so the layer sees the new
#    weight. The update is not part of the model, so autograd must not
#    record it: hence `torch.no_grad()`.

# %%
lr = run.lr
weights_by_hand = [w.item()]
for step in range(run.steps):
    # 1. forward, both twins on the same data
    loss_hand = twins.manual_loss(by_hand(x), y)
    loss_torch = twins.torch_loss(by_autograd(x), y)
    # 2. backward: our formulas, and autograd
    by_hand.zero_grad()
    by_autograd.zero_grad()
    by_hand.backward(twins.manual_loss.backward())
    loss_torch.backward()
    # 3. compare
    gap = (w.grad - w_torch.grad).abs().item()
    if step % 6 == 0 or step == run.steps - 1:
        print(f"step {step:2d}: loss {loss_hand.item():.6f} | {loss_torch.item():.6f}   "
              f"dL/dw {w.grad.item():+.8f} | {w_torch.grad.item():+.8f}   gap {gap:.1e}")
    # 4. update
    with torch.no_grad():
        w -= lr * w.grad
        w_torch -= lr * w_torch.grad
    weights_by_hand.append(w.item())
print(f"after {run.steps} steps: w = {w.item():.6f} (hand-written), {w_torch.item():.6f} (torch.nn)")

# %% [markdown]
# ## The same loop with an optimiser
# Step 4 is the job of an *optimiser*. Backpropagation only computes the
# gradient; it is the optimiser that takes the step. Our `SGD`
# (`toolkit/optim.py`) makes exactly the update above, `w ← w − lr · w.grad`,
# for every parameter it was given. Starting again from the same weight, the
# loop becomes shorter and lands on the very same numbers, bit for bit.

# %%
twins = make_twins([1, 1], bias=False, loss=manual.MSELoss(), seed=run.seed, device=run.device, dtype=run.dtype)
by_hand, by_autograd = twins.manual_net, twins.torch_net
optimizer_hand = SGD(by_hand.parameters(), lr=lr)
optimizer_torch = SGD(by_autograd.parameters(), lr=lr)
for step in range(run.steps):
    loss_hand = twins.manual_loss(by_hand(x), y)
    loss_torch = twins.torch_loss(by_autograd(x), y)
    optimizer_hand.zero_grad()
    optimizer_torch.zero_grad()
    by_hand.backward(twins.manual_loss.backward())
    loss_torch.backward()
    optimizer_hand.step()
    optimizer_torch.step()
same = by_hand[0].weight.item() == weights_by_hand[-1]
print(f"with SGD.step(): w = {by_hand[0].weight.item():.6f} "
      f"({'the same as' if same else 'NOT the same as'} the hand-written update)")

# %% [markdown]
# ## The loop, recorded
# Every lesson trains this way, so the toolkit keeps the loop in one place,
# `toolkit/train.py`, with some bookkeeping added: at every step it records
# both losses, the gap between the twins' gradients and where both stand.
# From the same start it takes the very same steps.

# %%
twins = make_twins([1, 1], bias=False, loss=manual.MSELoss(), seed=run.seed, device=run.device, dtype=run.dtype)
by_hand, by_autograd = twins.manual_net, twins.torch_net
history = run.train(twins, x, y)
recorded = history.path_manual[:, 0].tolist()
print(f"the recorded path is the one above: {recorded == weights_by_hand}")

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
# near the bottom, even though the learning rate never changed. A run that
# diverges (try `--lr 1.6`) is framed by its steps before the loss blew up,
# and an arrow shows where it went from there.

# %%
from toolkit.landscape import drawable_part

path = history.path_manual[:drawable_part(history), 0]
low, high = min(path.min().item(), best_w), max(path.max().item(), best_w)
margin = 0.35 * (high - low) + 0.1
weights = torch.linspace(low - margin, high + margin, 301, dtype=run.dtype, device=run.device)
one = torch.ones(1, dtype=run.dtype, device=run.device)
curve = loss_on_plane(by_autograd, twins.torch_loss, x, y, center=0 * one, d1=one, d2=None, alphas=weights)
losses_manual, losses_autograd = history.path_losses()
run.save(plots.loss_vs_weight(weights, curve, history.path_manual[:, 0], history.path_autograd[:, 0],
                              losses_manual, losses_autograd, best=best_w, diverged_at=history.diverged_at_step,
                              title=f"Gradient descent on L(w), lr = {history.lr:g}"), "loss_vs_w")
run.save(plots.loss_curves(history, title=f"Loss per step, lr = {history.lr:g}"), "loss_curve")
run.finish()
