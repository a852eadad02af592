"""Every runner call the compiler writes fits the runner's contract once Step Functions resolves it.

The Payloads of every golden ASL file, of a fresh compile of every example and fixture flow, and of
`every_call.yaml` (one flow with every kind of call) are resolved with sample state inputs by the
local engine's own template code, then parsed by the runner's model and checked against the
checked-in JSON Schema. The loops' ItemSelectors (which build `scope`) and every path by which the
state machine reads a runner answer back are checked the same way.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from pydantic import TypeAdapter

from stratoflow.compiler import compile_flow
from stratoflow.engine.templates import compile_template
from stratoflow.flow import load_flow
from stratoflow.runner_call import (
    CALLS,
    RESPONSES,
    ExecutionRef,
    LoopScope,
    WaitForChecked,
    WaitForStarted,
    parse_runner_call,
)

ROOT = Path(__file__).resolve().parents[3]
HERE = Path(__file__).parent
SCHEMA = ROOT / "tests" / "fixtures" / "runner_call.schema.json"
TASK_RUNNER = "${TaskRunnerFunctionArn}"

GOLDEN = sorted(ROOT.glob("tests/**/*.asl.json"))  # tests/fixtures/golden/, and any other checked in
EXAMPLES = [*(ROOT / "examples").rglob("*.yaml"), *(ROOT / "tests" / "fixtures" / "flows").glob("*.yaml")]
FLOWS = [*sorted(EXAMPLES), HERE / "every_call.yaml"]


def _definitions() -> list[Any]:
    goldens = [pytest.param(json.loads(p.read_text()), id=str(p.relative_to(ROOT))) for p in GOLDEN]
    sources = [str(flow.relative_to(ROOT)) for flow in FLOWS]
    return goldens + [pytest.param(source, id=f"compiled:{source}") for source in sources]


def definition_of(case: Any) -> dict[str, Any]:
    if isinstance(case, dict):
        return case
    path = ROOT / case
    definition: dict[str, Any] = compile_flow(load_flow(path.read_text(), str(path))).definition
    return definition


def states_of(machine: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every state, nested branches and item processors included."""
    for name, state in machine.get("States", {}).items():
        yield name, state
        for branch in state.get("Branches", []):
            yield from states_of(branch)
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if processor:
            yield from states_of(processor)


# --- sample state inputs: what the compiled states put where the calls read ------------------------

EXECUTION = {"id": "e-1", "namespace": "company.team", "flowId": "etl", "revision": 3}
OUTER = {
    "taskId": "outer",
    "value": "1",
    "iteration": 0,
    "valuesUri": None,
    "inlineItems": 2,
    "parent": None,
}
LOOP_STARTED = {
    "skip": False,
    "values": ["a", "b"],
    "valuesUri": None,
    "distributed": False,
    "inlineItems": 2,
}
WAIT_FOR = {"taskId": "poll", "value": None, "iteration": 0, "parent": OUTER}
SAMPLES: dict[str, dict[str, Any]] = {
    "first iteration, top level": {
        "execution": EXECUTION,
        "scope": None,
        "eval": {"result": {"skip": False}, "service": {"TaskArn": "arn:aws:ecs:task/1", "StopCode": "Done"}},
        "error": {"Error": "TaskFailed", "Cause": json.dumps({"errorMessage": "boom"})},
        # A ForEachItem batch: the child execution's input, as its ItemBatcher builds it.
        "BatchInput": {"execution": EXECUTION, "scope": None, "batchSize": 2, "stored": False},
        "Items": [[0, "a\n"], [1, "b\n"]],
        "loop": {
            "result": {"skip": False, "scope": WAIT_FOR, "done": False, "startedAt": "2026-01-01T00:00:00"}
        },
    },
    "later iteration, inside a loop": {
        "execution": EXECUTION,
        "scope": {**OUTER, "taskId": "inner", "parent": OUTER},
        # A native job's start result and description; also where a Pause's end reads its resume values.
        "eval": {"result": {"skip": False}, "service": {"JobId": "j-1", "Status": "SUCCEEDED"}},
        "error": {"Error": "States.Timeout"},
        "BatchInput": {"execution": EXECUTION, "scope": OUTER, "batchSize": 1, "stored": True},
        "Items": [[3, "strato:///company.team/etl/executions/e-1/t/batches/3.jsonl"]],
        "loop": {
            "result": {"done": False, "scope": WAIT_FOR, "interval": 1, "startedAt": "2026-01-01T00:00:00"}
        },
    },
}
CONTEXT = {"Task": {"Token": "token-1"}, "Map": {"Item": {"Value": "a", "Index": 1}}}


def state_input(definition: dict[str, Any], sample: dict[str, Any]) -> dict[str, Any]:
    """The sample, with the WaitFor slots (`$.loop<n>`) this definition uses."""
    data = {key: value for key, value in sample.items() if key != "loop"}
    for slot in set(re.findall(r"\$\.(loop\d+)\b", json.dumps(definition))):
        data[slot] = sample["loop"]
    return data


def resolved(template: Any, data: dict[str, Any]) -> Any:
    return compile_template(template)(data, lambda: CONTEXT)


@pytest.fixture(scope="module")
def schema() -> Draft202012Validator:
    return Draft202012Validator(json.loads(SCHEMA.read_text()))


# --- the calls -------------------------------------------------------------------------------------


@pytest.mark.parametrize("sample", SAMPLES)
@pytest.mark.parametrize("case", _definitions())
def test_every_runner_payload_fits_the_contract_once_resolved(
    case: Any, sample: str, schema: Draft202012Validator
) -> None:
    # Given a definition's runner calls
    definition = definition_of(case)
    data = state_input(definition, SAMPLES[sample])
    calls = [
        (name, state["Parameters"]["Payload"])
        for name, state in states_of(definition)
        if state.get("Type") == "Task" and state.get("Parameters", {}).get("FunctionName") == TASK_RUNNER
    ]
    assert calls, "a compiled flow calls the runner at least once"

    for name, template in calls:
        # When Step Functions resolves the Payload
        event = resolved(template, data)

        # Then the runner parses it, and the checked-in schema accepts it
        call = parse_runner_call(event)
        assert call.action == template["action"], name
        errors = [error.message for error in schema.iter_errors(event)]
        assert not errors, f"{name}: {errors}"


def test_the_compiled_flows_make_every_kind_of_call() -> None:
    # When every flow above is compiled
    actions = {
        state["Parameters"]["Payload"]["action"]
        for flow in FLOWS
        for _, state in states_of(definition_of(str(flow.relative_to(ROOT))))
        if state.get("Parameters", {}).get("FunctionName") == TASK_RUNNER
    }

    # Then the contract test above has seen each action
    assert actions == set(CALLS)


# --- the loops' scopes -----------------------------------------------------------------------------


@pytest.mark.parametrize("case", _definitions())
def test_every_loop_iteration_gets_an_execution_and_a_scope_the_runner_reads(case: Any) -> None:
    # Given the Map states of a definition, at a loop's start call result
    definition = definition_of(case)
    data = {
        **state_input(definition, SAMPLES["later iteration, inside a loop"]),
        "eval": {
            "result": {**LOOP_STARTED, "batchSize": 2, "stored": False}
        },  # a ForEachItem's split, for its batcher
    }
    maps = [(name, state) for name, state in states_of(definition) if state.get("Type") == "Map"]

    for name, state in maps:
        # When one iteration's input is built (a batch's: from its ItemBatcher's BatchInput)
        selector = state["ItemSelector"] if "ItemBatcher" not in state else state["ItemBatcher"]["BatchInput"]
        item = resolved(selector, data)

        # Then its execution and scope are the runner's
        ExecutionRef.model_validate(item["execution"])
        scope = TypeAdapter(LoopScope | None).validate_python(item["scope"])
        if "scope" in state.get("ItemSelector", {}):  # a loop's iteration: its own scope around the outer one
            assert scope is not None and scope.iteration == 1 and scope.parent is not None, name


# --- the answers the state machine reads back ------------------------------------------------------


def _fields(model: Any) -> set[str]:
    members = getattr(model, "__args__", None) or (model,)
    return {info.alias or name for member in members for name, info in member.model_fields.items()}


@pytest.mark.parametrize("case", _definitions())
def test_the_state_machine_reads_back_only_fields_the_runner_answers(case: Any) -> None:
    # Given every path of a definition into a runner's answer
    text = json.dumps(definition_of(case))
    # `$.eval.result` holds a start call's answer, or a container's prepare call's
    start_fields = _fields(RESPONSES["start"]) | _fields(RESPONSES["prepare"])
    loop_fields = _fields(WaitForStarted) | _fields(WaitForChecked)

    # Then each names a field of the answer it reads
    for field in re.findall(r"\$\.eval\.result\.(\w+)", text):
        assert field in start_fields, f"$.eval.result.{field} is not in any start or prepare answer"
    for field in re.findall(r"\$\.loop\d+\.result\.(\w+)", text):
        assert field in loop_fields, f"$.loop<n>.result.{field} is not in a WaitFor answer"
