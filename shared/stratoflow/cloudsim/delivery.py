"""What EventBridge does for the stack, played in-process on moto (which never delivers to Lambda).

- `FlowUploads`: a PutObject / DeleteObject on the flows bucket, by any client of the process, hands
  the deployer the "Object Created" / "Object Deleted" event EventBridge would deliver;
- `StatusEvents`: watches the executions admission started and hands the execution-events logic the
  "Step Functions Execution Status Change" events of their RUNNING and final statuses;
- `start_latest_versions`: moto 5.2.5 cannot start an execution on a state machine *version* ARN
  (admission always does); on moto the start goes to the state machine when that version is its
  current definition, which is then the same thing.

The event builders produce the documents AWS sends (tests/fixtures/events/ holds real-shaped ones).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import boto3

from stratoflow.cloud.config.naming import unqualified
from stratoflow.cloud.runtime.event_models import OBJECT_CREATED, OBJECT_DELETED, STATUS_CHANGE
from stratoflow.cloudsim.stack import ACCOUNT, REGION

if TYPE_CHECKING:  # boto3-stubs (dev only): nothing of it is imported at run time
    from mypy_boto3_stepfunctions import SFNClient

if TYPE_CHECKING:  # boto3-stubs (dev only): nothing of it is imported at run time
    from botocore.client import BaseClient


def object_event(kind: str, bucket: str, key: str, version_id: str | None, size: int = 0) -> dict[str, Any]:
    """The EventBridge event of an object created ("created") or deleted ("deleted") in a bucket."""
    obj: dict[str, Any] = {"key": key, "sequencer": f"{time.time_ns():X}"}
    if version_id:
        obj["version-id"] = version_id
    detail: dict[str, Any] = {"version": "0", "bucket": {"name": bucket}, "object": obj, "requester": ACCOUNT}
    if kind == "created":
        obj.update({"size": size, "etag": uuid.uuid4().hex})
        detail["reason"] = "PutObject"
    else:
        detail["reason"] = "DeleteObject"
        detail["deletion-type"] = "Delete Marker Created" if version_id else "Permanently Deleted"
    return _envelope(
        "aws.s3", OBJECT_CREATED if kind == "created" else OBJECT_DELETED, [f"arn:aws:s3:::{bucket}"], detail
    )


def status_change_event(described: dict[str, Any]) -> dict[str, Any]:
    """The status-change event of an execution, from its DescribeExecution response."""

    def millis(value: Any) -> int | None:
        return int(value.timestamp() * 1000) if isinstance(value, datetime) else None

    detail = {
        "executionArn": described["executionArn"],
        "stateMachineArn": unqualified(described["stateMachineArn"]),
        "name": described["name"],
        "status": described["status"],
        "startDate": millis(described.get("startDate")),
        "stopDate": millis(described.get("stopDate")),
        "input": described.get("input"),
        "output": described.get("output"),
        "error": described.get("error"),
        "cause": described.get("cause"),
    }
    return _envelope("aws.states", STATUS_CHANGE, [described["executionArn"]], detail)


def _envelope(source: str, detail_type: str, resources: list[str], detail: dict[str, Any]) -> dict[str, Any]:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": source,
        "account": ACCOUNT,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": resources,
        "detail": detail,
    }


Handler = Callable[[dict[str, Any]], Any]
START_CALL = "after-call.stepfunctions.StartExecution"
START_PARAMS = "provide-client-params.stepfunctions.StartExecution"


class FlowUploads:
    """Delivers the flows bucket's object events to `handler` right after each upload or deletion.

    Registered on boto3's default session, so clients created afterwards (the CLI's) trigger it.
    """

    OPERATIONS = {"PutObject": "created", "DeleteObject": "deleted"}

    def __init__(self, bucket: str, handler: Handler):
        self.bucket = bucket
        self.handler = handler
        self.results: list[Any] = []

    def install(self) -> None:
        events = boto3._get_default_session().events
        for operation in self.OPERATIONS:
            events.register(f"provide-client-params.s3.{operation}", self._remember)
            events.register(f"after-call.s3.{operation}", self._deliver)

    def uninstall(self) -> None:
        events = boto3._get_default_session().events
        for operation in self.OPERATIONS:
            events.unregister(f"provide-client-params.s3.{operation}", self._remember)
            events.unregister(f"after-call.s3.{operation}", self._deliver)

    def _remember(self, params: dict[str, Any], context: dict[str, Any], **_kwargs: Any) -> None:
        context["stratoflow_object"] = (
            params.get("Bucket"),
            params.get("Key"),
            len(params.get("Body") or b""),
        )

    def _deliver(self, parsed: dict[str, Any], model: Any, context: dict[str, Any], **_kwargs: Any) -> None:
        bucket, key, size = context.get("stratoflow_object", (None, None, 0))
        if bucket != self.bucket or parsed.get("Error") or not str(key).endswith((".yaml", ".yml")):
            return  # the stack's rule matches the flows bucket's *.yaml / *.yml objects only
        kind = self.OPERATIONS[model.name]
        self.results.append(self.handler(object_event(kind, bucket, str(key), parsed.get("VersionId"), size)))


class StatusEvents:
    """Delivers the RUNNING and final status events of tracked executions to `handler`.

    A background thread polls DescribeExecution (moto runs executions on its own threads): every
    `poll_seconds` at first, then less and less often while nothing ends, up to `MAX_POLL_SECONDS`
    (each poll is a moto request: polling a 10,000-item execution every 20 ms took half its CPU).
    """

    MAX_POLL_SECONDS = 0.5

    def __init__(self, stepfunctions: SFNClient, handler: Handler, poll_seconds: float = 0.02):
        self.stepfunctions = stepfunctions
        self.handler = handler
        self.poll_seconds = poll_seconds
        self._delay = poll_seconds
        self._pending: dict[str, threading.Event] = {}
        self._done: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="stratoflow-status-events", daemon=True)
        self.errors: list[BaseException] = []

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def follow_starts(self, *clients: BaseClient) -> None:
        """Track every execution started by `clients` and by any client created from now on (a CLI's
        restart or replay starts outside admission): EventBridge reports every execution's status."""
        boto3._get_default_session().events.register(START_CALL, self._started)
        for client in clients:
            client.meta.events.register(START_CALL, self._started)

    def unfollow_starts(self) -> None:
        boto3._get_default_session().events.unregister(START_CALL, self._started)

    def _started(self, parsed: dict[str, Any], **_kwargs: Any) -> None:
        arn = parsed.get("executionArn")
        if isinstance(arn, str) and not parsed.get("Error"):
            self.track(arn)

    def track(self, execution_arn: str) -> None:
        """Deliver the execution's RUNNING event now, and its final one when it ends."""
        with self._lock:
            if execution_arn in self._done:
                return
            self._done[execution_arn] = threading.Event()
        described = self.stepfunctions.describe_execution(executionArn=execution_arn)
        self.handler(status_change_event({**described, "status": "RUNNING", "stopDate": None}))
        with self._lock:
            self._pending[execution_arn] = self._done[execution_arn]
            self._delay = self.poll_seconds

    def wait(self, execution_arn: str, timeout: float | None) -> bool:
        """True once the execution's final event was delivered; False after `timeout` seconds."""
        with self._lock:
            done = self._done.get(execution_arn)
        if done is None:
            raise KeyError(f"execution {execution_arn} is not tracked")
        return done.wait(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                pending = list(self._pending.items())
            for arn, done in pending:
                try:
                    described = self.stepfunctions.describe_execution(executionArn=arn)
                    if described["status"] == "RUNNING":
                        continue
                    self.handler(status_change_event(dict(described)))
                except Exception as error:  # a handler error is kept for the caller; the event is dropped
                    self.errors.append(error)
                with self._lock:
                    self._pending.pop(arn, None)
                    self._delay = self.poll_seconds
                done.set()
            with self._lock:
                delay = self._delay
                self._delay = min(delay * 2, self.MAX_POLL_SECONDS)
            self._stop.wait(delay)


def start_latest_versions(stepfunctions: SFNClient) -> Callable[..., None]:
    """Let `stepfunctions` start version ARNs on moto: the start goes to the state machine itself.

    Only when the version's definition is the state machine's current one; otherwise the start fails
    with a clear message instead of running another revision. Returns the handler, which can be
    registered on other clients (or the default session) too.
    """

    def to_state_machine(params: dict[str, Any], **_kwargs: Any) -> None:
        arn = str(params.get("stateMachineArn", ""))
        base = unqualified(arn)
        if arn == base:
            return
        version = stepfunctions.describe_state_machine(stateMachineArn=arn)["definition"]
        current = stepfunctions.describe_state_machine(stateMachineArn=base)["definition"]
        if version != current:
            raise RuntimeError(
                f"moto cannot start {arn}: only the latest version of a state machine runs on moto"
            )
        params["stateMachineArn"] = base

    stepfunctions.meta.events.register(START_PARAMS, to_state_machine)
    return to_state_machine
