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
from torch import nn

from toolkit import data, lesson, manual, plots
from toolkit.landscape import grid_around, loss_on_plane
from toolkit.twins import make_twins

run = lesson.start(__file__, steps=80, lr=0.05)

# %% [markdown]
# ## Data, and two twins with two parameters each
# The points lie around y = −x + 2, with x between −1 and 3. The twins are
# `Linear(1, 1)`: a weight of shape (1, 1) and a bias of shape (1,), drawn at
# random and shared by both.

# %%
x, y = data.noisy_line(n=40, slope=-1.0, intercept=2.0, noise=0.5, x_range=(-1.0, 3.0),
                       seed=run.seed, device=run.device, dtype=run.dtype)
by_hand, by_autograd = make_twins([1, 1], seed=run.seed, device=run.device, dtype=run.dtype)
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
run.check(by_hand, by_autograd, manual.MSELoss(), nn.MSELoss(), x, y)

# %% [markdown]
# ## Walking downhill
# Each step moves (w, b) against the gradient, scaled by the learning rate.
# Both twins take every step together; at each one we record both losses,
# the largest difference between their gradients, and where they stand.

# %%
history = run.train(by_hand, by_autograd, manual.MSELoss(), nn.MSELoss(), x, y)
print(f"end:   w = {by_hand[0].weight.item():.4f}, b = {by_hand[0].bias.item():.4f}")

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
# the minimum.

# %%
path = history.path_manual                     # (steps + 1, 2): the columns are w and b
alphas, betas = grid_around(path, margin=0.25, include=torch.tensor([best], dtype=path.dtype))
alphas, betas = alphas.to(run.device, run.dtype), betas.to(run.device, run.dtype)
eye = torch.eye(2, dtype=run.dtype, device=run.device)
Z = loss_on_plane(by_autograd, nn.MSELoss(), x, y, center=0 * eye[0], d1=eye[0], d2=eye[1],
                  alphas=alphas, betas=betas)
run.save(plots.contour_with_paths(alphas, betas, Z, history.path_manual, history.path_autograd,
                                  xlabel="weight w", ylabel="bias b", minimum=best,
                                  title=f"Loss over (w, b) and the descent path, lr = {history.lr:g}",
                                  note="both twins take the same path"),
         "contour")
losses_manual, _ = history.path_losses()
run.save(plots.surface_with_path(alphas, betas, Z, history.path_manual, losses_manual,
                                 xlabel="weight w", ylabel="bias b", title="The loss surface, the 'mountain'"),
         "surface")
run.save(plots.loss_curves(history, title=f"Loss per step, lr = {history.lr:g}"), "loss_curves")
run.finish()
