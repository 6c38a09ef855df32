"""toolkit.optim.LBFGS against torch.optim.LBFGS.

Ours computes every quantity with the same operations in the same order as
torch's, so the parameters, the returned losses and the counters must agree
exactly, over several outer steps and for every option. A network at lr = 1
is a hard test: there a rounding difference in one iteration grows from
step to step, so agreement "to rounding" would not survive six steps (the same algorithm with its sums rounded differently ends 0.2 apart after eight).
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from toolkit import manual
from toolkit.optim import LBFGS
from toolkit.train import train
from toolkit.twins import make_twins

EXACT = dict(rtol=0, atol=0)
OPTIONS = [
    {},
    {"max_iter": 5},
    {"history_size": 3},                      # the history is trimmed after three pairs
    {"lr": 0.5},
    {"max_eval": 7},                          # stops on the number of closure calls
    {"tolerance_change": 1e-3},               # stops when the loss no longer moves
    {"tolerance_grad": 1e-2},                 # stops at a (nearly) stationary point
    {"max_iter": 3, "history_size": 1, "lr": 0.8},
]


def sine_data(device):
    generator = torch.Generator().manual_seed(0)
    x = torch.linspace(-2, 2, 40, dtype=torch.float64)[:, None]
    y = torch.sin(2 * x) + 0.1 * torch.randn(40, 1, generator=generator, dtype=torch.float64)
    return x.to(device), y.to(device)


def network(device):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1)
        return nn.Sequential(nn.Linear(1, 8), nn.Tanh(), nn.Linear(8, 1)).to(device, torch.float64)


def closure_for(net, optimizer, x, y):
    def closure():
        optimizer.zero_grad()
        loss = ((net(x) - y) ** 2).mean()
        loss.backward()
        return loss
    return closure


def counters(optimizer, net):
    state = optimizer.state[next(net.parameters())]
    return state["n_iter"], state["func_evals"]


@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: "-".join(f"{k}={v}" for k, v in o.items()) or "defaults")
def test_lbfgs_matches_torch_bit_for_bit_over_several_steps(device, options):
    x, y = sine_data(device)
    ours_net, torch_net = network(device), network(device)
    ours = LBFGS(ours_net.parameters(), **options)
    theirs = torch.optim.LBFGS(torch_net.parameters(), **options)
    for _ in range(6):            # with the defaults, 120 iterations: the history of 100 pairs gets trimmed too
        loss_ours = ours.step(closure_for(ours_net, ours, x, y))
        loss_theirs = theirs.step(closure_for(torch_net, theirs, x, y))
        assert loss_ours.item() == loss_theirs.item()
        for p, q in zip(ours_net.parameters(), torch_net.parameters()):
            torch.testing.assert_close(p, q, **EXACT)
        assert counters(ours, ours_net) == counters(theirs, torch_net)
    state, torch_state = ours.state[next(ours_net.parameters())], theirs.state[next(torch_net.parameters())]
    assert len(state["old_stps"]) == len(torch_state["old_stps"]) <= options.get("history_size", 100)
    torch.testing.assert_close(state["H_diag"], torch_state["H_diag"], **EXACT)


def test_the_first_step_is_scaled_to_at_most_lr_over_the_gradients_l1_norm(device):
    # One iteration from the start: t = min(1, 1/|g|_1)·lr along d = −g.
    x, y = sine_data(device)
    net = network(device)
    start = torch.cat([p.detach().reshape(-1).clone() for p in net.parameters()])
    optimizer = LBFGS(net.parameters(), lr=0.7, max_iter=1)
    closure = closure_for(net, optimizer, x, y)
    closure()
    g = torch.cat([p.grad.reshape(-1) for p in net.parameters()])
    optimizer.step(closure)
    moved = torch.cat([p.detach().reshape(-1) for p in net.parameters()]) - start
    t = min(1.0, 1.0 / g.abs().sum().item()) * 0.7
    torch.testing.assert_close(moved, -t * g, rtol=1e-14, atol=1e-16)


def test_one_iteration_per_step_is_the_same_algorithm_as_many(device):
    # max_iter = 1, called K times, takes the same iterates as one call with max_iter = K (when no tolerance
    # stops the longer call early): the state carries the pairs, the direction and the step over.
    x, y = sine_data(device)
    short_net, long_net = network(device), network(device)
    short, long = LBFGS(short_net.parameters(), max_iter=1), LBFGS(long_net.parameters(), max_iter=6)
    for _ in range(6):
        short.step(closure_for(short_net, short, x, y))
    long.step(closure_for(long_net, long, x, y))
    for p, q in zip(short_net.parameters(), long_net.parameters()):
        torch.testing.assert_close(p, q, **EXACT)
    assert counters(short, short_net) == (6, 6) and counters(long, long_net) == (6, 6)


def test_a_stationary_start_returns_at_once_with_the_first_loss(device):
    p = torch.zeros(3, dtype=torch.float64, device=device, requires_grad=True)
    optimizer = LBFGS([p])

    def closure():
        optimizer.zero_grad()
        loss = (p ** 2).sum() + 5
        loss.backward()
        return loss

    assert optimizer.step(closure).item() == 5
    assert (optimizer.state[p]["n_iter"], optimizer.state[p]["func_evals"]) == (0, 1)
    assert p.abs().max().item() == 0


def test_a_quadratic_is_solved_to_rounding(device):
    # On a strictly convex quadratic with full history, L-BFGS at lr = 1 reaches the minimum.
    generator = torch.Generator().manual_seed(2)
    a = torch.randn(6, 6, generator=generator, dtype=torch.float64)
    h = (a @ a.T + 6 * torch.eye(6, dtype=torch.float64)).to(device)
    b = torch.randn(6, generator=generator, dtype=torch.float64).to(device)
    theta = torch.zeros(6, dtype=torch.float64, device=device, requires_grad=True)
    optimizer = LBFGS([theta], max_iter=50, tolerance_grad=1e-14, tolerance_change=0)

    def closure():
        optimizer.zero_grad()
        loss = 0.5 * theta @ h @ theta - b @ theta
        loss.backward()
        return loss

    optimizer.step(closure)
    torch.testing.assert_close(theta.detach(), torch.linalg.solve(h, b), rtol=1e-12, atol=1e-14)
    assert optimizer.state[theta]["n_iter"] < 50           # it stopped at a stationary point


def test_strong_wolfe_is_refused_with_a_clear_message():
    p = torch.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="strong_wolfe.*not supported here.*torch.optim.LBFGS"):
        LBFGS([p], line_search_fn="strong_wolfe")
    with pytest.raises(ValueError, match="line_search_fn='backtracking' is not supported"):
        LBFGS([p], line_search_fn="backtracking")


@pytest.mark.parametrize("kwargs, match", [
    ({"lr": -1}, "lr must be a finite number >= 0"),
    ({"max_iter": 0}, "max_iter must be a whole number >= 1"),
    ({"max_eval": 2.5}, "max_eval must be a whole number >= 1"),
    ({"history_size": 0}, "history_size must be a whole number >= 1"),
    ({"tolerance_grad": float("nan")}, "tolerance_grad must be a finite number"),
])
def test_invalid_settings_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        LBFGS([torch.zeros(2, requires_grad=True)], **kwargs)


def test_defaults_are_torchs():
    p = torch.zeros(2, requires_grad=True)
    ours, theirs = LBFGS([p]).defaults, torch.optim.LBFGS([p]).defaults
    assert ours == {key: value for key, value in theirs.items() if key in ours}
    assert ours["max_eval"] == 25


def test_one_parameter_group_only():
    with pytest.raises(ValueError, match="one parameter group"):
        LBFGS([{"params": [torch.zeros(2, requires_grad=True)]}, {"params": [torch.zeros(2, requires_grad=True)]}])


def test_the_training_loop_gives_lbfgs_a_closure_and_the_twins_agree():
    # train() passes each twin's own closure; the hand-written gradients steer ours as autograd's steer torch's.
    x, y = sine_data("cpu")
    twins = make_twins([1, 8, 1], activation="tanh", loss=manual.MSELoss(), seed=1)
    history = train(twins, x, y, steps=15, optimizer=LBFGS, lr=1, max_iter=1, quiet=True)
    assert history.twins_agree and history.max_abs_grad_diff <= 1e-12
    torch.testing.assert_close(history.path_manual, history.path_autograd, rtol=1e-9, atol=1e-11)
    assert history.loss_manual[-1] < 0.5 * history.loss_manual[0]


def test_the_training_loop_drives_torchs_lbfgs_the_same_way():
    # The closure is found from step's signature, so torch's own LBFGS runs in the shared loop too, and ours
    # takes the same steps there, bit for bit.
    x, y = sine_data("cpu")
    runs = [train(make_twins([1, 8, 1], activation="tanh", loss=manual.MSELoss(), seed=1), x, y, steps=6,
                  optimizer=optimizer, lr=0.5, max_iter=3, quiet=True) for optimizer in (LBFGS, torch.optim.LBFGS)]
    torch.testing.assert_close(runs[0].path_manual, runs[1].path_manual, **EXACT)
    torch.testing.assert_close(runs[0].path_autograd, runs[1].path_autograd, **EXACT)
    assert runs[0].loss_manual == runs[1].loss_manual
