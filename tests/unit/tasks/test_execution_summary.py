"""RunContext.execution_summary (what SlackExecution reports) and the summary message itself."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from stratoflow.domain import Execution, TaskRun
from stratoflow.errors import FlowValidationError
from stratoflow.states import State
from stratoflow.tasks.notifications.execution import summary_message
from tests.unit.tasks.task_helpers import direct_context, load_task


def test_the_execution_that_triggered_this_one_is_visible_across_namespaces(tmp_path: Path) -> None:
    # Given: an upstream execution in another namespace, with a failed task run
    ctx = direct_context(tmp_path, namespace="alerts")
    upstream = Execution(id="up-1", namespace="prod.sales", flow_id="load", revision=1, state=State.FAILED)
    ctx.store.create_execution(upstream)
    ctx.store.save_task_run(
        TaskRun(id="r1", execution_id="up-1", task_id="extract", state=State.FAILED, error="timeout")
    )
    stranger = Execution(id="other-1", namespace="prod.hr", flow_id="pay", revision=1)
    ctx.store.create_execution(stranger)

    # When: this execution was started by a Flow trigger on up-1
    ctx.execution = ctx.execution.model_copy(update={"trigger": {"executionId": "up-1"}})
    summary = ctx.execution_summary("up-1")

    # Then
    assert summary is not None and summary["namespace"] == "prod.sales" and summary["state"] == "FAILED"
    assert summary["taskRuns"] == [{"taskId": "extract", "state": "FAILED", "error": "timeout"}]
    assert ctx.execution_summary("other-1") is None
    assert ctx.execution_summary("missing") is None


def test_a_running_execution_with_a_failed_task_is_reported_failed() -> None:
    # Given: the summary an `errors` task sees (the execution still RUNNING)
    summary = {
        "id": "e1",
        "namespace": "team",
        "flowId": "etl",
        "state": "RUNNING",
        "startDate": "2024-01-01T10:00:00+00:00",
        "endDate": None,
        "taskRuns": [
            {"taskId": "a", "state": "SUCCESS", "error": None},
            {"taskId": "b", "state": "FAILED", "error": "boom"},
            {"taskId": "alert", "state": "RUNNING", "error": None},
        ],
    }

    # When
    message = summary_message(summary, datetime(2024, 1, 1, 11, 2, 3, tzinfo=UTC), None, {"owner": "ana"})

    # Then
    fields = {f["title"]: f["value"] for f in message["attachments"][0]["fields"]}
    assert message["text"] == "team.etl ➛ FAILED"
    assert (
        fields["Duration"] == "1h 02m 03s" and fields["Failed task"] == "b: boom" and fields["owner"] == "ana"
    )


def test_mail_execution_refuses_content_of_its_own() -> None:
    # Given a MailExecution with a body of its own
    task = "{id: m, type: email.MailExecution, host: h, from: a@b.c, to: d@e.f, plainTextContent: hi}"

    # When / Then: refused, since the summary is the content
    with pytest.raises(FlowValidationError, match="the summary is the content"):
        load_task(task)
