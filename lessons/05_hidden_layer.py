# %% [markdown]
# # 05 · A hidden layer: backpropagation and a landscape seen through a plane
#
# A straight line cannot separate two interleaved half-moons. A network
# with hidden layers can bend its decision boundary, but it pays with many
# more parameters: here 2 → 16 → 16 → 2 with tanh, 354 numbers in all.
# The recipe stays the same (random start, predict, measure the loss, follow
# the gradient downhill, repeat), and the chain rule carries the gradient
# back through every layer. Two things change: the loss is no longer a
# simple bowl, and we can no longer draw it over all parameters at once.

# %%
import torch

from toolkit import data, lesson, manual, plots
from toolkit.landscape import grid_around, loss_on_plane, pca_plane, project
from toolkit.twins import make_twins

run = lesson.start("05_hidden_layer", steps=300, lr=0.5)

# %% [markdown]
# ## Data and the twin networks
# Each point belongs to class 0 or class 1. The network outputs two scores
# (logits) per point; the cross-entropy loss turns them into probabilities
# with a softmax and charges −log(probability of the right class).

# %%
x, y = data.two_moons(n=200, noise=0.15, seed=run.seed, device=run.device, dtype=run.dtype)
twins = make_twins([2, 16, 16, 2], activation="tanh", loss=manual.CrossEntropyLoss(), seed=run.seed,
                   device=run.device, dtype=run.dtype)
by_hand, by_autograd = twins.manual_net, twins.torch_net
print(by_hand)
print("parameters:", sum(p.numel() for p in by_hand.parameters()))

# %% [markdown]
# ## Backpropagation, one layer at a time
# The hand-written backward pass starts at the loss,
#
#     dlogits = (softmax(logits) − onehot(y)) / N,
#
# and walks back through the layers. A Linear layer turns `dout` into
# `dweight = doutᵀ x`, `dbias = Σ dout` and `dx = dout W`; a Tanh layer
# multiplies by its slope, `dx = dout · (1 − out²)`. Each layer needs only
# what it saw in the forward pass and the gradient handed back to it. All
# 354 partial derivatives, checked three ways:

# %%
run.check(twins, x, y)

# %% [markdown]
# ## Training with momentum
# Plain gradient descent crawls along shallow valleys. Momentum keeps a
# running velocity, `v ← 0.9·v + g`, and steps along it, `θ ← θ − lr·v`:
# consistent directions build up speed while zigzags cancel out. Our SGD
# implements it exactly as torch.optim.SGD does, and both twins use it.

# %%
history = run.train(twins, x, y, momentum=0.9)
with torch.no_grad():
    accuracy = (by_autograd(x).argmax(dim=1) == y).double().mean().item()
print(f"training accuracy: {accuracy:.1%}")

# %% [markdown]
# ## A landscape through 354 dimensions
# We cannot draw a loss over 354 parameters, but we can draw it over a
# plane. A random plane would miss the path entirely. Instead, principal
# component analysis finds the two directions along which the parameters
# moved the most during training; the plane through the final parameters
# spanned by those two directions holds most of the path. We project the
# path onto it and evaluate the true loss at every grid point of the plane.
#
# A diverged run gets the plane of its steps before the loss blew up (see
# `drawable_part`). If it blew up at once there is no path to fit a plane
# to: the figure then shows the loss around the start and says so.

# %%
from toolkit.landscape import drawable_part

shown = drawable_part(history)                # points of the path to fit the plane to and to frame
plane = pca_plane(history.path_manual[:shown])
part = "the path" if shown == len(history.path_manual) else f"the path up to step {shown - 1}"
xlabel = f"PC1 ({plane.explained[0]:.0%} of the path's variance)"
ylabel = f"PC2 ({plane.explained[1]:.0%})"
title = f"Loss on the PCA plane ({plane.captured:.0%} of {part} lies in it)"
note = None
if shown > 1:
    print(f"the plane holds {plane.captured:.1%} of {part} "
          f"(PC1 explains {plane.explained[0]:.1%}, PC2 {plane.explained[1]:.1%} of its variance)")
else:
    # pca_plane gives a single point a plane along two parameter axes: the loss around the start.
    xlabel, ylabel, title = "one parameter axis", "another parameter axis", "Loss around the start"
    blew_up = "the loss blew up at step 1"
    if history.diverged_at_step != 1:
        blew_up += f"\n(the run diverged at step {history.diverged_at_step})"
    note = f"{blew_up}:\nno path to fit a plane to, so this\nplane runs along two parameter axes"
    print(f"{blew_up}: no path to fit a plane to".replace("\n", " "))
manual_xy = project(history.path_manual, plane.center, plane.d1, plane.d2)
autograd_xy = project(history.path_autograd, plane.center, plane.d1, plane.d2)
alphas, betas = grid_around(manual_xy[:shown], margin=0.2)
Z = loss_on_plane(by_autograd, twins.torch_loss, x, y, plane.center, plane.d1, plane.d2, alphas=alphas, betas=betas)
run.save(plots.path_on_plane(alphas, betas, Z, manual_xy, autograd_xy, history,
                             xlabel=xlabel, ylabel=ylabel, title=title, note=note),
         "pca_landscape")

# %% [markdown]
# ## What the network learned
# The probability of class 1 at every point of the input plane, with the
# boundary where it is exactly one half.

# %%
def probability_of_class_1(points):
    inputs = torch.as_tensor(points, dtype=run.dtype, device=run.device)
    with torch.no_grad():
        return torch.softmax(by_autograd(inputs), dim=1)[:, 1].cpu()


if history.diverged:
    when = f"after diverging at step {history.diverged_at_step}"
else:
    when = f"after {history.steps} step{'s' if history.steps != 1 else ''}"
run.save(plots.decision_regions(probability_of_class_1, x, y, title=f"Decision regions {when} ({accuracy:.0%} right)"),
         "decision_regions")
run.finish()
