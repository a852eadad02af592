"""Concurrency slots, the queue of waiting executions and trigger state, on DynamoDB.

The item layout is in `dynamo_items`: the set of a flow's slot holders and its queue entries share one partition,
trigger states share another. Every change that must be atomic is one conditional write or one
transaction.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime

from stratoflow.domain import Execution
from stratoflow.errors import ConflictError
from stratoflow.store import dynamo_items as items
from stratoflow.store import rules
from stratoflow.store.base import SlotOutcome, TriggerState
from stratoflow.store.dynamo_table import (
    CONDITION_CHECK_FAILED,
    ITEM_ABSENT,
    ITEM_EXISTS,
    ConditionFailed,
    Expression,
    Table,
)

_PUT_ATTEMPTS = 5


class DynamoCoordination:
    """The concurrency and trigger-state part of `DynamoExecutionStore`, on the same table."""

    def __init__(self, table: Table, clock: Callable[[], datetime]) -> None:
        self._table = table
        self._clock = clock

    # --- slots ---------------------------------------------------------------------------------

    def take_slot(self, execution: Execution, limit: int, from_queue: bool) -> SlotOutcome:
        rules.check_limit(limit)
        rules.check_flow_key(execution.namespace, execution.flow_id)
        pk = items.concurrency_pk(execution.namespace, execution.flow_id)
        slots = items.key(pk, items.SLOTS)
        entry = items.key(pk, items.QUEUE + rules.queue_key(execution.start_date, execution.id))
        ex = Expression()
        holders, me = ex.name("holders"), ex.value(execution.id)
        add = f"ADD {holders} {ex.value({execution.id})}"
        # One item holds the set of holders: counting and adding are one conditional write.
        condition = (
            f"(attribute_not_exists({holders}) OR size({holders}) < {ex.value(limit)}) "
            f"AND NOT contains({holders}, {me})"
        )
        if not from_queue:
            try:
                self._table.update(slots, add, ex, condition, returns="NONE")
                return SlotOutcome.TAKEN
            except ConditionFailed as failed:
                held = failed.current is not None and execution.id in failed.current.get("holders", {}).get(
                    "SS", []
                )
            return SlotOutcome.TAKEN if held else SlotOutcome.FULL
        update = {"Key": slots, "UpdateExpression": add, "ConditionExpression": condition, **ex.params()}
        dequeue = {"Key": entry, "ConditionExpression": ITEM_EXISTS}
        try:
            self._table.transact([("Update", update), ("Delete", dequeue)])
            return SlotOutcome.TAKEN
        except ConditionFailed as failed:
            reasons = [code == CONDITION_CHECK_FAILED for code in failed.reasons]
        gone = reasons[1] if reasons else self._table.get(entry, projection=["pk"]) is None
        if gone:
            return SlotOutcome.NOT_QUEUED
        if execution.id not in self.slot_holders(execution.namespace, execution.flow_id):
            return SlotOutcome.FULL
        # Held already. Through the queue, only the caller that removes the entry promotes.
        return SlotOutcome.TAKEN if self._dequeue(entry) else SlotOutcome.NOT_QUEUED

    def _dequeue(self, entry: items.Item) -> bool:
        try:
            self._table.delete(entry, ITEM_EXISTS)
        except ConditionFailed:
            return False
        return True

    def release_slot(self, namespace: str, flow_id: str, execution_id: str) -> bool:
        ex = Expression()
        holders = ex.name("holders")
        update = f"DELETE {holders} {ex.value({execution_id})}"
        condition = f"contains({holders}, {ex.value(execution_id)})"
        try:
            self._table.update(
                items.key(items.concurrency_pk(namespace, flow_id), items.SLOTS),
                update,
                ex,
                condition,
                "NONE",
            )
        except ConditionFailed:
            return False
        return True

    def slot_holders(self, namespace: str, flow_id: str) -> list[str]:
        item = self._table.get(items.key(items.concurrency_pk(namespace, flow_id), items.SLOTS), ["holders"])
        return sorted(item["holders"]["SS"]) if item and "holders" in item else []

    def enqueue(self, execution: Execution) -> None:
        rules.check_flow_key(execution.namespace, execution.flow_id)
        pk = items.concurrency_pk(execution.namespace, execution.flow_id)
        sk = items.QUEUE + rules.queue_key(execution.start_date, execution.id)
        self._table.put({**items.key(pk, sk), "executionId": {"S": execution.id}})

    def queued(self, namespace: str, flow_id: str, limit: int) -> list[str]:
        found = self._partition(items.concurrency_pk(namespace, flow_id), items.QUEUE, limit)
        return [item["executionId"]["S"] for item in found]

    def _partition(self, pk: str, prefix: str, limit: int | None = None) -> list[items.Item]:
        ex = Expression()
        condition = f"{ex.name('pk')} = {ex.value(pk)}"
        if prefix:  # DynamoDB refuses an empty string in a key condition
            condition += f" AND begins_with({ex.name('sk')}, {ex.value(prefix)})"
        return list(self._table.query(condition, ex, limit=limit))

    # --- trigger state -------------------------------------------------------------------------

    def get_trigger_state(self, namespace: str, flow_id: str, trigger_id: str) -> TriggerState | None:
        item = self._table.get(items.trigger_state_key(namespace, flow_id, trigger_id))
        return _trigger_state(item) if item else None

    def put_trigger_state(self, state: TriggerState, expected_version: int | None) -> TriggerState:
        rules.check_trigger_key(state.namespace, state.flow_id, state.trigger_id)
        key = items.trigger_state_key(state.namespace, state.flow_id, state.trigger_id)
        ident = f"{state.namespace}/{state.flow_id}/{state.trigger_id}"
        for _ in range(_PUT_ATTEMPTS):
            current = expected_version
            if current is None:
                stored = self._table.get(key, projection=["version"])
                current = int(stored["version"]["N"]) if stored else 0
            new = state.model_copy(update={"version": current + 1, "updated": self._clock()})
            data = new.model_dump_json(by_alias=True)
            rules.check_size("trigger state", ident, data)
            ex = Expression()
            condition = ITEM_ABSENT if current == 0 else f"{ex.name('version')} = {ex.value(current)}"
            item = {**key, "version": {"N": str(new.version)}, "data": {"S": data}}
            try:
                self._table.put(item, condition, ex if current else None)
                return new
            except ConditionFailed as failed:
                if expected_version is not None:
                    found = int(failed.current["version"]["N"]) if failed.current else 0
                    rules.check_version("trigger state", ident, found, expected_version)
                    raise  # the rules found no conflict: the stored version cannot be read back
        raise ConflictError(f"trigger state {ident} kept changing; not written")

    def list_trigger_states(self, namespace: str | None, flow_id: str | None) -> list[TriggerState]:
        if flow_id is not None and namespace is None:
            raise ValueError("list_trigger_states: flow_id needs namespace")
        prefix = (
            "" if namespace is None else f"{namespace}#" if flow_id is None else f"{namespace}#{flow_id}#"
        )
        states = [_trigger_state(item) for item in self._partition(items.TRIGGER_STATES, prefix)]
        return sorted(states, key=lambda s: (s.namespace, s.flow_id, s.trigger_id))

    def delete_trigger_state(self, namespace: str, flow_id: str, trigger_id: str) -> bool:
        return self._table.delete(items.trigger_state_key(namespace, flow_id, trigger_id)) is not None


def _trigger_state(item: items.Item) -> TriggerState:
    return TriggerState.model_validate(json.loads(item["data"]["S"]))
