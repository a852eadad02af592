"""Trigger state: one versioned record per (flow, trigger), on every ExecutionStore."""

from __future__ import annotations

from typing import Any

import pytest

from stratoflow.errors import ConflictError
from stratoflow.store import ExecutionStore, TriggerState
from tests.contract.conftest import T0


def _state(
    trigger_id: str = "hook", namespace: str = "team", flow_id: str = "etl", **fields: Any
) -> TriggerState:
    return TriggerState(namespace=namespace, flow_id=flow_id, trigger_id=trigger_id, **fields)


def test_a_state_is_stored_with_a_version_and_read_back(store: ExecutionStore) -> None:
    # Given nothing stored
    assert store.get_trigger_state("team", "etl", "hook") is None

    # When a state is written twice
    first = store.put_trigger_state(_state(last_date=T0, values={"cursor": [1, "a"]}))
    second = store.put_trigger_state(first.model_copy(update={"disabled": True, "reason": "stopAfter"}))

    # Then each write bumps the version and the last one is read back
    assert (first.version, second.version) == (1, 2)
    stored = store.get_trigger_state("team", "etl", "hook")
    assert stored == second
    assert stored.disabled is True
    assert stored.last_date == T0
    assert stored.values == {"cursor": [1, "a"]}
    assert stored.updated == T0  # the store's clock


def test_an_optimistic_write_refuses_a_stale_version(store: ExecutionStore) -> None:
    # Given a state at version 1
    store.put_trigger_state(_state(), expected_version=0)

    # Then writing "new" again, or from a stale version, is a conflict
    with pytest.raises(ConflictError):
        store.put_trigger_state(_state(), expected_version=0)
    with pytest.raises(ConflictError):
        store.put_trigger_state(_state(), expected_version=2)
    # And the expected version wins
    assert store.put_trigger_state(_state(disabled=True), expected_version=1).version == 2
    assert store.get_trigger_state("team", "etl", "hook").disabled is True  # type: ignore[union-attr]


def test_states_are_listed_by_flow_and_deleted(store: ExecutionStore) -> None:
    for namespace, flow_id, trigger_id in [
        ("team", "etl", "b"),
        ("team", "etl", "a"),
        ("team", "etl-daily", "a"),
        ("team.sub", "etl", "a"),
        ("other", "x", "a"),
    ]:
        store.put_trigger_state(_state(trigger_id, namespace, flow_id))

    def keys(states: list[TriggerState]) -> list[tuple[str, str, str]]:
        return [(s.namespace, s.flow_id, s.trigger_id) for s in states]

    assert keys(store.list_trigger_states("team", "etl")) == [("team", "etl", "a"), ("team", "etl", "b")]
    assert keys(store.list_trigger_states("team")) == [
        ("team", "etl", "a"),
        ("team", "etl", "b"),
        ("team", "etl-daily", "a"),
    ]
    assert len(store.list_trigger_states()) == 5
    assert store.delete_trigger_state("team", "etl", "a") is True
    assert store.delete_trigger_state("team", "etl", "a") is False
    assert keys(store.list_trigger_states("team", "etl")) == [("team", "etl", "b")]


def test_bad_keys_are_refused(store: ExecutionStore) -> None:
    with pytest.raises(ValueError):
        store.put_trigger_state(_state("a#b"))
    with pytest.raises(ValueError, match="needs namespace"):
        store.list_trigger_states(flow_id="etl")
