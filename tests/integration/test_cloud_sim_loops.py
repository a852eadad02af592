"""Loops on the cloud simulation run on Stratoflow's engine driving moto's services
(`stratoflow.cloudsim.engine_runs`): moto's own interpreter fails inline Maps of about a thousand items."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from stratoflow.cloudsim.engine_runs import engine_runs_it
from stratoflow.cloudsim.platform import CloudSimulation
from stratoflow.compiler import compile_flow
from stratoflow.flow import load_flow
from stratoflow.local import LocalPlatform

pytestmark = pytest.mark.slow


def foreach(name: str, items: int, extra: str = "") -> str:
    return f"""
id: {name}
namespace: tests.scale
tasks:
  - id: produce
    type: Return
    format: "{{{{ range(0, {items - 1}) }}}}"
  - id: each
    type: ForEach
    values: "{{{{ outputs.produce.value }}}}"
    tasks:
      - id: double
        type: Return
        format: "{{{{ (taskrun.value | number) * 2 }}}}"{extra}
"""


def lambda_task(resource: str = "arn:aws:states:::lambda:invoke") -> dict[str, Any]:
    return {"Type": "Task", "Resource": resource, "End": True}


def test_which_state_machines_the_engine_runs() -> None:
    # Given a loop of Lambda tasks, the same loop with a callback task, and a chain without a loop
    loop = {"States": {"m": {"Type": "Map", "ItemProcessor": {"States": {"t": lambda_task()}}, "End": True}}}
    callback = {
        "States": {
            "m": {
                "Type": "Map",
                "ItemProcessor": {
                    "States": {"t": lambda_task("arn:aws:states:::lambda:invoke.waitForTaskToken")}
                },
            }
        }
    }
    chain = {"States": {"t": lambda_task()}}

    # Then only the loop whose tasks the engine path answers runs there; the others stay moto's
    assert (engine_runs_it(loop), engine_runs_it(callback), engine_runs_it(chain)) == (True, False, False)
    # ... and so does a compiled flow with a large loop (a distributed Map reading its items from S3)
    flow = load_flow(foreach("big", 20_000), "big.yaml")
    assert engine_runs_it(compile_flow(flow).definition)


def test_a_loop_past_motos_recursion_limit_succeeds_and_counts_as_locally(tmp_path: Path) -> None:
    # Given a ForEach of 1,200 items (moto's interpreter failed past about 966 iterations)
    path = tmp_path / "loop1200.yaml"
    path.write_text(foreach("loop1200", 1_200))

    # When it runs on the cloud simulation and on the local engine
    with CloudSimulation() as sim:
        cloud = sim.run_flow(path, timeout=None)
        described = sim.clients.stepfunctions.describe_execution(executionArn=cloud.execution_arn)
    platform = LocalPlatform(tmp_path / "home")
    try:
        flow, record = platform.deploy_file(path)
        local = platform.run(platform.admit(flow, record, {}))
    finally:
        platform.close()

    # Then it succeeds with every task run, moto's execution ended SUCCEEDED, and the history events
    # counted are the local engine's
    assert str(cloud.execution.state) == "SUCCESS", cloud.execution.error
    assert len(cloud.task_runs) == len(local.task_runs) == 1_202
    assert described["status"] == "SUCCEEDED"
    assert cloud.history_events == local.result.history_events


def test_stopping_an_engine_run_execution_aborts_it(tmp_path: Path) -> None:
    # Given a loop whose iterations wait (a second each: real seconds on the simulation)
    path = tmp_path / "slow_loop.yaml"
    path.write_text(
        foreach("slow_loop", 50)
        + """
      - id: rest
        type: Sleep
        duration: PT1S
"""
    )
    with CloudSimulation() as sim:
        verdict = sim.upload(path.name, path.read_text())
        started = sim.start(verdict.namespace, verdict.flow_id)
        assert started.execution_arn is not None
        time.sleep(0.5)

        # When StopExecution is called, as `strato kill` does in the cloud
        sim.clients.stepfunctions.stop_execution(executionArn=started.execution_arn)
        run = sim.wait(started.execution_arn, timeout=60)

    # Then the execution is aborted: moto's record and Stratoflow's agree
    assert str(run.execution.state) == "KILLED"
