"""History events, named as in Step Functions' GetExecutionHistory (`TaskStateEntered`, `MapIterationStarted`, ...)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class EngineEvent:
    """One event of an execution's history; `details` holds input/output/error/cause/index... by event type."""

    id: int
    type: str
    timestamp: datetime
    state: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)


Listener = Callable[[EngineEvent], None]
