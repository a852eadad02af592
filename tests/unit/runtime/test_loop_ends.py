"""A loop's end reads its own iterations' task runs only, by key and strongly consistent: the work of
the loop ends of an execution follows its task runs, not loops times task runs, and its last
iteration counts however soon before the end it was saved (no eventually consistent index is read)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from stratoflow.domain import TaskRun
from stratoflow.execution.runner import flowables
from stratoflow.local import LocalPlatform
from stratoflow.states import State
from tests.unit.runtime.conftest import RunFlow, by_task


@dataclass
class Reads:
    """What the runner read: whole listings, and task runs read by key (the keys asked and the runs
    found, per parent of the runs found)."""

    listings: list[str | None] = field(default_factory=list)
    asked: list[int] = field(default_factory=list)
    found: dict[str | None, int] = field(default_factory=dict)

    def clear(self) -> None:
        self.listings.clear()
        self.asked.clear()
        self.found.clear()


@pytest.fixture
def reads(platform: LocalPlatform, monkeypatch: pytest.MonkeyPatch) -> Iterator[Reads]:
    seen = Reads()
    store = platform.store
    list_all, by_key = store.list_task_runs, store.get_task_runs

    def listing(execution_id: str, task_id: str | None = None) -> Any:
        seen.listings.append(task_id)
        return list_all(execution_id, task_id)

    def keyed(execution_id: str, task_run_ids: Sequence[str]) -> Any:
        runs = by_key(execution_id, task_run_ids)
        seen.asked.append(len(task_run_ids))
        for run in runs:
            seen.found[run.parent_task_run_id] = seen.found.get(run.parent_task_run_id, 0) + 1
        return runs

    monkeypatch.setattr(store, "list_task_runs", listing)
    monkeypatch.setattr(store, "get_task_runs", keyed)
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
    reads.clear()

    # When nested loops of 3 x 4 iterations run, two tasks per inner iteration
    outcome = run_flow(nested(3, 4))

    # Then it ends WARNING (the allowed failures); each of the 1 + 3 loop ends read by key exactly its
    # own direct children (1 x 3 inner loops; 4 x 2 task runs each); and the
    # execution's whole listings (its end's) are as many as with one loop: no loop end lists every run
    assert outcome.execution.state == State.WARNING
    runs = by_task(outcome)
    outer, inners = runs["outer"][0], runs["inner"]
    assert {parent: reads.found.get(parent) for parent in [outer.id, *(i.id for i in inners)]} == {
        outer.id: 3,
        **{inner.id: 8 for inner in inners},
    }
    assert sorted(n for n in reads.asked if n > 1) == [3, 8, 8, 8]  # body tasks x iterations
    assert len(reads.listings) == per_execution
    assert outer.state == State.WARNING and {inner.state for inner in inners} == {State.WARNING}
    assert (outer.iterations, {inner.iterations for inner in inners}) == (3, {4})


LAST_WARNS = """
id: last_warns
namespace: tests
tasks:
  - id: each
    type: ForEach
    values: [a, b, c]
    tasks:
      - id: work
        type: Return
        format: "{{ taskrun.value }}"
      - id: flaky
        type: Fail
        allowFailure: true
        runIf: "{{ taskrun.value == 'c' }}"
"""


def test_a_loop_end_counts_its_last_iteration(run_flow: RunFlow) -> None:
    # When a ForEach runs whose last iteration ends WARNING (an allowed failure)
    outcome = run_flow(LAST_WARNS)

    # Then the loop and the execution end WARNING: the loop's end read that iteration by key
    assert by_task(outcome)["each"][0].state == State.WARNING
    assert outcome.execution.state == State.WARNING


def test_a_loop_run_as_child_executions_counts_its_last_iteration_too(
    run_flow: RunFlow, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given loops whose iterations run as child executions (a distributed Map)
    monkeypatch.setattr(flowables, "LOOP_EVENT_BUDGET", 0)

    # When a ForEach runs whose last iteration ends WARNING
    outcome = run_flow(LAST_WARNS)

    # Then the loop and the execution end WARNING, as inline
    (loop,) = by_task(outcome)["each"]
    assert (loop.iterations, loop.state) == (3, State.WARNING)
    assert outcome.execution.state == State.WARNING


def test_a_wait_for_end_counts_its_last_iteration(run_flow: RunFlow) -> None:
    # When a WaitFor runs three iterations, the last one with an allowed failure
    outcome = run_flow(
        """
id: wait_warns
namespace: tests
tasks:
  - id: wait
    type: WaitFor
    condition: "{{ outputs.count.value >= 2 }}"
    checkFrequency:
      interval: PT1S
      maxIterations: 10
    tasks:
      - id: count
        type: Return
        format: "{{ taskrun.iteration }}"
      - id: flaky
        type: Fail
        allowFailure: true
        runIf: "{{ taskrun.iteration == 2 }}"
"""
    )

    # Then the loop recorded three iterations and ends WARNING, as the execution does
    wait = by_task(outcome)["wait"][0]
    assert (wait.iterations, wait.state) == (3, State.WARNING)
    assert outcome.execution.state == State.WARNING


def test_a_loop_started_without_its_iterations_recorded_reads_the_whole_execution(
    run_flow: RunFlow, platform: LocalPlatform, reads: Reads, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a store that drops the iterations a loop records (as a runner deployed before them did)
    store = platform.store
    save = store.save_task_run

    def older(task_run: TaskRun, *args: Any) -> TaskRun:
        return save(task_run.model_copy(update={"iterations": None}), *args)

    monkeypatch.setattr(store, "save_task_run", older)

    # When a ForEach whose last iteration ends WARNING runs
    outcome = run_flow(LAST_WARNS)

    # Then its end read the execution's task runs whole (strongly consistent), and found that iteration
    assert by_task(outcome)["each"][0].iterations is None
    assert outcome.execution.state == State.WARNING
    assert None in reads.listings
