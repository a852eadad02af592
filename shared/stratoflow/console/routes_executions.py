"""Executions: the filtered, paginated list, one execution, its task runs, its logs (pages and a live
stream of server-sent events), and its stored files."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Annotated

import anyio
from fastapi import APIRouter, Header, Path, Query, Request
from fastapi.responses import Response, StreamingResponse

from stratoflow.console import models as m
from stratoflow.console import views
from stratoflow.console.auth import Principal
from stratoflow.console.deps import Backend, Caller
from stratoflow.domain import Execution
from stratoflow.errors import InputError, NotFoundError
from stratoflow.execution.lineage import subflow_executions
from stratoflow.states import State
from stratoflow.store.base import ExecutionStore

router = APIRouter(tags=["executions"])

ExecutionId = Annotated[str, Path(min_length=1, max_length=128)]
# A page reads at most this many executions from the store while labels or the caller's namespaces
# filter them out: the answer may hold fewer than `limit`, with a cursor to go on from.
SCAN_LIMIT = 5_000
SCAN_BATCH = 500
LOG_PAGE = 1_000
STREAM_POLL_SECONDS = 0.3
STREAM_HEARTBEAT_SECONDS = 15.0


def readable_execution(store: ExecutionStore, caller: Principal, execution_id: str) -> Execution:
    execution = store.get_execution(execution_id)
    if execution is None:
        raise NotFoundError(f"execution {execution_id} does not exist")
    caller.check_read(execution.namespace)
    return execution


def _labels(given: list[str]) -> dict[str, str]:
    labels = {}
    for pair in given:
        key, sep, value = pair.partition(":")
        if not sep or not key:
            raise InputError("label", f"'{pair}' is not KEY:VALUE")
        labels[key] = value
    return labels


@router.get("/executions", response_model=m.ExecutionPage)
def list_executions(
    backend: Backend,
    caller: Caller,
    namespace: Annotated[str | None, Query(max_length=256)] = None,
    flow_id: Annotated[
        str | None, Query(alias="flowId", max_length=256, description="needs namespace")
    ] = None,
    state: State | None = None,
    since: Annotated[datetime | None, Query(description="started at or after (inclusive)")] = None,
    until: Annotated[datetime | None, Query(description="started before (exclusive)")] = None,
    label: Annotated[list[str], Query(description="KEY:VALUE, repeatable: all must match")] = [],  # noqa: B006
    cursor: Annotated[
        str | None, Query(max_length=300, description="`nextCursor` of the previous page")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> m.ExecutionPage:
    """Executions newest first; each page is a range read from the cursor on (fast at any history size)."""
    if flow_id is not None and namespace is None:
        raise InputError("flowId", "needs namespace")
    if namespace is not None:
        caller.check_read(namespace)
    labels = _labels(label)
    before = views.check_execution_cursor(cursor) if cursor else None
    times = [t if t is None or t.tzinfo else t.replace(tzinfo=UTC) for t in (since, until)]  # naive: UTC

    def keep(execution: Execution) -> bool:
        return caller.may_read(execution.namespace) and all(
            execution.labels.get(k) == v for k, v in labels.items()
        )

    filtered = bool(labels) or caller.read is not None or caller.act is not None
    found: list[Execution] = []
    scanned, last, exhausted = 0, None, False
    while len(found) < limit and scanned < SCAN_LIMIT:
        batch = min(SCAN_BATCH, SCAN_LIMIT - scanned) if filtered else limit - len(found)
        page = backend.store.list_executions(
            namespace, flow_id, state, times[0], times[1], limit=batch, before=before
        )
        scanned += len(page)
        read = 0
        for execution in page:
            last, read = execution, read + 1
            if keep(execution):
                found.append(execution)
                if len(found) == limit:
                    break
        if len(page) < batch:  # the store has nothing older
            exhausted = read == len(page)
            break
        if last is not None:
            before = views.execution_cursor(last)
    next_cursor = views.execution_cursor(last) if last is not None and not exhausted else None
    return m.ExecutionPage(executions=[views.execution_summary(e) for e in found], next_cursor=next_cursor)


@router.get("/executions/{execution_id}", response_model=m.ExecutionDetail)
def get_execution(execution_id: ExecutionId, backend: Backend, caller: Caller) -> m.ExecutionDetail:
    """One execution: inputs (SECRET ones masked), outputs, trigger, state history, subflow children."""

    execution = readable_execution(backend.store, caller, execution_id)
    return views.execution_detail(execution, subflow_executions(backend.store, execution_id))


@router.get("/executions/{execution_id}/taskruns", response_model=m.TaskRunList)
def list_task_runs(
    execution_id: ExecutionId,
    backend: Backend,
    caller: Caller,
    task_id: Annotated[str | None, Query(alias="taskId", max_length=256)] = None,
) -> m.TaskRunList:
    """Task runs in creation order, each with its attempts and loop iteration."""
    readable_execution(backend.store, caller, execution_id)
    runs = backend.store.list_task_runs(execution_id, task_id)
    return m.TaskRunList(task_runs=[views.task_run_view(run) for run in runs])


def _log_page(
    store: ExecutionStore,
    execution_id: str,
    task_id: str | None,
    level: str | None,
    after: str | None,
    limit: int,
) -> m.LogPage:
    levels = views.level_at_least(level)
    position = views.parse_log_cursor(after)
    since = position[0] if position else None
    # Lines at the cursor's timestamp that were read already come back again: read that many more.
    extra = position[1] if position else 0
    entries = store.list_logs(execution_id, task_id, since, limit + extra)
    lines = views.log_lines(entries, position)[:limit]
    shown = [views.log_line(c, e) for c, e in lines if levels is None or e.level in levels]
    next_cursor = lines[-1][0] if lines else after
    return m.LogPage(logs=shown, next_cursor=next_cursor)


@router.get("/executions/{execution_id}/logs", response_model=m.LogPage)
def list_logs(
    execution_id: ExecutionId,
    backend: Backend,
    caller: Caller,
    task_id: Annotated[str | None, Query(alias="taskId", max_length=256)] = None,
    level: Annotated[
        str | None, Query(description="this level and above: TRACE, DEBUG, INFO, WARN, ERROR")
    ] = None,
    after: Annotated[
        str | None, Query(max_length=100, description="a line's `cursor`: the lines after it")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=LOG_PAGE)] = LOG_PAGE,
) -> m.LogPage:
    """Log lines in the order they were written (timestamp, then write order)."""
    readable_execution(backend.store, caller, execution_id)
    return _log_page(backend.store, execution_id, task_id, level, after, limit)


def _event(kind: str, data: str, event_id: str | None = None) -> bytes:
    head = f"id: {event_id}\n" if event_id else ""
    return f"{head}event: {kind}\ndata: {data}\n\n".encode()


@router.get(
    "/executions/{execution_id}/logs/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "server-sent events"}},
)
def stream_logs(
    execution_id: ExecutionId,
    backend: Backend,
    caller: Caller,
    request: Request,
    task_id: Annotated[str | None, Query(alias="taskId", max_length=256)] = None,
    level: Annotated[str | None, Query()] = None,
    after: Annotated[str | None, Query(max_length=100)] = None,
    last_event_id: Annotated[str | None, Header(max_length=100)] = None,
) -> StreamingResponse:
    """Server-sent events while the execution runs: `log` (one line, its cursor as the event id),
    `state` (the execution's state when it changes) and `end` once it has ended and every line is sent.
    A reconnecting browser sends `Last-Event-ID` and gets the lines after it."""
    store = backend.store
    readable_execution(store, caller, execution_id)
    views.level_at_least(level)  # a bad level is a 400 now, not an error event later
    cursor = last_event_id or after
    views.parse_log_cursor(cursor)

    async def events() -> AsyncIterator[bytes]:
        nonlocal cursor
        state = None
        quiet = 0.0
        closing = request.app.state.closing
        while not closing.is_set() and not await request.is_disconnected():
            execution = await anyio.to_thread.run_sync(store.get_execution, execution_id)
            page = await anyio.to_thread.run_sync(_read(store, execution_id, task_id, level, cursor))
            for line in page.logs:
                yield _event("log", line.model_dump_json(), line.cursor)
            cursor = page.next_cursor
            if execution is not None and execution.state != state:
                state = execution.state
                yield _event("state", json.dumps({"state": str(state)}))
            if execution is None or (execution.state.is_terminal and len(page.logs) < LOG_PAGE):
                yield _event("end", json.dumps({"state": str(state)}))
                return
            quiet = quiet + STREAM_POLL_SECONDS if not page.logs else 0.0
            if quiet >= STREAM_HEARTBEAT_SECONDS:  # keeps proxies from closing an idle stream
                quiet = 0.0
                yield b": heartbeat\n\n"
            await anyio.sleep(STREAM_POLL_SECONDS)

    headers = {"cache-control": "no-cache", "x-accel-buffering": "no"}
    return StreamingResponse(events(), media_type="text/event-stream", headers=headers)


def _read(
    store: ExecutionStore, execution_id: str, task_id: str | None, level: str | None, cursor: str | None
) -> Callable[[], m.LogPage]:
    return lambda: _log_page(store, execution_id, task_id, level, cursor, LOG_PAGE)


def _files_prefix(execution: Execution) -> str:
    return f"{execution.namespace}/{execution.flow_id}/executions/{execution.id}"


@router.get("/executions/{execution_id}/files", response_model=m.FileList)
def list_files(execution_id: ExecutionId, backend: Backend, caller: Caller) -> m.FileList:
    """The files stored for the execution (task outputs, uploaded FILE inputs)."""
    execution = readable_execution(backend.store, caller, execution_id)
    keys = backend.blobs.list_keys(_files_prefix(execution))
    return m.FileList(files=[m.StoredFile(uri=f"strato:///{k}", name=k.rsplit("/", 1)[-1]) for k in keys])


@router.get(
    "/executions/{execution_id}/file",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}, "description": "the file's bytes"}},
)
def download_file(
    execution_id: ExecutionId,
    backend: Backend,
    caller: Caller,
    uri: Annotated[
        str, Query(max_length=2048, description="a strato:/// URI of one of the execution's files")
    ],
) -> Response:
    execution = readable_execution(backend.store, caller, execution_id)
    prefix = f"strato:///{_files_prefix(execution)}/"
    if not uri.startswith(prefix) or "/../" in uri or uri.endswith("/.."):
        raise InputError("uri", f"is not a file of execution {execution_id}")
    data = backend.blobs.get(uri)
    name = uri.rsplit("/", 1)[-1].replace('"', "")
    return Response(
        data,
        media_type="application/octet-stream",
        headers={"content-disposition": f'attachment; filename="{name}"'},
    )
