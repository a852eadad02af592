"""What observability needs from the stack: the failure alerts' wiring, the "did not run" windows' grant,
alarm descriptions that say where to look, and functions that carry no X-Ray SDK."""

from __future__ import annotations

from infra_synth import REPO_ROOT, Synthesized
from stratoflow._platform.infra.constructs.functions import FUNCTION_SPECS
from stratoflow._platform.infra.nag import render_cfn


def test_the_execution_events_function_may_publish_failure_alerts(synth: Synthesized) -> None:
    platform = synth.platform
    function = synth.resource(platform.functions.execution_events)["Properties"]
    topic = {"Ref": synth.logical_id(platform.alerts.topic)}
    key = {"Fn::GetAtt": [synth.logical_id(platform.alerts.key), "Arn"]}
    statements = synth.statements(platform.functions.roles["execution_events"])

    assert function["Environment"]["Variables"]["STRATOFLOW_ALERT_TOPIC_ARN"] == topic
    assert any(s["Action"] == ["sns:Publish"] and s["Resource"] == topic for s in statements)
    # ... through the topic's customer-managed key
    assert any("kms:GenerateDataKey*" in s["Action"] and s["Resource"] == key for s in statements)


def test_the_deployer_may_open_did_not_run_windows_in_the_stratoflow_namespace_only(
    synth: Synthesized,
) -> None:
    statements = synth.statements(synth.platform.functions.roles["deployer"])

    (put,) = [s for s in statements if "cloudwatch:PutMetricData" in s["Action"]]
    assert put["Condition"] == {"StringEquals": {"cloudwatch:namespace": "Stratoflow"}}
    (alarms,) = [s for s in statements if "cloudwatch:PutMetricAlarm" in s["Action"]]
    assert "cloudwatch:DeleteAlarms" in alarms["Action"]


def test_platform_alarm_descriptions_say_where_to_look(synth: Synthesized) -> None:
    descriptions = {
        alarm["Properties"]["AlarmName"]: render_cfn(alarm["Properties"]["AlarmDescription"])
        for alarm in synth.resources("AWS::CloudWatch::Alarm").values()
    }

    errors = descriptions["Stratoflow.task-runner-errors"]
    log_group = synth.logical_id(synth.platform.functions.task_runner.log_group)
    assert "errors of the task_runner function" in errors and f"<{log_group}>" in errors
    dead_letters = descriptions["Stratoflow.execution-events-dead-letters"]
    queue = synth.logical_id(synth.platform.execution_events.dead_letter_queue)
    assert f"<{queue}.QueueName>" in dead_letters and "could not be handled" in dead_letters


def test_no_function_imports_the_xray_sdk_and_the_layer_does_not_carry_it() -> None:
    # Lambda's active tracing records the invocations; the SDK would cost ~280 ms of cold start.
    for spec in FUNCTION_SPECS:
        source = (REPO_ROOT / "functions" / spec.name / "handler.py").read_text()
        assert "Tracer" not in source and "xray" not in source, spec.name
    requirements = (REPO_ROOT / "infra" / "lambda-requirements.txt").read_text()
    assert "aws-xray-sdk" not in requirements


def test_functions_keep_active_tracing(synth: Synthesized) -> None:
    for function in synth.platform.functions.by_name.values():
        assert synth.resource(function)["Properties"]["TracingConfig"] == {"Mode": "Active"}


def test_the_state_machines_log_to_a_vended_logs_group(synth: Synthesized) -> None:
    # Given the log group the deployer's state machines log to
    group = synth.resource(synth.platform.deployer.state_machine_logs)

    # Then it is under /aws/vendedlogs/ (no entry in the account's Logs resource policy needed)
    assert group["Properties"]["LogGroupName"] == "/aws/vendedlogs/states/Stratoflow"
