"""Compile a definition into state objects: one table from state Type to its class."""

from __future__ import annotations

from typing import Any

from stratoflow.engine.branches import MapState, ParallelState
from stratoflow.engine.machine import SIMPLE_BUILDERS, Builder, Machine, compile_machine
from stratoflow.engine.task import TaskState

BUILDERS: dict[str, Builder] = {
    **SIMPLE_BUILDERS,
    "Task": lambda name, spec, _compile: TaskState(name, spec),
    "Parallel": ParallelState,
    "Map": MapState,
}


def build(definition: dict[str, Any]) -> Machine:
    """The runnable form of a definition that `validate_definition` accepted."""
    return compile_machine(definition, BUILDERS)
