"""Lesson 11: adaptive steps.

The lesson runs once as a script with its defaults (the shared run whose
figures test_lessons.py checks). Then: its hand-written
``adam_step`` against torch's Adam at every step, Adam's first step
lr·sign(g), the step lengths on the valley, the fair race (a sweep over rates
and seeds whose numbers the text quotes, and whose runs with the lesson's
seed are the twins' runs) and what the text says of weight decay, on the
held-out points too. Two edited copies of the lesson show that its exercise
is really used: a wrong formula is reported as a disagreement, and the stub
the exercise tool leaves behind stops the lesson.
"""

import itertools
import math
import re

import numpy as np
import pytest
import torch
from torch import nn

from helpers import lesson_group, run_lesson_script
from toolkit import catalogue

PATH = catalogue.find_lesson("11")
FIGURES = {"adaptive_paths", "step_sizes", "rate_sweep", "moons_losses", "weight_decay"}

pytestmark = lesson_group(PATH.stem)


@pytest.fixture(scope="module")
def lesson(lesson_runs):
    """The lesson run as a script with its defaults: the names it defined (shared, read-only)."""
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
    # The text: after 40 steps Adam is still 0.44 from the minimum, with steps about 0.05 long in each coordinate.
    adam = lesson["valley_runs"]["Adam, lr = 0.3"]
    assert adam.steps == 40 and adam.path_manual[-1].norm().item() == pytest.approx(0.44, abs=0.005)
    last = (adam.path_manual[-1] - adam.path_manual[-2]).abs()
    assert ((0.03 < last) & (last < 0.07)).all()
    assert adam.path_manual[-1].norm() < adam.path_manual[-2].norm()          # on its way back


def test_one_colour_per_optimiser_in_every_figure(lesson):
    from toolkit.plots.adaptive_steps import COLORS as colors, color_of
    assert len(set(colors.values())) == len(colors)
    names = [*lesson["walkers"], *lesson["RACE"], *lesson["decay_runs"]]
    kinds = {name: next(kind for kind in sorted(colors, key=len, reverse=True) if name.startswith(kind))
             for name in names}
    assert {color_of(name) for name in names} == set(colors.values())
    assert all(color_of(name) == colors[kind] for name, kind in kinds.items())
    assert kinds["Adam + L2"] == "Adam + L2" and kinds["AdamW"] == "AdamW"
    from toolkit.plots import style
    assert style.VERMILLION not in colors.values() and style.BLUE not in colors.values()


def test_the_sweep_holds_the_twins_runs(lesson):
    swept, run = lesson["swept"], lesson["run"]
    assert swept.seeds == [0, 1, 2, 3, 4] and swept.losses.shape == (14 * 5, run.steps)
    assert not swept.diverged.any()
    assert all(gap < 1e-12 for gap in lesson["gaps"].values()) and set(lesson["gaps"]) == {"Adam", "Adam + L2", "AdamW"}
    # the batch loss it keeps is the twins' loss at every step, for the lesson's seed
    adam = lesson["decay_runs"]["Adam"]
    torch.testing.assert_close(swept.losses[swept.index(("Adam", run.lr), run.seed)],
                               torch.tensor(adam.loss_autograd), rtol=1e-10, atol=1e-13)


def test_the_race_says_what_the_text_says(lesson):
    of, train_loss, held_accuracy = lesson["of"], lesson["train_loss"], lesson["held_accuracy"]
    mean = lesson["geometric_mean"]
    chosen = lesson["chosen"]
    assert chosen == {"gradient descent": 3.0, "momentum β = 0.9": 1.0, "RMSprop": 0.1, "Adam": 0.1}
    said = {name: f"{mean(of(train_loss, (name, lr))):.1e}" for name, lr in chosen.items()}
    assert said == {"gradient descent": "1.2e-02", "momentum β = 0.9": "7.0e-04", "RMSprop": "7.3e-03",
                    "Adam": "7.9e-04"}
    # seed by seed: the heavy ball and Adam below gradient descent and RMSprop every time; the rest level
    below = lesson["below"]
    for fast in ("momentum β = 0.9", "Adam"):
        for slow in ("gradient descent", "RMSprop"):
            pair = (fast, slow) if (fast, slow) in below else (slow, fast)
            assert below[pair] == (5 if pair[0] == fast else 0), pair
    assert below[("momentum β = 0.9", "Adam")] == 1 and below[("gradient descent", "RMSprop")] == 2
    # equal effective steps: at 3 the heavy ball (lr 0.3) ends at half of gradient descent's loss; at 10 plain
    # gradient descent no longer settles (0.69, one seed at 43)
    assert f"{mean(of(train_loss, ('momentum β = 0.9', 0.3))):.1e}" == "5.7e-03"
    assert f"{mean(of(train_loss, ('gradient descent', 10.0))):.2f}" == "0.69"
    assert round(float(of(train_loss, ("gradient descent", 10.0)).max())) == 43
    # Adam is the easier to tune: three times off its best costs a factor of 2 to 4; the heavy ball 8 below, far more above
    adam = [mean(of(train_loss, ("Adam", lr))) for lr in (0.03, 0.1, 0.3)]
    assert 2 < adam[2] / adam[1] < adam[0] / adam[1] < 4.2
    heavy = [mean(of(train_loss, ("momentum β = 0.9", lr))) for lr in (0.3, 1.0, 3.0)]
    assert round(heavy[0] / heavy[1]) == 8 and heavy[2] / heavy[1] > 1000
    # held out at the chosen rates: 97.7 % to 98.7 % right
    right = sorted(round(100 * float(of(held_accuracy, (name, lr)).mean()), 1) for name, lr in chosen.items())
    assert right[0] == 97.7 and right[-1] == 98.7
    recorded = lesson["run"].extra["race"]
    assert recorded["Adam"]["chosen_lr"] == 0.1 and len(recorded["Adam"]["train_loss"]) == 3


def test_weight_decay_says_what_the_text_says(lesson):
    run = lesson["run"]
    norms = run.extra["weight_norms"]
    # the lesson's seed: AdamW ends barely shorter than Adam (10.9 against 11.1), Adam + L2 less than half (4.4)
    assert [f"{norms[name]:.3g}" for name in ("Adam", "AdamW", "Adam + L2")] == ["11.1", "10.9", "4.42"]
    assert run.extra["weight_decay"]["l2_factor_median"] == pytest.approx(430, abs=5)        # "about 430"
    # by gradient size, in sixths, pooled over the seeds: AdamW alike everywhere, L2 shrinks small gradients most
    rms = lesson["gradient_rms"].numpy()
    groups = np.array_split(np.argsort(rms, kind="stable"), 6)
    medians = {name: [float(np.median(ratio.numpy()[group])) for group in groups]
               for name, ratio in lesson["ratios"].items()}
    assert all(0.95 < value <= 1.0 for value in medians["AdamW"])
    assert medians["Adam + L2"][0] < 0.25 and 0.55 < medians["Adam + L2"][-1] < 0.7
    assert medians["Adam + L2"] == sorted(medians["Adam + L2"])
    # held out, five seeds: L2 about twice Adam's loss (0.066 against 0.034), one point fewer right; AdamW as Adam
    summary = lesson["decay_summary"]
    loss = {name: float(entry["held_loss"].mean()) for name, entry in summary.items()}
    right = {name: round(100 * float(entry["held_accuracy"].mean()), 1) for name, entry in summary.items()}
    assert [f"{loss[name]:.3f}" for name in ("Adam", "Adam + L2", "AdamW")] == ["0.034", "0.066", "0.033"]
    assert right == {"Adam": 99.0, "Adam + L2": 98.1, "AdamW": 99.0}
    assert run.extra["weight_decay"]["l2_worse_on_seeds"] == 4
    # "the training loss stalls near 0.06"
    assert f"{lesson['geometric_mean'](lesson['of'](lesson['train_loss'], ('Adam + L2', run.lr))):.2f}" == "0.06"


def test_every_run_keeps_the_twins_together_and_every_figure_is_described(lesson):
    run = lesson["run"]
    assert run.reports and all(report.ok for report in run.reports)
    assert len(run.histories) == 4 + 3
    for history in run.histories.values():
        assert history.twins_agree and not history.diverged
        torch.testing.assert_close(history.path_manual, history.path_autograd, rtol=1e-10, atol=1e-12)
    assert set(run.captions) == FIGURES
    for name, text in run.captions.items():
        assert len(text["caption"]) > 80 and len(text["alt"]) > 80, name
        assert "orange" not in text["caption"] + text["alt"], name
    summary = run.summary()
    assert summary["lr"] == 0.03 and summary["steps"] == 150 and math.isfinite(summary["final_loss"]["manual"])


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
