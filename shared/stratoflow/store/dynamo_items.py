"""The item layout of the DynamoDB execution store: one table, keys, and record <-> item codecs.

Table (created by the CDK stack, fixed): partition key `pk` (S), sort key `sk` (S); GSI `gsi1`
(`gsi1pk`, `gsi1sk`) and GSI `gsi2` (`gsi2pk`, `gsi2sk`), both projecting the keys and INCLUDE
`INDEX_PROJECTION` (what listings filter on); GSI `gsi3` (`gsi3pk`, `gsi3sk`) projecting the keys and
`namespace` (`INDEX_PROJECTIONS`); TTL attribute `ttl`.

| item             | pk                      | sk                          | index keys                                  |
| ---------------- | ----------------------- | --------------------------- | ------------------------------------------- |
| flow head        | `FLOWS`                 | `<ns>#<flow_id>`            |                                             |
| flow revision    | `FLOW#<ns>#<flow_id>`   | `REV#<revision, 10 digits>` | `data`, `dataZ` or `dataRef` + `dataHash`   |
| execution        | `EXEC#<id>`             | `META`                      | gsi1: `FLOWEXECS#<ns>#<flow_id>` / `<start>#<id>` |
|                  |                         |                             | gsi2: `STATEEXECS#<ns>#<state>` / `<start>#<id>`  |
|                  |                         |                             | gsi3: `ALLEXECS#<yyyy-mm>` / `<start>#<id>`       |
| task run         | `EXEC#<execution_id>`   | `TR#<task_run_id>`          |                                             |
| log line         | `LOGS#<execution_id>`   | `<time>#<writer>#<n>`       |                                             |
| namespace marker | `NAMESPACES`            | `<ns>`                      |                                             |
| month marker     | `EXECMONTHS`            | `<yyyy-mm>`                 |                                             |
| KV entry         | `KV#<ns>`               | `<key>`                     | `ttl` (epoch seconds) when it expires       |
| slots            | `CONC#<ns>#<flow_id>`   | `SLOTS`                     | `holders`: string set of execution ids      |
| queue entry      | `CONC#<ns>#<flow_id>`   | `QUEUE#<start>#<id>`        | `executionId`                               |
| trigger state    | `TRIGGERS`              | `<ns>#<flow_id>#<trigger>`  | `version`, `data` (the record's JSON)       |

* `<start>` and `<time>` are fixed-width UTC text (`rules.sortable_time`), so key order is time order.
* The flow heads of all flows share one partition: they are few, small and rarely written, and
  listing them is one Query. A head carries `latestRevision`, which `put_flow` raises in the same
  transaction as the revision's conditional put.
* An execution's `state` is a plain attribute so updates are guarded by a condition on it (the
  transition table turned into `#state IN (...)`); `gsi2pk` moves with the state. User data (inputs,
  outputs, trigger, variables) is stored as JSON text: no float/Decimal round trip, no nesting limit.
* Executions are listed by flow on gsi1, by namespace and state on gsi2, and all together by month of
  their start on gsi3, newest first (the console's default list: one query per month however many
  namespaces); a listing by state without a namespace walks the namespace markers, and gsi3 the month
  markers (each written once per process). gsi3's keys never change (the start date is fixed) and it
  projects no state, so an execution writes it once, when it is created. The
  indexes hold only keys, `flowId` and `state`, so an update that changes neither (outputs, labels,
  an error) writes the table alone; a listing reads the found executions with BatchGetItem.
* Task runs carry no index keys: a loop's end reads its iterations' task runs by key (their ids derive
  from its iterations), strongly consistent. Items written by stores before this one may still hold
  `gsi4pk`/`gsi4sk` and an execution `runsByParent` (the retired children index): nothing reads them.
* A task run's `seq` is the time of its first save in microseconds (`rules.task_run_seq`), set by
  `if_not_exists` in the one UpdateItem that inserts or replaces it: no counter on the execution.
* A flow's concurrency items share one partition. The holders of its slots are one string set, so a
  slot is taken by one conditional UpdateItem (`ADD holders :id` under `size(holders) < :limit AND
  NOT contains(holders, :id)`) and released by one (`DELETE holders :id`); a promotion adds the
  deletion of the queue entry to that update in one transaction. Reads of the queue and the slots
  are strongly consistent (a query of the partition, a GetItem), never a GSI.
* Log sort keys add a random writer token and a per-writer counter to the timestamp, so concurrent
  writers never collide and one writer's lines keep their order.
"""

from __future__ import annotations

import functools
import json
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from stratoflow.domain import Execution, FlowRecord, LogEntry, TaskRun
from stratoflow.states import State
from stratoflow.store import rules
from stratoflow.store.base import FlowHead
from stratoflow.store.flow_objects import FlowPointer, Kept

Item = dict[str, Any]  # a low-level DynamoDB item: {"name": {"S": "..."}}

# Non-key attributes the GSIs project (INCLUDE): the filters of `dynamo_executions`. The CDK stack and
# the simulated table (stratoflow.cloudsim.stack) declare the same.
INDEX_PROJECTION = ("flowId", "state")
INDEX_PROJECTIONS = {"gsi1": INDEX_PROJECTION, "gsi2": INDEX_PROJECTION, "gsi3": ("namespace",)}

FLOW_HEADS = "FLOWS"
NAMESPACES = "NAMESPACES"
MONTHS = "EXECMONTHS"
META = "META"
# Execution fields holding arbitrary user data, stored as JSON text.
JSON_FIELDS = ("inputs", "outputs", "trigger", "variables")

if TYPE_CHECKING:
    from boto3.dynamodb.types import TypeDeserializer, TypeSerializer


@functools.cache
def _codecs() -> tuple[TypeSerializer, TypeDeserializer]:
    # Imported on first use: `import boto3` costs ~100 ms, which a Lambda's INIT need not pay.
    from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

    return TypeSerializer(), TypeDeserializer()


def dump(values: dict[str, Any]) -> Item:
    serializer = _codecs()[0]
    return {name: serializer.serialize(value) for name, value in values.items()}


def load(item: Item) -> dict[str, Any]:
    deserializer = _codecs()[1]
    return {name: _plain(deserializer.deserialize(value)) for name, value in item.items()}


def _plain(value: Any) -> Any:
    """Decimals from DynamoDB numbers back to int (or float when fractional)."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def key(pk: str, sk: str) -> Item:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


# --- flows -------------------------------------------------------------------------------------


def head_key(namespace: str, flow_id: str) -> Item:
    return key(FLOW_HEADS, f"{namespace}#{flow_id}")


def revision_key(namespace: str, flow_id: str, revision: int) -> Item:
    return key(f"FLOW#{namespace}#{flow_id}", f"REV#{revision:010d}")


def flow_item(record: FlowRecord, kept: Kept) -> Item:
    """The revision item: the record's JSON (`data`), compressed (`dataZ`), or a pointer to the object
    that holds it (`dataRef`, `dataHash`): see `store.flow_objects`."""
    key = revision_key(record.namespace, record.flow_id, record.revision)
    if isinstance(kept, FlowPointer):
        return {**key, "dataRef": {"S": kept.uri}, "dataHash": {"S": kept.sha256}}
    if isinstance(kept, bytes):
        return {**key, "dataZ": {"B": kept}}
    return {**key, "data": {"S": kept}}


def flow_kept(item: Item) -> Kept:
    """What a revision item keeps of its record (items written before pointers existed included)."""
    if "dataRef" in item:
        return FlowPointer(item["dataRef"]["S"], item["dataHash"]["S"])
    if "dataZ" in item:
        return bytes(item["dataZ"]["B"])
    return str(item["data"]["S"])


def flow_head(item: Item) -> FlowHead:
    return FlowHead.model_validate(load(item))


# --- executions --------------------------------------------------------------------------------


def execution_key(execution_id: str) -> Item:
    return key(f"EXEC#{execution_id}", META)


def by_flow_pk(namespace: str, flow_id: str) -> str:
    return f"FLOWEXECS#{namespace}#{flow_id}"


def by_state_pk(namespace: str, state: State) -> str:
    return f"STATEEXECS#{namespace}#{state.value}"


def month_of(start: str) -> str:
    """`yyyy-mm` of a sortable start time (the gsi3 partition an execution is listed in)."""
    return start[:7]


def by_month_pk(month: str) -> str:
    return f"ALLEXECS#{month}"


def execution_item(execution: Execution) -> Item:
    values = execution.to_json_dict()
    if values.get("secretNames"):  # a string set, which `update_execution` adds to
        values["secretNames"] = set(values["secretNames"])
    else:
        values.pop("secretNames", None)
    for name in JSON_FIELDS:
        if name in values:
            values[name] = rules.dump_json(values[name])
    start = rules.execution_sort_key(execution.start_date, execution.id)
    values.update(
        gsi1pk=by_flow_pk(execution.namespace, execution.flow_id),
        gsi1sk=start,
        gsi2pk=by_state_pk(execution.namespace, execution.state),
        gsi2sk=start,
        gsi3pk=by_month_pk(month_of(start)),
        gsi3sk=start,
    )
    return {**execution_key(execution.id), **dump(values)}


def execution(item: Item) -> Execution:
    values = load(item)
    for name in JSON_FIELDS:
        if name in values:
            values[name] = json.loads(values[name])
    if "secretNames" in values:
        values["secretNames"] = sorted(values["secretNames"])
    return Execution.model_validate(values)


# --- task runs and logs ------------------------------------------------------------------------


def task_run_key(execution_id: str, task_run_id: str) -> Item:
    return key(f"EXEC#{execution_id}", f"TR#{task_run_id}")


def task_run_data(task_run: TaskRun) -> str:
    """The record as JSON, without `seq`: the item's own `seq` attribute (set on insert) is the truth."""
    data = task_run.model_dump_json(by_alias=True, exclude={"seq"})
    rules.check_size("task run", task_run.id, data)
    return data


def task_run(item: Item) -> TaskRun:
    return TaskRun.model_validate({**json.loads(item["data"]["S"]), "seq": int(item["seq"]["N"])})


def logs_pk(execution_id: str) -> str:
    return f"LOGS#{execution_id}"


def log_item(entry: LogEntry, writer_key: str) -> Item:
    entry = entry.model_copy(update={"message": rules.truncate_message(entry.message)})
    item = {
        **key(logs_pk(entry.execution_id), f"{rules.sortable_time(entry.timestamp)}#{writer_key}"),
        "data": {"S": entry.model_dump_json(by_alias=True)},
    }
    if entry.task_id is not None:
        item["taskId"] = {"S": entry.task_id}
    return item


def log_entry(item: Item) -> LogEntry:
    return LogEntry.model_validate_json(item["data"]["S"])


# --- KV ----------------------------------------------------------------------------------------


def kv_key(namespace: str, name: str) -> Item:
    return key(f"KV#{namespace}", name)


# --- concurrency and trigger state -------------------------------------------------------------

SLOTS = "SLOTS"
QUEUE = "QUEUE#"
TRIGGER_STATES = "TRIGGERS"


def concurrency_pk(namespace: str, flow_id: str) -> str:
    return f"CONC#{namespace}#{flow_id}"


def trigger_state_key(namespace: str, flow_id: str, trigger_id: str) -> Item:
    return key(TRIGGER_STATES, f"{namespace}#{flow_id}#{trigger_id}")
