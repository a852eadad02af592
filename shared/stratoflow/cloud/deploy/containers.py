"""What a deployment needs for script tasks that run in containers (`taskRunner`, see
`flow.task_runners`): the stack's Fargate cluster, task definition and network, substituted into the
compiled `ecs:runTask.sync` states; and the refusal of Kestra's Docker runner, which nothing runs in
the cloud. Both `strato validate` and the deployer report these, located at the task's `taskRunner`.
"""

from __future__ import annotations

from dataclasses import dataclass

from stratoflow.compiler.containers import CLUSTER, PUBLIC_IP, SECURITY_GROUPS, SUBNETS, TASK_DEFINITION
from stratoflow.errors import Diagnostic
from stratoflow.flow import Flow
from stratoflow.flow.rules import task_paths
from stratoflow.flow.task import RunnableTask
from stratoflow.flow.task_runners import DOCKER, FARGATE, uses_docker
from stratoflow.flow.yaml_source import format_path

NETWORK_CONTEXT = "containerSubnets"
"""The stack's context value naming the subnets containers run in (infra/config.py)."""


@dataclass(frozen=True)
class ContainerStack:
    """The stack's container platform: the cluster's ARN, the task definition's family (RunTask takes
    its newest revision), and the network as comma-separated ids."""

    cluster_arn: str = ""
    task_definition: str = ""
    subnets: str = ""
    security_groups: str = ""
    assign_public_ip: bool = False

    @property
    def ready(self) -> bool:
        return bool(self.cluster_arn and self.task_definition and self.subnets and self.security_groups)

    def values(self) -> dict[str, str]:
        """The placeholders of `compiler.containers`, as this stack fills them."""
        return {
            CLUSTER[2:-1]: self.cluster_arn,
            TASK_DEFINITION[2:-1]: self.task_definition,
            SUBNETS[2:-1]: self.subnets,
            SECURITY_GROUPS[2:-1]: self.security_groups,
            PUBLIC_IP[2:-1]: "ENABLED" if self.assign_public_ip else "DISABLED",
        }


def container_problems(flow: Flow, stack: ContainerStack, file: str | None = None) -> list[Diagnostic]:
    """One located problem per task whose runner this stack cannot run."""
    problems = []
    source = flow.source
    name = file or (source.file if source is not None else f"{flow.namespace}.{flow.id}")
    for path, task in task_paths(flow):
        where = (*path, "taskRunner")
        if uses_docker(task):
            message = (
                f"task '{task.id}': taskRunner {DOCKER} needs Docker, which neither Lambda nor Fargate "
                f"offers: use `taskRunner: {{type: {FARGATE}}}` to run the script in a container"
            )
        elif isinstance(task, RunnableTask) and task.container() is not None and not stack.ready:
            message = (
                f"task '{task.id}' runs in an ECS Fargate container, but this stack has no container "
                f"network: set the stack's context value `{NETWORK_CONTEXT}` (and "
                "`containerSecurityGroups`) and deploy it again"
            )
        else:
            continue
        line, column = source.source_map.locate(where) if source is not None else (1, 1)
        problems.append(Diagnostic(name, line, column, format_path(where), message))
    return problems
