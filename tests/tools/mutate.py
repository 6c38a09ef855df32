#!/usr/bin/env python
"""Mutation testing for the hand-written gradients: does the suite notice a changed formula?

Run it from the repository root:

    python tests/tools/mutate.py                   # every mutant, two at a time
    python tests/tools/mutate.py --list            # list the mutants, run nothing
    python tests/tools/mutate.py --only optim.py   # the mutants of one source file
    python tests/tools/mutate.py --jobs 1 --timeout 300
    python tests/tools/mutate.py --check-equivalent   # also run the EQUIVALENT ones

What is mutated: the body of every ``backward`` method in toolkit/manual/*.py,
``accumulate_grad`` in toolkit/manual/module.py (through which every backward
adds into ``param.grad``) and ``SGD.step`` in toolkit/optim.py. Docstrings,
annotations, ``raise`` statements and abstract methods that only raise
(``_Loss.backward``) are left alone. The operators, one change per mutant:

    binop      a + b <-> a - b,   a * b <-> a / b,   a @ b -> a * b
    neg        a unary minus removed (-x -> x, alpha=-lr -> alpha=lr), or added:
               to a returned value, to the right-hand side of an assignment,
               to the operand of an arithmetic method (.mul_(y) -> .mul_(-(y))),
               to alpha=, to the gradient passed to accumulate_grad
    const      a number c -> c + 1 and c - 1 (2.0 -> 1.0, 1 -> 0, dim=0 -> dim=1, ...)
    one-minus  c - x -> x   (1 - dampening -> dampening)
    method     .sum( <-> .mean(,   add(_) <-> sub(_),   mul(_) <-> div(_)
    compare    > <-> >=,  > <-> <,  < <-> <=,  == <-> !=,  is <-> is not
    not        not x -> x
    assign     an in-place accumulate becomes an assignment:
               a += b -> a = b,   t.add_(y) -> t.copy_(y),   t.addmm_(a, b) -> t.copy_(a @ b)

How it runs: the repository is copied ONCE, at the start, into a temporary
directory (without .git, figures, build output and caches), and that snapshot
once more for each further parallel job (--jobs, default 2). A mutant is
written over its file in one copy, and the tests that exercise that file run
there,

    python -m pytest -x -q -p no:cacheprovider -p no:xdist <test files>

in one process (the mutants themselves are the parallel jobs), with the
copy as working directory and PYTHONPATH, so ``import toolkit`` is the
copy's (checked once per copy, and the unmutated tests must pass there
first). A non-zero exit kills the mutant; exit 0 means it survived. The
working tree itself is only read.

Exit status: 0 when every mutant was killed or is listed in EQUIVALENT below
(a change that cannot alter what the code computes, each with its reason);
1 when a mutant survived or timed out; 2 when the unmutated tests fail.
A full run (about 110 mutants) takes some 7 minutes on two cores.
"""

from __future__ import annotations

import argparse
import ast
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# What to mutate: file -> the functions (qualified names) whose bodies are mutated.
# Every ``backward`` in toolkit/manual/*.py is found automatically; these come on top.
EXTRA_TARGETS = {
    "toolkit/manual/module.py": {"accumulate_grad"},
    "toolkit/optim.py": {"SGD.step", "RMSprop.step", "Adam.step"},
}

# The tests that exercise each kind of file, the most direct (and quickest to fail) first.
LAYER_TESTS = [
    "tests/test_manual_layers.py",
    "tests/test_manual_batchnorm.py",
    "tests/test_properties.py",
    "tests/test_torch_gradcheck.py",
    "tests/test_gradient_report.py",
    "tests/test_bugs.py",
    "tests/test_train.py",
    "tests/test_optim.py",
]
LOSS_TESTS = ["tests/test_manual_losses.py"] + LAYER_TESTS[1:]
OPTIM_TESTS = ["tests/test_optim.py", "tests/test_train.py"]


def tests_for(path: str) -> list[str]:
    if path == "toolkit/optim.py":
        return OPTIM_TESTS
    if path == "toolkit/manual/losses.py":
        return LOSS_TESTS
    return LAYER_TESTS


# Mutants that cannot change what the code computes. Key: (file, function,
# original, mutated), the last two exactly as the table prints them.
EQUIVALENT: dict[tuple[str, str, str, str], str] = {
    ("toolkit/manual/activations.py", "Tanh.backward",
     "self._saved(self._out)", "-self._saved(self._out)"):
        "the slope 1 - out**2 is even in out, so negating the cached output changes nothing",
}

IGNORED_IN_COPY = shutil.ignore_patterns(
    ".git", "figures", "__pycache__", ".hypothesis", ".pytest_cache", "build", "*.egg-info"
)

# --------------------------------------------------------------------------- the operators

BINOP_SWAPS = {ast.Add: [ast.Sub], ast.Sub: [ast.Add], ast.Mult: [ast.Div], ast.Div: [ast.Mult],
               ast.MatMult: [ast.Mult]}
BINOP_SYMBOLS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.MatMult: "@"}
COMPARE_SWAPS = {ast.Gt: [ast.GtE, ast.Lt], ast.GtE: [ast.Gt, ast.LtE], ast.Lt: [ast.LtE, ast.Gt],
                 ast.LtE: [ast.Lt, ast.GtE], ast.Eq: [ast.NotEq], ast.NotEq: [ast.Eq],
                 ast.Is: [ast.IsNot], ast.IsNot: [ast.Is]}
COMPARE_SYMBOLS = {ast.Gt: ">", ast.GtE: ">=", ast.Lt: "<", ast.LtE: "<=", ast.Eq: "==", ast.NotEq: "!=",
                   ast.Is: "is", ast.IsNot: "is not"}
METHOD_SWAPS = {"sum": "mean", "mean": "sum", "add_": "sub_", "sub_": "add_", "add": "sub", "sub": "add",
                "mul_": "div_", "div_": "mul_", "mul": "div", "div": "mul"}
ARITH_METHODS = {"add", "add_", "sub", "sub_", "mul", "mul_", "div", "div_", "addmm_"}
ACCUMULATE_METHODS = {"add_", "sub_"}   # t.add_(y) at statement level -> t.copy_(y)
ATOMS = (ast.Name, ast.Attribute, ast.Call, ast.Subscript, ast.Constant)
CONTEXT_CHARS = 16   # the table shows at least this much of the code around a change


@dataclass(frozen=True)
class Mutant:
    path: str        # relative to the repository root
    function: str    # qualified name, e.g. "Linear.backward"
    line: int
    kind: str
    original: str    # the code around the change, before ...
    mutated: str     # ... and after it
    source: str      # the whole mutated file

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.path, self.function, self.original, self.mutated)


class _Source:
    """A module's text with byte offsets for ast positions (col_offset counts UTF-8 bytes)."""

    def __init__(self, text: str) -> None:
        self.data = text.encode()
        self.line_starts = [0]
        for line in self.data.splitlines(keepends=True):
            self.line_starts.append(self.line_starts[-1] + len(line))

    def span(self, node: ast.AST) -> tuple[int, int]:
        return (self.line_starts[node.lineno - 1] + node.col_offset,
                self.line_starts[node.end_lineno - 1] + node.end_col_offset)

    def text(self, node: ast.AST) -> str:
        start, end = self.span(node)
        return self.data[start:end].decode()

    def operand(self, node: ast.AST) -> str:
        """The node's text, in parentheses unless it binds tighter than any operator."""
        text = self.text(node)
        return text if isinstance(node, ATOMS) else f"({text})"


def _changes(func: ast.AST, src: _Source):
    """Yield (node, replacement text, kind) for every mutation inside ``func``."""
    body = func.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]  # the docstring
    roots = list(body) + list(func.args.defaults) + [d for d in func.args.kw_defaults if d is not None]
    skip = {id(n) for root in roots for r in ast.walk(root) if isinstance(r, ast.Raise) for n in ast.walk(r)}
    nodes = [n for root in roots for n in ast.walk(root) if id(n) not in skip]

    def negated(node):
        if not (isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub)):
            yield node, f"-{src.operand(node)}", "neg"

    for node in nodes:
        if isinstance(node, ast.BinOp) and type(node.op) in BINOP_SWAPS:
            for new in BINOP_SWAPS[type(node.op)]:
                yield node, f"({src.operand(node.left)} {BINOP_SYMBOLS[new]} {src.operand(node.right)})", "binop"
            if (isinstance(node.op, ast.Sub) and isinstance(node.left, ast.Constant)
                    and isinstance(node.left.value, (int, float))):
                yield node, src.operand(node.right), "one-minus"
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            yield node, src.operand(node.operand), "neg"
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            yield node, src.operand(node.operand), "not"
        elif (isinstance(node, ast.Constant) and isinstance(node.value, (int, float))
              and not isinstance(node.value, bool)):
            for new in (node.value + 1, node.value - 1):
                yield node, repr(new), "const"
        elif isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in COMPARE_SWAPS:
            for new in COMPARE_SWAPS[type(node.ops[0])]:
                text = f"{src.operand(node.left)} {COMPARE_SYMBOLS[new]} {src.operand(node.comparators[0])}"
                yield node, f"({text})", "compare"
        elif isinstance(node, ast.Return) and node.value is not None:
            if not (isinstance(node.value, ast.Constant) and node.value.value is None):
                yield from negated(node.value)
        elif isinstance(node, ast.Assign) and isinstance(node.value, (ast.BinOp, ast.Call)):
            if len(node.targets) == 1 and isinstance(node.targets[0], (ast.Name, ast.Attribute)):
                yield from negated(node.value)
        elif isinstance(node, ast.AugAssign):
            yield node, f"{src.text(node.target)} = {src.text(node.value)}", "assign"
        elif isinstance(node, ast.Call):
            func_node = node.func
            if isinstance(func_node, ast.Attribute):
                if func_node.attr in METHOD_SWAPS:
                    yield func_node, f"{src.operand(func_node.value)}.{METHOD_SWAPS[func_node.attr]}", "method"
                if func_node.attr in ARITH_METHODS and node.args:
                    yield from negated(node.args[0])
                    for keyword in node.keywords:
                        if keyword.arg == "alpha":
                            yield from negated(keyword.value)
            elif isinstance(func_node, ast.Name) and func_node.id == "accumulate_grad" and len(node.args) == 2:
                yield from negated(node.args[1])
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
            call = node.value
            if isinstance(call.func, ast.Attribute) and call.args:
                receiver = src.operand(call.func.value)
                if call.func.attr in ACCUMULATE_METHODS:
                    yield call, f"{receiver}.copy_({src.text(call.args[0])})", "assign"
                elif call.func.attr == "addmm_" and len(call.args) == 2:
                    product = f"{src.operand(call.args[0])} @ {src.operand(call.args[1])}"
                    yield call, f"{receiver}.copy_({product})", "assign"


def _targets(path: str, tree: ast.Module):
    """Yield (qualified name, function node) for every function to mutate in the module."""
    wanted = EXTRA_TARGETS.get(path, set())

    def visit(node, prefix):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                yield from visit(child, f"{prefix}{child.name}.")
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                name = f"{prefix}{child.name}"
                is_method_backward = prefix and child.name == "backward" and path.startswith("toolkit/manual/")
                body = [s for s in child.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
                abstract = len(body) == 1 and isinstance(body[0], ast.Raise)   # e.g. _Loss.backward
                if (is_method_backward or name in wanted) and not abstract:
                    yield name, child

    yield from visit(tree, "")


def mutants_of(path: str, text: str) -> list[Mutant]:
    """Every distinct mutant of one source file, in source order."""
    src = _Source(text)
    tree = ast.parse(text)
    original_dump = ast.dump(tree)
    seen = set()
    found = []
    for name, func in _targets(path, tree):
        parents = {id(child): node for node in ast.walk(func) for child in ast.iter_child_nodes(node)}
        for node, replacement, kind in _changes(func, src):
            start, end = src.span(node)
            data = src.data[:start] + replacement.encode() + src.data[end:]
            mutated_text = data.decode()
            try:
                mutated_dump = ast.dump(ast.parse(mutated_text))
            except SyntaxError as error:  # a bug in this tool, not in the code under test
                raise RuntimeError(f"{path}:{node.lineno}: {kind} mutant does not parse: {error}") from None
            if mutated_dump == original_dump or mutated_text in seen:
                continue  # no change at all, or the same mutant reached another way
            seen.add(mutated_text)
            # Show the change inside the smallest enclosing expression that is long enough to read.
            context = node
            while (len(src.text(context)) < CONTEXT_CHARS
                   and isinstance(parents.get(id(context)), (ast.expr, ast.keyword))):
                context = parents[id(context)]
            c_start, c_end = src.span(context)
            before = src.data[c_start:c_end].decode()
            after = (src.data[c_start:start] + replacement.encode() + src.data[end:c_end]).decode()
            found.append((start, Mutant(path, name, node.lineno, kind, " ".join(before.split()),
                                        " ".join(after.split()), mutated_text)))
    return [mutant for _, mutant in sorted(found, key=lambda pair: pair[0])]


def source_files(root: Path) -> list[str]:
    files = sorted(p.relative_to(root).as_posix() for p in (root / "toolkit" / "manual").glob("*.py"))
    return files + ["toolkit/optim.py"]


def all_mutants(root: Path, only: str | None) -> list[Mutant]:
    mutants = []
    for path in source_files(root):
        if only and not (path == only or path.endswith("/" + only.lstrip("/"))):
            continue
        mutants += mutants_of(path, (root / path).read_text())
    return mutants


# --------------------------------------------------------------------------- running


def _env(copy: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(copy)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    env["PYTHONDONTWRITEBYTECODE"] = "1"   # never a stale .pyc of a mutated file
    env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = "1"   # the jobs share the cores
    return env


def _run(cmd: list[str], copy: Path, timeout: float) -> tuple[int | None, str]:
    """Run cmd in the copy; (exit status or None on timeout, output). A timeout ends its whole group."""
    proc = subprocess.Popen(cmd, cwd=copy, env=_env(copy), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
        return proc.returncode, out
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)   # pytest and any subprocess a test started
        out, _ = proc.communicate()
        return None, out


def pytest_cmd(tests: list[str]) -> list[str]:
    return [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-p", "no:xdist", *tests]


def first_failure(output: str) -> str:
    match = re.search(r"^(?:FAILED|ERROR) (\S+)", output, re.MULTILINE)
    return match.group(1).split("/")[-1] if match else "(non-zero exit)"


@dataclass
class Result:
    mutant: Mutant
    outcome: str         # killed, SURVIVED, TIMEOUT, equivalent
    detail: str = ""     # the first test that failed, for a killed mutant
    seconds: float = 0.0


def run_mutant(mutant: Mutant, copies: queue.Queue, timeout: float) -> Result:
    copy = copies.get()
    target = copy / mutant.path
    original = target.read_text()
    started = time.monotonic()
    try:
        target.write_text(mutant.source)
        status, output = _run(pytest_cmd(tests_for(mutant.path)), copy, timeout)
    finally:
        target.write_text(original)
        copies.put(copy)
    seconds = time.monotonic() - started
    if status is None:
        return Result(mutant, "TIMEOUT", f"> {timeout:.0f} s", seconds)
    if status == 0:
        return Result(mutant, "SURVIVED", "", seconds)
    return Result(mutant, "killed", first_failure(output), seconds)


def make_copies(jobs: int, workdir: Path) -> list[Path]:
    """Snapshot the repository once, then copy the snapshot for every further job."""
    snapshot = workdir / "copy0"
    shutil.copytree(ROOT, snapshot, ignore=IGNORED_IN_COPY)
    copies = [snapshot]
    for i in range(1, jobs):
        copies.append(workdir / f"copy{i}")
        shutil.copytree(snapshot, copies[-1])
    for copy in copies:
        status, out = _run([sys.executable, "-c", "import toolkit; print(toolkit.__file__)"], copy, 120)
        imported = Path(out.strip().splitlines()[-1]).resolve() if status == 0 and out.strip() else None
        print(f"import toolkit in {copy.name}: {imported}")
        if imported is None or not imported.is_relative_to(copy.resolve()):
            raise SystemExit(f"error: the copy at {copy} does not import its own toolkit ({out.strip()})")
    return copies


def clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def print_table(results: list[Result]) -> None:
    rows = [(f"{r.mutant.path.removeprefix('toolkit/')}:{r.mutant.line}", r.mutant.function, r.mutant.kind,
             f"{clip(r.mutant.original, 72)}  ->  {clip(r.mutant.mutated, 72)}",
             f"{r.outcome} {r.detail}".rstrip()) for r in results]
    header = ("file:line", "function", "kind", "original -> mutated", "result")
    widths = [max(len(row[i]) for row in rows + [header]) for i in range(4)]
    for row in [header] + rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[4])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    parser.add_argument("--only", metavar="FILE",
                        help="mutate one file only, e.g. optim.py or toolkit/manual/linear.py")
    parser.add_argument("--jobs", type=int, default=2, help="mutants run in parallel (default 2)")
    parser.add_argument("--timeout", type=float, default=None,
                        help="seconds per mutant (default: 3 x the unmutated run + 60)")
    parser.add_argument("--check-equivalent", action="store_true",
                        help="run the mutants listed in EQUIVALENT too (each must survive)")
    args = parser.parse_args(argv)

    if args.list:
        mutants = all_mutants(ROOT, args.only)
        for m in mutants:
            mark = "  [equivalent]" if m.key in EQUIVALENT else ""
            print(f"{m.path}:{m.line}  {m.function}  {m.kind}:  {m.original}  ->  {m.mutated}{mark}")
        print(f"{len(mutants)} mutants")
        return 0

    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="mutate-") as workdir:
        copies = make_copies(max(1, args.jobs), Path(workdir))
        mutants = all_mutants(copies[0], args.only)   # from the snapshot, not the live tree
        if not mutants:
            print(f"no mutants (--only {args.only!r} matches none of {', '.join(source_files(ROOT))})")
            return 1
        known = {m.key for m in mutants}
        for key in EQUIVALENT:
            if key not in known and (not args.only or key[0].endswith(args.only)):
                print(f"note: this EQUIVALENT entry matches no mutant (has the code changed?): {key}")

        tests = sorted({t for m in mutants for t in tests_for(m.path)})
        print(f"{len(mutants)} mutants; first the unmutated run of {len(tests)} test files ...", flush=True)
        base_start = time.monotonic()
        status, output = _run(pytest_cmd(tests), copies[0], 900)
        baseline = time.monotonic() - base_start
        if status != 0:
            print(output[-3000:])
            print("error: the tests fail without any mutation; nothing to measure")
            return 2
        timeout = args.timeout or 3 * baseline + 60
        print(f"unmutated: passed in {baseline:.0f} s; timeout per mutant {timeout:.0f} s; {len(copies)} jobs")

        to_run = [m for m in mutants if args.check_equivalent or m.key not in EQUIVALENT]
        pool: queue.Queue = queue.Queue()
        for copy in copies:
            pool.put(copy)
        ran = {}
        with ThreadPoolExecutor(max_workers=len(copies)) as executor:
            futures = [executor.submit(run_mutant, m, pool, timeout) for m in to_run]
            for i, future in enumerate(futures, 1):
                result = future.result()
                ran[id(result.mutant)] = result
                # progress: K killed, S survived, T timed out, in submission order
                print({"killed": "K", "SURVIVED": "S", "TIMEOUT": "T"}[result.outcome],
                      end="\n" if i % 60 == 0 or i == len(futures) else "", flush=True)

    results = []
    for m in mutants:
        result = ran.get(id(m), Result(m, "equivalent"))
        if m.key in EQUIVALENT:
            # listed as equivalent: it must not be killable (checked with --check-equivalent)
            result.outcome = "KILLED-BUT-LISTED-EQUIVALENT" if result.outcome == "killed" else "equivalent"
        results.append(result)
    print_table(results)

    def count(outcome):
        return sum(r.outcome == outcome for r in results)

    equivalent = [r for r in results if r.mutant.key in EQUIVALENT]
    if equivalent:
        print("\nequivalent mutants (not counted in the kill rate):")
        for r in equivalent:
            print(f"  {r.mutant.path}:{r.mutant.line}  {r.mutant.original}  ->  {r.mutant.mutated}\n"
                  f"      {EQUIVALENT[r.mutant.key]}")
    killed, killable = count("killed"), len(results) - len(equivalent)
    rate = 100.0 * killed / killable if killable else 100.0
    elapsed = time.monotonic() - started
    mean = sum(r.seconds for r in ran.values()) / max(1, len(ran))
    print(f"\n{len(results)} mutants: {killed} killed, {count('SURVIVED')} survived, {count('TIMEOUT')} timed out, "
          f"{len(equivalent)} equivalent")
    print(f"kill rate: {killed}/{killable} = {rate:.1f}% of the non-equivalent mutants")
    print(f"time: {elapsed:.0f} s in all, {mean:.1f} s per mutant run, {len(copies)} at a time")
    if count("KILLED-BUT-LISTED-EQUIVALENT"):
        print("error: a mutant listed in EQUIVALENT was killed; remove it from the list")
    failed = count("SURVIVED") + count("TIMEOUT") + count("KILLED-BUT-LISTED-EQUIVALENT")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
