"""The console API's OpenAPI document, as checked into the tests (`make openapi` rewrites it).

`python -m stratoflow.console.openapi` prints it. The document comes from the routes and models
alone: no backend is opened to build it.
"""

from __future__ import annotations

import json
from typing import Any

from stratoflow.console.app import create_app


class _RoutesOnly:
    """Stands for a backend while only the routes are read; any use is a programming error."""

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError("the OpenAPI document is built without a backend")


def openapi_document() -> dict[str, Any]:

    document: dict[str, Any] = create_app(_RoutesOnly()).openapi()
    return document


def openapi_text() -> str:
    return json.dumps(openapi_document(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    print(openapi_text(), end="")
