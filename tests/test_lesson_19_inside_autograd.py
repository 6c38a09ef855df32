"""Lesson 19: inside autograd.

The lesson runs once as a script (no figures; test_lessons.py checks those). Then its engine on its
own: every rule against torch.autograd on fresh shapes, a graph with a value used many times, the
sweep's order, leaves that accumulate and intermediate values that do not; the three twins at every
step; the forward-mode count against its formula. Then the exercises: a student's wrong tanh or
product rule stops the lesson, named as the classic mistake it is.
"""

import re
import warnings

import pytest
import torch

from helpers import lesson_group, run_lesson_script, student_file
from toolkit import catalogue, exercises

PATH = catalogue.find_lesson("19")


def run_quietly(path, *flags):
    """run_lesson_script, with torch's own warning about its use of torch.jit.script (the first forward-mode
    pass loads it, in some torch versions) ignored, as toolkit.landscape ignores it."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"`torch\.jit\.script` is deprecated")
        return run_lesson_script(path, *flags)


pytestmark = lesson_group(PATH.stem)


@pytest.fixture(scope="module")
def lesson(lesson_runs):
    """The names the lesson defined, in its shared run (read-only)."""
    return lesson_runs(PATH.stem).names


def values_and_tensors(lesson, *shapes, seed=0):
    generator = torch.Generator().manual_seed(seed)
    tensors = [torch.randn(shape, generator=generator, dtype=torch.float64) for shape in shapes]
    return [lesson["Value"](t.clone()) for t in tensors], [t.clone().requires_grad_(True) for t in tensors]


def test_every_rule_agreed_with_autograd_in_the_lesson(lesson):
    assert set(lesson["rule_check"]) == set(lesson["RULES"])
    assert max(lesson["rule_check"].values()) <= 1e-12


@pytest.mark.parametrize("expression, shapes", [
    (lambda a, b, c: ((a @ b).tanh() * c - c).mean(), [(4, 3), (3, 5), (5,)]),
    (lambda a, b, c: (a.T @ a + b).tanh().mean() * c.mean(), [(6, 2), (2, 2), (1, 1)]),
    (lambda a, b, c: ((a + b) * (a - b) * a).mean() + c.mean(), [(3, 3), (3,), (2,)]),
])
def test_the_engine_differentiates_whole_expressions_as_autograd_does(lesson, expression, shapes):
    leaves, tensors = values_and_tensors(lesson, *shapes)
    expression(*leaves).backward()
    expected = torch.autograd.grad(expression(*tensors), tensors)
    for leaf, grad in zip(leaves, expected):
        torch.testing.assert_close(leaf.grad, grad, rtol=1e-12, atol=1e-14)


def test_a_value_used_many_times_collects_every_share(lesson):
    Value = lesson["Value"]
    a = Value(torch.tensor(1.5, dtype=torch.float64))
    out = a
    for _ in range(4):
        out = out * a                                   # a⁵, with a used five times
    out.backward()
    assert a.grad.item() == pytest.approx(5 * 1.5 ** 4, rel=1e-14)


def test_leaves_accumulate_over_sweeps_and_intermediate_values_start_fresh(lesson):
    Value = lesson["Value"]
    a = Value(torch.tensor(2.0, dtype=torch.float64))
    middle = a * a
    out = middle.tanh()
    out.backward()
    once, middle_once = a.grad.item(), middle.grad.item()
    out.backward()
    assert a.grad.item() == pytest.approx(2 * once, rel=1e-14)           # as torch's .grad
    assert middle.grad.item() == pytest.approx(middle_once, rel=1e-14)   # not 2x, not 3x: each sweep afresh
    t = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
    for _ in range(2):
        (t * t).tanh().backward()
    assert a.grad.item() == pytest.approx(t.grad.item(), rel=1e-14)
    assert (lesson["first"], lesson["e"].grad.item()) == (6.0, 12.0)
    assert (lesson["torch_first"], lesson["t"].grad.item()) == (6.0, 12.0)


def test_the_sweep_visits_every_value_after_all_its_users(lesson):
    # A diamond: b and c both use a, d uses both. Reversed topological order: d before b and c, both before a.
    Value = lesson["Value"]
    a = Value(torch.tensor(0.3, dtype=torch.float64))
    b, c = a.tanh(), a * a
    d = b * c
    seen = []
    for value, name in ((a, "a"), (b, "b"), (c, "c"), (d, "d")):
        rule = value._backward
        value._backward = lambda rule=rule, name=name: (seen.append(name), rule())
    d.backward()
    assert seen.index("d") < min(seen.index("b"), seen.index("c")) and seen[-1] == "a"
    expected = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)
    (expected.tanh() * expected * expected).backward()
    assert a.grad.item() == pytest.approx(expected.grad.item(), rel=1e-14)


def test_the_three_twins_agree_at_every_step(lesson):
    by_hand, by_engine = lesson["by_hand"], lesson["by_engine"]
    assert lesson["same_torch"] and torch.equal(by_hand.path_autograd, by_engine.path_autograd)
    assert lesson["engine_vs_hand"] <= 1e-12
    for history in (by_hand, by_engine):
        assert history.twins_agree and history.max_abs_grad_diff <= 1e-12
    assert by_engine.loss_manual == pytest.approx(by_hand.loss_manual, rel=1e-12)
    assert by_hand.final_loss_manual < 0.1 * by_hand.loss_manual[0]


def test_the_engine_twin_passes_the_gradient_report_and_the_accumulation_check(lesson):
    reports = lesson["run"].reports
    assert len(reports) == 4 and all(report.ok for report in reports)


def test_forward_mode_costs_p_passes_and_gives_the_same_gradient(lesson):
    counts = lesson["counts"]
    for c in counts:
        assert c["forward_mode"] == c["parameters"] * c["one_jvp"]
        assert 2 * c["forward"] <= c["reverse"] <= 3 * c["forward"]          # one pass forward, about two back
        assert 2 * c["forward"] <= c["one_jvp"] <= 3 * c["forward"]          # values and tangents together
    assert counts[-1]["forward_mode"] > 1000 * counts[-1]["reverse"]
    assert lesson["forward_gap"] < 1e-15


def test_the_graph_shows_the_fan_out_shares(lesson):
    nodes = lesson["nodes"]
    (e,) = [node for node in nodes if node.label.startswith("e ")]
    square = next(node for node in nodes if node.inputs == [nodes.index(e)] * 2)
    assert lesson["share"] == pytest.approx(e.value * square.grad, rel=1e-14)
    assert 2 * lesson["share"] == pytest.approx(e.grad, rel=1e-14) == pytest.approx(2 * e.value, rel=1e-14)
    assert nodes[-1].label.startswith("L ") and nodes[-1].grad == 1.0
    assert sorted(node.label for node in nodes if not node.inputs) == sorted(["w₁", "x", "b₁", "w₂", "b₂", "y"])


# --------------------------------------------------------------------------- the exercises


def student_run(tmp_path, capsys, **bodies):
    """The student version with every exercise solved but ``bodies``, run as a script: (its output, how it ended)."""
    file = student_file(PATH, tmp_path, **bodies)
    try:
        run_quietly(file, "--device", "cpu", "--quiet", "--no-figures", "--steps", "2")
        ended = None
    except (SystemExit, NotImplementedError) as error:
        ended = error
    return capsys.readouterr().out, ended


@pytest.mark.parametrize("name, body, named", [
    ("tanh_backward", "self.grad += (1 - self.data ** 2) * out.grad", "tanh's slope taken from the input"),
    ("tanh_backward", "self.grad = (1 - out.data ** 2) * out.grad", "a gradient overwritten instead of added"),
    ("mul_backward", "self.grad = unbroadcast(other.data * out.grad, self.data.shape)\n"
                     "other.grad = unbroadcast(self.data * out.grad, other.data.shape)",
     "a gradient overwritten instead of added"),
])
def test_a_classic_mistake_in_a_rule_is_named_and_stops_the_student_version(tmp_path, capsys, name, body, named):
    out, ended = student_run(tmp_path, capsys, **{name: body})
    assert isinstance(ended, SystemExit) and ended.code == 1
    assert f"most likely {named}" in out
    assert re.search(rf"in exercise {name} \(19_inside_autograd\.py, line \d+\)", out)
    assert f"fix exercise {name} and run this file again" in out


def test_the_solutions_pass_and_an_empty_rule_gives_one_line(tmp_path, capsys):
    out, ended = student_run(tmp_path, capsys)
    assert ended is None and "DISAGREES" not in out
    out, ended = student_run(tmp_path, capsys, tanh_backward='raise NotImplementedError("exercise tanh_backward: x")')
    assert isinstance(ended, NotImplementedError)
    assert exercises.friendly_line(ended).startswith("exercise tanh_backward is not written yet")
