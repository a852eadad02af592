"""cdk-nag (AWS Solutions) and cfn-lint on the synthesized stack; every acknowledgement is justified."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import assertions
from cdk_nag import AwsSolutionsChecks
from cfnlint.api import ManualArgs, lint  # type: ignore[import-untyped]
from infra_synth import SKIP_BUNDLING, Synthesized, cdk_json_context
from stratoflow._platform.infra.app import create_app
from stratoflow._platform.infra.nag import add_compliance_checks

# CDK makes each function depend explicitly on its role, which cfn-lint finds redundant (a warning).
TOLERATED_CFN_LINT_RULES = {"W3005"}
# The stack's container platform exists only when its config names a network.
CONTAINER_NETWORK = {"containerSubnets": "subnet-0aaa1111", "containerSecurityGroups": "sg-0ccc3333"}


@pytest.mark.parametrize("which", ["synth", "custom_synth"])
def test_cdk_nag_finds_nothing_unacknowledged(which: str, request: pytest.FixtureRequest) -> None:
    # (custom_synth has the container platform: cluster, task definition, roles)
    synth: Synthesized = request.getfixturevalue(which)
    report = AwsSolutionsChecks(synth.app).validate_scope(synth.app)

    assert report.violations == []
    assert report.success
    annotations = assertions.Annotations.from_stack(synth.stack)
    assert annotations.find_error("*", assertions.Match.string_like_regexp("AwsSolutions-.*")) == []
    assert annotations.find_error("*", assertions.Match.any_value()) == []


def test_compliance_checks_fail_synthesis_on_a_finding(tmp_path: Path) -> None:
    # Given an app with the checks and a bucket that breaks AWS Solutions rules
    app = cdk.App(outdir=str(tmp_path))
    stack = cdk.Stack(app, "Probe")
    cdk.aws_s3.Bucket(stack, "PlainBucket")
    add_compliance_checks(app)

    # When it synthesizes, Then it fails and names the rule
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        assertions.Template.from_stack(stack)


def _acknowledgements(stack: cdk.Stack) -> list[tuple[str, str, str]]:
    key = cdk.Validations.ACKNOWLEDGED_RULES_METADATA_KEY
    return [
        (construct.node.path, rule, reason)
        for construct in stack.node.find_all()
        for entry in construct.node.metadata
        if entry.type == key
        for rule, reason in entry.data.items()
    ]


def test_every_acknowledgement_gives_its_reason(synth: Synthesized, custom_synth: Synthesized) -> None:
    for synthesized in (synth, custom_synth):
        acknowledgements = _acknowledgements(synthesized.stack)
        assert acknowledgements
        for path, rule, reason in acknowledgements:
            assert len(reason.split()) >= 8, (path, rule, reason)


@pytest.mark.parametrize("context", [{}, CONTAINER_NETWORK], ids=["default", "containers"])
def test_every_acknowledgement_matches_a_real_finding(
    context: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the app built with its acknowledgements recorded instead of applied (with and without the
    # container platform, whose acknowledgements exist only with it)
    recorded: list[tuple[str, str]] = []
    real_of = cdk.Validations.of

    class Recorder:
        def __init__(self, scope: Any) -> None:
            self.scope = scope

        def acknowledge(self, *acknowledgements: cdk.Acknowledgment) -> None:
            recorded.extend((self.scope.node.path, ack.id) for ack in acknowledgements)

        def add_plugins(self, *plugins: Any) -> None:
            real_of(self.scope).add_plugins(*plugins)

    monkeypatch.setattr(cdk.Validations, "of", staticmethod(Recorder))
    app, stack = create_app({**cdk_json_context(), **SKIP_BUNDLING, **context}, outdir=str(tmp_path))
    monkeypatch.undo()

    # When cdk-nag checks it
    report = AwsSolutionsChecks(app).validate_scope(app)
    findings: set[tuple[str, str]] = {
        (str(resource.construct_path), violation.rule_name)
        for violation in report.violations
        for resource in violation.violating_resources
    }

    # Then each acknowledgement silences at least one finding at or under its construct, and each finding
    # is acknowledged
    def covers(scope_path: str, rule: str, finding: tuple[str, str]) -> bool:
        path, finding_rule = finding
        return finding_rule == rule and (path == scope_path or path.startswith(scope_path + "/"))

    unused = [ack for ack in recorded if not any(covers(*ack, finding) for finding in findings)]
    unacknowledged = [finding for finding in findings if not any(covers(*ack, finding) for ack in recorded)]
    assert recorded
    assert unused == []
    assert unacknowledged == []
    # And the checks really run when the app synthesizes: without the acknowledgements it fails
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        assertions.Template.from_stack(stack)


@pytest.mark.parametrize("which", ["synth", "custom_synth"])
def test_cfn_lint_finds_no_problem(which: str, request: pytest.FixtureRequest) -> None:
    synthesized: Synthesized = request.getfixturevalue(which)

    matches = lint(json.dumps(synthesized.cfn), config=ManualArgs(regions=["us-east-1", "eu-central-1"]))

    problems = [
        f"{match.rule.id} {'/'.join(map(str, match.path))}: {match.message}"
        for match in matches
        if match.rule.id not in TOLERATED_CFN_LINT_RULES
    ]
    assert problems == []
