"""Alerts topic, platform alarms and the dashboard.

Flow metrics come from the handlers as CloudWatch EMF in the `Stratoflow` namespace (the list is in
stratoflow.cloud.runtime.metrics) with the dimension `Flow` ("<namespace>.<flowId>"), and `TaskType` for task
runs; the dashboard finds every flow and task type with SEARCH expressions, and sums task runs per
task type with a Metrics Insights query, so a new flow appears without a redeploy. The per-flow alarms
(failures, "did not run") are the deployer's (stratoflow.cloud.deploy.alarms).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from ..config import StratoflowProps
from ..naming import platform_name
from .functions import METRICS_NAMESPACE

FLOW_DIMENSION = "Flow"
TASK_TYPE_DIMENSION = "TaskType"
SLA_DIMENSION = "Sla"
SLA_MISSED = "SlaMissed"  # stratoflow.cloud.runtime.metrics.SLA_MISSED
EXECUTION_METRICS = ("ExecutionsStarted", "ExecutionsSucceeded", "ExecutionsFailed", "ExecutionsKilled")
PERIOD = Duration.minutes(5)
TASK_RUNNER = "task_runner"


class Alerts(Construct):
    """The SNS topic every alarm (platform and per flow) notifies; optionally e-mailed."""

    def __init__(self, scope: Construct, construct_id: str, *, config: StratoflowProps) -> None:
        super().__init__(scope, construct_id)
        # A customer-managed key: CloudWatch alarms cannot publish to a topic encrypted with the
        # AWS-managed SNS key.
        self.key = kms.Key(
            self,
            "TopicKey",
            description="Stratoflow alerts topic",
            enable_key_rotation=True,
            # The key protects alert messages in flight only; a retained key would bill every month.
            removal_policy=RemovalPolicy.DESTROY,
            pending_window=Duration.days(7),
        )
        self.key.grant(
            iam.ServicePrincipal("cloudwatch.amazonaws.com"), "kms:Decrypt", "kms:GenerateDataKey*"
        )
        self.topic = sns.Topic(
            self,
            "Topic",
            display_name=f"{Stack.of(self).stack_name} alerts",
            master_key=self.key,
            enforce_ssl=True,
        )
        if config.alert_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(config.alert_email))


class Monitoring(Construct):
    """One alarm per platform function's Errors and Throttles and per DLQ's depth; one dashboard."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        topic: sns.ITopic,
        functions: Mapping[str, lambda_.IFunction],
        dead_letter_queues: Mapping[str, sqs.IQueue],
    ) -> None:
        super().__init__(scope, construct_id)
        self.alarms: list[cloudwatch.Alarm] = []
        for name, function in functions.items():
            label = name.replace("_", "-")
            logs = f"its log group {function.log_group.log_group_name} (JSON lines with the execution id)"
            self._alarm(
                f"{label}-errors",
                _faults(function)
                if name == TASK_RUNNER
                else function.metric_errors(period=PERIOD, statistic="Sum"),
                f"errors of the {name} function. Look at {logs}.",
            )
            self._alarm(
                f"{label}-throttles",
                function.metric_throttles(period=PERIOD, statistic="Sum"),
                f"throttles of the {name} function: the account's Lambda concurrency is used up.",
            )
        for name, queue in dead_letter_queues.items():
            self._alarm(
                f"{name}-dead-letters",
                queue.metric_approximate_number_of_messages_visible(period=PERIOD, statistic="Maximum"),
                f"events left in the queue {queue.queue_name}: they could not be handled after retries. "
                "Read them there (each holds the event and the error), fix the cause, send them again.",
            )
        # Every flow's SLA misses together (the metric's dimensionless total); each flow also has its
        # own SlaMissed alarm, the deployer's, and the dashboard says which SLA of which flow.
        self._alarm(
            "sla-missed",
            cloudwatch.Metric(
                namespace=METRICS_NAMESPACE, metric_name=SLA_MISSED, period=PERIOD, statistic="Sum"
            ),
            "an execution missed an SLA of its flow (sla: in the flow). Find it: strato executions list "
            "--remote --label <the SLA's label>; the dashboard's SlaMissed graph names the flow and SLA.",
        )
        for alarm in self.alarms:
            alarm.add_alarm_action(actions.SnsAction(topic))

        self.dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            dashboard_name=Stack.of(self).stack_name,
            default_interval=Duration.days(1),
            widgets=[
                [_flow_graph(metric, "Sum", width=6) for metric in EXECUTION_METRICS],
                [
                    _flow_graph("ExecutionDuration", "Average"),
                    _flow_graph("QueueWait", "Maximum"),
                    _flow_graph("TaskFailures", "Sum"),
                ],
                [_sla_graph()],
                [
                    _task_type_totals("TaskRunsFailed", "SUM"),
                    _task_graph("TaskRunsFailed", "Sum"),
                    _task_graph("TaskDuration", "Average"),
                ],
                [
                    _function_graph("Errors", functions, lambda f: f.metric_errors(period=PERIOD)),
                    _function_graph("Throttles", functions, lambda f: f.metric_throttles(period=PERIOD)),
                    cloudwatch.GraphWidget(
                        title="Dead-letter queue depth",
                        left=[
                            queue.metric_approximate_number_of_messages_visible(
                                period=PERIOD, statistic="Maximum", label=name
                            )
                            for name, queue in dead_letter_queues.items()
                        ],
                        width=8,
                    ),
                ],
            ],
        )

    def _alarm(self, name: str, metric: cloudwatch.IMetric, what: str) -> None:
        alarm = metric.create_alarm(
            self,
            name,
            alarm_name=platform_name(self, name),
            alarm_description=f"Stratoflow {name}, at least one in {int(PERIOD.to_minutes())} minutes: {what}",
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.alarms.append(alarm)


def _faults(function: lambda_.IFunction) -> cloudwatch.MathExpression:
    """The task runner's errors that are not tasks failing: Lambda counts a task's failure (raised so
    that the state machine's Retry/Catch see it) as a function error; the runner publishes each one as
    `TaskErrors`, and what is left is the platform's own faults, timeouts and crashes included."""
    return cloudwatch.MathExpression(
        label="task runner faults",
        expression="errors - FILL(taskErrors, 0)",
        using_metrics={
            "errors": function.metric_errors(period=PERIOD, statistic="Sum"),
            "taskErrors": cloudwatch.Metric(
                namespace=METRICS_NAMESPACE, metric_name="TaskErrors", period=PERIOD, statistic="Sum"
            ),
        },
        period=PERIOD,
    )


def _flow_graph(metric_name: str, statistic: str, width: int = 8) -> cloudwatch.GraphWidget:
    """One line per flow, found by a SEARCH whatever other dimensions (Powertools' `service`) it has."""
    search = (
        f'SEARCH(\'Namespace="{METRICS_NAMESPACE}" MetricName="{metric_name}"\', '
        f"'{statistic}', {int(PERIOD.to_seconds())})"
    )
    return cloudwatch.GraphWidget(
        title=f"{metric_name} per flow",
        left=[
            cloudwatch.MathExpression(
                expression=search, using_metrics={}, label=f"${{PROP('Dim.{FLOW_DIMENSION}')}}", period=PERIOD
            )
        ],
        width=width,
    )


def _sla_graph() -> cloudwatch.GraphWidget:
    """One line per SLA of each flow (SlaMissed's {Namespace,Flow,Sla} dimension set)."""
    schema = f"{{{METRICS_NAMESPACE},{FLOW_DIMENSION},{SLA_DIMENSION}}}"
    search = f"SEARCH('{schema} MetricName=\"{SLA_MISSED}\"', 'Sum', {int(PERIOD.to_seconds())})"
    label = f"${{PROP('Dim.{SLA_DIMENSION}')}} in ${{PROP('Dim.{FLOW_DIMENSION}')}}"
    return cloudwatch.GraphWidget(
        title=f"{SLA_MISSED} per flow and SLA",
        left=[cloudwatch.MathExpression(expression=search, using_metrics={}, label=label, period=PERIOD)],
        width=24,
    )


def _task_graph(metric_name: str, statistic: str) -> cloudwatch.GraphWidget:
    """One line per task type of each flow (the schema {Namespace,Flow,TaskType} of the task-run metrics)."""
    schema = f"{{{METRICS_NAMESPACE},{FLOW_DIMENSION},{TASK_TYPE_DIMENSION}}}"
    search = f"SEARCH('{schema} MetricName=\"{metric_name}\"', '{statistic}', {int(PERIOD.to_seconds())})"
    label = f"${{PROP('Dim.{TASK_TYPE_DIMENSION}')}} in ${{PROP('Dim.{FLOW_DIMENSION}')}}"
    return cloudwatch.GraphWidget(
        title=f"{metric_name} per flow and task type",
        left=[cloudwatch.MathExpression(expression=search, using_metrics={}, label=label, period=PERIOD)],
        width=8,
    )


def _task_type_totals(metric_name: str, function: str) -> cloudwatch.GraphWidget:
    """All flows together, one line per task type: a Metrics Insights query (recent data only)."""
    query = (
        f"SELECT {function}({metric_name}) FROM SCHEMA({METRICS_NAMESPACE}, {FLOW_DIMENSION}, "
        f"{TASK_TYPE_DIMENSION}) GROUP BY {TASK_TYPE_DIMENSION}"
    )
    return cloudwatch.GraphWidget(
        title=f"{metric_name} per task type, all flows",
        left=[cloudwatch.MathExpression(expression=query, using_metrics={}, label="", period=PERIOD)],
        width=8,
    )


def _function_graph(
    title: str,
    functions: Mapping[str, lambda_.IFunction],
    metric: Callable[[lambda_.IFunction], cloudwatch.Metric],
) -> cloudwatch.GraphWidget:
    return cloudwatch.GraphWidget(
        title=f"Platform function {title.lower()}",
        left=[metric(function).with_(label=name, statistic="Sum") for name, function in functions.items()],
        width=8,
    )
