# %% [markdown]
# # 12 · Learning-rate schedules
#
# The learning rate sets how far each step goes, and every lesson so far
# kept it fixed. One number is rarely right for the whole walk: lesson 06
# watched mini-batch SGD at a constant rate reach the minimum and then
# wander around it without ever settling. A *schedule* changes the rate as
# training goes on, most often making it smaller and smaller towards the
# end (decay).
#
# This lesson writes the common schedules as formulas, lets torch's own
# `torch.optim.lr_scheduler` drive our hand-written `SGD`, and checks one
# against the other at every step. Then it measures what decay buys: with
# mini-batches a constant rate settles at a *noise floor*, which we predict,
# and decay goes far below it, on the training data and on fresh data.
# Lesson 13 takes up the other end of a schedule, warmup.

# %%
import math

import torch
from torch.optim import lr_scheduler

from toolkit import lesson, manual, plots
from toolkit.exercises import stop_student_version
from toolkit.noise_floor import AveragesSGD
from toolkit.optim import SGD
from toolkit.train import batch_indices
from toolkit.twins import make_twins

# --steps: the steps of the noise-floor runs (and the length of every schedule drawn);
# --lr: the largest rate of those runs, η₀.
run = lesson.start("12_schedules", steps=400, lr=1.0)

# %% [markdown]
# ## A scheduler only rewrites one number
# An optimiser keeps its rate in `optimizer.param_groups[0]["lr"]`, and our
# `SGD` reads it afresh at every step (`toolkit/optim.py`). A scheduler is
# attached to the optimiser and, each time we call `scheduler.step()` after
# `optimizer.step()`, writes the rate for the next step into that entry.
# Nothing else changes, which is why torch's schedulers drive our optimiser
# exactly as they drive `torch.optim.SGD`. The recorded training loop
# (`run.train(..., scheduler=...)`) gives each twin's optimiser its own
# scheduler and steps both after every update.
#
# To read a schedule off, we attach it to an `SGD` holding one tensor with
# no gradient (its step moves nothing) and write down the rate it sets for
# steps 0, 1, ..., T. Step t uses the rate ηₜ; η₀ is the rate we started with.

# %%
def scheduled_rates(make_scheduler, lr0, steps):
    """The rates η₀ ... η_steps that a scheduler sets, read off an SGD with one (gradient-free) tensor."""
    optimizer = SGD([torch.zeros(1, dtype=torch.float64)], lr=lr0)
    scheduler = make_scheduler(optimizer)
    rates = []
    for _ in range(steps + 1):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()          # torch expects the optimiser's step before the scheduler's
        scheduler.step()
    return rates


# %% [markdown]
# ## Five schedules and their formulas
# With T the number of steps and η₀ the starting rate:
#
# * **StepLR** multiplies the rate by γ every s steps:
#   ηₜ = η₀ · γ^⌊t/s⌋ (here s = T/8, γ = 0.5: halved seven times during
#   the T training steps t = 0 … T − 1; the eighth halving lands on t = T,
#   after the last step).
# * **ExponentialLR** multiplies it by γ at every step: ηₜ = η₀ · γᵗ
#   (γ = 0.99: a hundredth gone per step).
# * **CosineAnnealingLR** follows half a cosine from η₀ down to η_min over
#   T_max steps: ηₜ = η_min + (η₀ − η_min) · (1 + cos(π·t/T_max))/2
#   (T_max = T, η_min = 0). It stays near η₀ for a while, falls fastest in
#   the middle and creeps into η_min.
# * **LinearLR**, used for warmup, rises in a straight line from f·η₀ to
#   η₀ over W steps and then stays there:
#   ηₜ = η₀ · (f + (1 − f) · min(t, W)/W) (f = 0.1, W = T/10).
# * **Warmup, then cosine**: `SequentialLR` hands over from LinearLR to
#   CosineAnnealingLR at step W, and the cosine then runs over the
#   remaining T − W steps: ηₜ as LinearLR for t < W, and
#   η₀ · (1 + cos(π·(t − W)/(T − W)))/2 from then on.
#
# Each formula is one small function. Torch does not evaluate these
# formulas: each of its schedulers updates the previous rate by a factor
# (the cosine, for instance, by a ratio of two cosines), so its numbers
# may differ from ours in the last digits, and no more.

# %%
def step_rate(t, lr0, step_size, gamma):
    """StepLR: ηₜ = η₀ · γ^⌊t/s⌋."""
    # exercise step_rate: return η₀ multiplied by γ once for every s whole steps before t
    return lr0 * gamma ** (t // step_size)
    # end exercise


def exponential_rate(t, lr0, gamma):
    """ExponentialLR: ηₜ = η₀ · γᵗ."""
    # exercise exponential_rate: return η₀ multiplied by γ once per step
    return lr0 * gamma ** t
    # end exercise


def cosine_rate(t, lr0, t_max, lr_min=0.0):
    """CosineAnnealingLR: ηₜ = η_min + (η₀ − η_min) · (1 + cos(π·t/T_max))/2, for 0 ≤ t ≤ T_max."""
    # exercise cosine_rate: return the half cosine from η₀ (t = 0) down to η_min (t = T_max)
    return lr_min + (lr0 - lr_min) * (1 + math.cos(math.pi * t / t_max)) / 2
    # end exercise


def warmup_rate(t, lr0, start_factor, warmup_steps):
    """LinearLR (end factor 1): ηₜ = η₀ · (f + (1 − f) · min(t, W)/W)."""
    # exercise warmup_rate: return the straight line from f·η₀ at t = 0 to η₀ at t = W, and η₀ after it
    return lr0 * (start_factor + (1 - start_factor) * min(t, warmup_steps) / warmup_steps)
    # end exercise


def warmup_cosine_rate(t, lr0, start_factor, warmup_steps, total_steps):
    """SequentialLR of LinearLR (W steps) and CosineAnnealingLR (T − W steps)."""
    # exercise warmup_cosine_rate: warmup_rate before step W, cosine_rate of t − W over T − W steps from then on
    if t < warmup_steps:
        return warmup_rate(t, lr0, start_factor, warmup_steps)
    return cosine_rate(t - warmup_steps, lr0, total_steps - warmup_steps)
    # end exercise


# %% [markdown]
# The same five as torch schedulers (each a function of the optimiser, as
# `run.train` wants it), beside their formulas, compared at every step
# 0 ... T:

# %%
T = run.steps
STEP_EVERY = max(1, T // 8)
WARMUP = max(1, T // 10)
COSINE_AFTER_WARMUP = max(1, T - WARMUP)
schedules = {
    "StepLR": (lambda opt: lr_scheduler.StepLR(opt, step_size=STEP_EVERY, gamma=0.5),
               lambda t, lr0: step_rate(t, lr0, STEP_EVERY, 0.5),
               f"η₀·0.5^⌊t/{STEP_EVERY}⌋"),
    "ExponentialLR": (lambda opt: lr_scheduler.ExponentialLR(opt, gamma=0.99),
                      lambda t, lr0: exponential_rate(t, lr0, 0.99),
                      "η₀·0.99ᵗ"),
    "CosineAnnealingLR": (lambda opt: lr_scheduler.CosineAnnealingLR(opt, T_max=T),
                          lambda t, lr0: cosine_rate(t, lr0, T),
                          f"η₀·(1 + cos(πt/{T}))/2"),
    "LinearLR (warmup)": (lambda opt: lr_scheduler.LinearLR(opt, start_factor=0.1, total_iters=WARMUP),
                          lambda t, lr0: warmup_rate(t, lr0, 0.1, WARMUP),
                          f"η₀·(0.1 + 0.9·min(t, {WARMUP})/{WARMUP})"),
    "warmup, then cosine": (
        lambda opt: lr_scheduler.SequentialLR(
            opt, [lr_scheduler.LinearLR(opt, start_factor=0.1, total_iters=WARMUP),
                  lr_scheduler.CosineAnnealingLR(opt, T_max=COSINE_AFTER_WARMUP)], milestones=[WARMUP]),
        lambda t, lr0: warmup_cosine_rate(t, lr0, 0.1, WARMUP, WARMUP + COSINE_AFTER_WARMUP),
        f"LinearLR; cosine from t = {WARMUP}"),
}
# One colour per schedule in every figure of this lesson, and one for a constant rate (no schedule at all).
colors = dict(zip([*schedules, "constant"], plots.RUN_COLORS))
exercise_of = {"StepLR": "step_rate", "ExponentialLR": "exponential_rate", "CosineAnnealingLR": "cosine_rate",
               "LinearLR (warmup)": "warmup_rate", "warmup, then cosine": "warmup_cosine_rate"}
sweeps, differences = {}, {}
for name, (make_scheduler, formula, _) in schedules.items():
    by_torch = scheduled_rates(make_scheduler, run.lr, T)
    by_formula = [formula(t, run.lr) for t in range(T + 1)]
    sweeps[name] = (by_torch, by_formula)
    differences[name] = max(abs(a - b) for a, b in zip(by_torch, by_formula))
    verdict = "agree" if differences[name] <= 1e-12 * run.lr else "DISAGREE"
    print(f"{name:20s} η at t = 0, T/2, T: {by_torch[0]:.4g}, {by_torch[T // 2]:.4g}, {by_torch[T]:.4g}; "
          f"largest |formula − scheduler| over {T + 1} steps {differences[name]:.1e}: {verdict}")
    if verdict == "DISAGREE":
        first = next(t for t in range(T + 1) if abs(by_torch[t] - by_formula[t]) > 1e-12 * run.lr)
        print(f"   first at step {first}: the scheduler sets {by_torch[first]:.6g}, "
              f"the formula gives {by_formula[first]:.6g}")
        stop_student_version(run, f"exercise {exercise_of[name]}")   # a student's version stops here
run.record("formula_vs_scheduler", differences)

panels = [{"title": name, "formula": text, "scheduler": sweeps[name][0], "formula_values": sweeps[name][1],
           "color": colors[name]} for name, (_, _, text) in schedules.items()]
run.save(plots.schedules.schedule_panels(panels), "schedules")

# %% [markdown]
# ## Decay: below the noise floor of a constant rate
# Why decay? Lesson 06 gave the answer in a picture: with a constant rate,
# SGD reaches the minimum and then wanders around it, because every
# mini-batch gradient carries noise that the step turns into a move. Here is
# the smallest problem where that wandering can be predicted exactly: learn
# the averages of D = 20 quantities from N = 200 noisy readings of each. The
# network is one `Linear(1, 20)` layer without a bias, fed the constant
# input 1, so its 20 weights are its predictions, ŷ = w, and the MSE loss
# over all readings is
#
#     L(w) = 1/(N·D) Σₙ Σₖ (wₖ − yₙₖ)² = L* + 1/D · ‖w − ȳ‖²
#
# Its minimum is the average reading ȳ (known exactly), L* is what is left
# (the readings' spread), and the loss gap is L − L* = 1/D · ‖w − ȳ‖².
# The Hessian is (2/D)·I: the same curvature λ = 2/D = 0.1 in every
# direction and on every batch.
#
# The readings are the true values plus noise, N(0, 1). With them we draw
# 200 more readings of the same quantities that training never sees: the
# held-out readings, on which we judge what the weights learned.

# %%
D, N, HELD_OUT, B = 20, 200, 200, 5


def averages(seed):
    """One draw of the problem: training readings (N, D) and held-out readings (HELD_OUT, D)."""
    generator = torch.Generator().manual_seed(seed)          # on the CPU: the same data on every device
    centres = torch.randn(D, generator=generator, dtype=torch.float64)
    drawn = centres + torch.randn(N + HELD_OUT, D, generator=generator, dtype=torch.float64)
    drawn = drawn.to(run.device, run.dtype)
    return drawn[:N], drawn[N:]


def means_twins(seed):
    """Linear(1, D) without bias, both twins from the seed's random start."""
    return make_twins([1, D], bias=False, loss=manual.MSELoss(), seed=seed, device=run.device, dtype=run.dtype)


readings, _ = averages(run.seed)                             # the held-out readings wait for the seeds below
ones = torch.ones(N, 1, dtype=run.dtype, device=run.device)  # the input: always 1
noise = AveragesSGD(readings, batch_size=B)                  # ȳ, L*, λ, and the noise of a batch of B
twins = means_twins(run.seed)
run.check(twins, ones, readings)
print(f"L* = {noise.best_loss:.6f}; curvature λ = 2/D = {noise.curvature:g} in every direction, so a rate "
      f"below 2/λ = {2 / noise.curvature:g} is stable")

# %% [markdown]
# ### The floor
# A mini-batch of B readings sees the gradient (2/D)·(w − ȳ_B), where ȳ_B
# is the batch's average. For one coordinate, with the error e = w − ȳ, the
# batch's error u = ȳ_B − ȳ and a = η·λ, one step is
#
#     e ← (1 − a) · e + a · u
#
# The first term shrinks the error; the second adds fresh noise at every
# step. The batch error u is 0 on average, with the variance
# V = s²/B · (N − B)/(N − 1) that lesson 06 measured (s² is the readings'
# variance in that coordinate). If the batches were independent of each
# other, E[e²] would settle where the shrinking and the adding balance,
# E[e²] = (1 − a)²·E[e²] + a²·V, that is at
#
#     E[e²] = a·V / (2 − a)     the noise floor, about a·V/2 for small a
#
# The floor is proportional to the rate, and no number of steps gets below
# it. Our batches come from shuffled epochs, which lowers it further: the
# batches of one epoch never share a reading, so their errors add up to 0
# over the epoch and partly cancel. `toolkit.noise_floor` follows that
# cancellation exactly, for any schedule (its docstring has the recursion):
# `noise.floor(η)` is the level a constant rate settles at, and
# `noise.expected_gap(start, rates)` the expected gap at every step of a run.

# %%
a = run.lr * noise.curvature
floor, independent = noise.floor(run.lr), noise.floor(run.lr, shuffled=False)
if floor is None:
    print(f"a = η₀·λ = {a:g} is not between 0 and 2: the error grows by |1 − a| > 1 per step; there is no floor")
else:
    print(f"a = η₀·λ = {a:g}: noise floor of a constant rate {floor:.4g} (with independent batches it would be "
          f"{independent:.4g}: the shuffled epochs lower it by {1 - floor / independent:.0%})")
    print("rate      floor (shuffled epochs)   factor   floor (independent batches)   factor")
    previous, table = None, []
    for rate in [run.lr / 2 ** k for k in range(7)]:
        now = (noise.floor(rate), noise.floor(rate, shuffled=False))
        table.append({"rate": rate, "floor": now[0], "floor_independent_batches": now[1]})
        factors = [f"{before / after:6.2f}" for before, after in zip(previous, now)] if previous else ["", ""]
        print(f"{rate:<9.4g} {now[0]:<25.3e} {factors[0]:>6}   {now[1]:<29.3e} {factors[1]:>6}")
        previous = now

# %% [markdown]
# With independent batches, halving the rate would halve the floor. With
# shuffled epochs the floor falls faster: threefold from the default rate,
# and fourfold for small rates, where it is proportional to the *square*
# of the rate. A step then moves the weight so little that all the batches
# of an epoch act together, and their errors cancel.
#
# ### Three runs
# The same start, the same batches (the shuffles come from `--seed`) and
# the same η₀; only the schedule differs: constant, StepLR (halving every
# T/8 steps) and CosineAnnealingLR over the whole run. Each run trains both
# twins. The gap is measured from the weights, 1/D·‖w − ȳ‖², for each
# twin's path.

# %%
runs = {
    "constant": None,
    "StepLR": schedules["StepLR"][0],
    "CosineAnnealingLR": schedules["CosineAnnealingLR"][0],
}
histories, gaps, predictions = {}, {}, {}
for label, make_scheduler in runs.items():
    history = run.train(means_twins(run.seed), ones, readings, batch_size=B, scheduler=make_scheduler,
                        label=f"noise floor: {label}", main=(label == "CosineAnnealingLR"))
    histories[label] = history
    gaps[label] = [noise.gap(path).tolist() for path in (history.path_manual, history.path_autograd)]
    predictions[label] = noise.expected_gap(history.path_manual[0], history.lrs)

cosine = histories["CosineAnnealingLR"]
print(f"check: L − L* from the loss itself {cosine.final_loss_manual - noise.best_loss:.6e}, "
      f"from 1/D·‖w − ȳ‖² {gaps['CosineAnnealingLR'][0][-1]:.6e}")
curves = [{"label": label, "lrs": histories[label].lrs, "manual": gaps[label][0], "autograd": gaps[label][1],
           "expected": predictions[label][:len(gaps[label][0])], "diverged_at": histories[label].diverged_at_step,
           "color": colors[label]} for label in runs]
run.save(plots.schedules.noise_floor_runs(curves, floor=floor, epoch=noise.epoch), "noise_floor")

# %% [markdown]
# What to read off the figure: all three runs fall together while the
# error is large (the noise is small beside it). The constant rate then
# hits its floor and stays there, however long it runs. StepLR halves the
# rate every T/8 steps, which lowers the floor three- to fourfold (the
# table above), and the gap follows each halving down once the error has
# forgotten the old noise (about 1/(2a) steps, longer as a shrinks). The
# cosine lowers the rate smoothly and ends far below the floor too. The
# scallops are the shuffled epochs, in the prediction as in the
# measurement: the gap dips at every epoch's end (a tick on the step
# axis), where the epoch's batch errors have just added up to 0.
#
# ### Twenty seeds, and the held-out readings
# One run per schedule is one draw of the readings, the start and the
# shuffles. For numbers that hold, each schedule now trains on 20 seeds,
# each with its own readings (training and held-out), start and batches,
# all at once: the 20 rows of one (20, D) weight tensor. The loss is the
# sum of the 20 runs' MSE, so row s gets its own run's gradient, and our
# `SGD` steps every row as it would step that run alone. The batches are
# the ones `run.train` draws for each seed (`toolkit.train.batch_indices`),
# so the row of this run's seed must take exactly its twins' steps.

# %%
SEEDS = list(range(run.seed, run.seed + 20))
drawn = [averages(seed) for seed in SEEDS]
seed_readings = torch.stack([training for training, _ in drawn])              # (S, N, D)
seed_held_out = torch.stack([held for _, held in drawn])                      # (S, HELD_OUT, D)
seed_batches = torch.stack([seed_readings[k][torch.stack(batch_indices(N, B, seed, T, run.device))]
                            for k, seed in enumerate(SEEDS)])                  # (S, T, B, D)
seed_starts = torch.stack([means_twins(seed).torch_net[0].weight.detach()[:, 0] for seed in SEEDS])   # (S, D)


def train_seeds(make_scheduler):
    """Every seed's run of one schedule at once: the weights at steps 0 ... T, shape (T + 1, S, D)."""
    weights = seed_starts.clone().requires_grad_()
    optimizer = SGD([weights], lr=run.lr)
    scheduler = make_scheduler(optimizer) if make_scheduler is not None else None
    path = [weights.detach().clone()]
    for t in range(T):
        loss = ((weights[:, None, :] - seed_batches[:, t]) ** 2).mean(dim=(1, 2)).sum()   # Σ over seeds
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        path.append(weights.detach().clone())
    return torch.stack(path)


def mean_spread(values, digits=".3g"):
    """'mean ± standard deviation' over the seeds."""
    return f"{values.mean().item():{digits}} ± {values.std().item():.2g}"


def plain(values):
    """A tensor of numbers as a list for summary.json, which has no NaN (a missing number is null)."""
    return [value if math.isfinite(value) else None for value in values.tolist()]


seed_problems = [AveragesSGD(training, batch_size=B) for training in seed_readings]
best_held_out = ((seed_readings.mean(dim=1, keepdim=True) - seed_held_out) ** 2).mean(dim=(1, 2))   # at ȳ, (S,)
floors = torch.tensor([problem.floor(run.lr) or math.nan for problem in seed_problems])             # (S,)
by_seed = {}
if floor is None:
    print(f"a = η₀·λ = {a:g}: every run diverges, and there is nothing to compare over seeds")
else:
    for label, make_scheduler in runs.items():
        path = train_seeds(make_scheduler)
        same = (path[:, SEEDS.index(run.seed)] - histories[label].path_manual).abs().max().item()
        gap = torch.stack([problem.gap(path[:, k]) for k, problem in enumerate(seed_problems)], dim=1)  # (T + 1, S)
        held = ((path[-1][:, None, :] - seed_held_out) ** 2).mean(dim=(1, 2))                            # (S,)
        by_seed[label] = {"gap": gap[-1], "second_half": gap[T // 2:].mean(dim=0), "held_out": held}
        print(f"{label:18s} seed {run.seed}'s row against its twins: largest difference {same:.1e}")
    print(f"over {len(SEEDS)} seeds (mean ± standard deviation), at the last step:")
    print(f"{'schedule':18s} {'training gap L − L*':22s} {'held-out loss':20s} held-out loss − constant rate's")
    for label, numbers in by_seed.items():
        change = numbers["held_out"] - by_seed["constant"]["held_out"]
        versus = f"{mean_spread(change)} (lower on {(change < 0).sum().item()} of {len(SEEDS)})"
        print(f"{label:18s} {mean_spread(numbers['gap']):22s} {mean_spread(numbers['held_out'], '.4f'):20s} "
              f"{versus if label != 'constant' else ''}")
    print(f"held-out loss at the training minimum ȳ: {mean_spread(best_held_out, '.4f')}")
    print(f"the constant rate's gap over the second half of its run: "
          f"{mean_spread(by_seed['constant']['second_half'])}; the predicted floor: {mean_spread(floors)}")
run.record("noise_floor", {
    "a": a, "floor": floor, "floor_independent_batches": independent,
    "floor_by_rate": table if floor is not None else [], "seeds": SEEDS,
    "by_seed": {label: {key: plain(values) for key, values in numbers.items()} for label, numbers in by_seed.items()},
    "best_held_out": plain(best_held_out), "predicted_floor_by_seed": plain(floors),
})

# %% [markdown]
# On every seed, decay ends far below the constant rate's floor in training
# gap, and the constant rate's gap over the second half of its run sits at
# its predicted floor. (The last step ends an epoch, where the gap dips a
# little below the floor.) On the held-out readings the gain is about as
# large as the training gap the constant rate leaves, a few thousandths,
# and it holds on most seeds but not all: the gap is the error of the
# averages, and fresh readings judge that error with noise of their own.
# Decay removes the noise of the *steps*; the noise of the *data*, about 1
# in every held-out loss here, no schedule can remove.
#
# ## What to take away
# * A scheduler is a rule for one number, `param_groups[0]["lr"]`, applied
#   after every step; each of the five here follows a closed formula in t.
# * With mini-batches, a constant rate buys a noise floor: proportional to
#   the rate if the batches were independent, falling faster still with
#   shuffled epochs. Decay trades speed for precision late in training,
#   when precision is what is left to gain, and the precision carries over
#   to data the network has not seen.
# * Lesson 13: why a schedule often *starts* small.

# %% [markdown]
# ## Captions for course notes
# What `python -m toolkit figures` prints under each figure in the gallery's
# index: a caption for the notes and an alt text for readers who cannot see
# the image.

# %%
run.describe("schedules",
             caption=f"The learning rate per step set by five torch schedulers driving our SGD (η₀ = {run.lr:g}, "
                     f"T = {T}), each with its formula dashed on top; they agree to within "
                     f"{max(differences.values()):.0e} at every step. The last panel puts all five on one axis; "
                     f"there LinearLR's ramp lies under warmup-then-cosine's, the two being the same for t < {WARMUP}.",
             alt="Six small charts of the learning rate against the step: StepLR a staircase halving at regular "
                 "intervals, ExponentialLR a smooth fall, CosineAnnealingLR a half cosine down to zero, LinearLR a "
                 "straight rise from a tenth to the full rate and then flat, warmup then cosine the same rise and "
                 "then a cosine down to zero. In each, a dashed line (the formula) runs exactly along the coloured "
                 "one (the scheduler). The last panel overlays all five; the black LinearLR rise is hidden under "
                 "the wine-red warmup-then-cosine rise, which it matches step for step.")
if floor is not None and not any(history.diverged for history in histories.values()):
    last_epoch = {label: gaps[label][0][-noise.epoch:] for label in runs}
    last_epoch = {label: sum(values) / len(values) for label, values in last_epoch.items()}
    below = floor / max(last_epoch["StepLR"], last_epoch["CosineAnnealingLR"])
    outcome = (f"With a constant rate the loss gap stops falling at the predicted noise floor ({floor:.2g}; "
               f"its last epoch averages {last_epoch['constant']:.2g}); StepLR lowers the floor in steps "
               f"and the cosine smoothly, both ending over {below:.0f} times below it.")
else:
    outcome = f"At η₀ = {run.lr:g} (a = ηλ = {a:g}) not every run converges: a constant rate needs a < 2."
run.describe("noise_floor",
             caption=f"Mini-batch SGD learning {D} averages (B = {B}, {noise.epoch} batches per epoch; seed "
                     f"{run.seed}), "
                     f"its rate above and its loss gap below. {outcome} Dashed: the exact expected gap for each "
                     "schedule. The line is the hand-written twin, the vermillion crosses the autograd twin; they "
                     "coincide.",
             alt="Two stacked charts sharing the step axis. Top: the learning rate of three runs, a flat grey line for "
                 "the constant rate, a staircase halving at regular intervals for StepLR, and a falling half cosine. "
                 "Bottom, on a log scale: the loss gap of each run. All three fall together at first; the constant "
                 "run then stays in a noisy band around a dotted horizontal line, the noise floor, while the StepLR "
                 "run drops a step at each halving and the cosine run curves down, both ending far below the floor, "
                 "with dips at the end of every epoch. A dashed line, the predicted expectation, runs through the "
                 "middle of each noisy curve.")
run.finish()
