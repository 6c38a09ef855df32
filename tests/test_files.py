"""A lesson's files are replaced as one set, with ordinary permissions, or not at all."""

import errno
import os
import stat

import pytest

from toolkit import files


def contents(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def leftovers(parent):
    return [p.name for p in parent.iterdir() if p.name.startswith(".")]


@pytest.fixture
def umask_022():
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_a_new_set_replaces_the_old_one_whole(tmp_path):
    folder = tmp_path / "01_lesson"
    files.replace_folder(folder, {"a.png": b"1", "a.svg": b"2", "summary.json": b"{}"})
    files.replace_folder(folder, {"a.png": b"3", "summary.json": b"{ }"})
    assert contents(folder) == {"a.png": b"3", "summary.json": b"{ }"}   # the stale .svg is gone
    assert leftovers(tmp_path) == []


def test_files_get_the_permissions_of_an_ordinary_write(tmp_path, umask_022):
    folder = tmp_path / "01_lesson"
    files.replace_folder(folder, {"a.png": b"1"})
    assert stat.S_IMODE((folder / "a.png").stat().st_mode) == 0o644
    assert stat.S_IMODE(folder.stat().st_mode) == 0o755


def test_a_failure_while_writing_leaves_the_old_set_and_no_temporary_folder(tmp_path, monkeypatch):
    folder = tmp_path / "01_lesson"
    files.replace_folder(folder, {"a.png": b"old", "summary.json": b"old"})
    real_open = open
    calls = []

    def full_disk(path, mode="r", *args, **kwargs):
        calls.append(path)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_open(path, mode, *args, **kwargs)

    monkeypatch.setattr("builtins.open", full_disk)
    with pytest.raises(OSError, match="No space left"):
        files.replace_folder(folder, {"a.png": b"new", "summary.json": b"new"})
    monkeypatch.undo()
    assert contents(folder) == {"a.png": b"old", "summary.json": b"old"}
    assert leftovers(tmp_path) == []


def test_an_interrupt_during_the_swap_puts_the_old_set_back(tmp_path, monkeypatch):
    folder = tmp_path / "01_lesson"
    files.replace_folder(folder, {"a.png": b"old"})
    real_rename = os.rename
    renames = []

    def interrupted(src, dst):
        renames.append((src, dst))
        if len(renames) == 2:            # the old set is aside, the new one not yet in place
            raise KeyboardInterrupt
        real_rename(src, dst)

    monkeypatch.setattr(os, "rename", interrupted)
    with pytest.raises(KeyboardInterrupt):
        files.replace_folder(folder, {"a.png": b"new"})
    monkeypatch.undo()
    assert contents(folder) == {"a.png": b"old"}
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("problem", ["a file", "too long"])
def test_writable_folder_refuses_in_one_sentence(tmp_path, problem):
    if problem == "a file":
        target = tmp_path / "taken"
        target.write_text("x")
        match = "is a file"
    else:
        target = tmp_path / ("y" * 300)
        match = "cannot write to output folder .*File name too long"
    with pytest.raises(ValueError, match=match):
        files.writable_folder(target)


def test_racing_callers_each_leave_a_whole_set_and_nothing_hidden(tmp_path):
    # Two callers replacing one folder at the same time: each call succeeds, the folder ends up holding
    # one caller's whole set, and no hidden folder stays behind (before, 5 of 600 calls raised and a
    # hidden .NAME.old-* folder was left). Threads race here exactly as processes do: os.rename and
    # the file system calls release the interpreter.
    import threading

    folder = tmp_path / "01_lesson"
    sets = {who: {f"{name}.png": f"{who}-{name}".encode() * 50 for name in "abc"} | {"summary.json": who.encode()}
            for who in ("first", "second")}
    failures = []
    start = threading.Barrier(2)

    def caller(who):
        start.wait()
        for _ in range(150):
            try:
                files.replace_folder(folder, sets[who])
            except Exception as error:        # noqa: BLE001 - every failure counts
                failures.append(error)

    threads = [threading.Thread(target=caller, args=(who,)) for who in sets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert contents(folder) in list(sets.values())
    assert leftovers(tmp_path) == []


def test_a_folder_a_thousand_levels_deep_is_made_without_recursion(tmp_path):
    deep = tmp_path.joinpath(*["d"] * 1000)      # pathlib's mkdir(parents=True) recursed past Python's limit
    assert files.writable_folder(deep) == deep and deep.is_dir()
    try:
        files.replace_folder(deep / "01_lesson", {"a.png": b"1"})
        assert contents(deep / "01_lesson") == {"a.png": b"1"}
    finally:     # shutil.rmtree (and so pytest's own clean-up) recurses per level too: remove it bottom up
        (deep / "01_lesson" / "a.png").unlink(missing_ok=True)
        (deep / "01_lesson").rmdir()
        while deep != tmp_path:
            deep.rmdir()
            deep = deep.parent
