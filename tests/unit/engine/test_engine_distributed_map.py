"""Distributed Map on the local engine: child executions, items and results through storage."""

from __future__ import annotations

import json
from typing import Any

from stratoflow.engine import LambdaIntegration
from stratoflow.engine.resources import Resources, TaskCall
from tests.unit.engine.engine_test_helpers import lambda_task, run

READ = "arn:aws:states:::s3:getObject"
WRITE = "arn:aws:states:::s3:putObject"


class FakeS3:
    """Objects by (bucket, key); getObject answers the body as text, putObject keeps results as AWS lays them out."""

    def __init__(self, objects: dict[tuple[str, str], Any]):
        self.objects = {place: json.dumps(body) for place, body in objects.items()}

    def invoke(self, resource: str, parameters: Any, call: TaskCall) -> Any:
        if resource == READ:
            return self.objects[(parameters["Bucket"], parameters["Key"])]
        key = f"{parameters['Prefix']}/manifest.json"
        self.objects[(parameters["Bucket"], key)] = json.dumps(parameters["Results"])
        return {"Bucket": parameters["Bucket"], "Key": key}


def distributed(processor_states: dict[str, Any], **fields: Any) -> dict[str, Any]:
    start = next(iter(processor_states))
    state = {
        "Type": "Map",
        "ItemReader": {
            "Resource": READ,
            "ReaderConfig": {"InputType": "JSON"},
            "Parameters": {"Bucket.$": "$.bucket", "Key.$": "$.key"},
        },
        "ItemSelector": {"value.$": "$$.Map.Item.Value", "index.$": "$$.Map.Item.Index", "tag.$": "$.tag"},
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": start,
            "States": processor_states,
        },
        "ResultPath": "$.result",
        "End": True,
        **fields,
    }
    return {"StartAt": "Each", "States": {"Each": state}}


def resources(items: list[Any], functions: dict[str, Any] | None = None) -> tuple[Resources, FakeS3]:
    s3 = FakeS3({("data", "items.json"): items})
    router = {READ: s3, WRITE: s3, "arn:aws:states:::lambda:invoke": LambdaIntegration(functions or {})}
    return Resources(router), s3


INPUT = {"bucket": "data", "key": "items.json", "tag": "t"}


def test_items_come_from_storage_and_each_runs_as_a_child_execution() -> None:
    # Given three items in storage and a processor that echoes what each child got
    seen: list[Any] = []

    def echo(event: Any, _context: Any) -> Any:
        seen.append(event)
        return event["index"]

    router, _ = resources(["a", "b", "c"], {"echo": echo})
    definition = distributed({"Echo": lambda_task("echo")})

    # When
    result = run(definition, INPUT, resources=router, record_history=True)

    # Then every child saw its item, its index and the parent's input through ItemSelector
    assert result.status == "SUCCEEDED"
    assert sorted(seen, key=lambda e: e["index"]) == [
        {"value": "a", "index": 0, "tag": "t"},
        {"value": "b", "index": 1, "tag": "t"},
        {"value": "c", "index": 2, "tag": "t"},
    ]
    assert result.output["result"] == [0, 1, 2]
    # And the parent's history holds the Map Run, not the children's events (as on moto and AWS)
    assert [event.type for event in result.history] == [
        "ExecutionStarted",
        "MapStateEntered",
        "MapStateStarted",
        "MapRunStarted",
        "MapRunSucceeded",
        "MapStateSucceeded",
        "MapStateExited",
        "ExecutionSucceeded",
    ]


def test_ten_thousand_items_stay_out_of_the_parents_history() -> None:
    # Given 10,000 items: 40,000 events inline, over the 25,000 limit
    router, _ = resources(list(range(10_000)))
    definition = distributed(
        {"Item": {"Type": "Pass", "OutputPath": "$.index", "End": True}}, MaxConcurrency=0
    )

    result = run(definition, INPUT, resources=router)

    assert result.status == "SUCCEEDED"
    assert result.history_events == 8
    assert len(result.output["result"]) == 10_000


def test_a_failed_child_fails_the_map_with_the_tolerated_failure_error() -> None:
    # Given a processor that fails on item 2
    processor = {
        "Check": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.value", "NumericEquals": 2, "Next": "Boom"}],
            "Default": "Fine",
        },
        "Boom": {"Type": "Fail", "Error": "TaskFailed", "Cause": "item 2"},
        "Fine": {"Type": "Succeed"},
    }
    router, _ = resources([1, 2, 3])

    # When
    failed = run(distributed(processor), INPUT, resources=router)
    tolerated = run(distributed(processor, ToleratedFailureCount=1), INPUT, resources=router)
    catching = distributed(
        processor, Catch=[{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Caught"}]
    )
    catching["States"]["Caught"] = {"Type": "Pass", "End": True}
    caught = run(catching, INPUT, resources=router)

    # Then
    assert (failed.status, failed.error) == ("FAILED", "States.ExceedToleratedFailureThreshold")
    assert "1 of 3 child executions failed" in (failed.cause or "")
    assert tolerated.status == "SUCCEEDED"
    assert caught.status == "SUCCEEDED"
    assert caught.output["error"]["Error"] == "States.ExceedToleratedFailureThreshold"


def test_results_go_to_the_result_writer() -> None:
    router, s3 = resources(["x", "y"])
    definition = distributed(
        {"Item": {"Type": "Pass", "OutputPath": "$.index", "End": True}},
        ResultWriter={"Resource": WRITE, "Parameters": {"Bucket": "data", "Prefix": "out"}},
    )

    result = run(definition, INPUT, resources=router)

    assert result.status == "SUCCEEDED"
    assert result.output["result"]["ResultWriterDetails"] == {"Bucket": "data", "Key": "out/manifest.json"}
    assert json.loads(s3.objects[("data", "out/manifest.json")]) == [0, 1]


def test_each_child_is_held_to_its_own_history_limit() -> None:
    # Given a child that loops 13,000 times over a Pass (2 events each): over 25,000 for that child alone
    processor = {
        "Count": {"Type": "Pass", "Parameters": {"n.$": "States.MathAdd($.n, 1)"}, "Next": "Again"},
        "Again": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.n", "NumericLessThan": 13_000, "Next": "Count"}],
            "Default": "End",
        },
        "End": {"Type": "Succeed"},
    }
    router, _ = resources([0])
    definition = distributed(processor)
    definition["States"]["Each"]["ItemSelector"] = {"n": 0}

    result = run(definition, INPUT, resources=router)

    assert (result.status, result.error) == ("FAILED", "States.ExceedToleratedFailureThreshold")
    assert result.history_events < 20


def batched(batcher: dict[str, Any], input_type: str = "JSONL") -> dict[str, Any]:
    """A distributed Map whose children each get a batch of items from a JSON Lines object."""
    definition = distributed({"Echo": lambda_task("echo")}, ItemBatcher=batcher)
    state = definition["States"]["Each"]
    state["ItemReader"]["ReaderConfig"]["InputType"] = input_type
    del state["ItemSelector"]  # with an ItemBatcher, BatchInput carries what the children share
    return definition


def jsonl_resources(lines: list[Any], seen: list[Any]) -> Resources:
    s3 = FakeS3({})
    s3.objects[("data", "items.json")] = "".join(json.dumps(line) + "\n" for line in lines)

    def echo(event: Any, _context: Any) -> Any:
        seen.append(event)
        return len(event["Items"])

    return Resources(
        {READ: s3, WRITE: s3, "arn:aws:states:::lambda:invoke": LambdaIntegration({"echo": echo})}
    )


def test_an_item_batcher_gives_each_child_consecutive_items_and_the_batch_input() -> None:
    # Given five JSON lines, batched two at a time, with a BatchInput read from the state's input
    seen: list[Any] = []
    router = jsonl_resources([[n, f"line {n}"] for n in range(5)], seen)
    definition = batched({"MaxItemsPerBatchPath": "$.size", "BatchInput": {"tag.$": "$.tag"}})

    # When
    result = run(definition, {**INPUT, "size": 2}, resources=router)

    # Then three children ran, each with its batch in order and the shared input
    assert result.status == "SUCCEEDED"
    batches = sorted(seen, key=lambda event: event["Items"][0][0])
    assert [event["Items"] for event in batches] == [
        [[0, "line 0"], [1, "line 1"]],
        [[2, "line 2"], [3, "line 3"]],
        [[4, "line 4"]],
    ]
    assert all(event["BatchInput"] == {"tag": "t"} for event in seen)
    assert sorted(result.output["result"]) == [1, 2, 2]


def test_an_item_batcher_keeps_each_batch_within_its_byte_limit() -> None:
    # Given lines of 20 bytes as JSON and at most 50 bytes per batch
    seen: list[Any] = []
    router = jsonl_resources(["x" * 18] * 5, seen)

    # When
    result = run(batched({"MaxInputBytesPerBatch": 50}), INPUT, resources=router)

    # Then two lines fit a batch (2 x 21 bytes with their separators), never three
    assert result.status == "SUCCEEDED"
    assert sorted(len(event["Items"]) for event in seen) == [1, 2, 2]
    assert all("BatchInput" not in event for event in seen)


def test_a_batch_size_path_that_is_not_a_positive_integer_fails_the_map() -> None:
    # Given a MaxItemsPerBatchPath that reads zero
    router = jsonl_resources([1, 2], [])

    # When
    result = run(batched({"MaxItemsPerBatchPath": "$.size"}), {**INPUT, "size": 0}, resources=router)

    # Then the Map fails with a runtime error naming the path
    assert result.status == "FAILED"
    assert result.error == "States.Runtime"
    assert "MaxItemsPerBatchPath $.size must give a positive integer" in (result.cause or "")


def test_the_item_selector_shapes_each_item_before_the_batcher_groups_them() -> None:
    # Given an ItemSelector next to an ItemBatcher
    seen: list[Any] = []
    router = jsonl_resources(["a", "b", "c"], seen)
    definition = batched({"MaxItemsPerBatch": 2})
    definition["States"]["Each"]["ItemSelector"] = {"v.$": "$$.Map.Item.Value", "i.$": "$$.Map.Item.Index"}

    # When
    result = run(definition, INPUT, resources=router)

    # Then each batch holds the selected items, numbered across the whole Map
    assert result.status == "SUCCEEDED"
    assert sorted((event["Items"] for event in seen), key=len) == [
        [{"v": "c", "i": 2}],
        [{"v": "a", "i": 0}, {"v": "b", "i": 1}],
    ]
