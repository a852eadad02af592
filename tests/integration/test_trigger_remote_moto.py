"""`strato trigger --remote`: a trigger fired by hand starts through the stack's admission function."""

from __future__ import annotations

import json
import time

import pytest
from click.testing import CliRunner

from stratoflow.cli.main import cli
from stratoflow.cloudsim.platform import CloudSimulation
from tests.integration.conftest import EXAMPLES

pytestmark = pytest.mark.slow


def strato(sim: CloudSimulation, *args: str) -> tuple[int, str, str]:
    stack = [
        "--table",
        sim.settings.stratoflow_table_name,
        "--admission",
        sim.settings.stratoflow_admission_arn,
    ]
    result = CliRunner().invoke(cli, [*args, *stack])
    return result.exit_code, result.stdout, result.stderr


def test_a_webhook_fired_remotely_goes_through_admission(sim: CloudSimulation) -> None:
    # Given the webhook example deployed on the stack
    sim.upload("triggers/webhook.yaml", (EXAMPLES / "triggers" / "webhook.yaml").read_text())

    # When its trigger is fired by hand with a body
    code, out, err = strato(
        sim,
        "trigger",
        "examples.triggers.webhook",
        "--trigger",
        "http",
        "--remote",
        "--body",
        '{"customer": "acme", "amount": 2}',
        "--json",
    )

    # Then admission recorded an execution with the trigger's rendered inputs and trigger.*
    assert code == 0, err
    execution = sim.store.get_execution(json.loads(out)["executionId"])
    assert execution is not None
    assert execution.inputs == {"customer": "acme", "amount": 2.0}
    assert execution.trigger is not None and execution.trigger["body"] == {"customer": "acme", "amount": 2}
    deadline = time.monotonic() + 60  # let moto's interpreter finish before the mock closes
    while not sim.store.get_execution(execution.id).state.is_terminal and time.monotonic() < deadline:  # type: ignore[union-attr]
        time.sleep(0.05)


def test_a_remote_fire_refused_by_admission_exits_2(sim: CloudSimulation) -> None:
    sim.upload("triggers/webhook.yaml", (EXAMPLES / "triggers" / "webhook.yaml").read_text())

    code, _, err = strato(
        sim,
        "trigger",
        "examples.triggers.webhook",
        "--trigger",
        "http",
        "--remote",
        "--body",
        '{"amount": 2}',
    )

    assert code == 2
    assert "customer" in err
