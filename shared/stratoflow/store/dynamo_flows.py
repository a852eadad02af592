"""Flow revisions and flow heads on DynamoDB (see `store.base` for the rules of revisions and heads).

A new revision and the move of its head are one transaction, guarded by the head's latest revision
(and, for the deployer, by the KV entry naming the newest upload of the flow's file).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from stratoflow.domain import FlowRecord
from stratoflow.errors import ConflictError, NotFoundError
from stratoflow.store import dynamo_items as items
from stratoflow.store import rules
from stratoflow.store.base import FlowHead, KvGuard
from stratoflow.store.dynamo_kv import DynamoKv
from stratoflow.store.dynamo_table import ITEM_ABSENT, ConditionFailed, Expression, Table
from stratoflow.store.flow_objects import FlowObjects


class DynamoFlows:
    """The flows part of `DynamoExecutionStore`, on the same table."""

    def __init__(
        self, table: Table, clock: Callable[[], datetime], kv: DynamoKv, objects: FlowObjects
    ) -> None:
        self._table = table
        self._clock = clock
        self._kv = kv
        self._objects = objects

    def put(self, record: FlowRecord, guard: KvGuard | None = None) -> None:
        kept = self._objects.keep(record)
        head = {
            "namespace": record.namespace,
            "flowId": record.flow_id,
            "status": record.status,
            "errors": record.errors,
            "latestRevision": record.revision,
            "updated": self._clock().isoformat(),
        }
        if record.status == "DEPLOYED":
            head["deployedRevision"] = record.revision
        ex = Expression()
        update = "SET " + ", ".join(ex.assign(head))
        latest = ex.name("latestRevision")
        condition = f"attribute_not_exists({latest}) OR {latest} < {ex.value(record.revision)}"
        head_update = {
            "Key": items.head_key(record.namespace, record.flow_id),
            "UpdateExpression": update,
            "ConditionExpression": condition,
            **ex.params(),
        }
        revision_put = {"Item": items.flow_item(record, kept), "ConditionExpression": ITEM_ABSENT}
        actions: list[tuple[str, dict[str, Any]]] = [("Put", revision_put), ("Update", head_update)]
        if guard is not None:
            check = Expression()
            holds = self._kv.holds(check, guard.value)
            key = items.kv_key(guard.namespace, guard.key)
            actions.append(("ConditionCheck", {"Key": key, "ConditionExpression": holds, **check.params()}))
        try:
            self._table.transact(actions)
        except ConditionFailed:
            raise ConflictError(
                f"flow {record.namespace}.{record.flow_id}: revision {record.revision} is not above "
                "the latest revision, or a newer upload of its file was seen"
            ) from None

    def get(self, namespace: str, flow_id: str, revision: int | None = None) -> FlowRecord | None:
        if revision is None:
            head = self.head(namespace, flow_id)
            if head is None or head.status == "DELETED" or head.deployed_revision is None:
                return None
            revision = head.deployed_revision
        item = self._table.get(items.revision_key(namespace, flow_id, revision))
        return self._objects.load(items.flow_kept(item)) if item else None

    def list_live(self, namespace: str | None = None) -> list[FlowRecord]:
        live = [
            items.revision_key(h.namespace, h.flow_id, h.deployed_revision)
            for h in self.heads(namespace)
            if h.status != "DELETED" and h.deployed_revision is not None
        ]
        records = [self._objects.load(items.flow_kept(item)) for item in self._table.batch_get(live)]
        return sorted(records, key=lambda r: (r.namespace, r.flow_id))

    def head(self, namespace: str, flow_id: str) -> FlowHead | None:
        item = self._table.get(items.head_key(namespace, flow_id))
        return items.flow_head(item) if item else None

    def heads(self, namespace: str | None = None) -> list[FlowHead]:
        ex = Expression()
        condition = f"{ex.name('pk')} = {ex.value(items.FLOW_HEADS)}"
        if namespace is not None:
            condition += f" AND begins_with({ex.name('sk')}, {ex.value(namespace + '#')})"
        return [items.flow_head(item) for item in self._table.query(condition, ex)]

    def set_status(self, namespace: str, flow_id: str, status: str, errors: Sequence[str] = ()) -> FlowHead:
        rules.check_flow_key(namespace, flow_id)
        rules.check_flow_status(status)
        ex = Expression()
        values = {
            "namespace": namespace,
            "flowId": flow_id,
            "status": status,
            "errors": list(errors),
            "updated": self._clock().isoformat(),
        }
        latest = ex.name("latestRevision")
        update = "SET " + ", ".join(
            [*ex.assign(values), f"{latest} = if_not_exists({latest}, {ex.value(0)})"]
        )
        condition = f"attribute_exists({ex.name('deployedRevision')})" if status == "DEPLOYED" else None
        try:
            item = self._table.update(items.head_key(namespace, flow_id), update, ex, condition)
        except ConditionFailed:
            raise NotFoundError(f"flow {namespace}.{flow_id} has no deployed revision") from None
        return items.flow_head(item)
