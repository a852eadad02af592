"""A container-run script task (`taskRunner: aws.runner.Fargate`): the runner's side of its job.

The container is a sandbox, not a runner: it holds only its flow's sandbox role (its task role,
`Overrides.TaskRoleArn`), and runs the same sandbox code as the flow's sandbox function. So the task
runner does everything that needs the platform in two calls around it (`compiler.containers`):

- `prepare` runs the task as for a sandbox function, with `ContainerHandover` as its sandbox: the
  `ScriptJob` (files over `INLINE_FILE_BYTES` beside it, under `in/`) is written to the attempt's
  sandbox folder (`storage_layout.sandbox_folder`) and the call ends there (`JobHandedOver`), the
  attempt left RUNNING;
- `collect`, once the container stopped, reads its `SandboxReply` from `out/reply.json` (what it names
  must be under `out/`), and the task takes it as it takes a sandbox function's (`ScriptTask.collect`).
  No reply (the container died, was stopped, or timed out) fails the attempt, naming why.

The folder is deleted after `collect`; should an execution be stopped while its container runs, the
bucket's lifecycle expires what is left (the objects are tagged as history).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from stratoflow.errors import NotFoundError
from stratoflow.execution.runner import kill_flag
from stratoflow.execution.runner.attempts import (
    AllowedFailure,
    LateEnd,
    begin_attempt,
    discarded_end,
    failed_attempt,
    flush_logs,
    retries_so_far,
    succeeded,
)
from stratoflow.execution.runner.call import Call
from stratoflow.execution.runner.workdirs import shared_directory_of
from stratoflow.runner_call import CaughtError, CollectCall, ContainerPrepared, ObjectLocation, TaskRunState
from stratoflow.sandbox_call import INLINE_FILE_BYTES, HandedFile, SandboxReply, ScriptAnswer, ScriptJob
from stratoflow.states import DONE_STATES, State
from stratoflow.storage_layout import JOB_FILE, REPLY_FILE
from stratoflow.store.base import BlobStore
from stratoflow.store.rules import URI_SCHEME
from stratoflow.tasks.errors import TaskError, TaskFailed, TaskTimeout
from stratoflow.tasks.scripts.tasks import ScriptTask

STATES_TIMEOUT = "States.Timeout"


class JobHandedOver(Exception):
    """The job is written for the container: the attempt goes on there."""

    def __init__(self, key: str):
        super().__init__(key)
        self.key = key


@dataclass(frozen=True)
class ContainerHandover:
    """The sandbox of a `prepare` call: stores the job in the attempt's folder and stops the run there."""

    blobs: BlobStore
    folder: str

    def run(self, job: ScriptJob) -> ScriptAnswer:
        files = [self._stored(number, handed) for number, handed in enumerate(job.files)]
        key = f"{self.folder}/{JOB_FILE}"
        self.blobs.put(
            key, job.model_copy(update={"files": files}).model_dump_json(exclude_none=True).encode()
        )
        raise JobHandedOver(key)

    def _stored(self, number: int, handed: HandedFile) -> HandedFile:
        if handed.size <= INLINE_FILE_BYTES:
            return handed
        key = f"{self.folder}/in/{number}"
        self.blobs.put(key, handed.content())
        _, object_key = self.blobs.locate(key)
        return HandedFile(path=handed.path, size=handed.size, key=object_key, executable=handed.executable)


def container_answer(
    blobs: BlobStore, folder: str, error: CaughtError | None
) -> tuple[ScriptJob, ScriptAnswer]:
    """The job `prepare` wrote and the container's answer, its files inline; the failure to record
    when it left none."""
    job = ScriptJob.model_validate_json(blobs.get(URI_SCHEME + f"{folder}/{JOB_FILE}"))
    try:
        reply = SandboxReply.model_validate_json(blobs.get(URI_SCHEME + f"{folder}/{REPLY_FILE}"))
    except NotFoundError:
        raise _no_reply(error) from None
    owned = _Owned(blobs, folder)
    answer = (
        reply.answer
        if reply.answer is not None
        else ScriptAnswer.model_validate_json(owned.get(reply.answer_key))
    )
    files = [owned.inline(handed) for handed in answer.files]
    workdir = None if answer.workdir is None else [owned.inline(handed) for handed in answer.workdir]
    return job, answer.model_copy(update={"files": files, "workdir": workdir})


def clean(blobs: BlobStore, folder: str) -> None:
    """Delete the attempt's sandbox folder (its job, the files in and out, the reply)."""
    for key in blobs.list_keys(folder):
        blobs.delete(URI_SCHEME + key)


@dataclass(frozen=True)
class _Owned:
    """Reads what the container names, which must be under the attempt's own `out/` folder."""

    blobs: BlobStore
    folder: str

    def get(self, object_key: str | None) -> bytes:
        job = f"{self.folder}/{JOB_FILE}"
        store_prefix = self.blobs.locate(job)[1][: -len(job)]  # what the store puts before its keys
        key = (object_key or "").removeprefix(store_prefix)
        if not object_key or not key.startswith(f"{self.folder}/out/") or ".." in key.split("/"):
            raise TaskFailed(f"the container named {object_key!r}, outside the task run's own folder")
        return self.blobs.get(URI_SCHEME + key)

    def inline(self, handed: HandedFile) -> HandedFile:
        if handed.data is not None:
            return handed
        return HandedFile.inline(handed.path, self.get(handed.key), handed.executable)


def _no_reply(error: CaughtError | None) -> TaskError:
    if error is not None and error.error == STATES_TIMEOUT:
        return TaskTimeout("the container outlived the task's timeout and was stopped before it answered")
    why = "it left no answer"
    if error is not None:
        why = f"{error.error}: {_cause(error.cause)}"
    return TaskFailed(f"the container stopped without an answer ({why})")


def _cause(cause: str | None) -> str:
    """The stopped ECS task `.sync` gives as Cause, summarized (`ECS task STOPPED (...): ...; container
    sandbox exit code 137 (...)`), else the cause as it is. Not `tasks.aws.job_results`: importing the
    AWS task family here would load it for every run of the runner."""
    try:
        task = json.loads(cause or "")
    except ValueError:
        return cause or "no cause"
    if not isinstance(task, dict) or not isinstance(task.get("Containers"), list):
        return cause or "no cause"
    summary = f"ECS task {task.get('LastStatus') or 'failed'}"
    if task.get("StopCode"):
        summary += f" ({task['StopCode']})"
    if task.get("StoppedReason"):
        summary += f": {task['StoppedReason']}"
    for container in (c for c in task["Containers"] if isinstance(c, dict)):
        code, reason = container.get("ExitCode"), container.get("Reason")
        if code in (None, 0) and not reason:
            continue
        summary += f"; container {container.get('Name', '?')}"
        summary += f" exit code {code}" if code is not None else ""
        summary += f" ({reason})" if reason else ""
    return summary


# --- the runner's two actions around the container ---------------------------------------------


def action_prepare(call: Call) -> ContainerPrepared:
    """runIf and a new attempt, as `run`; the task rendered and its job written for the container."""
    task = call.task
    if not isinstance(task, ScriptTask):
        raise TypeError(f"task '{task.id}' ({task.type}) runs no script in a container")
    existing = call.task_run
    if existing.state in DONE_STATES:
        return ContainerPrepared(skip=True)  # already done: a duplicate delivery or a restart
    attempt_number, retry_count = begin_attempt(call, existing)
    ctx = call.run_context(
        attempt_number, ContainerHandover(call.runner.blobs, call.sandbox_folder(attempt_number))
    )
    try:
        try:
            if retry_count == 0 and call.should_skip(ctx):
                return ContainerPrepared(skip=True)
            with shared_directory_of(call.flow, call.execution, task, call.scope, call.runner.blobs, ctx):
                task.run(ctx)
            raise TaskFailed(f"task '{task.id}' handed no command to its container")
        except JobHandedOver as handed:
            flush_logs(call, ctx)
            bucket, key = call.runner.blobs.locate(handed.key)
            return ContainerPrepared(job=ObjectLocation(bucket=bucket, key=key))
        except Exception as error:
            flush_logs(call, ctx, error)
            failed = failed_attempt(call, error, retry_count, ctx.mask)
            if isinstance(failed, AllowedFailure):
                return ContainerPrepared(skip=True)
            raise failed from error
    except LateEnd:  # killed meanwhile: no container starts
        flush_logs(call, ctx)
        return ContainerPrepared(skip=True)


def action_collect(call: Call, request: CollectCall) -> TaskRunState:
    """The container's answer taken, and the attempt recorded as a Lambda-run script's."""
    task = call.task
    if not isinstance(task, ScriptTask):
        raise TypeError(f"task '{task.id}' ({task.type}) runs no script in a container")
    existing = call.task_run
    if not existing.attempts or existing.attempts[-1].state != State.RUNNING:
        return TaskRunState(state=str(existing.state))  # recorded already (KILLED, or a duplicate)
    attempt_number = len(existing.attempts)
    retry_count = retries_so_far(existing) - 1  # the trailing RUNNING attempt is this one
    call.ending_from = kill_flag.ENDING_FROM
    ctx = call.run_context(attempt_number)
    folder = call.sandbox_folder(attempt_number)
    try:
        try:
            with shared_directory_of(call.flow, call.execution, task, call.scope, call.runner.blobs, ctx):
                job, answer = container_answer(call.runner.blobs, folder, request.error)
                outputs = task.collect(ctx, job, answer)
        except Exception as error:
            flush_logs(call, ctx, error)
            failed = failed_attempt(call, error, retry_count, ctx.mask)
            if isinstance(failed, AllowedFailure):
                return TaskRunState(state="WARNING")
            raise failed from error
        finally:
            clean(call.runner.blobs, folder)
        return succeeded(call, task, ctx, retry_count, outputs)
    except LateEnd as late:
        return discarded_end(call, ctx, late)
