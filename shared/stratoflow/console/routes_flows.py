"""Flows: the list by namespace, one flow with its source, inputs, triggers (next fires) and tasks,
its revisions, its topology, and validation of an edited text."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query

from stratoflow.console import models as m
from stratoflow.console import views
from stratoflow.console.deps import Backend, Caller
from stratoflow.console.topology import flow_topology
from stratoflow.domain import FlowRecord
from stratoflow.errors import FlowValidationError, NotFoundError
from stratoflow.execution.flows import flow_of
from stratoflow.flow import Flow, validate_text
from stratoflow.store.base import ExecutionStore, FlowHead

router = APIRouter(tags=["flows"])

Namespace = Annotated[str, Path(min_length=1, max_length=256)]
FlowId = Annotated[str, Path(min_length=1, max_length=256)]


def _head(store: ExecutionStore, namespace: str, flow_id: str) -> FlowHead:
    head = store.get_flow_head(namespace, flow_id)
    if head is None:
        raise NotFoundError(f"flow {namespace}.{flow_id} does not exist")
    return head


def _record(store: ExecutionStore, head: FlowHead, revision: int | None) -> FlowRecord:
    """Revision `revision`, or the live one (a deleted flow: the one that was live)."""
    wanted = revision if revision is not None else head.deployed_revision
    record = store.get_flow(head.namespace, head.flow_id, wanted) if wanted is not None else None
    if record is None:
        what = f"revision {revision}" if revision is not None else "a valid revision"
        raise NotFoundError(f"flow {head.namespace}.{head.flow_id} has no {what}")
    return record


def _parsed(record: FlowRecord | None) -> Flow | None:
    """The flow of a stored revision; None when it does not parse any more (a newer Stratoflow may
    refuse what an older one deployed): the list still shows it, by its head."""
    if record is None:
        return None
    try:
        return flow_of(record)
    except FlowValidationError:
        return None


@router.get("/namespaces", response_model=m.Namespaces)
def list_namespaces(backend: Backend, caller: Caller) -> m.Namespaces:
    """The namespaces of the deployed flows that the caller may read."""
    names = sorted({head.namespace for head in backend.store.list_flow_heads()})
    return m.Namespaces(namespaces=caller.readable(names))


@router.get("/flows", response_model=m.FlowList)
def list_flows(
    backend: Backend,
    caller: Caller,
    namespace: Annotated[
        str | None, Query(max_length=256, description="this namespace and its children")
    ] = None,
) -> m.FlowList:
    """Every flow the caller may read (deleted ones included, with their status), by namespace and id."""
    store = backend.store
    live = {(r.namespace, r.flow_id): r for r in store.list_flows()}
    flows = []
    for head in store.list_flow_heads():
        if namespace and head.namespace != namespace and not head.namespace.startswith(namespace + "."):
            continue
        if not caller.may_read(head.namespace):
            continue
        record = live.get((head.namespace, head.flow_id))
        flows.append(views.flow_summary(head, _parsed(record)))
    return m.FlowList(flows=flows)


@router.post("/flows/validate", response_model=m.ValidateResponse)
def validate_flow(body: m.ValidateRequest, caller: Caller) -> m.ValidateResponse:
    """Every problem of a flow text, located (line, column, path), warnings included; nothing is stored."""

    diagnostics = [views.diagnostic_view(d) for d in validate_text(body.source, body.file)]
    return m.ValidateResponse(
        valid=not any(d.severity == "error" for d in diagnostics), diagnostics=diagnostics
    )


@router.get("/flows/{namespace}/{flow_id}", response_model=m.FlowDetail)
def get_flow(namespace: Namespace, flow_id: FlowId, backend: Backend, caller: Caller) -> m.FlowDetail:
    """One flow: its live source, typed inputs, triggers with their next fire times, and tasks."""
    caller.check_read(namespace)
    head = _head(backend.store, namespace, flow_id)
    record = _record(backend.store, head, None)
    return views.flow_detail(head, record, flow_of(record), datetime.now(UTC))


@router.get("/flows/{namespace}/{flow_id}/revisions", response_model=m.RevisionList)
def list_revisions(namespace: Namespace, flow_id: FlowId, backend: Backend, caller: Caller) -> m.RevisionList:
    """Every stored revision, newest first."""
    caller.check_read(namespace)
    head = _head(backend.store, namespace, flow_id)
    records = (backend.store.get_flow(namespace, flow_id, n) for n in range(head.latest_revision, 0, -1))
    return m.RevisionList(revisions=[views.revision_info(r) for r in records if r is not None])


@router.get("/flows/{namespace}/{flow_id}/revisions/{revision}", response_model=m.RevisionSource)
def get_revision(
    namespace: Namespace,
    flow_id: FlowId,
    revision: Annotated[int, Path(ge=1)],
    backend: Backend,
    caller: Caller,
) -> m.RevisionSource:
    caller.check_read(namespace)
    record = _record(backend.store, _head(backend.store, namespace, flow_id), revision)
    return m.RevisionSource(**views.revision_info(record).model_dump(), source=record.source)


@router.get("/flows/{namespace}/{flow_id}/topology", response_model=m.Topology)
def get_topology(
    namespace: Namespace,
    flow_id: FlowId,
    backend: Backend,
    caller: Caller,
    revision: Annotated[int | None, Query(ge=1, description="default: the live revision")] = None,
) -> m.Topology:
    """The task graph: flowables as groups around their children, error and finally paths."""
    caller.check_read(namespace)
    record = _record(backend.store, _head(backend.store, namespace, flow_id), revision)
    try:
        flow = flow_of(record)
    except FlowValidationError as invalid:  # an INVALID revision has no graph
        raise NotFoundError(f"flow {namespace}.{flow_id} revision {record.revision} is invalid") from invalid
    return flow_topology(flow)
