"""The packaged CDK app: what `strato stack synth|diff|deploy|destroy` gives the CDK CLI as `--app`.

It builds the repository's app (`infra.app.create_app`) from the copy of `infra/` and `functions/`
that the wheel carries under `stratoflow/_platform/` (in a checkout: the repository's own), with the
context of the packaged `cdk.json` as defaults (`-c key=value` on the command line wins), and records
the package's version on the stack: a `StratoflowVersion` output and a `stratoflow:version` tag.
"""

from __future__ import annotations

import atexit
import importlib
import json
import shutil
import sys
import tempfile
from importlib.metadata import version
from pathlib import Path
from typing import Any

PLATFORM_DIR = Path(__file__).resolve().parent
LIBRARY_DIR = PLATFORM_DIR.parent
VERSION_OUTPUT = "StratoflowVersion"
VERSION_TAG = "stratoflow:version"


def platform_root() -> Path:
    """The folder holding `infra/` and `functions/`: the wheel's `_platform/`, or a checkout's root."""
    if (PLATFORM_DIR / "infra").is_dir():
        return PLATFORM_DIR
    checkout = LIBRARY_DIR.parents[1]
    if (checkout / "infra").is_dir() and (checkout / "functions").is_dir():
        return checkout
    raise RuntimeError(f"no infra/ under {PLATFORM_DIR} nor {checkout}: this stratoflow carries no platform")


def packaged_context() -> dict[str, Any]:
    """The context of the packaged cdk.json (feature flags and the stack's default settings)."""
    context: dict[str, Any] = json.loads((PLATFORM_DIR / "cdk.json").read_text())["context"]
    return context


def stage_library(target: Path) -> Path:
    """A copy of the installed library without `_platform`, for the Lambda layer.

    The functions' layer carries the library; the CDK app and the handlers' second copy have no
    business in it, and would only change its hash.
    """
    staged = target / LIBRARY_DIR.name
    shutil.copytree(
        LIBRARY_DIR,
        staged,
        ignore=lambda folder, names: (
            {"_platform", "__pycache__"} & set(names)
            if Path(folder) == LIBRARY_DIR
            else {"__pycache__"} & set(names)
        ),
    )
    return staged


def build(context: dict[str, Any] | None = None, **app_options: Any) -> Any:
    """The app, as the CDK CLI synthesizes it; `context` adds to the packaged defaults."""
    root = platform_root()
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    import aws_cdk as cdk

    # The platform's own modules, found under `root`; imported by name because infra/ is not part of
    # the library's type-checked sources (`make typecheck`), whatever layout it is found in.
    infra_app: Any = importlib.import_module("infra.app")
    functions: Any = importlib.import_module("infra.constructs.functions")

    staging = tempfile.mkdtemp(prefix="stratoflow-layer-")
    atexit.register(shutil.rmtree, staging, True)
    functions.LIBRARY_DIR = stage_library(Path(staging))
    app, stack = infra_app.create_app({**packaged_context(), **(context or {})}, **app_options)
    stratoflow_version = version("stratoflow")
    cdk.CfnOutput(
        stack, VERSION_OUTPUT, value=stratoflow_version, description="The stratoflow release deployed"
    )
    cdk.Tags.of(stack).add(VERSION_TAG, stratoflow_version)
    return app, stack


def main() -> None:
    app, _ = build()
    app.synth()


if __name__ == "__main__":
    main()
