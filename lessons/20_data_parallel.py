# %% [markdown]
# # 20 · Large batches on many workers: data-parallel SGD
#
# Lesson 06 proved that a batch's gradient is the mean of the gradients
# on equal parts of it. Every large network is trained that way: k
# *workers* (processes, GPUs, machines) each hold a copy of the network
# and take an equal share of every batch; one collective, the
# **all-reduce**, hands each the sum of their gradients; each divides by k
# and takes the same step. On real processes with `torch.distributed`, we
# see both twins take one process's steps, the *linear scaling rule* and
# *warmup* of Goyal et al. (2017) for a k times larger batch, the wall at
# 2/λmax (lessons 03, 13, 15), why a larger batch allows a larger step
# (lesson 06's variance), and what the workers cost.

# %%
import math
import time

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from torch.optim import lr_scheduler

from toolkit import data, distributed, lesson, manual, plots
from toolkit.landscape import largest_stable_lr
from toolkit.optim import SGD
from toolkit.parameters import flatten
from toolkit.twins import chain_twins_at, make_twins

# --steps, --lr: the workers' full-batch run. The number of workers is an environment variable, since every
# lesson shares the flags: TOOLKIT_WORLD_SIZE=4 python -m toolkit run 20 (or torchrun, see the README).
run = lesson.start("20_data_parallel", steps=30, lr=0.5)
N = 240                                             # examples: 1 to 8 workers all get equal shares
WORLD_SIZE = distributed.world_size_option(default=2, divides=N)
distributed.suggest_more_workers(WORLD_SIZE)                    # "TOOLKIT_WORLD_SIZE=4 ..." on 4 cores or more

# %% [markdown]
# ## The network, and a share of the data for each worker
# Lesson 05's two moons (N = 240 points) and its 2 → 16 → 16 → 2 tanh
# network, 354 parameters, by full-batch gradient descent. Worker r of k
# keeps `x[r::k]`, as `torch.utils.data.DistributedSampler` deals them.

# %%
x, y = data.two_moons(n=N, noise=0.15, seed=run.seed, device=run.device, dtype=run.dtype)


def moons_twins(device=run.device):
    return make_twins([2, 16, 16, 2], "tanh", loss=manual.CrossEntropyLoss(), seed=run.seed, device=device,
                      dtype=run.dtype)


twins = moons_twins()
run.check(twins, x, y)

# %% [markdown]
# ## One worker's step
# Worker r computes the mean loss L_r over its N/k points and its
# gradient g_r. The whole batch's loss is the mean of the shares' losses,
# so ∇L = (g₀ + g₁ + … + g_(k−1))/k. `dist.all_reduce(t)` replaces t on
# every worker by the sum of all workers' t, in place; each divides by k.

# %%
def average_gradients(net, world_size):
    """Replace every parameter's .grad by its mean over the workers, (g₀ + … + g_(k−1))/k, on every worker."""
    # exercise average_gradients: sum every .grad over the workers with dist.all_reduce, then divide by world_size
    for param in net.parameters():
        dist.all_reduce(param.grad, op=dist.ReduceOp.SUM)
        param.grad /= world_size
    # end exercise


# %% [markdown]
# DDP does the same for the torch twin, and starts each ~25 MB bucket's
# all-reduce as soon as backward has filled it, while backward carries on
# below. Every worker runs this function:

# %%
def gradients_of(net):
    return {name: param.grad.detach().cpu().clone() for name, param in net.named_parameters()}


def data_parallel_worker(rank, world_size, device, twins, x, y, steps, lr):
    """One of `world_size` workers: `steps` steps of full-batch SGD on its share of (x, y), both twins.

    Returns both twins' parameters after every step, (steps + 1, P) each, the first step's averaged
    gradients by parameter name ("manual", "autograd") and the seconds one step took.
    """
    xs, ys = x[rank::world_size].to(device), y[rank::world_size].to(device)
    manual_net = twins.manual_net.to(device)
    ddp_net = DistributedDataParallel(twins.torch_net.to(device))
    optimizers = [SGD(manual_net.parameters(), lr=lr), SGD(ddp_net.parameters(), lr=lr)]
    paths = {"manual": [flatten(manual_net.named_parameters())],
             "autograd": [flatten(ddp_net.module.named_parameters())]}
    started = time.perf_counter()
    for step in range(steps):
        twins.zero_grad()
        twins.manual_loss(manual_net(xs), ys)
        manual_net.backward(twins.manual_loss.backward(), input_grad=False)     # g_r, by hand
        average_gradients(manual_net, world_size)                                 # ∇L, on every worker
        twins.torch_loss(ddp_net(xs), ys).backward()                              # g_r, then ∇L: DDP
        if step == 0:                                                             # for the exercise's check
            first = {"manual": gradients_of(manual_net), "autograd": gradients_of(ddp_net.module)}
        for optimizer in optimizers:
            optimizer.step()
        paths["manual"].append(flatten(manual_net.named_parameters()))
        paths["autograd"].append(flatten(ddp_net.module.named_parameters()))
    return {"paths": {twin: torch.stack(path).cpu() for twin, path in paths.items()}, "first": first,
            "seconds_per_step": (time.perf_counter() - started) / steps}


# %% [markdown]
# ## Starting the workers
# `distributed.launch` forks the processes (`torch.multiprocessing`),
# lets them meet on a free port and returns what the function returned in
# each. Every collective has a timeout; a failed worker stops the others
# and its error comes back as one line. These workers talk through gloo
# on the CPU; under `torchrun`, each is a process on its own GPU (nccl).

# %%
started = time.perf_counter()
results = distributed.launch(data_parallel_worker, WORLD_SIZE, device=run.device,
                             args=(moons_twins("cpu"), x.cpu(), y.cpu(), run.steps, run.lr))
per_step = results[0]["seconds_per_step"]
print(f"{WORLD_SIZE} workers, {run.steps} steps: {time.perf_counter() - started:.2f} s, of which "
      f"{run.steps * per_step:.2f} s ({1e3 * per_step:.1f} ms per step) training")

# %% [markdown]
# ## Proved equal: the workers against one process
# The same steps in this process on the whole batch; then *gradient
# accumulation*, the same arithmetic on one machine (how a batch too large
# for one GPU's memory is trained): backward on each of the k shares, each
# loss divided by k, without zeroing in between, so `.grad` adds the mean.

# %%
reference = run.train(twins, x, y)


def accumulated_run(twins, x, y, micro_batches, steps, lr):
    """Full-batch SGD whose every gradient is accumulated over `micro_batches` shares; both twins' paths."""
    optimizers = [SGD(twins.manual_net.parameters(), lr=lr), SGD(twins.torch_net.parameters(), lr=lr)]
    paths = {"manual": [flatten(twins.manual_net.named_parameters())],
             "autograd": [flatten(twins.torch_net.named_parameters())]}
    for _ in range(steps):
        twins.zero_grad()
        for r in range(micro_batches):
            xs, ys = x[r::micro_batches], y[r::micro_batches]
            twins.manual_loss(twins.manual_net(xs), ys)
            twins.manual_net.backward(twins.manual_loss.backward(1 / micro_batches), input_grad=False)   # adds
            (twins.torch_loss(twins.torch_net(xs), ys) / micro_batches).backward()                      # adds
        for optimizer in optimizers:
            optimizer.step()
        paths["manual"].append(flatten(twins.manual_net.named_parameters()))
        paths["autograd"].append(flatten(twins.torch_net.named_parameters()))
    return {twin: torch.stack(path) for twin, path in paths.items()}


accumulated = accumulated_run(moons_twins(), x, y, WORLD_SIZE, run.steps, run.lr)
one_process = {"manual": reference.path_manual, "autograd": reference.path_autograd}
workers = {twin: path.to(run.device) for twin, path in results[0]["paths"].items()}
between_workers = distributed.between_workers(results)
compared = {"workers": workers, "accumulated": accumulated}
differences = distributed.path_differences(compared, one_process)
largest = {label: max(values) for label, values in differences.items()}
print(f"largest |difference| from one process over {run.steps} steps: "
      + ", ".join(f"{label} {value:.1e}" for label, value in largest.items())
      + f"; between the workers {between_workers:g}")

# %% [markdown]
# The differences are rounding (the shares are summed in another order);
# the workers agree to the last bit, as the all-reduce hands each the same
# sum. `python -m toolkit check 20` judges the exercise's first averaged
# gradients (a mistake there is named) and every step's parameters.

# %%
distributed.check_average(run, average_gradients, results[0]["first"], twins=moons_twins(), x=x, y=y,
                          world_size=WORLD_SIZE)
distributed.check_paths(run, compared, one_process, world_size=WORLD_SIZE)
run.record("world_size", WORLD_SIZE)
run.record("max_abs_diff_vs_one_process", {**largest, "between_workers": between_workers})
run.save(plots.data_parallel.equal_to_one_process(reference, differences, world_size=WORLD_SIZE,
                                                  tolerance=1e-12 if run.dtype == torch.float64 else 1e-6),
         "one_process")

# %% [markdown]
# ## Large batches: the linear scaling rule
# k workers with B examples each train on batches of kB: at the same rate
# they take k times fewer steps per epoch and get k times less far. Goyal
# et al. (2017) kept ResNet-50's ImageNet accuracy with batches from 256
# to 8192 by two rules: multiply the rate by k, and reach it by a *gradual
# warmup* from η. Their reason: k small steps η·g₁ + … + η·g_k are one big
# step kη·ḡ on their batches' union while the gradient barely changes.
#
# We test both on lesson 09's chain ŷ = w2·(w1·x) from lesson 13's sharp
# start w1 = w2 = 3, on 128 points around y = x (128 more held out). The
# baseline, k = 1, is a batch of B = 4 at η = 0.025. Every run gets 4
# epochs at batch 4k and rate k·η, without warmup and with a linear one
# from η over 2 epochs (`LinearLR`, lesson 12); a control gets k = 8's
# batch at the baseline's rate.

# %%
line_x, line_y = data.noisy_line(n=256, slope=1.0, intercept=0.0, noise=0.3, x_range=(-2.0, 2.0), seed=run.seed,
                                 device=run.device, dtype=run.dtype)
train_x, train_y, held_x, held_y = line_x[:128], line_y[:128], line_x[128:], line_y[128:]
START, B, ETA, EPOCHS, WARMUP_EPOCHS = 3.0, 4, 0.025, 4, 2
KS = [1, 2, 4, 8, 16, 32]                      # batch B·k up to all 128 points


def chain_twins(w1=START, w2=START):
    """ŷ = w2·(w1·x), lesson 09's chain: two Linear(1, 1) without bias, both twins at (w1, w2)."""
    return chain_twins_at(w1, w2, device=run.device, dtype=run.dtype)


def held_out(path):
    """The held-out loss, mean (w1·w2·x − y)², at every row (w1, w2) of a path (T, 2): a list of T."""
    return ((path[:, :1] * path[:, 1:] * held_x.T - held_y.T) ** 2).mean(dim=1).tolist()


def scaled_run(k, warmup, lr=None):
    """The baseline scaled by k: batch B·k at rate k·η (or `lr`) for EPOCHS epochs, warmed up from η if asked.

    Returns the history and both twins' held-out loss at the start and after every epoch.
    """
    lr = k * ETA if lr is None else lr
    steps_per_epoch = len(train_x) // (B * k)
    schedule = None
    if warmup and k > 1:
        def schedule(optimizer):
            return lr_scheduler.LinearLR(optimizer, start_factor=ETA / lr, total_iters=WARMUP_EPOCHS * steps_per_epoch)
    label = f"k = {k}, lr = {lr:g}" + (", warmup" if warmup and k > 1 else "")
    history = run.train(chain_twins(), train_x, train_y, lr=lr, batch_size=B * k, steps=EPOCHS * steps_per_epoch,
                        scheduler=schedule, label=label, main=False)
    return history, {"manual": held_out(history.path_manual[::steps_per_epoch]),
                     "autograd": held_out(history.path_autograd[::steps_per_epoch])}


chain = chain_twins()
run.check(chain, train_x, train_y, first_layer=True)
scaled = {(k, warmup): scaled_run(k, warmup) for k in KS for warmup in (False, True) if warmup or k > 1}
scaled[(1, False)] = scaled[(1, True)]                  # k = 1: nothing to warm up
unscaled = scaled_run(8, warmup=False, lr=ETA)          # the control: batch 32 at the baseline's rate

# %% [markdown]
# ## Where the rule breaks: 2/λmax
# Lesson 03's limit: a step overshoots along a direction of curvature λ
# when η·λ > 2. With a = mean x², c = mean x·y (lesson 09), λmax is
# 6a·w² − 2c at the start and 2a(w1² + w2²) on the valley floor, lowest
# at w1 = w2: 4c. Lesson 13's rate at which the first step throws the
# weights out instead of into the valley, 1/(a·w² − c), lies well above
# 2/λmax of the start. Each limit is a largest k:

# %%
a, c = (train_x ** 2).mean().item(), (train_x * train_y).mean().item()
_, start_eigenvalues = largest_stable_lr(chain.torch_net, chain.torch_loss, train_x, train_y)
bottom = math.sqrt(c / a)                                       # w1 = w2 = √(c/a): the flattest point of the floor
floor_twins = chain_twins(bottom, bottom)
_, floor_eigenvalues = largest_stable_lr(floor_twins.torch_net, floor_twins.torch_loss, train_x, train_y)
limits = {"2/λmax at the start": 2 / start_eigenvalues[-1].item(),
          "1/(a·w² − c), the first step blows up": 1 / (a * START ** 2 - c),
          "2/λmax on the valley floor": 2 / floor_eigenvalues[-1].item()}
print(f"λmax at the start {start_eigenvalues[-1]:.3f} (6a·w² − 2c = {6 * a * START ** 2 - 2 * c:.3f}); "
      f"on the floor {floor_eigenvalues[-1]:.3f} (4c = {4 * c:.3f})")
print("; ".join(f"{name}: rate {rate:.4f}, k up to {rate / ETA:.1f}" for name, rate in limits.items()))


def outcome(history, held):
    return (f"diverged at step {history.diverged_at_step}" if history.diverged
            else f"held-out loss {held['manual'][-1]:.5f}")


for k in KS:
    print(f"k = {k:2d} (batch {B * k:3d}, lr {k * ETA:<6g}): without warmup {outcome(*scaled[(k, False)]):24s} "
          f"with warmup {outcome(*scaled[(k, True)])}")
print(f"control, batch {8 * B} at lr {ETA}: {outcome(*unscaled)}")

# %% [markdown]
# Three regimes. Up to k = 4 the rule just works, with or without warmup.
# From k = 8 the rate is past the start's blow-up rate: without warmup the
# first steps throw the weights out; with it, small steps first bring them
# into the valley and training matches the baseline (the control lags,
# 8 times less far per epoch). At k = 16 the rate 0.4 sits just under the
# floor's limit, where a step shrinks the error only by |1 − kη·λ| ≈ 0.96;
# at k = 32 it is past it, and the run ends far above the baseline, warmup
# or not. The floor's own limit, not a warmup too short: both rates from
# a hundredth away from the minimum, on the whole batch:

# %%
at_the_wall = {k: run.train(chain_twins(bottom + 0.01, bottom + 0.01), train_x, train_y, lr=k * ETA, steps=30,
                           label=f"k = {k}, lr = {k * ETA:g}, from the floor", main=False) for k in (16, 32)}
for k, history in at_the_wall.items():
    verdict = "settles" if history.final_loss_manual < 1.01 * history.loss_manual[0] else "does not settle"
    print(f"from the floor at lr {k * ETA:g} (lr·λmax = {k * ETA * floor_eigenvalues[-1]:.2f}): loss "
          f"{history.loss_manual[0]:.5f} → {history.final_loss_manual:.5f}: it {verdict}")
runs = {f"k={k}" + (", warmup" if warmup else ""): {"diverged_at_step": h.diverged_at_step,
                                                    "held_out_loss": None if h.diverged else held["manual"][-1]}
        for (k, warmup), (h, held) in scaled.items()}
from_the_floor = {f"k={k}": h.final_loss_manual for k, h in at_the_wall.items()}
run.record("linear_scaling", {"batch": B, "lr": ETA, "epochs": EPOCHS, "warmup_epochs": WARMUP_EPOCHS,
                              "limits_lr": limits, "runs": runs, "from_the_floor": from_the_floor})
best_loss = (train_y ** 2).mean().item() - c ** 2 / a                # on the valley floor: L* = d − c²/a
run.save(plots.data_parallel.linear_scaling(scaled, unscaled, at_the_wall, ks=KS, shown=8, batch=B, lr=ETA,
                                            epochs=EPOCHS, train_size=len(train_x), limits=limits,
                                            best_loss=best_loss), "linear_scaling")

# %% [markdown]
# ## Why a larger batch allows a larger step: the noise
# A step is the gradient's mean plus noise. Lesson 06 measured the noise of
# a batch of b examples drawn without replacement from N:
#
#     E‖g_b − ∇L‖² = σ²/b · (N − b)/(N − 1),   σ² the variance of one example's gradient
#
# Three ways to move k·η·∇L at the end of the baseline run: **k small
# steps** of η on k disjoint batches of B (as if the weights barely moved)
# carry the noise of their union, like **one big step** kη·g_kB (the
# rule): (kη)²·σ²/(kB)·(N − kB)/(N − 1). **One big step on a small batch**,
# kη·g_B, has (kη)²·σ²/B·(N − B)/(N − 1), about k times more. We draw
# 4,000 of each from gᵢ = 2(w1·w2·xᵢ − yᵢ)·xᵢ·(w2, w1).

# %%
w1, w2 = scaled[(1, True)][0].path_manual[-1].tolist()     # the end of the baseline run
per_example = 2 * (w1 * w2 * train_x - train_y) * train_x * torch.tensor([[w2, w1]], dtype=run.dtype,
                                                                         device=run.device)     # (128, 2)
end = chain_twins(w1, w2)
end.torch_loss(end.torch_net(train_x), train_y).backward()
full = flatten((name, p.grad) for name, p in end.torch_net.named_parameters())
sigma2 = (per_example - full).pow(2).sum(dim=1).mean().item()
print(f"the per-example gradients' mean against autograd's gradient: max |diff| "
      f"{(per_example.mean(dim=0) - full).abs().max():.1e}; σ² = {sigma2:.4g}")
generator = torch.Generator().manual_seed(run.seed)
DRAWS = 4000


def step_noise(batch, rate, batches=1, draws=DRAWS):
    """Mean over `draws` of ‖rate·(sum of `batches` disjoint random batches' gradients − their mean)‖²."""
    n = len(per_example)
    order = torch.rand(draws, n, generator=generator, dtype=torch.float64).argsort(dim=1).to(run.device)
    picks = order[:, :batch * batches]                                    # batches·batch different examples
    sums = per_example[picks].reshape(draws, batches, batch, -1).mean(dim=2).sum(dim=1)
    return (rate * (sums - batches * full)).pow(2).sum(dim=1).mean().item()


def predicted(batch, rate):
    """Lesson 06's formula, times rate²: rate²·σ²/b·(N − b)/(N − 1)."""
    return rate ** 2 * sigma2 / batch * (len(per_example) - batch) / (len(per_example) - 1)


noise = {"k small steps": [step_noise(B, ETA, batches=k) for k in KS],
         "one step, batch kB": [step_noise(B * k, k * ETA) for k in KS],
         "one step, batch B": [step_noise(B, k * ETA) for k in KS]}
noise_theory = {"one step, batch kB": [predicted(B * k, k * ETA) for k in KS],
                "one step, batch B": [predicted(B, k * ETA) for k in KS]}
run.record("noise", {"sigma2": sigma2, "ks": KS, "measured": noise, "predicted": noise_theory})
run.save(plots.data_parallel.noise_scale(KS, noise, noise_theory, batch=B, lr=ETA, n=len(train_x), draws=DRAWS),
         "noise_scale")

# %% [markdown]
# So the rule keeps the noise per unit of progress where it was (a little
# lower, by the finite-population factor): a larger batch may take a
# larger step; a step may not grow without its batch. Lesson 12's noise
# floor agrees: rate η on batches of B settles at a·V/(2 − a), a = η·λ,
# V ∝ 1/B: about η·λ·V/2, a function of η/B, while a is small, unbounded
# as k·η·λ nears 2, where one big step, unlike k small ones that measure
# the gradient afresh, overshoots further each time: the previous wall.
#
# ## What the workers cost
# Every step, each worker sends its whole gradient into the all-reduce:
# P numbers, 8 bytes each in float64, whatever k is. `distributed.
# bytes_per_step` counts them with a DDP *communication hook*, which gets
# each full bucket of gradients: it counts the bytes, then does what DDP
# does by default (divide by k, start an all-reduce, return its future).

# %%
sizes = distributed.launch(distributed.bytes_per_step, WORLD_SIZE, device=run.device,
                           args=([4, 16, 64, 256], x.cpu(), y.cpu()))[0]
for row in sizes:
    print(f"width {row['width']:4d}: P = {row['parameters']:9,d}, {row['bytes']:11,d} bytes in {row['buckets']} "
          f"bucket(s) = {row['bytes'] / row['parameters']:g} bytes per parameter")
benchmark = distributed.read_benchmark()                # benchmarks/data_parallel.json, or None
if benchmark is not None:
    print(distributed.startup_line(benchmark))
run.record("bytes_per_step", sizes)
run.save(plots.data_parallel.cost(sizes, benchmark), "cost")

# %% [markdown]
# The bytes grow with P and not with k: a ring all-reduce (what gloo and
# nccl do) sends each worker 2(k − 1)/k · 8P bytes and receives as many,
# so more workers barely add traffic per worker, but it crosses the
# network every step, at the pace of the slowest link.
#
# The times come from `benchmarks/data_parallel.py`, not from this run
# (its own time per step is printed above): a time depends on the machine
# and its load, and a figure must come out the same every time. Each
# worker's CPU time shows the work shared out: for the wider network it
# halves with 2 workers. The clock shows what 2 cores shared with other
# programs gave (the figure's note gives their load): 2 workers at best
# halve the time, 4 take turns, and the all-reduce only copies memory
# within one machine. For this lesson's network a step is so short that
# the all-reduce costs more than the computation it shares. Forked workers
# start in a fraction of a second; spawned ones import torch again (see
# the printout). Data parallelism pays when a step's computation dwarfs 8P
# bytes of traffic.
#
# ## What to take away
# * The mean of the shares' gradients is the whole batch's: one all-reduce
#   and a division by k make k workers take one process's step, to float64
#   rounding; gradient accumulation does it on one.
# * A k times larger batch takes a k times larger rate (the same noise per
#   unit of progress), by warmup where the start is sharp, up to 2/λmax,
#   where it breaks whatever the schedule.
# * The cost is 8P bytes per worker per step, whatever k is: worth paying
#   when a step's computation is large.
#
# ## Captions for course notes

# %%
run.describe("one_process",
             caption=f"Full-batch gradient descent on the two moons (2-16-16-2 tanh, 354 parameters), {run.steps} "
                     f"steps at lr {run.lr:g}. Left: the loss in one process on the whole batch, both twins. Middle: "
                     f"after every step, the largest parameter difference between {WORLD_SIZE} worker processes on "
                     f"their shares (hand-written twin: dist.all_reduce; autograd twin: DistributedDataParallel) and "
                     f"that one process. Right: the same for one process accumulating the gradient over the "
                     f"{WORLD_SIZE} shares. Every difference is float64 rounding, at most {max(largest.values()):.1g}.",
             alt=f"Three panels against the step, 0 to {run.steps}. Left: the loss falls from "
                 f"{reference.loss_manual[0]:.2f} to {reference.final_loss_manual:.2f}, blue circles with vermillion "
                 f"crosses in them. Middle and right: on a log axis from 1e-17 to 1e-11, blue circles and crosses from "
                 f"{min(v for d in differences.values() for v in d if v > 0):.0e} to {max(largest.values()):.0e}, "
                 f"around a dotted line at 2.2e-16 and far below a dashed line at 1e-12.")
run.describe("linear_scaling",
             caption=f"Lesson 09's chain from lesson 13's sharp start, {EPOCHS} epochs at batch {B}·k and rate "
                     f"k·{ETA}. Left: the held-out loss per epoch at k = 1 and k = 8: without warmup the run diverges "
                     f"in its first epoch, with {WARMUP_EPOCHS} epochs of warmup it follows the baseline, and k = 8 "
                     f"at the baseline's rate lags. Middle: the final held-out loss for every k against the "
                     f"predicted limits (vertical lines). Right: from next to the minimum, the rate of k = 16, just "
                     f"under 2/λmax of the valley floor, settles; that of k = 32, past it, never does. Both twins "
                     f"are drawn and coincide.",
             alt="Three panels. Left: held-out loss on a log axis against the epoch, falling from about 80 to 0.1 "
                 "within one epoch for the baseline and the warmed-up run, more slowly for the control; a black X "
                 "at the top marks the run without warmup. Middle: held-out loss against k from 1 to 32, log axes: "
                 "flat at small k; the runs without warmup are X marks at the top from k = 8, those with warmup "
                 "rise at k = 16 and jump at k = 32, on either side of three vertical lines. Right: loss per step "
                 "from next to the minimum: one line stays on the dotted lowest loss, the other jumps between it "
                 "and more than 1.")
run.describe("noise_scale",
             caption=f"The noise of a move of k·η·∇L at the end of the baseline run (batch {B}, η = {ETA}, "
                     f"N = {len(train_x)}), over {DRAWS:,} random draws (points) and by lesson 06's formula "
                     f"(dashed). k small steps on disjoint batches and one step of k·η on a batch of k·{B} carry "
                     f"the same noise, which grows like k and vanishes where the batch is all the data; one step of "
                     f"k·η on a batch of {B} carries about k times more.",
             alt="A log-log plot of noise against k from 1 to 32. Hollow triangles and filled circles lie together on "
                 "a dashed curve that rises slowly and bends over; at k = 32 an arrow points down off the axis. "
                 "Diamonds lie on a steeper dashed line, about 30 times higher by k = 16.")
run.describe("cost",
             caption="Left: the bytes each worker hands to the all-reduce in one step, counted by DDP's communication "
                     "hook, against the parameters of networks of widths 4 to 256: 8 per float64 parameter, whatever "
                     "the number of workers. Right: milliseconds per step against the number of worker processes "
                     "(benchmarks/data_parallel.py, a shared 2-core machine): by the clock (solid), one worker's CPU "
                     "time (dashed) and that divided by k (dotted), for lesson 20's network and a wider one.",
             alt="Two panels. Left: a log-log plot of bytes against parameters, four points on a dashed straight "
                 "line. Right: milliseconds per step against 1, 2 and 4 workers on log axes for two networks, each in "
                 "its colour: a solid line of clock times, a dashed one of CPU times, a dotted one falling as 1/k.")
run.finish()
