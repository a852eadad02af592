"""The execution core: how an execution starts, runs its tasks, is controlled and ends, whatever runs it.

`local/` and `cloud/` are its two adapters; it imports neither, nor `triggers/` (the sources of
deliveries), and reaches storage only through the ports of `store.base`. Modules, each importing only
the ones listed before it:

- `ids`, `runs`: task-run ids and loop scopes; the name of an execution's current run.
- `secrets`, `masking`: the `SecretSource` port (the runner is given one), and the masking of values.
- `flows`: the flow model of a stored revision, the live revision, the flow of an execution.
- `upstream`, `deliveries`: what a trigger delivery must satisfy and gives its execution.
- `lineage`: the correlation id and an execution's chain.
- `admission`: the one path every start takes (inputs, concurrency, `STARTABLE`).
- `control`: kill, restart, replay, resume as requests on the store.
- `flow_retry`, `sla`: a flow's `retry` and its SLAs.
- `runner/`: the task runner every Task state invokes.
- `finalize`: the end of an execution (its state, its slot, its retry, its SLAs).
"""
