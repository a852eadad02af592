"""Parallel and Dag branches end with a reference, so their gathered result stays under 256 KiB.

Step Functions gathers every branch's output into the Parallel's result and holds it to the payload
limit even when ResultPath discards it. A branch that ended with its whole state (a loop value of a
few KiB in its scope) failed a Parallel of a few dozen branches with States.DataLimitExceeded, on AWS
and in the local engine alike.
"""

from __future__ import annotations

import pytest

from stratoflow.states import State
from tests.unit.runtime.conftest import RunFlow, by_task

BRANCHES = 30
VALUE = "x" * 12_000  # under the 16 KiB a loop value travels inline; 30 copies pass 256 KiB


def branches(kind: str) -> list[str]:
    lines: list[str] = []
    for i in range(BRANCHES):
        if kind == "Dag":
            lines += [
                "          - task:",
                f"              id: b{i}",
                "              type: Log",
                "              message: hi",
            ]
        else:
            lines += [f"          - id: b{i}", "            type: Log", "            message: hi"]
    return lines


@pytest.mark.parametrize(
    "kind,extra", [("Parallel", []), ("Parallel", ["        concurrent: 4"]), ("Dag", [])]
)
def test_a_wide_parallel_inside_a_loop_of_large_values_succeeds(
    run_flow: RunFlow, kind: str, extra: list[str]
) -> None:
    # Given a Parallel (or Dag) of 30 branches run once per loop value of 12,000 characters
    source = "\n".join(
        [
            "id: wide",
            "namespace: payloads",
            "tasks:",
            "  - id: each",
            "    type: ForEach",
            f'    values: ["{VALUE}"]',
            "    tasks:",
            "      - id: fan",
            f"        type: {kind}",
            *extra,
            "        tasks:",
            *branches(kind),
        ]
    )

    # When it runs
    outcome = run_flow(source)

    # Then every branch ran and nothing passed the payload limit
    assert outcome.execution.state == State.SUCCESS, outcome.execution.error
    runs = by_task(outcome)
    assert all(runs[f"b{i}"][0].state == State.SUCCESS for i in range(BRANCHES))
