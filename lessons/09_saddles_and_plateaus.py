# %% [markdown]
# # 09 · Saddles and plateaus
#
# A common picture of training is a walk down a mountain: we start
# somewhere on a slope and walk towards the place where the loss is lowest.
# Lessons 01 to 03 walked down bowls with a single lowest point. A real
# mountain has passes, where the ground is level but is not the bottom, and
# valleys whose floor is level along their whole length, so that there is no
# single lowest point. Both appear in the smallest deep network there is:
# two weights in a row. Its loss can be drawn exactly, its Hessian written
# by hand, and the time a walker spends on the level ground near the pass
# predicted to a fraction of a step.

# %%
import math

import torch
from torch.func import functional_call, vmap

from toolkit import data, lesson, manual, plots
from toolkit.landscape import hessian, loss_on_plane
from toolkit.parameters import unflatten
from toolkit.twins import Twins, make_twins

run = lesson.start("09_saddles_and_plateaus", steps=100, lr=0.2)

# %% [markdown]
# ## The smallest deep network: two weights in a row
# Two `Linear(1, 1)` layers without a bias, one after the other, compute
#
#     ŷ = w2 · (w1 · x)
#
# With nothing between them, the chain can only draw a line through the
# origin whose slope is the product p = w1 · w2; one weight would do the same.
# But the loss over the two weights is no longer a bowl, and it shows in
# miniature what depth does to a landscape. The data are points around the
# line y = 2x. (`chain_twins` is saved as `toolkit.twins.chain_twins_at` for
# the later lessons that start from this chain.)

# %%
x, y = data.noisy_line(n=40, slope=2.0, intercept=0.0, noise=0.5, x_range=(-1.5, 1.5),
                       seed=run.seed, device=run.device, dtype=run.dtype)


def chain_twins(w1, w2):
    """ŷ = w2·(w1·x): two Linear(1, 1) without a bias, starting from (w1, w2), and its torch.nn twin."""
    net = make_twins([1, 1, 1], bias=False, device=run.device, dtype=run.dtype).manual_net
    with torch.no_grad():
        net[0].weight.fill_(w1)
        net[1].weight.fill_(w2)
    return Twins.of(net, manual.MSELoss())


chain = make_twins([1, 1, 1], bias=False, loss=manual.MSELoss(), seed=run.seed, device=run.device, dtype=run.dtype)
print(chain.manual_net)
w1, w2 = (chain.manual_net[k].weight.item() for k in (0, 1))
print(f"a random start: w1 = {w1:+.4f}, w2 = {w2:+.4f}")

# %% [markdown]
# ## The loss depends on the product only
# Write a = mean(x²), c = mean(x·y) and d = mean(y²), three numbers of the
# data. Expanding the square,
#
#     L(w1, w2) = mean((w1·w2·x − y)²) = a·p² − 2c·p + d,    p = w1·w2.
#
# A parabola in p, lowest at p* = c/a, the least-squares slope of lesson 01,
# where L* = d − c²/a. Every pair (w1, w2) with w1·w2 = p* reaches it.

# %%
a, c, d = (x * x).mean().item(), (x * y).mean().item(), (y * y).mean().item()
best_slope, best_loss = c / a, d - c * c / a


def chain_loss(w1, w2):
    """L(w1, w2) from the three numbers of the data."""
    p = w1 * w2
    return a * p * p - 2 * c * p + d


print(f"a = {a:.4f}, c = {c:.4f}, d = {d:.4f}: best slope p* = c/a = {best_slope:.4f}, "
      f"lowest loss L* = {best_loss:.4f}")
print(f"at the random start: the formula gives {chain_loss(w1, w2):.10f}, "
      f"the network {chain.manual_loss(chain.manual_net(x), y).item():.10f}")

# %% [markdown]
# ## Its gradient, by the chain rule
# The loss reaches each weight through the product: dL/dp = 2a·p − 2c, and
# p = w1·w2 gives
#
#     dL/dw1 = (2a·p − 2c) · w2        dL/dw2 = (2a·p − 2c) · w1
#
# Backpropagation through the two layers computes the same numbers: the
# second layer's weight gradient uses the first layer's output w1·x, and the
# gradient it hands back, dout·w2, gives the first layer's. The three
# witnesses, and our formula:

# %%
by_formula = [(2 * a * w1 * w2 - 2 * c) * w2, (2 * a * w1 * w2 - 2 * c) * w1]
print(f"by the formula: dL/dw1 = {by_formula[0]:+.10f}, dL/dw2 = {by_formula[1]:+.10f}")
run.check(chain, x, y, first_layer=True)

# %% [markdown]
# ## Where the slope is zero: a point and a valley
# Both partial derivatives vanish when 2a·p − 2c = 0, that is on the whole
# curve w1·w2 = p*, a hyperbola; or else when w2 = 0 and w1 = 0 together: at
# the origin. The origin is the network that predicts 0 for every x, with
# loss d, far above L*. So it is no minimum, yet a walker who stands there
# exactly feels no slope at all.
#
# The second derivatives say what kind of place each one is. Differentiating
# the gradient once more,
#
#     H = [[2a·w2²,       4a·p − 2c],
#          [4a·p − 2c,    2a·w1²   ]]
#
# At the origin H = [[0, −2c], [−2c, 0]], with eigenvalues −2c and +2c.
# Along the diagonal w1 = w2 (eigenvector (1, 1)) the loss curves down,
# along w1 = −w2 (eigenvector (1, −1)) it curves up: the origin is a
# **saddle**, a pass between the valley's two branches. We write H as a
# function of the weights and check it against `hessian` from
# `toolkit.landscape` (torch.func, twice differentiated), at the origin and
# at a few random points.

# %%
def chain_hessian_formula(theta):
    """H = [[2a·w2², 4a·p − 2c], [4a·p − 2c, 2a·w1²]] at every row (w1, w2) of theta (T, 2): (T, 2, 2)."""
    # exercise chain_hessian: H by the formula above at every row (w1, w2) of theta, with p = w1·w2
    w1, w2 = theta[:, 0], theta[:, 1]
    cross = 4 * a * w1 * w2 - 2 * c
    return torch.stack([torch.stack([2 * a * w2 * w2, cross], dim=1), torch.stack([cross, 2 * a * w1 * w1], dim=1)],
                       dim=1)
    # end exercise


at_saddle = chain_twins(0.0, 0.0)
H0 = hessian(at_saddle.torch_net, at_saddle.torch_loss, x, y)
points = torch.cat([torch.zeros(1, 2), torch.randn(4, 2, generator=torch.Generator().manual_seed(run.seed))])
points = points.to(run.device, run.dtype)                     # the origin and four random points, drawn on the CPU
exact = torch.stack([hessian(t.torch_net, t.torch_loss, x, y) for t in (chain_twins(*p.tolist()) for p in points)])
formula_gap = (chain_hessian_formula(points) - exact).abs().max().item()
tolerance = 1e-10 if run.dtype == torch.float64 else 1e-3
print(f"Hessian at the origin by torch.func: {[[round(v, 6) + 0.0 for v in row] for row in H0.tolist()]}, "
      f"2c = {2 * c:.6f}")
print(f"the formula against torch.func at the origin and 4 random points: largest difference {formula_gap:.1e} "
      f"({'they agree' if formula_gap < tolerance else 'THEY DISAGREE'})")
if not formula_gap < tolerance:      # everything below builds on it: stop here (exit code 1)
    raise SystemExit("chain_hessian_formula disagrees with torch.func: fix it (exercise chain_hessian) and run this "
                     "file again")
saddle_eigenvalues = torch.linalg.eigvalsh(H0)
print(f"eigenvalues {saddle_eigenvalues[0].item():+.6f} and {saddle_eigenvalues[1].item():+.6f}: "
      f"one of each sign, a saddle")
run.record("saddle", {"hessian": H0.tolist(), "eigenvalues": saddle_eigenvalues.tolist(), "two_c": 2 * c,
                      "loss": d})

# %% [markdown]
# On the hyperbola 4a·p − 2c = 2a·p, and H becomes 2a·v·vᵀ with
# v = (w2, w1): its eigenvalues are 2a·(w1² + w2²) across the valley and
# exactly **0** along it. The floor is level: moving (w1, w2) to
# (t·w1, w2/t) keeps the product and the loss. These minima are not points
# but a whole curve, and no minimum on it is "the" answer. Between the
# saddle and the valley, det H = (2c − 2a·p)(6a·p − 2c) changes sign where
# p = c/(3a): for smaller p one curvature is negative, so the saddle's
# downward curve reaches far around the origin. Beyond the valley, p > p*,
# one is negative again: the loss rises towards both sides of the hyperbola.
# Only between the two curves does the loss curve upwards in every direction.

# %%
on_floor = math.sqrt(best_slope)
floor_twins = chain_twins(2 * on_floor, on_floor / 2)        # (2·√p*, √p*/2): w1·w2 = p*
H_floor = hessian(floor_twins.torch_net, floor_twins.torch_loss, x, y)
floor_eigenvalues = torch.linalg.eigvalsh(H_floor).tolist()
print(f"at (w1, w2) = ({2 * on_floor:.4f}, {on_floor / 2:.4f}) on the valley floor: eigenvalues "
      f"{floor_eigenvalues[0]:.2e} and {floor_eigenvalues[1]:.6f}; formula 0 and "
      f"2a(w1² + w2²) = {2 * a * (4 * best_slope + best_slope / 4):.6f}")

# %% [markdown]
# ## Starting at the saddle, and near it
# Exactly at the origin the gradient is exactly zero, so gradient descent
# never moves: a network whose weights all start at zero is stuck (lesson
# 08 saw the same). Start a little away from it, at a distance ε in the
# direction (0.8, −0.6), and near the origin the gradient is H·θ, so one
# step multiplies θ by (I − lr·H). Along (1, 1) that is the factor
# 1 + 2·lr·c, along (1, −1) the factor 1 − 2·lr·c: the part of θ across the
# pass shrinks, the part along the way down grows, geometrically but from ε.
# Only once it has grown to about 1 does the loss move. Until then the walker
# sits on a **plateau**, for about
#
#     ln(1/ε) / ln(1 + 2·lr·c)   steps,
#
# plus a fixed number for the descent itself. Ten times closer to the
# saddle costs the same number of extra steps each time, ln 10/ln(1 + 2·lr·c).
# We start at ε = 10⁻⁴ and, for contrast, at (1.5, 0), 1.5 from the saddle
# along the w1 axis. There w1·w2 = 0 as at the saddle, so the loss is the
# saddle's too, d; but the ground is not level. We train both twins from each.

# %%
stuck = run.train(chain_twins(0.0, 0.0), x, y, steps=min(run.steps, 5), label="exactly at the saddle",
                  main=False)
print(f"started exactly at the saddle: after {stuck.steps} steps (w1, w2) = {tuple(stuck.path_manual[-1].tolist())}, "
      f"the loss still {stuck.final_loss_manual:.4f} = d")

direction = torch.tensor([0.8, -0.6], dtype=torch.float64)          # the near starts
far_direction = torch.tensor([1.0, 0.0], dtype=torch.float64)       # the far start: on the w1 axis
NEAR_EXPONENT, FAR = 4, 1.5
NEAR = 10.0 ** -NEAR_EXPONENT
near = run.train(chain_twins(*(NEAR * direction).tolist()), x, y, label=f"near the saddle, ε = {NEAR:g}")
far = run.train(chain_twins(*(FAR * far_direction).tolist()), x, y, label=f"far from it, distance {FAR:g}",
                main=False)

# %% [markdown]
# ## How long the plateau lasts
# We call the plateau's length the step at which the loss gap L − L* has
# fallen to half of what it was at the start (counted in fractions of a step,
# reading the crossing off between the two steps around it on a log scale).
# Then we start at distances ε = 10⁻¹, 10⁻², …, 10⁻⁸ from the saddle, all in
# the same direction, and see whether each factor of ten costs
# ln 10/ln(1 + 2·lr·c) more steps.

# %%
def plateau_length(losses):
    """The (fractional) step where L − L* first falls to half its starting value; None if it never does."""
    gaps = torch.tensor(losses, dtype=torch.float64) - best_loss
    target = gaps[0] / 2
    below = (gaps < target).nonzero()
    if len(below) == 0 or not torch.isfinite(gaps).all():
        return None
    k = int(below[0])
    if k == 0:
        return 0.0
    before, after = gaps[k - 1].log(), gaps[k].clamp_min(1e-300).log()
    return k - 1 + ((before - target.log()) / (before - after)).item()


growth = 1 + 2 * run.lr * c                          # the factor per step along (1, 1) near the saddle
steps_per_e = 1 / math.log(growth)                   # predicted plateau steps per unit of ln(1/ε)
exponents = range(1, 9)
distances = [10.0 ** -k for k in exponents]
scan = {}
for k, eps in zip(exponents, distances):
    if k == NEAR_EXPONENT:                           # this start was trained above
        history = near
    else:
        history = run.train(chain_twins(*(eps * direction).tolist()), x, y, label=f"plateau: ε = {eps:g}",
                            main=False)
    scan[eps] = (plateau_length(history.path_losses()[0]), plateau_length(history.path_losses()[1]))
measured = {eps: lengths[0] for eps, lengths in scan.items() if lengths[0] is not None}
print(f"near the saddle each step multiplies the way out by 1 + 2·lr·c = {growth:.4f}: "
      f"predicted {steps_per_e * math.log(10):.3f} more steps per factor of 10")
for eps, length in measured.items():
    print(f"   ε = {eps:.0e}: plateau {length:6.2f} steps")
fit = None
if len(measured) >= 3:
    logs = torch.tensor([math.log(1 / eps) for eps in measured], dtype=torch.float64)
    lengths = torch.tensor(list(measured.values()), dtype=torch.float64)
    design = torch.stack([logs, torch.ones_like(logs)], dim=1)
    slope, offset = torch.linalg.lstsq(design, lengths[:, None]).solution.flatten().tolist()
    fit = {"slope": slope, "offset": offset}
    print(f"measured {slope * math.log(10):.3f} steps per factor of 10 (fitted over {len(measured)} distances), "
          f"predicted {steps_per_e * math.log(10):.3f}: {slope / steps_per_e - 1:+.2%}")
else:
    print(f"too few starts left the plateau within {run.steps} steps to measure its growth; try more --steps")
near_plateau, far_plateau = plateau_length(near.path_losses()[0]), plateau_length(far.path_losses()[0])
run.record("plateau", {
    "direction": direction.tolist(), "growth_per_step": growth,
    "predicted_steps_per_decade": steps_per_e * math.log(10),
    "measured_steps_per_decade": None if fit is None else fit["slope"] * math.log(10),
    "lengths": {f"{eps:g}": scan[eps][0] for eps in distances},
    "near": {"distance": NEAR, "length": near_plateau},
    "far": {"distance": FAR, "start": (FAR * far_direction).tolist(), "length": far_plateau},
})

# %% [markdown]
# The plateaus grow by the predicted number of steps for every factor of
# ten (to about 0.1% with the default seed): the time on the plateau is set by
# the logarithm of how close to the saddle the walker started. A start ten
# thousand times closer waits four increments longer (about 28 steps), not
# ten thousand times as long. Far from the saddle there is no plateau: the
# loss falls from the first step, although it starts exactly as high as at
# the saddle. A plateau is level ground, not high ground.

# %%
near_color, far_color = plots.RUN_COLORS[0], plots.RUN_COLORS[2]
curves = [{"label": f"start {NEAR:g} from the saddle", "color": near_color, "history": near, "distance": NEAR,
           "plateau": near_plateau},
          {"label": f"start {FAR:g} from the saddle", "color": far_color, "history": far, "plateau": far_plateau}]
# The theory's line: its slope is predicted, only its height (the mean of length − slope·ln(1/ε)) is fitted.
line = None if fit is None else {"slope": steps_per_e, "offset": sum(
    length - steps_per_e * math.log(1 / eps) for eps, length in measured.items()) / len(measured)}
run.save(plots.saddles_and_plateaus.plateau_curves(
    curves, {"distances": distances, "manual": [scan[e][0] for e in distances],
             "autograd": [scan[e][1] for e in distances],
             "label": f"theory: slope 1/ln(1 + 2·lr·c),\n{steps_per_e * math.log(10):.2f} steps per factor of 10",
             **(line or {})},
    best_loss=best_loss, saddle_loss=d, title=f"A plateau near the saddle of ŷ = w2·w1·x, lr = {run.lr:g}"),
    "plateau")

# %% [markdown]
# ## The curvature along the way
# The path from near the saddle crosses the pass, the slope and the valley
# floor. At every step we take the Hessian exactly (`torch.func.hessian` of
# the loss as a function of the two weights, for all steps at once with
# `vmap`), check it against `chain_hessian_formula`, and follow each
# eigenvalue along its own eigenvector from step to step. The near path runs
# along the diagonal w1 = w2, where the eigenvectors are exactly (1, 1) and
# (1, −1): at the saddle the way out of the pass and the way across it; on
# the floor, across the valley and along it.

# %%
torch_chain = chain_twins(0.0, 0.0)


def chain_loss_at(theta):
    """L at the weights theta = (w1, w2), through the torch twin (its own weights are not touched)."""
    weights = unflatten(theta, dict(torch_chain.torch_net.named_parameters()))
    return torch_chain.torch_loss(functional_call(torch_chain.torch_net, weights, (x,)), y)


def follow(values, vectors):
    """Eigenvalues (T, 2) and eigenvectors (T, 2, 2) reordered so that column k keeps following one direction."""
    values, vectors = values.clone(), vectors.clone()
    for t in range(1, len(values)):
        overlap = (vectors[t - 1].T @ vectors[t]).abs()          # |cosine| between the old and the new directions
        if overlap[0, 1] + overlap[1, 0] > overlap[0, 0] + overlap[1, 1]:
            values[t], vectors[t] = values[t].flip(0), vectors[t].flip(1)
    return values, vectors


curvature = {}
for label, path in (("manual", near.path_manual), ("autograd", near.path_autograd)):
    exact = vmap(torch.func.hessian(chain_loss_at))(path)          # (T, 2, 2), one Hessian per step
    gap = (exact - chain_hessian_formula(path)).abs().max().item()
    curvature[label], directions = follow(*torch.linalg.eigh(exact))   # column 0 starts as the smaller
    print(f"{label} path: torch.func's Hessian against the formula, largest difference over "
          f"{len(path)} steps: {gap:.1e}")
    if label == "manual":
        diagonals = torch.tensor([[1.0, 1.0], [1.0, -1.0]], dtype=path.dtype, device=path.device).T / math.sqrt(2)
        cosines = (directions * diagonals).sum(dim=1).abs()          # (T, 2): |cos| to (1, 1) and to (1, −1)
        off_diagonal = math.degrees(math.acos(min(cosines.min().item(), 1.0)))
eigenvalues = curvature["manual"]
print(f"the two directions stay within {off_diagonal:.1e}° of (1, 1) and (1, −1) at every step")
negative = (eigenvalues.min(dim=1).values < -1e-9 * 2 * c).nonzero().flatten()   # below 0 by more than rounding
leaves = int(negative[-1]) + 1 if len(negative) else 0             # the first step after the last negative one
print(f"at the start: {eigenvalues[0, 0].item():+.4f} along (1, 1), the way out of the pass, "
      f"{eigenvalues[0, 1].item():+.4f} along (1, −1), across it (±2c = ±{2 * c:.4f})")
if leaves < len(eigenvalues):
    print(f"one curvature is negative up to step {leaves - 1}; from step {leaves} on both are positive")
else:
    print(f"one is still negative after {near.steps} steps: the path has not left the saddle's region yet")
print(f"at the end: {eigenvalues[-1, 0].item():.4f} along (1, 1), now across the valley, and "
      f"{eigenvalues[-1, 1].item():.2e} along (1, −1), now along its floor; on the valley floor they would be "
      f"2a(w1² + w2²) = {2 * a * near.path_manual[-1].pow(2).sum().item():.4f} and 0")
for name, history in (("near", near), ("far", far)):
    start, end = history.path_manual[0], history.path_manual[-1]
    print(f"the {name} run ends at w1·w2 = {end.prod().item():.10f} (p* = {best_slope:.10f}); "
          f"w1² − w2² went from {(start[0] ** 2 - start[1] ** 2).item():.2e} "
          f"to {(end[0] ** 2 - end[1] ** 2).item():.2e}")
run.record("curvature_along_path", {"leaves_saddle_region_at_step": leaves,
                                    "start": eigenvalues[0].tolist(), "end": eigenvalues[-1].tolist()})

# %% [markdown]
# ## The figure: curvature along the path, and the path on the landscape
# Left, both eigenvalues at every step. While the path sits at the saddle
# they are −2c and +2c, as the formula said. As it goes down the diagonal
# the curvature along (1, 1), the way out, rises through zero (where the
# path crosses w1·w2 = c/(3a)) and ends as the curvature across the valley,
# 2a(w1² + w2²); the curvature along (1, −1), across the pass, falls to
# exactly zero: at the end (1, −1) runs along the level floor. Right, the
# exact loss with both paths, the hyperbola of minima and the curve where
# the curvature changes sign.
#
# The far run meets the floor at another point. One step of gradient
# descent multiplies w1² − w2² by 1 − (lr·dL/dp)², a factor near 1 once the
# slope is gentle, so w1² − w2² changes little: it stays almost 0 for the
# near start, which ends where w1 = w2, and goes from 2.25 to 1.81 for the
# far one, which ends farther out towards the w1 axis. Each start finds its
# own minimum on the level floor.

# %%
reach = 1.6 * max(near.path_manual.abs().max().item(), far.path_manual.abs().max().item(), math.sqrt(best_slope))
axis = torch.linspace(-reach, reach, 121, dtype=run.dtype, device=run.device)
eye = torch.eye(2, dtype=run.dtype, device=run.device)
Z_chain = loss_on_plane(torch_chain.torch_net, torch_chain.torch_loss, x, y, center=0 * eye[0], d1=eye[0],
                        d2=eye[1], alphas=axis, betas=axis)


def hyperbola(product):
    """Both branches of w1·w2 = product inside the window, as (K, 2) arrays."""
    w = torch.linspace(product / reach, reach, 200, dtype=torch.float64)
    return [torch.stack([w, product / w], dim=1), torch.stack([-w, -product / w], dim=1)]


landscape = {
    "alphas": axis, "betas": axis, "Z": Z_chain, "saddle": [0.0, 0.0], "xlabel": "w1", "ylabel": "w2",
    "title": "The exact loss over (w1, w2)",
    "runs": [{"label": f"from {NEAR:g} away", "color": near_color, "manual_path": near.path_manual,
              "autograd_path": near.path_autograd, "diverged_at": near.diverged_at_step},
             {"label": f"from {FAR:g} away", "color": far_color, "manual_path": far.path_manual,
              "autograd_path": far.path_autograd, "diverged_at": far.diverged_at_step}],
    "curves": [{"label": f"minima: w1·w2 = c/a = {best_slope:.3f}", "pieces": hyperbola(best_slope)},
               {"label": "w1·w2 = c/(3a): one curvature is negative\nbetween the dashed branches, and again\n"
                         "beyond the solid ones", "pieces": hyperbola(best_slope / 3), "linestyle": (0, (4, 3))}],
}
run.save(plots.saddles_and_plateaus.curvature_along_path(
    curvature["manual"], curvature["autograd"],
    names=("along (1, 1): the way out, then across the valley",
           "along (1, −1): across the pass, then along the floor"),
    levels=[(2 * c, f"+2c = {2 * c:.3f}"), (-2 * c, f"−2c = −{2 * c:.3f}")], landscape=landscape,
    title=f"Leaving the saddle: the Hessian along the path from {NEAR:g} away"),
    "saddle_curvature")

# %% [markdown]
# ## What the chain shows
# A point where the gradient is zero need not be a minimum: at the saddle
# one curvature is negative, and a walker placed there exactly never moves.
# Near it, the walker waits on a plateau whose length grows with ln(1/ε),
# not with the distance it then has to go. And the minima need not be
# points: the valley floor is a level curve, and where a walker stops on it
# depends on where it started. Both come from depth alone: one weight would
# give a parabola with one minimum and no saddle.
#
# In networks with many parameters most critical points with a high loss
# turn out to be saddles rather than minima (Dauphin et al., 2014), and the
# plateaus they cause are what training feels. Lesson 10 turns to the other
# kind of landscape: several valleys of different depths side by side.
#
# ## Captions for course notes
# Printed under each figure in the gallery's index, with an alt text.

# %%
waited = f"{near_plateau:.0f}" if near_plateau is not None else f"all {run.steps}"     # the near run's plateau
run.describe(
    "plateau",
    caption=(f"Left: the loss per step of the two-weight network started {NEAR:g} from the saddle at the origin "
             f"and at ({FAR:g}, 0), both twins (a vermillion cross in every circle). Both start at the saddle's "
             f"loss; near the saddle the loss stays there for {waited} steps, on the slope it drops at once. "
             f"Right: the plateau's length (steps until the loss gap is halved) against the starting distance, "
             f"measured on each twin's losses (ringed: the near run). The points lie on a line whose "
             f"slope is the predicted 1/ln(1 + 2·lr·c), {steps_per_e * math.log(10):.2f} steps per factor of ten; "
             f"only its height is fitted."),
    alt=("Two panels. Left, loss against step: two curves start at the saddle's loss; the sky-blue one stays "
         "flat for about 35 steps and then falls steeply to the lowest loss, the purple one falls within three "
         "steps. Right, plateau length against starting distance on a log axis from 1e-8 to 0.1: white circles "
         "with vermillion crosses on a dashed straight line rising from 13 to 63 steps as the distance shrinks."))
run.describe(
    "saddle_curvature",
    caption=("Left: the Hessian's two eigenvalues at every step of the path that starts near the saddle, each "
             "followed along its own eigenvector (lines from the hand-written twin's path, vermillion crosses from "
             "autograd's: they coincide). At the saddle they are −2c along (1, 1), the way out, and +2c along "
             "(1, −1), across the pass (shaded: a negative curvature). At the end the first, now across the "
             "valley, is 2a(w1² + w2²), the second, now along its floor, exactly 0. Right: the exact loss over "
             "(w1, w2) with both runs' paths, the hyperbola of minima (solid) and the curve w1·w2 = c/(3a) "
             "(dashed); one curvature is negative between its branches and beyond the solid hyperbola. The two "
             "runs end at different points of the level floor."),
    alt=(f"Two panels. Left, two eigenvalues against step: flat at minus and plus {2 * c:.1f} for about thirty "
         f"steps over a grey band, then the green one rises through zero to {eigenvalues[-1, 0].item():.1f} while "
         f"the black one falls to zero. Right, a contour map over two weights, dark in two curved valleys, a "
         f"hollow diamond at the origin, two white hyperbolas, and two paths from white squares to yellow stars "
         f"at two different points of the solid hyperbola."))
run.finish()
