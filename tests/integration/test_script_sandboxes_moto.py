"""Each flow's script sandbox, on moto: created by the upload of a flow with scripts, with the flow's
sandbox role; updated by a re-upload; deleted when the scripts go, when the flow is retired and when
the stack is; never created for an invalid flow (test_cloud_sim_scripts.py runs scripts through it)."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from stratoflow.cloud.config.clients import AwsClients
from stratoflow.cloud.config.naming import sandbox_function_name, sandbox_role_name
from stratoflow.cloud.deploy.flow_roles import FLOW_TASKS_POLICY
from stratoflow.cloud.deploy.sandboxes import SANDBOX_POLICY, Sandboxes, log_group_name
from stratoflow.cloud.deploy.teardown import remove_deployed_resources
from stratoflow.cloudsim.platform import CloudSimulation

pytestmark = pytest.mark.slow

NAMESPACE = "tests.sandbox"
SHELL = """  - id: hello
    type: scripts.Shell
    script: echo hello
"""
LOG = """  - id: note
    type: Log
    message: hi
"""
UPLOAD = """  - id: put
    type: aws.s3.Upload
    bucket: sandbox-lake
    key: out.txt
    content: x
"""


def flow(flow_id: str, *tasks: str) -> str:
    return f"id: {flow_id}\nnamespace: {NAMESPACE}\ntasks:\n" + "".join(tasks)


def function(flow_id: str) -> dict[str, Any] | None:
    try:
        configuration: dict[str, Any] = boto3.client("lambda").get_function_configuration(
            FunctionName=sandbox_function_name("Stratoflow", NAMESPACE, flow_id)
        )
    except boto3.client("lambda").exceptions.ResourceNotFoundException:
        return None
    return configuration


def role_policies(flow_id: str) -> dict[str, Any] | None:
    iam = boto3.client("iam")
    name = sandbox_role_name("Stratoflow", NAMESPACE, flow_id)
    try:
        names = iam.list_role_policies(RoleName=name)["PolicyNames"]
    except iam.exceptions.NoSuchEntityException:
        return None
    return {
        policy: iam.get_role_policy(RoleName=name, PolicyName=policy)["PolicyDocument"] for policy in names
    }


def log_groups(flow_id: str) -> list[str]:
    name = log_group_name(sandbox_function_name("Stratoflow", NAMESPACE, flow_id))
    groups = boto3.client("logs").describe_log_groups(logGroupNamePrefix=name)["logGroups"]
    return [group["logGroupName"] for group in groups]


def test_a_script_flows_upload_creates_its_sandbox_with_the_flows_sandbox_role(sim: CloudSimulation) -> None:
    # Given a flow with a script and an AWS task
    # When it is uploaded
    verdict = sim.upload("sandbox/created.yaml", flow("created", SHELL, UPLOAD))

    # Then its sandbox function runs with its sandbox role: the task's statement and its log group
    assert verdict.status == "DEPLOYED", verdict.errors
    configuration = function("created")
    assert configuration is not None
    assert configuration["Role"].endswith("/" + sandbox_role_name("Stratoflow", NAMESPACE, "created"))
    assert configuration["Timeout"] == 900
    assert configuration["Layers"][0]["Arn"] == sim.settings.stratoflow_platform_layer_arn
    policies = role_policies("created")
    assert policies is not None and set(policies) == {FLOW_TASKS_POLICY, SANDBOX_POLICY}
    assert policies[FLOW_TASKS_POLICY]["Statement"][0]["Resource"] == ["arn:aws:s3:::sandbox-lake/out.txt"]
    assert log_groups("created") == [log_group_name(configuration["FunctionName"])]


def test_a_flow_without_scripts_gets_no_sandbox(sim: CloudSimulation) -> None:
    # Given a flow of a Log task only
    # When it is uploaded
    sim.upload("sandbox/plain.yaml", flow("plain", LOG))
    # Then there is no sandbox, role or log group for it
    assert function("plain") is None and role_policies("plain") is None and log_groups("plain") == []


def test_a_reupload_updates_the_sandbox_and_dropping_the_scripts_deletes_it(sim: CloudSimulation) -> None:
    # Given a deployed script flow without AWS tasks
    sim.upload("sandbox/updated.yaml", flow("updated", SHELL))
    before = role_policies("updated")

    # When it is uploaded again with an AWS task, then without its script
    sim.upload("sandbox/updated.yaml", flow("updated", SHELL, UPLOAD))
    after = role_policies("updated")
    sim.upload("sandbox/updated.yaml", flow("updated", LOG))

    # Then the second upload gave the sandbox role the new statement; the third removed the
    # function, its log group and its role
    assert before is not None and set(before) == {SANDBOX_POLICY}
    assert after is not None and set(after) == {FLOW_TASKS_POLICY, SANDBOX_POLICY}
    assert function("updated") is None and role_policies("updated") is None and log_groups("updated") == []


def test_a_new_stack_version_moves_a_sandbox_onto_its_code_and_settings(sim: CloudSimulation) -> None:
    # Given a deployed script flow, and a stack updated with new sandbox code and more memory
    sim.upload("sandbox/moved.yaml", flow("moved", SHELL))
    s3 = boto3.client("s3")
    bucket, key = sim.settings.stratoflow_sandbox_code_bucket, sim.settings.stratoflow_sandbox_code_key
    s3.copy_object(Bucket=bucket, Key="v2.zip", CopySource={"Bucket": bucket, "Key": key})
    settings = sim.settings.model_copy(
        update={"stratoflow_sandbox_code_key": "v2.zip", "stratoflow_sandbox_memory_mb": 2048}
    )

    # When the deployer converges the flow's sandbox with them (its next deployment does)
    arn = Sandboxes(AwsClients(), settings).ensure(sim.deployer.target(NAMESPACE, "moved"), [])

    # Then the function has the new memory and is tagged with the new code
    configuration = function("moved")
    assert configuration is not None and configuration["FunctionArn"] == arn
    assert configuration["MemorySize"] == 2048
    assert boto3.client("lambda").list_tags(Resource=arn)["Tags"]["stratoflow:code"] == "v2.zip"


def test_retiring_a_flow_deletes_its_sandbox(sim: CloudSimulation) -> None:
    # Given a deployed script flow
    sim.upload("sandbox/retired.yaml", flow("retired", SHELL))
    assert function("retired") is not None
    # When its file is deleted, and the flow is retired once more
    sim.delete("sandbox/retired.yaml")
    sim.deployer.retire_flow(NAMESPACE, "retired")
    # Then the function, its role and its log group are gone, and the duplicate did not fail
    assert function("retired") is None and role_policies("retired") is None and log_groups("retired") == []


def test_an_invalid_flow_creates_no_sandbox(sim: CloudSimulation) -> None:
    # Given a flow with a script and an error
    source = flow("broken", SHELL, "  - id: bad\n    type: NoSuchTask\n")
    # When it is uploaded
    verdict = sim.upload("sandbox/broken.yaml", source)
    # Then it is refused, and nothing was made for it
    assert verdict.status == "INVALID"
    assert function("broken") is None and role_policies("broken") is None and log_groups("broken") == []


def test_deleting_the_stack_deletes_every_sandbox(sim: CloudSimulation) -> None:
    # Given a deployed script flow
    sim.upload("sandbox/torn.yaml", flow("torn", SHELL))
    # When the stack's housekeeping tears the deployed resources down
    teardown = remove_deployed_resources("Stratoflow", AwsClients())
    # Then its sandbox, log group and role went with the rest
    assert not teardown.failed
    assert function("torn") is None and role_policies("torn") is None and log_groups("torn") == []
    assert any(label.startswith("function Stratoflow-sbx-") for label in teardown.deleted)
