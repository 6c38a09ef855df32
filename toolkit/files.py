"""Writing a lesson's files so that a reader only ever sees a whole, consistent set."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import signal
import tempfile
import threading
import uuid
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def replace_folder(folder: Path, files: dict[str, bytes]) -> None:
    """Make ``folder`` hold exactly ``files`` (name -> content), replacing its old contents as one unit.

    Everything is written into a fresh hidden sibling folder first. Only when
    every file is complete is the old folder renamed aside, the new one
    renamed into its place, and the old one deleted (see ``swap_in``). If
    anything goes wrong before that (a full disk, Ctrl-C, SIGTERM handled as
    an exception), the old folder is left as it was and the fresh one is
    removed. Files of a format no longer asked for disappear with the old
    folder. Two callers racing on one folder both succeed; the one that
    finishes last wins, and neither leaves a hidden folder behind.

    Files and the folder get the permissions an ordinary write gives
    (0644 and 0755 under umask 022).
    """
    folder = Path(folder)
    make_folders(folder.parent)
    fresh = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.new-"))
    try:
        os.chmod(fresh, 0o777 & ~_umask())
        for name, data in files.items():
            with open(fresh / name, "wb") as handle:
                handle.write(data)
        swap_in(fresh, folder)
    except BaseException:
        shutil.rmtree(fresh, ignore_errors=True)
        raise


def swap_in(fresh: Path, folder: Path) -> None:
    """Rename the complete folder ``fresh`` to ``folder``, whose old contents are moved aside and deleted.

    The protocol tolerates a racing peer doing the same: the old folder is
    renamed aside under a name of our own (if a peer moved it first, there is
    nothing to move); then ``fresh`` is renamed into place, and if a peer's
    folder got there in between, that one is moved aside too and we try
    again. Every folder we moved aside is deleted at the end. Interrupted
    before ``fresh`` is in place, the last folder we moved aside goes back.
    """
    fresh, folder = Path(fresh), Path(folder)
    moved_aside: list[Path] = []
    try:
        for _ in range(1000):
            if os.path.lexists(folder):
                aside = folder.parent / f".{folder.name}.old-{uuid.uuid4().hex[:12]}"
                try:
                    os.rename(folder, aside)
                    moved_aside.append(aside)
                except FileNotFoundError:
                    pass                         # a peer moved it aside first
            try:
                os.rename(fresh, folder)
                break
            except OSError as error:
                if not (isinstance(error, FileExistsError) or error.errno in (errno.EEXIST, errno.ENOTEMPTY)):
                    raise
                # a peer put its folder in place first: move that aside too and try again
        else:
            raise OSError(errno.EBUSY, f"could not put {folder} in place: it kept being replaced")
    except BaseException:
        if moved_aside and not os.path.lexists(folder):
            os.rename(moved_aside.pop(), folder)
        for aside in moved_aside:
            shutil.rmtree(aside, ignore_errors=True)
        raise
    for aside in moved_aside:
        shutil.rmtree(aside, ignore_errors=True)


def make_folders(path: Path) -> None:
    """Create ``path`` and any missing parents, one by one (pathlib's ``mkdir(parents=True)`` recurses once per
    level, and a path a thousand levels deep exceeded Python's recursion limit)."""
    path = Path(path)
    missing = []
    while not path.is_dir():
        missing.append(path)
        if path.parent == path:
            break
        path = path.parent
    for folder in reversed(missing):
        try:
            folder.mkdir()
        except FileExistsError:
            if not folder.is_dir():
                raise


def writable_folder(path: Path) -> Path:
    """Create ``path`` if needed and prove we can write into it, or raise ValueError."""
    path = Path(path)
    try:
        for folder in (path, *path.parents):
            if folder.exists():
                if not folder.is_dir():
                    raise ValueError(f"output folder '{folder}' is a file; give a folder path for --out")
                break
        make_folders(path)
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
    make_folders(path.parent)
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


@contextlib.contextmanager
def signals_deferred():
    """Hold Ctrl-C and SIGTERM until the block has finished, then let them act as they would have.

    For a few renames that must happen together (a gallery and its index):
    an interrupt waits the milliseconds they take, instead of leaving half a
    set. Only the main thread can handle signals; elsewhere nothing changes.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    caught = [signal.SIGINT, signal.SIGTERM]
    previous = {number: signal.signal(number, lambda number, frame: received.append(number)) for number in caught}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        if received:
            signal.raise_signal(received[0])
