"""Commands that need AWS say in one line what is missing (region, credentials, moto for --cloud-sim)
instead of a botocore traceback. Hermetic: no AWS call is made (the checks come first)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from botocore.exceptions import ClientError, NoRegionError
from click.testing import CliRunner

from stratoflow.cli.aws_access import aws_error_line
from stratoflow.cli.main import cli
from stratoflow.cli.stacks import StackChoice

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def bare_shell(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """A shell with no AWS configuration at all (and no instance metadata to ask)."""
    for name in [n for n in list(__import__("os").environ) if n.startswith("AWS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return monkeypatch


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


@pytest.mark.parametrize(
    "command",
    [
        ("deploy", str(ROOT / "examples" / "hello.yaml")),
        ("execute", "examples.hello"),
        ("flows", "list"),
        ("executions", "list", "--remote"),
        ("kill", "abc", "--remote"),
        ("trigger", "examples.triggers.webhook", "--trigger", "http", "--remote"),
    ],
)
def test_no_region_is_one_line(bare_shell: pytest.MonkeyPatch, command: tuple[str, ...]) -> None:
    # Given a shell without AWS settings, when a command that needs AWS runs
    code, output = invoke(*command)

    # Then it says in one line that the region is missing
    assert code == 1
    assert output.strip().splitlines() == [
        "Error: no AWS region: set AWS_DEFAULT_REGION (or a region for your profile in ~/.aws/config)"
    ]


def test_no_credentials_is_one_line(bare_shell: pytest.MonkeyPatch) -> None:
    bare_shell.setenv("AWS_DEFAULT_REGION", "eu-west-1")

    code, output = invoke("flows", "list")

    assert code == 1
    assert len(output.strip().splitlines()) == 1
    assert output.startswith("Error: no AWS credentials: set AWS_PROFILE")


def test_an_aws_error_during_a_command_is_one_line(bare_shell: pytest.MonkeyPatch) -> None:
    # Given credentials that AWS refuses when the stack's table is read
    bare_shell.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    bare_shell.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
    bare_shell.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    refused = ClientError(
        {
            "Error": {
                "Code": "ExpiredTokenException",
                "Message": "The security token included in the request is expired",
            }
        },
        "Query",
    )

    def store(self: StackChoice) -> object:
        raise refused

    bare_shell.setattr(StackChoice, "store", store)

    # When the command runs
    code, output = invoke("flows", "list", "--table", "t")

    # Then the error is one line that names the cause, no traceback
    assert code == 1
    assert output.strip().splitlines() == [
        "Error: AWS refused the credentials (ExpiredTokenException): The security token included in the "
        "request is expired; set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run "
        "`aws configure` / `aws sso login`"
    ]


def test_error_lines_by_type_and_code() -> None:
    denied = ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "PutItem")
    assert aws_error_line(NoRegionError()) is not None
    assert aws_error_line(denied) == "AWS denied PutItem (AccessDeniedException): no"
    assert aws_error_line(ValueError("not AWS")) is None


def test_cloud_sim_without_moto_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given moto is not importable
    monkeypatch.setitem(sys.modules, "moto", None)

    # When a run asks for the cloud simulation
    code, output = invoke("run", str(ROOT / "examples" / "hello.yaml"), "--cloud-sim")

    # Then it names the extra to install
    assert code == 2
    assert "stratoflow[sim]" in output
    assert "Traceback" not in output
