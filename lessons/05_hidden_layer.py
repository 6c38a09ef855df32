# %% [markdown]
# # 05 · A hidden layer: backpropagation and a landscape seen through a plane
#
# A straight line cannot separate two interleaved half-moons. A network
# with hidden layers can bend its decision boundary, but it pays with many
# more parameters: here 2 → 16 → 16 → 2 with tanh, 354 numbers in all.
# The recipe stays the same (random start, predict, measure the loss, follow
# the gradient downhill, repeat), and the chain rule carries the gradient
# back through every layer. Three things change: we must ask whether the
# network has learned the moons or only our 200 points, the loss is no
# longer a simple bowl, and we can no longer draw it over all parameters at
# once. The training itself is plain gradient descent, as in lessons 01 to
# 04; lesson 07 asks what momentum would add.

# %%
import torch

from toolkit import data, lesson, manual, plots
from toolkit.landscape import grid_around, loss_along_path, loss_on_plane, pca_plane, project
from toolkit.twins import make_twins

run = lesson.start("05_hidden_layer", steps=400, lr=0.5)

# %% [markdown]
# ## Data and the twin networks
# Each point belongs to class 0 or class 1. The network outputs two scores
# (logits) per point; the cross-entropy loss turns them into probabilities
# with a softmax and charges −log(probability of the right class).
#
# We draw 400 points and split them at random (`data.split`, fixed by the
# seed): the network learns from 200 of them, and the other 200 are held
# out. It never trains on those, so its loss there tells us how well it
# does on points it has not seen. Both halves must be in the same
# coordinates: `two_moons` centres and scales the 400 points together,
# before the split. (A second set drawn on its own would be scaled by its
# own mean and spread, which alone shifts it by up to a tenth of the
# spread.) Lessons 06, 07 and 08 use these same 200 training points.

# %%
points, labels = data.two_moons(n=400, noise=0.15, seed=run.seed, device=run.device, dtype=run.dtype)
(x, y), (x_val, y_val) = data.split(points, labels, held_out=200, seed=run.seed)   # training half, held out
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
# what it saw in the forward pass and the gradient handed back to it.
#
# Here are those three backward passes written out, each in a subclass of
# the `toolkit.manual` class that holds the same lines (the forward passes
# are the library's). We rebuild the hand-written twin from them, with the
# very numbers it already holds, so that everything below, the report
# first, runs on what is written here.

# %%
from toolkit.bugs import copy_layer          # a new layer of a given class, holding another's numbers
from toolkit.manual.module import accumulate_grad


class Linear(manual.Linear):
    """out = x Wᵀ + b, with its backward written here."""

    def backward(self, dout, input_grad=True):
        """The chain rule through out = x Wᵀ + b, for a batch of N rows.

        dout: (N, out), dL/dout. Adds dL/dW = doutᵀ x, (out, in), into weight.grad
        and dL/db = Σₙ dout[n], (out,), into bias.grad (adds: backward accumulates);
        returns dL/dx = dout W, (N, in), or None for the first layer (input_grad=False).
        """
        x = self._x                            # the input, kept by the forward pass
        # exercise linear_backward: add doutᵀ·x to weight.grad, Σₙ dout[n] to bias.grad (accumulate_grad); set dx = dout·W
        accumulate_grad(self.weight, dout.T @ x)
        accumulate_grad(self.bias, dout.sum(dim=0))
        dx = dout @ self.weight
        # end exercise
        return dx if input_grad else None


class Tanh(manual.Tanh):
    """out = tanh(x), keeping its input as well as its output, with its backward written here."""

    def forward(self, x):
        self._x = x                            # kept only so that you can choose
        return super().forward(x)

    def backward(self, dout, input_grad=True):
        """dL/dx = dout · tanh'(x), with tanh'(x) = 1 − tanh(x)²; dout and dL/dx shaped like x."""
        x, out = self._x, self._out            # the input, and tanh of it
        # exercise tanh_backward: return dL/dx = dout · (1 − tanh(x)²), from x or out, whichever is tanh(x)
        return dout * (1 - out**2)
        # end exercise


class CrossEntropyLoss(manual.CrossEntropyLoss):
    """Softmax cross-entropy (the forward pass is the library's), with its backward written here."""

    def backward(self, dloss=1.0):
        """dL/dlogits = dloss · (softmax(logits) − onehot(y)) / N, shape (N, C)."""
        shifted, target = self._saved()        # the logits shifted so each row's largest is 0, and y
        n, classes = shifted.shape
        # exercise cross_entropy_backward: return dloss · (softmax(logits) − onehot(y)) / N; softmax(shifted) is softmax(logits)
        probs = torch.exp(shifted) / torch.exp(shifted).sum(dim=1, keepdim=True)
        onehot = torch.nn.functional.one_hot(target, classes).to(probs.dtype)
        return dloss * (probs - onehot) / n
        # end exercise


ours = {manual.Linear: Linear, manual.Tanh: Tanh}
by_hand.layers = [copy_layer(ours[type(layer)], layer) for layer in by_hand]
twins.manual_loss = CrossEntropyLoss()

# %% [markdown]
# All 354 partial derivatives, checked three ways:

# %%
run.check(twins, x, y)

# %% [markdown]
# ## Training with plain gradient descent
# Every step both twins compute the loss on all 200 training points,
# backpropagate, and move every parameter against its gradient,
# θ ← θ − lr · dL/dθ, with lr = 0.5. At the start the largest curvature
# of this loss is λmax ≈ 1.4 (lesson 03's `largest_stable_lr` finds it,
# and lesson 07 uses it), so lesson 03's limit is lr < 2/λmax ≈ 1.4, and
# 0.5 stays well inside it.

# %%
history = run.train(twins, x, y)


def accuracy(inputs, labels):
    with torch.no_grad():
        return (by_autograd(inputs).argmax(dim=1) == labels).double().mean().item()


train_accuracy, val_accuracy = accuracy(x, y), accuracy(x_val, y_val)
print(f"right: {train_accuracy:.1%} of the training points, {val_accuracy:.1%} of the held-out points")

# %% [markdown]
# ## The loss on points the network has not seen
# Training recorded the parameters after every step, so we can go back and
# ask what the loss on the held-out points was at each of them. The model
# itself is never touched: `torch.func.functional_call` runs `by_autograd`
# with parameters we hand it, here those of the start,

# %%
from torch.func import functional_call

from toolkit.parameters import unflatten

start = unflatten(history.path_manual[0], dict(by_autograd.named_parameters()))
with torch.no_grad():
    print(f"held-out loss at the start: {twins.torch_loss(functional_call(by_autograd, start, (x_val,)), y_val):.4f}")

# %% [markdown]
# and `loss_along_path` does the same at every recorded step at once
# (`torch.func.vmap` over the path). We evaluate both twins' paths.

# %%
val_manual = loss_along_path(by_autograd, twins.torch_loss, x_val, y_val, history.path_manual)
val_autograd = loss_along_path(by_autograd, twins.torch_loss, x_val, y_val, history.path_autograd)
train_losses, _ = history.path_losses()
finite = torch.isfinite(val_manual)
print(f"at the end: training loss {train_losses[-1]:.4f}, held-out loss {val_manual[-1].item():.4f}")
if finite.any():
    best = int(torch.where(finite, val_manual, torch.inf).argmin())
    if best < len(val_manual) - 1:
        print(f"the held-out loss was lowest at step {best}, {val_manual[best].item():.4f}, and rose after it")
    else:
        print("the held-out loss is lowest at the end: still falling")
run.save(plots.hidden_layer.train_validation_losses(
    history, val_manual, val_autograd, title=f"Training and held-out loss, lr = {history.lr:g}",
    caption="held-out loss evaluated along each twin's path; the twins coincide"), "losses")

# %% [markdown]
# The training loss falls at every step. The held-out loss falls as well,
# apart from a slight rise on the plateau after the first steps (steps 15
# to 30 with the default seed), but not as far: it ends about three times
# higher, 0.025 against 0.008. The network is surer about the points it was
# fitted to than about new ones. This gap between the loss on the training
# data and on new data is what a score on the training data alone would
# hide. Here the held-out loss is still falling at the end, so more steps
# would still help. Trained long enough, a network can start to fit the
# noise of its own points instead of the shape of the moons: then the
# held-out loss turns and rises while the training loss keeps falling
# (overfitting), and the figure marks where it turned.
#
# ## A landscape through 354 dimensions
# We cannot draw a loss over 354 parameters, but we can draw it over a
# plane. Principal component analysis (PCA) of the path finds the two
# directions along which the parameters moved the most during training;
# the plane through the final parameters spanned by those two directions
# holds most of the path. We project the path onto it and evaluate the true
# loss at every grid point of the plane. This is how Li et al. (2018,
# section 7) draw training paths, and they explain there why two random
# directions would not do: in a space of many dimensions a random direction
# is nearly perpendicular to the path, so a random plane holds almost none
# of it. (Their random planes, scaled filter by filter, serve another
# purpose: the shape of the loss around one point. Lesson 15 draws both.)
#
# "Most of the path" is not all of it. A point of the path that is off the
# plane is drawn at its projection, and the contour there is the loss at
# the projection, not at the point. So a panel below the plane draws both,
# step by step: the loss the network really had, and the loss the plane
# reads under the path. Where the two curves part, the path was off the
# plane. We check the start by hand.
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
title = f"PCA plane: holds {plane.captured:.1%} of {part}"
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
run.record("plane", {"kind": "pca", "explained_variance": list(plane.explained), "off_plane": 1 - plane.captured})
manual_xy = project(history.path_manual, plane.center, plane.d1, plane.d2)
autograd_xy = project(history.path_autograd, plane.center, plane.d1, plane.d2)
alphas, betas = grid_around(manual_xy[:shown], margin=0.2)
Z = loss_on_plane(by_autograd, twins.torch_loss, x, y, plane.center, plane.d1, plane.d2, alphas=alphas, betas=betas)

# The check: the loss at the start itself, and at its projection, the point drawn under the start square.
a0, b0 = manual_xy[0]
under_start = loss_on_plane(by_autograd, twins.torch_loss, x, y, plane.center, plane.d1, plane.d2,
                            alphas=a0.reshape(1), betas=b0.reshape(1)).item()
off_by = (history.path_manual[0] - (plane.center + a0 * plane.d1 + b0 * plane.d2)).norm().item()
print(f"start: true loss {train_losses[0]:.4f}; the plane's loss under the start square {under_start:.4f} "
      f"(the start lies {off_by:.3g} from the plane)")
where = f"the start lies {off_by:.2g} off the plane" if shown > 1 else "the plane goes through the start"
start_check = (f"under the start square the plane's loss is {under_start:.2f}; the true loss at the start "
               f"is {train_losses[0]:.2f} ({where})")
run.save(plots.planes.path_on_plane(alphas, betas, Z, manual_xy, autograd_xy, history, xlabel=xlabel, ylabel=ylabel,
                                    title=title, note=note, path_losses=train_losses, name="PCA plane",
                                    caption="both twins' paths coincide (a cross in every circle)\n" + start_check),
         "pca_landscape")

# %% [markdown]
# With the default seed the plane holds 99.5% of the path, and the two
# curves below it agree except over the first few steps: under the start
# square the plane reads 0.39, while the network's loss at the start was
# 0.69. The first steps are off the plane (the start lies about 1 away
# from it), and there the picture flatters them.

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
run.save(plots.hidden_layer.decision_regions(probability_of_class_1, x, y,
                                             title=f"Decision regions {when}\n({train_accuracy:.1%} of the training "
                                                   f"points right, {val_accuracy:.1%} of the held-out ones)"),
         "decision_regions")

# %% [markdown]
# ## Captions for course notes
# What `python -m toolkit figures` prints under each figure in the gallery's
# index: a caption for the notes and an alt text for readers who cannot see
# the image.

# %%
run.describe("losses",
             caption=f"The training loss and the loss on held-out points at every step, for both twins. Both "
                     f"fall; the held-out loss falls less far and ends higher, {val_manual[-1].item():.3f} against "
                     f"{train_losses[-1]:.3f}: the network is surer of the points it was fitted to than of new ones.",
             alt=f"Two falling blue curves on a logarithmic loss axis against the step, 0 to {history.steps}: the "
                 f"training loss (solid) from about {train_losses[0]:.2f} down to {train_losses[-1]:.3f}, and "
                 f"above it the held-out loss (dashed), ending at {val_manual[-1].item():.3f}. Both drop steeply "
                 f"over the first steps, stay on a plateau for a while, then fall again, the gap between them "
                 f"widening; vermillion crosses of the autograd twin sit on both lines.")
run.describe("pca_landscape",
             caption=f"The loss on the plane of the path's two principal directions through the end point, which "
                     f"holds {plane.captured:.1%} of the path, with both twins' paths. Below, per step, the "
                     f"network's own loss and the loss the plane reads under the path: they agree except over the "
                     f"first steps, which lie off the plane (the plane reads {under_start:.2f} under the start "
                     f"square, where the true loss was {train_losses[0]:.2f}).",
             alt=f"A wide, low contour map with a logarithmic colour bar: a long path of blue circles, each with a "
                 f"vermillion cross inside, drops from a white square at the upper left, then runs right along a "
                 f"valley that darkens towards a yellow star near the right edge. Below it, a loss panel on a "
                 f"log axis against the step: the blue line of the true loss from about {train_losses[0]:.2f} "
                 f"down to {train_losses[-1]:.3f}, and a grey dashed line of the plane's reading that starts "
                 f"lower and joins it after the first steps.")
run.describe("decision_regions",
             caption=f"What the network learned: its probability of class 1 at every point of the input plane, with "
                     f"the training points on top and the boundary P = 0.5 in black. The boundary bends between the "
                     f"two moons; {train_accuracy:.1%} of the training points and {val_accuracy:.1%} of the "
                     f"held-out ones are on the right side of it.",
             alt="A square map shaded from blue (class 0) to red (class 1) with a black curved line where the two "
                 "meet. Two interleaved crescents of points: white circles for class 0 in the blue region and "
                 "black triangles for class 1 in the red region, the black line winding between them.")
run.finish()
