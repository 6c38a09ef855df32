"""Lesson 14: softmax over three classes and batch normalisation.

The lesson runs once as a script with its defaults (the shared run whose
figures test_lessons checks), and what it says is checked: the first losses
against ln 3, the three twin runs (default init, Kaiming init, batch norm)
agreeing at every step and ending as the text says, on training and held-out
points, the sweep over seeds and rates matching the twins' run and giving the
numbers the text quotes, and the modes of batch norm. The lesson's own
batch-norm backward is the library's formula, and a wrong one is caught by
the report it feeds.
"""

import math

import pytest
import torch

from helpers import gen, lesson_group
from toolkit import catalogue, data, manual
from toolkit.gradient_check import gradient_report
from toolkit.parameters import buffers_kept
from toolkit.plots.softmax_batchnorm import bands
from toolkit.train import train

PATH = catalogue.find_lesson("14")
LN3 = math.log(3)


pytestmark = lesson_group(PATH.stem)


@pytest.fixture(scope="module")
def lesson(lesson_runs):
    """The names the lesson defined, run as `python lessons/14_softmax_batchnorm.py` (shared with test_lessons.py)."""
    return lesson_runs(PATH.stem).names


def runs_of(lesson, bn: bool):
    return {label: entry for label, entry in lesson["runs"].items() if entry["bn"] == bn}


def test_the_spiral_has_three_balanced_arms_inside_the_unit_disc():
    x, y = data.spiral(n=300, classes=3, seed=0)
    assert x.shape == (300, 2) and x.dtype == torch.float64 and y.dtype == torch.long
    assert torch.bincount(y).tolist() == [100, 100, 100]
    assert float(x.norm(dim=1).max()) <= 1.0 + 1e-12
    again, _ = data.spiral(n=300, classes=3, seed=0)
    other, _ = data.spiral(n=300, classes=3, seed=1)
    assert torch.equal(x, again) and not torch.equal(x, other)
    _, y7 = data.spiral(n=7, classes=3)
    assert torch.bincount(y7).tolist() == [3, 2, 2]
    with pytest.raises(ValueError, match="classes must be a whole number >= 2"):
        data.spiral(classes=1)
    with pytest.raises(ValueError, match=r"n must be a whole number >= classes \(3\)"):
        data.spiral(n=2)


def test_the_first_loss_is_the_chance_level(lesson):
    recorded = lesson["run"].extra["first_loss"]
    assert recorded["ln_K"] == pytest.approx(LN3, rel=1e-15)
    for key in ("default init", "Kaiming init", "batch norm"):
        assert recorded[key]["manual"] == pytest.approx(recorded[key]["autograd"], rel=1e-12)
    assert abs(recorded["default init"]["manual"] - LN3) < 0.005          # "within a few thousandths"
    assert recorded["Kaiming init"]["manual"] == pytest.approx(1.07, abs=0.005)     # "1.07 here"
    assert abs(recorded["batch norm"]["manual"] - LN3) < 0.05
    # "seed 2 gives 1.55": the lesson run with --seed 2 starts its Kaiming network there
    (x, y), _ = lesson["spirals"](2)
    twins = lesson["network"](init="kaiming", seed=2)
    assert float(twins.manual_loss(twins.manual_net(x), y)) == pytest.approx(1.55, abs=0.005)


def test_the_data_is_split_by_the_seed(lesson):
    (x, y), (x_held, y_held) = lesson["spirals"](0)
    assert len(x) == 300 and len(x_held) == lesson["HELD_OUT"] == 150
    torch.testing.assert_close(lesson["x"], x, rtol=0, atol=0)
    everything, labels = data.spiral(n=450, classes=3, noise=0.2, seed=0)
    assert torch.equal(torch.cat([x, x_held]).sort(dim=0).values, everything.sort(dim=0).values)
    assert int(torch.bincount(torch.cat([y, y_held]))[0]) == int(torch.bincount(labels)[0]) == 150


def test_the_softmax_example(lesson):
    probs = lesson["probs"]
    torch.testing.assert_close(probs.sum(dim=1), torch.ones(3, dtype=torch.float64))
    assert probs[1].tolist() == pytest.approx([1 / 3] * 3)
    assert float(lesson["loss"]) == pytest.approx((0.3490 + LN3 + 5.0134) / 3, abs=1e-4)


def test_every_run_and_every_report_agrees(lesson):
    run = lesson["run"]
    assert len(run.reports) == 2 and all(report.ok for report in run.reports)     # the batch-norm network's report
    assert list(run.histories) == ["default init", "Kaiming init", "batch norm"]
    for history in run.histories.values():
        assert history.twins_agree and history.max_abs_grad_diff <= 1e-12 and not history.diverged
        assert history.steps == run.steps == 150 and history.lr == run.lr == 0.5
    assert lesson["differ"] == 0


def test_the_batch_norm_twins_end_with_the_same_running_statistics(lesson):
    (label, entry), = runs_of(lesson, bn=True).items()
    twins = entry["twins"]
    mine, theirs = dict(twins.manual_net.named_buffers()), dict(twins.torch_net.named_buffers())
    assert list(mine) == list(theirs) and len(mine) == 9            # three layers, three buffers each
    for name in mine:
        if name.endswith("num_batches_tracked"):
            assert int(mine[name]) == int(theirs[name]) == lesson["run"].steps
        else:
            torch.testing.assert_close(mine[name], theirs[name], rtol=1e-10, atol=1e-12)
            assert not torch.equal(mine[name], torch.zeros_like(mine[name]))
    manual_probs, autograd_probs = lesson["predictions"](twins, lesson["x_held"])
    torch.testing.assert_close(manual_probs, autograd_probs, rtol=1e-10, atol=1e-12)


def test_the_three_runs_end_as_the_lesson_says(lesson):
    runs = lesson["runs"]
    default, kaiming, bn = runs["default init"], runs["Kaiming init"], runs["batch norm"]
    # dead units of the last hidden layer: 16 -> 5 with the default draw, 6 -> 0 with Kaiming's, none with batch norm
    assert (default["dead_start"], default["dead"]) == (16, 5)
    assert (kaiming["dead_start"], kaiming["dead"]) == (6, 0)
    assert bn["dead_start"] == bn["dead"] == 0
    # the table: held-out accuracy 73 %, 93 % and 95 % with this seed
    assert [round(100 * entry["held_accuracy"], 1) for entry in runs.values()] == [73.3, 93.3, 95.3]
    assert default["held_loss"] > 0.7 > 0.2 > kaiming["held_loss"] and bn["held_loss"] < 0.2
    recorded = lesson["run"].extra["bn_runs"]
    assert recorded["batch norm"]["held_accuracy"] == bn["held_accuracy"] and recorded["default init"]["dead"] == 5


def test_the_bands_move_as_the_captions_say(lesson):
    # 5, 25, 50, 75 and 95 % quantiles of the last hidden ReLU's input at the first and last replayed step
    quantiles = {label: bands(entry["values_manual"]) for label, entry in lesson["runs"].items()}
    default, kaiming, bn = quantiles["default init"], quantiles["Kaiming init"], quantiles["batch norm"]
    assert float(default[0].abs().max()) < 0.3 and float(default[0][2]) < 0                 # small, median below 0
    assert float(default[-1][0]) < -0.7 and 1.2 < float(default[-1][4]) < 1.5               # about -0.8 to 1.4
    assert -1.3 < float(kaiming[0][0]) < -1 and 1 < float(kaiming[0][4]) < 1.2              # about -1 to 1
    assert float(kaiming[-1][0]) < -2 and float(kaiming[-1][4]) > 2.2                      # about -2 to 2.3
    for step in (0, -1):
        assert float(bn[step][0]) < -1.3 and float(bn[step][4]) > 1.6                      # about -1.5 to 2


def test_the_sweep_is_the_twins_run_and_says_what_the_text_says(lesson):
    swept, run = lesson["swept"], lesson["run"]
    assert lesson["SEEDS"] == [0, 1, 2, 3, 4] and lesson["RATES"] == [0.05, 0.5, 2.0]
    for name, result in swept.items():
        assert result["gap_to_twins"] < 1e-12, name
        assert result["held_accuracy"].shape == result["held_loss"].shape == (3, 5)

    def said(name, rate):      # mean and standard deviation over the seeds, in percent, as the text rounds them
        values = swept[name]["held_accuracy"][lesson["RATES"].index(rate)]
        return round(100 * float(values.mean()), 1), round(100 * float(values.std()), 1)

    assert said("Kaiming init", 0.5) == (96.7, 2.3) and said("batch norm", 0.5) == (96.4, 1.7)
    assert round(said("default init", 0.5)[0]) == 77 and round(said("default init", 0.5)[1]) == 10
    for name in ("Kaiming init", "batch norm"):                # "the same held-out loss, 0.11"
        assert round(float(swept[name]["held_loss"][1].mean()), 2) == 0.11
    # each at its best rate of the three, the two tie at 96.7 %
    best = {name: max(round(100 * float(a.mean()), 1) for a in swept[name]["held_accuracy"]) for name in swept}
    assert best["Kaiming init"] == best["batch norm"] == 96.7
    # batch norm between 93 % and 97 % at every rate; Kaiming 85 % at a tenth, 42 % at four times
    assert all(93 <= said("batch norm", rate)[0] <= 97 for rate in lesson["RATES"])
    assert round(said("Kaiming init", 0.05)[0]) == 85 and round(said("Kaiming init", 2.0)[0]) == 42
    assert said("Kaiming init", 2.0)[1] > 3 * said("batch norm", 2.0)[1]                # "with a wide spread"
    assert run.extra["sweep"]["batch norm"]["held_accuracy"] == swept["batch norm"]["held_accuracy"].tolist()


@pytest.mark.parametrize("seed", [1, 2])
def test_the_twins_agree_at_every_step_with_other_seeds(lesson, seed):
    # `--seed` runs the same three twin runs; the two that train furthest agree step by step with other seeds too.
    run = lesson["run"]
    (x, y), _ = lesson["spirals"](seed)
    for norm, init in (lesson["NETWORKS"]["Kaiming init"], lesson["NETWORKS"]["batch norm"]):
        twins = lesson["network"](norm, init=init, seed=seed)
        history = train(twins, x, y, steps=run.steps, lr=run.lr, batch_size=lesson["BATCH"], seed=seed, quiet=True)
        assert history.twins_agree and not history.diverged and history.steps == run.steps, (seed, init)


def test_the_replay_leaves_the_networks_alone(lesson):
    for entry in lesson["runs"].values():
        assert int(entry["steps"][-1]) == lesson["run"].steps and int(entry["steps"][1]) == lesson["STRIDE"]
        assert entry["values_manual"].shape == (len(entry["steps"]), 300, 32)
        torch.testing.assert_close(entry["values_manual"], entry["values_autograd"], rtol=1e-9, atol=1e-11)
    # the replay touched a copy: the batch-norm twins' running statistics count the 150 training steps only
    bn = lesson["runs"]["batch norm"]["twins"].manual_net
    assert all(int(value) == 150 for name, value in bn.named_buffers() if name.endswith("num_batches_tracked"))


def test_training_mode_depends_on_the_batch_and_evaluation_mode_does_not(lesson):
    # What the lesson says of the two modes, on its trained batch-norm network: five points classified in the
    # company of all 300 and alone get different logits in training mode, the same in evaluation mode.
    twins, x = lesson["runs"]["batch norm"]["twins"], lesson["x"]
    with torch.no_grad(), buffers_kept(twins.manual_net, twins.torch_net):
        for net in (twins.manual_net, twins.torch_net):
            assert float((net(x)[:5] - net(x[:5])).abs().max()) > 0.5
        twins.eval()
        for net in (twins.manual_net, twins.torch_net):
            assert float((net(x)[:5] - net(x[:5])).abs().max()) < 1e-12
        twins.train()


def test_the_lessons_backward_is_the_librarys(lesson):
    g = gen(3)
    z = 2 * torch.randn(20, 5, generator=g, dtype=torch.float64) - 1
    dy = torch.randn(20, 5, generator=g, dtype=torch.float64)
    ours, library = lesson["LessonBatchNorm"](5, dtype=torch.float64), manual.BatchNorm1d(5, dtype=torch.float64)
    ours.weight = torch.linspace(0.5, 2.0, 5, dtype=torch.float64)
    library.weight = ours.weight.clone()
    ours(z)
    library(z)
    assert torch.equal(ours.backward(dy), library.backward(dy))
    assert torch.equal(ours.weight.grad, library.weight.grad) and torch.equal(ours.bias.grad, library.bias.grad)
    assert lesson["LessonBatchNorm"].__mro__[1] is manual.BatchNorm1d


def test_a_wrong_batchnorm_backward_is_caught_where_it_is(lesson, monkeypatch):
    # The exercise's function feeds the narrow network's report: a formula without the mean term shows at the
    # last batch norm (layer 7), which is where backpropagation meets it first.
    correct = lesson["batchnorm_backward"]

    def without_the_mean(dout, x_hat, gamma, std):
        dz, dgamma, dbeta = correct(dout, x_hat, gamma, std)
        return dz + gamma / std * dout.mean(dim=0), dgamma, dbeta

    globals_of_the_class = lesson["LessonBatchNorm"].backward.__globals__
    monkeypatch.setitem(globals_of_the_class, "batchnorm_backward", without_the_mean)
    narrow = lesson["network"](lesson["LessonBatchNorm"], width=8)
    x, y = lesson["x"][::5], lesson["y"][::5]
    report = gradient_report(narrow, x, y)
    assert not report.ok and report.first_disagreement == "layer 7 (BatchNorm1d)"
    # (with the right formula the same report agrees: the lesson's own run.check, above)


def test_the_exercise_is_checked_with_gamma_away_from_one_and_its_layer_trains_the_runs(lesson):
    # It was checked at γ = 1, where a dz that forgot γ agrees, and the runs trained the library's layer
    ours = lesson["LessonBatchNorm"]
    norms = [module for module in lesson["narrow"].manual_net if isinstance(module, ours)]
    assert norms and all(float((norm.weight - 1).abs().min()) > 1e-3 for norm in norms)
    assert float((lesson["layer"].weight - 1).abs().min()) > 1e-3
    for entry in runs_of(lesson, bn=True).values():
        assert [type(module) for module in entry["twins"].manual_net].count(ours) == 3
