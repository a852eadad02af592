"""Entry point of the CDK app (`cdk.json`: `.venv/bin/python infra/app.py`).

Context keys (cdk.json or `-c key=value`): stackName, removalPolicy (retain|destroy),
dataRetentionDays, logRetentionDays, alertEmail, logLevel. See infra/config.py.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

if __name__ == "__main__":
    # Run as a script, Python puts infra/ first on sys.path, where infra/constructs would shadow the
    # `constructs` library; the repository root goes there instead, so `infra` is a package.
    sys.path[0] = str(Path(__file__).resolve().parents[1])

import aws_cdk as cdk

from infra.config import StackConfig
from infra.nag import add_compliance_checks
from infra.stack import StratoflowStack


def create_app(context: dict[str, Any] | None = None, **app_options: Any) -> tuple[cdk.App, StratoflowStack]:
    """The app with its one stack and cdk-nag; `context` adds to (or replaces) cdk.json's context."""
    app = cdk.App(context=context, **app_options)
    config = StackConfig.from_context(app.node)
    stack = StratoflowStack(app, config.stack_name, config=config)
    add_compliance_checks(app)
    return app, stack


def main() -> None:
    app, _ = create_app()
    app.synth()


if __name__ == "__main__":
    main()
