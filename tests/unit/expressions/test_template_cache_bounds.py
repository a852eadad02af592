"""The template cache's folder is bounded: least recently used entries go first, the bounds hold
between prunes, and neither a hit nor most writes scan the folder."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

from stratoflow.expressions import environment as environment_module
from stratoflow.expressions import template_cache
from stratoflow.expressions.template_cache import LOW_WATER, WRITES, TemplateCache

GENERATE = environment_module.generate
HOUR = 3600.0


def entries(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.tpl"))


def age(path: Path, hours: float) -> None:
    """Make `path` look last used `hours` ago."""
    when = time.time() - hours * HOUR
    os.utime(path, (when, when))


def test_a_prune_deletes_the_least_recently_used_entries_first(tmp_path: Path) -> None:
    # Given five entries last used 10, 9, 8, 7 and 6 hours ago
    cache = TemplateCache(tmp_path, max_entries=4)
    sources = [f"{{{{ {n} + 1 }}}}" for n in range(5)]
    for source in sources:
        cache.store(GENERATE(source))
    paths = {source: cache._path(source) for source in sources}
    for hours, source in zip((10, 9, 8, 7, 6), sources, strict=True):
        age(paths[source], hours)

    # When the oldest one is read again, then the folder is pruned to LOW_WATER of 4 entries (3)
    assert cache.load(sources[0]) is not None
    deleted = cache.prune()

    # Then the two least recently used are gone; the one just read stays
    assert int(4 * LOW_WATER) == 3 and deleted == 2
    assert entries(tmp_path) == sorted(paths[s] for s in (sources[0], sources[3], sources[4]))


def test_a_recent_hit_does_not_write_to_its_entry(tmp_path: Path) -> None:
    # Given an entry used ten minutes ago
    cache = TemplateCache(tmp_path)
    cache.store(GENERATE("{{ 40 + 2 }}"))
    path = cache._path("{{ 40 + 2 }}")
    age(path, 1 / 6)
    before = path.stat().st_mtime

    # When it is read, Then its time is left alone (a hit renews it at most once an hour)
    assert cache.load("{{ 40 + 2 }}") is not None
    assert path.stat().st_mtime == before


def test_the_entry_count_stays_within_its_bound_across_many_writes(tmp_path: Path) -> None:
    # Given a cache of 40 entries pruned every 4 writes (4 <= 10% of 40: room until the next prune)
    cache = TemplateCache(tmp_path, max_entries=40, prune_every=4)

    # When 100 templates are stored, Then the folder never holds more than 40
    for n in range(100):
        cache.store(GENERATE(f"{{{{ inputs.x + {n} }}}}"))
        assert len(entries(tmp_path)) <= 40
    assert len(entries(tmp_path)) >= int(40 * LOW_WATER)
    # And the newest one is still there
    assert cache.load("{{ inputs.x + 99 }}") is not None


def test_the_byte_size_stays_within_its_bound_across_many_writes(tmp_path: Path) -> None:
    # Given a cache of 200 KB pruned every 4 units of 4 KiB (16 KiB <= 10% of 200 KB), and big templates
    cache = TemplateCache(tmp_path, max_bytes=200_000, prune_every=4)
    text = "x" * 3000

    # When 60 templates of about 6 KB each are stored (about 360 KB)
    for n in range(60):
        cache.store(GENERATE(f"{text} {n} {{{{ inputs.name }}}}"))
        # Then the folder never holds more than 200 KB
        assert sum(p.stat().st_size for p in entries(tmp_path)) <= 200_000
    assert len(entries(tmp_path)) < 60


def test_hits_never_scan_the_folder_and_writes_prune_once_per_prune_every(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a cache pruned every 5 small writes, whose prunes are counted
    cache = TemplateCache(tmp_path, prune_every=5)
    prunes: list[int] = []
    real_prune = cache.prune
    monkeypatch.setattr(cache, "prune", lambda: prunes.append(1) or real_prune())

    # When 12 templates are stored (one unit each)
    sources = [f"{{{{ {n} * 2 }}}}" for n in range(12)]
    for source in sources:
        cache.store(GENERATE(source))

    # Then the folder was pruned at its first write (no .writes yet), then at the 5th and 10th after
    assert len(prunes) == 3
    assert (tmp_path / WRITES).stat().st_size == 1

    # And reading every entry lists nothing
    def no_scan(*args: Any) -> Any:
        raise AssertionError("a hit scanned the folder")

    monkeypatch.setattr(template_cache.os, "scandir", no_scan)
    assert all(cache.load(source) is not None for source in sources)


def test_a_folder_from_before_the_bound_is_pruned_at_its_first_write(tmp_path: Path) -> None:
    # Given 20 entries in a folder without a .writes file (an older Stratoflow wrote them)
    old = TemplateCache(tmp_path)
    for n in range(20):
        old.store(GENERATE(f"{{{{ {n} - 1 }}}}"))
        age(old._path(f"{{{{ {n} - 1 }}}}"), 20 - n)
    (tmp_path / WRITES).unlink()

    # When a cache of 10 entries writes one more
    TemplateCache(tmp_path, max_entries=10).store(GENERATE("{{ 'new' }}"))

    # Then the folder is down to LOW_WATER of 10: the newest entries
    kept = entries(tmp_path)
    assert len(kept) == int(10 * LOW_WATER)
    assert TemplateCache(tmp_path).load("{{ 'new' }}") is not None
    assert TemplateCache(tmp_path).load("{{ 0 - 1 }}") is None


def test_a_prune_deletes_dead_temporary_files_and_nothing_foreign(tmp_path: Path) -> None:
    # Given a temporary file left by a process that died, one being written now, and a foreign file
    cache = TemplateCache(tmp_path)
    cache.store(GENERATE("{{ 1 }}"))
    dead, live, foreign = tmp_path / "a.tpl.1.2.tmp", tmp_path / "b.tpl.3.4.tmp", tmp_path / "NOTES.txt"
    for path in (dead, live, foreign):
        path.write_bytes(b"partial")
    age(dead, 2)

    # When the folder is pruned (well within its bounds)
    assert cache.prune() == 0

    # Then only the dead temporary file is gone
    assert not dead.exists() and live.exists() and foreign.exists()
    assert cache.load("{{ 1 }}") is not None


def test_a_corrupt_entry_is_ignored_then_replaced(tmp_path: Path) -> None:
    # Given an entry overwritten with garbage
    cache = TemplateCache(tmp_path)
    cache.store(GENERATE("{{ 2 + 2 }}"))
    cache._path("{{ 2 + 2 }}").write_bytes(b"\x00garbage")

    # When it is read, Then it is a miss; stored again, it is whole
    assert cache.load("{{ 2 + 2 }}") is None
    cache.store(GENERATE("{{ 2 + 2 }}"))
    loaded = cache.load("{{ 2 + 2 }}")
    assert loaded is not None and loaded.single
