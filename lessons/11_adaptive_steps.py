# %% [markdown]
# # 11 · Adaptive steps: RMSprop, Adam, AdamW
#
# Every optimiser so far shared one learning rate among all parameters, and
# lesson 03 showed the price: the rate must suit the steepest direction, so
# the flat ones crawl. The adaptive methods give each parameter a step size
# of its own: divide its gradient by a running measure of how large that
# gradient has been, and the steps come out of much the same length in every
# direction. We write Adam's step by hand, watch four optimisers walk down
# lesson 07's valley, race them fairly on lesson 05's network, and end with
# where the weight decay goes: the difference between Adam and AdamW.

# %%
import math

import torch

from toolkit import data, lesson, manual, plots
from toolkit.exercises import check_adam_step
from toolkit.landscape import grid_around, loss_on_plane
from toolkit.optim import SGD, Adam, AdamW, RMSprop
from toolkit.parameters import flatten
from toolkit.sweep import sweep
from toolkit.twins import linear_twins_at, make_twins

# lr: Adam's learning rate on lesson 05's network (the main run); every other run sets its own.
run = lesson.start("11_adaptive_steps", steps=150, lr=0.03)

# %% [markdown]
# ## RMSprop: divide by the gradient's recent size
# RMSprop keeps, per parameter, a running mean v (from 0) of the squared
# gradient and divides the gradient by its root:
#
#     v ← α·v + (1 − α)·g²
#     θ ← θ − lr · g / (√v + ε)
#
# √v is the root mean square of roughly the last 1/(1 − α) gradients: if a
# gradient keeps its size, g/√v is about ±1 whatever that size, and the step
# about lr in every direction. ε (10⁻⁸) keeps the division finite.
#
# ## Adam: momentum over RMSprop, corrected for the start
# Adam also keeps a running mean m of the gradient (lesson 07's velocity,
# averaged instead of summed) and divides it by the root of v:
#
#     m ← β₁·m + (1 − β₁)·g            m̂ = m / (1 − β₁ᵗ)
#     v ← β₂·v + (1 − β₂)·g²           v̂ = v / (1 − β₂ᵗ)
#     θ ← θ − lr · m̂ / (√v̂ + ε)
#
# with torch's defaults (and ours) β₁ = 0.9, β₂ = 0.999, ε = 10⁻⁸. Both means
# start at 0, so early on they are too small: for a gradient that stays the
# same, m = (1 − β₁ᵗ)·g at step t, which dividing by (1 − β₁ᵗ) undoes; the
# same for v. So at step 1, m̂ = g and v̂ = g², and every parameter moves by
# lr·g/(|g| + ε): lr times the sign of its gradient, whatever its size. Here
# is that step on plain tensors, the exercise of this lesson:

# %%
def adam_step(theta, g, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    """One Adam step for one parameter tensor; returns the new (theta, m, v).

    theta, g, m, v: tensors of one shape (the parameter, its gradient and the
    two running means, which start as zeros); t: this step's number, from 1.
    """
    # exercise adam_step: update the running means m and v, correct them for their start at 0, and step theta
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g ** 2
    m_hat = m / (1 - beta1 ** t)
    v_hat = v / (1 - beta2 ** t)
    theta = theta - lr * m_hat / (v_hat.sqrt() + eps)
    return theta, m, v
    # end exercise


# %% [markdown]
# ## Checking the step on lesson 07's valley
# f(x₁, x₂) = 0.1·x₁² + 2·x₂² as lesson 07 built it: `Linear(2, 1)` without a
# bias, whose weight is the point (x₁, x₂), fed the inputs (√0.2, 0) and
# (0, 2) with targets 0 under the mean squared error. At (−5, −2) its gradient
# (0.2·x₁, 4·x₂) is (−1, −8): the steep direction pulls eight times harder,
# though the flat one is 2.5 times farther from home. Three walkers start
# there with lr = 0.3: the hand-written network stepped by `adam_step`, a
# copy by `toolkit.optim.Adam`, the `torch.nn` twin by `torch.optim.Adam`,
# each with a gradient of its own. After every step all three must stand on
# the same point, up to rounding.

# %%
START, ADAM_VALLEY_LR = [-5.0, -2.0], 0.3
valley_x = torch.tensor([[math.sqrt(0.2), 0.0], [0.0, 2.0]], dtype=run.dtype, device=run.device)
valley_y = torch.zeros(2, 1, dtype=run.dtype, device=run.device)
VALLEY_STEPS = min(run.steps, 40)


def valley_twins():
    """f as a network, as lesson 07 built it: Linear(2, 1) without a bias, starting at START."""
    return linear_twins_at([START], manual.MSELoss(), seed=run.seed, device=run.device, dtype=run.dtype)


def gradient_by_hand(twins, x, y):
    """The loss of the hand-written network at its current weights, with dL/dθ left in .grad."""
    twins.manual_net.zero_grad()
    loss = twins.manual_loss(twins.manual_net(x), y)
    twins.manual_net.backward(twins.manual_loss.backward(), input_grad=False)
    return loss


valley = valley_twins()
run.check(valley, valley_x, valley_y)
by_hand, by_library = valley_twins(), valley_twins()
weight = by_hand.manual_net[0].weight
m, v = torch.zeros_like(weight), torch.zeros_like(weight)
ours = Adam(by_library.manual_net.parameters(), lr=ADAM_VALLEY_LR)
torchs = torch.optim.Adam(by_hand.torch_net.parameters(), lr=ADAM_VALLEY_LR, foreach=False)
largest = 0.0           # the largest |difference| between the three at any step
v_hats = []             # adam_step's v̂ = v/(1 − β₂ᵗ) after every step
for t in range(1, VALLEY_STEPS + 1):
    gradient_by_hand(by_hand, valley_x, valley_y)
    gradient_by_hand(by_library, valley_x, valley_y)
    torchs.zero_grad()
    by_hand.torch_loss(by_hand.torch_net(valley_x), valley_y).backward()
    with torch.no_grad():
        new_weight, m, v = adam_step(weight, weight.grad, m, v, t, lr=ADAM_VALLEY_LR)
        if t == 1:
            first_step = (new_weight - weight).flatten()
        weight.copy_(new_weight)
    ours.step()
    torchs.step()
    for other in (weight, by_library.manual_net[0].weight):         # a NaN counts as the largest gap
        largest = max(largest, (other - by_hand.torch_net[0].weight).abs().max().nan_to_num(nan=math.inf).item())
    v_hats.append((v / (1 - 0.999 ** t)).flatten())

agree = largest <= 1e-12
print(f"after {VALLEY_STEPS} steps: adam_step, toolkit.optim.Adam and torch.optim.Adam differed by at most "
      f"{largest:.1e} at any step: " + ("they agree" if agree else "THEY DISAGREE: look at adam_step again"))
run.record("adam_step_check", {"steps": VALLEY_STEPS, "largest_difference": largest if math.isfinite(largest) else None,
                               "agree": agree})
if not agree:
    check_adam_step(run, adam_step, lr=ADAM_VALLEY_LR)   # names the mistake; a student's version stops here
print(f"the first step: Δθ = ({first_step[0].item():.10f}, {first_step[1].item():.10f}); the gradient was (−1, −8), "
      f"so lr·g/(|g| + ε) = ({ADAM_VALLEY_LR / (1 + 1e-8):.10f}, {ADAM_VALLEY_LR * 8 / (8 + 1e-8):.10f})")

# %% [markdown]
# Both coordinates moved by 0.3 (short by lr·ε/(|g| + ε) ≤ 3·10⁻⁹): the
# gradient's eight-to-one ratio is gone, where gradient descent at lr = 0.4
# would move them by 0.4 and 3.2. From here on the library's `Adam` works
# inside `run.train`, which checks the twins against each other every step.
#
# ## Four walkers on one valley
# Gradient descent and the heavy ball (β = 0.5) at lr = 0.4, as in lesson 07;
# RMSprop at d2l's settings, lr = 0.4 and α = 0.9; Adam at lr = 0.3; all on
# the exact contour of f (the weight is the point: nothing is projected).

# %%
GD, ADAM = "gradient descent, lr = 0.4", f"Adam, lr = {ADAM_VALLEY_LR:g}"
walkers = {
    GD: (SGD, {"lr": 0.4}),
    "momentum β = 0.5, lr = 0.4": (SGD, {"lr": 0.4, "momentum": 0.5}),
    "RMSprop α = 0.9, lr = 0.4": (RMSprop, {"lr": 0.4, "alpha": 0.9}),
    ADAM: (Adam, {"lr": ADAM_VALLEY_LR}),
}
valley_runs = {name: run.train(valley_twins(), valley_x, valley_y, steps=VALLEY_STEPS, optimizer=optimizer,
                               label=f"valley: {name}", main=False, **options)
               for name, (optimizer, options) in walkers.items()}
if valley_runs["RMSprop α = 0.9, lr = 0.4"].steps >= 20:
    x1, x2 = valley_runs["RMSprop α = 0.9, lr = 0.4"].path_manual[20].tolist()
    print(f"RMSprop after 20 steps: ({x1:.6f}, {x2:.6f}); d2l, whose ε sits inside the root, "
          "prints (−0.010599, 0.000000)")
print(f"after {VALLEY_STEPS} steps, the distance from the minimum: "
      + "; ".join(f"{name}: {history.path_manual[-1].norm().item():.3g}" for name, history in valley_runs.items()))

alphas, betas = grid_around(torch.cat([h.path_manual for h in valley_runs.values()]), margin=0.08)
eye = torch.eye(2, dtype=run.dtype, device=run.device)
Z = loss_on_plane(valley.torch_net, valley.torch_loss, valley_x, valley_y, center=0 * eye[0], d1=eye[0], d2=eye[1],
                  alphas=alphas, betas=betas)
run.save(plots.adaptive_steps.adaptive_paths(alphas, betas, Z, valley_runs, xlabel="x₁ (flat)", ylabel="x₂ (steep)",
                                             note=f"f = 0.1·x₁² + 2·x₂², {VALLEY_STEPS} steps"), "adaptive_paths")

# %% [markdown]
# Gradient descent's first step is eight times longer across the valley than
# along: it zigzags across and creeps along; the heavy ball zigzags too, but
# gathers speed along the floor. RMSprop and Adam set off along the diagonal,
# RMSprop with 1.26 in each coordinate, three times its lr: after one step
# v = (1 − α)·g², so g/√v = 1/√(1 − α) ≈ 3.2, the start-up error Adam's
# correction removes. Adam carries its momentum past the floor, swings in a
# wide arc past the minimum and turns back: its steps stay about lr long
# while the gradient keeps its sign, where gradient descent's shrink with the
# gradient. After 40 steps it is still swinging back, 0.44 from the minimum,
# with steps about 0.05 long; lesson 12's schedules, which shrink lr as
# training goes on, are one way to make it settle. Each walker has a rate of
# its own: this picture shows shapes; which is faster needs the fair race.
#
# ## How long is each step?
# Left: how far each coordinate moved per step; over the first ten steps
# gradient descent's longer step is on average 3.5 times its shorter one,
# Adam's 1.2 times. Right: Adam's step size per coordinate, lr/(√v̂ + ε),
# from `adam_step`'s v̂. At step 1 it is lr/|g|: 0.3 along x₁ and
# 0.3/8 = 0.0375 across, so both steps are 0.3 long.

# %%
step_size = ADAM_VALLEY_LR / (torch.stack(v_hats).cpu().sqrt() + 1e-8)        # (steps, 2)
early = min(10, valley_runs[GD].steps, valley_runs[ADAM].steps)
moves = {name: valley_runs[name].path_manual[:early + 1].diff(dim=0).abs() for name in (GD, ADAM)}   # (early, 2)
step_ratios = {key: (moves[name].max(dim=1).values / moves[name].min(dim=1).values).mean().item()
               for key, name in (("gradient_descent", GD), ("adam", ADAM))}      # longer step / shorter, on average
print(f"Adam's step size at step 1: {step_size[0, 0].item():.6f} along x₁, {step_size[0, 1].item():.6f} across; "
      f"the longer coordinate's step over the shorter one's, first {early} steps, on average: gradient descent "
      f"{step_ratios['gradient_descent']:.3g}, Adam {step_ratios['adam']:.3g}")
run.record("step_length_ratio", {"steps": early, **step_ratios})
run.save(plots.adaptive_steps.adaptive_step_sizes(
    {name: valley_runs[name] for name in (GD, ADAM)}, step_size, coordinates=["x₁ (flat)", "x₂ (steep)"],
    first=[ADAM_VALLEY_LR / 1.0, ADAM_VALLEY_LR / 8.0],
    references=[(ADAM_VALLEY_LR, f"Adam's lr = {ADAM_VALLEY_LR:g}"), (0.4, "gradient descent: lr = 0.4, both")]),
    "step_sizes")

# %% [markdown]
# ## A network: lesson 05's two moons
# Lesson 05's 2-16-16-2 tanh network on its 400 moons, split by the seed into
# 200 to train on and 200 held out (`data.split`); every run trains on all
# 200 training points at once. Adam's first step, on all 354 parameters:
# their gradients span several decades, yet each moves by lr times the sign
# of its gradient, short of it by at most lr·ε/|g|.

# %%
def moons_data(seed):
    """Lesson 05's moons for ``seed``: ((x, y) to train on, (x, y) held out), 200 each."""
    points, labels = data.two_moons(n=400, noise=0.15, seed=seed, device=run.device, dtype=run.dtype)
    return data.split(points, labels, held_out=200, seed=seed)


def moons_twins(seed=None):
    """Lesson 05's 2-16-16-2 tanh twins, started by ``seed`` (default: the lesson's)."""
    return make_twins([2, 16, 16, 2], activation="tanh", loss=manual.CrossEntropyLoss(),
                      seed=run.seed if seed is None else seed, device=run.device, dtype=run.dtype)


(x, y), (x_held, y_held) = moons_data(run.seed)
moons = moons_twins()
run.check(moons, x, y)
gradient_by_hand(moons, x, y)
gradient = torch.cat([p.grad.flatten() for p in moons.manual_net.parameters()])
before = flatten(moons.manual_net.named_parameters())
Adam(moons.manual_net.parameters(), lr=run.lr).step()
moved = flatten(moons.manual_net.named_parameters()) - before
off_sign = (moved + run.lr * gradient.sign()).abs().max().item()
bound = (run.lr * 1e-8 / gradient.abs()).max().item()
print(f"|g| at the start ranges from {gradient.abs().min().item():.1e} to {gradient.abs().max().item():.1e}; after "
      f"one Adam step every |Δθ| lies within {off_sign:.1e} of lr = {run.lr:g} (the bound lr·ε/min|g| is {bound:.1e})")
run.record("adam_first_step", {"lr": run.lr, "largest_gap_to_lr_sign_g": off_sign, "bound": bound})

# %% [markdown]
# ## A fair race
# Which optimiser trains this network fastest? One lr for all would compare
# step sizes, not methods: momentum with β = 0.9 moves like gradient descent
# with the effective step lr/(1 − β) (lesson 07), and Adam's lr is roughly
# how far a parameter moves per step. So each gets the best of three rates
# about three times apart (the heavy ball's effective steps 3, 10 and 30
# overlap gradient descent's 1, 3 and 10), each with five seeds (start, moons
# and split). `toolkit.sweep` trains all these torch twins at once with
# `torch.func.vmap`. The score: the training loss after 150 steps, its
# geometric mean over the seeds (they differ by decades).

# %%
SEEDS = list(range(run.seed, run.seed + 5))
DECAY = 0.01
RACE = {     # optimiser: (class, options, the rates tried, the factor from lr to the effective step)
    "gradient descent": (SGD, {}, [1.0, 3.0, 10.0], 1),
    "momentum β = 0.9": (SGD, {"momentum": 0.9}, [0.3, 1.0, 3.0], 10),
    "RMSprop": (RMSprop, {}, [0.03, 0.1, 0.3], 1),
    "Adam": (Adam, {}, [0.03, 0.1, 0.3], 1),
}
settings = {(name, lr): (optimizer, {"lr": lr, **options}) for name, (optimizer, options, rates, _) in RACE.items()
            for lr in rates}
settings |= {("Adam", run.lr): (Adam, {"lr": run.lr}),
             ("Adam + L2", run.lr): (Adam, {"lr": run.lr, "weight_decay": DECAY}),
             ("AdamW", run.lr): (AdamW, {"lr": run.lr, "weight_decay": DECAY})}
swept = sweep(lambda setting, seed: moons_twins(seed).torch_net, lambda seed: moons_data(seed)[0], settings,
              seeds=SEEDS, steps=run.steps)
train_loss, _ = swept.evaluate(lambda seed: moons_data(seed)[0])           # each (settings, seeds)
held_loss, held_accuracy = swept.evaluate(lambda seed: moons_data(seed)[1])


def of(table, setting):
    """One setting's row of a (settings, seeds) table: (seeds,)."""
    return table[swept.settings.index(setting)]


def geometric_mean(values):
    """exp(mean(log values)): the mean of numbers that span decades."""
    return values.log().mean().exp().item()


rows = {name: [swept.settings.index((name, lr)) for lr in rates] for name, (_, _, rates, _) in RACE.items()}
chosen = {name: min(RACE[name][2], key=lambda lr: geometric_mean(of(train_loss, (name, lr)))) for name in RACE}
print(f"{'optimiser':<18} {'lr':>6} {'training loss: mean':>20} {'(min, max)':>18} {'held out: right':>16}")
for name, (_, _, rates, _) in RACE.items():
    for lr in rates:
        losses, right = of(train_loss, (name, lr)), of(held_accuracy, (name, lr))
        print(f"{name:<18} {lr:>6g} {geometric_mean(losses):>20.2e} ({losses.min():.1e}, {losses.max():.1e}) "
              f"{right.mean():>9.1%} ± {right.std():.1%}" + ("   <- chosen" if lr == chosen[name] else ""))
pairs = [(a, b) for i, a in enumerate(RACE) for b in list(RACE)[i + 1:]]
below = {(a, b): int((of(train_loss, (a, chosen[a])) < of(train_loss, (b, chosen[b]))).sum()) for a, b in pairs}
print("at the chosen rates, seed by seed: " + "; ".join(f"{a} below {b} on {k} of {len(SEEDS)}"
                                                       for (a, b), k in below.items()))
run.record("race", {name: {"chosen_lr": chosen[name], "rates": RACE[name][2], "train_loss": train_loss[r].tolist(),
                           "held_accuracy": held_accuracy[r].tolist()} for name, r in rows.items()})
run.save(plots.adaptive_steps.rate_sweep(
    {name: [factor * lr for lr in rates] for name, (_, _, rates, factor) in RACE.items()},
    {name: train_loss[r] for name, r in rows.items()}, {name: held_accuracy[r] for name, r in rows.items()},
    {name: RACE[name][2].index(lr) for name, lr in chosen.items()},
    note=f"{len(SEEDS)} seeds (start, data and split), {run.steps} full-batch steps"), "rate_sweep")
run.save(plots.adaptive_steps.seed_band_losses(
    {f"{name}, lr = {lr:g}": swept.losses[[swept.index((name, lr), seed) for seed in SEEDS]]
     for name, lr in chosen.items()}, title=f"At the chosen rates, {len(SEEDS)} seeds"), "moons_losses")

# %% [markdown]
# Each at its best rate, the heavy ball and Adam end lowest and alike
# (geometric means 7.0·10⁻⁴ and 7.9·10⁻⁴), RMSprop at 7.3·10⁻³ and gradient
# descent at 1.2·10⁻². The seeds spread over two decades, but the heavy ball
# and Adam end below gradient descent and RMSprop with all five; within each
# pair the two are level (Adam below the heavy ball with four seeds, gradient
# descent below RMSprop with two). The heavy ball's lead is not speed at one
# effective step: at 3 it ends at 5.7·10⁻³, half gradient descent's
# 1.2·10⁻², as in lesson 07. It buys stability: at 10, where gradient
# descent no longer settles (0.69, one seed at 43), the heavy ball does
# best, lesson 07's limit 2(1 + β)/(1 − β) at work. Adam is the easier to
# tune: a rate three times off its best costs it a factor of 2 to 4, where
# the heavy ball loses 8 below its best and falls apart above. RMSprop's
# loss saw-tooths: its steps stay about lr long where the gradient has
# become small, and overshoot; Adam averages the gradient over about ten
# steps first, which smooths them. Held out, the four are close (97.7 % to
# 98.7 % right): the race decides how low the training loss goes, not what
# the network gets right.
#
# ## Weight decay: inside Adam, or beside it
# Weight decay pulls every weight a little towards 0 each step, so weights
# stay small unless the data insist. For gradient descent, adding λ·θ (the
# gradient of λ/2·‖θ‖²) to g gives θ ← (1 − lr·λ)·θ − lr·g: shrink by a
# factor, then the plain step. `torch.optim.Adam`'s `weight_decay` adds λ·θ
# to g too, but then it goes through Adam's division: a weight feels about
# lr·λ·θ/(√v̂ + ε), weak where its gradients are large, strong where they are
# small. AdamW (Loshchilov and Hutter, 2019) decays beside the step,
#
#     θ ← θ·(1 − lr·λ) − lr · m̂ / (√v̂ + ε)        (m̂ and v̂ of the bare gradient),
#
# so every weight shrinks by the same factor. Plain Adam, Adam + L2 and AdamW
# at lr = 0.03 and λ = 0.01 train as twins with the lesson's seed (the
# sweep's runs with that seed match them), judged over five seeds held out.

# %%
decay_runs, gaps = {}, {}
for name, (optimizer, options) in (("Adam", (Adam, {})), ("Adam + L2", (Adam, {"weight_decay": DECAY})),
                                   ("AdamW", (AdamW, {"weight_decay": DECAY}))):
    decay_runs[name] = run.train(moons_twins(), x, y, optimizer=optimizer, label=f"moons: {name}",
                                 main=name == "Adam", **options)
    gaps[name] = (swept.final((name, run.lr), run.seed) - decay_runs[name].path_autograd[-1]).abs().max().item()
print(f"the sweep's runs with seed {run.seed} end within {max(gaps.values()):.0e} of the twins' runs")
norms = {name: history.path_manual[-1].norm().item() for name, history in decay_runs.items()}
run.record("weight_norms", norms)


def v_hat(setting):
    """Adam's bias-corrected v at the end of a setting's runs, (seeds, P): how large each gradient has been."""
    (state,) = swept.optimizers[setting].state.values()          # one stacked parameter: (seeds, P)
    return state["exp_avg_sq"] / (1 - 0.999 ** state["step"])


size = {name: torch.cat([swept.final((name, run.lr), seed).abs() for seed in SEEDS]).cpu() for name in decay_runs}
ratios = {name: size[name] / size["Adam"] for name in ("Adam + L2", "AdamW")}     # |θ| with decay / without
gradient_rms = v_hat(("Adam", run.lr)).sqrt().flatten().cpu()      # the same order: seed by seed, weight by weight
l2_factor = 1 / (v_hat(("Adam + L2", run.lr)).sqrt() + 1e-8)
print(f"1/(√v̂ + ε), the factor Adam + L2 puts on each weight's decay, at the end: median "
      f"{l2_factor.median().item():.3g} over the {l2_factor.numel():,} weights of {len(SEEDS)} seeds; AdamW's is 1")
print(f"{'':<10} {'‖θ‖ (seed ' + str(run.seed) + ')':>14} {'training loss':>14} {'held out: loss':>18} {'right':>16}")
decay_summary = {}
for name in decay_runs:
    losses, held, right = of(train_loss, (name, run.lr)), of(held_loss, (name, run.lr)), of(held_accuracy, (name, run.lr))
    decay_summary[name] = {"held_loss": held, "held_accuracy": right}
    print(f"{name:<10} {norms[name]:>14.3g} {geometric_mean(losses):>14.2e} {held.mean():>10.3f} ± {held.std():.3f} "
          f"{right.mean():>9.1%} ± {right.std():.1%}")
worse = int((of(held_loss, ("Adam + L2", run.lr)) > of(held_loss, ("Adam", run.lr))).sum())
print(f"Adam + L2's held-out loss is above plain Adam's with {worse} of the {len(SEEDS)} seeds")
run.record("weight_decay", {"l2_worse_on_seeds": worse, "l2_factor_median": l2_factor.median().item(), **{
    name: {key: value.tolist() for key, value in entry.items()} for name, entry in decay_summary.items()}})
run.save(plots.adaptive_steps.decay_comparison(decay_runs, decay_summary, ratios, gradient_rms, decay=DECAY),
         "weight_decay")

# %% [markdown]
# The same lr and λ give decays of very different sizes. AdamW shrinks θ by
# (1 − lr·λ) = 0.9997 per step, about 4 % over 150 steps: θ ends barely
# shorter than plain Adam's (10.9 against 11.1 with the lesson's seed), the
# medians stay at 1 at every gradient size, and held out it scores as Adam
# does. Adam's L2 term is divided by √v̂ + ε, whose inverse has a median of
# about 430 at the end: a typical weight decays hundreds of times faster than
# under AdamW, the smallest-gradient ones most. θ ends less than half as long
# (4.4), the training loss stalls near 0.06, and the held-out loss is about
# twice Adam's, 0.066 against 0.034 (higher with four seeds of five), with
# 98.1 % right against 99.0 %.
#
# So at this λ neither decay helps this small network in 150 steps: one is
# too weak to matter, the other strong enough to hurt. What differs is what λ
# means: AdamW's shrinks every weight alike, so it can be tuned on its own;
# inside Adam it is rescaled weight by weight by the gradients' history.

# %% [markdown]
# ## Captions for course notes

# %%
run.describe("adaptive_paths",
             caption="Four optimisers walk down f = 0.1·x₁² + 2·x₂² from (−5, −2) on the exact contour of f, each at "
                     "a rate of its own. Gradient descent and the heavy ball zigzag across the steep direction; "
                     "RMSprop and Adam start along the diagonal, their first steps equally long in both coordinates. "
                     "The twins coincide: a cross in every circle.",
             alt="A filled contour plot of a long elliptical valley, wider along x1 than along x2, its minimum at the "
                 "origin. From a square at (-5, -2) four paths lead towards it: wine-red (gradient descent) and green "
                 "(momentum) zigzag across the valley while creeping right; pink (RMSprop) heads up and right and "
                 "settles on the valley floor; black (Adam) moves along the diagonal, overshoots the floor in a wide "
                 "arc past the minimum and turns back. Every circle holds a small vermillion cross.")
run.describe("step_sizes",
             caption="Left: the length of each step in each coordinate (log scale) for gradient descent and Adam on "
                     "the valley, both twins (crosses on the lines): gradient descent's steps across start eight "
                     "times longer than along, Adam's equal, at lr. Right: Adam's step size lr/(√v̂ + ε) per "
                     "coordinate, small where the gradients have been large (across), large where small (along); "
                     "the open circles are lr/|g| at step 1, where theory says the curves start.",
             alt="Two line charts against the step, log vertical axes, solid for the flat and dashed for the steep "
                 "coordinate. Left: wine-red gradient descent starts near 0.4 (solid) and 3 (dashed), the dashed one "
                 "falling steeply to 1e-8; black Adam starts at 0.3 in both and stays near 0.1 with two dips. Right: "
                 "Adam's step size per coordinate, starting inside grey open circles at 0.3 and 0.0375 and rising "
                 "slowly, with dotted lines at 0.3 (Adam's lr) and 0.4 (gradient descent's lr).")
run.describe("rate_sweep",
             caption=f"Lesson 05's network under four optimisers, each at three rates, {len(SEEDS)} seeds each: the "
                     "training loss after 150 steps (left, geometric mean) and the held-out accuracy (right). The "
                     "heavy ball sits at its effective step lr/(1 − β), on gradient descent's axis; the chosen rates "
                     "are ringed. Too large a rate: a loss that jumps, dots that scatter.",
             alt="Two panels against a log axis of learning rates, 0.03 to 30, four lines of diamonds, a faint dot "
                 "per seed. Left, training loss on a log axis from 1e-4 to 10: RMSprop (pink) and Adam (black) over "
                 "0.03 to 0.3, Adam lowest near 8e-4 at 0.1; gradient descent (wine-red) and momentum (green) over 1 "
                 "to 30, momentum lowest near 7e-4 at 10, gradient descent near 1e-2 at 3, both rising steeply at "
                 "the largest rate. Right: held-out accuracy 0.98 to 0.99, 0.75 to 0.87 at the largest rates.")
run.describe("moons_losses",
             caption=f"Lesson 05's network, each optimiser at its chosen rate, {len(SEEDS)} seeds: the median "
                     "training loss at every step and a band holding the middle half of the seeds. The heavy ball "
                     "and Adam fall furthest and alike; gradient descent and RMSprop, each near the edge of what it "
                     "tolerates, are noisier and end ten times higher or more.",
             alt="Training loss on a log axis against the step, 0 to 150, four coloured medians with shaded bands, "
                 "all from 0.69. Black (Adam) and green (momentum) fall together to about 3e-4; wine-red (gradient "
                 "descent) jumps around near 0.5 for 40 steps and ends near 4e-3; pink (RMSprop) falls with spikes "
                 "to about 7e-3.")
run.describe("weight_decay",
             caption=f"Weight decay at lr = {run.lr:g} and λ = {DECAY:g}. Left: the length of all 354 parameters, "
                     "one seed, both twins: AdamW's ends barely shorter than plain Adam's, Adam + L2's less than "
                     f"half as long. Middle: each weight's final size with decay over without, {len(SEEDS)} seeds "
                     "pooled, in sixths by gradient size (median, bar from 25 % to 75 %): AdamW shrinks every weight "
                     "alike, Adam's L2 the small-gradient ones most. Right: held-out loss per seed, its mean and the "
                     "accuracy: AdamW scores as Adam does, Adam + L2 worse.",
             alt="Three charts. Left: the parameter vector's length against the step; black (Adam, no decay) and "
                 "light blue (AdamW) climb together from about 3.5 to 11, grey (Adam + L2) stays between 2.5 and "
                 "4.5; vermillion crosses on all three. Middle, log axes: the shrink ratio against gradient size, "
                 "light blue diamonds level at 1, grey ones rising from 0.2 to 0.6 with wide bars. Right: dots of "
                 "held-out loss, means near 0.034, 0.066 and 0.033, labelled 99.0, 98.1 and 99.0 % right.")
run.finish()
