"""The environment a script process gets: built from an allow-list, never the runner's own.

The task runner's environment holds what scripts must not see: in Lambda the runner's role
credentials (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`), the stack's
settings (table, bucket, ARNs), locally whatever the user's shell exports. A script gets only:
`PATH`, the locale (`LANG`, `LC_ALL`, `LC_CTYPE`), `TZ`, `TMPDIR`, a `HOME` of its own inside its
working directory, the flow's own AWS credentials and region when the flow runs under a role
(in the cloud), the `kestra` library on its PYTHONPATH, `PIP_TARGET` (a `pip install` goes to a
folder of the task, never into Stratoflow's environment), and the task's `env`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

from stratoflow.tasks.scripts import groups

PASSED = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR")
DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"
# The `kestra` module of Kestra's Python library (`Kestra.outputs(...)`), importable by every script.
LIBRARY = Path(__file__).with_name("pylib")
# boto3 client keyword arguments -> the variables every AWS SDK reads.
CREDENTIAL_VARIABLES = {
    "aws_access_key_id": "AWS_ACCESS_KEY_ID",
    "aws_secret_access_key": "AWS_SECRET_ACCESS_KEY",
    "aws_session_token": "AWS_SESSION_TOKEN",
    "region_name": "AWS_REGION",
}


def in_lambda() -> bool:
    return "AWS_LAMBDA_FUNCTION_NAME" in os.environ


def base_environment() -> dict[str, str]:
    """What every script's environment starts from: the allow-list, `PATH` (led by the folder of
    the interpreter running Stratoflow, outside Lambda) and a UTF-8 `LANG` when none is set."""
    env = {name: os.environ[name] for name in PASSED if name in os.environ}
    path = env.get("PATH") or DEFAULT_PATH
    if not in_lambda():
        # `python` and `pip` in commands mean the interpreter running Stratoflow, as `scripts.Python` does.
        path = os.pathsep.join([str(Path(sys.executable).parent), path])
    env["PATH"] = path
    env.setdefault("LANG", "C.UTF-8")
    return env


def script_environment(
    extra: Mapping[str, str],
    *,
    home: Path,
    packages: Path,
    credentials: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment of one script: the allow-list above, then the task's `env` (`extra`), which
    wins. `credentials` are the flow's own (boto3 keyword arguments), None when it has no role."""
    env = base_environment()
    env["HOME"] = str(home)
    env["PYTHONUNBUFFERED"] = "1"  # lines arrive as they are printed, interleaved as written
    env["PIP_TARGET"] = str(packages)
    env[groups.MARK_VARIABLE] = groups.MARK  # lets the recovery of a killed runner find what it left
    for key, variable in CREDENTIAL_VARIABLES.items():
        value = (credentials or {}).get(key)
        if value:
            env[variable] = value
    if credentials and "AWS_REGION" not in env and "AWS_REGION" in os.environ:
        env["AWS_REGION"] = os.environ["AWS_REGION"]
    if "AWS_REGION" in env:
        env["AWS_DEFAULT_REGION"] = env["AWS_REGION"]
    env.update(extra)
    # The task's own PYTHONPATH first; the `kestra` library, then what its `pip install` put in
    # PIP_TARGET (whose commands come first on PATH).
    own = [extra["PYTHONPATH"]] if extra.get("PYTHONPATH") else []
    env["PYTHONPATH"] = os.pathsep.join([*own, str(LIBRARY), str(packages)])
    env["PATH"] = os.pathsep.join([str(packages / "bin"), env["PATH"]])
    return env


# What configures the install of `dependencies` (an index, a proxy, certificates): Stratoflow runs
# that pip, so it gets them; the script does not (its task's `env` can pass them on purpose).
INSTALLER_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy")
INSTALLER_PREFIXES = ("PIP_", "SSL_CERT_", "REQUESTS_CA_BUNDLE")


def installer_environment(env: Mapping[str, str]) -> dict[str, str]:
    """`env` with the runner's pip configuration, for pip installing a task's `dependencies`."""
    passed = {
        name: value
        for name, value in os.environ.items()
        if (name in INSTALLER_VARIABLES or name.startswith(INSTALLER_PREFIXES)) and name != "PIP_TARGET"
    }
    return {**passed, **env}


def with_packages(env: Mapping[str, str], folder: Path) -> dict[str, str]:
    """`env` with the packages installed in `folder` first on PYTHONPATH and their scripts first on PATH."""
    updated = dict(env)
    for variable, entry in (("PYTHONPATH", folder), ("PATH", folder / "bin")):
        current = updated.get(variable)
        updated[variable] = os.pathsep.join([str(entry), current]) if current else str(entry)
    return updated
