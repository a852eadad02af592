"""Observability on moto: the "did not run" alarm of scheduled flows, and failure alerts on the topic."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from stratoflow.cloud.config.naming import alarm_name, alarm_prefix
from stratoflow.cloud.deploy.alarms import DID_NOT_RUN
from stratoflow.cloud.runtime.event_models import StatusChange
from stratoflow.cloudsim.platform import CloudSimulation
from stratoflow.domain import Attempt, TaskRun
from stratoflow.execution.admission import admit
from stratoflow.flow import load_flow
from stratoflow.states import State
from tests.integration.conftest import Queue, event_fixture

pytestmark = pytest.mark.slow

NAMESPACE = "tests.observe"


def scheduled(flow_id: str, *crons: str) -> str:
    triggers = "".join(
        f"""  - id: t{index}
    type: Schedule
    cron: "{cron}"
"""
        for index, cron in enumerate(crons)
    )
    return f"""id: {flow_id}
namespace: {NAMESPACE}
tasks:
  - id: say
    type: Log
    message: hi
""" + (f"triggers:\n{triggers}" if crons else "")


def alarms_of(sim: CloudSimulation, flow_id: str) -> dict[str, dict[str, Any]]:
    prefix = alarm_prefix(sim.stack_name, NAMESPACE, flow_id)
    found = sim.clients.cloudwatch.describe_alarms(AlarmNamePrefix=prefix)["MetricAlarms"]
    return {alarm["AlarmName"].removeprefix(prefix): alarm for alarm in found}


def test_a_scheduled_flow_gets_a_did_not_run_alarm_that_follows_its_schedules(sim: CloudSimulation) -> None:
    # When a flow that runs daily at 02:00 is deployed
    verdict = sim.upload("observe/nightly.yaml", scheduled("nightly", "0 2 * * *"))

    # Then, beside its failure alarms, an alarm goes off after a day and its grace without a success
    assert verdict.status == "DEPLOYED"
    alarm = alarms_of(sim, "nightly")[DID_NOT_RUN]
    assert alarm["AlarmName"] == alarm_name("Stratoflow", NAMESPACE, "nightly", DID_NOT_RUN)
    assert (alarm["Namespace"], alarm["MetricName"]) == ("Stratoflow", "ExecutionsSucceeded")
    assert alarm["Dimensions"] == [{"Name": "Flow", "Value": f"{NAMESPACE}.nightly"}]
    assert (alarm["Statistic"], alarm["ComparisonOperator"], alarm["Threshold"]) == (
        "SampleCount",
        "LessThanThreshold",
        1.0,
    )
    assert alarm["TreatMissingData"] == "breaching"
    assert alarm["Period"] * alarm["EvaluationPeriods"] >= (24 * 60 + 15) * 60
    assert alarm["DatapointsToAlarm"] == alarm["EvaluationPeriods"]
    assert alarm["AlarmActions"] == [sim.settings.stratoflow_alert_topic_arn]
    assert (
        "strato executions list --remote --namespace tests.observe --flow nightly"
        in alarm["AlarmDescription"]
    )
    # ... and the deployment opened its first window with a sample that is not a success
    statistics = sim.clients.cloudwatch.get_metric_statistics(
        Namespace="Stratoflow",
        MetricName="ExecutionsSucceeded",
        Dimensions=[{"Name": "Flow", "Value": f"{NAMESPACE}.nightly"}],
        StartTime=datetime.now(UTC) - timedelta(hours=1),
        EndTime=datetime.now(UTC) + timedelta(hours=1),
        Period=7200,
        Statistics=["SampleCount", "Sum"],
    )["Datapoints"]
    assert [(point["SampleCount"], point["Sum"]) for point in statistics] == [(1.0, 0.0)]


def test_the_did_not_run_alarm_goes_when_the_schedules_cannot_be_watched_or_are_gone(
    sim: CloudSimulation,
) -> None:
    # Given a flow deployed with a schedule every 6 hours
    sim.upload("observe/moving.yaml", scheduled("moving", "0 */6 * * *"))
    assert DID_NOT_RUN in alarms_of(sim, "moving")

    # When its schedule becomes monthly: runs too far apart for an alarm (7 days at most)
    monthly = sim.upload("observe/moving.yaml", scheduled("moving", "0 0 1 * *"))

    # Then its alarm is gone, and the deployment says why
    assert DID_NOT_RUN not in alarms_of(sim, "moving")
    assert "no 'did not run' alarm" in monthly.message and "7d" in monthly.message

    # When it is daily again, then its triggers are removed
    sim.upload("observe/moving.yaml", scheduled("moving", "30 6 * * *"))
    assert DID_NOT_RUN in alarms_of(sim, "moving")
    sim.upload("observe/moving.yaml", scheduled("moving"))

    # Then the alarm follows: there, then gone with the schedule; the failure alarms stay
    remaining = alarms_of(sim, "moving")
    assert DID_NOT_RUN not in remaining and remaining

    # When the flow is scheduled again, then its file is deleted
    sim.upload("observe/moving.yaml", scheduled("moving", "0 12 * * 1-5"))
    sim.delete("observe/moving.yaml")

    # Then every alarm of the flow is gone
    assert alarms_of(sim, "moving") == {}


def failed_status(execution_id: str, namespace: str, flow_id: str) -> StatusChange:
    ref = {"id": execution_id, "namespace": namespace, "flowId": flow_id, "revision": 1}
    event = event_fixture(
        "sfn_status_timed_out",
        {
            "detail.name": execution_id,
            "detail.status": "FAILED",
            "detail.error": "TaskFailed",
            "detail.cause": "task 'load' failed",
            "detail.input": json.dumps({"execution": ref, "scope": None}),
        },
    )
    return StatusChange.from_eventbridge(event)


def test_a_failed_execution_alerts_once_naming_the_failed_task_and_its_error(
    sim: CloudSimulation, alerts: Queue
) -> None:
    # Given a running execution whose task `load` failed on its last attempt
    source = scheduled("alerting")
    sim.upload("observe/alerting.yaml", source)
    execution, _ = admit(sim.store, load_flow(source), 1, {}, execution_id="alerting-1")
    sim.store.update_execution(execution.id, state=State.RUNNING)
    sim.store.save_task_run(
        TaskRun(
            id="load-run",
            execution_id=execution.id,
            task_id="load",
            task_type="Log",
            state=State.FAILED,
            error="the warehouse refused the write",
            attempts=[Attempt(state=State.FAILED, error="the warehouse refused the write")],
        )
    )
    alerts.drain()

    # When Step Functions reports the failure, twice (EventBridge delivers at least once)
    change = failed_status(execution.id, NAMESPACE, "alerting")
    first = sim.execution_events.handle(change)
    sim.execution_events.handle(change)

    # Then the execution is FAILED and the alerts topic got one message, saying where and why
    assert first.execution is not None and first.execution.state == State.FAILED
    [alert] = alerts.drain()
    assert alert["Subject"] == f"Stratoflow: {NAMESPACE}.alerting FAILED"
    message = alert["Message"]
    assert "Execution:  alerting-1" in message
    assert "First failed task: load (Log) after 1 attempt(s)" in message
    assert "Error:             the warehouse refused the write" in message
    assert "strato logs alerting-1 --remote" in message
    assert "strato executions show alerting-1 --remote" in message
    # ... and its metrics counted it once, as a failure
    assert [metric.name for metric in first.metrics] == ["ExecutionsFailed", "ExecutionDuration"]


def test_a_success_or_a_kill_sends_no_alert(sim: CloudSimulation, alerts: Queue) -> None:
    # Given two running executions
    source = scheduled("quiet")
    sim.upload("observe/quiet.yaml", source)
    flow = load_flow(source)
    ids = []
    for name in ("quiet-ok", "quiet-killed"):
        execution, _ = admit(sim.store, flow, 1, {}, execution_id=name)
        sim.store.update_execution(execution.id, state=State.RUNNING)
        ids.append(execution.id)
    alerts.drain()

    # When one succeeds and the other is stopped
    for execution_id, status in zip(ids, ("SUCCEEDED", "ABORTED"), strict=True):
        change = failed_status(execution_id, NAMESPACE, "quiet").model_copy(
            update={"status": status, "error": None, "cause": None}
        )
        sim.execution_events.handle(change)

    # Then the alerts topic stays quiet
    assert alerts.drain() == []
