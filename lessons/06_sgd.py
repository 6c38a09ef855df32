# %% [markdown]
# # 06 · Stochastic gradient descent: many cheap, noisy steps
#
# Every step so far used the gradient of the loss over *all* N examples:
# full-batch gradient descent. Its cost grows with N, and real data sets
# hold millions of examples. Stochastic gradient descent (SGD) estimates the
# gradient from a small random mini-batch of B examples instead. A step
# then costs B/N of a full one, and points roughly, not exactly, downhill.
# The "stochastic" is that random choice of examples. This lesson measures
# what it does: the estimate is right on average, its error shrinks with B
# in a way we can predict exactly, a constant step size never lets the
# noise die out, and for the same amount of work the cheap noisy steps can
# get further than the exact ones, or not, depending on what we count.

# %%
import torch
from torch.func import functional_call, grad, vmap

from toolkit import data, lesson, manual, plots
from toolkit.landscape import grid_around, loss_on_plane
from toolkit.parameters import flatten, unflatten, vmap_or_loop
from toolkit.train import train
from toolkit.twins import make_twins

# --steps: the number of steps of every run on the line; --lr: their step size.
run = lesson.start("06_sgd", steps=200, lr=0.1)

# %% [markdown]
# ## Two problems we know, and their twins
# Lesson 02's line, `ŷ = w·x + b` on 40 points around y = −x + 2, and
# lesson 05's two moons: the same 400 points, split by the same seed, of
# which the network trains on 200 and never sees the other 200, and the
# same 2-16-16-2 tanh network. Both twins start from the same random
# parameters, and the three witnesses (by hand, autograd, finite
# differences) check both networks first.

# %%
x, y = data.noisy_line(n=40, slope=-1.0, intercept=2.0, noise=0.5, x_range=(-1.0, 3.0),
                       seed=run.seed, device=run.device, dtype=run.dtype)
points, labels = data.two_moons(n=400, noise=0.15, seed=run.seed, device=run.device, dtype=run.dtype)
(moons_x, moons_y), (held_x, held_y) = data.split(points, labels, held_out=200, seed=run.seed)


def line_twins():
    """Every run on the line starts from the same parameters."""
    return make_twins([1, 1], loss=manual.MSELoss(), seed=run.seed, device=run.device, dtype=run.dtype)


def moons_twins(seed=run.seed):
    return make_twins([2, 16, 16, 2], "tanh", loss=manual.CrossEntropyLoss(), seed=seed,
                      device=run.device, dtype=run.dtype)


twins = line_twins()
N = len(x)
run.check(twins, x, y)
run.check(moons_twins(), moons_x, moons_y)

# %% [markdown]
# ## An epoch, shuffled into mini-batches
# One *epoch* is one pass through the data. At its start a random
# permutation of the N examples is drawn and cut into N/B batches of B
# (here B = 8 divides N = 40, so no example is left over). Training draws
# these permutations from one generator seeded with `--seed`, once per
# epoch, and hands the same indices to both twins: the hand-written network
# and its torch twin see exactly the same examples at every step, so they
# must still agree to the last digits. This is the first epoch that
# `run.train` will use with this seed:

# %%
B = 8
order = torch.randperm(N, generator=torch.Generator().manual_seed(run.seed)).to(run.device)
batches = order.reshape(N // B, B)
for k, batch in enumerate(batches.tolist()):
    print(f"batch {k + 1}: examples {sorted(batch)}")

# %% [markdown]
# ## The mini-batch gradient is right on average
# The loss is a mean over examples, L = 1/N Σᵢ ℓᵢ, so its gradient is the
# mean of the per-example gradients gᵢ, and a batch's gradient is the mean
# over its B examples. Over one epoch every example sits in exactly one
# batch, so the mean of the N/B batch gradients is the full gradient, by
# both twins' arithmetic (up to rounding):

# %%
def gradients(twins, xb, yb):
    """Both twins' gradients on one batch as flat vectors: (by hand, by autograd)."""
    twins.zero_grad()
    twins.manual_loss(twins.manual_net(xb), yb)            # forward, by hand
    twins.manual_net.backward(twins.manual_loss.backward(), input_grad=False)
    loss_t = twins.torch_loss(twins.torch_net(xb), yb)
    loss_t.backward()
    by_hand = flatten((name, p.grad) for name, p in twins.manual_net.named_parameters())
    by_autograd = flatten((name, p.grad) for name, p in twins.torch_net.named_parameters())
    twins.zero_grad()
    return by_hand, by_autograd


full_hand, full_autograd = gradients(twins, x, y)
per_batch = [gradients(twins, x[batch], y[batch]) for batch in batches]
mean_hand = torch.stack([hand for hand, _ in per_batch]).mean(dim=0)
mean_autograd = torch.stack([autograd for _, autograd in per_batch]).mean(dim=0)
print(f"full gradient (dL/dw, dL/db) {full_hand.tolist()}; batch 1's {per_batch[0][0].tolist()}")
print(f"mean of the {N // B} batch gradients {mean_hand.tolist()}")
print(f"|mean − full|: by hand {(mean_hand - full_hand).abs().max():.1e}, "
      f"by autograd {(mean_autograd - full_autograd).abs().max():.1e}")

# %% [markdown]
# ## … but each one is off: by how much?
# The spread of the batch gradients around the full gradient is their
# variance, E‖g_B − ∇L‖². To predict it we need every example's own
# gradient gᵢ. `torch.func` gives them all at once, without a Python loop:
# `grad` turns "the loss of one example" into "its gradient", `vmap` runs
# that over all N examples as one batch, and `functional_call` runs the
# torch twin with the parameters it is handed. For the line each gᵢ is
# 2(ŷᵢ − yᵢ)·(xᵢ, 1), which we can check.
#
# Their spread is the per-example variance σ² = 1/N Σᵢ ‖gᵢ − ∇L‖². A batch
# of B examples drawn *without replacement* (no example twice, as in our
# epochs) averages B of them, and statistics gives its variance exactly:
#
#     E‖g_B − ∇L‖² = σ²/B · (N − B)/(N − 1)
#
# The 1/B is the usual averaging of independent noise; the second factor,
# the finite-population correction, says that a batch drawn from a finite
# data set without replacement is a little better than B independent draws,
# and at B = N it is exactly the whole data set: no noise at all.

# %%
def per_example_gradients(twins, x, y):
    """(N, P): row i is the gradient of example i's loss alone, parameters in flatten order."""
    net, loss_fn = twins.torch_net, twins.torch_loss
    params = {name: p.detach() for name, p in net.named_parameters()}

    def loss_of_one(params, xi, yi):
        return loss_fn(functional_call(net, params, (xi.unsqueeze(0),)), yi.unsqueeze(0))

    per_example = vmap(grad(loss_of_one), in_dims=(None, 0, 0))(params, x, y)
    return torch.cat([g.reshape(len(x), -1) for g in per_example.values()], dim=1)


G = per_example_gradients(twins, x, y)                     # (40, 2)
with torch.no_grad():
    residual = twins.torch_net(x) - y                      # ŷ − y, (40, 1)
formula = torch.cat([2 * residual * x, 2 * residual], dim=1)
full = G.mean(dim=0)
sigma2 = (G - full).pow(2).sum(dim=1).mean().item()
print(f"per-example gradients: torch.func against 2(ŷ − y)(x, 1): max |diff| {(G - formula).abs().max():.1e}")
print(f"their mean against the full gradient: max |diff| {(full - full_autograd).abs().max():.1e}")
print(f"per-example variance σ² = {sigma2:.4f}")

# %% [markdown]
# Now the measurement: draw many random batches of each size B without
# replacement (the first B entries of a random permutation), compute each
# batch's gradient from the rows of G, and average ‖g_B − ∇L‖². Each
# batch's indices are sorted first: then at B = N every batch is the same
# sum in the same order as the full gradient, and the difference is
# exactly 0 rather than rounding-small (floating-point addition depends on
# the order).

# %%
def minibatch_variance(G, batch_size, draws, generator):
    """Mean over `draws` random batches of ||g_B − ∇L||², and the standard error of that mean."""
    n = len(G)
    picks = torch.rand(draws, n, generator=generator, dtype=torch.float64).argsort(dim=1)[:, :batch_size]
    picks = picks.sort(dim=1).values.to(G.device)          # (draws, B): B different examples per batch
    g_batch = G[picks].mean(dim=1)                         # (draws, P)
    squared = (g_batch - G.mean(dim=0)).pow(2).sum(dim=1)  # (draws,)
    return squared.mean().item(), (squared.std() / draws ** 0.5).item()


DRAWS = 10_000
generator = torch.Generator().manual_seed(run.seed)
sizes = [1, 2, 4, 8, 16, 32, N]
measured, errors, theory = [], [], []
print("   B    measured     theory   (measured − theory) / standard error")
for size in sizes:
    mean, error = minibatch_variance(G, size, DRAWS, generator)
    expected = sigma2 / size * (N - size) / (N - 1)
    measured.append(mean)
    errors.append(error)
    theory.append(expected)
    gap = f"{(mean - expected) / error:+.1f}" if error > 0 else "(no spread: every batch is all the data)"
    print(f"{size:4d}  {mean:10.5f} {expected:10.5f}   {gap}")
run.save(plots.sgd.gradient_variance(sizes, measured, errors, sigma2=sigma2, n=N,
                                     title=f"The mini-batch gradient's variance\nat the start (line, N = {N})",
                                     note=f"{DRAWS:,} random batches per B, drawn without replacement"),
         "gradient_variance")

# %% [markdown]
# ## Near the minimum: GD settles, SGD wanders
# Now we train on the line with B = N (full-batch gradient descent), B = 8
# and B = 1, all at lr = 0.1, and B = 1 once more at half that rate. Here
# every run takes the same number of **steps**, `run.steps` (200): enough
# for each to reach the valley floor, which is the point of this
# comparison. (It is not equal work: gradient descent computes N gradients
# per step, B = 1 one.)
#
# Close to the minimum the full gradient is small while the batch
# gradients are not, so each SGD step is mostly noise: with a constant
# learning rate SGD keeps wandering in a ball around the minimum. We
# measure its size as the root-mean-square distance from the least-squares
# minimum over the last 100 steps (one seed).

# %%
line_runs = {
    f"B = {N} (full batch: GD)": (N, run.lr),
    "B = 8": (8, run.lr),
    "B = 1": (1, run.lr),
    "B = 1, half the rate": (1, run.lr / 2),
}
line_histories = {label: run.train(line_twins(), x, y, batch_size=size, lr=lr, label=f"line, {label}",
                                   main=(label == "B = 8"))
                  for label, (size, lr) in line_runs.items()}
with torch.no_grad():
    first_batch_loss = twins.torch_loss(twins.torch_net(x[batches[0]]), y[batches[0]]).item()
print(f"first recorded loss (B = 8) {line_histories['B = 8'].loss_manual[0]:.12f}, "
      f"loss on the batch shown above {first_batch_loss:.12f}: the same shuffle")

design = torch.cat([x, torch.ones_like(x)], dim=1)
best = torch.linalg.lstsq(design, y).solution.flatten()
LAST = min(100, run.steps)
radii = {}
for label, history in line_histories.items():
    if history.diverged:                                   # try --lr 0.5: no ball to measure
        print(f"{label:32s} diverged at step {history.diverged_at_step}")
        continue
    radii[label] = (history.path_manual[-LAST:] - best).norm(dim=1).pow(2).mean().sqrt().item()
    print(f"{label:32s} last {LAST} steps {radii[label]:.3g} from the minimum (RMS), "
          f"loss {history.final_loss_manual:.5f}")

# %% [markdown]
# With the default seed gradient descent is still closing in (its error
# shrinks by 1 − lr·λ along each axis at every step, 0.93 along the
# valley's floor), 0.0006 from the minimum on average over its last 100
# steps, while B = 8 wanders about 0.05 from it and B = 1 about 0.19. The
# noise of one step is lr times the batch gradient's error, and the pull
# back towards the minimum takes a while to undo it. So a larger rate or a
# smaller batch (a larger error, σ²/B roughly) means a larger ball: halving
# the rate shrinks it from 0.19 to 0.11, and B = 8's is a quarter of
# B = 1's (one seed). That is why training schedules lower the learning
# rate at the end (lesson 12), or grow the batch.
#
# The first figure shows the whole paths on lesson 02's exact loss, one run
# per panel; the second zooms in on the minimum, one window for all four
# runs, with the last 100 steps and the ball's radius as a dashed circle.

# %%
from toolkit.landscape import drawable_part

eye = torch.eye(2, dtype=run.dtype, device=run.device)
paths = torch.cat([h.path_manual[:drawable_part(h)] for h in line_histories.values()])
alphas, betas = grid_around(paths, margin=0.08, include=best)
Z = loss_on_plane(twins.torch_net, twins.torch_loss, x, y, center=0 * eye[0], d1=eye[0], d2=eye[1],
                  alphas=alphas, betas=betas)
panels = [{"title": f"{label}\nlr = {lr:g}, {line_histories[label].steps} steps",
           "manual_path": line_histories[label].path_manual, "autograd_path": line_histories[label].path_autograd,
           "diverged_at": line_histories[label].diverged_at_step, "radius": radii.get(label)}
          for label, (size, lr) in line_runs.items()]
run.save(plots.sgd.sgd_paths(alphas, betas, Z, panels, xlabel="weight w", ylabel="bias b", minimum=best.tolist(),
                             title=f"{run.steps} steps each:\nGD settles, SGD arrives but does not"),
         "sgd_paths")
if radii:
    reach = max((h.path_manual[-LAST:] - best).abs().max().item() for h in line_histories.values()
                if not h.diverged) * 1.15
    near = [torch.linspace(centre - reach, centre + reach, 81, dtype=run.dtype, device=run.device)
            for centre in best.tolist()]
    zoom_Z = loss_on_plane(twins.torch_net, twins.torch_loss, x, y, center=0 * eye[0], d1=eye[0], d2=eye[1],
                           alphas=near[0], betas=near[1])
    run.save(plots.sgd.sgd_balls(*near, zoom_Z, panels, last=LAST, xlabel="weight w", ylabel="bias b",
                                 minimum=best.tolist(), title=f"The last {LAST} steps,\nzoomed in on the minimum"),
             "sgd_ball")

# %% [markdown]
# ## The same work, or the same number of steps?
# Which batch size trains faster depends on what we count. Counted in
# **work**, the number of per-example gradients computed, one epoch of any
# batch size costs the same, and SGD takes N/B steps for gradient descent's
# one. Counted in **steps**, gradient descent's are exact and SGD's are
# noisy. A fair comparison says which it counts, and gives every method its
# own best learning rate rather than one shared one.
#
# On the moons we give gradient descent (B = 200) and B = 8 the same
# work, 4 epochs: 4 steps for gradient descent, 100 for B = 8. Each gets the
# best of four rates, picked by a small sweep on the default seed (the
# training loss after the 4 epochs). For both batch sizes the best of the
# four is 1.5, the largest: it lies at the edge of the grid, so this sweep
# does not say whether a larger rate would do better still.
# A mini-batch step records the loss *on its own batch*, which jumps about;
# the loss that matters is the one on all the data, evaluated after every
# epoch at the parameters each twin reached (`functional_call` leaves the
# networks untouched), on the training points and on the held-out ones.

# %%
MOONS_EPOCHS, RATES = 4, [0.1, 0.3, 1.0, 1.5]
moons_n = len(moons_x)


def full_data_losses(twins, x, y, thetas):
    """The loss on all of (x, y) at each parameter vector in thetas (K, P)."""
    like = dict(twins.torch_net.named_parameters())

    def loss_at(theta):
        return twins.torch_loss(functional_call(twins.torch_net, unflatten(theta, like), (x,)), y)

    with torch.no_grad():
        return vmap_or_loop(loss_at, thetas).tolist()


def held_out_accuracy(twins):
    with torch.no_grad():
        return (twins.torch_net(held_x).argmax(dim=1) == held_y).double().mean().item()


sweep, best_rate = {}, {}
for size in (moons_n, 8):
    for lr in RATES:
        history = run.train(moons_twins(), moons_x, moons_y, batch_size=size, lr=lr,
                            steps=MOONS_EPOCHS * moons_n // size, label=f"moons, B = {size}, lr = {lr:g}", main=False)
        sweep[size, lr] = history
    best_rate[size] = min(RATES, key=lambda lr: sweep[size, lr].final_loss_manual)
    print(f"B = {size}: the training loss after {MOONS_EPOCHS} epochs at lr " + ", ".join(
        f"{lr:g}: {sweep[size, lr].final_loss_manual:.3f}" for lr in RATES) + f"; best lr {best_rate[size]:g}")

# %% [markdown]
# One seed is one draw of the starting weights and the shuffles. The
# comparison at the picked rates is repeated for seeds 0 to 4 (with
# `toolkit.train.train` directly, which takes a seed), and reports the mean
# and the spread: the training loss, the held-out loss and the held-out
# accuracy after the 4 epochs.

# %%
SEEDS = range(5)
results = {size: [] for size in best_rate}
for size, lr in best_rate.items():
    for seed in SEEDS:
        moons = moons_twins(seed)
        history = train(moons, moons_x, moons_y, steps=MOONS_EPOCHS * moons_n // size, lr=lr, batch_size=size,
                        seed=seed, quiet=True)
        with torch.no_grad():
            held_loss = moons.torch_loss(moons.torch_net(held_x), held_y).item()
        results[size].append((history.final_loss_manual, held_loss, held_out_accuracy(moons), history.twins_agree))
for size, rows in results.items():
    table = torch.tensor([row[:3] for row in rows], dtype=torch.float64)
    mean, spread = table.mean(dim=0).tolist(), table.std(dim=0).tolist()
    print(f"B = {size:3d}, lr {best_rate[size]:g}, {len(rows)} seeds: training loss {mean[0]:.3f} ± {spread[0]:.3f}, "
          f"held-out loss {mean[1]:.3f} ± {spread[1]:.3f}, held-out accuracy {mean[2]:.1%} ± {spread[2]:.1%}; "
          f"twins agreed at every step: {all(row[3] for row in rows)}")
    run.record(f"same_work_B{size}", {"lr": best_rate[size], "seeds": len(rows), "training_loss": mean[0],
                                      "held_out_loss": mean[1], "held_out_accuracy": mean[2]})
for k, data_set in ((0, "training"), (1, "held-out")):
    wins = sum(small[k] < full[k] for small, full in zip(results[8], results[moons_n]))
    print(f"B = 8 ended with the lower {data_set} loss on {wins} of {len(SEEDS)} seeds")
    run.record(f"same_work_B8_lower_{data_set.replace('-', '_')}_loss", {"seeds": wins, "of": len(SEEDS)})

# %% [markdown]
# For the same work, B = 8 ends lower than gradient descent on average, on
# the training points and on the held-out ones (with the defaults 0.18
# against 0.21 in training loss, and 92 % against 88 % of the held-out
# points right), and with the lower training loss on 4 of the 5 seeds. Its
# results spread far more from seed to seed: at this large rate one run
# ended worse. On average its 100 noisy steps did more than gradient
# descent's 4 exact ones, even at the best of gradient descent's four rates.
#
# Counted in steps it is the other way round. We give gradient descent as
# many steps as B = 8 took, 100, at its rate from above: 25 times the work.
# That rate, 1.5, is past the limit 2/λmax ≈ 1.4 of this loss at the start
# (lesson 05 measured it, lesson 07 uses it), and it shows: near step 43
# the loss spikes, from 0.18 to 0.38 in one step, before it falls on.
# Lesson 15 explains such spikes of a rate past the starting limit.

# %%
same_steps = run.train(moons_twins(), moons_x, moons_y, lr=best_rate[moons_n], steps=MOONS_EPOCHS * moons_n // 8,
                       label=f"moons, B = {moons_n}, {MOONS_EPOCHS * moons_n // 8} steps", main=False)
small = sweep[8, best_rate[8]]
small_path = full_data_losses(moons_twins(), moons_x, moons_y, small.path_manual)
print(f"after {same_steps.steps} steps: gradient descent {same_steps.final_loss_manual:.3f}, "
      f"B = 8 {small_path[-1]:.3f} (training loss on all the data)")
gd_losses = torch.tensor(same_steps.path_losses()[0], dtype=torch.float64)
rise = gd_losses[1:] / gd_losses[:-1]                                   # > 1 where a step raised the loss
spike = int(rise.argmax()) + 1
print(f"gradient descent at lr {best_rate[moons_n]:g}: its largest rise in loss is at step {spike}, "
      f"{gd_losses[spike - 1]:.3f} → {gd_losses[spike]:.3f}")
run.record("same_steps", {"steps": same_steps.steps, "gradient_descent": same_steps.final_loss_manual,
                          "B8": small_path[-1], "spike_step": spike, "spike_from": gd_losses[spike - 1].item(),
                          "spike_to": gd_losses[spike].item()})

# %% [markdown]
# Per step, the exact gradient wins by far. Per unit of work the noisy one
# wins, because far from the minimum the examples' gradients mostly agree,
# and 25 cheap estimates move further than one exact step. Near the minimum
# they disagree (the ball above). What costs time is the work, and a GPU
# computes a batch of a few hundred examples about as fast as a batch of
# one: that is why practice uses batches of tens to thousands.

# %%
runs = []
for size in (moons_n, 8):
    history, every = sweep[size, best_rate[size]], moons_n // size       # every: steps per epoch
    moons = moons_twins()
    thetas = {twin: getattr(history, f"path_{twin}")[::every] for twin in ("manual", "autograd")}
    runs.append({"label": f"B = {size}" + (" (GD)" if size == moons_n else "") + f", lr = {best_rate[size]:g}",
                 "batch_size": size, "n": moons_n, "history": history,
                 "epoch_manual": full_data_losses(moons, moons_x, moons_y, thetas["manual"]),
                 "epoch_autograd": full_data_losses(moons, moons_x, moons_y, thetas["autograd"]),
                 "held_manual": full_data_losses(moons, held_x, held_y, thetas["manual"]),
                 "held_autograd": full_data_losses(moons, held_x, held_y, thetas["autograd"])})
per_step = [{"label": runs[0]["label"], "manual": same_steps.path_losses()[0], "autograd": same_steps.path_losses()[1]},
            {"label": runs[1]["label"], "manual": small_path,
             "autograd": full_data_losses(moons_twins(), moons_x, moons_y, small.path_autograd)}]
run.save(plots.sgd.minibatch_losses(runs, per_step, title=f"Two moons: {MOONS_EPOCHS} epochs of work, or "
                                                          f"{same_steps.steps} steps,\neach at its own rate"),
         "sgd_losses")

# %% [markdown]
# ## What to take away
# * A mini-batch gradient is an unbiased estimate of the full gradient:
#   over an epoch the batch gradients average to it exactly.
# * Its variance is σ²/B · (N − B)/(N − 1): while B is much smaller than
#   N, quadrupling B halves its typical error; at B = N the noise is gone.
# * With a constant learning rate SGD never settles: it wanders in a ball
#   around the minimum that grows with the rate and with the noise.
# * For the same work, small batches take many more steps and get further
#   while the examples' gradients agree; per step, the exact gradient wins.
#   Say which you count, and give each method its own rate.
# * The noise is not only a nuisance. In lesson 10 ("many valleys") it
#   moves a walker out of one valley and into another, which a full-batch
#   run from the same start never does.

# %% [markdown]
# ## Captions for course notes
# What `python -m toolkit figures` prints under each figure in the gallery's
# index: a caption for the notes and an alt text for readers who cannot see
# the image.

# %%
run.describe("gradient_variance",
             caption=f"How noisy a mini-batch gradient is, at the start on lesson 02's line: E‖g_B − ∇L‖² "
                     f"against the batch size B, measured over {DRAWS:,} random batches each and predicted by "
                     f"σ²/B·(N − B)/(N − 1), σ² = {sigma2:.3g}: like 1/B, then faster, to exactly 0 at B = N = {N}.",
             alt=f"A log-log plot of the gradient's variance against B = 1 to {N}: green dots on a dark curve that "
                 f"starts at {sigma2:.3g} and bends down ever more steeply, a dotted line for σ²/B above it at large "
                 f"B, and at B = {N} an arrow down to the axis, labelled as measured exactly 0.")
run.describe("sgd_paths",
             caption=f"{run.steps} steps of each run at lr = {run.lr:g} (and B = 1 at half of it) on lesson 02's "
                     f"exact loss: gradient descent (B = {N}) walks down the valley onto the minimum; B = 8 and "
                     f"B = 1 arrive as soon, by ragged paths, and do not stop there.",
             alt="Four contour maps of the same diagonal valley, a thin white plus rimmed in black at the minimum, "
                 "over the paths. First: a smooth "
                 "chain of blue circles from a white square at the lower right to a star on the minimum. The "
                 "others: ragged chains from the same square ending in a tangle around the minimum, widest for "
                 "B = 1 at the full rate.")
run.describe("sgd_ball",
             caption=f"The last {LAST} steps of the same runs, zoomed in on the minimum, with a dashed circle of "
                     f"their root-mean-square distance from it: gradient descent closes in on the minimum; SGD's "
                     f"ball is smallest for B = 8, largest for B = 1, smaller at half the rate (one seed).",
             alt="Four zoomed contour maps of the valley's bottom, a thin white plus at the minimum: a single dot on "
                 "it for gradient descent, and clouds of blue circles with vermillion crosses inside dashed "
                 "circles, small for B = 8, largest for B = 1, in between at half the rate; each names its radius.")
run.describe("sgd_losses",
             caption=f"Lesson 05's moons. First: B = 8's loss on each step's own mini-batch (thin) against its loss "
                     f"on all the training data after each epoch (circles). Second: the same work, "
                     f"{MOONS_EPOCHS} epochs, each batch size at its own rate, training (solid) and held-out "
                     f"(dashed) loss: B = 8 ends lower (seed 0; 4 of 5 seeds in the text). Third: the same number "
                     f"of steps, {same_steps.steps}: gradient descent, at 25 times the work, ends far lower, after "
                     f"a spike at step {spike} (its rate, {best_rate[moons_n]:g}, is past the starting limit "
                     f"2/λmax ≈ 1.4).",
             alt="Three panels of loss on log axes. First, against the epoch: a thin line jumping over two orders "
                 "of magnitude, circles falling gently through it. Second, against the epoch, 0 to 4: two solid "
                 "and two dashed lines, the B = 8 pair ending lower. Third, against the step, 0 to 100: gradient "
                 f"descent's line falling below B = 8's, spiking back up near step {spike}, then falling far "
                 f"below B = 8's, which stays jagged.")
run.finish()
