"""Task runs: upsert, creation order (`seq`, then id) and concurrency, on every ExecutionStore."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from stratoflow.domain import Attempt, Execution, TaskRun
from stratoflow.errors import ConflictError, NotFoundError
from stratoflow.states import State
from stratoflow.store import ExecutionStore, ItemTooLargeError
from tests.contract.conftest import T0, FakeClock

NewExecution = Callable[..., Execution]
MICROSECONDS = 1_000_000


def task_run(run_id: str, task_id: str = "extract", execution_id: str = "e1", **fields: Any) -> TaskRun:
    return TaskRun(id=run_id, execution_id=execution_id, task_id=task_id, **fields)


def test_first_save_assigns_seq_and_updates_keep_it(
    store: ExecutionStore, new_execution: NewExecution, clock: FakeClock
) -> None:
    # Given an execution
    new_execution("e1")

    # When task runs are saved a second apart, then the first is saved again with changes
    first = store.save_task_run(task_run("tr-a", task_type="Log"))
    clock.advance(1)
    second = store.save_task_run(task_run("tr-b", task_id="load"))
    clock.advance(1)
    finished = store.save_task_run(
        first.model_copy(
            update={
                "state": State.SUCCESS,
                "outputs": {"rows": 10, "ratio": 0.5},
                "attempts": [Attempt(state=State.SUCCESS)],
            }
        )
    )

    # Then seq is the time of the first save (microseconds since the epoch) and survives the update
    start = int(T0.timestamp()) * MICROSECONDS
    assert (first.seq, second.seq, finished.seq) == (start, start + MICROSECONDS, start)
    stored = store.get_task_run("e1", "tr-a")
    assert stored == finished
    assert stored is not None and stored.outputs == {"rows": 10, "ratio": 0.5} and stored.task_type == "Log"
    assert store.get_task_run("e1", "missing") is None
    assert store.get_task_run("other", "tr-a") is None


def test_saving_a_fresh_object_for_an_existing_id_keeps_seq(
    store: ExecutionStore, new_execution: NewExecution, clock: FakeClock
) -> None:
    new_execution("e1")
    first = store.save_task_run(task_run("tr-a"))
    clock.advance(1)
    store.save_task_run(task_run("tr-b"))
    clock.advance(1)

    # A fresh TaskRun (seq 0) with an id that exists is an update, not an insert
    again = store.save_task_run(task_run("tr-a", state=State.RUNNING))
    third = store.save_task_run(task_run("tr-c"))

    assert again.seq == first.seq and third.seq > again.seq
    assert [(r.id, r.state) for r in store.list_task_runs("e1")] == [
        ("tr-a", State.RUNNING),
        ("tr-b", State.CREATED),
        ("tr-c", State.CREATED),
    ]


def test_list_in_creation_order_with_task_filter(
    store: ExecutionStore, new_execution: NewExecution, clock: FakeClock
) -> None:
    new_execution("e1")
    new_execution("e2")
    # ids chosen so that id order is not creation order
    for run_id, task_id in [("z", "each"), ("m", "log"), ("a", "log"), ("k", "each")]:
        store.save_task_run(task_run(run_id, task_id=task_id, value=run_id, scope_values=["x", run_id]))
        clock.advance(0.000_001)
    store.save_task_run(task_run("other", execution_id="e2"))

    assert [r.id for r in store.list_task_runs("e1")] == ["z", "m", "a", "k"]
    assert [r.id for r in store.list_task_runs("e1", task_id="log")] == ["m", "a"]
    assert [r.id for r in store.list_task_runs("e2")] == ["other"]
    assert store.list_task_runs("e1", task_id="none") == []
    assert store.list_task_runs("missing") == []
    loop_run = store.get_task_run("e1", "k")
    assert loop_run is not None and loop_run.scope_values == ["x", "k"] and loop_run.value == "k"


def test_runs_created_the_same_microsecond_list_by_seq_then_id(
    store: ExecutionStore, new_execution: NewExecution
) -> None:
    # Given task runs saved while the clock stands still (parallel branches starting together)
    new_execution("e1")
    saved = [store.save_task_run(task_run(run_id)) for run_id in ("c", "a", "b")]

    # Then the listing is in (seq, id) order: a store may raise seq to keep its own inserts apart
    listed = store.list_task_runs("e1")
    assert sorted(run.id for run in listed) == ["a", "b", "c"]
    assert [(r.seq, r.id) for r in listed] == sorted((r.seq, r.id) for r in saved)


def test_task_run_of_missing_execution_is_refused(store: ExecutionStore) -> None:
    with pytest.raises(NotFoundError):
        store.save_task_run(task_run("tr-a", execution_id="missing"))
    assert store.get_execution("missing") is None
    assert store.list_task_runs("missing") == []


def test_oversized_task_run_is_refused_clearly(store: ExecutionStore, new_execution: NewExecution) -> None:
    new_execution("e1")
    saved = store.save_task_run(task_run("tr-a"))

    with pytest.raises(ItemTooLargeError, match="blob storage"):
        store.save_task_run(saved.model_copy(update={"outputs": {"data": "x" * 400_000}}))
    with pytest.raises(ItemTooLargeError):
        store.save_task_run(task_run("tr-b", outputs={"data": "x" * 400_000}))

    assert store.get_task_run("e1", "tr-a") == saved
    assert [r.id for r in store.list_task_runs("e1")] == ["tr-a"]


def test_concurrent_inserts_each_land_once_and_keep_their_seq(
    store: ExecutionStore, new_execution: NewExecution, clock: FakeClock
) -> None:
    # Given one execution and 50 threads, each inserting then updating its own task run
    new_execution("e1")

    def run(n: int) -> TaskRun:
        saved = store.save_task_run(task_run(f"tr-{n:02d}", task_id=f"t{n % 5}"))
        done = store.save_task_run(saved.model_copy(update={"state": State.SUCCESS}))
        assert done.seq == saved.seq
        return saved

    with ThreadPoolExecutor(max_workers=50) as pool:
        saved = list(pool.map(run, range(50)))

    # Then each is stored once, finished, with the seq its insert got, listed in (seq, id) order
    stored = store.list_task_runs("e1")
    assert len(stored) == 50
    assert all(r.state == State.SUCCESS for r in stored)
    assert {r.id: r.seq for r in stored} == {r.id: r.seq for r in saved}
    assert [r.id for r in stored] == [r.id for r in sorted(saved, key=lambda r: (r.seq, r.id))]


def test_task_runs_read_by_id_come_in_creation_order_and_missing_ids_are_left_out(
    store: ExecutionStore, new_execution: NewExecution, clock: FakeClock
) -> None:
    # Given two executions with task runs saved a second apart
    new_execution("e1")
    new_execution("e2")
    for index, run_id in enumerate(["tr-c", "tr-a", "tr-b"]):
        store.save_task_run(task_run(run_id, task_id=f"t{index}"))
        clock.advance(1)
    store.save_task_run(task_run("tr-x", execution_id="e2"))

    # When some are read by id (one twice, one missing, one of the other execution)
    runs = store.get_task_runs("e1", ["tr-b", "missing", "tr-c", "tr-b", "tr-x"])

    # Then the ones of this execution come once each, in creation order
    assert [run.id for run in runs] == ["tr-c", "tr-b"]
    assert store.get_task_runs("e1", []) == []
    # ... however many are asked for at once (batches of reads)
    many = [f"tr-{n:03d}" for n in range(120)]
    for run_id in many:
        store.save_task_run(task_run(run_id))
    assert [run.id for run in store.get_task_runs("e1", many)] == many


def test_a_loops_iterations_are_kept_on_its_task_run(
    store: ExecutionStore, new_execution: NewExecution
) -> None:
    # Given a loop's task run saved RUNNING, then again with the iterations it started
    new_execution("e1")
    store.save_task_run(task_run("loop", task_id="each", state=State.RUNNING))
    store.save_task_run(task_run("loop", task_id="each", state=State.RUNNING, iterations=3))

    # When it is read back, by key and listed
    by_key, listed = store.get_task_run("e1", "loop"), store.list_task_runs("e1", "each")

    # Then both carry the iterations (what the loop's end derives its children's ids from)
    assert by_key is not None and by_key.iterations == 3
    assert [run.iterations for run in listed] == [3]


def test_a_conditional_save_lands_only_while_the_run_is_in_an_expected_state(
    store: ExecutionStore, new_execution: NewExecution
) -> None:
    # Given a RUNNING task run that a timed-out flowable then records KILLED
    new_execution("e1")
    running = store.save_task_run(task_run("tr-a", state=State.RUNNING))
    store.save_task_run(
        running.model_copy(update={"state": State.KILLED, "error": "killed: 'outer' timed out"})
    )

    # When the task's late end is saved only if the run is still RUNNING
    late = running.model_copy(update={"state": State.SUCCESS, "outputs": {"rows": 1}})
    with pytest.raises(ConflictError, match="task run tr-a is KILLED, expected one of: RUNNING"):
        store.save_task_run(late, expected_states={State.RUNNING})

    # Then the run keeps KILLED; a run still RUNNING takes its end, and an unrecorded one is refused
    kept = store.get_task_run("e1", "tr-a")
    assert kept is not None and kept.state == State.KILLED and kept.outputs == {}
    other = store.save_task_run(task_run("tr-b", state=State.RUNNING))
    ended = store.save_task_run(
        other.model_copy(update={"state": State.SUCCESS}), expected_states={State.RUNNING}
    )
    assert ended.state == State.SUCCESS and store.get_task_run("e1", "tr-b") == ended
    with pytest.raises(ConflictError, match="tr-c is not recorded"):
        store.save_task_run(task_run("tr-c", state=State.SUCCESS), expected_states={State.RUNNING})
