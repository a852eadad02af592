"""Script-sandbox Lambda: one per flow, created by the deployer, whose own role is the flow's sandbox role.

The task runner invokes it synchronously with a `ScriptJob` (`stratoflow.sandbox_call`) and does
everything else itself. Thin by design, and narrow: it imports nothing that needs the table, the data
bucket or a secret (files travel inline or through the presigned URLs in the job), so the credentials
of this environment — the only ones a script here can reach, through its environment, /proc or the
runtime API — are the flow's. A failure of the command is an answer; an exception here is the
sandbox's own fault, which the runner reports as a failed task.
"""

from __future__ import annotations

from typing import Any

from stratoflow.tasks.scripts.sandbox import handle


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle(event)
