"""A stack deployed by `strato stack deploy` records its stratoflow version; the CLI warns on another."""

from __future__ import annotations

from typing import Any

import pytest

from stratoflow.cli import aws_access
from stratoflow.cli.stacks import StackChoice
from stratoflow.cloud.config.stack import StackResources


class FakeCloudFormation:
    def __init__(self, outputs: dict[str, str]) -> None:
        self.outputs = outputs

    def describe_stacks(self, StackName: str) -> dict[str, Any]:
        outputs = [{"OutputKey": key, "OutputValue": value} for key, value in self.outputs.items()]
        return {"Stacks": [{"StackName": StackName, "Outputs": outputs}]}


def resolve(outputs: dict[str, str]) -> StackResources:
    return StackResources.resolve("Stratoflow", {}, ["table"], lambda: FakeCloudFormation(outputs))


def test_a_stack_of_another_version_gets_a_one_line_warning() -> None:
    # Given a stack deployed by stratoflow 0.1.0
    resources = resolve({"TableName": "t", "StratoflowVersion": "0.1.0"})

    # When a CLI of 0.2.0 talks to it
    warning = resources.version_warning("0.2.0")

    # Then it says both versions and the two ways out
    assert warning == (
        "warning: stack Stratoflow runs stratoflow 0.1.0, this CLI is 0.2.0: "
        "install stratoflow==0.1.0 or upgrade the stack (`strato stack deploy`)"
    )


def test_the_same_version_or_an_unrecorded_one_is_silent() -> None:
    assert resolve({"TableName": "t", "StratoflowVersion": "0.2.0"}).version_warning("0.2.0") is None
    assert resolve({"TableName": "t"}).version_warning("0.2.0") is None


def test_the_cloud_commands_print_the_warning(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a stack recorded as deployed by another release
    old = StackResources(table="t", stack_version="0.0.1")
    monkeypatch.setattr(StackResources, "resolve", classmethod(lambda cls, *args: old))
    monkeypatch.setattr(aws_access, "require_aws", lambda: None)  # region and credentials configured

    # When a cloud command finds its resources
    resources = StackChoice("Stratoflow", {}).resources("table")

    # Then it goes on, with the warning on stderr
    assert resources is old
    assert capsys.readouterr().err.startswith("warning: stack Stratoflow runs stratoflow 0.0.1, this CLI is ")


def test_the_cli_writes_records_with_the_stacks_retention(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a stack whose outputs record a retention of 14 days
    monkeypatch.setattr(aws_access, "require_aws", lambda: None)
    recorded = resolve({"TableName": "t", "DataRetentionDays": "14"})
    monkeypatch.setattr(StackResources, "resolve", classmethod(lambda cls, *args: recorded))

    # When a --remote command opens its store (restart and replay write through it)
    store = StackChoice("Stratoflow", {}).store()

    # Then its records expire as the stack's functions' do
    assert store._history_seconds == 14 * 86_400


def test_a_table_named_explicitly_takes_the_retention_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a table given by name (the stack is not read) and the functions' retention variable
    monkeypatch.setattr(aws_access, "require_aws", lambda: None)
    monkeypatch.setenv("STRATOFLOW_HISTORY_DAYS", "7")

    # When the store is opened
    store = StackChoice("Stratoflow", {"table": "t"}).store()

    # Then the variable's retention applies; a stack of an older release without either keeps no TTL
    assert store._history_seconds == 7 * 86_400
    monkeypatch.delenv("STRATOFLOW_HISTORY_DAYS")
    assert StackChoice("Stratoflow", {"table": "t"}).store()._history_seconds is None
