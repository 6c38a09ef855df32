# %% [markdown]
# # 15 · Looking at the landscape honestly
#
# The course began with a picture: training walks down a mountain
# landscape towards its lowest point. For one or two weights (lessons 01
# to 03) that picture is exact. Lesson 05's network has 354 weights, and
# every picture of its landscape is a 2-D slice of the 354-dimensional
# weight space. A slice tells the truth about the slice and nothing about
# the rest. This lesson looks at one training run through three such
# windows, and asks of each what it shows and what it hides:
#
# * a **line**: the loss on the straight segment from the start of training
#   to its end. Exact at every point, but the path did not walk along it.
# * a **plane**: the PCA plane of the path (lesson 05's) and a random
#   plane scaled filter by filter (Li et al., 2018). Exact on the plane;
#   the path is only projected onto it.
# * a **number**: the curvature along the way, the largest eigenvalue of the
#   Hessian (the *sharpness*), computed at every step from the hand-written
#   gradient alone and set against lesson 03's limit 2/lr.

# %%
import torch

from toolkit import data, lesson, manual, plots
from toolkit.landscape import (
    drawable_part,
    filter_normalized_plane,
    grid_around,
    hessian,
    hessian_vector_product,
    hvp_finite_difference,
    largest_eigenvalue,
    loss_along_path,
    loss_on_plane,
    manual_gradient,
    pca_plane,
    project,
)
from toolkit.twins import make_twins

run = lesson.start("15_honest_landscapes", steps=100, lr=2.0)

# %% [markdown]
# ## The data, the network, and a learning rate past the limit
# Lesson 05's moons and its 2 → 16 → 16 → 2 tanh network, from the same
# seed. It is small enough that its whole Hessian, 354 × 354 numbers, costs
# a fraction of a second, so every curvature number below can be checked
# against the exact eigenvalues.
#
# This time we train at lr = 2, four times lesson 05's rate. At the start
# the sharpness is λmax ≈ 1.43, so 2/lr = 1 lies below it: by lesson 03's
# rule (gradient descent is stable when lr·λmax < 2) this run should blow
# up. Watch what happens instead.

# %%
points, labels = data.two_moons(n=400, noise=0.15, seed=run.seed, device=run.device, dtype=run.dtype)
order = torch.randperm(400, generator=torch.Generator().manual_seed(run.seed)).to(run.device)   # CPU: same split everywhere
x, y = points[order[:200]], labels[order[:200]]          # lesson 05's training half; the other half is not used here
twins = make_twins([2, 16, 16, 2], activation="tanh", loss=manual.CrossEntropyLoss(), seed=run.seed,
                   device=run.device, dtype=run.dtype)
run.check(twins, x, y)
history = run.train(twins, x, y)
shown = drawable_part(history)                 # all of the path (of a diverged run: the part before it blew up)
path = history.path_manual[:shown]             # (steps + 1, 354): θ0, θ1, ..., θT
losses = history.path_losses()[0][:shown]      # the loss at each of them
theta_0, theta_T = path[0], path[-1]

# %% [markdown]
# ## A line from the start to the end
# Goodfellow, Vinyals and Saxe (2015) proposed the simplest slice that
# needs no projection: the straight line through the start θ0 and the end
# θT,
#
#     θ(α) = (1 − α)·θ0 + α·θT,
#
# from a quarter before the start (α = 0) to a quarter past the end
# (α = 1). Every point of the line is a network we can evaluate exactly,
# and we do it with both twins: the hand-written forward pass (each θ(α)
# swapped into the `toolkit.manual` network) and `torch.nn`'s (through
# `functional_call`). `torch.lerp` gives exactly θ0 at α = 0 and θT at
# α = 1, so the ends must reproduce the recorded first and last losses.

# %%
alphas = torch.arange(-10, 51, dtype=run.dtype, device=run.device) / 40      # -0.25, -0.225, ..., 1.25: 0 and 1 exactly
line = torch.lerp(theta_0, theta_T, alphas.unsqueeze(1))                       # (61, 354): θ(α), row by row
line_by_hand = loss_along_path(twins.manual_net, twins.manual_loss, x, y, line)
line_by_autograd = loss_along_path(twins.torch_net, twins.torch_loss, x, y, line)
twin_gap = (line_by_hand - line_by_autograd).abs().max().item()
at_start, at_end = line_by_hand[alphas == 0].item(), line_by_hand[alphas == 1].item()
ends_gap = max(abs(at_start - losses[0]), abs(at_end - losses[-1]))
print(f"along the line the twins differ by at most {twin_gap:.1e}; at α = 0 and 1 the line's losses "
      f"{at_start:.4f} and {at_end:.4f} are the recorded first and last (off by {ends_gap:.1e})")
lowest = int(line_by_hand.argmin())
print(f"lowest loss on the line: {line_by_hand[lowest]:.4f} at α = {alphas[lowest]:.3f}")

# %% [markdown]
# Where does the path itself lie? Each step θt projects onto the line at
# αt = (θt − θ0)·(θT − θ0) / ‖θT − θ0‖², and lies ‖θt − θ(αt)‖ away from it.

# %%
direction = theta_T - theta_0
if direction.any():
    path_alphas = (path - theta_0) @ direction / (direction @ direction)      # (steps + 1,)
else:                                                                         # a run that blew up at its first step
    path_alphas = torch.zeros(len(path), dtype=run.dtype, device=run.device)
off_line = (path - torch.lerp(theta_0, theta_T, path_alphas.unsqueeze(1))).norm(dim=1)
print(f"the line is {direction.norm():.2f} long; the path strays up to {off_line.max():.2f} from it")
worst = int(torch.as_tensor(losses[1:]).argmax()) + 1 if len(path) > 1 else 0   # the highest loss after the start
if worst:
    on_line = loss_along_path(twins.manual_net, twins.manual_loss, x, y,
                              torch.lerp(theta_0, theta_T, path_alphas[worst]).unsqueeze(0))
    print(f"step {worst}: the path's loss is {losses[worst]:.3f}; the line's at the same α = "
          f"{path_alphas[worst]:.2f} is {on_line.item():.3f}")

run.save(plots.honest_landscapes.interpolation_curve(
    alphas, line_by_hand, line_by_autograd, path_alphas=path_alphas, path_losses=losses,
    title=r"The loss on the straight line from $\theta_0$ to $\theta_T$"), "interpolation")

# %% [markdown]
# With the default seed the loss falls at every point of the line, from
# 0.69 to 0.010: no hill between the start and the end, as Goodfellow et
# al. found for many networks; past the end it keeps falling for a while
# (to 0.0078 near α ≈ 1.1), because 100 steps did not reach its bottom.
# But the line is not the path. The first three steps go mostly sideways,
# from 0.69 to 0.29 while getting 15% of the way along, where the line
# reads 0.53. The path strays up to 1.8 from a line 5.6 long, and at step
# 39 its loss jumps to 0.83 where the line reads 0.09. A smooth line says
# that an easy straight route exists, not that gradient descent took it.
#
# ## Two planes: one for the path, one for the ground around the end
# Lesson 05 drew this network's path on its PCA plane: the plane through
# the end θT spanned by the two directions along which the path moved most.
# That is how Li et al. (2018, section 7) draw training paths, and they
# explain there why random directions will not do: in many dimensions a
# random direction is nearly perpendicular to any path, so a random plane
# holds almost none of it. Their random planes answer another question,
# the shape of the loss around one point; to compare it between networks
# whose weights differ in scale, they scale each random direction filter
# by filter (for our layers, row by row) to the norm of the weights it
# moves: *filter normalisation*. We draw both planes through θT, in the
# same distance units, on one colour scale.
#
# The path is in neither plane. A step off the plane is drawn at its
# projection, and the contour there is not the loss the network had. So a
# panel below the planes draws, per step, the true loss and the loss each
# plane reads under the path: where they part, the path was off the plane.
# Each title gives the share of the path's squared distance from θT that
# lies in the plane, each axis label its own direction's share. (PCA ranks
# directions by the path's spread about its own mean instead, recorded in
# summary.json; the share from θT says how much of the drawn path is in
# the picture.)

# %%
plane = pca_plane(path)
manual_xy = project(history.path_manual, plane.center, plane.d1, plane.d2)
autograd_xy = project(history.path_autograd, plane.center, plane.d1, plane.d2)
plane_alphas, plane_betas = grid_around(manual_xy[:shown], margin=0.2, steps=(71, 57))
Z = loss_on_plane(twins.torch_net, twins.torch_loss, x, y, plane.center, plane.d1, plane.d2,
                  alphas=plane_alphas, betas=plane_betas)

generator = torch.Generator().manual_seed(run.seed)                 # on the CPU: the same directions on every device
random_plane = filter_normalized_plane(twins.torch_net, generator, center=theta_T, path=path)
u1, u2 = random_plane.d1 / random_plane.d1.norm(), random_plane.d2 / random_plane.d2.norm()   # distance units
radius = (path - theta_T).norm(dim=1).max().item()
square = torch.linspace(-1.2 * radius, 1.2 * radius, 45, dtype=run.dtype, device=run.device) if radius > 0 \
    else torch.linspace(-1, 1, 45, dtype=run.dtype, device=run.device)
random_xy = project(history.path_manual, theta_T, u1, u2)


def shares(xy, center):
    """Each direction's share of the path's squared distance from center (xy: (T, 2) along orthonormal d1, d2)."""
    total = (path - center).pow(2).sum()
    return (xy[:shown].pow(2).sum(dim=0) / total).tolist() if total > 0 else [0.0, 0.0]


pca_shares, random_shares = shares(manual_xy, plane.center), shares(random_xy, theta_T)
random_panel = {
    "alphas": square, "betas": square,
    "Z": loss_on_plane(twins.torch_net, twins.torch_loss, x, y, theta_T, u1, u2, alphas=square, betas=square),
    "manual_path": random_xy, "autograd_path": project(history.path_autograd, theta_T, u1, u2),
    "xlabel": f"random direction 1: {random_shares[0]:.1%}", "ylabel": f"random direction 2: {random_shares[1]:.1%}",
    "title": f"Random plane ({random_plane.captured:.1%})", "name": "random plane",
}


def loss_under(center, d1, d2, a, b):
    """The loss the plane shows at (a, b): the loss at center + a·d1 + b·d2."""
    return loss_on_plane(twins.torch_net, twins.torch_loss, x, y, center, d1, d2,
                         alphas=a.reshape(1), betas=b.reshape(1)).item()


under_pca = loss_under(plane.center, plane.d1, plane.d2, *manual_xy[0])
under_random = loss_under(theta_T, u1, u2, *random_xy[0])
under_spike = loss_under(plane.center, plane.d1, plane.d2, *manual_xy[worst])
jump = path[worst] - path[max(worst - 1, 0)]                         # the step into the spike
in_plane = ((jump @ plane.d1) ** 2 + (jump @ plane.d2) ** 2).sqrt().item() / max(jump.norm().item(), 1e-300)
print(f"the PCA plane holds {plane.captured:.1%} of the path, the random plane {random_plane.captured:.1%}; under "
      f"the start square they read {under_pca:.3f} and {under_random:.3f}, the true loss is {losses[0]:.3f}")
print(f"at step {worst} the loss is {losses[worst]:.3f}, the PCA plane reads {under_spike:.3f} under it; the step "
      f"into it is {jump.norm():.2f} long, its projection onto the plane {in_plane:.0%} of that")
run.record("planes", {"pca_captured": plane.captured, "random_captured": random_plane.captured,
                      "pca_shares": pca_shares, "random_shares": random_shares,
                      "pca_explained_variance": list(plane.explained),
                      "under_start": {"pca": under_pca, "random": under_random, "true": losses[0]},
                      "under_spike": {"step": worst, "pca": under_spike, "true": losses[worst],
                                      "step_into_it_in_plane": in_plane}})
run.save(plots.planes.path_on_plane(
    plane_alphas, plane_betas, Z, manual_xy, autograd_xy, history, name="PCA plane", second=random_panel,
    xlabel=f"PC1: {pca_shares[0]:.1%} of the path", ylabel=f"PC2: {pca_shares[1]:.1%}",
    title=f"PCA plane ({plane.captured:.1%})",
    caption=(f"both twins' paths coincide (a cross in every circle); under the start square the planes read "
             f"{under_pca:.2f} (PCA) and {under_random:.2f} (random), the true loss is {losses[0]:.2f}")),
    "planes")

# %% [markdown]
# The PCA plane holds about 98% of this path, and the panel below says
# where the rest went. Under the start square the plane reads 0.21, against
# a true 0.69: the first steps are off the plane, and the picture flatters
# them. At step 39 the network's loss spikes to 0.83, while the PCA plane
# reads 0.08 under it: the contour shows a smooth descent where the network
# had its worst step since the start. The spike happened off the plane: the
# step into it is 1.7 long, and its projection onto the plane only 11% of
# that. The random plane holds about 11% of the path (10.1% along one
# direction, 1.0% along the other): the whole path shrinks into a stub
# beside the end, and the plane reads 0.03 to 0.01 under it, the loss near
# θT. It shows the shape of the ground around the end, which is what it is
# for, not the route there.
#
# ## Sharpness: the curvature, from the hand-written gradient
# Lesson 03 read its limit off the Hessian H: on a quadratic loss,
# gradient descent is stable when lr·λmax < 2, λmax being H's largest
# eigenvalue. Here H has 354² entries, and a bigger network would have far
# too many to store. For λmax we need only products H·v, which the gradient
# we already have gives: moving a distance h along v changes the gradient
# g by about h·H·v, so
#
#     H·v ≈ (g(θ + h·v) − g(θ − h·v)) / 2h,
#
# wrong by O(h²). Each gradient also carries rounding errors of about
# u·‖g‖ (u ≈ 2·10⁻¹⁶, float64's machine epsilon), which the difference
# divides by h; the two errors balance at h ≈ u^(1/3), about 6·10⁻⁶. With
# g the hand-written backward pass this needs no autograd at all. We check
# it against `torch.func`, which differentiates autograd's gradient along v
# exactly (`jvp` of `grad`).

# %%
eps = torch.finfo(run.dtype).eps ** (1 / 3)       # the step along v: 6e-6 in float64


def hvp_by_hand(theta, v):
    """H·v at theta from two hand-written gradients, a distance eps either side of theta along v.

    theta, v: (354,). With h = eps / ‖v‖:  H·v ≈ (g(θ + h·v) − g(θ − h·v)) / 2h,
    g = manual_gradient (the hand-written backward pass, no autograd).
    """
    # exercise hvp: the central difference of the hand-written gradient g = manual_gradient(twins, x, y, θ) along v
    h = eps / v.norm()
    g_plus = manual_gradient(twins, x, y, theta + h * v)
    g_minus = manual_gradient(twins, x, y, theta - h * v)
    return (g_plus - g_minus) / (2 * h)
    # end exercise


probe = torch.randn(path.shape[1], generator=torch.Generator().manual_seed(run.seed), dtype=torch.float64)
probe = probe.to(device=run.device, dtype=run.dtype)          # a random direction, drawn on the CPU
hvp_steps = sorted({0, (len(path) - 1) // 2, len(path) - 1})
hvp_gaps = []
for step in hvp_steps:
    by_hand = hvp_by_hand(path[step], probe)
    exact = hessian_vector_product(twins.torch_net, twins.torch_loss, x, y, probe, theta=path[step])
    hvp_gaps.append(((by_hand - exact).norm() / exact.norm()).item())
hvp_gap = max(hvp_gaps)
hvp_tolerance = 1e-6 if run.dtype == torch.float64 else 1e-3          # relative; float32 rounds 1e9 times coarser
print(f"H·v by hand against torch.func at steps {hvp_steps}: largest relative difference {hvp_gap:.1e} "
      f"({'they agree' if hvp_gap < hvp_tolerance else 'THEY DISAGREE'}, tolerance {hvp_tolerance:g})")
if not hvp_gap < hvp_tolerance:      # everything below builds on it: stop here (exit code 1)
    raise SystemExit("hvp_by_hand disagrees with torch.func's H·v: fix it (exercise hvp) and run this file again")

# %% [markdown]
# ### Power iteration
# Write a vector as a sum of H's eigenvectors, v = Σ cᵢ uᵢ. Multiplying
# by H multiplies each part by its eigenvalue, so after k products
# Hᵏ·v = Σ cᵢ λᵢᵏ uᵢ, and the part with the largest |λ| outgrows the rest
# by (|λ₂| / |λ₁|)ᵏ. Normalising after every product keeps the numbers
# finite:
#
#     v ← H·v / ‖H·v‖,     λ ≈ vᵀ·H·v   (the Rayleigh quotient, ‖v‖ = 1).
#
# At the start we run it for 100 products and compare with all 354
# eigenvalues of the full Hessian (`torch.func.hessian`, then
# `torch.linalg.eigvalsh`).

# %%
def power_iteration(hvp, v, iterations):
    """The eigenvalue of largest magnitude and its unit eigenvector, from products hvp(v) = H·v alone."""
    # exercise power_iteration: multiply by H and normalise, `iterations` times; λ is the Rayleigh quotient vᵀHv
    v = v / v.norm()
    for _ in range(iterations):
        hv = hvp(v)
        value = v @ hv
        v = hv / hv.norm()
    return value.item(), v
    # end exercise


start_value, _ = power_iteration(lambda v: hvp_by_hand(theta_0, v), probe, iterations=100)
start_spectrum = torch.linalg.eigvalsh(hessian(twins.torch_net, twins.torch_loss, x, y, theta=theta_0))
start_gap = abs(start_value - start_spectrum[-1].item()) / abs(start_spectrum[-1].item())
print(f"at the start: power iteration λ = {start_value:.6f}; eigvalsh: λmax = {start_spectrum[-1]:.6f}, "
      f"λmin = {start_spectrum[0]:.6f} ({'they agree' if start_gap < hvp_tolerance else 'THEY DISAGREE'})")
if not start_gap < hvp_tolerance:
    raise SystemExit("power_iteration disagrees with eigvalsh: fix it (exercise power_iteration) and run this file "
                     "again")

# %% [markdown]
# Power iteration finds the eigenvalue of largest *magnitude*; at a saddle
# a steeply negative one could win (at the start λmin ≈ −0.82).
# `toolkit.landscape.largest_eigenvalue` runs it a second time on H − μI
# when the first answer μ is negative, stops once λ changes by less than
# one part in a million, and along training starts from the eigenvector of
# the step before, so a handful of products does. One measurement costs
# more than a dozen gradients, so a long run would measure every k steps;
# here the sharpness alternates between consecutive steps around step 35,
# so k = 1.

# %%
every = 1
measured_steps = list(range(0, len(path), every))
sharpness, products = [], []
vector = probe
for step in measured_steps:
    found = largest_eigenvalue(lambda v: hvp_finite_difference(twins, x, y, v, theta=path[step], eps=eps), vector,
                               iterations=200, tol=1e-6)
    sharpness.append(found.value)
    products.append(found.iterations)
    vector = found.vector                       # the warm start for the next step
print(f"sharpness at {len(measured_steps)} steps: {sum(products)} products H·v, "
      f"{sum(products) / len(products):.1f} per step on average, at most {max(products)}")

# The check: the full Hessian's eigenvalues at the start, at the sharpest step measured, and at the end.
sharpest = measured_steps[max(range(len(sharpness)), key=sharpness.__getitem__)]
check_steps = sorted({0, sharpest, measured_steps[-1]})
check_values = []
for step in check_steps:
    spectrum = start_spectrum if step == 0 else torch.linalg.eigvalsh(
        hessian(twins.torch_net, twins.torch_loss, x, y, theta=path[step]))
    check_values.append(spectrum[-1].item())
power_gaps = [abs(sharpness[measured_steps.index(step)] - value) for step, value in zip(check_steps, check_values)]
for step, value, gap in zip(check_steps, check_values, power_gaps):
    print(f"step {step:3d}: power iteration {sharpness[measured_steps.index(step)]:.6f}, "
          f"eigvalsh {value:.6f} (off by {gap:.1e})")

limit = 2 / history.lr
above = [step for step, value in zip(measured_steps, sharpness) if value > limit]
crossed_upward = [step for before, (step, value) in zip(sharpness, zip(measured_steps[1:], sharpness[1:]))
                  if before <= limit < value]          # the steps where it goes from at most 2/lr to above it
print(f"2/lr = {limit:.3g}: the sharpness is above it at {len(above)} of the {len(measured_steps)} steps; "
      f"it crosses it upwards at steps {crossed_upward}; at the end it is {sharpness[-1]:.4f}")
print(f"the highest sharpness: {max(sharpness):.2f} at step {sharpest} (lr·λmax = {history.lr * max(sharpness):.1f})")
run.record("sharpness", {
    "every": every, "two_over_lr": limit, "final": sharpness[-1], "crossed_upward_at": crossed_upward,
    "highest": {"step": sharpest, "value": max(sharpness)},
    "check_steps": check_steps, "eigvalsh": check_values, "max_abs_power_minus_eigvalsh": max(power_gaps),
    "max_rel_hvp_finite_difference_minus_torch_func": hvp_gap,
})
run.record("interpolation", {"max_abs_twin_diff": twin_gap, "max_abs_end_diff": ends_gap,
                             "lowest": {"alpha": alphas[lowest].item(), "loss": line_by_hand[lowest].item()},
                             "max_off_line": off_line.max().item(), "line_length": direction.norm().item()})

run.save(plots.honest_landscapes.sharpness_curve(measured_steps, sharpness, history.lr, history,
                                                 checks=(check_steps, check_values),
                                                 title=f"Sharpness along training, lr = {history.lr:g}"),
         "sharpness")

# %% [markdown]
# ## Reading the sharpness
# With the default seed the run goes through four phases:
#
# * **Steps 0 to 7**: at the start λmax ≈ 1.43 > 2/lr, and the loss rises
#   once (from step 2 to step 3), the overshoot lesson 03 predicts. But
#   the landscape is not a fixed bowl: within a few steps the walk reaches
#   flatter ground (λmax ≈ 0.7 to 0.9), and the overshoot stops.
# * **Steps 8 to 36, progressive sharpening**: while the loss falls, the
#   sharpness climbs, past 2/lr at step 23 (at step 22 it is 0.999, a
#   hair under the line) and on to about 1.9. Above the line one step
#   multiplies the error along the top eigenvector by |1 − lr·λmax| > 1.
#   That error starts tiny, so for a while nothing shows; then the steps
#   begin to alternate (the zigzag from step 32).
# * **Steps 37 to 41, the spike**: the oscillation has grown large. λmax
#   first shoots up to 3.9 at step 38 (the diamond in the middle; the loss
#   spikes with it, from 0.08 at step 36 to 0.83 at step 39), then
#   collapses to 0.35 at step 41, far below the line. This is a
#   *catapult* (Lewkowycz et al., 2020): at lr·λmax ≈ 7.8, far past 2, a
#   step along the top eigenvector jumps across the valley and lands on
#   the far wall |1 − lr·λmax| ≈ 6.8 times as far from the floor as it
#   started. The loss rises, and the path is flung out of the sharp valley
#   onto flatter ground, where lr·λmax < 2 again and descent resumes.
# * **Steps 42 to 100, at the edge**: the sharpness climbs again, reaches
#   2/lr at step 60 (at step 59 it is 0.9999) and then stays there, within
#   2.5% of it, while the loss falls at every step.
#
# Lesson 03's rule describes a fixed bowl: above 2/lr the error grows at
# every step, without end. On a real network the curvature moves with the
# parameters. Gradient descent tends to push it up until it reaches 2/lr
# (progressive sharpening), and then holds it there instead of diverging:
# Cohen et al. (2021) found this on many networks and named it the *edge
# of stability*. It is a tendency, not a law: with `--lr 1.5` the
# sharpness overshoots and spikes the same way, but then settles near
# 1.06, below 2/lr ≈ 1.33; with `--seed 2` it never settles, jumping
# between about 0.6 and 2.6 on alternate steps around 2/lr while the loss
# zigzags (measured every second step, it would look like a flat line).
#
# What the three windows add up to: the line showed an easy straight
# route that training did not take; the PCA plane held nearly all of the
# path, but its contours flattered the first steps and missed the spike
# (only the true loss beside the plane's reading showed it); the random
# plane held almost nothing of the path. The curvature, never drawn as a
# landscape, explained the spike: it came after the sharpness had crossed
# 2/lr, as a jump across the valley, out of the plane of the rest of the path.
#
# ## Captions for course notes
# Printed under each figure in the gallery's index, with an alt text.

# %%
run.describe(
    "interpolation",
    caption=(f"The loss on the straight line from the start (α = 0) to the end of training (α = 1) and a quarter "
             f"beyond each end (shaded), for both twins (a vermillion cross in every circle). The green points "
             f"are the training path's own losses, each placed where that step projects onto the line: the path "
             f"went around the line, and its spike at step {worst} does not show on the line at all."),
    alt=("A loss curve on a log scale against alpha from -0.25 to 1.25: the line's loss falls smoothly from "
         "about 0.7 at the start square to about 0.01 at the end star. A green path of points leaves the same "
         "square, drops below the line within three steps, shoots up to about 0.8 near alpha 0.63, and then "
         "runs just above the line down to the end star."))
run.describe(
    "planes",
    caption=(f"One run seen through two planes through its end, on one colour scale at equal aspect: the PCA "
             f"plane of the path (left) and a random filter-normalised plane (right); the titles give the share "
             f"of the path each plane holds. Below, per step: the network's true loss (both twins) and what each "
             f"plane reads under the path. Where they part, the path was off the plane: over the first steps, "
             f"and at step {worst}, where the PCA plane reads {under_spike:.2f} under a true {losses[worst]:.2f}."),
    alt=("Two contour maps sharing a log colour bar, above loss curves. Left, the PCA plane: the path runs from "
         "a square on the left across the valley, drops straight down and climbs to a star in the dark region "
         "on the right. Right, the random plane: the path is a short stub beside the end star. Below, against "
         "the step: the blue true loss spikes to about 0.8 at step 39; the PCA plane's dashed reading follows "
         "it except over the first steps and shows no spike; the random plane's dotted reading falls slowly "
         "from about 0.03 to 0.01."))
run.describe(
    "sharpness",
    caption=("Top: the Hessian's largest eigenvalue at every step, by power iteration on Hessian-vector products "
             "from the hand-written gradient, against 2/lr (dashed); open black diamonds: the full Hessian's "
             "largest eigenvalue, computed exactly. Bottom: both twins' loss (they coincide). The sharpness "
             "climbs past 2/lr, shoots up as the loss spikes, collapses, climbs back and stays at 2/lr."),
    alt=("Two panels sharing a step axis from 0 to 100. Top: the sharpness starts at 1.43, above a dashed line "
         f"at 1, drops to about 0.8, climbs past the line at step {crossed_upward[0]}, shoots up to 3.9 at step "
         f"38, collapses to 0.35 at step 41, and from step {crossed_upward[-1]} runs along the line; open diamonds "
         "sit on it at steps 0, 38 and 100. Bottom: the loss on a log scale falls from 0.7, with a spike to "
         "about 0.8 at step 39."))
run.finish()
