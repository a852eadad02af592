"""The task runner reads secrets from the source it is given, never from one it picks itself."""

from __future__ import annotations

from pathlib import Path

import pytest

from stratoflow.cloud.config.secrets import configured_secrets
from stratoflow.engine import VirtualClock
from stratoflow.execution.secrets import EnvironmentSecrets, SecretUnavailable, UnavailableSecrets
from stratoflow.local import LocalPlatform
from stratoflow.states import State

FLOW = """
id: uses_secret
namespace: tests.secrets
tasks:
  - {id: say, type: Log, message: "token {{ secret('TOKEN') }} of {{ secret('TOKEN') | length }} characters"}
"""


def run(platform: LocalPlatform) -> tuple[State, list[str], str | None]:
    try:
        flow, record = platform.deploy_source(FLOW, "flow.yaml")
        outcome = platform.run(platform.admit(flow, record, {}))
        messages = [entry.message for entry in platform.store.list_logs(outcome.execution.id)]
        return outcome.execution.state, messages, outcome.execution.error
    finally:
        platform.close()


def test_a_flow_reads_the_secret_source_its_platform_was_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a platform given its own source, and another value in the environment
    monkeypatch.setenv("SECRET_TOKEN", "from-the-environment")
    given = EnvironmentSecrets({"SECRET_TOKEN": "from-the-source"})
    platform = LocalPlatform(tmp_path / "home", VirtualClock(), secrets=given)

    # When a task renders secret('TOKEN')
    state, messages, _ = run(platform)

    # Then the given source answered (15 characters, not 20), and its value is masked in the logs
    assert state == State.SUCCESS
    assert "token ****** of 15 characters" in messages
    assert not any("from-the" in message for message in messages)


def test_a_misconfigured_backend_fails_the_task_that_asks_with_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the source the CLI builds, with a backend that does not exist
    monkeypatch.setenv("STRATOFLOW_SECRETS_BACKEND", "vault")
    source = configured_secrets()
    platform = LocalPlatform(tmp_path / "home", VirtualClock(), secrets=source)

    # When a task asks for a secret
    state, _, error = run(platform)

    # Then building the source did not fail; the task did, saying which setting is wrong
    assert isinstance(source, UnavailableSecrets)
    assert state == State.FAILED
    assert error is not None and "STRATOFLOW_SECRETS_BACKEND must be 'local' or 'aws', got 'vault'" in error


def test_an_unavailable_source_names_the_secret_and_the_reason() -> None:
    with pytest.raises(SecretUnavailable, match="secret 'TOKEN': the backend is down"):
        UnavailableSecrets("the backend is down").get("any.namespace", "TOKEN")
