"""The stack's settings, read from CDK context (`cdk.json` or `cdk deploy -c key=value`)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from aws_cdk import RemovalPolicy
from aws_cdk import aws_logs as logs
from constructs import Node

DEFAULT_STACK_NAME = "Stratoflow"

# No hyphen inside the name: the deployer owns every resource whose name starts with "<StackName>-", so
# a stack "Stratoflow" must not own the resources of a stack "Stratoflow-dev" in the same account.
STACK_NAME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9]{0,39}$")
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MANAGED_POLICY_ARN_PATTERN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:policy/[\w+=,.@/-]+$")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

# CloudWatch Logs accepts only these retention periods.
RETENTION_DAYS: dict[int, logs.RetentionDays] = {
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    120: logs.RetentionDays.FOUR_MONTHS,
    150: logs.RetentionDays.FIVE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    400: logs.RetentionDays.THIRTEEN_MONTHS,
    545: logs.RetentionDays.EIGHTEEN_MONTHS,
    731: logs.RetentionDays.TWO_YEARS,
    1096: logs.RetentionDays.THREE_YEARS,
    1827: logs.RetentionDays.FIVE_YEARS,
    2192: logs.RetentionDays.SIX_YEARS,
    2557: logs.RetentionDays.SEVEN_YEARS,
    2922: logs.RetentionDays.EIGHT_YEARS,
    3288: logs.RetentionDays.NINE_YEARS,
    3653: logs.RetentionDays.TEN_YEARS,
}


class ConfigError(ValueError):
    """A context value the stack cannot use; the message names the context key."""


@dataclass(frozen=True)
class StackConfig:
    stack_name: str = DEFAULT_STACK_NAME
    removal_policy: RemovalPolicy = RemovalPolicy.RETAIN
    data_retention_days: int = 30
    log_retention_days: int = 30
    alert_email: str | None = None
    log_level: str = "INFO"
    # A managed policy of the operator's that caps every flow role instead of the stack's own boundary.
    flow_boundary_arn: str | None = None
    # Reserved concurrency of the webhook function (0: none): the most a flood of requests can take.
    webhook_concurrency: int = 10
    # {namespace: [ARN patterns]}: the AWS resources each namespace's flows may name (None: unchecked).
    namespace_grants: dict[str, list[str]] | None = None
    # Reserved concurrency per platform function ({"task_runner": 50}); unset: the account's pool.
    reserved_concurrency: tuple[tuple[str, int], ...] = ()

    @property
    def log_retention(self) -> logs.RetentionDays:
        return RETENTION_DAYS[self.log_retention_days]

    @property
    def destroy_on_delete(self) -> bool:
        return self.removal_policy == RemovalPolicy.DESTROY

    @classmethod
    def from_context(cls, node: Node) -> StackConfig:
        """Read and check every context key; an unset key keeps its default."""
        return cls.from_mapping({key: node.try_get_context(key) for key in _CONTEXT_KEYS})

    @classmethod
    def from_mapping(cls, values: dict[str, Any]) -> StackConfig:
        defaults = cls()
        stack_name = _text(values.get("stackName"), defaults.stack_name)
        if not STACK_NAME_PATTERN.match(stack_name):
            raise ConfigError(
                f"stackName {stack_name!r}: use 1-40 letters and digits, starting with a letter "
                "(no hyphen: resources are owned by the prefix '<stackName>-')"
            )
        removal = _text(values.get("removalPolicy"), "retain").lower()
        if removal not in ("retain", "destroy"):
            raise ConfigError(f"removalPolicy {removal!r}: expected 'retain' or 'destroy'")
        log_retention = _positive_int("logRetentionDays", values.get("logRetentionDays"), 30)
        if log_retention not in RETENTION_DAYS:
            allowed = ", ".join(str(days) for days in RETENTION_DAYS)
            raise ConfigError(f"logRetentionDays {log_retention}: CloudWatch Logs accepts {allowed}")
        alert_email = _text(values.get("alertEmail"), "") or None
        if alert_email is not None and not EMAIL_PATTERN.match(alert_email):
            raise ConfigError(f"alertEmail {alert_email!r} is not an e-mail address")
        log_level = _text(values.get("logLevel"), defaults.log_level).upper()
        if log_level not in LOG_LEVELS:
            raise ConfigError(f"logLevel {log_level!r}: expected one of {', '.join(LOG_LEVELS)}")
        flow_boundary_arn = _text(values.get("flowPermissionsBoundaryArn"), "") or None
        if flow_boundary_arn is not None and not MANAGED_POLICY_ARN_PATTERN.match(flow_boundary_arn):
            raise ConfigError(
                f"flowPermissionsBoundaryArn {flow_boundary_arn!r}: expected a managed policy ARN "
                "(arn:aws:iam::<account>:policy/<name>)"
            )
        webhook_concurrency = _count("webhookConcurrency", values.get("webhookConcurrency"), 10)
        namespace_grants = _grants(values.get("namespaceGrants"))
        return cls(
            namespace_grants=namespace_grants,
            webhook_concurrency=webhook_concurrency,
            reserved_concurrency=_reserved_concurrency(values.get("reservedConcurrency")),
            stack_name=stack_name,
            removal_policy=RemovalPolicy.DESTROY if removal == "destroy" else RemovalPolicy.RETAIN,
            data_retention_days=_positive_int("dataRetentionDays", values.get("dataRetentionDays"), 30),
            log_retention_days=log_retention,
            alert_email=alert_email,
            log_level=log_level,
            flow_boundary_arn=flow_boundary_arn,
        )


_CONTEXT_KEYS = (
    "stackName",
    "removalPolicy",
    "dataRetentionDays",
    "logRetentionDays",
    "alertEmail",
    "logLevel",
    "flowPermissionsBoundaryArn",
    "webhookConcurrency",
    "namespaceGrants",
    "reservedConcurrency",
)
FUNCTION_NAMES = ("task_runner", "deployer", "admission", "execution_events", "webhook")


def _reserved_concurrency(value: Any) -> tuple[tuple[str, int], ...]:
    """`{"task_runner": 50}`: a function keeps that many concurrent executions for itself (and may
    use no more). Lambda refuses a reservation that leaves the account fewer than 100 unreserved, so
    on an account with the default quota of 1,000 the sum stays under 900; new accounts whose quota
    is lower cannot reserve any."""
    if value is None or value == "":
        return ()
    if isinstance(value, str):  # `cdk deploy -c reservedConcurrency='{"task_runner": 50}'`
        try:
            value = json.loads(value)
        except ValueError:
            raise ConfigError(
                f'reservedConcurrency {value!r}: expected JSON such as {{"task_runner": 50}}'
            ) from None
    if not isinstance(value, dict):
        raise ConfigError(f'reservedConcurrency {value!r}: expected a mapping such as {{"task_runner": 50}}')
    reserved = []
    for name, count in value.items():
        if name not in FUNCTION_NAMES:
            raise ConfigError(
                f"reservedConcurrency: unknown function {name!r}; expected one of {', '.join(FUNCTION_NAMES)}"
            )
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ConfigError(f"reservedConcurrency.{name} {count!r}: expected a whole number of at least 1")
        reserved.append((str(name), count))
    return tuple(sorted(reserved))


def _text(value: Any, default: str) -> str:
    return default if value is None else str(value).strip()


def _grants(value: Any) -> dict[str, list[str]] | None:
    """`namespaceGrants`: a JSON object (or its text, from `-c`) of lists of ARN patterns."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise ConfigError(f"namespaceGrants {value[:60]!r}: not JSON") from None
    valid = isinstance(value, dict) and all(
        isinstance(patterns, list) and all(isinstance(p, str) and p.startswith("arn:") for p in patterns)
        for patterns in value.values()
    )
    if not valid:
        raise ConfigError('namespaceGrants: expected {"namespace": ["arn:...pattern", ...], ...}')
    return {str(namespace): list(patterns) for namespace, patterns in value.items()}


def _count(key: str, value: Any, default: int) -> int:
    """A whole number from 0 to 1000 (strings from `-c key=value`, numbers from cdk.json)."""
    if value is None or value == "":
        return default
    text = str(value).strip()
    if isinstance(value, bool) or not text.isdigit() or int(text) > 1000:
        raise ConfigError(f"{key} {value!r}: expected a whole number from 0 to 1000")
    return int(text)


def _positive_int(key: str, value: Any, default: int) -> int:
    # `-c key=value` on the command line gives strings, cdk.json gives numbers: accept both.
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        raise ConfigError(f"{key} {value!r}: expected a whole number of days")
    try:
        number = int(str(value).strip())
    except ValueError:
        raise ConfigError(f"{key} {value!r}: expected a whole number of days") from None
    if number < 1:
        raise ConfigError(f"{key} {number}: expected at least 1 day")
    return number
