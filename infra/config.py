"""The platform's settings: the props of the `Stratoflow` construct, and the CDK context
(`cdk.json` or `cdk deploy -c key=value`) the repository's app and `strato stack` read them from."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from aws_cdk import RemovalPolicy, Token
from aws_cdk import aws_logs as logs
from constructs import Node

DEFAULT_STACK_NAME = "Stratoflow"

# No hyphen inside the name: the deployer owns every resource whose name starts with "<StackName>-", so
# a stack "Stratoflow" must not own the resources of a stack "Stratoflow-dev" in the same account.
STACK_NAME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9]{0,39}$")
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MANAGED_POLICY_ARN_PATTERN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:policy/[\w+=,.@/-]+$")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
FUNCTION_NAMES = ("task_runner", "deployer", "admission", "execution_events", "webhook")

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
    """A setting the platform cannot use; the message starts with the setting's name.

    `setting` is the prop's name (`alert_email`); read from CDK context, the message names the
    context key (`alertEmail`) instead.
    """

    def __init__(self, setting: str, problem: str) -> None:
        super().__init__(f"{setting}{problem}")
        self.setting = setting
        self.problem = problem


@dataclass(frozen=True)
class StratoflowProps:
    """What the `Stratoflow` construct takes; every setting has a default and is checked here."""

    # Subscribed to the alerts topic (the address confirms the subscription).
    alert_email: str | None = None
    # Executions, task runs and logs expire this many days after they were written, their stored
    # outputs and files 2 days later.
    data_retention_days: int = 30
    # The platform functions' and state machines' log groups (a period CloudWatch Logs accepts).
    log_retention_days: int = 30
    log_level: str = "INFO"
    # RETAIN keeps the buckets, the table and the log groups when the stack is deleted.
    removal_policy: RemovalPolicy = RemovalPolicy.RETAIN
    # A managed policy of the operator's that caps every flow role, beside the stack's denials.
    flow_permissions_boundary_arn: str | None = None
    # {namespace: [ARN patterns]}: the AWS resources each namespace's flows may name (None: unchecked);
    # a pattern may hold tokens (`bucket.arn_for_objects("raw/*")` of a bucket in the same app).
    namespace_grants: Mapping[str, Sequence[str]] | None = None
    # Reserved concurrency per platform function ({"task_runner": 50}); unset: the account's pool.
    reserved_concurrency: Mapping[str, int] = field(default_factory=dict)
    # Reserved concurrency of the webhook function (0: none): the most a flood of requests can take.
    webhook_concurrency: int = 10
    # The web console: pages behind CloudFront, its API behind API Gateway, users in Cognito.
    console: bool = True
    # Script tasks with `taskRunner: {type: aws.runner.Fargate}` run in these subnets with these
    # security groups (ids); unset, the stack builds no container platform and refuses such flows.
    container_subnets: Sequence[str] = ()
    container_security_groups: Sequence[str] = ()
    # ENABLED for public subnets without a NAT gateway (the image is pulled from ECR).
    container_assign_public_ip: bool = False

    def __post_init__(self) -> None:
        _check_props(self)
        # Copies, so that a caller's later change of its dict cannot change a synthesized stack.
        object.__setattr__(self, "log_level", self.log_level.upper())
        object.__setattr__(self, "reserved_concurrency", dict(sorted(self.reserved_concurrency.items())))
        object.__setattr__(self, "container_subnets", tuple(self.container_subnets))
        object.__setattr__(self, "container_security_groups", tuple(self.container_security_groups))
        if self.namespace_grants is not None:
            grants = {str(ns): list(patterns) for ns, patterns in self.namespace_grants.items()}
            object.__setattr__(self, "namespace_grants", grants)

    @property
    def log_retention(self) -> logs.RetentionDays:
        return RETENTION_DAYS[self.log_retention_days]

    @property
    def destroy_on_delete(self) -> bool:
        return self.removal_policy == RemovalPolicy.DESTROY


def _check_props(props: StratoflowProps) -> None:
    if props.alert_email is not None and not EMAIL_PATTERN.match(props.alert_email):
        raise ConfigError("alert_email", f" {props.alert_email!r} is not an e-mail address")
    for name in ("data_retention_days", "log_retention_days"):
        days = getattr(props, name)
        if isinstance(days, bool) or not isinstance(days, int):
            raise ConfigError(name, f" {days!r}: expected a whole number of days")
        if days < 1:
            raise ConfigError(name, f" {days}: expected at least 1 day")
    if props.log_retention_days not in RETENTION_DAYS:
        allowed = ", ".join(str(days) for days in RETENTION_DAYS)
        raise ConfigError(
            "log_retention_days", f" {props.log_retention_days}: CloudWatch Logs accepts {allowed}"
        )
    if not isinstance(props.log_level, str) or props.log_level.upper() not in LOG_LEVELS:
        raise ConfigError("log_level", f" {props.log_level!r}: expected one of {', '.join(LOG_LEVELS)}")
    if not isinstance(props.removal_policy, RemovalPolicy) or props.removal_policy not in (
        RemovalPolicy.RETAIN,
        RemovalPolicy.DESTROY,
    ):
        raise ConfigError("removal_policy", f" {props.removal_policy!r}: expected RETAIN or DESTROY")
    boundary = props.flow_permissions_boundary_arn
    if boundary is not None and not MANAGED_POLICY_ARN_PATTERN.match(boundary):
        raise ConfigError(
            "flow_permissions_boundary_arn",
            f" {boundary!r}: expected a managed policy ARN (arn:aws:iam::<account>:policy/<name>)",
        )
    grants = props.namespace_grants
    valid_grants = grants is None or (
        isinstance(grants, Mapping)
        and all(
            isinstance(patterns, Sequence)
            and not isinstance(patterns, str)
            and all(isinstance(p, str) and (p.startswith("arn:") or Token.is_unresolved(p)) for p in patterns)
            for patterns in grants.values()
        )
    )
    if not valid_grants:
        raise ConfigError("namespace_grants", ': expected {"namespace": ["arn:...pattern", ...], ...}')
    _check_reserved_concurrency(props.reserved_concurrency)
    webhook = props.webhook_concurrency
    if isinstance(webhook, bool) or not isinstance(webhook, int) or not 0 <= webhook <= 1000:
        raise ConfigError("webhook_concurrency", f" {webhook!r}: expected a whole number from 0 to 1000")
    if not isinstance(props.console, bool):
        raise ConfigError("console", f" {props.console!r}: expected True or False")
    _check_container_network(props)


def _check_container_network(props: StratoflowProps) -> None:
    for name, prefix in (("container_subnets", "subnet-"), ("container_security_groups", "sg-")):
        ids = getattr(props, name)
        if isinstance(ids, str) or not all(isinstance(i, str) and i.startswith(prefix) for i in ids):
            raise ConfigError(name, f" {ids!r}: expected a list of ids starting with '{prefix}'")
    if bool(props.container_subnets) != bool(props.container_security_groups):
        raise ConfigError(
            "container_subnets",
            ": set both container_subnets and container_security_groups (the network containers run in)",
        )
    if not isinstance(props.container_assign_public_ip, bool):
        raise ConfigError(
            "container_assign_public_ip", f" {props.container_assign_public_ip!r}: expected True or False"
        )


def _check_reserved_concurrency(reserved: Any) -> None:
    """`{"task_runner": 50}`: a function keeps that many concurrent executions for itself (and may
    use no more). Lambda refuses a reservation that leaves the account fewer than 100 unreserved, so
    on an account with the default quota of 1,000 the sum stays under 900; new accounts whose quota
    is lower cannot reserve any."""
    if not isinstance(reserved, Mapping):
        raise ConfigError(
            "reserved_concurrency", f' {reserved!r}: expected a mapping such as {{"task_runner": 50}}'
        )
    for name, count in reserved.items():
        if name not in FUNCTION_NAMES:
            raise ConfigError(
                "reserved_concurrency",
                f": unknown function {name!r}; expected one of {', '.join(FUNCTION_NAMES)}",
            )
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ConfigError(
                "reserved_concurrency", f".{name} {count!r}: expected a whole number of at least 1"
            )


# prop -> CDK context key (`cdk deploy -c key=value`, cdk.json)
CONTEXT_KEYS = {
    "alert_email": "alertEmail",
    "data_retention_days": "dataRetentionDays",
    "log_retention_days": "logRetentionDays",
    "log_level": "logLevel",
    "removal_policy": "removalPolicy",
    "flow_permissions_boundary_arn": "flowPermissionsBoundaryArn",
    "namespace_grants": "namespaceGrants",
    "reserved_concurrency": "reservedConcurrency",
    "webhook_concurrency": "webhookConcurrency",
    "console": "console",
    "container_subnets": "containerSubnets",
    "container_security_groups": "containerSecurityGroups",
    "container_assign_public_ip": "containerAssignPublicIp",
}
assert set(CONTEXT_KEYS) == {f.name for f in fields(StratoflowProps)}


@dataclass(frozen=True)
class StackConfig:
    """The repository's app (and `strato stack`): a stack's name and the props, from CDK context."""

    stack_name: str = DEFAULT_STACK_NAME
    props: StratoflowProps = field(default_factory=StratoflowProps)

    @classmethod
    def from_context(cls, node: Node) -> StackConfig:
        """Read and check every context key; an unset key keeps its default."""
        keys = ("stackName", *CONTEXT_KEYS.values())
        return cls.from_mapping({key: node.try_get_context(key) for key in keys})

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> StackConfig:
        stack_name = _text(values.get("stackName"), DEFAULT_STACK_NAME)
        check_stack_name(stack_name, setting="stackName")
        # `-c key=value` on the command line gives strings, cdk.json gives numbers and objects.
        readers = {
            "alert_email": lambda v: _text(v, "") or None,
            "data_retention_days": _whole_number,
            "log_retention_days": _whole_number,
            "log_level": lambda v: _text(v, "INFO"),
            "removal_policy": _removal_policy,
            "flow_permissions_boundary_arn": lambda v: _text(v, "") or None,
            "namespace_grants": lambda v: _json("namespace_grants", v),
            "reserved_concurrency": lambda v: _json("reserved_concurrency", v),
            "webhook_concurrency": _whole_number,
            "console": _flag,
            "container_subnets": _ids,
            "container_security_groups": _ids,
            "container_assign_public_ip": _flag,
        }
        try:
            given = {
                name: readers[name](values[key])
                for name, key in CONTEXT_KEYS.items()
                if values.get(key) not in (None, "")
            }
            return cls(stack_name=stack_name, props=StratoflowProps(**given))
        except ConfigError as error:
            raise ConfigError(CONTEXT_KEYS[error.setting], error.problem) from None


def check_stack_name(stack_name: str, *, setting: str) -> None:
    if not STACK_NAME_PATTERN.match(stack_name):
        raise ConfigError(
            setting,
            f" {stack_name!r}: use 1-40 letters and digits, starting with a letter "
            "(no hyphen: resources are owned by the prefix '<stackName>-')",
        )


def _text(value: Any, default: str) -> str:
    return default if value is None else str(value).strip()


def _whole_number(value: Any) -> Any:
    """A number's text becomes the number; anything else is left for the props' check to name."""
    text = str(value).strip()
    if not isinstance(value, bool) and re.fullmatch(r"-?\d+", text):
        return int(text)
    return value


def _ids(value: Any) -> Any:
    """`subnet-a,subnet-b` (the command line) or a JSON list (cdk.json) -> a tuple of ids."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            value = _json("container_subnets", text)
        else:
            return tuple(part.strip() for part in text.split(",") if part.strip())
    return tuple(value) if isinstance(value, list | tuple) else value


def _removal_policy(value: Any) -> Any:
    policies = {"retain": RemovalPolicy.RETAIN, "destroy": RemovalPolicy.DESTROY}
    return policies.get(str(value).strip().lower(), str(value))


def _flag(value: Any) -> Any:
    flags = {"true": True, "false": False}
    return flags.get(str(value).strip().lower(), value) if isinstance(value, str) else value


def _json(setting: str, value: Any) -> Any:
    """An object given as text (`-c 'reservedConcurrency={"task_runner": 50}'`) is parsed."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        raise ConfigError(setting, f" {value[:60]!r}: expected JSON such as " + _EXAMPLES[setting]) from None


_EXAMPLES = {
    "namespace_grants": '{"team.a": ["arn:aws:s3:::team-a-*"]}',
    "reserved_concurrency": '{"task_runner": 50}',
    "container_subnets": '["subnet-0123", "subnet-4567"]',
}
