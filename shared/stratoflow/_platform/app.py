"""The packaged CDK app: what `strato stack synth|diff|deploy|destroy` gives the CDK CLI as `--app`.

It is the repository's app (`infra/app.py`: the `Stratoflow` construct in one stack), from the copy of
`infra/` and `functions/` that the wheel carries under `stratoflow/_platform/` (in a checkout: the
repository's own), with the context of the packaged `cdk.json` as defaults (`-c key=value` on the
command line wins). The construct records the package's version on the stack: a `StratoflowVersion`
output and a `stratoflow:version` tag.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

PLATFORM_DIR = Path(__file__).resolve().parent


def packaged_context() -> dict[str, Any]:
    """The context of the packaged cdk.json (feature flags and the stack's default settings)."""
    context: dict[str, Any] = json.loads((PLATFORM_DIR / "cdk.json").read_text())["context"]
    return context


def build(context: dict[str, Any] | None = None, **app_options: Any) -> Any:
    """The app, as the CDK CLI synthesizes it; `context` adds to the packaged defaults."""
    # Imported by name: infra/ is not part of the library's type-checked sources (`make typecheck`).
    infra_app: Any = importlib.import_module("stratoflow._platform.infra.app")
    return infra_app.create_app({**packaged_context(), **(context or {})}, **app_options)


def main() -> None:
    app, _ = build()
    app.synth()


if __name__ == "__main__":
    main()
