"""The local platform: deploy flows into the SQLite store, admit executions, run them on the local engine.

The engine runs the same compiled definition the cloud runs; its Lambda Task states call the task
runner in-process, and `states:startExecution` (subflows) runs the child flow on a nested engine.

Each execution a platform admits or runs is recorded with the platform's process lease
(`stratoflow.local.leases`) until it ends. `recover_orphans` fails the executions whose process ended
first (kill -9, a crash, a reboot), so that they give back their concurrency slots and their history
says what happened; `strato run`, `strato server` and `strato restart` call it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stratoflow.domain import Execution, FlowRecord, TaskRun
from stratoflow.engine import (
    Clock,
    ExecutionResult,
    LambdaIntegration,
    LocalEngine,
    LocalExecution,
    RealClock,
    Resources,
    TaskCall,
    TaskError,
)
from stratoflow.errors import NotFoundError, StorageError
from stratoflow.execution.admission import STARTABLE, admit, execution_input
from stratoflow.execution.finalize import Finished, finish_execution
from stratoflow.execution.flow_retry import FlowRetry, start_retry
from stratoflow.execution.lineage import subflow_executions
from stratoflow.execution.runner import TaskRunner
from stratoflow.execution.secrets import SecretSource, environment_secrets
from stratoflow.flow import Flow, load_flow, read_flow_source
from stratoflow.flow.namespace_defaults import inherited_from
from stratoflow.local.children import end_child_process_groups
from stratoflow.local.containers import RUN_CONTAINER, LocalContainers
from stratoflow.local.deploy import deploy_flow
from stratoflow.local.ends import ExecutionEnds
from stratoflow.local.leases import ProcessLease, end_groups, gone_owners, host_name, owner_gone, owner_pid
from stratoflow.local.objects import LocalObjects
from stratoflow.local.parts import FlowParts
from stratoflow.local.watcher import ControlWatcher
from stratoflow.placeholders import part_number
from stratoflow.states import State
from stratoflow.store import open_local_store
from stratoflow.tasks.scripts.process import stopped_when

TASK_RUNNER = "${TaskRunnerFunctionArn}"
STATE_MACHINE_PREFIX = "${StateMachine."
STOPPED_BY_ENGINE = (
    "the execution stopped waiting for it (a timeout around it, a failed branch beside it, or a kill)"
)

logger = logging.getLogger(__name__)


@dataclass
class RunOutcome:
    """A finished local execution: its record, its task runs and what the engine counted."""

    execution: Execution
    task_runs: list[TaskRun]
    result: ExecutionResult
    flow_revision: int
    warnings: list[str] = field(default_factory=list)
    # A big flow's parts, each a child execution with its own counts (`stratoflow.compiler.parts`).
    parts: list[ExecutionResult] = field(default_factory=list)


class LocalCallbacks:
    """SendTaskSuccess for local executions: finds the running execution that issued the token."""

    def __init__(self) -> None:
        self._executions: dict[str, LocalExecution] = {}
        self._lock = threading.Lock()

    def track(self, name: str, execution: LocalExecution) -> None:
        with self._lock:
            self._executions[name] = execution

    def forget(self, name: str) -> None:
        with self._lock:
            self._executions.pop(name, None)

    def running(self) -> dict[str, LocalExecution]:
        """The executions running now, by id."""
        with self._lock:
            return dict(self._executions)

    def send_success(self, token: str, output: Any) -> None:
        with self._lock:
            executions = list(self._executions.values())
        for execution in executions:
            if execution.owns_token(token):
                execution.send_task_success(token, output)
                return
        raise NotFoundError("no running execution is waiting on this task token")


class LocalPlatform:
    def __init__(
        self,
        root: Path | str = ".stratoflow",
        clock: Clock | None = None,
        *,
        owns_process: bool = False,
        secrets: SecretSource | None = None,
    ):
        """`owns_process`: this platform is all its process runs (a CLI command), so stopping every
        execution may also kill every process group a child of this process leads (their scripts).
        `secrets`: where `secret()` reads; by default `SECRET_<NAME>` variables and the dotenv file."""
        self.home = Path(root)
        self.owns_process = owns_process
        self.store, self.blobs = open_local_store(self.home)
        self.lease = ProcessLease(self.home)
        self._owned: set[str] = set()  # executions recorded with this process's lease, not ended yet
        self._owned_lock = threading.Lock()
        self.clock = clock or RealClock()
        self.callbacks = LocalCallbacks()
        self.secrets = secrets or environment_secrets()
        self.runner = TaskRunner(self.store, self.blobs, callbacks=self.callbacks, secrets=self.secrets)
        self.watcher = ControlWatcher(self.store, self.callbacks)
        self._definitions: dict[tuple[str, str, int], dict[str, Any]] = {}
        # Called with every execution that ended (the server runs Flow triggers from here).
        self.finished_hooks: list[Callable[[Execution], None]] = []
        # Called with the execution each time a Pause records it PAUSED (Flow triggers on PAUSED).
        self.paused_hooks = self.runner.pause_hooks
        # Executions launched in the background and not ended yet (counted before their thread starts).
        self._launched = 0
        self._launched_changed = threading.Condition()
        self._stopping: str | None = None  # stop_all's cause: what starts from now on is stopped at once
        self._holding_queue = False  # set by stop_all: queued executions stay queued for the next start
        self._left_paused: set[str] = set()  # stopped by stop_all while PAUSED: recorded as they are
        self.ends = ExecutionEnds()  # wakes `?wait=true` requests and stop_all's grace as executions end
        self._retries_cancelled = threading.Event()  # set by stop_all: pending flow retries are dropped
        # Why the history or storage could not be written during a task (a full disk...): the failure
        # it causes may not be recordable itself, so the CLI reads the cause from here.
        self.storage_faults: list[str] = []
        self.parts = FlowParts(self.store, lambda: self.resources, self.clock, self._track_part)
        self.resources = Resources(
            {
                "arn:aws:states:::lambda:invoke": LambdaIntegration({TASK_RUNNER: self._invoke_runner}),
                "arn:aws:states:::states:startExecution": _SubflowIntegration(self),
                "arn:aws:states:::s3:": LocalObjects(self.blobs),  # a distributed Map's items and results
                RUN_CONTAINER: LocalContainers(self.blobs.root),  # `taskRunner` containers: local processes
            }
        )

    def _track_part(self, name: str, running: LocalExecution | None) -> None:
        """A running part of a big flow answers `strato resume` (its Pause tasks) and stops with the rest."""
        if running is None:
            self.callbacks.forget(name)
        else:
            self.callbacks.track(name, running)

    def close(self) -> None:
        """Wait for the executions launched in the background (promoted ones), then release the store."""
        self.join()
        self.watcher.close()
        with self._owned_lock:
            if not self._owned:  # else the lease ends with the process, and a later sweep fails them
                self.lease.release()
        self.store.close()

    def join(self) -> None:
        """Wait until every execution launched in the background (and each one they launch) has ended."""
        with self._launched_changed:
            self._launched_changed.wait_for(lambda: self._launched == 0)

    # --- deploy ---------------------------------------------------------------------------------

    def deploy_source(self, source: str, file: str) -> tuple[Flow, FlowRecord]:
        """Validate (raises FlowValidationError), compile and record a flow; same source = same revision."""
        flow = load_flow(source, file, inherited_from(self.store))
        record = deploy_flow(self.store, flow, source)
        flow = flow.model_copy(update={"revision": record.revision})
        self.runner.remember_flow(flow, record.revision)
        return flow, record

    def deploy_file(self, path: Path | str) -> tuple[Flow, FlowRecord]:
        return self.deploy_source(read_flow_source(path), str(path))

    def deploy_dir(self, folder: Path | str) -> list[str]:
        """Deploy every valid flow under a folder (for subflows); returns the problems of the others."""
        problems: list[str] = []
        for path in sorted(Path(folder).rglob("*.y*ml")):
            try:
                self.deploy_file(path)
            except Exception as error:  # one bad flow in the folder must not stop the others
                problems.append(f"{path}: {error}")
        return problems

    def definition(self, namespace: str, flow_id: str, revision: int) -> dict[str, Any]:
        key = (namespace, flow_id, revision)
        if key not in self._definitions:
            record = self.store.get_flow(namespace, flow_id, revision)
            if record is None or record.definition is None:
                raise NotFoundError(f"flow {namespace}.{flow_id} revision {revision} is not deployed")
            self._definitions[key] = record.definition
        return self._definitions[key]

    # --- run ------------------------------------------------------------------------------------

    def admit(self, flow: Flow, record: FlowRecord, inputs: dict[str, Any], **kwargs: Any) -> Execution:
        execution, _ = admit(self.store, flow, record.revision, inputs, **kwargs)
        if execution.state in STARTABLE:  # else QUEUED for its slot, or refused
            self.own(execution)
        return execution

    def own(self, execution: Execution) -> None:
        """Record that this process runs `execution` (until `finish`): if the process dies first,
        `recover_orphans` in another one fails it."""
        with self._owned_lock:
            if execution.id in self._owned:
                return
            self._owned.add(execution.id)
        self.store.own_execution(execution.id, self.lease.take())

    def _disown(self, execution_id: str) -> None:
        with self._owned_lock:
            self._owned.discard(execution_id)
        self.store.disown_execution(execution_id)

    def start(self, execution: Execution) -> LocalExecution:
        definition = self.definition(execution.namespace, execution.flow_id, execution.revision)
        self.own(execution)
        self.store.update_execution(execution.id, state=State.RUNNING, expected_states=STARTABLE)
        engine = LocalEngine(definition, self.resources, self.clock)

        def register(running: LocalExecution) -> None:
            self.callbacks.track(execution.id, running)
            self.watcher.watch(execution.id, running)

        running = engine.start(execution_input(execution), name=execution.id, before_start=register)
        if self._stopping is not None:  # launched as stop_all ran: it found nothing to stop yet
            running.stop(error="Killed", cause=self._stopping)
        return running

    def finish(self, execution: Execution, running: LocalExecution, *, task_runs: bool = True) -> RunOutcome:
        """Wait for the execution's end and record it; `task_runs=False` leaves them out of the outcome
        (a report that streams them from the store: 100,000 of them are hundreds of MB as records)."""
        result = running.wait()
        self.callbacks.forget(execution.id)
        self.watcher.forget(execution.id)
        if execution.id in self._left_paused:  # it waits for `strato resume`, in whichever process
            self._disown(execution.id)
            paused = self.store.get_execution(execution.id) or execution
            runs = self.store.list_task_runs(execution.id) if task_runs else []
            return RunOutcome(paused, runs, result, execution.revision)
        finished = finish_execution(
            self.store,
            execution.id,
            result.status,
            _engine_error(result),
            promote=not self._holding_queue,
            ran=result.stop_date - result.start_date,  # on the engine's clock: `--skip-waits` included
            blobs=self.blobs,
        )
        self._disown(execution.id)
        if result.status == "TIMED_OUT":  # a MAX_DURATION SLA: its running children stop with it
            self._stop_children(execution.id, f"parent execution {execution.id} timed out (its SLA)")
        self._after_end(finished)
        runs = self.store.list_task_runs(execution.id) if task_runs else []
        return RunOutcome(
            finished.execution,
            runs,
            result,
            execution.revision,
            parts=self.parts.results.pop(execution.id, []),
        )

    def _after_end(self, finished: Finished) -> None:
        """Run the end hooks, start the queued executions the freed slot lets in, carry out a retry."""
        self.ends.ended(finished.execution.id)
        # Hooks first, so they see executions end in the order they ended (a promoted one can be quick).
        for hook in self.finished_hooks:
            try:
                hook(finished.execution)
            except Exception:  # a failing hook must not fail the execution that ended
                logger.exception("a hook on the end of execution %s failed", finished.execution.id)
        for promoted in finished.promoted:  # queued executions its concurrency slot lets in
            self.launch(promoted)
        if finished.retry is not None and not self._holding_queue:
            self.launch_retry(finished.retry)

    def _stop_children(self, execution_id: str, cause: str) -> list[str]:
        """Stop the running Subflow children of an execution (as the cloud's execution events do)."""
        running = self.callbacks.running()
        stopped = [child for child in subflow_executions(self.store, execution_id) if child in running]
        for child in stopped:
            running[child].stop(error="ParentTimedOut", cause=cause)
        return stopped

    def recover_orphans(self) -> list[Execution]:
        """Fail the executions whose process ended before they did; returns them, as they ended.

        Each one ends FAILED like any failed execution (its unfinished task runs closed, its slot given
        back, the queued executions it held up started here, its flow's `retry` applied, Flow triggers
        told); `strato restart` runs it again from the task that was running. Processes of other hosts
        sharing the home are never judged.
        """
        recovered = []
        for owner, execution_ids in gone_owners(self.store, self.home).items():  # never this process
            # First: a script the gone process left running must not run on beside a restart.
            for pgid in end_groups(self.home, owner):
                logger.warning("ended the process group %s of a script of the ended process %s", pgid, owner)
            for execution_id in execution_ids:
                try:
                    ended = self._fail_orphan(owner, execution_id)
                except Exception:  # one unreadable record must not keep the others' slots taken
                    logger.exception(
                        "could not fail execution %s of the ended process %s", execution_id, owner
                    )
                    continue
                if ended is not None:
                    recovered.append(ended)
        return recovered

    def _fail_orphan(self, owner: str, execution_id: str) -> Execution | None:
        execution = self.store.get_execution(execution_id)
        if execution is None or execution.state.is_terminal or execution.state == State.PAUSED:
            # A paused execution waits for `strato resume`, which continues it in its own process.
            self.store.disown_execution(execution_id)
            return None
        error = (
            f"the process running it (pid {owner_pid(owner)} on {host_name()}) ended before the execution "
            f"did; `strato restart {execution_id}` runs it again from the task that was running"
        )
        # Recorded first: the end keeps an execution's own error over that of its first failed task run.
        self.store.update_execution(execution_id, error=error)
        finished = finish_execution(
            self.store, execution_id, "FAILED", error, promote=not self._holding_queue
        )
        self.store.disown_execution(execution_id)
        logger.warning("execution %s failed: %s", execution_id, error)
        self._after_end(finished)
        return finished.execution

    def run(self, execution: Execution) -> RunOutcome:
        return self.finish(execution, self.start(execution))

    def stop_all(self, cause: str, grace: float = 0.0) -> list[str]:
        """Stop every execution this platform runs and promote no queued execution into the slots
        they free: the queue waits for the next start. A PAUSED one is left PAUSED (`strato resume`
        continues it in any later process); the others end KILLED, the process groups their scripts
        lead killed. With `grace` seconds, running executions may first end on their own for that
        long (still promoting nothing). Returns the ids of the executions it killed."""
        self._holding_queue = True
        self._retries_cancelled.set()
        deadline = time.monotonic() + grace
        while self.working() and (remaining := deadline - time.monotonic()) > 0:
            self.ends.wait_any(remaining)
        self._stopping = cause
        running = self.callbacks.running()
        paused = set(running) - set(self.working())
        for execution_id, execution in running.items():
            if execution_id in paused:
                self._left_paused.add(execution_id)
            execution.stop(error="Killed", cause=cause)
        if self.owns_process:  # the scripts of the executions just stopped would run on
            end_child_process_groups()
        return sorted(set(running) - paused)

    def working(self) -> list[str]:
        """The running executions that are not PAUSED."""
        running = self.callbacks.running()
        states = {i: self.store.get_execution(i) for i in running}
        return sorted(i for i, record in states.items() if record is None or record.state != State.PAUSED)

    def resume_here(self, execution_id: str) -> Execution:
        """Take over a PAUSED execution that no living process runs: it runs again from its paused
        task in this process (its finished task runs keep their outputs), where the resume recorded
        by `request_resume` completes the pause."""
        self.store.update_execution(execution_id, state=State.RUNNING, expected_states={State.PAUSED})
        execution = self.store.get_execution(execution_id)
        assert execution is not None
        return execution

    def runs_elsewhere(self, execution_id: str) -> bool:
        """True while a living process (not this one) records that it runs `execution_id`."""
        for owner, ids in self.store.execution_owners().items():
            if execution_id in ids and owner != self.lease.owner and not owner_gone(self.home, owner):
                return True
        return False

    def launch(self, execution: Execution) -> threading.Thread:
        """Run an execution to its end on a background thread; `close` waits for it."""
        self.own(execution)
        thread = threading.Thread(
            target=self._run_logged, args=(execution,), name=f"stratoflow-{execution.id}", daemon=True
        )
        with self._launched_changed:
            self._launched += 1
        thread.start()
        return thread

    def launch_retry(self, retry: FlowRetry) -> threading.Thread:
        """Carry out a flow-level retry in the background: wait its interval on the platform's clock,
        then run the new (or restarted) execution; `close` waits for it, `stop_all` drops it."""
        thread = threading.Thread(
            target=self._retry_logged,
            args=(retry,),
            name=f"stratoflow-retry-{retry.execution.id}",
            daemon=True,
        )
        with self._launched_changed:
            self._launched += 1
        thread.start()
        return thread

    def _retry_logged(self, retry: FlowRetry) -> None:
        try:
            self.clock.sleep(retry.delay.total_seconds(), self._retries_cancelled)
            execution = None if self._retries_cancelled.is_set() else start_retry(self.store, retry)
        except Exception:  # a background retry has nobody to raise to
            logger.exception("the retry of execution %s could not start", retry.execution.id)
            execution = None
        if execution is None:
            self._ended_in_background()
            return
        self._run_logged(execution)

    def _run_logged(self, execution: Execution) -> None:
        try:
            self.run(execution)
        except Exception:  # a background execution has nobody to raise to
            logger.exception("execution %s could not run", execution.id)
        finally:  # after `run`, which launches what this execution's end promoted
            self._ended_in_background()

    def _ended_in_background(self) -> None:
        with self._launched_changed:
            self._launched -= 1
            self._launched_changed.notify_all()

    def _invoke_runner(self, event: Any, context: Any) -> Any:
        cancelled: threading.Event | None = getattr(context, "cancelled", None)
        try:
            # A script still running when the engine stops waiting for it (a timeout around it, a
            # failed branch beside it, a kill) is killed at once, as `strato executions kill` would.
            with stopped_when(
                lambda: STOPPED_BY_ENGINE if cancelled is not None and cancelled.is_set() else None
            ):
                return self.runner.handle(event)
        except Exception as error:
            fault = _storage_fault(error)
            if fault is not None:
                self.storage_faults.append(str(fault))
            raise


def _storage_fault(error: BaseException) -> StorageError | None:
    """The StorageError behind a task runner failure, if one is in its chain (chains can loop)."""
    seen: set[int] = set()
    cause: BaseException | None = error
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, StorageError):
            return cause
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return None


def _engine_error(result: ExecutionResult) -> str | None:
    if result.error is None:
        return None
    return f"{result.error}: {result.cause}" if result.cause else result.error


def _kill_when_abandoned(call: TaskCall, running: Any) -> None:
    """Kill the child execution when its Task state stops waiting for it before it ends (the Subflow's
    timeout, a flowable's timeout around it, a failed sibling branch, a stopped parent): the engine
    sets `cancelled` once a `.sync` attempt is over (engine.task waits for every `.sync` job in an
    attempt scope of its own), so this thread always ends; stopping a child that already ended does
    nothing."""
    call.cancelled.wait()
    running.stop(error="Killed", cause=f"its parent task {call.state_name} stopped waiting for it")


class _SubflowIntegration:
    """`states:startExecution(.sync:2)` on the local engine: the child runs on a nested engine."""

    def __init__(self, platform: LocalPlatform):
        self.platform = platform

    def invoke(self, resource: str, parameters: Any, call: TaskCall) -> Any:
        arn = str(parameters["StateMachineArn"])
        part = part_number(arn)
        if part is not None:  # a part of the execution's own flow (a big flow), not a Subflow
            return self.platform.parts.invoke(part, parameters, call)
        if not arn.startswith(STATE_MACHINE_PREFIX):
            raise TaskError("States.Runtime", f"unknown state machine {arn}")
        name = str(parameters["Name"])
        # The input names the execution; the name is `<id>_r<n>` for a restarted child (cloud.runtime.runs).
        reference = (parameters.get("Input") or {}).get("execution") or {}
        execution = self.platform.store.get_execution(str(reference.get("id") or name))
        if execution is None:
            raise TaskError("States.Runtime", f"execution {name} was not admitted")
        running = self.platform.start(execution)
        parent = self.platform.store.get_execution(execution.parent_execution_id or "")
        if parent is not None and parent.state.is_terminal:  # it ended (timed out) as this one started
            running.stop(error="ParentTimedOut", cause=f"parent execution {parent.id} ended {parent.state}")
        if not resource.endswith(".sync:2") and not resource.endswith(".sync"):
            threading.Thread(target=self.platform.finish, args=(execution, running), daemon=True).start()
            return {"ExecutionArn": f"local:{name}", "StartDate": execution.start_date.isoformat()}
        # As Step Functions stops a `.sync` child whose Task state stops waiting for it (the Subflow's
        # timeout, a flowable's timeout around it, a failed sibling branch): the child dies with the
        # task's attempt.
        threading.Thread(target=_kill_when_abandoned, args=(call, running), daemon=True).start()
        outcome = self.platform.finish(execution, running)
        if call.clock.virtual:
            # The child ran on its own timeline; the parent waited for it all that (virtual) time, so
            # that a timeout on the wait holds under --skip-waits too.
            waited = (outcome.result.stop_date - outcome.result.start_date).total_seconds()
            call.clock.sleep(max(0.0, waited), threading.Event())
        if outcome.execution.state.is_failure:
            raise TaskError(
                "States.TaskFailed",
                f"subflow {execution.namespace}.{execution.flow_id} execution {name} ended {outcome.execution.state}",
            )
        return {
            "ExecutionArn": f"local:{name}",
            "Name": name,
            "Status": outcome.result.status,
            "Output": outcome.result.output,
        }
