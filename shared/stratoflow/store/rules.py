"""Rules every store applies the same way, kept pure so the SQLite and DynamoDB stores cannot drift.

Both stores enforce the same limits: a flow that runs locally must fit in the cloud store too.
"""

from __future__ import annotations

import json
import math
import zlib
from collections.abc import Collection
from datetime import UTC, datetime
from typing import Any

from pydantic_core import PydanticSerializationError, to_jsonable_python

from stratoflow.domain import FlowRecord, TaskRun
from stratoflow.errors import ConflictError, StratoflowError
from stratoflow.states import ALLOWED_TRANSITIONS, State, can_transition

FLOW_STATUSES = frozenset({"DEPLOYED", "INVALID", "DELETED"})

# DynamoDB refuses items over 400 KB; records are checked against a lower bound on their JSON size so
# that keys, index attributes and attribute names always fit in the margin.
MAX_RECORD_BYTES = 350 * 1024
# A log line longer than this is cut (a task that logs a whole file must not fail for it).
MAX_LOG_MESSAGE_BYTES = 64 * 1024

URI_SCHEME = "strato:///"


class ItemTooLargeError(StratoflowError):
    """A record is too large for the execution store: large data belongs in blob storage."""


def check_name(value: str, what: str) -> str:
    """Refuse an empty namespace/flow id or one holding '#', the separator of DynamoDB keys."""
    if not value or "#" in value:
        raise ValueError(f"invalid {what} {value!r}: must be non-empty and must not contain '#'")
    return value


def check_flow_key(namespace: str, flow_id: str) -> None:
    check_name(namespace, "namespace")
    check_name(flow_id, "flow id")


# A flow record larger than this is stored compressed (zlib): a compiled definition compresses about
# tenfold, so the store's record limit is no longer what bounds a flow's size (Step Functions' 1 MB
# definition limit is).
COMPRESS_FLOW_BYTES = 64 * 1024


def flow_record_bytes(data: str) -> bytes | None:
    """The compressed form a flow record's JSON is stored in, None when it is stored as it is."""
    encoded = data.encode()
    return zlib.compress(encoded, 6) if len(encoded) > COMPRESS_FLOW_BYTES else None


def flow_record_size(data: str) -> int:
    """The bytes a flow record's JSON takes in the store (what MAX_RECORD_BYTES applies to)."""
    compressed = flow_record_bytes(data)
    return len(compressed) if compressed is not None else len(data.encode())


def check_flow_record(record: FlowRecord, limit: bool = True) -> str:
    """Validate a revision before it is stored; returns its JSON (stored compressed when large).
    `limit`: the record must fit one item (a store without blob storage for records)."""
    check_flow_key(record.namespace, record.flow_id)
    check_flow_status(record.status)
    if record.revision < 1:
        raise ValueError(f"flow revisions start at 1, got {record.revision}")
    data = record.model_dump_json(by_alias=True)
    size = flow_record_size(data) if limit else 0
    if size > MAX_RECORD_BYTES:
        raise ItemTooLargeError(
            f"flow {record.namespace}.{record.flow_id!r} takes {size // 1024} KiB compressed; the "
            f"execution store keeps records under {MAX_RECORD_BYTES // 1024} KiB: store large data in "
            "blob storage and keep a reference"
        )
    return data


def check_labels(labels: dict[str, str]) -> dict[str, str]:
    if any(not name for name in labels):
        raise ValueError("label names must not be empty")
    return labels


def check_flow_status(status: str) -> str:
    if status not in FLOW_STATUSES:
        raise ValueError(f"invalid flow status {status!r}: expected one of {sorted(FLOW_STATUSES)}")
    return status


def check_size(kind: str, ident: str, encoded: str | bytes) -> None:
    """Raise ItemTooLargeError when a record's encoded form exceeds MAX_RECORD_BYTES."""
    size = len(encoded.encode() if isinstance(encoded, str) else encoded)
    if size > MAX_RECORD_BYTES:
        raise ItemTooLargeError(
            f"{kind} {ident!r} is {size // 1024} KiB; the execution store keeps records under "
            f"{MAX_RECORD_BYTES // 1024} KiB: store large data in blob storage and keep a reference"
        )


def truncate_message(message: str) -> str:
    """Cut a log message to MAX_LOG_MESSAGE_BYTES (UTF-8), saying how much was dropped."""
    data = message.encode()
    if len(data) <= MAX_LOG_MESSAGE_BYTES:
        return message
    kept = data[:MAX_LOG_MESSAGE_BYTES].decode(errors="ignore")
    return f"{kept}... [truncated {len(data) - len(kept.encode())} bytes]"


def dump_json(value: Any) -> str:
    """Compact JSON of a user value (datetimes and other pydantic-known types become strings)."""
    try:
        return json.dumps(value, separators=(",", ":"), default=to_jsonable_python)
    except PydanticSerializationError as error:
        raise TypeError(f"value cannot be stored as JSON: {error}") from None


# --- time --------------------------------------------------------------------------------------


def as_utc(moment: datetime) -> datetime:
    """Naive datetimes are taken as UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def sortable_time(moment: datetime) -> str:
    """Fixed-width UTC text whose string order is time order (used in sort keys and indexed columns)."""
    # isoformat, unlike strftime("%Y"), pads years before 1000 to four digits.
    return as_utc(moment).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def execution_sort_key(start_date: datetime, execution_id: str) -> str:
    """How both stores order executions (newest first, descending): `<sortable start>#<id>`; the
    cursor of a page of executions."""
    return f"{sortable_time(start_date)}#{execution_id}"


def task_run_seq(moment: datetime) -> int:
    """A task run's `seq` from the time of its first save: microseconds since the epoch.

    A time rather than a per-execution counter, so that inserting a task run is one write.
    """
    delta = as_utc(moment) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def task_run_order(run: TaskRun) -> tuple[int, str]:
    """The order of `list_task_runs`: creation (`seq`), then id for runs created the same microsecond."""
    return run.seq, run.id


# --- execution state transitions ---------------------------------------------------------------


def as_states(
    state: State | str | None, expected: Collection[State | str] | None
) -> tuple[State | None, frozenset[State] | None]:
    """Accept state names as well as State members (callers pass "RUNNING" too)."""
    return (
        None if state is None else State(state),
        None if expected is None else frozenset(State(s) for s in expected),
    )


def check_update(
    execution_id: str, current: State, new: State | None, expected: Collection[State] | None
) -> bool:
    """Check an execution update against the current state; True when the state changes.

    Raises ConflictError when the current state is outside `expected` or the transition is not allowed.
    """
    if expected is not None and current not in expected:
        wanted = ", ".join(sorted(expected))
        raise ConflictError(f"execution {execution_id} is {current}, expected one of: {wanted}")
    if new is None or new == current:
        return False
    if not can_transition(current, new):
        raise ConflictError(f"execution {execution_id} cannot move from {current} to {new}")
    return True


def check_task_run_state(task_run_id: str, current: State | None, expected: Collection[State]) -> None:
    """ConflictError unless the stored task run is in one of the `expected` states."""
    if current is None or current not in expected:
        wanted = ", ".join(sorted(expected))
        raise ConflictError(
            f"task run {task_run_id} is {current or 'not recorded'}, expected one of: {wanted}"
        )


def states_before(new: State, expected: Collection[State] | None) -> frozenset[State]:
    """The states an execution may be in for an update to move it to a *different* state `new`."""
    sources = frozenset(s for s, targets in ALLOWED_TRANSITIONS.items() if s != new and new in targets)
    return sources if expected is None else sources & frozenset(expected)


# --- concurrency and trigger state ------------------------------------------------------------


def queue_key(start_date: datetime, execution_id: str) -> str:
    """An execution's place in its flow's queue: start date, then id (string order is queue order)."""
    return f"{sortable_time(start_date)}#{execution_id}"


def check_limit(limit: int) -> int:
    if limit < 1:
        raise ValueError(f"a concurrency limit is at least 1, got {limit}")
    return limit


def check_trigger_key(namespace: str, flow_id: str, trigger_id: str) -> None:
    check_flow_key(namespace, flow_id)
    check_name(trigger_id, "trigger id")


def check_version(kind: str, ident: str, stored: int, expected: int | None) -> None:
    """ConflictError when an optimistic write expected another version than the stored one (0: none)."""
    if expected is not None and stored != expected:
        raise ConflictError(f"{kind} {ident} is at version {stored}, expected {expected}")


# --- KV ----------------------------------------------------------------------------------------


def check_kv_key(namespace: str, key: str) -> None:
    check_name(namespace, "namespace")
    if not key or len(key.encode()) > 1024:
        raise ValueError(f"invalid KV key {key!r}: must be 1 to 1024 bytes")


def kv_expiry(now: datetime, ttl_seconds: int | None) -> int | None:
    """Epoch second at which a KV entry expires (DynamoDB's TTL attribute format), or None."""
    if ttl_seconds is None:
        return None
    if ttl_seconds <= 0:
        raise ValueError(f"ttl_seconds must be positive, got {ttl_seconds}")
    return math.ceil(as_utc(now).timestamp()) + ttl_seconds


def kv_expired(expires: int | None, now: datetime) -> bool:
    return expires is not None and as_utc(now).timestamp() >= expires


# --- blob keys ---------------------------------------------------------------------------------


def check_blob_key(key: str) -> str:
    """Refuse keys that could escape the storage root: absolute, '..', '.', empty segments, backslashes."""
    if not key or key.startswith("/") or "\\" in key or "\x00" in key:
        raise ValueError(f"invalid storage key {key!r}: must be a relative '/'-separated path")
    if any(part in ("", ".", "..") for part in key.split("/")):
        raise ValueError(f"invalid storage key {key!r}: empty, '.' and '..' segments are not allowed")
    return key


def uri_for(key: str) -> str:
    return URI_SCHEME + check_blob_key(key)


def key_of(uri: str) -> str:
    """The storage key of a `strato:///<key>` URI."""
    if not uri.startswith(URI_SCHEME):
        raise ValueError(f"not a storage URI: {uri!r} (expected {URI_SCHEME}<key>)")
    return check_blob_key(uri[len(URI_SCHEME) :])
