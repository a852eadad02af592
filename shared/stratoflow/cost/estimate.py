"""`estimate`: the monthly cost of running one compiled flow, on Standard and (when it fits) Express."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from stratoflow.cost.assumptions import Assumptions
from stratoflow.cost.dynamo import DynamoModel, DynamoUsage
from stratoflow.cost.prices import FREE_TIER, LIST_PRICES, FreeTier, Prices
from stratoflow.cost.walk import Tally, Walker, awaited_tasks

EXPRESS_MAX_SECONDS = 300
# Step Functions Standard: an execution's history holds at most 25,000 events (the local engine's
# `HISTORY_EVENT_LIMIT`), and it runs at most a year.
STANDARD_MAX_EVENTS = 25_000
STANDARD_MAX_SECONDS = 365 * 24 * 3600
# The fewest history events a state makes: entered and exited; a Lambda task adds scheduled,
# started and succeeded (or failed). Inline Map iterations are in the same history; a distributed
# Map's are not (see `standard_limits`).
EVENTS_PER_TRANSITION = 2
EVENTS_PER_INVOCATION = 3


@dataclass(frozen=True)
class Usage:
    """What one execution uses (floats: loops are averaged)."""

    transitions: float
    runner_invocations: float
    runnable_task_runs: float
    task_runs: float
    duration_s: float
    actions: dict[str, float]
    dynamo: DynamoUsage
    platform_invocations: float
    runner_write_requests: float = 0.0
    """DynamoDB write requests of the Task states alone (the per-execution start and end left out)."""
    container_vcpu_seconds: float = 0.0
    """Fargate vCPU-seconds of the container-run tasks (`taskRunner: aws.runner.Fargate`)."""
    container_gb_seconds: float = 0.0

    def per_task(self) -> dict[str, float | None]:
        """The issue's efficiency figures: per runnable task run, and per task run for DynamoDB."""
        runs = self.runnable_task_runs
        all_runs = self.task_runs
        return {
            "transitionsPerRunnableTask": self.transitions / runs if runs else None,
            "runnerInvocationsPerRunnableTask": self.runner_invocations / runs if runs else None,
            "dynamodbWriteRequestsPerTaskRun": self.runner_write_requests / all_runs if all_runs else None,
            "dynamodbWriteUnitsPerTaskRun": self.dynamo.all_write_units / all_runs if all_runs else None,
        }


@dataclass(frozen=True)
class LineItem:
    service: str
    what: str
    per_execution: float
    monthly_quantity: float
    unit_price: float
    monthly_cost: float


@dataclass(frozen=True)
class CostEstimate:
    flow: str
    executions_per_month: int
    usage: Usage
    assumptions: Assumptions
    prices: Prices
    standard: list[LineItem]
    express: list[LineItem] | None
    express_blockers: list[str] = field(default_factory=list)
    cannot_complete: list[str] = field(default_factory=list)
    """Why an execution cannot complete within Step Functions' limits: then nothing is priced."""

    @property
    def standard_total(self) -> float:
        return sum(item.monthly_cost for item in self.standard)

    @property
    def express_total(self) -> float | None:
        return None if self.express is None else sum(item.monthly_cost for item in self.express)

    def to_dict(self) -> dict[str, Any]:
        usage = asdict(self.usage)
        usage.pop("dynamo")
        return {
            "flow": self.flow,
            "executionsPerMonth": self.executions_per_month,
            "perExecution": {**usage, "dynamodb": asdict(self.usage.dynamo), **self.usage.per_task()},
            "assumptions": asdict(self.assumptions),
            "prices": asdict(self.prices),
            "standard": {"items": [asdict(i) for i in self.standard], "monthlyTotal": self.standard_total},
            "express": None
            if self.express is None
            else {"items": [asdict(i) for i in self.express], "monthlyTotal": self.express_total},
            "expressBlockers": self.express_blockers,
            "cannotComplete": self.cannot_complete,
        }


def count(definition: dict[str, Any], flow: Any, assumptions: Assumptions | None = None) -> Usage:
    """One execution's usage of the compiled `definition` of `flow`."""
    a = assumptions or Assumptions()
    walker = Walker(flow, a)
    walker.awaited = awaited_tasks(definition)
    tally: Tally = walker.walk(definition, definition["StartAt"], None, 0.0)
    dynamo = DynamoUsage()
    dynamo.add(tally.dynamo)
    dynamo.add(DynamoModel(a).per_execution(tally.task_runs, limited=flow.concurrency is not None))
    return Usage(
        transitions=tally.transitions,
        runner_invocations=tally.invocations,
        runnable_task_runs=tally.first_attempts,
        task_runs=tally.task_runs,
        duration_s=tally.duration_s,
        actions=dict(tally.actions),
        dynamo=dynamo,
        platform_invocations=float(a.platform_invocations),
        runner_write_requests=tally.dynamo.write_requests,
        container_vcpu_seconds=tally.container_vcpu_s,
        container_gb_seconds=tally.container_gb_s,
    )


def express_blockers(definition: dict[str, Any], usage: Usage, assumptions: Assumptions) -> list[str]:
    """Why the flow cannot run as an Express workflow (empty when it can)."""
    found: list[str] = []

    def visit(machine: dict[str, Any]) -> None:
        for name, state in machine["States"].items():
            resource = str(state.get("Resource", ""))
            if resource.endswith(".waitForTaskToken"):
                found.append(f"state '{name}' waits for a callback (Pause without delay, Dag dependency)")
            elif ".sync" in resource:
                found.append(
                    f"state '{name}' uses a .sync integration (Subflow with wait, an ECS/Batch task, a container taskRunner)"
                )
            if state["Type"] == "Wait":
                if "Timestamp" in state or "TimestampPath" in state:
                    found.append(f"state '{name}' waits until a timestamp")
                seconds = state.get("Seconds", assumptions.dynamic_wait_s if "SecondsPath" in state else 0)
                if float(seconds) > EXPRESS_MAX_SECONDS:
                    found.append(f"state '{name}' waits {float(seconds):g} s (over 5 minutes)")
            for branch in state.get("Branches", []):
                visit(branch)
            nested = state.get("ItemProcessor") or state.get("Iterator")
            if nested:
                visit(nested)

    visit(definition)
    if usage.duration_s >= EXPRESS_MAX_SECONDS:
        found.append(f"an execution takes about {usage.duration_s:.0f} s (Express allows under 5 minutes)")
    return found


def _distributed(machine: dict[str, Any]) -> bool:
    """Whether a Map runs its items as child executions (their events are not in this history)."""
    for state in machine.get("States", {}).values():
        if (state.get("ItemProcessor") or {}).get("ProcessorConfig", {}).get("Mode") == "DISTRIBUTED":
            return True
        nested = [*state.get("Branches", []), state.get("ItemProcessor") or state.get("Iterator") or {}]
        if any(_distributed(branch) for branch in nested if branch):
            return True
    return False


def standard_limits(definition: dict[str, Any], usage: Usage) -> list[str]:
    """Why one execution cannot complete on Step Functions Standard, as far as the walk can tell
    (loops counted with the assumed number of items; with a distributed Map, whose items have
    histories of their own, the walk cannot tell the parent's events and says nothing of them)."""
    found = []
    events = usage.transitions * EVENTS_PER_TRANSITION + usage.runner_invocations * EVENTS_PER_INVOCATION
    if events > STANDARD_MAX_EVENTS and not _distributed(definition):
        found.append(
            f"an execution makes at least {events:,.0f} history events: Step Functions stops it at "
            f"{STANDARD_MAX_EVENTS:,} (fewer ForEach items, or a Subflow per batch of items, keeps it within)"
        )
    if usage.duration_s > STANDARD_MAX_SECONDS:
        found.append(
            f"an execution takes about {usage.duration_s / 86400:,.0f} days: Step Functions allows one year"
        )
    return found


def estimate(
    definition: dict[str, Any],
    flow: Any,
    executions_per_month: int,
    assumptions: Assumptions | None = None,
    prices: Prices = LIST_PRICES,
    free_tier: FreeTier = FREE_TIER,
) -> CostEstimate:
    """Monthly cost of `executions_per_month` executions of a compiled flow, Standard and Express."""
    a = assumptions or Assumptions()
    usage = count(definition, flow, a)
    name = f"{flow.namespace}.{flow.id}"
    n = executions_per_month
    limits = standard_limits(definition, usage)
    if limits:  # a price for executions that cannot end would be a wrong figure
        return CostEstimate(name, n, usage, a, prices, [], None, [], limits)
    free = free_tier if a.free_tier else FreeTier(0, 0, 0)

    runner_gbs = usage.runner_invocations * a.runner_duration_ms / 1000 * a.runner_memory_mb / 1024
    platform_gbs = usage.platform_invocations * a.platform_duration_ms / 1000 * a.platform_memory_mb / 1024
    requests = usage.runner_invocations + usage.platform_invocations
    gbs = runner_gbs + platform_gbs
    # The free allowances are per account and month: split them over requests and GB-seconds alike.
    shared = [
        _item(
            "Lambda",
            "requests (task runner + platform)",
            requests,
            n,
            prices.lambda_request,
            free.lambda_requests,
        ),
        _item("Lambda", "GB-seconds (arm64)", gbs, n, prices.lambda_gb_second_arm64, free.lambda_gb_seconds),
        _item("DynamoDB", "write request units", usage.dynamo.all_write_units, n, prices.dynamodb_write_unit),
        _item("DynamoDB", "read request units", usage.dynamo.read_units, n, prices.dynamodb_read_unit),
    ]
    if usage.container_vcpu_seconds:  # container-run tasks: Fargate bills them, not Lambda
        shared += [
            _item(
                "Fargate",
                "vCPU-seconds (arm64)",
                usage.container_vcpu_seconds,
                n,
                prices.fargate_vcpu_second_arm64,
            ),
            _item(
                "Fargate", "GB-seconds (arm64)", usage.container_gb_seconds, n, prices.fargate_gb_second_arm64
            ),
        ]
    standard = [
        _item(
            "Step Functions Standard",
            "state transitions",
            usage.transitions,
            n,
            prices.standard_transition,
            free.standard_transitions,
        ),
        *shared,
    ]
    blockers = express_blockers(definition, usage, a)
    express = None
    if not blockers:
        billed_s = math.ceil(usage.duration_s * 10 - 1e-9) / 10  # 100 ms steps
        express_gbs = billed_s * a.express_memory_mb / 1024
        express = [
            _item("Step Functions Express", "requests", 1, n, prices.express_request),
            _item("Step Functions Express", "GB-seconds", express_gbs, n, prices.express_gb_second),
            *shared,
        ]
    return CostEstimate(name, n, usage, a, prices, standard, express, blockers)


def _item(
    service: str, what: str, per_execution: float, executions: int, unit_price: float, free: float = 0.0
) -> LineItem:
    quantity = per_execution * executions
    return LineItem(
        service, what, per_execution, quantity, unit_price, max(0.0, quantity - free) * unit_price
    )
