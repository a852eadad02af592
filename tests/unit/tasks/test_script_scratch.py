"""Script working directories are scratch folders: each run gets a new one, never handed out before
(not even under the same name), and a released one is removed with everything in it, in the
background."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

import pytest

from stratoflow.tasks.scripts import workdir
from stratoflow.tasks.scripts.workdir import Scratch, working_directory


@pytest.fixture
def scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Scratch:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return Scratch()


def _everything(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def _leave_a_mess(folder: Path, outside: Path) -> None:
    """What a run may leave: files, nested and read-only folders, links to things outside."""
    work = folder / Scratch.WORK
    (folder / "script.py").write_text("print(1)")
    (work / "data.csv").write_text("a,b")
    (work / "out" / "deep").mkdir(parents=True)
    (work / "out" / "deep" / "x.bin").write_bytes(b"x")
    (work / "locked").mkdir()
    (work / "locked" / "inside.txt").write_text("y")
    os.chmod(work / "locked", stat.S_IRUSR | stat.S_IXUSR)
    (work / "link").symlink_to(outside)
    (folder / "home-link").symlink_to(outside / "keep.txt")


def test_a_released_folder_is_removed_whatever_the_run_left(scratch: Scratch, tmp_path: Path) -> None:
    # Given: a run that left a mess, and a folder outside that its links point to
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("not the script's")
    folder = scratch.acquire()
    _leave_a_mess(folder, outside)

    # When
    scratch.release(folder)
    again = scratch.acquire()
    scratch.flush()

    # Then: gone at once from where it was, then from the disk; the next run's folder is a new one,
    # with nothing but its empty working directory; the links' targets untouched
    assert not folder.exists()
    assert again != folder
    assert _everything(again) == [Scratch.WORK]
    assert _everything(folder.parent / Scratch.TRASH) == []
    assert (outside / "keep.txt").read_text() == "not the script's"


def test_a_folder_name_is_never_handed_out_twice(scratch: Scratch) -> None:
    # Given: many runs, one after the other and at once
    seen = []
    for _ in range(5):
        first, second = scratch.acquire(), scratch.acquire()
        seen += [first, second]
        scratch.release(first)
        scratch.release(second)

    # Then
    assert len(set(seen)) == len(seen)


def test_folders_are_made_ahead_and_one_written_into_meanwhile_is_not_handed_out(scratch: Scratch) -> None:
    # Given: the folders made ahead of the next runs, and something that wrote into the next one
    # (a process left behind that guessed its name)
    first = scratch.acquire()
    scratch.flush()
    ahead = sorted(
        (p for p in first.parent.iterdir() if p.name.isdigit() and p != first), key=lambda p: int(p.name)
    )
    (ahead[0] / Scratch.WORK / "planted.txt").write_text("x")

    # When
    following = [scratch.acquire() for _ in range(Scratch.READY + 1)]
    scratch.flush()

    # Then: the folders ahead were made, the planted one was not handed out (it went to the trash
    # and was removed), and every run got an empty folder
    assert len(ahead) == Scratch.READY
    assert ahead[0] not in following
    assert not ahead[0].exists()
    assert ahead[1] in following
    assert all(_everything(folder) == [Scratch.WORK] for folder in following)


def test_a_process_left_behind_cannot_write_into_the_next_run(scratch: Scratch) -> None:
    # Given: a run whose working directory is still held open (as the working directory of a
    # process that escaped its task's process group would be)
    folder = scratch.acquire()
    held = os.open(folder / Scratch.WORK, os.O_RDONLY | os.O_DIRECTORY)
    try:
        scratch.release(folder)
        scratch.flush()
        following = scratch.acquire()

        # When: it writes through its working directory and by the path it had
        with pytest.raises(FileNotFoundError):
            os.open("late.txt", os.O_CREAT | os.O_WRONLY, 0o600, dir_fd=held)
        with pytest.raises(FileNotFoundError):
            (folder / Scratch.WORK / "late.txt").write_text("late")
    finally:
        os.close(held)

    # Then: the next run sees none of it
    assert _everything(following) == [Scratch.WORK]


def test_a_folder_the_run_made_read_only_is_removed_too(scratch: Scratch) -> None:
    # Given: a run that made its own private folder read-only (it cannot be moved then)
    folder = scratch.acquire()
    (folder / "left.txt").write_text("x")
    os.chmod(folder, stat.S_IRUSR | stat.S_IXUSR)

    # When
    scratch.release(folder)
    scratch.flush()

    # Then
    assert not folder.exists()


def test_releases_beyond_the_backlog_are_removed_at_once(
    scratch: Scratch, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given: a full backlog of folders waiting for removal
    monkeypatch.setattr(Scratch, "BACKLOG", 0)
    folder = scratch.acquire()
    (folder / Scratch.WORK / "left.txt").write_text("x")

    # When
    scratch.release(folder)

    # Then: removed by the release itself
    assert not folder.exists()
    assert _everything(folder.parent / Scratch.TRASH) == []


def test_a_root_removed_from_under_the_scratch_is_made_again(scratch: Scratch) -> None:
    # Given: a temporary-files cleaner removed the root
    folder = scratch.acquire()
    scratch.release(folder)
    scratch.flush()
    workdir._remove_tree(str(folder.parent))

    # When
    again = scratch.acquire()

    # Then
    assert (again / Scratch.WORK).is_dir()


def test_working_directory_yields_a_new_scratch_folder_or_the_shared_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given
    monkeypatch.setattr(workdir, "SCRATCH", Scratch())
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    shared = tmp_path / "shared"
    shared.mkdir()

    # When
    with working_directory() as own:
        (own.path / "left.txt").write_text("x")
        (own.private / "script.py").write_text("x")
    with working_directory() as next_one:
        seen = _everything(next_one.private)
    with working_directory(shared) as inside:
        (inside.path / "kept.txt").write_text("x")

    # Then: the next run sees an empty folder of its own; a shared folder keeps its files
    assert own.path == own.private / Scratch.WORK
    assert not own.private.exists()
    assert next_one.private != own.private
    assert seen == [Scratch.WORK]
    assert inside.path == shared
    assert (shared / "kept.txt").exists()
