# %% [markdown]
# # 18 · Stepping with curvature: Newton, line search, preconditioning, L-BFGS
#
# Since lesson 02 the Hessian H has explained why gradient descent is slow: one
# step length is too long for steep directions and too short for flat ones, by
# κ = λmax/λmin. Here we step with curvature: Newton divides each direction by
# its own, a line search needs none, Adam is a rough diagonal Newton, and
# L-BFGS estimates H from the gradients it has already seen.

# %%
import math
from functools import partial

import torch

from toolkit import data, diagnose, landscape, lesson, manual, plots
from toolkit.console import BYTES, DURATIONS, in_units
from toolkit.exercises import explain, stop_student_version
from toolkit.landscape import (grid_around, hessian, largest_stable_lr, loss_along_path, loss_on_plane,
                               manual_gradient)
from toolkit.optim import LBFGS, Adam, LineSearchGD, RMSprop
from toolkit.train import twin_closures
from toolkit.twins import chain_twins_at, linear_twins_at, make_twins

# steps: the iterations of every method in the last race; each earlier run sets its own.
run = lesson.start("18_curvature", steps=40, lr=None)

# %% [markdown]
# ## Newton's step
# Near θ, L(θ + d) ≈ L(θ) + gᵀd + ½·dᵀH·d. For H positive definite this bowl
# is lowest where its slope g + H·d is zero: d = −H⁻¹·g, −g/λ along an
# eigenvector of curvature λ, long where the loss is flat, short where it is
# steep. One never forms H⁻¹; one solves H·d = −g.

# %%
def newton_direction(H, g):
    """d = −H⁻¹·g, the lowest point of the model gᵀd + ½ dᵀHd. H: (P, P), g: (P,); returns (P,)."""
    # exercise newton_direction: solve H·d = −g for d (torch.linalg.solve), without forming H⁻¹
    return torch.linalg.solve(H, -g)
    # end exercise


class Newton(torch.optim.Optimizer):
    """θ ← θ + lr·d with d = direction(H, g): H the loss's Hessian at θ, g the gradient in ``.grad``.

    hessian_at: θ (P,) -> H (P, P), the Hessian at any point (each twin asks it at its own θ).
    direction:  (H, g) -> d; Newton's by default.
    """

    def __init__(self, params, lr=1.0, *, hessian_at, direction=newton_direction):
        super().__init__(params, dict(lr=lr))
        self.hessian_at, self.direction = hessian_at, direction

    @torch.no_grad()
    def step(self, closure=None):
        params = self.param_groups[0]["params"]
        theta = torch.cat([p.reshape(-1) for p in params])
        g = torch.cat([p.grad.reshape(-1) for p in params])
        d = self.direction(self.hessian_at(theta), g)
        for p, piece in zip(params, d.split([p.numel() for p in params])):
            p.add_(self.param_groups[0]["lr"] * piece.view_as(p))


# %% [markdown]
# ## One step on lesson 02's valley, however narrow
# Lesson 02's loss is exactly quadratic in (w, b), so one Newton step must
# land on the least-squares minimum, on lesson 02's points and on the same
# points moved to x ∈ (5, 9), where the Hessian's off-diagonal Σx grows and κ
# explodes. Gradient descent at its best rate 2/(λmin + λmax) shrinks the gap
# L − L* by ((κ − 1)/(κ + 1))² per step (lesson 03).

# %%
QUADRATIC_STEPS = 100
line_x, line_y = data.noisy_line(n=40, slope=-1.0, intercept=2.0, noise=0.5, x_range=(-1.0, 3.0),
                                 seed=run.seed, device=run.device, dtype=run.dtype)
valleys = {"lesson 02's x": line_x, "x moved to (5, 9)": line_x + 6}

line_twins = partial(make_twins, [1, 1], loss=manual.MSELoss(), seed=run.seed, device=run.device, dtype=run.dtype)
quadratic, line, eye = {}, line_twins(), torch.eye(2, dtype=run.dtype, device=run.device)
for name, x in valleys.items():
    design = torch.cat([x, torch.ones_like(x)], dim=1)                    # (N, 2): the columns x and 1
    best = torch.linalg.lstsq(design, line_y).solution.flatten()          # θ* = (w*, b*)
    H = hessian(line.torch_net, line.torch_loss, x, line_y)             # the same at every (w, b)
    low, high = torch.linalg.eigvalsh(H).tolist()
    newton = run.train(line_twins(), x, line_y, lr=1.0, steps=3, optimizer=Newton, hessian_at=lambda theta, H=H: H,
                       label=f"valley, {name}: Newton", main=False)
    gd = run.train(line_twins(), x, line_y, lr=2 / (low + high), steps=QUADRATIC_STEPS,
                   label=f"valley, {name}: gradient descent at 2/(λmin + λmax)", main=False)
    q = quadratic[name] = {"kappa": high / low, "best": best, "newton": newton, "gd": gd,
                           "landed": (newton.path_manual[1] - best).norm().item() / best.norm().item(),
                           "gd_rate": ((high / low - 1) / (high / low + 1)) ** 2,
                           "best_loss": ((design @ best - line_y.flatten()) ** 2).mean().item()}   # L*
    print(f"{name}: κ = {q['kappa']:.4g}; one Newton step lands {q['landed']:.1e} (relative) from the minimum; "
          f"gradient descent's gap shrinks by {q['gd_rate']:.4f} per step and needs "
          f"{math.log(1e-10) / math.log(q['gd_rate']):.3g} steps to shrink it 10¹⁰ times")
    if q["landed"] > 100 * q["kappa"] * torch.finfo(run.dtype).eps:     # more than rounding: a wrong direction?
        g = manual_gradient(line, x, line_y)
        diagnosis = diagnose.diagnose_newton(newton_direction(H, g), H, g)
        if diagnosis is not None:
            explain(run, diagnosis, newton_direction)           # say which mistake it is, and stop a student's
    q["alphas"], q["betas"] = grid_around(torch.cat([gd.path_manual, newton.path_manual]), margin=0.15, include=best)
    q["Z"] = loss_on_plane(line.torch_net, line.torch_loss, x, line_y, center=0 * eye[0], d1=eye[0], d2=eye[1],
                           alphas=q["alphas"], betas=q["betas"])           # the exact loss over (w, b), to draw
run.record("newton_on_the_quadratic", {name: {"kappa": q["kappa"], "landed_relative": q["landed"],
                                              "gd_gap_rate": q["gd_rate"]} for name, q in quadratic.items()})
run.save(plots.curvature.newton_quadratic(quadratic, steps=QUADRATIC_STEPS), "newton_quadratic")

# %% [markdown]
# With κ hundreds of times larger, gradient descent's progress collapses;
# Newton does not notice. It pays otherwise: it needs H, and trusts the model.
#
# ## Newton on a saddle: lesson 09's chain
# Lesson 09's ŷ = w2·w1·x has a saddle at the origin and minima on the
# hyperbola w1·w2 = p*. Newton steps to where the model's slope vanishes,
# minimum or not: where H has a negative eigenvalue, it heads for the saddle.
# We start at (0.8, −0.6), with lesson 09's formulas for g and H (in
# a = mean(x²), c = mean(x·y); toolkit.landscape), checked by torch.func.

# %%
chain_x, chain_y = data.noisy_line(n=40, slope=2.0, intercept=0.0, noise=0.5, x_range=(-1.5, 1.5),
                                   seed=run.seed, device=run.device, dtype=run.dtype)
a, c, d = (chain_x * chain_x).mean().item(), (chain_x * chain_y).mean().item(), (chain_y * chain_y).mean().item()
best_product = c / a                                       # the valley floor: w1·w2 = p*


chain_twins = partial(chain_twins_at, device=run.device, dtype=run.dtype)     # (w1, w2) -> lesson 09's twins
chain_gradient = partial(landscape.chain_gradient, a=a, c=c)   # (2a·p − 2c)·(w2, w1) at points w (..., 2)
chain_hessian = partial(landscape.chain_hessian, a=a, c=c)     # [[2a·w2², 4a·p − 2c], [4a·p − 2c, 2a·w1²]]
CHAIN_START = (0.8, -0.6)
chain = chain_twins(*CHAIN_START)
run.check(chain, chain_x, chain_y)
start = torch.tensor(CHAIN_START, dtype=run.dtype, device=run.device)
gap = (chain_hessian(start) - hessian(chain.torch_net, chain.torch_loss, chain_x, chain_y)).abs().max().item()
start_curvatures = torch.linalg.eigvalsh(chain_hessian(start)).tolist()
print(f"at (0.8, −0.6): the formula's H and torch.func's differ by {gap:.1e}; "
      f"curvatures {start_curvatures[0]:+.3f} and {start_curvatures[1]:+.3f}")

# %% [markdown]
# **Saddle-free Newton** (Dauphin et al., 2014) divides each direction by the
# size of its curvature, |H| = V·|Λ|·Vᵀ from H = V·Λ·Vᵀ: along a negative one
# it steps downhill, −g/|λ|, not uphill. δ added to every |λ| bounds the step
# where a curvature crosses zero. (Damping, H + μ·I with μ > −λmin, is the
# other repair; near a saddle it is gradient descent with the step 1/μ.)

# %%
DELTA = 0.5


def spectral_direction(H, g, size):
    """d = −V·diag(1/size(λ))·Vᵀ·g from H = V·diag(λ)·Vᵀ. H: (..., P, P), g: (..., P); returns (..., P)."""
    curvatures, directions = torch.linalg.eigh(H)
    along = directions.mT @ g[..., None]                           # g's part along each eigenvector
    return -(directions @ (along / size(curvatures)[..., None]))[..., 0]


def saddle_free_direction(H, g, delta=DELTA):
    """d = −(|H| + δ·I)⁻¹·g: every curvature replaced by its size, |λ| + δ."""
    return spectral_direction(H, g, lambda curvatures: curvatures.abs() + delta)


chain_runs = {name: run.train(chain_twins(*CHAIN_START), chain_x, chain_y, lr=1.0, steps=20, optimizer=Newton,
                              hessian_at=chain_hessian, direction=direction, label=f"chain: {name}", main=False)
              for name, direction in {"Newton": newton_direction, "saddle-free Newton": saddle_free_direction}.items()}
chain_runs["gradient descent"] = run.train(chain_twins(*CHAIN_START), chain_x, chain_y, lr=0.2, steps=20,
                                           label="chain: gradient descent, lr = 0.2", main=False)
for name, history in chain_runs.items():
    w1, w2 = history.path_manual[-1].tolist()
    print(f"   {name}: after {history.steps} steps at ({w1:+.4f}, {w2:+.4f}), w1·w2 = {w1 * w2:.4f} "
          f"(p* = {best_product:.4f}), loss {history.final_loss_manual:.4f} (the saddle's {d:.4f})")

# %% [markdown]
# One start proves little: every start of a 61 × 61 grid over [−2.5, 2.5]²
# takes 25 steps of each kind at once (Newton's H⁻¹ also through the
# eigenvalues, so no singular H stops the batch), sorted by where it ends.

# %%
def destinations(direction, starts, steps=25):
    """Where each start (K, 2) ends: 0 at the saddle, 1 on the valley floor, 2 elsewhere (or nowhere finite)."""
    w = starts.clone()
    for _ in range(steps):
        w = w + direction(chain_hessian(w), chain_gradient(w))
    at_saddle = w.norm(dim=-1) < 1e-3
    on_floor = (w[..., 0] * w[..., 1] - best_product).abs() < 1e-6
    return torch.where(at_saddle, 0, torch.where(on_floor, 1, 2))


grid = torch.linspace(-2.5, 2.5, 61, dtype=run.dtype, device=run.device)
starts = torch.stack(torch.meshgrid(grid, grid, indexing="xy"), dim=-1)     # (61, 61, 2): [i, j] = (grid[j], grid[i])
basins = {"Newton": destinations(lambda H, g: spectral_direction(H, g, lambda curvatures: curvatures), starts),
          "saddle-free Newton": destinations(saddle_free_direction, starts)}
shares = {name: [(ends == k).double().mean().item() for k in range(3)] for name, ends in basins.items()}
for name, (saddle, floor, elsewhere) in shares.items():
    print(f"{name}: of {starts[..., 0].numel()} starts, {saddle:.0%} end at the saddle, {floor:.0%} on the "
          f"valley floor, {elsewhere:.0%} elsewhere")
run.record("chain", {"start": list(CHAIN_START), "delta": DELTA, "shares": shares,
                     "ends": {name: h.path_manual[-1].tolist() for name, h in chain_runs.items()}})
run.save(plots.curvature.newton_saddle(chain_runs, basins, grid, loss=(a, c, d), saddle=(0.0, 0.0),
                                      best_product=best_product), "newton_saddle")

# %% [markdown]
# ## What the Hessian costs
# P parameters have P² second derivatives to store, and solving H·d = −g (by
# Cholesky) takes about P³/3 multiply-adds, every step; torch.func's Hessian
# alone costs about P gradients. L-BFGS, below, keeps m pairs of P numbers.

# %%
networks = {"lesson 05's network": 2 * 16 + 16 + 16 * 16 + 16 + 16 * 2 + 2, "ResNet-50": 25.6e6,
            "GPT-2 small": 124e6, "a 7-billion-parameter language model": 7e9}
costs = {}
for name, P in networks.items():
    memory, operations = 4 * P * P, P ** 3 / 3       # float32 entries; multiply-adds of a Cholesky solve
    seconds = operations / 1e15                       # at 10¹⁵ per second, a large GPU at its peak
    costs[name] = {"parameters": P, "hessian_bytes": memory, "solve_operations": operations, "solve_seconds": seconds}
    print(f"{name:>38}: P = {P:.3g}; H takes {in_units(memory, BYTES)}, one solve {operations:.2g} operations, "
          f"{in_units(seconds, DURATIONS)} at 10¹⁵/s; L-BFGS with m = 10 keeps {in_units(4 * 2 * 10 * P, BYTES)}")
run.record("hessian_cost", costs)

# %% [markdown]
# ## A step length without the curvature: backtracking
# A line search needs only loss values: try a long step t along a downhill d
# and halve it until the loss drops by Armijo's condition
#
#     L(θ + t·d) ≤ L(θ) + c·t·gᵀd          (0 < c < 1; gᵀd < 0 downhill)
#
# a fraction c of what the tangent L(θ) + t·gᵀd promises; a short enough step
# always passes (udlbook 6.1; d2l 12.3; Boyd & Vandenberghe §9.2). Here
# c = 0.25, on the race's network: 16 tanh units fit a noisy sine, 49 parameters.

# %%
ARMIJO_C, SHRINK, FIRST_TRY = 0.25, 0.5, 4.0


def backtracking(loss_at, theta, loss, g, d, t=FIRST_TRY, c=ARMIJO_C, shrink=SHRINK, tries=40):
    """The first of t, t·shrink, t·shrink², ... that passes Armijo's test L(θ + t·d) ≤ L(θ) + c·t·gᵀd.

    loss_at: θ (P,) -> L(θ), a float; loss = L(θ). Returns (t, tried): the step accepted (0.0 if none
    of ``tries`` passes) and every (t, L(θ + t·d)) tried, in order.
    """
    slope = float(g @ d)                                  # gᵀd < 0 for a downhill d
    tried = []
    # exercise backtracking: try t, then t·shrink, ...: return the first t with L(θ + t·d) ≤ L(θ) + c·t·gᵀd
    for _ in range(tries):
        value = loss_at(theta + t * d)
        tried.append((t, value))
        if value <= loss + c * t * slope:
            return t, tried
        t = shrink * t
    return 0.0, tried
    # end exercise


sine_x, sine_y = data.noisy_sine(n=40, frequency=2.0, noise=0.1, seed=run.seed, device=run.device, dtype=run.dtype)

sine_twins = partial(make_twins, [1, 16, 1], activation="tanh", loss=manual.MSELoss(), seed=run.seed,
                     device=run.device, dtype=run.dtype)
net = sine_twins()
run.check(net, sine_x, sine_y)
theta0 = torch.cat([p.detach().reshape(-1) for p in net.torch_net.parameters()])
net_loss = net.manual_loss(net.manual_net(sine_x), sine_y)
g0 = manual_gradient(net, sine_x, sine_y)                 # the hand-written gradient, as one vector
slope0 = -(g0 @ g0).item()                                 # gᵀd for d = −g


def sine_loss_at(theta):
    return loss_along_path(net.torch_net, net.torch_loss, sine_x, sine_y, theta[None])[0].item()


searches = {c: backtracking(sine_loss_at, theta0, net_loss.item(), g0, -g0, c=c) for c in (ARMIJO_C, 0.9)}
(accepted, tried), strict = searches[ARMIJO_C], searches[0.9]      # c = 0.9: a stricter test, obeyed too
print(f"tried {len(tried)} steps {[t for t, _ in tried]}, accepted t = {accepted:g}")
print(f"at t = {accepted:g}: L = {tried[-1][1]:.6f} ≤ L(θ) + c·t·gᵀd = {net_loss.item():.6f} + "
      f"{ARMIJO_C}·{accepted:g}·({slope0:.4f}) = {net_loss.item() + ARMIJO_C * accepted * slope0:.6f}")
print(f"with c = 0.9 the search accepts t = {strict[0]:g} after {len(strict[1])} tries")
problem = next(filter(None, (diagnose.backtracking_problem(*searches[c], net_loss.item(), slope0, c, FIRST_TRY,
                                                           SHRINK) for c in searches)), None)
if problem:
    print(f"THE LINE SEARCH IS WRONG: {problem}")
    stop_student_version(run, "exercise backtracking")
slice_t = torch.linspace(0, FIRST_TRY * 1.04, 161, dtype=run.dtype, device=run.device)
slice_losses = loss_along_path(net.torch_net, net.torch_loss, sine_x, sine_y, theta0 - slice_t[:, None] * g0)
run.record("line_search", {"tried": tried, "accepted": accepted, "loss": net_loss.item(), "slope": slope0,
                           "c": ARMIJO_C, "strict": {"c": 0.9, "accepted": strict[0], "tries": len(strict[1])}})
run.save(plots.curvature.line_search(slice_t, slice_losses, tried, accepted, net_loss.item(), slope0, ARMIJO_C,
                                    zoom=2.2 * accepted), "line_search")

# %% [markdown]
# ## Adam as a diagonal Newton
# RMSprop and Adam (lesson 11) step −lr·D⁻¹·g with D = diag(√v̂ + ε): a
# **preconditioner**, a matrix where Newton has H. That is gradient descent
# on a stretched problem with Hessian D^(−½)·H·D^(−½), whose κ is what
# matters. On lesson 07's valley 0.1·x₁² + 2·x₂², H = diag(0.2, 4), κ = 20;
# we run both at lesson 11's settings and rebuild D at every step from g = H·θ.

# %%
valley_x = torch.tensor([[math.sqrt(0.2), 0.0], [0.0, 2.0]], dtype=run.dtype, device=run.device)
valley_y = torch.zeros(2, 1, dtype=run.dtype, device=run.device)
valley_H = torch.diag(torch.tensor([0.2, 4.0], dtype=run.dtype, device=run.device))
adaptive = {"RMSprop, lr = 0.4, α = 0.9": (RMSprop, {"lr": 0.4, "alpha": 0.9}, 0.9, False),
            "Adam, lr = 0.3": (Adam, {"lr": 0.3}, 0.999, True)}
conditioning = {}
for name, (optimizer, options, beta2, corrected) in adaptive.items():
    twins = linear_twins_at([[-5.0, -2.0]], manual.MSELoss(), seed=run.seed, device=run.device, dtype=run.dtype)
    history = run.train(twins, valley_x, valley_y, optimizer=optimizer, label=f"valley: {name}", main=False, **options)
    v, kappas = torch.zeros(2, dtype=run.dtype, device=run.device), []
    for t, theta in enumerate(history.path_manual[:-1], start=1):
        g = valley_H @ theta
        v = beta2 * v + (1 - beta2) * g * g
        D = (v / (1 - beta2 ** t) if corrected else v).sqrt() + 1e-8
        scaled = torch.linalg.eigvalsh(valley_H / torch.outer(D.sqrt(), D.sqrt()))   # D^(−½)·H·D^(−½)
        kappas.append((scaled[-1] / scaled[0]).item())
    conditioning[name] = kappas
    print(f"{name}: κ of the preconditioned valley {kappas[0]:.3g} at the first step, "
          f"between {min(kappas):.3g} and {max(kappas):.3g} over {len(kappas)} steps (raw: 20)")

# %% [markdown]
# Without a second derivative, κ falls from 20 to 2.5–4: √v̂ ≈ |g| = λ·|θ|
# follows the curvature along each axis, but only along the axes. Lesson 02's
# valley lies diagonally; even D = diag(H) stays far from Newton's κ = 1:

# %%
diagonal = {}
for name, x in valleys.items():
    H = hessian(line.torch_net, line.torch_loss, x, line_y)
    jacobi = torch.diag(H).rsqrt()                                    # D = diag(H): each axis's own curvature
    raw, scaled = torch.linalg.eigvalsh(H), torch.linalg.eigvalsh(jacobi[:, None] * H * jacobi[None, :])
    diagonal[name] = ((raw[-1] / raw[0]).item(), (scaled[-1] / scaled[0]).item())
    print(f"{name}: κ = {diagonal[name][0]:.4g}; with D = diag(H), κ = {diagonal[name][1]:.4g}; Newton's is 1")
run.record("preconditioning", {"valley_kappas": conditioning, "lesson_02_valleys": diagonal})
run.save(plots.curvature.preconditioning(conditioning, diagonal, raw=20.0), "preconditioning")

# %% [markdown]
# ## L-BFGS: curvature from the gradients already seen
# A step s = θ_new − θ_old changes the gradient by y = g_new − g_old ≈ H·s.
# L-BFGS keeps the last m pairs and turns −g into a direction d by the
# two-loop recursion, 4·m·P multiply-adds (Nocedal & Wright, algorithm 7.4),
# one formula per line in `toolkit.optim.LBFGS`, in torch's order. One
# `step(closure)` runs up to `max_iter` iterations of t = lr along d (half of
# torch's default 1, which can overshoot on a network). `line_search_fn=
# "strong_wolfe"` is refused with a ValueError. Ours on the hand-written twin
# against torch's on the torch.nn twin, three calls of five iterations:

# %%
LBFGS_LR = 0.5
ours_twins, torch_twins = sine_twins(), sine_twins()
ours = LBFGS(ours_twins.manual_net.parameters(), lr=LBFGS_LR, max_iter=5)
theirs = torch.optim.LBFGS(torch_twins.torch_net.parameters(), lr=LBFGS_LR, max_iter=5)
by_hand, by_autograd = twin_closures(ours_twins, sine_x, sine_y)[0], twin_closures(torch_twins, sine_x, sine_y)[1]
lbfgs_gap = 0.0
for call in range(1, 4):
    losses = ours.step(by_hand).item(), theirs.step(by_autograd).detach().item()
    gap = max((p - q).abs().max().item() for p, q in zip(ours_twins.manual_net.parameters(),
                                                          torch_twins.torch_net.parameters()))
    lbfgs_gap = max(lbfgs_gap, gap)
    print(f"step {call}: loss {losses[0]:.10f} (ours) {losses[1]:.10f} (torch); parameters apart by at most {gap:.1e}")
run.record("lbfgs_against_torch", {"calls": 3, "max_iter": 5, "lr": LBFGS_LR, "largest_gap": lbfgs_gap})

# %% [markdown]
# ## The race, counted in evaluations
# Four methods from one start, each at its best of a few settings: gradient
# descent at lr = 0.1, 0.2 or 0.3 (2/λmax is 0.29 at the start); with
# backtracking at every step; L-BFGS at lr = 0.5, one iteration per step;
# saddle-free Newton at δ = 0.1 or 0.5. Each pays a gradient per step, plus a
# loss per step length tried, plus a Hessian (about P = 49 gradients); one seed.

# %%
made = []                                     # both twins' LineSearchGD (toolkit.optim), to read their counts


def line_search(params, **options):
    made.append(LineSearchGD(params, search=backtracking, **options))
    return made[-1]


P, NEWTON_STEPS = sum(p.numel() for p in net.torch_net.parameters()), 12
print(f"at the start 2/λmax = {largest_stable_lr(net.torch_net, net.torch_loss, sine_x, sine_y)[0]:.3g}")
sweep = {lr: run.train(sine_twins(), sine_x, sine_y, lr=lr, label=f"race: gradient descent, lr = {lr:g}", main=False)
         for lr in (0.1, 0.2, 0.3)}
best_lr = min(sweep, key=lambda lr: sweep[lr].final_loss_manual)
searched = run.train(sine_twins(), sine_x, sine_y, lr=FIRST_TRY, optimizer=line_search,
                     label="race: gradient descent with backtracking", main=False)
lbfgs = run.train(sine_twins(), sine_x, sine_y, lr=LBFGS_LR, optimizer=LBFGS, max_iter=1, label="race: L-BFGS")
newtons = {delta: run.train(sine_twins(), sine_x, sine_y, lr=1.0, steps=NEWTON_STEPS, optimizer=Newton, main=False,
                            hessian_at=lambda theta: hessian(net.torch_net, net.torch_loss, sine_x, sine_y,
                                                             theta=theta),
                            direction=lambda H, g, delta=delta: saddle_free_direction(H, g, delta),
                            label=f"race: saddle-free Newton, δ = {delta:g}")
           for delta in (0.1, DELTA)}
best_delta = min(newtons, key=lambda delta: newtons[delta].final_loss_manual)
race = {f"gradient descent, lr = {best_lr:g}": (sweep[best_lr], [1] * run.steps),     # evaluations per step
        "gradient descent + backtracking": (searched, made[0].evaluations),
        f"L-BFGS, lr = {LBFGS_LR:g}": (lbfgs, [1] * lbfgs.steps),
        f"saddle-free Newton, δ = {best_delta:g}": (newtons[best_delta], [1 + P] * NEWTON_STEPS)}
counted = {}
for name, (history, evaluations) in race.items():
    total = [1, *(1 + torch.tensor(evaluations).cumsum(0)).tolist()]   # evaluations made when each loss is known
    counted[name] = {"history": history, "evaluations": total}
    print(f"{name}: loss {history.path_losses()[0][-1]:.5f} after {history.steps} steps and {total[-1]} "
          f"gradient evaluations")
lbfgs_drift = [max(step.values()) for step in lbfgs.grad_diff]
print(f"the line search's twins tried the same steps: {made[0].evaluations == made[1].evaluations}; L-BFGS's twins' "
      f"gradients differ by {lbfgs_drift[0]:.0e} at the first step and by {max(lbfgs_drift):.0e} at most")
run.record("race", {name: {"final_loss": value["history"].path_losses()[0][-1], "evaluations": value["evaluations"][-1]}
                    for name, value in counted.items()} | {"parameters": P, "gd_sweep": list(sweep)})
run.save(plots.curvature.race(counted), "race")

# %% [markdown]
# L-BFGS's twins part more than the others' (it divides by yᵀs, each step
# building on the last): from about 10⁻¹⁷ to just under 10⁻¹² after 40 steps.
# Newton wins per step, loses per evaluation, and cannot start on a real
# network. L-BFGS gets much of its speed at gradient descent's price on smooth
# full-batch problems; on mini-batches its y mixes curvature with noise.

# %% [markdown]
# ## Captions for course notes

# %%
(first, moved), landed = quadratic.values(), max(q["landed"] for q in quadratic.values())
run.describe("newton_quadratic",
             caption=f"Lesson 02's line fit, whose loss is exactly quadratic, on its own points "
                     f"(κ = {first['kappa']:.3g}) and moved to x ∈ (5, 9) (κ = {moved['kappa']:,.0f}). One Newton step "
                     f"lands on the least-squares minimum in both (to {landed:.0e} of its size); gradient descent at "
                     f"2/(λmin + λmax) crawls along the floor, its loss gap on the dashed line ((κ − 1)/(κ + 1))² "
                     f"per step, {moved['gd_rate']:.4f} for the moved valley. Both twins coincide (a cross in each "
                     f"circle).",
             alt="Two contour maps of diagonal valleys, the second far narrower: black gradient-descent paths "
                 "zigzag to the floor, a purple Newton path jumps from the white start square onto the white plus "
                 "of the minimum. Right: loss gaps on a log axis per step; Newton's fall to the rounding line in one "
                 "step, gradient descent's along a dashed theory line for lesson 02's valley, hardly at all moved.")
run.describe("newton_saddle",
             caption=f"Lesson 09's chain ŷ = w₂·w₁·x. Left: from (0.8, −0.6), where H has a negative curvature, "
                     f"Newton goes to the saddle and stays; saddle-free Newton (|λ| + δ, δ = {DELTA:g}) and gradient "
                     f"descent (lr = 0.2) reach the valley floor. Middle, right: where 25 steps take each start of a "
                     f"61 × 61 grid: Newton sends {shares['Newton'][0]:.0%} to the saddle, saddle-free Newton "
                     f"{shares['saddle-free Newton'][0]:.0%} (the line w₁ = −w₂, which leads into it). Twins coincide.",
             alt="Three square maps over w1, w2 in [−2.5, 2.5] with dashed white hyperbolas (the valley floor) and a "
                 "diamond at the origin (the saddle). Left: contours, a short purple path into the diamond, green "
                 "and black paths to the upper-right branch. Middle: a large purple region around the origin, the "
                 "starts Newton sends to the saddle. Right: almost all light blue (the floor), one purple diagonal.")
run.describe("line_search",
             caption=f"Backtracking at the start of the sine network's training ({P} parameters), along d = −g: the "
                     f"loss on that line (black), its tangent (dotted) and Armijo's line, c = {ARMIJO_C:g} (dashed). "
                     f"The steps t = {FIRST_TRY:g}, {FIRST_TRY * SHRINK:g}, ... halve until one lands on or below "
                     f"Armijo's line: t = {accepted:g}, where L = {tried[-1][1]:.4f} ≤ "
                     f"{net_loss.item() + ARMIJO_C * accepted * slope0:.4f}. Right: the last steps enlarged.",
             alt="Two panels of the loss against the step length t. Left, t from 0 to 4: a steeply rising curve, "
                 "white circles at t = 4, 2 and 1 high above a dashed, slowly falling line. Right, t up to about "
                 "0.55: the curve dips and rises, a white circle at t = 0.5 above the dashed line, a green one at "
                 "t = 0.25 just below it, and a dotted tangent falling steeply from t = 0.")
everywhere = [k for values in conditioning.values() for k in values]
(_, first_jacobi), (_, moved_jacobi) = diagonal.values()
run.describe("preconditioning",
             caption=f"RMSprop's and Adam's √v̂ + ε as a diagonal preconditioner D. Left: on lesson 07's valley "
                     f"(κ = 20) D^(−½)·H·D^(−½) has κ between {min(everywhere):.2g} and {max(everywhere):.2g} at "
                     f"every step, without a second derivative. Right: no diagonal D undoes a diagonal valley: on "
                     f"lesson 02's, D = diag(H) leaves κ = {first_jacobi:.3g} and {moved_jacobi:,.0f}; Newton's D = H "
                     f"leaves 1.",
             alt="Left: two curves on a log axis against the step, between 2 and 5, below a dashed line at 20 and "
                 "above a dotted line at 1. Right: grouped log-scale bars for two valleys: raw κ about 8 and 3000, "
                 "diag(H) lower (6.8 and 227), Newton's at 1.")
run.describe("race",
             caption=f"Four methods on the sine network ({P} parameters), one seed, both twins drawn (they coincide). "
                     f"Left: loss per gradient evaluation: gradient descent at the best of lr = 0.1, 0.2, 0.3 "
                     f"({best_lr:g}); with backtracking, {sum(made[0].evaluations) / len(made[0].evaluations):.2g} "
                     f"evaluations per step; L-BFGS at lr = {LBFGS_LR:g}; saddle-free Newton at the better of δ = 0.1 "
                     f"and 0.5 ({best_delta:g}), a Hessian charged P = {P}. Right: per step. Newton is best per step, "
                     f"worst per evaluation; L-BFGS gets close to Newton at the price of gradient descent.",
             alt="Two panels of loss on a log axis. Left, against evaluations (log): wine-red L-BFGS drops below "
                 "0.01 within 40; black and light-blue gradient descent stay above 0.1; green Newton gets lowest "
                 "only after hundreds. Right, per step: green Newton fastest, wine-red next, the other two slowly.")
run.finish()
