"""What answers Task states: the `ResourceHandler` protocol, the `TaskCall` it receives, and a router."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from stratoflow.engine.clock import Clock
from stratoflow.engine.errors import UnknownResource

WAIT_FOR_TASK_TOKEN = ".waitForTaskToken"


@dataclass(frozen=True, slots=True)
class TaskCall:
    """Everything a handler may want to know about the Task attempt it answers."""

    execution_name: str
    execution_id: str
    state_name: str
    retry_count: int
    task_token: str | None
    cancelled: threading.Event
    """Set when the attempt no longer matters: the execution stopped, the task timed out, or a sibling
    branch failed. Long handlers should check it (or sleep on it) and return early."""
    clock: Clock
    deadline: datetime | None = None
    """When the task times out (TimeoutSeconds), if it has a timeout."""


class ResourceHandler(Protocol):
    def invoke(self, resource: str, parameters: Any, call: TaskCall) -> Any:
        """Run the task and return its result, or raise `TaskError(error, cause)` to fail it.

        For a resource ending in `.waitForTaskToken` the return value is ignored: the task ends when
        someone calls `send_task_success`/`send_task_failure` with `call.task_token`. Another exception
        fails the task with the exception's class name as error, as Lambda reports an `errorType`.
        """


class Resources:
    """Dispatches each Task to the handler registered for the longest matching prefix of its Resource."""

    def __init__(self, router: Mapping[str, ResourceHandler]):
        self._routes = sorted(router.items(), key=lambda item: len(item[0]), reverse=True)

    def invoke(self, resource: str, parameters: Any, call: TaskCall) -> Any:
        for prefix, handler in self._routes:
            if resource.startswith(prefix):
                return handler.invoke(resource, parameters, call)
        known = ", ".join(prefix for prefix, _ in self._routes) or "none"
        raise UnknownResource(f"no handler for the resource '{resource}' (handled prefixes: {known})")
