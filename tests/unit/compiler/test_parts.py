"""Big flows: a flow too large for one state machine is cut into parts (`stratoflow.compiler.parts`)."""

from __future__ import annotations

from typing import Any

import pytest

from stratoflow.compiler import MAX_DEFINITION_BYTES, compile_flow, definition_text
from stratoflow.compiler import parts as parts_module
from stratoflow.compiler.parts import PART_EVENTS, measure_definition
from stratoflow.flow import load_flow
from stratoflow.placeholders import part_number, part_placeholder


def chain(count: int, flow_id: str = "chain") -> str:
    lines = [f"id: {flow_id}", "namespace: big", "tasks:"]
    for i in range(count):
        lines += [f"  - id: t{i}", "    type: Log", f"    message: task {i}"]
    return "\n".join(lines) + "\n"


def parallel(branches: int, tasks: int) -> str:
    lines = ["id: wide", "namespace: big", "tasks:", "  - id: p", "    type: Parallel", "    tasks:"]
    for b in range(branches):
        lines += [f"      - id: s{b}", "        type: Sequential", "        tasks:"]
        for i in range(tasks):
            lines += [f"          - id: t{b}_{i}", "            type: Log", f"            message: {b} {i}"]
    return "\n".join(lines) + "\n"


def starts(definition: dict[str, Any]) -> list[int]:
    """The parts a definition starts, in state order, nested branches included."""
    found: list[int] = []
    for state in definition["States"].values():
        arn = (state.get("Parameters") or {}).get("StateMachineArn", "")
        number = part_number(arn) if isinstance(arn, str) else None
        if number is not None:
            found.append(number)
        for branch in state.get("Branches", []):
            found += starts(branch)
    return found


def test_a_flow_that_fits_one_state_machine_has_no_parts() -> None:
    # Given a 300-task chain (well under 1 MB and the history budget)
    compiled = compile_flow(load_flow(chain(300), "chain.yaml"))

    # Then it compiles to one state machine, as before parts existed
    assert compiled.parts == []
    assert starts(compiled.definition) == []


def test_a_2000_task_chain_is_cut_into_parts_each_under_the_limits() -> None:
    # Given a chain of 2,000 one-line tasks: about 1.4 MB and 10,000 events in one machine
    compiled = compile_flow(load_flow(chain(2000), "chain.yaml"))

    # Then it is cut into parts, each under 1 MB as sent and under the history budget
    assert len(compiled.parts) >= 2
    for definition in [compiled.definition, *compiled.parts]:
        size = measure_definition(definition)
        assert size.sent < MAX_DEFINITION_BYTES
        assert size.events <= PART_EVENTS
    # and the flow starts every part once, in order of its tasks
    assert sorted(starts(compiled.definition)) == list(range(1, len(compiled.parts) + 1))
    assert all(f"FlowPart.{n}" in compiled.placeholders for n in range(1, len(compiled.parts) + 1))
    # and every task is in exactly one part
    text = "".join(definition_text(p) for p in compiled.parts)
    assert all(f'"taskId":"t{i}"' in text for i in (0, 999, 1999))
    assert '"taskId":"t' not in definition_text(compiled.definition)


def test_a_parallel_of_long_branches_keeps_its_parallel_and_outlines_each_branch() -> None:
    # Given a Parallel of 20 branches of 100 tasks (one task too large for any part)
    compiled = compile_flow(load_flow(parallel(20, 100), "wide.yaml"))

    # Then the Parallel stays in the flow's machine and each branch runs as a part of its own
    assert len(compiled.parts) == 20
    assert sorted(starts(compiled.definition)) == list(range(1, 21))
    assert all(measure_definition(p).sent < MAX_DEFINITION_BYTES for p in compiled.parts)


def test_a_part_returns_to_the_flow_through_its_end_marker(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given parts small enough that a 6-task chain is cut
    shrink(monkeypatch)
    compiled = compile_flow(load_flow(chain(6), "chain.yaml"))

    # Then each part's start waits for it (.sync:2), passes the whole payload, and takes its output back
    start = next(s for s in compiled.definition["States"].values() if s.get("Type") == "Task")
    assert start["Resource"] == "arn:aws:states:::states:startExecution.sync:2"
    assert start["Parameters"] == {"StateMachineArn": part_placeholder(start_number(start)), "Input.$": "$"}
    assert start["OutputPath"] == "$.Output"
    # and a failure routes to the flow's failure handling, an Exit to the flow's exit, as in one machine
    route = compiled.definition["States"][start["Next"]]
    targets = {rule["StringEquals"]: rule["Next"] for rule in route["Choices"]}
    assert targets == {"error": "flow.failure", "exit": "flow.exit"}
    assert [c["Next"] for c in start["Catch"]] == ["flow.exit", "flow.failure"]


def start_number(state: dict[str, Any]) -> int:
    number = part_number(state["Parameters"]["StateMachineArn"])
    assert number is not None
    return number


def shrink(monkeypatch: pytest.MonkeyPatch) -> None:
    """Budgets small enough that a few tasks make a big flow (the mechanism is the same)."""
    monkeypatch.setattr(parts_module, "ONE_MACHINE_BYTES", 4_000)
    monkeypatch.setattr(parts_module, "PART_BYTES", 2_500)
    monkeypatch.setattr(parts_module, "SMALL_BLOCK_BYTES", 1_000)


def test_a_flow_is_cut_into_parts_from_about_1200_one_line_tasks_as_the_readme_says() -> None:
    assert compile_flow(load_flow(chain(1150), "chain.yaml")).parts == []
    assert compile_flow(load_flow(chain(1250), "chain.yaml")).parts != []
