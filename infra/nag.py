"""cdk-nag on the whole app, and acknowledgements that always carry their reason.

cdk-nag 3 is a CDK policy-validation plugin: it runs when the app synthesizes and fails synthesis on
any finding that is not acknowledged with `Validations.of(construct).acknowledge(...)`. Findings with
several parts (IAM wildcards) are acknowledged one part at a time, `AwsSolutions-IAM5[Resource::...]`,
where the resource is written as cdk-nag prints it: `<LogicalId.Arn>/*`, `arn:<AWS::Partition>:...`.
"""

from __future__ import annotations

import re
from typing import Any

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct


def add_compliance_checks(app: cdk.App) -> AwsSolutionsChecks:
    """Run the AWS Solutions rule pack on every stack of `app` at synthesis."""
    checks = AwsSolutionsChecks(app)
    cdk.Validations.of(app).add_plugins(checks)
    return checks


def acknowledge(scope: IConstruct, reason: str, *rule_ids: str) -> None:
    """Acknowledge findings on `scope` (and the constructs under it), all for one stated reason."""
    if not reason.strip():
        raise ValueError("a cdk-nag acknowledgement needs a reason")
    if not rule_ids:
        raise ValueError("acknowledge at least one rule id")
    cdk.Validations.of(scope).acknowledge(*(cdk.Acknowledgment(id=rule, reason=reason) for rule in rule_ids))


def wildcard_resource(scope: IConstruct, resource: str) -> str:
    """The id of cdk-nag's IAM5 finding on `resource`, a string that may hold tokens (ARNs)."""
    # cdk-nag prints an IAM policy variable (`${aws:PrincipalTag/k}`) as `<aws:PrincipalTag/k>`.
    rendered = re.sub(r"\$\{([^}]*)\}", r"<\1>", render_cfn(cdk.Stack.of(scope).resolve(resource)))
    return f"AwsSolutions-IAM5[Resource::{rendered}]"


def wildcard_actions(*actions: str) -> list[str]:
    return [f"AwsSolutions-IAM5[Action::{action}]" for action in actions]


def render_cfn(value: Any) -> str:
    """Render a resolved CloudFormation value the way cdk-nag names it in finding ids."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        ((function, argument),) = value.items()
        if function == "Ref":
            return f"<{argument}>"
        if function == "Fn::GetAtt":
            return f"<{argument[0]}.{argument[1]}>"
        if function == "Fn::Join":
            separator, parts = argument
            return str(separator).join(render_cfn(part) for part in parts)
    raise ValueError(f"cannot name a cdk-nag finding for {value!r}")
