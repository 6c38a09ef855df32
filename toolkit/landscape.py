"""Loss landscapes: the loss on a line or a plane through parameter space.

A network with P parameters has a loss surface in P + 1 dimensions, far too
many to draw. What we can draw is a slice: pick a point ``center`` and two
directions ``d1``, ``d2`` (all (P,) vectors) and evaluate

    L(a, b) = loss(center + a * d1 + b * d2)

on a grid of (a, b). Contours of L, with the descent path projected onto the
same plane, show how gradient descent moved.

Where the plane comes from:

* a 2-parameter model (y = w x + b): center = 0, d1 = e1, d2 = e2 gives the
  exact loss over (w, b), nothing is lost;
* a bigger model: ``pca_plane`` fits the plane that best holds the recorded
  descent path (Li et al., "Visualizing the Loss Landscape of Neural Nets",
  2018), and ``project`` puts the path into its (a, b) coordinates;
* around one point: ``filter_normalized_plane`` draws two random directions
  scaled like the weights (the same paper), which show the shape of the loss
  there but hold almost none of a path.

``loss_along_path`` evaluates the loss at every point of a recorded path,
for example on held-out data.

All parameter vectors use the order of ``model.named_parameters()``;
``toolkit.parameters.flatten`` and ``unflatten`` convert between the two
forms. No landscape changes the model: its parameters are swapped in for
each evaluation only, and buffers (running statistics) are restored.

Curvature: ``hessian`` gives the (P, P) matrix of second derivatives, and
``largest_stable_lr`` turns its largest eigenvalue into the step size beyond
which gradient descent on a quadratic loss blows up.

Sharpness without the Hessian: ``hvp_finite_difference`` gets H v from two
hand-written gradients (``manual_gradient``), ``hessian_vector_product``
gets it exactly from torch.func, and ``largest_eigenvalue`` finds the
largest eigenvalue from such products alone (power iteration).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import Tensor
from torch.func import functional_call

from toolkit.parameters import buffers_kept, flatten, unflatten, vmap_or_loop
from toolkit.randomness import random_state_kept

if TYPE_CHECKING:
    from toolkit.twins import Twins

LossFn = Callable[[Tensor, Tensor], Tensor]


def _parameters(model: torch.nn.Module) -> dict[str, Tensor]:
    return dict(model.named_parameters())


def _loss_at(model: torch.nn.Module, loss_fn: LossFn, x: Tensor, y: Tensor) -> Callable[[Tensor], Tensor]:
    """The loss as a function of the flat parameter vector alone.

    theta (P,) -> scalar loss of ``model`` with its parameters replaced by
    theta. functional_call swaps the parameters in for this one call only,
    so the model itself is never modified.
    """
    like = _parameters(model)

    def loss_of(theta: Tensor) -> Tensor:
        out = functional_call(model, unflatten(theta, like), (x,))
        return loss_fn(out, y)

    return loss_of


# --------------------------------------------------------------------------
# The loss on a line or a plane
# --------------------------------------------------------------------------

def _check_plane(model: torch.nn.Module, center: Tensor, d1: Tensor, d2: Tensor | None,
                 alphas: Tensor, betas: Tensor | None, chunk_size: int) -> None:
    num_params = sum(p.numel() for p in model.parameters())
    for name, vec in (("center", center), ("d1", d1), ("d2", d2)):
        if vec is not None and tuple(vec.shape) != (num_params,):
            raise ValueError(f"loss_on_plane: {name} must have shape ({num_params},), got {tuple(vec.shape)}")
    if (d2 is None) != (betas is None):
        raise ValueError("loss_on_plane: give both d2 and betas (a plane) or neither (a line)")
    if alphas.dim() != 1 or (betas is not None and betas.dim() != 1):
        raise ValueError("loss_on_plane: alphas and betas must be 1-D")
    if chunk_size < 1:
        raise ValueError(f"loss_on_plane: chunk_size must be >= 1, got {chunk_size}")


def _grid(alphas: Tensor, betas: Tensor | None) -> tuple[Tensor, Tensor | None]:
    """The (a, b) of every grid point, flat, row by row.

    2-D: point k = i * len(alphas) + j has a = alphas[j], b = betas[i], so a
    reshape to (len(betas), len(alphas)) gives Z[i, j] in matplotlib's
    contour layout (x along the columns, y down the rows).
    1-D: just the alphas, and no b.
    """
    if betas is None:
        return alphas, None
    b, a = torch.meshgrid(betas, alphas, indexing="ij")  # each (len(betas), len(alphas))
    return a.reshape(-1), b.reshape(-1)


def _points(center: Tensor, d1: Tensor, d2: Tensor | None, a: Tensor, b: Tensor | None) -> Tensor:
    """theta = center + a * d1 (+ b * d2) for every (a, b).

    a, b: (K,)  ->  (K, P), or a, b: ()  ->  (P,)
    The loop and the vmap version both build theta with this one function,
    so they evaluate at bit-identical points.
    """
    theta = center + a.unsqueeze(-1) * d1
    if d2 is not None:
        theta = theta + b.unsqueeze(-1) * d2
    return theta


@torch.no_grad()
def loss_on_plane(
    model: torch.nn.Module,
    loss_fn: LossFn,
    x: Tensor,
    y: Tensor,
    center: Tensor,
    d1: Tensor,
    d2: Tensor | None,
    alphas: Tensor,
    betas: Tensor | None = None,
    chunk_size: int = 64,
) -> Tensor:
    """The loss of ``model`` on (x, y) over a plane (or a line) of parameters.

    At grid point (a, b) the parameters are theta = center + a * d1 + b * d2,
    with center, d1, d2 (P,) vectors in ``model.named_parameters()`` order.

    2-D (d2 and betas given):  returns Z, (len(betas), len(alphas)), with
        Z[i, j] = loss at a = alphas[j], b = betas[i]
    which is what ``plt.contour(alphas, betas, Z)`` expects.
    1-D (d2 = betas = None):   returns (len(alphas),), the loss at center + a * d1.

    Exact landscape of a 2-parameter model: with center = zeros(2),
    d1 = (1, 0), d2 = (0, 1), theta = (a, b) itself, so Z is the true loss
    over (param0, param1), e.g. over (w, b) of y = w x + b. For bigger models
    the plane is only a slice through the P-dimensional landscape.

    How: no Python loop over grid points. ``vmap`` turns the loss of one
    flat vector into the loss of a batch of them, and ``functional_call``
    runs the model with those parameters instead of its own (which are never
    modified). Points go through in chunks of ``chunk_size`` so memory stays
    at about chunk_size forward passes over x. ``loss_fn`` must reduce to a
    scalar (e.g. ``nn.MSELoss()``, mean reduction).

    A model whose forward pass depends on the batch (batch norm in training
    mode) cannot go through vmap; its points are evaluated one at a time,
    each on the whole of x, and its running statistics are restored
    afterwards. In ``eval()`` mode such a model is deterministic and fast.
    """
    _check_plane(model, center, d1, d2, alphas, betas, chunk_size)
    a, b = _grid(alphas, betas)
    loss_of = _loss_at(model, loss_fn, x, y)  # (P,) -> ()
    losses = []
    with buffers_kept(model):
        for start in range(0, a.shape[0], chunk_size):
            stop = start + chunk_size
            theta = _points(center, d1, d2, a[start:stop], None if b is None else b[start:stop])
            losses.append(vmap_or_loop(loss_of, theta))
    z = torch.cat(losses)
    return z if betas is None else z.reshape(betas.shape[0], alphas.shape[0])


@torch.no_grad()
def loss_on_plane_loop(
    model: torch.nn.Module,
    loss_fn: LossFn,
    x: Tensor,
    y: Tensor,
    center: Tensor,
    d1: Tensor,
    d2: Tensor | None,
    alphas: Tensor,
    betas: Tensor | None = None,
    chunk_size: int = 64,
) -> Tensor:
    """``loss_on_plane`` written the slow, obvious way: one forward per point.

    Same arguments and result; ``chunk_size`` is accepted and ignored. Kept
    as the reference the fast version is tested and benchmarked against.
    """
    _check_plane(model, center, d1, d2, alphas, betas, chunk_size)
    loss_of = _loss_at(model, loss_fn, x, y)
    rows = [None] if betas is None else betas  # a line is a single row with no b
    z = []
    with buffers_kept(model):
        for b in rows:
            row = []
            for a in alphas:
                row.append(loss_of(_points(center, d1, d2, a, b)))
            z.append(torch.stack(row))
    return z[0] if betas is None else torch.stack(z)


# --------------------------------------------------------------------------
# A plane that holds the descent path
# --------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)  # eq=False: == on tensors is elementwise, not a bool
class PCAPlane:
    """The plane center + a * d1 + b * d2 fitted to a descent path.

    center:    (P,) the last point of the path
    d1, d2:    (P,) orthonormal directions
    explained: fraction of the path's variance (about its mean) along d1, d2
    captured:  fraction of the path's squared distance from center that lies
               in the plane; 1.0 means the projected path is the path itself
    """

    center: Tensor
    d1: Tensor
    d2: Tensor
    explained: tuple[float, float]
    captured: float


def _fix_sign(direction: Tensor) -> Tensor:
    """Flip a direction so its largest-magnitude entry is positive.

    SVD only defines a direction up to sign (v and -v are both right), and
    the sign it returns may change between machines; this makes plots repeat.
    """
    biggest = direction[direction.abs().argmax()]
    return direction if biggest > 0 else -direction


def _complement(basis: list[Tensor], like: Tensor) -> Tensor:
    """A unit vector orthogonal to ``basis`` (0 or 1 orthonormal vectors).

    Used when the path has no spread left to choose a direction from (a
    straight line has only one, a single point none). Deterministic: take the
    coordinate axis e_k least aligned with the basis and remove its basis
    component (one Gram-Schmidt step). Its leftover length is at least
    sqrt(1 - 1/P), so the division is safe.
    """
    overlap = torch.zeros_like(like)  # overlap[k] = squared length of e_k inside span(basis)
    for v in basis:
        overlap = overlap + v * v
    k = int(overlap.argmin())
    e = torch.zeros_like(like)
    e[k] = 1.0
    for v in basis:
        e = e - v[k] * v  # v @ e_k = v[k]
    return e / e.norm()


def pca_plane(path: Tensor) -> PCAPlane:
    """The plane through the final point spanned by the path's two principal directions.

    path: (T, P), theta_0 .. theta_{T-1} recorded during descent (finite).

    Following Li et al. (2018): center = theta_final, and d1, d2 are the first
    two principal directions of the vectors theta_t - theta_final. Principal
    directions are those of greatest variance, so we subtract the mean of
    the path,  M = path - mean(path)  (T, P),  and take the SVD

        M = U S V^T,   d1 = V[:, 0],  d2 = V[:, 1]

    explained_k = ||M d_k||^2 / ||M||_F^2 = s_k^2 / sum(s^2), the variance
    fraction. captured = sum_t ||proj_t||^2 / sum_t ||theta_t - center||^2
    measures the plane through center, which is what gets drawn.

    Degenerate paths get a plane anyway: a straight line (rank 1) keeps its
    one real direction and gets an orthonormal complement for d2, a single
    point gets two (see ``_complement``). Each direction's largest entry is
    made positive so the result does not depend on the SVD's signs.
    """
    if path.dim() != 2 or path.shape[0] < 1 or path.shape[1] < 2:
        raise ValueError(f"pca_plane: path must be (T, P) with T >= 1 and P >= 2, got {tuple(path.shape)}")
    if not torch.isfinite(path).all():
        raise ValueError("pca_plane: path has NaN or inf entries; cut off the diverged tail first")
    center = path[-1]
    spread = path - path.mean(dim=0)  # (T, P)
    _, s, vh = torch.linalg.svd(spread, full_matrices=False)  # s: (min(T, P),) descending
    # Singular values this small are rounding noise, not a direction of the
    # path (the same cut-off as torch.linalg.matrix_rank).
    tol = s[0] * max(path.shape) * torch.finfo(path.dtype).eps
    rank = int((s > tol).sum()) if s[0] > 0 else 0

    directions: list[Tensor] = []
    for k in range(2):
        if k < rank:
            directions.append(vh[k])
        else:
            directions.append(_complement(directions, center))
    d1, d2 = (_fix_sign(d) for d in directions)

    total_variance = spread.pow(2).sum()
    if total_variance > 0:
        explained = tuple(float((spread @ d).pow(2).sum() / total_variance) for d in (d1, d2))
    else:
        explained = (0.0, 0.0)  # a single point has no variance to explain

    offsets = path - center  # (T, P)
    in_plane = (offsets @ d1).pow(2).sum() + (offsets @ d2).pow(2).sum()  # d1, d2 orthonormal
    total = offsets.pow(2).sum()
    captured = float(in_plane / total) if total > 0 else 1.0  # every point is the center
    return PCAPlane(center=center, d1=d1, d2=d2, explained=explained, captured=captured)


def project(path: Tensor, center: Tensor, d1: Tensor, d2: Tensor) -> Tensor:
    """Coordinates (a, b) of each point of a path in the plane center + a d1 + b d2.

    path: (T, P)  ->  (T, 2)

    With A = [d1 d2] (P, 2), the best (a, b) for theta solves the least
    squares problem  min ||A c - (theta - center)||,  i.e. the normal equations

        (A^T A) c = A^T (theta - center).

    For orthonormal d1, d2 (as from ``pca_plane``) A^T A = I and the
    coordinates are plain dot products; for any other pair (e.g. random
    directions) the 2 x 2 solve undoes their overlap and unequal lengths.
    """
    basis = torch.stack([d1, d2], dim=1)  # (P, 2)
    gram = basis.T @ basis  # (2, 2)
    dots = (path - center) @ basis  # (T, 2)
    return torch.linalg.solve(gram, dots.T).T


# --------------------------------------------------------------------------
# Where to draw
# --------------------------------------------------------------------------

def grid_around(
    points: Tensor,
    margin: float = 0.25,
    steps: tuple[int, int] = (121, 101),
    include: Tensor | None = None,
) -> tuple[Tensor, Tensor | None]:
    """Grid axes for a window that shows a path, with some room around it.

    points:  (T, 2) path coordinates (a, b), or (T,) for a 1-D plot
    include: optional extra points that must be inside too, e.g. the
             minimum: (K, 2) or (2,), or (K,) or a scalar in 1-D
    returns: alphas (steps[0],), betas (steps[1],); betas is None in 1-D

    Per axis, the window is [lo - margin * span, hi + margin * span] where
    [lo, hi] is the range of the points and span = hi - lo. A flat axis (or
    a single point) would give a zero-width window, so each span is at least
    half the widest one, or 1.0 when every span is zero. Non-finite points
    (the NaN/inf tail of a diverged run) are ignored.
    """
    if margin < 0:
        raise ValueError(f"grid_around: margin must be >= 0, got {margin}")
    if min(steps) < 2:
        raise ValueError(f"grid_around: steps must be >= 2, got {steps}")
    one_d = points.dim() == 1
    if not one_d and (points.dim() != 2 or points.shape[1] != 2):
        raise ValueError(f"grid_around: points must be (T, 2) or (T,), got {tuple(points.shape)}")
    dtype = points.dtype if points.is_floating_point() else torch.get_default_dtype()
    width = 1 if one_d else 2
    pts = points.to(dtype).reshape(-1, width)  # (T, D)
    if include is not None:
        pts = torch.cat([pts, include.to(pts).reshape(-1, width)])
    pts = pts[torch.isfinite(pts).all(dim=1)]
    if pts.shape[0] == 0:
        raise ValueError("grid_around: no finite points to frame")

    lo = pts.min(dim=0).values  # (D,)
    hi = pts.max(dim=0).values
    mid = (lo + hi) / 2
    span = hi - lo
    widest = span.max()
    floor = 0.5 * widest if widest > 0 else torch.ones_like(widest)
    span = span.clamp(min=floor)
    half = span / 2 + margin * span
    lo, hi = (mid - half).tolist(), (mid + half).tolist()

    def axis(d: int) -> Tensor:
        return torch.linspace(lo[d], hi[d], steps[d], device=points.device, dtype=dtype)

    return (axis(0), None) if one_d else (axis(0), axis(1))


def drawable_part(history, factor: float = 100.0) -> int:
    """How many leading points of a recorded path a plotting window should frame.

    history: a ``toolkit.train.History``. A run that converged: all of them.
    A diverged run: the points before its loss first stopped being a finite
    number below ``factor`` times the starting loss (or the parameters
    themselves stopped being finite); at least the start. Framing the rest
    too would shrink the valley to a dot, or give a window 1e200 wide.
    """
    losses, _ = history.path_losses()
    if not history.diverged:
        return len(losses)
    finite = (torch.isfinite(history.path_manual).all(dim=1)
              & torch.isfinite(history.path_autograd).all(dim=1)).tolist()
    shown = 1
    while shown < len(losses) and finite[shown] and math.isfinite(losses[shown]) \
            and losses[shown] < factor * losses[0]:
        shown += 1
    return shown


# --------------------------------------------------------------------------
# Curvature and the largest stable step
# --------------------------------------------------------------------------

def chain_gradient(w: Tensor, a: float, c: float) -> Tensor:
    """Lesson 09's chain ŷ = w2·w1·x, L = a·p² − 2c·p + d with p = w1·w2, a = mean(x²), c = mean(x·y):
    dL/d(w1, w2) = (2a·p − 2c)·(w2, w1) at points w (..., 2); returns (..., 2)."""
    slope = 2 * a * w[..., 0] * w[..., 1] - 2 * c
    return torch.stack([slope * w[..., 1], slope * w[..., 0]], dim=-1)


def chain_hessian(w: Tensor, a: float, c: float) -> Tensor:
    """The chain's Hessian H = [[2a·w2², 4a·p − 2c], [4a·p − 2c, 2a·w1²]] at points w (..., 2); returns (..., 2, 2)."""
    w1, w2 = w[..., 0], w[..., 1]
    cross = 4 * a * w1 * w2 - 2 * c
    return torch.stack([torch.stack([2 * a * w2 * w2, cross], -1), torch.stack([cross, 2 * a * w1 * w1], -1)], -2)


def hessian(model: torch.nn.Module, loss_fn: LossFn, x: Tensor, y: Tensor, *,
            theta: Tensor | None = None) -> Tensor:
    """The (P, P) matrix of second derivatives of the loss at the model's parameters.

    H[p, q] = d^2 L / d theta_p d theta_q,  theta = flatten(model.named_parameters())

    theta: optional (P,), another point to take it at, e.g. one step of a
    recorded path (the model's own parameters are not changed).

    torch.func.hessian differentiates the loss-of-a-flat-vector twice
    (forward-mode over reverse-mode). The model is not modified. Costs P
    gradient evaluations and P^2 memory: for small models only.
    """
    num_params = sum(p.numel() for p in model.parameters())
    if theta is None:
        theta = flatten(model.named_parameters())
    elif tuple(theta.shape) != (num_params,):
        raise ValueError(f"hessian: theta must have shape ({num_params},), got {tuple(theta.shape)}")
    with buffers_kept(model), warnings.catch_warnings():
        # Some torch versions warn from inside torch.func about their own use of torch.jit.script.
        warnings.filterwarnings("ignore", message=r"`torch\.jit\.script` is deprecated")
        return torch.func.hessian(_loss_at(model, loss_fn, x, y))(theta)


def largest_stable_lr(model: torch.nn.Module, loss_fn: LossFn, x: Tensor, y: Tensor) -> tuple[float, Tensor]:
    """The step size beyond which gradient descent diverges on a quadratic loss.

    Returns (2 / lambda_max, eigenvalues of the Hessian in ascending order).

    Why: a quadratic loss (e.g. MSE of a linear model) is exactly
        L(theta) = L* + 1/2 (theta - theta*)^T H (theta - theta*)
    with a constant Hessian H, so its gradient is H (theta - theta*) and one
    step theta <- theta - lr * grad changes the error e = theta - theta* to

        e <- (I - lr * H) e.

    Along an eigenvector of H with eigenvalue lambda the error is just
    multiplied by (1 - lr * lambda) every step. It shrinks iff
    |1 - lr * lambda| < 1, i.e. 0 < lr < 2 / lambda. The steepest direction
    (lambda_max) is the first to break, so GD is stable iff lr < 2 / lambda_max.
    At lr = 1 / lambda_max that direction is solved in one step; between
    1 / lambda_max and 2 / lambda_max it overshoots and zigzags inward.

    For a non-quadratic loss this is the local picture at the current
    parameters only. With no positive curvature (lambda_max <= 0) no step
    size is too large in this sense, and the result is inf.
    """
    h = hessian(model, loss_fn, x, y)
    # The Hessian is symmetric; averaging with its transpose removes rounding
    # asymmetry, since eigvalsh reads only one triangle.
    eigenvalues = torch.linalg.eigvalsh((h + h.T) / 2)  # ascending
    lambda_max = float(eigenvalues[-1])
    lr_max = 2.0 / lambda_max if lambda_max > 0 else math.inf
    return lr_max, eigenvalues


# --------------------------------------------------------------------------
# The loss along a recorded path, and a random plane for comparison
# --------------------------------------------------------------------------

@torch.no_grad()
def loss_along_path(model: torch.nn.Module, loss_fn: LossFn, x: Tensor, y: Tensor, path: Tensor,
                    chunk_size: int = 64) -> Tensor:
    """The loss of ``model`` on (x, y) at every point of a recorded path.

    path: (T, P) parameter vectors in ``model.named_parameters()`` order
    returns: (T,), entry t = loss(theta_t) on (x, y)

    For example the loss on held-out data along a training run, evaluated
    after the fact. Like ``loss_on_plane``: ``functional_call`` swaps each
    theta in for one call, ``vmap`` evaluates ``chunk_size`` of them at once,
    and the model (parameters and buffers) is left as it was. A point that is
    not finite (a diverged run's tail) gives NaN or inf, not an error.

    ``model`` may also be a hand-written ``toolkit.manual`` network with its
    hand-written loss: then each point runs its own forward pass, with the
    point's parameters swapped in for that pass (``chunk_size`` is ignored).
    """
    num_params = sum(p.numel() for p in model.parameters())
    if path.dim() != 2 or path.shape[1] != num_params:
        raise ValueError(f"loss_along_path: path must be (T, {num_params}), got {tuple(path.shape)}")
    if chunk_size < 1:
        raise ValueError(f"loss_along_path: chunk_size must be >= 1, got {chunk_size}")
    if not isinstance(model, torch.nn.Module):
        return _hand_written_loss_along_path(model, loss_fn, x, y, path)
    loss_of = _loss_at(model, loss_fn, x, y)  # (P,) -> ()
    with buffers_kept(model):
        losses = [vmap_or_loop(loss_of, path[start:start + chunk_size])
                  for start in range(0, path.shape[0], chunk_size)]
    return torch.cat(losses) if losses else path.new_zeros(0)


@dataclass(frozen=True, eq=False)
class FilterNormalizedPlane:
    """The plane center + a * d1 + b * d2 along two random filter-normalised directions.

    center:    (P,) the point the plane goes through
    d1, d2:    (P,) orthogonal, NOT unit length: each weight row of d1 has the
               length of the matching row of the weights at center, biases 0
    explained: fraction of the path's variance (about its mean) along d1, d2
               ((0, 0) without a path)
    captured:  fraction of the path's squared distance from center that lies
               in the plane (1.0 without a path); compare ``PCAPlane.captured``
    """

    center: Tensor
    d1: Tensor
    d2: Tensor
    explained: tuple[float, float]
    captured: float


def filter_normalized_direction(model: torch.nn.Module, generator: torch.Generator,
                                center: Tensor | None = None) -> Tensor:
    """One random direction, scaled filter by filter like the weights (Li et al. 2018).

    center: (P,) the parameters to scale by, in ``model.named_parameters()``
            order; default: the model's own parameters
    returns: (P,) on center's device, in its dtype

    For every weight W (a parameter with two or more dimensions, e.g. a
    Linear weight of shape (out, in)) draw G with the same shape, entries
    N(0, 1), and rescale each row, one output unit's filter, to the length
    of the matching row of W:

        D_i = G_i * ||W_i|| / ||G_i||       (rows i = 0 .. out - 1)

    A bias (a parameter with fewer than two dimensions) gets D = 0. So a step
    of 1 along D changes every unit's incoming weights by as much as they
    are long, whatever the scale of the layer: a network whose weights are
    all ten times larger gets a ten times longer direction, and its plane
    looks the same. G is drawn on the CPU, in float64, from ``generator``
    (a seeded ``torch.Generator()``), and only then moved to center's device
    and dtype, so a seed gives the same direction on every device.
    """
    if generator.device.type != "cpu":
        raise ValueError(f"filter_normalized_direction: the generator must be on the CPU, got {generator.device}")
    like = _parameters(model)
    if center is None:
        center = flatten(like)
    num_params = sum(p.numel() for p in like.values())
    if tuple(center.shape) != (num_params,):
        raise ValueError(f"filter_normalized_direction: center must have shape ({num_params},), "
                         f"got {tuple(center.shape)}")
    pieces = []
    for name, weight in unflatten(center, like).items():
        if weight.dim() < 2:                                 # a bias: no filter to scale by
            pieces.append(torch.zeros_like(weight).reshape(-1))
            continue
        rows = weight.reshape(weight.shape[0], -1)           # (out, fan_in): one filter per row
        g = torch.randn(rows.shape, generator=generator, dtype=torch.float64).to(rows)
        g = g * (rows.norm(dim=1, keepdim=True) / g.norm(dim=1, keepdim=True))
        pieces.append(g.reshape(-1))
    return torch.cat(pieces)


def _plane_measures(path: Tensor | None, center: Tensor, d1: Tensor, d2: Tensor) -> tuple[tuple[float, float], float]:
    """(explained, captured) of a path for the plane center + span(d1, d2), d1 and d2 orthogonal.

    explained_k = ||M u_k||^2 / ||M||_F^2 with M the path minus its mean and
    u_k = d_k / ||d_k||; captured = sum_t ||proj_t||^2 / sum_t ||theta_t - center||^2,
    proj_t the orthogonal projection of theta_t - center onto span(d1, d2).
    """
    if path is None:
        return (0.0, 0.0), 1.0
    units = [d / d.norm() for d in (d1, d2)]
    spread = path - path.mean(dim=0)
    total_variance = spread.pow(2).sum()
    if total_variance > 0:
        explained = tuple(float((spread @ u).pow(2).sum() / total_variance) for u in units)
    else:
        explained = (0.0, 0.0)
    offsets = path - center
    in_plane = sum((offsets @ u).pow(2).sum() for u in units)      # u1, u2 orthonormal
    total = offsets.pow(2).sum()
    captured = float(in_plane / total) if total > 0 else 1.0
    return explained, captured


def filter_normalized_plane(model: torch.nn.Module, generator: torch.Generator, *,
                            center: Tensor | None = None, path: Tensor | None = None) -> FilterNormalizedPlane:
    """A random plane through ``center`` along two filter-normalised directions (Li et al. 2018).

    center: (P,) where the plane goes through and whose weights set the
            scale; default: the model's parameters (e.g. the end of training)
    path:   optional (T, P) descent path, to measure how much of it the
            plane holds (``explained``, ``captured``)

    d1 = D1, and d2 = D2 with its d1 component removed AFTER the scaling,

        d2 = D2 - (D2 . d1 / d1 . d1) d1,

    where D1, D2 come from two calls of ``filter_normalized_direction`` on
    the same generator. So d1 and d2 are orthogonal; d1's rows have exactly
    the weights' row lengths, and d2's rows have them before that last step,
    which changes them only slightly (two random directions among P are
    nearly orthogonal already: their cosine is about 1/sqrt(P)). Removing the
    component before the scaling instead would leave d1 and d2 at an angle.

    A random plane shows the loss around one point, not a path: most of a
    path lies outside it. For two directions that weigh every coordinate
    alike (isotropic Gaussians), the expected ``captured`` is 2/P. Filter
    normalisation gives rows with few entries and large weights a larger
    share of each direction, so where a path moved mostly in such rows (the
    first and last layers of a small MLP) it catches more: a few percent
    for lesson 05's 354 parameters, against 2/354 = 0.6%.
    """
    if center is None:
        center = flatten(_parameters(model))
    d1 = filter_normalized_direction(model, generator, center)
    raw = filter_normalized_direction(model, generator, center)
    if not d1.any():
        raise ValueError("filter_normalized_plane: the weights at center are all zero; there is no scale to use")
    d2 = raw - (raw @ d1) / (d1 @ d1) * d1
    if path is not None and (path.dim() != 2 or path.shape[1] != center.shape[0]):
        raise ValueError(f"filter_normalized_plane: path must be (T, {center.shape[0]}), got {tuple(path.shape)}")
    explained, captured = _plane_measures(path, center, d1, d2)
    return FilterNormalizedPlane(center=center, d1=d1, d2=d2, explained=explained, captured=captured)


# --------------------------------------------------------------------------
# Lesson 15 · Sharpness: Hessian-vector products from the hand-written
# gradient, and the largest eigenvalue by power iteration
# --------------------------------------------------------------------------

@contextmanager
def _swapped_in(net, theta: Tensor) -> Iterator[list[Tensor]]:
    """Inside the block, the hand-written ``net`` computes with the parameters theta.

    theta: (P,) in ``net.named_parameters()`` order. Each parameter is
    replaced by a fresh copy of its piece of theta (so its ``.grad`` starts
    empty), and the block gets those pieces in order. On exit, even after an
    error, the network's own tensors, with their ``.grad``, are put back and
    its buffers restored: the network is left exactly as it was.
    """
    slots = [(module, name) for module in net.modules() for name in module._param_names
             if getattr(module, name) is not None]          # named_parameters() order
    originals = [getattr(module, name) for module, name in slots]
    pieces = [piece.clone() for piece in unflatten(theta, dict(net.named_parameters())).values()]
    if [p.shape for p in pieces] != [o.shape for o in originals]:
        raise ValueError(f"{type(net).__name__}: its layers do not list their parameters in named_parameters() order")
    with buffers_kept(net):
        try:
            for (module, name), piece in zip(slots, pieces):
                setattr(module, name, piece)
            yield pieces
        finally:
            for (module, name), original in zip(slots, originals):
                setattr(module, name, original)


def _hand_written_loss_along_path(net, loss_fn, x: Tensor, y: Tensor, path: Tensor) -> Tensor:
    """``loss_along_path`` for a ``toolkit.manual`` network: one hand-written forward per point."""
    losses = []
    for theta in path:
        with _swapped_in(net, theta):
            losses.append(loss_fn(net(x), y))
    return torch.stack(losses) if losses else path.new_zeros(0)


def _checked_vector(twins: Twins, vector: Tensor | None, caller: str, what: str = "theta") -> Tensor:
    """``vector`` if it has one entry per parameter (else ValueError); the hand-written parameters if None."""
    if vector is None:
        return flatten(twins.manual_net.named_parameters())
    count = sum(p.numel() for p in twins.manual_net.parameters())
    if tuple(vector.shape) != (count,):
        raise ValueError(f"{caller}: {what} must have shape ({count},), got {tuple(vector.shape)}")
    return vector


def manual_gradient(twins: Twins, x: Tensor, y: Tensor, theta: Tensor | None = None) -> Tensor:
    """g(theta) = dL/dtheta from the hand-written backward pass, as one (P,) vector.

    theta: (P,) in ``named_parameters()`` order; default: the hand-written
    network's own parameters. The network runs forward on all of (x, y),
    the loss and every layer run their hand-written backward, and the
    parameters' gradients are read off in order. No autograd is involved,
    and the network (parameters, their ``.grad``, buffers) is left as it was.
    """
    theta = _checked_vector(twins, theta, "manual_gradient")
    net = twins.manual_net
    with _swapped_in(net, theta) as pieces:
        twins.manual_loss(net(x), y)
        net.backward(twins.manual_loss.backward(), input_grad=False)
        return torch.cat([piece.grad.reshape(-1) for piece in pieces])


def hvp_finite_difference(twins: Twins, x: Tensor, y: Tensor, v: Tensor, *, theta: Tensor | None = None,
                          eps: float | None = None) -> Tensor:
    """H v, the Hessian of the loss times a vector, from two hand-written gradients.

    v: (P,) any non-zero direction; theta: (P,) where (default: the
    hand-written network's parameters); returns (P,).

    The gradient's change along v is H v, the Hessian's columns weighted by v:
    with g = dL/dtheta (``manual_gradient``) and a step h along v,

        g(theta + h v) = g + h H v + h^2/2 T[v, v] + O(h^3)      (T: third derivatives)

    so the central difference cancels the even terms,

        H v = (g(theta + h v) - g(theta - h v)) / (2 h) + O(h^2).

    h = eps / ||v||, so the two points lie eps away from theta whatever the
    length of v. The truncation error (about eps^2 times the fourth
    derivative) shrinks with eps, while rounding in the two gradients
    (about u |g| / eps, u the dtype's machine epsilon) grows as eps
    shrinks. The default eps = u^(1/3) balances them: about 6e-6 in
    float64, where the product agrees with the exact one
    (``hessian_vector_product``) to about 1e-10 relative on lesson-sized
    networks, and 5e-3 in float32. It costs two gradient evaluations,
    against P for the whole Hessian, and needs no second derivative
    anywhere: only the backward pass written by hand. A random layer
    (dropout in training mode) draws the same mask for both gradients, and
    the random generator is left as it was.
    """
    theta = _checked_vector(twins, theta, "hvp_finite_difference")
    _checked_vector(twins, v, "hvp_finite_difference", "v")
    if eps is None:
        eps = torch.finfo(theta.dtype).eps ** (1 / 3)
    if not eps > 0:
        raise ValueError(f"hvp_finite_difference: eps must be > 0, got {eps}")
    length = float(v.norm())
    if not (length > 0 and math.isfinite(length)):
        raise ValueError("hvp_finite_difference: v must be a non-zero finite vector")
    h = eps / length
    with random_state_kept(theta.device) as rewind:
        g_plus = manual_gradient(twins, x, y, theta + h * v)
        rewind()
        g_minus = manual_gradient(twins, x, y, theta - h * v)
    return (g_plus - g_minus) / (2 * h)


def hessian_vector_product(model: torch.nn.Module, loss_fn: LossFn, x: Tensor, y: Tensor, v: Tensor, *,
                           theta: Tensor | None = None) -> Tensor:
    """H v exactly (to rounding), by torch.func: the forward-mode derivative of the gradient.

    v: (P,); theta: (P,) where (default: the model's parameters); returns (P,).

        H v = d/dt grad L(theta + t v) at t = 0

    ``torch.func.grad`` gives theta -> grad L(theta) (reverse mode) and
    ``torch.func.jvp`` differentiates that along v (forward mode), for
    about the cost of two gradients; the Hessian itself is never formed.
    The reference that ``hvp_finite_difference`` is checked against.

    Some losses have no forward-mode rule for their own backward in some
    torch versions (``nn.MSELoss`` in torch 2.14 raises "ZeroTensors are
    immutable"). Then the product comes from reverse mode twice instead:
    ``torch.func.vjp`` of the gradient gives v^T H, which is (H v)^T
    because H is symmetric.
    """
    if theta is None:
        theta = flatten(_parameters(model))
    if v.shape != theta.shape:
        raise ValueError(f"hessian_vector_product: v must have shape {tuple(theta.shape)}, got {tuple(v.shape)}")
    gradient = torch.func.grad(_loss_at(model, loss_fn, x, y))     # theta (P,) -> grad L (P,)
    with buffers_kept(model), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"`torch\.jit\.script` is deprecated")
        try:
            _, hv = torch.func.jvp(gradient, (theta,), (v,))
        except RuntimeError:
            _, pullback = torch.func.vjp(gradient, theta)
            (hv,) = pullback(v)
    return hv


@dataclass(frozen=True, eq=False)
class Eigenpair:
    """The result of ``largest_eigenvalue``.

    value:      the largest eigenvalue found, lambda
    vector:     (P,) its unit eigenvector (up to sign)
    iterations: how many products H v it took (both passes, if there were two)
    converged:  whether the estimate settled within the tolerance
    """

    value: float
    vector: Tensor
    iterations: int
    converged: bool


def _power_iteration(hvp: Callable[[Tensor], Tensor], v: Tensor, shift: float, iterations: int,
                     tol: float) -> tuple[float, Tensor, int, bool]:
    """Power iteration on H - shift I: (Rayleigh quotient, unit vector, products used, converged)."""
    value = math.nan
    for k in range(1, iterations + 1):
        w = hvp(v) - shift * v                    # (H - shift I) v
        new_value = float(v @ w)                  # Rayleigh quotient v^T (H - shift I) v, ||v|| = 1
        length = w.norm()
        if length == 0:                           # v lies in the null space: the eigenvalue is 0
            return new_value, v, k, True
        v = w / length
        if abs(new_value - value) <= tol * abs(new_value):
            return new_value, v, k, True
        value = new_value
    return value, v, iterations, False


def largest_eigenvalue(hvp: Callable[[Tensor], Tensor], start: Tensor, *, iterations: int = 200,
                       tol: float = 1e-8) -> Eigenpair:
    """The largest eigenvalue of a symmetric H that is known only through v -> H v.

    hvp:   the product, e.g. ``lambda v: hvp_finite_difference(twins, x, y, v)``
    start: (P,) the first guess, non-zero (random, or the eigenvector found
           at a nearby point: a warm start saves most of the products)

    Power iteration: write v = sum_i c_i u_i in H's eigenvectors. Then
    H^k v = sum_i c_i lambda_i^k u_i, and the term with the largest
    |lambda_i| outgrows the others by (|lambda_2| / |lambda_1|)^k. So

        v <- H v / ||H v||,    lambda ~ v^T H v   (the Rayleigh quotient)

    turns v towards that eigenvector; for symmetric H the quotient's error
    falls like (lambda_2 / lambda_1)^(2k). We stop when it changes by less
    than ``tol`` relative, or after ``iterations`` products. (When the two
    largest eigenvalues are close, convergence is slow, and the error left
    can be several times the last change.)

    That finds the eigenvalue of largest MAGNITUDE, which is negative when
    the loss curves down more steeply than up (at a saddle, early in
    training). Then a second pass runs on H - mu I, mu the negative value
    found: its eigenvalues lambda_i - mu are all >= 0 (but for what mu has
    not yet converged), the largest of them is lambda_max - mu, and so
    lambda_max = (the second pass's value) + mu.
    """
    if iterations < 1:
        raise ValueError(f"largest_eigenvalue: iterations must be >= 1, got {iterations}")
    if not tol >= 0:
        raise ValueError(f"largest_eigenvalue: tol must be >= 0, got {tol}")
    length = float(start.norm())
    if not (length > 0 and math.isfinite(length)):
        raise ValueError("largest_eigenvalue: start must be a non-zero finite vector")
    value, vector, used, converged = _power_iteration(hvp, start / length, 0.0, iterations, tol)
    if value < 0:
        shifted, vector, more, converged = _power_iteration(hvp, start / length, value, iterations, tol)
        value, used = shifted + value, used + more
    return Eigenpair(value=value, vector=vector, iterations=used, converged=converged)
