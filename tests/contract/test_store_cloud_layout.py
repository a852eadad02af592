"""Cloud-only: the DynamoDB item layout and the requests each operation makes, and S3 object keys."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from stratoflow.domain import Execution, FlowRecord, LogEntry, TaskRun
from stratoflow.errors import ConflictError, NotFoundError
from stratoflow.states import State
from stratoflow.store import dynamo_items as items
from stratoflow.store.dynamo import DynamoExecutionStore
from stratoflow.store.s3 import S3BlobStore


class Calls:
    """The DynamoDB operations a client made, with their parameters."""

    def __init__(self) -> None:
        self.made: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        self.made.append((model.name, params))

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.made]

    def clear(self) -> None:
        self.made.clear()


@pytest.fixture
def calls(dynamo_client: Any) -> Iterator[Calls]:
    recorder = Calls()
    dynamo_client.meta.events.register("provide-client-params.dynamodb", recorder)
    yield recorder
    dynamo_client.meta.events.unregister("provide-client-params.dynamodb", recorder)


@pytest.fixture
def dynamo(dynamo_client: Any, table: str, clock: Any) -> DynamoExecutionStore:
    return DynamoExecutionStore(table, client=dynamo_client, clock=clock)


def readable_condition(params: dict[str, Any]) -> str:
    """A request's ConditionExpression with its placeholders replaced (string values only)."""
    condition: str = params["ConditionExpression"]
    names = params.get("ExpressionAttributeNames", {})
    values = {k: v["S"] for k, v in params.get("ExpressionAttributeValues", {}).items() if "S" in v}
    for placeholder, text in sorted({**names, **values}.items(), key=lambda kv: -len(kv[0])):
        condition = condition.replace(placeholder, text)
    return condition


def raw(client: Any, table: str, pk: Any, sk: Any) -> dict[str, Any]:
    pk, sk = (part["S"] if isinstance(part, dict) else part for part in (pk, sk))
    item: dict[str, Any] = client.get_item(TableName=table, Key={"pk": {"S": pk}, "sk": {"S": sk}})["Item"]
    return item


def test_item_layout(dynamo: DynamoExecutionStore, dynamo_client: Any, table: str, clock: Any) -> None:
    # Given one record of each kind
    dynamo.put_flow(FlowRecord(namespace="team", flow_id="etl", revision=1, source="s", source_hash="h"))
    dynamo.create_execution(
        Execution(id="e1", namespace="team", flow_id="etl", revision=1, start_date=clock.start)
    )
    dynamo.update_execution("e1", state=State.RUNNING)
    dynamo.save_task_run(TaskRun(id="tr1", execution_id="e1", task_id="extract"))
    dynamo.append_logs([LogEntry(execution_id="e1", message="hi", timestamp=clock.start)])
    dynamo.kv_set("team", "token", "abc", ttl_seconds=60)

    # Then the items sit under the documented keys
    head = raw(dynamo_client, table, "FLOWS", "team#etl")
    assert (head["deployedRevision"], head["latestRevision"]) == ({"N": "1"}, {"N": "1"})
    assert raw(dynamo_client, table, "FLOW#team#etl", "REV#0000000001")
    execution = raw(dynamo_client, table, "EXEC#e1", "META")
    start = "2024-05-01T12:00:00.000000Z#e1"
    assert execution["gsi1pk"] == {"S": "FLOWEXECS#team#etl"} and execution["gsi1sk"] == {"S": start}
    assert execution["gsi2pk"] == {"S": "STATEEXECS#team#RUNNING"} and execution["gsi2sk"] == {"S": start}
    assert execution["state"] == {"S": "RUNNING"} and "taskRunSeq" not in execution
    assert execution["inputs"] == {"S": "{}"}
    assert raw(dynamo_client, table, "EXEC#e1", "TR#tr1")["seq"] == {
        "N": str(int(clock.start.timestamp()) * 10**6)
    }
    assert raw(dynamo_client, table, "NAMESPACES", "team")
    kv = raw(dynamo_client, table, "KV#team", "token")
    assert kv["ttl"] == {"N": str(int((clock.start + timedelta(seconds=60)).timestamp()))}
    logs = dynamo_client.query(
        TableName=table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": "LOGS#e1"}},
    )["Items"]
    assert logs[0]["sk"]["S"].startswith("2024-05-01T12:00:00.000000Z#")


def test_state_change_is_one_conditional_update(
    dynamo: DynamoExecutionStore, dynamo_client: Any, table: str, calls: Calls
) -> None:
    # Given an execution created by this store (its namespace is known)
    dynamo.create_execution(Execution(id="e1", namespace="team", flow_id="etl", revision=1))
    calls.clear()

    # When its state changes
    dynamo.update_execution("e1", state=State.RUNNING)

    # Then that is one UpdateItem guarded by the states the table allows, without reading first
    assert calls.names == ["UpdateItem"]
    assert readable_condition(calls.made[0][1]) == (
        "attribute_exists(pk) AND state IN (CREATED, FAILED, KILLED, PAUSED, QUEUED, RETRYING)"
    )

    # And another store (another Lambda) reads the immutable namespace once, then only updates
    other = DynamoExecutionStore(table, client=dynamo_client)
    calls.clear()
    other.update_execution("e1", state=State.SUCCESS)
    assert calls.names == ["GetItem", "UpdateItem"]
    assert calls.made[0][1]["ProjectionExpression"] == "#n0"  # namespace


def test_a_task_run_is_one_write_per_save(dynamo: DynamoExecutionStore, calls: Calls) -> None:
    dynamo.create_execution(Execution(id="e1", namespace="team", flow_id="etl", revision=1))
    calls.clear()

    # A new task run of an execution this store knows: one UpdateItem, no read, no counter
    saved = dynamo.save_task_run(TaskRun(id="tr1", execution_id="e1", task_id="extract"))
    assert calls.names == ["UpdateItem"]
    assert calls.made[0][1]["Key"]["sk"] == {"S": "TR#tr1"}
    assert "if_not_exists" in calls.made[0][1]["UpdateExpression"]

    # Saving it again, or a fresh object for the same id: one write each, `seq` kept
    calls.clear()
    again = dynamo.save_task_run(saved.model_copy(update={"state": State.RUNNING}))
    fresh = dynamo.save_task_run(TaskRun(id="tr1", execution_id="e1", task_id="extract"))
    assert calls.names == ["UpdateItem", "UpdateItem"]
    assert again.seq == fresh.seq == saved.seq


def test_another_process_reads_the_execution_once_before_its_first_task_run(
    dynamo: DynamoExecutionStore, table: str, dynamo_client: Any, calls: Calls
) -> None:
    # Given an execution created elsewhere
    dynamo.create_execution(Execution(id="e1", namespace="team", flow_id="etl", revision=1))
    other = DynamoExecutionStore(table, client=dynamo_client)
    calls.clear()

    # When a new store saves two task runs of it
    other.save_task_run(TaskRun(id="tr1", execution_id="e1", task_id="a"))
    other.save_task_run(TaskRun(id="tr2", execution_id="e1", task_id="b"))

    # Then it proved the execution exists once (a projection of its namespace), then only wrote
    assert calls.names == ["GetItem", "UpdateItem", "UpdateItem"]
    assert calls.made[0][1]["ProjectionExpression"] == "#n0"  # namespace

    # And a store that has read the execution already does not read it again
    third = DynamoExecutionStore(table, client=dynamo_client)
    third.get_execution("e1")
    calls.clear()
    third.save_task_run(TaskRun(id="tr3", execution_id="e1", task_id="c"))
    assert calls.names == ["UpdateItem"]


def test_an_update_that_moves_no_listed_attribute_leaves_the_indexes_alone(
    dynamo: DynamoExecutionStore, dynamo_client: Any, table: str
) -> None:
    # Given the table's indexes as created (exactly as the stack declares them)
    indexes = dynamo_client.describe_table(TableName=table)["Table"]["GlobalSecondaryIndexes"]

    # Then each projects only the keys and the attributes listings filter on
    assert {index["IndexName"]: index["Projection"] for index in indexes} == {
        **{
            name: {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["flowId", "state"]}
            for name in ("gsi1", "gsi2")
        },
        "gsi3": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["namespace"]},
    }

    # And an index entry holds no execution data (outputs, inputs): listings read the table for those
    dynamo.create_execution(Execution(id="e1", namespace="team", flow_id="etl", revision=1, inputs={"a": 1}))
    dynamo.update_execution("e1", outputs={"rows": 3})
    entries = dynamo_client.query(
        TableName=table,
        IndexName="gsi1",
        KeyConditionExpression="gsi1pk = :pk",
        ExpressionAttributeValues={":pk": {"S": "FLOWEXECS#team#etl"}},
    )["Items"]
    assert [sorted(entry) for entry in entries] == [["flowId", "gsi1pk", "gsi1sk", "pk", "sk", "state"]]
    listed = dynamo.list_executions(namespace="team", flow_id="etl")
    assert [(e.id, e.inputs, e.outputs) for e in listed] == [("e1", {"a": 1}, {"rows": 3})]


def test_listings_query_and_never_scan(dynamo: DynamoExecutionStore, calls: Calls) -> None:
    dynamo.create_execution(Execution(id="e1", namespace="team", flow_id="etl", revision=1))
    calls.clear()

    filters: dict[str, Any]
    for filters in (
        {},
        {"namespace": "team"},
        {"namespace": "team", "flow_id": "etl"},
        {"namespace": "team", "flow_id": "etl", "state": State.SUCCESS},
        {"namespace": "team", "flow_id": "etl", "state": State.RUNNING},
        {"state": State.CREATED},
    ):
        assert [e.id for e in dynamo.list_executions(**filters)] in (["e1"], [])
    dynamo.list_flows()
    dynamo.list_flow_heads()
    dynamo.list_task_runs("e1")
    dynamo.list_logs("e1")
    dynamo.kv_list("team")

    assert "Scan" not in calls.names
    assert set(calls.names) <= {"Query", "BatchGetItem"}
    by_flow = [p for n, p in calls.made if p.get("IndexName") == "gsi1"]
    assert len(by_flow) == 2  # the flow listing and the flow + terminal state one


def test_first_task_run_of_a_missing_execution_creates_no_item(
    dynamo: DynamoExecutionStore, dynamo_client: Any, table: str
) -> None:
    with pytest.raises(NotFoundError):
        dynamo.save_task_run(TaskRun(id="tr1", execution_id="ghost", task_id="t"))

    assert "Item" not in dynamo_client.get_item(
        TableName=table, Key={"pk": {"S": "EXEC#ghost"}, "sk": {"S": "META"}}
    )


def test_clients_are_created_when_not_given(table: str, s3_client: Any) -> None:
    s3_client.create_bucket(Bucket="own-client")
    store, blobs = DynamoExecutionStore(table), S3BlobStore("own-client")

    store.kv_set("team", "k", 1)
    uri = blobs.put("a/b", b"x")

    assert store.kv_get("team", "k") == (True, 1)
    assert blobs.get(uri) == b"x"


@pytest.mark.parametrize(
    ("prefix", "object_key"), [("", "a/b.json"), ("/stratoflow/data/", "stratoflow/data/a/b.json")]
)
def test_s3_objects_sit_under_the_prefix(s3_client: Any, prefix: str, object_key: str) -> None:
    s3_client.create_bucket(Bucket="prefixed")
    S3BlobStore("prefixed", prefix=prefix, client=s3_client).put("a/b.json", b"{}")

    listed = s3_client.list_objects_v2(Bucket="prefixed")["Contents"]
    assert [o["Key"] for o in listed] == [object_key]
    s3_client.delete_object(Bucket="prefixed", Key=object_key)


def test_a_store_on_a_lazy_client_creates_it_with_its_first_request(table: str) -> None:
    from stratoflow.cloud.config.lazy import LazyAwsClients

    # Given a store built on a client not created yet (as a handler builds it at import time)
    clients = LazyAwsClients()
    store = DynamoExecutionStore(table, client=clients.dynamodb)
    assert not clients.dynamodb.created

    # When it makes requests, one of them a conditional write that fails
    store.create_execution(Execution(id="e1", namespace="team", flow_id="etl", revision=1))
    with pytest.raises(ConflictError):
        store.create_execution(Execution(id="e1", namespace="team", flow_id="etl", revision=1))

    # Then the client exists now and the failed condition was mapped at the store's edge
    assert clients.dynamodb.created
    assert store.get_execution("e1") is not None


def test_history_records_expire_after_the_retention_counted_from_their_first_write(
    dynamo_client: Any, table: str, clock: Any
) -> None:
    # Given a store that keeps history 30 days
    store = DynamoExecutionStore(table, client=dynamo_client, clock=clock, history_days=30)
    expires = int(clock.start.timestamp()) + 30 * 86_400

    # When an execution, a task run (saved twice, a day apart) and a log line are written
    store.create_execution(Execution(id="h1", namespace="team", flow_id="etl", revision=1))
    store.save_task_run(TaskRun(id="tr1", execution_id="h1", task_id="extract"))
    clock.advance(86_400)
    store.save_task_run(TaskRun(id="tr1", execution_id="h1", task_id="extract", state=State.SUCCESS))
    store.append_logs([LogEntry(execution_id="h1", message="hi", timestamp=clock.start)])

    # Then the execution and its task run expire 30 days after their first write (never later than
    # the objects they point at, written after it), the log line 30 days after its own
    execution = raw(dynamo_client, table, *items.execution_key("h1").values())
    task_run = raw(dynamo_client, table, *items.task_run_key("h1", "tr1").values())
    assert int(execution["ttl"]["N"]) == int(task_run["ttl"]["N"]) == expires
    [line] = dynamo_client.query(
        TableName=table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": items.logs_pk("h1")}},
    )["Items"]
    assert int(line["ttl"]["N"]) == expires + 86_400


def test_execution_objects_are_tagged_to_expire_and_namespace_files_are_not(s3_client: Any) -> None:
    # Given a blob store on a bucket
    s3_client.create_bucket(Bucket="tagged")
    blobs = S3BlobStore("tagged", client=s3_client)

    # When an execution's output and a namespace file are stored
    blobs.put("team/etl/executions/e1/tr1/outputs.json", b"{}")
    blobs.put("namespaces/team/files/query.sql", b"select 1")

    # Then only the output carries the tag the bucket's lifecycle rule expires
    def tags(key: str) -> list[dict[str, str]]:
        found: list[dict[str, str]] = s3_client.get_object_tagging(Bucket="tagged", Key=key)["TagSet"]
        return found

    assert tags("team/etl/executions/e1/tr1/outputs.json") == [{"Key": "stratoflow", "Value": "history"}]
    assert tags("namespaces/team/files/query.sql") == []


def test_the_list_of_every_namespace_reads_months_not_namespaces(
    dynamo: DynamoExecutionStore, calls: Calls
) -> None:
    # Given 40 namespaces with executions in November and December
    november, december = datetime(2026, 11, 20, tzinfo=UTC), datetime(2026, 12, 3, tzinfo=UTC)
    for n in range(40):
        for month, start in (("nov", november), ("dec", december)):
            dynamo.create_execution(
                Execution(
                    id=f"{month}-{n:02d}",
                    namespace=f"team{n}",
                    flow_id="etl",
                    revision=1,
                    start_date=start + timedelta(minutes=n),
                )
            )
    calls.clear()

    # When the newest page of every namespace is listed, then the page after it
    first = dynamo.list_executions(limit=10)
    first_calls = list(calls.names)
    cursor = f"{items.rules.sortable_time(first[-1].start_date)}#{first[-1].id}"
    rest = dynamo.list_executions(limit=50, before=cursor)

    # Then the first page is December's newest, read with the months' markers and one gsi3 query
    assert [e.id for e in first] == [f"dec-{n:02d}" for n in range(39, 29, -1)]
    assert first_calls == ["Query", "Query", "BatchGetItem"]
    # And the next page goes on into November, newest first, without overlap
    assert [e.id for e in rest] == [f"dec-{n:02d}" for n in range(29, -1, -1)] + [
        f"nov-{n:02d}" for n in range(39, 19, -1)
    ]
    # And a time range keeps to its months
    since = dynamo.list_executions(since=december, limit=100)
    assert len(since) == 40 and all(e.id.startswith("dec-") for e in since)
    assert not dynamo.list_executions(until=november, limit=100)


def _loop_with_children(store: DynamoExecutionStore, execution_id: str, loops: int, each: int) -> None:
    store.save_task_run(TaskRun(id=f"{execution_id}-top", execution_id=execution_id, task_id="top"))
    for loop in range(loops):
        parent = f"{execution_id}-loop{loop}"
        store.save_task_run(
            TaskRun(
                id=parent, execution_id=execution_id, task_id="each", parent_task_run_id=f"{execution_id}-top"
            )
        )
        for index in range(each):
            store.save_task_run(
                TaskRun(
                    id=f"{parent}-{index}",
                    execution_id=execution_id,
                    task_id="work",
                    parent_task_run_id=parent,
                )
            )


def test_a_task_run_inside_another_is_one_write_that_keys_no_index(
    dynamo: DynamoExecutionStore, dynamo_client: Any, table: str, calls: Calls
) -> None:
    # Given an execution of a loop (its iterations' runs are read by key at its end, never listed by parent)
    dynamo.create_execution(Execution(id="e1", namespace="team", flow_id="etl", revision=1))
    calls.clear()

    # When an iteration's task run is saved
    _loop_with_children(dynamo, "e1", loops=1, each=1)

    # Then each save is one UpdateItem, and neither the run nor its execution carries index keys or
    # markers of the retired children index (gsi4): only the record
    assert calls.names == ["UpdateItem"] * 3
    child = raw(dynamo_client, table, "EXEC#e1", "TR#e1-loop0-0")
    assert not {"gsi4pk", "gsi4sk"} & set(child)
    assert "runsByParent" not in raw(dynamo_client, table, "EXEC#e1", "META")


def test_task_runs_read_by_key_are_strongly_consistent_batches(
    dynamo: DynamoExecutionStore, calls: Calls
) -> None:
    # Given an execution of a loop of 150 iterations (what a loop's end reads, by its children's ids)
    dynamo.create_execution(Execution(id="e1", namespace="team", flow_id="etl", revision=1))
    _loop_with_children(dynamo, "e1", loops=1, each=150)
    ids = [f"e1-loop0-{n}" for n in range(150)] + ["e1-loop0-never-ran"]

    # When they are read by id, with one key that has no record (a task after a failed one)
    calls.clear()
    runs = dynamo.get_task_runs("e1", ids)

    # Then two strongly consistent BatchGetItem requests (100 keys at most each) read them: no Query of
    # an index (eventually consistent), and the missing key is simply not among the runs
    assert len(runs) == 150
    assert calls.names == ["BatchGetItem", "BatchGetItem"]
    assert all(
        params["RequestItems"][dynamo._table.name]["ConsistentRead"] is True for _, params in calls.made
    )


def test_records_written_while_the_children_index_existed_read_as_before(
    dynamo: DynamoExecutionStore, dynamo_client: Any, table: str
) -> None:
    # Given an execution and a loop's iterations written by an older store: gsi4 keys on the task runs,
    # the `runsByParent` marker on the execution (the table kept them when the index was deleted)
    dynamo.create_execution(Execution(id="old", namespace="team", flow_id="etl", revision=1))
    _loop_with_children(dynamo, "old", loops=1, each=2)
    for sk, update in [
        ("META", "SET runsByParent = :yes"),
        *((f"TR#old-loop0-{i}", "SET gsi4pk = :kids, gsi4sk = :id") for i in range(2)),
    ]:
        values = (
            {":yes": {"BOOL": True}}
            if sk == "META"
            else {":kids": {"S": "KIDS#old#old-loop0"}, ":id": {"S": sk[3:]}}
        )
        dynamo_client.update_item(
            TableName=table,
            Key={"pk": {"S": "EXEC#old"}, "sk": {"S": sk}},
            UpdateExpression=update,
            ExpressionAttributeValues=values,
        )

    # When the current store, in a new process, reads and writes them
    current = DynamoExecutionStore(table, client=dynamo_client)
    execution = current.get_execution("old")
    current.update_execution("old", state=State.RUNNING)
    current.save_task_run(
        TaskRun(id="old-loop0-2", execution_id="old", task_id="work", parent_task_run_id="old-loop0")
    )
    runs = current.get_task_runs("old", [f"old-loop0-{i}" for i in range(3)])

    # Then the leftovers change nothing: the records read and update as any others
    assert execution is not None and execution.namespace == "team"
    assert [(run.id, run.parent_task_run_id) for run in runs] == [
        (f"old-loop0-{i}", "old-loop0") for i in range(3)
    ]
