"""A compiled state machine (the top level, a Parallel branch or a Map item processor) and its run loop."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from stratoflow.engine.runtime import CancelScope, Run
from stratoflow.engine.states import ChoiceState, FailState, PassState, StateNode, SucceedState, WaitState


class Machine:
    __slots__ = ("start_at", "states")

    def __init__(self, start_at: str, states: dict[str, StateNode]):
        self.start_at = start_at
        self.states = states


def run_machine(machine: Machine, data: Any, run: Run, scope: CancelScope) -> Any:
    """Run states from StartAt until one ends; returns the last output, raises StateFailure or Cancelled."""
    states = machine.states
    name: str | None = machine.start_at
    while name is not None:
        run.check(scope)
        run.count_transition()
        data, name = states[name].execute(data, run, scope)
    return data


Builder = Callable[[str, dict[str, Any], Callable[[dict[str, Any]], Machine]], StateNode]


def compile_machine(definition: dict[str, Any], builders: dict[str, Builder]) -> Machine:
    """Compile a validated definition (or branch, or item processor) into state objects."""

    def compile_nested(nested: dict[str, Any]) -> Machine:
        return compile_machine(nested, builders)

    states = {
        name: builders[spec["Type"]](name, spec, compile_nested)
        for name, spec in definition["States"].items()
    }
    return Machine(definition["StartAt"], states)


SIMPLE_BUILDERS: dict[str, Builder] = {
    "Pass": lambda name, spec, _compile: PassState(name, spec),
    "Wait": lambda name, spec, _compile: WaitState(name, spec),
    "Choice": lambda name, spec, _compile: ChoiceState(name, spec),
    "Succeed": lambda name, spec, _compile: SucceedState(name, spec),
    "Fail": lambda name, spec, _compile: FailState(name, spec),
}
