# %% [markdown]
# # 13 · Warmup
#
# Lesson 12's schedules end small. Many also *start* small: a warmup
# raises the rate from a fraction of its value over the first steps
# (`LinearLR`, one of lesson 12's five), and only then lets it run at full
# size. Why should the first steps be small?
#
# Lesson 03 found that gradient descent on a quadratic diverges once the
# rate exceeds 2/λmax, where λmax, the largest eigenvalue of the Hessian,
# is the sharpest curvature. In a network λmax depends on where we are
# (lesson 15 follows it along a whole training run as the *sharpness*). If
# the start is much sharper than the region training is heading for, a
# rate that suits the later region overshoots at the start. Warmup keeps
# the first steps small while the network moves somewhere flatter.
#
# This lesson shows that on the smallest network that has it, measures
# λmax at every step against the limit 2/ηₜ, and then asks whether
# λmax > 2/η is enough to blow a run up. It is not.

# %%
import math

import torch
from torch.func import functional_call, hessian, vmap
from torch.optim import lr_scheduler

from toolkit import data, lesson, plots
from toolkit.exercises import stop_student_version
from toolkit.landscape import largest_stable_lr
from toolkit.parameters import unflatten
from toolkit.train import train
from toolkit.twins import chain_twins_at

# --steps: the steps of every run; --lr: the full rate η.
run = lesson.start("13_warmup", steps=40, lr=0.2)

# %% [markdown]
# ## A sharp start
# Lesson 09's chain of two weights, ŷ = w2 · (w1 · x) (two `Linear(1, 1)`
# layers without bias), on points around y = x, started from a large
# initialisation, w1 = w2 = 3. We draw 240 points: the first 40 are the
# training data, the other 200 are held out. In lesson 09's notation,
# a = mean(x²), c = mean(x·y) and d = mean(y²) over the training points,
# and the loss depends on the product p = w1·w2 alone:
#
#     L = a·p² − 2c·p + d,    lowest at p* = c/a, where L* = d − c²/a
#
# Its Hessian is lesson 09's
#
#     H = [[2a·w2²,       4a·p − 2c],
#          [4a·p − 2c,    2a·w1²   ]]
#
# On the diagonal w1 = w2 = w (a symmetric start stays there) H has the
# form [[α, β], [β, α]], with α = 2a·w² and β = 4a·w² − 2c; its eigenvalues
# are α + β along (1, 1) and α − β along (1, −1), so λmax = α + |β|. Where
# 4a·w² > 2c, as at the start and at the minimum, that is 6a·w² − 2c:
# about 46 at w = 3, and only 4c ≈ 3.4 at the minimum (w² = p*). A rate of
# 0.2 is then far too large at the start (2/λmax ≈ 0.04) and comfortable
# at the end (2/λmax ≈ 0.6). The formula is the exercise; the lesson checks
# it against the Hessian that torch.func computes, at both points.

# %%
START, TRAIN = 3.0, 40


def line(seed):
    """One draw of the data: (x, y) of the TRAIN training points, and (x, y) of the 200 held-out points."""
    x, y = data.noisy_line(n=TRAIN + 200, slope=1.0, intercept=0.0, noise=0.3, x_range=(-2.0, 2.0),
                           seed=seed, device=run.device, dtype=run.dtype)
    return (x[:TRAIN], y[:TRAIN]), (x[TRAIN:], y[TRAIN:])


def moments(x, y):
    """Lesson 09's a = mean(x²), c = mean(x·y), d = mean(y²), and from them p* = c/a and L* = d − c²/a."""
    a, c, d = (x * x).mean().item(), (x * y).mean().item(), (y * y).mean().item()
    return a, c, d, c / a, d - c * c / a


def diagonal_sharpness(w, a, c):
    """λmax of the chain's Hessian on the diagonal w1 = w2 = w: α + |β|, with α = 2a·w², β = 4a·w² − 2c."""
    # exercise diagonal_sharpness: return α + |β| with α = 2a·w² and β = 4a·w² − 2c
    return 2 * a * w ** 2 + abs(4 * a * w ** 2 - 2 * c)
    # end exercise


def chain_twins(w1=START, w2=START):
    """Lesson 09's chain ŷ = w2·(w1·x) at (w1, w2), both twins."""
    return chain_twins_at(w1, w2, device=run.device, dtype=run.dtype)


(x, y), (held_x, held_y) = line(run.seed)
a, c, d, best_slope, best_loss = moments(x, y)
chain = chain_twins()
like = dict(chain.torch_net.named_parameters())


def chain_loss(theta):
    """The training loss at the weights theta = (w1, w2), by the torch twin with theta swapped in (torch.func)."""
    return chain.torch_loss(functional_call(chain.torch_net, unflatten(theta, like), (x,)), y)


def sharpness_along(path):
    """λmax at every point of a path (K, 2): all K Hessians at once by torch.func, then their eigenvalues.

    A point that is not finite (a diverged run's last) gets NaN.
    """
    finite = torch.isfinite(path).all(dim=1)
    values = torch.full((len(path),), math.nan, dtype=path.dtype, device=path.device)
    if finite.any():
        hessians = vmap(hessian(chain_loss))(path[finite])                  # (K, 2, 2)
        values[finite] = torch.linalg.eigvalsh(hessians)[:, -1]
    return values.tolist()


run.check(chain, x, y, first_layer=True)
_, eigenvalues = largest_stable_lr(chain.torch_net, chain.torch_loss, x, y)   # the whole Hessian, at the start
start_sharpness = eigenvalues[-1].item()
end_sharpness = sharpness_along(torch.tensor([[math.sqrt(best_slope)] * 2], dtype=run.dtype, device=run.device))[0]
print(f"a = {a:.4f}, c = {c:.4f}, d = {d:.4f}: p* = c/a = {best_slope:.4f}, L* = d − c²/a = {best_loss:.4f}")
for where, w, value in (("the start", START, start_sharpness), ("the minimum", math.sqrt(best_slope), end_sharpness)):
    by_formula = diagonal_sharpness(w, a, c)
    verdict = "agree" if abs(by_formula - value) <= 1e-10 * abs(value) else "DISAGREE"
    print(f"λmax at {where} (w1 = w2 = {w:.4g}): {value:.4f} from the Hessian, {by_formula:.4f} from "
          f"diagonal_sharpness: {verdict}; 2/λmax = {2 / value:.4f}")
    if verdict == "DISAGREE":
        stop_student_version(run, "exercise diagonal_sharpness")   # a student's version stops here
print(f"the rate {run.lr:g}: η·λmax = {run.lr * start_sharpness:.2f} at the start, {run.lr * end_sharpness:.2f} "
      f"at the minimum (stable below 2)")

# %% [markdown]
# ## Three runs from the sharp start
# Two runs at η = 0.2: one at the full rate from the first step, one that
# warms up with `LinearLR` from 0.1·η over the first 10 steps. The third is
# the control: if warmup only helps by being small at first, why not keep
# the rate small throughout? It runs at 0.9 · 2/λmax of the start, a
# constant rate just safe there. Along each path we compute λmax from the
# Hessian at every step and compare ηₜ·λmax with 2.

# %%
def warmup(optimizer):
    return lr_scheduler.LinearLR(optimizer, start_factor=0.1, total_iters=10)


CONTROL = "constant, safe at the start"


def three_runs(sharpness_at_start):
    """{label: (rate, scheduler)}: the full rate without and with warmup, and the control, safe at the start."""
    return {"no warmup": (run.lr, None), "linear warmup, 10 steps": (run.lr, warmup),
            CONTROL: (0.9 * 2 / sharpness_at_start, None)}


warm_runs = three_runs(start_sharpness)
safe_lr = warm_runs[CONTROL][0]
histories, sharpness, warm_gaps = {}, {}, {}
for label, (lr, make_scheduler) in warm_runs.items():
    history = run.train(chain_twins(), x, y, lr=lr, scheduler=make_scheduler, label=label,
                        main=(label == "linear warmup, 10 steps"))
    histories[label] = history
    sharpness[label] = [sharpness_along(path) for path in (history.path_manual, history.path_autograd)]
    warm_gaps[label] = [[loss - best_loss for loss in losses] for losses in (history.loss_manual,
                                                                             history.loss_autograd)]
    rates = history.lrs + history.lrs[-1:] * (len(sharpness[label][0]) - len(history.lrs))
    products = [rate * value for rate, value in zip(rates, sharpness[label][0])]
    above = next((t for t, value in enumerate(products) if not value < 2), None)
    print(f"{label}: λmax along the path {sharpness[label][0][0]:.3g} → {sharpness[label][0][-1]:.3g}; "
          f"largest ηₜ·λmax {max(products):.3g}; "
          + (f"above 2 from step {above} on" if above is not None else "below 2 at every step")
          + ("" if history.diverged else f"; final gap L − L* {history.final_loss_manual - best_loss:.1e}"))
no_warmup, with_warmup = histories["no warmup"], histories["linear warmup, 10 steps"]
print(f"without warmup w1 went {', '.join(f'{w:.3g}' for w in no_warmup.path_manual[:, 0].tolist())}")
colors = dict(zip(warm_runs, plots.RUN_COLORS))
shown = {label: label for label in warm_runs} | {CONTROL: f"constant η = {safe_lr:.3f}"}
run.save(plots.warmup.sharpness_runs([
    {"label": shown[label], "history": histories[label], "gap": warm_gaps[label], "color": colors[label],
     "manual_sharpness": sharpness[label][0], "autograd_sharpness": sharpness[label][1]} for label in warm_runs]),
         "warmup")

# %% [markdown]
# Without warmup the first step overshoots: η·λmax ≈ 9 at the start, and
# w1 jumps from 3 to the far side, where the landscape is steeper still.
# Each further step overshoots by more; the toolkit stops the run when its
# loss passes 10¹² times the first. With warmup the first step is ten times
# smaller, ηₜ·λmax stays below 2, and every step goes downhill; by the time
# the rate is full, the network sits where the landscape is flat enough for
# it. The control trains too, but its small rate stays small where the
# landscape has flattened: after 40 steps it is still short of L*, while
# the warmed-up run reached L* to rounding many steps earlier. Warmup buys
# the large rate's speed without its blow-up.
#
# ### Five seeds, and the held-out points
# One draw of the data is one case. Each seed below draws its own 240
# points (so its own a, c and λmax at the start) and trains the same three
# runs, the control at 0.9 · 2/λmax of its own start. Held out, each
# trained line is judged on its 200 unseen points, beside the best line
# the training points give, the least-squares slope p*. These runs call
# `toolkit.train.train`, the loop inside `run.train`, directly: it trains
# and compares the twins the same way, without a line of output per run.

# %%
SEEDS = list(range(run.seed, run.seed + 5))
by_seed = {label: [] for label in warm_runs}
twins_agree = True
for seed in SEEDS:
    (seed_x, seed_y), (seed_held_x, seed_held_y) = line(seed)
    seed_a, seed_c, _, seed_slope, seed_best = moments(seed_x, seed_y)
    seed_sharpness = diagonal_sharpness(START, seed_a, seed_c)                 # λmax at the start
    least_squares = ((seed_slope * seed_held_x - seed_held_y) ** 2).mean().item()
    for label, (lr, make_scheduler) in three_runs(seed_sharpness).items():
        history = train(chain_twins(), seed_x, seed_y, steps=run.steps, lr=lr, scheduler=make_scheduler,
                        seed=seed, quiet=True)
        twins_agree &= history.twins_agree
        w1, w2 = history.path_manual[-1].tolist()
        held = ((w1 * w2 * seed_held_x - seed_held_y) ** 2).mean().item()
        by_seed[label].append({"seed": seed, "sharpness_start": seed_sharpness, "diverged": history.diverged,
                               "gap": None if history.diverged else history.final_loss_manual - seed_best,
                               "held_out": None if history.diverged else held, "least_squares": least_squares})
starts = [result["sharpness_start"] for result in by_seed["no warmup"]]
print(f"{len(SEEDS)} seeds: λmax at the start from {min(starts):.0f} to {max(starts):.0f}; "
      f"the twins agree at every step of every run: {twins_agree}")
for label, results in by_seed.items():
    trained = [result for result in results if not result["diverged"]]
    report = f"{label:28s} diverged on {len(results) - len(trained)} of {len(results)}"
    if trained:
        apart = max(abs(result["held_out"] - result["least_squares"]) for result in trained)
        report += (f"; final gap L − L* at most {max(result['gap'] for result in trained):.1e}; held-out loss "
                   f"{sum(result['held_out'] for result in trained) / len(trained):.4f} on average, at most "
                   f"{apart:.1e} from the least-squares line's")
    print(report)
run.record("seeds", by_seed)

# %% [markdown]
# On every seed the full rate without warmup blows up and the warmed-up run
# trains, to L* within rounding. On the held-out points the warmed-up line
# is the least-squares line, no better and no worse: warmup changes how
# training gets to the minimum, not which minimum this problem has. (The
# control, still a little short of L*, ends within a few 10⁻⁴ of the
# least-squares line's held-out loss, above it on some seeds and below it
# on others.)
#
# ## Is λmax > 2/η enough to blow up?
# No, and it is worth checking rather than assuming. 2/λmax says when one
# step overshoots the bottom of the local parabola; whether the overshoot
# lands somewhere steeper depends on the landscape beyond it. On the
# diagonal one step is w ← w − η·(2a·w² − 2c)·w (lesson 09's gradient,
# dL/dw1 = (2a·p − 2c)·w2, at w1 = w2 = w), and the new |w| is larger than
# the old exactly when η·(2a·w² − 2c) > 2: the rate must beat
# 1/(a·w² − c) (≈ 0.14 at w = 3), not 2/λmax (≈ 0.04). Between the two,
# the first step overshoots to a flatter place and training recovers, a
# "catapult". Just below and just above that line:

# %%
blow_up_lr = 1 / (a * START ** 2 - c)
catapult = {}
for factor in (0.9, 1.1):
    label = f"η = {factor:g} × {blow_up_lr:.3f}"
    history = run.train(chain_twins(), x, y, lr=factor * blow_up_lr, label=label, main=False)
    catapult[factor] = history
    outcome = (f"diverged at step {history.diverged_at_step}" if history.diverged
               else f"final loss {history.final_loss_manual:.4g} (L* = {best_loss:.4g})")
    print(f"η = {factor:g} × {blow_up_lr:.4f} = {factor * blow_up_lr:.4f} (η·λmax = "
          f"{factor * blow_up_lr * start_sharpness:.2f} at the start): {outcome}; "
          f"w1 went {', '.join(f'{w:.3g}' for w in history.path_manual[:4, 0].tolist())}, ...")
run.save(plots.warmup.sharpness_runs([
    {"label": f"{factor:g} × the blow-up rate", "history": history,
     "gap": [[loss - best_loss for loss in losses] for losses in (history.loss_manual, history.loss_autograd)],
     "manual_sharpness": sharpness_along(history.path_manual),
     "autograd_sharpness": sharpness_along(history.path_autograd), "color": color}
    for (factor, history), color in zip(catapult.items(), plots.RUN_COLORS[3:])]), "catapult")
run.record("warmup", {
    "lr": run.lr, "start": [START, START],
    "sharpness_start": start_sharpness, "stable_lr_start": 2 / start_sharpness,
    "sharpness_minimum": end_sharpness, "no_warmup_diverged_at_step": no_warmup.diverged_at_step,
    "warmup_diverged": with_warmup.diverged, "safe_lr": safe_lr,
    "warmup_largest_lr_times_sharpness": max(rate * value for rate, value
                                             in zip(with_warmup.lrs, sharpness["linear warmup, 10 steps"][0])),
    "blow_up_lr": blow_up_lr,
    "catapult": {f"{factor:g}": {"lr": h.lr, "diverged_at_step": h.diverged_at_step} for factor, h in catapult.items()},
})

# %% [markdown]
# Both runs start far above their limit (η·λmax near 6 and 7), so both
# first steps overshoot. At 0.9 times the blow-up rate w1 lands at −2.4:
# on the far side, but nearer the origin and flatter. It is still above
# its limit there, so the next step overshoots too, and lands near the
# origin, where λmax is small. The run lingers a few steps on lesson 09's
# plateau around the saddle at the origin, then settles into the minimum.
# At 1.1 times, w1 lands at −3.6, farther out and sharper, and every step
# makes it worse. λmax > 2/η says that a step overshoots; where the
# overshoot lands decides the rest.
#
# ## What to take away
# * Sharpness changes during training. A start much sharper than where
#   training ends makes a rate that suits the end blow up at the start.
# * Warmup keeps ηₜ·λmax below 2 while the start is sharp and raises the
#   rate as the landscape flattens: the large rate's speed without its
#   blow-up. A rate small enough for the start throughout is slower.
# * λmax > 2/η means one step overshoots; whether the run blows up depends
#   on what the overshoot lands on.

# %% [markdown]
# ## Captions for course notes
# What `python -m toolkit figures` prints under each figure in the gallery's
# index: a caption for the notes and an alt text for readers who cannot see
# the image.

# %%
without = (f"the loss explodes and the run is stopped at step {no_warmup.diverged_at_step}" if no_warmup.diverged
           else "the run survives this time")
with_it = "it diverges too" if with_warmup.diverged else "it trains"
no_warmup_limit = (f"a short dashed stub at {2 / run.lr:g} up to step {no_warmup.diverged_at_step}, where the run "
                   "is stopped," if no_warmup.diverged else f"a flat line at {2 / run.lr:g}")
run.describe("warmup",
             caption=f"Lesson 09's chain ŷ = w2·w1·x from w1 = w2 = {START:g} (seed {run.seed}). At η = {run.lr:g} "
                     f"without warmup {without}; with a 10-step linear warmup {with_it}; the control at the constant "
                     f"rate {safe_lr:.3f}, safe at the start, trains more slowly. Right: the sharpness λmax at every "
                     f"step against its limit 2/ηₜ (dashed). The start is too sharp for the full rate "
                     f"({start_sharpness:.0f} against 2/η = {2 / run.lr:g}); with warmup λmax stays below the limit "
                     f"at every step, falling to {end_sharpness:.1f} while the limit falls to {2 / run.lr:g}. "
                     "Circles: the hand-written twin; vermillion crosses: the autograd twin; they coincide.",
             alt="Two charts with log-scale vertical axes. Left: the loss gap per step of three runs. The run without "
                 "warmup rises steeply for a few steps and ends in an X marking where it was stopped as diverged; "
                 f"the run with warmup falls from about {warm_gaps['no warmup'][0][0]:.0f} to the rounding level, "
                 "about 10⁻¹⁶, within about 20 steps; the control at a small constant rate drops at its first step "
                 f"and then falls steadily, ending near {histories[CONTROL].final_loss_manual - best_loss:.0e}. "
                 "Right: the largest Hessian "
                 "eigenvalue per step for each run, with its dashed stability limit 2 divided by the rate. Without "
                 f"warmup the limit is {no_warmup_limit} and the eigenvalue starts at about 46 and shoots off the "
                 "top. With warmup the limit starts at 100 and falls to 10, and the eigenvalue falls from 46 to "
                 f"about 3.4, staying below its limit throughout. The control's limit is a flat line at {2 / safe_lr:.0f}, just "
                 "above 46.")
run.describe("catapult",
             caption=f"The same chain and start at constant rates just below and just above 1/(a·w² − c) = "
                     f"{blow_up_lr:.3f}, both far above 2/λmax = {2 / start_sharpness:.3f} at the start. Below it "
                     "the first step overshoots into a flatter place and the run settles (a catapult); above it every "
                     "step lands somewhere sharper and the run blows up. Circles: the hand-written twin; vermillion "
                     "crosses: the autograd twin.",
             alt="Two charts with log-scale vertical axes, as in the warmup figure, for two runs. Left: the loss gap. "
                 "The run below the blow-up rate falls in two large steps to below 1, stays level for a few steps "
                 "(the plateau near the saddle at the origin), then falls in a straight line; the run above it "
                 "climbs until an X marks where it diverged. Right: the largest Hessian eigenvalue per step with each "
                 "run's dashed limit 2 divided by its rate. Both start above their limits; the first falls below its "
                 "limit at the second step and stays there, the other rises off the top.")
run.finish()
