"""Lesson 11: adaptive steps.

The lesson runs once as a script with its defaults (the run whose figures
test_lessons.py checks). Then: its hand-written
``adam_step`` against torch's Adam at every step, Adam's first step
lr·sign(g), the step lengths on the valley, and the weight-decay ordering the
lesson claims. Two edited copies of the lesson show that its exercise is
really used: a wrong formula is reported as a disagreement, and the stub the
exercise tool leaves behind stops the lesson.
"""

import itertools
import re

import numpy as np
import pytest
import torch
from torch import nn

from helpers import lesson_group, run_lesson_script
from toolkit import catalogue

PATH = catalogue.find_lesson("11")
FIGURES = {"adaptive_paths", "step_sizes", "moons_losses", "weight_decay"}
STEPS = 150                          # the lesson's default

pytestmark = lesson_group(PATH.stem)


@pytest.fixture(scope="module")
def lesson(lesson_runs):
    """The lesson run as a script with its defaults: the names it defined."""
    return lesson_runs(PATH.stem).names


def adam_by_function(adam_step, params, grads_per_step, **options):
    """Run the lesson's adam_step over every step; returns the parameters after each step."""
    params = [p.clone() for p in params]
    ms = [torch.zeros_like(p) for p in params]
    vs = [torch.zeros_like(p) for p in params]
    after = []
    for t, grads in enumerate(grads_per_step, start=1):
        for i, g in enumerate(grads):
            params[i], ms[i], vs[i] = adam_step(params[i], g, ms[i], vs[i], t, **options)
        after.append([p.clone() for p in params])
    return after


@pytest.mark.parametrize("options", [{"lr": 0.01}, {"lr": 0.2, "beta1": 0.8, "beta2": 0.99, "eps": 1e-6}])
def test_the_lessons_adam_step_is_torchs_adam_at_every_step(lesson, options):
    generator = torch.Generator().manual_seed(3)
    shapes, scales = [(4, 3), (3,), (2, 2)], [1.0, 1e-3, 30.0]       # gradients of very different sizes
    params = [torch.randn(s, generator=generator, dtype=torch.float64) for s in shapes]
    grads_per_step = [[scale * torch.randn(s, generator=generator, dtype=torch.float64)
                       for s, scale in zip(shapes, scales)] for _ in range(50)]
    ours = adam_by_function(lesson["adam_step"], params, grads_per_step, **options)

    theirs = [nn.Parameter(p.clone()) for p in params]
    betas = (options.get("beta1", 0.9), options.get("beta2", 0.999))
    optimizer = torch.optim.Adam(theirs, lr=options["lr"], betas=betas, eps=options.get("eps", 1e-8), foreach=False)
    for step, grads in enumerate(grads_per_step):
        for q, g in zip(theirs, grads):
            q.grad = g.clone()
        optimizer.step()
        for p, q in zip(ours[step], theirs):
            torch.testing.assert_close(p, q.detach(), rtol=1e-12, atol=1e-12)


def test_adam_steps_first_step_is_lr_times_the_sign_of_the_gradient(lesson):
    lr, eps = 0.05, 1e-8
    g = torch.tensor([3.0, -2e-4, 5e-2, -40.0], dtype=torch.float64)
    theta = torch.zeros(4, dtype=torch.float64)
    new, m, v = lesson["adam_step"](theta, g, torch.zeros(4, dtype=torch.float64),
                                    torch.zeros(4, dtype=torch.float64), 1, lr=lr, eps=eps)
    torch.testing.assert_close(theta - new, lr * g / (g.abs() + eps), rtol=1e-14, atol=0)
    assert ((theta - new - lr * g.sign()).abs() <= lr * eps / g.abs() * (1 + 1e-6)).all()
    torch.testing.assert_close(m, 0.1 * g, rtol=1e-14, atol=0)        # the running means before correction
    torch.testing.assert_close(v, 0.001 * g**2, rtol=1e-12, atol=0)


def test_the_lesson_reports_agreement_and_the_first_steps(lesson):
    run = lesson["run"]
    check = run.extra["adam_step_check"]
    assert check["agree"] and check["largest_difference"] <= 1e-12 and check["steps"] == 40
    # On the valley the first step is (lr, lr), though the gradient is (-1, -8).
    first = lesson["first_step"]
    assert first.tolist() == pytest.approx([0.3, 0.3], abs=1e-8)
    # On lesson 05's network, all 354 parameters: every |step| within lr·eps/|g| of lr.
    network = run.extra["adam_first_step"]
    assert network["largest_gap_to_lr_sign_g"] <= network["bound"] * (1 + 1e-6)
    assert network["bound"] < 1e-3 * network["lr"]


def test_adam_evens_out_the_steps_on_the_valley(lesson):
    ratios = lesson["run"].extra["step_length_ratio"]
    assert ratios["steps"] == 10
    assert ratios["adam"] < 1.5 < 3 < ratios["gradient_descent"]
    # Adam's step size along x1 starts at lr/|g1| = 0.3 and across at lr/|g2| = 0.0375.
    assert lesson["step_size"][0].tolist() == pytest.approx([0.3, 0.0375], rel=1e-6)
    # RMSprop lands on d2l's end point (whose eps sits inside the root) to within 1e-6.
    rmsprop = lesson["valley_runs"]["RMSprop α = 0.9, lr = 0.4"]
    assert rmsprop.path_manual[20].tolist() == pytest.approx([-0.010599, 0.0], abs=2e-6)


def test_adam_is_still_swinging_back_after_the_valley_run(lesson):
    # The text: after 40 steps Adam is the farthest of the four from the minimum, RMSprop the closest.
    distances = {name: history.path_manual[-1].norm().item() for name, history in lesson["valley_runs"].items()}
    assert max(distances, key=distances.get).startswith("Adam")
    assert min(distances, key=distances.get).startswith("RMSprop")


def test_one_colour_per_optimiser_in_every_figure(lesson):
    colors, color_of = lesson["COLORS"], lesson["color_of"]
    assert len(set(colors.values())) == len(colors)
    names = [*lesson["walkers"], *lesson["racers"], lesson["l2_name"]]
    kinds = {name: next(kind for kind in sorted(colors, key=len, reverse=True) if name.startswith(kind))
             for name in names}
    assert {color_of(name) for name in names} == set(colors.values())
    assert all(color_of(name) == colors[kind] for name, kind in kinds.items())
    assert kinds[lesson["l2_name"]] == "Adam + L2" and kinds[lesson["adamw_name"]] == "AdamW"


def test_the_recorded_quarters_are_the_medians_the_figure_draws(lesson):
    # decay_comparison splits the parameters by gradient size with np.array_split and takes np.median.
    rms = lesson["gradient_rms"].numpy()
    groups = np.array_split(np.argsort(rms, kind="stable"), lesson["QUARTERS"])
    recorded = lesson["run"].extra["decay_ratio_by_gradient_quarter"]
    for key, name in (("adam_l2", lesson["l2_name"]), ("adamw", lesson["adamw_name"])):
        ratio = lesson["ratios"][name].numpy()
        assert recorded[key] == pytest.approx([np.median(ratio[group]) for group in groups], rel=1e-12)


def test_the_kept_optimisers_step_the_hand_written_twins(lesson):
    # Read afterwards for v-hat: each must hold the state of the hand-written network's parameters.
    kept = lesson["kept"]
    assert set(kept) == {*lesson["racers"], lesson["l2_name"]}
    for name, optimizer in kept.items():
        final = torch.cat([p.detach().flatten() for p in optimizer.param_groups[0]["params"]])
        torch.testing.assert_close(final, lesson["moons_runs"][name].path_manual[-1], rtol=0, atol=0)
    # The last run's twins are still at hand: its kept optimiser holds exactly the manual net's parameters.
    manual = list(lesson["twins"].manual_net.parameters())
    held = kept[lesson["l2_name"]].param_groups[0]["params"]
    assert len(held) == len(manual) and all(p is q for p, q in zip(held, manual))


def test_weight_decay_ordering_the_lesson_claims(lesson):
    run = lesson["run"]
    norms = run.extra["weight_norms"]
    # Same lr and weight_decay: Adam's L2 ends far shorter than AdamW, which ends a little below no decay.
    assert norms["adam_l2"] < 0.5 * norms["adamw"]
    assert 0.95 * norms["adam"] < norms["adamw"] < norms["adam"]
    quarters = run.extra["decay_ratio_by_gradient_quarter"]
    # AdamW shrinks every weight by about the same factor; L2 shrinks the small-gradient weights most.
    assert all(0.9 < value <= 1.0 for value in quarters["adamw"])
    assert quarters["adam_l2"][0] < quarters["adam_l2"][-1] < quarters["adamw"][-1]
    assert max(quarters["adam_l2"]) < 0.9
    assert run.extra["adam_l2_decay_factor"]["median"] > 10


def test_every_run_keeps_the_twins_together_and_every_figure_is_described(lesson):
    run = lesson["run"]
    assert run.reports and all(report.ok for report in run.reports)
    assert len(run.histories) == 4 + 6
    for history in run.histories.values():
        assert history.twins_agree and not history.diverged
        torch.testing.assert_close(history.path_manual, history.path_autograd, rtol=1e-10, atol=1e-12)
    assert set(run.captions) == FIGURES
    for name, text in run.captions.items():
        assert len(text["caption"]) > 80 and len(text["alt"]) > 80, name
    summary = run.summary()
    assert summary["lr"] == 0.03 and summary["steps"] == STEPS
    assert set(summary["final_losses"]) == set(lesson["racers"])


def exercise_region(source: str) -> tuple[int, int, str]:
    """(first line, last line, indentation) of the adam_step exercise's markers in the lesson's source."""
    lines = source.splitlines()
    starts = [i for i, line in enumerate(lines) if re.match(r"\s*# exercise adam_step: \S", line)]
    ends = [i for i, line in enumerate(lines) if line.strip() == "# end exercise"]
    assert len(starts) == 1 and len(ends) == 1 and starts[0] < ends[0]
    indent = lines[starts[0]][:len(lines[starts[0]]) - len(lines[starts[0]].lstrip())]
    assert lines[ends[0]].startswith(indent + "#")
    assert lines[starts[0] - 1].strip().endswith('"""')          # right after the docstring
    return starts[0], ends[0], indent


def run_edited_copy(tmp_path, edit, capsys):
    """Run the lesson with its source changed by ``edit`` (a short run, no figures); returns (names, output)."""
    copy = tmp_path / PATH.name
    copy.write_text(edit(PATH.read_text(encoding="utf-8")), encoding="utf-8")
    capsys.readouterr()
    names = run_lesson_script(copy, "--device", "cpu", "--quiet", "--no-figures", "--steps", "3")
    return names, capsys.readouterr().out


def test_a_wrong_adam_step_is_reported(tmp_path, capsys):
    # Forget the bias correction of v: the lesson must say so (and not crash).
    names, out = run_edited_copy(tmp_path, lambda s: s.replace("v_hat = v / (1 - beta2 ** t)", "v_hat = v"), capsys)
    assert "THEY DISAGREE" in out
    assert names["run"].extra["adam_step_check"]["agree"] is False


def test_the_exercise_stub_stops_the_lesson(tmp_path, capsys):
    def stub(source):
        first, last, indent = exercise_region(source)
        lines = source.splitlines()
        return "\n".join(lines[:first] + [f"{indent}raise NotImplementedError"] + lines[last + 1:]) + "\n"

    with pytest.raises(NotImplementedError):
        run_edited_copy(tmp_path, stub, capsys)


def test_the_exercise_markers_wrap_the_whole_body():
    source = PATH.read_text(encoding="utf-8")
    first, last, indent = exercise_region(source)
    body = source.splitlines()[first + 1:last]
    assert body[-1].strip() == "return theta, m, v"
    assert all(line.startswith(indent) for line in body)
    assert list(itertools.dropwhile(lambda line: not line.startswith("def adam_step"),
                                    source.splitlines()))[0].startswith("def adam_step(")
