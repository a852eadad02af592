"""`strato cost FLOW`: the monthly cloud cost of a flow, from its compiled definition."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from stratoflow.cli.completion import complete_flow_files
from stratoflow.compiler import compile_flow
from stratoflow.cost import Assumptions, estimate
from stratoflow.errors import CompileError, FlowValidationError
from stratoflow.flow import load_flow_file


@click.command("cost")
@click.argument(
    "flow_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    shell_complete=complete_flow_files,
)
@click.option("--executions-per-month", "-n", type=click.IntRange(min=0), default=10_000, show_default=True)
@click.option(
    "--items",
    type=click.IntRange(min=0),
    default=10,
    show_default=True,
    help="Items per ForEach with dynamic values.",
)
@click.option(
    "--duration-ms",
    type=click.FloatRange(min=1),
    default=100.0,
    show_default=True,
    help="Per task-runner invocation.",
)
@click.option(
    "--container-seconds",
    type=click.FloatRange(min=1),
    default=600.0,
    show_default=True,
    help="Per container-run task (taskRunner aws.runner.Fargate), start-up included.",
)
@click.option(
    "--failed-attempts",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Failed attempts before success, per task with a retry policy.",
)
@click.option("--free-tier", is_flag=True, help="Subtract the always-free monthly allowances.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def cost(
    flow_file: Path,
    executions_per_month: int,
    items: int,
    duration_ms: float,
    container_seconds: float,
    failed_attempts: int,
    free_tier: bool,
    as_json: bool,
) -> None:
    """Estimate what FLOW_FILE costs per month on Step Functions, Lambda, DynamoDB and Fargate (us-east-1
    list prices)."""
    try:
        flow = load_flow_file(flow_file)
        definition = compile_flow(flow).definition
    except FlowValidationError as error:
        for diagnostic in error.diagnostics:
            click.echo(str(diagnostic), err=True)
        sys.exit(1)
    except CompileError as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(1)
    assumptions = Assumptions(
        items=items,
        runner_duration_ms=duration_ms,
        container_duration_s=container_seconds,
        failed_attempts=failed_attempts,
        free_tier=free_tier,
    )
    result = estimate(definition, flow, executions_per_month, assumptions)
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
    else:
        click.echo("\n".join(render(result)))


def _money(value: float) -> str:
    return f"${value:,.2f}" if value >= 0.01 or value == 0 else f"${value:,.4f}"


def _table(title: str, items: list[Any], total: float) -> list[str]:
    lines = [title, f"  {'service':<24} {'what':<36} {'per execution':>13} {'per month':>15} {'cost':>11}"]
    for item in items:
        lines.append(
            f"  {item.service:<24} {item.what:<36} {item.per_execution:>13,.2f} "
            f"{item.monthly_quantity:>15,.0f} {_money(item.monthly_cost):>11}"
        )
    lines.append(f"  {'total':<24} {'':<36} {'':>13} {'':>15} {_money(total):>11}")
    return lines


def render(result: Any) -> list[str]:
    """The human-readable report of a CostEstimate."""
    usage = result.usage
    actions = ", ".join(f"{name} {count:g}" for name, count in sorted(usage.actions.items()))
    dynamo = usage.dynamo
    efficiency = usage.per_task()
    lines = [
        f"Flow {result.flow}: {result.executions_per_month:,} executions per month "
        f"({result.prices.region} list prices, on-demand)",
        "",
        f"Per execution: {usage.transitions:g} state transitions; {usage.runner_invocations:g} task-runner "
        f"invocations ({actions}); {usage.task_runs:g} task runs; about {usage.duration_s:.1f} s",
        f"  DynamoDB: {dynamo.all_write_requests:g} write requests ({dynamo.log_write_requests:g} for logs), "
        f"{dynamo.all_write_units:g} write units; {dynamo.read_requests:g} read requests, "
        f"{dynamo.read_units:g} read units",
    ]
    if efficiency["transitionsPerRunnableTask"] is not None:
        lines.append(
            f"  Per runnable task: {efficiency['transitionsPerRunnableTask']:.2f} transitions, "
            f"{efficiency['runnerInvocationsPerRunnableTask']:.2f} Lambda invocations; per task run: "
            f"{efficiency['dynamodbWriteRequestsPerTaskRun']:.2f} DynamoDB write requests (Task states, without logs)"
        )
    if result.cannot_complete:
        lines += ["", "warning: not priced: this flow cannot complete within Step Functions' limits:"]
        lines += [f"  - {reason}" for reason in result.cannot_complete]
        lines += ["", "Assumptions:", *[f"  - {line}" for line in result.assumptions.describe()]]
        return lines
    lines += ["", *_table("Standard workflow", result.standard, result.standard_total), ""]
    if result.express is not None:
        lines += _table("Express workflow", result.express, result.express_total or 0.0)
    else:
        lines.append("Express workflow: not possible for this flow:")
        lines += [f"  - {reason}" for reason in result.express_blockers]
    lines += ["", "Assumptions:", *[f"  - {line}" for line in result.assumptions.describe()]]
    return lines
