"""The name of an execution's current run on its state machine: the first one, then each restart's.

A restart cannot redrive a run (compiled flows catch every task failure and end in a Fail state, so a
redrive would re-run only that state): it starts the state machine again under a new name. Both
engines name runs alike, so a Subflow task restarting its child names the run the same way the cloud's
starter does (`stratoflow.cloud.runtime.runs` builds the ARNs).
"""

from __future__ import annotations

import hashlib

MAX_NAME = 80


def run_name(execution_id: str, restarts: int = 0) -> str:
    """The Step Functions name of an execution's current run: its id, then `<id>_r<n>` per restart."""
    if restarts <= 0:
        return execution_id
    suffix = f"_r{restarts}"
    if len(execution_id) + len(suffix) <= MAX_NAME:
        return f"{execution_id}{suffix}"
    # An id of 80 characters (a caller-chosen one) has no room: keep a hashed prefix, still unique.
    digest = hashlib.sha256(execution_id.encode()).hexdigest()[:8]
    return f"{execution_id[: MAX_NAME - len(suffix) - 9]}-{digest}{suffix}"
