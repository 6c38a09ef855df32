"""The bug zoo: every classic mistake is caught, the correct layers are not flagged."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from toolkit import bugs, cli, manual
from toolkit.gradient_check import gradient_report
from toolkit.twins import make_twins

REQUIRED_KINDS = {
    "missing-transpose",
    "forgotten-1/N",
    "flipped-sign",
    "bias-not-summed",
    "softmax-without-one-hot",
    "tanh-slope-from-input",
    "relu-mask-from-wrong-tensor",
    "gradient-overwritten",
}
SPECIMENS = pytest.mark.parametrize("specimen", bugs.CATALOGUE, ids=lambda s: s.kind)

pytestmark = pytest.mark.xdist_group(__name__)    # the module fixtures are built once: keep it on one xdist worker


@pytest.fixture(scope="module")
def zoo():
    """Every specimen, buggy and control, examined once: {kind: (bug, control)}."""
    found, controls = bugs.run_zoo()
    return {bug.specimen.kind: (bug, control) for bug, control in zip(found, controls)}


def test_the_catalogue_holds_the_required_kinds():
    kinds = [specimen.kind for specimen in bugs.CATALOGUE]
    assert len(kinds) == len(set(kinds))
    assert REQUIRED_KINDS <= set(kinds)


@SPECIMENS
def test_each_bug_is_a_copy_of_a_shipped_class_with_its_own_backward(specimen):
    assert specimen.buggy is not specimen.correct
    assert issubclass(specimen.buggy, specimen.correct)
    assert "backward" in vars(specimen.buggy)
    assert specimen.correct.__module__.startswith("toolkit.manual.")
    assert specimen.where == "loss" or specimen.where > 0, "a buggy layer must not be the first layer"


@SPECIMENS
def test_the_mistake_is_in_backward_only(specimen):
    (buggy, batches), (correct, _) = bugs.build(specimen, buggy=True), bugs.build(specimen, buggy=False)
    x, y = batches[0]
    assert torch.equal(buggy.manual_net(x), correct.manual_net(x))
    assert torch.equal(buggy.manual_loss(buggy.manual_net(x), y), correct.manual_loss(correct.manual_net(x), y))


@SPECIMENS
def test_every_bug_is_caught(zoo, specimen):
    result, _ = zoo[specimen.kind]
    assert result.caught, f"{specimen.kind} slipped through:\n{result.one_batch}\n{result.accumulation}"
    # the independent witnesses agree with each other: the blame is on the hand-written gradient
    for row in result.one_batch.rows:
        if len(row.comparisons) == 3:
            assert row.comparisons[2].label == "autograd vs finite diff" and row.comparisons[2].allclose
    if specimen.kind == "gradient-overwritten":
        # invisible to one backward on fresh gradients; only accumulation shows it
        assert result.one_batch.ok and not result.accumulation.ok
    else:
        assert not result.one_batch.ok


@SPECIMENS
def test_every_bug_is_located_at_its_layer(zoo, specimen):
    result, _ = zoo[specimen.kind]
    catcher = result.accumulation if result.one_batch.ok else result.one_batch
    if specimen.where == "loss":
        assert catcher.first_disagreement.startswith("the loss (")
    else:
        kind = specimen.correct.__name__
        assert catcher.first_disagreement == f"layer {specimen.where} ({kind})"


@SPECIMENS
def test_the_control_passes(zoo, specimen):
    _, result = zoo[specimen.kind]
    assert not result.buggy
    assert result.passes, f"control for {specimen.kind} flagged:\n{result.one_batch}\n{result.accumulation}"
    assert not result.caught


def test_relu_inputs_stay_away_from_the_kink():
    specimen = next(s for s in bugs.CATALOGUE if s.activation == "relu")
    twins, batches = bugs.build(specimen, buggy=False)
    for x, _ in batches:
        h = x
        for layer in twins.torch_net:
            if isinstance(layer, torch.nn.ReLU):
                assert h.abs().min() > 1e-3, "pick another seed: a ReLU input is too close to 0"
            h = layer(h)


def test_the_shipped_classes_are_unchanged_after_the_zoo(zoo):
    assert len(zoo) == len(bugs.CATALOGUE)      # the zoo has run
    for cls in (manual.Linear, manual.Tanh, manual.ReLU, manual.MSELoss, manual.BCEWithLogitsLoss,
                manual.CrossEntropyLoss):
        assert cls.backward.__qualname__ == f"{cls.__name__}.backward"
        assert cls.backward.__module__.startswith("toolkit.manual.")
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(5, 3, generator=generator, dtype=torch.float64)
    targets = {
        "mse": (manual.MSELoss(), torch.randn(5, 2, generator=generator, dtype=torch.float64)),
        "bce": (manual.BCEWithLogitsLoss(), torch.randint(0, 2, (5, 2), generator=generator).to(torch.float64)),
        "ce": (manual.CrossEntropyLoss(), torch.randint(0, 2, (5,), generator=generator)),
    }
    for activation, name in (("tanh", "mse"), ("relu", "ce"), ("sigmoid", "bce")):
        manual_loss, y = targets[name]
        twins = make_twins([3, 4, 4, 2], activation, loss=manual_loss, seed=3)
        assert all(type(layer).__module__.startswith("toolkit.manual.") for layer in twins.manual_net)
        report = gradient_report(twins, x, y, f"{activation}, {name}", first_layer=True)
        assert report.ok, str(report)


def test_the_command_line_catches_every_bug(capsys):
    code = cli.main(["bugs"])
    out = capsys.readouterr().out
    assert code == 0, out[-2000:]
    total = len(bugs.CATALOGUE)
    assert out.count("-> CAUGHT") == total
    assert out.count("first disagreement: layer 2 (Linear)") >= 3
    assert "== control: the correct layer passes" in out
    assert "-> the control passes" in out
    assert out.rstrip().endswith(f"caught {total} of {total} bugs")


def test_a_missed_bug_fails_the_command(monkeypatch, capsys):
    # a "bug" that is the correct class itself cannot be caught: the command must say so and exit 1
    not_a_bug = dataclasses.replace(bugs.CATALOGUE[0], buggy=manual.Linear)
    monkeypatch.setattr(bugs, "CATALOGUE", [not_a_bug])
    assert bugs.main() == 1
    out = capsys.readouterr().out
    assert "-> MISSED" in out and out.rstrip().endswith("caught 0 of 1 bugs")
