"""Script working directories are reused scratch folders: each run finds its folder empty, whatever
the previous run left in it, and a folder that cannot be emptied is never handed out again."""

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


def test_a_released_folder_comes_back_empty_whatever_the_run_left(scratch: Scratch, tmp_path: Path) -> None:
    # Given: a run that left files, nested and read-only folders and links to things outside
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("not the script's")
    folder = scratch.acquire()
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

    # When
    scratch.release(folder)
    again = scratch.acquire()

    # Then: the same folder, with nothing but its empty working directory; the links' targets untouched
    assert again == folder
    assert _everything(again) == [Scratch.WORK]
    assert (outside / "keep.txt").read_text() == "not the script's"


def test_concurrent_runs_get_distinct_folders(scratch: Scratch) -> None:
    # Given / When
    first, second = scratch.acquire(), scratch.acquire()

    # Then
    assert first != second
    assert (first / Scratch.WORK).is_dir() and (second / Scratch.WORK).is_dir()


def test_a_working_directory_replaced_by_a_link_is_not_reused(scratch: Scratch, tmp_path: Path) -> None:
    # Given: a run that swapped its working directory for a link to a folder outside
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("kept")
    folder = scratch.acquire()
    (folder / Scratch.WORK).rmdir()
    (folder / Scratch.WORK).symlink_to(outside)

    # When
    scratch.release(folder)
    again = scratch.acquire()

    # Then: a new folder; the link's target is untouched
    assert again != folder
    assert not folder.exists()
    assert (outside / "keep.txt").read_text() == "kept"
    assert _everything(again) == [Scratch.WORK]


def test_a_folder_that_cannot_be_emptied_is_never_handed_out_again(
    scratch: Scratch, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given: a file that refuses to go (as one held by a mount or an immutable flag would)
    folder = scratch.acquire()
    (folder / Scratch.WORK / "stuck.txt").write_text("previous run")
    real_unlink = os.unlink

    def refusing_unlink(path: str | Path, *args: object, **kwargs: object) -> None:
        if str(path).endswith("stuck.txt"):
            raise PermissionError(1, "Operation not permitted", str(path))
        real_unlink(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "unlink", refusing_unlink)

    # When
    scratch.release(folder)
    again = scratch.acquire()

    # Then: the next run gets another, empty folder
    assert again != folder
    assert _everything(again) == [Scratch.WORK]


def test_a_folder_removed_from_under_the_pool_is_replaced(scratch: Scratch) -> None:
    # Given: a temporary-files cleaner removed a free folder
    folder = scratch.acquire()
    scratch.release(folder)
    (folder / Scratch.WORK).rmdir()

    # When
    again = scratch.acquire()

    # Then
    assert again != folder
    assert (again / Scratch.WORK).is_dir()


def test_working_directory_yields_the_scratch_folder_or_the_shared_one(
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

    # Then: the next run sees an empty folder; a shared folder keeps its files
    assert own.path == own.private / Scratch.WORK
    assert seen == [Scratch.WORK]
    assert inside.path == shared
    assert (shared / "kept.txt").exists()
