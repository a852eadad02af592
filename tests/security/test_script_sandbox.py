"""Script code holds only its flow's credentials in the cloud, enforced by AWS (issue 15, gap 1).

On the cloud code path (`CloudSimulation`: the deployer, the task runner and DynamoDB/S3 on moto),
script tasks run in their flow's sandbox function. moto cannot run a function, so the simulation runs
the sandbox in a child process whose environment holds only the credentials of the function's role,
assumed through moto's STS (`cloudsim.sandboxes`). A script there looks for the task runner's
credentials through every route a process has in a Lambda sandbox: its environment, its parent's (the
warm template's) and grandparent's (the sandbox handler's) `/proc/<pid>/environ`, `/proc/1/environ`. Then moto's IAM authorization (off while the stack is set
up, on for the attack) evaluates what the sandbox role may do: its own flow's declared bucket, its own
log group, and nothing of the platform's table, data bucket, secrets or functions.

What the simulation cannot show: on AWS the sandbox is another execution environment (a microVM) than
the task runner, so no process of the runner exists there at all; on one machine a process of the same
user could still read other processes' `/proc/<pid>/environ` (the simulation's own, one level above
the sandbox process), which is why the test reads exactly the routes a Lambda sandbox offers.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.core.authorization import disable_iam_authentication, enable_iam_authentication
from moto.iam.access_control import IAMPolicy, PermissionResult

from stratoflow.cloud.config.naming import sandbox_function_name, sandbox_role_name
from stratoflow.cloudsim.platform import CloudSimulation

pytestmark = pytest.mark.slow

EXPORTS = "team-app-exports"
FLOW = f"""id: thief
namespace: team.app
tasks:
  - id: export
    type: aws.s3.Upload
    bucket: {EXPORTS}
    key: "report.txt"
    content: "declared"
  - id: steal
    type: scripts.Shell
    outputFiles: ["loot/*"]
    script: |
      mkdir -p loot
      env > loot/env.txt
      tr '\\0' '\\n' < /proc/$PPID/environ > loot/parent.txt 2>/dev/null || echo unreadable > loot/parent.txt
      GRANDPARENT=$(awk '/^PPid:/ {{print $2}}' /proc/$PPID/status)
      tr '\\0' '\\n' < /proc/$GRANDPARENT/environ > loot/grandparent.txt 2>/dev/null || echo unreadable > loot/grandparent.txt
      tr '\\0' '\\n' < /proc/1/environ > loot/init.txt 2>/dev/null || echo unreadable > loot/init.txt
      echo '::{{"outputs": {{"parent": "'$PPID'"}}}}::'
"""


@pytest.fixture(scope="module")
def simulation() -> Iterator[CloudSimulation]:
    with CloudSimulation() as simulation:
        yield simulation


@pytest.fixture(scope="module")
def stolen(simulation: CloudSimulation, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """What the script found, by route (env, parent, init), read back from the stored output files."""
    boto3.client("s3").create_bucket(Bucket=EXPORTS)
    flow = tmp_path_factory.mktemp("flows") / "thief.yaml"
    flow.write_text(FLOW)
    run = simulation.run_flow(flow)
    assert run.execution.state == "SUCCESS", [(t.task_id, t.state, t.error) for t in run.task_runs]
    steal = next(task_run for task_run in run.task_runs if task_run.task_id == "steal")
    files: dict[str, str] = steal.outputs["outputFiles"]
    return {
        name.removeprefix("loot/").removesuffix(".txt"): simulation.blobs.get(uri).decode()
        for name, uri in files.items()
    }


def _runner_secrets() -> set[str]:
    """The credentials the simulated task runner holds (moto's, in this process's environment)."""
    names = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
    return {os.environ[name] for name in names if os.environ.get(name)}


def test_a_script_finds_the_runners_credentials_by_no_route(
    stolen: dict[str, str], simulation: CloudSimulation
) -> None:
    # Given the task runner's own credentials, and the sandbox role's that the sandbox was given
    runner = _runner_secrets()
    (sandbox_env,) = simulation.sandboxes.environments
    # When the script dumped its environment, its parent's and process 1's
    # Then the sandbox role's key is there (the dump works), the runner's are nowhere
    assert runner, "the simulated runner holds credentials"
    assert sandbox_env["AWS_ACCESS_KEY_ID"] in stolen["env"]
    # (the script's parent is the warm template, its grandparent the sandbox handler's process)
    assert sandbox_env["AWS_ACCESS_KEY_ID"] in stolen["grandparent"]
    for route, text in stolen.items():
        for secret in runner:
            assert secret not in text, f"the runner's credential reached the script through {route}"


def test_the_sandbox_runs_with_the_flows_sandbox_role(simulation: CloudSimulation) -> None:
    # Given the deployed flow
    function = sandbox_function_name("Stratoflow", "team.app", "thief")
    # When its sandbox function is read back
    configuration = boto3.client("lambda").get_function_configuration(FunctionName=function)
    # Then its role is the flow's sandbox role, trusted by Lambda alone (its flow has no Fargate script
    # task: no container may run as it), without the base policy
    role_name = sandbox_role_name("Stratoflow", "team.app", "thief")
    assert configuration["Role"].endswith(f"/stratoflow/{role_name}")
    iam = boto3.client("iam")
    role = iam.get_role(RoleName=role_name)["Role"]
    principals = [s["Principal"] for s in role["AssumeRolePolicyDocument"]["Statement"]]
    assert principals == [{"Service": "lambda.amazonaws.com"}]
    assert iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"] == []


def _as_sandbox(simulation: CloudSimulation, service: str) -> Any:
    function = sandbox_function_name("Stratoflow", "team.app", "thief")
    role = boto3.client("lambda").get_function_configuration(FunctionName=function)["Role"]
    issued = boto3.client("sts").assume_role(RoleArn=role, RoleSessionName="attacker")["Credentials"]
    return boto3.client(
        service,
        aws_access_key_id=issued["AccessKeyId"],
        aws_secret_access_key=issued["SecretAccessKey"],
        aws_session_token=issued["SessionToken"],
    )


def _denied(call: Any) -> bool:
    try:
        call()
    except ClientError as error:
        # moto answers a JSON service's denial as XML: botocore then reads the status as the code.
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return status == 403 or error.response["Error"]["Code"] in ("AccessDenied", "AccessDeniedException")
    return False


def _permitted(action: str, resource: str, flow_id: str = "thief") -> bool:
    """moto's IAM evaluation of the sandbox role's policies on one action and resource."""
    iam = boto3.client("iam")
    role = sandbox_role_name("Stratoflow", "team.app", flow_id)
    with disable_iam_authentication():  # reading the role is the test's, not the attacker's
        documents = [
            iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
            for name in iam.list_role_policies(RoleName=role)["PolicyNames"]
        ]
        assert not iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]
    results = [
        IAMPolicy(json.dumps(document)).is_action_permitted(action, resource) for document in documents
    ]
    return PermissionResult.PERMITTED in results and PermissionResult.DENIED not in results


@pytest.fixture
def attacker(simulation: CloudSimulation, stolen: dict[str, str]) -> Iterator[dict[str, Any]]:
    """Clients with the sandbox role's credentials, and IAM evaluated on every request they make."""
    for name in ("stratoflow/team.other/TOKEN", "stratoflow/team.app/TOKEN"):
        with contextlib.suppress(ClientError):  # made by an earlier test of this module
            boto3.client("secretsmanager").create_secret(Name=name, SecretString="a secret")
    clients = {
        service: _as_sandbox(simulation, service)
        for service in ("s3", "dynamodb", "secretsmanager", "lambda", "sts", "iam")
    }
    with enable_iam_authentication():
        yield clients


@pytest.mark.allowed_path
def test_the_sandbox_role_may_do_what_the_flow_declares(attacker: dict[str, Any]) -> None:
    # Given the flow declares s3:PutObject on team-app-exports/report.txt
    # When the sandbox role writes there
    attacker["s3"].put_object(Bucket=EXPORTS, Key="report.txt", Body=b"ok")
    # Then it may (what IAM evaluates below is the real role's policy)
    assert _permitted("s3:PutObject", f"arn:aws:s3:::{EXPORTS}/report.txt")


# Every way a script could use its role against the platform; each is refused by IAM.
ATTACKS: dict[str, Any] = {
    "write beside the declared key": lambda a, s: a["s3"].put_object(
        Bucket=EXPORTS, Key="other.txt", Body=b"x"
    ),
    "scan the table": lambda a, s: a["dynamodb"].scan(TableName=s.stratoflow_table_name),
    "read a table item": lambda a, s: a["dynamodb"].get_item(
        TableName=s.stratoflow_table_name, Key={"pk": {"S": "x"}, "sk": {"S": "x"}}
    ),
    "write a table item": lambda a, s: a["dynamodb"].put_item(
        TableName=s.stratoflow_table_name, Item={"pk": {"S": "x"}, "sk": {"S": "x"}}
    ),
    "list the data bucket": lambda a, s: a["s3"].list_objects_v2(Bucket=s.stratoflow_data_bucket),
    "read its own execution's files": lambda a, s: a["s3"].get_object(
        Bucket=s.stratoflow_data_bucket, Key="team.app/thief/executions/x/out.txt"
    ),
    "write another namespace's files": lambda a, s: a["s3"].put_object(
        Bucket=s.stratoflow_data_bucket, Key="namespaces/team.other/files/x", Body=b"x"
    ),
    "read a flow file": lambda a, s: a["s3"].get_object(Bucket=s.stratoflow_flows_bucket, Key="thief.yaml"),
    "read another namespace's secret": lambda a, s: a["secretsmanager"].get_secret_value(
        SecretId="stratoflow/team.other/TOKEN"
    ),
    "read its own namespace's secret directly": lambda a, s: a["secretsmanager"].get_secret_value(
        SecretId="stratoflow/team.app/TOKEN"
    ),
    "assume the task runner's role": lambda a, s: a["sts"].assume_role(
        RoleArn=s.stratoflow_task_runner_role_arn, RoleSessionName="thief"
    ),
    "assume its flow's role (it holds the base policy)": lambda a, s: a["sts"].assume_role(
        RoleArn=s.stratoflow_flow_role_prefix + sandbox_role_name("Stratoflow", "team.app", "thief")[:-2],
        RoleSessionName="thief",
    ),
    "list the account's roles": lambda a, s: a["iam"].list_roles(),
    "give its role more": lambda a, s: a["iam"].put_role_policy(
        RoleName=sandbox_role_name("Stratoflow", "team.app", "thief"),
        PolicyName="more",
        PolicyDocument='{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}',
    ),
}


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_the_sandbox_role_cannot_reach_the_platform(
    attack: str, attacker: dict[str, Any], simulation: CloudSimulation
) -> None:
    # Given the sandbox role's credentials and the stack's table, buckets, secrets and roles
    # When a script uses them, Then AWS (moto's IAM evaluation) refuses
    assert _denied(lambda: ATTACKS[attack](attacker, simulation.settings))


@pytest.mark.parametrize("function", ["task runner", "admission"])
def test_the_sandbox_role_cannot_invoke_the_platforms_functions(
    function: str, simulation: CloudSimulation
) -> None:
    # Given the platform functions (the simulation answers them before moto sees the request, so
    # moto's own evaluation of the sandbox role's policies judges the invocation)
    settings = simulation.settings
    arn = (
        settings.stratoflow_task_runner_arn
        if function == "task runner"
        else settings.stratoflow_admission_arn
    )
    # When a script would invoke one, Then its role does not allow it
    assert not _permitted("lambda:InvokeFunction", arn)
    assert not _permitted("lambda:InvokeFunction", arn + ":$LATEST")


def test_the_runners_handover_objects_are_gone_after_the_run(
    stolen: dict[str, str], simulation: CloudSimulation
) -> None:
    # Given the run's sandbox prefix (inputs handed over, uploads back)
    keys = [
        item["Key"]
        for item in boto3.client("s3")
        .list_objects_v2(Bucket=simulation.settings.stratoflow_data_bucket)
        .get("Contents", [])
    ]
    # Then nothing is left under any task run's sandbox folder
    assert not [key for key in keys if "/sandbox/" in key]


def test_a_flow_declaring_the_task_runner_as_its_lambda_still_cannot_invoke_it_from_a_script(
    simulation: CloudSimulation,
) -> None:
    # Given a flow that declares an aws.lambda.Invoke of the task runner beside its script
    runner = simulation.settings.stratoflow_task_runner_arn
    source = (
        "id: sneaky\nnamespace: team.app\ntasks:\n"
        f"  - {{id: call, type: aws.lambda.Invoke, functionArn: '{runner}'}}\n"
        "  - {id: sh, type: scripts.Shell, script: 'true'}\n"
    )
    verdict = simulation.upload("team.app/sneaky.yaml", source)
    assert verdict.status == "DEPLOYED", verdict.errors
    # When a script would use the declared permission, Then the sandbox's explicit deny wins
    assert not _permitted("lambda:InvokeFunction", runner, "sneaky")
    assert not _permitted("lambda:InvokeFunction", runner + ":1", "sneaky")
