"""A catalogue of wrong answers, each with the diagnosis it must get, and of right answers that get none.

Every entry is a body for one exercise of the lessons. It is checked the
way its lesson checks it, in miniature and in this process: the lesson's
own function or class (taken from a student version of the lesson with
the answer written in; the other exercises hold their solutions) on a
small network, through the gradient report and the accumulation check, the
update check or the Adam probe, and ``toolkit.diagnose``. An answer that
fails with an error is read as a student's run reads it
(``exercises.failure_of``). The lessons themselves run students' files end
to end in test_exercises.py; here no lesson runs, so the catalogue is cheap.

Exercises are found by name, not by lesson number, so the catalogue
follows an exercise when its lesson is renumbered.
"""

from __future__ import annotations

import ast
import functools
import math
from pathlib import Path

import pytest
import torch

from helpers import gen
from toolkit import data, diagnose, exercises, manual
from toolkit.bugs import copy_layer
from toolkit.gradient_check import accumulation_report, add_formulas, gradient_report
from toolkit.twins import Twins, make_twins


# --------------------------------------------------------------------------- the lessons' own code


@functools.cache
def lesson_of(exercise: str) -> Path:
    """The lesson file that marks ``exercise``."""
    for path in exercises.lessons_with_exercises():
        if exercise in {e.name for e in exercises.find_exercises(path.read_text(encoding="utf-8"))}:
            return path
    pytest.skip(f"no lesson marks the exercise {exercise}")


def lesson_code(tmp_path: Path, exercise: str, body: str | None) -> dict:
    """The lesson's imports, functions and classes (and its ROWS and TORCH_TWIN lines), from a student version
    with ``body`` written into ``exercise`` and every other exercise solved, as a namespace."""
    path = lesson_of(exercise)
    text = path.read_text(encoding="utf-8")
    student = exercises.student_version(text)
    lines = text.splitlines()
    for e in exercises.find_exercises(text):
        solution = "\n".join(line[len(e.indent):] for line in lines[e.start:e.end - 1])
        student = exercises.fill_exercise(student, e.name, body if (e.name == exercise and body is not None)
                                          else solution)
    file = tmp_path / path.name
    file.write_text(student, encoding="utf-8")
    tree = ast.parse(student)

    def kept(node) -> bool:
        if isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef)):
            return True
        if isinstance(node, ast.Assign) and all(isinstance(n, ast.Constant) for n in ast.walk(node.value)
                                                if not isinstance(n, (ast.Tuple, ast.Load))):
            return True              # a constant the definitions use (WIDTH, DEPTH = 32, 3)
        targets = getattr(node, "targets", [])
        return any((isinstance(t, ast.Name) and t.id == "ROWS") or
                   (isinstance(t, ast.Subscript) and getattr(t.value, "id", "") == "TORCH_TWIN") for t in targets)

    for node in tree.body:           # the definitions draw nothing: leave matplotlib unloaded
        if isinstance(node, ast.ImportFrom):
            node.names = [alias for alias in node.names if alias.name != "plots"] or node.names
    namespace = {"__name__": f"lesson_code_{path.stem}"}
    exec(compile(ast.Module(body=[n for n in tree.body if kept(n)], type_ignores=[]), str(file), "exec"), namespace)
    return namespace


def diagnosis_of(twins, x, y, *, by_formula=None, first_layer=False):
    """The kind of mistake the checks name (None: none), as ``run.check`` would find it."""
    try:
        formulas = by_formula() if callable(by_formula) else by_formula
        report = gradient_report(twins, x, y, first_layer=first_layer)
        if formulas:
            add_formulas(report, formulas)
        half = len(x) // 2
        accumulation = accumulation_report(twins, [(x[:half], y[:half]), (x[half:], y[half:])])
    except Exception as error:       # noqa: BLE001 - read as a student's run reads it
        failure = exercises.failure_of(error)
        assert failure is not None, f"an error no exercise is named for: {error!r}"
        return failure[3].kind
    found = diagnose.diagnose(report, accumulation)
    if found is None:
        assert report.ok and accumulation.ok
    return None if found is None else found.kind


# --------------------------------------------------------------------------- how each exercise is checked


def check_slope_of_loss(code):
    x, y = data.noisy_line(n=40, slope=3.0, intercept=0.0, noise=0.6, x_range=(-2.0, 2.0), seed=0)
    twins = make_twins([1, 1], bias=False, seed=0)
    w = twins.manual_net[0].weight
    return diagnosis_of(twins, x, y, by_formula=lambda: {"0.weight": code["slope_of_loss"](w, x, y)})


def check_sgd_update(code):
    report = exercises.update_report(code["sgd_update"], 0.1, shape=(1, 1))
    found = diagnose.diagnose_update(report, 0.1)
    return None if found is None else found.kind


def check_mse_backward(code):
    x, y = data.noisy_line(n=40, seed=1)
    return diagnosis_of(make_twins([1, 1], loss=code["MSELoss"](), seed=0), x, y)


def check_chain_rule(code):
    forward = code["forward"]
    generator = gen(0)
    x = -2 + 4 * torch.rand(40, 1, generator=generator, dtype=torch.float64)
    y = forward(x, 1.0, 2.0, 1.5)[-1] + 0.1 * torch.randn(40, 1, generator=generator, dtype=torch.float64)
    twins = make_twins([1, 1, 1, 1], "tanh", bias=False, loss=manual.MSELoss(), seed=0)
    w1, w2, w3 = (twins.manual_net[k].weight.item() for k in (0, 2, 4))

    def formulas():
        found = code["chain_rule"](x, y, w1, w2, w3)
        return {row: found[name] for row, name in code["ROWS"].items()}

    return diagnosis_of(twins, x, y, by_formula=formulas, first_layer=True)


def check_lesson_05(code):
    x, y = data.two_moons(n=40, noise=0.15, seed=0)
    twins = make_twins([2, 16, 16, 2], "tanh", loss=manual.CrossEntropyLoss(), seed=0)
    ours = {manual.Linear: code["Linear"], manual.Tanh: code["Tanh"]}
    twins.manual_net.layers = [copy_layer(ours[type(layer)], layer) for layer in twins.manual_net]
    twins.manual_loss = code["CrossEntropyLoss"]()
    return diagnosis_of(twins, x, y)


def check_relu_backward(code):
    generator = gen(3)
    x = torch.randn(12, 3, generator=generator, dtype=torch.float64)
    x = torch.where(x >= 0, x + 1e-2, x - 1e-2)
    y = torch.randint(0, 2, (12,), generator=generator)
    twins = make_twins([3, 6, 6, 2], "relu", loss=manual.CrossEntropyLoss(), seed=1)
    twins.manual_net.layers = [code["ReLU"]() if isinstance(layer, manual.ReLU) else layer
                               for layer in twins.manual_net]
    return diagnosis_of(twins, x, y, first_layer=True)


def check_sin_backward(code):
    generator = gen(4)
    x = torch.randn(20, 2, generator=generator, dtype=torch.float64)
    y = torch.randn(20, 1, generator=generator, dtype=torch.float64)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        net = manual.Sequential(manual.Linear(2, 3, dtype=torch.float64), code["Sin"](),
                                manual.Linear(3, 1, dtype=torch.float64))
    return diagnosis_of(Twins.of(net, manual.MSELoss()), x, y, first_layer=True)


def check_adam_step(code):
    found = diagnose.diagnose_adam_step(code["adam_step"])
    return None if found is None else found.kind


def check_batchnorm_backward(code):
    generator = gen(5)
    x = 2 * torch.randn(30, 2, generator=generator, dtype=torch.float64) + 1
    y = torch.randint(0, 3, (30,), generator=generator)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        norm = code["LessonBatchNorm"](5, dtype=torch.float64)
        net = manual.Sequential(manual.Linear(2, 5, dtype=torch.float64), norm, manual.Tanh(),
                                manual.Linear(5, 3, dtype=torch.float64))
    with torch.no_grad():         # γ and β away from 1 and 0, as the lesson sets them
        norm.weight.copy_(0.5 + torch.rand(5, generator=generator, dtype=torch.float64))
        norm.bias.copy_(torch.randn(5, generator=generator, dtype=torch.float64))
    return diagnosis_of(Twins.of(net, manual.CrossEntropyLoss()), x, y)


CHECKS = {"slope_of_loss": check_slope_of_loss, "sgd_update": check_sgd_update, "mse_backward": check_mse_backward,
          "chain_rule": check_chain_rule, "linear_backward": check_lesson_05, "tanh_backward": check_lesson_05,
          "cross_entropy_backward": check_lesson_05, "relu_backward": check_relu_backward,
          "sin_backward": check_sin_backward, "adam_step": check_adam_step,
          "batchnorm_backward": check_batchnorm_backward}


def answered(tmp_path, exercise, body):
    return CHECKS[exercise](lesson_code(tmp_path, exercise, body))


# --------------------------------------------------------------------------- the catalogue

CHAIN = """dL_dyhat = 2 * (y_hat - y) / len(x)
dL_dw3 = (dL_dyhat * h2).sum()
dL_dh2 = dL_dyhat * w3
dL_dz2 = dL_dh2 * (1 - h2**2)
dL_dw2 = (dL_dz2 * h1).sum()
dL_dh1 = dL_dz2 * w2
dL_dz1 = dL_dh1 * (1 - h1**2)
dL_dw1 = (dL_dz1 * x).sum()
dL_dx = dL_dz1 * w1
return {"w1": dL_dw1, "w2": dL_dw2, "w3": dL_dw3, "ŷ": dL_dyhat, "h2": dL_dh2, "z2": dL_dz2, "h1": dL_dh1,
        "z1": dL_dz1, "x": dL_dx}"""


def chain(old: str, new: str) -> str:
    assert old in CHAIN
    return CHAIN.replace(old, new)


LINEAR = """accumulate_grad(self.weight, dout.T @ x)
accumulate_grad(self.bias, dout.sum(dim=0))
dx = dout @ self.weight"""
SOFTMAX = """probs = torch.exp(shifted) / torch.exp(shifted).sum(dim=1, keepdim=True)
onehot = torch.nn.functional.one_hot(target, classes).to(probs.dtype)
return dloss * (probs - onehot) / n"""
ADAM = """m = beta1 * m + (1 - beta1) * g
v = beta2 * v + (1 - beta2) * g ** 2
m_hat = {m_hat}
v_hat = {v_hat}
theta = theta - lr * m_hat / ({root})
return theta, m, v"""


def adam(m_hat="m / (1 - beta1 ** t)", v_hat="v / (1 - beta2 ** t)", root="v_hat.sqrt() + eps"):
    return ADAM.format(m_hat=m_hat, v_hat=v_hat, root=root)


BATCHNORM = """n = dout.shape[0]
dbeta = dout.sum(dim=0)
dgamma = (dout * x_hat).sum(dim=0)
dz = {dz}
return dz, dgamma, dbeta"""


def batchnorm(dz: str) -> str:
    return BATCHNORM.format(dz=dz)


WRONG = [   # (exercise, the student's body, the kind of mistake it must be named)
    ("slope_of_loss", "return (2 / len(x)) * ((y - w * x) * x).sum()", "flipped-sign"),
    ("slope_of_loss", "return 2 * ((w * x - y) * x).sum()", "forgotten-1/N"),
    ("slope_of_loss", "return (1 / len(x)) * ((w * x - y) * x).sum()", "forgotten-2"),
    ("slope_of_loss", "return (2 / len(x)) * (w * x - y).sum()", "input-factor-missing"),
    ("slope_of_loss", "return (2 / len(x)) * ((w * x - y) * x.T).sum()", "outer-product"),
    ("slope_of_loss", "return (2 / len(x)) * ((w * x - y) * x.T)", "outer-product"),
    ("slope_of_loss", "return (2 / len(x)) * ((w * x - y) * x)", "batch-not-summed"),
    ("sgd_update", "weight += lr * weight.grad", "flipped-sign"),
    ("sgd_update", "weight = weight - lr * weight.grad", "update-not-in-place"),
    ("sgd_update", "weight -= weight.grad", "learning-rate-missing"),
    ("mse_backward", "return 2 / pred.numel() * (target - pred) * dloss", "flipped-sign"),
    ("mse_backward", "return 2 * (pred - target) * dloss", "forgotten-1/N"),
    ("mse_backward", "return 1 / pred.numel() * (pred - target) * dloss", "forgotten-2"),
    ("mse_backward", "return (2 / pred.numel() * (pred - target) * dloss).sum()", "gradient-reduced"),
    ("mse_backward", "pass", "returns-nothing"),
    ("chain_rule", chain("dL_dw1 = (dL_dz1 * x).sum()", "dL_dw1 = dL_dz1.sum()"), "input-factor-missing"),
    ("chain_rule", chain("dL_dz2 = dL_dh2 * (1 - h2**2)", "dL_dz2 = dL_dh2 * (1 - h1**2)"),
     "slope-from-wrong-layer"),
    ("chain_rule", chain("dL_dh1 = dL_dz2 * w2", "dL_dh1 = dL_dz2 * w3"), "weight-from-wrong-layer"),
    ("chain_rule", chain("dL_dz2 = dL_dh2 * (1 - h2**2)", "dL_dz2 = dL_dh2 * (1 - (w2 * h1)**2)"),
     "tanh-slope-from-input"),
    ("chain_rule", chain("dL_dyhat = 2 * (y_hat - y) / len(x)", "dL_dyhat = 2 * (y_hat - y)"), "forgotten-1/N"),
    ("chain_rule", chain("dL_dyhat = 2 * (y_hat - y) / len(x)", "dL_dyhat = 2 * (y - y_hat) / len(x)"),
     "flipped-sign"),
    ("chain_rule", chain("dL_dz2 = dL_dh2 * (1 - h2**2)", "dL_dz2 = dL_dh2"), "slope-missing"),
    ("chain_rule", chain("dL_dz2 = dL_dh2 * (1 - h2**2)", "dL_dz2 = 1 - h2**2"), "upstream-gradient-missing"),
    ("linear_backward", "from toolkit import bugs\nreturn bugs.TransposedWeightGradLinear.backward(self, dout, "
                        "input_grad)", "missing-transpose"),
    ("linear_backward", LINEAR.replace("dout.sum(dim=0))", "dout.mean(dim=0))"), "bias-not-summed"),
    ("linear_backward", LINEAR.replace("accumulate_grad(self.bias, dout.sum(dim=0))",
                                       "accumulate_grad(self.bias, dout)"), "batch-not-summed"),
    ("linear_backward", LINEAR.replace("dx = dout @ self.weight", "dx = dout @ self.weight.T"), "matmul-shapes"),
    ("linear_backward", LINEAR.replace("dx = dout @ self.weight", "dX = dout @ self.weight"),
     "name-never-assigned"),
    ("linear_backward", LINEAR.replace("accumulate_grad(self.weight, dout.T @ x)", "self.weight.grad = dout.T @ x"),
     "gradient-overwritten"),
    ("linear_backward", LINEAR.replace("dout.T @ x)", "-(dout.T @ x))"), "flipped-sign"),
    ("linear_backward", LINEAR.replace("dout.T @ x)", "dout.sum(dim=0)[:, None] * torch.ones_like(self.weight))"),
     "input-factor-missing"),
    ("linear_backward", LINEAR.replace("dout.T @ x)", "torch.outer(dout.sum(dim=0), x.sum(dim=0)))"),
     "outer-product"),
    ("tanh_backward", "return dout * (1 - x**2)", "tanh-slope-from-input"),
    ("tanh_backward", "return 1 - out**2", "upstream-gradient-missing"),
    ("tanh_backward", "return dout * out", "function-for-its-slope"),
    ("tanh_backward", "return dout", "slope-missing"),
    ("tanh_backward", "return dout * (1 - torch.tanh(out)**2)", "slope-from-wrong-tensor"),
    ("tanh_backward", "return -dout * (1 - out**2)", "flipped-sign"),
    ("tanh_backward", "pass", "returns-nothing"),
    ("cross_entropy_backward", SOFTMAX.replace("dim=1", "dim=0"), "softmax-wrong-axis"),
    ("cross_entropy_backward", SOFTMAX.replace("(probs - onehot)", "probs"), "softmax-without-one-hot"),
    ("cross_entropy_backward", SOFTMAX.replace(" / n", ""), "forgotten-1/N"),
    ("cross_entropy_backward", SOFTMAX.replace("(probs - onehot)", "(onehot - probs)"), "flipped-sign"),
    ("relu_backward", "return dout * (x < 0)", "relu-mask-flipped"),
    ("relu_backward", "return dout * (dout > 0)", "relu-mask-from-wrong-tensor"),
    ("relu_backward", "return dout", "relu-mask-missing"),
    ("relu_backward", "return (x > 0).to(dout.dtype)", "upstream-gradient-missing"),
    ("sin_backward", "x = self._saved(self._x)\nreturn dout * torch.sin(x)", "function-for-its-slope"),
    ("sin_backward", "x = self._saved(self._x)\nreturn torch.cos(x)", "upstream-gradient-missing"),
    ("sin_backward", "x = self._saved(self._x)\nreturn -dout * torch.cos(x)", "flipped-sign"),
    ("adam_step", adam(m_hat="m"), "adam-bias-correction-missing-m"),
    ("adam_step", adam(v_hat="v"), "adam-bias-correction-missing-v"),
    ("adam_step", adam(m_hat="m", v_hat="v"), "adam-bias-correction-missing"),
    ("adam_step", adam(m_hat="m / (1 - beta1)"), "adam-bias-correction-unpowered-m"),
    ("adam_step", adam(v_hat="v / (1 - beta2)"), "adam-bias-correction-unpowered-v"),
    ("adam_step", adam(m_hat="m / (1 - beta2 ** t)", v_hat="v / (1 - beta1 ** t)"), "adam-bias-corrections-swapped"),
    ("adam_step", adam(m_hat="m / (1 - beta1 ** (t + 1))"), "adam-bias-correction-off-by-one-m"),
    ("adam_step", adam(v_hat="v / (1 - beta2 ** (t - 1))"), "adam-bias-correction-off-by-one-v"),
    ("adam_step", adam(root="(v_hat + eps).sqrt()"), "adam-eps-inside-root"),
    ("batchnorm_backward", batchnorm("(1 / n) * (1 / std) * (n * dout - dbeta - x_hat * dgamma)"),
     "batchnorm-gamma-missing"),
    ("batchnorm_backward", batchnorm("(1 / n) * (gamma / std) * (n * dout - x_hat * dgamma)"),
     "batchnorm-mean-path-missing"),
    ("batchnorm_backward", batchnorm("(1 / n) * (gamma / std) * (n * dout - dbeta)"),
     "batchnorm-variance-path-missing"),
    ("batchnorm_backward", batchnorm("(1 / n) * (gamma / std) * (- dbeta - x_hat * dgamma)"),
     "batchnorm-direct-path-missing"),
]

RIGHT = [   # (exercise, a right answer written otherwise than the lesson's solution)
    ("slope_of_loss", "return ((2 / len(x)) * ((w * x - y) * x).sum()).item()"),
    ("slope_of_loss", "return (2 * (w * x - y) * x).mean()"),
    ("slope_of_loss", "return 2 * torch.mean(x * (w * x - y))"),
    ("sgd_update", "weight -= lr * weight.grad.item()"),
    ("sgd_update", "weight.sub_(lr * weight.grad)"),
    ("sgd_update", "weight.add_(weight.grad, alpha=-lr)"),
    ("mse_backward", "return (pred - target) * (2 * dloss / pred.numel())"),
    ("chain_rule", chain("dL_dz2 = dL_dh2 * (1 - h2**2)", "dL_dz2 = dL_dh2 / torch.cosh(w2 * h1) ** 2")),
    ("linear_backward", "self.weight.grad += dout.T @ x\nself.bias.grad += dout.sum(dim=0)\ndx = dout @ self.weight"),
    ("linear_backward", LINEAR.replace("dout.T @ x", "torch.einsum('no,ni->oi', dout, x)")),
    ("tanh_backward", "return dout * (1 - torch.tanh(x) ** 2)"),
    ("tanh_backward", "return dout / torch.cosh(x) ** 2"),
    ("cross_entropy_backward", "return dloss * (torch.softmax(shifted, dim=1) - "
                               "torch.nn.functional.one_hot(target, classes)) / n"),
    ("relu_backward", "return torch.where(x > 0, dout, torch.zeros_like(dout))"),
    ("relu_backward", "return dout * (x > 0).to(dout.dtype)"),
    ("sin_backward", "return dout * torch.cos(self._x) if input_grad else None"),
    ("adam_step", "m = m + (1 - beta1) * (g - m)\nv = v + (1 - beta2) * (g * g - v)\n"
                  "step_size = lr / (1 - beta1 ** t)\n"
                  "theta = theta - step_size * m / (v.sqrt() / math.sqrt(1 - beta2 ** t) + eps)\n"
                  "return theta, m, v"),
    ("batchnorm_backward", "n = dout.shape[0]\ndbeta = dout.sum(dim=0)\ndgamma = (dout * x_hat).sum(dim=0)\n"
                           "dxhat = dout * gamma\n"
                           "dvar = (dxhat * x_hat * std).sum(dim=0) * (-0.5) / std**3\n"
                           "dmu = -(dxhat / std).sum(dim=0)\n"
                           "dz = dxhat / std + dvar * 2 * x_hat * std / n + dmu / n\n"
                           "return dz, dgamma, dbeta"),
]


def test_the_catalogue_is_large_and_covers_every_exercise_it_names():
    assert len(WRONG) >= 40
    assert {exercise for exercise, _, _ in WRONG} == set(CHECKS)
    # every new rule of the diagnosis appears in it at least once
    kinds = {kind for _, _, kind in WRONG}
    assert {"upstream-gradient-missing", "input-factor-missing", "outer-product", "slope-from-wrong-layer",
            "weight-from-wrong-layer", "relu-mask-flipped", "function-for-its-slope", "softmax-wrong-axis",
            "batchnorm-mean-path-missing", "batchnorm-variance-path-missing", "batchnorm-direct-path-missing",
            "batchnorm-gamma-missing", "adam-eps-inside-root"} <= kinds
    assert sum(kind.startswith("adam-") for kind in kinds) >= 9


@pytest.mark.parametrize("exercise, body, kind", WRONG, ids=[f"{e}-{k}-{i}" for i, (e, _, k) in enumerate(WRONG)])
def test_each_wrong_answer_gets_its_diagnosis(tmp_path, exercise, body, kind):
    assert answered(tmp_path, exercise, body) == kind


@pytest.mark.parametrize("exercise, body", RIGHT, ids=[f"{e}-{i}" for i, (e, _) in enumerate(RIGHT)])
def test_a_right_answer_is_never_named_a_mistake(tmp_path, exercise, body):
    assert answered(tmp_path, exercise, body) is None


@pytest.mark.parametrize("exercise", sorted(CHECKS))
def test_each_lessons_own_solution_passes_its_check(tmp_path, exercise):
    assert answered(tmp_path, exercise, None) is None


def test_the_probe_tells_every_adam_variant_apart():
    # Each variant's step differs from every other's on the probe, by far more than the tolerance.
    theta_step = {}
    m, v, t = torch.full((2,), 1e-3, dtype=torch.float64), torch.full((2,), 2e-6, dtype=torch.float64), 3
    for kind, _, m_hat, v_hat, inside in diagnose._adam_variants(m, v, t, 0.9, 0.999):
        mh = m_hat[0] if isinstance(m_hat, list) else m_hat
        vh = v_hat[0] if isinstance(v_hat, list) else v_hat
        theta_step[kind] = float((mh / ((vh + 1e-8).sqrt() if inside else vh.sqrt() + 1e-8))[0])
    values = sorted(theta_step.values())
    assert min(b / a - 1 for a, b in zip(values, values[1:])) > 1e-6
    assert not math.isnan(sum(values))
