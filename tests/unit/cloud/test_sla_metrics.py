"""The SlaMissed metric's dimension sets."""

from __future__ import annotations

from stratoflow.cloud.runtime.metrics import sla_missed_metric_sets


def test_sla_missed_metric_has_flow_and_sla_dimensions() -> None:
    # Given a miss of the SLA rowsLoaded of flow tests.sla.x
    sets = sla_missed_metric_sets("tests.sla.x", ["rowsLoaded"], "e1")
    # Then SlaMissed is published per (Flow, Sla), per Flow (the flow's alarm) and stack-wide
    assert [s.dimensions for s in sets] == [
        {"Flow": "tests.sla.x", "Sla": "rowsLoaded"},
        {"Flow": "tests.sla.x"},
        {},
    ]
    assert {(m.name, m.value) for s in sets for m in s.metrics} == {("SlaMissed", 1)}
