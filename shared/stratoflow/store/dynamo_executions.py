"""Execution listings on DynamoDB: each filter is planned onto gsi1/gsi2 queries (never a Scan).

| filter                       | queries                                                                 |
| ---------------------------- | ----------------------------------------------------------------------- |
| namespace + state (+ flow)   | gsi2 `STATEEXECS#<ns>#<state>` (flow as a filter: active states are few) |
| namespace + flow             | gsi1 `FLOWEXECS#<ns>#<flow>` (a terminal state as a filter)             |
| namespace                    | gsi2, one query per state, merged                                      |
| state (no namespace)         | gsi2 for every namespace marker, merged                                |
| none                         | gsi3 `ALLEXECS#<yyyy-mm>`, one month after the other, newest first     |

Each query reads newest first and stops after `limit` matches; the merge keeps the newest `limit`.
The indexes project only keys, `flowId` and `state` (gsi3: `namespace`; `items.INDEX_PROJECTIONS`): the executions found
are then read from the table with BatchGetItem, and one whose state moved since the (eventually
consistent) index saw it is left out when it no longer matches.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from stratoflow.states import State
from stratoflow.store import dynamo_items as items
from stratoflow.store import rules
from stratoflow.store.dynamo_table import Expression, Table


class _Query(NamedTuple):
    gsi: str
    partition: str
    filter_name: str | None = None
    filter_value: str | None = None


class ExecutionLister:
    """Lists executions of one table; also keeps the namespace markers the global listing walks."""

    def __init__(self, table: Table) -> None:
        self._table = table
        self._marked: set[str] = set()
        self._months: set[str] = set()

    def add_namespace(self, namespace: str) -> None:
        """Write the namespace marker once per process: it makes namespace-less listings possible."""
        if namespace not in self._marked:
            self._table.put(items.key(items.NAMESPACES, namespace))
            self._marked.add(namespace)

    def add_month(self, month: str) -> None:
        """Write the month marker once per process: the months gsi3 has executions in."""
        if month not in self._months:
            self._table.put(items.key(items.MONTHS, month))
            self._months.add(month)

    def months(self) -> list[str]:
        """The months with executions, newest first."""
        ex = Expression()
        found = self._table.query(f"{ex.name('pk')} = {ex.value(items.MONTHS)}", ex, newest_first=True)
        return [item["sk"]["S"] for item in found]

    def namespaces(self) -> list[str]:
        ex = Expression()
        found = self._table.query(f"{ex.name('pk')} = {ex.value(items.NAMESPACES)}", ex)
        return [item["sk"]["S"] for item in found]

    def find(
        self,
        namespace: str | None,
        flow_id: str | None,
        state: State | None,
        since: datetime | None,
        until: datetime | None,
        limit: int,
        before: str | None = None,
    ) -> list[items.Item]:
        if flow_id is not None and namespace is None:
            raise ValueError("list_executions: flow_id needs namespace")
        if limit <= 0:
            return []
        if namespace is None and state is None:
            found = self._every_namespace(since, until, limit, before)
        else:
            found = []
            for name in [namespace] if namespace is not None else self.namespaces():
                for query in _plan(name, flow_id, state):
                    # The indexes' sort keys are all `<start>#<id>`: newest first whichever found it.
                    found.extend(
                        (entry[f"{query.gsi}sk"]["S"], entry)
                        for entry in self._run(query, since, until, limit, before)
                    )
        found.sort(key=lambda pair: pair[0], reverse=True)
        # An execution moving between states can sit in two gsi2 partitions for a moment; BatchGetItem
        # refuses a key twice.
        ids = dict.fromkeys(entry["pk"]["S"] for _, entry in found)
        keys = [{"pk": {"S": pk}, "sk": {"S": items.META}} for pk in list(ids)[:limit]]
        executions = [
            item
            for item in self._table.batch_get(keys)
            if (flow_id is None or item["flowId"]["S"] == flow_id)
            and (state is None or item["state"]["S"] == state.value)
        ]
        return sorted(executions, key=lambda item: item["gsi1sk"]["S"], reverse=True)

    def _every_namespace(
        self, since: datetime | None, until: datetime | None, limit: int, before: str | None
    ) -> list[tuple[str, items.Item]]:
        """Newest first across namespaces, on gsi3: months from the newest in range, until `limit`."""
        high = min(
            (key for key in (before, rules.sortable_time(until) if until else None) if key is not None),
            default=None,
        )
        low = rules.sortable_time(since) if since is not None else None
        found: list[tuple[str, items.Item]] = []
        for month in self.months():
            if high is not None and month > items.month_of(high):
                continue
            if low is not None and month < items.month_of(low):
                break
            query = _Query("gsi3", items.by_month_pk(month))
            found.extend(
                (entry["gsi3sk"]["S"], entry) for entry in self._run(query, since, until, limit, before)
            )
            if len(found) >= limit:
                break
        return found

    def _run(
        self, query: _Query, since: datetime | None, until: datetime | None, limit: int, before: str | None
    ) -> list[items.Item]:
        ex = Expression()
        condition = f"{ex.name(f'{query.gsi}pk')} = {ex.value(query.partition)}"
        sort_key = f"{query.gsi}sk"  # a plain name: expressions refuse unused placeholders
        # Sort keys are `<start>#<id>`: `<until>` sorts before every key starting at `until`, and a
        # page cursor `before` is such a key itself; the lower of the two bounds the range.
        high_key = rules.sortable_time(until) if until is not None else None
        if before is not None and (high_key is None or before < high_key):
            high_key = before
        if since is not None and high_key is not None:
            low, high = ex.value(rules.sortable_time(since)), ex.value(high_key)
            condition += f" AND {sort_key} BETWEEN {low} AND {high}"
        elif since is not None:
            condition += f" AND {sort_key} >= {ex.value(rules.sortable_time(since))}"
        elif high_key is not None:
            condition += f" AND {sort_key} < {ex.value(high_key)}"
        filter_ = None
        if query.filter_name is not None:
            filter_ = f"{ex.name(query.filter_name)} = {ex.value(query.filter_value)}"
        found = self._table.query(
            condition, ex, index=query.gsi, newest_first=True, filter_=filter_, limit=limit + 1
        )
        # BETWEEN includes its upper bound: the cursor's own execution (or one starting at `until`).
        return [item for item in found if high_key is None or item[sort_key]["S"] < high_key][:limit]


def _plan(namespace: str, flow_id: str | None, state: State | None) -> list[_Query]:
    if state is not None and (flow_id is None or not state.is_terminal):
        by_state = items.by_state_pk(namespace, state)
        if flow_id is None:
            return [_Query("gsi2", by_state)]
        return [_Query("gsi2", by_state, "flowId", flow_id)]
    if flow_id is not None:
        by_flow = items.by_flow_pk(namespace, flow_id)
        if state is None:
            return [_Query("gsi1", by_flow)]
        return [_Query("gsi1", by_flow, "state", state.value)]
    return [_Query("gsi2", items.by_state_pk(namespace, each)) for each in State]
