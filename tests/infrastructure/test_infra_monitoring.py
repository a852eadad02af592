"""Alerts topic, alarms, dashboard and stack outputs."""

from __future__ import annotations

import json
from typing import Any

from infra_synth import Synthesized
from stratoflow._platform.infra.constructs.functions import FUNCTION_SPECS
from stratoflow._platform.infra.nag import render_cfn


def _alarms(synth: Synthesized) -> dict[str, dict[str, Any]]:
    return {
        alarm["Properties"]["AlarmName"]: alarm["Properties"]
        for alarm in synth.resources("AWS::CloudWatch::Alarm").values()
    }


def test_alerts_topic_is_encrypted_with_a_key_cloudwatch_may_use(synth: Synthesized) -> None:
    alerts = synth.platform.alerts
    topic = synth.resource(alerts.topic)["Properties"]
    key = synth.resource(alerts.key)["Properties"]

    assert topic["KmsMasterKeyId"] == {"Fn::GetAtt": [synth.logical_id(alerts.key), "Arn"]}
    assert key["EnableKeyRotation"] is True
    cloudwatch = [
        statement
        for statement in key["KeyPolicy"]["Statement"]
        if statement.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}
    ]
    assert cloudwatch and set(cloudwatch[0]["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}


def test_alerts_topic_refuses_plain_http(synth: Synthesized) -> None:
    topic_ref = {"Ref": synth.logical_id(synth.platform.alerts.topic)}
    (policy,) = [
        policy["Properties"]["PolicyDocument"]["Statement"]
        for policy in synth.resources("AWS::SNS::TopicPolicy").values()
        if topic_ref in policy["Properties"]["Topics"]
    ]
    assert any(
        statement["Effect"] == "Deny" and statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for statement in policy
    )


def test_alert_email_subscription_only_when_configured(synth: Synthesized, custom_synth: Synthesized) -> None:
    synth.template.resource_count_is("AWS::SNS::Subscription", 0)
    custom_synth.template.has_resource_properties(
        "AWS::SNS::Subscription",
        {
            "Protocol": "email",
            "Endpoint": "ops@example.com",
            "TopicArn": {"Ref": custom_synth.logical_id(custom_synth.platform.alerts.topic)},
        },
    )


def test_every_function_has_error_and_throttle_alarms(synth: Synthesized) -> None:
    alarms = _alarms(synth)
    for spec in FUNCTION_SPECS:
        function = {"Ref": synth.logical_id(synth.platform.functions.by_name[spec.name])}
        for metric in ("Errors", "Throttles"):
            if (spec.name, metric) == ("task_runner", "Errors"):
                continue  # faults only: see the test below
            alarm = alarms[f"Stratoflow.{spec.name.replace('_', '-')}-{metric.lower()}"]
            assert alarm["Namespace"] == "AWS/Lambda"
            assert alarm["MetricName"] == metric
            assert alarm["Dimensions"] == [{"Name": "FunctionName", "Value": function}]
            assert alarm["Statistic"] == "Sum"


def test_the_task_runner_errors_alarm_counts_faults_not_failing_tasks(synth: Synthesized) -> None:
    # Given the task runner's errors alarm
    alarm = _alarms(synth)["Stratoflow.task-runner-errors"]
    function = {"Ref": synth.logical_id(synth.platform.functions.task_runner)}

    # Then it is Lambda's Errors less the task failures the runner published (TaskErrors)
    queries = {query["Id"]: query for query in alarm["Metrics"]}
    assert queries["expr_1"]["Expression"] == "errors - FILL(taskErrors, 0)"
    errors = queries["errors"]["MetricStat"]
    assert (errors["Metric"]["Namespace"], errors["Metric"]["MetricName"]) == ("AWS/Lambda", "Errors")
    assert errors["Metric"]["Dimensions"] == [{"Name": "FunctionName", "Value": function}]
    failures = queries["taskErrors"]["MetricStat"]
    assert (failures["Metric"]["Namespace"], failures["Metric"]["MetricName"]) == ("Stratoflow", "TaskErrors")
    assert "Dimensions" not in failures["Metric"]
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (1, "GreaterThanOrEqualToThreshold")


def test_every_dead_letter_queue_has_a_depth_alarm(synth: Synthesized) -> None:
    alarms = _alarms(synth)
    depth = [
        alarm for alarm in alarms.values() if alarm.get("MetricName") == "ApproximateNumberOfMessagesVisible"
    ]
    queues = {
        alarm["Dimensions"][0]["Value"]["Fn::GetAtt"][0] for alarm in depth if alarm["Namespace"] == "AWS/SQS"
    }

    assert queues == set(synth.resources("AWS::SQS::Queue"))


def test_every_alarm_notifies_the_topic_and_ignores_missing_data(synth: Synthesized) -> None:
    alarms = _alarms(synth)
    topic = {"Ref": synth.logical_id(synth.platform.alerts.topic)}

    assert len(alarms) == 2 * len(FUNCTION_SPECS) + 3 + 1  # functions, dead-letter queues, SLA misses
    for name, alarm in alarms.items():
        assert alarm["AlarmActions"] == [topic], name
        assert alarm["TreatMissingData"] == "notBreaching", name
        assert alarm["Threshold"] == 1
        assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"


def test_dashboard_shows_flow_metrics_function_health_and_dlq_depth(synth: Synthesized) -> None:
    (dashboard,) = synth.resources("AWS::CloudWatch::Dashboard").values()
    widgets = json.loads(render_cfn(dashboard["Properties"]["DashboardBody"]))["widgets"]
    lines = [line for widget in widgets for line in widget["properties"]["metrics"]]
    expressions = {line[0]["expression"]: line[0].get("label") for line in lines if isinstance(line[0], dict)}
    plain = {(line[0], line[1]) for line in lines if isinstance(line[0], str)}

    assert dashboard["Properties"]["DashboardName"] == "Stratoflow"
    # Per flow: every flow found by a SEARCH on the metric, whatever its other dimensions
    for metric, statistic in (
        ("ExecutionsStarted", "Sum"),
        ("ExecutionsSucceeded", "Sum"),
        ("ExecutionsFailed", "Sum"),
        ("ExecutionsKilled", "Sum"),
        ("ExecutionDuration", "Average"),
        ("QueueWait", "Maximum"),
        ("TaskFailures", "Sum"),
    ):
        search = f"SEARCH('Namespace=\"Stratoflow\" MetricName=\"{metric}\"', '{statistic}', 300)"
        assert expressions.get(search) == "${PROP('Dim.Flow')}", metric
    # Per flow and task type: the task-run metrics' own schema, labelled by both
    for metric, statistic in (("TaskRunsFailed", "Sum"), ("TaskDuration", "Average")):
        search = f"SEARCH('{{Stratoflow,Flow,TaskType}} MetricName=\"{metric}\"', '{statistic}', 300)"
        assert expressions.get(search) == "${PROP('Dim.TaskType')} in ${PROP('Dim.Flow')}", metric
    # Per task type, all flows: a Metrics Insights query
    query = "SELECT SUM(TaskRunsFailed) FROM SCHEMA(Stratoflow, Flow, TaskType) GROUP BY TaskType"
    assert query in expressions
    assert plain == {
        ("AWS/Lambda", "Errors"),
        ("AWS/Lambda", "Throttles"),
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible"),
    }
    functions = {line[3] for line in lines if line[:2] == ["AWS/Lambda", "Errors"]}
    assert functions == {
        f"<{synth.logical_id(function)}>" for function in synth.platform.functions.by_name.values()
    }


def test_sla_misses_have_an_alarm_and_a_graph(synth: Synthesized) -> None:
    # Given the synthesized stack
    alarm = _alarms(synth)["Stratoflow.sla-missed"]
    (dashboard,) = synth.resources("AWS::CloudWatch::Dashboard").values()
    widgets = json.loads(render_cfn(dashboard["Properties"]["DashboardBody"]))["widgets"]
    lines = [line for widget in widgets for line in widget["properties"]["metrics"]]
    expressions = {line[0]["expression"]: line[0].get("label") for line in lines if isinstance(line[0], dict)}
    # Then the stack-wide total of SlaMissed (the handlers' dimensionless set) alarms the topic
    assert (alarm["Namespace"], alarm["MetricName"], alarm["Statistic"]) == ("Stratoflow", "SlaMissed", "Sum")
    assert "Dimensions" not in alarm
    assert alarm["AlarmActions"] == [{"Ref": synth.logical_id(synth.platform.alerts.topic)}]
    # And the dashboard shows each SLA of each flow
    search = "SEARCH('{Stratoflow,Flow,Sla} MetricName=\"SlaMissed\"', 'Sum', 300)"
    assert expressions.get(search) == "${PROP('Dim.Sla')} in ${PROP('Dim.Flow')}"


def test_stack_outputs(synth: Synthesized) -> None:
    assert set(synth.cfn["Outputs"]) == {
        "FlowsBucketName",
        "DataBucketName",
        "TableName",
        "AlertTopicArn",
        "WebhookUrl",
        "AdmissionFunctionArn",
        "TaskRunnerFunctionArn",
        "PipeRolesArnPattern",
        "StratoflowVersion",
        "DataRetentionDays",
        "ConsoleUrl",
        "ConsoleUserPoolId",
        "ConsoleApiUrl",
    }
    outputs = synth.cfn["Outputs"]
    assert outputs["WebhookUrl"]["Value"] == {
        "Fn::GetAtt": [synth.logical_id(synth.platform.triggers.webhook_url), "FunctionUrl"]
    }
    assert outputs["TableName"]["Value"] == {"Ref": synth.logical_id(synth.platform.storage.table)}
    # the CLI's --remote store writes with the stack's retention (stratoflow.cli.stacks)
    assert outputs["DataRetentionDays"]["Value"] == str(synth.platform.props.data_retention_days)
