"""The task runner's side of each flow's own role: AWS tasks run with the permissions their flow declares.

In the cloud, an AWS task that names no credentials of its own (`accessKeyId`, ...) gets a client with
the credentials of its flow's role (see `flow_roles`): the task runner assumes the role
`<roles ARN><StackName>-flow-<hash>` with the execution id as session name. Credentials are cached per
role (later executions of the flow in the same container reuse them, under the first one's session
name) and handed out only while they outlive the longest task run (Lambda's 15 minutes). Locally
there is no provider: boto3's default chain.

A running AWS task implies its flow has a role: every AWS task declares IAM statements, and the
deployer gives a role to every flow that has any.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from stratoflow.cloud.config.clients import error_code
from stratoflow.cloud.config.naming import flow_role_arn
from stratoflow.cloud.config.settings import Settings

if TYPE_CHECKING:  # boto3-stubs (dev only): nothing of it is imported at run time
    from mypy_boto3_sts import STSClient

# A role seconds old (the flow was just deployed) may not be assumable yet: IAM propagates within
# seconds. Waits between attempts of AssumeRole refused with AccessDenied, about 15 s in all.
PROPAGATION_DELAYS = (0.5, 1.0, 2.0, 4.0, 8.0)
# A task run lasts at most Lambda's 15 minutes: credentials handed out must outlive it.
REFRESH_MARGIN_SECONDS = 15 * 60.0
SESSION_SECONDS = 3600
MAX_SESSION_NAME = 64
_SESSION_NAME_UNSAFE = re.compile(r"[^\w+=,.@-]")


def session_name(execution_id: str) -> str:
    """The STS session name for an execution: its id, made of the characters STS allows, 2-64 long."""
    name = _SESSION_NAME_UNSAFE.sub("_", execution_id)[:MAX_SESSION_NAME]
    return name if len(name) >= 2 else f"{name}__"[:2]


@dataclass(frozen=True)
class _Cached:
    credentials: dict[str, str]
    expires_at: float  # seconds since the epoch


class FlowRoleCredentials:
    """Assumes each flow's role through STS; one cache per task-runner container, safe across threads."""

    def __init__(
        self,
        roles_arn: str,
        stack_name: str,
        sts: STSClient | None = None,
        clock: Callable[[], float] = time.time,
        refresh_margin: float = REFRESH_MARGIN_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
        delays: tuple[float, ...] = PROPAGATION_DELAYS,
    ):
        self.sleep = sleep
        self.delays = delays
        self.roles_arn = roles_arn
        self.stack_name = stack_name
        self._sts = sts
        self._clock = clock
        self.refresh_margin = refresh_margin
        self._cache: dict[str, _Cached] = {}
        self._lock = threading.Lock()

    def role_arn(self, namespace: str, flow_id: str) -> str:
        return flow_role_arn(self.roles_arn, self.stack_name, namespace, flow_id)

    def for_flow(self, namespace: str, flow_id: str, execution_id: str) -> dict[str, str]:
        return self.issued(namespace, flow_id, execution_id)[0]

    def issued(self, namespace: str, flow_id: str, execution_id: str) -> tuple[dict[str, str], float]:
        """The credentials, and when they expire (seconds since the epoch)."""
        role = self.role_arn(namespace, flow_id)
        with self._lock:
            cached = self._cache.get(role)
        if cached is not None and self._clock() < cached.expires_at - self.refresh_margin:
            return dict(cached.credentials), cached.expires_at
        response = self._assume(role, session_name(execution_id))
        issued = response["Credentials"]
        credentials = {
            "aws_access_key_id": issued["AccessKeyId"],
            "aws_secret_access_key": issued["SecretAccessKey"],
            "aws_session_token": issued["SessionToken"],
        }
        expires_at = issued["Expiration"].timestamp()
        with self._lock:
            self._cache[role] = _Cached(credentials, expires_at)
        return dict(credentials), expires_at

    def _assume(self, role: str, session: str) -> Any:
        """AssumeRole, again after each delay while STS refuses it with AccessDenied: the first run of
        a freshly deployed flow meets a role IAM has not propagated yet. Bounded: a role that really
        does not trust the task runner fails after the last delay."""
        for delay in (*self.delays, None):
            try:
                return self._client().assume_role(
                    RoleArn=role, RoleSessionName=session, DurationSeconds=SESSION_SECONDS
                )
            except Exception as error:
                if delay is None or error_code(error) != "AccessDenied":
                    raise
                self.sleep(delay)
        raise AssertionError("unreachable")

    def _client(self) -> STSClient:
        if self._sts is None:  # none given (the assembly gives one): boto3's default session
            import boto3  # deferred (~100 ms): a task runner without flow roles never assumes one

            self._sts = boto3.client("sts")
        return self._sts


def flow_credentials(settings: Settings, sts: STSClient | None = None) -> FlowRoleCredentials | None:
    """The provider `STRATOFLOW_FLOW_ROLE_PREFIX` asks for; None (boto3's default chain) when unset."""
    if not settings.stratoflow_flow_role_prefix:
        return None
    return FlowRoleCredentials(settings.stratoflow_flow_role_prefix, settings.stratoflow_stack_name, sts)
