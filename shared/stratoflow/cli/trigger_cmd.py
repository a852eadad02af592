"""`strato trigger FLOW --trigger ID`: fire one of a flow's triggers by hand, through admission.

Locally the execution runs here, as with `strato run` (live view, `--json`, the same exit codes); with
`--remote` the start goes to the stack's admission function, as `strato execute` does.
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import click

from stratoflow.cli.ids import resolve_execution_id
from stratoflow.cli.local_runs import EXIT_REFUSED as REFUSED
from stratoflow.cli.local_runs import admit_with_files, start_and_report
from stratoflow.cli.options import home_option, parse_pairs
from stratoflow.cli.schedule_cmd import _backfill_flow, _platform
from stratoflow.cli.stacks import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_REFUSED,
    StackChoice,
    split_flow,
    stack_options,
)
from stratoflow.errors import FlowValidationError, StratoflowError
from stratoflow.execution.flows import live_flow
from stratoflow.triggers.manual import Delivery, manual_start


def _refuse(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(EXIT_REFUSED)


def _event(text: str | None) -> dict[str, Any] | None:
    """`--event`: a JSON object, or @FILE holding one."""
    if text is None:
        return None
    source = Path(text[1:]).read_text(encoding="utf-8") if text.startswith("@") else text
    try:
        event = json.loads(source)
    except ValueError as error:
        raise click.BadParameter(f"not JSON: {error}", param_hint="--event") from None
    if not isinstance(event, dict):
        raise click.BadParameter("expected a JSON object", param_hint="--event")
    return event


@click.command()
@click.argument("flow")
@click.option("--trigger", "trigger_id", required=True, help="The id of the trigger to fire.")
@click.option(
    "--input",
    "-i",
    "inputs",
    multiple=True,
    metavar="KEY=VALUE",
    help="An input value (wins over the trigger's).",
)
@click.option(
    "--execution", "upstream", help="Flow trigger: the upstream execution it fires for (id or prefix)."
)
@click.option(
    "--event", "event_text", metavar="JSON|@FILE", help="aws.eventbridge.Trigger / aws.s3.Trigger: the event."
)
@click.option("--body", help="Webhook: the request body (parsed when it is JSON).")
@click.option(
    "--message",
    "messages",
    multiple=True,
    metavar="BODY",
    help="aws.sqs.Trigger: a message body (repeatable).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document at the end.")
@click.option("--skip-waits", is_flag=True, help="Sleep, Wait and retry delays pass at once.")
@home_option
@click.option(
    "--remote", is_flag=True, help="Fire it on the deployed stack (--stack): FLOW is NAMESPACE.FLOW_ID."
)
@stack_options
def trigger(
    flow: str,
    trigger_id: str,
    inputs: tuple[str, ...],
    upstream: str | None,
    event_text: str | None,
    body: str | None,
    messages: tuple[str, ...],
    as_json: bool,
    skip_waits: bool,
    home: Path,
    remote: bool,
    stack: StackChoice,
) -> None:
    """Fire trigger --trigger of FLOW (a flow file, or NAMESPACE.FLOW_ID deployed before) by hand."""
    delivery = Delivery(execution=upstream, event=_event(event_text), body=body, messages=messages)
    values = parse_pairs(inputs)
    if remote:
        _fire_remote(stack, flow, trigger_id, delivery, values, as_json)
    _fire_locally(home, flow, trigger_id, delivery, values, as_json, skip_waits)


def _fire_locally(
    home: Path,
    flow_ref: str,
    trigger_id: str,
    delivery: Any,
    inputs: dict[str, str],
    as_json: bool,
    skip_waits: bool,
) -> None:
    platform = _platform(home, skip_waits)
    try:
        try:
            flow, revision = _backfill_flow(platform, flow_ref, home)
            if delivery.execution:  # the upstream execution, by a unique prefix of its id too
                delivery = replace(
                    delivery, execution=resolve_execution_id(platform.store, delivery.execution)
                )
            start = manual_start(flow, trigger_id, delivery, inputs, datetime.now(UTC))
            record = platform.store.get_flow(flow.namespace, flow.id, revision)
            if record is None:
                _refuse(f"flow {flow.namespace}.{flow.id} revision {revision} is not deployed")
            execution = admit_with_files(platform, flow, record, **start.admission_kwargs())
        except FlowValidationError as error:
            for diagnostic in error.diagnostics:
                click.echo(str(diagnostic), err=True)
            sys.exit(REFUSED)
        except StratoflowError as error:
            _refuse(str(error))
        click.echo(
            f"trigger '{trigger_id}' of {flow.namespace}.{flow.id}: execution {execution.id}", err=True
        )
        start_and_report(platform, flow, execution, as_json)
    finally:
        platform.close()


def _fire_remote(
    stack: StackChoice, flow_ref: str, trigger_id: str, delivery: Any, inputs: dict[str, str], as_json: bool
) -> None:
    import boto3

    resources = stack.resources("admission_arn", "table")
    store = stack.store()
    namespace, flow_id = split_flow(flow_ref, store)
    flow = live_flow(store, namespace, flow_id)
    if flow is None:
        _refuse(f"flow {namespace}.{flow_id} is not deployed on the stack")
    try:
        start = manual_start(flow, trigger_id, delivery, inputs, datetime.now(UTC))
    except StratoflowError as error:
        _refuse(str(error))
    payload = {"namespace": namespace, "flowId": flow_id, **start.admission_event()}
    response = boto3.client("lambda").invoke(
        FunctionName=resources.admission_arn, Payload=json.dumps(payload).encode()
    )
    answer: dict[str, Any] = json.loads(response["Payload"].read() or b"{}")
    if response.get("FunctionError"):
        raise click.ClickException(
            f"admission failed: {answer.get('errorType')}: {answer.get('errorMessage')}"
        )
    state = str(answer.get("state"))
    if as_json:
        click.echo(json.dumps(answer, indent=2))
    elif answer.get("error"):
        click.echo(
            f"error: execution {answer.get('executionId') or start.execution_id} {state}: {answer['error']}",
            err=True,
        )
    else:
        click.echo(f"execution {answer.get('executionId')} {state}")
    sys.exit({"REFUSED": EXIT_REFUSED, "FAILED": EXIT_FAILED}.get(state, EXIT_OK))
