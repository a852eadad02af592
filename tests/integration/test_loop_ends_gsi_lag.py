"""A loop's end on the DynamoDB store while gsi4 lags behind the table, as a GSI may on AWS.

AWS propagates a write to a global secondary index asynchronously (usually within a second, with no
bound): a Query of gsi4 right after a child's first save may not name it. moto's indexes are
immediately consistent, so `LaggingIndex` models the lag: its gsi4 Queries leave out the entries
written most recently. The loop's end must count its last iteration all the same.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws

from stratoflow.cloudsim.stack import atomic_dynamodb_client, create_table
from stratoflow.engine import LambdaIntegration, LocalEngine, Resources, VirtualClock
from stratoflow.execution.admission import admit
from stratoflow.execution.finalize import finish_execution
from stratoflow.execution.runner import TaskRunner
from stratoflow.execution.secrets import EnvironmentSecrets
from stratoflow.flow import load_flow
from stratoflow.local.deploy import deploy_flow
from stratoflow.states import State
from stratoflow.store import LocalBlobStore
from stratoflow.store.dynamo import DynamoExecutionStore

_tables = itertools.count()


class LaggingIndex:
    """A DynamoDB client whose gsi4 Queries miss the `hidden` entries written last (the table itself,
    and every strongly consistent read of it, stays exact)."""

    def __init__(self, client: Any, hidden: int) -> None:
        self._client = client
        self._recent: deque[tuple[str, str]] = deque(maxlen=hidden)
        self.index_queries = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def update_item(self, **params: Any) -> Any:
        response = self._client.update_item(**params)
        if "gsi4pk" in params.get("ExpressionAttributeNames", {}).values():  # a child's save
            key = params["Key"]
            entry = (key["pk"]["S"], key["sk"]["S"])
            if entry not in self._recent:
                self._recent.append(entry)
        return response

    def query(self, **params: Any) -> Any:
        page: dict[str, Any] = self._client.query(**params)
        if params.get("IndexName") != "gsi4":
            return page
        self.index_queries += 1
        kept = [
            item for item in page.get("Items", []) if (item["pk"]["S"], item["sk"]["S"]) not in self._recent
        ]
        return {**page, "Items": kept, "Count": len(kept)}


@pytest.fixture(scope="module")
def dynamodb() -> Iterator[Any]:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
        }.items():
            patch.setenv(name, value)
        with mock_aws():
            yield atomic_dynamodb_client()


def run_on_dynamodb(source: str, client: Any, blobs: Path) -> tuple[DynamoExecutionStore, str]:
    """Deploy and run the flow as the cloud's task runner would, on a table created as the stack does;
    returns the store and the execution, whose end is recorded."""
    table = f"loops-{next(_tables)}"
    create_table(client, table)
    store = DynamoExecutionStore(table, client=client)
    flow = load_flow(source, "flow.yaml")
    record = deploy_flow(store, flow, source)
    execution, _ = admit(store, flow, record.revision)
    runner = TaskRunner(store, LocalBlobStore(blobs), secrets=EnvironmentSecrets({}))
    runner.remember_flow(flow.model_copy(update={"revision": record.revision}), record.revision)
    invoke = LambdaIntegration({"${TaskRunnerFunctionArn}": lambda event, _context: runner.handle(event)})
    assert record.definition is not None
    engine = LocalEngine(
        record.definition, Resources({"arn:aws:states:::lambda:invoke": invoke}), VirtualClock()
    )
    reference = {
        "execution": {
            "id": execution.id,
            "namespace": flow.namespace,
            "flowId": flow.id,
            "revision": record.revision,
        },
        "scope": None,
    }
    result = engine.run(reference, name=execution.id)
    finish_execution(store, execution.id, result.status)
    return store, execution.id


LAST_ITERATION = """
id: last_iteration
namespace: tests
tasks:
  - id: each
    type: ForEach
    values: [a, b, c]
    tasks:
      - id: work
        type: Return
        format: "{{{{ taskrun.value }}}}"
      - id: flaky
        type: Fail
        allowFailure: true
        runIf: "{{{{ taskrun.value == 'c' }}}}"
    concurrencyLimit: {concurrency}
"""


@pytest.mark.parametrize("concurrency", [1, 0])  # one at a time, all at once
def test_a_loop_whose_last_iteration_warns_ends_warning_while_gsi4_lags(
    concurrency: int, dynamodb: Any, tmp_path: Path
) -> None:
    # Given a table whose gsi4 does not yet show the two entries written last (the last iteration's)
    lagging = LaggingIndex(dynamodb, hidden=2)

    # When a ForEach runs whose last iteration ends WARNING (an allowed failure)
    store, execution_id = run_on_dynamodb(
        LAST_ITERATION.format(concurrency=concurrency), lagging, tmp_path / "blobs"
    )

    # Then the loop and the execution end WARNING: the loop's end read its children by key
    (loop,) = store.list_task_runs(execution_id, "each")
    assert loop.state == State.WARNING
    execution = store.get_execution(execution_id)
    assert execution is not None and execution.state == State.WARNING
    assert lagging.index_queries == 0  # no loop end reads gsi4
