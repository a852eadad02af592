"""Attacks through FILE inputs: a value from a webhook, the console or any program naming a file of the
machine that admits it (the laptop running `strato server`, the admission Lambda). Only the CLI reads
its own user's local files (and uploads them first); everyone else gets a refusal naming the input."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from stratoflow.errors import InputError
from stratoflow.execution.secrets import EnvironmentSecrets
from stratoflow.flow import load_flow
from stratoflow.local import LocalPlatform
from stratoflow.local.deploy import deploy_flow
from stratoflow.store import SqliteExecutionStore
from stratoflow.triggers.webhooks import Webhooks
from tests.security.test_webhook_edge import request
from tests.unit.triggers.test_webhooks import FakeStart

KEY = "a-long-enough-webhook-key-7"
FLOW = f"""
id: reader
namespace: team.files
inputs:
  - {{id: data, type: FILE}}
tasks:
  - {{id: show, type: Log, message: "{{{{ read(inputs.data) }}}}"}}
triggers:
  - id: hook
    type: Webhook
    key: {KEY}
    inputs: {{data: "{{{{ trigger.body.data }}}}"}}
"""
LOCAL = ["/proc/self/environ", "file:///proc/self/environ", "/etc/passwd", "~/.aws/credentials", "../x.csv"]


@pytest.mark.parametrize("value", LOCAL)
def test_admission_refuses_a_file_input_naming_a_local_file(platform: LocalPlatform, value: str) -> None:
    # Given a deployed flow with a FILE input
    flow, record = platform.deploy_source(FLOW, "reader.yaml")
    # When a caller other than the CLI starts it with a path of this machine
    with pytest.raises(InputError) as refused:
        platform.admit(flow, record, {"data": value})
    # Then admission refuses it, naming the input, and nothing was recorded
    assert str(refused.value).startswith("input 'data': expected a storage URI")
    assert platform.store.list_executions() == []


def test_a_webhook_body_cannot_make_the_server_read_its_disk(tmp_path: Path) -> None:
    # Given the flow behind a webhook whose body fills the FILE input
    with SqliteExecutionStore(tmp_path / "stratoflow.db") as store:
        deploy_flow(store, load_flow(textwrap.dedent(FLOW)), FLOW)
        webhooks = Webhooks(store, FakeStart(store), secrets=EnvironmentSecrets({}))
        body = json.dumps({"data": "/proc/self/environ"}).encode()
        # When the body names a file of the server
        response = webhooks.handle(request(f"/webhook/team.files/reader/{KEY}", body))
        # Then the request is refused (400, naming the input) and no execution exists
        assert response.status == 400
        assert "input 'data'" in json.dumps(response.body)
        assert store.list_executions() == []
