"""The cost model bills container-run script tasks as Fargate (arm64) per second, plus the task
runner's two calls around each attempt (`prepare`, `collect`)."""

from __future__ import annotations

import pytest

from stratoflow.compiler import compile_flow
from stratoflow.cost import Assumptions, estimate
from stratoflow.cost.prices import LIST_PRICES
from stratoflow.flow import load_flow

FLOW = """id: long
namespace: tests.cost
tasks:
  - id: crunch
    type: scripts.Commands
    commands: [make]
    timeout: PT2H
    taskRunner: {type: aws.runner.Fargate, cpu: 2, memory: 4096}
"""


def test_a_container_task_costs_its_vcpu_and_memory_seconds() -> None:
    # Given a 2 vCPU / 4 GB container task assumed to run an hour
    flow = load_flow(FLOW, "long.yaml")

    # When 1,000 executions a month are estimated
    result = estimate(compile_flow(flow).definition, flow, 1000, Assumptions(container_duration_s=3600))

    # Then Fargate bills 7,200 vCPU-seconds and 14,400 GB-seconds per execution, at arm64 prices,
    # and the task runner Lambda is invoked twice for it (prepare, collect): one task run
    items = {(item.service, item.what): item for item in result.standard}
    vcpu = items[("Fargate", "vCPU-seconds (arm64)")]
    memory = items[("Fargate", "GB-seconds (arm64)")]
    assert (vcpu.per_execution, memory.per_execution) == (7200, 14400)
    assert vcpu.monthly_cost == pytest.approx(7200 * 1000 * 0.03238 / 3600)
    assert memory.unit_price == LIST_PRICES.fargate_gb_second_arm64
    assert result.usage.runner_invocations == 2
    assert result.usage.runnable_task_runs == 1


def test_fargate_bills_a_minute_at_least_and_flows_without_containers_have_no_fargate_line() -> None:
    # Given the container task assumed to run 5 seconds, and a flow without containers
    flow = load_flow(FLOW, "long.yaml")
    plain = load_flow(
        FLOW.replace("    taskRunner: {type: aws.runner.Fargate, cpu: 2, memory: 4096}\n", "").replace(
            "timeout: PT2H", "timeout: PT10M"
        ),
        "plain.yaml",
    )

    # When both are estimated
    short = estimate(compile_flow(flow).definition, flow, 1, Assumptions(container_duration_s=5))
    without = estimate(compile_flow(plain).definition, plain, 1)

    # Then the container is billed 60 s, and the other flow has no Fargate line
    vcpu = next(i for i in short.standard if i.what == "vCPU-seconds (arm64)")
    assert vcpu.per_execution == 120
    assert not any(item.service == "Fargate" for item in without.standard)


def test_a_failed_attempt_runs_the_whole_unit_again() -> None:
    # Given the container task retried once, with one failed attempt assumed
    flow = load_flow(
        FLOW.replace(
            "    timeout: PT2H\n",
            "    timeout: PT2H\n    retry: {type: constant, interval: PT1M, maxAttempts: 2}\n",
        ),
        "retried.yaml",
    )

    # When it is estimated
    once = estimate(compile_flow(flow).definition, flow, 1, Assumptions(container_duration_s=3600))
    twice = estimate(
        compile_flow(flow).definition, flow, 1, Assumptions(container_duration_s=3600, failed_attempts=1)
    )

    # Then the failed attempt adds its container, its two runner calls, and still one task run
    vcpu = [next(i for i in result.standard if i.what == "vCPU-seconds (arm64)") for result in (once, twice)]
    assert (vcpu[0].per_execution, vcpu[1].per_execution) == (7200, 14400)
    assert (once.usage.runner_invocations, twice.usage.runner_invocations) == (2, 4)
    assert once.usage.runnable_task_runs == twice.usage.runnable_task_runs == 1


def test_the_cost_walk_knows_a_containers_job_by_the_runners_own_name() -> None:
    # Given the variable the compiler gives a container, and the one the cost walk looks for
    from stratoflow.cost.walk import JOB_KEY_VARIABLE as walked
    from stratoflow.runner_call import JOB_KEY_VARIABLE

    # Then they are the same (the cost package imports nothing of Stratoflow's but reads its ASL)
    assert walked == JOB_KEY_VARIABLE
