"""Webhooks: the key check, what a request gives the execution, limits, `?wait=true`, refusals, and the
AWS adapters (function URL events, the admission Lambda). The start is a fake that admits in-process."""

from __future__ import annotations

import base64
import io
import json
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stratoflow.domain import Execution
from stratoflow.errors import InputError, StratoflowError
from stratoflow.execution.admission import FlowDisabledError, admit
from stratoflow.execution.deliveries import TriggerSkipped
from stratoflow.execution.flows import live_flow
from stratoflow.execution.secrets import EnvironmentSecrets
from stratoflow.flow import load_flow
from stratoflow.local.deploy import deploy_flow
from stratoflow.states import State
from stratoflow.store import SqliteExecutionStore
from stratoflow.triggers.events import event_execution_id
from stratoflow.triggers.webhooks import (
    StartRefused,
    WebhookRequest,
    Webhooks,
    admission_start,
    function_url_response,
    matching_webhook,
    parse_path,
    request_from_function_url,
)

FLOW = """
    id: ingest
    namespace: team
    inputs:
      - {id: customer, type: STRING}
    tasks: [{id: t, type: Log, message: hi}]
    triggers:
      - id: hook
        type: Webhook
        key: s3cr3t-Key_1-abcdefgh
        inputs: {customer: "{{ trigger.body.customer }}"}
      - id: old
        type: Webhook
        key: old-key-0123456789ab
        disabled: true
"""

NO_SECRETS = EnvironmentSecrets({})  # these webhooks have literal keys: no secret is read


class FakeStart:
    """Admits in-process, as the local server does, and remembers every call."""

    def __init__(self, store: SqliteExecutionStore) -> None:
        self.store = store
        self.calls: list[tuple[str, str, dict[str, Any], dict[str, Any], str]] = []
        self.error: Exception | None = None

    def __call__(
        self, namespace: str, flow_id: str, inputs: dict[str, Any], trigger: dict[str, Any], execution_id: str
    ) -> Execution:
        self.calls.append((namespace, flow_id, inputs, trigger, execution_id))
        if self.error is not None:
            raise self.error
        flow = live_flow(self.store, namespace, flow_id)
        assert flow is not None
        execution, _ = admit(
            self.store, flow, flow.revision or 1, inputs, trigger=trigger, execution_id=execution_id
        )
        return execution


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteExecutionStore]:
    with SqliteExecutionStore(tmp_path / "stratoflow.db") as store:
        source = textwrap.dedent(FLOW)
        deploy_flow(store, load_flow(source), source)
        yield store


@pytest.fixture
def start(store: SqliteExecutionStore) -> FakeStart:
    return FakeStart(store)


@pytest.fixture
def webhooks(store: SqliteExecutionStore, start: FakeStart) -> Webhooks:
    return Webhooks(store, start, secrets=NO_SECRETS)


def post(
    path: str, body: Any = None, headers: dict[str, str] | None = None, **parameters: str
) -> WebhookRequest:
    data = body if isinstance(body, bytes) else b"" if body is None else json.dumps(body).encode()
    return WebhookRequest(
        method="POST",
        path=path,
        parameters={k: [v] for k, v in parameters.items()},
        headers={k.lower(): [v] for k, v in (headers or {"content-type": "application/json"}).items()},
        body=data,
    )


URL = "/webhook/team/ingest/s3cr3t-Key_1-abcdefgh"


# --- the key -----------------------------------------------------------------------------------


def test_a_request_with_the_key_starts_an_execution_with_the_request_as_trigger(
    webhooks: Webhooks, store: SqliteExecutionStore
) -> None:
    # When a JSON body is posted with the key
    response = webhooks.handle(
        post(URL, {"customer": "acme"}, {"content-type": "application/json", "X-Source": "crm"}, batch="7")
    )

    # Then an execution is recorded, with trigger.body/headers/parameters and the rendered input
    assert response.status == 200
    execution = store.get_execution(response.body["executionId"])
    assert execution is not None
    assert response.body == {
        "executionId": execution.id,
        "namespace": "team",
        "flowId": "ingest",
        "state": "CREATED",
    }
    assert execution.inputs == {"customer": "acme"}
    assert execution.trigger == {
        "id": "hook",
        "type": "Webhook",
        "body": {"customer": "acme"},
        "headers": {"content-type": ["application/json"], "x-source": ["crm"]},
        "parameters": {"batch": ["7"]},
    }


@pytest.mark.parametrize(
    "path",
    [
        "/webhook/team/ingest/wrong-key",
        "/webhook/team/ingest/s3cr3t-key_1-abcdefgh",  # keys are case-sensitive
        "/webhook/team/ingest/old-key-0123456789ab",  # a disabled trigger's key
        "/webhook/team/nope/s3cr3t-Key_1-abcdefgh",
        "/webhook/nobody/ingest/s3cr3t-Key_1-abcdefgh",
        "/webhook/team/ingest",
        "/hooks/team/ingest/s3cr3t-Key_1-abcdefgh",
    ],
)
def test_anything_but_the_right_key_of_a_live_flow_is_the_same_404(
    webhooks: Webhooks, start: FakeStart, path: str
) -> None:
    response = webhooks.handle(post(path, {"customer": "acme"}))

    assert (response.status, response.body) == (404, {"message": "Not Found"})
    assert start.calls == []


def test_a_deleted_flow_answers_404(webhooks: Webhooks, store: SqliteExecutionStore) -> None:
    store.set_flow_status("team", "ingest", "DELETED")

    assert webhooks.handle(post(URL, {"customer": "acme"})).status == 404


def test_kestras_path_and_get_work_too(webhooks: Webhooks, store: SqliteExecutionStore) -> None:
    request = WebhookRequest(
        method="GET",
        path="/api/v1/executions/webhook/team/ingest/s3cr3t-Key_1-abcdefgh",
        parameters={"customer": ["x"]},
    )
    start_calls = webhooks.start.calls  # type: ignore[attr-defined]

    response = webhooks.handle(request)

    # GET has no body: the trigger input renders from an undefined body and is refused
    assert response.status == 400
    assert "input 'customer'" in response.body["message"]
    assert start_calls[0][3]["body"] is None


def test_only_get_and_post_are_accepted(webhooks: Webhooks) -> None:
    response = webhooks.handle(WebhookRequest(method="DELETE", path=URL))

    assert response.status == 405
    assert response.headers["allow"] == "GET, POST"


def test_the_matcher_compares_every_enabled_key() -> None:
    flow = load_flow(textwrap.dedent(FLOW))

    hook = matching_webhook(flow, "s3cr3t-Key_1-abcdefgh", NO_SECRETS)
    assert hook is not None and hook.id == "hook"
    assert matching_webhook(flow, "old-key-0123456789ab", NO_SECRETS) is None
    assert parse_path("/webhook/a/b/c") == ("a", "b", "c")
    assert parse_path("/x/webhook/a/b/c") is None


# --- bodies and headers ------------------------------------------------------------------------


def test_a_body_over_the_limit_is_413(store: SqliteExecutionStore, start: FakeStart) -> None:
    webhooks = Webhooks(store, start, secrets=NO_SECRETS, max_body_bytes=100)

    response = webhooks.handle(post(URL, b"x" * 101, {"content-type": "text/plain"}))

    assert response.status == 413
    assert start.calls == []


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        (b'{"customer": "acme"}', "application/json", {"customer": "acme"}),
        (b'{"customer": "acme"}', "text/plain", {"customer": "acme"}),  # looks like JSON: parsed
        (b"customer=acme", "application/x-www-form-urlencoded", "customer=acme"),
        (b"[not json", "text/plain", "[not json"),
        (b"", "application/json", None),
    ],
)
def test_the_body_is_json_when_it_is_json_else_text(
    store: SqliteExecutionStore, start: FakeStart, body: bytes, content_type: str, expected: Any
) -> None:
    start.error = TriggerSkipped("stop here")  # only the delivery matters
    Webhooks(store, start, secrets=NO_SECRETS).handle(post(URL, body, {"content-type": content_type}))

    assert start.calls[0][3]["body"] == expected


@pytest.mark.parametrize(
    ("body", "content_type"), [(b"{broken", "application/json"), (b"\xff\xfe", "application/octet-stream")]
)
def test_an_unreadable_body_is_400(
    webhooks: Webhooks, start: FakeStart, body: bytes, content_type: str
) -> None:
    response = webhooks.handle(post(URL, body, {"content-type": content_type}))

    assert response.status == 400
    assert start.calls == []


def test_credentials_headers_are_not_kept(webhooks: Webhooks, start: FakeStart) -> None:
    webhooks.handle(
        post(
            URL,
            {"customer": "a"},
            {"Authorization": "Bearer x", "Cookie": "s=1", "content-type": "application/json"},
        )
    )

    assert start.calls[0][3]["headers"] == {"content-type": ["application/json"]}


def test_an_idempotency_key_names_the_execution(webhooks: Webhooks, store: SqliteExecutionStore) -> None:
    headers = {"content-type": "application/json", "Idempotency-Key": "order-42"}

    first = webhooks.handle(post(URL, {"customer": "a"}, headers))
    second = webhooks.handle(post(URL, {"customer": "a"}, headers))
    other = webhooks.handle(post(URL, {"customer": "a"}))

    assert first.body["executionId"] == second.body["executionId"]
    assert first.body["executionId"] == event_execution_id("team", "ingest", "hook", "order-42")
    assert other.body["executionId"] != first.body["executionId"]
    assert len(store.list_executions("team", "ingest")) == 2


# --- refusals ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (InputError("customer", "is required"), 400),
        (FlowDisabledError("flow team.ingest is disabled"), 409),
        (TriggerSkipped("trigger 'hook' is disabled"), 409),
        (StartRefused(400, "input 'customer': bad"), 400),
    ],
)
def test_refusals_say_why(webhooks: Webhooks, start: FakeStart, error: Exception, status: int) -> None:
    start.error = error

    response = webhooks.handle(post(URL, {"customer": "a"}))

    assert (response.status, response.body) == (status, {"message": str(error)})


def test_an_unexpected_failure_is_a_500_that_reveals_nothing(webhooks: Webhooks, start: FakeStart) -> None:
    start.error = StratoflowError("the table is on fire")

    response = webhooks.handle(post(URL, {"customer": "a"}))

    assert (response.status, response.body) == (500, {"message": "Internal Server Error"})


# --- ?wait=true --------------------------------------------------------------------------------


class FakeTime:
    """monotonic() and sleep() without waiting; `on_sleep` lets the test move the execution on."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps = 0
        self.on_sleep: list[Any] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.sleeps += 1
        for action in self.on_sleep:
            action(self.sleeps)


def test_wait_returns_the_outputs_once_the_execution_ends(
    store: SqliteExecutionStore, start: FakeStart
) -> None:
    clock = FakeTime()
    webhooks = Webhooks(
        store, start, secrets=NO_SECRETS, sleep=clock.sleep, monotonic=clock.monotonic, poll_seconds=0.5
    )

    def engine(sleeps: int) -> None:
        (execution,) = store.list_executions("team", "ingest")
        if sleeps == 1:
            store.update_execution(execution.id, state=State.RUNNING)
        if sleeps == 3:
            store.update_execution(execution.id, state=State.SUCCESS, outputs={"rows": 3})

    clock.on_sleep.append(engine)

    response = webhooks.handle(post(URL, {"customer": "a"}, wait="true"))

    assert response.status == 200
    assert response.body["state"] == "SUCCESS"
    assert response.body["outputs"] == {"rows": 3}
    assert clock.sleeps == 3


def test_wait_gives_up_with_202_and_the_id(store: SqliteExecutionStore, start: FakeStart) -> None:
    clock = FakeTime()
    webhooks = Webhooks(
        store,
        start,
        secrets=NO_SECRETS,
        sleep=clock.sleep,
        monotonic=clock.monotonic,
        wait_seconds=25,
        poll_seconds=1,
    )

    response = webhooks.handle(post(URL, {"customer": "a"}, wait="true"))

    assert response.status == 202
    assert response.body["state"] == "CREATED"
    assert "outputs" not in response.body
    assert clock.now == 25


# --- AWS adapters ------------------------------------------------------------------------------


def test_a_function_url_event_becomes_a_request() -> None:
    event = {
        "version": "2.0",
        "rawPath": URL,
        "rawQueryString": "wait=true&tag=a&tag=b",
        "headers": {"content-type": "application/json", "x-forwarded-for": "1.2.3.4"},
        "requestContext": {"http": {"method": "POST", "path": URL}},
        "body": base64.b64encode(b'{"customer": "acme"}').decode(),
        "isBase64Encoded": True,
    }

    request = request_from_function_url(event)

    assert request.method == "POST"
    assert request.path == URL
    assert request.parameters == {"wait": ["true"], "tag": ["a", "b"]}
    assert request.headers["x-forwarded-for"] == ["1.2.3.4"]
    assert request.body == b'{"customer": "acme"}'


def test_a_response_becomes_a_function_url_result(webhooks: Webhooks) -> None:
    result = function_url_response(webhooks.handle(post("/webhook/team/ingest/wrong")))

    assert result == {
        "statusCode": 404,
        "headers": {"content-type": "application/json"},
        "body": '{"message": "Not Found"}',
    }


class FakeLambda:
    """boto3's Lambda client `invoke`, answering with a given payload."""

    def __init__(self, payload: Any, function_error: str | None = None, on_invoke: Any = None) -> None:
        self.payload, self.function_error, self.on_invoke = payload, function_error, on_invoke
        self.events: list[dict[str, Any]] = []

    def invoke(self, FunctionName: str, InvocationType: str, Payload: str) -> dict[str, Any]:
        assert InvocationType == "RequestResponse"
        self.events.append(json.loads(Payload))
        if self.on_invoke:
            self.on_invoke(self.events[-1])
        response: dict[str, Any] = {
            "StatusCode": 200,
            "Payload": io.BytesIO(json.dumps(self.payload).encode()),
        }
        if self.function_error:
            response["FunctionError"] = self.function_error
        return response


def test_the_cloud_start_invokes_admission_and_reads_the_recorded_execution(
    store: SqliteExecutionStore,
) -> None:
    def admission(event: dict[str, Any]) -> None:  # what the admission Lambda records
        flow = live_flow(store, event["namespace"], event["flowId"])
        assert flow is not None
        admit(store, flow, 1, event["inputs"], trigger=event["trigger"], execution_id=event["executionId"])

    client = FakeLambda({"executionId": "e1", "state": "RUNNING"}, on_invoke=admission)
    start = admission_start(client, "arn:aws:lambda:us-east-1:123456789012:function:admission", store)

    execution = start(
        "team", "ingest", {}, {"id": "hook", "type": "Webhook", "body": {"customer": "a"}}, "e1"
    )

    assert execution.id == "e1" and execution.inputs == {"customer": "a"}
    assert client.events == [
        {
            "namespace": "team",
            "flowId": "ingest",
            "inputs": {},
            "labels": {},
            "trigger": {"id": "hook", "type": "Webhook", "body": {"customer": "a"}},
            "executionId": "e1",
        }
    ]


@pytest.mark.parametrize(
    ("payload", "function_error", "status"),
    [
        ({"state": "REFUSED", "error": "input 'customer': is required", "input": "customer"}, None, 400),
        ({"state": "REFUSED", "error": "flow team.ingest is disabled"}, None, 409),
        ({"errorType": "TriggerSkipped", "errorMessage": "trigger 'hook' is disabled"}, "Unhandled", 409),
        ({"errorType": "ItemTooLargeError", "errorMessage": "too large"}, "Unhandled", 413),
    ],
)
def test_admission_refusals_come_back_as_refusals(
    store: SqliteExecutionStore, payload: dict[str, Any], function_error: str | None, status: int
) -> None:
    start = admission_start(FakeLambda(payload, function_error), "arn", store)

    with pytest.raises(StartRefused) as refused:
        start("team", "ingest", {}, {}, "e1")
    assert refused.value.status == status


def test_an_admission_crash_is_an_error(store: SqliteExecutionStore) -> None:
    start = admission_start(
        FakeLambda({"errorType": "KeyError", "errorMessage": "x"}, "Unhandled"), "arn", store
    )

    with pytest.raises(StratoflowError, match="admission failed: KeyError"):
        start("team", "ingest", {}, {}, "e1")
