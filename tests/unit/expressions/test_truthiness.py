"""Kestra's truthiness rule, used by runIf, If.condition and Fail.condition."""

from __future__ import annotations

from typing import Any

import pytest

from stratoflow.expressions import is_truthy, render_string


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (False, False),
        (None, False),
        ("false", False),
        ("FALSE", False),
        ("False", False),
        (" false\n", False),
        ("0", False),
        ("-0", False),
        ("", False),
        ("   ", False),
        (0, False),
        (0.0, False),
        ([], False),
        ({}, False),
        (True, True),
        ("true", True),
        ("no", True),
        ("0.0", True),
        ("null", True),
        ("falsey", True),
        (1, True),
        (-1, True),
        (0.1, True),
        ([0], True),
        ({"a": None}, True),
    ],
)
def test_is_truthy(value: Any, expected: bool) -> None:
    assert is_truthy(value) is expected


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ inputs.enabled }}", False),
        ("{{ inputs.count > 2 }}", True),
        ("{{ inputs.text }}", False),
        ("{{ outputs.check.value ?? false }}", False),
    ],
)
def test_rendered_conditions(template: str, expected: bool) -> None:
    context = {"inputs": {"enabled": "false", "count": 3, "text": "0"}, "outputs": {}}
    assert is_truthy(render_string(template, context)) is expected
