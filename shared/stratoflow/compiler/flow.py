"""Flow-level structure: main tasks, flow outputs, `errors`, `finally`, and how the execution ends.

    main tasks ──────────────► [flow.outputs] ─► finally tasks ─► flow.end (Choice) ─► flow.succeeded
       │ any failure (Catch)                         ▲                     └──────────► flow.failed (Fail)
       ▼                                             │
    flow.failure (Pass: $.failed = true) ─► errors tasks
    ExitExecution anywhere ─► flow.exit (Succeed; the Exit task recorded the execution's state)

`$.failed` is only ever set to true, so the final Choice tests its presence.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import JsonValue

from stratoflow.compiler.asl import AslJson, ChoiceState, FailState, PassState, SucceedState
from stratoflow.compiler.builder import Builder, Names, Scope
from stratoflow.compiler.lowering import LOWERERS
from stratoflow.compiler.parts import Splitter, fits_one_machine
from stratoflow.flow.model import Flow
from stratoflow.flow.sla import execution_timeout
from stratoflow.flow.task import Task

PLACEHOLDER = re.compile(r"\$\{([^}]+)\}")


@dataclass(frozen=True)
class CompiledFlow:
    """A flow's state machine definition and what it needs to be deployed."""

    definition: dict[str, Any]
    placeholders: list[str]
    warnings: list[str] = field(default_factory=list)
    # IAM statements the flow's tasks need ({"Action": [...], "Resource": [...]}): the deployer gives the
    # flow's state machine (native integrations) and task runs exactly these.
    permissions: list[dict[str, Any]] = field(default_factory=list)
    # A flow too large for one state machine: the definitions of its parts (`compiler.parts`), part n
    # at index n - 1, each started by `definition` (or by another part) as `${FlowPart.<n>}`.
    parts: list[dict[str, Any]] = field(default_factory=list)


def permissions_of(flow: Flow) -> list[dict[str, JsonValue]]:
    """Every IAM statement the flow's tasks declare (`Task.iam_statements()`), without duplicates."""
    statements: list[dict[str, Any]] = []
    for task in flow.all_tasks():
        if task.disabled:
            continue
        for statement in task.iam_statements():
            if statement not in statements:
                statements.append(statement)
    return statements


@dataclass(frozen=True)
class LoweredFlow:
    """A flow's state machine definition, its parts (none unless it is too large for one state
    machine: see `compiler.parts`) and the compiler's warnings."""

    definition: dict[str, Any]
    parts: list[dict[str, Any]]
    warnings: list[str]


def lower_flow_parts(flow: Flow) -> LoweredFlow:
    """Lower a flow; only when it does not fit one state machine, lower it again cut into parts."""
    definition, warnings = lower_flow(flow)
    if fits_one_machine(definition):
        return LoweredFlow(definition, [], warnings)
    splitter = Splitter()
    definition, warnings = lower_flow(flow, splitter)
    return LoweredFlow(definition, splitter.parts, warnings)


def lower_flow(flow: Flow, splitter: Splitter | None = None) -> tuple[AslJson, list[str]]:
    """The ASL definition of a flow, and the compiler's warnings; with a splitter, its large blocks
    are outlined into the splitter's parts."""
    builder = Builder(Names(), [], retry_of=flow.effective_retry, lowerers=LOWERERS, namespace=flow.namespace)
    names = builder.names
    succeeded = names.claim("flow.succeeded")
    failed = names.claim("flow.failed")
    exit_ = names.claim("flow.exit")
    failure = names.claim("flow.failure")

    finally_tasks = [t for t in flow.finally_ if not t.disabled]
    if finally_tasks:
        end = names.claim("flow.end")
        builder.add(
            end,
            ChoiceState(
                choices=[{"Variable": "$.failed", "IsPresent": True, "Next": failed}],
                default=succeeded,
            ),
        )
        after_success = after_failure = _lower_finally(builder, finally_tasks, end, exit_)
    else:
        after_success, after_failure = succeeded, failed

    # The flow's `errors` and `finally` tasks stay in the flow's own state machine.
    errors_entry = builder.lower_block(
        flow.errors, Scope(on_error=after_failure, on_exit=exit_), after_failure
    )
    builder.add(failure, PassState(result=True, result_path="$.failed", next=errors_entry or after_failure))
    main_scope = Scope(on_error=failure, on_exit=exit_)

    next_ = after_success
    if flow.outputs:
        outputs = names.claim("flow.outputs")
        builder.runner_call(outputs, "outputs", "", main_scope, after_success, comment="flow outputs")
        next_ = outputs
    builder.splitter = splitter  # only the main tasks are cut into parts
    start = builder.lower_block(flow.tasks, main_scope, next_) or next_
    builder.splitter = None

    builder.add(succeeded, SucceedState())
    builder.add(failed, FailState(error="FlowFailed", cause="A task of the flow failed; see its task runs."))
    builder.add(exit_, SucceedState(comment="An Exit task ended the execution with the state it recorded."))
    comment = definition_comment(flow.namespace, flow.id, flow.revision)
    definition = builder.definition(start, comment=comment)
    timeout = execution_timeout(flow.sla)
    if timeout is not None:
        # A MAX_DURATION SLA that ends the execution (FAIL, CANCEL) is the state machine's own timeout:
        # no timer to keep. Its TIMED_OUT end is recorded as the SLA says (stratoflow.execution.sla).
        definition["TimeoutSeconds"] = max(1, math.ceil(timeout.duration.total_seconds()))
        if timeout.duration.total_seconds() != definition["TimeoutSeconds"]:
            builder.warnings.append(
                f"sla '{timeout.id}': duration rounded up to {definition['TimeoutSeconds']}s "
                "(Step Functions times executions out in whole seconds)"
            )
    return definition, builder.warnings


def definition_comment(namespace: str, flow_id: str, revision: int | None) -> str:
    """The Comment of a flow's state machine: the flow, and the revision its version deploys."""
    comment = f"Stratoflow flow {namespace}.{flow_id}"
    return comment if revision is None else f"{comment} revision {revision}"


def _lower_finally(builder: Builder, tasks: list[Task], end: str, exit_: str) -> str:
    """Finally tasks run one after another whatever happens; a failure is remembered, not fatal."""
    entry = end
    for task in reversed(tasks):
        marker = builder.names.claim(f"{task.id}.failed")
        builder.add(marker, PassState(result=True, result_path="$.failed", next=entry))
        entry = builder.lower_task(task, Scope(on_error=marker, on_exit=exit_), entry)
    return entry


def placeholders_of(definition: AslJson) -> list[str]:
    """Every `${Name}` the definition needs substituted before it is deployed, sorted."""
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, str):
            found.update(PLACEHOLDER.findall(value))
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(definition)
    return sorted(found)
