"""`secret()`: where values come from locally, and that they never show in logs or outputs.

The tests here run scripts (real interpreters); the in-process ones are in tests/unit/tasks/test_secrets_and_masking.py.
"""

from __future__ import annotations

import pytest

from stratoflow.local import LocalPlatform
from stratoflow.states import State
from tests.unit.tasks.task_helpers import RunFlow, flow_source, logs_of, outputs_of, task_run


def test_a_secret_used_by_a_flow_never_shows_in_its_logs(
    run_flow: RunFlow, platform: LocalPlatform, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given
    monkeypatch.setenv("SECRET_API_KEY", "key-98765")
    source = flow_source(
        """
        - {id: log, type: Log, message: "calling with {{ secret('API_KEY') }}"}
        - id: script
          type: scripts.Commands
          env: {KEY: "{{ secret('API_KEY') }}"}
          commands: ['echo "key is $KEY"', 'echo "$KEY" >&2', 'exit 1']
        """
    )

    # When
    outcome = run_flow(source)

    # Then
    messages = [e.message for e in logs_of(platform, outcome)]
    assert "calling with ******" in messages and "key is ******" in messages
    assert not any("key-98765" in m for m in messages)
    assert outcome.execution.state == State.FAILED


def test_a_secret_never_shows_in_stored_outputs(
    run_flow: RunFlow, platform: LocalPlatform, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given
    monkeypatch.setenv("SECRET_API_KEY", "key-98765")
    source = flow_source(
        """
        - {id: leak, type: Return, format: "token={{ secret('API_KEY') }}"}
        - id: script
          type: scripts.Python
          env: {KEY: "{{ secret('API_KEY') }}"}
          script: |
            import json, os
            print("::" + json.dumps({"outputs": {"echo": os.environ["KEY"]}}) + "::")
        """
    )

    # When
    outcome = run_flow(source)

    # Then
    assert outputs_of(platform, outcome, "leak") == {"value": "token=******"}
    assert outputs_of(platform, outcome, "script")["vars"] == {"echo": "******"}
    assert "key-98765" not in str(task_run(outcome, "script").outputs)
