"""Completing waiting Step Functions states (Pause, Dag dependencies) with SendTaskSuccess."""

from __future__ import annotations

import json
from typing import Any


class StepFunctionsCallbacks:
    def __init__(self, client: Any):
        self.client = client  # Step Functions

    def send_success(self, token: str, output: Any) -> None:
        self.client.send_task_success(taskToken=token, output=json.dumps(output))
