"""What the commands that run executions on this machine share: admitting with FILE inputs, running
an admitted execution to its end with its exit code, failing orphans, and the `--json` document.

`strato run`, `trigger`, `backfill`, `restart|replay|resume` and `execute` import this, never each other.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import click

from stratoflow.cli.signals import StopSignals
from stratoflow.domain import Execution, FlowRecord, TaskRun
from stratoflow.engine import ExecutionResult
from stratoflow.engine.runtime import HISTORY_EVENT_LIMIT, PAYLOAD_LIMIT
from stratoflow.execution.admission import should_start
from stratoflow.execution.ids import new_execution_id
from stratoflow.execution.masking import public_document
from stratoflow.local.file_inputs import upload_file_inputs
from stratoflow.states import State

if TYPE_CHECKING:  # types only: `execute` and `--remote` commands run no local engine
    from stratoflow.flow import Flow
    from stratoflow.local import LocalPlatform

EXIT_OK, EXIT_FAILED, EXIT_REFUSED = 0, 1, 2


def admit_with_files(
    platform: LocalPlatform, flow: Flow, record: FlowRecord, inputs: dict[str, Any], **kwargs: Any
) -> Execution:
    """Admit an execution whose FILE inputs typed as local paths are first stored in its storage
    (as Kestra's upload); the copies are removed when admission refuses the start."""
    execution_id = kwargs.pop("execution_id", None) or new_execution_id()
    staged, written = upload_file_inputs(platform.blobs, flow, execution_id, inputs)
    try:
        return platform.admit(flow, record, staged, execution_id=execution_id, **kwargs)
    except BaseException:
        for uri in written:
            platform.blobs.delete(uri)
        raise


def start_and_report(platform: LocalPlatform, flow: Flow, execution: Execution, as_json: bool) -> None:
    """Run an admitted execution to its end here (live view or `--json`) and exit with its verdict."""
    if not should_start(execution):
        # Not to start here: queued (another process's execution ending will start it), refused by
        # the flow's `concurrency` (`behavior: CANCEL | FAIL`), or started before (a repeated delivery).
        why = execution.error or (
            "concurrency limit" if execution.state == State.QUEUED else "started before"
        )
        click.echo(f"execution {execution.id} is {execution.state}: {why}", err=True)
        if as_json:
            click.echo(json.dumps(public_document(execution), indent=2, default=str))
        sys.exit(EXIT_OK if execution.state in (State.QUEUED, State.SUCCESS, State.WARNING) else EXIT_FAILED)
    running = platform.start(execution)

    def kill(name: str) -> None:
        current = platform.store.get_execution(execution.id)
        if current is not None and current.state == State.PAUSED:
            click.echo(
                f"{name}: execution {execution.id} stays PAUSED; `strato resume {execution.id}` continues it",
                err=True,
            )
        else:
            click.echo(f"{name}: killing execution {execution.id} (a second signal exits at once)", err=True)
        platform.stop_all(f"killed by {name}")

    # Ctrl-C and SIGTERM end the execution KILLED, its scripts with it; a paused one stays PAUSED.
    with StopSignals(kill):
        if as_json:
            outcome = platform.finish(execution, running, task_runs=False)
            print_document(run_document(outcome), platform.store.iter_task_runs(execution.id))
        else:
            # Deferred: the live view is rich (~170 ms) that `--json` never pays.
            from stratoflow.cli.live import watch

            outcome = watch(platform, execution, running, flow)
    if platform.storage_faults:  # the cause, which the history itself may have failed to record
        click.echo(f"error: {platform.storage_faults[0]}", err=True)
        sys.exit(EXIT_FAILED)
    sys.exit(EXIT_OK if outcome.execution.state in ("SUCCESS", "WARNING", "PAUSED") else EXIT_FAILED)


def report_orphans(platform: LocalPlatform) -> None:
    """Fail the executions a process that ended (kill -9, a crash) left running, and say so: they
    would hold their flows' concurrency slots for ever."""
    for execution in platform.recover_orphans():
        click.echo(
            f"warning: execution {execution.id} of {execution.namespace}.{execution.flow_id} ended "
            f"{execution.state}: {execution.error}",
            err=True,
        )


def print_document(document: dict[str, Any], task_runs: Iterable[TaskRun]) -> None:
    """Print the `--json` document with `task_runs` as its `taskRuns`, one at a time: the same text as
    `json.dumps(document, indent=2)` without holding every task run, nor its text, at once."""
    text = json.dumps({**document, "taskRuns": []}, indent=2, default=str)
    head, _, tail = text.partition('\n  "taskRuns": []')  # the top-level key: nested ones sit deeper
    click.echo(head + '\n  "taskRuns": [', nl=False)
    first = True
    for run in task_runs:
        entry = json.dumps(task_run_entry(run), indent=2, default=str).replace("\n", "\n    ")
        click.echo(("\n    " if first else ",\n    ") + entry, nl=False)
        first = False
    click.echo(("]" if first else "\n  ]") + tail)


def task_run_entry(run: TaskRun) -> dict[str, Any]:
    """A task run as the `--json` document lists it."""
    return {
        "id": run.id,
        "taskId": run.task_id,
        "parentTaskRunId": run.parent_task_run_id,
        "value": run.value,
        "state": str(run.state),
        "attempts": len(run.attempts),
        "outputs": run.outputs,
    }


def run_document(outcome: Any) -> dict[str, Any]:
    """The `--json` document: the execution and its task runs in creation order.

    A local run adds what the engine counted the way Step Functions does, so the limits a deployed
    execution would meet (25,000 history events, 256 KiB payloads) are visible before deploying.
    """
    execution = outcome.execution
    document = {
        "executionId": execution.id,
        "flow": {"namespace": execution.namespace, "id": execution.flow_id, "revision": execution.revision},
        "state": str(execution.state),
        "labels": execution.labels,
        "outputs": execution.outputs,
        "error": execution.error,
        "taskRuns": [task_run_entry(run) for run in outcome.task_runs],
    }
    result = getattr(outcome, "result", None)
    if isinstance(result, ExecutionResult):
        document["stepFunctions"] = {
            "stateTransitions": result.transitions,
            "historyEvents": result.history_events,
            "historyEventLimit": HISTORY_EVENT_LIMIT,
            "largestPayloadBytes": result.largest_payload,
            "payloadLimitBytes": PAYLOAD_LIMIT,
        }
        parts = getattr(outcome, "parts", [])
        if parts:  # a big flow: each part a child execution, counted on its own as AWS counts it
            document["stepFunctions"]["parts"] = [
                {
                    "stateTransitions": part.transitions,
                    "historyEvents": part.history_events,
                    "largestPayloadBytes": part.largest_payload,
                }
                for part in parts
            ]
    elif isinstance(events := getattr(outcome, "history_events", None), int):  # --cloud-sim: moto's history
        document["stepFunctions"] = {"historyEvents": events, "historyEventLimit": HISTORY_EVENT_LIMIT}
    return document
