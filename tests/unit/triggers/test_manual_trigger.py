"""`strato trigger`: a flow's trigger fired by hand goes through admission with the delivery its
type would make (`trigger.*`, the trigger's inputs and labels, its checks)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from stratoflow.cli.main import cli
from stratoflow.flow import load_flow
from stratoflow.triggers.manual import Delivery, ManualTriggerError, manual_start

ROOT = Path(__file__).resolve().parents[3]
TRIGGERS = ROOT / "examples" / "triggers"
NOW = datetime(2026, 12, 7, 10, 15, 30, 123456, tzinfo=UTC)


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def example(name: str) -> object:
    path = TRIGGERS / f"{name}.yaml"
    return load_flow(path.read_text(encoding="utf-8"), str(path))


def test_a_schedule_fired_by_hand_is_a_slot_at_now() -> None:
    # Given the nightly schedule (Europe/Paris, 02:30)
    flow = example("schedule")

    # When it is fired by hand
    start = manual_start(flow, "nightly", Delivery(), {}, NOW)  # type: ignore[arg-type]

    # Then trigger.date is now in the trigger's zone, with its neighbouring fire times and its inputs/labels
    assert start.trigger["date"] == "2026-12-07T11:15:30+01:00"
    assert start.trigger["next"] == "2026-12-08T02:30:00+01:00"
    assert start.trigger["previous"] == "2026-12-07T02:30:00+01:00"
    assert start.trigger["type"] == "schedule" and start.trigger["id"] == "nightly"
    assert start.inputs == {"scope": "nightly"}
    assert start.labels == {"source": "schedule"}


def test_given_inputs_win_over_the_triggers() -> None:
    flow = example("schedule")
    start = manual_start(flow, "nightly", Delivery(), {"scope": "by-hand"}, NOW)  # type: ignore[arg-type]
    assert start.inputs == {"scope": "by-hand"}


def test_a_flow_trigger_is_named_by_its_upstream_execution() -> None:
    # Given the flow trigger example
    flow = example("flow_trigger")

    # When it is fired twice for one upstream execution
    first = manual_start(flow, "after-upstream", Delivery(execution="up1"), {}, NOW)  # type: ignore[arg-type]
    again = manual_start(flow, "after-upstream", Delivery(execution="up1"), {}, NOW)  # type: ignore[arg-type]

    # Then both name the same execution, as two deliveries of one event do
    assert first.execution_id == again.execution_id
    assert first.execution_id.endswith("-up1")
    assert first.trigger == {"id": "after-upstream", "type": "Flow", "executionId": "up1"}


@pytest.mark.parametrize(
    ("name", "trigger_id", "given", "message"),
    [
        ("flow_trigger", "nope", Delivery(), "has no trigger 'nope' (its triggers: after-upstream (Flow))"),
        ("flow_trigger", "after-upstream", Delivery(), "give --execution"),
        ("eventbridge", "order-placed", Delivery(), "give --event"),
        ("sqs_queue", "orders", Delivery(), "give --message"),
        ("schedule", "nightly", Delivery(body="x"), "--body does not apply"),
        ("webhook", "http", Delivery(execution="x"), "--execution does not apply"),
    ],
)
def test_what_does_not_fit_the_trigger_is_refused(
    name: str, trigger_id: str, given: Delivery, message: str
) -> None:
    with pytest.raises(ManualTriggerError, match=message.replace("(", r"\(").replace(")", r"\)")):
        manual_start(example(name), trigger_id, given, {}, NOW)  # type: ignore[arg-type]


def test_cli_fires_a_schedule_through_admission(tmp_path: Path) -> None:
    # When the schedule example's trigger is fired by hand
    code, out, err = invoke(
        "trigger", str(TRIGGERS / "schedule.yaml"), "--trigger", "nightly", "--json", "--home", str(tmp_path)
    )

    # Then the execution ran with the trigger's labels and is in the history
    assert code == 0, err
    document = json.loads(out)
    assert document["state"] == "SUCCESS"
    assert document["labels"]["source"] == "schedule"
    code, out, _ = invoke("executions", "show", document["executionId"], "--json", "--home", str(tmp_path))
    assert json.loads(out)["trigger"]["id"] == "nightly"


def test_cli_fires_a_flow_trigger_for_an_upstream_execution(tmp_path: Path) -> None:
    # Given a run of the upstream flow
    code, out, err = invoke(
        "run", str(TRIGGERS / "flow_trigger_upstream.yaml"), "--json", "--home", str(tmp_path)
    )
    assert code == 0, err
    upstream = json.loads(out)["executionId"]
    home = ("--home", str(tmp_path))

    # When the downstream flow's trigger is fired for it (named by a prefix)
    args = ("trigger", str(TRIGGERS / "flow_trigger.yaml"), "--trigger", "after-upstream", "--json")
    code, out, err = invoke(*args, "--execution", upstream[:8], *home)

    # Then it ran with trigger.* of the upstream execution, its inputs rendered from them
    assert code == 0, err
    document = json.loads(out)
    assert document["state"] == "SUCCESS"
    summary = next(r for r in document["taskRuns"] if r["taskId"] == "summary")
    assert summary["outputs"]["value"] == "42 rows from examples.triggers.flow_trigger_upstream"
    assert document["labels"]["started-by"] == "flow-trigger"

    # And firing it again for the same upstream starts nothing new
    code, out, err = invoke(*args, "--execution", upstream, *home)
    assert code == 0
    assert "started before" in err


def test_cli_refuses_a_flow_trigger_whose_conditions_do_not_hold(tmp_path: Path) -> None:
    # Given an execution of another flow than the trigger's upstream
    code, out, _ = invoke("run", str(ROOT / "examples" / "hello.yaml"), "--json", "--home", str(tmp_path))
    other = json.loads(out)["executionId"]

    # When the trigger is fired for it
    code, _, err = invoke(
        "trigger",
        str(TRIGGERS / "flow_trigger.yaml"),
        "--trigger",
        "after-upstream",
        "--execution",
        other,
        "--home",
        str(tmp_path),
    )

    # Then admission refuses it, saying why
    assert code == 2
    assert f"does not match execution {other}" in err


def test_cli_fires_a_webhook_with_a_json_body(tmp_path: Path) -> None:
    code, out, err = invoke(
        "trigger",
        str(TRIGGERS / "webhook.yaml"),
        "--trigger",
        "http",
        "--body",
        '{"customer": "acme", "amount": 12.5}',
        "--json",
        "--home",
        str(tmp_path),
    )
    assert code == 0, err
    assert json.loads(out)["outputs"] == {"order": "acme:12.5"}


def test_cli_refuses_a_disabled_trigger(tmp_path: Path) -> None:
    # Given a flow whose webhook trigger is disabled
    source = (TRIGGERS / "webhook.yaml").read_text(encoding="utf-8")
    flow_file = tmp_path / "webhook.yaml"
    flow_file.write_text(source.replace("    type: Webhook\n", "    type: Webhook\n    disabled: true\n"))

    # When it is fired by hand
    code, _, err = invoke(
        "trigger", str(flow_file), "--trigger", "http", "--body", "{}", "--home", str(tmp_path / "home")
    )

    # Then nothing runs
    assert code == 2
    assert "is disabled" in err
