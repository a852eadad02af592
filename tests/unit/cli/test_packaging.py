"""What the wheel carries and says about itself: its version, the packaged CDK app's settings."""

from __future__ import annotations

import json
from importlib.metadata import version
from pathlib import Path

from click.testing import CliRunner

from stratoflow._platform import app as packaged
from stratoflow.cli.main import cli

ROOT = Path(__file__).resolve().parents[3]


def test_version_comes_from_the_package_metadata() -> None:
    result = CliRunner().invoke(cli, ["--version"])

    assert result.exit_code == 0
    assert result.stdout == f"strato, version {version('stratoflow')}\n"


def test_the_packaged_cdk_json_holds_the_repository_context() -> None:
    # Given the cdk.json `npx cdk deploy` reads in a checkout
    repository = json.loads((ROOT / "cdk.json").read_text())["context"]

    # Then the packaged app starts from the same settings and feature flags
    assert packaged.packaged_context() == repository
