"""Running the lessons side by side, each in a worker process (``python -m toolkit figures``).

A lesson trains on one torch thread, so a machine with several cores can run
several lessons at once. The workers are fresh interpreters ('spawn': torch
and fork do not mix well), live for the whole command and take one lesson
after another, so each loads torch once. A lesson's printed output is kept
and handed back with its result, so that the outputs of lessons running at
the same time do not mix.

Ctrl-C and SIGTERM stop the whole command. Only the parent listens to
Ctrl-C; it stops every worker with SIGTERM, and a worker stops its lesson as
a single run stops (a lesson writes its folder only when it has finished, and
a folder half-way through being written is removed again), then exits. No
worker outlives the command.
"""

from __future__ import annotations

import contextlib
import io
import multiprocessing
import os
import runpy
import signal
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

from toolkit.options import LessonStopped, Options, to_argv

MAX_JOBS = 4        # the default at most: each worker holds torch and a lesson in memory


@dataclass
class Outcome:
    """How one lesson's run ended."""

    ok: bool
    status: str         # "ok", "GRADIENTS DISAGREE" or "FAILED: <why>"
    output: str         # what the lesson printed, when it was kept ("" when it went straight to stdout)
    seconds: float


def run_lesson(path: Path, options: Options):
    """Execute the lesson file itself (there is no second copy) with these options.

    The options travel as the lesson's argument list, exactly as if it had
    been started as ``python lessons/NN_name.py FLAGS``; the ``Lesson`` it
    starts is found among the names it defines.
    """
    from toolkit import lesson

    lesson.prepare(options, path.stem)  # a bad device or --out is reported here, as the command line's error
    saved_argv = sys.argv
    sys.argv = [str(path), *to_argv(options)]
    try:
        namespace = runpy.run_path(str(path), run_name="__main__")
    except SyntaxError as error:
        raise ValueError(f"{path.name} is not a Python file this toolkit can run: {error.msg}") from None
    except ArithmeticError as error:     # accepted options whose numbers the lesson could not carry through
        raise LessonStopped(lesson.arithmetic_line(error, to_argv(options))) from None
    finally:
        sys.argv = saved_argv
    runs = [value for value in namespace.values() if isinstance(value, lesson.Lesson)]
    if not runs:
        raise ValueError(f"{path.name} did not call lesson.start(...)")
    run = runs[0]
    if not run.finished:
        raise ValueError(f"{path.name} never called run.finish(): it wrote nothing")
    return run


def default_jobs(lessons: int) -> int:
    """One worker per core this process may use, at most MAX_JOBS and at most one per lesson."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:          # macOS and Windows have no sched_getaffinity
        cores = os.cpu_count() or 1
    return max(1, min(cores, MAX_JOBS, lessons))


def run_one(path: Path, options: Options, *, keep_output: bool) -> Outcome:
    """Run one lesson as ``figures`` does; a lesson that fails with a ValueError is an Outcome, not an error."""
    started = time.perf_counter()
    output = io.StringIO()
    try:
        with contextlib.redirect_stdout(output) if keep_output else contextlib.nullcontext():
            run = run_lesson(path, options)
        ok = all(report.ok for report in run.reports)
        status = "ok" if ok else "GRADIENTS DISAGREE"
    except (ValueError, LessonStopped) as error:
        ok, status = False, f"FAILED: {error}"
    return Outcome(ok, status, output.getvalue(), time.perf_counter() - started)


def outcomes(paths: list[Path], options: Options, jobs: int, *, keep_output: bool) -> Iterator[tuple[Path, Outcome]]:
    """(path, Outcome) of every lesson, in the order of ``paths``, each as soon as it and those before it are done.

    ``jobs`` = 1 runs the lessons here, one after another (their output kept
    only if ``keep_output``); more runs them in that many worker processes,
    always keeping their output. Close the iterator (``contextlib.closing``)
    so that the workers are stopped if the caller stops early.
    """
    if jobs <= 1:
        for path in paths:
            yield path, run_one(path, options, keep_output=keep_output)
        return
    before = set(multiprocessing.active_children())
    executor = ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"), initializer=_start_worker)
    try:
        futures = [executor.submit(_run_in_worker, path, options) for path in paths]
        for path, future in zip(paths, futures):
            yield path, _outcome_of(future)
    except BaseException:           # Ctrl-C, SIGTERM, an early close, or a lesson's own error
        _stop([worker for worker in multiprocessing.active_children() if worker not in before])
        raise
    finally:
        executor.shutdown(wait=True, cancel_futures=True)


def _outcome_of(future) -> Outcome:
    try:
        return future.result()
    except BrokenProcessPool:       # a worker was killed (out of memory, say): the lessons not done have no result
        return Outcome(False, "FAILED: a worker process was killed before this lesson finished", "", 0.0)


def _stop(workers) -> None:
    """SIGTERM every worker, wait until each has stopped its lesson and exited; kill one that does not."""
    for worker in workers:
        worker.terminate()
    for worker in workers:
        worker.join(timeout=30)
        if worker.is_alive():
            worker.kill()
            worker.join()


# ------------------------------------------------------------------ inside a worker

_running = False            # True while this worker runs a lesson


def _start_worker() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)        # Ctrl-C is the parent's to handle
    signal.signal(signal.SIGTERM, _on_sigterm)


def _on_sigterm(signum, frame) -> None:
    if _running:
        raise KeyboardInterrupt     # unwinds the lesson: the folder it was writing is removed again
    os._exit(128 + signum)          # waiting for a lesson: nothing to clean up


def _run_in_worker(path: Path, options: Options) -> Outcome:
    global _running
    _running = True
    try:
        return run_one(path, options, keep_output=True)
    except KeyboardInterrupt:       # the parent's SIGTERM, once the lesson has cleaned up after itself
        os._exit(128 + signal.SIGTERM)
    finally:
        _running = False
