"""The platform as a CDK construct, for a team's own CDK app (`pip install 'stratoflow[cloud]'`):

    from aws_cdk import App, Stack
    from stratoflow.cdk import Stratoflow, StratoflowProps

    app = App()
    stack = Stack(app, "DataPlatform")
    Stratoflow(stack, "Stratoflow", StratoflowProps(alert_email="oncall@example.com"))
    app.synth()

The construct is the one the repository's own app and `strato stack` build (infra/platform.py, which
the wheel carries as `stratoflow._platform.infra`); this module is its public name. It is the one
module of the library that imports the CDK app, and only a CDK app imports it.
"""

from __future__ import annotations

from stratoflow._platform.infra.config import ConfigError, StratoflowProps
from stratoflow._platform.infra.platform import Stratoflow

__all__ = ["ConfigError", "Stratoflow", "StratoflowProps"]
