"""SQS triggers as pipes: the trigger's fields, queue URL -> ARN, and the pipe the deployer puts for it."""

from __future__ import annotations

import json
import textwrap

import pytest

from stratoflow.cloud.config.naming import pipe_role_name
from stratoflow.cloud.config.settings import Settings
from stratoflow.cloud.deploy.deployment import FlowTarget
from stratoflow.cloud.deploy.pipe_roles import PipeRoles
from stratoflow.cloud.deploy.pipes import Pipes, input_template, pipe_notes, pipe_specs
from stratoflow.errors import FlowValidationError
from stratoflow.flow import Flow, SqsTrigger, load_flow
from stratoflow.flow.triggers import sqs_queue_arn

SETTINGS = Settings(
    stratoflow_table_name="t",
    stratoflow_data_bucket="d",
    stratoflow_stack_name="Stratoflow",
    stratoflow_admission_arn="arn:aws:lambda:eu-west-1:123456789012:function:admission",
    stratoflow_pipe_boundary_arn="arn:aws:iam::123456789012:policy/PipeBoundary",
)
QUEUE_URL = "https://sqs.eu-west-1.amazonaws.com/123456789012/orders"


def flow_with(trigger: str, *, disabled: bool = False) -> Flow:
    return load_flow(
        textwrap.dedent(
            f"""
            id: orders
            namespace: team.shop
            disabled: {str(disabled).lower()}
            tasks: [{{id: t, type: Log, message: hi}}]
            triggers:
              - {trigger}
            """
        ),
        "flows/orders.yaml",
    )


# --- queue URLs ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "arn"),
    [
        (QUEUE_URL, "arn:aws:sqs:eu-west-1:123456789012:orders"),
        (
            "https://eu-west-1.queue.amazonaws.com/123456789012/orders",
            "arn:aws:sqs:eu-west-1:123456789012:orders",
        ),
        (
            "https://sqs.us-east-1.amazonaws.com/123456789012/jobs.fifo",
            "arn:aws:sqs:us-east-1:123456789012:jobs.fifo",
        ),
        (
            "https://sqs.cn-north-1.amazonaws.com.cn/123456789012/q",
            "arn:aws-cn:sqs:cn-north-1:123456789012:q",
        ),
        (
            "https://sqs.us-gov-west-1.amazonaws.com/123456789012/q",
            "arn:aws-us-gov:sqs:us-gov-west-1:123456789012:q",
        ),
    ],
)
def test_a_queue_url_names_its_queue_arn(url: str, arn: str) -> None:
    assert sqs_queue_arn(url) == arn


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/123456789012/orders",
        "http://sqs.eu-west-1.amazonaws.com/123456789012/orders",
        "https://sqs.eu-west-1.amazonaws.com/1234/orders",
        "https://sqs.eu-west-1.amazonaws.com/123456789012/or ders",
        "https://sqs.eu-west-1.amazonaws.com/123456789012/",
        "sqs://orders",
    ],
)
def test_anything_but_a_queue_url_is_refused_at_its_line(url: str) -> None:
    # When a flow names its queue with something that is not an SQS queue URL
    with pytest.raises(FlowValidationError) as raised:
        flow_with(f'{{id: inbox, type: aws.sqs.Trigger, queueUrl: "{url}"}}')

    # Then the error points at the trigger's line, and says what is expected
    (diagnostic,) = raised.value.diagnostics
    assert (diagnostic.file, diagnostic.line, diagnostic.path) == (
        "flows/orders.yaml",
        7,
        "triggers[0].queueUrl",
    )
    assert "is not an SQS queue URL" in diagnostic.message and "https://sqs.<region>" in diagnostic.message


def test_a_queue_arn_must_be_an_sqs_queue_arn() -> None:
    with pytest.raises(FlowValidationError, match="is not an SQS queue ARN"):
        flow_with("{id: inbox, type: aws.sqs.Trigger, queueArn: 'arn:aws:sqs:eu-west-1:123456789012:'}")


# --- batching -----------------------------------------------------------------------------------


def test_max_records_is_kestras_name_for_batch_size() -> None:
    trigger = flow_with(
        f"{{id: inbox, type: aws.sqs.Trigger, queueUrl: {QUEUE_URL}, maxRecords: 5}}"
    ).triggers[0]

    assert isinstance(trigger, SqsTrigger) and trigger.batch_size == 5


def test_batch_size_and_max_records_together_are_refused() -> None:
    with pytest.raises(FlowValidationError, match="set one of 'batchSize' and 'maxRecords'"):
        flow_with(f"{{id: inbox, type: aws.sqs.Trigger, queueUrl: {QUEUE_URL}, batchSize: 5, maxRecords: 5}}")


@pytest.mark.parametrize(
    ("fields", "window"),
    [
        ("batchSize: 10", 0),
        ("batchSize: 100", 1),  # Pipes needs a window for batches over 10
        ("batchSize: 100, maxDuration: PT20S", 20),
        ("batchSize: 5, maxDuration: PT0.5S", 1),
        ("maxDuration: PT5M", 300),
    ],
)
def test_max_duration_is_the_pipes_batching_window(fields: str, window: int) -> None:
    flow = flow_with(f"{{id: inbox, type: aws.sqs.Trigger, queueUrl: {QUEUE_URL}, {fields}}}")

    (spec,) = pipe_specs(flow, SETTINGS)

    assert spec.batching_window == window


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ("maxDuration: PT301S", "between PT0S and PT300S"),
        ("batchSize: 11, maxDuration: PT0S", "needs 'maxDuration' of at least PT1S"),
        ("batchSize: 10001", "less than or equal to 10000"),
    ],
)
def test_batching_pipes_cannot_do_is_refused(fields: str, message: str) -> None:
    with pytest.raises(FlowValidationError, match=message):
        flow_with(f"{{id: inbox, type: aws.sqs.Trigger, queueUrl: {QUEUE_URL}, {fields}}}")


# --- the pipe -----------------------------------------------------------------------------------


def test_the_pipe_reads_the_queue_and_calls_admission_synchronously_with_the_flow_identity() -> None:
    # Given a flow with an SQS trigger
    flow = flow_with(f"{{id: inbox, type: aws.sqs.Trigger, queueUrl: {QUEUE_URL}, batchSize: 25}}")

    # When its pipe is specified
    (spec,) = pipe_specs(flow, SETTINGS)
    parameters = spec.parameters(SETTINGS)

    # Then it is named after the stack, flow and trigger, and reads the queue in batches of 25
    assert spec.name.startswith("Stratoflow-orders-inbox-") and len(spec.name) <= 64
    assert spec.source == "arn:aws:sqs:eu-west-1:123456789012:orders"
    assert parameters["SourceParameters"] == {
        "SqsQueueParameters": {"BatchSize": 25, "MaximumBatchingWindowInSeconds": 1}
    }
    # ... into admission, waiting for its answer, with the flow's own pipe role
    assert parameters["Target"] == SETTINGS.stratoflow_admission_arn
    assert parameters["TargetParameters"]["LambdaFunctionParameters"] == {
        "InvocationType": "REQUEST_RESPONSE"
    }
    assert parameters["RoleArn"] == (
        "arn:aws:iam::123456789012:role/stratoflow/" + pipe_role_name("Stratoflow", "team.shop", "orders")
    )
    assert parameters["DesiredState"] == "RUNNING"
    assert spec.tags() == {
        "stratoflow:namespace": "team.shop",
        "stratoflow:flow": "orders",
        "stratoflow:trigger": "inbox",
    }


def test_the_input_template_gives_admission_each_record_with_the_flow_and_trigger() -> None:
    # Given the template of a trigger, and an SQS record as Pipes puts it in the template's variable
    flow = flow_with(f"{{id: inbox, type: aws.sqs.Trigger, queueUrl: {QUEUE_URL}}}")
    template = input_template(flow, flow.triggers[0])  # type: ignore[arg-type]
    record = {"messageId": "m-1", "body": '{"id": 7}', "attributes": {}, "messageAttributes": {}}

    # When Pipes applies it to one record
    item = json.loads(template.replace("<aws.pipes.event.json>", json.dumps(record)))

    # Then admission knows whom the message is for, and gets the record whole
    assert item == {
        "namespace": "team.shop",
        "flowId": "orders",
        "trigger": {"id": "inbox", "type": "aws.sqs.Trigger"},
        "message": record,
    }
    assert len(template) <= 8192  # Pipes' limit


@pytest.mark.parametrize(("flow_disabled", "trigger_disabled"), [(True, False), (False, True)])
def test_a_disabled_flow_or_trigger_keeps_its_pipe_stopped(
    flow_disabled: bool, trigger_disabled: bool
) -> None:
    flow = flow_with(
        f"{{id: inbox, type: aws.sqs.Trigger, queueUrl: {QUEUE_URL}, disabled: {str(trigger_disabled).lower()}}}",
        disabled=flow_disabled,
    )

    (spec,) = pipe_specs(flow, SETTINGS)

    assert spec.parameters(SETTINGS)["DesiredState"] == "STOPPED"


def test_another_queue_is_another_pipe() -> None:
    # Pipes cannot change a pipe's source: the name changes with the queue, and the deployer replaces it
    first = flow_with(f"{{id: inbox, type: aws.sqs.Trigger, queueUrl: {QUEUE_URL}}}")
    second = flow_with(f"{{id: inbox, type: aws.sqs.Trigger, queueUrl: {QUEUE_URL}-v2}}")

    assert pipe_specs(first, SETTINGS)[0].name != pipe_specs(second, SETTINGS)[0].name


def test_queue_url_and_arn_of_one_queue_make_the_same_pipe() -> None:
    by_url = flow_with(f"{{id: inbox, type: aws.sqs.Trigger, queueUrl: {QUEUE_URL}}}")
    by_arn = flow_with(
        "{id: inbox, type: aws.sqs.Trigger, queueArn: 'arn:aws:sqs:eu-west-1:123456789012:orders'}"
    )

    assert pipe_specs(by_url, SETTINGS) == pipe_specs(by_arn, SETTINGS)


def test_kestras_polling_interval_is_accepted_and_reported_unused() -> None:
    flow = flow_with(f"{{id: inbox, type: aws.sqs.Trigger, queueUrl: {QUEUE_URL}, interval: PT30S}}")

    assert pipe_notes(flow) == [
        "trigger inbox: 'interval' is not used, a pipe receives messages as they arrive"
    ]


# --- a pipe Pipes is still changing -------------------------------------------------------------


class NotFound(Exception):
    pass


class BusyPipes:
    """A Pipes client whose pipe goes through `states` (one per DescribePipe), then stays in the last."""

    class exceptions:  # as boto3 names it
        NotFoundException = NotFound

    def __init__(self, *states: str) -> None:
        self.states = list(states)
        self.calls: list[str] = []

    def describe_pipe(self, Name: str) -> dict[str, str]:
        state = self.states.pop(0) if len(self.states) > 1 else self.states[0]
        if state == "GONE":
            raise NotFound(Name)
        return {"CurrentState": state}

    def create_pipe(self, **request: object) -> None:
        self.calls.append("create")

    def update_pipe(self, **request: object) -> None:
        self.calls.append("update")

    def delete_pipe(self, Name: str) -> None:
        self.calls.append("delete")


def test_a_pipe_still_changing_is_updated_once_it_settles() -> None:
    # Given a pipe Pipes is still creating (a deployment retried right after the first)
    client, waits = BusyPipes("CREATING", "CREATING", "RUNNING"), []
    flow = flow_with(f"{{id: inbox, type: aws.sqs.Trigger, queueUrl: {QUEUE_URL}}}")

    # When the deployer puts it
    Pipes(client, SETTINGS, delays=(1.0, 2.0, 4.0), sleep=waits.append).sync(flow, None)

    # Then it waited for the pipe to settle, then updated it
    assert waits == [1.0, 2.0] and client.calls == ["update"]


def test_a_pipe_being_deleted_is_created_again_once_gone() -> None:
    client, waits = BusyPipes("DELETING", "GONE"), []
    flow = flow_with(f"{{id: inbox, type: aws.sqs.Trigger, queueUrl: {QUEUE_URL}}}")

    Pipes(client, SETTINGS, delays=(1.0,), sleep=waits.append).sync(flow, None)

    assert waits == [1.0] and client.calls == ["create"]


def test_a_pipe_that_stays_busy_fails_the_deployment_for_a_retry() -> None:
    client = BusyPipes("UPDATING")
    flow = flow_with(f"{{id: inbox, type: aws.sqs.Trigger, queueUrl: {QUEUE_URL}}}")

    with pytest.raises(RuntimeError, match="is still UPDATING"):
        Pipes(client, SETTINGS, delays=(1.0, 1.0), sleep=lambda _: None).sync(flow, None)
    assert client.calls == []


def test_sqs_triggers_without_the_pipe_boundary_fail_the_deployment() -> None:
    flow = flow_with(f"{{id: inbox, type: aws.sqs.Trigger, queueUrl: {QUEUE_URL}}}")
    settings = SETTINGS.model_copy(update={"stratoflow_pipe_boundary_arn": ""})

    with pytest.raises(RuntimeError, match="STRATOFLOW_PIPE_BOUNDARY_ARN"):
        Pipes(BusyPipes("GONE"), settings).sync(flow, None)


def test_a_pipe_left_create_failed_is_created_again() -> None:
    # Given a pipe an earlier attempt left CREATE_FAILED (its role was not usable yet)
    client = BusyPipes("CREATE_FAILED", "GONE")
    flow = flow_with(f"{{id: inbox, type: aws.sqs.Trigger, queueUrl: {QUEUE_URL}}}")

    # When the deployer puts it again
    Pipes(client, SETTINGS, delays=(1.0,), sleep=lambda _: None).sync(flow, None)

    # Then it is deleted and created anew (Pipes does not retry a failed creation)
    assert client.calls == ["delete", "create"]


def test_a_pipe_created_with_a_role_iam_has_not_propagated_is_created_again() -> None:
    # Given Pipes that fails the first creation (the new role is not usable yet), then succeeds
    client, waits = BusyPipes("GONE", "CREATE_FAILED", "GONE", "RUNNING"), []
    pipes = Pipes(client, SETTINGS, delays=(1.0, 2.0), sleep=waits.append)
    (spec,) = pipe_specs(flow_with(f"{{id: inbox, type: aws.sqs.Trigger, queueUrl: {QUEUE_URL}}}"), SETTINGS)

    # When the deployer puts the pipe right after creating its role
    created = pipes.put(spec, new_role=True)

    # Then it waited, deleted the failed pipe and created it again
    assert created and client.calls == ["create", "delete", "create"] and waits == [1.0]


def test_a_pipe_that_keeps_failing_with_its_new_role_fails_the_deployment_for_a_retry() -> None:
    client = BusyPipes("GONE", "CREATE_FAILED", "GONE", "CREATE_FAILED")
    pipes = Pipes(client, SETTINGS, delays=(1.0,), sleep=lambda _: None)
    (spec,) = pipe_specs(flow_with(f"{{id: inbox, type: aws.sqs.Trigger, queueUrl: {QUEUE_URL}}}"), SETTINGS)

    with pytest.raises(RuntimeError, match="CREATE_FAILED"):
        pipes.put(spec, new_role=True)


class _RecordingIam:
    """Answers a pipe role's creation like IAM, keeping the request (no role exists yet)."""

    def __init__(self) -> None:
        self.created: dict[str, object] = {}

    def get_role(self, RoleName: str) -> dict[str, object]:
        raise _NoSuchEntity()

    def create_role(self, **request: object) -> dict[str, object]:
        self.created = request
        return {"Role": {"Arn": "arn"}}

    def put_role_policy(self, **request: object) -> None:
        pass

    def get_paginator(self, name: str) -> object:
        class Pages:
            def paginate(self, **request: object) -> list[dict[str, list[str]]]:
                return [{"PolicyNames": []}]

        return Pages()


class _NoSuchEntity(Exception):
    response = {"Error": {"Code": "NoSuchEntity"}}


def test_a_pipe_role_is_tagged_like_everything_else_deployed_for_its_flow() -> None:
    # Given a flow's pipe role about to be created
    iam = _RecordingIam()
    target = FlowTarget("team.shop", "orders", "sm", "arn:aws:states:eu-west-1:123456789012:stateMachine:sm")

    # When the deployer creates it
    PipeRoles(iam, SETTINGS).ensure("team.shop", "orders", ["Stratoflow-orders-q-1"], ["arn:aws:sqs:::q"])

    # Then its tags are the flow's tags, from the one function that names them
    tags = {tag["Key"]: tag["Value"] for tag in iam.created["Tags"]}  # type: ignore[attr-defined]
    assert tags == target.tags()
