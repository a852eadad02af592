"""Attacks on the webhook edge (`triggers/webhooks.py`, the logic shared by `strato server` and the
webhook Lambda): weak and guessed keys, keys in records, malformed requests, bodies built to crash the
parser, validators built to freeze it, and Kestra's `wait` / `returnOutputs` / `responseContentType`."""

from __future__ import annotations

import json
import logging
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stratoflow.errors import FlowValidationError
from stratoflow.execution.secrets import EnvironmentSecrets
from stratoflow.flow import load_flow
from stratoflow.local.deploy import deploy_flow
from stratoflow.states import State
from stratoflow.store import SqliteExecutionStore
from stratoflow.triggers.webhooks import (
    MAX_JSON_DEPTH,
    WebhookRequest,
    Webhooks,
    content_length,
    json_depth_exceeds,
    matching_webhook,
)
from tests.unit.triggers.test_webhooks import FakeStart

KEY = "Zk3-long-enough-key_42"
SECRET_KEY = "from-the-secret-store-0123"

FLOW = f"""
    id: hooked
    namespace: team.edge
    inputs:
      - {{id: code, type: STRING, validator: "^(a+)+$", required: false}}
    tasks: [{{id: t, type: Log, message: hi}}]
    outputs:
      - {{id: answer, type: STRING, value: "42"}}
    triggers:
      - id: plain
        type: Webhook
        key: {KEY}
        inputs: {{code: "{{{{ trigger.body.code ?? 'a' }}}}"}}
      - id: secret
        type: Webhook
        key: "{{{{ secret('HOOK_KEY') }}}}"
      - id: waits
        type: Webhook
        key: waits-for-the-end-0123
        wait: true
        returnOutputs: true
        responseContentType: text/plain
"""


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteExecutionStore]:
    with SqliteExecutionStore(tmp_path / "stratoflow.db") as store:
        source = textwrap.dedent(FLOW)
        deploy_flow(store, load_flow(source), source)
        yield store


@pytest.fixture
def webhooks(store: SqliteExecutionStore) -> Webhooks:
    secrets = EnvironmentSecrets({"SECRET_HOOK_KEY": SECRET_KEY})
    return Webhooks(store, FakeStart(store), secrets=secrets)


def request(
    path: str, body: bytes = b"", headers: dict[str, str] | None = None, **params: str
) -> WebhookRequest:
    return WebhookRequest(
        method="POST",
        path=path,
        parameters={k: [v] for k, v in params.items()},
        headers={k.lower(): [v] for k, v in (headers or {"content-type": "application/json"}).items()},
        body=body,
    )


def url(key: str) -> str:
    return f"/webhook/team.edge/hooked/{key}"


def _flow(trigger: str) -> str:
    return f"id: f\nnamespace: n\ntasks: [{{id: t, type: Log, message: hi}}]\ntriggers:\n  - {trigger}\n"


# --- keys ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["k", "abc", "0123456789abcde"])
def test_a_short_key_is_refused_when_the_flow_is_validated(key: str) -> None:
    with pytest.raises(
        FlowValidationError, match=r"5:28: triggers\[0\].key: a key needs at least 16 characters"
    ):
        load_flow(_flow(f"{{id: w, type: Webhook, key: {key}}}"))


@pytest.mark.allowed_path
def test_return_outputs_without_wait_is_refused_with_its_location() -> None:
    with pytest.raises(FlowValidationError, match="returnOutputs: 'returnOutputs: true' needs 'wait: true'"):
        load_flow(_flow("{id: w, type: Webhook, key: abcdefghijklmnopq, returnOutputs: true}"))


@pytest.mark.parametrize("guess", ["k", "Zk3", KEY[:-1], KEY + "x", KEY.upper(), "", "*", "%2A"])
def test_guessed_keys_get_the_same_404(webhooks: Webhooks, guess: str) -> None:
    response = webhooks.handle(request(url(guess) if guess else "/webhook/team.edge/hooked/"))

    assert response.status == 404
    assert response.body == {"message": "Not Found"}


def test_a_key_given_as_a_secret_is_read_from_the_namespaces_secrets(webhooks: Webhooks) -> None:
    assert webhooks.handle(request(url(SECRET_KEY))).status == 200
    # The expression itself is not a key
    assert webhooks.handle(request(url("{{ secret('HOOK_KEY') }}"))).status == 404


def test_a_secret_key_is_in_no_record(
    webhooks: Webhooks, store: SqliteExecutionStore, tmp_path: Path
) -> None:
    # When
    webhooks.handle(request(url(SECRET_KEY), b'{"code": "aaa"}'))

    # Then: neither the flow record nor the execution holds the value
    store.close()
    assert SECRET_KEY.encode() not in (tmp_path / "stratoflow.db").read_bytes()


def test_a_missing_key_secret_closes_the_webhook_without_a_traceback(
    store: SqliteExecutionStore, caplog: pytest.LogCaptureFixture
) -> None:
    webhooks = Webhooks(store, FakeStart(store), secrets=EnvironmentSecrets({}))

    with caplog.at_level(logging.WARNING):
        response = webhooks.handle(request(url("anything-at-all-0123")))

    assert response.status == 404
    assert "its key secret cannot be read" in caplog.text
    assert all(record.exc_info is None for record in caplog.records)


def test_keys_are_compared_whatever_their_length() -> None:
    flow = load_flow(_flow(f"{{id: w, type: Webhook, key: {KEY}}}"))

    assert matching_webhook(flow, KEY, EnvironmentSecrets({})) is not None
    assert matching_webhook(flow, KEY * 100, EnvironmentSecrets({})) is None


# --- malformed requests ---------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["abc", "-1", "1e3", "0x10", "١٢", "99999999999999999999", " "])
def test_an_invalid_content_length_is_a_400(webhooks: Webhooks, value: str) -> None:
    response = webhooks.handle(request(url(KEY), headers={"content-length": value}))

    assert response.status == 400
    assert "Content-Length" in response.body["message"]


def test_conflicting_content_lengths_are_refused() -> None:
    with pytest.raises(ValueError, match="conflicting"):
        content_length(["3", "4"])
    assert content_length(["12", "12"]) == 12
    assert content_length(None) == 0


def test_a_deeply_nested_body_is_a_400_not_a_recursion_error(
    webhooks: Webhooks, caplog: pytest.LogCaptureFixture
) -> None:
    # Given: 100,000 levels, the crash
    body = b"[" * 100_000 + b"]" * 100_000

    # When
    with caplog.at_level(logging.DEBUG):
        response = webhooks.handle(request(url(KEY), body))

    # Then
    assert response.status == 400
    assert f"nested deeper than {MAX_JSON_DEPTH} levels" in response.body["message"]
    assert all(record.exc_info is None for record in caplog.records)


@pytest.mark.allowed_path
def test_nesting_inside_strings_is_not_depth() -> None:
    text = json.dumps({"s": "[" * 1000, "t": '\\"{{{{'})

    assert not json_depth_exceeds(text)
    assert json_depth_exceeds("{" * (MAX_JSON_DEPTH + 1))
    assert not json_depth_exceeds("[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH)


@pytest.mark.parametrize("body", [b"\xff\xfe", b'{"a": ', b"[1, 2", b'{"a": NaN-}'])
def test_unreadable_bodies_are_a_400(webhooks: Webhooks, body: bytes) -> None:
    assert webhooks.handle(request(url(KEY), body)).status == 400


def test_a_body_over_the_limit_is_a_413(webhooks: Webhooks) -> None:
    assert (
        webhooks.handle(request(url(KEY), b"x" * (256 * 1024 + 1), {"content-type": "text/plain"})).status
        == 413
    )


# --- validators -----------------------------------------------------------------------------------


def test_a_catastrophic_validator_runs_in_linear_time(webhooks: Webhooks) -> None:
    # Given: `^(a+)+$` on 'a' * 50,000 + 'b' takes Python's `re` longer than the universe; RE2 is linear
    body = json.dumps({"code": "a" * 50_000 + "b"}).encode()

    # When
    response = webhooks.handle(request(url(KEY), body))

    # Then: refused as an invalid input, answered at once
    assert response.status == 400
    assert "does not match the validator" in response.body["message"]


@pytest.mark.parametrize("pattern", ["(?=a)a", "(a)\\\\1", "(?<!x)y"])
def test_validators_re2_cannot_run_are_refused_when_the_flow_is_validated(pattern: str) -> None:
    source = (
        f'id: f\nnamespace: n\ninputs:\n  - {{id: i, type: STRING, validator: "{pattern}"}}\n'
        "tasks: [{id: t, type: Log, message: hi}]\n"
    )

    with pytest.raises(FlowValidationError, match="validators run on RE2"):
        load_flow(source)


# --- wait, returnOutputs, responseContentType ------------------------------------------------------


def _finishing(store: SqliteExecutionStore) -> Any:
    """A `sleep` that plays the engine: the execution ends with its outputs during the first wait."""

    def sleep(_: float) -> None:
        for execution in store.list_executions(namespace="team.edge"):
            if not execution.state.is_terminal:
                store.update_execution(execution.id, state=State.RUNNING)
                store.update_execution(execution.id, state=State.SUCCESS, outputs={"answer": "42"})

    return sleep


@pytest.mark.allowed_path
def test_wait_and_return_outputs_answer_the_flows_outputs(store: SqliteExecutionStore) -> None:
    # Given
    webhooks = Webhooks(store, FakeStart(store), sleep=_finishing(store), secrets=EnvironmentSecrets({}))

    # When
    response = webhooks.handle(request(url("waits-for-the-end-0123")))

    # Then
    assert response.status == 200
    assert response.body == {"answer": "42"}
    assert response.headers["content-type"] == "text/plain"


@pytest.mark.allowed_path
def test_a_trigger_without_wait_answers_at_once(webhooks: Webhooks) -> None:
    response = webhooks.handle(request(url(KEY)))

    assert response.status == 200
    assert response.body["state"] == "CREATED"
    assert response.headers["content-type"] == "application/json"
