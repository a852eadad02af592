"""EventBridge rules, their retries and dead-letter queues, and what triggers need."""

from __future__ import annotations

from typing import Any

from infra_synth import Synthesized
from stratoflow._platform.infra.nag import render_cfn


def _rule(synth: Synthesized, rule: Any) -> dict[str, Any]:
    properties: dict[str, Any] = synth.resource(rule)["Properties"]
    return properties


def _function_arn(synth: Synthesized, function: Any) -> dict[str, Any]:
    return {"Fn::GetAtt": [synth.logical_id(function), "Arn"]}


def _queue_arn(synth: Synthesized, queue: Any) -> dict[str, Any]:
    return {"Fn::GetAtt": [synth.logical_id(queue), "Arn"]}


def test_flow_file_changes_start_the_deployer(synth: Synthesized) -> None:
    platform = synth.platform
    rule = _rule(synth, platform.deployer.flow_changes_rule)

    assert rule["EventPattern"] == {
        "source": ["aws.s3"],
        "detail-type": ["Object Created", "Object Deleted"],
        "detail": {
            "bucket": {"name": [{"Ref": synth.logical_id(platform.storage.flows_bucket)}]},
            "object": {"key": [{"suffix": ".yaml"}, {"suffix": ".yml"}]},
        },
    }
    (target,) = rule["Targets"]
    assert target["Arn"] == _function_arn(synth, platform.functions.deployer)
    assert target["DeadLetterConfig"] == {"Arn": _queue_arn(synth, platform.deployer.dead_letter_queue)}
    assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0


def test_status_changes_of_the_stacks_state_machines_reach_execution_events(synth: Synthesized) -> None:
    platform = synth.platform
    rule = _rule(synth, platform.execution_events.status_rule)
    pattern = rule["EventPattern"]
    ((prefix,),) = [[matcher["prefix"] for matcher in pattern["detail"]["stateMachineArn"]]]

    assert pattern["source"] == ["aws.states"]
    assert pattern["detail-type"] == ["Step Functions Execution Status Change"]
    assert (
        render_cfn(prefix)
        == "arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:stateMachine:Stratoflow-"
    )
    (target,) = rule["Targets"]
    assert target["Arn"] == _function_arn(synth, platform.functions.execution_events)
    assert target["DeadLetterConfig"] == {
        "Arn": _queue_arn(synth, platform.execution_events.dead_letter_queue)
    }
    assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0


def test_failed_invocations_of_event_handlers_land_in_their_dead_letter_queue(synth: Synthesized) -> None:
    platform = synth.platform
    configs = {
        config["Properties"]["FunctionName"]["Ref"]: config["Properties"]
        for config in synth.resources("AWS::Lambda::EventInvokeConfig").values()
    }
    expected = {
        platform.functions.deployer: platform.deployer.dead_letter_queue,
        platform.functions.execution_events: platform.execution_events.dead_letter_queue,
    }
    assert set(configs) == {synth.logical_id(function) for function in expected}
    for function, queue in expected.items():
        config = configs[synth.logical_id(function)]
        assert config["DestinationConfig"]["OnFailure"]["Destination"] == _queue_arn(synth, queue)
        assert config["MaximumRetryAttempts"] == 2


def test_platform_rules_and_alarms_stay_outside_the_deployers_prefix(synth: Synthesized) -> None:
    # The deployer may delete any rule or alarm named "Stratoflow-*": the platform's own must not be.
    rules = [rule["Properties"]["Name"] for rule in synth.resources("AWS::Events::Rule").values()]
    alarms = [
        alarm["Properties"]["AlarmName"] for alarm in synth.resources("AWS::CloudWatch::Alarm").values()
    ]

    assert sorted(rules) == ["Stratoflow.execution-status", "Stratoflow.flow-changes"]
    assert alarms
    assert all(name.startswith("Stratoflow.") for name in alarms)


def test_every_queue_is_an_encrypted_tls_only_dead_letter_queue(synth: Synthesized) -> None:
    queues = synth.resources("AWS::SQS::Queue")
    assert len(queues) == 3
    for logical_id, queue in queues.items():
        assert queue["Properties"]["SqsManagedSseEnabled"] is True
        assert queue["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600
        policies = [
            policy["Properties"]["PolicyDocument"]["Statement"]
            for policy in synth.resources("AWS::SQS::QueuePolicy").values()
            if {"Ref": logical_id} in policy["Properties"]["Queues"]
        ]
        (statements,) = policies
        assert {
            "Action": "sqs:*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Resource": {"Fn::GetAtt": [logical_id, "Arn"]},
        } in statements


def test_trigger_rules_of_the_stack_may_dead_letter_into_the_trigger_queue(synth: Synthesized) -> None:
    queue = synth.platform.triggers.dead_letter_queue
    (policy,) = [
        policy["Properties"]["PolicyDocument"]["Statement"]
        for policy in synth.resources("AWS::SQS::QueuePolicy").values()
        if {"Ref": synth.logical_id(queue)} in policy["Properties"]["Queues"]
    ]
    (allow,) = [statement for statement in policy if statement["Effect"] == "Allow"]

    assert allow["Principal"] == {"Service": "events.amazonaws.com"}
    assert allow["Action"] == "sqs:SendMessage"
    assert [render_cfn(arn) for arn in allow["Condition"]["ArnLike"]["aws:SourceArn"]] == [
        "arn:<AWS::Partition>:events:<AWS::Region>:<AWS::AccountId>:rule/Stratoflow-*",
        "arn:<AWS::Partition>:events:<AWS::Region>:<AWS::AccountId>:rule/*/Stratoflow-*",
    ]


def test_schedule_group_is_named_after_the_stack(synth: Synthesized, custom_synth: Synthesized) -> None:
    synth.template.has_resource_properties("AWS::Scheduler::ScheduleGroup", {"Name": "Stratoflow"})
    custom_synth.template.has_resource_properties("AWS::Scheduler::ScheduleGroup", {"Name": "StratoDev"})
