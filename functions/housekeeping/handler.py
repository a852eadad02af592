"""Housekeeping Lambda: the stack's custom resources (infra/constructs/housekeeping.py).

`Custom::StratoflowFlowBoundaries` (only with an operator's boundary, `flowPermissionsBoundaryArn`)
writes the flow-role boundaries that hold the operator's policy and the stack's denials
(stratoflow.cloud.deploy.flow_boundaries). For the housekeeping resource itself: Create and Update do nothing but answer the same physical id (a new one would make CloudFormation
delete the old resource, and with it every flow). Delete, while the stack itself is being deleted,
removes what the deployer created for the stack (stratoflow.cloud.deploy.teardown); what could not
be deleted fails the request, naming it, so the stack's deletion stops where a person can see it.
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from stratoflow.cloud.config.clients import AwsClients
from stratoflow.cloud.deploy import flow_boundaries
from stratoflow.cloud.deploy.teardown import remove_deployed_resources, stack_is_being_deleted

logger = Logger()
clients = AwsClients()


class TeardownFailed(RuntimeError):
    """Some of the deployer's resources are still there; the message names them."""


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if event.get("ResourceType") == flow_boundaries.RESOURCE_TYPE:
        return flow_boundaries.answer(event, clients.iam)
    stack_name = os.environ["STRATOFLOW_STACK_NAME"]
    physical_id = event.get("PhysicalResourceId") or f"{stack_name}-housekeeping"
    if event["RequestType"] != "Delete":
        return {"PhysicalResourceId": physical_id}
    if not stack_is_being_deleted(clients.cloudformation, event["StackId"]):
        logger.info("custom resource removed from a stack that stays: the flows stay deployed")
        return {"PhysicalResourceId": physical_id}
    teardown = remove_deployed_resources(stack_name, clients)
    logger.info("deployed resources removed", extra={"deleted": teardown.deleted, "failed": teardown.failed})
    if teardown.failed:
        raise TeardownFailed(f"could not delete {len(teardown.failed)}: " + "; ".join(teardown.failed)[:3000])
    return {"PhysicalResourceId": physical_id}
