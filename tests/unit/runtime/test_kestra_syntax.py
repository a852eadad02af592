"""Kestra syntax that real flows use (issue 19), run end to end on the local platform."""

from __future__ import annotations

from stratoflow.states import State
from tests.unit.runtime.conftest import RunFlow, by_task

HEADER = """
id: f
namespace: company.team
"""


def test_deprecated_debug_echo_switch_with_empty_defaults_equals_and_tenant_id(run_flow: RunFlow) -> None:
    # Given a Kestra-shaped flow with the deprecated Echo, an empty `defaults:` and Pebble's `equals`
    outcome = run_flow(
        HEADER
        + """
tasks:
  - id: hello
    type: io.kestra.plugin.core.debug.Echo
    format: "tenant {{ flow.tenantId }}"
  - id: route
    type: io.kestra.plugin.core.flow.Switch
    value: "{{ flow.namespace equals 'company.team' }}"
    cases:
      "true":
        - id: matched
          type: io.kestra.plugin.core.debug.Return
          format: "{{ flow.tenantId }}"
    defaults:
"""
    )

    # Then
    assert outcome.execution.state == State.SUCCESS
    runs = by_task(outcome)
    assert runs["matched"][0].outputs == {"value": "main"}
    assert runs["route"][0].outputs == {"value": "true"}
