"""The flows the core runs: the model of a stored revision, the live revision, the flow of an execution.

Every part of the lifecycle (admission, control, the end of an execution, a flow's retry, a
Subflow's outputs) reads a flow through here, so each revision is parsed once per process.
"""

from __future__ import annotations

import threading

from stratoflow.domain import Execution, FlowRecord
from stratoflow.flow import Flow, load_flow
from stratoflow.flow.namespace_defaults import recorded_in
from stratoflow.store.base import ExecutionStore

_FLOW_CACHE_SIZE = 256
_flows: dict[tuple[str, str, int, str], Flow] = {}
_flows_lock = threading.Lock()


def flow_of(record: FlowRecord) -> Flow:
    """The flow model of a stored revision (parsed once per process and revision)."""
    key = (record.namespace, record.flow_id, record.revision, record.source_hash)
    with _flows_lock:
        cached = _flows.get(key)
    if cached is not None:
        return cached
    name, inherited = f"{record.namespace}.{record.flow_id}", recorded_in(record.namespace_defaults)
    flow = load_flow(record.source, name, inherited).model_copy(update={"revision": record.revision})
    with _flows_lock:
        if len(_flows) >= _FLOW_CACHE_SIZE:
            _flows.clear()
        _flows[key] = flow
    return flow


def live_flow(store: ExecutionStore, namespace: str, flow_id: str) -> Flow | None:
    """The live revision of a flow as a model; None when it is not deployed (or deleted)."""
    record = store.get_flow(namespace, flow_id)
    return flow_of(record) if record is not None else None


def revision_flow(store: ExecutionStore, namespace: str, flow_id: str, revision: int) -> Flow | None:
    """Revision `revision` of a flow as a model, whatever its status; None when it is not stored."""
    record = store.get_flow(namespace, flow_id, revision)
    return flow_of(record) if record is not None else None


def execution_flow(store: ExecutionStore, execution: Execution) -> Flow | None:
    """The revision an execution runs, as a model; None when that revision is not stored."""
    return revision_flow(store, execution.namespace, execution.flow_id, execution.revision)
