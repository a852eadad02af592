"""The pure rules both stores share."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stratoflow.errors import ConflictError
from stratoflow.states import State, can_transition
from stratoflow.store import rules


@pytest.mark.parametrize("key", ["a", "team/etl/executions/e1/tr-1/outputs.json", "a/.hidden/b", "a/..b/c"])
def test_safe_blob_keys_round_trip_through_uris(key: str) -> None:
    assert rules.key_of(rules.uri_for(key)) == key


@pytest.mark.parametrize("key", ["", "/a", "a/../b", "..", ".", "a//b", "a/", "a\\b", "a\x00"])
def test_unsafe_blob_keys_are_refused(key: str) -> None:
    with pytest.raises(ValueError):
        rules.check_blob_key(key)


@given(
    st.datetimes(
        timezones=st.sampled_from([UTC, timezone(timedelta(hours=5)), timezone(timedelta(hours=-3))])
    )
)
def test_sortable_time_orders_like_time(moment: datetime) -> None:
    later = moment + timedelta(microseconds=1)
    assert rules.sortable_time(moment) < rules.sortable_time(later)
    assert len(rules.sortable_time(moment)) == len("2024-05-01T12:00:00.000000Z")


def test_naive_times_are_utc() -> None:
    naive = datetime(2024, 5, 1, 12, 0)
    assert (
        rules.sortable_time(naive)
        == rules.sortable_time(naive.replace(tzinfo=UTC))
        == "2024-05-01T12:00:00.000000Z"
    )
    assert rules.sortable_time(datetime(2024, 5, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))) == (
        "2024-05-01T12:00:00.000000Z"
    )


@pytest.mark.parametrize("new", list(State))
def test_states_before_is_the_transition_table(new: State) -> None:
    # The DynamoDB condition is built from states_before: it must agree with can_transition
    expected = {s for s in State if s != new and can_transition(s, new)}
    assert rules.states_before(new, None) == expected
    assert rules.states_before(new, [State.RUNNING]) == expected & {State.RUNNING}


def test_check_update() -> None:
    assert rules.check_update("e", State.CREATED, State.RUNNING, None) is True
    assert rules.check_update("e", State.RUNNING, State.RUNNING, None) is False
    assert rules.check_update("e", State.RUNNING, None, [State.RUNNING]) is False
    with pytest.raises(ConflictError, match="cannot move from SUCCESS to RUNNING"):
        rules.check_update("e", State.SUCCESS, State.RUNNING, None)
    with pytest.raises(ConflictError, match="expected one of: QUEUED, RUNNING"):
        rules.check_update("e", State.CREATED, State.RUNNING, [State.RUNNING, State.QUEUED])


def test_kv_expiry() -> None:
    now = datetime(2024, 5, 1, 12, 0, 0, 500_000, tzinfo=UTC)
    expires = rules.kv_expiry(now, 10)
    assert expires == int(now.timestamp()) + 11  # rounded up: an entry never lives shorter than asked
    assert rules.kv_expiry(now, None) is None
    assert not rules.kv_expired(expires, now + timedelta(seconds=10))
    assert rules.kv_expired(expires, now + timedelta(seconds=10.5))
    assert not rules.kv_expired(None, now + timedelta(days=9999))
    with pytest.raises(ValueError):
        rules.kv_expiry(now, -1)


def test_truncate_message_keeps_short_ones_and_whole_characters() -> None:
    assert rules.truncate_message("short") == "short"
    cut = rules.truncate_message("€" * rules.MAX_LOG_MESSAGE_BYTES)
    kept = cut.split("... [truncated")[0]
    assert set(kept) == {"€"}
    assert cut.endswith(f"[truncated {3 * rules.MAX_LOG_MESSAGE_BYTES - len(kept.encode())} bytes]")


def test_dump_json_handles_dates_and_refuses_objects() -> None:
    assert rules.dump_json({"at": datetime(2024, 5, 1, tzinfo=UTC)}) == '{"at":"2024-05-01T00:00:00Z"}'
    with pytest.raises(TypeError):
        rules.dump_json({"x": object()})


@pytest.mark.parametrize("name", ["", "a#b"])
def test_names_with_key_separators_are_refused(name: str) -> None:
    with pytest.raises(ValueError):
        rules.check_name(name, "namespace")
