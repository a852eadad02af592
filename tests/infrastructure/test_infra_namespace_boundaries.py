"""With namespace grants the stack makes one flow-role boundary per namespace of the grants, and the
deployer may give flow roles only those (what they allow: tests/security/test_iam_attacks.py)."""

from __future__ import annotations

from typing import Any

from infra_synth import Synthesized
from stratoflow._platform.infra.nag import render_cfn


def boundary_statements(synth: Synthesized, policy: Any) -> dict[str, dict[str, Any]]:
    document = synth.cfn["Resources"][synth.logical_id(policy)]["Properties"]["PolicyDocument"]
    return {statement["Sid"]: statement for statement in document["Statement"]}


def test_each_namespace_of_the_grants_has_a_boundary_allowing_its_own_and_its_parents_resources(
    grants_synth: Synthesized,
) -> None:
    # Given the stack synthesized with grants for team.a, team, lake and "*"
    boundary = grants_synth.platform.deployer.flow_role_boundary

    # Then team.a's boundary allows the task services on team.a's, team's and "*"'s patterns
    assert sorted(boundary.namespace_policies) == ["lake", "team", "team.a"]
    team_a = boundary_statements(grants_synth, boundary.namespace_policies["team.a"])
    assert sorted(team_a["TaskServices"]["Resource"]) == [
        "arn:aws:kms:eu-west-1:123456789012:key/aaaa*",
        "arn:aws:s3:::team-a-*",
        "arn:aws:s3:::team-shared/*",
        "arn:aws:sqs:eu-west-1:123456789012:shared-*",
    ]
    # ... team's only its own and "*"'s; namespaces without an entry get "*"'s (the stack's `policy`)
    team = boundary_statements(grants_synth, boundary.namespace_policies["team"])
    assert sorted(team["TaskServices"]["Resource"]) == [
        "arn:aws:s3:::team-shared/*",
        "arn:aws:sqs:eu-west-1:123456789012:shared-*",
    ]
    rest = boundary_statements(grants_synth, boundary.policy)
    assert rest["TaskServices"]["Resource"] == "arn:aws:sqs:eu-west-1:123456789012:shared-*"
    # ... and none may pass a role: no pattern names one
    assert all("PassRolesToEcsTasks" not in statements for statements in (team_a, team, rest))


def test_the_deployer_learns_the_boundaries_and_may_set_only_them(grants_synth: Synthesized) -> None:
    # Given the deployer's settings and grants
    platform = grants_synth.platform
    boundary = platform.deployer.flow_role_boundary
    environment = grants_synth.environment(platform.functions.deployer)
    deployer = platform.functions.roles["deployer"]
    create = next(
        s for s in grants_synth.statements(deployer) if s.get("Sid") == "WriteFlowRolesWithinBoundary"
    )

    # Then it reads each namespace's boundary, and its writes are conditioned on exactly those
    refs = {
        namespace: {"Ref": grants_synth.logical_id(policy)}
        for namespace, policy in boundary.namespace_policies.items()
    }
    joined = render_cfn(environment["STRATOFLOW_NAMESPACE_BOUNDARIES"])
    for namespace, ref in refs.items():
        assert f'"{namespace}":"<{ref["Ref"]}>"' in joined
    assert environment["STRATOFLOW_FLOW_BOUNDARY_ARN"] == {"Ref": grants_synth.logical_id(boundary.policy)}
    allowed = create["Condition"]["StringEquals"]["iam:PermissionsBoundary"]
    assert sorted(map(str, allowed)) == sorted(
        map(str, [{"Ref": grants_synth.logical_id(boundary.policy)}, *refs.values()])
    )


def test_without_grants_there_is_one_boundary_on_any_resource_but_the_stacks_storage(
    synth: Synthesized,
) -> None:
    boundary = synth.platform.deployer.flow_role_boundary
    storage = synth.platform.storage

    assert boundary.namespace_policies == {}
    services = boundary_statements(synth, boundary.policy)["TaskServices"]
    assert "Resource" not in services
    # (what IAM answers for them: tests/security/test_iam_attacks.py)
    named = {str(arn) for arn in services["NotResource"]}
    for resource in (storage.table, storage.flows_bucket, storage.data_bucket):
        assert sum(synth.logical_id(resource) in arn for arn in named) == 2  # itself and what it holds
    assert "STRATOFLOW_NAMESPACE_BOUNDARIES" not in synth.environment(synth.platform.functions.deployer)
