"""`strato stack synth|diff|deploy|destroy`: the platform's stack, from the CDK app in the package.

The pinned CDK CLI (`npx aws-cdk@<CDK_CLI_VERSION>`, the version of package-lock.json) runs the
packaged app (`python -m stratoflow._platform.app`) with this Python, so a `pip install
'stratoflow[cloud]'` deploys without a checkout. What is missing (Node.js, the cloud extra, AWS
credentials) is said in one line before the CDK CLI starts.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import click

# aws-cdk in package-lock.json; 3.x cannot read aws-cdk-lib 2.x output (a test checks they agree).
CDK_CLI_VERSION = "2.1148.1"
PACKAGED_APP = "stratoflow._platform.app"
NEEDS_CREDENTIALS = frozenset({"diff", "deploy", "destroy"})
DEFAULT_WORKDIR = Path(".stratoflow") / "stack"


def cdk_command(
    verb: str, *, python: str, workdir: Path, context: Sequence[str], extra: Sequence[str], npx: str = "npx"
) -> list[str]:
    """The CDK CLI invocation of `verb` on the packaged app."""
    command = [
        npx,
        "--yes",
        f"aws-cdk@{CDK_CLI_VERSION}",
        verb,
        "--app",
        f"{python} -m {PACKAGED_APP}",
        "--output",
        str(workdir / "cdk.out"),
    ]
    for pair in context:
        command += ["--context", pair]
    return command + list(extra)


def missing_prerequisite(
    verb: str,
    *,
    which: Callable[[str], str | None] = shutil.which,
    has_module: Callable[[str], bool] = lambda name: importlib.util.find_spec(name) is not None,
    has_credentials: Callable[[], bool] | None = None,
) -> str | None:
    """What `strato stack <verb>` lacks on this machine, in one line, or None."""
    if not has_module("aws_cdk"):
        return "strato stack needs the deploy side of stratoflow: pip install 'stratoflow[cloud]'"
    if which("npx") is None or which("node") is None:
        return (
            "strato stack needs Node.js 18 or later for the CDK CLI (npx was not found on PATH): "
            "install it from https://nodejs.org"
        )
    if verb in NEEDS_CREDENTIALS and not (has_credentials or _has_aws_credentials)():
        return (
            f"strato stack {verb} needs AWS credentials and none were found: "
            "run `aws configure`, set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        )
    return None


def _has_aws_credentials() -> bool:
    import boto3

    return boto3.Session().get_credentials() is not None


def _check_context(pairs: Sequence[str]) -> None:
    for pair in pairs:
        if "=" not in pair or not pair.split("=", 1)[0]:
            raise click.BadParameter(f"{pair!r}: expected KEY=VALUE", param_hint="'-c' / '--context'")


def _run(command: Sequence[str], cwd: Path) -> int:
    return subprocess.run(command, cwd=cwd, check=False).returncode


def _stack_command(verb: str, summary: str) -> click.Command:
    @click.command(
        name=verb,
        help=summary
        + " Extra arguments after `--` go to the CDK CLI as they are (e.g. `-- --require-approval never`).",
        context_settings={"ignore_unknown_options": False},
    )
    @click.option(
        "-c",
        "--context",
        "context",
        multiple=True,
        metavar="KEY=VALUE",
        help="A stack setting: stackName, alertEmail, removalPolicy, dataRetentionDays, logRetentionDays, "
        "logLevel, flowPermissionsBoundaryArn.",
    )
    @click.option(
        "--workdir",
        type=click.Path(file_okay=False, path_type=Path),
        default=DEFAULT_WORKDIR,
        show_default=True,
        help="Where the CDK CLI writes cdk.out and cdk.context.json.",
    )
    @click.argument("extra", nargs=-1, type=click.UNPROCESSED)
    def command(context: tuple[str, ...], workdir: Path, extra: tuple[str, ...]) -> None:
        _check_context(context)
        problem = missing_prerequisite(verb)
        if problem:
            raise click.ClickException(problem)
        workdir.mkdir(parents=True, exist_ok=True)
        code = RUN_CDK(
            cdk_command(verb, python=sys.executable, workdir=workdir.resolve(), context=context, extra=extra),
            workdir,
        )
        sys.exit(code)

    return command


RUN_CDK: Callable[[Sequence[str], Path], int] = _run


@click.group()
def stack() -> None:
    """The platform's stack, from the CDK app in the package (needs stratoflow[cloud] and Node.js)."""


for _verb, _summary in (
    ("synth", "Synthesize the stack's CloudFormation template (no AWS account needed)."),
    ("diff", "Show what a deploy would change in the deployed stack."),
    ("deploy", "Create or update the stack (once per account and region: `npx cdk bootstrap`)."),
    ("destroy", "Delete the stack (retained buckets and table stay unless removalPolicy=destroy)."),
):
    stack.add_command(_stack_command(_verb, _summary))
