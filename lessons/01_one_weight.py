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
# either way. Three witnesses, one number, and our formula beside them: the
# report lists it under the weight, as `formula`.

# %%
def slope_of_loss(w, x, y):
    """dL/dw for L(w) = 1/N Σₙ (w·xₙ − yₙ)², by the formula above.

    w: the weight, (1, 1); x, y: the data, (N, 1). Returns one number (a 0-d tensor).
    """
    # exercise slope_of_loss: return dL/dw = 2/N Σₙ (w·xₙ − yₙ)·xₙ, one number
    return (2 / len(x)) * ((w * x - y) * x).sum()
    # end exercise


slope_by_formula = slope_of_loss(w, x, y)
run.check(twins, x, y, by_formula={"0.weight": slope_by_formula})
print(f"dL/dw from the formula above: {float(slope_by_formula):.10f}")

# %% [markdown]
# ## Against the gradient, not with it
# The gradient points the way the loss *rises* fastest. Downhill is the
# other way, so a step **subtracts** it (times a small number, the learning
# rate `lr`):
#
#     w ← w − lr · dL/dw
#
# Some first explanations of training say that we "add the gradients to the
# parameters". That is a mistake: adding them walks uphill. One step each
# way from our start, with the formula for L above:

# %%
def loss_at(value):
    """L(w) at another weight, straight from the formula (no network involved)."""
    return ((value * x - y) ** 2).mean().item()


lr = run.lr
slope = float(slope_by_formula)
print(f"L now                            = {loss_at(w.item()):.4f}")
print(f"L after w − lr·dL/dw (against)   = {loss_at(w.item() - lr * slope):.4f}   downhill")
print(f"L after w + lr·dL/dw (with it)   = {loss_at(w.item() + lr * slope):.4f}   uphill")

# %% [markdown]
# ## A step downhill, scaled by the learning rate
# The learning rate decides how far we go. The slope only describes the
# loss right where we stand, so we take a modest step, look again, and
# repeat. Here is that loop, written out for both twins. Each pass does four
# things, and it matters which part does what:
#
# 1. **forward**: predict and measure the loss;
# 2. **backward**, that is *backpropagation*: compute dL/dw (`zero_grad`
#    first, because backward *adds* into `.grad`). Backpropagation only
#    computes the gradient; it does not move w at all. (It is often said
#    that a pass of backpropagation takes the step down the mountain; it is
#    step 4 that does.)
# 3. **compare**: the two twins must hold the same slope;
# 4. **update**, the optimiser's job: `w ← w − lr · dL/dw`, against the
#    gradient, in place, so the layer sees the new weight. The update is not
#    part of the model, so autograd must not record it: hence
#    `torch.no_grad()`.
#
# Step 4 is one line, but a line with two traps (minus, not plus; in place),
# so we write it as a function and check it against torch's own
# `torch.optim.SGD`, one step each from the same random tensor, before the
# loop uses it:

# %%
def sgd_update(weight, lr):
    """One step of gradient descent on one tensor, in place: weight ← weight − lr · weight.grad.

    In place, so that the layer holding `weight` sees the new value; called
    under torch.no_grad(), so that autograd does not record the step.
    """
    # exercise sgd_update: step against the gradient, in place: weight ← weight − lr · weight.grad
    weight -= lr * weight.grad
    # end exercise


run.check_update(sgd_update, lr=run.lr, like=w)

# %%
weights_by_hand = [w.item()]
slopes_by_hand, slopes_by_autograd = [], []       # dL/dw at every step, for the figure
for step in range(run.steps):
    # 1. forward, both twins on the same data
    loss_hand = twins.manual_loss(by_hand(x), y)
    loss_torch = twins.torch_loss(by_autograd(x), y)
    # 2. backward (backpropagation): our formulas, and autograd. It fills .grad and moves nothing.
    by_hand.zero_grad()
    by_autograd.zero_grad()
    by_hand.backward(twins.manual_loss.backward())
    loss_torch.backward()
    if step == 0:
        print(f"after the first backward: w = {w.item():.4f}, where it was; w.grad = {w.grad.item():+.4f}")
    # 3. compare (and keep both slopes for the figure)
    gap = (w.grad - w_torch.grad).abs().item()
    slopes_by_hand.append(w.grad.item())
    slopes_by_autograd.append(w_torch.grad.item())
    if step % 6 == 0 or step == run.steps - 1:
        print(f"step {step:2d}: loss {loss_hand.item():.6f} | {loss_torch.item():.6f}   "
              f"dL/dw {w.grad.item():+.8f} | {w_torch.grad.item():+.8f}   gap {gap:.1e}")
    # 4. update: the step, against the gradient (minus, not plus)
    with torch.no_grad():
        sgd_update(w, lr)
        sgd_update(w_torch, lr)
    weights_by_hand.append(w.item())
print(f"after {run.steps} steps: w = {w.item():.6f} (hand-written), {w_torch.item():.6f} (torch.nn)")

# %% [markdown]
# ## The same loop with an optimiser
# Step 4 is the job of an *optimiser*. Backpropagation computes the
# gradient; the optimiser takes the step. Our `SGD` (`toolkit/optim.py`)
# makes exactly the update above, `w ← w − lr · w.grad`, for every parameter
# it was given. Starting again from the same weight, the loop becomes shorter
# and lands on the very same numbers, bit for bit.

# %%
twins = make_twins([1, 1], bias=False, loss=manual.MSELoss(), seed=run.seed, device=run.device, dtype=run.dtype)
by_hand, by_autograd = twins.manual_net, twins.torch_net
optimizer_hand = SGD(by_hand.parameters(), lr=lr)
optimizer_torch = SGD(by_autograd.parameters(), lr=lr)
for step in range(run.steps):
    loss_hand = twins.manual_loss(by_hand(x), y)             # forward
    loss_torch = twins.torch_loss(by_autograd(x), y)
    optimizer_hand.zero_grad()                               # backward (backpropagation): the gradient
    optimizer_torch.zero_grad()
    by_hand.backward(twins.manual_loss.backward())
    loss_torch.backward()
    optimizer_hand.step()                                    # the optimiser: the step against it
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
# ## Where did we end up, and how fast did we get there?
# For this one-weight model the best w has a closed form: setting dL/dw = 0
# gives w* = Σ xy / Σ x², with the lowest loss L* = L(w*). More than that,
# the loss is an exact parabola around it,
#
#     L(w) = L* + λ/2 · (w − w*)²,   λ = d²L/dw² = 2 · mean(x²),
#
# so its slope is a straight line, dL/dw = λ · (w − w*). One step
# therefore turns w − w* into (1 − lr·λ)(w − w*), and the loss gap
# L − L* = λ/2 · (w − w*)² into
#
#     L − L*  ←  (1 − lr·λ)² · (L − L*)
#
# at every step: the gap shrinks geometrically, by the same factor each
# time. (It shrinks only while |1 − lr·λ| < 1, that is lr < 2/λ: lesson 03
# is about that limit.) The recorded losses must show exactly this factor.

# %%
best_w = ((x * y).sum() / (x * x).sum()).item()
best_loss = loss_at(best_w)
curvature = 2 * (x * x).mean().item()                  # λ = d²L/dw²
factor = (1 - lr * curvature) * (1 - lr * curvature)  # (1 − lr·λ)² (a product: ** would raise on overflow)
losses_manual, losses_autograd = history.path_losses()
gaps = torch.tensor(losses_manual, dtype=torch.float64) - best_loss
measured = gaps[1:] / gaps[:-1]                        # the factor of each step
print(f"best weight w* = {best_w:.6f}, lowest loss L* = {best_loss:.6f}; "
      f"distance left after training: {abs(by_hand[0].weight.item() - best_w):.2e}")
print(f"curvature λ = 2·mean(x²) = {curvature:.6f}")
print(f"loss gap L − L*, factor per step: theory (1 − lr·λ)² = {factor:.6f}; "
      f"measured {measured.min().item():.6f} to {measured.max().item():.6f} over {len(measured)} steps")

# %% [markdown]
# ## Figures
# Left, the loss as a function of w, a parabola. Each descent step is a
# point on it: big steps where the slope is steep, smaller ones as the slope
# flattens near the bottom, even though the learning rate never changed.
# Right, the slope itself: dL/dw against w is a straight line through zero
# at w*, and the points on it are the slopes the twins computed at each step
# (autograd's crosses sit inside the hand-written circles: they coincide;
# where the steps crowd together near the bottom, every few are marked).
# The slope is negative left of w*, so w grows; each step is lr times the
# slope, so the steps shrink as the points slide up the line to zero.
#
# The second figure is the loss gap L − L* on a log scale. Geometric
# convergence is a straight line there, and it lies on the dashed line of
# the theory, (λ/2)(w₀ − w*)² · (1 − lr·λ)²ᵗ. A run that diverges (try
# `--lr 1.6`, where |1 − lr·λ| > 1) is framed by its steps before the loss
# blew up, and an arrow shows where it went from there.

# %%
from toolkit.landscape import drawable_part

path = history.path_manual[:drawable_part(history), 0]
low, high = min(path.min().item(), best_w), max(path.max().item(), best_w)
margin = 0.35 * (high - low) + 0.1
weights = torch.linspace(low - margin, high + margin, 301, dtype=run.dtype, device=run.device)
one = torch.ones(1, dtype=run.dtype, device=run.device)
curve = loss_on_plane(by_autograd, twins.torch_loss, x, y, center=0 * one, d1=one, d2=None, alphas=weights)
slope_curve = 2 * (weights * (x * x).mean() - (x * y).mean())    # dL/dw = 2/N Σ (w·x − y)·x, over the grid
run.save(plots.one_weight.loss_vs_weight(weights, curve, history.path_manual[:, 0], history.path_autograd[:, 0],
                              losses_manual, losses_autograd, best=best_w, diverged_at=history.diverged_at_step,
                              title=f"Gradient descent on L(w), lr = {history.lr:g}",
                              slope_curve=slope_curve, manual_slopes=slopes_by_hand,
                              autograd_slopes=slopes_by_autograd,
                              slope_label=f"dL/dw = λ·(w − w*), λ = {curvature:.3f}",
                              slope_title="The slope dL/dw: a straight line through 0 at w*"),
         "loss_vs_w")
start_gap = curvature / 2 * (history.path_manual[0, 0].item() - best_w) ** 2     # (λ/2)(w₀ − w*)²
run.save(plots.curves.loss_gap_curves({f"lr = {history.lr:g}": history}, best_loss,
                               theory={f"lr = {history.lr:g}": (start_gap, factor)},
                               title=f"Loss gap L − L* per step, lr = {history.lr:g}\n"
                                     f"measured ×{measured.mean().item():.4g} per step, theory ×{factor:.4g}"),
         "loss_gap")

# %% [markdown]
# ## Captions for course notes
# What `python -m toolkit figures` prints under each figure in the gallery's
# index: a caption for the notes and an alt text for readers who cannot see
# the image.

# %%
run.describe("loss_vs_w",
             caption=f"First panel: the loss L(w) is a parabola, and each step of gradient descent "
                     f"(lr = {history.lr:g}) is a point on it; the steps shrink as the slope flattens near the "
                     f"minimum w* = {best_w:.3f}, although the learning rate never changes. Second panel: the slope "
                     f"dL/dw = λ·(w − w*) is a straight line through 0 at w*, and the slopes both twins computed "
                     f"lie on it (autograd's crosses sit inside the hand-written circles: the twins agree).",
             alt=f"Two panels. The first: a U-shaped curve of the loss against the weight w, with a dotted "
                 f"vertical line at the minimum w = {best_w:.3f}; blue circles joined by arrows start at a white "
                 f"square high on the left branch and step down the curve, ever closer together, to a star near "
                 f"the bottom. The second: a rising straight line of the slope against w, crossing zero at the "
                 f"same dotted line; the circles climb along it from about {slopes_by_hand[0]:.1f} towards zero, "
                 f"each with a small vermillion cross inside.")
run.describe("loss_gap",
             caption=f"The loss gap L − L* per step on a log scale: a straight line, because every step multiplies "
                     f"it by the same factor, and it lies on the dashed theoretical line, (1 − lr·λ)² = {factor:.4g} "
                     f"per step with λ = 2·mean(x²) = {curvature:.3f}.",
             alt=f"A falling straight line on a logarithmic vertical axis, the loss gap from about "
                 f"{gaps[0].item():.2g} at step 0 down to about {gaps[-1].item():.1g} at step {len(gaps) - 1}; the "
                 f"blue line of the hand-written twin, vermillion crosses of the autograd twin on it, and a dark "
                 f"dashed theory line running exactly along it.")
run.finish()
