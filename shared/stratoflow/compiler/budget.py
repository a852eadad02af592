"""How many history events a loop iteration adds to its execution, counted the way Step Functions does.

The ForEach start call gets this figure from the compiler and multiplies it by the items of the loop
and of the inline loops around it: past a budget, the loop runs its iterations as child executions
(a distributed Map) so that no execution reaches Step Functions' 25,000-event limit.
"""

from __future__ import annotations

from collections.abc import Mapping

# Events a state adds when it runs once: a Lambda task is Entered, Scheduled, Started, Succeeded and
# Exited; a Parallel is Entered, Started, Succeeded and Exited around its branches; a Map is Entered,
# Started, Succeeded and Exited (+2 for a distributed Map's run) around its iterations, which its own
# loop accounts for at run time.
_EVENTS = {"Task": 5, "Pass": 2, "Wait": 2, "Choice": 2, "Succeed": 2, "Fail": 1, "Parallel": 4, "Map": 6}
_ITERATION = 2
"""MapIterationStarted and MapIterationSucceeded."""


def iteration_events(processor: Mapping[str, object]) -> int:
    """An upper bound of the events one iteration of `processor` adds: every state once, branches included."""
    return _ITERATION + machine_events(processor)


def machine_events(machine: Mapping[str, object]) -> int:
    """The events a state machine adds when each of its states runs once (branches included)."""
    states = machine.get("States")
    total = 0
    for state in states.values() if isinstance(states, dict) else ():
        if not isinstance(state, dict):
            continue
        total += _EVENTS.get(str(state.get("Type")), 2)
        for branch in state.get("Branches", []):
            total += machine_events(branch)
    return total
