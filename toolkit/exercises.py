"""Exercises: the hand-written pieces of the lessons, for a student to write and have checked.

Inside a lesson, a piece a student should write (a backward formula, an
update step) is marked around its solution lines, at their indentation:

    def backward(self, dout, input_grad=True):
        x = self._x
        # exercise linear_backward: add dL/dW = doutᵀ·x and dL/db = Σₙ dout[n] into .grad (...), and set dx = ...
        accumulate_grad(self.weight, dout.T @ x)
        accumulate_grad(self.bias, dout.sum(dim=0))
        dx = dout @ self.weight
        # end exercise
        return dx if input_grad else None

``python -m toolkit exercises --out DIR [N ...]`` writes the student version
of a lesson into DIR: the same file, each marked solution replaced by

        # exercise linear_backward: add dL/dW = ...
        raise NotImplementedError("exercise linear_backward: add dL/dW = ...")
        # end exercise

The student writes their code between the markers and runs the file from
DIR (``python DIR/05_hidden_layer.py``). Then:

* a piece not written yet stops the lesson with one line (exit code 1),
  ``exercise linear_backward is not written yet: add dL/dW = ...``;
* so does a gradient of the wrong shape, which torch refuses to store in
  ``.grad`` before any check can see it; the line names the likely mistake
  from the shapes (a transposed product, a sum over the batch left out);
* the lesson's own checks run on the student's code (``run.check``: the
  gradient report against autograd and finite differences;
  ``run.check_update``: an update step against torch.optim.SGD). When they
  disagree, ``toolkit.diagnose`` says where the disagreement starts and which
  classic mistake it most likely is, and a student version stops there
  (exit code 1): fix that piece first, then run the file again.

Exit code 1 is what a failing check gives; 2 stays for bad command-line input.

This module needs no torch to write student versions (the command line
answers at once); the parts that check code import it when called.
"""

from __future__ import annotations

import inspect
import json
import re
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path

from toolkit.options import INTERRUPTED

START = re.compile(r"^(?P<indent>[ \t]*)# exercise (?P<name>[A-Za-z_]\w*): (?P<task>\S.*?)\s*$")
END = re.compile(r"^(?P<indent>[ \t]*)# end exercise\s*$")
# The first words of the note a student version carries under its title; see is_student_version.
STUDENT_NOTE = "# **Your version** (written by `python -m toolkit exercises`"
PREFIX = "exercise "        # every stub's message starts so: "exercise <name>: <task>"


@dataclass(frozen=True)
class Exercise:
    """One marked region: its name, what to write, and where (1-based line numbers of its two markers)."""

    name: str
    task: str
    indent: str
    start: int          # the line "# exercise <name>: <task>"
    end: int            # the line "# end exercise"

    @property
    def message(self) -> str:
        """What the stub raises: "exercise <name>: <task>"."""
        return f"{PREFIX}{self.name}: {self.task}"


def find_exercises(text: str, source: str = "the lesson") -> list[Exercise]:
    """Every exercise marked in ``text``, in order; ValueError (one line, naming ``source`` and the line) if
    the markers are malformed: an exercise inside another, a marker left open or an end without a start,
    an end at another indentation, an empty body, a body line outdented past the marker, a name used twice."""
    found: list[Exercise] = []
    opened: tuple[int, re.Match] | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        start, end = START.match(line), END.match(line)
        if start:
            if opened is not None:
                raise ValueError(f"{source}, line {number}: exercise '{start['name']}' starts inside exercise "
                                 f"'{opened[1]['name']}' (line {opened[0]}); close that one first")
            opened = (number, start)
        elif end:
            if opened is None:
                raise ValueError(f"{source}, line {number}: '# end exercise' without an exercise to end")
            first, match = opened
            if end["indent"] != match["indent"]:
                raise ValueError(f"{source}, line {number}: '# end exercise' of '{match['name']}' is not at the "
                                 f"indentation of its start (line {first})")
            if number == first + 1:
                raise ValueError(f"{source}, line {first}: exercise '{match['name']}' marks no lines")
            if any(e.name == match["name"] for e in found):
                raise ValueError(f"{source}, line {first}: a second exercise named '{match['name']}'")
            found.append(Exercise(match["name"], match["task"], match["indent"], first, number))
            opened = None
        elif opened is not None and line.strip() and not line.startswith(opened[1]["indent"]):
            raise ValueError(f"{source}, line {number}: a line of exercise '{opened[1]['name']}' lies left of "
                             f"its marker (line {opened[0]})")
    if opened is not None:
        raise ValueError(f"{source}, line {opened[0]}: exercise '{opened[1]['name']}' is never closed "
                         "with '# end exercise'")
    return found


def _replace_bodies(text: str, bodies: dict[str, list[str]], source: str) -> str:
    """``text`` with the body of each named exercise replaced by the given lines (without indentation)."""
    lines = text.splitlines(keepends=True)
    newline = "\r\n" if lines and lines[0].endswith("\r\n") else "\n"
    for exercise in reversed(find_exercises(text, source)):
        if exercise.name in bodies:
            body = [f"{exercise.indent}{line}".rstrip() + newline if line.strip() else newline
                    for line in bodies[exercise.name]]
            lines[exercise.start:exercise.end - 1] = body
    return "".join(lines)


def student_version(text: str, source: str = "the lesson", origin: str | None = None) -> str:
    """The lesson with every exercise's solution replaced by a stub that raises NotImplementedError.

    The markers stay (the student writes between them), so a student version
    can be checked and filled again. A short note under the lesson's title
    says what the file is; the title itself, and so the lesson's name, stay.
    ``origin`` names the solution's file in that note.
    """
    exercises = find_exercises(text, source)
    stubs = {e.name: [f"raise NotImplementedError({json.dumps(e.message, ensure_ascii=False)})"] for e in exercises}
    stubbed = _replace_bodies(text, stubs, source)
    names = ", ".join(f"`{e.name}`" for e in exercises)
    note = [
        "#",
        f"{STUDENT_NOTE}{f' from `{origin}`' if origin else ''}): the code marked",
        f"# `# exercise` is yours to write ({names}). Run this file: it checks each piece",
        "# against autograd and, when they disagree, names the likely mistake.",
    ]
    lines = stubbed.splitlines(keepends=True)
    newline = "\r\n" if lines and lines[0].endswith("\r\n") else "\n"
    title = next((i for i, line in enumerate(lines) if line.startswith("# # ")), None)
    at = 0 if title is None else title + 1
    lines[at:at] = [line + newline for line in (note if title is not None else note[1:])]
    return "".join(lines)


def fill_exercise(text: str, name: str, code: str, source: str = "the lesson") -> str:
    """``text`` with exercise ``name``'s body replaced by ``code`` (written without indentation)."""
    if name not in {e.name for e in find_exercises(text, source)}:
        raise ValueError(f"{source} has no exercise '{name}'")
    return _replace_bodies(text, {name: code.strip("\n").splitlines()}, source)


def is_student_version(path: Path | str | None) -> bool:
    """True for a file written by ``student_version`` (it carries the note under its title)."""
    if path is None:
        return False
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return any(line.startswith(STUDENT_NOTE) for line in text.splitlines())


# --------------------------------------------------------------------------- the command


def lessons_with_exercises() -> list[Path]:
    """The numbered lessons that mark at least one exercise."""
    from toolkit.catalogue import lesson_files

    return [path for path in lesson_files()
            if find_exercises(path.read_text(encoding="utf-8"), f"lessons/{path.name}")]


def write_student_versions(out: Path | str, keys: list[str] | None = None, force: bool = False
                           ) -> tuple[list[tuple[Path, list[Exercise]]], list[Path]]:
    """Write the student version of each lesson in ``keys`` (numbers or names; all lessons with exercises if
    none) into ``out``; returns (file written, its exercises) per lesson, and the files kept.

    Refused with a ValueError of one line, before anything is written: an
    unknown lesson, a lesson without exercises, malformed markers, an
    ``out`` inside lessons/ (student versions must never replace the
    solutions), an empty ``out``, and an ``out`` that cannot be written. A
    file in ``out`` that differs from the fresh student version (the
    student's work, perhaps) is kept unless ``force``, and the others are
    written all the same. Each file is written atomically
    (``toolkit.files.replace_file``): a reader sees the old file or the new
    one. If writing one fails (a full disk), the ValueError names the files
    already written and those not.
    """
    from toolkit.catalogue import find_lesson, lessons_folder
    from toolkit.files import replace_file, writable_folder

    if not str(out).strip():
        raise ValueError(f"--out must name a folder, got {repr(str(out)) if str(out) else 'an empty string'}")
    out = Path(out).expanduser()
    lessons = lessons_folder().resolve()
    target = out.resolve()
    if target == lessons or lessons in target.parents:
        raise ValueError(f"--out {out} lies inside {lessons}: the student versions would replace the lessons' "
                         "solutions; choose a folder outside it")
    paths = [find_lesson(key) for key in keys] if keys else lessons_with_exercises()
    if not paths:
        raise ValueError("no lesson marks an exercise ('# exercise <name>: ...')")
    planned = []
    for path in dict.fromkeys(paths):
        text = path.read_text(encoding="utf-8")
        exercises = find_exercises(text, f"lessons/{path.name}")
        if not exercises:
            with_some = ", ".join(str(int(p.name[:2])) for p in lessons_with_exercises()) or "none"
            raise ValueError(f"lesson {path.stem} has no exercises (lessons with exercises: {with_some})")
        planned.append((path, exercises, student_version(text, f"lessons/{path.name}", f"lessons/{path.name}")))
    writable_folder(out)
    written, kept = [], []
    for path, exercises, text in planned:
        file = out / path.name
        if file.exists() and not force and file.read_bytes() != text.encode("utf-8"):
            kept.append(file)
            continue
        try:
            replace_file(file, text.encode("utf-8"))
        except OSError as error:
            done = ", ".join(f.name for f, _ in written) or "none"
            left = ", ".join(p.name for p, _, _ in planned[len(written) + len(kept):])
            raise ValueError(f"could not write {file}: {error.strerror or error}; written before it: {done}; "
                             f"not written: {left}") from None
        written.append((file, exercises))
    return written, kept


def main(out: Path | str, keys: list[str] | None = None, force: bool = False) -> int:
    """``python -m toolkit exercises``: write the student versions and say what is in each.

    A file kept because it differs from a fresh student version (the
    student's own work?) is named in one line on stderr, and the exit code
    is then 2: the others were written.
    """
    from toolkit.options import ERROR_PREFIX

    written, kept = write_student_versions(out, keys, force)
    for file, exercises in written:
        print(f"wrote {file}: {len(exercises)} exercise{'s' if len(exercises) != 1 else ''} "
              f"({', '.join(e.name for e in exercises)})")
    if written:
        print(f"write the code between each '# exercise' and '# end exercise', then run the lesson: "
              f"python {written[0][0]} --no-figures")
    if kept:
        print(f"{ERROR_PREFIX}kept {', '.join(str(f) for f in kept)}: "
              f"{'it differs' if len(kept) == 1 else 'they differ'} from a fresh student version (your own work?); "
              "give --force to overwrite, or choose another --out", file=sys.stderr)
        return 2
    return 0


# --------------------------------------------------------------------------- a stub that is still empty


def _unwritten(error: BaseException) -> str | None:
    """The message of a stub's NotImplementedError ("exercise <name>: <task>"), else None."""
    if isinstance(error, NotImplementedError) and error.args and isinstance(error.args[0], str):
        message = error.args[0]
        if START.match(f"# {message}"):
            return message
    return None


def _exercise_at(file: str, line: int) -> Exercise | None:
    """The exercise whose marked lines hold ``line`` of ``file``, if any."""
    try:
        found = find_exercises(Path(file).read_text(encoding="utf-8", errors="replace"), file)
    except (OSError, ValueError):
        return None
    return next((e for e in found if e.start < line < e.end), None)


def _wrong_shape(error: BaseException) -> str | None:
    """One line for a gradient of the wrong shape stored into .grad from an exercise (torch refuses it)."""
    text = str(error)
    # torch: "attempting to assign a gradient of size ... to a tensor of size ..." (older: "assigned grad has
    # data of a different size")
    if not (isinstance(error, RuntimeError) and "assign" in text and "grad" in text and "size" in text):
        return None
    import traceback

    from toolkit.diagnose import ZOO_KINDS, wrong_shape

    frames = list(traceback.walk_tb(error.__traceback__))
    place = next(((frame, line, exercise) for frame, line in reversed(frames)
                  if (exercise := _exercise_at(frame.f_code.co_filename, line)) is not None), None)
    if place is None:
        return None
    frame, line, exercise = place
    shapes = next(((tuple(f.f_locals["grad"].shape), tuple(f.f_locals["param"].shape)) for f, _ in reversed(frames)
                   if hasattr(f.f_locals.get("grad"), "shape") and hasattr(f.f_locals.get("param"), "shape")), None)
    where = f"({Path(frame.f_code.co_filename).name}, line {line})"
    if shapes is None:
        return (f"exercise {exercise.name}: a gradient whose shape is not its parameter's was stored in .grad "
                f"{where}; a gradient has the shape of what it is the gradient of")
    finding = wrong_shape(*shapes)
    name = finding.name if finding.kind is None else f"most likely {finding.name}"
    zoo = f' (the bug zoo\'s "{finding.kind}")' if finding.kind in ZOO_KINDS else ""
    return f"exercise {exercise.name}: {name}{zoo}: {finding.numbers} {finding.advice} {where}"


def friendly_line(error: BaseException) -> str | None:
    """One line for an error that a student's exercise caused, naming the exercise and the place; None for
    any other error (it keeps its traceback).

    A stub still empty: "exercise <name> is not written yet: <task> (file, line N)". A gradient of the
    wrong shape stored into .grad (torch refuses it before any check can see it). Any other error raised
    in a student version (``is_student_version``), or by a gradient a student's backward handed on
    (``GradientShapeError``): the exercise behind it (``failure_of``) and what the error means
    (``toolkit.diagnose.explain_failure``), e.g. "exercise linear_backward: dx is used but never
    assigned: (name 'dx' is not defined). Assign dx ... (05_hidden_layer.py, line 88)".
    """
    message = _unwritten(error)
    if message is None:
        return _wrong_shape(error) or _failure_line(error)
    name, task = message[len(PREFIX):].split(": ", 1)
    where = ""
    frames = inspect.getinnerframes(error.__traceback__, context=0) if error.__traceback__ else []
    if frames:
        frame = frames[-1]
        where = f" ({Path(frame.filename).name}, line {frame.lineno})"
    return f"exercise {name} is not written yet: {task}{where}"


def _failure_line(error: BaseException) -> str | None:
    from toolkit.diagnose import ZOO_KINDS

    failure = failure_of(error)
    if failure is None:
        return None
    exercise, file, line, finding = failure
    name = finding.name if finding.kind is None else f"most likely {finding.name}"
    zoo = f' (the bug zoo\'s "{finding.kind}")' if finding.kind in ZOO_KINDS else ""
    text = " ".join(part for part in (finding.numbers, finding.advice) if part)
    where = f"line {line}" if exercise.start < line < exercise.end else \
        f"line {exercise.start + 1}; the error came on line {line}"
    return f"exercise {exercise.name}: {name}{zoo}: {text} ({file.name}, {where})"


def failure_of(error: BaseException):
    """(exercise, file, line, finding) for an error a student's code caused, or None (see ``friendly_line``).

    The exercise: the one that made a gradient of the wrong shape; else the one whose marked lines the
    error came from; else, in a student version, the one whose function the error came from, or that is
    called on the line where it came, or that was called last above it. An exercise whose function
    returns nothing (where the lesson's returns a value) comes first when the error is about a None.
    """
    from toolkit.diagnose import Failure, explain_failure
    from toolkit.manual.module import GradientShapeError

    if not isinstance(error, Exception):
        return None
    place = None
    if isinstance(error, GradientShapeError) and error.backward is not None:
        located = exercise_in(error.backward)
        if located is not None:
            place = (located[0], located[1], located[0].start + 1)
    frames = [(Path(frame.f_code.co_filename), line) for frame, line in traceback.walk_tb(error.__traceback__)]
    if place is None:
        place = next(((exercise, file, line) for file, line in reversed(frames)
                      if (exercise := _exercise_at(str(file), line)) is not None), None)
    if place is None:
        file, line = next(((file, line) for file, line in reversed(frames) if is_student_version(file)), (None, 0))
        if file is None:
            return None
        exercise = _exercise_for(file, line, about_none="None" in str(error))
        if exercise is None:
            return None
        place = (exercise, file, line)
    exercise, file, line = place
    finding = explain_failure(Failure(error, returns_nothing=_returns_nothing(file, exercise)))
    return exercise, file, line, finding


def _functions(text: str) -> list:
    import ast

    try:
        tree = ast.parse(text)
    except SyntaxError:
        return []
    return [node for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))]


def _function_of(text: str, line: int):
    """The innermost function whose lines hold ``line``, or None (module level)."""
    holding = [f for f in _functions(text) if f.lineno <= line <= (f.end_lineno or f.lineno)]
    return max(holding, key=lambda f: f.lineno, default=None)


def _returns_a_value(function) -> bool:
    import ast

    return any(isinstance(node, ast.Return) and node.value is not None for node in ast.walk(function))


def _returns_nothing(file: Path, exercise: Exercise) -> bool:
    """The function holding ``exercise`` has no ``return`` of a value, where the lesson's own has one (or,
    without the lesson, where the task says to return)."""
    try:
        text = Path(file).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    function = _function_of(text, exercise.start)
    if function is None or _returns_a_value(function):
        return False
    try:
        from toolkit.catalogue import find_lesson

        original = find_lesson(Path(file).stem).read_text(encoding="utf-8")
        marked = next((e for e in find_exercises(original) if e.name == exercise.name), None)
        theirs = _function_of(original, marked.start) if marked is not None else None
        return theirs is not None and _returns_a_value(theirs)
    except (OSError, ValueError):
        return exercise.task.lower().startswith("return") or "return" in exercise.task.lower()


def _exercise_for(file: Path, line: int, about_none: bool = False) -> Exercise | None:
    """The exercise most likely behind an error on ``line`` of a student version (see ``failure_of``)."""
    try:
        text = file.read_text(encoding="utf-8", errors="replace")
        found = find_exercises(text, file.name)
    except (OSError, ValueError):
        return None
    if not found:
        return None
    source = text.splitlines()[line - 1] if 0 < line <= len(text.splitlines()) else ""
    called = lambda e, code: re.search(rf"(?<![\w.]){re.escape(e.name)}\(", code)  # noqa: E731
    if about_none:
        silent = [e for e in found if _returns_nothing(file, e)]
        above = "\n".join(text.splitlines()[:line])
        silent = [e for e in silent if called(e, above)] or silent
        if silent:
            return silent[0]
    function = _function_of(text, line)
    if function is not None:
        inside = [e for e in found if function.lineno <= e.start <= (function.end_lineno or function.lineno)]
        if inside:
            return inside[0]
    on_line = [e for e in found if called(e, source)]
    if on_line:
        return on_line[0]
    return _formula_exercise(file, line + 1)


def _hook(kind, error, traceback, previous=None, other_errors=None) -> None:
    if isinstance(error, KeyboardInterrupt):
        # One line, and nothing imported or run here: Python then ends as after any Ctrl-C (status 130).
        print(INTERRUPTED, file=sys.stderr)
        return
    line = friendly_line(error)
    if line is None and other_errors is not None:
        line = other_errors(error)
    if line is None:
        (previous or sys.__excepthook__)(kind, error, traceback)
    else:
        print(line, file=sys.stderr)       # and Python exits with code 1


def report_unwritten_exercises(other_errors=None) -> None:
    """From now on, an error that ends the program because of an exercise prints one line, not a traceback:
    a stub's NotImplementedError, a gradient of the wrong shape, any error a student's code caused (see
    ``friendly_line``); so does Ctrl-C (SIGTERM too, where it is handled as Ctrl-C), and so does any error
    for which ``other_errors(error)`` gives a line (``lesson.start`` passes the lesson's own). Python then
    exits with code 1 (130 after Ctrl-C).

    Installed by ``lesson.start`` when a lesson runs as a script; any other
    error still gets the usual traceback. Installing twice changes nothing.
    """
    if getattr(sys.excepthook, "_exercise_hook", False):
        return
    previous = sys.excepthook

    def hook(kind, error, traceback):
        _hook(kind, error, traceback, previous, other_errors)

    hook._exercise_hook = True
    sys.excepthook = hook


# --------------------------------------------------------------------------- checks that name the mistake


def exercise_in(function, calls: bool = True) -> tuple[Exercise, Path] | None:
    """The exercise marked inside ``function``'s source, with its file; None if it has none (or no source).

    With ``calls``, a function that holds no exercise itself is searched one
    call deep: a layer whose backward hands the work to a lesson's function
    (``batchnorm_backward(...)``) points into that function's exercise.
    """
    function = inspect.unwrap(function)
    found = _exercise_in(function)
    if found is None and calls and hasattr(function, "__code__"):
        namespace = getattr(function, "__globals__", {})
        for name in function.__code__.co_names:
            called = namespace.get(name)
            if inspect.isfunction(called) and called is not function:
                found = _exercise_in(called)
                if found is not None:
                    break
    return found


def _exercise_in(function) -> tuple[Exercise, Path] | None:
    try:
        file = inspect.getsourcefile(function)
        lines, first = inspect.getsourcelines(function)
    except (OSError, TypeError):
        return None
    if file is None:
        return None
    try:
        exercises = find_exercises(Path(file).read_text(encoding="utf-8", errors="replace"), file)
    except (OSError, ValueError):
        return None
    last = first + len(lines) - 1
    inside = [e for e in exercises if first <= e.start <= last]
    return (inside[0], Path(file)) if inside else None


def _code_of(twins, row) -> object | None:
    """The hand-written backward behind a report row: its layer's, or the loss's for the output row."""
    if row.layer is None:
        return type(twins.manual_loss).backward
    net = twins.manual_net
    layers = list(net) if hasattr(net, "layers") else [net]
    return type(layers[row.layer]).backward if row.layer < len(layers) else None


def _caller(lesson_file: Path | None = None) -> tuple[Path, int] | None:
    """The file and line that ran the check: the nearest frame in ``lesson_file`` if given, else the
    nearest outside the toolkit."""
    package = Path(__file__).resolve().parent
    frames = [(Path(frame.filename), frame.lineno) for frame in inspect.stack(context=0)[1:]
              if frame.filename.endswith(".py")]
    if lesson_file is not None:
        mine = [(path, line) for path, line in frames if path.resolve() == Path(lesson_file).resolve()]
        if mine:
            return mine[0]
    return next(((path, line) for path, line in frames if package not in path.resolve().parents), None)


def _formula_exercise(file: Path, line: int) -> Exercise | None:
    """The exercise most likely behind a formula given to run.check on ``line``: of the file's exercises
    (each named after the function it sits in), the one whose function was last called above that line."""
    try:
        text = file.read_text(encoding="utf-8", errors="replace")
        found = find_exercises(text, file.name)
    except (OSError, ValueError):
        return None
    lines = text.splitlines()[:line - 1]
    latest = {}
    for exercise in found:
        call = re.compile(rf"(?<![\w.]){re.escape(exercise.name)}\(")
        for number, source in enumerate(lines, start=1):
            if call.search(source) and not source.lstrip().startswith("def "):
                latest[exercise] = number
    return max(latest, key=latest.get) if latest else None


def explain(run, diagnosis, code=None) -> None:
    """Print ``diagnosis`` and the exercise it points into; in a student version, stop the lesson there.

    ``code`` is the function whose result disagreed (a layer's backward, an
    update step), to find the exercise marked in it; a formula given to
    ``run.check`` is found by the line that gave it. Stopping is
    ``SystemExit(1)``: the rest of a lesson builds on this piece.
    """
    located = exercise_in(code) if code is not None else None
    lines = diagnosis.lines()
    what = "the code named above"
    if located is not None:
        exercise, file = located
        lines.append(f"  in exercise {exercise.name} ({file.name}, line {exercise.start})")
        what = f"exercise {exercise.name}"
    elif diagnosis.witness == "formula" and (caller := _caller(getattr(run, "file", None))) is not None:
        file, line = caller
        exercise = _formula_exercise(file, line)
        given = f"given to run.check on line {line} of {file.name}"
        if exercise is None:
            lines.append(f"  the formula was {given}")
        else:
            lines.append(f"  most likely in exercise {exercise.name} ({file.name}, line {exercise.start}): "
                         f"run.check got its result on line {line}")
            what = f"exercise {exercise.name}"
    print("\n".join(lines))
    stop_student_version(run, what)


def stop_student_version(run, what: str) -> None:
    """After a check that disagrees: in a student version, say what to fix and stop (``SystemExit(1)``).

    ``what`` names the piece, e.g. "exercise step_rate". In the lesson
    itself (the solutions) nothing happens: its own printed verdict stands.
    """
    if is_student_version(getattr(run, "file", None)):
        print(f"fix {what} and run this file again (the rest of the lesson builds on it)")
        raise SystemExit(1)


def check_gradients(run, twins, report, accumulation) -> None:
    """After ``run.check``'s reports: if they disagree, diagnose and explain (see ``explain``)."""
    from toolkit import diagnose

    diagnosis = diagnose.diagnose(report, accumulation)
    if diagnosis is None:
        return
    code = None
    if diagnosis.witness in ("manual", "accumulation"):
        source = report if diagnosis.witness == "manual" else accumulation
        row = next((r for r in source.rows if r.name == diagnosis.rows[0]), None)
        code = _code_of(twins, row) if row is not None else None
    explain(run, diagnosis, code)


def update_report(update, lr: float, *, seed: int = 0, device="cpu", dtype=None, title: str = "update check",
                  shape: tuple[int, ...] = (3, 4)):
    """One step of a hand-written SGD ``update(weight, lr)`` against ``torch.optim.SGD``, as a report.

    Both start from the same random tensor of ``shape`` (default (3, 4); a
    lesson passes its own weight's) with the same random ``.grad``;
    ``update`` must change its weight in place (it is called under
    ``torch.no_grad()``, as a lesson calls it). One row, "manual vs
    torch SGD", compares the two results with the tolerances of the
    gradient report; the row keeps both steps (``manual``: yours,
    ``autograd``: torch's) for a diagnosis.
    """
    import torch

    from toolkit.gradient_check import GradientReport, Row, compare, tolerances

    dtype = dtype or torch.float64
    (rtol, atol), _ = tolerances(dtype)
    generator = torch.Generator().manual_seed(seed)
    start = torch.randn(*shape, generator=generator, dtype=torch.float64).to(device, dtype)
    grad = torch.randn(*shape, generator=generator, dtype=torch.float64).to(device, dtype)
    mine = start.clone()
    mine.grad = grad.clone()
    with torch.no_grad():
        update(mine, lr)
    theirs = start.clone().requires_grad_(True)
    theirs.grad = grad.clone()
    torch.optim.SGD([theirs], lr=lr).step()
    theirs = theirs.detach()
    name = getattr(update, "__name__", "update")
    row = Row(name, tuple(start.shape), None, f"{name}'s step",
              [compare("manual vs torch SGD", mine, theirs, rtol, atol)],
              manual=mine - start, autograd=theirs - start, value=start)
    return GradientReport([row], dtype, title)


def check_update(run, update, lr: float, shape: tuple[int, ...] = (3, 4)) -> None:
    """``run.check_update``: compare ``update`` with torch.optim.SGD, print one line, explain a disagreement."""
    from toolkit import diagnose

    report = update_report(update, lr, seed=run.seed, device=run.device, dtype=run.dtype,
                           title=f"update check, {run.name}", shape=shape)
    run.reports.append(report)
    comparison = report.rows[0].comparisons[0]
    verdict = "they agree" if report.ok else "THEY DISAGREE"
    print(f"update check: {report.rows[0].name}(weight, lr={lr:g}) against torch.optim.SGD, one step on a random "
          f"{tuple(shape)} tensor: {verdict} (max |diff| {comparison.max_abs:.1e})")
    if not report.ok:
        explain(run, diagnose.diagnose_update(report, lr), update)


def check_adam_step(run, adam_step, lr: float) -> None:
    """After a lesson found its hand-written Adam step ``adam_step(theta, g, m, v, t, lr)`` disagreeing with
    torch's: name the classic mistake (``toolkit.diagnose.diagnose_adam_step``) and, in a student version,
    stop there. Nothing happens when the probe finds the step right."""
    from toolkit import diagnose

    diagnosis = diagnose.diagnose_adam_step(adam_step, lr=lr)
    if diagnosis is None:
        print("diagnosis: on a probe step adam_step agrees with Adam's formula; the difference is elsewhere")
        stop_student_version(run, "exercise adam_step")
        return
    explain(run, diagnosis, adam_step)


# --------------------------------------------------------------------------- gradient clipping (lesson 17)


def clipping_cases(clip, *, seed: int = 0, device="cpu", dtype=None) -> dict:
    """A hand-written ``clip(grads, max_norm)`` against ``torch.nn.utils.clip_grad_norm_``, on two calls.

    Both get copies of the same four random gradients (of different shapes
    and sizes): once with max_norm below their total norm (they must
    shrink) and once above it (they must stay exactly as they are). Returns
    {what the call was: a ``toolkit.diagnose.ClipCase``}.
    """
    import torch

    from toolkit.diagnose import ClipCase

    dtype = dtype or torch.float64
    generator = torch.Generator().manual_seed(seed)
    shapes, scales = [(4, 3), (4,), (2, 4), (2,)], [3.0, 0.5, 1.0, 0.1]
    grads = [(scale * torch.randn(shape, generator=generator, dtype=torch.float64)).to(device, dtype)
             for shape, scale in zip(shapes, scales)]
    total = float(torch.stack([g.norm() for g in grads]).norm())
    cases = {}
    for label, max_norm in (("their norm above max_norm", total / 4), ("their norm below max_norm", 2 * total)):
        mine = [g.clone() for g in grads]
        with torch.no_grad():
            returned = clip(mine, max_norm)
        params = [torch.zeros_like(g) for g in grads]
        for param, g in zip(params, grads):
            param.grad = g.clone()
        true_total = torch.nn.utils.clip_grad_norm_(params, max_norm)
        cases[label] = ClipCase(grads=[g.clone() for g in grads], max_norm=max_norm, mine=mine,
                                true=[param.grad for param in params],
                                mine_total=float(returned) if returned is not None else float("nan"),
                                true_total=float(true_total))
    return cases


def check_clipping(run, clip) -> None:
    """Lesson 17: compare a hand-written ``clip(grads, max_norm)`` with torch's, print one line, explain a disagreement.

    See ``clipping_cases``; a disagreement is diagnosed by ``toolkit.diagnose.diagnose_clipping`` and
    explained as a wrong gradient is (a student version stops there).
    """
    from toolkit import diagnose

    name = getattr(clip, "__name__", "clip")
    cases = clipping_cases(clip, seed=run.seed, device=run.device, dtype=run.dtype)
    diagnosis = diagnose.diagnose_clipping(cases, name)
    largest = max(max(float((a - b).abs().max()) if a.shape == b.shape else float("inf")
                      for a, b in zip(case.mine, case.true)) for case in cases.values())
    verdict = "they agree" if diagnosis is None else "THEY DISAGREE"
    print(f"clipping check: {name}(grads, max_norm) against torch.nn.utils.clip_grad_norm_, with the gradients' "
          f"norm above and below max_norm: {verdict} (max |diff| {largest:.1e})")
    run.record("clipping_check", {"agree": diagnosis is None, "max_abs_diff": largest})
    if diagnosis is not None:
        explain(run, diagnosis, clip)
