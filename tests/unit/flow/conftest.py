"""Fixtures for the flow-model tests."""

from __future__ import annotations

import re
import sys
import types
from collections.abc import Callable
from typing import Any

import jinja2
import pytest

import stratoflow
from stratoflow.flow import rules as flow_rules
from tests.unit.flow.flow_test_helpers import FakeContext


@pytest.fixture
def real_expressions() -> types.ModuleType:
    """Opt out of the stand-in below: use the real expression engine (skipped when it is absent)."""
    module: types.ModuleType = pytest.importorskip("stratoflow.expressions")
    return module


@pytest.fixture(autouse=True)
def fake_expressions(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> types.ModuleType | None:
    """A small `stratoflow.expressions` stand-in, so these tests check the wiring of the flow model
    (which strings are checked, how lines are computed) independently of the real engine."""
    if "real_expressions" in request.fixturenames:
        return None
    module = types.ModuleType("stratoflow.expressions")
    environment = jinja2.Environment()

    def syntax_errors(template: str) -> list[Exception]:
        try:
            environment.parse(template)
        except jinja2.TemplateSyntaxError as err:
            return [err]
        return []

    def referenced_outputs(template: str) -> set[str]:
        # `outputs.x` at the root of a name only: not `outputs.call.outputs.y`.
        return set(re.findall(r"(?<![\w.])outputs\.([A-Za-z0-9_-]+)", template))

    def referenced_inputs(template: str) -> set[str]:
        return set(re.findall(r"(?<![\w.])inputs\.([A-Za-z0-9_-]+)", template))

    def is_truthy(value: Any) -> bool:
        if isinstance(value, str):
            return value.strip().lower() not in ("false", "0", "-0", "")
        return bool(value)

    module.syntax_errors = syntax_errors  # type: ignore[attr-defined]
    module.referenced_outputs = referenced_outputs  # type: ignore[attr-defined]
    module.referenced_inputs = referenced_inputs  # type: ignore[attr-defined]
    module.is_truthy = is_truthy  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "stratoflow.expressions", module)
    monkeypatch.setattr(stratoflow, "expressions", module, raising=False)
    monkeypatch.setattr(flow_rules, "expressions", module)  # bound at the top of the module
    return module


@pytest.fixture
def make_ctx() -> Callable[..., FakeContext]:
    return FakeContext
