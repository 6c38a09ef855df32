"""The command line: ``python -m toolkit list | run N | figures [N ...] | check [N ...] | bugs
| notebooks [N ...] | exercises --out DIR [N ...]``.

Arguments are checked before torch is imported, so a typo is answered at
once. Every error a user can cause is one line on stderr, starting with
``toolkit: error:``, and exit code 2. Output that the terminal cannot encode
(a terminal that is not UTF-8) is written in ASCII stand-ins.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path

from toolkit.catalogue import find_lesson, find_lessons, lesson_files, lesson_number, title_of
from toolkit.options import (ERROR_PREFIX, INTERRUPTED, ArgumentParser, LessonStopped, add_device_options,
                             add_output_options, add_run_options, job_count, options_from, output_folder)
from toolkit.workers import run_lesson


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="python -m toolkit",
                            description="Train the same network by hand and with autograd, side by side.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="{list,run,figures,check,bugs,notebooks,exercises}")

    commands.add_parser("list", help="the numbered lessons and their titles")

    run = commands.add_parser("run", help="run one lesson: train both twins, report, draw its figures")
    run.add_argument("lesson", help="lesson number (e.g. 2) or file name")
    add_run_options(run)

    figures = commands.add_parser("figures", help="run every lesson (or those named) with its defaults and write "
                                                  "all figures and their index")
    figures.add_argument("lessons", nargs="*", metavar="N", help="lesson numbers or file names (default: all)")
    add_device_options(figures)
    add_output_options(figures)
    figures.add_argument("--jobs", type=job_count, default=None, metavar="N",
                         help="lessons run at once, each in a worker process (default: one per core, at most 4); "
                              "1 runs them one after another in this process")

    check = commands.add_parser("check", help="gradient check of every lesson (or those named); exit 0 only if "
                                              "all agree")
    check.add_argument("lessons", nargs="*", metavar="N", help="lesson numbers or file names (default: all)")
    add_device_options(check)
    commands.add_parser("bugs", help="the bug zoo: classic gradient mistakes and the check that catches each")

    exercises = commands.add_parser("exercises", help="write student versions of the lessons: each marked "
                                                      "hand-written piece left for the student to write")
    exercises.add_argument("lessons", nargs="*", metavar="N",
                           help="lesson numbers or file names (default: every lesson with exercises)")
    exercises.add_argument("--out", required=True, type=output_folder, metavar="DIR",
                           help="the folder to write them into")
    exercises.add_argument("--force", action="store_true",
                           help="overwrite files in DIR that differ from a fresh student version")

    notebooks = commands.add_parser("notebooks", help="turn every lesson (or those named) into a Jupyter notebook")
    notebooks.add_argument("lessons", nargs="*", metavar="N", help="lesson numbers or file names (default: all)")
    notebooks.add_argument("--out", type=output_folder, default=Path("notebooks"), metavar="DIR",
                           help="where the .ipynb files go (default: notebooks/ in the current folder)")
    notebooks.add_argument("--execute", action="store_true",
                           help="run each notebook in a fresh python3 kernel and save it with its outputs")
    notebooks.add_argument("--figures", type=output_folder, default=None, metavar="DIR",
                           help="with --execute: also write each lesson's figures and summary.json to DIR/<lesson>/ "
                                "(default: shown inline only, no files)")
    return parser


def command_list() -> int:
    for path in lesson_files():
        print(f"{lesson_number(path):>3}  {title_of(path)}   (lessons/{path.name})")
    return 0


def command_run(args) -> int:
    path = find_lesson(args.lesson)
    run = run_lesson(path, options_from(args))
    return 0 if (not run.reports or all(r.ok for r in run.reports)) else 1


def command_figures(args) -> int:
    """Every lesson (or those named) with its defaults (seed 0), then the index DIR/README.md, as one set.

    A device this machine lacks is one line and exit code 2, before anything
    is written. The lessons write into a hidden folder inside DIR; only when
    all have run are their folders moved into DIR and the index rewritten,
    together (``figure_index.publish``). Interrupted before that, DIR keeps
    its old set whole. A failing lesson stops no other; its old folder stays.

    The lessons run side by side in worker processes (``--jobs``, see
    toolkit.workers); each one's output and status line are printed in the
    order of the lessons. In a terminal one progress bar runs over the
    lessons, with one line per lesson (its status and time) above it; the
    lessons run quietly under it and their own output is shown only if one
    fails. With --quiet, or when the output is not a terminal, each lesson's
    whole output is printed, then its status line.
    """
    from tqdm import tqdm

    from toolkit import workers
    from toolkit.figure_index import publish
    from toolkit.files import writable_folder
    from toolkit.lesson import check_device

    paths = find_lessons(args.lessons)
    check_device(args.device, args.dtype)       # one line and exit code 2; nothing touched yet
    out = writable_folder(args.out if args.out is not None else Path("figures"))
    staging = Path(tempfile.mkdtemp(dir=out, prefix=".figures.new-"))
    try:
        bar = not args.quiet and sys.stderr.isatty()
        options = options_from(args, seed=0, quiet=args.quiet or bar, out=staging)
        jobs = min(args.jobs or workers.default_jobs(len(paths)), len(paths))
        failed = []
        with tqdm(total=len(paths), desc="figures", unit="lesson", disable=not bar, dynamic_ncols=True,
                  bar_format="{desc}: {n_fmt}/{total_fmt} lessons |{bar}| {elapsed}{postfix}") as progress, \
                contextlib.closing(workers.outcomes(paths, options, jobs, keep_output=bar)) as outcomes:
            progress.set_postfix_str(f"now {paths[0].stem}" if paths else "done")
            for number, (path, outcome) in enumerate(outcomes):
                if not outcome.ok:
                    failed.append(path.stem)
                line = f"[{path.stem}: {outcome.status}, {outcome.seconds:.1f} s]"
                if bar:
                    if not outcome.ok:
                        progress.write(outcome.output.rstrip("\n"))
                    progress.write(line)
                else:
                    print(outcome.output, end="")
                    print(line + "\n")
                progress.update()
                progress.set_postfix_str(f"now {paths[number + 1].stem}" if number + 1 < len(paths) else "done")
        try:
            index = publish(staging, out, command=figures_command(args))
        except OSError as error:
            raise ValueError(f"could not write the figures into {out}: {error.strerror or error}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    print(f"wrote the index of every figure to {index}")
    if failed:
        print(f"{ERROR_PREFIX}{len(failed)} lesson(s) failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


def figures_command(args) -> str:
    """``python -m toolkit figures`` with the flags that shape the files (for the index)."""
    flags = []
    if args.device != "auto":
        flags.append(f"--device {args.device}")
    if args.dtype != "float64":
        flags.append(f"--dtype {args.dtype}")
    if tuple(args.formats) != ("png",):
        flags.append(f"--format {','.join(args.formats)}")
    if args.width is not None:
        flags.append(f"--width {args.width}")
    if not args.titles:
        flags.append("--no-titles")
    return " ".join(["python -m toolkit figures", *flags])


def command_check(args) -> int:
    """The gradient check of every lesson (or those named); each lesson gets a verdict even if another fails."""
    from toolkit.lesson import check_device

    paths = find_lessons(args.lessons)
    check_device(args.device, args.dtype)
    all_ok = True
    for path in paths:
        options = options_from(args, quiet=True, save_figures=False)
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                run = run_lesson(path, options)
        except (ValueError, LessonStopped) as error:
            print(f"-> {path.stem}: FAILED: {error}\n")
            all_ok = False
            continue
        print(f"== {run.title}")
        for report in run.reports:
            print(report)
        for label, history in run.histories.items():
            print(training_line(label, history))
        lesson_ok = all(r.ok for r in run.reports) and all(h.twins_agree for h in run.histories.values())
        all_ok &= lesson_ok
        print(f"-> {path.stem}: {'OK' if lesson_ok else 'FAILED'}\n")
    print("all lessons agree" if all_ok else "SOME LESSONS FAILED OR DISAGREE")
    return 0 if all_ok else 1


def training_line(label: str, history) -> str:
    """One training run's verdict, as ``check`` prints it: how many steps were compared and how many disagreed."""
    return (f"training run '{label}' (lr {history.lr:.4g}): twins {history.agreement()}, "
            f"max |grad_manual - grad_autograd| = {history.max_abs_grad_diff:.1e}")


def command_notebooks(args) -> int:
    from toolkit import notebooks

    if args.figures is not None and not args.execute:
        raise ValueError("--figures needs --execute: only a notebook that runs draws figures")
    paths = find_lessons(args.lessons)
    return notebooks.make_notebooks(paths, args.out, run=args.execute, figures=args.figures)


def command_bugs() -> int:
    from toolkit import bugs

    return bugs.main()


def _terminate(signum, frame):
    # SIGTERM ends the program through the same clean-up as Ctrl-C: no half-written files stay behind.
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    from toolkit.console import fit_output_to_terminal

    fit_output_to_terminal()
    args = build_parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    try:
        if args.command == "list":
            return command_list()
        if args.command == "run":
            return command_run(args)
        if args.command == "figures":
            return command_figures(args)
        if args.command == "bugs":
            return command_bugs()
        if args.command == "exercises":
            from toolkit import exercises

            return exercises.main(args.out, args.lessons, force=args.force)
        if args.command == "notebooks":
            return command_notebooks(args)
        return command_check(args)
    except ValueError as error:
        print(f"{ERROR_PREFIX}{error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        # Every folder and file is replaced whole or not at all: nothing half-done is left.
        print(f"\n{INTERRUPTED}", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (``python -m toolkit list | head -1``): stop quietly, as a pipe expects.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except LessonStopped as error:     # a lesson that could not go on with these options: one line, exit code 1
        print(f"{ERROR_PREFIX}{error}", file=sys.stderr)
        return 1
