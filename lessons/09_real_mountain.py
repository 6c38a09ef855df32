# %% [markdown]
# # 09 · A real mountain: minima, saddles and where you start
#
# The source text pictures training as a walk down a mountain: we start
# somewhere on a slope and walk towards the place where the loss is lowest.
# Lessons 01 to 03 walked down bowls with a single lowest point, which every
# start reaches. A real mountain is less kind. It has passes, where the
# ground is level but is not the bottom; valleys whose floor is level along
# their whole length, so that there is no single lowest point; and several
# valleys side by side, of different depths, so that which one you reach
# depends on where you started. We meet all three in two networks small
# enough to draw exactly: two weights in a row, and a sine wave with a
# frequency and a phase.

# %%
import math

import torch
from torch.func import functional_call, vmap

from toolkit import data, lesson, manual, plots
from toolkit.landscape import loss_on_plane
from toolkit.parameters import unflatten
from toolkit.twins import TORCH_TWIN, Twins, make_twins

run = lesson.start("09_real_mountain", steps=100, lr=0.2)

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
# line y = 2x.

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
# **saddle**, a pass between the valley's two branches. `hessian` from
# `toolkit.landscape` (torch.func, twice differentiated) must agree.

# %%
from toolkit.landscape import hessian

at_saddle = chain_twins(0.0, 0.0)
H0 = hessian(at_saddle.torch_net, at_saddle.torch_loss, x, y)
H0_formula = torch.tensor([[0.0, -2 * c], [-2 * c, 0.0]], dtype=run.dtype, device=run.device)
saddle_eigenvalues = torch.linalg.eigvalsh(H0)
print(f"Hessian at the origin by torch.func: {[[round(v, 6) + 0.0 for v in row] for row in H0.tolist()]}")
print(f"by the formula: [[0, -2c], [-2c, 0]], 2c = {2 * c:.6f}; largest difference "
      f"{(H0 - H0_formula).abs().max().item():.1e}")
print(f"eigenvalues {saddle_eigenvalues[0].item():+.6f} and {saddle_eigenvalues[1].item():+.6f}: "
      f"one of each sign, a saddle")
run.record("saddle", {"hessian": H0.tolist(), "eigenvalues": saddle_eigenvalues.tolist(), "two_c": 2 * c,
                      "loss": d})

# %% [markdown]
# On the hyperbola 4a·p − 2c = 2a·p, and H becomes 2a·v·vᵀ with
# v = (w2, w1): its eigenvalues are 2a·(w1² + w2²) across the valley and
# exactly **0** along it. The floor is level: moving (w1, w2) to
# (t·w1, w2/t) keeps the product and the loss. These minima are not points
# but a whole curve, and no minimum on it is "the" answer. (Between the
# saddle and the valley, where det H = (2c − 2a·p)(6a·p − 2c) changes sign, the smaller
# curvature crosses zero: it is negative wherever p < c/(3a), so the saddle's
# downward curve reaches far around the origin; and it is negative again
# beyond the valley, p > p*, where the loss rises towards the two sides of
# the hyperbola. Only between the two curves does the loss curve upwards in
# every direction.)

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
run.record("plateau", {
    "direction": direction.tolist(), "growth_per_step": growth,
    "predicted_steps_per_decade": steps_per_e * math.log(10),
    "measured_steps_per_decade": None if fit is None else fit["slope"] * math.log(10),
    "lengths": {f"{eps:g}": scan[eps][0] for eps in distances},
    "near": {"distance": NEAR, "length": plateau_length(near.path_losses()[0])},
    "far": {"distance": FAR, "start": (FAR * far_direction).tolist(), "length": plateau_length(far.path_losses()[0])},
})

# %% [markdown]
# The measured plateaus grow by the predicted number of steps for every
# factor of ten (to a fraction of a percent with the default seed): the
# walker's time on the plateau is set by the logarithm of how close to the
# saddle it started, not by how far it then has to go. A start ten thousand
# times closer than another waits four of those increments longer (about
# 28 steps here), not ten thousand times as long. Far from the saddle there
# is no plateau at all: the loss falls from the first step, although it
# starts exactly as high as at the saddle. A plateau is level ground, not
# high ground.

# %%
near_color, far_color = plots.RUN_COLORS[0], plots.RUN_COLORS[2]
curves = [{"label": f"start {NEAR:g} from the saddle", "color": near_color, "history": near, "distance": NEAR,
           "plateau": plateau_length(near.path_losses()[0])},
          {"label": f"start {FAR:g} from the saddle", "color": far_color, "history": far,
           "plateau": plateau_length(far.path_losses()[0])}]
# The theory's line: its slope is predicted, only its height (the mean of length − slope·ln(1/ε)) is fitted.
line = None if fit is None else {"slope": steps_per_e, "offset": sum(
    length - steps_per_e * math.log(1 / eps) for eps, length in measured.items()) / len(measured)}
run.save(plots.real_mountain.plateau_curves(
    curves, {"distances": distances, "manual": [scan[e][0] for e in distances],
             "autograd": [scan[e][1] for e in distances],
             "label": (f"theory: ln(1/ε)/ln(1 + 2·lr·c) + const,\n"
                       f"{steps_per_e * math.log(10):.2f} steps per factor of 10"),
             **(line or {})},
    best_loss=best_loss, saddle_loss=d, title=f"A plateau near the saddle of ŷ = w2·w1·x, lr = {run.lr:g}"),
    "plateau",
    caption=(f"Left: the loss per step of the two-weight network started {NEAR:g} from the saddle at the origin "
             f"and at ({FAR:g}, 0) on the w1 axis (both twins; the line is the hand-written one, the crosses "
             "autograd's, and they coincide). Both start at the saddle's loss. Near the saddle the loss stays "
             "there for dozens of steps, then drops; on the slope it drops at once. Right: the plateau's length "
             "(steps until the loss gap is halved) against the starting distance on a log scale, measured on "
             "each twin's losses (a cross in every circle); the ringed point is the near run on the left. They "
             "lie on a straight line whose slope is the predicted 1/ln(1 + 2·lr·c); only its height is fitted."),
    alt=("Two panels. Left, a line chart of training loss against step: two curves start at the saddle's loss; "
         "one stays flat there and then falls steeply to the lowest loss, the other falls from the first step. "
         "Right, a scatter of plateau length against starting distance on a logarithmic axis, black circles with "
         "crosses on a dashed straight line that rises as the distance shrinks; one point is ringed in the near "
         "run's light blue."))

# %% [markdown]
# ## The curvature along the way
# The path from near the saddle passes through every kind of ground: the
# pass, the slope down, the valley floor. At each recorded step we take the
# Hessian exactly, with `torch.func.hessian` of the loss as a function of
# the two weights (`functional_call` runs the torch twin with the weights of
# that step), for all steps at once with `vmap`, and check it against the
# formula for H above. Its two eigenvalues say how the ground curves there.
# We follow each one along its own direction, its eigenvector, from step to
# step, rather than sorting them by size. The near path runs along the
# diagonal w1 = w2, where H's eigenvectors are exactly (1, 1) and (1, −1),
# so one curve is the curvature in the direction (1, 1) and the other the
# curvature in the direction (1, −1), all the way. At the saddle (1, 1) is
# the way out of the pass and (1, −1) the way across it; at the end, on the
# floor, (1, 1) points across the valley and (1, −1) along it.

# %%
torch_chain = chain_twins(0.0, 0.0)


def chain_loss_at(theta):
    """L at the weights theta = (w1, w2), through the torch twin (its own weights are not touched)."""
    weights = unflatten(theta, dict(torch_chain.torch_net.named_parameters()))
    return torch_chain.torch_loss(functional_call(torch_chain.torch_net, weights, (x,)), y)


def chain_hessian_formula(theta):
    """H = [[2a·w2², 4a·p − 2c], [4a·p − 2c, 2a·w1²]] at every row theta = (w1, w2) of a (T, 2) path."""
    w1, w2 = theta[:, 0], theta[:, 1]
    cross = 4 * a * w1 * w2 - 2 * c
    return torch.stack([torch.stack([2 * a * w2 * w2, cross], dim=1), torch.stack([cross, 2 * a * w1 * w1], dim=1)],
                       dim=1)


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
ends = torch.stack([near.path_manual[-1], far.path_manual[-1]])
print(f"where the two runs end: w1·w2 = {ends.prod(dim=1).tolist()}; the valley floor is p* = {best_slope:.10f}")
for name, history in (("near", near), ("far", far)):
    start, end = history.path_manual[0], history.path_manual[-1]
    print(f"the {name} run: from ({start[0].item():+.4f}, {start[1].item():+.4f}) to ({end[0].item():+.4f}, "
          f"{end[1].item():+.4f}); w1² − w2² from {(start[0] ** 2 - start[1] ** 2).item():.2e} "
          f"to {(end[0] ** 2 - end[1] ** 2).item():.2e}")
run.record("curvature_along_path", {"leaves_saddle_region_at_step": leaves,
                                    "start": eigenvalues[0].tolist(), "end": eigenvalues[-1].tolist()})

# %% [markdown]
# ## The figure: curvature along the path, and the path on the landscape
# Left, both eigenvalues at every step. For the first thirty-odd steps the
# path sits at the saddle and they are −2c and +2c, as the formula said;
# the shaded steps are those with one negative curvature. As the path goes
# down the diagonal the curvature along (1, 1), the way out, rises through
# zero (where the path crosses w1·w2 = c/(3a)) and ends as the curvature
# across the valley, its steep side, 2a(w1² + w2²); the curvature along
# (1, −1), across the pass, falls to exactly zero: at the end (1, −1) runs
# along the level floor. (On the diagonal the two are 6a·p − 2c and
# 2c − 2a·p, and they cross where both equal c.) Right, the exact loss over
# (w1, w2) with both paths, the hyperbola of minima and the curve where the
# curvature changes sign. The near path first slides in along (1, −1),
# across the pass, and then leaves along (1, 1). The far one descends
# without a plateau and meets the floor at another point. Which point? One
# step of gradient descent multiplies w1² − w2² by 1 − (lr·dL/dp)², a factor
# near 1 once the slope is gentle, so w1² − w2² changes little: it is almost
# 0 for the near start, which ends where w1 = w2, and 2.25 for the far one,
# which ends, with w1² − w2² shrunk somewhat, farther out along the floor
# towards the w1 axis. Each start finds its own minimum on the level floor.

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
run.save(plots.real_mountain.curvature_along_path(
    curvature["manual"], curvature["autograd"],
    names=("along (1, 1): the way out, then across the valley",
           "along (1, −1): across the pass, then along the floor"),
    levels=[(2 * c, f"+2c = {2 * c:.3f}"), (-2 * c, f"−2c = −{2 * c:.3f}")], landscape=landscape,
    title=f"Leaving the saddle: the Hessian along the path from {NEAR:g} away"),
    "saddle_curvature",
    caption=("Left: the Hessian's two eigenvalues at every step of the path that starts near the saddle, "
             "computed exactly from the recorded weights and each followed along its own eigenvector (lines "
             "from the hand-written twin's path, crosses from autograd's; they coincide). While the path waits "
             "at the saddle they are −2c along (1, 1), the way out, and +2c along (1, −1), across the pass; "
             "shaded: the steps with a negative curvature. At the end the curvature along (1, 1), now across the "
             "valley, is 2a(w1² + w2²), and the one along (1, −1), now along the valley floor, is exactly 0. "
             "Right: the exact loss over (w1, w2) at equal aspect, both runs' paths, the hyperbola of minima "
             "(solid) and the curve w1·w2 = c/(3a) (dashed): one curvature is negative between its two branches, "
             "and again beyond the solid hyperbola. The two runs end at different points of the level floor."),
    alt=("Two panels. Left, a line chart of two eigenvalues against step: flat at minus and plus 1.9 for about "
         "thirty steps over a grey band, then the lower one rises through zero and ends near 3.8 while the other "
         "falls to zero. Right, a contour map of the loss over two weights with a diamond at the origin, two "
         "white hyperbolas, and two descent paths that end at two different points of the solid hyperbola in "
         "the upper right."))

# %% [markdown]
# ## Several valleys: fitting a sine wave
# The second network has two parameters too, but bends its input: a
# `Linear(1, 1)` followed by a sine,
#
#     ŷ = sin(a·x + b),
#
# with the frequency a (the layer's weight) and the phase b (its bias). The
# data come from a frequency of 2 and a phase of 0.5, with a little noise.
# `toolkit.manual` has no sine layer, so we write one here: forward keeps its
# input, and backward multiplies the gradient that arrives by the sine's
# slope, cos(x). Its torch twin is a one-line `torch.nn.Module`, and one line
# in `TORCH_TWIN` tells `twin_of` to use it.

# %%
class Sin(manual.Module):
    """out = sin(x), element-wise. Any shape."""

    def __init__(self) -> None:
        super().__init__()
        self._x: torch.Tensor | None = None

    def __repr__(self) -> str:
        return "Sin()"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._x = x
        return torch.sin(x)

    def backward(self, dout: torch.Tensor, input_grad: bool = True) -> torch.Tensor | None:
        """dx = dout * cos(x)

        The slope of sin at x is cos(x), taken at the INPUT that forward
        kept. Shapes: dout and dx like x.
        """
        # exercise sin_backward: return dL/dx, the gradient dout that arrives times the slope of sin at the input x
        x = self._saved(self._x)
        if not input_grad:
            return None
        return dout * torch.cos(x)
        # end exercise


class TorchSin(torch.nn.Module):
    """The torch.nn twin: the same sine, differentiated by autograd."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sin(x)


TORCH_TWIN[Sin] = lambda layer: TorchSin()

FREQUENCY, PHASE = 2.0, 0.5
generator = torch.Generator().manual_seed(run.seed)          # on the CPU: the same data on every device
wave_x = -2.5 + 5 * torch.rand(60, 1, generator=generator, dtype=torch.float64)
wave_y = torch.sin(FREQUENCY * wave_x + PHASE) + 0.1 * torch.randn(60, 1, generator=generator, dtype=torch.float64)
wave_x, wave_y = wave_x.to(run.device, run.dtype), wave_y.to(run.device, run.dtype)


def wave_twins(frequency, phase):
    """ŷ = sin(a·x + b) as Linear(1, 1) then Sin, starting from (a, b) = (frequency, phase), and its twin."""
    layer = make_twins([1, 1], device=run.device, dtype=run.dtype).manual_net[0]
    with torch.no_grad():
        layer.weight.fill_(frequency)
        layer.bias.fill_(phase)
    return Twins.of(manual.Sequential(layer, Sin()), manual.MSELoss())


wave = wave_twins(1.0, 0.0)
print(wave.manual_net)
print(wave.torch_net)
run.check(wave, wave_x, wave_y, first_layer=True)

# %% [markdown]
# ## The exact landscape, and a grid of starts
# With two parameters we can draw the true loss over (a, b). The phase is an
# angle: b and b + 2π give the same network, so one full turn of b shows
# everything, and a path that leaves through the top of the picture comes
# back in at the bottom. We start gradient descent from a grid of 12 × 12
# points and follow every one of them. Running 144 networks one at a time
# would be slow; `torch.func` runs them all at once instead. `grad` turns
# the loss of one parameter vector into its gradient, `vmap` does that for a
# whole batch of vectors, and the update is our SGD's, θ ← θ − lr·g.

# %%
WAVE_LR, WAVE_STEPS = 0.3, 200
PHASES = (-2.8, -2.8 + 2 * math.pi)                          # one full turn of b, placed so no minimum sits on its edge


def wave_loss_at(theta):
    """L at theta = (a, b), through the torch twin (its own parameters are not touched)."""
    params = unflatten(theta, dict(wave.torch_net.named_parameters()))
    return wave.torch_loss(functional_call(wave.torch_net, params, (wave_x,)), wave_y)


def descend(starts, steps, lr):
    """Plain gradient descent from every row of starts (S, 2) at once: the path, (steps + 1, S, 2)."""
    gradient = vmap(torch.func.grad(wave_loss_at))
    points = [starts]
    for _ in range(steps):
        points.append(points[-1] - lr * gradient(points[-1]))
    return torch.stack(points)


frequencies = torch.linspace(0.25, 4.5, 12, dtype=run.dtype, device=run.device)
phases = PHASES[0] + (torch.arange(12, dtype=run.dtype, device=run.device) + 0.5) * (2 * math.pi / 12)
grid_b, grid_a = torch.meshgrid(phases, frequencies, indexing="ij")
starts = torch.stack([grid_a.reshape(-1), grid_b.reshape(-1)], dim=1)         # (144, 2), row by row
paths = descend(starts, WAVE_STEPS, WAVE_LR)
print(f"{len(starts)} starts, {WAVE_STEPS} steps each, lr = {WAVE_LR}")

# %% [markdown]
# ## Where the walkers end: finding the minima
# Each walker ends near some minimum. We put the phases back into our turn
# of b, group end points that lie within 0.05 of each other, and then find
# each group's minimum exactly with a few Newton steps, θ ← θ − H⁻¹g, which
# near a minimum double the number of correct digits at every step. A point
# is a true local minimum when its gradient is zero and its Hessian has two
# positive eigenvalues, so that the loss curves upwards in every direction.


# %%
def wrapped(points):
    """Phases put back into PHASES: b and b + 2π are the same network."""
    b = PHASES[0] + torch.remainder(points[..., 1] - PHASES[0], 2 * math.pi)
    return torch.stack([points[..., 0], b], dim=-1)


def apart(p, q):
    """The distance between (a, b) points, going round the shorter way in b."""
    db = torch.remainder(p[..., 1] - q[..., 1] + math.pi, 2 * math.pi) - math.pi
    return torch.sqrt((p[..., 0] - q[..., 0]) ** 2 + db ** 2)


ends = wrapped(paths[-1])
groups = []
for end in ends:
    if not any(apart(end, first) < 0.05 for first in groups):
        groups.append(end)
newton = torch.stack(groups)                                  # every group's first end point, (M, 2)
for _ in range(10):
    newton = newton - torch.linalg.solve(vmap(torch.func.hessian(wave_loss_at))(newton),
                                         vmap(torch.func.grad(wave_loss_at))(newton))
minima = []
for point in wrapped(newton):                                  # two groups may have found the same minimum
    if not any(apart(point, other) < 1e-6 for other in minima):
        minima.append(point)
minima = sorted(minima, key=lambda m: wave_loss_at(m).item())
basin = torch.stack([apart(ends, m) for m in minima]).argmin(dim=0)             # (144,): which minimum
names = [chr(ord("A") + k) for k in range(len(minima))]
basins = []
for k, (name, m) in enumerate(zip(names, minima)):
    slope = torch.func.grad(wave_loss_at)(m).norm().item()
    curvatures = torch.linalg.eigvalsh(torch.func.hessian(wave_loss_at)(m))
    reached = int((basin == k).sum())
    farthest = apart(ends[basin == k], m).max().item()
    basins.append({"name": name, "frequency": m[0].item(), "phase": m[1].item(), "loss": wave_loss_at(m).item(),
                   "gradient_norm": slope, "eigenvalues": curvatures.tolist(), "starts": reached})
    flat = 1e-10 if run.dtype == torch.float64 else 1e-4              # zero, to the dtype's rounding
    verdict = "a local minimum" if slope < flat and curvatures[0] > 0 else "NOT A MINIMUM"
    print(f"{name}: (a, b) = ({m[0].item():+.4f}, {m[1].item():+.4f}), loss {wave_loss_at(m).item():.4f}, "
          f"|gradient| {slope:.0e}, curvatures {curvatures[0].item():.3f} and {curvatures[1].item():.3f}: "
          f"{verdict}; {reached} starts end here (the farthest {farthest:.0e} away)")
zero_loss = (wave_y * wave_y).mean().item()
print(f"for comparison: predicting 0 for every x scores mean(y²) = {zero_loss:.4f}")
run.record("basins", basins)
run.record("loss_of_predicting_zero", zero_loss)

# %% [markdown]
# B and C are one network twice: sin(−a·x + π − b) = sin(a·x + b), so every
# minimum (a, b) has a mirror image (−a, π − b) with the same loss. (The
# two-weight chain had the same kind of twin: (w1, w2) and (−w1, −w2) give
# the same product.) Such copies come from symmetries of the network, not
# from the data. The mirrors of A, D, E and F lie at negative frequencies,
# far from our grid of starts (a from 0.25 to 4.5), and no walker goes
# there; B and C, with frequencies near 0, lie close enough to the grid
# that walkers reach both.

# %%
def mirror_image(point):
    """(−a, π − b), the same network as (a, b), with its phase put back into our turn."""
    return wrapped(torch.stack([-point[0], math.pi - point[1]]))


def mirror_of(k):
    """The name of the minimum that is minimum k's mirror image, if one was found."""
    image = mirror_image(minima[k])
    return next((names[j] for j in range(len(minima)) if j != k and apart(image, minima[j]) < 1e-6), None)


lowest, highest = frequencies[0].item(), frequencies[-1].item()
for k, name in enumerate(names):
    image, mirror = mirror_image(minima[k]), mirror_of(k)
    if mirror is not None:
        found = f"that is minimum {mirror}"
    elif not lowest <= image[0].item() <= highest:
        found = f"outside the grid of starts (a from {lowest:g} to {highest:g}), and no walker went there"
    else:
        found = "not among the minima found"
    print(f"{name}'s mirror image (−a, π − b) = ({image[0].item():+.4f}, {image[1].item():+.4f}): {found}")

# %% [markdown]
# ## Two neighbours, two different valleys
# Where two basins meet, starts a grid step apart end in different minima.
# We pick the first such pair in the grid where one of the two reaches the
# best minimum A, and train both twins from each start with `run.train`,
# which must walk exactly the path that `vmap` computed.

# %%
rows, cols = len(phases), len(frequencies)


def splits(here, there):
    """True when exactly one of the two starts ends in the best minimum A."""
    return bool((basin[here] == 0) != (basin[there] == 0))


pair = None
for i in range(rows):
    for j in range(cols):
        here = i * cols + j
        if pair is None and j + 1 < cols and splits(here, here + 1):        # the next frequency, same phase
            pair = (here, here + 1)
        if pair is None and i + 1 < rows and splits(here, here + cols):     # the next phase, same frequency
            pair = (here, here + cols)
neighbours = []
if pair is None:
    print("no two neighbouring starts of this grid part at the edge of A's basin")
for index in pair or ():
    a0, b0 = starts[index].tolist()
    history = run.train(wave_twins(a0, b0), wave_x, wave_y, lr=WAVE_LR, steps=WAVE_STEPS,
                        label=f"sine from ({a0:.2f}, {b0:.2f})", main=False)
    offset = max((history.path_manual - paths[:, index]).abs().max().item(),
                 (history.path_autograd - paths[:, index]).abs().max().item())
    reached = names[int(basin[index])]
    neighbours.append({"history": history, "start": (a0, b0), "minimum": reached})
    print(f"from (a, b) = ({a0:.3f}, {b0:.3f}): both twins end at minimum {reached}, loss "
          f"{history.final_loss_manual:.4f}; largest difference from the vmap path {offset:.1e}")
run.record("neighbours", [{"start": list(n["start"]), "minimum": n["minimum"]} for n in neighbours])

# %% [markdown]
# ## The figure: where each start ends
# Every path from the grid, on the exact loss over (a, b), in the colour of
# the minimum it reaches; every start is a dot of that colour, so the dots
# map out the basins, the regions that drain into each minimum. The two
# neighbours trained as twins are drawn in the house style on top.

# %%
low = min(-0.5, min(m[0].item() for m in minima) - 0.4)           # every start and every minimum inside
high = max(5.0, max(m[0].item() for m in minima) + 0.4)
wave_axes = (torch.linspace(low, high, 111, dtype=run.dtype, device=run.device),
             torch.linspace(PHASES[0], PHASES[1], 127, dtype=run.dtype, device=run.device))
eye = torch.eye(2, dtype=run.dtype, device=run.device)
Z_wave = loss_on_plane(wave.torch_net, wave.torch_loss, wave_x, wave_y, center=0 * eye[0], d1=eye[0], d2=eye[1],
                       alphas=wave_axes[0], betas=wave_axes[1])

legend_entries = []
for k, entry in enumerate(basins):
    mirror = mirror_of(k)
    label = f"{entry['name']}: loss {entry['loss']:.3g}, {entry['starts']} starts"
    if mirror is not None and mirror < entry["name"]:
        label += f"\n(mirror image of {mirror})"
    legend_entries.append({"point": minima[k], "label": label})
best_share = basins[0]["starts"] / len(starts)
run.save(plots.real_mountain.basin_paths(
    *wave_axes, Z_wave, paths, basin, legend_entries, period=2 * math.pi,
    highlighted=[{"manual_path": n["history"].path_manual, "autograd_path": n["history"].path_autograd}
                 for n in neighbours],
    xlabel="frequency a", ylabel="phase b (one full turn)",
    title=(f"ŷ = sin(a·x + b): {len(starts)} starts, {len(minima)} minima\n"
           f"(lr = {WAVE_LR:g}, {WAVE_STEPS} steps each)")),
    "basins",
    caption=(f"Gradient descent from a 12 × 12 grid of starts on the exact loss of ŷ = sin(a·x + b), each path "
             f"and its start coloured by the minimum it ends in; the phase b is an angle, so a path leaving at "
             f"the top comes back at the bottom. Only {best_share:.0%} of the starts find the best fit A; the "
             f"others settle in worse minima, several of them worse than predicting 0. Two neighbouring starts "
             f"trained as twins (the house style: a cross in every circle, the twins coincide) end in different "
             f"minima."),
    alt=("A grey contour map of the loss over frequency and phase, crossed by many thin coloured descent paths. "
         "The paths of each colour converge on one large marker of that colour; most of them, in orange, run to "
         "the deepest minimum near frequency 2. A small dot at the start of every path, in its colour, forms a "
         "grid whose colours show which region drains into which minimum."))

# %% [markdown]
# ## What the walkers found
# From our grid, A, the good fit, is reached by about half of the starts.
# The rest end in other valleys, and every one of them is a true local
# minimum: gradient zero, both curvatures positive, so that small steps of
# gradient descent cannot leave it. B and C are waves that hardly bend:
# with a frequency near 0 the wave is an almost flat line near 0, and their
# loss is that of predicting 0 for every x. (The loss around them, though,
# curves more steeply than around any other minimum.) D, E and F are waves of the wrong frequency
# that match the data over part of the range only; with the default seed
# they are worse than predicting 0.
# The basin boundaries run between the minima along ridges and through
# saddles, and two starts a grid step apart can drain into different
# valleys. The source text's walker "starts somewhere on one of the
# slopes"; here, where it starts decides which bottom it finds. In networks
# with many more parameters the picture changes: there, most critical
# points with a high loss turn out to be saddles rather than minima
# (Dauphin et al., 2014), and the plateaus they cause are what training
# feels, as in the first half of this lesson.

# %%
run.finish()
