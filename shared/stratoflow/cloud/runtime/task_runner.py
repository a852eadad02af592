"""The task-runner function's runner on AWS: the execution core's `TaskRunner` over the stack's table
and data bucket, with Step Functions callbacks, flow credentials, script sandboxes and pause events.

Built by `cloud.assembly.cloud_task_runner` alone: the other functions (admission, execution events,
webhook, deployer) never load the runner, the script sandboxes' invoker (process groups, the job
contract) or the flows' credentials.
"""

from __future__ import annotations

from stratoflow.cloud.config.clients import AwsClients
from stratoflow.cloud.config.lazy import long_invoke_client
from stratoflow.cloud.config.secrets import configured_secrets
from stratoflow.cloud.config.settings import Settings
from stratoflow.cloud.runtime.callbacks import StepFunctionsCallbacks
from stratoflow.cloud.runtime.flow_credentials import flow_credentials
from stratoflow.cloud.runtime.paused import pause_publisher
from stratoflow.cloud.runtime.script_sandbox import LambdaScriptSandboxes
from stratoflow.execution.runner import TaskRunner
from stratoflow.store.base import ExecutionStore
from stratoflow.store.s3 import S3BlobStore


def task_runner(settings: Settings, clients: AwsClients, store: ExecutionStore) -> TaskRunner:
    """The runner on `store` and the stack's data bucket; AWS tasks run with their flow's role."""
    sandboxes = None
    if settings.stratoflow_script_sandboxes:
        # Scripts run in their flow's sandbox function: never a process of this one (issue 15).
        sandboxes = LambdaScriptSandboxes(
            long_invoke_client(clients),
            clients.s3,
            settings.stratoflow_data_bucket,
            settings.stratoflow_stack_name,
        )
    runner = TaskRunner(
        store,
        S3BlobStore(settings.stratoflow_data_bucket, client=clients.s3),
        callbacks=StepFunctionsCallbacks(clients.stepfunctions),
        # STRATOFLOW_FLOW_ROLE_PREFIX set: AWS tasks assume their flow's role, not the task runner's.
        credentials=flow_credentials(settings, clients.sts),
        secrets=configured_secrets(),
        sandboxes=sandboxes,
    )
    # Flow triggers on PAUSED: each pause is published on the stack's bus, as the ends are.
    runner.pause_hooks.append(pause_publisher(clients.events, settings.stratoflow_event_bus_name))
    return runner
