# %% [markdown]
# # 10 · Many valleys
#
# Lesson 09's chain had one level valley of minima, in two mirror-image
# branches, all at the same loss. Most landscapes have several valleys side
# by side, of different depths, and gradient descent settles in whichever
# one it starts above: a walker that starts somewhere on one of the slopes
# walks down to that slope's bottom, and where it starts decides which
# bottom it finds. We map that out exactly for a network of two parameters,
# a sine wave with a frequency and a phase, from 144 starts at once. Then we
# let the walker stumble: mini-batches make each step a little wrong, and
# the errors can carry it over a ridge into another valley, the way Prince
# (Understanding Deep Learning, 2023, Fig. 6.5) shows stochastic gradient
# descent escaping a local minimum. We measure how often, and where to.

# %%
import math

import torch
from torch.func import functional_call, vmap

from toolkit import lesson, manual, plots
from toolkit.landscape import loss_along_path, loss_on_plane
from toolkit.parameters import unflatten
from toolkit.train import batch_indices
from toolkit.twins import TORCH_TWIN, Twins, make_twins

run = lesson.start("10_many_valleys", steps=200, lr=0.3)

# %% [markdown]
# ## A sine wave with two parameters
# The network is a `Linear(1, 1)` followed by a sine,
#
#     ŷ = sin(a·x + b),
#
# with the frequency a (the layer's weight) and the phase b (its bias). The
# data come from a frequency of 2 and a phase of 0.5, with a little noise.
# `toolkit.manual` has no sine layer, so we write one here: forward keeps its
# input, and backward multiplies the gradient that arrives by the sine's
# slope, cos(x). Its torch twin is a one-line `torch.nn.Module`, and one line
# in `TORCH_TWIN` tells `twin_of` to use it.

# %%
class Sin(manual.Module):
    """out = sin(x), element-wise. Any shape."""

    def __init__(self) -> None:
        super().__init__()
        self._x: torch.Tensor | None = None

    def __repr__(self) -> str:
        return "Sin()"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._x = x
        return torch.sin(x)

    def backward(self, dout: torch.Tensor, input_grad: bool = True) -> torch.Tensor | None:
        """dx = dout * cos(x)

        The slope of sin at x is cos(x), taken at the INPUT that forward
        kept. Shapes: dout and dx like x.
        """
        # exercise sin_backward: return dL/dx, the gradient dout that arrives times the slope of sin at the input x
        x = self._saved(self._x)
        if not input_grad:
            return None
        return dout * torch.cos(x)
        # end exercise


class TorchSin(torch.nn.Module):
    """The torch.nn twin: the same sine, differentiated by autograd."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sin(x)


TORCH_TWIN[Sin] = lambda layer: TorchSin()

FREQUENCY, PHASE = 2.0, 0.5
generator = torch.Generator().manual_seed(run.seed)          # on the CPU: the same data on every device
wave_x = -2.5 + 5 * torch.rand(60, 1, generator=generator, dtype=torch.float64)
wave_y = torch.sin(FREQUENCY * wave_x + PHASE) + 0.1 * torch.randn(60, 1, generator=generator, dtype=torch.float64)
wave_x, wave_y = wave_x.to(run.device, run.dtype), wave_y.to(run.device, run.dtype)


def wave_twins(frequency, phase):
    """ŷ = sin(a·x + b) as Linear(1, 1) then Sin, starting from (a, b) = (frequency, phase), and its twin."""
    layer = make_twins([1, 1], device=run.device, dtype=run.dtype).manual_net[0]
    with torch.no_grad():
        layer.weight.fill_(frequency)
        layer.bias.fill_(phase)
    return Twins.of(manual.Sequential(layer, Sin()), manual.MSELoss())


wave = wave_twins(1.0, 0.0)
print(wave.manual_net)
print(wave.torch_net)
run.check(wave, wave_x, wave_y, first_layer=True)

# %% [markdown]
# ## The exact landscape, and a grid of starts
# With two parameters we can draw the true loss over (a, b). The phase is an
# angle: b and b + 2π give the same network, so one full turn of b shows
# everything, and a path that leaves through the top of the picture comes
# back in at the bottom. We start gradient descent from a grid of 12 × 12
# points and follow every one of them. Running 144 networks one at a time
# would be slow; `torch.func` runs them all at once instead. `grad` turns
# the loss of one parameter vector into its gradient, `vmap` does that for a
# whole batch of vectors, and the update is our SGD's, θ ← θ − lr·g.

# %%
PHASES = (-2.8, -2.8 + 2 * math.pi)                          # one full turn of b, placed so no minimum sits on its edge


def batch_loss_at(theta, xb, yb):
    """L at theta = (a, b) on the points (xb, yb), through the torch twin (its own parameters are not touched)."""
    params = unflatten(theta, dict(wave.torch_net.named_parameters()))
    return wave.torch_loss(functional_call(wave.torch_net, params, (xb,)), yb)


def wave_loss_at(theta):
    """L at theta = (a, b) on all the data."""
    return batch_loss_at(theta, wave_x, wave_y)


def descend(starts, steps, lr):
    """Plain gradient descent from every row of starts (S, 2) at once: the path, (steps + 1, S, 2)."""
    gradient = vmap(torch.func.grad(wave_loss_at))
    points = [starts]
    for _ in range(steps):
        points.append(points[-1] - lr * gradient(points[-1]))
    return torch.stack(points)


frequencies = torch.linspace(0.25, 4.5, 12, dtype=run.dtype, device=run.device)
phases = PHASES[0] + (torch.arange(12, dtype=run.dtype, device=run.device) + 0.5) * (2 * math.pi / 12)
grid_b, grid_a = torch.meshgrid(phases, frequencies, indexing="ij")
starts = torch.stack([grid_a.reshape(-1), grid_b.reshape(-1)], dim=1)         # (144, 2), row by row
paths = descend(starts, run.steps, run.lr)
print(f"{len(starts)} starts, {run.steps} steps each, lr = {run.lr}")

# %% [markdown]
# ## Where the walkers end: finding the minima
# Each walker ends near some minimum. We put the phases back into our turn
# of b, group end points that lie within 0.05 of each other, and then find
# each group's minimum exactly with a few Newton steps, θ ← θ − H⁻¹g, which
# near a minimum double the number of correct digits at every step. A point
# is a true local minimum when its gradient is zero and its Hessian has two
# positive eigenvalues, so that the loss curves upwards in every direction.

# %%
def wrapped(points):
    """Phases put back into PHASES: b and b + 2π are the same network."""
    b = PHASES[0] + torch.remainder(points[..., 1] - PHASES[0], 2 * math.pi)
    return torch.stack([points[..., 0], b], dim=-1)


def apart(p, q):
    """The distance between (a, b) points, going round the shorter way in b."""
    db = torch.remainder(p[..., 1] - q[..., 1] + math.pi, 2 * math.pi) - math.pi
    return torch.sqrt((p[..., 0] - q[..., 0]) ** 2 + db ** 2)


ends = wrapped(paths[-1])
groups = []
for end in ends:
    if not any(apart(end, first) < 0.05 for first in groups):
        groups.append(end)
newton = torch.stack(groups)                                  # every group's first end point, (M, 2)
for _ in range(10):
    newton = newton - torch.linalg.solve(vmap(torch.func.hessian(wave_loss_at))(newton),
                                         vmap(torch.func.grad(wave_loss_at))(newton))
found = []
for point in wrapped(newton):                                  # two groups may have found the same point
    if torch.isfinite(point).all() and not any(apart(point, other) < 1e-6 for other in found):
        found.append(point)
flat = 1e-10 if run.dtype == torch.float64 else 1e-4              # a zero gradient, to the dtype's rounding


def is_minimum(point):
    """Zero gradient, and both eigenvalues of the Hessian positive."""
    curvatures = torch.linalg.eigvalsh(torch.func.hessian(wave_loss_at)(point))
    return torch.func.grad(wave_loss_at)(point).norm().item() < flat and curvatures[0].item() > 0


minima = sorted([point for point in found if is_minimum(point)], key=lambda m: wave_loss_at(m).item())
if len(minima) < len(found):
    print(f"Newton also found {len(found) - len(minima)} flat points that are no minima (walkers still on their "
          f"way, near a saddle or a top); they are left out")
names = [chr(ord("A") + k) for k in range(len(minima))]


def nearest_minimum(points):
    """For each row of points (S, 2): the index of the nearest minimum, and how far it is."""
    distances = torch.stack([apart(wrapped(points), m) for m in minima])       # (M, S)
    return distances.argmin(dim=0), distances.min(dim=0).values


basin, _ = nearest_minimum(paths[-1])                                          # (144,): which minimum
losses = [wave_loss_at(m).item() for m in minima]
basins = []
for k, (name, m) in enumerate(zip(names, minima)):
    slope = torch.func.grad(wave_loss_at)(m).norm().item()
    curvatures = torch.linalg.eigvalsh(torch.func.hessian(wave_loss_at)(m))
    reached = int((basin == k).sum())
    basins.append({"name": name, "frequency": m[0].item(), "phase": m[1].item(), "loss": losses[k],
                   "gradient_norm": slope, "eigenvalues": curvatures.tolist(), "starts": reached})
    print(f"{name}: (a, b) = ({m[0].item():+.4f}, {m[1].item():+.4f}), loss {losses[k]:.4f}, "
          f"|gradient| {slope:.0e}, curvatures {curvatures[0].item():.3f} and {curvatures[1].item():.3f}: "
          f"a local minimum; {reached} starts end here")
zero_loss = (wave_y * wave_y).mean().item()
print(f"for comparison: predicting 0 for every x scores mean(y²) = {zero_loss:.4f}")
run.record("basins", basins)
run.record("loss_of_predicting_zero", zero_loss)

# %% [markdown]
# Two of the minima are one network twice: sin(−a·x + π − b) = sin(a·x + b),
# so every minimum (a, b) has a mirror image (−a, π − b) with the same loss.
# (Lesson 09's chain has the same kind of symmetry: (w1, w2) and (−w1, −w2)
# give the same product, and its valley has two branches.) Such copies come from symmetries of the network, not
# from the data. Most mirror images lie at negative frequencies, outside our
# grid of starts; only minima with a frequency near 0 have theirs close
# enough for walkers to reach both.

# %%
def mirror_of(k):
    """The name of the minimum that is minimum k's mirror image (−a, π − b), if the walkers found it."""
    image = wrapped(torch.stack([-minima[k][0], math.pi - minima[k][1]]))
    return next((names[j] for j in range(len(minima)) if j != k and apart(image, minima[j]) < 1e-6), None)


mirrors = {name: mirror_of(k) for k, name in enumerate(names)}
print("mirror images among the minima: " + (", ".join(f"{n} and {m}" for n, m in mirrors.items() if m and n < m)
                                             or "none"))

# %% [markdown]
# ## The figure: where each start ends
# Every path from the grid, on the exact loss over (a, b), in the colour of
# the minimum it reaches; every start is a dot of that colour, so the dots
# map out the basins, the regions that drain into each minimum.

# %%
low = min(-0.5, min(m[0].item() for m in minima) - 0.4)           # every start and every minimum inside
high = max(5.0, max(m[0].item() for m in minima) + 0.4)
wave_axes = (torch.linspace(low, high, 111, dtype=run.dtype, device=run.device),
             torch.linspace(PHASES[0], PHASES[1], 127, dtype=run.dtype, device=run.device))
eye = torch.eye(2, dtype=run.dtype, device=run.device)
Z_wave = loss_on_plane(wave.torch_net, wave.torch_loss, wave_x, wave_y, center=0 * eye[0], d1=eye[0], d2=eye[1],
                       alphas=wave_axes[0], betas=wave_axes[1])
legend_entries = [{"point": minima[k], "name": entry["name"],
                   "label": f"{entry['name']}: loss {entry['loss']:.3g}, {entry['starts']} starts"
                            + (f" (mirror of {mirrors[entry['name']]})"
                               if mirrors[entry["name"]] and mirrors[entry["name"]] < entry["name"] else "")}
                  for k, entry in enumerate(basins)]
run.save(plots.many_valleys.basin_paths(
    *wave_axes, Z_wave, paths, basin, legend_entries, period=2 * math.pi,
    xlabel="frequency a", ylabel="phase b (one full turn)",
    title=f"ŷ = sin(a·x + b): {len(starts)} starts, {len(minima)} minima\n(lr = {run.lr:g}, {run.steps} steps each)"),
    "basins")

# %% [markdown]
# From our grid, A, the good fit, is reached by about half of the starts.
# The rest end in other valleys, and every one of them is a true local
# minimum: gradient zero, both curvatures positive, so that small steps of
# gradient descent cannot leave it. B and C are waves that hardly bend: with
# a frequency near 0 the wave is an almost flat line near 0, and their loss
# is that of predicting 0 for every x. D, E and F are waves of the wrong
# frequency that match the data over part of the range only; with the
# default seed they are worse than predicting 0. The basin boundaries run
# along ridges and through saddles, and two starts a grid step apart can
# drain into different valleys.
#
# ## Noise: from one valley into another
# Full-batch gradient descent never leaves the basin it starts in. Lesson
# 06's mini-batches change that: each step follows the gradient of a few
# points only, which is the full gradient plus an error. On average the
# error is zero, so SGD at the same lr takes the same step on average: over
# one epoch of shuffled batches the gradients average to the full gradient
# exactly. We check that at the start below, for batches of 5 and of 2
# points. The error's variance is σ²/B·(N − B)/(N − 1) (lesson 06): about
# 2.6 times larger for B = 2 than for B = 5.
#
# The experiment: start in the shallowest valley the grid found (the one
# with the highest loss), at the grid start nearest its minimum. Full-batch
# descent from there is the control. Then mini-batch SGD from the same
# start, at the same lr, for 20 shuffling seeds and each batch size, and the
# same again from the grid start nearest A, the deepest valley. Where does a
# walker end? We let full-batch descent finish from its last point (a few
# hundred more steps) and name the minimum it reaches. The 80 walkers run at
# once under `vmap`, each on exactly the batches `toolkit.train` would give
# it (`batch_indices`). The control and one of the walkers also run as
# twins, compared at every step, and their paths must be the `vmap` paths.

# %%
BATCHES, SEEDS, FINISH = (5, 2), range(run.seed, run.seed + 20), 300
reached = [k for k in range(len(minima)) if (basin == k).any()]
shallow, deep = max(reached, key=lambda k: losses[k]), min(reached, key=lambda k: losses[k])
nearest_start = {k: min((i for i in range(len(starts)) if basin[i] == k), key=lambda i: apart(starts[i], minima[k]))
                 for k in (shallow, deep)}                   # the grid start nearest the shallowest and the deepest
n = len(wave_x)
start = starts[nearest_start[shallow]]
full = torch.func.grad(wave_loss_at)(start)
for size in BATCHES:
    epoch = batch_indices(n, size, run.seed, n // size, run.device)          # one epoch of shuffled batches
    mean = torch.stack([torch.func.grad(batch_loss_at)(start, wave_x[i], wave_y[i]) for i in epoch]).mean(dim=0)
    print(f"B = {size}: the mean of one epoch's {len(epoch)} batch gradients differs from the full gradient by "
          f"{(mean - full).abs().max().item():.1e}; the noise's variance factor "
          f"(N − B)/(B(N − 1)) = {(n - size) / (size * (n - 1)):.3f}")


def sgd_walkers(begin, size):
    """Mini-batch SGD from each row of begin (K, 2) for every seed at once, each walker on the batches train
    would give it: the paths, (steps + 1, K, S, 2)."""
    order = torch.stack([torch.stack(batch_indices(n, size, s, run.steps, run.device)) for s in SEEDS], dim=1)
    order = order.repeat(1, len(begin), 1)                                  # (steps, K·S, B): the same for each start
    gradient = vmap(torch.func.grad(batch_loss_at))
    points = [begin.repeat_interleave(len(SEEDS), dim=0)]                   # (K·S, 2)
    for step in range(run.steps):
        points.append(points[-1] - run.lr * gradient(points[-1], wave_x[order[step]], wave_y[order[step]]))
    return torch.stack(points).unflatten(1, (len(begin), len(SEEDS)))


valleys = (shallow, deep)
walks = torch.stack([sgd_walkers(starts[[nearest_start[k] for k in valleys]], size) for size in BATCHES], dim=2)
found = nearest_minimum(descend(walks[-1].reshape(-1, 2), FINISH, run.lr)[-1])[0].reshape(walks.shape[1:-1])
escape = {}
for v, k in enumerate(valleys):                                              # walks: (steps + 1, valley, B, seed, 2)
    for b, size in enumerate(BATCHES):
        ended = found[v, b].tolist()
        counts = {names[j]: ended.count(j) for j in sorted(set(ended))}
        lower = sum(losses[j] < losses[k] - 1e-9 for j in ended)
        higher = sum(losses[j] > losses[k] + 1e-9 for j in ended)
        escape[f"{names[k]}, B = {size}"] = {"left": len(ended) - counts.get(names[k], 0), "lower": lower,
                                             "higher": higher, "ended_in": counts}
        print(f"from {names[k]}'s valley, B = {size}: {escape[f'{names[k]}, B = {size}']['left']} of {len(SEEDS)} "
              f"seeds leave it, {lower} for a lower valley, {higher} for a higher one; they end in {counts}")
control = run.train(wave_twins(*start.tolist()), wave_x, wave_y, label="full batch")
control_end = names[int(nearest_minimum(control.path_manual[-1:])[0])]
print(f"full batch from the same start ends in {control_end}; its path is the vmap path to "
      f"{(control.path_manual - paths[:, nearest_start[shallow]]).abs().max().item():.1e}")
run.record("escape", {"start": start.tolist(), "valley": names[shallow], "steps": run.steps,
                      "full_batch_ends_in": control_end,
                      "sgd": escape})

# %% [markdown]
# With the default seed the shallowest valley is F (loss 0.879). Full-batch
# descent from the start there walks into F and stays. With batches of 5,
# 18 of the 20 seeds leave F: 17 for D (loss 0.729) and one for E, just
# below F. With batches of 2, the noisier walk, 19 leave, and 12 of them
# go on to A, the best fit. From A's valley no walker leaves, at either
# batch size. The noise does not aim for deeper valleys: a kick carries a
# walker over a low ridge but not over a high one, and the ridges around A
# stand far higher above its floor than those around F. How far a walker
# gets depends on the size of the kicks, about lr·σ/√B: the smaller batch
# reached A, the larger mostly stopped in D. Try `--lr 0.1`, kicks a third
# as large, and count the walkers that leave F at each batch size.
#
# The figure shows the control beside the first seed with B = 5, trained
# as twins.

# %%
first = {"B": BATCHES[0], "seed": SEEDS[0]}
noisy = run.train(wave_twins(*start.tolist()), wave_x, wave_y, batch_size=first["B"], seed=first["seed"],
                  label=f"B = {first['B']}, seed {first['seed']}", main=False)
walk, noisy_end = walks[:, 0, 0, 0], names[int(found[0, 0, 0])]            # the shallow valley, B = 5, the first seed
print(f"B = {first['B']}, seed {first['seed']}: ends in {noisy_end}; largest difference from its vmap walk "
      f"{max((noisy.path_manual - walk).abs().max().item(), (noisy.path_autograd - walk).abs().max().item()):.1e}")
shown = [{"label": f"mini-batch SGD, B = {first['B']} (seed {first['seed']}): ends in {noisy_end}",
          "color": plots.RUN_COLORS[1], "history": noisy, "every": 4},
         {"label": f"full batch: ends in {control_end}", "color": plots.RUN_COLORS[0], "history": control}]
for entry in shown:
    history = entry["history"]
    entry.update(manual_path=history.path_manual, autograd_path=history.path_autograd,
                 losses=(loss_along_path(wave.manual_net, wave.manual_loss, wave_x, wave_y, history.path_manual),
                         loss_along_path(wave.torch_net, wave.torch_loss, wave_x, wave_y, history.path_autograd)))
drawn = torch.cat([entry["manual_path"] for entry in shown])
window = [torch.linspace(drawn[:, k].min().item() - 0.4, drawn[:, k].max().item() + 0.4, 101, dtype=run.dtype,
                         device=run.device) for k in (0, 1)]
Z_escape = loss_on_plane(wave.torch_net, wave.torch_loss, wave_x, wave_y, center=0 * eye[0], d1=eye[0], d2=eye[1],
                         alphas=window[0], betas=window[1])
counts = ("; ".join(f"B = {size}: {escape[f'{names[shallow]}, B = {size}']['left']} of {len(SEEDS)} seeds left "
                    f"{names[shallow]}" for size in BATCHES)
          + f"; from {names[deep]}'s valley {sum(escape[f'{names[deep]}, B = {size}']['left'] for size in BATCHES)} of "
            f"{len(SEEDS) * len(BATCHES)} left")
marked = [{"point": minima[k], "name": names[k], "loss": losses[k], "level": names[k] in (control_end, noisy_end)}
          for k in range(len(minima))]
run.save(plots.many_valleys.valley_escape(
    *window, Z_escape, shown, marked, period=2 * math.pi, xlabel="frequency a", ylabel="phase b",
    title=f"Out of valley {names[shallow]} on mini-batch noise (lr = {run.lr:g})",
    note=f"over {len(SEEDS)} seeds: {counts}; full batch stays in {control_end}", close_up=1),
    "escape")

# %% [markdown]
# ## What the walkers found
# Where gradient descent ends depends on where it starts: each valley
# drains its own basin, and on this landscape a random start finds the
# good fit about half of the time. Noise changes the rule. A walker on
# mini-batches is kicked about at every step, and a kick big enough
# carries it over a low ridge into the next valley; the deepest valleys
# hold it best. This is one reason the noise of SGD is not only a nuisance
# (lesson 06 measured its price, the ball it wanders in). It is no
# guarantee either: the kicks know nothing of depth, so a walker can land
# in a higher valley as well (none of the 40 from F did), and kicks too
# small for the ridges leave every walker where it is. In networks with many
# parameters there are far more valleys, and which of them generalise best
# to new data is a question of its own (lesson 16).
#
# ## Captions for course notes
# Printed under each figure in the gallery's index, with an alt text.

# %%
run.describe(
    "basins",
    caption=(f"Gradient descent from a 12 × 12 grid of starts on the exact loss of ŷ = sin(a·x + b), each path "
             f"and its start coloured by the minimum it ends in, on grey contours that are darkest where the "
             f"loss is lowest; the phase b is an angle, so a path leaving at the top comes back at the bottom. "
             f"Only {basins[0]['starts'] / len(starts):.0%} of the starts find the best fit A; the others "
             f"settle in worse minima, several of them worse than predicting 0 (loss {zero_loss:.3f})."),
    alt=("A grey contour map of the loss over frequency and phase, darkest around one minimum near frequency 2, "
         "crossed by many thin coloured descent paths. The paths of each colour converge on one large marker of "
         "that colour, named by a letter; most of them, sky blue, run to the deepest minimum A. A dot at the "
         "start of every path, in its colour, forms a 12 by 12 grid whose colours show which region drains into "
         "which minimum."))
run.describe(
    "escape",
    caption=(f"Left: two runs from one start in {names[shallow]}'s valley on the exact loss over (a, b), dark "
             f"where the loss is low: full-batch gradient descent, and mini-batch SGD with batches of "
             f"{first['B']} at the same lr (seed {first['seed']}). Each run's hand-written twin is the line with "
             f"circles in its colour, autograd's the vermillion crosses in them: they coincide. Full batch moves "
             f"so little that an inset at the top left enlarges its path. Right: each run's "
             f"loss on all the data per step, with the losses of the minima where they end dotted. Full batch "
             f"stays in {control_end}; the noisy run wanders about it, crosses a ridge and settles in "
             f"{noisy_end}, a lower valley. Over {len(SEEDS)} seeds: {counts}."),
    alt=(f"Two panels. Left, a contour map with dark valleys marked by white plus signs and letters. From one "
         f"white square, a green path wanders noisily around valley {names[shallow]}, crosses into valley "
         f"{noisy_end} and ends at a star there. A framed inset at the top left enlarges the start: there a "
         f"sky-blue path runs a short way from the square down to valley {control_end}'s plus sign and ends "
         f"on it. Right, loss curves on a log scale: the sky-blue curve falls to {control_end}'s dotted "
         f"level and stays; the green one jitters around it and then drops to {noisy_end}'s lower dotted level."))
run.finish()
