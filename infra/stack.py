"""The repository's stack (`npx cdk deploy`, `strato stack deploy`): the `Stratoflow` construct alone."""

from __future__ import annotations

from typing import Any

from aws_cdk import Stack
from constructs import Construct

from .config import StackConfig
from .platform import Stratoflow

# CDK leaves a construct named "Default" out of logical ids: the platform's resources keep the ids
# they had when this stack built them directly, so a stack deployed before the construct existed is
# updated in place (a changed logical id would make CloudFormation replace the table and buckets).
PLATFORM_ID = "Default"


class StratoflowStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: StackConfig, **kwargs: Any) -> None:
        super().__init__(
            scope,
            construct_id,
            stack_name=config.stack_name,
            description="Stratoflow: Kestra-style YAML flows on AWS Step Functions and Lambda",
            **kwargs,
        )
        self.config = config
        self.platform = Stratoflow(self, PLATFORM_ID, config.props)
