"""The task runner: what every Task state of a compiled flow invokes (as a Lambda, or in-process).

One event = one action on one task instance:

- `run`     a runnable task: runIf, an attempt, render + run, outputs and logs recorded
- `start`   a flowable task begins: its task run, and what its structure needs (values, branch, ...)
- `end`     a flowable task ends: success (state from its children) or failure (`error` in the event)
- `check`   a WaitFor iteration ended: condition and bounds
- `pause`   a Pause without delay: records the callback token that `resume` completes
- `await`   a Dag task waits for its dependencies: records the callback token
- `outputs` the flow's outputs, at the end of a successful run

Each event is parsed into its call model (`stratoflow.runner_call`), and each action answers with a
model of what the state machine reads back. The actions live beside this module: `run` in attempts.py,
a Fargate script's `prepare` and `collect` in container.py, the flowables' in flowables.py and
subflows.py; this module holds the runner, the call they are handed, and the dispatch. A failure raises an exception whose class name is the
error Step Functions' Retry/Catch match.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, assert_never

from pydantic import JsonValue

from stratoflow.domain import Attempt, Execution, TaskRun
from stratoflow.errors import ConflictError, InputError, NotFoundError
from stratoflow.execution.ids import (
    Scope,
    parent_scope,
    scope_chain,
    scope_path,
    scope_values,
    task_run_id,
    task_run_id_at,
)
from stratoflow.execution.masking import execution_secrets
from stratoflow.execution.runner import flowables, subflows
from stratoflow.execution.runner.activity import record_saved
from stratoflow.execution.runner.attempts import LateEnd, now, run_allowing
from stratoflow.execution.runner.call import TaskCallbacks
from stratoflow.execution.runner.container import action_collect, action_prepare
from stratoflow.execution.runner.context import TaskRunContext, render_context
from stratoflow.execution.runner.outputs import LOOPS, ExecutionOutputs, offload_large
from stratoflow.execution.secrets import SecretSource
from stratoflow.expressions import ExpressionError, is_truthy, render
from stratoflow.flow import Flow, load_flow
from stratoflow.flow.namespace_defaults import recorded_in
from stratoflow.flow.run_context import FlowCredentials, ScriptSandbox, ScriptSandboxes
from stratoflow.flow.task import Task
from stratoflow.flow.task_lists import FlowableTask
from stratoflow.runner_call import (
    AwaitCall,
    BatchCall,
    CallBase,
    CheckCall,
    CollectCall,
    EndCall,
    FlowOutputsRecorded,
    OutputsCall,
    PauseCall,
    PrepareCall,
    RunCall,
    RunnerCall,
    StartCall,
    parse_runner_call,
)
from stratoflow.states import State, worst
from stratoflow.storage_layout import sandbox_folder
from stratoflow.store.base import BlobStore, ExecutionStore
from stratoflow.tasks.errors import TaskFailed


class TaskRunner:
    """Runs one action for one task instance; state lives in the execution store."""

    def __init__(
        self,
        store: ExecutionStore,
        blobs: BlobStore,
        callbacks: TaskCallbacks | None = None,
        flow_loader: Callable[[str, str, int], Flow] | None = None,
        credentials: FlowCredentials | None = None,
        *,
        secrets: SecretSource,
        sandboxes: ScriptSandboxes | None = None,
    ):
        self.store, self.blobs, self.callbacks = store, blobs, callbacks
        self.secrets = secrets  # what `secret()` reads: chosen by whoever builds the runner
        self.credentials = credentials  # for AWS tasks: the flow's role in the cloud
        # In the cloud, script commands run in their flow's sandbox function, never in this process.
        self.sandboxes = sandboxes
        self._flows: dict[tuple[str, str, int], Flow] = {}
        self._values: dict[str, list[str]] = {}
        self._flow_loader = flow_loader
        self._roles: dict[int, tuple[Flow, bool]] = {}
        # Called with the execution each time a Pause records it PAUSED: Flow triggers on PAUSED (the
        # local server fires them; in the cloud an event goes to the stack's bus).
        self.pause_hooks: list[Callable[[Execution], None]] = []

    def credentials_for(self, flow: Flow) -> FlowCredentials | None:
        """The credentials provider for a task of `flow`: none when the flow has no role of its own.

        The deployer gives a role only to a flow whose tasks declare IAM statements (the AWS tasks);
        a flow of scripts alone has none, and its scripts then get no AWS credentials at all."""
        if self.credentials is None:
            return None
        known = self._roles.get(id(flow))
        if known is None or known[0] is not flow:
            declares = False
            for task in flow.all_tasks():
                declare = getattr(task, "iam_statements", None)
                if declare is not None and not task.disabled and declare():
                    declares = True
                    break
            known = self._roles[id(flow)] = (flow, declares)
        return self.credentials if known[1] else None

    # --- plumbing -------------------------------------------------------------------------------

    def remember_flow(self, flow: Flow, revision: int) -> None:
        """Cache a parsed flow (the local engine already has it; Lambda loads it once per container)."""
        self._flows[(flow.namespace, flow.id, revision)] = flow

    def flow(self, namespace: str, flow_id: str, revision: int) -> Flow:
        key = (namespace, flow_id, revision)
        if key not in self._flows:
            if self._flow_loader is not None:
                self._flows[key] = self._flow_loader(namespace, flow_id, revision)
            else:
                record = self.store.get_flow(namespace, flow_id, revision)
                if record is None:
                    raise NotFoundError(f"flow {namespace}.{flow_id} revision {revision} is not deployed")
                inherited = recorded_in(record.namespace_defaults)
                self._flows[key] = load_flow(record.source, f"{namespace}.{flow_id}", inherited)
        return self._flows[key]

    def resolve_scope(self, scope: Scope) -> Scope:
        """The scope with the values of loops kept in storage read back: `value` is then an index."""
        if not scope:
            return scope
        parent = self.resolve_scope(scope.get("parent"))
        uri = scope.get("valuesUri")
        if uri is None and parent is scope.get("parent"):
            return scope
        resolved = {**scope, "parent": parent}
        if uri is not None:
            resolved["value"] = self._loop_values(uri)[int(scope["value"])]
            resolved["valuesUri"] = None
        return resolved

    def _loop_values(self, uri: str) -> list[str]:
        # Every iteration of a large loop asks for the same list: keep the last few in memory.
        values = self._values.get(uri)
        if values is None:
            values = json.loads(self.blobs.get(uri))
            if len(self._values) >= 4:
                self._values.pop(next(iter(self._values)))
            self._values[uri] = values
        return values

    def handle(self, event: Mapping[str, object] | RunnerCall) -> dict[str, JsonValue]:
        """Entry point of the task-runner Lambda and of the local engine's Lambda integration: a
        resolved Payload in (InvalidRunnerCall names a field that does not fit), the answer out."""
        request = parse_runner_call(event) if isinstance(event, Mapping) else event
        ref = request.execution
        flow = self.flow(ref.namespace, ref.flow_id, ref.revision)
        execution = self.store.get_execution(ref.id)
        if execution is None:
            raise NotFoundError(f"execution {ref.id} does not exist")
        if isinstance(request, OutputsCall):
            return self._flow_outputs(flow, execution).to_payload()
        task = flow.find_task(request.task_id)
        if task is None:
            raise NotFoundError(f"task '{request.task_id}' is not in flow {flow.namespace}.{flow.id}")
        return _answer(Call(self, flow, execution, task, request), request).to_payload()

    def _flow_outputs(self, flow: Flow, execution: Execution) -> FlowOutputsRecorded:
        outputs = ExecutionOutputs(self.store, self.blobs, execution.id, flow)
        context = render_context(flow, execution, outputs)
        values: dict[str, Any] = {}
        source = self.secrets
        # The execution's services (`kv()`, `secret()`, `read()`) under the namespace rules, with no
        # task run to record.
        services = TaskRunContext(
            self.store,
            self.blobs,
            execution,
            TaskRun(id=f"{execution.id}-outputs", execution_id=execution.id, task_id="outputs", task_type=""),
            context,
            attempt=1,
            secrets=execution_secrets(self.store, execution, source),
            secret_source=source,
            credentials=self.credentials,
        )
        try:
            for output in flow.outputs:
                values[output.id] = output.coerce(render(output.value, context, services))
        except (ExpressionError, InputError) as error:
            message = services.mask(f"flow output: {error}")
            self.store.update_execution(execution.id, error=message)
            raise TaskFailed(message) from error
        self.store.update_execution(execution.id, outputs=services.mask_value(values))
        return FlowOutputsRecorded(outputs=len(values))


class Call:
    """One action on one task instance: its task run, its context, and how it ends."""

    def __init__(
        self,
        runner: TaskRunner,
        flow: Flow,
        execution: Execution,
        task: Task,
        request: CallBase,
    ):
        self.runner, self.flow, self.execution, self.task = runner, flow, execution, task
        scope: Scope = request.scope_dict()
        self.scope = runner.resolve_scope(scope)
        self.store = runner.store
        self.id = task_run_id(execution.id, task.id, scope)
        self._task_run: TaskRun | None = None
        # Set while an attempt runs: its end is saved only from these states (kill_flag.ENDING_FROM).
        self.ending_from: frozenset[State] | None = None

    def data_key(self, name: str) -> str:
        """The blob-storage key of a file this task run keeps (large outputs, large loop values)."""
        execution = self.execution
        return f"{execution.namespace}/{execution.flow_id}/executions/{execution.id}/{self.id}/{name}"

    @property
    def task_run(self) -> TaskRun:
        if self._task_run is None:
            self._task_run = self.store.get_task_run(self.execution.id, self.id) or self._new_task_run()
        return self._task_run

    def _new_task_run(self) -> TaskRun:
        parents = self.flow.task_parents(self.task.id)
        parent_id = None
        if parents:
            parent = parents[-1]
            parent_id = task_run_id(self.execution.id, parent.id, parent_scope(self.scope, parent.id))
        chain = scope_chain(self.scope)
        innermost = chain[-1] if chain else None
        values = scope_values(self.scope)
        return TaskRun(
            id=self.id,
            execution_id=self.execution.id,
            task_id=self.task.id,
            task_type=self.task.type,
            parent_task_run_id=parent_id,
            value=values[-1] if values else None,
            iteration=innermost.get("iteration") if innermost else None,
            scope_values=values,
            scope_path=scope_path(self.scope),
        )

    def save(self, **changes: object) -> TaskRun:
        before = self.task_run.state
        updated = self.task_run.model_copy(update=changes)
        if self.ending_from is None:
            self._task_run = self.store.save_task_run(updated)
        else:
            try:
                self._task_run = self.store.save_task_run(updated, self.ending_from)
            except ConflictError as conflict:
                raise LateEnd(str(conflict)) from None
        record_saved(before, self._task_run)
        return self._task_run

    def context(self) -> dict[str, JsonValue]:
        outputs = ExecutionOutputs(self.store, self.runner.blobs, self.execution.id, self.flow, self.scope)
        return render_context(self.flow, self.execution, outputs, self.task, self.task_run, self.scope)

    def run_context(self, attempt: int, sandbox: ScriptSandbox | None = None) -> TaskRunContext:
        """The context of one attempt; its scripts run in `sandbox`, else in the flow's (if any)."""
        source = self.runner.secrets
        return TaskRunContext(
            self.store,
            self.runner.blobs,
            self.execution,
            self.task_run,
            self.context(),
            attempt,
            secrets=execution_secrets(self.store, self.execution, source),
            secret_source=source,
            credentials=self.runner.credentials_for(self.flow),
            sandbox=sandbox or self._sandbox(attempt),
        )

    def sandbox_folder(self, attempt: int) -> str:
        """The storage folder of one attempt's script sandbox (a container's job and answer)."""
        execution = self.execution
        return sandbox_folder(execution.namespace, execution.flow_id, execution.id, self.id, attempt)

    def _sandbox(self, attempt: int) -> ScriptSandbox | None:
        sandboxes = self.runner.sandboxes
        if sandboxes is None:
            return None
        execution = self.execution
        return sandboxes.for_task_run(execution.namespace, execution.flow_id, execution.id, self.id, attempt)

    def should_skip(self, ctx: TaskRunContext | None = None) -> bool:
        """runIf: falsy -> SKIPPED; an expression that fails to render fails the task run."""
        if self.task.run_if is None:
            return False
        variables = ctx.variables if ctx else self.context()
        try:
            value = render(self.task.run_if, variables, ctx)
        except ExpressionError as error:
            self.fail(f"runIf: {error}")
            raise TaskFailed(f"task '{self.task.id}': runIf: {error}") from error
        if is_truthy(value):
            return False
        self.save(state=State.SKIPPED, end_date=now())
        return True

    def fail(self, message: str, state: State = State.FAILED) -> None:
        attempts = list(self.task_run.attempts) or [Attempt(state=state)]
        attempts[-1] = attempts[-1].model_copy(update={"state": state, "end_date": now(), "error": message})
        self.save(state=state, error=message, attempts=attempts, end_date=now())

    def finished_ok(self, state: State, outputs: dict[str, JsonValue] | None = None) -> State:
        """Record a successful end, then wake Dag tasks that were waiting for this one; returns the
        state recorded."""
        if state == State.WARNING and self.task.allow_warning:
            state = State.SUCCESS
        changes: dict[str, Any] = {"state": state, "end_date": now()}
        if outputs is not None:
            changes["outputs"] = offload_large(outputs, self.runner.blobs, self.data_key("outputs.json"))
        if self.task_run.attempts:
            attempts = list(self.task_run.attempts)
            attempts[-1] = attempts[-1].model_copy(update={"state": state, "end_date": now()})
            changes["attempts"] = attempts
        self.save(**changes)
        flowables.wake_dependents(self)
        return state

    def children_state(self) -> State:
        """The combined state of the task runs this flowable's run enclosed directly."""
        if type(self.task).type_name in LOOPS:  # a run per child and iteration: this run's children
            runs = self._loop_children()
        else:  # the children ran in this run's scope: their ids are known, read them by key
            children = self.task.child_lists() if isinstance(self.task, FlowableTask) else []
            ids = [
                task_run_id(self.execution.id, task.id, self.scope) for _, tasks in children for task in tasks
            ]
            runs = self.store.get_task_runs(self.execution.id, ids)
        return worst([State(r.state) for r in runs if r.parent_task_run_id == self.id])

    def _loop_children(self) -> list[TaskRun]:
        """A loop's iterations' task runs, read strongly consistent.

        Their ids derive from the loop's iterations: each body task at `<loop>#<iteration>` for every
        iteration started (a task after a failed one has no run: its key is simply absent). A loop
        started by a runner that did not record its iterations is read from the execution's whole
        partition instead, consistent too (an index of task runs by parent would be eventually
        consistent, and could miss the last iterations' runs: there is none).
        """
        iterations = self.task_run.iterations
        if iterations is None or not isinstance(self.task, FlowableTask):
            return self.store.list_task_runs(self.execution.id)
        body = [task for _, tasks in self.task.body_lists() for task in tasks if not task.disabled]
        around = scope_path(self.scope)
        ids = [
            task_run_id_at(self.execution.id, task.id, [*around, f"{self.task.id}#{iteration}"])
            for iteration in range(iterations)
            for task in body
        ]
        return self.store.get_task_runs(self.execution.id, ids)


def _answer(
    call: Call,
    request: RunCall
    | StartCall
    | EndCall
    | CheckCall
    | PauseCall
    | AwaitCall
    | BatchCall
    | PrepareCall
    | CollectCall,
) -> flowables.Answer:
    """One action, dispatched on the call's model (the `action` it was parsed by)."""
    match request:
        case RunCall():
            return run_allowing(call)
        case StartCall():
            return flowables.action_start(call, request)
        case EndCall():
            return flowables.action_end(call, request)
        case CheckCall():
            return flowables.action_check(call, request)
        case PauseCall():
            return flowables.action_pause(call, request)
        case AwaitCall():
            return flowables.action_await(call, request)
        case BatchCall():
            return subflows.action_batch(call, request)
        case PrepareCall():
            return action_prepare(call)
        case CollectCall():
            return action_collect(call, request)
        case _:
            assert_never(request)
