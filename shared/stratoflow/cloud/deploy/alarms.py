"""The deploy step of a flow's CloudWatch alarms; every alarm notifies the stack's alerts topic.

- Failures, one alarm per Step Functions metric of the flow's state machine (`ALARM_METRICS`): at
  least one in 5 minutes; no data is no alarm.
- SLA missed, for a flow with `sla`: at least one SlaMissed (dimension Flow) in 5 minutes.
- "Did not run", for a flow with enabled Schedule triggers: no successful execution within its
  expected window, the longest time its schedules leave between two runs plus a grace.

The "did not run" alarm watches Stratoflow's `ExecutionsSucceeded` (dimension `Flow`) with the
statistic SampleCount, and missing data breaches: it goes off when E consecutive periods (E x period
covering the window) hold no data point. Each deployment puts a data point of value 0 on the metric:
it counts as a sample, not as a success (sums and graphs are unchanged), so a window starts at the
deployment and a new flow is not in alarm before its first scheduled run could have happened.

CloudWatch lets an alarm look back at most 1 day with periods under an hour, 7 days with longer ones:
a window longer than 7 days is cut to 7 days when the grace is what exceeds it, and a flow whose
schedules alone leave more than that (monthly runs) gets no "did not run" alarm; the deployment
notes say so.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from stratoflow.cloud.config.naming import alarm_name
from stratoflow.cloud.config.settings import Settings
from stratoflow.cloud.deploy.deployment import Deployment, FlowTarget, Retirement
from stratoflow.cloud.runtime.metrics import NAMESPACE, SLA_MISSED
from stratoflow.flow import Flow
from stratoflow.flow.triggers import Schedule
from stratoflow.triggers.gaps import largest_gap
from stratoflow.triggers.schedules import CronSchedule

if TYPE_CHECKING:  # boto3-stubs (dev only): nothing of it is imported at run time
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_cloudwatch.type_defs import DimensionTypeDef, TagTypeDef

ALARM_METRICS = ("ExecutionsFailed", "ExecutionsTimedOut", "ExecutionsAborted", "ExecutionThrottled")
# A failed (or timed-out) execution already sends one alert of its own, naming the task and error
# (cloud.runtime.events): its alarm is kept for the console and dashboards but notifies nobody, so one failed
# execution is one notification.
SILENT_METRICS = frozenset({"ExecutionsFailed", "ExecutionsTimedOut"})
ALARM_PERIOD_SECONDS = 300
DID_NOT_RUN = "DidNotRun"

GRACE_MIN = timedelta(minutes=15)  # a run's own duration, and the metric's delivery, fit in it
GRACE_SHARE = 0.1  # of the gap: a daily flow may end 2.4 h later than usual before it alarms
LONGEST_LOOKBACK = timedelta(days=7)  # period x evaluation periods, periods of an hour or more
SHORT_PERIOD_LOOKBACK = timedelta(days=1)  # ... periods under an hour
TARGET_PERIODS = 10  # the alarm may go off up to one period (a tenth of the window) late


@dataclass(frozen=True)
class DidNotRunWindow:
    """How long a flow may go without a successful execution, and the alarm's periods that watch it."""

    gap: timedelta  # the longest time the schedules leave between two runs
    window: timedelta  # gap + grace, possibly cut to the longest look-back
    period: int  # seconds, a multiple of 60
    evaluation_periods: int
    cut: bool = False  # the grace was cut to fit CloudWatch's look-back


def did_not_run_window(gap: timedelta) -> DidNotRunWindow | None:
    """The alarm's window for schedules that leave up to `gap` between runs; None when none fits."""
    if gap + GRACE_MIN > LONGEST_LOOKBACK:
        return None
    wanted = gap + max(GRACE_MIN, gap * GRACE_SHARE)
    window = min(wanted, LONGEST_LOOKBACK)
    seconds = window.total_seconds()
    period = max(60, 60 * math.ceil(seconds / TARGET_PERIODS / 60))
    periods = math.ceil(seconds / period)
    limit = SHORT_PERIOD_LOOKBACK if period < 3600 else LONGEST_LOOKBACK
    while period * periods > limit.total_seconds():  # rounding up to whole minutes overshot the limit
        periods -= 1
    covered = timedelta(seconds=period * periods)
    return DidNotRunWindow(gap, min(window, covered), period, periods, cut=covered < wanted)


def scheduled_gap(flow: Flow, now: datetime) -> timedelta | None:
    """The longest gap between runs of the flow's enabled Schedule triggers; None without any."""
    if flow.disabled:
        return None
    schedules = [
        CronSchedule.of(trigger)
        for trigger in flow.triggers
        if isinstance(trigger, Schedule) and not trigger.disabled
    ]
    if not schedules:
        return None
    return largest_gap(schedules, now, limit=LONGEST_LOOKBACK)


class AlarmsStep:
    """The flow's failure alarms, and its "did not run" alarm when it runs on a schedule."""

    name = "alarms"

    def __init__(
        self, client: CloudWatchClient, settings: Settings, clock: Callable[[], datetime] | None = None
    ):
        self.client = client
        self.settings = settings
        self.clock = clock or (lambda: datetime.now(UTC))  # where the schedules' sample starts

    def names(self, target: FlowTarget) -> list[str]:
        stack = self.settings.stratoflow_stack_name
        return [alarm_name(stack, target.namespace, target.flow_id, metric) for metric in ALARM_METRICS]

    def did_not_run_name(self, target: FlowTarget) -> str:
        return alarm_name(self.settings.stratoflow_stack_name, target.namespace, target.flow_id, DID_NOT_RUN)

    def sla_missed_name(self, target: FlowTarget) -> str:
        return alarm_name(self.settings.stratoflow_stack_name, target.namespace, target.flow_id, SLA_MISSED)

    def deploy(self, deployment: Deployment) -> None:
        target = deployment.target
        for metric, name in zip(ALARM_METRICS, self.names(target), strict=True):
            self.client.put_metric_alarm(
                AlarmName=name,
                AlarmDescription=_failure_description(target, metric),
                Namespace="AWS/States",
                MetricName=metric,
                Dimensions=[{"Name": "StateMachineArn", "Value": target.state_machine_arn}],
                Statistic="Sum",
                Period=ALARM_PERIOD_SECONDS,
                EvaluationPeriods=1,
                Threshold=1,
                ComparisonOperator="GreaterThanOrEqualToThreshold",
                TreatMissingData="notBreaching",
                AlarmActions=[] if metric in SILENT_METRICS else self._actions(),
                Tags=_tags(target),
            )
        self._did_not_run(deployment)
        self._sla_missed(deployment)

    def retire(self, retirement: Retirement) -> None:
        # DeleteAlarms ignores names that do not exist.
        target = retirement.target
        self.client.delete_alarms(
            AlarmNames=[*self.names(target), self.did_not_run_name(target), self.sla_missed_name(target)]
        )

    def _sla_missed(self, deployment: Deployment) -> None:
        """A flow with `sla`: its misses (SlaMissed, dimension Flow) alarm at the first one."""
        target = deployment.target
        name = self.sla_missed_name(target)
        slas = list(getattr(deployment.flow, "sla", []))
        if not slas:
            self.client.delete_alarms(AlarmNames=[name])  # it may have had SLAs before
            return
        self.client.put_metric_alarm(
            AlarmName=name,
            AlarmDescription=_sla_description(target, [sla.id for sla in slas]),
            Namespace=NAMESPACE,
            MetricName=SLA_MISSED,
            Dimensions=[{"Name": "Flow", "Value": f"{target.namespace}.{target.flow_id}"}],
            Statistic="Sum",
            Period=ALARM_PERIOD_SECONDS,
            EvaluationPeriods=1,
            Threshold=1,
            ComparisonOperator="GreaterThanOrEqualToThreshold",
            TreatMissingData="notBreaching",
            AlarmActions=self._actions(),
            Tags=_tags(target),
        )

    def _did_not_run(self, deployment: Deployment) -> None:
        target = deployment.target
        name = self.did_not_run_name(target)
        gap = scheduled_gap(deployment.flow, self.clock())
        window = did_not_run_window(gap) if gap is not None else None
        if window is None:
            # No schedule (any more), or one whose runs are too far apart to watch.
            self.client.delete_alarms(AlarmNames=[name])
            if gap is not None:
                deployment.notes.append(
                    f"no 'did not run' alarm: the schedules leave up to {_human(gap)} between runs, "
                    f"longer than a CloudWatch alarm can watch ({_human(LONGEST_LOOKBACK)})"
                )
            return
        dimensions: list[DimensionTypeDef] = [
            {"Name": "Flow", "Value": f"{target.namespace}.{target.flow_id}"}
        ]
        # The deployment opens a window: a sample that is not a success (see the module doc).
        self.client.put_metric_data(
            Namespace=NAMESPACE,
            MetricData=[
                {"MetricName": "ExecutionsSucceeded", "Dimensions": dimensions, "Value": 0, "Unit": "Count"}
            ],
        )
        self.client.put_metric_alarm(
            AlarmName=name,
            AlarmDescription=_did_not_run_description(target, window),
            Namespace=NAMESPACE,
            MetricName="ExecutionsSucceeded",
            Dimensions=dimensions,
            Statistic="SampleCount",
            Period=window.period,
            EvaluationPeriods=window.evaluation_periods,
            DatapointsToAlarm=window.evaluation_periods,
            Threshold=1,
            ComparisonOperator="LessThanThreshold",
            TreatMissingData="breaching",
            AlarmActions=self._actions(),
            Tags=_tags(target),
        )
        if window.cut:
            deployment.notes.append(
                f"'did not run' alarm after {_human(window.window)} without a successful run (the "
                f"schedules leave up to {_human(window.gap)}; CloudWatch watches at most "
                f"{_human(LONGEST_LOOKBACK)})"
            )

    def _actions(self) -> list[str]:
        topic = self.settings.stratoflow_alert_topic_arn
        return [topic] if topic else []


def _tags(target: FlowTarget) -> list[TagTypeDef]:
    return [{"Key": k, "Value": v} for k, v in target.tags().items()]


def _failure_description(target: FlowTarget, metric: str) -> str:
    flow = f"{target.namespace}.{target.flow_id}"
    alert = (
        "This alarm notifies nobody: each failed execution sends its own alert naming the failed task "
        "and its error. "
        if metric in SILENT_METRICS
        else "Each failed execution also sends its own alert naming the failed task and its error. "
    )
    return (
        f"Stratoflow flow {flow}: {metric} at least once in {ALARM_PERIOD_SECONDS // 60} minutes. "
        f"{alert}Find them: strato executions list --remote --namespace {target.namespace} "
        f"--flow {target.flow_id} --state FAILED; then strato logs <execution-id> --remote."
    )


def _sla_description(target: FlowTarget, sla_ids: list[str]) -> str:
    flow = f"{target.namespace}.{target.flow_id}"
    return (
        f"Stratoflow flow {flow}: an execution missed an SLA ({', '.join(sla_ids)}) in the last "
        f"{ALARM_PERIOD_SECONDS // 60} minutes. Its logs name the SLA: strato executions list --remote "
        f"--namespace {target.namespace} --flow {target.flow_id}; then strato logs <execution-id> --remote."
    )


def _did_not_run_description(target: FlowTarget, window: DidNotRunWindow) -> str:
    return (
        f"Stratoflow flow {target.namespace}.{target.flow_id} did not run: no successful execution "
        f"for {_human(window.window)} (its schedules leave up to {_human(window.gap)} between runs). "
        f"Look at its last runs: strato executions list --remote --namespace {target.namespace} "
        f"--flow {target.flow_id}. A failed run sends its own alert; a run that never started points "
        "at a disabled flow or trigger (stopAfter, strato trigger), or at the admission function's "
        "errors and its dead-letter queue."
    )


def _human(duration: timedelta) -> str:
    """`2d 3h`, `26h 24m`, `16m`: the two largest units."""
    minutes = int(duration.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = [f"{days}d" if days else "", f"{hours}h" if hours else "", f"{minutes}m" if minutes else ""]
    shown = [part for part in parts if part][:2]
    return " ".join(shown) or "0m"
