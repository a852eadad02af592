"""What every AWS task shares: region, endpoint and credentials, a boto3 client made on demand, AWS
errors turned into typed failures, and helpers that narrow IAM statements to what the flow names.

boto3 is imported inside `client()`, when a task runs: loading a flow that uses AWS tasks needs no
AWS SDK.
"""

from __future__ import annotations

import re
from abc import abstractmethod
from functools import partial
from typing import Any, ClassVar

from pydantic import model_validator

from stratoflow.flow.run_context import RunContext
from stratoflow.flow.task import RunnableTask
from stratoflow.tasks.aws.errors import aws_failure
from stratoflow.tasks.core import as_text
from stratoflow.tasks.errors import TaskError

KESTRA_AWS = "io.kestra.plugin.aws"
_EXPRESSION = re.compile(r"\{\{|\{%")

Statement = dict[str, list[str]]

# What the calls of S3, SQS, SNS and DynamoDB tasks need of a customer managed key the service uses on
# the caller's behalf (writes a data key, reads a decryption).
KMS_KEY_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey")
KEY_ARN = re.compile(r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[A-Za-z0-9-]+$")
KEY_ARN_START = re.compile(r"^arn:aws[a-z-]*:kms:")  # a templated key: its static part


def statement(actions: list[str], resources: list[str]) -> Statement:
    """One IAM statement as `CompiledFlow.permissions` holds it (duplicates removed, order kept)."""
    return {"Action": list(dict.fromkeys(actions)), "Resource": list(dict.fromkeys(resources))}


def is_static(value: str | None) -> bool:
    """True when the value holds no expression: it is known when the flow is compiled."""
    return value is not None and _EXPRESSION.search(value) is None


def static_prefix(value: str | None) -> str:
    """The part of a value before its first expression (`raw/{{ execution.id }}.json` -> `raw/`)."""
    if value is None:
        return ""
    found = _EXPRESSION.search(value)
    return value if found is None else value[: found.start()]


def pattern(value: str | None) -> str:
    """The value for an ARN: itself when static, else its static prefix followed by `*`."""
    return value if value is not None and is_static(value) else static_prefix(value) + "*"


def regional_arn(service: str, region: str | None, resource: str) -> str:
    """`arn:aws:<service>:<region or *>:*:<resource>`: the account is the deploying one, unknown here."""
    return f"arn:aws:{service}:{pattern(region) if region else '*'}:*:{resource}"


class AwsTask(RunnableTask):
    """An AWS API call from the task runner, with the flow's role unless credentials are given."""

    region: str | None = None
    endpoint_override: str | None = None
    access_key_id: str | None = None
    secret_key_id: str | None = None
    session_token: str | None = None
    service: ClassVar[str] = ""
    # The operations the task's cancel hook (`ctx.on_stop`) calls once its attempt is abandoned.
    cancel_operations: ClassVar[frozenset[str]] = frozenset()

    def client(self, ctx: RunContext) -> object:
        """A boto3 client of the task's service, with its region, endpoint and credentials rendered."""
        import boto3
        from botocore.config import Config

        def text(value: str | None) -> str | None:
            return (as_text(ctx.render(value)) or None) if value is not None else None

        options: dict[str, Any] = {
            "region_name": text(self.region),
            "endpoint_url": text(self.endpoint_override),
            # botocore retries throttling and 5xx a few times before a failure reaches the flow.
            "config": Config(retries={"mode": "standard", "max_attempts": 3}, user_agent_extra="stratoflow"),
        }
        if self.access_key_id is None:
            # In the cloud the flow's own role; else boto3's default chain (the usual one on a laptop).
            # The default session either way, so hooks registered on it (cloudsim's Lambda) apply.
            # The service is the task class's (`service`): the stubs type boto3.client per literal name.
            client = boto3.client(self.service, **options, **(ctx.aws_credentials() or {}))  # type: ignore[call-overload]
        else:
            session = boto3.session.Session(
                aws_access_key_id=text(self.access_key_id),
                aws_secret_access_key=text(self.secret_key_id),
                aws_session_token=text(self.session_token),
            )
            client = session.client(self.service, **options)  # type: ignore[call-overload]
        # An abandoned attempt (runner.abandon) makes no AWS call after it was abandoned but the ones
        # that cancel its work: a call already sent ends on its own, the next one raises TaskStopped.
        client.meta.events.register("before-call", partial(_refuse_when_stopped, ctx, self.cancel_operations))
        return client

    def run(self, ctx: RunContext) -> dict[str, Any]:
        try:
            return self.call(ctx)
        except TaskError:
            raise
        except Exception as error:
            failure = aws_failure(error, self.type_name)
            if failure is None:
                raise
            raise failure from error

    @abstractmethod
    def call(self, ctx: RunContext) -> dict[str, Any]:
        """Do the AWS calls; botocore errors raised here become typed failures."""

    def iam_statements(self) -> list[Statement]:
        """What the task's calls need, and its KMS key when it declares one."""
        return [*self.call_statements(), *self.key_statements()]

    def key_statements(self) -> list[Statement]:
        return []

    @abstractmethod
    def call_statements(self) -> list[Statement]:
        """Exactly the actions this task uses, on the resources the flow names (`*` where it cannot)."""


def _refuse_when_stopped(ctx: RunContext, allowed: frozenset[str], model: Any, **_: Any) -> None:
    if model.name not in allowed:
        ctx.check_stopped()


class EncryptedAwsTask(AwsTask):
    """An AWS task on a bucket, queue, topic or table, which a customer managed KMS key may encrypt."""

    # The key that encrypts them: the flow's role may use it, and its boundary lets it only through the
    # task's service (`kms:ViaService`), as the service uses it on the caller's behalf.
    kms_key_arn: str | None = None

    @model_validator(mode="after")
    def _kms_key_by_its_arn(self) -> EncryptedAwsTask:
        key = self.kms_key_arn
        if key is not None and not (
            KEY_ARN.match(key) if is_static(key) else KEY_ARN_START.match(static_prefix(key))
        ):
            raise ValueError(
                f"kmsKeyArn: '{key}' is not a KMS key ARN (arn:aws:kms:<region>:<account>:key/<key id>; "
                "IAM names a key by its ARN, not by an alias)"
            )
        return self

    def key_statements(self) -> list[Statement]:
        if self.kms_key_arn is None:
            return []
        return [statement(list(KMS_KEY_ACTIONS), [pattern(self.kms_key_arn)])]


def render_text(ctx: RunContext, value: str) -> str:
    return as_text(ctx.render(value))
