"""SQS triggers on moto: the deployer's pipes on moto's Pipes (created, updated, stopped, replaced,
deleted), and a message sent to a queue starting an execution through the simulated stack (moto stores
pipes but never runs them: `cloudsim.pipes` plays the pipe's poll and delivery)."""

from __future__ import annotations

import importlib
import json
import re
import sys
import textwrap
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from stratoflow.cloud.config.naming import AccountRegion, pipe_role_name, pipe_role_prefix, state_machine_name
from stratoflow.cloud.deploy.deployment import Deployment, FlowTarget, Retirement
from stratoflow.cloud.deploy.pipes import PipesStep, pipe_specs
from stratoflow.cloudsim.delivery import start_latest_versions
from stratoflow.cloudsim.platform import CloudSimulation
from stratoflow.engine.lambdas import LambdaContext
from stratoflow.flow import Flow, load_flow
from stratoflow.states import State

QUEUE = "https://sqs.us-east-1.amazonaws.com/123456789012/{name}"


def flow_source(flow_id: str, queue: str, extra: str = "", inputs: str = "") -> str:
    return textwrap.dedent(
        f"""
        id: {flow_id}
        namespace: team.shop
        inputs:
          - {{id: first, type: INT, defaults: 0}}
        tasks:
          - {{id: seen, type: Return, format: "{{{{ trigger.count }}}} from {{{{ trigger.messages[1].body }}}}"}}
        triggers:
          - id: inbox
            type: aws.sqs.Trigger
            queueUrl: {QUEUE.format(name=queue)}
            inputs: {{first: "{inputs or "{{ trigger.messages[0].body.id }}"}"}}
            {extra}
        """
    )


@pytest.fixture(scope="module")
def pipes(sim: CloudSimulation) -> Any:
    return sim.clients.pipes


def describe(pipes: Any, flow: Flow, sim: CloudSimulation) -> dict[str, Any]:
    (spec,) = pipe_specs(flow, sim.settings)
    described: dict[str, Any] = pipes.describe_pipe(Name=spec.name)
    return described


def names(pipes: Any, sim: CloudSimulation) -> set[str]:
    return {p["Name"] for p in pipes.list_pipes(NamePrefix=f"{sim.stack_name}-")["Pipes"]}


def deployment(sim: CloudSimulation, flow: Flow | None, previous: Flow | None) -> Deployment:
    target = FlowTarget("team.shop", "sync", "sm", "arn:aws:states:us-east-1:123456789012:stateMachine:sm")
    return Deployment(target=target, flow=flow, previous=previous, revision=1, definition={})


# --- the deployer's pipes on moto ---------------------------------------------------------------


def test_deploying_puts_one_pipe_per_sqs_trigger_and_converges(sim: CloudSimulation, pipes: Any) -> None:
    # Given the deployer's pipes step, and a flow with an SQS trigger read in batches of 50
    step = PipesStep(pipes, sim.settings, iam=sim.clients.iam)
    flow = load_flow(flow_source("sync", "sync-q", "batchSize: 50"))

    # When it is deployed, twice (a retried deployment)
    first = deployment(sim, flow, None)
    step.deploy(first)
    step.deploy(deployment(sim, flow, None))

    # Then one pipe reads the queue and calls admission with the flow's pipe role, RUNNING
    described = describe(pipes, flow, sim)
    assert described["Source"] == "arn:aws:sqs:us-east-1:123456789012:sync-q"
    assert described["SourceParameters"] == {
        "SqsQueueParameters": {"BatchSize": 50, "MaximumBatchingWindowInSeconds": 1}
    }
    assert described["Target"] == sim.settings.stratoflow_admission_arn
    assert described["TargetParameters"]["LambdaFunctionParameters"] == {"InvocationType": "REQUEST_RESPONSE"}
    role = sim.clients.iam.get_role(RoleName=pipe_role_name(sim.stack_name, "team.shop", "sync"))["Role"]
    assert described["RoleArn"] == role["Arn"]
    assert described["DesiredState"] == "RUNNING"
    assert described["Tags"]["stratoflow:flow"] == "sync"
    assert first.notes == ["trigger pipes: 1 created, 0 updated, 0 deleted"]

    # When a new revision changes the batch size, then disables the trigger
    smaller = load_flow(flow_source("sync", "sync-q", "batchSize: 5"))
    step.deploy(deployment(sim, smaller, flow))
    assert describe(pipes, smaller, sim)["SourceParameters"]["SqsQueueParameters"]["BatchSize"] == 5
    disabled = load_flow(flow_source("sync", "sync-q", "disabled: true"))
    step.deploy(deployment(sim, disabled, smaller))

    # Then the same pipe is updated, and stopped: its messages wait in the queue
    assert describe(pipes, disabled, sim)["DesiredState"] == "STOPPED"

    # When the trigger moves to another queue
    moved = load_flow(flow_source("sync", "sync-q2"))
    step.deploy(deployment(sim, moved, disabled))

    # Then a new pipe reads it, and the old one is gone (a pipe's source cannot change)
    (old,) = pipe_specs(disabled, sim.settings)
    (new,) = pipe_specs(moved, sim.settings)
    assert new.name in names(pipes, sim) and old.name not in names(pipes, sim)

    # When the flow is retired, twice
    step.retire(Retirement(deployment(sim, None, None).target, moved))
    step.retire(Retirement(deployment(sim, None, None).target, moved))

    # Then its pipe is deleted, and its role
    assert new.name not in names(pipes, sim)
    assert pipe_roles(sim) == set()


def test_retiring_a_flow_whose_revision_cannot_be_read_finds_its_pipes_by_tags(
    sim: CloudSimulation, pipes: Any
) -> None:
    # Given a deployed pipe, and another flow's
    step = PipesStep(pipes, sim.settings)
    flow = load_flow(flow_source("sync", "lost-q"))
    other = load_flow(flow_source("other", "other-q"))
    step.deploy(deployment(sim, flow, None))
    step.deploy(deployment(sim, other, None))

    # When the flow is retired without its last revision
    step.retire(Retirement(deployment(sim, None, None).target, None))

    # Then its pipe goes, and only its
    assert pipe_specs(flow, sim.settings)[0].name not in names(pipes, sim)
    assert pipe_specs(other, sim.settings)[0].name in names(pipes, sim)
    step.retire(Retirement(FlowTarget("team.shop", "other", "sm", "arn"), other))


def pipe_roles(sim: CloudSimulation) -> set[str]:
    roles = sim.clients.iam.list_roles(PathPrefix="/stratoflow/")["Roles"]
    return {
        role["RoleName"] for role in roles if role["RoleName"].startswith(pipe_role_prefix(sim.stack_name))
    }


def test_a_flows_pipe_role_reads_exactly_the_queues_its_triggers_declare(
    sim: CloudSimulation, pipes: Any
) -> None:
    # Given a flow with two SQS triggers (one disabled), deployed with the pipe roles' IAM client
    iam = sim.clients.iam
    step = PipesStep(pipes, sim.settings, iam=iam)
    source = flow_source("roles", "roles-a") + textwrap.indent(
        textwrap.dedent(
            f"""\
            - id: second
              type: aws.sqs.Trigger
              queueUrl: {QUEUE.format(name="roles-b")}
              disabled: true
            """
        ),
        "  ",
    )
    two = load_flow(source)
    step.deploy(deployment(sim, two, None))

    # Then the flow's pipe role allows the SQS actions on those two queues and invoking admission only
    name = pipe_role_name(sim.stack_name, "team.shop", "roles")
    (policy_name,) = iam.list_role_policies(RoleName=name)["PolicyNames"]
    document = iam.get_role_policy(RoleName=name, PolicyName=policy_name)["PolicyDocument"]
    queues, invoke = document["Statement"]
    assert queues["Resource"] == [
        "arn:aws:sqs:us-east-1:123456789012:roles-a",
        "arn:aws:sqs:us-east-1:123456789012:roles-b",
    ]
    assert queues["Action"] == ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]
    assert invoke["Resource"] == [sim.settings.stratoflow_admission_arn]
    # ... under the pipe boundary, assumable by this flow's two pipes only
    role = iam.get_role(RoleName=name)["Role"]
    assert role["PermissionsBoundary"]["PermissionsBoundaryArn"] == sim.settings.stratoflow_pipe_boundary_arn
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "pipes.amazonaws.com"}
    pipe_arns = sorted(
        f"arn:aws:pipes:us-east-1:123456789012:pipe/{spec.name}" for spec in pipe_specs(two, sim.settings)
    )
    assert trust["Condition"]["ArnLike"]["aws:SourceArn"] == pipe_arns

    # When a revision keeps one trigger, then one drops SQS triggers altogether
    one = load_flow(flow_source("roles", "roles-a"))
    step.deploy(deployment(sim, one, two))
    document = iam.get_role_policy(RoleName=name, PolicyName=policy_name)["PolicyDocument"]
    assert document["Statement"][0]["Resource"] == ["arn:aws:sqs:us-east-1:123456789012:roles-a"]
    none = load_flow(flow_source("roles", "roles-a").split("triggers:")[0])
    step.deploy(deployment(sim, none, one))

    # Then the role went with the last pipe
    assert name not in pipe_roles(sim)


# --- a message to a queue starts an execution -------------------------------------------------


def execution_arn(sim: CloudSimulation, flow_id: str, execution_id: str) -> str:
    machine = state_machine_name(sim.stack_name, "team.shop", flow_id)
    return AccountRegion.from_arn(sim.settings.stratoflow_task_runner_arn).execution_arn(
        machine, execution_id
    )


def create_queue(name: str) -> str:
    url: str = boto3.client("sqs").create_queue(QueueName=name)["QueueUrl"]
    return url


def counts(url: str) -> tuple[int, int]:
    """(visible, in flight) messages of a queue."""
    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]), int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def send(url: str, *bodies: str) -> None:
    sqs = boto3.client("sqs")
    for body in bodies:
        sqs.send_message(
            QueueUrl=url,
            MessageBody=body,
            MessageAttributes={"source": {"DataType": "String", "StringValue": "shop"}},
        )


def test_messages_sent_to_a_queue_start_one_execution_that_sees_them(sim: CloudSimulation) -> None:
    # Given a deployed flow whose SQS trigger reads a queue
    url = create_queue("orders-e2e")
    verdict = sim.upload("orders_e2e.yaml", flow_source("orders_e2e", "orders-e2e"))
    assert verdict.status == "DEPLOYED", verdict.errors

    # When two messages are sent and the pipe delivers them
    send(url, '{"id": 7}', "second, as text")
    (delivery,) = sim.deliver_queue_messages()

    # Then admission took the batch (the pipe deleted both messages) ...
    assert delivery.answer == {"batchItemFailures": []}
    assert sorted(delivery.deleted) == sorted(delivery.message_ids) and len(delivery.message_ids) == 2
    assert counts(url) == (0, 0)
    # ... and one execution ran with trigger.messages and the inputs rendered from them
    (execution,) = sim.store.list_executions(namespace="team.shop", flow_id="orders_e2e")
    run = sim.wait(execution_arn(sim, "orders_e2e", execution.id))
    assert run.execution.state == State.SUCCESS
    assert run.execution.inputs == {"first": 7}
    assert run.execution.trigger is not None
    assert run.execution.trigger["messages"][0]["messageAttributes"]["source"]["stringValue"] == "shop"
    (seen,) = run.task_runs
    assert seen.outputs == {"value": "2 from second, as text"}

    # When there is nothing more in the queue, the pipe delivers nothing
    assert sim.deliver_queue_messages() == []


def test_a_refused_batch_stays_in_the_queue(sim: CloudSimulation) -> None:
    # Given a flow whose trigger input cannot be rendered from the messages
    url = create_queue("refused-e2e")
    source = flow_source("refused_e2e", "refused-e2e", inputs="{{ trigger.messages[0].body.missing }}")
    assert sim.upload("refused_e2e.yaml", source).status == "DEPLOYED"

    # When a message comes
    send(url, '{"id": 1}')
    deliveries = [d for d in sim.deliver_queue_messages() if "refused_e2e" in d.pipe]

    # Then admission reports it failed: it stays in the queue (in flight until its visibility timeout)
    (delivery,) = deliveries
    assert delivery.answer == {"batchItemFailures": [{"itemIdentifier": delivery.message_ids[0]}]}
    assert delivery.deleted == []
    assert counts(url) == (0, 1)
    assert sim.store.list_executions(namespace="team.shop", flow_id="refused_e2e") == []


def test_a_disabled_flows_messages_wait_in_the_queue(sim: CloudSimulation) -> None:
    # Given a disabled flow with an SQS trigger
    url = create_queue("disabled-e2e")
    source = flow_source("disabled_e2e", "disabled-e2e").replace(
        "namespace: team.shop", "namespace: team.shop\ndisabled: true"
    )
    assert sim.upload("disabled_e2e.yaml", source).status == "DEPLOYED"

    # When a message comes
    send(url, '{"id": 1}')

    # Then its stopped pipe delivers nothing, and the message waits
    assert [d for d in sim.deliver_queue_messages() if "disabled_e2e" in d.pipe] == []
    assert counts(url) == (1, 0)


# --- the admission function --------------------------------------------------------------------


@pytest.fixture(scope="module")
def admission(sim: CloudSimulation) -> Iterator[Any]:
    """functions/admission/handler.py, configured for the simulated stack."""
    environment = {name.upper(): str(value) for name, value in sim.settings.model_dump().items()}
    environment.update({"POWERTOOLS_METRICS_NAMESPACE": "Stratoflow", "POWERTOOLS_SERVICE_NAME": "test"})
    with pytest.MonkeyPatch.context() as patch:
        for name, value in environment.items():
            patch.setenv(name, value)
        sys.modules.pop("functions.admission.handler", None)
        module = importlib.import_module("functions.admission.handler")
        start_latest_versions(module.admission.starter.stepfunctions)
        yield module
        sys.modules.pop("functions.admission.handler", None)


def test_the_admission_function_answers_a_pipes_batch(sim: CloudSimulation, admission: Any) -> None:
    # Given a deployed flow with an SQS trigger, and a batch as its pipe delivers it
    assert sim.upload("handler_e2e.yaml", flow_source("handler_e2e", "handler-e2e")).status == "DEPLOYED"
    (spec,) = pipe_specs(load_flow(flow_source("handler_e2e", "handler-e2e")), sim.settings)
    batch = [
        json.loads(spec.input_template.replace("<aws.pipes.event.json>", json.dumps(record)))
        for record in (
            {"messageId": "m-1", "body": '{"id": 3}', "attributes": {}, "messageAttributes": {}},
            {"messageId": "m-2", "body": "two", "attributes": {}, "messageAttributes": {}},
        )
    ]
    context = LambdaContext(
        function_name="admission",
        invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:admission",
    )

    # When the admission function gets it, and then a batch for a flow that is not deployed
    answer = admission.lambda_handler(batch, context)
    unknown = [{**item, "flowId": "nowhere"} for item in batch]
    refused = admission.lambda_handler(unknown, context)

    # Then it started one execution, and refused the other batch message by message
    assert answer == {"batchItemFailures": []}
    (execution,) = sim.store.list_executions(namespace="team.shop", flow_id="handler_e2e")
    assert execution.inputs == {"first": 3} and execution.trigger is not None
    assert refused == {"batchItemFailures": [{"itemIdentifier": "m-1"}, {"itemIdentifier": "m-2"}]}


def test_a_queue_of_another_region_is_refused_when_the_flow_is_deployed(sim: CloudSimulation) -> None:
    # Given a flow whose SQS trigger names a queue outside the stack's region (us-east-1)
    source = flow_source("elsewhere", "q").replace("sqs.us-east-1", "sqs.eu-west-1")

    # When it is uploaded
    verdict = sim.upload("elsewhere.yaml", source)

    # Then it is INVALID, saying where (once), which trigger and why; no pipe is made
    assert verdict.status == "INVALID"
    (error,) = verdict.errors
    assert re.match(r"elsewhere\.yaml:\d+:\d+: triggers\[0\]\.queueUrl: ", error), error
    assert (
        "triggers[0].queueUrl: the queue arn:aws:sqs:eu-west-1:123456789012:q is not in the stack's" in error
    )
    assert not [name for name in names(sim.clients.pipes, sim) if "elsewhere" in name]
