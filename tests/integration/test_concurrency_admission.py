"""Concurrency limits in admission and finalize, on SQLite and on DynamoDB (moto).

A stand-in runner plays the engine: it marks an admitted execution RUNNING, holds it, then ends it
through `finish_execution` and runs what that promotes, as the local platform and the cloud do.
"""

from __future__ import annotations

import textwrap
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from stratoflow.domain import Execution
from stratoflow.execution.admission import admit, should_start
from stratoflow.execution.control import request_kill
from stratoflow.execution.finalize import finalize_execution, finish_execution
from stratoflow.execution.slots import UNLIMITED, concurrency_limit, sweep_slots
from stratoflow.flow import Flow, load_flow
from stratoflow.local.deploy import deploy_flow
from stratoflow.states import State
from stratoflow.store import ExecutionStore, SqliteExecutionStore
from stratoflow.store.dynamo import DynamoExecutionStore
from tests.contract.conftest import aws, create_table, dynamo_client  # noqa: F401 (fixtures)

_tables = iter(range(1_000_000))


@pytest.fixture(params=["sqlite", "dynamodb"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ExecutionStore]:
    if request.param == "sqlite":
        with SqliteExecutionStore(tmp_path / "stratoflow.db") as sqlite:
            yield sqlite
    else:
        client = request.getfixturevalue("dynamo_client")
        name = f"concurrency-{next(_tables)}"
        create_table(client, name)
        yield DynamoExecutionStore(name, client=client)
        # moto copies every table on each transaction (to roll back): keep the backend small.
        client.delete_table(TableName=name)


def limited(store: ExecutionStore, limit: int = 2, behavior: str = "QUEUE", flow_id: str = "etl") -> Flow:
    """Deploy a flow with `concurrency: {limit, behavior}`; returns it with its revision."""
    source = textwrap.dedent(
        f"""
        id: {flow_id}
        namespace: team
        concurrency: {{limit: {limit}, behavior: {behavior}}}
        tasks: [{{id: t, type: Log, message: hi}}]
        """
    )
    flow = load_flow(source)
    record = deploy_flow(store, flow, source)
    return flow.model_copy(update={"revision": record.revision})


def start(store: ExecutionStore, flow: Flow, execution_id: str | None = None) -> Execution:
    execution, _ = admit(store, flow, flow.revision or 1, execution_id=execution_id)
    return execution


def run(store: ExecutionStore, execution: Execution) -> Execution:
    updated: Execution = store.update_execution(
        execution.id, state=State.RUNNING, expected_states=(State.CREATED, State.RUNNING)
    )
    return updated


# --- one admission at a time -------------------------------------------------------------------


def test_executions_run_up_to_the_limit_and_the_next_ones_queue(store: ExecutionStore) -> None:
    flow = limited(store, limit=2)

    first, second, third = (start(store, flow, name) for name in ("a", "b", "c"))

    assert [first.state, second.state, third.state] == [State.CREATED, State.CREATED, State.QUEUED]
    assert [should_start(e) for e in (first, second, third)] == [True, True, False]
    assert store.slot_holders("team", "etl") == ["a", "b"]
    assert store.queued_executions("team", "etl") == ["c"]


@pytest.mark.parametrize(("behavior", "state"), [("CANCEL", State.CANCELLED), ("FAIL", State.FAILED)])
def test_a_refused_start_is_recorded_with_why(store: ExecutionStore, behavior: str, state: State) -> None:
    flow = limited(store, limit=1, behavior=behavior)
    start(store, flow, "a")

    refused = start(store, flow, "b")

    assert refused.state == state
    assert refused.error == (
        f"concurrency limit reached: 1 of 1 allowed execution(s) of team.etl running (behavior {behavior})"
    )
    assert refused.end_date is not None
    assert store.get_execution("b") == refused
    assert store.queued_executions("team", "etl") == []


@pytest.mark.parametrize("status", ["SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"])
def test_every_end_frees_the_slot_and_promotes_the_oldest_queued(store: ExecutionStore, status: str) -> None:
    # Given one running execution and two queued behind it
    flow = limited(store, limit=1)
    running = run(store, start(store, flow, "a"))
    start(store, flow, "b")
    start(store, flow, "c")

    # When the running one ends, whatever the end
    finished = finish_execution(store, running.id, status)

    # Then its slot goes to the oldest queued execution, RUNNING, for the caller to start
    assert finished.execution.state.is_terminal
    assert [e.id for e in finished.promoted] == ["b"]
    assert finished.promoted[0].state == State.RUNNING and should_start(finished.promoted[0])
    assert store.slot_holders("team", "etl") == ["b"]
    assert store.queued_executions("team", "etl") == ["c"]


def test_finalize_alone_frees_the_slot_without_promoting(store: ExecutionStore) -> None:
    flow = limited(store, limit=1)
    run(store, start(store, flow, "a"))
    start(store, flow, "b")

    finalize_execution(store, "a", "SUCCEEDED")

    assert store.slot_holders("team", "etl") == []
    assert store.get_execution("b").state == State.QUEUED  # type: ignore[union-attr]
    # The sweep (or the next end) promotes it
    assert [e.id for e in sweep_slots(store, "team", "etl")] == ["b"]


def test_an_execution_killed_while_queued_is_passed_over(store: ExecutionStore) -> None:
    flow = limited(store, limit=1)
    run(store, start(store, flow, "a"))
    start(store, flow, "b")
    start(store, flow, "c")
    request_kill(store, "b")

    finished = finish_execution(store, "a", "SUCCEEDED")

    assert [e.id for e in finished.promoted] == ["c"]
    assert store.get_execution("b").state == State.KILLED  # type: ignore[union-attr]
    assert store.slot_holders("team", "etl") == ["c"]
    assert store.queued_executions("team", "etl") == []


def test_a_killed_running_execution_frees_its_slot(store: ExecutionStore) -> None:
    # Given a running execution and one queued behind it
    flow = limited(store, limit=1)
    run(store, start(store, flow, "a"))
    start(store, flow, "b")

    # When it is killed: KILLING, then the engine stops and reports ABORTED
    request_kill(store, "a")
    finished = finish_execution(store, "a", "ABORTED")

    # Then it is KILLED and the queued one runs in its slot
    assert finished.execution.state == State.KILLED
    assert [e.id for e in finished.promoted] == ["b"]


def test_a_slot_kept_by_an_execution_killed_before_it_started_is_swept(store: ExecutionStore) -> None:
    flow = limited(store, limit=1)
    start(store, flow, "a")  # admitted (CREATED, holding the slot), never started
    start(store, flow, "b")
    request_kill(store, "a")  # CREATED -> KILLED directly: nothing ran, nothing released

    promoted = sweep_slots(store, "team", "etl")

    assert [e.id for e in promoted] == ["b"]
    assert store.slot_holders("team", "etl") == ["b"]


def test_a_duplicate_delivery_takes_no_second_slot(store: ExecutionStore) -> None:
    flow = limited(store, limit=2)

    start(store, flow, "same")
    duplicate, new = admit(store, flow, 1, execution_id="same")

    assert not new and duplicate.state == State.CREATED
    assert store.slot_holders("team", "etl") == ["same"]


def test_the_live_revisions_limit_applies_and_none_means_unlimited(store: ExecutionStore) -> None:
    flow = limited(store, limit=1)
    run(store, start(store, flow, "a"))
    for name in ("b", "c", "d"):
        start(store, flow, name)

    # When the flow is redeployed without a limit, the end of "a" lets every queued one in
    unlimited_source = "id: etl\nnamespace: team\ntasks: [{id: t, type: Log, message: again}]\n"
    deploy_flow(store, load_flow(unlimited_source), unlimited_source)
    assert concurrency_limit(store, "team", "etl") == UNLIMITED

    finished = finish_execution(store, "a", "SUCCEEDED")

    assert [e.id for e in finished.promoted] == ["b", "c", "d"]


def test_admission_without_concurrency_ignores_the_limit(store: ExecutionStore) -> None:
    flow = limited(store, limit=1)
    start(store, flow, "a")

    execution, _ = admit(store, flow, 1, execution_id="b", concurrency=False)

    assert execution.state == State.CREATED
    assert store.slot_holders("team", "etl") == ["a"]


# --- a burst -----------------------------------------------------------------------------------


class StandInRunner:
    """Runs admitted executions on threads; counts how many are RUNNING at once, in the store."""

    def __init__(self, store: ExecutionStore) -> None:
        self.store = store
        self.admissions_done = threading.Event()
        self.max_running = 0
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self.errors: list[BaseException] = []

    def launch(self, execution: Execution) -> None:
        thread = threading.Thread(target=self._run, args=(execution,))
        with self._lock:
            self._threads.append(thread)
        thread.start()

    def _run(self, execution: Execution) -> None:
        try:
            if execution.state != State.RUNNING:  # promoted ones are RUNNING already
                run(self.store, execution)
            running = len(self.store.list_executions("team", "etl", state=State.RUNNING))
            with self._lock:
                self.max_running = max(self.max_running, running)
            self.admissions_done.wait()  # the first ones hold their slots until every start is in
            for promoted in finish_execution(self.store, execution.id, "SUCCEEDED").promoted:
                self.launch(promoted)
        except BaseException as error:  # surfaced by join_all
            self.errors.append(error)

    def join_all(self) -> None:
        while True:
            with self._lock:
                alive = [t for t in self._threads if t.is_alive()]
            if not alive:
                break
            for thread in alive:
                thread.join()
        assert self.errors == []


def burst(store: ExecutionStore, runner: StandInRunner, flow: Flow, count: int = 50) -> list[Execution]:
    """`count` threads admit at the same moment; each admitted execution is launched at once."""
    barrier = threading.Barrier(count)
    admitted: list[Execution] = []
    lock = threading.Lock()

    def admit_one(index: int) -> None:
        barrier.wait()
        execution = start(store, flow, f"e{index:02d}")
        with lock:
            admitted.append(execution)
        if should_start(execution):
            runner.launch(execution)

    threads = [threading.Thread(target=admit_one, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return admitted


def test_a_burst_of_50_with_limit_2_queues_the_rest_and_runs_them_all(store: ExecutionStore) -> None:
    # Given a flow limited to 2 running executions, queueing the others
    flow = limited(store, limit=2, behavior="QUEUE")
    runner = StandInRunner(store)

    # When 50 starts arrive at once
    admitted = burst(store, runner, flow)

    # Then 2 were admitted to run and 48 queued
    assert Counter(str(e.state) for e in admitted) == {"CREATED": 2, "QUEUED": 48}
    assert len(store.queued_executions("team", "etl", limit=100)) == 48

    # And when the running ones end, every queued one runs, never more than 2 at a time
    runner.admissions_done.set()
    runner.join_all()
    assert runner.max_running <= 2
    assert {str(e.state) for e in store.list_executions("team", "etl", limit=100)} == {"SUCCESS"}
    assert store.slot_holders("team", "etl") == []
    assert store.queued_executions("team", "etl") == []


@pytest.mark.parametrize(("behavior", "refused"), [("CANCEL", "CANCELLED"), ("FAIL", "FAILED")])
def test_a_burst_of_50_with_limit_2_refuses_the_rest(
    store: ExecutionStore, behavior: str, refused: str
) -> None:
    flow = limited(store, limit=2, behavior=behavior)
    runner = StandInRunner(store)

    admitted = burst(store, runner, flow)
    runner.admissions_done.set()
    runner.join_all()

    assert Counter(str(e.state) for e in admitted) == {"CREATED": 2, refused: 48}
    assert Counter(str(e.state) for e in store.list_executions("team", "etl", limit=100)) == {
        "SUCCESS": 2,
        refused: 48,
    }
    assert runner.max_running <= 2
