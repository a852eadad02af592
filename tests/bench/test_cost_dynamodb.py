"""The cost model's DynamoDB requests equal what the cloud store sends, counted on moto.

One execution's whole life on the DynamoDB store, through the cloud's own code: admission (`Starter`, a
warm container) records and starts it, the status-change handler sees RUNNING, the task runner runs every
Task state (the local engine calls it in-process), and the status-change handler records its end.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws

from stratoflow.cloud.deploy.registry import DeploymentRegistry
from stratoflow.cloud.runtime.event_models import StatusChange
from stratoflow.cloud.runtime.events import record_status_change
from stratoflow.cloud.runtime.starter import Starter, StartRequest
from stratoflow.cloudsim.stack import atomic_dynamodb_client
from stratoflow.cloudsim.stack import create_table as create_stack_table
from stratoflow.compiler import compile_flow
from stratoflow.cost import Assumptions, count
from stratoflow.engine import LambdaIntegration, LocalEngine, Resources, VirtualClock
from stratoflow.execution.runner import TaskRunner
from stratoflow.execution.secrets import EnvironmentSecrets
from stratoflow.flow import load_flow
from stratoflow.local.deploy import deploy_flow
from stratoflow.store import LocalBlobStore
from stratoflow.store.dynamo import DynamoExecutionStore

ROOT = Path(__file__).resolve().parents[2]
READS = {"get_item", "query", "batch_get_item"}
WRITES = {"put_item", "update_item", "delete_item", "transact_write_items"}
LOG_WRITES = {"batch_write_item"}  # only `append_logs` batches
_tables = itertools.count()
# Control flow whose path the model's assumptions describe exactly: the If and the Switch take their
# most expensive branch, the ForEach has literal values. (A Dag's reads depend on thread timing.)
STRUCTURES = """
id: structures
namespace: tests.cost
tasks:
  - id: check
    type: If
    condition: "{{ 1 == 1 }}"
    then:
      - {id: one, type: Return, format: "1"}
      - {id: two, type: Log, message: ["two", "lines"]}
  - id: route
    type: Switch
    value: big
    cases:
      big:
        - {id: b1, type: Return, format: "{{ outputs.one.value }}"}
        - {id: b2, type: Return, format: "{{ outputs.b1.value }}"}
      small:
        - {id: s1, type: Return, format: "s"}
  - id: fan
    type: Parallel
    concurrent: 1
    tasks:
      - {id: left, type: Return, format: L}
      - {id: right, type: Return, format: R}
  - id: each
    type: ForEach
    values: ["x", "y", "z"]
    tasks:
      - {id: item, type: Return, format: "{{ taskrun.value }}"}
outputs:
  - {id: last, type: STRING, value: "{{ outputs.b2.value }}"}
"""
CHAIN10 = (
    "id: chain10\nnamespace: tests.cost\ntasks:\n  - {id: inc_1, type: Return, format: '{{ 0 + 1 }}'}\n"
    + "".join(
        f"  - {{id: inc_{i}, type: Return, format: '{{{{ outputs.inc_{i - 1}.value + 1 }}}}'}}\n"
        for i in range(2, 11)
    )
)
LIMITED = """
id: limited
namespace: tests.cost
concurrency: {limit: 2}
tasks:
  - {id: one, type: Return, format: "1"}
  - {id: two, type: Return, format: "{{ outputs.one.value }}"}
"""
INLINE = {"structures": STRUCTURES, "chain10": CHAIN10, "limited": LIMITED}


class CountingClient:
    """A boto3 DynamoDB client that counts its requests by operation, and its writes by item."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.calls: Counter[str] = Counter()
        self.item_writes: Counter[tuple[str, str]] = Counter()  # (pk, sk) -> single-item writes

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if name not in READS | WRITES | LOG_WRITES:
            return attribute

        def call(**kwargs: Any) -> Any:
            self.calls[name] += 1
            key = kwargs.get("Key") or kwargs.get("Item")
            if name in WRITES and key is not None:
                self.item_writes[(key["pk"]["S"], key["sk"]["S"])] += 1
            return attribute(**kwargs)

        return call

    def clear(self) -> None:
        self.calls.clear()
        self.item_writes.clear()

    def total(self, operations: set[str]) -> int:
        return sum(self.calls[name] for name in operations)


@pytest.fixture(scope="module")
def dynamodb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
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
            # moto's backend is not atomic per request as DynamoDB is: one request at a time.
            client = atomic_dynamodb_client()
            yield client


def create_table(client: Any) -> str:
    """A fresh table as the CDK stack declares it."""
    name = f"cost-{next(_tables)}"
    create_stack_table(client, name)
    return name


class FakeStepFunctions:
    """StartExecution accepted; the test runs the definition itself, on the local engine."""

    def start_execution(self, stateMachineArn: str, name: str, input: str) -> dict[str, str]:
        return {"executionArn": f"{stateMachineArn}:{name}"}


class EngineCallbacks:
    """SendTaskSuccess to the engine that runs the execution (Dag tasks wait on task tokens)."""

    engine: LocalEngine | None = None

    def send_success(self, token: str, output: Any) -> None:
        assert self.engine is not None
        self.engine.send_task_success(token, output)


def status_change(execution_id: str, status: str) -> StatusChange:
    arn = "arn:aws:states:us-east-1:000000000000:stateMachine:flow"
    return StatusChange.model_validate(
        {
            "executionArn": f"{arn}:{execution_id}",
            "stateMachineArn": arn,
            "name": execution_id,
            "status": status,
        }
    )


def cloud_lifecycle(path: Path, client: Any, blobs: Path) -> tuple[CountingClient, str, int]:
    """The flow's second execution as the cloud runs it; counts the requests of that execution only."""
    table = create_table(client)
    source = path.read_text()
    flow = load_flow(source, str(path))
    counting = CountingClient(client)
    setup = DynamoExecutionStore(table, client=client)
    record = deploy_flow(setup, flow, source)
    DeploymentRegistry(setup).record_version(
        flow.namespace,
        flow.id,
        record.revision,
        record.source_hash,
        "arn:aws:states:us-east-1:0:stateMachine:f:1",
    )
    definition = record.definition
    assert definition is not None
    # Warm containers: admission and the task runner live across executions.
    starter = Starter(DynamoExecutionStore(table, client=counting), FakeStepFunctions())
    callbacks = EngineCallbacks()
    runner = TaskRunner(
        DynamoExecutionStore(table, client=counting),
        LocalBlobStore(blobs),
        callbacks,
        secrets=EnvironmentSecrets({}),
    )
    runner.remember_flow(flow.model_copy(update={"revision": record.revision}), record.revision)
    invoke = LambdaIntegration({"${TaskRunnerFunctionArn}": lambda event, _context: runner.handle(event)})
    resources = Resources({"arn:aws:states:::lambda:invoke": invoke})
    state, transitions = "FAILED", 0
    for _ in range(2):  # the first execution warms admission's once-per-process namespace marker
        counting.clear()
        started = starter.start(StartRequest(namespace=flow.namespace, flowId=flow.id))
        assert started.execution_id is not None, started
        execution_id = started.execution_id
        # Each status change lands in a container that has not seen this execution.
        record_status_change(
            status_change(execution_id, "RUNNING"), DynamoExecutionStore(table, client=counting)
        )
        reference = {
            "execution": {
                "id": execution_id,
                "namespace": flow.namespace,
                "flowId": flow.id,
                "revision": record.revision,
            },
            "scope": None,
        }
        callbacks.engine = LocalEngine(definition, resources, VirtualClock())
        result = callbacks.engine.run(reference, name=execution_id)
        ended = record_status_change(
            status_change(execution_id, result.status), DynamoExecutionStore(table, client=counting)
        )
        assert ended.execution is not None
        state, transitions = str(ended.execution.state), result.transitions
    return counting, state, transitions


@pytest.mark.parametrize(
    ("flow", "assumptions"),
    [
        ("bench/flows/w1_hello.yaml", Assumptions()),
        ("chain10", Assumptions()),  # W2's shape, shorter: moto's queries are slow
        ("bench/flows/w4_retry.yaml", Assumptions(failed_attempts=2)),
        ("examples/etl.yaml", Assumptions(items=3)),
        ("structures", Assumptions()),
        ("limited", Assumptions()),  # a concurrency limit: a slot taken, released, the queue checked
    ],
)
def test_dynamodb_requests_equal_the_cloud_store(
    flow: str, assumptions: Assumptions, dynamodb: Any, tmp_path: Path
) -> None:
    # Given the model's count for one execution
    path = ROOT / flow
    if flow in INLINE:
        path = tmp_path / f"{flow}.yaml"
        path.write_text(INLINE[flow])
    parsed = load_flow(path.read_text(), str(path))
    usage = count(compile_flow(parsed).definition, parsed, assumptions)
    expected = usage.dynamo

    # When the execution runs on the DynamoDB store
    counting, state, transitions = cloud_lifecycle(path, dynamodb, tmp_path / "blobs")

    # Then reads, writes and log batches are the requests the store sent
    assert state == "SUCCESS"
    assert transitions == usage.transitions
    assert counting.total(READS) == expected.read_requests, counting.calls
    assert counting.total(WRITES) == expected.write_requests, counting.calls
    assert counting.total(LOG_WRITES) == expected.log_write_requests, counting.calls


def test_each_task_run_is_written_twice_and_the_execution_item_a_constant(
    dynamodb: Any, tmp_path: Path
) -> None:
    # Given a 10-task chain, each task reading the previous one's outputs
    path = tmp_path / "chain10.yaml"
    path.write_text(CHAIN10)

    # When it runs on the DynamoDB store as the cloud runs it
    counting, state, _ = cloud_lifecycle(path, dynamodb, tmp_path / "blobs")

    # Then every task run item took exactly two writes (RUNNING, SUCCESS: no counter, no read first)
    assert state == "SUCCESS"
    task_runs = {key: n for key, n in counting.item_writes.items() if key[1].startswith("TR#")}
    assert len(task_runs) == 10 and set(task_runs.values()) == {2}, task_runs
    # and the execution item four, whatever the number of tasks (create, RUNNING by admission, the
    # status event's conditional RUNNING, the final state): no counter, no slot without a limit
    others = {key: n for key, n in counting.item_writes.items() if not key[1].startswith("TR#")}
    assert list(others.values()) == [4] and next(iter(others))[1] == "META", others
