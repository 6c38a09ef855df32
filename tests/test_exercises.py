"""Exercises: student versions of the lessons, and checks that name the mistake.

Student versions are written from the lessons' markers; each stub raises
its message, and an empty one ends the lesson with one line. The lessons'
own checks run on a student's code: every classic mistake of the bug zoo,
put into the matching exercise, is diagnosed as that mistake (and the zoo's
own specimens are too), while a right answer never is and a random wrong
one is not given a classic name. Student files run in this process, with
--no-figures and two steps, and stop at their first failing check.
"""

from __future__ import annotations

import ast
import os
import re
import sys
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import gen, run_lesson_script
from toolkit import bugs, catalogue, cli, diagnose, exercises, lesson
from toolkit.diagnose import Evidence, examine
from toolkit.gradient_check import accumulation_report, gradient_report
from toolkit.twins import make_twins

PROJECT = Path(__file__).resolve().parents[1]
FLAGS = ("--no-figures", "--quiet", "--steps", "2", "--device", "cpu")
# the lessons whose exercises run.check or run.check_update checks, and whose checks come early
CHEAP = ["01", "02", "04", "05"]
SETTINGS = settings(max_examples=25, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


def lesson_with(exercise: str) -> str:
    """The number of the lesson that marks ``exercise``: lessons get renumbered, exercises keep their names."""
    for path in exercises.lessons_with_exercises():
        if exercise in {e.name for e in exercises.find_exercises(path.read_text(encoding="utf-8"))}:
            return path.name[:2]
    return "00"        # no such lesson (yet): the test that asks for it is skipped


def lesson_text(number: str) -> tuple[Path, str]:
    path = catalogue.find_lesson(number)
    return path, path.read_text(encoding="utf-8")


def solutions(text: str) -> dict[str, str]:
    """Each exercise's solution lines in the lesson, without their indentation."""
    lines = text.splitlines()
    found = {}
    for exercise in exercises.find_exercises(text):
        body = lines[exercise.start:exercise.end - 1]
        found[exercise.name] = "\n".join(line[len(exercise.indent):] for line in body)
    return found


def student_file(tmp_path: Path, number: str, **bodies: str) -> Path:
    """The student version of a lesson in tmp_path, each exercise given in ``bodies`` written in, the others
    left as stubs (a body None: the lesson's own solution)."""
    path, text = lesson_text(number)
    student = exercises.student_version(text)
    answers = solutions(text)
    for name, body in bodies.items():
        student = exercises.fill_exercise(student, name, answers[name] if body is None else body)
    file = tmp_path / path.name
    file.write_text(student, encoding="utf-8")
    return file


def solved_except(number: str, *names: str, **bodies: str) -> dict:
    """Every exercise of the lesson solved, but ``names`` left as stubs and ``bodies`` written in."""
    _, text = lesson_text(number)
    chosen = {name: None for name in solutions(text) if name not in names}
    chosen.update(bodies)
    return chosen


class Reached(Exception):
    """Raised after a lesson's last exercise check: the rest of the lesson is not needed here."""


def run_student(file: Path, monkeypatch, stop_after_checks: bool = True):
    """Run a student file in this process; returns (the diagnoses explained, the exception that ended it)."""
    explained = []
    original = exercises.explain

    def explain(run, diagnosis, code=None):
        explained.append(diagnosis)
        original(run, diagnosis, code)

    monkeypatch.setattr(exercises, "explain", explain)
    if stop_after_checks:
        total = len(re.findall(r"run\.check(_update)?\(", file.read_text(encoding="utf-8")))
        calls = []
        for method in ("check", "check_update"):
            def wrapped(self, *args, _original=getattr(lesson.Lesson, method), **kwargs):
                _original(self, *args, **kwargs)
                calls.append(self)
                if len(calls) == total:
                    raise Reached(self)
            monkeypatch.setattr(lesson.Lesson, method, wrapped)
    try:
        run_lesson_script(file, *FLAGS)
    except (Reached, SystemExit, NotImplementedError, RuntimeError) as error:
        return explained, error
    return explained, None


# --------------------------------------------------------------------------- the markers and the student versions


@pytest.fixture(scope="module")
def lessons_with_exercises():
    return exercises.lessons_with_exercises()


def test_the_hand_written_pieces_are_marked(lessons_with_exercises):
    names = {path.name[:2]: [e.name for e in exercises.find_exercises(path.read_text(encoding="utf-8"))]
             for path in lessons_with_exercises}
    assert names["01"] == ["slope_of_loss", "sgd_update"]
    assert names["02"] == ["mse_backward"]
    assert names["04"] == ["chain_rule"]
    assert names["05"] == ["linear_backward", "tanh_backward", "cross_entropy_backward"]
    assert names["08"] == ["relu_backward"]


def test_every_student_version_is_python_and_every_stub_raises_its_message(lessons_with_exercises):
    for path in lessons_with_exercises:
        text = path.read_text(encoding="utf-8")
        student = exercises.student_version(text)
        tree = ast.parse(student, filename=path.name)
        lines = student.splitlines()
        found = exercises.find_exercises(student)
        assert [e.name for e in found] == [e.name for e in exercises.find_exercises(text)]
        assert catalogue.title_of(path) in lines[1]            # the title stays first, so the name does
        assert exercises.STUDENT_NOTE in student
        for exercise in found:
            assert exercise.end == exercise.start + 2         # marker, raise, end marker
            stub = lines[exercise.start]
            assert stub == f"{exercise.indent}raise NotImplementedError(\"{exercise.message}\")"
            node = next(n for n in ast.walk(tree) if isinstance(n, ast.Raise) and n.lineno == exercise.start + 1)
            with pytest.raises(NotImplementedError, match=re.escape(exercise.message)) as raised:
                exec(compile(ast.Module(body=[node], type_ignores=[]), path.name, "exec"), {})
            assert raised.value.args == (exercise.message,)


@pytest.mark.parametrize("number", CHEAP)
def test_a_student_who_writes_the_solutions_passes_every_check(tmp_path, monkeypatch, capsys, number):
    file = student_file(tmp_path, number, **solved_except(number))
    explained, ended = run_student(file, monkeypatch)
    assert isinstance(ended, Reached), ended
    run = ended.args[0]
    assert explained == [] and run.reports and all(report.ok for report in run.reports)
    assert run.name == file.stem and run.file == file.resolve() and exercises.is_student_version(run.file)
    assert capsys.readouterr().out.startswith(catalogue.title_of(catalogue.find_lesson(number)))
    labels = {c.label for report in run.reports for row in report.rows for c in row.comparisons}
    if number in ("01", "04"):
        assert "formula vs autograd" in labels        # the hand-derived formula is one of the witnesses
    if number == "01":
        assert "manual vs torch SGD" in labels


@pytest.mark.parametrize("number, name", [("01", "slope_of_loss"), ("01", "sgd_update"), ("02", "mse_backward"),
                                          ("04", "chain_rule"), ("05", "linear_backward"),
                                          ("05", "tanh_backward"), ("05", "cross_entropy_backward")])
def test_each_stub_left_empty_raises_its_message(tmp_path, monkeypatch, number, name):
    file = student_file(tmp_path, number, **solved_except(number, name))
    explained, ended = run_student(file, monkeypatch)
    assert isinstance(ended, NotImplementedError) and explained == []
    stub = next(e for e in exercises.find_exercises(file.read_text()) if e.name == name)
    assert exercises.friendly_line(ended) == \
        f"exercise {name} is not written yet: {stub.task} ({file.name}, line {stub.start + 1})"


@pytest.mark.parametrize("number, name", [("11", "adam_step"), ("14", "batchnorm_backward")])
def test_the_later_lessons_stubs_give_the_friendly_line_too(tmp_path, monkeypatch, number, name):
    try:
        _, text = lesson_text(number)
    except ValueError:
        pytest.skip(f"no lesson {number} yet")
    if name not in solutions(text):
        pytest.skip(f"lesson {number} marks no exercise {name} yet")
    file = student_file(tmp_path, number, **solved_except(number, name))
    _, ended = run_student(file, monkeypatch, stop_after_checks=False)
    assert isinstance(ended, NotImplementedError)
    assert exercises.friendly_line(ended).startswith(f"exercise {name} is not written yet: ")


def test_an_empty_stub_ends_the_script_with_one_line(tmp_path, monkeypatch, capsys):
    # What Python does with an error nobody catches: it calls sys.excepthook, then exits with code 1.
    # A lesson run as a script installs the hook; here the hook is called as Python would call it.
    monkeypatch.setattr(sys, "excepthook", sys.__excepthook__)
    file = student_file(tmp_path, "02")
    _, ended = run_student(file, monkeypatch)
    assert getattr(sys.excepthook, "_exercise_hook", False)
    capsys.readouterr()
    sys.excepthook(type(ended), ended, ended.__traceback__)
    (stub,) = exercises.find_exercises(file.read_text())
    assert capsys.readouterr().err.splitlines() == \
        [f"exercise mse_backward is not written yet: {stub.task} ({file.name}, line {stub.start + 1})"]
    error = ValueError("something else")        # any other error keeps its traceback
    sys.excepthook(ValueError, error, None)
    assert capsys.readouterr().err.splitlines() == ["ValueError: something else"]


def test_other_errors_keep_their_traceback():
    assert exercises.friendly_line(NotImplementedError("not an exercise")) is None
    assert exercises.friendly_line(ValueError("exercise x: y")) is None


# --------------------------------------------------------------------------- the classic mistakes, named


def zoo_backward(specimen: str, loss: bool = False) -> str:
    """An exercise body that hands the work to the bug zoo's buggy copy (no second copy of the bug)."""
    call = "(self, dloss)" if loss else "(self, dout, input_grad)"
    return f"from toolkit import bugs\nreturn bugs.{specimen}.backward{call}"


MISTAKES = {   # kind: (lesson, exercise, body, the row where the disagreement starts)
    # lesson 05's last layer is 16 -> 2: torch refuses the transposed (16, 2) gradient before any check
    "missing-transpose": ("05", "linear_backward", zoo_backward("TransposedWeightGradLinear"), None),
    "forgotten-1/N": ("02", "mse_backward", zoo_backward("MSELossWithoutMean", loss=True), "output"),
    # the zoo's flipped sign is in a binary cross-entropy, which no lesson uses: the same mistake in the MSE
    "flipped-sign": ("02", "mse_backward", "return 2 / pred.numel() * (target - pred) * dloss", "output"),
    "bias-not-summed": ("05", "linear_backward", zoo_backward("BiasGradAveragedLinear"), "4.bias"),
    "softmax-without-one-hot": ("05", "cross_entropy_backward",
                                zoo_backward("CrossEntropyLossWithoutOneHot", loss=True), "output"),
    "tanh-slope-from-input": ("05", "tanh_backward", zoo_backward("TanhSlopeFromInput"), "input of 3"),
    "relu-mask-from-wrong-tensor": ("08", "relu_backward", zoo_backward("ReLUMaskFromGradient"), "input of 19"),
    "gradient-overwritten": ("05", "linear_backward", zoo_backward("OverwritingLinear"), "4.weight"),
}


def test_the_mistakes_cover_the_bug_zoo():
    assert set(MISTAKES) == {specimen.kind for specimen in bugs.CATALOGUE}


@pytest.mark.parametrize("kind", MISTAKES)
def test_each_classic_mistake_in_its_exercise_is_named(tmp_path, monkeypatch, capsys, kind):
    number, name, body, row = MISTAKES[kind]
    file = student_file(tmp_path, number, **solved_except(number, **{name: body}))
    explained, ended = run_student(file, monkeypatch, stop_after_checks=False)
    if row is None:     # a gradient of the wrong shape: named by the one line that ends the lesson
        assert isinstance(ended, RuntimeError) and explained == []
        line = exercises.friendly_line(ended)
        assert line.startswith(f'exercise {name}: most likely a transposed product (the bug zoo\'s "{kind}"): '
                               "a gradient of shape (16,2) for a parameter of shape (2,16)")
        exercise = next(e for e in exercises.find_exercises(file.read_text()) if e.name == name)
        assert line.endswith(f"({file.name}, line {exercise.start + 2})")    # accumulate_grad(self.weight, ...)
        return
    assert isinstance(ended, SystemExit) and ended.code == 1, ended
    (diagnosis,) = explained
    assert diagnosis.kind == kind and diagnosis.rows[0] == row
    out = capsys.readouterr().out
    assert f'    (the bug zoo\'s "{kind}": python -m toolkit bugs)\n' in out
    assert f"in exercise {name} ({file.name}, line " in out
    assert f"fix exercise {name} and run this file again" in out


@pytest.mark.parametrize("body, kind", [("weight += lr * weight.grad", "flipped-sign"),
                                        ("weight = weight - lr * weight.grad", "update-not-in-place"),
                                        ("weight -= weight.grad", "learning-rate-missing"),
                                        ("weight -= 0.37 * lr * weight.grad", None)])
def test_a_wrong_update_step_is_named(tmp_path, monkeypatch, body, kind):
    file = student_file(tmp_path, "01", **solved_except("01", sgd_update=body))
    explained, ended = run_student(file, monkeypatch)
    assert isinstance(ended, SystemExit) and ended.code == 1
    assert [d.kind for d in explained] == [kind] and explained[0].witness == "update"


@pytest.mark.parametrize("body, kind", [("return (2 / len(x)) * ((y - w * x) * x).sum()", "flipped-sign"),
                                        ("return 2 * ((w * x - y) * x).sum()", "forgotten-1/N"),
                                        ("return (1 / len(x)) * ((w * x - y) * x).sum()", "forgotten-2")])
def test_a_wrong_formula_for_the_slope_is_named(tmp_path, monkeypatch, capsys, body, kind):
    file = student_file(tmp_path, "01", **solved_except("01", slope_of_loss=body))
    explained, ended = run_student(file, monkeypatch)
    assert isinstance(ended, SystemExit) and [d.kind for d in explained] == [kind]
    assert explained[0].witness == "formula" and explained[0].rows == ["0.weight"]
    out = capsys.readouterr().out
    assert "  most likely in exercise slope_of_loss (01_one_weight.py, line " in out
    assert "fix exercise slope_of_loss and run this file again" in out


def test_a_wrong_link_of_the_chain_rule_is_located_and_named(tmp_path, monkeypatch):
    _, text = lesson_text("04")
    wrong = solutions(text)["chain_rule"].replace("dL_dz2 = dL_dh2 * (1 - h2**2)",
                                                  "dL_dz2 = dL_dh2 * (1 - (w2 * h1)**2)")
    file = student_file(tmp_path, "04", chain_rule=wrong)
    explained, ended = run_student(file, monkeypatch)
    assert isinstance(ended, SystemExit)
    assert explained[0].rows == ["input of 3"] and explained[0].kind == "tanh-slope-from-input"


@pytest.mark.parametrize("specimen", bugs.CATALOGUE, ids=lambda s: s.kind)
def test_the_zoo_specimens_are_diagnosed_as_their_own_kind(specimen):
    found = bugs.examine(specimen, buggy=True)
    diagnosis = diagnose.diagnose(found.one_batch, found.accumulation)
    assert diagnosis is not None and diagnosis.kind == specimen.kind, diagnosis
    assert diagnosis.where == (found.accumulation if found.one_batch.ok else found.one_batch).first_disagreement
    control = bugs.examine(specimen, buggy=False)
    assert diagnose.diagnose(control.one_batch, control.accumulation) is None


# --------------------------------------------------------------------------- no false names


@SETTINGS
@given(seed=st.integers(0, 2**31 - 1), sizes=st.lists(st.integers(1, 5), min_size=2, max_size=4),
       activation=st.sampled_from(["tanh", "relu", "sigmoid"]), loss=st.sampled_from(["mse", "bce", "ce"]),
       n=st.integers(2, 6))
def test_a_right_answer_is_never_named_a_mistake(seed, sizes, activation, loss, n):
    sizes = [*sizes[:-1], max(sizes[-1], 2) if loss == "ce" else sizes[-1]]
    twins = make_twins(sizes, activation, loss=bugs.LOSSES[loss](), seed=seed % 1000)
    g = gen(seed)
    x = 1.5 * torch.randn(n, sizes[0], generator=g, dtype=torch.float64)
    x = torch.where(x >= 0, x + 1e-3, x - 1e-3)
    if loss == "ce":
        y = torch.randint(0, sizes[-1], (n,), generator=g)
    elif loss == "bce":
        y = torch.randint(0, 2, (n, sizes[-1]), generator=g).to(torch.float64)
    else:
        y = torch.randn(n, sizes[-1], generator=g, dtype=torch.float64)
    report = gradient_report(twins, x, y, first_layer=True)
    accumulation = accumulation_report(twins, [(x, y), (x.flip(0), y.flip(0))])
    if report.ok:        # a ReLU input right at a kink can fool the finite differences; nothing is blamed then
        assert diagnose.diagnose(report, accumulation) is None
    for row in report.rows:      # row by row, yours = the true gradient: no rule fires
        e = diagnose.evidence(report, row, "manual")
        assert examine(e) is None


CLASSIC = [-1.0, 0.0, 0.5, 1.0]


def not_classic(k: float, *counts: int) -> bool:
    special = CLASSIC + [float(c) for c in counts] + [1 / c for c in counts if c]
    return all(abs(k - c) > 1e-3 * max(1.0, abs(c)) for c in special)


contexts = st.sampled_from(["Linear", "Tanh", "Sigmoid", "ReLU", "loss (MSELoss)", "loss (CrossEntropyLoss)"])


def random_evidence(seed: int, n: int, width: int, where: str) -> Evidence:
    g = gen(seed)
    t = torch.randn(n, width, generator=g, dtype=torch.float64)
    dout = torch.randn(n, width, generator=g, dtype=torch.float64)
    x = torch.randn(n, width, generator=g, dtype=torch.float64)
    row = "output" if where.startswith("loss") else "input of 3"
    where = f"the {where}" if where.startswith("loss") else f"layer 3 ({where})"
    return Evidence(t, t, row, where, samples=n, values=n * width, dout=dout, x=x, out=torch.tanh(x))


@SETTINGS
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(2, 9), width=st.integers(2, 5), where=contexts)
def test_a_random_wrong_answer_gets_no_classic_name(seed, n, width, where):
    e = random_evidence(seed, n, width, where)
    e.mine = torch.randn(e.true.shape, generator=gen(seed + 1), dtype=torch.float64)
    assert examine(e).kind is None


@SETTINGS
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(2, 9), width=st.integers(2, 5), where=contexts,
       k=st.floats(-50, 50, allow_nan=False))
def test_a_random_scaling_gets_no_classic_name(seed, n, width, where, k):
    e = random_evidence(seed, n, width, where)
    if not not_classic(k, n, n * width):
        return
    e.mine = k * e.true
    finding = examine(e)
    assert finding.kind is None and "constant factor" in finding.numbers


@SETTINGS
@given(seed=st.integers(0, 2**31 - 1), k=st.floats(-50, 50, allow_nan=False), lr=st.floats(0.01, 0.9))
def test_a_random_scaling_of_a_step_gets_no_classic_name(seed, k, lr):
    if not not_classic(k) or abs(k - 1 / lr) < 1e-3 / lr:
        return
    t = torch.randn(3, 4, generator=gen(seed), dtype=torch.float64)
    finding = examine(Evidence(k * t, t, "sgd_update", "sgd_update's step", lr=lr), diagnose.UPDATE_RULES)
    assert finding.kind is None


def test_the_classic_signatures_on_their_own():
    t = torch.randn(4, 3, generator=gen(5), dtype=torch.float64)
    assert examine(Evidence(t.T.clone(), t, "2.weight", "layer 2 (Linear)")).kind == "missing-transpose"
    assert examine(Evidence(t.repeat(4, 1, 1) / 4, t, "2.weight", "layer 2 (Linear)", samples=4)).kind == \
        "batch-not-summed"
    assert examine(Evidence(t / 4, t, "2.weight", "layer 2 (Linear)", samples=4)).kind == "extra-1/N"
    assert examine(Evidence(t / 4, t, "2.bias", "layer 2 (Linear)", samples=4)).kind == "bias-not-summed"
    assert examine(Evidence(0 * t, t, "2.weight", "layer 2 (Linear)")).kind == "gradient-missing"
    square = torch.randn(3, 3, generator=gen(6), dtype=torch.float64)
    symmetric = square + square.T     # transposing changes nothing: no verdict from the transpose
    assert examine(Evidence(symmetric.T.clone(), symmetric, "2.weight", "layer 2 (Linear)")) is None


# --------------------------------------------------------------------------- the command


def test_the_command_writes_the_student_versions(tmp_path, capsys):
    out = tmp_path / "mine"
    assert cli.main(["exercises", "--out", str(out), "1", "05_hidden_layer"]) == 0
    printed = capsys.readouterr().out
    assert "01_one_weight.py: 2 exercises (slope_of_loss, sgd_update)" in printed
    assert sorted(p.name for p in out.iterdir()) == ["01_one_weight.py", "05_hidden_layer.py"]  # no temporary files
    assert (out / "01_one_weight.py").stat().st_mode & 0o777 == 0o666 & ~_umask()
    _, text = lesson_text("01")
    assert (out / "01_one_weight.py").read_text() == exercises.student_version(
        text, "lessons/01_one_weight.py", "lessons/01_one_weight.py")
    assert cli.main(["exercises", "--out", str(out), "1"]) == 0          # the same file again: fine
    capsys.readouterr()


def test_the_command_writes_every_lesson_with_exercises(tmp_path, capsys, lessons_with_exercises):
    assert cli.main(["exercises", "--out", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in lessons_with_exercises)
    capsys.readouterr()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_the_students_work_is_not_overwritten_without_force(tmp_path, capsys):
    assert cli.main(["exercises", "--out", str(tmp_path), "2"]) == 0
    mine = tmp_path / "02_linear_regression.py"
    mine.write_text(mine.read_text() + "# my work\n")
    assert cli.main(["exercises", "--out", str(tmp_path), "2"]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "--force" in err and mine.read_text().endswith("# my work\n")
    assert cli.main(["exercises", "--out", str(tmp_path), "2", "--force"]) == 0
    assert not mine.read_text().endswith("# my work\n")


def test_a_students_file_is_kept_and_every_other_file_written(tmp_path, capsys):
    # One file of the student's own stopped every other file from being written
    assert cli.main(["exercises", "--out", str(tmp_path), "1", "2"]) == 0
    mine, other = tmp_path / "02_linear_regression.py", tmp_path / "01_one_weight.py"
    mine.write_text(mine.read_text() + "# my work\n")
    other.unlink()
    capsys.readouterr()
    assert cli.main(["exercises", "--out", str(tmp_path), "2", "1"]) == 2
    out, err = capsys.readouterr()
    assert other.is_file() and f"wrote {other}" in out                 # written all the same
    assert mine.read_text().endswith("# my work\n")                    # and the student's work kept
    assert err.splitlines() == [f"toolkit: error: kept {mine}: it differs from a fresh student version (your own "
                                "work?); give --force to overwrite, or choose another --out"]


def test_a_full_disk_names_the_files_written_and_those_not(tmp_path, monkeypatch, capsys):
    import errno

    from toolkit import files

    real = files.replace_file
    calls = []

    def full_after_one(path, data):
        calls.append(path)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(path, data)

    monkeypatch.setattr(files, "replace_file", full_after_one)
    assert cli.main(["exercises", "--out", str(tmp_path), "1", "2", "4"]) == 2
    err = capsys.readouterr().err
    assert err.splitlines() == [f"toolkit: error: could not write {tmp_path / '02_linear_regression.py'}: No space "
                                "left on device; written before it: 01_one_weight.py; not written: "
                                "02_linear_regression.py, 04_three_weights.py"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["01_one_weight.py"]


@pytest.mark.parametrize("out", ["", "   "])
def test_an_empty_or_blank_out_is_refused_and_nothing_written(tmp_path, monkeypatch, capsys, out):
    # --out= wrote ten files into the current folder; --out="   " made a folder named with three spaces
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as ended:
        cli.main(["exercises", f"--out={out}", "1"])
    assert ended.value.code == 2
    got = repr(out) if out else "an empty string"
    assert capsys.readouterr().err.splitlines() == [f"toolkit: error: argument --out: must name a folder, got {got}"]
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match="--out must name a folder"):
        exercises.write_student_versions(out, ["1"])
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("args, message", [
    (["exercises", "--out", "{tmp}", "99"], "unknown lesson '99'"),
    (["exercises", "--out", "{tmp}", "3"], "has no exercises"),
    (["exercises", "--out", "{lessons}"], "would replace the lessons' solutions"),
    (["exercises", "--out", "{lessons}/sub"], "would replace the lessons' solutions"),
    (["exercises", "--out", "{file}", "1"], "is a file"),
])
def test_bad_input_is_one_line_and_exit_code_2(tmp_path, capsys, args, message):
    (tmp_path / "a_file").write_text("")
    before = {p: p.read_bytes() for p in catalogue.lessons_folder().iterdir() if p.is_file()}
    places = {"tmp": str(tmp_path / "out"), "lessons": str(catalogue.lessons_folder()),
              "file": str(tmp_path / "a_file")}
    assert cli.main([arg.format(**places) for arg in args]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.splitlines()) == 1
    assert {p: p.read_bytes() for p in catalogue.lessons_folder().iterdir() if p.is_file()} == before
    assert not (catalogue.lessons_folder() / "sub").exists() and not (tmp_path / "out").exists()


def test_the_output_folder_must_be_given(capsys):
    with pytest.raises(SystemExit) as ended:
        cli.main(["exercises", "1"])
    assert ended.value.code == 2 and "--out" in capsys.readouterr().err


def test_malformed_markers_are_refused_with_their_line():
    body = "def f():\n    # exercise a: write it\n    return 1\n"
    with pytest.raises(ValueError, match="line 2: exercise 'a' is never closed"):
        exercises.find_exercises(body)
    with pytest.raises(ValueError, match="line 1: '# end exercise' without"):
        exercises.find_exercises("# end exercise\n")
    with pytest.raises(ValueError, match="starts inside exercise 'a'"):
        exercises.find_exercises(body + "    # exercise b: no\n    # end exercise\n")
    with pytest.raises(ValueError, match="marks no lines"):
        exercises.find_exercises("# exercise a: x\n# end exercise\n")
    with pytest.raises(ValueError, match="a second exercise named 'a'"):
        exercises.find_exercises("# exercise a: x\npass\n# end exercise\n" * 2)
    with pytest.raises(ValueError, match="not at the indentation"):
        exercises.find_exercises("def f():\n    # exercise a: x\n    pass\n# end exercise\n")
    assert exercises.find_exercises("# exercise of this lesson: a sentence, not a marker\n") == []


def test_a_wrong_schedule_formula_stops_the_student_version(tmp_path, monkeypatch, capsys):
    # lesson 12 compares each formula with torch's scheduler: a student's wrong one stops the lesson there
    file = student_file(tmp_path, "12", **solved_except("12", step_rate="return lr0 * gamma ** (t // step_size + 1)"))
    _, ended = run_student(file, monkeypatch, stop_after_checks=False)
    assert isinstance(ended, SystemExit) and ended.code == 1
    out = capsys.readouterr().out
    assert "DISAGREE" in out and "fix exercise step_rate and run this file again" in out


# --------------------------------------------------------------------------- no traceback for a student's answer


def run_to_the_end(file, monkeypatch):
    """Run a student file until it stops; the exception that stopped it (None if it ran to the end)."""
    try:
        _, ended = run_student(file, monkeypatch, stop_after_checks=False)
    except Exception as error:      # noqa: BLE001 - whatever the student's code raises
        return error
    return ended


@pytest.mark.parametrize("number, name, body", [
    ("01", "slope_of_loss", "return ((2 / len(x)) * ((w * x - y) * x).sum()).item()"),     # a Python float
    ("01", "sgd_update", "weight -= lr * weight.grad.item()"),         # checked on the lesson's own (1, 1) weight
    ("05", "linear_backward", "self.weight.grad += dout.T @ x\nself.bias.grad += dout.sum(dim=0)\n"
                              "dx = dout @ self.weight"),                # .grad is there from the first backward
])
def test_a_right_answer_written_another_way_passes_every_check(tmp_path, monkeypatch, number, name, body):
    # Each of these ended in a traceback, although right
    file = student_file(tmp_path, number, **solved_except(number, **{name: body}))
    explained, ended = run_student(file, monkeypatch)
    assert isinstance(ended, Reached), ended
    assert explained == [] and all(report.ok for report in ended.args[0].reports)


ADAM, STEP, BATCHNORM = lesson_with("adam_step"), lesson_with("step_rate"), lesson_with("batchnorm_backward")


def solution_of(name: str) -> str:
    number = lesson_with(name)
    return solutions(lesson_text(number)[1])[name] if number != "00" else ""


WRONG_ENDINGS = [   # (lesson, exercise, body, the kind named, where the line points: "in" the exercise or "after")
    ("01", "slope_of_loss", "return (2 / len(x)) * ((w * x - y) * x)", "batch-not-summed", None),   # a diagnosis
    ("02", "mse_backward", "return (2 / pred.numel() * (pred - target) * dloss).sum()", "gradient-reduced", "start"),
    ("05", "linear_backward", "accumulate_grad(self.weight, dout.T @ x)\naccumulate_grad(self.bias, "
                              "dout.sum(dim=0))\ndx = dout @ self.weight.T", "matmul-shapes", "in"),
    ("05", "linear_backward", "accumulate_grad(self.weight, dout.T @ x)\naccumulate_grad(self.bias, "
                              "dout.sum(dim=0))", "name-never-assigned", "after"),
    ("04", "chain_rule", solution_of("chain_rule").replace('"z1": dL_dz1, ', ""), "key-missing", "after"),
    (ADAM, "adam_step", solution_of("adam_step").replace("return theta, m, v", "return theta, m"),
     "wrong-number-of-values", "after"),
    ("01", "slope_of_loss", "pass", "returns-nothing", "after"),
    ("02", "mse_backward", "pass", "returns-nothing", "start"),
    ("04", "chain_rule", "pass", "returns-nothing", "after"),
    ("05", "tanh_backward", "pass", "returns-nothing", "start"),
    (ADAM, "adam_step", "pass", "returns-nothing", "after"),
    (STEP, "step_rate", "pass", "returns-nothing", "after"),
    (BATCHNORM, "batchnorm_backward", "pass", "returns-nothing", "after"),
]


@pytest.mark.parametrize("number, name, body, kind, where", WRONG_ENDINGS,
                         ids=[f"{n}-{e}-{k}" for n, e, _, k, _ in WRONG_ENDINGS])
def test_a_wrong_answer_ends_in_one_line_naming_the_exercise_and_the_place(tmp_path, monkeypatch, capsys, number,
                                                                          name, body, kind, where):
    # Each of these ended in a traceback (or, for a forgotten sum, a traceback before any check)
    if number == "00":
        pytest.skip(f"no lesson marks the exercise {name}")
    file = student_file(tmp_path, number, **solved_except(number, **{name: body}))
    exercise = next(e for e in exercises.find_exercises(file.read_text()) if e.name == name)
    ended = run_to_the_end(file, monkeypatch)
    if where is None:        # caught by the lesson's own check: a diagnosis, and the lesson stops
        assert isinstance(ended, SystemExit) and ended.code == 1
        out = capsys.readouterr().out
        assert f"most likely in exercise {name} ({file.name}, line {exercise.start})" in out
        assert f"fix exercise {name} and run this file again" in out
        return
    assert not isinstance(ended, (SystemExit, NotImplementedError)), ended
    found = exercises.failure_of(ended)
    assert found is not None and found[0].name == name and found[3].kind == kind, (ended, found)
    line = exercises.friendly_line(ended)
    place = {"start": rf"line {exercise.start + 1}", "in": rf"line {exercise.start + 3}",
             "after": rf"line {exercise.start + 1}; the error came on line \d+"}[where]
    assert re.fullmatch(rf"exercise {name}: most likely [^\n]+ \({re.escape(file.name)}, {place}\)", line), line
    if where == "after":
        came = int(re.search(r"the error came on line (\d+)", line)[1])
        assert came > exercise.end                      # and it is the line where the lesson failed


@pytest.mark.parametrize("number, name, old, new, kind", [
    (ADAM, "adam_step", "v_hat.sqrt() + eps", "(v_hat + eps).sqrt()", "adam-eps-inside-root"),
    (ADAM, "adam_step", "m / (1 - beta1 ** t)", "m / (1 - beta1)", "adam-bias-correction-unpowered-m"),
    (BATCHNORM, "batchnorm_backward", "(gamma / std)", "(1 / std)", "batchnorm-gamma-missing"),
])
def test_a_wrong_adam_step_or_batchnorm_backward_is_named_in_the_lesson(tmp_path, monkeypatch, capsys, number,
                                                                        name, old, new, kind):
    # The Adam lesson said only "THEY DISAGREE"; the batch-norm lesson checked at γ = 1, where a dz without γ
    # agreed
    if number == "00":
        pytest.skip(f"no lesson marks the exercise {name}")
    body = solutions(lesson_text(number)[1])[name]
    assert old in body
    file = student_file(tmp_path, number, **solved_except(number, **{name: body.replace(old, new)}))
    explained, ended = run_student(file, monkeypatch, stop_after_checks=False)
    assert isinstance(ended, SystemExit) and ended.code == 1, ended
    assert [d.kind for d in explained] == [kind]
    out = capsys.readouterr().out
    assert f"exercise {name} ({file.name}, line " in out and f"fix exercise {name} and run this file again" in out
