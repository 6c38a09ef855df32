"""The house style holds in every figure of every lesson, and the figure code keeps to public matplotlib."""

import ast
import re
from pathlib import Path

import pytest
from helpers import lesson_group
from house_style import violations

from toolkit import catalogue

PROJECT = Path(__file__).resolve().parent.parent
TOOLKIT = PROJECT / "toolkit"


LESSONS = [pytest.param(path.stem, marks=lesson_group(path.stem)) for path in catalogue.lesson_files()]


@pytest.mark.parametrize("stem", LESSONS)
def test_every_figure_of_the_lesson_keeps_the_house_style(stem, lesson_runs):
    drawn = lesson_runs(stem).run.drawn
    assert drawn, f"{stem} drew no figure"
    broken = {name: violations(fig) for name, fig in drawn.items()}
    broken = {name: lines for name, lines in broken.items() if lines}
    assert not broken, "\n".join(f"{stem}/{name}: {line}" for name, lines in broken.items() for line in lines)


@pytest.mark.parametrize("stem", LESSONS)
def test_every_figure_knows_the_function_that_drew_it_and_the_lesson_line_that_called_it(stem, lesson_runs):
    from toolkit.plots import style

    for name, fig in lesson_runs(stem).run.drawn.items():
        where = style.origin(fig)
        assert re.fullmatch(r"toolkit/plots/\w+\.py:[a-z]\w*", where.get("function", "")), (name, where)
        assert re.fullmatch(rf"lessons/{stem}\.py:\d+", where.get("called_at", "")), (name, where)


def test_the_checker_catches_a_figure_that_breaks_the_style():
    from matplotlib.figure import Figure

    from toolkit.plots import style

    fig = Figure()
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], color=style.INK, marker="x")                 # autograd's crosses, but black
    ax.plot([0, 1], [1, 0], color=style.VERMILLION, label="Adam + L2")    # vermillion for another run
    ax.plot([0], [0], marker="s", color=style.SKY_BLUE)                  # a start square in a run's colour
    ax.text(0.5, 0.5, "note", fontsize=13)
    found = "\n".join(violations(fig))
    assert "'x' marker that is not vermillion" in found and "vermillion on something other" in found
    assert "start square in colours other" in found and "13" in found


def _sources():
    return sorted(TOOLKIT.rglob("*.py"))


def _drawing_modules() -> list[Path]:
    """The toolkit's modules that touch matplotlib objects: the figures, the animation, the lesson that saves them."""
    def imports_matplotlib(path: Path) -> bool:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else \
                [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            if any(name.split(".")[0] in ("matplotlib", "mpl_toolkits") for name in names):
                return True
        return False

    return [path for path in _sources() if "plots" in path.parts or imports_matplotlib(path)]


def test_no_private_matplotlib_attribute_is_used_anywhere_in_the_toolkit():
    # obj._name on a matplotlib object breaks without warning on an upgrade. In every module that handles
    # matplotlib objects, no attribute with a leading underscore is read or set on anything but our own
    # self or cls (dunders such as __name__ are Python's, not matplotlib's).
    offenders = []
    modules = _drawing_modules()
    assert any(path.name == "animation.py" for path in modules) and any("plots" in path.parts for path in modules)
    for path in modules:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.endswith("__"):
                owner = node.value
                if isinstance(owner, ast.Name) and owner.id in ("self", "cls"):
                    continue
                offenders.append(f"{path.relative_to(PROJECT)}:{node.lineno}: .{node.attr}")
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) in ("getattr", "setattr", "hasattr"):
                if len(node.args) > 1 and isinstance(node.args[1], ast.Constant) and str(node.args[1].value).startswith("_") \
                        and not str(node.args[1].value).endswith("__"):
                    offenders.append(f"{path.relative_to(PROJECT)}:{node.lineno}: {node.func.id}(..., {node.args[1].value!r})")
    assert not offenders, "private attributes used:\n" + "\n".join(offenders)


def _imports(path: Path) -> set[str]:
    """The toolkit modules ``path`` imports (at any depth of the file: a late import still makes a circle)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("toolkit"):
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("toolkit"))
    return found


def test_no_import_circles_in_the_toolkit():
    modules = {}
    for path in _sources():
        name = ".".join(path.relative_to(PROJECT).with_suffix("").parts).removesuffix(".__init__")
        modules[name] = path
    graph = {name: {m for m in _imports(path) if m in modules and m != name} for name, path in modules.items()}
    # A package's __init__ importing its own modules is how a package is made, not a circle.
    for name in graph:
        graph[name] = {m for m in graph[name] if not (m.startswith(name + ".") and modules[name].name == "__init__.py")}

    def circle_from(start):
        stack, seen = [(start, [start])], set()
        while stack:
            node, trail = stack.pop()
            for nxt in graph[node]:
                if nxt == start:
                    return trail + [start]
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, trail + [nxt]))
        return None

    circles = [c for c in (circle_from(name) for name in graph) if c]
    assert not circles, "import circles: " + "; ".join(" -> ".join(c) for c in circles)
