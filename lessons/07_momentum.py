# %% [markdown]
# # 07 · Momentum and Nesterov: a heavy ball in a long valley
#
# Lesson 03 found the catch in plain gradient descent: the learning rate
# must suit the steepest direction of the valley, so along its gentle floor
# the steps are tiny. Momentum gives the walker a memory. It keeps a running
# velocity, the sum of past gradients with older ones fading, and steps
# along that instead of along the newest gradient alone. Pushes that keep
# pointing the same way add up; pushes that flip from wall to wall cancel.
# We watch it on d2l's long narrow valley, work out exactly when it is
# stable, tune it for lesson 03's valley, and then ask honestly what it buys
# on a real network.

# %%
import math

import torch

from toolkit import data, lesson, manual, plots
from toolkit.landscape import grid_around, largest_stable_lr, loss_on_plane
from toolkit.train import train
from toolkit.twins import Twins, make_twins

# lr: the one step size of the four walkers on the valley; every other run sets its own.
run = lesson.start("07_momentum", steps=200, lr=0.3)

# %% [markdown]
# ## A long, narrow valley, built as a network
# d2l's optimisation chapter uses the function f(x₁, x₂) = 0.1·x₁² + 2·x₂²,
# starting from (−5, −2): it is twenty times steeper across than along. We
# want our two twins to compute it, so we dress it up as a network. Take
# `Linear(2, 1)` without a bias: its weight *is* the point (x₁, x₂). Feed it
# two inputs, (√0.2, 0) and (0, √4), both with target 0. Its predictions are
# √0.2·x₁ and 2·x₂, and the mean squared error of the two is
# (0.2·x₁² + 4·x₂²) / 2 = 0.1·x₁² + 2·x₂², exactly f. So every step the
# hand-written network and its `torch.nn` twin take is a step on f, with
# the gradient (0.2·x₁, 4·x₂) coming from backpropagation rather than from
# a formula we typed in.
# (`valley_twins` is saved as `toolkit.twins.linear_twins_at` for lesson 11.)

# %%
START = [-5.0, -2.0]
valley_x = torch.tensor([[math.sqrt(0.2), 0.0], [0.0, math.sqrt(4.0)]], dtype=run.dtype, device=run.device)
valley_y = torch.zeros(2, 1, dtype=run.dtype, device=run.device)


def valley_twins():
    """f as a network: Linear(2, 1) without a bias whose weight is set to the start, twinned afterwards."""
    twins = make_twins([2, 1], bias=False, loss=manual.MSELoss(), seed=run.seed, device=run.device, dtype=run.dtype)
    with torch.no_grad():
        twins.manual_net[0].weight.copy_(torch.tensor([START], dtype=run.dtype, device=run.device))
    return Twins.of(twins.manual_net, twins.manual_loss)      # the torch twin is built from the new weight


valley = valley_twins()
print(f"f(−5, −2) = 0.1·25 + 2·4 = {0.1 * 25 + 2 * 4:g}; the twins say "
      f"{valley.manual_loss(valley.manual_net(valley_x), valley_y).item():g} (hand-written) and "
      f"{valley.torch_loss(valley.torch_net(valley_x), valley_y).item():g} (torch.nn)")
run.check(valley, valley_x, valley_y)

# %% [markdown]
# ## How curved is the valley?
# As in lesson 03, the Hessian's eigenvalues are the curvatures along the
# valley's axes. Here they are the two numbers in f's second derivatives,
# 0.2 along x₁ and 4 across, but we let `torch.func` find them from the
# network, as it would for any loss. Plain gradient descent needs
# η < 2/λmax.

# %%
lr_limit, curvatures = largest_stable_lr(valley.torch_net, valley.torch_loss, valley_x, valley_y)
curvatures = curvatures.tolist()
lam_min, lam_max = curvatures
print(f"curvatures: λmin = {lam_min:.4g} (along x₁), λmax = {lam_max:.4g} (across, x₂); "
      f"condition number κ = {lam_max / lam_min:.4g}")
print(f"plain gradient descent is stable for η < 2/λmax = {lr_limit:.4g}")

# %% [markdown]
# ## Plain gradient descent, and where it breaks
# Along an axis of curvature λ one step multiplies the distance to the
# minimum by (1 − ηλ). d2l's run, η = 0.4, multiplies x₁ by 0.92 (slow) and
# x₂ by −0.6 (fast, flipping sign) per step. At η = 0.6 the factor across
# the valley is 1 − 0.6·4 = −1.4: each step overshoots by more than it
# corrects, and x₂ grows without end, while x₁ is still far from home.
# The recorded path holds every step: we read off d2l's 20th.

# %%
def say_where(name, history, steps=20):
    """Print where a run stood after ``steps`` steps (or its last, if it took fewer); return that step."""
    k = min(steps, history.steps)
    print(f"{name}: after {k} steps (x₁, x₂) = ({history.path_manual[k, 0]:.6f}, {history.path_manual[k, 1]:.6f})")
    return k


gd_04 = run.train(valley_twins(), valley_x, valley_y, lr=0.4, label="valley: plain GD, η = 0.4", main=False)
k = say_where("plain GD, η = 0.4", gd_04)
print(f"   the factors predict ({START[0] * (1 - 0.4 * lam_min) ** k:.6f}, {START[1] * (1 - 0.4 * lam_max) ** k:.6f})"
      + ("; d2l prints (−0.943467, −0.000073)" if k == 20 else ""))
gd_06 = run.train(valley_twins(), valley_x, valley_y, lr=0.6, label="valley: plain GD, η = 0.6", main=False)
say_where("plain GD, η = 0.6", gd_06)

# %% [markdown]
# ## Momentum: a velocity that remembers
# The heavy-ball method keeps a velocity v, starting at zero:
#
#     v ← β·v + g          (g: the gradient at the current point)
#     θ ← θ − η·v
#
# With β = 0 this is plain gradient descent. With β = 0.5 the velocity is
# g + 0.5·(the last g) + 0.25·(the one before) + …: a gradient that keeps
# pointing the same way adds up to twice its size, while one that flips
# sign every step mostly cancels. This is `torch.optim.SGD` with
# `momentum=β` and `dampening=0`, and our `SGD` does the same sums in the
# same order (`toolkit/optim.py`: the first step sets v to g itself, which
# is what β·0 + g gives). d2l runs it at the very η = 0.6 that just blew
# plain gradient descent away:

# %%
hb_06 = run.train(valley_twins(), valley_x, valley_y, lr=0.6, momentum=0.5,
                  label="valley: heavy ball β = 0.5, η = 0.6", main=False)
if say_where("heavy ball β = 0.5, η = 0.6", hb_06) == 20:
    print("   d2l prints (0.007188, 0.002553)")

# %% [markdown]
# ## When is the heavy ball stable?
# Follow one axis of curvature λ, with e the distance to the minimum along
# it. The gradient there is λ·e, so v ← β·v + λ·e and e ← e − η·v. One step
# is a linear map of the pair (e, η·v):
#
#     e   ←  (1 − ηλ)·e − β·(η·v)
#     η·v ←       ηλ·e  + β·(η·v)
#
# The error shrinks when both eigenvalues r of this 2 × 2 matrix have
# |r| < 1. They solve r² − (1 + β − ηλ)·r + β = 0, and working through that
# quadratic (0 ≤ β < 1) gives the condition
#
#     0 < ηλ < 2 + 2β          (plain gradient descent, β = 0: ηλ < 2)
#
# Momentum raises the ceiling. At η = 0.6 the steep axis has ηλ = 2.4:
# over 2, under 3. We let `torch.linalg` find the eigenvalues of that
# matrix for each run and each curvature; the largest |r| is the factor
# by which the error shrinks per step in the long run.

# %%
def step_matrix(lr, beta, curvature, nesterov=False):
    """One step along an axis of curvature λ, as the map (e, η·v) -> (e, η·v) after the step.

    Heavy ball: v ← βv + λe, e ← e − ηv. Nesterov (torch's form): the same v,
    then e ← e − η(λe + βv), a step along the gradient plus the velocity once more.
    """
    a = lr * curvature
    if nesterov:
        return torch.tensor([[1 - a * (1 + beta), -beta ** 2], [a, beta]], dtype=torch.float64)
    return torch.tensor([[1 - a, -beta], [a, beta]], dtype=torch.float64)


def rate_per_step(lr, beta, nesterov=False):
    """The factor by which the error shrinks per step in the long run: the largest |eigenvalue| over both axes."""
    return max(torch.linalg.eigvals(step_matrix(lr, beta, lam, nesterov)).abs().max().item() for lam in curvatures)


for name, lr, beta, history in [("plain GD", 0.4, 0.0, gd_04), ("plain GD", 0.6, 0.0, gd_06),
                                ("heavy ball", 0.6, 0.5, hb_06)]:
    factor = rate_per_step(lr, beta)
    verdict = "stable" if lr * lam_max < 2 + 2 * beta else "UNSTABLE"
    measured = (f"diverged at step {history.diverged_at_step}" if history.diverged
                else f"distance after {history.steps} steps {history.path_manual[-1].norm().item():.2g}")
    print(f"{name:10s} η = {lr}, β = {beta}: ηλmax = {lr * lam_max:.2f} against 2 + 2β = {2 + 2 * beta:.1f}: "
          f"{verdict}; largest |r| = {factor:.4f}; the run: {measured}")
print(f"with β = 0.5 the largest stable η is (2 + 2β)/λmax = {(2 + 2 * 0.5) / lam_max:.4g}")

# %% [markdown]
# ## Four ways down the same valley
# Now one step size for four walkers: plain gradient descent, the heavy ball
# with β = 0.5 and with β = 0.9, and Nesterov's momentum with β = 0.9.
# Nesterov (in torch's form, `nesterov=True`) keeps the same velocity but
# steps along the gradient plus β times the new velocity, roughly the
# velocity one step ahead, so it brakes sooner when the slope turns. That
# makes it more careful in steep directions: the same eigenvalue analysis
# (the Nesterov matrix above) puts its ceiling at ηλ < (2 + 2β)/(1 + 2β),
# only 1.36 for β = 0.9. With λmax = 4 that means η < 0.34, which is why
# this comparison uses η = 0.3 and not d2l's 0.4.
#
# At one η the four do not take the same effective step (the figure below
# says which), so this is not yet a race between methods: it shows what β
# does. The rate per step says what to expect: a little momentum (β = 0.5)
# speeds up the slow axis; a lot (β = 0.9) overshoots, and the ball rolls
# past the minimum and back in wide loops. Nesterov's braking keeps the
# same β = 0.9 in check.

# %%
ceiling = (2 + 2 * 0.9) / (1 + 2 * 0.9) / lam_max
print(f"Nesterov, β = 0.9: η < (2 + 2β)/((1 + 2β)·λmax) = {ceiling:.4f}; its matrix gives largest |r| = "
      f"{rate_per_step(0.98 * ceiling, 0.9, nesterov=True):.4f} at 0.98 of that and "
      f"{rate_per_step(1.02 * ceiling, 0.9, nesterov=True):.4f} at 1.02")
walkers = {
    "plain GD": {},
    "heavy ball β = 0.5": {"momentum": 0.5},
    "heavy ball β = 0.9": {"momentum": 0.9},
    "Nesterov β = 0.9": {"momentum": 0.9, "nesterov": True},
}
paths = {}
for name, options in walkers.items():
    paths[name] = run.train(valley_twins(), valley_x, valley_y, label=f"paths: {name}, η = {run.lr:g}",
                            main=(name == "heavy ball β = 0.5"), **options)
    factor = rate_per_step(run.lr, options.get("momentum", 0.0), options.get("nesterov", False))
    k = min(50, paths[name].steps)
    distance = paths[name].path_manual[k].norm().item()
    print(f"   {name}: predicted factor per step {factor:.4f}; distance to the minimum after {k} steps {distance:.3g}")

# %% [markdown]
# ## The figure: six runs, one per panel
# The same exact loss contour in every panel (the weight is the point, so
# nothing is projected), one run per panel, each titled with its setting
# and its **effective step** η/(1 − β): on a long even stretch, where the
# gradient g stays the same, the velocity grows to g·(1 + β + β² + …) =
# g/(1 − β), so the heavy ball moves like plain gradient descent with that
# step. Comparing two methods fairly means comparing them at the same
# effective step, and the figure holds one such pair: plain gradient
# descent at η = 0.6 and the heavy ball with β = 0.5 at η = 0.3 both take
# the effective step 0.6. The first is thrown out of the valley across its
# steep walls; the second converges.

# %%
shown_runs = {"plain GD": (paths["plain GD"], run.lr, 0.0), "plain GD, η = 0.6": (gd_06, 0.6, 0.0),
              "heavy ball β = 0.5": (paths["heavy ball β = 0.5"], run.lr, 0.5),
              "heavy ball β = 0.5, η = 0.6": (hb_06, 0.6, 0.5),
              "heavy ball β = 0.9": (paths["heavy ball β = 0.9"], run.lr, 0.9),
              "Nesterov β = 0.9": (paths["Nesterov β = 0.9"], run.lr, 0.9)}
# Frame every point whose loss is at most three times the start's: a diverging run leaves through the edge.
kept = []
for history, _, _ in shown_runs.values():
    losses, _ = history.path_losses()
    kept += [point for point, loss in zip(history.path_manual, losses) if loss <= 3 * losses[0]]
alphas, betas = grid_around(torch.stack(kept), margin=0.08)
eye = torch.eye(2, dtype=run.dtype, device=run.device)
Z = loss_on_plane(valley.torch_net, valley.torch_loss, valley_x, valley_y, center=0 * eye[0], d1=eye[0], d2=eye[1],
                  alphas=alphas, betas=betas)
panels = [{"title": f"{name.split(',')[0]}: η = {lr:g}\neffective step {lr / (1 - beta):.2g}",
           "manual_path": history.path_manual, "autograd_path": history.path_autograd,
           "diverged_at": history.diverged_at_step}
          for name, (history, lr, beta) in shown_runs.items()]
run.save(plots.momentum.momentum_paths(alphas, betas, Z, panels, xlabel="x₁", ylabel="x₂",
                                       note=f"f(x₁, x₂) = 0.1·x₁² + 2·x₂² from (−5, −2), {run.steps} steps"),
         "momentum_paths")

# %% [markdown]
# ## The best momentum for a valley
# Back to lesson 03's linear regression, whose loss is a quadratic bowl with
# curvatures λmin and λmax (condition number κ = λmax/λmin). Lesson 03's
# "good" rate, η = 2/(λmin + λmax), is the best plain gradient descent can
# do: the distance shrinks by (κ − 1)/(κ + 1) per step. For the heavy ball
# the best pair (Polyak's) is
#
#     β* = ((√κ − 1)/(√κ + 1))²        η* = 4/(√λmax + √λmin)²
#
# and the distance then shrinks by √β* = (√κ − 1)/(√κ + 1) per step: κ is
# replaced by its square root. A rate per step shows as a straight line
# when the distance is on a log scale, so we measure the slope.
#
# One detail: at exactly these settings both roots r on each axis coincide
# (the quadratic above has a double root), and a double root makes the
# error behave like (a + b·t)·rᵗ, a straight line times a slowly growing
# factor t. So we fit the slope of log(distance / t) over the late steps.

# %%
line_x, line_y = data.noisy_line(n=40, slope=-1.0, intercept=2.0, noise=0.5, x_range=(-1.0, 3.0),
                                 seed=run.seed, device=run.device, dtype=run.dtype)


def line_twins():
    """Lesson 03's twins: Linear(1, 1) from the same random start every time."""
    return make_twins([1, 1], loss=manual.MSELoss(), seed=run.seed, device=run.device, dtype=run.dtype)


bowl = line_twins()
_, bowl_curvatures = largest_stable_lr(bowl.torch_net, bowl.torch_loss, line_x, line_y)
low, high = bowl_curvatures.tolist()
kappa = high / low
best_beta = ((math.sqrt(kappa) - 1) / (math.sqrt(kappa) + 1)) ** 2
best_lr = 4 / (math.sqrt(high) + math.sqrt(low)) ** 2
theory = {"plain GD": (kappa - 1) / (kappa + 1), "heavy ball": math.sqrt(best_beta)}
print(f"curvatures λmin = {low:.4f}, λmax = {high:.4f}, κ = {kappa:.4f}")
print(f"plain GD:   η = 2/(λmin + λmax) = {2 / (low + high):.4f}, rate (κ − 1)/(κ + 1) = {theory['plain GD']:.4f}")
print(f"heavy ball: η* = {best_lr:.4f}, β* = {best_beta:.4f}, rate √β* = {theory['heavy ball']:.4f}")
run.check(bowl, line_x, line_y)

design = torch.cat([line_x, torch.ones_like(line_x)], dim=1)
best = torch.linalg.lstsq(design, line_y).solution.flatten()          # θ* = (w*, b*)
# Below about this distance the path is rounding noise: the dtype's precision at the size of θ*.
floor = 10 * torch.finfo(run.dtype).eps * max(best.norm().item(), 1.0)
races = {
    "plain GD": run.train(line_twins(), line_x, line_y, lr=2 / (low + high), label="bowl: plain GD, best η",
                          main=False),
    "heavy ball": run.train(line_twins(), line_x, line_y, lr=best_lr, momentum=best_beta,
                            label="bowl: heavy ball, best η and β", main=False),
}


def fitted_rate(distances, double_root=False):
    """exp(slope of log distance against step) over the later half of the steps well above the noise.

    double_root: fit log(distance / t) instead, removing the factor t of a double root.
    Returns (rate, first step, last step), or None when there are too few steps to fit.
    """
    clear = distances > 100 * floor
    last = int(clear.long().argmin()) - 1 if not clear.all() else len(distances) - 1
    first = max(last // 2, 1)
    if last - first < 2:
        return None
    steps = torch.arange(first, last + 1, dtype=torch.float64)
    values = distances[first:last + 1].double().log() - (steps.log() if double_root else 0)
    slope = torch.linalg.lstsq(torch.stack([steps, torch.ones_like(steps)], dim=1), values[:, None]).solution[0]
    return math.exp(slope.item()), first, last


rate_runs = []
for color, (name, history) in zip(plots.RUN_COLORS, races.items()):
    manual_distance = (history.path_manual - best).norm(dim=1).cpu()
    autograd_distance = (history.path_autograd - best).norm(dim=1).cpu()
    fit = fitted_rate(manual_distance, double_root=(name == "heavy ball"))
    settings = (f"η = {2 / (low + high):.3f}" if name == "plain GD"
                else f"η* = {best_lr:.3f}, β* = {best_beta:.3f}")
    entry = {"label": f"{name} ({settings})", "color": color, "manual": manual_distance, "autograd": autograd_distance,
             "theory": theory[name], "anchor": 0, "fit": None, "measured": None}
    if fit is None:
        print(f"{name}: too few steps to measure a rate")
    else:
        measured, first, last = fit
        entry.update(fit=(first, last), measured=measured, anchor=(first + last) // 2)
        print(f"{name}: measured rate {measured:.4f} per step (steps {first}-{last}), theory {theory[name]:.4f} "
              f"({(measured / theory[name] - 1):+.2%})")
    rate_runs.append(entry)
run.save(plots.momentum.distance_rates(rate_runs, floor=floor,
                              title=f"Lesson 03's bowl, κ = {kappa:.2f}:\nthe best step with and without momentum",
                              note="dashed: the theoretical rate, drawn through the middle of the fitted steps"),
         "momentum_rates")

# %% [markdown]
# ## A network: the same effective step
# On lesson 05's network and data (the same 400 points, split by the same
# seed), is it momentum that helps, or just a larger effective step? Plain
# GD with η = 0.5 against the heavy ball with β = 0.9 and η = 0.05, both 0.5
# in effect; beside them the heavy ball at η = 0.5, β = 0.9: an effective
# step of 5. Each network is also scored on the 200 held-out points. This
# is one seed (`--seed` gives others). The stability conditions above, with
# the network's λmax at the start, say which steps are safe.

# %%
points, labels = data.two_moons(n=400, noise=0.15, seed=run.seed, device=run.device, dtype=run.dtype)
(x, y), (x_val, y_val) = data.split(points, labels, held_out=200, seed=run.seed)      # lesson 05's halves


def moons_twins():
    return make_twins([2, 16, 16, 2], activation="tanh", loss=manual.CrossEntropyLoss(), seed=run.seed,
                      device=run.device, dtype=run.dtype)


moons = moons_twins()
run.check(moons, x, y)
moons_limit, moons_curvatures = largest_stable_lr(moons.torch_net, moons.torch_loss, x, y)
moons_max = moons_curvatures[-1].item()
print(f"at the start λmax = {moons_max:.3g}: plain GD needs η < 2/λmax = {moons_limit:.3g}; "
      f"the heavy ball with β = 0.9 needs η < 3.8/λmax = {3.8 / moons_max:.3g}, "
      f"an effective step up to {3.8 / moons_max / (1 - 0.9):.3g}")
settings = {
    "plain GD, η = 0.5": {"lr": 0.5},
    "heavy ball β = 0.9, η = 0.05": {"lr": 0.05, "momentum": 0.9},
    "heavy ball β = 0.9, η = 0.5": {"lr": 0.5, "momentum": 0.9},
}
moons_runs, shown_as = {}, {}
for name, options in settings.items():
    moons = moons_twins()
    history = run.train(moons, x, y, label=f"moons: {name}", main=False, **options)
    moons_runs[name] = history
    losses, _ = history.path_losses()
    reached = next((f"from step {k}" for k, value in enumerate(losses) if value < 0.05), "never")
    with torch.no_grad():
        held_loss = moons.torch_loss(moons.torch_net(x_val), y_val).item()
        held_right = (moons.torch_net(x_val).argmax(dim=1) == y_val).double().mean().item()
    print(f"   {name} (effective step {options['lr'] / (1 - options.get('momentum', 0.0)):.2g}): final loss "
          f"{losses[-1]:.4g}, below 0.05 {reached}; held out: loss {held_loss:.4g}, {held_right:.1%} right")
    shown_as[name] = f"{name}\n(held out: {held_right:.1%} right)"

colors = dict(zip(settings, plots.RUN_COLORS))
panels = [{"title": title, "runs": {shown_as[name]: (moons_runs[name], colors[name]) for name in names}}
          for title, names in [("the same effective step η/(1 − β) = 0.5", list(settings)[:2]),
                               ("η = 0.5, β = 0.9: effective step 5", [list(settings)[0], list(settings)[2]])]]
run.save(plots.momentum.loss_curve_panels(panels, note=f"Plain GD at η = 5 is not drawn:\nit starts past "
                                                       f"its limit 2/λmax = {moons_limit:.2f}"),
         "effective_step")

# %% [markdown]
# ## What momentum buys
# At the same effective step, 0.5, the two curves have the same shape: the
# quick drop, the long plateau, the slow descent. Momentum is behind all the
# way (its velocity needs about 1/(1 − β) = 10 steps to build up, and it
# leaves the plateau later), and it reaches a loss of 0.05 later than plain
# gradient descent. At the same effective step it bought nothing: plain
# gradient descent with a ten times larger η did as well, on the held-out
# points too.
#
# The effective step 5 (η = 0.5, β = 0.9) is much faster. Can plain
# gradient descent simply copy it? With η = 5 it starts at ηλmax ≈ 7, far
# past its limit of 2: the steep direction is thrown from wall to wall, and
# the run becomes so sensitive to the last digit that even our two twins,
# whose gradients differ around the 17th digit, drift apart. A few steps,
# outside the lesson's record (kept for twins meant to agree), show it:

# %%
wild = train(moons_twins(), x, y, steps=min(50, run.steps), lr=5.0, quiet=True)
drift = (wild.path_manual - wild.path_autograd).abs().max().item()
print(f"plain GD, η = 5: the loss went from {wild.loss_manual[0]:.2f} up to {max(wild.loss_manual):.3g}; after "
      f"{wild.steps} steps the twins' weights differ by up to {drift:.1g}")

# %% [markdown]
# The heavy ball takes the same effective step calmly. At effective step
# s = η/(1 − β) plain descent needs s·λ < 2, the heavy ball only
# s·λ < 2(1 + β)/(1 − β), which is 38 for β = 0.9. In steep directions its
# velocity averages the flip-flopping gradient away; along flat ones it
# adds the steady gradient up. That, and not extra speed at a given
# effective step, is what momentum buys.

# %% [markdown]
# ## Captions for course notes
# What `python -m toolkit figures` prints under each figure in the gallery's
# index: a caption for the notes and an alt text for readers who cannot see
# the image.

# %%
run.describe("momentum_paths",
             caption="d2l's valley f = 0.1·x₁² + 2·x₂², exactly, from (−5, −2), one run per panel, titled with its "
                     "η and effective step η/(1 − β). Plain gradient descent at η = 0.6 breaks ηλmax < 2 and is "
                     "thrown out; the heavy ball with β = 0.5 at η = 0.3, the same effective step, converges (at "
                     "η = 0.6 too: its limit is 2 + 2β = 3). With β = 0.9 the heavy ball swings past the minimum "
                     "and back; Nesterov's braking keeps the same β in check.",
             alt="Six contour maps of one long, flat valley in three rows of two, each with one blue path of "
                 "circles with vermillion crosses from a white square at the lower left. Top: plain gradient "
                 "descent runs smoothly to a star at the centre; at η = 0.6 one step flies up and a dashed arrow "
                 "leaves through the bottom edge to a black X. Middle: the heavy ball zigzags into the centre. "
                 "Bottom: wide loops back and forth past the centre for β = 0.9; Nesterov's swing less.")
run.describe("momentum_rates",
             caption=f"Lesson 03's bowl (κ = {kappa:.2f}): the distance to the minimum per step on a log scale for "
                     f"the best plain step and Polyak's best heavy ball, straight lines on their theoretical rates "
                     f"(dashed): (κ − 1)/(κ + 1) = {theory['plain GD']:.4f} per step without momentum, "
                     f"√β* = {theory['heavy ball']:.4f} with it, which reaches rounding noise in under half the steps.",
             alt="Two straight falling lines on a log axis against the step, a dark dashed theory line along each "
                 "and vermillion crosses on them: the heavy ball's plunges to the grey band of rounding noise by "
                 "step 50, plain gradient descent's reaches it near step 140; thick pale segments mark the fits.")
run.describe("effective_step",
             caption="Lesson 05's network and training points (one seed). At the same effective step η/(1 − β) = "
                     "0.5, plain gradient descent and the heavy ball (η = 0.05, β = 0.9) follow curves of the same "
                     "shape, momentum a little behind, and end with the same held-out accuracy. At η = 0.5, "
                     "β = 0.9 the effective step is ten times larger, and the loss falls much faster.",
             alt="Two panels of training loss on a log axis against the step, 0 to 200: a light blue and a green "
                 "curve that drop, rest on a plateau near 0.2 and fall slowly, the green one later; then the same "
                 "light blue curve beside a purple one that leaves the plateau early and falls far below it.")
run.finish()
