"""An attempt of a runnable task (the `run` action): runIf, the run within its timeout, its end
recorded, and what a failure means: a retry (the attempt ends RETRYING and the error goes back to Step
Functions' Retry), the task run's failure, or an allowed failure (`allowFailure`: WARNING).

Written against the call's shape (`call.Call`); the runner (runner.py) dispatches to `run_allowing`,
and a container's `prepare`/`collect` (container.py) share the rest.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from stratoflow.domain import Attempt, TaskRun
from stratoflow.execution.runner import abandon, flowables, kill_flag
from stratoflow.execution.runner.call import Call
from stratoflow.execution.runner.context import TaskRunContext
from stratoflow.execution.runner.workdirs import shared_directory_of
from stratoflow.expressions import ExpressionError
from stratoflow.flow.task import RunnableTask
from stratoflow.runner_call import TaskRunState
from stratoflow.states import DONE_STATES, State
from stratoflow.tasks.errors import ExitExecution, TaskError, TaskFailed, TaskStopped, TaskTimeout
from stratoflow.tasks.scripts.process import installed_check, stopped_when

log = logging.getLogger("stratoflow.execution.runner")


class RetriesExhausted(TaskError):
    """The task's retry `maxDuration` is spent: Step Functions must not retry it again."""


def now() -> datetime:
    return datetime.now(UTC)


def action_run(call: Call) -> TaskRunState:
    task = call.task
    if not isinstance(task, RunnableTask):
        raise TypeError(f"task '{task.id}' ({task.type}) is not runnable")
    existing = call.task_run
    if existing.state in DONE_STATES:
        return TaskRunState(state=str(existing.state))  # already done: a duplicate delivery or a restart
    attempt_number, retry_count = begin_attempt(call, existing)
    ctx = call.run_context(attempt_number)
    try:
        return _end_attempt(call, task, ctx, retry_count)
    except LateEnd as late:
        return discarded_end(call, ctx, late)


def begin_attempt(call: Call, existing: TaskRun) -> tuple[int, int]:
    """Record a new RUNNING attempt after `existing`'s; from now on its end is saved only from the
    states a kill leaves alone. Returns its number and the attempts already made in this run."""
    attempt_number = len(existing.attempts) + 1
    retry_count = retries_so_far(existing)
    call.save(
        state=State.RUNNING,
        attempts=[*existing.attempts, Attempt(state=State.RUNNING)],
        start_date=existing.start_date if existing.attempts else now(),
    )
    call.ending_from = kill_flag.ENDING_FROM
    return attempt_number, retry_count


def discarded_end(call: Call, ctx: TaskRunContext, late: LateEnd) -> TaskRunState:
    """An attempt that ended after its task run was stopped: its logs kept, its end not recorded; the
    state is the one the stop recorded."""
    flush_logs(call, ctx)
    log.info("task run %s ended after it was stopped; its end is discarded: %s", call.id, late)
    current = call.store.get_task_run(call.execution.id, call.id)
    return TaskRunState(state=str(current.state if current else State.KILLED))


def _end_attempt(call: Call, task: RunnableTask, ctx: TaskRunContext, retry_count: int) -> TaskRunState:
    """Run the attempt and record its end (raises LateEnd when the run was killed meanwhile)."""
    stopped = kill_flag.kill_flag(call.store, call.execution.id, call.id)
    try:
        if retry_count == 0 and call.should_skip(ctx):
            return TaskRunState(state="SKIPPED")
        with (
            stopped_when(stopped),
            shared_directory_of(call.flow, call.execution, task, call.scope, call.runner.blobs, ctx),
        ):
            outputs = run_within_timeout(task, ctx, abandon.needs_watching(call.flow, task))
    except TaskStopped as error:
        # Stopped because it no longer matters: KILLED, never retried (the state machine has moved on).
        flush_logs(call, ctx, error)
        call.fail(ctx.mask(str(error)), State.KILLED)
        raise
    except ExitExecution as exit_:
        ctx.log("INFO", f"Exit: the execution ends {exit_.state}")
        call.store.update_execution(call.execution.id, exit_state=State(exit_.state))
        call.finished_ok(State.SUCCESS, {})
        flush_logs(call, ctx)
        raise
    except Exception as error:  # every task failure is recorded before Step Functions sees it
        flush_logs(call, ctx, error)
        raise failed_attempt(call, error, retry_count, ctx.mask) from error
    return succeeded(call, task, ctx, retry_count, outputs)


def succeeded(
    call: Call,
    task: RunnableTask,
    ctx: TaskRunContext,
    retry_count: int,
    outputs: Mapping[str, object] | None,
) -> TaskRunState:
    state = State.SUCCESS
    retry = call.flow.effective_retry(task)
    if retry_count > 0 and retry is not None and retry.warning_on_retry:
        state = State.WARNING
    # Secret values read during the run never reach the stored outputs.
    state = call.finished_ok(state, ctx.mask_value(json.loads(json.dumps(outputs or {}, default=str))))
    flush_logs(call, ctx)
    return TaskRunState(state=str(state))


def run_within_timeout(task: RunnableTask, ctx: TaskRunContext, watched: bool = False) -> dict[str, object]:
    """Run a task, failing it with TaskTimeout when it outlives its `timeout` (per attempt), and with
    TaskStopped when, `watched`, the stop check installed around it fires first (runner.abandon).

    Tasks that own a subprocess (scripts) stop themselves at the same deadline and on the same check;
    the others are abandoned, their cancel hooks called (`ctx.on_stop`) and their writes refused.
    """
    own = None if task.enforces_timeout else task.timeout
    if own is None and not watched:
        return task.run(ctx)
    seconds = None if own is None else own.total_seconds()
    try:
        return abandon.run_abandonable(lambda: task.run(ctx), f"task-{task.id}", seconds, installed_check())
    except abandon.Abandoned as abandoned:
        ctx.stop(abandoned.reason)
        if abandoned.timed_out:
            raise TaskTimeout(
                f"task '{task.id}' timed out after {task.timeout} (timeout {seconds:g}s)"
            ) from None
        raise TaskStopped(f"task '{task.id}' was stopped: {abandoned.reason}") from None


def retries_so_far(task_run: TaskRun) -> int:
    """Attempts already made in this run of the task: the trailing RETRYING ones (and a RUNNING one a
    crashed invocation left behind). Counted from the record, not from `$$.State.RetryCount`, so that
    Lambda service errors retried by Step Functions do not use up the task's attempts, and a restart
    starts a fresh series after the FAILED attempt that ended the previous one."""
    count = 0
    for attempt in reversed(task_run.attempts):
        if attempt.state not in (State.RETRYING, State.RUNNING):
            break
        count += 1
    return count


def flush_logs(call: Call, ctx: TaskRunContext, error: BaseException | None = None) -> None:
    if error is not None:
        ctx.log("ERROR", f"{type(error).__name__}: {error}")
    if ctx.logs:
        call.store.append_logs(ctx.logs)
        ctx.logs.clear()  # written once, even when a late end flushes again


def failed_attempt(
    call: Call, error: Exception, retry_count: int, mask: Callable[[str], str] = str
) -> Exception:
    """Record a failed attempt; decide whether Step Functions retries, the flow fails, or it is a warning."""
    task = call.task
    message = mask(str(error) or type(error).__name__)
    retry = call.flow.effective_retry(task)
    final = True
    if retry is not None:
        final = retry_count + 1 >= retry.attempt_limit
        if not final and retry.max_duration is not None:
            first = call.task_run.start_date
            final = (now() - first) >= retry.max_duration
            if final:
                message = f"{message} (retry maxDuration {retry.max_duration} spent)"
    if not final:
        call.fail(message, State.RETRYING)
        return _typed(error, message)
    if task.allow_failure:
        call.fail(message, State.WARNING)
        flowables.wake_dependents(call)
        return AllowedFailure()
    call.fail(message)
    if retry is not None and retry.max_duration is not None and retry_count + 1 < retry.attempt_limit:
        return RetriesExhausted(message)
    return _typed(error, message)


class LateEnd(Exception):
    """The attempt's end came after its task run was stopped (KILLED): it is not recorded."""


class AllowedFailure(Exception):
    """Marker: the failure is allowed; the action returns normally."""


def _typed(error: Exception, message: str) -> Exception:
    if isinstance(error, TaskError):
        return error
    if isinstance(error, ExpressionError):
        return TaskFailed(message)
    return TaskFailed(f"{type(error).__name__}: {message}")


def run_allowing(call: Call) -> TaskRunState:
    try:
        return action_run(call)
    except AllowedFailure:
        return TaskRunState(state="WARNING")
