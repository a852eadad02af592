"""Alerts topic, platform alarms and the dashboard.

Flow metrics come from the handlers as CloudWatch EMF in the `Stratoflow` namespace with the dimension
`Flow` ("<namespace>.<flowId>"), plus the `service` dimension Powertools adds; the dashboard finds every
flow with a SEARCH expression, so a new flow appears without a redeploy.
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

from infra.config import StackConfig
from infra.constructs.functions import METRICS_NAMESPACE
from infra.naming import platform_name

FLOW_DIMENSION = "Flow"
EXECUTION_METRICS = ("ExecutionsStarted", "ExecutionsSucceeded", "ExecutionsFailed")
PERIOD = Duration.minutes(5)


class Alerts(Construct):
    """The SNS topic every alarm (platform and per flow) notifies; optionally e-mailed."""

    def __init__(self, scope: Construct, construct_id: str, *, config: StackConfig) -> None:
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
            self._alarm(f"{label}-errors", function.metric_errors(period=PERIOD, statistic="Sum"))
            self._alarm(f"{label}-throttles", function.metric_throttles(period=PERIOD, statistic="Sum"))
        for name, queue in dead_letter_queues.items():
            self._alarm(
                f"{name}-dead-letters",
                queue.metric_approximate_number_of_messages_visible(period=PERIOD, statistic="Maximum"),
            )
        for alarm in self.alarms:
            alarm.add_alarm_action(actions.SnsAction(topic))

        self.dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            dashboard_name=Stack.of(self).stack_name,
            default_interval=Duration.days(1),
            widgets=[
                [_flow_graph(metric, "Sum") for metric in EXECUTION_METRICS],
                [
                    _flow_graph("ExecutionDuration", "Average"),
                    _flow_graph("TaskFailures", "Sum"),
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

    def _alarm(self, name: str, metric: cloudwatch.Metric) -> None:
        alarm = metric.create_alarm(
            self,
            name,
            alarm_name=platform_name(self, name),
            alarm_description=f"Stratoflow {name}: at least one in {int(PERIOD.to_minutes())} minutes",
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.alarms.append(alarm)


def _flow_graph(metric_name: str, statistic: str) -> cloudwatch.GraphWidget:
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
        width=8 if metric_name in EXECUTION_METRICS else 12,
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
