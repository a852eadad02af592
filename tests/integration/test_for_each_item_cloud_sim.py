"""`strato run --cloud-sim` refuses ForEachItem with the reason: moto's interpreter has no ItemBatcher,
no JSONL ItemReader and no states:startExecution inside a state machine."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from stratoflow.cli.main import cli
from tests.integration.conftest import EXAMPLES

pytestmark = pytest.mark.slow


def test_a_flow_with_for_each_item_is_refused_with_the_reason() -> None:
    # When the example runs on the cloud simulation
    result = CliRunner().invoke(cli, ["run", str(EXAMPLES / "for_each_item.yaml"), "--cloud-sim"])

    # Then it is refused before anything is deployed, naming the task and what moto lacks
    assert result.exit_code == 2
    assert "ForEachItem task(s) each" in result.stderr and "ItemBatcher" in result.stderr
