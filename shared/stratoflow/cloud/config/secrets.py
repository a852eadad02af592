"""Where `secret('NAME')` finds its value, chosen by `STRATOFLOW_SECRETS_BACKEND` (the sources that
need no cloud, and the `SecretSource` port, are `stratoflow.execution.secrets`).

- `local` (the default, on a laptop): the environment variable `SECRET_<NAME>` (name upper-cased), then
  the same variable in a dotenv file: `STRATOFLOW_SECRETS_FILE`, by default `.stratoflow/secrets.env`
  in the current directory. Values are plain text; Kestra's open-source edition wants them base64
  encoded instead: set `STRATOFLOW_SECRETS_ENCODING=base64` to read such an environment unchanged.
- `aws` (set by the cloud wiring): AWS Secrets Manager, secret id `<prefix>/<namespace>/<NAME>`, then
  SSM Parameter Store, parameter `/<prefix>/<namespace>/<NAME>` (decrypted); the flow's namespace
  first, then each parent namespace (`company.team` -> `company`). `<prefix>` is
  `STRATOFLOW_SECRETS_PREFIX` (default `stratoflow`). Values are cached for a few minutes per
  Lambda container.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from stratoflow.execution.secrets import (
    SecretNotFound,
    SecretSource,
    SecretUnavailable,
    UnavailableSecrets,
    environment_secrets,
)

if TYPE_CHECKING:  # boto3-stubs (dev only): nothing of it is imported at run time
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_ssm import SSMClient

DEFAULT_PREFIX = "stratoflow"
CACHE_SECONDS = 300.0


def namespace_chain(namespace: str) -> list[str]:
    """`a.b.c` -> `["a.b.c", "a.b", "a"]`: where a namespace's secrets are looked up, nearest first."""
    parts = namespace.split(".")
    return [".".join(parts[:size]) for size in range(len(parts), 0, -1)]


class AwsSecrets:
    """Secrets from AWS Secrets Manager, falling back to SSM Parameter Store; cached for a while."""

    def __init__(
        self,
        prefix: str = DEFAULT_PREFIX,
        secretsmanager: SecretsManagerClient | None = None,
        ssm: SSMClient | None = None,
        cache_seconds: float = CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.prefix = prefix.strip("/")
        self._secretsmanager, self._ssm = secretsmanager, ssm
        self.cache_seconds, self._clock = cache_seconds, clock
        self._cache: dict[tuple[str, str], tuple[float, str]] = {}
        self._lock = threading.Lock()

    def _secretsmanager_client(self) -> SecretsManagerClient:
        import boto3

        self._secretsmanager = self._secretsmanager or boto3.client("secretsmanager")
        return self._secretsmanager

    def _ssm_client(self) -> SSMClient:
        import boto3

        self._ssm = self._ssm or boto3.client("ssm")
        return self._ssm

    def get(self, namespace: str, name: str) -> str:
        with self._lock:
            cached = self._cache.get((namespace, name))
        if cached is not None and self._clock() < cached[0]:
            return cached[1]
        for scope in namespace_chain(namespace):
            value = self._secret(f"{self.prefix}/{scope}/{name}")
            if value is None:
                value = self._parameter(f"/{self.prefix}/{scope}/{name}")
            if value is not None:
                with self._lock:
                    self._cache[(namespace, name)] = (self._clock() + self.cache_seconds, value)
                return value
        raise SecretNotFound(
            f"secret '{name}' not found: no Secrets Manager secret {self.prefix}/<namespace>/{name} "
            f"nor SSM parameter /{self.prefix}/<namespace>/{name} for namespace '{namespace}' or its parents"
        )

    def _secret(self, secret_id: str) -> str | None:
        from botocore.exceptions import ClientError

        try:
            response = self._secretsmanager_client().get_secret_value(SecretId=secret_id)
        except ClientError as error:
            if _code(error) == "ResourceNotFoundException":
                return None
            raise SecretUnavailable(f"Secrets Manager {secret_id}: {_code(error)}: {error}") from None
        if "SecretString" in response:
            return str(response["SecretString"])
        return bytes(response["SecretBinary"]).decode()

    def _parameter(self, name: str) -> str | None:
        from botocore.exceptions import ClientError

        try:
            response = self._ssm_client().get_parameter(Name=name, WithDecryption=True)
        except ClientError as error:
            if _code(error) in ("ParameterNotFound", "ParameterVersionNotFound"):
                return None
            raise SecretUnavailable(f"SSM parameter {name}: {_code(error)}: {error}") from None
        return str(response["Parameter"]["Value"])


def _code(error: Any) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


_aws_sources: dict[str, AwsSecrets] = {}
_sources_lock = threading.Lock()


def secrets_from_environment(environ: Mapping[str, str] | None = None) -> SecretSource:
    """The secret source the environment selects; one instance per configuration, so that the AWS
    cache lives as long as the Lambda container."""
    env = os.environ if environ is None else environ
    backend = env.get("STRATOFLOW_SECRETS_BACKEND", "local").strip().lower() or "local"
    if backend in ("local", "env"):
        return environment_secrets(environ)
    if backend != "aws":
        raise ValueError(f"STRATOFLOW_SECRETS_BACKEND must be 'local' or 'aws', got '{backend}'")
    prefix = env.get("STRATOFLOW_SECRETS_PREFIX", DEFAULT_PREFIX)
    with _sources_lock:
        if prefix not in _aws_sources:
            _aws_sources[prefix] = AwsSecrets(prefix=prefix)
        return _aws_sources[prefix]


def configured_secrets(environ: Mapping[str, str] | None = None) -> SecretSource:
    """The source the environment selects, for a composition root to give the task runner; a
    misconfigured backend becomes a source that says so at each lookup (nothing fails at start-up)."""
    try:
        return secrets_from_environment(environ)
    except ValueError as error:
        return UnavailableSecrets(str(error))
