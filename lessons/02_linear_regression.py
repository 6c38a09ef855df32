# %% [markdown]
# # 02 · Linear regression: two parameters, one landscape
#
# Lesson 01 had one weight, so the loss was a curve. Add a bias and the
# prediction becomes `ŷ = w · x + b`: two parameters, and the loss becomes a
# surface over the (w, b) plane, a landscape with a valley. Gradient descent
# is a walk down into that valley, one step at a time, each step pointing
# straight downhill from where we stand.

# %%
import torch

from toolkit import data, lesson, manual, plots
from toolkit.landscape import grid_around, loss_on_plane
from toolkit.optim import SGD
from toolkit.twins import make_twins

run = lesson.start("02_linear_regression", steps=80, lr=0.05)

# %% [markdown]
# ## Data, and two twins with two parameters each
# The points lie around y = −x + 2, with x between −1 and 3. The twins are
# `Linear(1, 1)`: a weight of shape (1, 1) and a bias of shape (1,), drawn at
# random and shared by both. `twins` holds both networks and both losses.

# %%
x, y = data.noisy_line(n=40, slope=-1.0, intercept=2.0, noise=0.5, x_range=(-1.0, 3.0),
                       seed=run.seed, device=run.device, dtype=run.dtype)
twins = make_twins([1, 1], loss=manual.MSELoss(), seed=run.seed, device=run.device, dtype=run.dtype)
by_hand, by_autograd = twins.manual_net, twins.torch_net
print(by_hand)
print(f"start: w = {by_hand[0].weight.item():.4f}, b = {by_hand[0].bias.item():.4f}")

# %% [markdown]
# ## The gradient is a vector of slopes
# With L(w, b) = 1/N Σ (w·xₙ + b − yₙ)², each parameter gets its own slope:
#
#     dL/dw = 2/N Σ (ŷₙ − yₙ) · xₙ        dL/db = 2/N Σ (ŷₙ − yₙ)
#
# Together they form the gradient, the direction in which the loss rises
# fastest. In the hand-written network, `MSELoss.backward` supplies
# 2(ŷ − y)/N and `Linear.backward` multiplies by x (for w) or sums (for b).
# Here is the loss's half, written out as in `toolkit.manual`; we put it
# into the hand-written twin in place of the library's, so that the report
# checks what is written here:

# %%
class MSELoss(manual.MSELoss):
    """The mean squared error of toolkit.manual, with its backward written out here."""

    def backward(self, dloss=1.0):
        """dL/dŷ = dloss · 2 (ŷ − y) / M for L = 1/M Σ (ŷ − y)², with M = ŷ.numel(); shape like ŷ.

        dloss is the gradient arriving from above (1 when the loss ends the chain).
        """
        pred, target = self._saved()           # ŷ and y, kept by the forward pass
        # exercise mse_backward: return dL/dŷ = 2 (ŷ − y) / M · dloss, with M = pred.numel() (here M = N)
        return 2 / pred.numel() * (pred - target) * dloss
        # end exercise


twins.manual_loss = MSELoss()

# %% [markdown]
# The three witnesses must agree on both numbers:

# %%
run.check(twins, x, y)

# %% [markdown]
# ## Walking downhill
# Each step moves (w, b) against the gradient, scaled by the learning rate.
# This is lesson 01's loop, now with two parameters: our `SGD` updates every
# parameter it holds, so the loop does not change at all.

# %%
optimizer_hand = SGD(by_hand.parameters(), lr=run.lr)
optimizer_torch = SGD(by_autograd.parameters(), lr=run.lr)
largest_gap = 0.0
for step in range(run.steps):
    loss_hand = twins.manual_loss(by_hand(x), y)               # forward
    loss_torch = twins.torch_loss(by_autograd(x), y)
    optimizer_hand.zero_grad()                                 # backward
    optimizer_torch.zero_grad()
    by_hand.backward(twins.manual_loss.backward())
    loss_torch.backward()
    for mine, theirs in zip(by_hand.parameters(), by_autograd.parameters()):
        largest_gap = max(largest_gap, (mine.grad - theirs.grad).abs().max().item())   # compare
    optimizer_hand.step()                                      # update
    optimizer_torch.step()
end_by_loop = [p.clone() for p in by_hand.parameters()]
print(f"end:   w = {by_hand[0].weight.item():.4f}, b = {by_hand[0].bias.item():.4f} "
      f"(largest gradient gap between the twins: {largest_gap:.1e})")

# %% [markdown]
# ## The loop you just wrote, recorded
# From now on, `run.train` runs this loop for us: the same forward, backward,
# comparison and `SGD` step for both twins, plus a record of every step (both
# losses, the gradient gap per parameter, where both twins stand). From the
# same start it lands on the same numbers, and its record draws the figures.

# %%
twins = make_twins([1, 1], loss=manual.MSELoss(), seed=run.seed, device=run.device, dtype=run.dtype)
by_hand, by_autograd = twins.manual_net, twins.torch_net
history = run.train(twins, x, y)
same = all(torch.equal(p, q) for p, q in zip(by_hand.parameters(), end_by_loop))
print(f"the recorded loop ends where ours did: {same}")

# %% [markdown]
# ## The bottom of the valley, and why we stopped short of it
# For linear regression the lowest point can also be computed directly, by
# least squares. It tells us how close gradient descent came.

# %%
design = torch.cat([x, torch.ones_like(x)], dim=1)                # (N, 2): the columns x and 1
best = torch.linalg.lstsq(design, y).solution.flatten()          # (w*, b*)
best_loss = ((design @ best - y.flatten()) ** 2).mean().item()   # L* = L(w*, b*)
start, end = history.path_manual[0], history.path_manual[-1]
print(f"least squares: w* = {best[0].item():.4f}, b* = {best[1].item():.4f}, L* = {best_loss:.6f}")
print(f"distance to (w*, b*): {(start - best).norm().item():.4f} at the start, "
      f"{(end - best).norm().item():.4f} after {history.steps} steps (loss {history.final_loss_manual:.6f})")

# %% [markdown]
# The walk did not reach the bottom. The reason is the shape of the
# valley: it is **narrow**. Across it the walls are steep, along its floor the
# loss hardly changes. The curvature in each direction is measured by the
# Hessian, the matrix of second derivatives; its eigenvalues λ are the
# curvatures along the valley's two axes, and here they differ a lot. Their
# ratio κ = λmax / λmin, the *condition number*, says how narrow the valley is.
#
# A step of gradient descent keeps (1 − lr·λ) of the distance to the
# minimum along each axis. The learning rate must stay below 2/λmax or the
# steep walls throw the path out (lesson 03), and with such a learning rate
# the shallow axis keeps nearly all of its distance at every step. So the
# path drops quickly to the valley floor and then crawls along it. Lesson 03
# measures this and chooses the learning rate from these eigenvalues.

# %%
from toolkit.landscape import hessian

H = hessian(by_autograd, twins.torch_loss, x, y)                 # (2, 2), the same at every (w, b)
curvatures = torch.linalg.eigvalsh(H)                             # ascending: λmin, λmax
low, high = curvatures.tolist()
keep = 1 - run.lr * low
print(f"Hessian eigenvalues λmin = {low:.4f}, λmax = {high:.4f}: condition number κ = {high / low:.2f}")
print(f"along the valley floor each step keeps 1 − lr·λmin = {keep:.4f} of the distance; "
      f"after {history.steps} steps {keep ** history.steps:.3f} of it is left")

# %% [markdown]
# ## Why the valley lies diagonally, and how centring x straightens it
# For this model the Hessian is
#
#     H = 2/N [[Σ x², Σ x], [Σ x, N]]
#
# Its off-diagonal entry Σ x couples w and b: our x lies between −1 and 3,
# mostly positive, so a larger w raises every prediction and b has to come
# down to make up for it. That is why the valley runs diagonally across the
# (w, b) plane. Subtract the mean from x first, and Σ x = 0: the Hessian
# becomes diagonal, the valley's axes line up with w and b, and (here) the
# two curvatures come close, so the valley is much less narrow. Centring
# (and scaling) the inputs is a cheap and standard way to make a problem
# easier for gradient descent.

# %%
def rounded(matrix):
    return [[round(v, 4) + 0.0 for v in row] for row in matrix.tolist()]   # + 0.0: no "-0.0"


centred = x - x.mean()
H_centred = hessian(by_autograd, twins.torch_loss, centred, y)
low_c, high_c = torch.linalg.eigvalsh(H_centred).tolist()
print(f"x as it is: H = {rounded(H)}, κ = {high / low:.2f}")
print(f"x centred:  H = {rounded(H_centred)}, κ = {high_c / low_c:.2f}")

# %% [markdown]
# ## The landscape, exactly
# With only two parameters no approximation is needed: the flat parameter
# vector *is* (w, b), so a grid over the plane gives the true loss at every
# point. Both axes have the same scale, so you can see that every step,
# which follows minus the gradient, crosses the contour lines at right
# angles. The path starts on a steep wall, drops across the valley, and runs
# along its floor, because each step follows the local slope, not the
# straight line to the minimum. The twins coincide: autograd's cross sits
# inside every hand-written circle (where the steps crowd together, the
# line runs through all of them and every few are marked). A diverged run
# is framed by its steps before the loss blew up (see `drawable_part`); an
# arrow shows where it went from there. The loss curve shows the lowest
# loss L* as a dotted line: the gap that is left.

# %%
from toolkit.landscape import drawable_part

path = history.path_manual[:drawable_part(history)]   # (steps + 1, 2): the columns are w and b
alphas, betas = grid_around(path, margin=0.25, include=best)
eye = torch.eye(2, dtype=run.dtype, device=run.device)
Z = loss_on_plane(by_autograd, twins.torch_loss, x, y, center=0 * eye[0], d1=eye[0], d2=eye[1],
                  alphas=alphas, betas=betas)
run.save(plots.linear_regression.contour_with_paths(alphas, betas, Z, history.path_manual, history.path_autograd,
                                                   xlabel="weight w", ylabel="bias b", minimum=best.tolist(),
                                                   title=f"Loss over (w, b), lr = {history.lr:g}",
                                                   note="twins: a cross in every circle",
                                                   diverged_at=history.diverged_at_step), "contour")
losses_manual, _ = history.path_losses()
run.save(plots.linear_regression.surface_with_path(alphas, betas, Z, history.path_manual, losses_manual,
                                                   autograd_path=history.path_autograd, minimum=best.tolist(),
                                                   minimum_loss=best_loss, xlabel="weight w", ylabel="bias b",
                                                   title="The loss surface, the 'mountain'",
                                                   diverged_at=history.diverged_at_step), "surface")
run.save(plots.curves.loss_curves(history, title=f"Loss per step, lr = {history.lr:g}", best_loss=best_loss),
         "loss_curves")

# %% [markdown]
# ## Captions for course notes
# What `python -m toolkit figures` prints under each figure in the gallery's
# index: a caption for the notes and an alt text for readers who cannot see
# the image.

# %%
run.describe("contour",
             caption=f"The exact loss over (w, b), log-spaced contours at equal aspect, with the descent path at "
                     f"lr = {history.lr:g}: every step crosses the contours at right angles, first down the steep "
                     f"wall, then along the narrow diagonal valley (κ = {high / low:.2f}) towards the least-squares "
                     f"minimum (w*, b*) = ({best[0].item():.3f}, {best[1].item():.3f}), which {history.steps} steps "
                     f"do not reach.",
             alt=f"A filled contour map of the loss, dark in a narrow valley running diagonally from upper left to "
                 f"lower right and yellow on the far walls, with a colour bar on a log scale. A chain of blue "
                 f"circles, each with a vermillion cross inside, starts at a white square at w = "
                 f"{history.path_manual[0, 0].item():.2f}, b = {history.path_manual[0, 1].item():.2f}, drops into "
                 f"the valley and turns along its floor, ending at a star short of a white plus sign that marks "
                 f"the minimum.")
run.describe("surface",
             caption="The same loss as a 3-D surface over (w, b), with the descent path lying on it (each step at "
                     "its own loss) and the least-squares minimum marked: a bowl stretched into a long valley, "
                     "whose floor the path reaches quickly and then follows slowly.",
             alt="A three-dimensional surface shaded from yellow on the high rim to purple at the bottom, shaped "
                 "like a long tilted trough over the weight and bias axes. A blue line with circles, vermillion "
                 "crosses in them, runs on the surface from a white square partway up one side down into the "
                 "trough and along its floor to a yellow star beside a white plus at the minimum.")
run.describe("loss_curves",
             caption=f"Both twins' loss per step on a log scale (they lie on top of each other), with the lowest "
                     f"loss L* = {best_loss:.4g} dotted: a fast drop while the path falls into the valley, then a "
                     f"slow approach along its floor; the gap to L* is what {history.steps} steps leave.",
             alt=f"A loss curve on a logarithmic vertical axis against the step, from 0 to {history.steps}: the "
                 f"blue line of the hand-written twin with vermillion crosses of the autograd twin on it falls "
                 f"steeply over the first steps, then flattens and creeps down towards a grey dotted horizontal "
                 f"line at L* = {best_loss:.4g}, ending just above it at {history.final_loss_manual:.4g}.")
run.finish()
