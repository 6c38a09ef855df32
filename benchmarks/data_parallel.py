"""Data-parallel training on this machine: time per step against the number of worker processes.

    python benchmarks/data_parallel.py             # measure and print the tables
    python benchmarks/data_parallel.py --write     # ... and write benchmarks/data_parallel.json (lesson 20 draws it)
    python benchmarks/data_parallel.py --quick     # a smoke run: few rounds, rough numbers

Lesson 20's figure of time per step comes from here, not from the lesson: a
time depends on the machine and on whatever else runs on it, while a figure
must be the same bytes every time it is made. Run this on your own machine
with --write and the lesson draws your numbers.

Steps. For each network and each number of workers k (1, 2 and 4), k worker
processes (``toolkit.distributed.launch``: forked, gloo, one CPU thread each)
share one global batch, each taking 1/k of it, and time a DDP training step:
zero_grad, forward, loss, backward with DDP's all-reduce, our SGD step. They
also time the same step inside DDP's ``no_sync()``, which leaves the
all-reduce out: the difference is what the communication costs. The
configurations are measured in rounds, every configuration once per round
in a rotating order, so a burst of load on the machine hits all of them
alike; a time is the median over the rounds of each launch's median step.

Start-up. The time from asking for k workers to their first collective:
forked from this process (as the lesson does), and spawned (each child a
fresh interpreter that imports torch itself). And the one-off cost of what
DDP's constructor imports (torch._dynamo), in a fresh process.

Only the standard library and torch are used (and the toolkit under test).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
import torch.distributed as dist

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # benchmark this checkout, whatever is installed

from toolkit import data, distributed, manual  # noqa: E402
from toolkit.optim import SGD  # noqa: E402
from toolkit.twins import make_twins  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "data_parallel.json"
NETWORKS = {   # name: (layer sizes, global batch)
    "lesson 20's network": ([2, 16, 16, 2], 240),
    "a wider network": ([2, 256, 256, 2], 2048),
}
WORKERS = [1, 2, 4]
MEASURES = ["step", "no_sync", "step_cpu", "no_sync_cpu"]       # wall-clock and CPU seconds, with and without


def timed_steps(rank, world_size, device, sizes, batch, steps):
    """Median seconds of a DDP step and of the same step without its all-reduce (``no_sync``): wall clock, and
    this worker's CPU time (its own threads, gloo's included), which other programs on the machine do not
    inflate."""
    from torch.nn.parallel import DistributedDataParallel

    torch.set_num_threads(1)
    twins = make_twins(sizes, "tanh", loss=manual.CrossEntropyLoss(), seed=0)
    x, y = data.two_moons(n=batch, seed=0)
    xs, ys = x[rank::world_size], y[rank::world_size]
    model = DistributedDataParallel(twins.torch_net)
    optimizer = SGD(model.parameters(), lr=0.01)

    def step():
        optimizer.zero_grad()
        twins.torch_loss(model(xs), ys).backward()
        optimizer.step()

    def step_without_all_reduce():
        with model.no_sync():
            step()

    times = {"step": [], "no_sync": [], "step_cpu": [], "no_sync_cpu": []}
    for _ in range(3):                       # warm-up
        step()
        step_without_all_reduce()
    for _ in range(steps):                   # interleaved
        for name, fn in (("step", step), ("no_sync", step_without_all_reduce)):
            dist.barrier()                   # all workers start the step together
            start, start_cpu = time.perf_counter(), time.process_time()
            fn()
            times[f"{name}_cpu"].append(time.process_time() - start_cpu)
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def step_times(rounds: int, steps: int) -> dict:
    """{network: {k: {"step": [...], "no_sync": [...]}}}: one value per round (the slowest worker's median)."""
    configurations = [(name, k) for name in NETWORKS for k in WORKERS]
    results = {name: {k: {what: [] for what in MEASURES} for k in WORKERS} for name in NETWORKS}
    for round_ in range(rounds):
        shift = round_ % len(configurations)
        for name, k in configurations[shift:] + configurations[:shift]:
            sizes, batch = NETWORKS[name]
            per_worker = distributed.launch(timed_steps, k, args=(sizes, batch, steps))
            for what in MEASURES:
                results[name][k][what].append(max(result[what] for result in per_worker))
        print(f"round {round_ + 1}/{rounds} done", file=sys.stderr, flush=True)
    return results


def first_collective(rank, world_size, device):
    """The worker of the start-up measurement: one barrier, and the time it was passed."""
    dist.barrier()
    return time.time()


def spawned_first_collective(rank, world_size, port, started, folder):
    """The same, for spawned workers (a fresh interpreter each): write when the barrier was passed."""
    limit = datetime.timedelta(seconds=60)
    store = dist.TCPStore(distributed.HOST, port, is_master=False, timeout=limit)
    dist.init_process_group("gloo", store=store, rank=rank, world_size=world_size, timeout=limit)
    dist.barrier()
    Path(folder, f"{rank}").write_text(repr(time.time()))
    dist.destroy_process_group()


def startup_times(rounds: int, k: int = 2) -> dict:
    """Seconds from asking for k workers to their first collective: forked and spawned, medians over rounds."""
    import tempfile

    import torch.multiprocessing as mp

    forked, spawned = [], []
    for _ in range(rounds):
        started = time.time()
        passed = distributed.launch(first_collective, k)
        forked.append(max(passed) - started)
        store = dist.TCPStore(distributed.HOST, 0, is_master=True, wait_for_workers=False,
                              timeout=datetime.timedelta(seconds=60))
        with tempfile.TemporaryDirectory() as folder:
            started = time.time()
            mp.spawn(spawned_first_collective, args=(k, store.port, started, folder), nprocs=k)
            spawned.append(max(float(Path(folder, f"{rank}").read_text()) for rank in range(k)) - started)
        del store
    return {"workers": k, "fork": statistics.median(forked), "spawn": statistics.median(spawned)}


def dynamo_import_time(rounds: int) -> float:
    """Seconds to import torch._dynamo (what DDP's constructor imports) in a fresh process that has torch."""
    code = "import time, torch; t = time.perf_counter(); import torch._dynamo; print(time.perf_counter() - t)"
    return statistics.median(float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                                  check=True).stdout) for _ in range(rounds))


def machine() -> dict:
    return {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
            "torch": torch.__version__}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help=f"write the results to {RESULTS.relative_to(ROOT)}")
    parser.add_argument("--quick", action="store_true", help="few rounds and steps: rough numbers")
    args = parser.parse_args()
    rounds, steps = (2, 5) if args.quick else (7, 20)
    torch.set_num_threads(1)

    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    times = step_times(rounds, steps)
    startup = startup_times(max(1, rounds // 2))
    startup["dynamo_import"] = dynamo_import_time(max(1, rounds // 2))

    networks = []
    print(f"milliseconds per step (wall clock; a worker's CPU time in brackets), with and without the all-reduce")
    print(f"{'network':22s} {'P':>8s} {'batch':>6s} {'k':>2s} {'step':>16s} {'no all-reduce':>16s} {'speed-up':>9s}")
    for name, (sizes, batch) in NETWORKS.items():
        parameters = sum(p.numel() for p in make_twins(sizes, "tanh", seed=0).torch_net.parameters())
        median = {what: [statistics.median(times[name][k][what]) for k in WORKERS] for what in MEASURES}
        for i, k in enumerate(WORKERS):
            cells = [f"{1e3 * median[w][i]:7.2f} ({1e3 * median[f'{w}_cpu'][i]:6.2f})" for w in ("step", "no_sync")]
            print(f"{name:22s} {parameters:8,d} {batch:6d} {k:2d} {cells[0]:>16s} {cells[1]:>16s} "
                  f"{median['step'][0] / median['step'][i]:9.2f}")
        networks.append({"name": name, "sizes": sizes, "parameters": parameters, "global_batch": batch,
                         "workers": WORKERS, "seconds_per_step": median["step"],
                         "seconds_per_step_without_all_reduce": median["no_sync"],
                         "cpu_seconds_per_step": median["step_cpu"],
                         "cpu_seconds_per_step_without_all_reduce": median["no_sync_cpu"]})
    print(f"start-up of {startup['workers']} workers to their first collective: forked {startup['fork']:.2f} s, "
          f"spawned {startup['spawn']:.2f} s; importing torch._dynamo (DDP's first use) "
          f"{startup['dynamo_import']:.2f} s")
    # Other programs on the machine take cores from the workers: say how busy it was.
    load = [load_before, os.getloadavg()[0]] if load_before is not None else None
    if load is not None:
        print(f"load average (1 min) before and after: {load[0]:.1f}, {load[1]:.1f}")
    if args.write:
        result = {"command": "python benchmarks/data_parallel.py --write",
                  "measured": datetime.date.today().isoformat(),
                  "rounds": rounds, "steps": steps, "machine": machine(), "load_average": load,
                  "networks": networks, "startup": startup}
        from toolkit.files import replace_file

        replace_file(RESULTS, (json.dumps(result, indent=2) + "\n").encode())
        print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
