"""A loop's end reads its own iterations' task runs only (`list_child_task_runs`): the work of the
loop ends of an execution follows its task runs, not loops times task runs."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from stratoflow.local import LocalPlatform
from stratoflow.states import State
from tests.unit.runtime.conftest import RunFlow, by_task


@dataclass
class Reads:
    """What the runner read in lists: whole listings, and the children listed per parent."""

    listings: list[str | None] = field(default_factory=list)
    children: dict[str, int] = field(default_factory=dict)


@pytest.fixture
def reads(platform: LocalPlatform, monkeypatch: pytest.MonkeyPatch) -> Iterator[Reads]:
    seen = Reads()
    store = platform.store
    list_all, list_children = store.list_task_runs, store.list_child_task_runs

    def listing(execution_id: str, task_id: str | None = None) -> Any:
        seen.listings.append(task_id)
        return list_all(execution_id, task_id)

    def children(execution_id: str, parent_task_run_id: str) -> Any:
        found = list_children(execution_id, parent_task_run_id)
        seen.children[parent_task_run_id] = seen.children.get(parent_task_run_id, 0) + len(found)
        return found

    monkeypatch.setattr(store, "list_task_runs", listing)
    monkeypatch.setattr(store, "list_child_task_runs", children)
    yield seen


def nested(outer: int, inner: int) -> str:
    return f"""
id: nested
namespace: tests
tasks:
  - id: outer
    type: ForEach
    values: {list(range(outer))}
    tasks:
      - id: inner
        type: ForEach
        values: {list(range(inner))}
        tasks:
          - id: work
            type: Return
            format: "{{{{ taskrun.value }}}}"
          - id: check
            type: AllowFailure
            tasks:
              - id: flaky
                type: Fail
                runIf: "{{{{ taskrun.value == '1' }}}}"
"""


def test_each_loop_end_reads_its_own_iterations_once_and_nothing_else(
    run_flow: RunFlow, reads: Reads
) -> None:
    # Given a run of nested loops of 1 x 2 iterations, whole listings counted
    run_flow(nested(1, 2))
    per_execution = len(reads.listings)
    reads.listings.clear()
    reads.children.clear()

    # When nested loops of 3 x 4 iterations run, two tasks per inner iteration
    outcome = run_flow(nested(3, 4))

    # Then it ends WARNING (the allowed failures), each of the 1 + 3 loop ends read exactly its own
    # direct children (3 inner loops; 4 x 2 task runs each), and the execution's whole listings (its
    # end's) are as many as with one loop: no loop end lists every task run
    assert outcome.execution.state == State.WARNING
    runs = by_task(outcome)
    outer, inners = runs["outer"][0], runs["inner"]
    assert reads.children == {outer.id: 3, **{inner.id: 8 for inner in inners}}
    assert len(reads.listings) == per_execution
    assert outer.state == State.WARNING and {inner.state for inner in inners} == {State.WARNING}
