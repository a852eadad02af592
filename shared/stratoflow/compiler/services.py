"""Lowering of the native AWS tasks (`aws.ecs.RunTask`, `aws.batch.SubmitJob`): one Step Functions
`.sync` service integration between the runner's start and end calls, so the state machine itself
starts the job and waits for it (see `stratoflow.tasks.aws.native`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from stratoflow.compiler.asl import TaskState
from stratoflow.compiler.builder import Builder, Scope
from stratoflow.compiler.frame import Flowable, timeout_seconds_of
from stratoflow.compiler.retry import PLATFORM_RETRIER, retriers

if TYPE_CHECKING:
    # Types only: importing the AWS family would register every AWS task type at each compile.
    from stratoflow.tasks.aws.native import NativeAwsTask

# Where the `.sync` result waits for the end call: inside the start call's result, which every path to
# the end call (the skip included) has set, and which the end call overwrites.
SERVICE_RESULT = "$.eval.service"


def lower_service_integration(builder: Builder, task: NativeAwsTask, scope: Scope, next_: str | None) -> str:
    """`<id>` (runner start) -> `<id>.run` (the .sync integration) -> `<id>.end` (runner end)."""
    frame = Flowable(builder, task, scope, next_)
    call = builder.names.claim(f"{task.id}.run")
    builder.add(
        call,
        TaskState(
            comment=f"{task.type_name}: runs outside Lambda, the state machine waits for it",
            resource=task.resource,
            parameters=task.service_parameters(),
            result_path=SERVICE_RESULT,
            timeout_seconds=timeout_seconds_of(task.timeout),  # Step Functions enforces it: no backstop
            # Only the task's own policy: the platform retrier is about Lambda's service errors.
            retry=[r for r in retriers(task.retry, task.id, builder.warnings) if r != PLATFORM_RETRIER]
            or None,
            catch=builder.catchers(frame.body_scope),
            next=frame.end,
        ),
    )
    frame.emit_end(extra={"eval.$": "$.eval"})
    # The end calls' small results replace what they consumed: the description (end) and the
    # error whose Cause holds it (fail, when the flow goes on after a WARNING).
    for name, consumed in ((frame.end, "$.eval"), (frame.fail, "$.error")):
        if name in builder.states:
            builder.states[name] = builder.states[name].model_copy(
                update={"result_path": consumed, "result_selector": {"result.$": "$.Payload"}}
            )
    return frame.emit_start(call)
