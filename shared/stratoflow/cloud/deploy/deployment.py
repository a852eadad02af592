"""What a deployment is made of: the flow's target names, the revision being deployed (or the flow being
retired), and the protocol of a step that converges one kind of AWS resource on it.

The steps (`deploy_steps`, `alarms`, `flow_roles`, `rules`, `schedules`, `pipes`) import these; none
imports another step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from stratoflow.cloud.config.naming import AccountRegion, part_state_machine_name
from stratoflow.flow import Flow

NAMESPACE_TAG = "stratoflow:namespace"
"""The tag of a flow's role naming its namespace: the base policy grants a flow role its own
namespace's distributed-map objects through it (`${aws:PrincipalTag/stratoflow:namespace}`)."""


FLOW_TAG = "stratoflow:flow"


def flow_tags(namespace: str, flow_id: str) -> dict[str, str]:
    """The tags of everything deployed for one flow (its state machine, roles, log groups)."""
    return {NAMESPACE_TAG: namespace, FLOW_TAG: flow_id}


@dataclass(frozen=True)
class FlowTarget:
    """One flow and the names of what is deployed for it."""

    namespace: str
    flow_id: str
    state_machine_name: str
    state_machine_arn: str
    stack_name: str = ""  # names the parts of a big flow

    def tags(self) -> dict[str, str]:
        return flow_tags(self.namespace, self.flow_id)

    def part(self, number: int) -> tuple[str, str]:
        """The name and ARN of the state machine of part `number` (a big flow: `compiler.parts`)."""
        name = part_state_machine_name(self.stack_name, self.namespace, self.flow_id, number)
        return name, AccountRegion.from_arn(self.state_machine_arn).state_machine_arn(name)


@dataclass
class Deployment:
    """A revision being deployed: what the steps read, and what they report back."""

    target: FlowTarget
    flow: Flow  # with its revision set
    previous: Flow | None  # the live Flow before this deployment (a step removes what it no longer needs)
    revision: int
    definition: dict[str, Any]  # placeholders substituted
    compiled: dict[str, Any] | None = None  # with placeholders: what the flow record keeps
    # A big flow's parts (placeholders substituted but `${FlowPart.<n>}`, which StateMachineStep puts
    # in when it has deployed them), and as compiled (what the flow record keeps).
    parts: list[dict[str, Any]] = field(default_factory=list)
    compiled_parts: list[dict[str, Any]] = field(default_factory=list)
    permissions: list[dict[str, Any]] = field(default_factory=list)  # CompiledFlow.permissions
    role_arn: str | None = None  # the flow's own role (FlowRoleStep); None: the shared role
    version_arn: str | None = None  # set by StateMachineStep
    # Putting the live revision back after a failed deployment: $LATEST again, no new version.
    restoring: bool = False
    # Restoring: the live revision's version, whose part versions $LATEST starts again.
    live_version_arn: str | None = None
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Retirement:
    """A flow being retired (its file was deleted, or the file now holds another flow)."""

    target: FlowTarget
    previous: Flow | None  # the last live Flow, when it can still be read


class DeployStep(Protocol):
    name: str

    def deploy(self, deployment: Deployment) -> None: ...

    def retire(self, retirement: Retirement) -> None: ...
