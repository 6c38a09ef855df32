"""The index of a figures folder: ``DIR/README.md``, every figure of every lesson on one page.

``python -m toolkit figures`` writes it after the lessons have run, together
with their folders (``publish``). It is built from what is in the folder,
not from what was asked for: every lesson folder with a ``summary.json``
gets a section (its title, the command and seed that made it, its final
losses, the largest difference between the twins' gradients, whether it
diverged), and under it every file of that folder, grouped by figure: the
image itself with its alt text, its caption, the function that drew it and
the lesson line that called it, and a link to each format. So the index
lists exactly the files that are there; ``listed_files`` and
``present_files`` let a test check that.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import quote

from toolkit.files import replace_file, signals_deferred, swap_in

INDEX = "README.md"
SUMMARY = "summary.json"
SHOWN = (".png", ".gif", ".svg")     # formats a Markdown viewer shows inline, in order of preference


def lesson_folders(folder: Path) -> list[Path]:
    """The lesson folders in ``folder`` (those with a summary.json), in order of their names."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir()
                  if p.is_dir() and not p.name.startswith(".") and (p / SUMMARY).is_file())


def present_files(folder: Path) -> set[str]:
    """Every file of every lesson folder, as a path relative to ``folder`` ("02_linear_regression/contour.png")."""
    return {f"{lesson.name}/{p.name}" for lesson in lesson_folders(folder)
            for p in lesson.iterdir() if p.is_file() and not p.name.startswith(".")}


def listed_files(index: str) -> set[str]:
    """The files an index links to (images and links alike), as paths relative to its folder."""
    from urllib.parse import unquote

    return {unquote(target) for target in re.findall(r"(?<!\\)\]\(([^)\s]+)\)", index)}


def build_index(folder: Path, *, command: str | None = None) -> str:
    """The Markdown text of the index of ``folder`` (see the module's docstring).

    ``command``: the command that made the whole folder, shown at the top.
    """
    folder = Path(folder)
    lessons = lesson_folders(folder)
    count = sum(len(_figures(lesson)) for lesson in lessons)
    lines = ["# Figures", ""]
    made = f"Made by `{command}`. " if command else ""
    lines += [f"{made}{count} figures from {len(lessons)} lessons. Every file in this folder's lesson "
              "folders is listed here, grouped by lesson and by figure; a lesson's numbers are in its "
              "`summary.json`. Each lesson can be made again on its own with the command given under "
              "its title.", ""]
    for lesson in lessons:
        lines += _lesson_section(lesson)
    return "\n".join(lines).rstrip("\n") + "\n"


def write_index(folder: Path, *, command: str | None = None) -> Path:
    """Write ``folder/README.md`` atomically (a reader never sees half of it); returns its path."""
    path = Path(folder) / INDEX
    replace_file(path, build_index(folder, command=command).encode())
    return path


def publish(staging: Path, folder: Path, *, command: str | None = None) -> Path:
    """Move every lesson folder made in ``staging`` into ``folder`` and rewrite the index, as one set.

    Each lesson folder in ``staging`` (one with a summary.json) replaces its
    namesake in ``folder`` whole (``files.swap_in``); a lesson with no folder
    there (it failed, or made no file) keeps its old one. Then the index is
    written from what ``folder`` holds. Ctrl-C and SIGTERM wait until all of
    it is done, a few renames, so ``folder`` never holds half a gallery or an
    index that lists other files than it has. Returns the index's path.
    """
    with signals_deferred():
        for lesson in lesson_folders(staging):
            swap_in(lesson, Path(folder) / lesson.name)
        return write_index(folder, command=command)


def _figures(lesson: Path, order=()) -> dict[str, list[str]]:
    """A lesson folder's files other than summary.json, by figure name: {"contour": ["contour.pdf", ...]}.

    Figures named in ``order`` (the order the lesson saved them) come first, in that order.
    """
    figures: dict[str, list[str]] = {name: [] for name in order}
    for path in sorted(lesson.iterdir()):
        if path.is_file() and not path.name.startswith(".") and path.name != SUMMARY:
            figures.setdefault(path.name.split(".", 1)[0], []).append(path.name)
    return {name: files for name, files in figures.items() if files}


def _lesson_section(lesson: Path) -> list[str]:
    try:
        summary = json.loads((lesson / SUMMARY).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        summary = {}
    if not isinstance(summary, dict):
        summary = {}
    title = summary.get("title") or lesson.name
    seed = summary.get("seed")
    command = summary.get("command") or (f"python -m toolkit run {int(lesson.name[:2])} --seed {seed}"
                                         if lesson.name[:2].isdigit() and seed is not None else None)
    lines = [f"## {_plain(title)}", ""]
    made = [f"`{command}`"] if command else []
    made += [f"seed {seed}"] if seed is not None else []
    if summary.get("steps") is not None and summary.get("lr") is not None:
        made.append(f"{summary['steps']} steps at lr {summary['lr']:g}")
    if summary.get("dtype") and summary.get("device"):
        made.append(f"{summary['dtype']} on {summary['device']}")
    lines += [" · ".join(made) + ("  " if made else ""), _numbers(summary), "",
              f"Numbers: [{SUMMARY}]({_link(lesson.name, SUMMARY)})", ""]
    captions = summary.get("captions") if isinstance(summary.get("captions"), dict) else {}
    code = summary.get("code") if isinstance(summary.get("code"), dict) else {}
    for name, files in _figures(lesson, order=captions).items():
        about = captions.get(name) if isinstance(captions.get(name), dict) else {}
        drawn = code.get(name) if isinstance(code.get(name), dict) else {}
        caption, alt = about.get("caption"), about.get("alt")
        lines += [f"### {name}", ""]
        shown = next((f for ext in SHOWN for f in files if f.endswith(ext)), None)
        if shown is not None:
            lines += [f"![{_alt(alt or caption or name)}]({_link(lesson.name, shown)})", ""]
        if caption:
            lines += [_plain(caption), ""]
        if alt:
            lines += [f"*Alt text:* {_plain(alt)}", ""]
        where = [f"drawn by `{drawn['function']}`"] if drawn.get("function") else []
        where += [f"called at `{drawn['called_at']}`"] if drawn.get("called_at") else []
        if where:
            lines += [f"*Code:* {', '.join(where)}", ""]
        links = " · ".join(f"[{f}]({_link(lesson.name, f)})" for f in files)
        lines += [f"Files: {links}", ""]
    return lines


def _numbers(summary: dict) -> str:
    """Final losses, the largest twin difference and divergence, in one line."""
    final = summary.get("final_loss") if isinstance(summary.get("final_loss"), dict) else {}

    def loss(value) -> str:
        return "not a number" if value is None else f"{value:.6g}"

    parts = []
    if final:
        parts.append(f"final loss {loss(final.get('manual'))} (manual), {loss(final.get('autograd'))} (autograd)")
    if summary.get("max_abs_grad_diff") is not None:
        parts.append(f"largest gradient difference between the twins {summary['max_abs_grad_diff']:.1e}")
    if "diverged" in summary:
        step = summary.get("diverged_at_step")
        parts.append(f"diverged at step {step}" if summary["diverged"] else "did not diverge")
    return " · ".join(parts)


def _link(*parts: str) -> str:
    return "/".join(quote(part) for part in parts)


def _plain(text: str) -> str:
    """Text as it is, on one Markdown line: line breaks become spaces, and the characters Markdown
    reads as markup (the * of L*, the _ of a name, brackets) are escaped."""
    return re.sub(r"([\\`*_\[\]<>#|])", r"\\\1", " ".join(str(text).split()))


def _alt(text: str) -> str:
    """Text that can stand inside ![...]."""
    return _plain(text)
