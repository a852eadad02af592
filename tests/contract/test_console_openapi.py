"""The console API's OpenAPI document is a contract (the pages and the cloud side code against it):
any change to a route or model shows here, and is accepted with `make openapi`."""

from __future__ import annotations

import json
from pathlib import Path

from stratoflow.console.openapi import openapi_document, openapi_text

CHECKED_IN = Path(__file__).with_name("console_openapi.json")


def test_the_document_is_the_checked_in_one() -> None:
    # Given the document the routes describe now
    current = openapi_text()

    # Then it is the one checked in (else: `make openapi`, and review the diff)
    assert current == CHECKED_IN.read_text(), (
        "the console API changed: run `make openapi` and review the diff"
    )


def test_every_route_answers_errors_as_a_message_and_lives_under_the_prefix() -> None:
    document = openapi_document()
    assert document["openapi"].startswith("3.")
    for path, operations in document["paths"].items():
        assert path.startswith("/api/v1/"), path
        for method, operation in operations.items():
            assert "400" in operation["responses"], (method, path)
            assert operation["responses"]["400"]["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/Problem"
            }
    assert json.loads(CHECKED_IN.read_text())["info"]["title"] == "Stratoflow console API"
