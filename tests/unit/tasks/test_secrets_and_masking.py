"""`secret()`: where values come from locally, and that they never show in logs or outputs."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from stratoflow.cloud.config.secrets import AwsSecrets, namespace_chain, secrets_from_environment
from stratoflow.execution.secrets import EnvironmentSecrets, SecretNotFound, SecretUnavailable, read_env_file
from stratoflow.states import State
from tests.unit.tasks.task_helpers import RunFlow, direct_context, flow_source, task_run


def test_a_secret_comes_from_its_secret_variable() -> None:
    source = EnvironmentSecrets({"SECRET_DB_PASSWORD": "s3cr3t"})

    assert source.get("any.namespace", "db_password") == "s3cr3t"
    assert source.get("any.namespace", "DB_PASSWORD") == "s3cr3t"


def test_a_secret_comes_from_the_secrets_file_when_the_variable_is_unset(tmp_path: Path) -> None:
    # Given
    file = tmp_path / "secrets.env"
    file.write_text("# local secrets\nexport SECRET_API_KEY='k-123'\nSECRET_OTHER=\"x=y\"\n\nnot a line\n")
    source = EnvironmentSecrets({"SECRET_OTHER": "from-env"}, file)

    # Then: the variable wins over the file
    assert source.get("ns", "API_KEY") == "k-123"
    assert source.get("ns", "OTHER") == "from-env"
    assert read_env_file(file) == {"SECRET_API_KEY": "k-123", "SECRET_OTHER": "x=y"}


def test_kestras_base64_values_are_read_when_asked() -> None:
    encoded = base64.b64encode(b"p@ss").decode()

    assert EnvironmentSecrets({"SECRET_P": encoded}, base64_values=True).get("ns", "P") == "p@ss"
    assert EnvironmentSecrets({"SECRET_P": encoded}).get("ns", "P") == encoded
    with pytest.raises(SecretUnavailable, match="not base64"):
        EnvironmentSecrets({"SECRET_P": "not base64!"}, base64_values=True).get("ns", "P")


def test_a_missing_secret_says_where_to_put_it(tmp_path: Path) -> None:
    with pytest.raises(
        SecretNotFound, match=r"set the environment variable SECRET_TOKEN or add it to .*secrets\.env"
    ):
        EnvironmentSecrets({}, tmp_path / "secrets.env").get("ns", "token")


def test_the_environment_selects_the_backend(tmp_path: Path) -> None:
    local = secrets_from_environment({"STRATOFLOW_SECRETS_FILE": str(tmp_path / "s.env")})
    kestra = secrets_from_environment({"STRATOFLOW_SECRETS_ENCODING": "base64"})
    aws = secrets_from_environment({"STRATOFLOW_SECRETS_BACKEND": "aws", "STRATOFLOW_SECRETS_PREFIX": "acme"})

    assert isinstance(local, EnvironmentSecrets) and local.file == tmp_path / "s.env"
    assert isinstance(kestra, EnvironmentSecrets) and kestra.base64_values
    assert isinstance(aws, AwsSecrets) and aws.prefix == "acme"
    # One AWS source per configuration: its cache lives as long as the Lambda container.
    assert (
        secrets_from_environment({"STRATOFLOW_SECRETS_BACKEND": "aws", "STRATOFLOW_SECRETS_PREFIX": "acme"})
        is aws
    )
    with pytest.raises(ValueError, match="must be 'local' or 'aws'"):
        secrets_from_environment({"STRATOFLOW_SECRETS_BACKEND": "vault"})


def test_namespaces_are_searched_nearest_first() -> None:
    assert namespace_chain("company.team.etl") == ["company.team.etl", "company.team", "company"]
    assert namespace_chain("solo") == ["solo"]


def test_secret_values_are_masked_in_logs_even_those_written_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given
    monkeypatch.setenv("SECRET_TOKEN", "tok-42")
    ctx = direct_context(tmp_path)
    ctx.log("INFO", "early line mentioning tok-42")

    # When
    value = ctx.render("{{ secret('TOKEN') }}")
    ctx.log("INFO", f"Authorization: Bearer {value}")

    # Then
    assert value == "tok-42"
    assert [e.message for e in ctx.logs] == ["early line mentioning ******", "Authorization: Bearer ******"]


def test_mask_value_masks_every_string_of_a_value(tmp_path: Path) -> None:
    ctx = direct_context(tmp_path)
    ctx.secrets.update({"abc", "abcdef"})

    masked = ctx.mask_value({"token": "abcdef", "list": ["x-abc-y", 3, None], "abc": {"nested": "abcabc"}})

    assert masked == {
        "token": "******",
        "list": ["x-******-y", 3, None],
        "******": {"nested": "************"},
    }


def test_mask_value_leaves_a_map_key_that_is_not_text(tmp_path: Path) -> None:
    # Given a value read from YAML whose map has a number for a key
    ctx = direct_context(tmp_path)
    ctx.secrets.add("abc")
    # When it is masked
    masked = ctx.mask_value({"out": {1: "abc", "abc": 2}})
    # Then the number stays a key and every text is masked
    assert masked == {"out": {1: "******", "******": 2}}


def test_an_undefined_secret_fails_the_task_with_a_clear_message(run_flow: RunFlow) -> None:
    outcome = run_flow(flow_source("- {id: log, type: Log, message: \"{{ secret('NOPE') }}\"}"))

    run = task_run(outcome, "log")
    assert run.state == State.FAILED
    assert "set the environment variable SECRET_NOPE" in (run.error or "")
