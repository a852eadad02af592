"""`strato schedule preview` (when a Schedule trigger fires) and `strato backfill` (run its past slots)."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from stratoflow.cli.completion import complete_flow_files
from stratoflow.cli.local_runs import report_orphans
from stratoflow.cli.options import home_option
from stratoflow.cli.output import console as make_console
from stratoflow.cli.stacks import StackChoice, split_flow, stack_options
from stratoflow.cloud.config.secrets import configured_secrets
from stratoflow.engine import VirtualClock
from stratoflow.errors import FlowValidationError, StratoflowError
from stratoflow.execution.admission import admit
from stratoflow.execution.flows import live_flow
from stratoflow.flow import load_flow, load_flow_file
from stratoflow.flow.namespace_defaults import recorded_in
from stratoflow.states import State
from stratoflow.store import open_local_store
from stratoflow.store.base import ExecutionStore
from stratoflow.triggers import (
    parse_instant,
    plan_backfill,
    preview_schedule,
    schedule_trigger,
    schedule_triggers,
)

if TYPE_CHECKING:
    from stratoflow.flow import Flow, Schedule
    from stratoflow.local import LocalPlatform
    from stratoflow.triggers import ScheduledStart

EXIT_OK, EXIT_FAILED, EXIT_REFUSED = 0, 1, 2
FLOW_SUFFIXES = (".yaml", ".yml")


def _refuse(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(EXIT_REFUSED)


def _split_reference(store: ExecutionStore, reference: str) -> tuple[str, str]:
    """`namespace.flowId` -> the (namespace, flow id) deployed in the store (both may hold dots)."""
    found = [
        (reference[:at], reference[at + 1 :])
        for at in range(len(reference))
        if reference[at] == "." and store.get_flow(reference[:at], reference[at + 1 :]) is not None
    ]
    if not found:
        raise StratoflowError(
            f"no flow file and no deployed flow named '{reference}' (give a flow file, or NAMESPACE.FLOW_ID "
            "of a flow run locally before)"
        )
    if len(found) > 1:
        readings = ", ".join(f"namespace {ns} flow {flow_id}" for ns, flow_id in found)
        raise StratoflowError(f"'{reference}' is ambiguous ({readings}): give the flow file instead")
    return found[0]


def _stored_flow(store: ExecutionStore, reference: str) -> Flow:
    namespace, flow_id = _split_reference(store, reference)
    flow = live_flow(store, namespace, flow_id)
    if flow is None:  # deleted since it was found
        raise StratoflowError(f"flow {namespace}.{flow_id} is not deployed any more")
    return flow


def _is_file(reference: str) -> bool:
    path = Path(reference)
    if path.is_file():
        return True
    if reference.endswith(FLOW_SUFFIXES):
        raise StratoflowError(f"no such flow file: {reference}")
    return False


def _instant(text: str | None, trigger: Schedule, option: str) -> datetime:
    if text is None:
        return datetime.now(UTC)
    try:
        return parse_instant(text, trigger.timezone)
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is not an ISO 8601 date or date-time (e.g. 2026-03-29 or 2026-03-29T02:00+01:00)",
            param_hint=option,
        ) from None


# --- strato schedule preview ----------------------------------------------------------------------


@click.group("schedule")
def schedule() -> None:
    """Schedule triggers: when they fire, in their time zone and in UTC."""


@schedule.command("preview")
@click.argument("flow_ref", metavar="FLOW", shell_complete=complete_flow_files)
@click.option("--trigger", "trigger_id", help="The Schedule trigger (default: every Schedule trigger).")
@click.option(
    "--from", "start", metavar="T", help="Start at this date-time (default: now); no offset = trigger's zone."
)
@click.option("--count", "-n", type=click.IntRange(1, 1000), default=10, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of tables.")
@home_option
def preview(
    flow_ref: str, trigger_id: str | None, start: str | None, count: int, as_json: bool, home: Path
) -> None:
    """The next fire times of FLOW's Schedule triggers (FLOW: a flow file, or NAMESPACE.FLOW_ID run locally).

    Local times a DST change skips are listed and marked (they do not run); a local time DST repeats
    runs once, at its first occurrence.
    """
    try:
        flow = _load(flow_ref, home)
        triggers = [schedule_trigger(flow, trigger_id)] if trigger_id else schedule_triggers(flow)
        if not triggers:
            raise StratoflowError(f"flow {flow.namespace}.{flow.id} has no Schedule trigger")
    except FlowValidationError as error:
        for diagnostic in error.diagnostics:
            click.echo(str(diagnostic), err=True)
        sys.exit(EXIT_REFUSED)
    except StratoflowError as error:
        _refuse(str(error))
    previews = [preview_schedule(t, _instant(start, t, "--from"), count) for t in triggers]
    if as_json:
        document = {
            "namespace": flow.namespace,
            "flowId": flow.id,
            "triggers": [p.document() for p in previews],
        }
        click.echo(json.dumps(document, indent=2))
        return
    _print_previews(flow, previews)


def _load(flow_ref: str, home: Path) -> Flow:
    if _is_file(flow_ref):
        return load_flow_file(flow_ref)
    if not home.is_dir():
        raise StratoflowError(f"no flow file '{flow_ref}' and no local history under {home}")
    store, _ = open_local_store(home)
    try:
        return _stored_flow(store, flow_ref)
    finally:
        store.close()


def _print_previews(flow: Flow, previews: list[Any]) -> None:
    from rich.table import Table

    console = make_console()
    for item in previews:
        state = "  [yellow](disabled: starts nothing)[/]" if item.disabled else ""
        console.print(f"[bold]{flow.namespace}.{flow.id}[/] trigger [bold]{item.trigger_id}[/]{state}")
        console.print(f"cron {item.cron!r} in {item.timezone}", markup=False)
        scheduler = (
            ", ".join(item.scheduler_expressions)
            or f"cannot run on EventBridge Scheduler: {item.scheduler_error}"
        )
        console.print(f"EventBridge Scheduler: {scheduler}", markup=False)
        table = Table(box=None, header_style="bold")
        for column in ("#", f"local ({item.timezone})", "UTC", "DST"):
            table.add_column(column)
        number = 0
        for row in item.rows:
            number += 0 if row.dst == "skipped" else 1
            style = "dim" if row.dst == "skipped" else ("yellow" if row.dst else None)
            index = "-" if row.dst == "skipped" else str(number)
            table.add_row(index, row.local, row.utc or "(does not run)", row.note, style=style)
        console.print(table)


# --- strato backfill --------------------------------------------------------------------------------


@click.command("backfill")
@click.argument("flow_ref", metavar="FLOW_FILE_OR_NAMESPACE.FLOW_ID", shell_complete=complete_flow_files)
@click.option("--trigger", "trigger_id", help="The Schedule trigger (needed when the flow has several).")
@click.option(
    "--from",
    "start",
    metavar="T1",
    required=True,
    help="First slot at or after T1 (no offset = trigger's zone).",
)
@click.option("--to", "end", metavar="T2", required=True, help="Slots before T2 (exclusive).")
@click.option("--dry-run", is_flag=True, help="List the slots and what would happen; start nothing.")
@click.option(
    "--skip-waits", is_flag=True, help="Do not really wait: Sleep, Wait and retry delays pass at once."
)
@click.option(
    "--remote", is_flag=True, help="On the deployed stack: each slot starts through its admission function."
)
@home_option
@stack_options
def backfill(
    flow_ref: str,
    trigger_id: str | None,
    start: str,
    end: str,
    dry_run: bool,
    skip_waits: bool,
    remote: bool,
    home: Path,
    stack: StackChoice,
) -> None:
    """Start one execution per slot of a Schedule trigger in [T1, T2), on the local engine, one at a time.

    Each slot's execution has `trigger.date` = the slot and an id derived from (flow, trigger, slot):
    running the same backfill again starts nothing twice. With --remote, FLOW is NAMESPACE.FLOW_ID
    deployed on the stack, and each slot starts there (concurrently, as the flow's concurrency allows).
    """
    if remote:
        _remote_backfill(stack, flow_ref, trigger_id, start, end, dry_run)
        return
    platform = None if dry_run else _platform(home, skip_waits)
    try:
        try:
            flow, revision = _backfill_flow(platform, flow_ref, home)
            trigger = schedule_trigger(flow, trigger_id)
            plan = plan_backfill(
                flow, trigger.id, _instant(start, trigger, "--from"), _instant(end, trigger, "--to")
            )
        except FlowValidationError as error:
            for diagnostic in error.diagnostics:
                click.echo(str(diagnostic), err=True)
            sys.exit(EXIT_REFUSED)
        except StratoflowError as error:
            _refuse(str(error))
        title = f"backfill of {flow.namespace}.{flow.id} trigger {trigger.id}"
        if platform is None:
            _dry_run(plan, home, title)
            return
        failed = _run_plan(platform, flow, revision, plan, title)
        sys.exit(EXIT_FAILED if failed else EXIT_OK)
    finally:
        if platform is not None:
            platform.close()


def _platform(home: Path, skip_waits: bool) -> LocalPlatform:
    # Deferred: the local engine (the runner, the expressions: ~250 ms) only for slots run here;
    # `strato schedule` previews and `--remote` backfills never load it.
    from stratoflow.local import LocalPlatform

    platform = LocalPlatform(home, clock=VirtualClock() if skip_waits else None, secrets=configured_secrets())
    report_orphans(platform)  # their slots would hold the backfill up
    return platform


def _backfill_flow(platform: LocalPlatform | None, flow_ref: str, home: Path) -> tuple[Flow, int]:
    """The flow and its revision: a flow file is deployed first (not in a dry run)."""
    if _is_file(flow_ref):
        if platform is None:
            flow = load_flow_file(flow_ref)
            return flow, flow.revision or 0
        flow, record = platform.deploy_file(flow_ref)
        return flow, record.revision
    flow = _stored_flow(platform.store, flow_ref) if platform is not None else _load(flow_ref, home)
    return flow, flow.revision or 0


def _existing_state(home: Path, execution_ids: list[str]) -> dict[str, str]:
    """States of the executions that exist already, read without creating a local history."""
    if not (home / "stratoflow.db").exists():
        return {}

    store, _ = open_local_store(home)
    try:
        found = (store.get_execution(execution_id) for execution_id in execution_ids)
        return {execution.id: str(execution.state) for execution in found if execution is not None}
    finally:
        store.close()


def _dry_run(plan: list[ScheduledStart], home: Path, title: str) -> None:
    _print_dry_run(plan, _existing_state(home, [start.execution_id for start in plan]), title)


def _print_dry_run(plan: list[ScheduledStart], states: dict[str, str], title: str) -> None:
    for start in plan:
        state = states.get(start.execution_id)
        what = f"already done ({state})" if state else "would start"
        click.echo(f"{start.trigger['date']}  {what:<24}  {start.execution_id}")
    pending = sum(1 for start in plan if start.execution_id not in states)
    click.echo(f"{title}: {len(plan)} slot(s), {pending} to start (dry run: nothing started)", err=True)


def _run_plan(
    platform: LocalPlatform, flow: Flow, revision: int, plan: list[ScheduledStart], title: str
) -> int:
    """Admit and run each slot in order; returns how many runs failed."""
    started = done = failed = 0
    for start in plan:
        execution, new = admit(platform.store, flow, revision, **start.admission_kwargs())
        if not new and execution.state != State.CREATED:
            done += 1
            click.echo(f"{start.trigger['date']}  {'already done':<14}  {execution.id}  {execution.state}")
            continue
        # A CREATED execution was admitted by a run that stopped before starting it: start it now.
        outcome = platform.run(execution)
        started += 1
        final = outcome.execution.state
        failed += 0 if final in (State.SUCCESS, State.WARNING) else 1
        click.echo(f"{start.trigger['date']}  {'started':<14}  {execution.id}  {final}")
    click.echo(
        f"{title}: {len(plan)} slot(s): {started} started, {done} already done, {failed} failed", err=True
    )
    return failed


# --- strato backfill --remote -------------------------------------------------------------------------


def _remote_backfill(
    stack: StackChoice, flow_ref: str, trigger_id: str | None, start: str, end: str, dry_run: bool
) -> None:
    """Plan on the stack's live revision; start each slot through admission, as `strato execute` does."""
    resources = stack.resources("table") if dry_run else stack.resources("admission_arn", "table")
    store = stack.store()
    namespace, flow_id = split_flow(flow_ref, store)
    record = store.get_flow(namespace, flow_id)
    try:
        if record is None:
            raise StratoflowError(f"flow {namespace}.{flow_id} is not deployed on the stack")
        flow = load_flow(record.source, f"{namespace}.{flow_id}", recorded_in(record.namespace_defaults))
        trigger = schedule_trigger(flow, trigger_id)
        plan = plan_backfill(
            flow, trigger.id, _instant(start, trigger, "--from"), _instant(end, trigger, "--to")
        )
    except StratoflowError as error:
        _refuse(str(error))
    title = f"backfill of {namespace}.{flow_id} trigger {trigger.id} on the stack"
    if dry_run:
        found = (store.get_execution(s.execution_id) for s in plan)
        states = {execution.id: str(execution.state) for execution in found if execution is not None}
        _print_dry_run(plan, states, title)
        return
    counts = {"started": 0, "already started": 0, "refused": 0, "failed": 0}
    for slot in plan:
        answer = _invoke_admission(resources.admission_arn, namespace, flow_id, slot)
        state = str(answer.get("state"))
        if state == "REFUSED":
            what = "refused"
        elif state == "FAILED":
            what = "failed"
        else:
            what = "started" if answer.get("new") else "already started"
        counts[what] += 1
        detail = f"{state}: {answer['error']}" if answer.get("error") else state
        click.echo(f"{slot.trigger['date']}  {what:<16}  {slot.execution_id}  {detail}")
    summary = ", ".join(f"{count} {what}" for what, count in counts.items())
    click.echo(f"{title}: {len(plan)} slot(s): {summary}", err=True)
    sys.exit(EXIT_FAILED if counts["refused"] or counts["failed"] else EXIT_OK)


def _invoke_admission(arn: str, namespace: str, flow_id: str, slot: ScheduledStart) -> dict[str, Any]:
    """The admission function's answer to the start of one slot (its deterministic execution id)."""
    import boto3

    payload = {
        "namespace": namespace,
        "flowId": flow_id,
        "inputs": slot.inputs,
        "labels": slot.labels,
        "trigger": slot.trigger,
        "executionId": slot.execution_id,
    }
    response = boto3.client("lambda").invoke(FunctionName=arn, Payload=json.dumps(payload).encode())
    answer: dict[str, Any] = json.loads(response["Payload"].read() or b"{}")
    if response.get("FunctionError"):
        raise click.ClickException(
            f"admission failed: {answer.get('errorType')}: {answer.get('errorMessage')}"
        )
    return answer
