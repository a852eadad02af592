"""A flow's `retry`: what happens when an execution of the flow ends FAILED.

- `behavior: CREATE_NEW_EXECUTION`: the execution ends RETRIED and a new execution of the same
  revision, inputs, labels and trigger is recorded (CREATED, linked by `original_execution_id` to the
  first of the chain and by the labels `system.retryOf` and `system.attempt`), to start after the
  policy's interval;
- `behavior: RETRY_FAILED_TASK` (Kestra's default): the same execution stays FAILED until, after the
  interval, it is restarted as `strato restart` does: its failed task runs get a new attempt, the
  successful ones keep their outputs.

`maxAttempts` counts the first execution (a restart by hand counts as an attempt too); `maxDuration`
runs from the first execution's start. Only FAILED is retried: a KILLED or CANCELLED execution never.

`plan_retry` decides (called by `finalize.finish_execution`, so every platform decides alike); the
one running executions carries the plan out: the local platform on a timer of its clock, the cloud's
execution events at once or through a one-time EventBridge Scheduler schedule. `start_retry` is what
either does when the interval has passed.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import random
import string
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from stratoflow.domain import Execution
from stratoflow.errors import ConflictError, StratoflowError
from stratoflow.execution.admission import should_start
from stratoflow.execution.control import prepare_restart
from stratoflow.execution.flows import execution_flow
from stratoflow.execution.slots import admit_recorded
from stratoflow.flow.retry import Retry
from stratoflow.states import State
from stratoflow.store.base import ExecutionStore

logger = logging.getLogger(__name__)

CREATE_NEW_EXECUTION = "CREATE_NEW_EXECUTION"
RETRY_FAILED_TASK = "RETRY_FAILED_TASK"
RETRY_OF = "system.retryOf"
ATTEMPT = "system.attempt"
_ALPHABET = string.ascii_letters + string.digits


@dataclass(frozen=True)
class FlowRetry:
    """A retry to carry out: start `execution` (new, or the failed one to restart) after `delay`."""

    behavior: str
    execution: Execution
    attempt: int  # the attempt the retry makes: 2 for the first retry
    delay: timedelta

    @property
    def restart(self) -> bool:
        return self.behavior == RETRY_FAILED_TASK


def plan_retry(store: ExecutionStore, execution: Execution, now: datetime | None = None) -> FlowRetry | None:
    """The retry of an execution that just ended, or None when its flow's policy allows none.

    For CREATE_NEW_EXECUTION the original is marked RETRIED and the new execution recorded here. A
    second call for the same end (a repeated status event) returns the same plan without a new record.
    """
    now = now or datetime.now(UTC)
    if execution.state not in (State.FAILED, State.RETRIED):
        return None
    policy = _policy(store, execution)
    if policy is None:
        return None
    behavior = policy.behavior or RETRY_FAILED_TASK
    if behavior == CREATE_NEW_EXECUTION:
        return _create_new(store, execution, policy, now)
    if execution.state != State.FAILED:
        return None
    attempt = execution.restarts + 1
    if not _allowed(policy, attempt, execution.start_date, now):
        return None
    return FlowRetry(behavior, execution, attempt + 1, retry_delay(policy, attempt))


def start_retry(store: ExecutionStore, retry: FlowRetry) -> Execution | None:
    """When the interval has passed: the execution to run now, or None when nothing must run.

    A new execution takes a concurrency slot as any admitted one (or queues for it, or is refused); one
    killed meanwhile is not started. A restart happens only if the execution is still FAILED, and takes
    a slot too (`control.prepare_restart`): a queued one is started by the end of another.
    """
    if retry.restart:
        current: Execution | None = store.get_execution(retry.execution.id)
        if current is None or current.restarts != retry.execution.restarts:
            return None  # restarted by hand since the retry was planned
        try:
            restarted = prepare_restart(store, retry.execution.id)
        except StratoflowError as error:  # restarted by hand meanwhile, gone, or refused a slot
            logger.warning("the retry of execution %s does not run: %s", retry.execution.id, error)
            return None
        # QUEUED for a concurrency slot: the end of a running execution of the flow starts it.
        return restarted if restarted.state == State.RUNNING else None
    execution: Execution | None = store.get_execution(retry.execution.id)
    if execution is None or execution.state != State.CREATED:
        return None
    flow = execution_flow(store, execution)
    if flow is not None:
        execution = admit_recorded(store, flow, execution)
    return execution if should_start(execution) else None


def retry_delay(policy: Retry, attempt: int) -> timedelta:
    """How long to wait after failed attempt `attempt` (1 for the first execution)."""
    # The model refuses a random retry without both bounds and another one without `interval`.
    if policy.type == "random":
        assert policy.min_interval is not None and policy.max_interval is not None
        low, high = policy.min_interval.total_seconds(), policy.max_interval.total_seconds()
        return timedelta(seconds=random.uniform(low, high))
    assert policy.interval is not None
    delay: timedelta = policy.interval * (policy.backoff_rate ** (attempt - 1))
    if policy.max_interval is not None:
        delay = min(delay, policy.max_interval)
    return delay


def retry_execution_id(execution_id: str) -> str:
    """The id of the execution that retries `execution_id`: derived from it, so recorded once."""
    number = int.from_bytes(hashlib.sha256(f"{execution_id}/retry".encode()).digest(), "big")
    digits = []
    for _ in range(22):
        number, index = divmod(number, len(_ALPHABET))
        digits.append(_ALPHABET[index])
    return "".join(digits)


def _policy(store: ExecutionStore, execution: Execution) -> Retry | None:
    flow = execution_flow(store, execution)
    return flow.retry if flow is not None else None


def _allowed(policy: Retry, attempt: int, first_start: datetime, now: datetime) -> bool:
    """True when failed attempt `attempt` may be followed by another, by count and by duration."""
    if attempt >= policy.attempt_limit:
        return False
    if policy.max_duration is None:
        return True
    return bool(now + retry_delay(policy, attempt) - first_start <= policy.max_duration)


def _create_new(
    store: ExecutionStore, execution: Execution, policy: Retry, now: datetime
) -> FlowRetry | None:
    attempt = int(execution.labels.get(ATTEMPT, "1"))
    first_id = execution.original_execution_id if ATTEMPT in execution.labels else execution.id
    first = store.get_execution(first_id or execution.id) or execution
    retry_id = retry_execution_id(execution.id)
    existing: Execution | None = store.get_execution(retry_id)
    if existing is None and execution.state == State.RETRIED:
        return None  # retried by another path already (nothing to redo)
    if existing is None:
        if not _allowed(policy, attempt, first.start_date, now):
            return None
        existing = Execution(
            id=retry_id,
            namespace=execution.namespace,
            flow_id=execution.flow_id,
            revision=execution.revision,
            inputs=execution.inputs,
            secret_inputs=execution.secret_inputs,
            secret_names=execution.secret_names,
            labels={**execution.labels, RETRY_OF: execution.id, ATTEMPT: str(attempt + 1)},
            trigger=execution.trigger,
            variables=execution.variables,
            parent_execution_id=execution.parent_execution_id,
            original_execution_id=first.id,
            concurrency_limited=execution.concurrency_limited,
        )
        with contextlib.suppress(ConflictError):  # recorded by a concurrent call for the same end
            store.create_execution(existing)
    with contextlib.suppress(ConflictError):  # RETRIED already
        store.update_execution(
            execution.id, state=State.RETRIED, expected_states={State.FAILED, State.RETRIED}
        )
    if existing.state != State.CREATED:
        return None  # a repeated end of an execution whose retry started (or was killed) already
    return FlowRetry(CREATE_NEW_EXECUTION, existing, attempt + 1, retry_delay(policy, attempt))
