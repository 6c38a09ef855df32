"""Tests for toolkit.landscape: loss on a plane, the PCA plane, grids, curvature."""

import math

import pytest
import torch
from torch import nn
from torch.testing import assert_close

from toolkit.landscape import (
    flatten,
    grid_around,
    hessian,
    largest_stable_lr,
    loss_on_plane,
    loss_on_plane_loop,
    pca_plane,
    project,
    unflatten,
)


# torch.func.hessian's forward-mode pass loads torch's jvp decompositions,
# which call the deprecated torch.jit.script internally; not our warning.
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")


# ---------------------------------------------------------------- helpers

def line_data(device, n=40, seed=0):
    """x with a non-zero mean and y = 3x - 1 + noise, so L(w, b) is not symmetric in w, b."""
    g = torch.Generator().manual_seed(seed)
    x = (torch.randn(n, 1, generator=g) + 0.5).to(device)
    y = (3.0 * x.cpu() - 1.0 + 0.1 * torch.randn(n, 1, generator=g)).to(device)
    return x, y


def line_model(device):
    torch.manual_seed(0)
    return nn.Linear(1, 1).to(device)  # parameters (w, b), in that order


def mlp(device):
    torch.manual_seed(1)
    return nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1)).to(device)  # P = 33


def mse_closed_form(w, b, x, y):
    """L(w, b) = mean((w x + b - y)^2) for tensors of w and b that broadcast."""
    return ((w[..., None] * x.reshape(-1) + b[..., None] - y.reshape(-1)) ** 2).mean(dim=-1)


def exact_plane(device):
    """center = 0, d1 = e1, d2 = e2: the plane is (w, b) itself."""
    eye = torch.eye(2, device=device)
    return torch.zeros(2, device=device), eye[0], eye[1]


# ---------------------------------------------------------------- flatten / unflatten

def test_flatten_unflatten_round_trip(device):
    model = mlp(device)
    like = dict(model.named_parameters())
    vec = flatten(model.named_parameters())
    assert vec.shape == (33,) and vec.device.type == device and not vec.requires_grad
    assert_close(flatten(like), vec)
    back = unflatten(vec, like)
    assert list(back) == list(like)
    for name, param in like.items():
        assert_close(back[name], param.detach())
    # A leading batch dim: K parameter settings at once.
    batch = torch.stack([vec, 2 * vec, -vec])
    back = unflatten(batch, like)
    for name, param in like.items():
        assert back[name].shape == (3, *param.shape)
        assert_close(back[name][1], 2 * param.detach())
    with pytest.raises(ValueError):
        unflatten(vec[:-1], like)


# ---------------------------------------------------------------- loss_on_plane

def test_orientation_on_a_non_square_grid(device):
    x, y = line_data(device)
    model = line_model(device)
    alphas = torch.linspace(-1.0, 4.0, 7, device=device)  # w
    betas = torch.linspace(-3.0, 2.0, 5, device=device)   # b
    z = loss_on_plane(model, nn.MSELoss(), x, y, *exact_plane(device), alphas, betas)
    assert z.shape == (len(betas), len(alphas))
    probe = nn.Linear(1, 1).to(device)
    for i in range(len(betas)):
        for j in range(len(alphas)):
            with torch.no_grad():
                probe.weight.fill_(alphas[j])
                probe.bias.fill_(betas[i])
                expected = nn.functional.mse_loss(probe(x), y)
            assert_close(z[i, j], expected)
    # The test can tell the two layouts apart: swapping the roles of w and b
    # gives a different loss at this point.
    swapped = mse_closed_form(betas[1], alphas[3], x, y)
    assert not torch.isclose(z[1, 3], swapped)


def test_exact_plane_is_the_mse_quadratic(device):
    x, y = line_data(device)
    model = line_model(device)
    alphas = torch.linspace(-2.0, 5.0, 13, device=device)
    betas = torch.linspace(-4.0, 3.0, 9, device=device)
    z = loss_on_plane(model, nn.MSELoss(), x, y, *exact_plane(device), alphas, betas, chunk_size=10)
    b, w = torch.meshgrid(betas, alphas, indexing="ij")
    assert_close(z, mse_closed_form(w, b, x, y), rtol=1e-12, atol=1e-12)


def test_vmap_equals_loop_for_the_linear_model(device):
    x, y = line_data(device)
    model = line_model(device)
    alphas = torch.linspace(-1.0, 4.0, 11, device=device)
    betas = torch.linspace(-3.0, 2.0, 6, device=device)
    plane = exact_plane(device)
    expected = loss_on_plane_loop(model, nn.MSELoss(), x, y, *plane, alphas, betas)
    for chunk_size in (1, 7, 64):  # 66 points: 7 does not divide, 64 leaves a short last chunk
        z = loss_on_plane(model, nn.MSELoss(), x, y, *plane, alphas, betas, chunk_size=chunk_size)
        assert_close(z, expected)


def test_vmap_equals_loop_for_an_mlp_on_a_pca_plane(device):
    torch.manual_seed(2)
    x = torch.randn(30, 2, device=device)
    y = torch.sin(x[:, :1]) + x[:, 1:] ** 2
    model = mlp(device)
    start = flatten(model.named_parameters())
    path = start + 0.1 * torch.randn(12, start.numel(), device=device).cumsum(dim=0)  # a random walk
    plane = pca_plane(path)
    coords = project(path, plane.center, plane.d1, plane.d2)
    alphas, betas = grid_around(coords, steps=(9, 5))  # 45 points
    args = (model, nn.MSELoss(), x, y, plane.center, plane.d1, plane.d2, alphas, betas)
    expected = loss_on_plane_loop(*args)
    assert expected.shape == (5, 9)
    for chunk_size in (4, 16, 100):
        assert_close(loss_on_plane(*args, chunk_size=chunk_size), expected)


def test_one_dimensional_line(device):
    x, y = line_data(device)
    model = line_model(device)
    center = flatten(model.named_parameters())
    d1 = torch.tensor([1.0, -0.5], device=device)
    alphas = torch.linspace(-2.0, 2.0, 17, device=device)
    z = loss_on_plane(model, nn.MSELoss(), x, y, center, d1, None, alphas, chunk_size=5)
    assert z.shape == (17,)
    assert_close(z, loss_on_plane_loop(model, nn.MSELoss(), x, y, center, d1, None, alphas))
    theta = center + alphas[:, None] * d1
    assert_close(z, mse_closed_form(theta[:, 0], theta[:, 1], x, y))
    with pytest.raises(ValueError):  # a line takes no betas
        loss_on_plane(model, nn.MSELoss(), x, y, center, d1, None, alphas, alphas)


def test_model_parameters_are_unchanged(device):
    torch.manual_seed(3)
    x = torch.randn(20, 2, device=device)
    y = torch.randn(20, 1, device=device)
    model = mlp(device)
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    center = flatten(model.named_parameters())
    d1, d2 = torch.randn(2, center.numel(), device=device)
    grid = torch.linspace(-1.0, 1.0, 5, device=device)
    loss_on_plane(model, nn.MSELoss(), x, y, center + 1.0, d1, d2, grid, grid, chunk_size=3)
    for name, p in model.named_parameters():
        assert torch.equal(p, before[name]), name
        assert p.requires_grad and p.grad is None


# ---------------------------------------------------------------- pca_plane / project

def planar_path(device, p=10, t=15):
    """A curved path that lies exactly in a 2-D affine plane, with known coordinates."""
    torch.manual_seed(4)
    q, _ = torch.linalg.qr(torch.randn(p, 2, device=device))
    u, v = q[:, 0], q[:, 1]
    s = torch.linspace(0.0, 1.0, t, device=device)
    coords = torch.stack([3.0 * (1 - s) * torch.cos(4 * s), (1 - s) * torch.sin(4 * s)], dim=1)
    center = torch.randn(p, device=device)
    return center + coords @ torch.stack([u, v]), coords, center, u, v


def assert_orthonormal(d1, d2):
    basis = torch.stack([d1, d2])
    assert torch.isfinite(basis).all()
    assert_close(basis @ basis.T, torch.eye(2, device=d1.device), rtol=0, atol=1e-12)


def test_pca_plane_of_a_planar_path(device):
    path, _, _, u, v = planar_path(device)
    plane = pca_plane(path)
    assert torch.equal(plane.center, path[-1])
    assert_orthonormal(plane.d1, plane.d2)
    assert abs(plane.captured - 1.0) < 1e-10
    # The plane is span(u, v): both directions have no component outside it.
    span = torch.stack([u, v], dim=1)
    for d in (plane.d1, plane.d2):
        assert_close(span @ (span.T @ d), d, rtol=0, atol=1e-12)
    e1, e2 = plane.explained
    assert e1 >= e2 >= 0 and e1 + e2 <= 1 + 1e-12
    assert abs(e1 + e2 - 1.0) < 1e-10  # a planar path has no variance left over


def test_pca_plane_of_a_general_path():
    torch.manual_seed(5)
    path = torch.randn(20, 6).cumsum(dim=0)
    plane = pca_plane(path)
    assert_orthonormal(plane.d1, plane.d2)
    e1, e2 = plane.explained
    assert 1 > e1 >= e2 > 0 and e1 + e2 < 1
    assert 0 < plane.captured < 1


def test_pca_plane_signs_are_deterministic():
    path, *_ = planar_path("cpu")
    plane = pca_plane(path)
    for d in (plane.d1, plane.d2):
        assert d[d.abs().argmax()] > 0
    # Mirroring the path in parameter space (theta -> -theta) flips every SVD
    # direction; after the sign rule the directions are the same up to that mirror.
    mirrored = pca_plane(-path)
    for d, m in ((plane.d1, mirrored.d1), (plane.d2, mirrored.d2)):
        assert m[m.abs().argmax()] > 0
        assert_close(m.abs(), d.abs())


@pytest.mark.parametrize("path", [
    torch.arange(5.0)[:, None] * torch.tensor([1.0, 2.0, -2.0, 0.5]),  # a straight line, rank 1
    torch.tensor([[1.0, 2.0, 3.0], [0.0, 2.5, 3.0]]),                  # two points
    torch.tensor([[1.0, 2.0, 3.0]]),                                   # a single point
    torch.ones(4, 3),                                                  # never moved
], ids=["line", "two-points", "one-point", "constant"])
def test_pca_plane_degenerate_paths(path):
    path = path.to(torch.get_default_dtype())
    plane = pca_plane(path)
    assert_orthonormal(plane.d1, plane.d2)
    assert abs(plane.captured - 1.0) < 1e-12  # a line through center lies in any plane holding it
    assert all(math.isfinite(e) for e in plane.explained)
    assert plane.explained[0] >= plane.explained[1]
    if not torch.equal(path[0], path[-1]):  # the path's one real direction is d1
        step = (path[0] - path[-1]) / (path[0] - path[-1]).norm()
        assert_close(plane.d1.abs(), step.abs())


def test_project_recovers_known_coordinates(device):
    path, coords, center, u, v = planar_path(device)
    assert_close(project(path, center, u, v), coords)
    # Non-orthonormal directions: least squares still recovers the coordinates.
    d1, d2 = 2.0 * u, u + 0.5 * v  # theta - center = a' d1 + b' d2 with b' = 2b, a' = (a - 2b) / 2
    expected = torch.stack([(coords[:, 0] - coords[:, 1] * 2) / 2, 2 * coords[:, 1]], dim=1)
    assert_close(project(path, center, d1, d2), expected)


# ---------------------------------------------------------------- grid_around

def test_grid_around_frames_the_path_with_margin(device):
    points = torch.tensor([[0.0, 1.0], [2.0, 0.5], [4.0, -1.0]], device=device)
    alphas, betas = grid_around(points, margin=0.25, steps=(31, 21))
    assert alphas.shape == (31,) and betas.shape == (21,)
    assert alphas.device.type == device and alphas.dtype == points.dtype
    assert_close(alphas[[0, -1]], torch.tensor([-1.0, 5.0], device=device))   # span 4, margin 1
    assert_close(betas[[0, -1]], torch.tensor([-1.5, 1.5], device=device))    # span 2, margin 0.5
    assert torch.all(torch.diff(alphas) > 0) and torch.all(torch.diff(betas) > 0)


def test_grid_around_ignores_non_finite_points():
    points = torch.tensor([[0.0, 0.0], [1.0, 2.0], [math.nan, 3.0], [math.inf, -math.inf], [1e30, math.nan]])
    alphas, betas = grid_around(points, margin=0.5)
    assert torch.isfinite(alphas).all() and torch.isfinite(betas).all()
    assert_close(alphas[[0, -1]], torch.tensor([-0.5, 1.5]))  # from the finite rows only
    assert_close(betas[[0, -1]], torch.tensor([-1.0, 3.0]))
    with pytest.raises(ValueError):
        grid_around(torch.full((3, 2), math.nan))


def test_grid_around_single_point_and_flat_path():
    alphas, betas = grid_around(torch.tensor([[2.0, -1.0]]), margin=0.0)
    assert_close(alphas[[0, -1]], torch.tensor([1.5, 2.5]))  # a unit window around the point
    assert_close(betas[[0, -1]], torch.tensor([-1.5, -0.5]))
    # A path flat in b still gets a b-window, half as wide as its a-window.
    alphas, betas = grid_around(torch.tensor([[0.0, 1.0], [4.0, 1.0]]), margin=0.0)
    assert_close(alphas[[0, -1]], torch.tensor([0.0, 4.0]))
    assert_close(betas[[0, -1]], torch.tensor([0.0, 2.0]))


def test_grid_around_respects_include():
    points = torch.tensor([[0.0, 0.0], [1.0, 1.0]])
    minimum = torch.tensor([5.0, -3.0])
    alphas, betas = grid_around(points, margin=0.1, include=minimum)
    assert alphas[0] < 0 and alphas[-1] > 5.0
    assert betas[0] < -3.0 and betas[-1] > 1.0


def test_grid_around_one_dimensional(device):
    points = torch.tensor([1.0, 3.0, math.nan, 2.0], device=device)
    alphas, betas = grid_around(points, margin=0.5, steps=(11, 99), include=torch.tensor(-1.0))
    assert betas is None and alphas.shape == (11,)
    assert_close(alphas[[0, -1]], torch.tensor([-3.0, 5.0], device=device))  # [-1, 3], span 4, margin 2


# ---------------------------------------------------------------- hessian / largest_stable_lr

def test_hessian_of_linear_mse_is_exact(device):
    x, y = line_data(device)
    model = line_model(device)
    n = x.shape[0]
    sx, sxx = x.sum(), (x * x).sum()
    expected = (2.0 / n) * torch.stack([torch.stack([sxx, sx]), torch.stack([sx, torch.tensor(float(n), device=device)])])
    h = hessian(model, nn.MSELoss(), x, y)
    assert h.shape == (2, 2)
    assert_close(h, expected, rtol=1e-12, atol=0)


def gradient_descent_error(model, x, y, lr, steps, theta_star):
    """Run plain GD (theta <- theta - lr * grad) and return ||theta - theta*|| at the start and the end."""
    start = (flatten(model.named_parameters()) - theta_star).norm()
    for _ in range(steps):
        model.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        with torch.no_grad():
            for p in model.parameters():
                p -= lr * p.grad
    return start, (flatten(model.named_parameters()) - theta_star).norm()


def test_largest_stable_lr_separates_convergence_from_divergence(device):
    x, y = line_data(device)
    lr_max, eigenvalues = largest_stable_lr(line_model(device), nn.MSELoss(), x, y)
    assert eigenvalues.shape == (2,) and eigenvalues[0] <= eigenvalues[1]
    assert_close(eigenvalues, torch.linalg.eigvalsh(hessian(line_model(device), nn.MSELoss(), x, y)))
    assert lr_max == pytest.approx(2.0 / eigenvalues[-1].item(), rel=1e-12)
    features = torch.cat([x, torch.ones_like(x)], dim=1)  # (N, 2): columns x and 1
    theta_star = torch.linalg.lstsq(features.cpu(), y.cpu()).solution.reshape(-1).to(device)  # (w*, b*)
    # Along lambda_max the error is multiplied by |1 - lr lambda_max| = 0.98 or 1.02 per step.
    start, end = gradient_descent_error(line_model(device), x, y, 0.99 * lr_max, 400, theta_star)
    assert end < 1e-2 * start
    start, end = gradient_descent_error(line_model(device), x, y, 1.01 * lr_max, 400, theta_star)
    assert end > 1e2 * start


# ---------------------------------------------------------------- lesson 15: sharpness from the hand-written gradient

from toolkit import manual  # noqa: E402  (this section's own imports)
from toolkit.landscape import (  # noqa: E402
    hessian_vector_product,
    hvp_finite_difference,
    largest_eigenvalue,
    loss_along_path,
    manual_gradient,
)
from toolkit.twins import make_twins  # noqa: E402


def small_twins(device, loss="cross_entropy", seed=3):
    """A small tanh MLP with uneven widths, its data, and a point theta away from its own parameters."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(30, 3, generator=g)
    if loss == "cross_entropy":
        twins = make_twins([3, 5, 4, 3], "tanh", loss=manual.CrossEntropyLoss(), seed=seed, device=device)
        y = torch.randint(0, 3, (30,), generator=g)
    else:
        twins = make_twins([3, 5, 4, 2], "tanh", loss=manual.MSELoss(), seed=seed, device=device)
        y = torch.randn(30, 2, generator=g)
    theta = flatten(twins.torch_net.named_parameters())
    theta = theta + 0.3 * torch.randn(theta.shape, generator=g).to(device)
    return twins, x.to(device), y.to(device), theta


def manual_state(net):
    """Every parameter of a hand-written network: (the tensor object, a copy of its values, its .grad)."""
    return [(p, p.clone(), None if p.grad is None else p.grad.clone()) for p in net.parameters()]


def assert_state_kept(net, state):
    for (p, value, grad), now in zip(state, net.parameters()):
        assert now is p and torch.equal(now, value)
        assert (now.grad is None) if grad is None else torch.equal(now.grad, grad)


@pytest.mark.parametrize("loss", ["cross_entropy", "mse"])
def test_manual_gradient_is_autograds_gradient_and_leaves_the_network_alone(device, loss):
    twins, x, y, theta = small_twins(device, loss)
    twins.manual_loss(twins.manual_net(x), y)
    twins.manual_net.backward(twins.manual_loss.backward())           # some .grad already there: must survive
    state = manual_state(twins.manual_net)
    like = dict(twins.torch_net.named_parameters())
    expected = torch.func.grad(lambda t: twins.torch_loss(torch.func.functional_call(
        twins.torch_net, unflatten(t, like), (x,)), y))(theta)
    assert_close(manual_gradient(twins, x, y, theta), expected, rtol=1e-10, atol=1e-13)
    assert_state_kept(twins.manual_net, state)
    # no theta: the network's own parameters
    own = flatten(twins.manual_net.named_parameters())
    assert_close(manual_gradient(twins, x, y), manual_gradient(twins, x, y, own), rtol=0, atol=0)


@pytest.mark.parametrize("loss", ["cross_entropy", "mse"])
def test_finite_difference_hvp_of_the_hand_written_gradient_matches_torch_func(device, loss):
    twins, x, y, theta = small_twins(device, loss)
    state = manual_state(twins.manual_net)
    g = torch.Generator().manual_seed(11)
    for _ in range(3):
        v = torch.randn(theta.shape, generator=g).to(device)
        exact = hessian_vector_product(twins.torch_net, twins.torch_loss, x, y, v, theta=theta)
        by_hand = hvp_finite_difference(twins, x, y, v, theta=theta)
        assert ((by_hand - exact).norm() / exact.norm()).item() < 1e-6
        # the length of v does not matter: H (c v) = c H v
        assert_close(hvp_finite_difference(twins, x, y, 10.0 * v, theta=theta), 10.0 * by_hand, rtol=1e-6, atol=1e-9)
    assert_state_kept(twins.manual_net, state)


def test_the_exact_hvp_is_the_hessian_times_v(device):
    twins, x, y, theta = small_twins(device)
    v = torch.randn(theta.shape, generator=torch.Generator().manual_seed(5)).to(device)
    h = hessian(twins.torch_net, twins.torch_loss, x, y, theta=theta)
    assert h.shape == (theta.shape[0], theta.shape[0])
    assert_close(hessian_vector_product(twins.torch_net, twins.torch_loss, x, y, v, theta=theta), h @ v,
                 rtol=1e-10, atol=1e-12)
    # hessian(theta=) is the Hessian with theta swapped in; the model keeps its own parameters
    before = flatten(twins.torch_net.named_parameters())
    with torch.no_grad():
        for p, value in zip(twins.torch_net.parameters(), unflatten(theta, dict(twins.torch_net.named_parameters())).values()):
            p.copy_(value)
    assert_close(hessian(twins.torch_net, twins.torch_loss, x, y), h, rtol=1e-12, atol=1e-14)
    assert not torch.equal(before, theta)


def quadratic_with_spectrum(eigenvalues, seed=0):
    """H = Q diag(eigenvalues) Q^T for a random orthogonal Q: the product v -> H v, and H."""
    n = len(eigenvalues)
    q, _ = torch.linalg.qr(torch.randn(n, n, generator=torch.Generator().manual_seed(seed)))
    h = q @ torch.diag(torch.tensor(eigenvalues, dtype=torch.float64)) @ q.T
    return (lambda v: h @ v), h


@pytest.mark.parametrize("eigenvalues, largest", [
    ([3.0, 1.0, 0.5, 0.25, -0.1, 0.0, 2.0, 1.5], 3.0),        # positive definite-ish, with a zero
    ([-5.0, 2.0, 1.0, 0.5, -1.0, 0.1], 2.0),                   # the largest magnitude is negative: shifted pass
    ([-3.0, -1.0, -0.5, -2.0], -0.5),                          # all negative: the largest is the one nearest 0
    ([4.0], 4.0),
])
def test_power_iteration_finds_the_largest_eigenvalue_of_a_known_spectrum(eigenvalues, largest):
    hvp, h = quadratic_with_spectrum(eigenvalues)
    start = torch.ones(len(eigenvalues))
    found = largest_eigenvalue(hvp, start, iterations=2000, tol=1e-14)
    assert found.value == pytest.approx(largest, rel=1e-9, abs=1e-9)
    assert found.converged
    assert found.vector.norm().item() == pytest.approx(1.0, rel=1e-12)
    assert_close(h @ found.vector, largest * found.vector, rtol=0, atol=1e-6)     # an eigenvector of it


def test_a_warm_start_needs_fewer_products():
    hvp, _ = quadratic_with_spectrum([2.0, 1.8, 1.0, 0.3, -0.5])
    cold = largest_eigenvalue(hvp, torch.ones(5), tol=1e-12, iterations=5000)
    warm = largest_eigenvalue(hvp, cold.vector + 1e-6, tol=1e-12, iterations=5000)
    assert warm.value == pytest.approx(cold.value, rel=1e-10)
    assert warm.iterations < cold.iterations / 3


def test_power_iteration_stops_after_its_iterations_and_says_so():
    hvp, _ = quadratic_with_spectrum([1.0, 0.999, 0.5])
    found = largest_eigenvalue(hvp, torch.ones(3), iterations=5, tol=1e-15)
    assert found.iterations == 5 and not found.converged


@pytest.mark.parametrize("loss", ["cross_entropy", "mse"])
def test_power_iteration_on_the_hand_written_hvp_matches_eigvalsh(device, loss):
    twins, x, y, theta = small_twins(device, loss)
    spectrum = torch.linalg.eigvalsh(hessian(twins.torch_net, twins.torch_loss, x, y, theta=theta))
    start = torch.randn(theta.shape, generator=torch.Generator().manual_seed(1)).to(device)
    found = largest_eigenvalue(lambda v: hvp_finite_difference(twins, x, y, v, theta=theta), start,
                               iterations=2000, tol=1e-12)
    assert found.value == pytest.approx(spectrum[-1].item(), rel=1e-7)


def test_loss_along_path_of_the_hand_written_twin_is_the_torch_twins(device):
    twins, x, y, theta = small_twins(device)
    state = manual_state(twins.manual_net)
    own = flatten(twins.manual_net.named_parameters())
    path = torch.lerp(own, theta, torch.linspace(-0.25, 1.25, 7, device=device).unsqueeze(1))
    by_hand = loss_along_path(twins.manual_net, twins.manual_loss, x, y, path)
    by_torch = loss_along_path(twins.torch_net, twins.torch_loss, x, y, path)
    assert by_hand.shape == (7,)
    assert_close(by_hand, by_torch, rtol=1e-12, atol=1e-14)
    assert_state_kept(twins.manual_net, state)


def test_sharpness_functions_refuse_bad_input():
    twins, x, y, theta = small_twins("cpu")
    with pytest.raises(ValueError, match="theta must have shape"):
        manual_gradient(twins, x, y, theta[:-1])
    with pytest.raises(ValueError, match="v must have shape"):
        hvp_finite_difference(twins, x, y, theta[:-1])
    with pytest.raises(ValueError, match="non-zero"):
        hvp_finite_difference(twins, x, y, torch.zeros_like(theta))
    with pytest.raises(ValueError, match="eps must be > 0"):
        hvp_finite_difference(twins, x, y, theta, eps=0.0)
    with pytest.raises(ValueError, match="v must have shape"):
        hessian_vector_product(twins.torch_net, twins.torch_loss, x, y, theta[:-1])
    with pytest.raises(ValueError, match="theta must have shape"):
        hessian(twins.torch_net, twins.torch_loss, x, y, theta=theta[:-1])
    hvp, _ = quadratic_with_spectrum([1.0, 2.0])
    with pytest.raises(ValueError, match="start must be a non-zero"):
        largest_eigenvalue(hvp, torch.zeros(2))
    with pytest.raises(ValueError, match="iterations must be >= 1"):
        largest_eigenvalue(hvp, torch.ones(2), iterations=0)


# ---------------------------------------------------------------- filter-normalised random planes (Li et al. 2018)

from helpers import gen  # noqa: E402  (this section's own imports)
from toolkit.landscape import filter_normalized_direction, filter_normalized_plane  # noqa: E402


def small_net(device="cpu"):
    """Linear layers of different widths and a Conv1d (its filters are its output channels)."""
    torch.manual_seed(3)
    return nn.Sequential(nn.Conv1d(2, 3, kernel_size=2), nn.Flatten(), nn.Linear(6, 5), nn.Tanh(),
                         nn.Linear(5, 2)).to(device=device, dtype=torch.float64)


def rows(vector, net):
    """The flat vector as the network's tensors, each weight as (filters, fan_in) rows."""
    return {name: (t.reshape(t.shape[0], -1) if t.dim() >= 2 else t)
            for name, t in unflatten(vector, dict(net.named_parameters())).items()}


@pytest.mark.parametrize("seed", range(3))
def test_a_filter_normalised_direction_has_the_weights_row_norms_and_no_bias(seed):
    net = small_net()
    direction = filter_normalized_direction(net, gen(seed))
    weights = rows(flatten(net.named_parameters()), net)
    for name, part in rows(direction, net).items():
        if name.endswith("bias"):
            assert (part == 0).all(), name
        else:
            torch.testing.assert_close(part.norm(dim=1), weights[name].norm(dim=1), rtol=1e-12, atol=0)
            # random, not the weights themselves: no row points along its weight row
            cosine = (part * weights[name]).sum(dim=1) / (part.norm(dim=1) * weights[name].norm(dim=1))
            assert (cosine.abs() < 0.999).all(), name


@pytest.mark.parametrize("seed", range(3))
def test_the_plane_orthogonalises_the_second_direction_after_normalising(seed):
    net = small_net()
    generator = gen(seed)
    first, second = filter_normalized_direction(net, generator), filter_normalized_direction(net, generator)
    plane = filter_normalized_plane(net, gen(seed))
    assert torch.equal(plane.center, flatten(net.named_parameters()))
    torch.testing.assert_close(plane.d1, first, rtol=0, atol=0)                 # d1: the first direction as drawn
    torch.testing.assert_close(plane.d2, second - (second @ first) / (first @ first) * first, rtol=1e-14, atol=1e-15)
    assert abs(plane.d1 @ plane.d2) < 1e-12 * plane.d1.norm() * plane.d2.norm()
    weights = rows(plane.center, net)
    for name, part in rows(plane.d2, net).items():
        if name.endswith("bias"):
            assert (part == 0).all(), name
        else:       # only slightly off the weights' row norms: the removed part is small
            ratio = part.norm(dim=1) / weights[name].norm(dim=1)
            assert ((ratio > 0.5) & (ratio < 1.5)).all(), (name, ratio)


def test_directions_come_from_the_cpu_generator_whatever_the_device(device):
    cpu, there = small_net(), small_net(device)
    on_cpu = filter_normalized_plane(cpu, gen(5))
    on_device = filter_normalized_plane(there, gen(5))
    assert on_device.d1.device.type == device
    torch.testing.assert_close(on_device.d1.cpu(), on_cpu.d1, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(on_device.d2.cpu(), on_cpu.d2, rtol=1e-12, atol=1e-14)
    if device != "cpu":
        with pytest.raises(ValueError, match="CPU"):
            filter_normalized_direction(there, torch.Generator(device=device))


def test_the_plane_measures_a_path_in_it_and_one_across_it():
    net = small_net()
    plane = filter_normalized_plane(net, gen(0))
    t = torch.linspace(0, 1, 7).unsqueeze(1)
    inside = plane.center + t * plane.d1 + t**2 * plane.d2
    assert filter_normalized_plane(net, gen(0), path=inside).captured == pytest.approx(1.0, abs=1e-12)
    across = torch.randn(plane.center.shape[0], generator=gen(9), dtype=torch.float64)
    for d in (plane.d1, plane.d2):
        across = across - (across @ d) / (d @ d) * d
    measured = filter_normalized_plane(net, gen(0), path=plane.center + t * across)
    assert measured.captured == pytest.approx(0.0, abs=1e-12)
    assert sum(measured.explained) == pytest.approx(0.0, abs=1e-12)
