"""Writing a lesson's files so that a reader only ever sees a whole, consistent set."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def replace_folder(folder: Path, files: dict[str, bytes]) -> None:
    """Make ``folder`` hold exactly ``files`` (name -> content), replacing its old contents as one unit.

    Everything is written into a fresh hidden sibling folder first. Only when
    every file is complete is the old folder renamed aside, the new one
    renamed into its place, and the old one deleted. If anything goes wrong
    before that (a full disk, Ctrl-C, SIGTERM handled as an exception), the
    old folder is left as it was and the fresh one is removed. Files of a
    format no longer asked for disappear with the old folder.

    Files and the folder get the permissions an ordinary write gives
    (0644 and 0755 under umask 022).
    """
    folder = Path(folder)
    parent = folder.parent
    parent.mkdir(parents=True, exist_ok=True)
    fresh = Path(tempfile.mkdtemp(dir=parent, prefix=f".{folder.name}.new-"))
    aside = parent / fresh.name.replace(".new-", ".old-", 1)
    moved_aside = False
    try:
        os.chmod(fresh, 0o777 & ~_umask())
        for name, data in files.items():
            with open(fresh / name, "wb") as handle:
                handle.write(data)
        if folder.exists():
            os.rename(folder, aside)
            moved_aside = True
        os.rename(fresh, folder)
    except BaseException:
        if moved_aside and not folder.exists():
            os.rename(aside, folder)
        shutil.rmtree(fresh, ignore_errors=True)
        raise
    if moved_aside:
        shutil.rmtree(aside, ignore_errors=True)


def writable_folder(path: Path) -> Path:
    """Create ``path`` if needed and prove we can write into it, or raise ValueError."""
    path = Path(path)
    try:
        for folder in (path, *path.parents):
            if folder.exists():
                if not folder.is_dir():
                    raise ValueError(f"output folder '{folder}' is a file; give a folder path for --out")
                break
        path.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=path, prefix=".write-test.")
        os.close(fd)
        os.unlink(probe)
    except OSError as error:
        reason = error.strerror or str(error)
        raise ValueError(f"cannot write to output folder '{path}': {reason}") from None
    return path


def replace_file(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a reader sees the old file or the new one, never half of it.

    The bytes go into a hidden temporary file in the same folder, which is
    then renamed over ``path``; if anything fails first, the temporary file
    is removed and ``path`` is unchanged. The file gets the permissions an
    ordinary write gives (0644 under umask 022).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(temporary, 0o666 & ~_umask())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
