"""The task runner's "Execution Paused" events: Flow triggers on PAUSED, in the cloud.

A Pause records its execution PAUSED in the task runner (the callback's first call); the runner's pause
hook then puts an event on the stack's bus, as the execution-events function does for an end. The
rule of a trigger on PAUSED (`cloud.deploy.rules`) hands it to admission, which names the start after
the pause (`<upstream>-p<n>`): a pause fires once, whatever the retries of the event.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from stratoflow.domain import Execution
from stratoflow.execution.occurrences import EVENT_SOURCE, PAUSED_DETAIL_TYPE, paused_event_detail

if TYPE_CHECKING:  # boto3-stubs (dev only): nothing of it is imported at run time
    from mypy_boto3_events import EventBridgeClient

log = logging.getLogger("stratoflow.cloud.paused")


def pause_publisher(events: EventBridgeClient, bus_name: str) -> Callable[[Execution], None]:
    """A runner pause hook that publishes "Execution Paused" on `bus_name` (raises when refused)."""

    def publish(paused: Execution) -> None:
        detail = paused_event_detail(paused)
        response = events.put_events(
            Entries=[
                {
                    "Source": EVENT_SOURCE,
                    "DetailType": PAUSED_DETAIL_TYPE,
                    "Detail": json.dumps(detail, default=str),
                    "EventBusName": bus_name,
                }
            ]
        )
        if response.get("FailedEntryCount"):
            entry = response["Entries"][0]
            raise RuntimeError(
                f"EventBridge refused the event: {entry.get('ErrorCode')} {entry.get('ErrorMessage')}"
            )
        log.info("published %s for %s (%s)", PAUSED_DETAIL_TYPE, paused.id, detail["occurrence"])

    return publish
