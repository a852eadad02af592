"""Which permissions boundary a flow's role gets when the stack has one per namespace of its grants."""

from __future__ import annotations

import pytest

from stratoflow.cloud.deploy.flow_roles import boundary_for, parse_boundaries

BOUNDARIES = {"team": "arn:aws:iam::1:policy/team", "team.a": "arn:aws:iam::1:policy/team-a"}
DEFAULT = "arn:aws:iam::1:policy/default"


@pytest.mark.parametrize(
    ("namespace", "expected"),
    [
        ("team.a", BOUNDARIES["team.a"]),  # its own entry
        ("team.a.etl", BOUNDARIES["team.a"]),  # the nearest parent's: team.a's allows team's too
        ("team.b", BOUNDARIES["team"]),
        ("team", BOUNDARIES["team"]),
        ("teams", DEFAULT),  # a name that only starts like one is no child of it
        ("other", DEFAULT),  # no entry: the stack's boundary (the "*" grants)
    ],
)
def test_a_flow_role_gets_the_boundary_of_its_namespaces_nearest_entry(namespace: str, expected: str) -> None:
    assert boundary_for(namespace, BOUNDARIES, DEFAULT) == expected


def test_the_setting_is_a_json_object_of_policy_arns() -> None:
    assert parse_boundaries("") == {}
    assert parse_boundaries('{"team": "arn:aws:iam::1:policy/team"}') == {
        "team": "arn:aws:iam::1:policy/team"
    }
    with pytest.raises(ValueError, match="STRATOFLOW_NAMESPACE_BOUNDARIES"):
        parse_boundaries('["arn"]')
