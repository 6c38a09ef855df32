"""The diagnoses of lessons 16 and 17's exercises: a wrong Dropout backward and a wrong clipping rule.

Each classic mistake, written into the exercise's place, is named; the right
answer is never named as a mistake.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from toolkit import diagnose, exercises, manual
from toolkit.gradient_check import gradient_report
from toolkit.twins import Twins, make_twins


# --------------------------------------------------------------------------- Dropout


def dropout_twins_with(backward, p=0.3):
    """A 6-16-3 network whose Dropout layer's backward is ``backward(dout, mask, p)``."""

    class WrittenDropout(manual.Dropout):
        def backward(self, dout, input_grad=True):
            return backward(dout, self._saved(self._mask), self._p_used)

    twins = make_twins([6, 16, 3], "relu", loss=manual.CrossEntropyLoss(), seed=1, dropout=p)
    twins.manual_net.layers[2] = WrittenDropout(p)
    return Twins.of(twins.manual_net, twins.manual_loss)


def diagnosis_of(backward, p=0.3):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(30, 6, generator=g, dtype=torch.float64)
    y = torch.randint(0, 3, (30,), generator=g)
    torch.manual_seed(3)
    report = gradient_report(dropout_twins_with(backward, p), x, y)
    return report, diagnose.diagnose(report)


def test_the_right_dropout_backward_is_not_a_mistake():
    report, diagnosis = diagnosis_of(lambda dout, mask, p: dout * (mask / (1 - p)))
    assert report.ok and diagnosis is None
    # written in the other order it differs from torch's in the last bit at most: still right
    report, diagnosis = diagnosis_of(lambda dout, mask, p: dout * mask / (1 - p))
    assert report.ok and diagnosis is None


@pytest.mark.parametrize("wrong, kind, words", [
    (lambda dout, mask, p: dout * mask, "dropout-scale", "not scaled at all"),
    (lambda dout, mask, p: dout * mask * (1 - p), "dropout-scale", "multiplied by 1 − p"),
    (lambda dout, mask, p: dout * mask / p, "dropout-scale", "divided by p"),
    (lambda dout, mask, p: dout / (1 - p), "dropout-mask-missing", "no mask at all"),
    (lambda dout, mask, p: dout, "dropout-mask-missing", "no mask at all"),
    (lambda dout, mask, p: dout * torch.empty_like(dout).bernoulli_(1 - p) / (1 - p), "dropout-mask-missing",
     "not the forward pass's"),
])
def test_each_classic_dropout_mistake_is_named(wrong, kind, words):
    report, diagnosis = diagnosis_of(wrong)
    assert not report.ok
    assert diagnosis.kind == kind and diagnosis.where == "layer 2 (Dropout)"
    assert words in str(diagnosis), str(diagnosis)


def test_a_scale_of_one_half_is_not_called_a_forgotten_two():
    # with p = 0.5 the missing 1/(1 − p) halves the gradient, which the generic rule would call a forgotten 2
    _, diagnosis = diagnosis_of(lambda dout, mask, p: dout * mask, p=0.5)
    assert diagnosis.kind == "dropout-scale"


# --------------------------------------------------------------------------- clipping


def right(grads, max_norm):
    total = torch.stack([g.norm() for g in grads]).norm()
    scale = torch.clamp(max_norm / (total + 1e-6), max=1.0)
    for g in grads:
        g.mul_(scale)
    return total


def per_tensor(grads, max_norm):
    for g in grads:
        g.mul_(min(max_norm / (g.norm().item() + 1e-6), 1.0))
    return torch.stack([g.norm() for g in grads]).norm()


def scales_up(grads, max_norm):
    total = torch.stack([g.norm() for g in grads]).norm()
    for g in grads:
        g.mul_(max_norm / (total + 1e-6))
    return total


def norms_added(grads, max_norm):
    total = sum(g.norm() for g in grads)
    for g in grads:
        g.mul_(torch.clamp(max_norm / (total + 1e-6), max=1.0))
    return torch.stack([g.norm() for g in grads]).norm()


def by_value(grads, max_norm):
    total = torch.stack([g.norm() for g in grads]).norm()
    for g in grads:
        g.clamp_(-max_norm, max_norm)
    return total


def no_guard(grads, max_norm):
    total = torch.stack([g.norm() for g in grads]).norm()
    for g in grads:
        g.mul_(torch.clamp(max_norm / total, max=1.0))
    return total


def not_in_place(grads, max_norm):
    total = torch.stack([g.norm() for g in grads]).norm()
    grads = [g * torch.clamp(max_norm / (total + 1e-6), max=1.0) for g in grads]
    return total


def returns_after(grads, max_norm):
    right(grads, max_norm)
    return torch.stack([g.norm() for g in grads]).norm()


def test_the_right_clipping_is_not_a_mistake(device):
    assert diagnose.diagnose_clipping(exercises.clipping_cases(right, device=device)) is None


@pytest.mark.parametrize("wrong, kind", [
    (per_tensor, "clip-per-tensor"), (scales_up, "clip-scales-up"), (norms_added, "clip-norms-added"),
    (by_value, "clip-by-value"), (no_guard, "clip-guard-missing"), (not_in_place, "clip-not-in-place"),
    (returns_after, "clip-returns-after"),
], ids=lambda v: getattr(v, "__name__", v))
def test_each_classic_clipping_mistake_is_named(wrong, kind):
    diagnosis = diagnose.diagnose_clipping(exercises.clipping_cases(wrong), wrong.__name__)
    assert diagnosis is not None and diagnosis.kind == kind, str(diagnosis)
    text = str(diagnosis)
    assert text.startswith(f"diagnosis: {wrong.__name__} differs from torch.nn.utils.clip_grad_norm_")
    assert "most likely" in text


def test_an_unknown_clipping_mistake_is_described_not_named():
    def halves(grads, max_norm):
        total = torch.stack([g.norm() for g in grads]).norm()
        for g in grads:
            g.mul_(0.5)
        return total

    diagnosis = diagnose.diagnose_clipping(exercises.clipping_cases(halves))
    assert diagnosis.kind is None and "none of the classic mistakes fits" in str(diagnosis)


def fake_run(tmp_path, student=False):
    """Just what check_clipping uses of a lesson run; ``student``: its file is a student version."""
    file = tmp_path / "17_practical_recipe.py"
    file.write_text(f"# # 17 · x\n{exercises.STUDENT_NOTE}): ...\n" if student else "# # 17 · x\n", encoding="utf-8")
    recorded = {}
    return SimpleNamespace(seed=0, device=torch.device("cpu"), dtype=torch.float64, file=file,
                           record=recorded.__setitem__, recorded=recorded)


def test_check_clipping_prints_one_line_and_records_it(tmp_path, capsys):
    run = fake_run(tmp_path)
    exercises.check_clipping(run, right)
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "they agree" in out and "clip_grad_norm_" in out
    assert run.recorded["clipping_check"]["agree"] is True


def test_a_wrong_clipping_stops_the_student_version_with_its_diagnosis(tmp_path, capsys):
    with pytest.raises(SystemExit) as stopped:
        exercises.check_clipping(fake_run(tmp_path, student=True), scales_up)
    assert stopped.value.code == 1
    out = capsys.readouterr().out
    assert "THEY DISAGREE" in out and "not capped at 1" in out and "fix " in out
    # in the lesson itself (not a student version) the verdict is printed and the lesson goes on
    exercises.check_clipping(fake_run(tmp_path), scales_up)
    assert "THEY DISAGREE" in capsys.readouterr().out
