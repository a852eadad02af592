"""Lowering: each task -> ASL states, dispatched through one table on the task's kind
(`Task.compiled_as`).

A runnable task is one runner call (`runnable`); a flowable task is lowered in the frame of
`stratoflow.compiler.frame` by its family: `structure` (blocks, branches, loops) or `waits` (timers,
`strato resume`, conditions, child executions); a native AWS task is a Step Functions service
integration between runner calls (`services`). The families lower their children through the
`Builder` they are given, which carries this table: so they never import it, and nothing here is
registered by importing a module.
"""

from __future__ import annotations

from collections.abc import Mapping

from stratoflow.compiler import items, runnable, services, structure, waits
from stratoflow.compiler.builder import Lowerer

LOWERERS: Mapping[str, Lowerer] = {
    "runnable": runnable.lower_runnable,
    "service_integration": services.lower_service_integration,
    "Sequential": structure.lower_sequential,
    "AllowFailure": structure.lower_allow_failure,
    "Parallel": structure.lower_parallel,
    "Each": structure.lower_each,
    "If": structure.lower_if,
    "Switch": structure.lower_switch,
    "Dag": structure.lower_dag,
    "Sleep": waits.lower_sleep,
    "Pause": waits.lower_pause,
    "Subflow": waits.lower_subflow,
    "WaitFor": waits.lower_wait_for,
    "ForEachItem": items.lower_for_each_item,
}
