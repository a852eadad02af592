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
