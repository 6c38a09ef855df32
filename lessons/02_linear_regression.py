# %% [markdown]
# # 02 · Linear regression: two parameters, one landscape
#
# Lesson 01 had one weight, so the loss was a curve. Add a bias and the
# prediction becomes `ŷ = w · x + b`: two parameters, and the loss becomes a
# surface over the (w, b) plane, a landscape with a valley. Gradient descent
# is a walk down into that valley, one step at a time, each step pointing
# straight downhill from where we stand.

# %%
import torch

from toolkit import data, lesson, manual, plots
from toolkit.landscape import grid_around, loss_on_plane
from toolkit.optim import SGD
from toolkit.twins import make_twins

run = lesson.start("02_linear_regression", steps=80, lr=0.05)

# %% [markdown]
# ## Data, and two twins with two parameters each
# The points lie around y = −x + 2, with x between −1 and 3. The twins are
# `Linear(1, 1)`: a weight of shape (1, 1) and a bias of shape (1,), drawn at
# random and shared by both. `twins` holds both networks and both losses.

# %%
x, y = data.noisy_line(n=40, slope=-1.0, intercept=2.0, noise=0.5, x_range=(-1.0, 3.0),
                       seed=run.seed, device=run.device, dtype=run.dtype)
twins = make_twins([1, 1], loss=manual.MSELoss(), seed=run.seed, device=run.device, dtype=run.dtype)
by_hand, by_autograd = twins.manual_net, twins.torch_net
print(by_hand)
print(f"start: w = {by_hand[0].weight.item():.4f}, b = {by_hand[0].bias.item():.4f}")

# %% [markdown]
# ## The gradient is a vector of slopes
# With L(w, b) = 1/N Σ (w·xₙ + b − yₙ)², each parameter gets its own slope:
#
#     dL/dw = 2/N Σ (ŷₙ − yₙ) · xₙ        dL/db = 2/N Σ (ŷₙ − yₙ)
#
# Together they form the gradient, the direction in which the loss rises
# fastest. In the hand-written network, `MSELoss.backward` supplies
# 2(ŷ − y)/N and `Linear.backward` multiplies by x (for w) or sums (for b).
# The three witnesses must agree on both numbers:

# %%
run.check(twins, x, y)

# %% [markdown]
# ## Walking downhill
# Each step moves (w, b) against the gradient, scaled by the learning rate.
# This is lesson 01's loop, now with two parameters: our `SGD` updates every
# parameter it holds, so the loop does not change at all.

# %%
optimizer_hand = SGD(by_hand.parameters(), lr=run.lr)
optimizer_torch = SGD(by_autograd.parameters(), lr=run.lr)
largest_gap = 0.0
for step in range(run.steps):
    loss_hand = twins.manual_loss(by_hand(x), y)               # forward
    loss_torch = twins.torch_loss(by_autograd(x), y)
    optimizer_hand.zero_grad()                                 # backward
    optimizer_torch.zero_grad()
    by_hand.backward(twins.manual_loss.backward())
    loss_torch.backward()
    for mine, theirs in zip(by_hand.parameters(), by_autograd.parameters()):
        largest_gap = max(largest_gap, (mine.grad - theirs.grad).abs().max().item())   # compare
    optimizer_hand.step()                                      # update
    optimizer_torch.step()
end_by_loop = [p.clone() for p in by_hand.parameters()]
print(f"end:   w = {by_hand[0].weight.item():.4f}, b = {by_hand[0].bias.item():.4f} "
      f"(largest gradient gap between the twins: {largest_gap:.1e})")

# %% [markdown]
# ## The loop you just wrote, recorded
# From now on, `run.train` runs this loop for us: the same forward, backward,
# comparison and `SGD` step for both twins, plus a record of every step (both
# losses, the gradient gap per parameter, where both twins stand). From the
# same start it lands on the same numbers, and its record draws the figures.

# %%
twins = make_twins([1, 1], loss=manual.MSELoss(), seed=run.seed, device=run.device, dtype=run.dtype)
by_hand, by_autograd = twins.manual_net, twins.torch_net
history = run.train(twins, x, y)
same = all(torch.equal(p, q) for p, q in zip(by_hand.parameters(), end_by_loop))
print(f"the recorded loop ends where ours did: {same}")

# %% [markdown]
# ## The bottom of the valley
# For linear regression the lowest point can also be computed directly, by
# least squares. It tells us how close gradient descent came.

# %%
design = torch.cat([x, torch.ones_like(x)], dim=1)
best = torch.linalg.lstsq(design, y).solution.flatten().tolist()
print(f"least squares: w* = {best[0]:.4f}, b* = {best[1]:.4f}")

# %% [markdown]
# ## The landscape, exactly
# With only two parameters no approximation is needed: the flat parameter
# vector *is* (w, b), so a grid over the plane gives the true loss at every
# point. The path starts on a steep wall, turns, and runs along the valley
# floor, because each step follows the local slope, not the straight line to
# the minimum. A diverged run is framed by its steps before the loss blew
# up (see `drawable_part`); an arrow shows where it went from there.

# %%
from toolkit.landscape import drawable_part

path = history.path_manual[:drawable_part(history)]   # (steps + 1, 2): the columns are w and b
alphas, betas = grid_around(path, margin=0.25, include=torch.tensor([best], dtype=path.dtype, device=path.device))
eye = torch.eye(2, dtype=run.dtype, device=run.device)
Z = loss_on_plane(by_autograd, twins.torch_loss, x, y, center=0 * eye[0], d1=eye[0], d2=eye[1],
                  alphas=alphas, betas=betas)
run.save(plots.contour_with_paths(alphas, betas, Z, history.path_manual, history.path_autograd,
                                  xlabel="weight w", ylabel="bias b", minimum=best,
                                  title=f"Loss over (w, b) and the descent path, lr = {history.lr:g}",
                                  note="both twins take the same path", diverged_at=history.diverged_at_step),
         "contour")
losses_manual, _ = history.path_losses()
run.save(plots.surface_with_path(alphas, betas, Z, history.path_manual, losses_manual,
                                 xlabel="weight w", ylabel="bias b", title="The loss surface, the 'mountain'",
                                 diverged_at=history.diverged_at_step),
         "surface")
run.save(plots.loss_curves(history, title=f"Loss per step, lr = {history.lr:g}"), "loss_curves")
run.finish()
