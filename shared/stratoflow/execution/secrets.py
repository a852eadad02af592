"""Where `secret('NAME')` finds its value: the port every backend implements, and the backends that
need no cloud.

The task runner is given its `SecretSource` by whoever builds it (the local platform, the cloud's
composition root); it never picks one. Here: the environment variable `SECRET_<NAME>` (name
upper-cased), then the same variable in a dotenv file (`STRATOFLOW_SECRETS_FILE`, by default
`.stratoflow/secrets.env` in the current directory). Values are plain text; Kestra's open-source
edition wants them base64 encoded instead: `STRATOFLOW_SECRETS_ENCODING=base64` reads such an
environment unchanged. The AWS backend (Secrets Manager, SSM) is `stratoflow.cloud.config.secrets`.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

from stratoflow.errors import NotFoundError, StratoflowError

DEFAULT_FILE = Path(".stratoflow") / "secrets.env"


class SecretNotFound(NotFoundError):
    """No value for the secret in any place the backend looks."""


class SecretUnavailable(StratoflowError):
    """The backend could not be asked (access denied, throttled, malformed value...)."""


class SecretSource(Protocol):
    """Gives a namespace's secrets by name."""

    def get(self, namespace: str, name: str) -> str:
        """The secret's value; raises SecretNotFound naming where it looked."""


def read_env_file(path: Path) -> dict[str, str]:
    """`KEY=value` lines of a dotenv file (`#` comments, optional `export`, optional quotes)."""
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


class EnvironmentSecrets:
    """Secrets from `SECRET_<NAME>` variables, then from a dotenv file holding the same variables."""

    def __init__(
        self,
        environ: Mapping[str, str] | None = None,
        file: Path | None = None,
        base64_values: bool = False,
    ):
        self.environ = os.environ if environ is None else environ
        self.file = file
        self.base64_values = base64_values

    def get(self, namespace: str, name: str) -> str:
        variable = f"SECRET_{name.upper()}"
        value = self.environ.get(variable)
        if value is None and self.file is not None and self.file.is_file():
            value = read_env_file(self.file).get(variable)
        if value is None:
            where = f" or add it to {self.file}" if self.file is not None else ""
            raise SecretNotFound(
                f"secret '{name}' is not defined (set the environment variable {variable}{where})"
            )
        if not self.base64_values:
            return value
        try:
            return base64.b64decode(value, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise SecretUnavailable(
                f"secret '{name}': {variable} is not base64 text (STRATOFLOW_SECRETS_ENCODING=base64)"
            ) from None


def environment_secrets(environ: Mapping[str, str] | None = None) -> EnvironmentSecrets:
    """`SECRET_<NAME>` variables, then the dotenv file and encoding the environment names."""
    env = os.environ if environ is None else environ
    # The variables themselves are read live: cheap, and a shell or a test may change them between runs.
    file = Path(env.get("STRATOFLOW_SECRETS_FILE", str(DEFAULT_FILE)))
    encoding = env.get("STRATOFLOW_SECRETS_ENCODING", "plain").strip().lower()
    return EnvironmentSecrets(environ, file, base64_values=encoding == "base64")


class UnavailableSecrets:
    """A source that cannot be asked (a misconfigured backend): every lookup fails saying why, so the
    task that calls `secret()` fails with the reason, and masking goes on with the SECRET inputs."""

    def __init__(self, reason: str):
        self.reason = reason

    def get(self, namespace: str, name: str) -> str:
        raise SecretUnavailable(f"secret '{name}': {self.reason}")
