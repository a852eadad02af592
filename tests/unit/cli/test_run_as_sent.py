"""`strato run` refuses what the deployer refuses, with the message `strato validate` prints."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from stratoflow.cli.local_runs import EXIT_REFUSED
from stratoflow.cli.main import cli
from tests.unit.cloud.test_limits import wide_parallel


def test_strato_run_refuses_a_definition_too_large_as_sent_with_validates_message(tmp_path: Path) -> None:
    # Given a flow file under 1 MB with its placeholders and over it as sent
    file = tmp_path / "wide.yaml"
    file.write_text(wide_parallel(1850), encoding="utf-8")
    validated = CliRunner().invoke(cli, ["validate", "--quiet", str(file)])

    # When it is run
    ran = CliRunner().invoke(cli, ["run", str(file), "--json", "--home", str(tmp_path / "home")])

    # Then it is refused before anything runs, with the located line `strato validate` gives
    assert validated.exit_code == 1 and "bytes as deployed" in validated.stdout
    assert ran.exit_code == EXIT_REFUSED
    assert ran.stderr.splitlines() == validated.stdout.splitlines()
    assert ran.stdout == ""
