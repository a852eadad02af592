"""The runner call model: what it accepts, how it refuses, and the answers it writes back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from stratoflow.compiler.builder import Builder, Names, Scope
from stratoflow.compiler.payloads import payload_template
from stratoflow.execution.runner import TaskRunner
from stratoflow.execution.secrets import EnvironmentSecrets
from stratoflow.runner_call import (
    EndCall,
    InvalidRunnerCall,
    LoopDistributed,
    LoopScope,
    LoopStarted,
    ObjectLocation,
    WaitForChecked,
    parse_runner_call,
)
from stratoflow.store import LocalBlobStore, SqliteExecutionStore

REF = {"id": "e-1", "namespace": "company.team", "flowId": "etl", "revision": 3}
WAIT_FOR_SCOPE = {"taskId": "poll", "value": None, "iteration": 2, "parent": None}


def call(**fields: Any) -> dict[str, Any]:
    return {"action": "run", "taskId": "extract", "execution": REF, "scope": None, **fields}


# --- parsing ---------------------------------------------------------------------------------------


def test_an_end_call_is_parsed_with_the_error_its_catch_put_there() -> None:
    # Given the Payload of a fail call, resolved
    event = call(action="end", error={"Error": "TaskFailed", "Cause": '{"errorMessage": "boom"}'})

    # When
    parsed = parse_runner_call(event)

    # Then
    assert isinstance(parsed, EndCall)
    assert parsed.error is not None and (parsed.error.error, parsed.error.cause) == (
        "TaskFailed",
        '{"errorMessage": "boom"}',
    )
    assert parsed.execution.flow_id == "etl" and parsed.execution.revision == 3


@pytest.mark.parametrize(
    ("event", "message"),
    [
        (
            call(action="launch"),
            "action: must be one of await, batch, check, collect, end, outputs, pause, prepare, run, start",
        ),
        ({k: v for k, v in call().items() if k != "action"}, "action: must be one of"),
        (call(action="pause"), "taskToken: Field required"),
        (call(execution={"id": "e-1"}), "execution.namespace: Field required"),
        (call(action="end", error={"Cause": "x"}), "error.Error: Field required"),
        (
            call(scope={**WAIT_FOR_SCOPE, "iteration": "two"}),
            "scope.iteration: Input should be a valid integer",
        ),
        (call(action="start", eventsPerItem=-1), "eventsPerItem: Input should be greater than or equal to 0"),
        (call(errror={"Error": "x"}), "errror: Extra inputs are not permitted"),
    ],
)
def test_a_call_that_does_not_fit_is_refused_naming_the_field(event: dict[str, Any], message: str) -> None:
    # When / Then
    with pytest.raises(InvalidRunnerCall, match=r"^runner call \(action .*\): ") as refused:
        parse_runner_call(event)
    assert message in str(refused.value)
    assert "\n" not in str(refused.value)


def test_a_check_call_reads_where_the_loop_stands_from_a_start_or_an_earlier_check() -> None:
    # Given the two answers a WaitFor's check call can be given
    started = {"skip": False, "scope": WAIT_FOR_SCOPE, "done": False, "startedAt": "2026-01-01T00:00:00"}
    checked = {"done": False, "scope": WAIT_FOR_SCOPE, "interval": 5, "startedAt": "2026-01-01T00:00:00"}

    # When / Then both are a loop the check call accepts
    for loop in (started, checked):
        parsed = parse_runner_call(call(action="check", loop=loop))
        assert parsed.action == "check" and parsed.loop.scope.iteration == 2


# --- what goes back to the state machine -----------------------------------------------------------


def test_a_scope_goes_back_with_the_keys_it_came_with() -> None:
    # Given a ForEach iteration's scope (every key) around a WaitFor's (no valuesUri, no inlineItems)
    outer = {
        "taskId": "each",
        "value": "a",
        "iteration": 0,
        "valuesUri": None,
        "inlineItems": 2,
        "parent": None,
    }
    inner = {**WAIT_FOR_SCOPE, "parent": outer}

    # When it is parsed and written back
    written = LoopScope.model_validate(inner).to_payload()

    # Then nothing was added or lost
    assert written == inner
    assert list(written["parent"]) == list(outer)


def test_the_loop_answers_carry_what_the_maps_read() -> None:
    # When
    inline = LoopStarted(values=["a", "b"], values_uri=None, inline_items=2).to_payload()
    children = LoopDistributed(items=ObjectLocation(bucket="data", key="k/items.json")).to_payload()
    checked = WaitForChecked(
        done=True, scope=LoopScope.model_validate(WAIT_FOR_SCOPE), interval=1, started_at=None
    ).to_payload()

    # Then
    assert inline == {
        "skip": False,
        "values": ["a", "b"],
        "valuesUri": None,
        "distributed": False,
        "inlineItems": 2,
    }
    assert children == {
        "skip": False,
        "values": [],
        "valuesUri": None,
        "distributed": True,
        "inlineItems": 1,
        "items": {"bucket": "data", "key": "k/items.json"},
    }
    assert checked == {"done": True, "scope": WAIT_FOR_SCOPE, "interval": 1, "startedAt": None}


# --- the compiled side -----------------------------------------------------------------------------

BASE = {"action": "end", "taskId": "t", "execution.$": "$.execution", "scope.$": "$.scope"}


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({**BASE, "erorr.$": "$.error"}, "no field 'erorr' in EndCall"),
        ({**BASE, "action": "pause"}, "missing taskToken"),
        ({**BASE, "action": "stop"}, "action 'stop' is not one of"),
        (
            {**BASE, "action": "start", "eventsPerItem": "many"},
            "eventsPerItem: Input should be a valid integer",
        ),
        ({**BASE, "error.$": "error"}, "'error.$' must hold a JSONPath"),
        ({**BASE, "error": {"Error": "x"}, "error.$": "$.error"}, "'error' is given twice"),
    ],
)
def test_a_template_that_does_not_fit_its_call_is_refused(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidRunnerCall, match=r"^runner call template") as refused:
        payload_template(fields)
    assert message in str(refused.value)


def test_the_builder_writes_payloads_through_the_model() -> None:
    # Given a builder
    builder = Builder(Names(), [])

    # When a runner call is given a field its action does not have
    # Then the compile fails there, not when the state machine runs
    with pytest.raises(InvalidRunnerCall, match="no field 'loop' in EndCall"):
        builder.runner_call("t.end", "end", "t", Scope(), None, extra={"loop.$": "$.loop1.result"})
    # ... and a callback call carries its token as a path
    builder.runner_call("t.paused", "pause", "t", Scope(), None, callback=True)
    payload = builder.definition("t.paused")["States"]["t.paused"]["Parameters"]["Payload"]
    assert payload["taskToken.$"] == "$$.Task.Token"


# --- the runner ------------------------------------------------------------------------------------


def test_the_runner_refuses_a_bad_call_before_reading_anything(tmp_path: Path) -> None:
    # Given a runner on an empty store
    with SqliteExecutionStore(tmp_path / "db.sqlite") as store:
        runner = TaskRunner(store, LocalBlobStore(tmp_path / "blobs"), secrets=EnvironmentSecrets({}))

        # When a call lacks its execution's revision
        with pytest.raises(InvalidRunnerCall) as refused:
            runner.handle(call(execution={k: v for k, v in REF.items() if k != "revision"}))

    # Then the error names the field (and is not a KeyError from deep inside)
    assert "execution.revision: Field required" in str(refused.value)
