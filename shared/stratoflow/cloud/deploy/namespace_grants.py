"""What AWS resources each namespace's flows may be granted, set by the stack's administrators
(`namespaceGrants` in the CDK context, `STRATOFLOW_NAMESPACE_GRANTS` for the deployer): a flow
uploaded by someone who may write a namespace's flows cannot give its role access to another team's
bucket, table or queue by naming it.

The setting is a JSON object `{namespace: [resource ARN patterns]}`; `*` in a pattern matches any
characters. A namespace may use the patterns of its own entry, of its parent namespaces' entries
(Kestra's inheritance) and of the entry `"*"` (every namespace). Without the setting, nothing is
checked (every flow may name any resource, its role still capped by the stack's permissions boundary).

Whatever the grants, no task may name the stack's own table or buckets (`stack_storage_problems`).
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterator, Mapping, Sequence

from stratoflow.errors import StratoflowError
from stratoflow.flow import Flow
from stratoflow.flow.loader import flow_locations, task_locations
from stratoflow.namespaces import parents

ALL_NAMESPACES = "*"


class GrantsConfigError(StratoflowError):
    """The stack's namespace grants are not a JSON object of lists of ARN patterns."""


def parse_grants(text: str) -> dict[str, list[str]] | None:
    """The grants of `STRATOFLOW_NAMESPACE_GRANTS`; None when unset (no check)."""
    if not text.strip():
        return None
    try:
        value = json.loads(text)
    except ValueError as error:
        raise GrantsConfigError(f"namespace grants: not JSON ({error})") from None
    valid = isinstance(value, dict) and all(
        isinstance(patterns, list) and all(isinstance(p, str) and p for p in patterns)
        for patterns in value.values()
    )
    if not valid:
        raise GrantsConfigError('namespace grants: expected {"namespace": ["arn pattern", ...], ...}')
    return {str(namespace): list(patterns) for namespace, patterns in value.items()}


def patterns_for(grants: Mapping[str, list[str]], namespace: str) -> list[str]:
    return [p for name in (namespace, *parents(namespace), ALL_NAMESPACES) for p in grants.get(name, [])]


def stack_storage_patterns(table: str, buckets: Sequence[str]) -> list[str]:
    """The stack's own table and buckets, as patterns of the ARNs a task declares (any partition,
    region and account: a task's ARN has `*` where its region is templated)."""
    patterns = [f"arn:*:dynamodb:*:*:table/{table}", f"arn:*:dynamodb:*:*:table/{table}/*"]
    return patterns + [
        arn for bucket in buckets for arn in (f"arn:*:s3:::{bucket}", f"arn:*:s3:::{bucket}/*")
    ]


def stack_storage_problems(flow: Flow, patterns: Sequence[str]) -> list[str]:
    """One message per resource a task names that is the stack's own table or bucket, located.

    Flows reach those through `kv`, `read()` and `strato://` files, whose namespace checks a task with
    its own grant would bypass; the flow-role boundary refuses them anyway, but only when the task
    runs. A templated name (`*`) is left to the boundary: it is not the stack's by its text.
    """
    return [
        f"{prefix}task '{task_id}': {resource} is the stack's own storage: flows reach it through kv, "
        "read() and strato:// files, not through AWS tasks"
        for prefix, task_id, resource in _declared_resources(flow)
        if any(fnmatch.fnmatchcase(resource, pattern) for pattern in patterns)
    ]


def _declared_resources(flow: Flow) -> Iterator[tuple[str, str, str]]:
    """(`file:line:col: `, task id, resource) of each resource the enabled tasks of `flow` declare."""
    locations: dict[str, tuple[str, int, int]] | None = None  # walked once, when a task declares any
    for task in flow.all_tasks():
        declare = getattr(task, "iam_statements", None)
        if declare is None or task.disabled:
            continue
        statements = declare()
        if not statements:
            continue
        if locations is None:
            locations = task_locations(flow)
        where = locations.get(task.id)
        prefix = f"{where[0]}:{where[1]}:{where[2]}: " if where else ""
        for statement in statements:
            for resource in statement["Resource"]:
                yield prefix, task.id, resource


def refused_resources(flow: Flow, grants: Mapping[str, list[str]] | None) -> list[str]:
    """One message per resource a task of `flow` names that its namespace is not granted, located."""
    if grants is None:
        return []
    allowed = patterns_for(grants, flow.namespace)
    problems: list[str] = []
    # The pipes role reads an SQS trigger's queue for the flow: the queue must be granted too.
    for index, trigger in enumerate(flow.triggers):
        source = getattr(trigger, "source_arn", None)
        if isinstance(source, str) and not any(fnmatch.fnmatchcase(source, p) for p in allowed):
            field_name = "queueUrl" if getattr(trigger, "queue_url", None) is not None else "queueArn"
            position = flow_locations(flow).get(f"triggers[{index}].{field_name}")
            prefix = f"{flow.source.file}:{position[0]}:{position[1]}: " if position and flow.source else ""
            problems.append(
                f"{prefix}triggers[{index}].{field_name}: {source} is not among the resources namespace "
                f"'{flow.namespace}' may be granted (the stack's namespaceGrants)"
            )
    for prefix, task_id, resource in _declared_resources(flow):
        if not any(fnmatch.fnmatchcase(resource, pattern) for pattern in allowed):
            problems.append(
                f"{prefix}task '{task_id}': {resource} is not among the resources namespace "
                f"'{flow.namespace}' may be granted (the stack's namespaceGrants)"
            )
    return problems
