"""`from stratoflow.cdk import Stratoflow` in a team's own CDK app: the construct in a fresh stack,
its props changing the template, and what it refuses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from aws_cdk import App, RemovalPolicy, Stack
from infra_synth import REPO_ROOT, SKIP_BUNDLING, Synthesized, synthesize_in_own_app
from stratoflow._platform.infra.platform import VERSION_TAG

from stratoflow.cdk import ConfigError, Stratoflow, StratoflowProps

CONSOLE_OUTPUTS = {"ConsoleUrl", "ConsoleUserPoolId", "ConsoleApiUrl"}
EXAMPLE_APP = REPO_ROOT / "examples" / "cdk-app"
OUTPUTS = {
    "FlowsBucketName",
    "DataBucketName",
    "TableName",
    "AlertTopicArn",
    "WebhookUrl",
    "AdmissionFunctionArn",
    "TaskRunnerFunctionArn",
    "PipeRolesArnPattern",
    "StratoflowVersion",
    "DataRetentionDays",
}
# What `npx cdk deploy` of the repository's app created before the construct existed: a changed
# logical id makes CloudFormation replace the resource (and lose a retained table's data).
STATEFUL_LOGICAL_IDS = {
    "StorageTableB43FDCE7",
    "StorageFlowsBucketD1F7A0A8",
    "StorageDataBucketB1B922FA",
    "StorageAccessLogsBucketFEE4D6FB",
    "AlertsTopicCF7C81C9",
    "AlertsTopicKey4FD54A73",
    "TriggersScheduleGroup9FA37061",
}


@pytest.fixture(scope="module")
def own_app(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    props = StratoflowProps(
        alert_email="data-oncall@example.com",
        data_retention_days=90,
        removal_policy=RemovalPolicy.DESTROY,
        reserved_concurrency={"task_runner": 40, "admission": 5},
        webhook_concurrency=0,
        namespace_grants={"analytics": ["arn:aws:s3:::analytics-*"]},
        console=False,
    )
    return synthesize_in_own_app(tmp_path_factory.mktemp("own-app"), "Analytics", "Platform", props)


def test_the_construct_builds_the_platform_under_its_own_id(own_app: Synthesized) -> None:
    # Then the platform's resources are the construct's (their logical ids start with its id), and
    # the functions name resources with the stack's name
    table = own_app.logical_id(own_app.platform.storage.table)
    environment = own_app.environment(own_app.platform.functions.task_runner)

    assert table.startswith("PlatformStorageTable")
    assert len(own_app.resources("AWS::Lambda::Function")) >= 5
    assert environment["STRATOFLOW_STACK_NAME"] == "Analytics"


def test_outputs_keep_the_names_the_cli_reads_under_any_construct_id(own_app: Synthesized) -> None:
    assert set(own_app.cfn["Outputs"]) == OUTPUTS


def test_props_change_the_template(own_app: Synthesized) -> None:
    functions = own_app.platform.functions

    def reserved(name: str) -> object:
        return own_app.resource(functions.by_name[name])["Properties"].get("ReservedConcurrentExecutions")

    # Reserved concurrency where asked, and none for the webhook (webhook_concurrency=0)
    assert (reserved("task_runner"), reserved("admission"), reserved("webhook")) == (40, 5, None)
    # The alert address, the retention and the removal policy
    (subscription,) = own_app.resources("AWS::SNS::Subscription").values()
    assert subscription["Properties"]["Endpoint"] == "data-oncall@example.com"
    assert own_app.environment(functions.task_runner)["STRATOFLOW_HISTORY_DAYS"] == "90"
    table = own_app.resource(own_app.platform.storage.table)
    assert (table["DeletionPolicy"], table["Properties"]["DeletionProtectionEnabled"]) == ("Delete", False)
    grants = own_app.environment(functions.deployer)["STRATOFLOW_NAMESPACE_GRANTS"]
    assert grants == '{"analytics": ["arn:aws:s3:::analytics-*"]}'


def test_the_version_tag_stays_on_the_platforms_resources(own_app: Synthesized) -> None:
    # Given the team's own bucket next to the platform in the stack
    (own_bucket,) = [
        resource
        for logical_id, resource in own_app.resources("AWS::S3::Bucket").items()
        if logical_id.startswith("OwnBucket")
    ]
    topic = own_app.resource(own_app.platform.alerts.topic)

    # Then only the platform's resources carry the release
    assert VERSION_TAG in {tag["Key"] for tag in topic["Properties"]["Tags"]}
    assert VERSION_TAG not in {tag["Key"] for tag in own_bucket["Properties"].get("Tags", [])}


def test_the_repository_stack_keeps_the_logical_ids_it_had_before_the_construct(synth: Synthesized) -> None:
    assert set(synth.cfn["Resources"]) >= STATEFUL_LOGICAL_IDS
    assert synth.logical_id(synth.platform.storage.table) == "StorageTableB43FDCE7"


def _stack(name: str = "Analytics") -> Stack:
    return Stack(App(context=SKIP_BUNDLING), name)


def test_a_stack_name_the_deployers_prefix_cannot_own_is_refused() -> None:
    with pytest.raises(ConfigError, match="the stack's name 'data-platform': use 1-40 letters and digits"):
        Stratoflow(_stack("data-platform"), "Stratoflow")


def test_a_second_platform_in_one_stack_is_refused() -> None:
    # Given a stack that holds the platform
    stack = _stack()
    Stratoflow(stack, "Stratoflow")

    # When another is added, it is refused, naming the first
    with pytest.raises(ConfigError, match="already holds Stratoflow Analytics/Stratoflow"):
        Stratoflow(stack, "Again")


def test_bad_props_are_refused_before_anything_is_built(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="alert_email 'oncall' is not an e-mail address"):
        Stratoflow(_stack(), "Stratoflow", StratoflowProps(alert_email="oncall"))


@pytest.mark.slow
def test_the_example_app_synthesizes_as_the_cdk_cli_runs_it(tmp_path: Path) -> None:
    # Given the environment the CDK CLI gives an app: output folder and context
    environment = {
        **os.environ,
        "CDK_OUTDIR": str(tmp_path),
        "CDK_CONTEXT_JSON": json.dumps({**SKIP_BUNDLING, "alertEmail": "oncall@example.com"}),
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    }

    # When the example's app command runs in its folder (with this interpreter)
    subprocess.run(
        [sys.executable, "app.py"], cwd=EXAMPLE_APP, env=environment, check=True, capture_output=True
    )

    # Then the team's stack holds their bucket and the platform, whose flows of `analytics` may name it
    template = json.loads((tmp_path / "DataPlatform.template.json").read_text())
    resources = template["Resources"]
    (landing,) = [
        logical_id
        for logical_id, resource in resources.items()
        if logical_id.startswith("Landing") and resource["Type"] == "AWS::S3::Bucket"
    ]
    deployer = next(
        r
        for r in resources.values()
        if r["Type"] == "AWS::Lambda::Function"
        and "STRATOFLOW_NAMESPACE_GRANTS" in r["Properties"]["Environment"]["Variables"]
    )
    grants = json.dumps(deployer["Properties"]["Environment"]["Variables"]["STRATOFLOW_NAMESPACE_GRANTS"])
    subscription = next(r for r in resources.values() if r["Type"] == "AWS::SNS::Subscription")
    assert set(template["Outputs"]) == OUTPUTS | CONSOLE_OUTPUTS
    assert landing in grants
    assert subscription["Properties"]["Endpoint"] == "oncall@example.com"


def test_console_off_leaves_the_console_out(own_app: Synthesized, synth: Synthesized) -> None:
    # Given the repository's stack (console on, the default) and a team's with console=False
    kinds = ("AWS::Cognito::UserPool", "AWS::CloudFront::Distribution", "AWS::ApiGatewayV2::Api")

    # Then only the first has the console's user pool, distribution and API, and its outputs
    assert all(synth.resources(kind) for kind in kinds)
    assert not any(own_app.resources(kind) for kind in kinds)
    assert own_app.platform.console is None
    assert set(synth.cfn["Outputs"]) == OUTPUTS | CONSOLE_OUTPUTS
