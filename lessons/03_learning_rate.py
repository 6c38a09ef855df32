# %% [markdown]
# # 03 · The learning rate: five regimes, read off the curvature
#
# Gradient descent has one setting that decides almost everything: the
# learning rate. Too small and the walk downhill takes forever; too large and
# each step overshoots the valley floor, bouncing from wall to wall, or
# climbs out of the valley altogether. For the model of lesson 02 we can
# compute exactly where each of these begins, from the curvature of the
# valley, and then watch every case happen.

# %%
import torch

from toolkit import data, lesson, manual, plots
from toolkit.landscape import grid_around, hessian, loss_on_plane
from toolkit.twins import make_twins

# lr=None: this lesson derives its learning rates from the curvature; --lr adds one of your own.
run = lesson.start("03_learning_rate", steps=50, lr=None)

# %% [markdown]
# ## The same data and model as lesson 02, and its least-squares minimum

# %%
x, y = data.noisy_line(n=40, slope=-1.0, intercept=2.0, noise=0.5, x_range=(-1.0, 3.0),
                       seed=run.seed, device=run.device, dtype=run.dtype)


def fresh_twins():
    """Every run starts from the same random parameters."""
    return make_twins([1, 1], loss=manual.MSELoss(), seed=run.seed, device=run.device, dtype=run.dtype)


design = torch.cat([x, torch.ones_like(x)], dim=1)                # (N, 2): the columns x and 1
best = torch.linalg.lstsq(design, y).solution.flatten()          # the minimum (w*, b*), by least squares
best_loss = ((design @ best - y.flatten()) ** 2).mean().item()   # L* = L(w*, b*)

# %% [markdown]
# ## How curved is the valley?
# Near any point, the loss bends differently in different directions. The
# Hessian H, the matrix of second derivatives, holds that curvature. For the
# mean squared error of a linear model it is the same everywhere:
#
#     H = 2/N [[Σ x², Σ x], [Σ x, N]]
#
# Its eigenvectors are the valley's axes and its eigenvalues λ how steeply
# the walls rise along them. The loss is exactly
# L = L* + ½ Σᵢ λᵢ eᵢ², where eᵢ is the (signed) distance to the minimum
# along axis i, and the gradient along axis i is λᵢ eᵢ. So one gradient step
# multiplies eᵢ by
#
#     1 − lr·λᵢ
#
# on each axis separately. The ratio κ = λmax / λmin, the *condition
# number*, says how narrow the valley is. (`toolkit.landscape.largest_stable_lr`
# does the same computation and returns 2/λmax.)

# %%
twins = fresh_twins()
H = hessian(twins.torch_net, twins.torch_loss, x, y)
curvatures, valley_axes = torch.linalg.eigh((H + H.T) / 2)        # ascending; the columns are the axes
low, high = curvatures.tolist()
kappa = high / low
steep = valley_axes[:, 1]                                          # the axis with λmax
print(f"Hessian eigenvalues: λmin = {low:.4f}, λmax = {high:.4f}; condition number κ = {kappa:.3f}")
print(f"the steep axis (w, b) = ({steep[0].item():+.3f}, {steep[1].item():+.3f}); "
      f"largest stable learning rate 2/λmax = {2 / high:.4f}")

# %% [markdown]
# ## Five learning rates, read off the eigenvalues
# Every factor |1 − lr·λᵢ| must stay below 1, so the largest learning rate
# that still converges is lr < 2/λmax, and the steep axis is the first to
# go wrong. Five rates show the five regimes:
#
# * **0.1/λmax, too small**: every factor is close to 1, 0.9 on the steep
#   axis and 1 − 0.1/κ on the shallow one. No step overshoots, and each
#   removes only a sliver of the distance left: the walk is safe and slow.
# * **1/λmax, no zigzag**: the steep axis has 1 − lr·λmax = 0, so it is
#   solved in one step; the shallow axis keeps 1 − 1/κ of its distance per
#   step and is approached from one side only.
# * **2/(λmin + λmax), fastest**: both axes shrink by the same factor,
#   (κ − 1)/(κ + 1), the best that one fixed rate can do. The steep factor
#   is negative, so the path does zigzag, but the zigzag dies out quickly.
# * **0.99 · 2/λmax, oscillating, barely stable**: the steep factor is
#   −0.98; the path bounces from wall to wall and the bounce shrinks by only
#   2 % per step.
# * **1.2 · 2/λmax, diverging**: the steep factor is −1.4; the bounce grows
#   by 40 % per step until the run is stopped.

# %%
rates = {
    "too small": 0.1 / high,
    "no zigzag": 1 / high,
    "fastest": 2 / (low + high),
    "oscillating": 0.99 * 2 / high,
    "diverging": 1.2 * 2 / high,
}
formulas = {"too small": "0.1/λmax", "no zigzag": "1/λmax", "fastest": "2/(λmin+λmax)", "oscillating": "0.99·2/λmax",
            "diverging": "1.2·2/λmax"}
if run.lr is not None:
    rates[f"your lr = {run.lr:g}"] = run.lr
    formulas[f"your lr = {run.lr:g}"] = "--lr"
for label, lr in rates.items():
    print(f"{label:>15}: lr = {formulas[label]} = {lr:.4f}; per step the distance along the shallow axis is "
          f"multiplied by {1 - lr * low:+.3f}, along the steep axis by {1 - lr * high:+.3f}")
run.check(twins, x, y)

# %% [markdown]
# ## Train both twins at every rate
# The run that diverges is stopped, and reported, as soon as its loss grows
# past 10¹² times where it started (or stops being a number at all).

# %%
histories = {}
for label, lr in rates.items():
    main = label == "fastest" if run.lr is None else label.startswith("your lr")
    histories[label] = run.train(fresh_twins(), x, y, lr=lr, label=label, main=main)

# %% [markdown]
# ## Zigzag or not, the loss falls at every step
# The loss gap is L − L* = ½ Σᵢ λᵢ eᵢ², and each eᵢ² is multiplied by
# (1 − lr·λᵢ)² per step, a number below 1 for every axis as long as
# lr < 2/λmax. So on a quadratic the loss falls at **every** step below
# 2/λmax, even while the path zigzags across the valley: a zigzag flips the
# sign of e along the steep axis, and the loss only sees its square. We
# count the zigzags as sign changes of the error along the steep axis.
# Values within rounding of zero (a thousand machine epsilons, relative to
# where they started) are left out of both checks: their sign is noise.

# %%
rounding = 1000 * torch.finfo(run.dtype).eps                      # about 2e-13 in float64


def steep_error(history):
    """The distance to the minimum along the steep axis, at every point of the path."""
    return (history.path_manual - best) @ steep


for label, history in histories.items():
    losses, _ = history.path_losses()
    falls = all(after < before or before - best_loss < rounding * best_loss
                for before, after in zip(losses, losses[1:]))
    error = steep_error(history)
    big = error[error.abs() > rounding * error[0].abs()]
    flips = int((big[1:] * big[:-1] < 0).sum())
    print(f"{label:>15}: the loss fell at every step: {'yes' if falls else 'NO'}; "
          f"the steep-axis error changed sign at {flips} of {history.steps} steps")

# %% [markdown]
# ## How fast: the loss gap on a log scale
# Each term of L − L* shrinks by its own factor (1 − lr·λᵢ)², so after a
# few steps the slowest one is all that is left, and
#
#     L − L*  shrinks by  maxᵢ (1 − lr·λᵢ)²  per step.
#
# On a log scale that is a straight line. For each rate the dashed line in
# the figure is that slowest term alone, ½ λᵢ eᵢ(0)² · maxᵢ (1 − lr·λᵢ)²ᵗ,
# computed from the eigenvalues and the start; the measured gap has to run
# into it. The last step (clear of rounding) must shrink the gap by the same factor.

# %%
start = histories["fastest"].path_manual[0]                         # every run starts here
start_error = valley_axes.T @ (start - best)                        # e(0) along (shallow, steep)
theory = {}
for label, lr in rates.items():
    factors = (1 - lr * curvatures).abs()                            # |1 − lr·λᵢ| per axis
    slowest = factors >= factors.max() * (1 - 1e-9)                 # (both axes, when they tie)
    slowest_term = (curvatures * start_error ** 2 / 2)[slowest].sum().item()
    theory[label] = (slowest_term, (factors.max() ** 2).item())
    gap = torch.tensor(histories[label].path_losses()[0], dtype=torch.float64) - best_loss
    last = int(torch.nonzero(gap > rounding * best_loss).max())     # the last step clear of rounding
    measured = (gap[last] / gap[last - 1]).item() if last > 0 else float("nan")
    print(f"{label:>15}: L − L* per step: theory max (1 − lr·λ)² = {theory[label][1]:.4f}, "
          f"measured at step {last} {measured:.4f}")

# %% [markdown]
# ## The condition number sets the pace
# Even the fastest fixed rate shrinks the distance to the minimum only by
# (κ − 1)/(κ + 1) per step. Here κ ≈ 8 and that is about 0.78; a valley
# with κ = 1000 would give 0.998: thousands of steps, because the rate
# must respect the steepest wall while the progress is made along the
# flattest floor. This is the problem that
# momentum (lesson 07) attacks: by remembering earlier steps, it lets the
# zigzags cancel and the steps along the floor add up, and on a quadratic
# its rate depends on √κ instead of κ.

# %%
print(f"κ = {kappa:.3f}: the best fixed rate shrinks the distance by (κ − 1)/(κ + 1) = "
      f"{(kappa - 1) / (kappa + 1):.4f} per step")

# %% [markdown]
# ## Figures
# The five paths on panels that share the same axes (one unit as long across
# as up) and the same colour scale; the dotted white lines are the valley's
# axes, the eigenvectors of H. The twins coincide: autograd's cross sits in
# every hand-written circle. The window is framed by the four runs that
# converge, so the diverging path is drawn until it leaves it, and an arrow
# shows where it went.
#
# The loss gaps, on a log scale with the theory dashed. The diverging run
# has an axis of its own: its gap reaches 10¹² and would flatten the others.

# %%
stable = [label for label, lr in rates.items() if lr < 2 / high]
framed = torch.cat([histories[label].path_manual for label in stable] + [best[None]])
alphas, betas = grid_around(framed, margin=0.15)
eye = torch.eye(2, dtype=run.dtype, device=run.device)
Z = loss_on_plane(twins.torch_net, twins.torch_loss, x, y, center=0 * eye[0], d1=eye[0], d2=eye[1],
                  alphas=alphas, betas=betas)
titles = {"too small": "too small", "no zigzag": "no zigzag", "fastest": "fastest",
          "oscillating": "oscillating, barely stable", "diverging": "diverging"}
panels = []
for label in titles:
    history = histories[label]
    panels.append({"title": f"{titles[label]}\nlr = {formulas[label]} = {rates[label]:.3f}",
                   "alphas": alphas, "betas": betas, "Z": Z,
                   "manual_path": history.path_manual, "autograd_path": history.path_autograd,
                   "diverged_at": history.diverged_at_step})
run.save(plots.learning_rate.learning_rate_panels(panels, xlabel="weight w", ylabel="bias b", minimum=best.tolist(),
                                                  valley_axes=[valley_axes[:, 0], valley_axes[:, 1]],
                                                  title=f"{run.steps} steps at five rates from the Hessian "
                                                        f"(κ = {kappa:.2f}), on shared axes"),
         "lr_paths")
legend = {label: label if label.startswith("your lr") else f"{label}: lr = {rates[label]:.3g}" for label in rates}
run.save(plots.curves.loss_gap_curves({legend[label]: history for label, history in histories.items()}, best_loss,
                                      theory={legend[label]: value for label, value in theory.items()},
                                      title="Converging: L − L* and the theory (dashed)"),
         "lr_loss_gap")

# %% [markdown]
# ## Captions for course notes
# What `python -m toolkit figures` prints under each figure in the gallery's
# index: a caption for the notes and an alt text for readers who cannot see
# the image.

# %%
run.describe("lr_paths",
             caption=f"{run.steps} steps at five learning rates read off the Hessian (λmax = {high:.3f}, κ = "
                     f"{kappa:.2f}), on the same exact loss, axes and colour scale; the dotted white lines are the "
                     f"valley's axes. At 0.1/λmax the path creeps and is still far from the minimum; at 1/λmax it "
                     f"does not zigzag; 2/(λmin + λmax) is the fastest; just below 2/λmax = {2 / high:.3f} it "
                     f"zigzags across the valley but still converges; above 2/λmax it zigzags ever wider and "
                     f"diverges. Both twins' paths coincide: a cross in every circle.",
             alt=f"Five contour maps, each the same diagonal valley with a white plus sign at the minimum and two "
                 f"dotted white lines through it along the valley's axes. First: short, closely spaced steps from "
                 f"the white square at the lower right that curve into the valley and stop halfway along its "
                 f"floor, far from the minimum. Second: the "
                 f"path runs down into the valley without crossing it, then along the floor to the minimum. "
                 f"Third: a few steps cross the valley and end at the minimum. Fourth: the path bounces from wall "
                 f"to wall in long zigzags that shrink only slowly. Fifth: the zigzags grow until the path leaves "
                 f"the window, marked by an arrow and a black X labelled with the step where it diverged.")
run.describe("lr_loss_gap",
             caption="The loss gap L − L* per step on a log scale for each learning rate, with the theoretical "
                     "rate max (1 − lr·λᵢ)² per step dashed: every converging run becomes a straight line on its "
                     "dashed line, the fastest rate the steepest and the too small one the flattest; the "
                     "diverging run, on an axis of its own, climbs just as straight.",
             alt="Two panels of straight lines on logarithmic vertical axes against the step. The first: four "
                 "falling lines with a dark dashed line along each and vermillion crosses on them, from nearly "
                 "flat (the too small rate) to the steepest (the fastest rate, down to about 1e-10). The second: "
                 "one line rising in a straight line to about 1e12, where a black X marks the step it diverged.")
run.finish()
