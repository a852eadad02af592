"""`strato run` hands the flow's source to the warm interpreter's early start before it deploys it."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from stratoflow.cli.main import cli
from stratoflow.local import LocalPlatform
from stratoflow.tasks.scripts import warm


def test_strato_run_offers_the_flow_to_the_warm_interpreter_before_deploying_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a flow file, and the early start and the deploy recorded in the order they happen
    file = tmp_path / "hello.yaml"
    file.write_text("id: hello\nnamespace: demo\ntasks:\n  - {id: say, type: Log, message: hi}\n")
    events: list[object] = []
    monkeypatch.setattr(warm, "start_ahead", lambda source: events.append(source))
    deploy_file = LocalPlatform.deploy_file

    def recorded_deploy(self: LocalPlatform, path: Path) -> object:
        events.append("deployed")
        return deploy_file(self, path)

    monkeypatch.setattr(LocalPlatform, "deploy_file", recorded_deploy)

    # When it is run
    ran = CliRunner().invoke(cli, ["run", str(file), "--json", "--home", str(tmp_path / "home")])

    # Then the early start saw the file's bytes first
    assert ran.exit_code == 0, ran.stderr
    assert events == [file.read_bytes(), "deployed"]
