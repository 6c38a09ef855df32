"""Where the numbered lessons are, and what they are called.

Kept free of torch, so that ``python -m toolkit list`` and the checking of
command-line arguments answer at once.
"""

from __future__ import annotations

import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
PROJECT = PACKAGE.parent


def lessons_folder() -> Path:
    """Where the numbered lessons are: inside the installed package, or in the project beside it.

    A regular install (``pip install .``, or from a git URL) copies the
    project's lessons/ into the package as ``toolkit/lessons/`` (see
    pyproject.toml), so every command finds them from any folder. In a
    clone of the project, and with an editable install, they are the
    project's own lessons/ beside the package.
    """
    for folder in (PACKAGE / "lessons", PROJECT / "lessons"):
        if folder.is_dir():
            return folder
    raise ValueError(f"no lessons/ folder: neither {PACKAGE / 'lessons'} nor {PROJECT / 'lessons'} exists; "
                     "reinstall the toolkit with: python -m pip install .")


def lesson_number(path: Path) -> int:
    """02_linear_regression.py -> 2."""
    return int(path.name[:2])


def lesson_files() -> list[Path]:
    """The numbered lesson scripts (NN_name.py), in order. Two files with one number are refused."""
    files = sorted(path for path in lessons_folder().glob("*.py") if re.fullmatch(r"[0-9]{2}_\w+\.py", path.name))
    by_number: dict[int, Path] = {}
    for path in files:
        number = lesson_number(path)
        if number in by_number:
            raise ValueError(f"two lessons have the number {number}: {by_number[number].name} and {path.name}; "
                             "renumber one of them")
        by_number[number] = path
    return files


def title_of(path: Path) -> str:
    """The lesson's title: its first markdown heading ("# # 02 · Linear regression").

    A file that is not valid UTF-8 still gets a title (undecodable bytes are
    shown as U+FFFD); running it is what reports the problem.
    """
    for line in path.read_bytes().decode("utf-8", errors="replace").splitlines():
        if line.startswith("# # "):
            return line[4:].strip()
    return path.stem


def find_lessons(keys: list[str]) -> list[Path]:
    """The lessons named by ``keys`` (numbers or file names), in the order given and each once; every lesson
    when ``keys`` is empty. An unknown key is a ValueError, before anything runs."""
    if not keys:
        files = lesson_files()
        if not files:
            raise ValueError(f"no lessons found in {lessons_folder()}")
        return files
    return list(dict.fromkeys(find_lesson(key) for key in keys))


def find_lesson(key: str) -> Path:
    """A lesson by number ("2", "02") or by file name ("02_linear_regression" or with ".py")."""
    files = lesson_files()
    for path in files:
        if key in (path.stem, path.name) or (re.fullmatch(r"[0-9]+", key) and int(key) == lesson_number(path)):
            return path
    known = ", ".join(str(lesson_number(p)) for p in files) or "none found"
    raise ValueError(f"unknown lesson '{key}': choose one of {known} (see python -m toolkit list)")
