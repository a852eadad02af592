"""The Step Functions runs of an execution (its restarts) and the retry schedules, without AWS."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from stratoflow.cloud.config.naming import AccountRegion
from stratoflow.cloud.config.settings import Settings
from stratoflow.cloud.runtime.event_models import StatusChange
from stratoflow.cloud.runtime.events import record_status_change
from stratoflow.cloud.runtime.retries import retry_schedule_name, retry_schedule_spec
from stratoflow.cloud.runtime.runs import execution_id_of, run_arn
from stratoflow.domain import Execution
from stratoflow.execution.flow_retry import FlowRetry
from stratoflow.execution.runs import run_name
from stratoflow.states import State
from stratoflow.store import SqliteExecutionStore

ACCOUNT = AccountRegion("aws", "eu-west-1", "123456789012")


def test_a_restart_runs_under_a_new_name_that_fits_step_functions() -> None:
    assert run_name("3xYk", 0) == "3xYk"
    assert run_name("3xYk", 2) == "3xYk_r2"
    # An id of 80 characters (chosen by a caller) still gets distinct names of at most 80
    longest = "a" * 80
    names = {run_name(longest, n) for n in (1, 2, 10)}
    assert len(names) == 3 and all(len(n) <= 80 and n.endswith(f"_r{n.rsplit('_r', 1)[1]}") for n in names)


def test_the_run_arn_names_the_flows_state_machine_and_the_current_run() -> None:
    execution = Execution(id="3xYk", namespace="team", flow_id="etl", revision=1, restarts=1)
    assert run_arn(ACCOUNT, "Stratoflow", execution) == (
        "arn:aws:states:eu-west-1:123456789012:execution:Stratoflow-team-etl:3xYk_r1"
    )


def test_a_run_is_traced_back_to_its_execution_by_its_input() -> None:
    raw = json.dumps({"execution": {"id": "3xYk", "namespace": "n", "flowId": "f", "revision": 1}})
    assert execution_id_of("3xYk_r1", raw) == "3xYk"
    # Without a usable input (a console start), the name is all there is
    assert execution_id_of("manual", None) == "manual"
    assert execution_id_of("manual", "not json") == "manual"


def test_a_retry_schedule_fires_once_at_the_due_second_and_invokes_admission() -> None:
    # Given a retry due 90.5 s from now
    execution = Execution(id="3xYk", namespace="team", flow_id="etl", revision=4)
    retry = FlowRetry("CREATE_NEW_EXECUTION", execution, attempt=2, delay=timedelta(seconds=90.5))
    settings = Settings(
        stratoflow_table_name="t",
        stratoflow_data_bucket="b",
        stratoflow_admission_arn="arn:aws:lambda:eu-west-1:123456789012:function:admission",
        stratoflow_scheduler_role_arn="arn:aws:iam::123456789012:role/scheduler",
        stratoflow_schedule_group="Stratoflow",
    )

    # When its schedule is built
    spec = retry_schedule_spec(retry, settings, datetime(2030, 1, 1, 12, 0, 0, tzinfo=UTC))

    # Then it fires once, never early, and hands admission the recorded execution
    assert spec["Name"] == retry_schedule_name(retry) == "retry-3xYk-2"
    assert spec["ScheduleExpression"] == "at(2030-01-01T12:01:31)"
    assert (spec["ScheduleExpressionTimezone"], spec["ActionAfterCompletion"]) == ("UTC", "DELETE")
    assert spec["Target"]["Arn"] == settings.stratoflow_admission_arn
    assert json.loads(spec["Target"]["Input"]) == {
        "namespace": "team",
        "flowId": "etl",
        "executionId": "3xYk",
        "retry": "CREATE_NEW_EXECUTION",
        "restarts": 0,
    }
    # ... and a long execution id still gives a valid schedule name
    long_retry = FlowRetry(
        "RETRY_FAILED_TASK", execution.model_copy(update={"id": "x" * 80}), 3, timedelta(0)
    )
    assert len(retry_schedule_name(long_retry)) <= 64


def test_a_status_change_of_a_flow_part_changes_nothing_of_the_execution(tmp_path: Path) -> None:
    # Given a RUNNING execution of a big flow, and the end of one of its parts (a child execution
    # named by Step Functions, its input the execution's payload)
    store = SqliteExecutionStore(tmp_path / "db.sqlite")
    store.create_execution(
        Execution(id="3xYk", namespace="team", flow_id="etl", revision=1, state=State.RUNNING)
    )
    payload = {
        "execution": {"id": "3xYk", "namespace": "team", "flowId": "etl", "revision": 1},
        "scope": None,
    }
    change = StatusChange.model_validate(
        {
            "executionArn": "arn:aws:states:eu-west-1:123456789012:execution:part:0b7c",
            "stateMachineArn": "arn:aws:states:eu-west-1:123456789012:stateMachine:part",
            "name": "0b7c6a4e-5b7e-4f0c-9a57-2f1d3c1f9a10",
            "status": "SUCCEEDED",
            "input": json.dumps(payload),
        }
    )

    # When the status event handler records it
    outcome = record_status_change(change, store)

    # Then the execution is untouched: only the flow's own run ends it
    assert outcome.execution is None
    current = store.get_execution("3xYk")
    assert current is not None and current.state == State.RUNNING
