"""Compile a definition into state objects: one table from state Type to its class."""

from __future__ import annotations

from typing import Any

from stratoflow.engine.branches import MapState, ParallelState
from stratoflow.engine.distributed import DistributedMapState
from stratoflow.engine.machine import SIMPLE_BUILDERS, Builder, Machine, compile_machine
from stratoflow.engine.states import StateNode
from stratoflow.engine.task import TaskState
from stratoflow.engine.validate import is_distributed


def _map(name: str, spec: dict[str, Any], compile_nested: Any) -> StateNode:
    if is_distributed(spec):
        return DistributedMapState(name, spec, compile_nested)
    return MapState(name, spec, compile_nested)


BUILDERS: dict[str, Builder] = {
    **SIMPLE_BUILDERS,
    "Task": lambda name, spec, _compile: TaskState(name, spec),
    "Parallel": ParallelState,
    "Map": _map,
}


def build(definition: dict[str, Any]) -> Machine:
    """The runnable form of a definition that `validate_definition` accepted."""
    return compile_machine(definition, BUILDERS)
