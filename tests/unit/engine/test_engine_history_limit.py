"""The local engine counts history events and payload sizes as Step Functions does, and fails at its limits."""

from __future__ import annotations

from typing import Any

from stratoflow.engine.runtime import HISTORY_EVENT_LIMIT
from tests.unit.engine.engine_test_helpers import run, single


def _map_of_passes(items: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """A Map over `items` items whose iteration is one Pass state (4 events an item)."""
    iteration = {"StartAt": "Each", "States": {"Each": {"Type": "Pass", "End": True}}}
    state = {"Type": "Map", "ItemsPath": "$.items", "ItemProcessor": iteration, "ResultPath": None}
    return single(state), {"items": list(range(items))}


def test_every_event_is_counted_even_when_no_history_is_recorded() -> None:
    # Given a Pass machine: ExecutionStarted, PassStateEntered, PassStateExited, ExecutionSucceeded
    # When
    result = run(single({"Type": "Pass"}))
    # Then
    assert result.history == []
    assert result.history_events == 4


def test_counts_match_the_recorded_history() -> None:
    definition, execution_input = _map_of_passes(10)

    result = run(definition, execution_input, record_history=True)

    assert result.status == "SUCCEEDED"
    assert result.history_events == len(result.history) == result.history[-1].id


def test_an_execution_under_the_history_limit_succeeds() -> None:
    # Given a Map whose events stay just under 25,000 (4 per item, 8 around it)
    items = (HISTORY_EVENT_LIMIT - 8) // 4

    result = run(*_map_of_passes(items))

    assert result.status == "SUCCEEDED"
    assert result.history_events <= HISTORY_EVENT_LIMIT


def test_the_event_past_the_history_limit_fails_the_execution() -> None:
    # Given a Map that needs more than 25,000 events
    items = HISTORY_EVENT_LIMIT // 4 + 10

    # When
    result = run(*_map_of_passes(items))

    # Then it fails as on AWS, naming the limit, and runs nothing more
    assert (result.status, result.error) == ("FAILED", "States.Runtime")
    assert "25,000 history events" in (result.cause or "")
    assert result.history_events < HISTORY_EVENT_LIMIT + 50


def test_the_largest_payload_is_reported() -> None:
    # Given an input of ~100 KB passed through a Pass state
    result = run(single({"Type": "Pass"}), {"big": "x" * 100_000})

    assert result.status == "SUCCEEDED"
    assert 100_000 < result.largest_payload < 100_100
