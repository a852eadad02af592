"""`http.Request` against a local HTTP server (127.0.0.1 only, no network)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from stratoflow.tasks.errors import TaskFailed
from tests.unit.flow.flow_test_helpers import FakeContext, request


@pytest.mark.parametrize("uri", ["file:///etc/passwd", "ftp://example.com/x"])
def test_only_http_uris_are_allowed(uri: str, make_ctx: Callable[..., FakeContext]) -> None:
    with pytest.raises(TaskFailed, match="not an http or https URI"):
        request(f"{{id: r, type: http.Request, uri: '{uri}'}}", make_ctx())


def test_an_unknown_method_is_a_validation_error() -> None:
    from tests.unit.flow.flow_test_helpers import messages

    assert messages("tasks:\n  - {id: r, type: http.Request, uri: 'https://x', method: FETCH}\n")[
        0
    ].startswith("tasks[0].method: Input should be 'GET'")
