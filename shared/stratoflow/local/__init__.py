"""Stratoflow on a laptop: the local engine, SQLite history and a local storage folder.

`LocalPlatform` and `RunOutcome` are imported on first use, so a light part (`local.leases`,
`local.file_inputs`) does not load the engine, the runner and the expressions with it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from stratoflow.local.platform import LocalPlatform, RunOutcome

__all__ = ["LocalPlatform", "RunOutcome"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module("stratoflow.local.platform"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
