"""Entry point of the CDK app (`cdk.json`: `.venv/bin/python infra/app.py`): the `Stratoflow`
construct in one stack, with cdk-nag on the whole app.

Context keys (cdk.json or `-c key=value`): stackName and the construct's props under their context
names (alertEmail, dataRetentionDays, reservedConcurrency, ...). See infra/config.py.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

if __name__ == "__main__":
    # Run as a script, Python puts infra/ first on sys.path, where infra/constructs would shadow the
    # `constructs` library; the repository root goes there instead.
    sys.path[0] = str(Path(__file__).resolve().parents[1])

import aws_cdk as cdk

# infra/ is the package `stratoflow._platform.infra`, in a checkout (the editable install maps it) as
# in the wheel: one name, so a team's own `infra` package never meets this one.
from stratoflow._platform.infra.config import StackConfig
from stratoflow._platform.infra.nag import add_compliance_checks
from stratoflow._platform.infra.stack import StratoflowStack


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
