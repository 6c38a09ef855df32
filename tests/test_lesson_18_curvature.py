"""Lesson 18: stepping with curvature.

The lesson runs once as a script (no figures; test_lessons.py checks those). Then its claims, each
against theory: one Newton step lands on the least-squares minimum however narrow the valley, and
gradient descent at 2/(λmin + λmax) shrinks the gap by exactly ((κ − 1)/(κ + 1))² per step; Newton
goes to the chain's saddle and saddle-free Newton does not; the accepted step of the line search
meets Armijo's condition and every earlier one fails it; Adam's and RMSprop's first preconditioned
valley has κ = 2.5; the best diagonal preconditioner of a 2 × 2 valley leaves (1 + |r|)/(1 − |r|);
L-BFGS by hand against torch; the race's evaluation counts. Then the exercises: a student's wrong
Newton direction or line search stops the lesson with a diagnosis.
"""

import math
import re

import pytest
import torch

from helpers import lesson_group, run_lesson_script, student_file
from toolkit import catalogue, diagnose

PATH = catalogue.find_lesson("18")


pytestmark = lesson_group(PATH.stem)


@pytest.fixture(scope="module")
def lesson(lesson_runs):
    """The names the lesson defined, in its shared run (read-only)."""
    return lesson_runs(PATH.stem).names


def test_one_newton_step_lands_on_the_least_squares_minimum(lesson):
    first, moved = lesson["quadratic"].values()
    assert moved["kappa"] > 300 * first["kappa"]            # the moved valley is far narrower
    for valley in (first, moved):
        assert valley["landed"] < 1e-12
        path = valley["newton"].path_manual
        torch.testing.assert_close(path[1], valley["best"], rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(path[2], path[1], rtol=1e-12, atol=1e-12)    # and stays there


def test_gradient_descent_at_its_best_rate_shrinks_the_gap_exactly_as_theory_says(lesson):
    # At lr = 2/(λmin + λmax) both axes shrink by (κ − 1)/(κ + 1) per step, so the gap by its square, from step 0.
    for valley in lesson["quadratic"].values():
        gaps = torch.tensor(valley["gd"].path_losses()[0], dtype=torch.float64) - valley["best_loss"]
        clear = gaps > 1e6 * torch.finfo(torch.float64).eps * valley["best_loss"]
        k = torch.arange(len(gaps), dtype=torch.float64)[clear]
        predicted = gaps[0] * valley["gd_rate"] ** k
        torch.testing.assert_close(gaps[clear], predicted, rtol=1e-6, atol=0)
        assert clear.sum() > 30


def test_newton_goes_to_the_saddle_and_saddle_free_newton_to_the_valley(lesson):
    runs, best_product = lesson["chain_runs"], lesson["best_product"]
    assert runs["Newton"].path_manual[-1].norm() < 1e-10
    for name in ("saddle-free Newton", "gradient descent"):
        w1, w2 = runs[name].path_manual[-1].tolist()
        assert w1 * w2 == pytest.approx(best_product, rel=1e-6)
    shares = lesson["shares"]
    assert shares["Newton"][0] > 0.5 and shares["saddle-free Newton"][0] < 0.03
    assert shares["saddle-free Newton"][1] > 0.97


def test_the_chain_formulas_agree_with_torch_func_anywhere(lesson):
    from toolkit.landscape import hessian

    generator = torch.Generator().manual_seed(4)
    for w in 2 * torch.randn(5, 2, generator=generator, dtype=torch.float64):
        twins = lesson["chain_twins"](*w.tolist())
        torch.testing.assert_close(lesson["chain_hessian"](w), hessian(twins.torch_net, twins.torch_loss,
                                                                       lesson["chain_x"], lesson["chain_y"]),
                                   rtol=1e-12, atol=1e-12)
        loss = twins.torch_loss(twins.torch_net(lesson["chain_x"]), lesson["chain_y"])
        grad = torch.cat([g.reshape(-1) for g in torch.autograd.grad(loss, list(twins.torch_net.parameters()))])
        torch.testing.assert_close(lesson["chain_gradient"](w), grad, rtol=1e-12, atol=1e-12)


def test_saddle_free_direction_is_newtons_where_h_is_positive_and_goes_downhill_where_it_is_not(lesson):
    direction = lesson["saddle_free_direction"]
    generator = torch.Generator().manual_seed(5)
    a = torch.randn(4, 4, generator=generator, dtype=torch.float64)
    g = torch.randn(4, generator=generator, dtype=torch.float64)
    positive = a @ a.T + torch.eye(4, dtype=torch.float64)
    torch.testing.assert_close(direction(positive, g, 0.0), -torch.linalg.solve(positive, g), rtol=1e-10, atol=1e-12)
    indefinite = a + a.T
    assert torch.linalg.eigvalsh(indefinite)[0] < 0
    assert g @ direction(indefinite, g, 0.1) < 0                  # downhill


def test_the_accepted_step_meets_armijos_condition_and_every_earlier_one_fails_it(lesson):
    tried, accepted = lesson["tried"], lesson["accepted"]
    loss, slope, c = lesson["net_loss"].item(), lesson["slope0"], lesson["ARMIJO_C"]
    assert [t for t, _ in tried] == [4.0 * 0.5 ** k for k in range(len(tried))]
    assert tried[-1][0] == accepted and len(tried) >= 3
    assert tried[-1][1] <= loss + c * accepted * slope
    assert all(value > loss + c * t * slope for t, value in tried[:-1])
    assert slope == pytest.approx(-(lesson["g0"] @ lesson["g0"]).item())


def test_backtracking_on_a_parabola_takes_the_first_step_theory_allows(lesson):
    # L(θ + t·d) = 1 − t + t²: Armijo with c holds iff 1 − t + t² ≤ 1 − c·t, i.e. t ≤ 1 − c.
    search = lesson["backtracking"]
    for c in (0.1, 0.25, 0.5, 0.9):
        t, tried = search(lambda theta: float(1 - theta[0] + theta[0] ** 2), torch.zeros(1, dtype=torch.float64),
                          1.0, torch.tensor([-1.0], dtype=torch.float64), torch.tensor([1.0], dtype=torch.float64),
                          t=4.0, c=c, shrink=0.5)
        expected = next(4.0 * 0.5 ** k for k in range(40) if 4.0 * 0.5 ** k <= 1 - c)
        assert t == expected and len(tried) == round(math.log2(4.0 / expected)) + 1


def test_the_denominators_precondition_the_valley_from_kappa_20_to_2_5_at_the_first_step(lesson):
    # Step 1: v̂ = g² (Adam), v = (1 − α)·g² (RMSprop): either way D ∝ |g| = |H·θ₀| = (1, 8),
    # so D⁻¹·H = diag(0.2, 0.5) and κ = 2.5, against H's 20.
    for kappas in lesson["conditioning"].values():
        assert kappas[0] == pytest.approx(2.5, rel=1e-6)
        assert max(kappas) < 5
    torch.testing.assert_close(torch.linalg.eigvalsh(lesson["valley_H"]),
                               torch.tensor([0.2, 4.0], dtype=torch.float64))


def test_the_best_diagonal_preconditioner_leaves_what_the_correlation_says(lesson):
    # For H = [[p, q], [q, s]], diag(H)^(−½)·H·diag(H)^(−½) = [[1, r], [r, 1]] with r = q/√(p·s).
    from toolkit.landscape import hessian

    line = lesson["line"]
    for name, x in lesson["valleys"].items():
        H = hessian(line.torch_net, line.torch_loss, x, lesson["line_y"])
        r = abs(H[0, 1].item()) / math.sqrt(H[0, 0].item() * H[1, 1].item())
        assert lesson["diagonal"][name][1] == pytest.approx((1 + r) / (1 - r), rel=1e-9)
        assert lesson["diagonal"][name][1] < lesson["diagonal"][name][0]


def test_lbfgs_by_hand_follows_torch_and_wins_the_race_per_evaluation(lesson):
    assert lesson["lbfgs_gap"] < 1e-13
    counted = lesson["counted"]
    names = list(counted)
    gd, search, lbfgs, newton = (counted[name] for name in names)
    steps = lesson["run"].steps
    assert gd["evaluations"] == list(range(1, steps + 2)) and lbfgs["evaluations"] == gd["evaluations"]
    assert newton["evaluations"][-1] == 1 + lesson["NEWTON_STEPS"] * (1 + lesson["P"])
    assert search["evaluations"][-1] > 3 * steps
    final = {name: value["history"].path_losses()[0][-1] for name, value in counted.items()}
    assert final[names[2]] < 0.1 * final[names[0]]                # L-BFGS against gradient descent, same evaluations
    assert final[names[3]] < 0.1 * final[names[0]]                # Newton, in fewer steps
    assert lesson["made"][0].evaluations == lesson["made"][1].evaluations


def test_the_lbfgs_race_run_keeps_its_twins_within_rounding(lesson):
    history = lesson["lbfgs"]
    assert history.twins_agree and history.max_abs_grad_diff <= 1e-12


def test_the_hessian_costs_are_what_the_formulas_say(lesson):
    costs = lesson["costs"]
    resnet = costs["ResNet-50"]
    assert resnet["hessian_bytes"] == pytest.approx(4 * 25.6e6 ** 2)
    assert resnet["solve_seconds"] == pytest.approx(25.6e6 ** 3 / 3 / 1e15)
    assert costs["lesson 05's network"]["parameters"] == 354


# --------------------------------------------------------------------------- the exercises


def student_run(tmp_path, capsys, **bodies):
    """The student version with every exercise solved but ``bodies``, run as a script: (its output, how it ended)."""
    file = student_file(PATH, tmp_path, **bodies)
    try:
        run_lesson_script(file, "--device", "cpu", "--quiet", "--no-figures")
        ended = None
    except (SystemExit, NotImplementedError) as error:
        ended = error
    return capsys.readouterr().out, ended


@pytest.mark.parametrize("body, named", [
    ("return -(H @ g)", "the gradient multiplied by H instead of solved for"),
    ("return torch.linalg.solve(H, g)", "a Newton direction with its sign flipped"),
    ("return -g / torch.diagonal(H)", "only the diagonal of H used"),
])
def test_a_wrong_newton_direction_is_diagnosed_and_stops_the_student_version(tmp_path, capsys, body, named):
    out, ended = student_run(tmp_path, capsys, newton_direction=body)
    assert isinstance(ended, SystemExit) and ended.code == 1
    assert f"most likely {named}" in out
    assert re.search(r"in exercise newton_direction \(18_curvature\.py, line \d+\)", out)


def test_a_line_search_that_accepts_any_decrease_is_caught(tmp_path, capsys):
    body = ("for _ in range(tries):\n    value = loss_at(theta + t * d)\n    tried.append((t, value))\n"
            "    if value < loss:\n        return t, tried\n    t = shrink * t\nreturn 0.0, tried")
    out, ended = student_run(tmp_path, capsys, backtracking=body)
    assert isinstance(ended, SystemExit) and ended.code == 1
    assert "THE LINE SEARCH IS WRONG: with c = 0.9 the step accepted, t = 0.25, breaks Armijo's condition" in out
    assert "fix exercise backtracking" in out


def test_diagnose_newton_names_nothing_when_the_direction_is_right():
    generator = torch.Generator().manual_seed(1)
    a = torch.randn(3, 3, generator=generator, dtype=torch.float64)
    H, g = a @ a.T + torch.eye(3, dtype=torch.float64), torch.randn(3, generator=generator, dtype=torch.float64)
    assert diagnose.diagnose_newton(torch.linalg.solve(H, -g), H, g) is None
    assert diagnose.diagnose_newton(-g, H, g).kind == "newton-without-hessian"
    assert diagnose.diagnose_newton(torch.ones(3, dtype=torch.float64), H, g).kind is None
