"""Worker processes on one machine for data-parallel training: start them, wait for them, clean up.

A lesson hands ``launch`` the function each worker runs and gets back what
every worker returned:

    results = distributed.launch(worker, world_size=2, args=(twins, x, y))
    # worker(rank, world_size, device, twins, x, y) ran in 2 processes;
    # results[rank] is what it returned there

Inside ``worker`` the process group is ready: ``torch.distributed`` calls
(``dist.all_reduce``, ``DistributedDataParallel``) reach the other workers.
Everything around that is here, so the lesson shows only the data-parallel
step itself:

* **Starting.** ``torch.multiprocessing.start_processes`` with the "fork"
  start method: each worker is a copy of the running program, so it needs
  no import of torch of its own (about 1.5 s each with "spawn"), and the
  worker may be any function, one defined in a lesson or a notebook cell
  included. The workers run on the CPU and talk through the gloo backend.
  A program started by ``torchrun`` instead (one process per worker, the
  way to use several GPUs, with nccl) runs ``worker`` in its own process
  and gathers the results from the others; see ``under_torchrun``.
* **Meeting.** The workers find each other through a ``TCPStore`` that
  worker 0 serves on a socket this process bound to a port the operating
  system chose, so two launches never fight over a port.
* **Never hanging.** Every collective has a timeout (``timeout`` seconds,
  given to ``init_process_group``), and a worker that loses a peer fails
  at its next collective. The first worker that fails ends the launch: the
  others are stopped, and ``WorkerFailed`` says in one line which worker
  failed and why. Ctrl-C and SIGTERM stop every worker too.
* **Nothing left behind.** Each worker runs with the default action for
  SIGINT and SIGTERM (they end it even inside a collective) and, on Linux,
  dies with its parent; ``launch`` never returns or raises before every
  worker it started has exited.
"""

from __future__ import annotations

import datetime
import json
import multiprocessing
import multiprocessing.connection
import os
import pickle
import re
import signal
import socket
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import torch

from toolkit.catalogue import lessons_folder

WORLD_SIZE_VARIABLE = "TOOLKIT_WORLD_SIZE"    # the number of workers a lesson starts, e.g. TOOLKIT_WORLD_SIZE=4
MAX_WORLD_SIZE = 8
TIMEOUT = 30.0          # seconds: the longest any collective (and the meeting at the start) may wait
HOST = "127.0.0.1"
GLOO_PLACE = re.compile(r"^\[[^\]]*\.(?:cc|cpp|h):\d+\] ")     # "[.../pair.cc:553] " in front of gloo's errors
STOP_GRACE = 5.0        # seconds a stopped worker gets to exit before it is killed


class WorkerFailed(SystemExit):
    """A data-parallel run could not finish; ``str()`` is one line saying which worker failed and why.

    A ``SystemExit``: left uncaught, it ends the program with that line on
    stderr and exit code 1, with no traceback (the worker's own traceback
    belongs to another process). ``rank`` is the worker that failed first
    (None when none had started).
    """

    def __init__(self, message: str, rank: int | None = None) -> None:
        super().__init__(message)
        self.rank = rank

    def __str__(self) -> str:
        return str(self.code)


# --------------------------------------------------------------------------- options


def world_size_option(default: int = 2, *, divides: int | None = None, prog: str | None = None) -> int:
    """The number of workers: TOOLKIT_WORLD_SIZE if set, else ``default`` (under torchrun: torchrun's).

    The lesson command line is shared by every lesson, so this one option
    is an environment variable: ``TOOLKIT_WORLD_SIZE=4 python -m toolkit
    run 20`` (or ``python lessons/20_data_parallel.py``). It must be a whole
    number from 1 to MAX_WORLD_SIZE and, with ``divides``, divide that
    number (the data is cut into equal shards). A bad value ends the program
    with one line and exit code 2, as a bad flag does.
    """
    if under_torchrun():
        return int(os.environ["WORLD_SIZE"])
    text = os.environ.get(WORLD_SIZE_VARIABLE, "").strip()
    if not text:
        return default
    allowed = [k for k in range(1, MAX_WORLD_SIZE + 1) if divides is None or divides % k == 0]
    if text.isascii() and text.isdigit() and int(text) in allowed:
        return int(text)
    what = (f"one of {', '.join(map(str, allowed))}" if divides is not None
            else f"a whole number from 1 to {MAX_WORLD_SIZE}")
    reason = f" (the number of workers must divide the {divides} examples)" if divides is not None else ""
    program = prog or Path(sys.argv[0]).name or "python"
    print(f"{program}: error: {WORLD_SIZE_VARIABLE}={text!r} must be {what}{reason}", file=sys.stderr)
    raise SystemExit(2)


def under_torchrun() -> bool:
    """True when this process is one of several started by ``torchrun`` (it sets RANK, WORLD_SIZE, ...)."""
    return all(name in os.environ for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"))


def suggest_more_workers(world_size: int) -> None:
    """Print one line saying how to use 4 workers, when 2 were chosen on a machine with 4 cores or more."""
    cores = os.cpu_count() or 1
    if world_size == 2 and cores >= 4 and not under_torchrun():
        print(f"this machine has {cores} cores: {WORLD_SIZE_VARIABLE}=4 runs this lesson on 4 workers")


def rank_from_environment() -> int:
    """This process's rank under torchrun; 0 for a program started on its own."""
    return int(os.environ.get("RANK", "0")) if under_torchrun() else 0


def backend_for(device: torch.device) -> str:
    """The collective backend for tensors on ``device``: nccl for CUDA (where built in), else gloo."""
    if device.type == "cuda" and torch.distributed.is_nccl_available():
        return "nccl"
    return "gloo"


def require_backend(backend: str) -> None:
    """One line (``WorkerFailed``) if this torch cannot run ``backend``: what is missing and what is needed."""
    dist = torch.distributed
    if not dist.is_available():
        raise WorkerFailed(f"this torch ({torch.__version__}) was built without torch.distributed; data-parallel "
                           "training needs a build that has it, with the gloo backend (the standard pip and "
                           "conda builds for Linux, macOS and Windows do)")
    available = {"gloo": dist.is_gloo_available, "nccl": dist.is_nccl_available}[backend]()
    if not available:
        need = ("a build with the gloo backend (the standard pip and conda builds have it)" if backend == "gloo"
                else "a CUDA build of torch on Linux with NCCL (or --device cpu, which uses gloo)")
        raise WorkerFailed(f"this torch ({torch.__version__}) has no {backend} backend for torch.distributed; "
                           f"data-parallel training here needs {need}")


# --------------------------------------------------------------------------- launching


def launch(worker: Callable, world_size: int, args: tuple = (), *, device: torch.device | str = "cpu",
           timeout: float = TIMEOUT) -> list:
    """Run ``worker(rank, world_size, device, *args)`` on ``world_size`` processes; return their results.

    Returns [what rank 0 returned, what rank 1 returned, ...]. Results and
    ``args`` are ordinary Python objects and tensors (CPU tensors: the
    workers move what they use to ``device``).

    Started on its own, the program forks ``world_size`` CPU workers (gloo)
    and waits for them; ``device`` only says where the lesson itself runs:
    a forked process cannot use CUDA once its parent has, so these workers
    always use the CPU. Under ``torchrun`` this process is itself one worker
    (``world_size`` must be torchrun's): it runs ``worker`` here, on
    ``cuda:LOCAL_RANK`` with nccl when ``device`` is CUDA, and every process
    gets every worker's result.

    Raises ``WorkerFailed`` (one line) if a worker raises or dies, if a
    collective waits longer than ``timeout`` seconds, or if the backend is
    missing. Ctrl-C (KeyboardInterrupt) and SIGTERM stop every worker first.
    """
    if isinstance(world_size, bool) or not isinstance(world_size, int) or not 1 <= world_size <= MAX_WORLD_SIZE:
        raise ValueError(f"launch: world_size must be a whole number from 1 to {MAX_WORLD_SIZE}, got {world_size!r}")
    device = torch.device(device)
    if under_torchrun():
        return _run_here(worker, world_size, args, device, timeout)
    require_backend("gloo")
    if "fork" not in multiprocessing.get_all_start_methods():
        raise WorkerFailed(f"this system cannot fork worker processes (Windows); start the workers with torchrun "
                           f"instead: torchrun --nproc-per-node={world_size} {Path(sys.argv[0]).name or 'SCRIPT'}")
    if multiprocessing.current_process().daemon:
        raise WorkerFailed("worker processes cannot be started from a daemonic process (a multiprocessing.Pool "
                           "worker); run the lesson in an ordinary process")
    _import_what_workers_need()
    with _listening_socket() as listener, tempfile.TemporaryDirectory(prefix="toolkit-workers-") as folder, \
            _stop_on_sigterm():
        earlier = set(multiprocessing.active_children())
        started = []
        try:
            started = _start(worker, world_size, args, listener, timeout, Path(folder)).processes
            _wait(started, Path(folder), timeout)
        finally:
            # Interrupted while starting them, the workers already running are the new children.
            _stop(started or [p for p in multiprocessing.active_children() if p not in earlier])
        return [_read(Path(folder) / f"{rank}.result") for rank in range(world_size)]


def _listening_socket() -> socket.socket:
    """A TCP socket on a port the operating system chose, already listening: where the workers meet.

    Worker 0 serves the store on it (``TCPStore(master_listen_fd=...)``) and
    the others connect to its port. Bound here, before any worker starts,
    the port cannot be taken by anyone else in between; and this process
    holds no store of its own, whose server thread a forked worker would
    inherit half of.
    """
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind((HOST, 0))
    listener.listen()
    return listener


def _import_what_workers_need() -> None:
    """Import in this process what every worker would otherwise import on its own, once per worker.

    DistributedDataParallel's constructor imports torch._dynamo (about 1.5 s
    of module loading); a forked worker inherits whatever is loaded here.
    """
    import torch._dynamo  # noqa: F401
    import torch.nn.parallel  # noqa: F401


def _start(worker, world_size, args, listener, timeout, folder):
    """Fork the workers (torch.multiprocessing); each runs ``_worker_main``."""
    import torch.multiprocessing as mp

    with warnings.catch_warnings():
        # Python 3.12 warns about fork in a program with other threads (a progress bar's monitor, say).
        # The workers run only this module's code and the worker's, which take none of their locks.
        warnings.filterwarnings("ignore", message=r".*use of fork\(\) may lead to deadlocks",
                                category=DeprecationWarning)
        return mp.start_processes(_worker_main, args=(world_size, listener, timeout, str(folder), worker, args),
                                  nprocs=world_size, join=False, start_method="fork")


def _worker_main(rank, world_size, listener, timeout, folder, worker, args) -> None:
    """One worker: join the group, run ``worker``, write its result (or its error, in one line) to ``folder``."""
    # The default actions: SIGINT (Ctrl-C reaches every process of the terminal's group, and, on Linux,
    # the worker's parent dying sends it) and SIGTERM (how the parent stops it) end the worker at once,
    # even while it waits inside a collective, where Python's own handlers would never run.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    dist = torch.distributed
    try:
        limit = datetime.timedelta(seconds=timeout)
        port = listener.getsockname()[1]
        if rank == 0:         # the store's server, on the socket the parent bound
            store = dist.TCPStore(HOST, port, is_master=True, wait_for_workers=False, timeout=limit,
                                  master_listen_fd=listener.fileno())
        else:
            listener.close()
            store = dist.TCPStore(HOST, port, is_master=False, timeout=limit)
        dist.init_process_group("gloo", store=store, rank=rank, world_size=world_size, timeout=limit)
        (Path(folder) / f"{rank}.ready").touch()
        result = worker(rank, world_size, torch.device("cpu"), *args)
    except BaseException as error:     # noqa: BLE001 - whatever it was, the parent gets one line
        # With the time it failed: a worker that fails takes its peers down with it, and the parent
        # reports the first failure, the cause (CLOCK_MONOTONIC is one clock for every process).
        failed_at = time.monotonic()
        line = _one_line(error)
        if "timed out" in line.lower():
            line += f" (every collective waits at most {timeout:g} s)"
        with open(Path(folder) / f"{rank}.error", "wb") as file:
            pickle.dump((failed_at, line), file)
        os._exit(1)
    dist.destroy_process_group()
    with open(Path(folder) / f"{rank}.result", "wb") as file:
        pickle.dump(result, file)


def _one_line(error: BaseException) -> str:
    """The error as the line a user needs: an exercise's own line, else 'Type: first line of the message'."""
    from toolkit.exercises import friendly_line

    line = friendly_line(error)
    if line is not None:
        return line
    message = str(error).strip().splitlines()
    if not message:
        return type(error).__name__
    return f"{type(error).__name__}: {GLOO_PLACE.sub('', message[0])}"


def _wait(processes, folder: Path, timeout: float) -> None:
    """Wait until every worker has exited; at the first that fails, raise ``WorkerFailed`` about it.

    Every worker must have joined the group within ``timeout`` seconds (it
    notes that in ``folder``); one that has not is stuck before its first
    collective, where no collective's timeout could end it.
    """
    running = {process.sentinel: rank for rank, process in enumerate(processes)}
    deadline = time.monotonic() + timeout
    while running:
        for sentinel in multiprocessing.connection.wait(list(running), timeout=0.25):
            rank = running.pop(sentinel)
            processes[rank].join()
            if processes[rank].exitcode != 0:
                raise WorkerFailed(*_failure(processes, folder))
        late = [rank for rank in running.values() if not (folder / f"{rank}.ready").exists()]
        if late and time.monotonic() > deadline:
            raise WorkerFailed(f"data-parallel worker {late[0]} of {len(processes)} did not join the others within "
                               f"{timeout:g} s; the workers were stopped", late[0])


def _failure(processes, folder: Path) -> tuple[str, int]:
    """One line about the worker that failed first, and its rank.

    A worker that fails takes its peers down: they fail at their next
    collective ("connection closed by peer"), within milliseconds. So the
    others get a moment to exit, and then a worker killed by a signal (which
    leaves no note) is named first, else the earliest error noted.
    """
    deadline = time.monotonic() + 0.5
    while any(p.is_alive() for p in processes) and time.monotonic() < deadline:
        time.sleep(0.01)
    killed = [r for r, p in enumerate(processes) if p.exitcode is not None and p.exitcode < 0]
    notes = {r: _read(folder / f"{r}.error") for r in range(len(processes)) if (folder / f"{r}.error").exists()}
    failed = [r for r, p in enumerate(processes) if p.exitcode not in (0, None)]
    rank = killed[0] if killed else min(notes, key=lambda r: notes[r][0]) if notes else failed[0]
    code = processes[rank].exitcode
    stopped = "; the other workers were stopped" if len(processes) > 1 else ""
    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"data-parallel worker {rank} of {len(processes)} was killed by {name}{stopped}", rank
    reason = notes[rank][1] if rank in notes else f"exit code {code}"
    return f"data-parallel worker {rank} of {len(processes)} failed: {reason}{stopped}", rank


def _stop(processes) -> None:
    """End every worker still running: SIGTERM, then SIGKILL after STOP_GRACE seconds; wait for each."""
    for process in processes:
        if process.is_alive():
            process.terminate()
    deadline = time.monotonic() + STOP_GRACE
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            process.kill()
            process.join()


def _read(path: Path):
    with open(path, "rb") as file:
        return pickle.load(file)


class _stop_on_sigterm:
    """While launching: SIGTERM raises KeyboardInterrupt (where it would kill this process outright),
    so the workers are stopped on the way out. A handler already installed (the command line's) stays."""

    def __enter__(self):
        self.previous = None
        if threading.current_thread() is threading.main_thread() and \
                signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
            self.previous = signal.signal(signal.SIGTERM, _interrupt)
        return self

    def __exit__(self, *exc):
        if self.previous is not None:
            signal.signal(signal.SIGTERM, self.previous)
        return False


def _interrupt(signum, frame):
    raise KeyboardInterrupt


# --------------------------------------------------------------------------- under torchrun


def _run_here(worker, world_size, args, device, timeout) -> list:
    """Under torchrun: this process is one worker. Join torchrun's group (once), run, share the results."""
    dist = torch.distributed
    expected = int(os.environ["WORLD_SIZE"])
    if world_size != expected:
        raise WorkerFailed(f"launch: world_size {world_size}, but torchrun started {expected} processes")
    local_rank = int(os.environ["LOCAL_RANK"])
    if device.type == "cuda":
        device = torch.device("cuda", local_rank % torch.cuda.device_count())
        torch.cuda.set_device(device)
    else:
        device = torch.device("cpu")
    backend = backend_for(device)
    require_backend(backend)
    if not dist.is_initialized():
        dist.init_process_group(backend, timeout=datetime.timedelta(seconds=timeout))
    rank = dist.get_rank()
    try:
        result = worker(rank, world_size, device, *args)
    except Exception as error:
        raise WorkerFailed(f"data-parallel worker {rank} of {world_size} failed: {_one_line(error)}", rank) from error
    results = [None] * world_size
    dist.all_gather_object(results, result)
    return results


# --------------------------------------------------------------------------- what the workers send


def bytes_per_step(rank: int, world_size: int, device, widths: list[int], x: torch.Tensor,
                   y: torch.Tensor) -> list[dict]:
    """A worker for ``launch``: for each hidden width, the bytes DDP all-reduces in one step.

    The network is 2 → width → width → 2 tanh, P = width² + 6·width + 2 parameters, in x's dtype;
    x: (N, 2), y: (N,) class labels, of which this worker takes ``x[rank::world_size]``. A
    communication hook sees every bucket DDP hands over: it adds up the bucket's bytes (numel ×
    element size), then does what DDP does by default, divide by k and all-reduce, returning a
    future so that backward carries on meanwhile. Returns [{"width", "parameters", "bytes",
    "buckets"}], one per width; "bytes" is 8·P in float64, whatever ``world_size`` is.
    """
    dist = torch.distributed
    counts = []
    for width in widths:
        net = torch.nn.Sequential(torch.nn.Linear(2, width), torch.nn.Tanh(), torch.nn.Linear(width, width),
                                  torch.nn.Tanh(), torch.nn.Linear(width, 2)).to(device=device, dtype=x.dtype)
        ddp_net = torch.nn.parallel.DistributedDataParallel(net)
        buckets = []

        def count_then_all_reduce(state, bucket):
            gradients = bucket.buffer()                    # the bucket's gradients, as one flat tensor
            buckets.append(gradients.numel() * gradients.element_size())
            gradients.div_(world_size)
            return dist.all_reduce(gradients, async_op=True).get_future().then(lambda done: done.value()[0])

        ddp_net.register_comm_hook(None, count_then_all_reduce)
        torch.nn.functional.cross_entropy(ddp_net(x[rank::world_size].to(device)),
                                          y[rank::world_size].to(device)).backward()
        counts.append({"width": width, "parameters": sum(p.numel() for p in net.parameters()),
                       "bytes": sum(buckets), "buckets": len(buckets)})
    return counts


# --------------------------------------------------------------------------- checking a data-parallel run


def path_differences(runs: dict[str, dict], one_process: dict) -> dict[str, list[float]]:
    """After every step, the largest |difference| of any parameter from the one-process run.

    ``runs``: {run name: {"manual": path, "autograd": path}}, each path
    (steps + 1, P) like ``one_process``'s. Returns {"<twin>, <run name>":
    [max_i |θ_run[t, i] − θ_one[t, i]| for t = 0 … steps]}, run by run, the
    manual twin first.
    """
    return {f"{twin}, {name}": (paths[twin] - one_process[twin]).abs().amax(dim=1).tolist()
            for name, paths in runs.items() for twin in ("manual", "autograd")}


def between_workers(results: list[dict]) -> float:
    """The largest |difference| of any parameter, at any step, between worker 0 and any other worker.

    ``results[rank]["paths"]``: {"manual": (steps + 1, P), "autograd": (steps + 1, P)}, as each
    worker recorded them. 0.0 for one worker, and for several when the all-reduce hands every
    worker the same sum to the last bit.
    """
    return max([(other["paths"][twin] - results[0]["paths"][twin]).abs().max().item()
                for other in results[1:] for twin in ("manual", "autograd")], default=0.0)


def startup_line(benchmark: dict) -> str:
    """One line on what starting the workers cost, from ``read_benchmark()``'s "startup" entry (seconds)."""
    startup = benchmark["startup"]
    return (f"measured: {startup['workers']} workers reach their first collective {startup['fork']:.2f} s after "
            f"asking, forked; {startup['spawn']:.2f} s spawned; importing torch._dynamo takes "
            f"{startup['dynamo_import']:.2f} s")


def read_benchmark(file: Path | None = None) -> dict | None:
    """What ``benchmarks/data_parallel.py --write`` measured (benchmarks/data_parallel.json), or None.

    Times depend on the machine and on its load, so a lesson draws the stored
    measurement (the same figure every run) instead of timing itself.
    """
    file = file or lessons_folder().parent / "benchmarks" / "data_parallel.json"
    return json.loads(file.read_text(encoding="utf-8")) if file.is_file() else None


def check_average(run, average: Callable, first: dict, *, twins, x: torch.Tensor, y: torch.Tensor,
                  world_size: int) -> None:
    """The first step's averaged gradients against one process's gradient on the whole batch: a report.

    ``first`` is what worker 0 recorded at its first step, by parameter
    name: "manual" (the hand-written twin's gradients after ``average``)
    and "autograd" (DDP's). ``twins`` stand at the same start: autograd
    gives the whole batch's gradient, and the hand-written twin worker 0's
    own gradient before the all-reduce, on its share ``x[0::world_size]``.
    The report is printed and kept in ``run.reports`` (``python -m toolkit
    check`` judges it). If it disagrees, ``toolkit.diagnose`` names the
    likely mistake in ``average`` (from the averaged gradient against the
    whole batch's and worker 0's own) and a student version stops there.
    """
    from toolkit import diagnose
    from toolkit.exercises import explain
    from toolkit.gradient_check import GradientReport, Row, compare, tolerances

    (rtol, atol), _ = tolerances(run.dtype)
    twins.zero_grad()
    twins.torch_loss(twins.torch_net(x), y).backward()
    rows = []
    for name, param in twins.torch_net.named_parameters():
        whole = param.grad.detach()
        mine, ddp = first["manual"][name].to(whole.device), first["autograd"][name].to(whole.device)
        rows.append(Row(name, tuple(whole.shape), None, f"parameter {name}",
                        [compare(f"manual, {world_size} workers vs 1", mine, whole, rtol, atol),
                         compare(f"DDP, {world_size} workers vs 1", ddp, whole, rtol, atol)],
                        manual=mine, autograd=whole))
    twins.zero_grad()
    report = GradientReport(rows, run.dtype, f"all-reduce check, {run.name}: the first step's gradients averaged "
                                             f"over {world_size} workers against one process on the whole batch")
    run.reports.append(report)
    print(report)
    if not report.ok:
        twins.manual_loss(twins.manual_net(x[::world_size]), y[::world_size])     # worker 0's share alone
        twins.manual_net.backward(twins.manual_loss.backward(), input_grad=False)
        local = {name: param.grad.detach().clone() for name, param in twins.manual_net.named_parameters()}
        twins.zero_grad()
        explain(run, diagnose.diagnose_average(report, local, world_size), average)


def check_paths(run, runs: dict[str, dict], one_process: dict, *, world_size: int) -> None:
    """Both twins' parameters after every step of each run against one process's: a report, printed and kept.

    ``runs``: {run name: {"manual": path, "autograd": path}}, each path
    (steps + 1, P) like ``one_process``'s, e.g. the workers' and gradient
    accumulation's. One row per twin, one comparison per run.
    """
    from toolkit.gradient_check import GradientReport, Row, compare, tolerances

    (rtol, atol), _ = tolerances(run.dtype)
    rows = []
    for twin in ("manual", "autograd"):
        reference = one_process[twin]
        rows.append(Row(f"{twin} path", tuple(reference.shape), None, f"the {twin} twin's parameters",
                        [compare(f"{name} vs 1 process", paths[twin], reference, rtol, atol)
                         for name, paths in runs.items()]))
    report = GradientReport(rows, run.dtype, f"data-parallel check, {run.name}: every parameter after every step, "
                                             f"{world_size} workers and accumulation against one process")
    run.reports.append(report)
    print(report)
