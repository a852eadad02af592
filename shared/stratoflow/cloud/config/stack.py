"""Finding a deployed stack's resources from a laptop: CloudFormation outputs, or explicit names.

The CLI's cloud commands need the flows bucket, the table and the admission function. They come from
the outputs of the stack (`FlowsBucketName`, `TableName`, `AdmissionFunctionArn`, ...); a name given
explicitly (an option or its environment variable) wins, and when every needed name is given the
stack is not read at all (a stack deployed under other tooling, or moto in the tests).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from stratoflow.cloud.config.clients import error_code
from stratoflow.errors import StratoflowError

if TYPE_CHECKING:  # boto3-stubs (dev only): nothing of it is imported at run time
    from mypy_boto3_cloudformation import CloudFormationClient

DEFAULT_STACK_NAME = "Stratoflow"

# stack output -> field of StackResources
OUTPUTS = {
    "FlowsBucketName": "flows_bucket",
    "DataBucketName": "data_bucket",
    "TableName": "table",
    "AdmissionFunctionArn": "admission_arn",
    "AlertTopicArn": "alert_topic_arn",
    # Recorded by the Stratoflow construct; a stack deployed by an older release has none.
    "StratoflowVersion": "stack_version",
    # `dataRetentionDays`: records the CLI writes (restart, replay) expire as the stack's own do.
    "DataRetentionDays": "data_retention_days",
}


class StackError(StratoflowError):
    """The stack (or one of its outputs) cannot be found."""


@dataclass(frozen=True)
class StackResources:
    stack_name: str = DEFAULT_STACK_NAME
    flows_bucket: str = ""
    data_bucket: str = ""
    table: str = ""
    admission_arn: str = ""
    alert_topic_arn: str = ""
    stack_version: str = ""
    data_retention_days: str = ""

    @property
    def history_days(self) -> int | None:
        """The stack's retention in days (None: not recorded, a stack of an older release)."""
        return int(self.data_retention_days) if self.data_retention_days.isdigit() else None

    def version_warning(self, installed: str) -> str | None:
        """One line when the stack was deployed by another stratoflow release than this one."""
        if not self.stack_version or self.stack_version == installed:
            return None
        return (
            f"warning: stack {self.stack_name} runs stratoflow {self.stack_version}, this CLI is {installed}: "
            f"install stratoflow=={self.stack_version} or upgrade the stack (`strato stack deploy`)"
        )

    @classmethod
    def resolve(
        cls,
        stack_name: str,
        given: Mapping[str, str | None],
        needed: Iterable[str],
        cloudformation: Callable[[], CloudFormationClient],
    ) -> StackResources:
        """The `needed` fields, from `given` (field -> value) or else from the stack's outputs."""
        resources = cls(stack_name=stack_name, **{k: v for k, v in given.items() if v})
        missing = [name for name in needed if not getattr(resources, name)]
        if not missing:
            return resources
        outputs = read_outputs(cloudformation(), stack_name)
        resources = replace(
            resources,
            **{
                attribute: outputs[output]
                for output, attribute in OUTPUTS.items()
                if output in outputs and not getattr(resources, attribute)
            },
        )
        still = [name for name in needed if not getattr(resources, name)]
        if still:
            names = ", ".join(output for output, attribute in OUTPUTS.items() if attribute in still)
            raise StackError(f"stack {stack_name} has no output {names}: is it a Stratoflow stack?")
        return resources


def read_outputs(cloudformation: CloudFormationClient, stack_name: str) -> dict[str, str]:
    """The outputs of a CloudFormation stack, by output key."""
    try:
        stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except Exception as error:
        # CloudFormation answers ValidationError for a stack that does not exist (or a bad name).
        if error_code(error) == "ValidationError":
            raise StackError(
                f"cannot read stack {stack_name}: {error} (deploy it with `npx aws-cdk@2.1148 deploy`, "
                "or pass --stack)"
            ) from None
        raise
    return {output["OutputKey"]: output["OutputValue"] for output in stacks[0].get("Outputs", [])}
