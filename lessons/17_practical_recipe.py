# %% [markdown]
# # 17 · A practical recipe: choosing and protecting the step
#
# Lessons 03 and 15 showed what decides whether a step is too large: the
# curvature, through lr·λmax < 2. On a real network nobody computes λmax
# before training. Practitioners follow a short recipe instead (CS231n's
# notes and Karpathy's makemore lectures teach it), and this lesson runs it
# on lesson 16's digits network, checking each habit against what the
# course has measured:
#
# 1. overfit a tiny batch first, to prove the machinery can learn at all;
# 2. find the learning rate with a range test, and check the pick against
#    2/λmax;
# 3. watch each layer's update-to-weight ratio during training;
# 4. clip the gradient's norm, so that one bad batch cannot wreck the run;
# 5. and meet Adagrad, the adaptive method that shrinks its own steps.

# %%
import math

import torch

from toolkit import data, lesson, manual, plots
from toolkit.exercises import check_clipping
from toolkit.landscape import hvp_finite_difference, largest_eigenvalue
from toolkit.metrics import scores_along_path
from toolkit.optim import Adagrad, Adam
from toolkit.twins import Twins, make_twins

# steps: every training run on all 1,000 images (batches of 100); lr: None, the range test picks it (--lr overrides)
run = lesson.start("17_practical_recipe", steps=150, lr=None)

# %%
(x, y), (x_val, y_val), _ = data.digits(seed=run.seed, device=run.device, dtype=run.dtype)   # the test part stays unseen
BATCH = 100


def digit_twins(seed=run.seed):
    """Lesson 16's network: 64 pixels, 32 ReLU units, 10 logits."""
    return make_twins([64, 32, 10], activation="relu", loss=manual.CrossEntropyLoss(), seed=seed,
                      device=run.device, dtype=run.dtype)


run.check(digit_twins(), x[:20], y[:20])

# %% [markdown]
# ## 1. Overfit a tiny batch first
# Twenty images, a hundred steps: a network with 2,410 parameters can
# learn twenty labels by heart, so its loss on them must go to about 0.
# If it does not, something is broken before any question of learning
# rate or generalisation arises: a wrong gradient, labels that do not
# match their images, an optimiser that never steps, a layer that is not
# connected. It costs a fraction of a second. Adam with lr = 0.01 (a
# forgiving default):

# %%
tiny = run.train(digit_twins(), x[:20], y[:20], optimizer=Adam, lr=0.01, steps=100, label="20 images", main=False)
print(f"20 images: loss {tiny.loss_manual[0]:.3f} -> {tiny.final_loss_manual:.5f} after {tiny.steps} steps: "
      + ("the machinery can learn" if tiny.final_loss_manual < 0.01 else "SOMETHING IS WRONG: it cannot even memorise"))

# %% [markdown]
# ## 2. A learning-rate range test
# One short run in which the learning rate grows by the same factor at
# every step, from 10⁻⁴ to 10 in 100 steps (Smith, 2017; fast.ai's
# `lr_find`): `torch.optim.lr_scheduler.ExponentialLR` drives our SGD.
# Early on the steps are too small to change anything; then the loss
# starts to fall; then the steps become too large and the loss turns up
# and explodes. The run stops once the loss exceeds 1.5 times its start
# (the usual stopping rule of a range test: past that point it only
# measures a network that is already wrecked).
# Each point is one mini-batch, so the curve is noisy; we smooth it with
# an exponential moving average (β = 0.9, divided by 1 − βᵗ as Adam does).

# %%
LR_START, LR_END, SWEEP = 1e-4, 10.0, 100
growth = (LR_END / LR_START) ** (1 / (SWEEP - 1))
sweep_twins = digit_twins()
sweep = run.train(sweep_twins, x, y, lr=LR_START, steps=SWEEP, batch_size=BATCH, divergence_factor=1.5, main=False,
                  scheduler=lambda opt: torch.optim.lr_scheduler.ExponentialLR(opt, gamma=growth), label="range test")
sweep_losses = sweep.loss_manual[:len(sweep.lrs)]       # one per step taken (a stopped run records one more)
smooth, average = [], 0.0
for t, loss in enumerate(sweep_losses, start=1):
    average = 0.9 * average + 0.1 * loss
    smooth.append(average / (1 - 0.9 ** t))
lowest = min(range(len(smooth)), key=smooth.__getitem__)
picked = sweep.lrs[lowest] / 2
print(f"the smoothed loss is lowest, {smooth[lowest]:.3f}, at lr = {sweep.lrs[lowest]:.3g} (step {lowest}); "
      f"the rule picks half of it: lr = {picked:.3g}")

# %% [markdown]
# **The rule:** take the learning rate where the smoothed loss is lowest
# and halve it. At the lowest point the steps are already as large as the
# landscape allows (a little later the loss explodes), so we back off by a
# safety factor. (fast.ai's cautious variant divides by 10, which here
# would learn several times slower.)
#
# **The check**, with lesson 15's power iteration on Hessian-vector
# products of the hand-written gradient, on all 1,000 training images:
# the sharpness λmax at the start, and at the points the sweep passed
# through around its lowest loss. Lesson 03's bound says a step is stable
# while lr·λmax < 2.

# %%
def sharpness(twins, theta=None):
    """λmax of the training loss (all 1,000 images) at theta (default: the hand-written twin's parameters)."""
    count = sum(p.numel() for p in twins.manual_net.parameters())
    start = torch.randn(count, generator=torch.Generator().manual_seed(run.seed), dtype=torch.float64)
    return largest_eigenvalue(lambda v: hvp_finite_difference(twins, x, y, v, theta=theta),
                              start.to(run.device, run.dtype), iterations=100, tol=1e-5).value


at_start = sharpness(sweep_twins, sweep.path_manual[0])
print(f"at the start λmax = {at_start:.3f}: 2/λmax = {2 / at_start:.2f}")
along = {}
for step in sorted({max(lowest - 10, 0), max(lowest - 5, 0), lowest, min(lowest + 3, sweep.steps - 1)}):
    along[step] = sharpness(sweep_twins, sweep.path_manual[step])
    print(f"  sweep step {step:3d}: lr = {sweep.lrs[step]:.3f}, λmax = {along[step]:.3f}, "
          f"lr·λmax = {sweep.lrs[step] * along[step]:.2f}, smoothed loss {smooth[step]:.3f}")
lr = run.lr if run.lr is not None else picked
print(f"training with lr = {lr:.3g}: lr·λmax = {lr * at_start:.2f} at the start, "
      f"{lr * along[lowest]:.2f} at the sweep's lowest point")
run.record("range_test", {"lowest_lr": sweep.lrs[lowest], "picked_lr": picked, "lr": lr,
                          "lambda_max_at_start": at_start,
                          "along": {str(step): {"lr": sweep.lrs[step], "lambda_max": value}
                                    for step, value in along.items()}})
run.save(plots.practical_recipe.range_test(tiny.loss_manual, sweep.lrs, sweep_losses, smooth, lowest=lowest,
                                           picked=picked, two_over_start=2 / at_start, curvature=along,
                                           title="Before training: can it learn, and how large a step?"),
         "range_test")

# %% [markdown]
# The loss on the 20 images falls from 2.33 to 0.004: the machinery
# learns. The sweep shows the three phases: nothing happens below
# lr ≈ 0.05, the loss falls as lr grows from about 0.1 to 1.2, and past
# 1.2 it jumps about until, at step 91 (lr ≈ 3.9), a mini-batch loss of
# 8.2 stops the run.
#
# The curvature explains where it turns. At the start λmax = 0.58, so
# lesson 03's bound 2/λmax = 3.4 seems far away. But the sweep is also a
# training run, and as it trains the sharpness grows (lesson 15's
# progressive sharpening): 0.80 at step 71, 1.58 at step 76, 2.80 at step
# 81. lr·λmax crosses 2 between steps 76 and 81, and the smoothed loss
# turns up right there: the range test finds lesson 03's bound, measured
# on the landscape as training shapes it, not as it was at the start. The
# picked lr = 0.62 has lr·λmax = 0.36 at the start and 1.73 where the
# sweep turned: below the bound at both.

# %% [markdown]
# ## 3. The update-to-weight ratio, layer by layer
# How much does one step change a layer? Karpathy's makemore (part 3)
# plots, for every weight matrix W, the size of the update against the
# size of the weights, log₁₀(lr·‖g‖/‖W‖). For plain SGD the update is
# exactly lr·g, so we read it off the recorded path: θₜ₊₁ − θₜ.
#
# What is healthy? In 150 steps a layer's weights should be able to move
# by about their own size. Successive steps do not all point the same way
# (mini-batches disagree, and the path turns), so each step must move them
# by more than 1/150 of their size: at a ratio of 10⁻² (1% per step) the
# run can just about do it. At 10⁻¹ a single step moves a layer by 10%:
# it is being rewritten faster than it can settle. So for this run we
# shade the band from 10⁻² to 10⁻¹. The band depends on the length of the
# run: Karpathy's rule of thumb, about 10⁻³, is for runs of thousands of
# steps.
#
# For contrast the same network started badly: every weight drawn from
# N(0, 1), lesson 08's "too large" start (ten to fourteen times torch's
# default size here), biases 0.

# %%
def weight_ratios(twins, history):
    """{layer: log10(‖θₜ₊₁ − θₜ‖ / ‖θₜ‖) per step} for every weight matrix, from the recorded path."""
    ratios, start = {}, 0
    for name, param in twins.manual_net.named_parameters():
        piece = history.path_manual[:, start:start + param.numel()]
        start += param.numel()
        if name.endswith("weight"):
            ratios[name] = ((piece[1:] - piece[:-1]).norm(dim=1) / piece[:-1].norm(dim=1)).log10()
    return ratios


healthy_twins = digit_twins()
healthy = run.train(healthy_twins, x, y, lr=lr, batch_size=BATCH, label=f"SGD, lr = {lr:.3g}")
large_start = digit_twins()
generator = torch.Generator().manual_seed(run.seed)           # on the CPU: the same weights on every device
with torch.no_grad():
    for layer in large_start.manual_net:
        if isinstance(layer, manual.Linear):
            layer.weight.copy_(torch.randn(layer.weight.shape, generator=generator, dtype=torch.float64))
            layer.bias.zero_()
large_start = Twins.of(large_start.manual_net, large_start.manual_loss)      # the torch twin from the new weights
badly = run.train(large_start, x, y, lr=lr, batch_size=BATCH, label="SGD, N(0, 1) start", main=False)
print(f"first loss: {healthy.loss_manual[0]:.2f} from torch's start, {badly.loss_manual[0]:.2f} from N(0, 1)")
ratios = {"healthy": weight_ratios(healthy_twins, healthy), "N(0, 1)": weight_ratios(large_start, badly)}
for run_name, by_layer in ratios.items():
    for layer_name, r in by_layer.items():
        print(f"{run_name:12s} {layer_name}: log10 ratio {r[0]:.2f} at the first step, "
              f"{r[-20:].mean():.2f} over the last 20")
scores = {name: scores_along_path(twins, x_val, y_val, history.path_manual[-1:])
          for name, twins, history in (("healthy", healthy_twins, healthy), ("N(0, 1)", large_start, badly))}
for name, (loss, acc) in scores.items():
    print(f"{name}: validation loss {loss.item():.3f}, accuracy {acc.item():.1%}")
end_sharpness = sharpness(healthy_twins)
print(f"after {healthy.steps} steps λmax = {end_sharpness:.3f}: lr·λmax = {lr * end_sharpness:.2f}")
run.record("update_ratios", {name: {layer: {"first": r[0].item(), "last_20": r[-20:].mean().item()}
                                    for layer, r in by_layer.items()} for name, by_layer in ratios.items()})
run.record("sharpness_at_the_end", {"lambda_max": end_sharpness, "lr_times_lambda_max": lr * end_sharpness})
run.save(plots.practical_recipe.update_ratios({f"torch's start, lr = {lr:.3g}": ratios["healthy"],
                                f"N(0, 1) start, lr = {lr:.3g}": ratios["N(0, 1)"]}, band=(-2, -1),
                               title="The update-to-weight ratio of each weight matrix"),
         "update_ratios")

# %% [markdown]
# From torch's start both layers sit between 10⁻² and 10⁻¹, peaking at
# 10⁻⁰·⁷⁵ around step 20 while the loss falls fastest, and drifting down
# to about 10⁻¹·⁷ as training settles: 95.5% of the validation images
# right. From N(0, 1) the first loss is 27.6 instead of ln 10: the logits
# are huge. The first steps rewrite the output layer by 40% each
# (10⁻⁰·⁴), and after five steps the ratios fall below the band and stay
# there (10⁻²·⁴ by the end): weights ten times too large hardly move
# relative to their size, and the run ends at 90.0%. Neither the loss
# curve alone nor the accuracy says *which layer* is stuck; the ratio
# does, layer by layer, while the run is going.
#
# One more curvature check, on the healthy run: after 150 steps its
# sharpness has grown from 0.58 to 3.29, and lr·λmax = 2.03. The run has
# climbed to the edge of stability and sits on it, as lesson 15's did: the
# learning rate picked at the start was safe at the start, and training
# itself made it just barely safe.

# %% [markdown]
# ## 4. Gradient clipping
# A single bad batch can undo a run: a corrupted image, a label off by
# one, a rare extreme example. Its gradient can be a hundred times the
# usual size, and one step of lr times that throws the weights far from
# anything learned. Clipping caps the length of the whole gradient, all
# parameters together as one vector, before the step:
#
#     total = ‖g‖,   g ← g · min(1, max_norm / (total + 10⁻⁶))
#
# The direction is kept; only an overlong step is shortened, and a
# gradient below the cap is left exactly alone. Written by hand, for a
# list of gradient tensors, and checked against
# `torch.nn.utils.clip_grad_norm_`:

# %%
def clip_by_total_norm(grads, max_norm):
    """Scale the tensors in ``grads`` in place so that their total 2-norm is at most max_norm; return the norm before."""
    # exercise clip_by_total_norm: one norm over ALL the tensors together; scale every one by min(1, max_norm/(norm + 1e-6))
    total = torch.stack([g.norm() for g in grads]).norm()
    scale = torch.clamp(max_norm / (total + 1e-6), max=1.0)
    for g in grads:
        g.mul_(scale)
    return total
    # end exercise


check_clipping(run, clip_by_total_norm)

# %% [markdown]
# The library's `toolkit.optim.clip_grad_norm_` is the same rule (with
# any p-norm, as torch's); `run.train(..., max_grad_norm=...)` applies it
# to each twin after the gradients are compared and before the step, and
# records the norm before clipping at every step.
#
# Now the bad batch. One training image arrives corrupted, its pixels a
# thousand times too bright (a scanner or a conversion gone wrong). Both
# runs see exactly the same batches; one clips at max_norm = 2, about four
# times the usual gradient norm, so that ordinary steps are never touched.

# %%
def dead_units(twins):
    """How many hidden ReLU units output 0 on every training image (they pass no gradient and never recover)."""
    with torch.no_grad():
        hidden = twins.manual_net[1](twins.manual_net[0](x))
    return int((hidden.amax(dim=0) == 0).sum())


GLITCH, MAX_NORM = 1000.0, 2.0
first_epoch = torch.randperm(len(x), generator=torch.Generator().manual_seed(run.seed))    # train()'s first shuffle
corrupted = int(first_epoch[350])             # an image of the fourth batch
x_glitch = x.clone()
x_glitch[corrupted] = GLITCH * x_glitch[corrupted]
spiky = {}
for name, clip in (("no clipping", None), (f"clipped at {MAX_NORM:g}", MAX_NORM)):
    glitch_twins = digit_twins()
    spiky[name] = run.train(glitch_twins, x_glitch, y, lr=lr, batch_size=BATCH, max_grad_norm=clip,
                            label=f"corrupted image, {name}", main=False)
    loss, acc = scores_along_path(glitch_twins, x_val, y_val, spiky[name].path_manual[-1:])
    norms = torch.tensor(spiky[name].grad_norms)
    print(f"{name}: largest gradient norm {norms.max():.1f} at step {int(norms.argmax())} (median {norms.median():.2f}); "
          f"{int((norms > MAX_NORM).sum())} steps above {MAX_NORM:g}; validation accuracy {acc.item():.1%}; "
          f"{dead_units(glitch_twins)} of 32 hidden units dead")
print(f"(the run on clean images: {dead_units(healthy_twins)} of 32 dead; median gradient norm "
      f"{torch.tensor(healthy.grad_norms).median():.2f}, largest {max(healthy.grad_norms):.2f})")
run.record("clipping", {name: {"largest_grad_norm": max(h.grad_norms), "final_loss": h.final_loss_manual}
                        for name, h in spiky.items()})
run.save(plots.practical_recipe.clipping(*spiky.values(), MAX_NORM, labels=tuple(spiky),
                                         title="One corrupted image, with and without clipping"), "clipping")

# %% [markdown]
# The corrupted image first comes up at step 3, in both runs: a gradient
# of norm 29 against a usual 0.5. Unclipped, that one step of lr × 29
# throws the weights so far that the next losses are about 100; at step
# 12 the gradient norm reaches 367, and when the dust settles 24 of the 32
# hidden units are dead (they output 0 for every training image and pass
# no gradient, so they never come back). The run limps on with the
# remaining eight and ends at 40% on validation. Clipped, the step at
# step 3 has length lr × 2 instead of lr × 29, and the run is all but
# indistinguishable from the clean one: 95.2% against 95.5% (one seed),
# with 5 dead units against 3. Only one step in 150 was clipped, so
# clipping cost the ordinary steps nothing.

# %% [markdown]
# ## 5. Adagrad, the ancestor of RMSprop
# Adagrad (Duchi, Hazan and Singer, 2011) gave every parameter its own
# step before RMSprop did: it divides by the root of the **sum** of all
# the squared gradients that parameter has seen,
#
#     s ← s + g²,    θ ← θ − lr · g / (√s + ε).
#
# A parameter with large gradients takes small steps, one with rare small
# gradients large ones. But s only grows, so for a steady gradient the
# step shrinks like 1/√t: a learning-rate decay built in, which protects
# the step and eventually stops it. RMSprop (lesson 11) replaced the sum
# by a running mean, so its steps stay level. `toolkit.optim.Adagrad` is
# checked against `torch.optim.Adagrad` for every option by the tests.
# Here it trains the network, and after every step we record the median
# step size lr/(√s + ε) of the output layer's weights, beside the step
# size that a running mean of the same squared gradients would give
# (α = 0.9, corrected for its start at zero as Adam does): the two
# denominators, fed the same gradients.

# %%
adagrad_sizes, running_mean_sizes = [], []     # per step: the median step size of the output layer's weights


class WatchedAdagrad(Adagrad):
    """Adagrad that records, after every step of the hand-written twin, the median step size of the output
    layer's weights: its own lr/(√s + ε), and lr/(√v̂ + ε) with v̂ a running mean of the same g² (α = 0.9)."""

    def step(self, closure=None):
        group = self.param_groups[0]
        weight = group["params"][-2]                                  # the output layer's (10, 32) weight
        watched = not isinstance(weight, torch.nn.Parameter)          # the torch twin's optimiser only steps
        squared = weight.grad ** 2 if watched else None
        loss = super().step(closure)
        if watched:
            state = self.state[weight]
            self.mean_square = 0.9 * getattr(self, "mean_square", 0) + 0.1 * squared
            v_hat = self.mean_square / (1 - 0.9 ** state["step"])
            adagrad_sizes.append((group["lr"] / (state["sum"].sqrt() + group["eps"])).median().item())
            running_mean_sizes.append((group["lr"] / (v_hat.sqrt() + group["eps"])).median().item())
        return loss


ADAGRAD_LR = 0.1
adagrad_twins = digit_twins()
adagrad = run.train(adagrad_twins, x, y, lr=ADAGRAD_LR, batch_size=BATCH, optimizer=WatchedAdagrad,
                    label=f"Adagrad, lr = {ADAGRAD_LR:g}", main=False)
loss, acc = scores_along_path(adagrad_twins, x_val, y_val, adagrad.path_manual[-1:])
for t in (1, 10, 100, len(adagrad_sizes)):
    print(f"step {t:3d}: Adagrad's step size {adagrad_sizes[t - 1]:.3g}, a running mean's {running_mean_sizes[t - 1]:.3g} "
          f"(ratio {adagrad_sizes[t - 1] / running_mean_sizes[t - 1]:.3f}; 1/√t = {1 / math.sqrt(t):.3f})")
print(f"Adagrad, lr = {ADAGRAD_LR:g}: validation loss {loss.item():.3f}, accuracy {acc.item():.1%} (one seed)")
run.record("adagrad", {"step_size": {"first": adagrad_sizes[0], "last": adagrad_sizes[-1]},
                       "running_mean_step_size": {"first": running_mean_sizes[0], "last": running_mean_sizes[-1]},
                       "validation_accuracy": acc.item()})
run.save(plots.practical_recipe.adagrad_steps(adagrad_sizes, running_mean_sizes,
                                              title=f"Adagrad, lr = {ADAGRAD_LR:g}: its steps die out"),
         "adagrad")

# %% [markdown]
# At the first step both are the same, lr/|g|. Over the first ten steps,
# when the gradients are largest, Adagrad's falls by a factor of 23, and
# it goes on falling after them (to 0.88 by step 150), because every
# squared gradient stays in the sum for good. The running mean of the
# same squared gradients forgets: as the network learns, its gradients
# shrink, and the step size it would take grows to 65, 74 times
# Adagrad's. That is why Adagrad suits problems whose useful gradients
# are rare (the sparse features it was designed for) and why, on a
# network trained for long, RMSprop and Adam replaced it. Here, in 150
# steps, it still reaches 95.5% on validation (one seed).
#
# ## The recipe
# Before a long run: overfit a tiny batch (it catches a broken gradient
# or pipeline in seconds); pick the learning rate with a range test and back off from
# where the loss turns, which is where lr·λmax reaches 2; watch every
# layer's update-to-weight ratio; clip the gradient's norm at a few times
# its usual size, which costs nothing when all is well and saves the run
# when it is not. Then judge the result on data the network has not seen
# (lesson 16).

# %% [markdown]
# ## Captions for course notes
# What `python -m toolkit figures` prints under each figure in the gallery's
# index: a caption for the notes and an alt text for readers who cannot see
# the image.

# %%
run.describe("range_test",
             caption="First: the loss on 20 training images falls towards 0, so the network and its gradients "
                     "can learn. Second: the learning-rate range test, one run of SGD whose learning rate grows "
                     "exponentially from 10⁻⁴ until the loss blows up; the loss per mini-batch, its smoothed "
                     "curve and lowest point, the learning rate picked (half of it) and 2/λmax at the start. "
                     "Third: lr·λmax at points the sweep passed; the loss turns up where it crosses 2.",
             alt="Three panels. A green curve falls on a log scale from 2.3 to below 0.01 over 100 steps. The "
                 "loss against a logarithmic learning rate stays near 2.3 up to about 0.05, falls to about 2 "
                 "near lr 1 and then jumps about; a triangle marks the lowest smoothed point, a green vertical "
                 "line the picked rate near 0.6, a dashed line 2/λmax near 3.4. Purple points of lr·λmax rise "
                 "steeply and cross a dotted line at 2 between the picked rate and the lowest point.")
run.describe("update_ratios",
             caption="How far each step moves each weight matrix, relative to its size, on a log scale; "
                     "the green band (1% to 10% per step) is what a run of 150 steps needs. Left: torch's"
                     " initialisation at the picked learning rate, inside the band but for a few steps. "
                     "Right: the same run from N(0, 1) weights, whose first steps rewrite the output "
                     "layer by 40% and whose later steps barely move the oversized weights.",
             alt="Two panels of log ratio against the step from 0 to 150, each with a shaded band from −2"
                 " to −1. Left, two noisy lines start near −1.3, touch −0.75 near step 20 and drift down "
                 "to about −1.7, mostly inside the band. Right, the lines start above the band near −0.4 "
                 "and −0.9, drop below it within five steps and slide from −2.2 to about −2.5.")
run.describe("clipping",
             caption="The same batches, one of them holding a corrupted image whose pixels are a thousand"
                     " times too large. Top: the loss on each mini-batch; bottom: the gradient's norm "
                     "before clipping, with max_norm dashed. Unclipped, the first step on the corrupted "
                     "image wrecks the network; clipped, that step is shortened to max_norm and training "
                     "goes on.",
             alt="Two panels sharing a step axis from 0 to 150, both on log scales. Top: a purple line "
                 "(no clipping) jumps to a loss of about 100 at step 4 and 200 at step 12 and then stays "
                 "high, between 1 and 2; a green line (clipped) falls steadily to about 0.1. Bottom: "
                 "gradient norms near 0.5, both runs spiking to about 30 at step 3 and the purple one "
                 "again to several hundred at step 12 and 30 at step 27; a dashed line at 2.")
run.describe("adagrad",
             caption="Adagrad's effective learning rate lr/(√s + ε) (the median over the output layer's "
                     "weights) falls fast while the large early gradients pile up in its sum s, and keeps"
                     " falling after them; it can never rise. Fed the same squared gradients, a running "
                     "mean (RMSprop's denominator) forgets the early ones, and its effective rate rises "
                     "as the gradients shrink. Dashed: 1/√t from Adagrad's first value.",
             alt="A log-log chart against the step from 1 to 150. A purple line falls steeply from about "
                 "40 to 2 by step 10 and then slowly to below 1; a dashed line falls with slope one half "
                 "from the same start; a green line starts at the same point, dips to about 6 near step 8"
                 " and then rises to about 60.")

# %%
run.finish()
