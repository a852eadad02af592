"""Flow revisions and the flow head, on every ExecutionStore."""

from __future__ import annotations

import base64
import random

import pytest

from stratoflow.domain import FlowRecord
from stratoflow.errors import ConflictError, NotFoundError
from stratoflow.store import ExecutionStore, ItemTooLargeError
from stratoflow.store.base import KvGuard


def flow(
    revision: int,
    status: str = "DEPLOYED",
    flow_id: str = "etl",
    namespace: str = "team",
    errors: tuple[str, ...] = (),
) -> FlowRecord:
    return FlowRecord(
        namespace=namespace,
        flow_id=flow_id,
        revision=revision,
        source=f"id: {flow_id}\nnamespace: {namespace}\n# r{revision}\n",
        source_hash=f"h{revision}",
        status=status,
        definition={"StartAt": "A", "States": {"A": {"Type": "Succeed"}}},
        errors=list(errors),
    )


def test_put_and_get_revisions(store: ExecutionStore) -> None:
    # Given two deployed revisions
    store.put_flow(flow(1))
    store.put_flow(flow(2))

    # When / Then: a revision is returned as stored, and None means the live one
    first = store.get_flow("team", "etl", 1)
    assert first is not None and first.source_hash == "h1" and first.definition == flow(1).definition
    live = store.get_flow("team", "etl")
    assert live is not None and live.revision == 2
    assert store.get_flow("team", "etl", 3) is None
    assert store.get_flow("team", "other") is None


def test_put_existing_or_older_revision_conflicts(store: ExecutionStore) -> None:
    store.put_flow(flow(1))
    store.put_flow(flow(3))

    with pytest.raises(ConflictError):
        store.put_flow(flow(3))
    with pytest.raises(ConflictError):
        store.put_flow(flow(2))

    head = store.get_flow_head("team", "etl")
    assert head is not None and head.latest_revision == 3 and head.deployed_revision == 3


def test_invalid_upload_keeps_the_deployed_revision(store: ExecutionStore) -> None:
    # Given a deployed revision
    store.put_flow(flow(1))

    # When an invalid upload is recorded on the head
    head = store.set_flow_status("team", "etl", "INVALID", errors=["flow.yaml:3 tasks[0].type: unknown"])

    # Then the head says so, and the deployed revision keeps running
    assert head.status == "INVALID"
    assert head.errors == ["flow.yaml:3 tasks[0].type: unknown"]
    assert head.deployed_revision == 1
    live = store.get_flow("team", "etl")
    assert live is not None and live.revision == 1
    assert [f.revision for f in store.list_flows()] == [1]
    assert store.get_flow_head("team", "etl") == head


def test_invalid_revision_record_does_not_replace_the_live_one(store: ExecutionStore) -> None:
    store.put_flow(flow(1))
    store.put_flow(flow(2, status="INVALID", errors=("bad",)))

    live = store.get_flow("team", "etl")
    assert live is not None and live.revision == 1
    invalid = store.get_flow("team", "etl", 2)
    assert invalid is not None and invalid.status == "INVALID" and invalid.errors == ["bad"]
    head = store.get_flow_head("team", "etl")
    assert head is not None
    assert (head.status, head.errors, head.deployed_revision, head.latest_revision) == (
        "INVALID",
        ["bad"],
        1,
        2,
    )

    # A later good upload goes live and clears the errors
    store.put_flow(flow(3))
    head = store.get_flow_head("team", "etl")
    assert head is not None and (head.status, head.errors, head.deployed_revision) == ("DEPLOYED", [], 3)


def test_first_upload_invalid_has_a_head_but_no_flow(store: ExecutionStore) -> None:
    head = store.set_flow_status("team", "new", "INVALID", errors=["no tasks"])

    assert (head.deployed_revision, head.latest_revision) == (None, 0)
    assert store.get_flow("team", "new") is None
    assert store.list_flows() == []
    assert [h.flow_id for h in store.list_flow_heads()] == ["new"]


def test_deployed_status_needs_a_deployed_revision(store: ExecutionStore) -> None:
    store.set_flow_status("team", "new", "INVALID", errors=["x"])

    with pytest.raises(NotFoundError):
        store.set_flow_status("team", "new", "DEPLOYED")

    head = store.get_flow_head("team", "new")
    assert head is not None and head.status == "INVALID"


def test_deleted_flow_is_not_live_until_deployed_again(store: ExecutionStore) -> None:
    store.put_flow(flow(1))

    store.set_flow_status("team", "etl", "DELETED")
    assert store.get_flow("team", "etl") is None
    assert store.list_flows() == []
    kept = store.get_flow("team", "etl", 1)
    assert kept is not None

    # Uploading the same source again brings the same revision back
    head = store.set_flow_status("team", "etl", "DEPLOYED")
    assert (head.status, head.errors, head.deployed_revision) == ("DEPLOYED", [], 1)
    live = store.get_flow("team", "etl")
    assert live is not None and live.revision == 1


def test_list_flows_returns_live_revisions_by_namespace(store: ExecutionStore) -> None:
    store.put_flow(flow(1, flow_id="b"))
    store.put_flow(flow(2, flow_id="b"))
    store.put_flow(flow(1, flow_id="a"))
    store.put_flow(flow(1, flow_id="z", namespace="other"))
    store.put_flow(flow(1, flow_id="a", namespace="team.sub"))

    everything = store.list_flows()
    assert [(f.namespace, f.flow_id, f.revision) for f in everything] == [
        ("other", "z", 1),
        ("team", "a", 1),
        ("team", "b", 2),
        ("team.sub", "a", 1),
    ]
    assert [(f.flow_id, f.revision) for f in store.list_flows("team")] == [("a", 1), ("b", 2)]
    assert [h.flow_id for h in store.list_flow_heads("team")] == ["a", "b"]
    assert store.list_flows("nobody") == []


def test_bad_names_and_statuses_are_refused(store: ExecutionStore) -> None:
    with pytest.raises(ValueError):
        store.put_flow(flow(1, flow_id="a#b"))
    with pytest.raises(ValueError):
        store.put_flow(flow(1, status="BROKEN"))
    with pytest.raises(ValueError):
        store.put_flow(flow(0))
    with pytest.raises(ValueError):
        store.set_flow_status("team", "etl", "BROKEN")
    assert store.list_flow_heads() == []


def test_oversized_flow_is_refused_clearly(store: ExecutionStore) -> None:
    with pytest.raises(ItemTooLargeError, match="blob storage"):
        noise = base64.b64encode(random.Random(1).randbytes(450_000)).decode()  # incompressible
        store.put_flow(flow(1).model_copy(update={"source": noise}))
    assert store.get_flow_head("team", "etl") is None


def test_a_large_flow_record_is_stored_compressed_and_reads_back_whole(store: ExecutionStore) -> None:
    # Given a revision of 500 KB of repetitive JSON (a compiled definition of many tasks is)
    big = flow(1).model_copy(update={"source": "- id: t\n  type: Log\n" * 25_000})

    # When it is stored, Then it reads back exactly
    store.put_flow(big)
    assert store.get_flow("team", "etl") == big
    assert [record.source for record in store.list_flows("team")] == [big.source]


def test_a_guarded_revision_is_stored_only_while_its_guard_holds(store: ExecutionStore) -> None:
    # Given the newest upload of a file seen is "v2"
    store.kv_set("_deployer", "upload/f.yaml", {"versionId": "v2"})

    # When a revision guarded by the older upload "v1" is written, it is refused, nothing moves
    with pytest.raises(ConflictError):
        store.put_flow(flow(1), guard=KvGuard("_deployer", "upload/f.yaml", {"versionId": "v1"}))
    assert store.get_flow_head("team", "etl") is None

    # Then the revision guarded by "v2" goes live
    store.put_flow(flow(1), guard=KvGuard("_deployer", "upload/f.yaml", {"versionId": "v2"}))
    live = store.get_flow("team", "etl")
    assert live is not None and live.revision == 1
