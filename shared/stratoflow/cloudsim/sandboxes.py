"""The stack's script sandboxes on moto: each invocation runs the sandbox in a child process whose
environment holds only its function's role credentials, as Lambda gives a function only its own.

moto creates the functions the deployer makes but cannot run them (no Docker). `SubprocessSandboxes`
answers Invoke of `<StackName>-sbx-*` instead: it reads the function's role from moto, assumes it
through moto's STS and starts `python -m stratoflow.cloudsim.sandbox_process` with those credentials
and nothing of this process's environment; the job goes in on stdin, the reply comes out on stdout.
What a script there can read (its environment, its parent's `/proc/<pid>/environ`) is the flow's
sandbox role, never the simulated task runner's.

The sandbox reaches S3 as a Lambda does, over HTTP with the presigned URLs of its job (large files,
uploads, the stop URL it polls while the command runs): `LoopbackS3` serves the simulation's buckets
(moto's in-process state) on a loopback port, and the runner signs its sandboxes' URLs for it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import boto3

from stratoflow.cloud.runtime.script_sandbox import LambdaScriptSandboxes
from stratoflow.cloudsim.loopback import loopback_moto
from stratoflow.cloudsim.stack import REGION

if TYPE_CHECKING:  # boto3-stubs (dev only): nothing of it is imported at run time
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_sts import STSClient

# Lambda's most: the sandbox's own timeout.
TIMEOUT_SECONDS = 900
PASSED = ("PATH", "LANG", "LC_ALL", "TZ", "STRATOFLOW_WARM_SCRIPTS", "STRATOFLOW_DEPENDENCY_CACHE")


class SandboxFault(RuntimeError):
    """The sandbox process itself failed (not the script: a script's failure is an answer)."""


class SubprocessSandboxes:
    """An in-process Lambda handler for every sandbox function (see the module doc)."""

    def __init__(self, lambda_client: LambdaClient, sts: STSClient):
        self.lambda_client, self.sts = lambda_client, sts
        self.environments: list[dict[str, str]] = []  # what each sandbox process was given (tests read it)

    def __call__(self, event: Any, context: Any) -> Any:
        name = context.function_name
        role = self.lambda_client.get_function_configuration(FunctionName=name)["Role"]
        issued = self.sts.assume_role(RoleArn=role, RoleSessionName=name[-64:])["Credentials"]
        env = {key: os.environ[key] for key in PASSED if key in os.environ}
        env.update(
            AWS_ACCESS_KEY_ID=issued["AccessKeyId"],
            AWS_SECRET_ACCESS_KEY=issued["SecretAccessKey"],
            AWS_SESSION_TOKEN=issued["SessionToken"],
            AWS_REGION=REGION,
            AWS_DEFAULT_REGION=REGION,
            TMPDIR=tempfile.gettempdir(),
        )
        self.environments.append(env)
        done = subprocess.run(
            [sys.executable, "-m", "stratoflow.cloudsim.sandbox_process"],
            input=json.dumps(event),
            capture_output=True,
            text=True,
            env=env,
            timeout=TIMEOUT_SECONDS,
            check=False,
        )
        if done.returncode != 0:
            raise SandboxFault(
                f"the sandbox process of {name} exited with {done.returncode}: {done.stderr[-2000:]}"
            )
        return json.loads(done.stdout)


class LoopbackS3:
    """A moto server on 127.0.0.1 over the same in-process state as the simulation's mock: what a
    sandbox process GETs or POSTs through a presigned URL is the simulated bucket's object."""

    def __init__(self) -> None:
        self._server = ExitStack()
        self.endpoint = self._server.enter_context(loopback_moto())

    def signing(self, sandboxes: LambdaScriptSandboxes) -> LambdaScriptSandboxes:
        """`sandboxes` with an S3 client whose presigned URLs point here (botocore signs for its
        endpoint; the simulation's own clients have AWS's, which no process here can reach)."""
        return replace(sandboxes, s3=boto3.client("s3", endpoint_url=self.endpoint, region_name=REGION))

    def stop(self) -> None:
        self._server.close()
