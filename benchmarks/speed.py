"""How fast is the hand-written training step? Measured side by side with autograd.

    python benchmarks/speed.py                    # the full table (several minutes)
    python benchmarks/speed.py --quick            # a smoke run, under 30 s: every section once, small
    python benchmarks/speed.py --device cuda      # the same on a GPU (synchronised)
    python benchmarks/speed.py --threads 1        # one CPU thread (steadier on a busy machine)
    python benchmarks/speed.py --only steps       # some sections: steps,grids,lessons,imports

Every figure in a row is measured in this one process (or, for start-up
costs, in fresh child processes started from it), interleaved: each round
runs every contender once, in a rotating order, so a burst of load on the
machine hits all of them alike. A time is the median over the rounds; a
ratio is the median of the per-round ratios.

Sections:

* steps: one full training step, zero_grad, forward, loss, backward and
  the SGD update (``toolkit.optim.SGD`` for BOTH twins), for each lesson's
  network and for a large MLP (784-1024-1024-10, ReLU, batch 512,
  cross-entropy), in float32. Three contenders: the hand-written twin, the
  autograd twin, and the "floor": only the matrix products a step needs
  (forward, weight gradients, input gradients of every layer but the
  first) as torch.addmm/torch.mm calls on preallocated tensors of the same
  shapes.
* grids: the loss on a plane, vectorised (``loss_on_plane``) against the
  point-by-point loop (``loss_on_plane_loop``), in float64 as the lessons.
* lessons: ``python -m toolkit run N --quiet`` per lesson, figures written to
  a temporary folder: the lesson itself (timed inside the child) and the
  whole command (wall clock, including Python start-up and imports).
* imports: ``import torch`` against importing the toolkit, in fresh
  processes, and whether any non-plotting module pulls in matplotlib.

``--quick`` runs every section once at its smallest (``plan_for``): one
round, short samples, a 784-256-256-10 MLP, coarse loss grids, lesson 01
without figures, and of the start-up only the matplotlib check. It shows
that the benchmark works; its numbers are rough. It takes under 30 s on a
2-core machine.

Only the standard library and torch are used (and the toolkit under test).
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # benchmark this checkout, whatever is installed

from toolkit import data, manual  # noqa: E402
from toolkit.landscape import grid_around, loss_on_plane, loss_on_plane_loop, pca_plane, project  # noqa: E402
from toolkit.optim import SGD  # noqa: E402
from toolkit.parameters import flatten  # noqa: E402
from toolkit.twins import Twins, make_twins  # noqa: E402

# Modules that must load without matplotlib (toolkit.plots and toolkit.animation are the ones that need it).
NON_PLOTTING = ["toolkit", "toolkit.manual", "toolkit.optim", "toolkit.train", "toolkit.twins",
                "toolkit.parameters", "toolkit.landscape", "toolkit.gradient_check", "toolkit.cli"]


# --------------------------------------------------------------------------
# What to measure
# --------------------------------------------------------------------------

IMPORT_STATEMENTS = {
    "import torch": "import torch",
    "import toolkit": "import toolkit",
    "import toolkit, toolkit.manual, toolkit.optim, toolkit.train":
        "import toolkit, toolkit.manual, toolkit.optim, toolkit.train",
    "import every non-plotting module": "import " + ", ".join(NON_PLOTTING),
}


@dataclass
class Plan:
    """How much to measure: the full tables, or (``--quick``) every section once at its smallest."""

    repeats: int                  # rounds of the step table
    slow_repeats: int             # rounds of the grid, lesson and import tables
    min_time: float               # seconds a sample lasts at least
    warmup: int                   # timed warm-up calls per contender
    grid_points: int | None       # a coarse grid of this many points a side; None: the lessons' own grids
    lessons: list[str] | None     # the lessons to run (numbers); None: every lesson
    imports: list[str]            # the import statements to time (keys of IMPORT_STATEMENTS); none: no table
    large_mlp: tuple[int, int]    # the large MLP's hidden width and batch
    lesson_flags: list[str]       # added to each lesson's run


def plan_for(quick: bool, repeats: int = 15) -> Plan:
    if quick:
        return Plan(repeats=1, slow_repeats=1, min_time=0.002, warmup=1, grid_points=15, lessons=["01"],
                    imports=[], large_mlp=(256, 128), lesson_flags=["--no-figures"])
    return Plan(repeats=repeats, slow_repeats=max(1, repeats // 3), min_time=0.05, warmup=3, grid_points=None,
                lessons=None, imports=list(IMPORT_STATEMENTS), large_mlp=(1024, 512), lesson_flags=[])


# --------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------

def synchronizer(device: torch.device) -> Callable[[], None]:
    """What to call before reading the clock: CUDA runs asynchronously."""
    if device.type == "cuda":
        return lambda: torch.cuda.synchronize(device)
    return lambda: None


def sample(fn: Callable[[], object], number: int, sync: Callable[[], None]) -> float:
    """Seconds per call of ``fn``, averaged over ``number`` back-to-back calls."""
    gc_was_enabled = gc.isenabled()
    gc.disable()  # as timeit does: a collection mid-sample is noise
    try:
        sync()
        start = time.perf_counter()
        for _ in range(number):
            fn()
        sync()
        return (time.perf_counter() - start) / number
    finally:
        if gc_was_enabled:
            gc.enable()


def side_by_side(contenders: dict[str, Callable[[], object]], repeats: int, min_time: float,
                 sync: Callable[[], None], warmup: int = 3) -> dict[str, list[float]]:
    """Time every contender once per round, in a rotating order; return all samples.

    Each contender gets its own number of calls per sample (enough to last
    ``min_time``), so a fast function is not drowned in timer resolution.
    """
    numbers = {}
    for name, fn in contenders.items():
        once = min(sample(fn, 1, sync) for _ in range(max(1, warmup)))  # the warm-up calls, timed
        numbers[name] = max(1, math.ceil(min_time / max(once, 1e-9)))
    names = list(contenders)
    times: dict[str, list[float]] = {name: [] for name in names}
    for round_ in range(repeats):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            times[name].append(sample(contenders[name], numbers[name], sync))
        gc.collect()
    return times


def median(values: list[float]) -> float:
    return statistics.median(values)


def ratio(times: dict[str, list[float]], top: str, bottom: str) -> float:
    """The median of the per-round ratios top/bottom (both measured in the same round)."""
    return median([a / b for a, b in zip(times[top], times[bottom])])


def fmt_time(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.1f} us"


def table(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table, its columns padded so it also reads as plain text."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows)]
    line = lambda cells: "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"  # noqa: E731
    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(header), rule, *(line(r) for r in rows)])


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# Training steps
# --------------------------------------------------------------------------

def training_steps(twins: Twins, x, y, sgd_options):
    """One full step of each twin, both with our SGD, as two functions."""
    net_m, net_t, loss_m, loss_t = twins.manual_net, twins.torch_net, twins.manual_loss, twins.torch_loss
    opt_m = SGD(net_m.parameters(), **sgd_options)
    opt_t = SGD(net_t.parameters(), **sgd_options)

    def step_manual():
        opt_m.zero_grad()
        loss_m(net_m(x), y)
        net_m.backward(loss_m.backward(), input_grad=False)  # the data needs no gradient
        opt_m.step()

    def step_autograd():
        opt_t.zero_grad()
        loss = loss_t(net_t(x), y)
        loss.backward()
        opt_t.step()

    return step_manual, step_autograd


def matmul_floor(net_m: manual.Sequential, batch: int, device, dtype):
    """The bare matrix products of one step, on preallocated tensors of the right shapes.

    Per Linear layer (in -> out), with N = batch:
        forward         out (N, out) = x (N, in) W^T (+ b)      addmm / mm
        weight grad     dW (out, in) = dout^T (out, N) x (N, in)  mm
        input grad      dx (N, in)   = dout (N, out) W (out, in)  mm, all but the first layer
    """
    g = torch.Generator(device="cpu").manual_seed(0)
    rand = lambda *shape: torch.randn(*shape, generator=g, dtype=dtype).to(device)  # noqa: E731
    layers = []
    linears = [layer for layer in net_m if isinstance(layer, manual.Linear)]
    for index, layer in enumerate(linears):
        n_in, n_out = layer.in_features, layer.out_features
        layers.append(dict(
            x=rand(batch, n_in), w=rand(n_out, n_in), b=rand(n_out) if layer.bias is not None else None,
            out=torch.empty(batch, n_out, device=device, dtype=dtype), dout=rand(batch, n_out),
            dw=torch.empty(n_out, n_in, device=device, dtype=dtype),
            dx=None if index == 0 else torch.empty(batch, n_in, device=device, dtype=dtype),
        ))

    def floor():
        for t in layers:
            if t["b"] is None:
                torch.mm(t["x"], t["w"].t(), out=t["out"])
            else:
                torch.addmm(t["b"], t["x"], t["w"].t(), out=t["out"])
        for t in reversed(layers):
            torch.mm(t["dout"].t(), t["x"], out=t["dw"])
            if t["dx"] is not None:
                torch.mm(t["dout"], t["w"], out=t["dx"])

    return floor


def step_networks(device, dtype, large_mlp: tuple[int, int] = (1024, 512)):
    """(label, twins, x, y, SGD options) for every network of the step table; ``large_mlp``: the large MLP's
    hidden width and batch."""
    nets = []
    # Lesson 01: y = w x, no bias, 40 points.
    x, y = data.noisy_line(n=40, slope=3.0, intercept=0.0, noise=0.6, x_range=(-2.0, 2.0),
                           device=device, dtype=dtype)
    twins = make_twins([1, 1], bias=False, loss=manual.MSELoss(), device=device, dtype=dtype)
    nets.append(("lesson 01: Linear(1,1,bias=False), N=40, MSE", twins, x, y, dict(lr=0.1)))
    # Lessons 02 and 03: y = w x + b, 40 points.
    x, y = data.noisy_line(n=40, slope=-1.0, intercept=2.0, noise=0.5, x_range=(-1.0, 3.0),
                           device=device, dtype=dtype)
    twins = make_twins([1, 1], loss=manual.MSELoss(), device=device, dtype=dtype)
    nets.append(("lesson 02/03: Linear(1,1), N=40, MSE", twins, x, y, dict(lr=0.05)))
    # Lesson 04: a small tanh MLP on two moons, SGD with momentum.
    x, y = data.two_moons(n=200, noise=0.15, device=device, dtype=dtype)
    twins = make_twins([2, 16, 16, 2], activation="tanh", loss=manual.CrossEntropyLoss(),
                       device=device, dtype=dtype)
    nets.append(("lesson 05: MLP 2-16-16-2 tanh, N=200, cross-entropy, momentum 0.9", twins, x, y,
                 dict(lr=0.5, momentum=0.9)))
    # A large MLP.
    width, batch = large_mlp
    g = torch.Generator().manual_seed(0)
    x = torch.randn(batch, 784, generator=g).to(device=device, dtype=dtype)
    y = torch.randint(0, 10, (batch,), generator=g).to(device)
    twins = make_twins([784, width, width, 10], activation="relu", loss=manual.CrossEntropyLoss(),
                       device=device, dtype=dtype)
    nets.append((f"MLP 784-{width}-{width}-10 ReLU, N={batch}, cross-entropy", twins, x, y, dict(lr=0.01)))
    return nets


def bench_steps(device, dtype, plan: Plan, sync):
    rows = []
    results = {}
    for label, twins, x, y, sgd_options in step_networks(device, dtype, plan.large_mlp):
        progress(f"  step: {label}")
        step_manual, step_autograd = training_steps(twins, x, y, sgd_options)
        floor = matmul_floor(twins.manual_net, x.shape[0], device, dtype)
        times = side_by_side({"manual": step_manual, "autograd": step_autograd, "floor": floor},
                             plan.repeats, plan.min_time, sync, warmup=plan.warmup)
        vs_autograd, vs_floor = ratio(times, "manual", "autograd"), ratio(times, "manual", "floor")
        results[label] = (vs_autograd, vs_floor)
        rows.append([label, fmt_time(median(times["manual"])), fmt_time(median(times["autograd"])),
                     fmt_time(median(times["floor"])), f"{vs_autograd:.3f}", f"{vs_floor:.2f}"])
    header = ["network (one training step)", "manual", "autograd", "matmul floor",
              "manual/autograd", "manual/floor"]
    return table(header, rows), results


# --------------------------------------------------------------------------
# Loss grids
# --------------------------------------------------------------------------

def grid_cases(device, points: int | None = None):
    """(label, model, loss_fn, x, y, center, d1, d2, alphas, betas) for each grid; ``points``: a coarse grid of
    that many points a side over the same window instead of the lessons' own."""
    dtype = torch.float64  # the lessons' default
    cases = []
    # Lesson 02's model over the exact (w, b) plane.
    x, y = data.noisy_line(n=40, slope=-1.0, intercept=2.0, noise=0.5, x_range=(-1.0, 3.0),
                           device=device, dtype=dtype)
    model = make_twins([1, 1], device=device, dtype=dtype).torch_net
    eye = torch.eye(2, device=device, dtype=dtype)
    alphas = torch.linspace(-3.0, 2.0, points or 121, device=device, dtype=dtype)
    betas = torch.linspace(-1.0, 4.0, points or 101, device=device, dtype=dtype)
    cases.append((f"lesson 02: Linear(1,1), N=40, exact (w, b) plane, {len(alphas)}x{len(betas)}", model,
                  nn.MSELoss(), x, y,
                  torch.zeros(2, device=device, dtype=dtype), eye[0], eye[1], alphas, betas))
    # Lesson 04's network over the PCA plane of its own descent path, on
    # the lesson's grid (300 steps of SGD with momentum, as the lesson trains).
    x, y = data.two_moons(n=200, noise=0.15, device=device, dtype=dtype)
    model = make_twins([2, 16, 16, 2], activation="tanh", device=device, dtype=dtype).torch_net
    loss_fn = nn.CrossEntropyLoss()
    opt = SGD(model.parameters(), lr=0.5, momentum=0.9)
    path = [flatten(model.named_parameters())]
    for _ in range(300):
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()
        path.append(flatten(model.named_parameters()))
    path = torch.stack(path)
    plane = pca_plane(path)
    alphas, betas = grid_around(project(path, plane.center, plane.d1, plane.d2), margin=0.2)
    if points is not None:
        alphas = torch.linspace(float(alphas[0]), float(alphas[-1]), points, device=device, dtype=dtype)
        betas = torch.linspace(float(betas[0]), float(betas[-1]), points, device=device, dtype=dtype)
    cases.append((f"lesson 05: MLP 2-16-16-2 tanh, N=200, PCA plane, {len(alphas)}x{len(betas)}", model, loss_fn,
                  x, y, plane.center, plane.d1, plane.d2, alphas, betas))
    return cases


def bench_grids(device, plan: Plan, sync):
    rows = []
    for label, model, loss_fn, x, y, center, d1, d2, alphas, betas in grid_cases(device, plan.grid_points):
        progress(f"  grid: {label}")
        args = (model, loss_fn, x, y, center, d1, d2, alphas, betas)
        last = {}  # each contender's latest result, to check that they agree

        def vectorised():
            last["vmap"] = loss_on_plane(*args)

        def loop():
            last["loop"] = loss_on_plane_loop(*args)

        times = side_by_side({"vmap": vectorised, "loop": loop}, plan.slow_repeats, plan.min_time, sync, warmup=1)
        agree = torch.allclose(last["vmap"], last["loop"], rtol=1e-10, atol=1e-12)
        rows.append([label, fmt_time(median(times["vmap"])), fmt_time(median(times["loop"])),
                     f"{ratio(times, 'loop', 'vmap'):.1f}x", "yes" if agree else "NO"])
    header = ["loss grid", "loss_on_plane (vmap)", "loss_on_plane_loop", "speed-up", "same values"]
    return table(header, rows)


# --------------------------------------------------------------------------
# Whole lessons, and start-up
# --------------------------------------------------------------------------

RUN_LESSON = """
import sys, time
from toolkit.cli import main
start = time.perf_counter()
code = main(sys.argv[1:])
print(f"\\nLESSON-SECONDS {time.perf_counter() - start!r}")
sys.exit(code)
"""


def run_child(args: list[str]) -> tuple[float, str]:
    """Run a fresh Python with ``args``; return (wall seconds, stdout). Fail loudly."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    start = time.perf_counter()
    done = subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return wall, done.stdout


def bench_lessons(device, plan: Plan):
    repeats = plan.slow_repeats
    lessons = sorted(path for path in ROOT.glob("lessons/[0-9][0-9]_*.py")
                     if plan.lessons is None or path.name[:2] in plan.lessons)
    inner: dict[str, list[float]] = {p.stem: [] for p in lessons}
    wall: dict[str, list[float]] = {p.stem: [] for p in lessons}
    with tempfile.TemporaryDirectory() as out:
        for round_ in range(repeats):
            shift = round_ % len(lessons)
            for path in lessons[shift:] + lessons[:shift]:
                progress(f"  lesson: {path.stem} (round {round_ + 1}/{repeats})")
                seconds, stdout = run_child(["-c", RUN_LESSON, "run", path.stem[:2], "--quiet",
                                             "--out", out, "--device", str(device), *plan.lesson_flags])
                wall[path.stem].append(seconds)
                inner[path.stem].append(float(stdout.rsplit("LESSON-SECONDS", 1)[1]))
    rows = [[stem, fmt_time(median(inner[stem])), fmt_time(median(wall[stem]))] for stem in inner]
    if plan.lessons is None:
        rows.append(["all lessons (python -m toolkit figures)", fmt_time(sum(median(v) for v in inner.values())),
                     fmt_time(sum(median(v) for v in wall.values()))])
    what = "lesson, no figures" if "--no-figures" in plan.lesson_flags else "lesson, figures to a temp folder"
    header = [what, "lesson run (in process)", "whole command (wall)"]
    return table(header, rows)


def bench_imports(plan: Plan):
    repeats = plan.slow_repeats
    statements = {name: IMPORT_STATEMENTS[name] for name in plan.imports}
    times: dict[str, list[float]] = {name: [] for name in statements}
    names = list(statements)
    for round_ in range(repeats):
        progress(f"  imports (round {round_ + 1}/{repeats})")
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            times[name].append(run_child(["-c", statements[name]])[0])
    rows = [[name, fmt_time(median(times[name])),
             f"{median([a / b for a, b in zip(times[name], times['import torch'])]):.2f}"] for name in names]
    table_times = table(["fresh process (python -c ...)", "wall, median", "vs import torch"], rows) if rows else ""

    # One fresh process imports the modules in turn and says, after each,
    # whether matplotlib has been loaded by then.
    check = ("import importlib, sys\n"
             f"for name in {NON_PLOTTING!r}:\n"
             "    importlib.import_module(name)\n"
             "    print(name, 'matplotlib' in sys.modules)\n")
    _, stdout = run_child(["-c", check])
    loaded = dict(line.split() for line in stdout.splitlines())
    rows = [[name, "yes (must not)" if loaded[name] == "True" else "no"] for name in NON_PLOTTING]
    table_mpl = table(["import", "matplotlib loaded afterwards"], rows)
    return "\n\n".join(filter(None, [table_times, table_mpl])), all(v == "False" for v in loaded.values())


# --------------------------------------------------------------------------

def machine(device: torch.device) -> str:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    lines = [f"- CPU: {model}, {os.cpu_count()} logical cores, torch uses {torch.get_num_threads()} thread(s)",
             f"- torch {torch.__version__}, Python {platform.python_version()}, {platform.system()} {platform.release()}"]
    if device.type == "cuda":
        lines.append(f"- GPU: {torch.cuda.get_device_name(device)}, CUDA {torch.version.cuda}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--repeats", type=int, default=15,
                        help="rounds for the step table (default 15); the slower grid, lesson and "
                             "import tables use a third of it (at least 1)")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run under 30 s: every section once, at its smallest (rough numbers)")
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda, cuda:K, or auto")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads for this process (default: torch's own choice)")
    parser.add_argument("--only", default="steps,grids,lessons,imports",
                        help="comma-separated sections to run (default: all four)")
    args = parser.parse_args(argv)

    name = args.device
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(name)
    if device.type not in ("cpu", "cuda"):
        parser.error(f"--device {args.device}: use cpu, cuda, cuda:K or auto")
    if device.type == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: this machine has no CUDA device")
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    plan = plan_for(args.quick, args.repeats)
    repeats = plan.repeats
    sync = synchronizer(device)
    sections = {part.strip() for part in args.only.split(",") if part.strip()}
    unknown = sections - {"steps", "grids", "lessons", "imports"}
    if unknown:
        parser.error(f"--only: unknown section(s) {', '.join(sorted(unknown))}")
    if args.threads is not None and args.threads < 1:
        parser.error("--threads must be at least 1")
    threads = args.threads if args.threads is not None else (1 if args.quick else None)
    if threads is not None:      # a smoke run on one thread: a second one only waits on a busy machine
        torch.set_num_threads(threads)

    print(f"# Speed: hand-written vs autograd ({device}, {'quick' if args.quick else f'{repeats} rounds'})\n")
    print(machine(device) + "\n")
    flags = f"--device {device}" + (" --quick" if args.quick else f" --repeats {repeats}")
    if args.threads is not None:
        flags += f" --threads {args.threads}"
    if sections != {"steps", "grids", "lessons", "imports"}:
        flags += f" --only {args.only}"
    print(f"Reproduce: `python benchmarks/speed.py {flags}`\n")
    if "steps" in sections:
        progress("training steps")
        text, _ = bench_steps(device, torch.float32, plan, sync)
        print("## One training step (float32; median of per-round ratios)\n\n" + text + "\n")
    if "grids" in sections:
        progress("loss grids")
        print("## Loss on a plane (float64)\n\n" + bench_grids(device, plan, sync) + "\n")
    if "lessons" in sections:
        progress("lessons")
        print("## Lessons (`python -m toolkit run N --quiet --out TMP`)\n\n" + bench_lessons(device, plan) + "\n")
    if "imports" in sections:
        progress("imports")
        text, clean = bench_imports(plan)
        print("## Start-up\n\n" + text + "\n")
        if not clean:
            print("matplotlib is imported by a non-plotting module: it should load only with toolkit.plots\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
