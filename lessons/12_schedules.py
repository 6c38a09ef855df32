# %% [markdown]
# # 12 · Learning-rate schedules and warmup
#
# The learning rate controls how fast we walk down the mountain, and every
# lesson so far kept it fixed. One number cannot be right for the whole
# walk. Early on, a large rate covers ground quickly, unless the slope there
# is so steep that the first steps throw us off it. Late, near the bottom, a
# large rate is too coarse: lesson 06 watched mini-batch SGD at a constant
# rate wander in a ball around the minimum without ever settling. A
# *schedule* changes the rate as training goes on: small at the very start
# (warmup), large in the middle, smaller and smaller at the end (decay).
#
# This lesson writes the common schedules as formulas, lets torch's own
# `torch.optim.lr_scheduler` drive our hand-written `SGD`, and checks one
# against the other. Then it measures what decay buys (SGD gets below the
# noise floor of a constant rate, which we predict exactly) and what warmup
# buys (a rate that blows up from a steep start trains fine once the first
# steps are small), and checks the explanation of both with numbers.

# %%
import math

import torch
from torch.func import functional_call, hessian, vmap
from torch.optim import lr_scheduler

from toolkit import data, lesson, manual, plots
from toolkit.exercises import stop_student_version
from toolkit.landscape import largest_stable_lr
from toolkit.optim import SGD
from toolkit.parameters import unflatten
from toolkit.twins import Twins, make_twins

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
        f"LinearLR, then cosine from step {WARMUP}"),
}
# One colour per schedule in every figure of this lesson; a constant rate, no schedule at all, is grey.
colors = dict(zip(schedules, plots.RUN_COLORS)) | {"constant": "0.55"}
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
           "max_diff": differences[name], "color": colors[name]} for name, (_, _, text) in schedules.items()]
run.save(plots.schedules.schedule_panels(panels),
         "schedules",
         caption=(f"The learning rate per step set by five torch schedulers driving our SGD (η₀ = {run.lr:g}, "
                  f"T = {T}), each with its formula dashed on top; they agree to within "
                  f"{max(differences.values()):.0e} at every step. The last panel puts all five on one axis."),
         alt=("Six small line charts of the learning rate against the step. StepLR falls in a staircase, halving "
              "at regular intervals; ExponentialLR falls along a smooth curve; CosineAnnealingLR stays high, "
              "falls fastest in the middle and reaches zero at the end; LinearLR rises in a straight line from a "
              "tenth of the rate to the full rate and then stays flat; warmup then cosine rises the same way and "
              "then follows a cosine down to zero. In every panel a dashed line (the formula; dark, and white on "
              "the black line) runs exactly along the coloured line (the scheduler). The last panel overlays all "
              "five coloured curves."))

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

# %%
D, N, B = 20, 200, 5
generator = torch.Generator().manual_seed(run.seed)          # on the CPU: the same data on every device
centres = torch.randn(D, generator=generator, dtype=torch.float64)
readings = (centres + torch.randn(N, D, generator=generator, dtype=torch.float64)).to(run.device, run.dtype)
ones = torch.ones(N, 1, dtype=run.dtype, device=run.device)  # the input: always 1
best_w = readings.mean(dim=0)                                # ȳ, the minimum
best_loss = ((readings - best_w) ** 2).mean().item()         # L*
curvature = 2 / D                                            # λ


def means_twins():
    """Linear(1, D) without bias, both twins from the same random start (every run starts here)."""
    return make_twins([1, D], bias=False, loss=manual.MSELoss(), seed=run.seed, device=run.device, dtype=run.dtype)


twins = means_twins()
run.check(twins, ones, readings)
print(f"L* = {best_loss:.6f}; curvature λ = 2/D = {curvature:g} in every direction, so a rate below "
      f"2/λ = {2 / curvature:g} is stable")

# %% [markdown]
# ### The floor, predicted
# A mini-batch of B = 5 readings sees the gradient (2/D)·(w − ȳ_B), where
# ȳ_B is the batch's average. Write e = w − ȳ for one coordinate's error,
# u = ȳ_B − ȳ for the batch's error, and a = η·λ. One step is
#
#     e ← (1 − a) · e + a · u
#
# The first term shrinks the error; the second adds fresh noise. The batch
# error u is 0 on average, with the variance lesson 06 measured,
# V = s²/B · (N − B)/(N − 1) (s² is the readings' variance in that
# coordinate). Squaring and averaging over the batches gives
#
#     E[e²] ← (1 − a)² · E[e²] + 2a(1 − a) · E[e·u] + a² · V
#
# If each batch were drawn independently of the others, E[e·u] would be 0,
# and a constant rate would settle where E[e²] stops changing:
#
#     E[e²] = a·V / (2 − a)     the noise floor, about a·V/2 for small a
#
# Our batches are not independent. Each epoch shuffles the N readings and
# cuts them into N/B batches, so two batches of one epoch never share a
# reading, and their errors add up to exactly 0 over the epoch (together
# they are all the data). Two different batches of one epoch have
# covariance C = −s²/(N − 1). Unroll the step over the epoch so far: if
# k batches u₀, ..., u_(k−1) of this epoch have been used, then
#
#     e = (1 − a)^k · e₀ + Σⱼ a(1 − a)^(k−1−j) · uⱼ     (j = 0 ... k − 1)
#
# where e₀, the error when the epoch began, comes from earlier epochs
# only: the new shuffle is independent of it, so E[e₀·u] = 0. Each uⱼ has
# covariance C with the new batch u = u_k, so
#
#     E[e·u] = C · q,    q = Σⱼ a(1 − a)^(k−1−j)
#
# q is the weight this epoch's earlier batches carry in e. It need not be
# summed afresh: q = 0 when an epoch starts, and q ← (1 − a)·q + a after
# each step (with each step's own a when the rate changes). That one extra
# term makes the prediction exact, for any schedule: the expected gap at
# every step is the average of E[e²] over the D coordinates.

# %%
spread = ((readings - best_w) ** 2).mean(dim=0)              # s² per coordinate, (D,)
batch_variance = spread / B * (N - B) / (N - 1)              # V
same_epoch_covariance = -spread / (N - 1)                    # C


def expected_squares(squared, rates):
    """E[e²] per coordinate, (D,), at steps 0 ... len(rates), by the recursion above; `squared`: E[e²] at step 0."""
    weight = 0.0                                             # q
    expected = [squared]
    for t, rate in enumerate(rates):
        if t % (N // B) == 0:
            weight = 0.0                                     # a new epoch: fresh batches
        a = rate * curvature
        squared = (1 - a) ** 2 * squared + 2 * a * (1 - a) * same_epoch_covariance * weight + a ** 2 * batch_variance
        weight = (1 - a) * weight + a
        expected.append(squared)
    return expected


def expected_gap(start, rates):
    """E[L − L*] at steps 0 ... len(rates) for SGD from the weights `start` with the rates ηₜ."""
    return [squared.mean().item() for squared in expected_squares((start - best_w) ** 2, rates)]


# %% [markdown]
# For a constant rate, one whole epoch maps E[e²] to (1 − a)^(2n)·E[e²] + b,
# with n = N/B steps and b what the epoch adds starting from 0. The floor is
# the E[e²] that an epoch maps to itself, b/(1 − (1 − a)^(2n)), averaged over
# the steps of an epoch and over the coordinates.

# %%
epoch = N // B


def noise_floor(rate):
    """The expected gap a constant rate settles at, averaged over an epoch; None if the rate diverges (a ≥ 2)."""
    a = rate * curvature
    if not 0 < a < 2:
        return None
    added = expected_squares(torch.zeros_like(best_w), [rate] * epoch)[-1]               # b
    settled = expected_squares(added / (1 - (1 - a) ** (2 * epoch)), [rate] * epoch)[:-1]
    return torch.stack(settled).mean().item()


def independent_floor(rate):
    """a·V/(2 − a), averaged over the coordinates: the floor if every batch were drawn independently."""
    a = rate * curvature
    return (a * batch_variance / (2 - a)).mean().item() if 0 < a < 2 else None


a = run.lr * curvature
floor, independent = noise_floor(run.lr), independent_floor(run.lr)
if floor is None:
    print(f"a = η₀·λ = {a:g} is not between 0 and 2: the error grows by |1 − a| > 1 per step; there is no floor")
else:
    print(f"a = η₀·λ = {a:g}: noise floor of a constant rate {floor:.4g} (with independent batches it would be "
          f"{independent:.4g}: the shuffled epochs lower it by {1 - floor / independent:.0%})")
    print("rate      floor (shuffled epochs)   factor   floor (independent batches)   factor")
    previous, table = None, []
    for rate in [run.lr / 2 ** k for k in range(7)]:
        now = (noise_floor(rate), independent_floor(rate))
        table.append({"rate": rate, "floor": now[0], "floor_independent_batches": now[1]})
        factors = [f"{before / after:6.2f}" for before, after in zip(previous, now)] if previous else ["", ""]
        print(f"{rate:<9.4g} {now[0]:<25.3e} {factors[0]:>6}   {now[1]:<29.3e} {factors[1]:>6}")
        previous = now

# %% [markdown]
# With independent batches, halving the rate would halve the floor. With
# shuffled epochs the floor falls faster: threefold from the default rate,
# and fourfold for small rates, where it is proportional to the *square*
# of the rate. A step then moves the weight so little that all the batches
# of an epoch act together, and their errors cancel. Shuffling (sampling
# without replacement) helps most where the rate is small.

# %% [markdown]
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
    history = run.train(means_twins(), ones, readings, batch_size=B, scheduler=make_scheduler,
                        label=f"noise floor: {label}", main=(label == "CosineAnnealingLR"))
    histories[label] = history
    gaps[label] = [((path - best_w) ** 2).mean(dim=1).tolist()          # 1/D·‖w − ȳ‖², both twins
                   for path in (history.path_manual, history.path_autograd)]
    predictions[label] = expected_gap(history.path_manual[0], history.lrs)
    if label != "constant" and not history.diverged:
        same = history.lrs == sweeps[label][0][:history.steps]
        print(f"   the rates {label} set in training are the ones drawn above: {same}")

cosine = histories["CosineAnnealingLR"]
print(f"check: L − L* from the loss itself {cosine.final_loss_manual - best_loss:.6e}, "
      f"from 1/D·‖w − ȳ‖² {gaps['CosineAnnealingLR'][0][-1]:.6e}")
final = {}
for label, history in histories.items():
    if history.diverged:
        print(f"{label:18s} diverged at step {history.diverged_at_step}")
        continue
    measured = gaps[label][0]
    last_epoch = measured[-epoch:]
    second_half = measured[len(measured) // 2:]
    final[label] = {"measured": sum(last_epoch) / len(last_epoch),
                    "predicted": sum(predictions[label][-epoch:]) / len(predictions[label][-epoch:])}
    print(f"{label:18s} gap over the last epoch: measured {final[label]['measured']:.3g}, "
          f"predicted {final[label]['predicted']:.3g}; over the second half: measured "
          f"{sum(second_half) / len(second_half):.3g}, lowest {min(second_half):.3g}")
run.record("noise_floor", {"a": a, "floor": floor, "floor_independent_batches": independent,
                           "final_gap": final, "floor_by_rate": table if floor is not None else []})

curves = [{"label": label, "lrs": histories[label].lrs, "manual": gaps[label][0], "autograd": gaps[label][1],
           "expected": predictions[label][:len(gaps[label][0])], "diverged_at": histories[label].diverged_at_step,
           "color": colors[label]} for label in runs]
if floor is not None and len(final) == len(runs):
    below = floor / max(final["StepLR"]["measured"], final["CosineAnnealingLR"]["measured"])
    outcome = (f"With a constant rate the loss gap stops falling at the predicted noise floor ({floor:.2g}; "
               f"its last epoch averages {final['constant']['measured']:.2g}); StepLR lowers the floor in steps "
               f"and the cosine smoothly, both ending over {below:.0f} times below it.")
else:
    outcome = f"At η₀ = {run.lr:g} (a = ηλ = {a:g}) not every run converges: a constant rate needs a < 2."
run.save(plots.schedules.noise_floor_runs(curves, floor=floor, epoch=epoch),
         "noise_floor",
         caption=(f"Mini-batch SGD learning {D} averages (B = {B}, {epoch} batches per epoch), its rate above and "
                  f"its loss gap below. {outcome} Dashed: the exact expected gap for each schedule. Both twins are "
                  "drawn (line: hand-written, crosses: autograd); they coincide."),
         alt=("Two stacked charts sharing the step axis. Top: the learning rate of three runs, a flat grey line for "
              "the constant rate, a staircase halving at regular intervals for StepLR, and a falling half cosine. "
              "Bottom, on a log scale: the loss gap of each run. All three fall together at first; the constant "
              "run then stays in a noisy band around a dotted horizontal line, the noise floor, while the StepLR "
              "run drops a step at each halving and the cosine run curves down, both ending far below the floor, "
              "with dips at the end of every epoch. A dashed line, the predicted expectation, runs through the "
              "middle of each noisy curve."))

# %% [markdown]
# What to read off the figure: all three runs fall together while the
# error is large (the noise is small beside it). The constant rate then
# hits its floor and stays there, however long it runs. Halving the rate
# lowers the floor (three- to fourfold, by the table above), which is what
# StepLR does every T/8 steps, and the gap follows each halving down once
# the error has had time to forget the old noise (about 1/(2a) steps,
# longer and longer as a shrinks). The cosine lowers the rate smoothly and
# ends far below the floor too.
#
# The scallops are the shuffled epochs at work, and the prediction has
# them as well as the measurement: the gap dips at every epoch's end (a
# tick on the step axis), where the batch errors of the whole epoch have
# just added up to 0, and rises as the next epoch's first batches pull the
# weights off again. The smaller the rate, the more of an epoch a weight
# remembers, and the deeper the dip: shuffling helps a decaying rate most.

# %% [markdown]
# ## Warmup: small first steps where the landscape is steep
# Lesson 03 found that a step diverges when the rate exceeds 2/λmax, the
# limit set by the sharpest curvature (the largest eigenvalue of the
# Hessian). On a quadratic that limit holds everywhere; in a network it
# depends on where we are. If the start is much sharper than the region
# training is heading for, a rate that suits the later region overshoots
# at the start. Warmup starts with a fraction of the rate and raises it
# while the network moves somewhere flatter.
#
# The smallest network that shows this is lesson 09's chain of two
# weights, ŷ = w2 · (w1 · x) (two `Linear(1, 1)` layers without bias),
# here on forty points around y = x and started from a large
# initialisation, w1 = w2 = 3. In lesson 09's notation, a = mean(x²),
# c = mean(x·y) and d = mean(y²) (this a is lesson 09's, not the a = η·λ
# of the noise floor above), the loss depends on the product p = w1·w2
# alone,
#
#     L = a·p² − 2c·p + d,    lowest at p* = c/a, where L* = d − c²/a
#
# and its Hessian is lesson 09's
#
#     H = [[2a·w2²,       4a·p − 2c],
#          [4a·p − 2c,    2a·w1²   ]]
#
# On the diagonal w1 = w2 = w (a symmetric start stays there) the sharpest
# direction is (1, 1), with λmax = 2a·w² + (4a·w² − 2c) = 6a·w² − 2c:
# about 46 at w = 3, and only 4c ≈ 3.4 at the minimum (w² = p*). A rate of
# 0.2 is then far too large at the start (2/λmax ≈ 0.04) and comfortable
# at the end (2/λmax ≈ 0.6).

# %%
x, y = data.noisy_line(n=40, slope=1.0, intercept=0.0, noise=0.3, x_range=(-2.0, 2.0),
                       seed=run.seed, device=run.device, dtype=run.dtype)
a, c, d = (x * x).mean().item(), (x * y).mean().item(), (y * y).mean().item()    # lesson 09's a, c, d
best_slope, chain_best_loss = c / a, d - c * c / a           # p* and L*
START, WARM_LR, WARM_STEPS = 3.0, 0.2, 40


def chain_twins(w1=START, w2=START):
    """ŷ = w2·(w1·x): two Linear(1, 1) layers without bias, both twins at (w1, w2)."""
    twins = make_twins([1, 1, 1], bias=False, loss=manual.MSELoss(), seed=run.seed, device=run.device,
                       dtype=run.dtype)
    with torch.no_grad():
        twins.manual_net[0].weight.fill_(w1)
        twins.manual_net[1].weight.fill_(w2)
    return Twins.of(twins.manual_net, twins.manual_loss)


chain = chain_twins()
like = dict(chain.torch_net.named_parameters())


def chain_loss(theta):
    """The loss at the weights theta = (w1, w2), by the torch twin with theta swapped in (torch.func)."""
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
print(f"a = {a:.4f}, c = {c:.4f}, d = {d:.4f}: p* = c/a = {best_slope:.4f}, L* = d − c²/a = {chain_best_loss:.4f}")
print(f"λmax at the start (3, 3): {start_sharpness:.4f} from the Hessian, "
      f"6a·w² − 2c = {6 * a * START ** 2 - 2 * c:.4f}; 2/λmax = {2 / start_sharpness:.4f}")
print(f"λmax at the minimum (√p*, √p*): {end_sharpness:.4f} from the Hessian, 4c = {4 * c:.4f}; "
      f"2/λmax = {2 / end_sharpness:.4f}")
print(f"the rate {WARM_LR}: η·λmax = {WARM_LR * start_sharpness:.2f} at the start, {WARM_LR * end_sharpness:.2f} "
      f"at the minimum (stable below 2)")

# %% [markdown]
# Two runs at η = 0.2: one at the full rate from the first step, one that
# warms up with LinearLR from 0.1·η over the first 10 steps. Along each
# path we compute λmax from the Hessian at every step and compare η·λmax
# with 2, with the rate of that step.

# %%
def warmup(opt):
    return lr_scheduler.LinearLR(opt, start_factor=0.1, total_iters=10)


warm_runs = {"no warmup": None, "linear warmup, 10 steps": warmup}
warm_histories, warm_sharpness = {}, {}
for label, make_scheduler in warm_runs.items():
    history = run.train(chain_twins(), x, y, lr=WARM_LR, steps=WARM_STEPS, scheduler=make_scheduler,
                        label=f"warmup: {label}", main=False)
    warm_histories[label] = history
    warm_sharpness[label] = [sharpness_along(path) for path in (history.path_manual, history.path_autograd)]
    rates = history.lrs + [history.lrs[-1]] * (len(warm_sharpness[label][0]) - len(history.lrs))
    products = [rate * value for rate, value in zip(rates, warm_sharpness[label][0])]
    stable = next((t for t, value in enumerate(products) if not value < 2), None)
    print(f"{label}: λmax along the path {warm_sharpness[label][0][0]:.3g} → {warm_sharpness[label][0][-1]:.3g}; "
          f"largest ηₜ·λmax {max(products):.3g}; "
          + (f"above 2 from step {stable} on" if stable is not None else "below 2 at every step"))
no_warmup, with_warmup = warm_histories["no warmup"], warm_histories["linear warmup, 10 steps"]
w_path = no_warmup.path_manual[:, 0].tolist()
print(f"without warmup w1 went {', '.join(f'{w:.3g}' for w in w_path)}")

# %% [markdown]
# Without warmup the first step overshoots: η·λmax ≈ 9 at the start, and
# w1 jumps from 3 to the far side, where the landscape is steeper still.
# Each further step overshoots by more; the toolkit stops the run when its
# loss passes 10¹² times the first. With warmup the first step is ten times
# smaller, η·λmax stays below 2, and every step goes downhill; by the time
# the rate is full the network sits where the landscape is flat enough for
# it.
#
# ### Is λmax > 2/η enough to blow up?
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
    history = run.train(chain_twins(), x, y, lr=factor * blow_up_lr, steps=WARM_STEPS,
                        label=f"warmup: no warmup, {factor:g} × the blow-up rate", main=False)
    catapult[factor] = history
    outcome = (f"diverged at step {history.diverged_at_step}" if history.diverged
               else f"final loss {history.final_loss_manual:.4g} (L* = {chain_best_loss:.4g})")
    print(f"η = {factor:g} × {blow_up_lr:.4f} = {factor * blow_up_lr:.4f} (η·λmax = "
          f"{factor * blow_up_lr * start_sharpness:.2f} at the start): {outcome}")
run.record("warmup", {
    "lr": WARM_LR, "start": [START, START],
    "sharpness_start": start_sharpness, "stable_lr_start": 2 / start_sharpness,
    "sharpness_minimum": end_sharpness, "no_warmup_diverged_at_step": no_warmup.diverged_at_step,
    "warmup_diverged": with_warmup.diverged,
    "warmup_largest_lr_times_sharpness": max(rate * value for rate, value
                                             in zip(with_warmup.lrs, warm_sharpness["linear warmup, 10 steps"][0])),
    "blow_up_lr": blow_up_lr,
    "catapult": {f"{factor:g}": {"lr": h.lr, "diverged_at_step": h.diverged_at_step}
                 for factor, h in catapult.items()},
})

warm_colors = {"no warmup": colors["constant"], "linear warmup, 10 steps": colors["LinearLR (warmup)"]}
chain_runs = [{"label": label, "history": warm_histories[label], "manual_sharpness": warm_sharpness[label][0],
               "autograd_sharpness": warm_sharpness[label][1], "color": warm_colors[label]} for label in warm_runs]
without = (f"the loss explodes and the run is stopped at step {no_warmup.diverged_at_step}" if no_warmup.diverged
           else "the run survives this time")
with_it = "it diverges too" if with_warmup.diverged else "it trains"
run.save(plots.schedules.warmup_sharpness(chain_runs, best_loss=chain_best_loss),
         "warmup",
         caption=(f"Lesson 09's chain ŷ = w2·w1·x from w1 = w2 = 3 at η = {WARM_LR:g}. Without warmup {without}; "
                  f"with a 10-step linear warmup {with_it}. Right: the sharpness λmax at every step against its limit "
                  f"2/ηₜ (dashed). The start is too sharp for the full rate ({start_sharpness:.0f} against "
                  f"2/η = {2 / WARM_LR:g}); with warmup λmax stays below the limit at every step, falling to "
                  f"{end_sharpness:.1f} while the limit falls to {2 / WARM_LR:g}. Both twins are drawn; "
                  "they coincide."),
         alt=("Two charts with log-scale vertical axes. Left: the loss per step. The run without warmup rises "
              "steeply for a few steps and ends in an X marking where it was stopped as diverged; the run with "
              "warmup falls from about 60 to a dotted line at the lowest loss and stays there. Right: the largest "
              "Hessian eigenvalue per step for both runs, each with its dashed stability limit 2 divided by the "
              "rate. Without warmup the limit is a flat line at 10 and the eigenvalue starts at about 46 and "
              "shoots off the top. With warmup the limit starts at 100 and falls to 10, and the eigenvalue falls "
              "from 46 to about 3.4, staying below its limit throughout."))

# %% [markdown]
# ## What to take away
# * A scheduler is a rule for one number, `param_groups[0]["lr"]`, applied
#   after every step; each of the five here follows a closed formula in t.
# * With mini-batches, a constant rate buys a noise floor: proportional to
#   the rate if the batches were independent, falling faster still with
#   shuffled epochs. Decay trades speed for precision late in training,
#   when precision is what is left to gain.
# * Sharpness changes during training. Warmup keeps η·λmax below 2 while
#   the start is sharp; the rate can rise as the landscape flattens.

# %%
run.finish()
