"""Task-runner Lambda: every Task state of a compiled flow invokes it with one action for one task.

Thin by design: the event is the Payload the state machine built, parsed into its call model
(`stratoflow.runner_call`: a call that does not fit fails with InvalidRunnerCall naming the field); errors
propagate so that Lambda reports their class name as `errorType`, which the compiled Retry/Catch match.
A task's own failure (a `TaskError`) is counted apart from the runner's faults (anything else), so
that the platform's errors alarm means "Stratoflow is broken", not "a flow failed".
Each task run that ends in the call is published as metrics (stratoflow.cloud.runtime.metrics: dimensions
Flow and TaskType, ids as metadata); log lines carry the execution id, flow, task id and attempt.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import EphemeralMetrics
from aws_lambda_powertools.utilities.typing import LambdaContext

from stratoflow.cloud.assembly import cloud_task_runner
from stratoflow.cloud.config.settings import Settings
from stratoflow.cloud.runtime.metrics import Metric, task_run_metric_sets
from stratoflow.domain import TaskRun
from stratoflow.execution.runner import recording_task_runs
from stratoflow.runner_call import InvalidRunnerCall, parse_runner_call
from stratoflow.tasks.errors import TaskError

logger = Logger()
runner = cloud_task_runner(Settings.from_env())


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> Any:
    try:
        call = parse_runner_call(event)
    except InvalidRunnerCall as error:
        logger.exception("task runner fault", extra={"error_type": type(error).__name__})
        raise
    execution = call.execution
    flow = f"{execution.namespace}.{execution.flow_id}"
    logger.append_keys(execution_id=execution.id, flow=flow, task_id=call.task_id, action=call.action)
    with recording_task_runs(on_save=_note_attempt) as activity:
        try:
            result = runner.handle(call)
        except TaskError as error:
            # Every failed attempt, retried or not: the flow's failure rate. A task failure is the
            # flow's data, not the platform's fault: `TaskErrors` (no dimension) is subtracted from
            # the function's Lambda Errors by the platform alarm, which then counts faults only.
            metadata = {"executionId": execution.id}
            _publish({"Flow": flow}, [Metric("TaskFailures", "Count", 1)], metadata)
            _publish({}, [Metric("TaskErrors", "Count", 1)], metadata)
            logger.info("task action failed", extra={"error_type": type(error).__name__, "error": str(error)})
            raise
        except Exception as error:
            logger.exception("task runner fault", extra={"error_type": type(error).__name__})
            raise
        finally:
            for metric_set in task_run_metric_sets(flow, activity.ended):
                _publish(metric_set.dimensions, metric_set.metrics, metric_set.metadata)
    logger.info("task action done", extra={"state": result.get("state")})
    return result


def _note_attempt(task_run: TaskRun) -> None:
    """Every line logged from the first save of an attempt on carries its number."""
    if task_run.attempts:
        logger.append_keys(attempt=len(task_run.attempts))


def _publish(dimensions: dict[str, str], metrics: list[Metric], metadata: dict[str, Any]) -> None:
    """One EMF document: exactly these dimensions (no Powertools `service`), ids as metadata."""
    emf = EphemeralMetrics(service="")
    for name, value in dimensions.items():
        emf.add_dimension(name=name, value=value)
    for metric in metrics:
        emf.add_metric(name=metric.name, unit=metric.unit, value=metric.value)
    for key, value in metadata.items():
        emf.add_metadata(key=key, value=value)
    emf.flush_metrics()
