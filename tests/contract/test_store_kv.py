"""The per-namespace KV store, with expiry on an injected clock, on every ExecutionStore."""

from __future__ import annotations

from typing import Any

import pytest

from stratoflow.store import ExecutionStore, ItemTooLargeError


def test_set_get_overwrite(store: ExecutionStore) -> None:
    store.kv_set("team", "config", {"rows": 10, "ratio": 0.25, "tags": ["a"], "none": None})
    store.kv_set("team", "flag", True)
    store.kv_set("other", "flag", "x")

    assert store.kv_get("team", "config") == (True, {"rows": 10, "ratio": 0.25, "tags": ["a"], "none": None})
    assert store.kv_get("team", "flag") == (True, True)
    assert store.kv_get("other", "flag") == (True, "x")
    assert store.kv_get("team", "missing") == (False, None)

    store.kv_set("team", "flag", 3)
    assert store.kv_get("team", "flag") == (True, 3)


def test_null_value_is_found(store: ExecutionStore) -> None:
    store.kv_set("team", "nothing", None)

    assert store.kv_get("team", "nothing") == (True, None)


def test_delete_and_list(store: ExecutionStore) -> None:
    for key in ("b", "a", "c.d"):
        store.kv_set("team", key, key)
    store.kv_set("team.sub", "x", 1)

    assert store.kv_list("team") == ["a", "b", "c.d"]
    assert store.kv_delete("team", "b") is True
    assert store.kv_delete("team", "b") is False
    assert store.kv_list("team") == ["a", "c.d"]
    assert store.kv_list("nobody") == []


def test_expired_entries_are_not_found(store: ExecutionStore, clock: Any) -> None:
    # Given an entry with a 60 s TTL and one without
    store.kv_set("team", "token", "abc", ttl_seconds=60)
    store.kv_set("team", "forever", 1)

    # Then the entry lives for its TTL
    clock.advance(59)
    assert store.kv_get("team", "token") == (True, "abc")
    assert store.kv_list("team") == ["forever", "token"]

    # And after it, it is gone even though nothing purged it
    clock.advance(1)
    assert store.kv_get("team", "token") == (False, None)
    assert store.kv_list("team") == ["forever"]
    assert store.kv_delete("team", "token") is False

    # Setting it again without a TTL makes it permanent
    store.kv_set("team", "token", "new", ttl_seconds=5)
    store.kv_set("team", "token", "newer")
    clock.advance(3600)
    assert store.kv_get("team", "token") == (True, "newer")


def test_bad_keys_ttls_and_values_are_refused(store: ExecutionStore) -> None:
    with pytest.raises(ValueError):
        store.kv_set("team", "", 1)
    with pytest.raises(ValueError):
        store.kv_set("", "key", 1)
    with pytest.raises(ValueError):
        store.kv_set("team", "key", 1, ttl_seconds=0)
    with pytest.raises(TypeError):
        store.kv_set("team", "key", object())
    with pytest.raises(ItemTooLargeError):
        store.kv_set("team", "key", "x" * 400_000)
    assert store.kv_list("team") == []


def test_swap_sets_only_over_the_expected_value(store: ExecutionStore, clock: Any) -> None:
    # Given no entry: a swap expecting none takes it, a second one does not
    assert store.kv_swap("team", "lease", {"owner": "a"}, ttl_seconds=60) is True
    assert store.kv_swap("team", "lease", {"owner": "b"}, ttl_seconds=60) is False
    # When a swap names the value it replaces, it takes it; a stale expectation does not
    assert store.kv_swap("team", "lease", {"owner": "c"}, expected={"owner": "b"}) is False
    assert store.kv_swap("team", "lease", {"owner": "c"}, expected={"owner": "a"}, ttl_seconds=60) is True
    assert store.kv_get("team", "lease") == (True, {"owner": "c"})
    # And an expired entry counts as none, even before it is purged
    clock.advance(60)
    assert store.kv_swap("team", "lease", {"owner": "d"}, expected={"owner": "c"}) is False
    assert store.kv_swap("team", "lease", {"owner": "d"}) is True
    assert store.kv_get("team", "lease") == (True, {"owner": "d"})
