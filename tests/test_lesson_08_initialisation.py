"""Lesson 08: initialisation and the signal through depth.

The lesson runs once as a script (its defaults, into a temporary folder); its
hand-written initialisers, its twins and its helpers are then checked: zero
and equal starts keep every hidden unit a copy of the others in both twins,
our Xavier and Kaiming match ``torch.nn.init``, and a ReLU layer scales the
activations' mean square by n·σ²/2, within a tolerance worked out from the
sampling.
"""

import json
import math

import pytest
import torch

from helpers import assert_drawn, gen, lesson_group
from toolkit import catalogue, manual
from toolkit.train import train

PATH = catalogue.find_lesson("8")
FIGURES = {"activations.png", "gradient_flow.png", "init_losses.png"}
STEPS = 80                           # the lesson's default

pytestmark = lesson_group(PATH.stem)


@pytest.fixture(scope="module")
def lesson(lesson_runs):
    """The lesson run as a script with its defaults: (output folder, the names it defined)."""
    run = lesson_runs(PATH.stem)
    return run.folder, run.names


def hidden_linears(net):
    """Every Linear layer but the output layer (whose rows belong to the classes)."""
    return [layer for layer in net if isinstance(layer, (manual.Linear, torch.nn.Linear))][:-1]


def assert_units_are_copies(net, *, exact: bool):
    """Every hidden layer's weight rows (and bias entries) equal: each unit's incoming weights the same."""
    for layer in hidden_linears(net):
        weight, bias = layer.weight.detach(), layer.bias.detach()
        if exact:
            assert torch.equal(weight, weight[:1].expand_as(weight)) and torch.equal(bias, bias[:1].expand_as(bias))
        else:
            # Equal up to the rounding of the last digit (the weights are of order 0.01 to 1).
            assert float((weight - weight[0]).abs().max()) <= 1e-12
            assert float((bias - bias[0]).abs().max()) <= 1e-12


@pytest.mark.parametrize("activation", ["tanh", "relu"])
@pytest.mark.parametrize("start", ["zeros", "constant"])
def test_zero_and_equal_starts_keep_the_hidden_units_identical(lesson, activation, start):
    _, namespace = lesson
    x, y = namespace["x"], namespace["y"]
    twins = namespace["deep_twins"](activation, namespace[start])
    before = [layer.weight.clone() for layer in hidden_linears(twins.manual_net)]
    history = train(twins, x, y, steps=25, lr=0.05, momentum=0.9, quiet=True)
    assert history.twins_agree and history.max_abs_grad_diff <= 1e-12

    for net in (twins.manual_net, twins.torch_net):
        assert_units_are_copies(net, exact=start == "zeros")
    moved = max(float((layer.weight - w).abs().max()) for layer, w in zip(hidden_linears(twins.manual_net), before))
    if start == "zeros":
        assert moved == 0.0                     # every weight gradient is exactly 0: nothing moves
    else:
        assert moved > 1e-4                     # the weights do move, as one
    # So every hidden layer's units compute the same value for every point.
    for h in namespace["hidden_activations"](twins.manual_net, x):
        assert float((h - h[:, :1]).abs().max()) <= 1e-12 * max(1.0, float(h.abs().max()))


def test_the_lessons_symmetric_run_kept_its_units_identical(lesson):
    _, namespace = lesson
    symmetric, history = namespace["symmetric"], namespace["symmetric_history"]
    assert history.steps == STEPS and history.twins_agree
    for net in (symmetric.manual_net, symmetric.torch_net):
        assert_units_are_copies(net, exact=False)
    # Both twins hold the same weights, and the hidden ones moved.
    for name, by_hand, by_autograd in symmetric.named_parameters():
        torch.testing.assert_close(by_hand, by_autograd.detach(), rtol=1e-12, atol=1e-14)
    start = namespace["start"]
    assert all(float((p - start[name]).abs().max()) > 0 for name, p, _ in symmetric.named_parameters()
               if name in namespace["hidden_weights"])


# ------------------------------------------------------------------ the initialisers against torch.nn.init

TORCH_INIT = {
    "xavier_normal": lambda w, g: torch.nn.init.xavier_normal_(w, generator=g),
    "xavier_uniform": lambda w, g: torch.nn.init.xavier_uniform_(w, generator=g),
    "kaiming_normal": lambda w, g: torch.nn.init.kaiming_normal_(w, mode="fan_in", nonlinearity="relu", generator=g),
}
FAN_OUT, FAN_IN = 600, 1400          # not square: fan_in and fan_out must not be swapped


def expected_std(name: str) -> float:
    return math.sqrt(2 / FAN_IN) if name == "kaiming_normal" else math.sqrt(2 / (FAN_IN + FAN_OUT))


@pytest.mark.parametrize("name", TORCH_INIT)
def test_hand_written_initialisers_draw_torchs_numbers_from_the_same_seed(lesson, name):
    _, namespace = lesson
    ours = namespace[name](FAN_OUT, FAN_IN, gen(11))
    theirs = TORCH_INIT[name](torch.empty(FAN_OUT, FAN_IN, dtype=torch.float64), gen(11))
    assert ours.shape == (FAN_OUT, FAN_IN) and ours.dtype == torch.float64
    # The same numbers; torch works the uniform bound out as sqrt(3)·std, which may differ in the last bit.
    torch.testing.assert_close(ours, theirs, rtol=1e-15, atol=0)


@pytest.mark.parametrize("name", TORCH_INIT)
def test_hand_written_initialisers_match_torch_in_distribution(lesson, name):
    # Independent seeds, so this compares distributions, not numbers. With N = 840,000 weights
    # a sample std lies within 5 standard errors of the true one except with probability ~6e-7:
    # its relative standard error is sqrt(1 / 2N) for a normal and sqrt(0.2 / N) for a uniform
    # (from the fourth moments, 3σ⁴ and 9σ⁴/5).
    _, namespace = lesson
    count = FAN_OUT * FAN_IN
    std = expected_std(name)
    ours = namespace[name](FAN_OUT, FAN_IN, gen(1))
    theirs = TORCH_INIT[name](torch.empty(FAN_OUT, FAN_IN, dtype=torch.float64), gen(2))
    uniform = name.endswith("uniform")
    relative_error = math.sqrt(0.2 / count) if uniform else math.sqrt(1 / (2 * count))
    for weights in (ours, theirs):
        assert abs(float(weights.std()) / std - 1) < 5 * relative_error
        assert abs(float(weights.mean())) < 5 * std / math.sqrt(count)
        if uniform:
            # U(-a, a) with a = sqrt(3)·std: nothing beyond a, and with this many draws both ends
            # come within 40/N of it (missing one end has probability (1 - 20/N)^N ~ e^-20).
            bound = math.sqrt(6 / (FAN_IN + FAN_OUT))
            assert float(weights.max()) <= bound and float(weights.min()) >= -bound
            near = bound * (1 - 40 / count)
            assert float(weights.max()) > near and float(weights.min()) < -near
        else:
            # A normal's share within one std: 68.27 %, give or take a standard error of sqrt(p(1 - p)/N).
            share = float((weights.abs() < std).double().mean())
            assert abs(share - 0.682689) < 5 * math.sqrt(0.682689 * 0.317311 / count)


# ------------------------------------------------------------------ the variance of a ReLU layer

@pytest.mark.parametrize("std, seed", [(None, 5), (0.03, 6), (0.05, 7)])     # None: Kaiming, n·σ²/2 = 1
def test_a_relu_layer_scales_the_mean_square_by_n_sigma2_over_2(lesson, std, seed):
    """Given the layer before, E[h_l²] = n·σ²/2 · E[h_(l-1)²] exactly, on average over the weights.

    A unit's pre-activation z_i = Σ_j w_ij h_j has E[z_i² | h] = σ²·|h|², and relu keeps
    half of it because w_i and -w_i are equally likely. The units of a layer have
    independent weight rows, so given the layer before, their mean squares a_i are
    independent draws: the measured ratio mean(a) / E[h_(l-1)²] has a standard error
    of std(a) / sqrt(m) / E[h_(l-1)²], and we allow four of them. With m = 1024 units
    it is under 10 % of n·σ²/2 (a unit's a_i varies a lot: after a ReLU every input
    is >= 0, so some units are on for most points and others for few), small enough
    to tell n·σ²/2 from n·σ², twice as large, or n·σ²/4.
    """
    _, namespace = lesson
    width, depth, points = 1024, 4, 256
    draw = namespace["kaiming_normal"] if std is None else namespace["normal"](std)
    sigma2 = 2 / width if std is None else std**2
    theory = width * sigma2 / 2
    net = manual.Sequential(*[module for _ in range(depth)
                              for module in (manual.Linear(width, width, dtype=torch.float64), manual.ReLU())])
    namespace["initialise"](net, draw, seed=seed)
    x = torch.randn(points, width, generator=gen(100 + seed), dtype=torch.float64)
    hidden = namespace["hidden_activations"](net, x)
    ratios = namespace["ratios"](hidden)
    assert len(ratios) == depth - 1
    for layer in range(1, depth):                        # layers 2, 3, 4: fan-in n = width after a ReLU
        previous = hidden[layer - 1].pow(2).mean()
        per_unit = hidden[layer].pow(2).mean(dim=0)     # a_i, one per unit
        error = float(per_unit.std() / math.sqrt(width) / previous)
        assert error < 0.1 * theory
        assert abs(float(ratios[layer - 1]) - theory) < 4 * error, (layer, float(ratios[layer - 1]), theory)
        assert float(ratios[layer - 1]) == pytest.approx(float(per_unit.mean() / previous), rel=1e-12)


def test_the_lessons_relu_ratios_follow_the_theory(lesson):
    # One draw of 32 units per layer scatters by tens of percent, but over the nine layers the
    # geometric mean of the ratios lands near n·σ²/2 for every scale, and so does the mean over 200 draws.
    _, namespace = lesson
    width, activations = namespace["WIDTH"], namespace["activations"]
    for scheme, sigma2 in namespace["SIGMA2"].items():
        measured = namespace["ratios"](activations[scheme]["ReLU"])
        geometric = float(measured.log().mean().exp())
        assert geometric == pytest.approx(width * sigma2 / 2, rel=0.25)
    assert namespace["draws"].mean(dim=0).sub(1).abs().max() < 0.15


# ------------------------------------------------------------------ the report and the figures

def test_the_report_compares_every_layers_input_gradient(lesson):
    _, namespace = lesson
    run = namespace["run"]
    assert run.reports and all(report.ok for report in run.reports)
    names = {row.name for row in run.reports[0].rows}
    layers = len(namespace["main"].manual_net)
    assert {f"input of {k}" for k in range(layers)} <= names            # first_layer=True: input of 0 too


def test_figures_exist(lesson, lesson_runs):
    folder, _ = lesson
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["lesson"] == "08_initialisation" and set(summary["figures"]) == FIGURES
    assert summary["diverged"] is False and len(summary["runs"]) == 9
    assert_drawn(lesson_runs(PATH.stem).figures, FIGURES)


def test_the_gradient_changes_by_the_theorys_factor_per_relu_layer_on_lesson_05s_points(lesson):
    # On the way back through a ReLU layer the gradient's std changes by √(n·σ²/2) per layer,
    # measured over the nine hidden layers from the input of layer 11 back to that of layer 2.
    _, namespace = lesson
    from toolkit import data

    points, labels = data.two_moons(n=400, noise=0.15, seed=0)
    (x, _), _ = data.split(points, labels, held_out=200, seed=0)
    assert torch.equal(namespace["x"], x)                           # lesson 05's 200 training points
    width, flow = namespace["WIDTH"], namespace["flow"]
    for scheme, sigma2 in namespace["SIGMA2"].items():
        spread = flow["ReLU"][scheme]["input_manual"]
        measured = float((spread[1] / spread[-1]) ** (1 / (len(spread) - 2)))
        assert measured == pytest.approx(math.sqrt(width * sigma2 / 2), rel=0.1), scheme
        torch.testing.assert_close(spread, flow["ReLU"][scheme]["input_autograd"], rtol=1e-10, atol=0)
