"""Completing waiting Step Functions states (Pause, Dag dependencies) with SendTaskSuccess."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # boto3-stubs (dev only): nothing of it is imported at run time
    from mypy_boto3_stepfunctions import SFNClient


class StepFunctionsCallbacks:
    def __init__(self, client: SFNClient):
        self.client = client  # Step Functions

    def send_success(self, token: str, output: Any) -> None:
        self.client.send_task_success(taskToken=token, output=json.dumps(output))
