"""Installs come from the locks: uv.lock for Python, package-lock.json for npm, and they match their sources."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from infra_synth import REPO_ROOT


def _uv() -> str:
    local = REPO_ROOT / ".tools" / "uv" / "bin" / "uv"
    found = str(local) if local.exists() else shutil.which("uv")
    if found is None:
        pytest.fail("uv is not installed: `make install-dev` installs it under .tools/uv")
    return found


def test_uv_lock_agrees_with_pyproject() -> None:
    # When uv checks the lock against pyproject.toml, from its cache only
    result = subprocess.run(
        [_uv(), "lock", "--check", "--offline"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "UV_PYTHON_DOWNLOADS": "never"},
        check=False,
    )

    # Then nothing needs resolving: a dependency changed without `make lock` fails here
    assert result.returncode == 0, result.stderr


def test_the_lock_holds_a_botocore_that_moto_answers_for_athena() -> None:
    # moto 5.2.6 answers botocore 1.44's rest-json Athena protocol with 404 (see [tool.uv] in pyproject.toml)
    lock = (REPO_ROOT / "uv.lock").read_text()
    botocore = lock.split('name = "botocore"\nversion = "', 1)[1].split('"', 1)[0]
    assert tuple(int(part) for part in botocore.split(".")[:2]) < (1, 44)


def test_package_lock_agrees_with_package_json() -> None:
    # Given the npm tools package.json asks for
    wanted = json.loads((REPO_ROOT / "package.json").read_text())["devDependencies"]
    lock = json.loads((REPO_ROOT / "package-lock.json").read_text())

    # Then package-lock.json pins exactly those versions (npm ci refuses a lock that disagrees)
    assert lock["packages"][""]["devDependencies"] == wanted
    for name, version in wanted.items():
        assert lock["packages"][f"node_modules/{name}"]["version"] == version


def test_the_cdk_cli_is_pinned_to_a_major_that_reads_aws_cdk_lib_2() -> None:
    version = json.loads((REPO_ROOT / "package.json").read_text())["devDependencies"]["aws-cdk"]
    assert version.startswith("2.1148."), "aws-cdk 3.x cannot read aws-cdk-lib 2.x cloud assemblies"


def test_cdk_json_runs_the_app_with_the_locked_environment() -> None:
    app = json.loads((REPO_ROOT / "cdk.json").read_text())["app"]
    assert app.startswith(".venv/bin/python ")
    assert Path(REPO_ROOT / app.split()[1]).is_file()
