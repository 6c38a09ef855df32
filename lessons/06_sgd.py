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
# in a way we can predict exactly, and a constant step size never lets the
# noise die out.

# %%
import torch
from torch.func import functional_call, grad, vmap

from toolkit import data, lesson, manual, plots
from toolkit.landscape import grid_around, loss_on_plane
from toolkit.parameters import flatten, unflatten, vmap_or_loop
from toolkit.twins import make_twins

# --steps sets the number of epochs (passes through the data) on the line; --lr the step size of every run.
run = lesson.start("06_sgd", steps=20, lr=0.1)

# %% [markdown]
# ## Two problems we know, and their twins
# Lesson 02's line, `ŷ = w·x + b` on 40 points around y = −x + 2, and
# lesson 05's two moons, 200 points and a 2-16-16-2 tanh network. Both
# twins start from the same random parameters, and the three witnesses
# (by hand, autograd, finite differences) check both networks first.

# %%
x, y = data.noisy_line(n=40, slope=-1.0, intercept=2.0, noise=0.5, x_range=(-1.0, 3.0),
                       seed=run.seed, device=run.device, dtype=run.dtype)
moons_x, moons_y = data.two_moons(n=200, noise=0.15, seed=run.seed, device=run.device, dtype=run.dtype)


def line_twins():
    """Every run on the line starts from the same parameters."""
    return make_twins([1, 1], loss=manual.MSELoss(), seed=run.seed, device=run.device, dtype=run.dtype)


def moons_twins():
    return make_twins([2, 16, 16, 2], "tanh", loss=manual.CrossEntropyLoss(), seed=run.seed,
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
print(f"{'full gradient (dL/dw, dL/db)':32s} {full_hand.tolist()}")
for k, (hand, _) in enumerate(per_batch):
    print(f"{f'batch {k + 1} gradient':32s} {hand.tolist()}")
print(f"{f'mean of the {N // B} batch gradients':32s} {mean_hand.tolist()}")
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
                                 title=f"The mini-batch gradient's variance at the start (line, N = {N})",
                                 note=f"{DRAWS:,} random batches per B, drawn without replacement"),
         "gradient_variance",
         caption=f"How noisy a mini-batch gradient is, at the start on lesson 02's line: the mean squared "
                 f"distance E‖g_B − ∇L‖² from the full gradient against the batch size B, measured over "
                 f"{DRAWS:,} random batches each and predicted by σ²/B·(N − B)/(N − 1), with σ² = {sigma2:.3g} "
                 f"for one example. It falls like 1/B and then faster, to exactly 0 at B = N = {N}, where every "
                 f"batch is all the data.",
         alt=f"A log-log plot of the gradient's variance against the batch size 1, 2, 4, 8, 16, 32 and {N}. Blue "
             f"dots lie on a black curve that starts at {sigma2:.3g} (a grey horizontal line marks σ² for one "
             f"example) and bends down ever more steeply; a dotted straight line for σ²/B runs above it at large "
             f"B. At B = {N} an arrow points down off the axis, labelled as measured exactly 0.")

# %% [markdown]
# ## Training with B = 1, 8 and N, for the same number of epochs
# A fair comparison gives every run the same amount of work. We give each
# the same number of **epochs**: every run computes the same number of
# per-example gradients and sees every example equally often (B divides N,
# so no example is dropped). A run with batch size B takes N/B steps per
# epoch: 40 for B = 1, 5 for B = 8, one for full-batch GD. One more run
# repeats B = 1 with half the learning rate.
#
# Here `--steps` counts epochs, and each run takes the epochs times N/B
# steps (`run.train(..., steps=...)`).

# %%
EPOCHS = run.steps


def train_for_epochs(twins, x, y, epochs, batch_size, **options):
    """run.train for whole epochs: N/B steps each, the shuffles drawn as above."""
    return run.train(twins, x, y, batch_size=batch_size, steps=epochs * (len(x) // batch_size), **options)


line_runs = {
    f"B = {N} (full batch: GD)": (N, run.lr),
    "B = 8": (8, run.lr),
    "B = 1": (1, run.lr),
    "B = 1, half the learning rate": (1, run.lr / 2),
}
line_histories = {}
for label, (size, lr) in line_runs.items():
    line_histories[label] = train_for_epochs(line_twins(), x, y, EPOCHS, size, lr=lr, label=f"line, {label}",
                                             main=(label == "B = 8"))

# %% [markdown]
# The recorded loop really did use the batches above: its first loss is the
# loss on batch 1 at the starting parameters.

# %%
with torch.no_grad():
    first_batch_loss = twins.torch_loss(twins.torch_net(x[batches[0]]), y[batches[0]]).item()
print(f"first recorded loss (B = 8) {line_histories['B = 8'].loss_manual[0]:.12f}, "
      f"loss on batch 1 {first_batch_loss:.12f}")

# %% [markdown]
# ## Near the minimum: GD settles, SGD wanders
# Per epoch, full-batch GD takes one careful step, so after the same work
# it is still walking along the valley. The mini-batch runs took many more
# steps and reached the minimum long ago, but they do not stop there: close
# to the minimum the full gradient is small while the batch gradients are
# not, so each step is mostly noise. With a constant learning rate SGD
# keeps wandering in a ball around the minimum. The ball is smaller for
# larger batches (less gradient noise) and for a smaller learning rate. We
# measure its size as the root-mean-square distance from the least-squares
# minimum over the last epoch.

# %%
design = torch.cat([x, torch.ones_like(x)], dim=1)
best = torch.linalg.lstsq(design, y).solution.flatten()
radii = {}
for label, (size, lr) in line_runs.items():
    history = line_histories[label]
    if history.diverged:                                   # try --lr 0.5: no ball to measure
        print(f"{label:32s} diverged at step {history.diverged_at_step}")
        continue
    last_epoch = history.path_manual[-(N // size):]
    radii[label] = (last_epoch - best).norm(dim=1).pow(2).mean().sqrt().item()
    print(f"{label:32s} {history.steps:4d} steps; last epoch {radii[label]:.3f} from the minimum (RMS), "
          f"loss {history.final_loss_manual:.5f}")

# %% [markdown]
# All four runs on lesson 02's exact loss over (w, b), one window for all,
# with the last epoch of each mini-batch run zoomed in. A run that diverged
# is framed by its steps before the loss blew up (see `drawable_part`).

# %%
from toolkit.landscape import drawable_part

eye = torch.eye(2, dtype=run.dtype, device=run.device)
paths = torch.cat([h.path_manual[:drawable_part(h)] for h in line_histories.values()])
alphas, betas = grid_around(paths, margin=0.08, include=best)
Z = loss_on_plane(twins.torch_net, twins.torch_loss, x, y, center=0 * eye[0], d1=eye[0], d2=eye[1],
                  alphas=alphas, betas=betas)
# One zoomed window around the minimum for every inset, framing the last epoch of every mini-batch run.
zoom = None
last_epochs = [line_histories[label].path_manual[-(N // line_runs[label][0]):]
               for label in radii if line_runs[label][0] < N]
if last_epochs:
    reach = (torch.cat(last_epochs) - best).abs().max().item() * 1.1
    near = [torch.linspace(centre - reach, centre + reach, 81, dtype=run.dtype, device=run.device)
            for centre in best.tolist()]
    zoom = (*near, loss_on_plane(twins.torch_net, twins.torch_loss, x, y, center=0 * eye[0], d1=eye[0],
                                 d2=eye[1], alphas=near[0], betas=near[1]))
panels = []
for label, (size, lr) in line_runs.items():
    history = line_histories[label]
    steps = f"{history.steps} step{'s' if history.steps != 1 else ''}"
    inset = size < N and label in radii
    panels.append({"title": f"{label}\nlr = {lr:g}, {steps}", "manual_path": history.path_manual,
                   "autograd_path": history.path_autograd, "diverged_at": history.diverged_at_step,
                   "last": N // size if inset else None, "radius": radii[label] if inset else None})
if len(radii) == len(line_runs):
    title = f"{EPOCHS} epochs each: GD is still on its way; SGD arrived, but does not settle"
    note = ("with a constant step SGD wanders in a ball around the minimum, whose size scales\n"
            f"with lr ({radii['B = 1']:.2g} at lr = {run.lr:g}, {radii['B = 1, half the learning rate']:.2g} "
            f"at half of it) and with the gradient noise ({radii['B = 8']:.2g} for B = 8).\n"
            "Every inset shows the same window; both twins' paths coincide (a cross in every circle)")
else:
    title = f"{EPOCHS} epochs each, lr = {run.lr:g}: not every run converged"
    note = "both twins' paths coincide (a cross in every circle)"
run.save(plots.sgd.sgd_paths(alphas, betas, Z, panels, xlabel="weight w", ylabel="bias b", minimum=best.tolist(),
                         zoom=zoom, title=title, note=note),
         "sgd_paths",
         caption=f"{EPOCHS} epochs of each run on lesson 02's exact loss over (w, b): full-batch GD (B = {N}) takes "
                 f"one step per epoch and is still on its way along the valley; the mini-batch runs (B = 8, "
                 f"B = 1, and B = 1 at half the rate) reached the minimum long ago but keep wandering around it. "
                 f"The insets zoom in on their last epoch: the ball they wander in grows with the gradient "
                 f"noise (smaller batches) and with the learning rate. Both twins' paths coincide.",
         alt="Four contour maps of the same diagonal valley, each with a white plus sign at the minimum. The "
             "first: a smooth chain of circles from a white square at the lower right along the valley, "
             "ending at a star short of the minimum. The other three: ragged paths that reach the minimum and "
             "scatter around it in a cloud of orange crosses; each has an inset in its corner magnifying the "
             "last epoch, with a dashed circle whose radius is written beside it, smallest for B = 8 and "
             "largest for B = 1 at the full learning rate.")

# %% [markdown]
# ## The moons: the loss a step sees, and the loss on all the data
# The moons hold five times as many examples, so each run here gets a fifth
# of the line's epochs (at least one), and the same learning rate: with the
# defaults every run on either problem sees 800 examples. What a mini-batch
# step records is the loss *on its own batch*: one example can be easy or
# hard, so that number jumps about. The loss that matters is the one on all the
# data, evaluated here after every epoch at the parameters each twin
# reached (with `functional_call`, which leaves the networks untouched).

# %%
moons_n = len(moons_x)
MOONS_EPOCHS = max(1, EPOCHS * N // moons_n)            # the same number of examples as on the line


def full_data_losses(twins, x, y, thetas):
    """The loss on all of (x, y) at each parameter vector in thetas (K, P)."""
    like = dict(twins.torch_net.named_parameters())

    def loss_at(theta):
        return twins.torch_loss(functional_call(twins.torch_net, unflatten(theta, like), (x,)), y)

    with torch.no_grad():
        return vmap_or_loop(loss_at, thetas).tolist()


moons_runs = []
for size in [moons_n, 8, 1]:
    label = f"B = {size}" + (" (full batch: GD)" if size == moons_n else "")
    moons = moons_twins()
    history = train_for_epochs(moons, moons_x, moons_y, MOONS_EPOCHS, size, label=f"moons, {label}", main=False)
    every = moons_n // size                                # steps per epoch
    with torch.no_grad():
        accuracy = (moons.torch_net(moons_x).argmax(dim=1) == moons_y).double().mean().item()
    moons_runs.append({"label": label, "batch_size": size, "n": moons_n, "history": history,
                       "epoch_manual": full_data_losses(moons, moons_x, moons_y, history.path_manual[::every]),
                       "epoch_autograd": full_data_losses(moons, moons_x, moons_y, history.path_autograd[::every])})
    print(f"moons, {label}: {history.steps} steps, accuracy {accuracy:.1%}")
run.save(plots.sgd.minibatch_losses(moons_runs, title=f"Two moons, {MOONS_EPOCHS} epochs each, lr = {run.lr:g}",
                                note="per epoch, small batches get much further; the loss on one mini-batch is "
                                     "only a noisy sample\nof the loss on all the data"),
         "sgd_losses",
         caption=f"Lesson 05's two moons, {MOONS_EPOCHS} epochs for every batch size at lr = {run.lr:g}: the loss "
                 f"each step saw on its own mini-batch (thin line) and the loss on all the data after every epoch "
                 f"(circles). Per epoch, small batches get much further; the loss on one mini-batch is only a "
                 f"noisy sample of the loss on all the data, which the last panel compares for every run.",
         alt="Four panels of loss on a logarithmic axis against the epoch. The first, full-batch GD, is an "
             "almost flat line of circles. The second, B = 8, is a thin jagged green line with circles that "
             "fall a little after each epoch. The third, B = 1, is a dense orange band of spikes spanning "
             "three orders of magnitude, its circles falling further. The last overlays the three lines of "
             "circles: B = 1 lowest, B = 8 close above it, full-batch GD highest.")

# %% [markdown]
# ## What to take away
# * A mini-batch gradient is an unbiased estimate of the full gradient:
#   over an epoch the batch gradients average to it exactly.
# * Its variance is σ²/B · (N − B)/(N − 1): while B is much smaller than
#   N, quadrupling B halves its typical error; at B = N the noise is gone.
# * For the same number of epochs, small batches take many more steps and
#   get much further; but with a constant learning rate they never settle.
#   That is why training schedules lower the learning rate at the end (or
#   grow the batch).
# * Counted in examples, B = 1 is the most efficient here. Counted in
#   seconds it need not be: a GPU (or a vectorised CPU) computes a batch of
#   a few hundred examples about as fast as a batch of one, for a network
#   this small. That is why practice uses batches of tens to thousands.

# %%
run.finish()
