# %% [markdown]
# # 04 · The chain rule: three weights
#
# A common first picture of a deep network has three weights in a row, w1,
# w2 and w3. We build it as the shortest possible chain: one number goes in,
# passes through two tanh units and comes out as one number,
#
#     ŷ = w3 · tanh(w2 · tanh(w1 · x))
#
# Each weight acts only through the ones after it, so the gradient of the
# loss with respect to w1 is a product of local slopes taken all along the
# chain. That product is the chain rule, and applying it layer by layer,
# from the loss backwards, is backpropagation. With one number per weight we
# can write every factor down, compute it ourselves, and compare it with the
# hand-written network and with autograd.

# %%
import torch

from toolkit import lesson, manual, plots
from toolkit.landscape import grid_around, loss_on_plane
from toolkit.optim import SGD
from toolkit.parameters import flatten
from toolkit.twins import make_twins

run = lesson.start("04_three_weights", steps=100, lr=0.1)

# %% [markdown]
# ## The chain as a function
# For every data point the forward pass computes three numbers, in order:
#
#     h1 = tanh(w1 · x)      h2 = tanh(w2 · h1)      ŷ = w3 · h2
#
# We keep h1 and h2 as well as ŷ: the way back needs them.

# %%
def forward(x, w1, w2, w3):
    """h1, h2 and ŷ for every point of x (N, 1); the weights are plain numbers."""
    h1 = torch.tanh(w1 * x)
    h2 = torch.tanh(w2 * h1)
    y_hat = w3 * h2
    return h1, h2, y_hat


# %% [markdown]
# ## Data that a chain can fit
# We make the data with the chain itself: forty points x between −2 and 2,
# sent through it with the weights (1, 2, 1.5), plus a little noise. The
# result is a smooth S-shaped curve, flat at both ends. So three weights are
# enough to fit it; whether gradient descent finds such weights from a
# random start is what we are about to watch.

# %%
DATA_WEIGHTS = (1.0, 2.0, 1.5)
generator = torch.Generator().manual_seed(run.seed)      # on the CPU: the same data on every device
x = -2 + 4 * torch.rand(40, 1, generator=generator, dtype=torch.float64)
y = forward(x, *DATA_WEIGHTS)[-1] + 0.1 * torch.randn(40, 1, generator=generator, dtype=torch.float64)
x, y = x.to(run.device, run.dtype), y.to(run.device, run.dtype)

# %% [markdown]
# ## Three weights, twice
# `make_twins([1, 1, 1, 1], "tanh", bias=False)` is a chain of three
# `Linear(1, 1)` layers without a bias, with a `Tanh` between each pair:
# layers 0, 2 and 4 hold w1, w2 and w3, layers 1 and 3 are the tanh units.
# Both twins start from the same random weights. The loss is the mean
# squared error over the N points, L = 1/N Σ (ŷ − y)².

# %%
twins = make_twins([1, 1, 1, 1], "tanh", bias=False, loss=manual.MSELoss(), seed=run.seed,
                   device=run.device, dtype=run.dtype)
by_hand, by_autograd = twins.manual_net, twins.torch_net
print(by_hand)
w1, w2, w3 = (by_hand[k].weight.item() for k in (0, 2, 4))     # one number each
h1, h2, y_hat = forward(x, w1, w2, w3)
print(f"start: w1 = {w1:+.4f}, w2 = {w2:+.4f}, w3 = {w3:+.4f}; loss {((y_hat - y) ** 2).mean().item():.6f}")

# %% [markdown]
# ## Backward: the chain rule, one link at a time
# We start at the loss and walk back along the chain. At each link, the
# gradient that has arrived is multiplied by that link's local slope. Per
# point:
#
#     dL/dŷ  = 2 (ŷ − y) / N
#     dL/dw3 = dL/dŷ · h2                    (ŷ = w3 · h2: its slope in w3 is h2 ...)
#     dL/dh2 = dL/dŷ · w3                    (... and its slope in h2 is w3)
#     dL/dw2 = dL/dh2 · (1 − h2²) · h1       (tanh'(z) = 1 − tanh(z)², and z = w2 · h1)
#     dL/dh1 = dL/dh2 · (1 − h2²) · w2
#     dL/dw1 = dL/dh1 · (1 − h1²) · x
#
# The same weight serves every point, so each weight's gradient is the sum
# of these per-point values over the batch. In code, with two more names:
# `dL_dz2` is the gradient at the input of the second tanh (z2 = w2 · h1),
# `dL_dz1` at the input of the first (z1 = w1 · x).

# %%
def chain_rule(x, y, w1, w2, w3):
    """Every gradient of L = mean (ŷ − y)² along the chain, by hand.

    x, y: (N, 1); w1, w2, w3: numbers. Returns the weights' gradients (summed
    over the batch, one number each) and the gradients at every point of the
    way (N, 1), keyed by the name of what they are the gradient of.
    """
    h1, h2, y_hat = forward(x, w1, w2, w3)
    # exercise chain_rule: every link from dL/dŷ = 2 (ŷ − y) / N back to dL/dx, as written above; return the dict
    dL_dyhat = 2 * (y_hat - y) / len(x)
    dL_dw3 = (dL_dyhat * h2).sum()
    dL_dh2 = dL_dyhat * w3
    dL_dz2 = dL_dh2 * (1 - h2**2)
    dL_dw2 = (dL_dz2 * h1).sum()
    dL_dh1 = dL_dz2 * w2
    dL_dz1 = dL_dh1 * (1 - h1**2)
    dL_dw1 = (dL_dz1 * x).sum()
    dL_dx = dL_dz1 * w1              # no weight needs it, but the report can check it
    return {"w1": dL_dw1, "w2": dL_dw2, "w3": dL_dw3,
            "ŷ": dL_dyhat, "h2": dL_dh2, "z2": dL_dz2, "h1": dL_dh1, "z1": dL_dz1, "x": dL_dx}
    # end exercise


by_formula = chain_rule(x, y, w1, w2, w3)

# %% [markdown]
# The hand-written network computes the same numbers with its backward pass
# (each layer applies its own link), and autograd with its own. Side by side:

# %%
twins.zero_grad()
twins.manual_loss(by_hand(x), y)
by_hand.backward(twins.manual_loss.backward())
twins.torch_loss(by_autograd(x), y).backward()

print(f"{'':4} {'chain rule above':>18} {'manual .grad':>18} {'autograd .grad':>18} {'largest gap':>12}")
for name, k in (("w1", 0), ("w2", 2), ("w3", 4)):
    ours, mine, theirs = by_formula[name].item(), by_hand[k].weight.grad.item(), by_autograd[k].weight.grad.item()
    gap = max(abs(ours - mine), abs(ours - theirs), abs(mine - theirs))
    print(f"{name:4} {ours:+18.12f} {mine:+18.12f} {theirs:+18.12f} {gap:12.1e}")
twins.zero_grad()

# %% [markdown]
# Look at the sizes. Every gradient that reaches w2 and w1 has passed
# through dL/dh2 = dL/dŷ · w3. With the default seed w3 starts close to 0
# (−0.08), so its own gradient is by far the largest: w3 moves first, and
# w2 and w1 wait until it has grown. w3 is negative only at steps 0 and 1,
# and there it flips the sign of what reaches them: w2 takes a small step
# the wrong way (0.42 to 0.40) and w1 a tiny one, less than 0.01. In the
# weights figure w2 climbs with w3 from about step 4, while w1 stays near
# 0.94 for about five steps and then follows, more slowly.

# %% [markdown]
# ## Every link checked
# The gradient report compares more than the three weights. It also keeps
# the gradient at the **input of every layer**, by hand and by autograd
# (`retain_grad`), and compares them:
#
# * `output` is dL/dŷ, the first thing backpropagation computes (in the
#   loss's backward);
# * `input of 4` is dL/dh2 (layer 4 is the Linear holding w3; its input is h2);
# * `input of 3` is dL/dz2, what the second tanh hands back;
# * `input of 2` is dL/dh1, and `input of 1` is dL/dz1;
# * `input of 0` is dL/dx, which training never needs: we ask for it with
#   `first_layer=True`, so that the first layer's backward is checked too.
#
# Backpropagation produces these in the order output, 4, 3, 2, 1, 0, each
# from the one before. If one layer's backward were wrong, every row before
# it in that order would still agree, and every row after it would inherit
# the error. So the first row to disagree, in backward order, names the
# faulty layer: the report then ends with "first disagreement: layer k".
#
# Our own numbers from `chain_rule` go into the report too, as a fourth
# witness (the `formula` lines): each weight's gradient under its weight,
# and each link under the row it is.

# %%
ROWS = {"0.weight": "w1", "2.weight": "w2", "4.weight": "w3", "output": "ŷ",
        "input of 4": "h2", "input of 3": "z2", "input of 2": "h1", "input of 1": "z1", "input of 0": "x"}
run.check(twins, x, y, first_layer=True, by_formula={row: by_formula[name] for row, name in ROWS.items()})

# %% [markdown]
# These rows are our intermediate values, point by point. Here is the
# `formula` comparison once more, written out: the numbers from
# `chain_rule` against autograd's (the report's manual column came from the
# hand-written layers):

# %%
from toolkit.gradient_check import OUTPUT, autograd_gradients

_, rows_by_autograd = autograd_gradients(twins, x, y, first_layer=True)
for row, name in {OUTPUT: "ŷ", 4: "h2", 3: "z2", 2: "h1", 1: "z1", 0: "x"}.items():
    label = "output" if row == OUTPUT else f"input of {row}"
    gap = (by_formula[name] - rows_by_autograd[row]).abs().max().item()
    print(f"{label:<11} = dL/d{name:<3} largest gap over the {len(x)} points: {gap:.1e}")

# %% [markdown]
# ## What a wrong link looks like
# To see the report do its job, we swap the second tanh (layer 3) for a copy
# from the bug zoo (`python -m toolkit bugs`) whose backward takes the slope
# as 1 − z² instead of 1 − tanh(z)². Everything that backpropagation
# computes before layer 3 (`output`, `input of 4`, the gradient of w3) still
# agrees; from `input of 3` on, everything is wrong, w2 and w1 included.

# %%
import copy

from toolkit import bugs
from toolkit.gradient_check import gradient_report
from toolkit.twins import Twins

broken = copy.deepcopy(by_hand)
broken.layers[3] = bugs.TanhSlopeFromInput()
broken_report = gradient_report(Twins.of(broken, manual.MSELoss()), x, y,
                                title="with a wrong tanh backward in layer 3", first_layer=True)
print(broken_report)

# %% [markdown]
# The report says where the error starts. `toolkit.diagnose` goes one step
# further and reads the numbers in that first wrong row to say which
# classic mistake they look like (it is what a lesson prints when one of
# its own checks disagrees):

# %%
from toolkit.diagnose import diagnose

print(diagnose(broken_report))

# %% [markdown]
# ## Two common mistakes, corrected
# Some first explanations say we "add the gradients to the parameters". We
# must do the opposite. The gradient points in the direction in which the loss *rises*
# fastest, so a step downhill **subtracts** it:
#
#     w ← w − lr · dL/dw
#
# Here is the loss after one step each way from the start:

# %%
theta = flatten(by_autograd.named_parameters())                        # (w1, w2, w3)
gradient = torch.stack([by_formula["w1"], by_formula["w2"], by_formula["w3"]])
steps = torch.tensor([0.0, -run.lr, run.lr], dtype=run.dtype, device=run.device)
now, against, along = loss_on_plane(by_autograd, twins.torch_loss, x, y, center=theta, d1=gradient, d2=None,
                                    alphas=steps).tolist()
print(f"loss now {now:.6f}; after w − lr·grad: {against:.6f} ({'lower' if against < now else 'NOT lower'}); "
      f"after w + lr·grad: {along:.6f} ({'higher' if along > now else 'not higher'})")

# %% [markdown]
# It is also often said that backpropagation takes the step down the
# mountain. It does not: **backpropagation only computes the gradients** and leaves them
# in each weight's `.grad`, without moving anything. The **optimiser** then
# reads `.grad` and changes the weights. On a fresh copy of the network:

# %%
demo = make_twins([1, 1, 1, 1], "tanh", bias=False, loss=manual.MSELoss(), seed=run.seed,
                  device=run.device, dtype=run.dtype)
before = flatten(demo.manual_net.named_parameters())
demo.manual_loss(demo.manual_net(x), y)
demo.manual_net.backward(demo.manual_loss.backward())
unmoved = (flatten(demo.manual_net.named_parameters()) - before).abs().max().item()
grads = torch.cat([p.grad.flatten() for p in demo.manual_net.parameters()])
print(f"after backward:    the weights moved by {unmoved:.1e}; .grad = {[round(g, 6) for g in grads.tolist()]}")
SGD(demo.manual_net.parameters(), lr=run.lr).step()
moved = flatten(demo.manual_net.named_parameters()) - before
print(f"after SGD.step():  the weights moved by {[round(m, 6) for m in moved.tolist()]}, "
      f"which is −lr · .grad: {torch.allclose(moved, -run.lr * grads, rtol=1e-12, atol=0)}")

# %% [markdown]
# ## Training
# Now both twins take `run.steps` steps of plain gradient descent with our
# `SGD`, side by side (`run.train`), from the start above.

# %%
history = run.train(twins, x, y)
w_end = [p.item() for p in by_hand.parameters()]
print(f"end:  w1 = {w_end[0]:+.4g}, w2 = {w_end[1]:+.4g}, w3 = {w_end[2]:+.4g}")
data_loss = ((forward(x, *DATA_WEIGHTS)[-1] - y) ** 2).mean().item()
print(f"the weights that made the data, {DATA_WEIGHTS}, have loss {data_loss:.6f}")

# %% [markdown]
# Gradient descent need not land on the weights that made the data. A
# larger w1 with a smaller w2 bends the curve in almost the same way, so
# the loss has a long, nearly flat valley, and any point on its floor fits
# the points about as well (here even slightly better, since it also fits
# some of the noise). The signs are not fixed either: tanh is odd, so
# flipping the signs of w1 and w2 together, or of w2 and w3 together, gives
# the very same network.
#
# ## Figures
# There are three weights, so the loss lives in three dimensions. We look
# at it through three slices, one per pair of weights: each is the TRUE loss
# over the plane through the end point, with the third weight held at its
# end value. The path is drawn by its two weights on each slice, but the
# third weight was moving too, so away from the end the path is NOT on the
# slice: the contour under a step is the loss the network would have had
# with the third weight already at its end value. The panel below the
# slices draws both per step: the path's own loss (the twins), and what each
# slice reads under the path. Where a slice's line leaves the path's, the
# third weight was elsewhere; all of them meet at the end, whose star lies on
# all three slices. We check the start by hand:

# %%
from toolkit.landscape import drawable_part

shown = drawable_part(history)         # a diverged run: the steps before it blew up
path_manual, path_autograd = history.path_manual, history.path_autograd
end = path_manual[shown - 1]
losses_manual, _ = history.path_losses()
names = ["w1", "w2", "w3"]
unit = torch.eye(3, dtype=run.dtype, device=run.device)
panels, start_readings = [], []
for i, j in [(0, 1), (0, 2), (1, 2)]:
    k = 3 - i - j                                        # the weight held fixed
    pair = path_manual[:shown][:, [i, j]]
    middle = (pair.max(dim=0).values + pair.min(dim=0).values) / 2
    half = (pair.max(dim=0).values - pair.min(dim=0).values).max() / 2    # a square window, as wide as it is tall
    alphas, betas = grid_around(pair, margin=0.3, include=torch.stack([middle - half, middle + half]))
    origin = end * unit[k]                               # 0 for w_i and w_j, w_k at its end value
    Z = loss_on_plane(by_autograd, twins.torch_loss, x, y, center=origin, d1=unit[i], d2=unit[j],
                      alphas=alphas, betas=betas, chunk_size=2048)
    start_on_slice = origin + path_manual[0, i] * unit[i] + path_manual[0, j] * unit[j]
    slice_loss = ((forward(x, *start_on_slice.tolist())[-1] - y) ** 2).mean().item()
    start_readings.append(slice_loss)
    print(f"slice ({names[i]}, {names[j]}) at {names[k]} = {end[k].item():.3f}: loss under the start square "
          f"{slice_loss:.4f}, true loss at the start {losses_manual[0]:.4f}")
    panels.append({"alphas": alphas, "betas": betas, "Z": Z, "name": f"({names[i]}, {names[j]}) slice",
                   "manual_path": path_manual[:, [i, j]], "autograd_path": path_autograd[:, [i, j]],
                   "xlabel": names[i], "ylabel": names[j], "title": f"{names[k]} held at {end[k].item():.2f}"})
held = "its end value" if shown == len(path_manual) else f"its value at step {shown - 1}"
run.save(plots.planes.path_on_planes(panels, history,
                                     caption=f"the loss over each pair of weights, the third held at {held}; "
                                             "below: the path's own loss against the loss each slice reads under it"),
         "weight_slices")

# %% [markdown]
# With the default seed the (w1, w2) slice reads 0.58 under the start
# square, less than half the network's true loss there, 1.38: the slice
# holds w3 at its end value, 1.61, while the network started with w3 close
# to 0. The other two slices read 1.46 and 1.39, close to the truth, though
# they hold w2 or w1 far from where it started. With w3 near 0 the output
# ŷ = w3 · h2 hardly depends on w1 and w2, so moving those changes little,
# and moving w3 changes everything. From about step 40 on the path is near
# its end and all four curves agree.
#
# The three weights at every step, for both twins (autograd's crosses sit
# on the hand-written lines), and the loss. With the default seed, w3 moves
# first, negative only at steps 0 and 1; w2 dips a little there and climbs
# with w3 from about step 4; w1 stays flat near 0.94 for about five steps
# and then follows, more slowly.

# %%
run.save(plots.three_weights.weights_over_training(history, names, shown=shown,
                                                   title=f"The three weights, lr = {history.lr:g}"), "weights")

# %% [markdown]
# ## Captions for course notes
# What `python -m toolkit figures` prints under each figure in the gallery's
# index: a caption for the notes and an alt text for readers who cannot see
# the image.

# %%
run.describe("weight_slices",
             caption=f"Three slices through the three-dimensional loss, one per pair of weights, each the true loss "
                     f"with the third weight held at {held}, with the path drawn by its two weights (both twins: a "
                     f"cross in every circle). Away from the end the path is not on a slice, because the third "
                     f"weight was moving too. Below, per step, the path's own loss and the loss each slice reads "
                     f"under it: at the start the (w1, w2) slice reads {start_readings[0]:.2f} where the true loss "
                     f"was {losses_manual[0]:.2f}; the curves meet from about step 40, once the third weight is "
                     f"near its end value.",
             alt=f"Three contour maps sharing one logarithmic colour bar: (w1, w2) with w3 held at "
                 f"{end[2].item():.2f}, (w1, w3) with w2 held at {end[1].item():.2f} and (w2, w3) with w1 held at "
                 f"{end[0].item():.2f}. In each a chain of blue circles, each with a vermillion cross inside, runs "
                 f"from a white square in the bright, high-loss part up to a yellow star in the dark valley. Below "
                 f"them a wide panel of loss on a log axis against the step: the blue line of the path's own loss "
                 f"falls in an S-shape from about {losses_manual[0]:.2g} to about {history.final_loss_manual:.1g}; "
                 f"three grey lines, dashed, dotted and dash-dotted, one per slice, run beside it, the dashed one "
                 f"(the (w1, w2) slice) starting at less than half of it, and all join it by about step 40.")
run.describe("weights",
             caption=f"The three weights (first panel) and the loss on a log scale (second panel) at every step, "
                     f"for both twins. w3 moves first (negative only at steps 0 and 1); w2 climbs with it from "
                     f"about step 4; w1 stays flat near {path_manual[0, 0].item():.2f} for about five steps, then "
                     f"follows more slowly. The loss falls fastest while all three climb; from about step 40 they "
                     f"settle near ({end[0].item():.2f}, "
                     f"{end[1].item():.2f}, {end[2].item():.2f}).",
             alt=f"Two line charts against the step, 0 to {history.steps}. The first: three coloured lines for w1, "
                 f"w2 and w3 starting at {path_manual[0, 0].item():.2f}, {path_manual[0, 1].item():.2f} and "
                 f"{path_manual[0, 2].item():.2f}; w3 rises steeply first, then all three level off between 1.3 "
                 f"and 1.7, vermillion crosses on each line. The second: the training loss on a logarithmic axis "
                 f"falling in an S-shape from about {losses_manual[0]:.2g} to about "
                 f"{history.final_loss_manual:.1g}, with vermillion crosses on the blue line.")
run.finish()
