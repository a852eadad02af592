"""The `dependencies` cache is bounded: least recently used installs go first, an install in use (by a
run of this process or another) is never deleted, and what is not a complete install is replaced.

pip is replaced by a fake that writes a package into `--target`: these tests are about the cache.
"""

from __future__ import annotations

import fcntl
import os
import sys
import time
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest

from stratoflow.execution.runner.context import TaskRunContext
from stratoflow.tasks.scripts import dependencies, dependency_cache
from stratoflow.tasks.scripts.dependency_cache import MARKER
from tests.unit.tasks.task_helpers import direct_context

VERSION = dependencies.interpreter_version(sys.executable)


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("STRATOFLOW_DEPENDENCY_CACHE", str(folder))
    return folder


@pytest.fixture
def pip_installs(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """A fake pip: `install --target DIR REQ...` writes a 1000-byte module per requirement."""
    calls: list[list[str]] = []

    def fake_pip(argv: list[str], **kwargs: Any) -> int:
        calls.append([a for a in argv[argv.index("--target") + 2 :] if not a.startswith("--")])
        target = Path(argv[argv.index("--target") + 1])
        for requirement in calls[-1]:
            (target / requirement).mkdir()
            (target / requirement / "__init__.py").write_text("# " + "x" * 998)
        return 0

    monkeypatch.setattr(dependencies, "run_process", fake_pip)
    return calls


@pytest.fixture
def ctx(tmp_path: Path) -> TaskRunContext:
    (tmp_path / "run").mkdir()
    return direct_context(tmp_path / "run")


def install(ctx: TaskRunContext, *requirements: str) -> AbstractContextManager[Path]:
    # The fake pip ignores its working directory
    return dependencies.installed(
        ctx, list(requirements), sys.executable, cwd=Path.cwd(), env={}, timeout=None
    )


def entry(*requirements: str) -> Path:
    return dependencies.cache_folder(list(requirements), VERSION)


def age(folder: Path, hours: float) -> None:
    when = time.time() - hours * 3600
    os.utime(folder, (when, when))


def installed_entries(root: Path) -> set[Path]:
    return {e.folder for e in dependency_cache.entries(root)}


def test_installs_are_evicted_least_recently_used_first(
    tmp_path: Path, ctx: TaskRunContext, root: Path, pip_installs: list[list[str]]
) -> None:
    # Given installs of a, b and c, last used 3, 2 and 1 hours ago, then a used again
    for requirement, hours in (("a", 3), ("b", 2), ("c", 1)):
        with install(ctx, requirement):
            pass
        age(entry(requirement), hours)
    with install(ctx, "a"):
        pass

    # When the cache is pruned to two entries
    evicted = dependency_cache.prune(root, max_entries=2)

    # Then b, the least recently used, is gone; a was reused without pip
    assert evicted == [entry("b")]
    assert installed_entries(root) == {entry("a"), entry("c")}
    assert pip_installs == [["a"], ["b"], ["c"]]


def test_an_install_prunes_the_cache_to_its_byte_budget(
    tmp_path: Path,
    ctx: TaskRunContext,
    root: Path,
    pip_installs: list[list[str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a budget of 2500 bytes: room for two installs of 1000, made 3 and 2 hours ago
    monkeypatch.setattr(dependency_cache, "max_bytes", lambda root: 2500)
    for requirement, hours in (("a", 3), ("b", 2)):
        with install(ctx, requirement):
            pass
        age(entry(requirement), hours)

    # When a third is installed
    with install(ctx, "c"):
        pass

    # Then the oldest went, the cache holds at most its budget, and the run said so
    assert installed_entries(root) == {entry("b"), entry("c")}
    assert sum(e.bytes for e in dependency_cache.entries(root)) <= 2500
    assert any("removed 1 least recently used installs" in e.message for e in ctx.logs)


def test_the_byte_budget_is_a_share_of_a_small_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the 512 MB /tmp of a Lambda function, Then the cache may use half of it
    usage = type("Usage", (), {"total": 512 * 1024**2})
    monkeypatch.setattr(dependency_cache.shutil, "disk_usage", lambda path: usage)
    assert dependency_cache.max_bytes(tmp_path) == 256 * 1024**2
    # And a large disk gets MAX_BYTES
    usage.total = 10 * dependency_cache.MAX_BYTES
    assert dependency_cache.max_bytes(tmp_path) == dependency_cache.MAX_BYTES


def test_an_install_in_use_survives_a_prune_until_its_runs_end(
    tmp_path: Path, ctx: TaskRunContext, root: Path, pip_installs: list[list[str]]
) -> None:
    # Given the oldest install, used by two runs of this process at once, and a newer one
    with install(ctx, "b"):
        pass
    first, second = install(ctx, "a"), install(ctx, "a")
    folder = first.__enter__()
    second.__enter__()
    age(folder, 5)

    # When the cache is pruned to one entry, Then the install in use stays and the other goes
    assert dependency_cache.prune(root, max_entries=1) == [entry("b")]
    # And it stays while either run is still using it
    first.__exit__(None, None, None)
    assert dependency_cache.prune(root, max_entries=0) == []
    assert (folder / "a" / "__init__.py").is_file()
    # And once both have ended, it can go
    second.__exit__(None, None, None)
    assert dependency_cache.prune(root, max_entries=0) == [folder]
    assert not folder.exists()


@pytest.mark.parametrize("marker", [None, "not json", '{"bytes": "many"}'])
def test_a_partial_or_corrupt_install_is_ignored_and_replaced(
    tmp_path: Path, ctx: TaskRunContext, root: Path, pip_installs: list[list[str]], marker: str | None
) -> None:
    # Given the folder of `a` without a valid marker (a crash, a copy by hand, an older Stratoflow)
    folder = entry("a")
    (folder / "a").mkdir(parents=True)
    (folder / "a" / "__init__.py").write_text("half")
    if marker is not None:
        (folder / MARKER).write_text(marker)

    # When a run needs `a`, Then it installs it again, in the same place
    with install(ctx, "a") as used:
        assert used == folder
        assert (folder / "a" / "__init__.py").read_text().startswith("# xxx")
    assert pip_installs == [["a"]]
    assert dependency_cache.entry_bytes(folder) == 1000
    # And a later run reuses it
    with install(ctx, "a"):
        pass
    assert pip_installs == [["a"]]


def test_a_prune_removes_what_killed_runs_left_but_not_an_install_under_way(
    tmp_path: Path, root: Path, pip_installs: list[list[str]]
) -> None:
    # Given an install left half-way by a killed run, one under way now, and an entry being deleted
    target = entry("a")
    abandoned = dependency_cache.stage(target)
    assert abandoned.fd is not None
    os.close(abandoned.fd)  # the run died: its lock went with it
    abandoned.fd = None
    age(abandoned.folder, 1)
    under_way = dependency_cache.stage(target)
    age(under_way.folder, 1)
    leftover = target.parent / f"{dependency_cache.EVICTED_PREFIX}x"
    (leftover / "a").mkdir(parents=True)

    # When the cache is pruned
    dependency_cache.prune(root)

    # Then the abandoned install and the leftover are gone, the install under way stays
    assert not abandoned.folder.exists() and not leftover.exists()
    assert under_way.folder.is_dir()
    under_way.close()


def test_a_run_that_finds_its_install_evicted_under_it_installs_again(
    tmp_path: Path,
    ctx: TaskRunContext,
    root: Path,
    pip_installs: list[list[str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given an install that a prune renames away just as a run opens it, before the run's lock
    with install(ctx, "a"):
        pass
    real_flock = fcntl.flock
    raced: list[Path] = []

    def flock_after_eviction(fd: int, operation: int) -> None:
        if operation == fcntl.LOCK_SH and not raced:
            raced.extend(dependency_cache.prune(root, max_entries=0))
        real_flock(fd, operation)

    monkeypatch.setattr(dependency_cache.fcntl, "flock", flock_after_eviction)

    # When the run goes on, Then it does not use the evicted folder: it installs `a` again
    with install(ctx, "a") as folder:
        assert raced == [folder]
        assert (folder / "a" / "__init__.py").is_file()
        # And holds the new install
        assert dependency_cache.prune(root, max_entries=0) == []
    assert pip_installs == [["a"], ["a"]]


def test_a_run_whose_install_was_replaced_under_it_holds_the_new_one(
    tmp_path: Path,
    ctx: TaskRunContext,
    root: Path,
    pip_installs: list[list[str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given an install that, just as a run opens it, a prune deletes and another run installs again
    with install(ctx, "a"):
        pass
    real_flock = fcntl.flock
    raced: list[Path] = []

    def flock_after_replacement(fd: int, operation: int) -> None:
        if operation == fcntl.LOCK_SH and not raced:
            raced.extend(dependency_cache.prune(root, max_entries=0))
            with install(ctx, "a"):
                pass
        real_flock(fd, operation)

    monkeypatch.setattr(dependency_cache.fcntl, "flock", flock_after_replacement)

    # When the run goes on, Then the folder it uses is held: the new install, not the deleted one
    with install(ctx, "a") as folder:
        assert raced == [folder]
        assert dependency_cache.prune(root, max_entries=0) == []
        assert (folder / "a" / "__init__.py").is_file()
