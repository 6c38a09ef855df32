"""toolkit.distributed: workers that start, meet, report and always go away.

* Results come back from every worker; collectives reach every worker.
* A worker that raises, dies or waits past the timeout ends the launch with
  one line (WorkerFailed) naming the worker that failed first, and no
  worker process is left behind; Ctrl-C and SIGTERM stop the workers too.
* The number of workers comes from TOOLKIT_WORLD_SIZE; a bad value is one
  line and exit code 2. A missing backend is one line saying what is needed.
* A wrong average over the workers is named by toolkit.diagnose.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from types import SimpleNamespace

import pytest
import torch
import torch.distributed as dist

from toolkit import diagnose, distributed, exercises, manual
from toolkit.diagnose import Evidence, examine
from toolkit.gradient_check import GradientReport, Row, compare
from toolkit.twins import make_twins


def gone(pids, within: float = 5.0) -> bool:
    """True once none of the processes exists any more (each reaped by its parent)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not any(os.path.exists(f"/proc/{pid}") for pid in pids):
            return True
        time.sleep(0.02)
    return False


def sum_of_ranks(rank, world_size, device, length):
    t = torch.full((length,), float(rank + 1), dtype=torch.float64)
    dist.all_reduce(t)
    return {"rank": rank, "sum": t, "device": str(device)}


@pytest.mark.parametrize("world_size", [1, 2, 4])
def test_every_worker_returns_and_the_all_reduce_reaches_all(world_size):
    results = distributed.launch(sum_of_ranks, world_size, args=(3,))
    assert [r["rank"] for r in results] == list(range(world_size))
    total = world_size * (world_size + 1) / 2
    for r in results:
        assert torch.equal(r["sum"], torch.full((3,), total, dtype=torch.float64)) and r["device"] == "cpu"
    assert multiprocessing.active_children() == []


def raises_on_rank_1(rank, world_size, device):
    if rank == 1:
        raise ValueError("a bad thing\nwith a second line")
    dist.barrier()


def test_a_worker_error_is_one_line_naming_that_worker():
    with pytest.raises(distributed.WorkerFailed) as failed:
        distributed.launch(raises_on_rank_1, 2)
    assert str(failed.value) == "data-parallel worker 1 of 2 failed: ValueError: a bad thing; the other workers " \
                                "were stopped"
    assert failed.value.rank == 1 and isinstance(failed.value, SystemExit)
    assert multiprocessing.active_children() == []


def unwritten_exercise(rank, world_size, device):
    raise NotImplementedError("exercise average_gradients: sum each gradient over the workers")


def test_an_unwritten_exercise_in_a_worker_gives_its_own_line():
    with pytest.raises(distributed.WorkerFailed) as failed:
        distributed.launch(unwritten_exercise, 2)
    message = str(failed.value)
    assert "exercise average_gradients is not written yet: sum each gradient over the workers (" in message
    assert "\n" not in message


def late_on_rank_1(rank, world_size, device, seconds):
    if rank == 1:
        time.sleep(seconds)
    dist.barrier()


def test_a_collective_waits_no_longer_than_the_timeout():
    started = time.monotonic()
    with pytest.raises(distributed.WorkerFailed) as failed:
        distributed.launch(late_on_rank_1, 2, args=(30,), timeout=1.0)
    assert time.monotonic() - started < 15
    message = str(failed.value)
    assert message.startswith("data-parallel worker 0 of 2 failed: ")
    assert "every collective waits at most 1 s" in message
    assert "\n" not in message and multiprocessing.active_children() == []


def forever(rank, world_size, device):
    t = torch.zeros(100)
    while True:
        dist.all_reduce(t)


def after_workers_start(action, count: int = 2):
    """Run ``action(workers)`` in a thread once ``count`` worker processes are running."""
    def wait_then_act():
        deadline = time.monotonic() + 30
        while len(multiprocessing.active_children()) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.2)
        action(multiprocessing.active_children())
    thread = threading.Thread(target=wait_then_act, daemon=True)
    thread.start()
    return thread


def test_a_killed_worker_ends_the_launch_with_one_line_and_no_process_left():
    killed = {}

    def kill_one(workers):
        victim = max(workers, key=lambda p: p.pid)
        killed["pids"] = [p.pid for p in workers]
        os.kill(victim.pid, signal.SIGKILL)

    thread = after_workers_start(kill_one)
    with pytest.raises(distributed.WorkerFailed) as failed:
        distributed.launch(forever, 2)
    thread.join()
    assert str(failed.value).endswith("of 2 was killed by SIGKILL; the other workers were stopped")
    assert gone(killed["pids"]) and multiprocessing.active_children() == []


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_and_sigterm_stop_every_worker(signum):
    seen = {}

    def interrupt(workers):
        seen["pids"] = [p.pid for p in workers]
        os.kill(os.getpid(), signum)

    handler = signal.getsignal(signal.SIGTERM)
    thread = after_workers_start(interrupt)
    with pytest.raises(KeyboardInterrupt):
        distributed.launch(forever, 2)
    thread.join()
    assert gone(seen["pids"]) and multiprocessing.active_children() == []
    assert signal.getsignal(signal.SIGTERM) == handler        # the launch's own handler is gone again


# --------------------------------------------------------------------------- options and backends


@pytest.mark.parametrize("value, expected", [(None, 2), ("", 2), ("1", 1), ("4", 4), (" 8 ", 8)])
def test_the_world_size_comes_from_the_environment(monkeypatch, value, expected):
    if value is None:
        monkeypatch.delenv(distributed.WORLD_SIZE_VARIABLE, raising=False)
    else:
        monkeypatch.setenv(distributed.WORLD_SIZE_VARIABLE, value)
    assert distributed.world_size_option(default=2, divides=240) == expected


@pytest.mark.parametrize("value, allowed", [("0", "a whole number from 1 to 8"), ("9", "a whole number from 1 to 8"),
                                            ("two", "a whole number from 1 to 8"), ("-1", "a whole number from 1 to 8"),
                                            ("7", "one of 1, 2, 3, 4, 5, 6, 8")])
def test_a_bad_world_size_is_one_line_and_exit_code_2(monkeypatch, capsys, value, allowed):
    monkeypatch.setenv(distributed.WORLD_SIZE_VARIABLE, value)
    with pytest.raises(SystemExit) as ended:
        distributed.world_size_option(default=2, divides=None if value != "7" else 240, prog="lesson")
    assert ended.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"lesson: error: TOOLKIT_WORLD_SIZE={value!r} must be {allowed}") and err.count("\n") == 1


def test_a_missing_backend_is_one_line_saying_what_is_needed(monkeypatch):
    monkeypatch.setattr(dist, "is_available", lambda: False)
    with pytest.raises(distributed.WorkerFailed, match="built without torch.distributed; .* needs a build that has it"):
        distributed.launch(sum_of_ranks, 2, args=(1,))
    monkeypatch.setattr(dist, "is_available", lambda: True)
    monkeypatch.setattr(dist, "is_gloo_available", lambda: False)
    with pytest.raises(distributed.WorkerFailed, match="has no gloo backend .* needs a build with the gloo backend"):
        distributed.launch(sum_of_ranks, 2, args=(1,))
    assert multiprocessing.active_children() == []


def test_a_daemonic_parent_is_refused_with_one_line(monkeypatch):
    class Daemonic:
        daemon = True
    monkeypatch.setattr(multiprocessing, "current_process", lambda: Daemonic())
    with pytest.raises(distributed.WorkerFailed, match="cannot be started from a daemonic process"):
        distributed.launch(sum_of_ranks, 2, args=(1,))


@pytest.mark.parametrize("world_size", [0, 9, 2.0, True])
def test_launch_refuses_a_bad_world_size(world_size):
    with pytest.raises(ValueError, match="world_size must be a whole number from 1 to 8"):
        distributed.launch(sum_of_ranks, world_size, args=(1,))


def test_the_backend_follows_the_device():
    assert distributed.backend_for(torch.device("cpu")) == "gloo"
    assert distributed.backend_for(torch.device("cuda", 0)) == ("nccl" if dist.is_nccl_available() else "gloo")


def test_outside_torchrun_this_process_is_rank_0(monkeypatch):
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(name, raising=False)
    assert not distributed.under_torchrun() and distributed.rank_from_environment() == 0
    monkeypatch.setenv(distributed.WORLD_SIZE_VARIABLE, "3")
    assert distributed.world_size_option() == 3
    for name, value in (("RANK", "1"), ("WORLD_SIZE", "4"), ("LOCAL_RANK", "1"), ("MASTER_ADDR", "127.0.0.1"),
                        ("MASTER_PORT", "29500")):
        monkeypatch.setenv(name, value)
    assert distributed.under_torchrun() and distributed.rank_from_environment() == 1
    assert distributed.world_size_option() == 4        # torchrun's, whatever TOOLKIT_WORLD_SIZE says


# --------------------------------------------------------------------------- a wrong average, named


def average_report(mine: torch.Tensor, whole: torch.Tensor) -> GradientReport:
    row = Row("0.weight", tuple(whole.shape), None, "parameter 0.weight",
              [compare("manual, 4 workers vs 1", mine, whole, 1e-10, 1e-12)], manual=mine, autograd=whole)
    return GradientReport([row], torch.float64)


@pytest.fixture
def gradients():
    g = torch.Generator().manual_seed(3)
    whole = torch.randn(3, 4, generator=g, dtype=torch.float64)
    local = whole + torch.randn(3, 4, generator=g, dtype=torch.float64)       # one worker's share: not the mean
    return whole, local


@pytest.mark.parametrize("mistake, kind", [(lambda w, l: 4 * w, "sum-not-averaged"),
                                           (lambda w, l: w / 4, "average-divided-twice"),
                                           (lambda w, l: l, "no-all-reduce"),
                                           (lambda w, l: l / 4, "all-reduce-into-a-copy"),
                                           (lambda w, l: -w, "flipped-sign"),
                                           (lambda w, l: 0 * w, "gradient-missing"),
                                           (lambda w, l: 3.3 * w, None)])
def test_a_wrong_average_is_named(gradients, mistake, kind):
    whole, local = gradients
    diagnosis = diagnose.diagnose_average(average_report(mistake(whole, local), whole), {"0.weight": local}, 4)
    assert diagnosis.kind == kind and diagnosis.witness == "all_reduce" and diagnosis.rows == ["0.weight"]
    assert "(after the all-reduce)" in str(diagnosis)


def test_a_right_average_is_not_diagnosed(gradients):
    whole, local = gradients
    assert diagnose.diagnose_average(average_report(whole.clone(), whole), {"0.weight": local}, 4) is None
    e = Evidence(whole.clone(), whole, "0.weight", "parameter 0.weight", local=local, workers=4)
    assert examine(e, diagnose.ALL_REDUCE_RULES) is None


def test_check_average_finds_worker_0s_own_gradient_itself(monkeypatch):
    # A worker that never all-reduced holds its share's gradient; check_average rebuilds that share's gradient
    # from the twins and x[0::k] alone, so the diagnosis can name the mistake.
    twins = make_twins([2, 3, 2], "tanh", loss=manual.CrossEntropyLoss(), seed=1)
    x = torch.randn(8, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    y = torch.tensor([0, 1, 1, 0] * 2)
    twins.manual_loss(twins.manual_net(x[::2]), y[::2])
    twins.manual_net.backward(twins.manual_loss.backward(), input_grad=False)
    own = {name: param.grad.clone() for name, param in twins.manual_net.named_parameters()}
    twins.zero_grad()
    seen = []
    monkeypatch.setattr(exercises, "explain", lambda run, diagnosis, code=None: seen.append(diagnosis))
    run = SimpleNamespace(dtype=torch.float64, reports=[], name="test")
    distributed.check_average(run, None, {"manual": own, "autograd": own}, twins=twins, x=x, y=y, world_size=2)
    (report,) = run.reports
    assert not report.ok
    (diagnosis,) = seen
    assert diagnosis.kind == "no-all-reduce" and diagnosis.witness == "all_reduce"


def test_path_differences_and_between_workers():
    zeros = torch.zeros(3, 2, dtype=torch.float64)
    one = {"manual": zeros, "autograd": zeros}
    other = {"manual": torch.tensor([[0.0, 0.0], [1e-16, -3e-16], [0.0, 2e-16]], dtype=torch.float64),
             "autograd": zeros}
    assert distributed.path_differences({"workers": other, "same": one}, one) == {
        "manual, workers": [0.0, 3e-16, 2e-16], "autograd, workers": [0.0, 0.0, 0.0],
        "manual, same": [0.0, 0.0, 0.0], "autograd, same": [0.0, 0.0, 0.0]}
    assert distributed.between_workers([{"paths": one}, {"paths": one}, {"paths": other}]) == 3e-16
    assert distributed.between_workers([{"paths": other}]) == 0.0


def test_workers_stuck_before_their_first_collective_are_stopped(monkeypatch):
    # A worker that hangs before it has joined the group is beyond any collective's timeout; the parent's is not.
    monkeypatch.setattr(dist, "init_process_group", lambda *args, **kwargs: time.sleep(60))
    started = time.monotonic()
    with pytest.raises(distributed.WorkerFailed, match=r"^data-parallel worker 0 of 2 did not join the others within "
                                                        r"1 s; the workers were stopped$"):
        distributed.launch(sum_of_ranks, 2, args=(1,), timeout=1.0)
    assert time.monotonic() - started < 10 and multiprocessing.active_children() == []
