"""The per-namespace KV store on DynamoDB: JSON values with an optional expiry (the table's TTL).

DynamoDB deletes expired items lazily (up to days later), so every read checks `ttl` itself, and a
compare-and-swap is one conditional put.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from pydantic import JsonValue

from stratoflow.store import dynamo_items as items
from stratoflow.store import rules
from stratoflow.store.dynamo_table import ConditionFailed, Expression, Table


class DynamoKv:
    """The KV part of `DynamoExecutionStore`, on the same table."""

    def __init__(self, table: Table, clock: Callable[[], datetime]) -> None:
        self._table = table
        self._clock = clock

    def set(self, namespace: str, key: str, value: JsonValue, ttl_seconds: int | None = None) -> None:
        rules.check_kv_key(namespace, key)
        data = rules.dump_json(value)
        rules.check_size("KV value", f"{namespace}/{key}", data)
        item = {**items.kv_key(namespace, key), "value": {"S": data}}
        expires = rules.kv_expiry(self._clock(), ttl_seconds)
        if expires is not None:
            item["ttl"] = {"N": str(expires)}
        self._table.put(item)

    def swap(
        self,
        namespace: str,
        key: str,
        value: JsonValue,
        expected: JsonValue = None,
        ttl_seconds: int | None = None,
    ) -> bool:
        rules.check_kv_key(namespace, key)
        data = rules.dump_json(value)
        rules.check_size("KV value", f"{namespace}/{key}", data)
        item = {**items.kv_key(namespace, key), "value": {"S": data}}
        expires = rules.kv_expiry(self._clock(), ttl_seconds)
        if expires is not None:
            item["ttl"] = {"N": str(expires)}
        ex = Expression()
        try:
            self._table.put(item, self.holds(ex, expected), ex)
        except ConditionFailed:
            return False
        return True

    def holds(self, ex: Expression, expected: Any) -> str:
        """The condition "the live entry's value is `expected`" (None: there is no live entry)."""
        ttl, now = ex.name("ttl"), ex.value(int(rules.as_utc(self._clock()).timestamp()))
        if expected is None:  # absent, or expired but not purged yet
            return f"attribute_not_exists(pk) OR {ttl} <= {now}"
        live = f"(attribute_not_exists({ttl}) OR {ttl} > {now})"
        return f"{ex.name('value')} = {ex.value(rules.dump_json(expected))} AND {live}"

    def get(self, namespace: str, key: str) -> tuple[bool, JsonValue]:
        item = self._table.get(items.kv_key(namespace, key))
        if item is None or self._expired(item):
            return False, None
        return True, json.loads(item["value"]["S"])

    def delete(self, namespace: str, key: str) -> bool:
        old = self._table.delete(items.kv_key(namespace, key))
        return old is not None and not self._expired(old)

    def keys(self, namespace: str) -> list[str]:
        ex = Expression()
        condition = f"{ex.name('pk')} = {ex.value(f'KV#{namespace}')}"
        found = self._table.query(condition, ex, projection=f"{ex.name('sk')}, {ex.name('ttl')}")
        return [item["sk"]["S"] for item in found if not self._expired(item)]

    def _expired(self, item: items.Item) -> bool:
        """DynamoDB deletes expired items lazily (up to days later): check `ttl` on every read."""
        expires = int(item["ttl"]["N"]) if "ttl" in item else None
        return rules.kv_expired(expires, self._clock())
