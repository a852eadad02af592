"""Flow SLAs on the simulated cloud: one test per type x behavior, the timer of NONE durations (a
schedule that lives while the execution runs), the SlaMissed metric and the flow's alarm."""

from __future__ import annotations

import json
from typing import Any

import pytest

from stratoflow.cloud.config.naming import alarm_prefix
from stratoflow.cloud.runtime.sla_timer import sla_schedule_name
from stratoflow.cloudsim.platform import CloudSimulation
from stratoflow.states import State

pytestmark = pytest.mark.slow

NAMESPACE = "tests.sla"

# Kestra's example, with a 1-second budget and a 4-second sleep (moto waits real seconds).
MAX_DURATION = """
id: {flow_id}
namespace: tests.sla
sla:
  - id: maxDuration
    type: MAX_DURATION
    duration: PT1S
    behavior: {behavior}
    labels:
      sla: miss
tasks:
  - id: sleepyhead
    type: Sleep
    duration: PT4S
  - id: after_sleep
    type: Log
    message: runs only when the SLA lets the execution go on
"""

ASSERTION = """
id: {flow_id}
namespace: tests.sla
sla:
  - id: rowsLoaded
    type: EXECUTION_ASSERTION
    assert: "{{{{ outputs.rows.value | number > 10 }}}}"
    behavior: {behavior}
    labels:
      sla: missed
tasks:
  - id: rows
    type: Return
    format: "3"
"""

STATES = {"FAIL": State.FAILED, "CANCEL": State.KILLED, "NONE": State.SUCCESS}


def _run(sim: CloudSimulation, template: str, behavior: str) -> Any:
    """Deploy the flow, start it through admission and wait for its recorded end."""
    flow_id = f"{template.split('_')[0].lower()}-{behavior.lower()}"
    source = (MAX_DURATION if template == "MAX_DURATION" else ASSERTION).format(
        flow_id=flow_id, behavior=behavior
    )
    verdict = sim.upload(f"sla/{flow_id}.yaml", source)
    assert verdict.status == "DEPLOYED", verdict.errors
    started = sim.start(NAMESPACE, flow_id)
    assert started.execution_arn is not None
    return sim.wait(started.execution_arn)


def _violations(sim: CloudSimulation, execution_id: str) -> list[str]:
    return [e.message for e in sim.store.list_logs(execution_id) if e.message.startswith("SLA ")]


@pytest.mark.parametrize("behavior", ["FAIL", "CANCEL", "NONE"])
def test_max_duration_on_the_cloud(sim: CloudSimulation, behavior: str) -> None:
    # Given a flow whose execution outlives its MAX_DURATION SLA, deployed and started through admission
    # When it runs on Step Functions (moto)
    run = _run(sim, "MAX_DURATION", behavior)
    # Then it ends as the behavior says, labelled, with the miss in its history by the SLA's id
    assert run.execution.state == STATES[behavior]
    assert run.execution.labels["sla"] == "miss"
    [violation] = _violations(sim, run.execution.id)
    assert f"SLA 'maxDuration' (MAX_DURATION, behavior {behavior}) missed" in violation
    assert ("after_sleep" in {r.task_id for r in run.task_runs}) is (behavior == "NONE")


@pytest.mark.parametrize("behavior", ["FAIL", "CANCEL", "NONE"])
def test_execution_assertion_on_the_cloud(sim: CloudSimulation, behavior: str) -> None:
    # Given a flow whose assertion is false at its end
    run = _run(sim, "EXECUTION_ASSERTION", behavior)
    # Then the execution-events handler judged it as the behavior says
    assert run.execution.state == STATES[behavior]
    assert run.execution.labels["sla"] == "missed"
    [violation] = _violations(sim, run.execution.id)
    assert "SLA 'rowsLoaded' (EXECUTION_ASSERTION" in violation


def test_a_none_duration_has_a_timer_only_while_it_runs(sim: CloudSimulation) -> None:
    # Given a NONE duration (the execution goes on: no state machine timeout can carry it)
    source = MAX_DURATION.format(flow_id="timer", behavior="NONE").replace("PT4S", "PT3S")
    sim.upload("sla/timer.yaml", source)
    started = sim.start(NAMESPACE, "timer")
    assert started.execution_arn is not None
    name = sla_schedule_name(started.execution_id, "maxDuration")
    group = sim.settings.stratoflow_schedule_group
    # When it runs, then a one-time schedule at its deadline calls admission with the SLA
    schedule = _wait_for_schedule(sim, name, group)
    assert schedule["ScheduleExpression"].startswith("at(")
    assert schedule["Target"]["Arn"] == sim.settings.stratoflow_admission_arn
    request = json.loads(schedule["Target"]["Input"])
    assert request == {"sla": {"executionId": started.execution_id, "slaId": "maxDuration"}}
    # When it fires while the execution still runs (moto never fires: deliver it as Scheduler would)
    fired = sim.admit(request)
    # Then the miss is recorded at once, the execution still running, and once only
    assert fired == {"executionId": started.execution_id, "slaMissed": True}
    assert sim.admit(request)["slaMissed"] is False
    running = sim.store.get_execution(started.execution_id)
    assert running is not None and running.labels["sla"] == "miss"
    # And the end deletes the timer; the execution ends SUCCESS with the one miss in its history
    run = sim.wait(started.execution_arn)
    assert run.execution.state == State.SUCCESS
    assert len(_violations(sim, run.execution.id)) == 1
    names = [s["Name"] for s in sim.clients.scheduler.list_schedules(GroupName=group)["Schedules"]]
    assert name not in names


def _wait_for_schedule(sim: CloudSimulation, name: str, group: str) -> dict[str, Any]:
    import time

    for _ in range(100):  # the RUNNING status event arrives on the simulation's thread
        try:
            found: dict[str, Any] = sim.clients.scheduler.get_schedule(Name=name, GroupName=group)
            return found
        except sim.clients.scheduler.exceptions.ResourceNotFoundException:
            time.sleep(0.05)
    raise AssertionError(f"no schedule {name}")


def test_a_flow_with_sla_gets_an_sla_missed_alarm(sim: CloudSimulation) -> None:
    # When a flow with SLAs is deployed
    sim.upload("sla/alarmed.yaml", ASSERTION.format(flow_id="alarmed", behavior="NONE"))
    prefix = alarm_prefix(sim.stack_name, NAMESPACE, "alarmed")
    alarms = {
        a["AlarmName"].removeprefix(prefix): a
        for a in sim.clients.cloudwatch.describe_alarms(AlarmNamePrefix=prefix)["MetricAlarms"]
    }
    # Then its alarms include one on its SlaMissed
    alarm = alarms["SlaMissed"]
    assert (alarm["Namespace"], alarm["MetricName"], alarm["Statistic"]) == ("Stratoflow", "SlaMissed", "Sum")
    assert alarm["Dimensions"] == [{"Name": "Flow", "Value": f"{NAMESPACE}.alarmed"}]
    assert alarm["AlarmActions"] == [sim.settings.stratoflow_alert_topic_arn]
    assert "rowsLoaded" in alarm["AlarmDescription"]
    # When its SLAs are removed, then the alarm goes
    without = "id: alarmed\nnamespace: tests.sla\ntasks:\n  - {id: rows, type: Return, format: '3'}\n"
    sim.upload("sla/alarmed.yaml", without)
    remaining = sim.clients.cloudwatch.describe_alarms(AlarmNamePrefix=prefix)["MetricAlarms"]
    assert remaining and all(not a["AlarmName"].endswith("SlaMissed") for a in remaining)


LARGE_OUTPUT_ASSERTION = """
id: large-assertion
namespace: tests.sla
sla:
  - id: bigEnough
    type: EXECUTION_ASSERTION
    assert: "{{ outputs.big.value | length > 40000 }}"
    behavior: FAIL
tasks:
  - id: big
    type: Return
    format: "{{ 'x' * 50000 }}"
"""


def test_an_assertion_reads_an_output_kept_in_the_data_bucket(sim: CloudSimulation) -> None:
    # Given a flow whose assertion reads an output over 32 KiB (kept in S3, its record a reference)
    verdict = sim.upload("sla/large-assertion.yaml", LARGE_OUTPUT_ASSERTION)
    assert verdict.status == "DEPLOYED", verdict.errors
    started = sim.start(NAMESPACE, "large-assertion")
    assert started.execution_arn is not None
    # When it ends and the execution-events handler judges the SLA
    run = sim.wait(started.execution_arn)
    # Then the assertion read the stored output and holds: no miss, the execution SUCCESS
    assert run.execution.state == State.SUCCESS, _violations(sim, run.execution.id)
    assert _violations(sim, run.execution.id) == []
