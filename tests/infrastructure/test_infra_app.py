"""cdk.json and the app entry point as the CDK CLI runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import aws_cdk
import pytest
from infra_synth import REPO_ROOT, SKIP_BUNDLING, cdk_json_context

CDK_JSON = json.loads((REPO_ROOT / "cdk.json").read_text())
STACK_OPTIONS = {"stackName", "removalPolicy", "dataRetentionDays", "logRetentionDays", "logLevel"}


def _recommended_feature_flags() -> dict[str, Any]:
    """aws-cdk-lib's own list of recommended flags, from the package this project installs."""
    (bundle,) = (Path(aws_cdk.__file__).parent / "_jsii").glob("aws-cdk-lib@*.jsii.tgz")
    with tarfile.open(bundle) as archive:
        member = archive.extractfile("package/recommended-feature-flags.json")
        assert member is not None
        flags: dict[str, Any] = json.load(member)
    return flags


def test_app_runs_with_the_project_venv() -> None:
    assert CDK_JSON["app"] == ".venv/bin/python infra/app.py"


def test_watch_ignores_what_is_not_the_app() -> None:
    excluded = set(CDK_JSON["watch"]["exclude"])
    assert {"cdk.out", ".venv", "**/__pycache__", "tests"} <= excluded


def test_feature_flags_are_the_recommended_values() -> None:
    recommended = _recommended_feature_flags()
    flags = {key: value for key, value in cdk_json_context().items() if key.startswith("@aws-cdk")}

    assert flags
    assert {key: recommended.get(key, "<not a recommended flag>") for key in flags} == flags
    assert set(cdk_json_context()) - set(flags) == STACK_OPTIONS


@pytest.mark.slow
def test_app_script_synthesizes_as_the_cdk_cli_runs_it(tmp_path: Path) -> None:
    # Given the environment the CDK CLI gives the app: output folder and cdk.json's context
    environment = {
        **os.environ,
        "CDK_OUTDIR": str(tmp_path),
        "CDK_CONTEXT_JSON": json.dumps({**cdk_json_context(), **SKIP_BUNDLING}),
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    }

    # When the app command of cdk.json runs (with this interpreter, from the repository root)
    subprocess.run(
        [sys.executable, "infra/app.py"], cwd=REPO_ROOT, env=environment, check=True, capture_output=True
    )

    # Then the stack's template is in the cloud assembly
    template = json.loads((tmp_path / "Stratoflow.template.json").read_text())
    assert "TaskRunnerFunctionArn" in template["Outputs"]
