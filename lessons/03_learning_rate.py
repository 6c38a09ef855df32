# %% [markdown]
# # 03 · The learning rate: too small, just right, too large
#
# Gradient descent has one setting that decides almost everything: the
# learning rate. Too small and the walk downhill takes forever; too large and
# each step overshoots the valley floor, bouncing from wall to wall, or
# climbs out of the valley altogether. For the model of lesson 02 we can
# compute exactly where "too large" begins, and then watch all four cases
# happen.

# %%
import torch

from toolkit import data, lesson, manual, plots
from toolkit.landscape import grid_around, largest_stable_lr, loss_on_plane
from toolkit.twins import make_twins

# lr=None: this lesson derives its learning rates from the curvature; --lr adds one of your own.
run = lesson.start("03_learning_rate", steps=50, lr=None)

# %% [markdown]
# ## The same data and model as lesson 02

# %%
x, y = data.noisy_line(n=40, slope=-1.0, intercept=2.0, noise=0.5, x_range=(-1.0, 3.0),
                       seed=run.seed, device=run.device, dtype=run.dtype)


def fresh_twins():
    """Every run starts from the same random parameters."""
    return make_twins([1, 1], loss=manual.MSELoss(), seed=run.seed, device=run.device, dtype=run.dtype)


# %% [markdown]
# ## How curved is the valley?
# Near any point, the loss bends differently in different directions. The
# Hessian, the matrix of second derivatives, holds that curvature. For the
# mean squared error of a linear model it is the same everywhere:
#
#     H = 2/N [[Σ x², Σ x], [Σ x, N]]
#
# Its eigenvectors are the valley's axes and its eigenvalues λ how steeply
# the walls rise along them. One gradient step multiplies the distance to
# the minimum along each axis by (1 − lr·λ). That factor must stay between
# −1 and 1, so the largest learning rate that still converges is
#
#     lr < 2 / λmax
#
# and the steepest axis is the first to go wrong.

# %%
twins = fresh_twins()
lr_max, eigenvalues = largest_stable_lr(twins.torch_net, twins.torch_loss, x, y)
low, high = eigenvalues.tolist()
print(f"Hessian eigenvalues: λmin = {low:.4f}, λmax = {high:.4f}")
print(f"largest stable learning rate: 2 / λmax = {lr_max:.4f}")

# %% [markdown]
# ## Four learning rates
# * **too small**: a tenth of the good rate; every step is safe but tiny.
# * **good**: 2 / (λmin + λmax), which shrinks the slowest and the fastest
#   axis by the same factor each step (the best one fixed rate can do here).
# * **oscillating**: 95% of the limit; the steep axis flips sign every step
#   and only slowly settles, so the path zigzags across the valley.
# * **diverging**: 120% of the limit; the zigzag grows instead of shrinking.

# %%
good = 2 / (low + high)
rates = {
    "too small": 0.1 * good,
    "good": good,
    "oscillating": 0.95 * lr_max,
    "diverging": 1.2 * lr_max,
}
run.check(twins, x, y)

# %% [markdown]
# ## Train both twins at every rate
# The run that diverges is stopped, and reported, as soon as its loss grows
# past 10¹² times where it started (or stops being a number at all).

# %%
histories = {}
for label, lr in rates.items():
    histories[label] = run.train(fresh_twins(), x, y, lr=lr, label=label, main=(label == "good" and run.lr is None))
if run.lr is not None:
    label = f"your lr = {run.lr:g}"
    histories[label] = run.train(fresh_twins(), x, y, label=label)

# %% [markdown]
# ## Figures
# One panel per rate, all on the same colour scale. The diverging path is
# drawn until it leaves the region where the loss is below 100 times its
# starting value; after that the valley would shrink to a dot.

# %%
eye = torch.eye(2, dtype=run.dtype, device=run.device)
panels = []
for label, lr in rates.items():
    history = histories[label]
    losses, _ = history.path_losses()
    shown = sum(1 for value in losses if value < 100 * losses[0])
    path = history.path_manual[:max(shown, 2)]
    alphas, betas = grid_around(path, margin=0.2)
    Z = loss_on_plane(twins.torch_net, twins.torch_loss, x, y, center=0 * eye[0], d1=eye[0], d2=eye[1],
                      alphas=alphas, betas=betas)
    title = f"{label}: lr = {lr:.3g}"
    if len(path) < len(history.path_manual):
        title += f" (first {len(path) - 1} steps)"
    panels.append({"title": title, "alphas": alphas, "betas": betas, "Z": Z,
                   "manual_path": path, "autograd_path": history.path_autograd[:len(path)]})
run.save(plots.learning_rate_panels(panels, xlabel="weight w", ylabel="bias b"), "lr_paths")
run.save(plots.loss_curves_by_run(histories, title=f"Loss per step (2 / λmax = {lr_max:.3f})"), "lr_losses")
run.finish()
