"""Actions: start a flow with typed inputs (JSON, or a multipart form with FILE uploads), kill,
restart, replay from a task, resume a pause. Each checks that the caller may act on the namespace."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from stratoflow.console import models as m
from stratoflow.console import views
from stratoflow.console.backend import StartRequest, UploadedFile
from stratoflow.console.deps import Backend, Caller
from stratoflow.console.routes_executions import ExecutionId, readable_execution
from stratoflow.errors import InputError, NotFoundError

router = APIRouter(tags=["actions"])

LABEL_FIELD = "__label"  # a form field no input id can be (ids start with a letter or digit)
MAX_UPLOAD_BYTES = 64 * 1024 * 1024
START_BODY = {
    "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/StartJson"}},
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "description": "one field per input (files for FILE inputs; a repeated field for "
                f"MULTISELECT/ARRAY), `{LABEL_FIELD}` fields as KEY:VALUE; empty fields are not given",
                "additionalProperties": True,
            }
        },
    },
    "required": False,
}


async def _start_request(request: Request, namespace: str, flow_id: str) -> StartRequest:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "multipart/form-data" or kind == "application/x-www-form-urlencoded":
        inputs: dict[str, Any] = {}
        files: dict[str, UploadedFile] = {}
        labels: dict[str, str] = {}
        async with request.form(max_part_size=MAX_UPLOAD_BYTES) as form:
            for name in form:
                values = form.getlist(name)
                if name == LABEL_FIELD:
                    for pair in values:
                        key, sep, value = str(pair).partition(":")
                        if not sep or not key:
                            raise InputError("labels", f"'{pair}' is not KEY:VALUE")
                        labels[key] = value
                    continue
                uploads = [v for v in values if isinstance(v, UploadFile)]
                if uploads:
                    upload = uploads[0]
                    files[name] = UploadedFile(upload.filename or name, await upload.read())
                    continue
                texts = [str(v) for v in values if str(v) != ""]
                if texts:
                    inputs[name] = texts if len(texts) > 1 else texts[0]
        return StartRequest(namespace, flow_id, inputs, files, labels)
    raw = await request.body()
    try:
        body = m.StartJson.model_validate_json(raw) if raw.strip() else m.StartJson()
    except ValidationError as invalid:
        problem = invalid.errors()[0]
        where = ".".join(str(p) for p in problem.get("loc", ())) or "body"
        raise InputError(where, problem.get("msg", "is invalid")) from None
    return StartRequest(namespace, flow_id, body.inputs, {}, body.labels)


@router.post(
    "/flows/{namespace}/{flow_id}/executions",
    response_model=m.ExecutionSummary,
    status_code=201,
    openapi_extra={"requestBody": START_BODY},
)
async def start_execution(
    namespace: Annotated[str, Path(min_length=1, max_length=256)],
    flow_id: Annotated[str, Path(min_length=1, max_length=256)],
    request: Request,
    backend: Backend,
    caller: Caller,
) -> m.ExecutionSummary:
    """Start the live revision: inputs typed and validated as `strato run --input` does (400 names a
    bad input); QUEUED when the flow's concurrency limit is met."""
    import anyio

    caller.check_act(namespace)
    # Store reads block: on a worker thread, never on the event loop that serves every request.
    if await anyio.to_thread.run_sync(backend.store.get_flow, namespace, flow_id) is None:
        raise NotFoundError(f"flow {namespace}.{flow_id} is not deployed")
    start = await _start_request(request, namespace, flow_id)
    execution = await anyio.to_thread.run_sync(backend.actions.start, start)
    return views.execution_summary(execution)


@router.post("/executions/{execution_id}/kill", response_model=m.KillResponse)
def kill_execution(execution_id: ExecutionId, backend: Backend, caller: Caller) -> m.KillResponse:
    """Kill a created, queued, running or paused execution and its subflows (409 otherwise)."""
    execution = readable_execution(backend.store, caller, execution_id)
    caller.check_act(execution.namespace)
    return m.KillResponse(killed=backend.actions.kill(execution_id))


@router.post("/executions/{execution_id}/restart", response_model=m.ExecutionSummary)
def restart_execution(execution_id: ExecutionId, backend: Backend, caller: Caller) -> m.ExecutionSummary:
    """Continue a FAILED or KILLED execution from its failed task runs (409 otherwise)."""
    execution = readable_execution(backend.store, caller, execution_id)
    caller.check_act(execution.namespace)
    return views.execution_summary(backend.actions.restart(execution_id))


@router.post("/executions/{execution_id}/replay", response_model=m.ExecutionSummary, status_code=201)
def replay_execution(
    execution_id: ExecutionId, body: m.ReplayRequest, backend: Backend, caller: Caller
) -> m.ExecutionSummary:
    """A new execution of the same revision from `fromTask`, reusing the outputs before it."""
    execution = readable_execution(backend.store, caller, execution_id)
    caller.check_act(execution.namespace)
    return views.execution_summary(backend.actions.replay(execution_id, body.from_task))


@router.post("/executions/{execution_id}/resume", response_model=m.ExecutionSummary)
def resume_execution(
    execution_id: ExecutionId, body: m.ResumeRequest, backend: Backend, caller: Caller
) -> m.ExecutionSummary:
    """Resume a paused execution with its Pause's `onResume` inputs (typed; 400 names a bad one)."""
    execution = readable_execution(backend.store, caller, execution_id)
    caller.check_act(execution.namespace)
    return views.execution_summary(backend.actions.resume(execution_id, body.inputs))
