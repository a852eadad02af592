"""The end of an execution frees a concurrency slot only when its admission could have taken one."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

from stratoflow.domain import Execution
from stratoflow.execution.admission import admit
from stratoflow.execution.finalize import finalize_execution, finish_execution
from stratoflow.flow import load_flow
from stratoflow.local.deploy import deploy_flow
from stratoflow.states import State
from stratoflow.store import SqliteExecutionStore


class CountingReleases(SqliteExecutionStore):
    """The SQLite store, counting `release_slot` calls (in the cloud each is a DynamoDB write)."""

    releases = 0

    def release_slot(self, namespace: str, flow_id: str, execution_id: str) -> bool:
        self.releases += 1
        return super().release_slot(namespace, flow_id, execution_id)


def admitted(store: Any, concurrency: str = "") -> Execution:
    source = textwrap.dedent(
        f"""
        id: etl
        namespace: team
        {concurrency}
        tasks: [{{id: t, type: Log, message: hi}}]
        """
    )
    flow = load_flow(source)
    record = deploy_flow(store, flow, source)
    execution, _ = admit(store, flow.model_copy(update={"revision": record.revision}), record.revision)
    store.update_execution(execution.id, state=State.RUNNING)
    return execution


def test_an_execution_of_a_flow_without_a_limit_releases_nothing(tmp_path: Path) -> None:
    # Given an execution admitted for a flow without a concurrency limit
    store = CountingReleases(tmp_path / "s.db")
    execution = admitted(store)
    assert execution.concurrency_limited is False

    # When it ends, through either end path
    finish_execution(store, execution.id, "SUCCEEDED")
    finalize_execution(store, execution.id, "SUCCEEDED")

    # Then no slot release was tried
    assert store.releases == 0
    store.close()


def test_an_execution_under_a_limit_frees_its_slot(tmp_path: Path) -> None:
    # Given an execution holding a slot of a limited flow
    store = CountingReleases(tmp_path / "s.db")
    execution = admitted(store, "concurrency: {limit: 1}")
    assert execution.concurrency_limited is True and store.slot_holders("team", "etl") == [execution.id]

    # When it ends
    finish_execution(store, execution.id, "SUCCEEDED")

    # Then its slot is free again
    assert store.releases == 1 and store.slot_holders("team", "etl") == []
    store.close()


def test_an_execution_recorded_outside_admission_still_tries_to_release(tmp_path: Path) -> None:
    # Given an execution created directly (a replay, a subflow child): whether it holds a slot is unknown
    store = CountingReleases(tmp_path / "s.db")
    store.create_execution(
        Execution(id="e1", namespace="team", flow_id="etl", revision=1, state=State.RUNNING)
    )

    # When it ends
    finalize_execution(store, "e1", "SUCCEEDED")

    # Then the release is tried, as before
    assert store.releases == 1
    store.close()
