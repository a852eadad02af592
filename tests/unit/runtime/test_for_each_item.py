"""ForEachItem as Kestra documents it: a file's lines in batches, each batch an execution of a subflow,
run locally on the compiled distributed Map (ItemReader, ItemBatcher, a child execution per batch)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from stratoflow.errors import FlowValidationError
from stratoflow.execution.control import prepare_restart, request_kill
from stratoflow.execution.lineage import chain_of, subflow_executions
from stratoflow.flow import analyse, load_flow
from stratoflow.local import LocalPlatform, RunOutcome
from stratoflow.states import State
from stratoflow.storage_layout import LOOP_ITEMS
from stratoflow.tasks.serdes.ion import read_ion
from tests.unit.runtime.conftest import RunFlow, by_task
from tests.unit.runtime.test_control import wait_until

# Kestra's documented subflow `orders` (its shell task `cat` left out: unit tests start no process),
# with flow outputs so that the parent's merged outputs show what each batch read.
ORDERS = """
id: orders
namespace: company.team
inputs:
  - id: order
    type: STRING
  - id: iteration
    type: INT
    defaults: 0
  - id: fail_on
    type: INT
    defaults: -1
tasks:
  - id: read_file_content
    type: io.kestra.plugin.core.log.Log
    message: "{{ read(inputs.order) }}"
  - id: maybe_fail
    type: Fail
    condition: "{{ inputs.iteration == inputs.fail_on }}"
outputs:
  - id: lines
    type: STRING
    value: "{{ read(inputs.order) }}"
  - id: iteration
    type: INT
    value: "{{ inputs.iteration }}"
"""

# Kestra's documented parent `orders_parallel`, its DuckDB extract replaced by a stored file of orders.
ORDERS_PARALLEL = """
id: orders_parallel
namespace: company.team
inputs:
  - id: fail_on
    type: INT
    defaults: -1
tasks:
  - id: extract
    type: io.kestra.plugin.core.storage.Write
    extension: .jsonl
    content: |
      {"order_id": 1, "amount": 10}
      {"order_id": 2, "amount": 20}
      {"order_id": 3, "amount": 30}
      {"order_id": 4, "amount": 40}
      {"order_id": 5, "amount": 50}
  - id: each
    type: io.kestra.plugin.core.flow.ForEachItem
    items: "{{ outputs.extract.uri }}"
    batch:
      rows: 2
    namespace: company.team
    flowId: orders
    wait: true # wait for the subflow execution
    transmitFailed: true # fail the task run if the subflow execution fails
    inputs:
      order: "{{ taskrun.items }}" # special variable that contains the items of the batch
      iteration: "{{ taskrun.iteration }}"
      fail_on: "{{ inputs.fail_on }}"
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: "{{ outputs.each_items.numberOfBatches }} batches, {{ outputs.each_items.iterations.SUCCESS ?? 0 }} ok"
"""

FILE = "".join(f'{{"order_id": {n}, "amount": {n * 10}}}\n' for n in range(1, 6))


def merged(platform: LocalPlatform, outcome: RunOutcome) -> list[dict[str, object]]:
    """The batches' flow outputs, as the parent's `<id>_merge` gathered them."""
    uri = by_task(outcome)["each_merge"][0].outputs["subflowOutputs"]
    values: list[dict[str, object]] = read_ion(platform.blobs.get(uri))
    return values


def children(platform: LocalPlatform, outcome: RunOutcome) -> list[State]:
    found = platform.store.list_executions(namespace="company.team", flow_id="orders")
    return sorted(
        execution.state for execution in found if execution.parent_execution_id == outcome.execution.id
    )


def test_kestra_documented_flow_validates_without_warnings() -> None:
    # When the parent is validated (its later task reads the `<id>_items` sub-task's outputs)
    analysis = analyse(textwrap.dedent(ORDERS_PARALLEL), "orders_parallel.yaml")

    # Then it is valid, and `outputs.each_items` is known
    assert analysis.flow is not None
    assert analysis.diagnostics == []


def test_every_line_is_processed_once_in_batches_of_rows(platform: LocalPlatform, run_flow: RunFlow) -> None:
    # When the documented flows run: five lines, two per batch
    outcome = run_flow(ORDERS_PARALLEL, others=(ORDERS,))

    # Then three batch executions ran, numbered from 0, and together they read every line once
    assert outcome.execution.state == State.SUCCESS
    runs = by_task(outcome)
    each = runs["each"][0]
    assert each.outputs["numberOfBatches"] == 3
    assert each.outputs["iterations"] == {"SUCCESS": 3}
    assert runs["each_items"][0].outputs["iterations"] == {"SUCCESS": 3}
    outputs = merged(platform, outcome)
    assert [value["iteration"] for value in outputs] == [0, 1, 2]
    assert "".join(str(value["lines"]) for value in outputs) == FILE
    assert runs["after"][0].outputs["value"] == "3 batches, 3 ok"
    # And the ItemReader's lines are where the stack's role lets Step Functions read a Map's items
    folder = f"company.team/orders_parallel/executions/{outcome.execution.id}/{each.id}"
    assert platform.blobs.exists(f"strato:///{folder}/{LOOP_ITEMS}")
    # And Kestra's sub-task runs are recorded under the task's run, the batch files listed
    for sub in ("each_split", "each_items", "each_merge"):
        assert runs[sub][0].parent_task_run_id == each.id
    splits = platform.blobs.get(runs["each_split"][0].outputs["splits"]).decode().splitlines()
    assert [platform.blobs.get(uri).decode() for uri in splits] == [
        "".join(FILE.splitlines(keepends=True)[i : i + 2]) for i in (0, 2, 4)
    ]


def test_a_failed_batch_fails_the_task_when_transmitted(platform: LocalPlatform, run_flow: RunFlow) -> None:
    # When the second batch's execution fails (transmitFailed: true)
    outcome = run_flow(ORDERS_PARALLEL, {"fail_on": 1}, others=(ORDERS,))

    # Then the task fails naming how many batches failed, and its outputs count them by state
    assert outcome.execution.state == State.FAILED
    each = by_task(outcome)["each"][0]
    assert each.state == State.FAILED
    assert each.error == "1 of 3 batch execution(s) failed"
    assert each.outputs["iterations"] == {"FAILED": 1, "SUCCESS": 2}
    assert "after" not in by_task(outcome)


def test_a_failed_batch_is_counted_not_transmitted(platform: LocalPlatform, run_flow: RunFlow) -> None:
    # Given the same flow with transmitFailed: false
    source = ORDERS_PARALLEL.replace("transmitFailed: true", "transmitFailed: false")

    # When the second batch's execution fails
    outcome = run_flow(source, {"fail_on": 1}, others=(ORDERS,))

    # Then every batch ran, the task succeeds, and the failure is counted
    assert outcome.execution.state == State.SUCCESS
    assert by_task(outcome)["each"][0].outputs["iterations"] == {"FAILED": 1, "SUCCESS": 2}
    assert children(platform, outcome) == [State.FAILED, State.SUCCESS, State.SUCCESS]


def test_wait_false_starts_every_batch_and_goes_on(platform: LocalPlatform, run_flow: RunFlow) -> None:
    # Given the flow not waiting for its batches
    source = ORDERS_PARALLEL.replace("wait: true", "wait: false").replace(
        "    transmitFailed: true # fail the task run if the subflow execution fails\n", ""
    )
    source = source.replace(
        "{{ outputs.each_items.iterations.SUCCESS ?? 0 }} ok",
        "{{ outputs.each_merge.subflowOutputs ?? 'none' }}",
    )

    # When it runs
    outcome = run_flow(source, others=(ORDERS,))
    platform.join()

    # Then the task ended after starting three executions, with no merged outputs to give
    assert outcome.execution.state == State.SUCCESS
    each = by_task(outcome)["each"][0]
    assert each.outputs["numberOfBatches"] == 3
    assert "uri" not in each.outputs
    assert by_task(outcome)["after"][0].outputs["value"] == "3 batches, none"
    assert len(children(platform, outcome)) == 3


@pytest.mark.parametrize(
    ("batch", "sizes"),
    [
        ("rows: 1", [1, 1, 1, 1, 1]),
        ("partitions: 2", [3, 2]),
        ("bytes: 70", [2, 2, 1]),  # each line is 31 or 32 bytes: two fit in 70, never three
    ],
)
def test_batches_by_rows_partitions_or_bytes(
    platform: LocalPlatform, run_flow: RunFlow, batch: str, sizes: list[int]
) -> None:
    # When the file is cut by another rule
    outcome = run_flow(ORDERS_PARALLEL.replace("rows: 2", batch), others=(ORDERS,))

    # Then the batches have the lines the rule gives, in order
    assert outcome.execution.state == State.SUCCESS
    outputs = merged(platform, outcome)
    assert [str(value["lines"]).count("\n") for value in outputs] == sizes
    assert "".join(str(value["lines"]) for value in outputs) == FILE


def test_an_ion_file_is_cut_by_lines_as_kestra_stores_it(platform: LocalPlatform, run_flow: RunFlow) -> None:
    # Given Kestra's internal format: one Ion value per line
    source = ORDERS_PARALLEL.replace("extension: .jsonl", "extension: .ion").replace(
        '{"order_id": 1, "amount": 10}', '{order_id:1,amount:10e0,note:"a \\"quoted\\" word"}'
    )

    # When it runs
    outcome = run_flow(source, others=(ORDERS,))

    # Then each batch file holds its lines unchanged, with the source's extension
    assert outcome.execution.state == State.SUCCESS
    first = str(merged(platform, outcome)[0]["lines"])
    assert first.startswith('{order_id:1,amount:10e0,note:"a \\"quoted\\" word"}\n')
    splits = platform.blobs.get(by_task(outcome)["each_split"][0].outputs["splits"]).decode().splitlines()
    assert all(uri.endswith(".ion") for uri in splits)


def test_an_empty_file_starts_no_execution(platform: LocalPlatform, run_flow: RunFlow) -> None:
    # Given an empty file
    source = ORDERS_PARALLEL.replace("content: |", "content: ''").split("      {")[0]
    source = source + ORDERS_PARALLEL.split('{"order_id": 5, "amount": 50}\n', 1)[1]

    # When it runs
    outcome = run_flow(source, others=(ORDERS,))

    # Then the task succeeds with no batch
    assert outcome.execution.state == State.SUCCESS
    assert by_task(outcome)["each"][0].outputs["numberOfBatches"] == 0
    assert children(platform, outcome) == []


def test_the_parent_history_and_payload_do_not_grow_with_the_items(
    platform: LocalPlatform, run_flow: RunFlow
) -> None:
    # Given 10 and then 10,000 lines, in batches of 100
    def with_lines(count: int) -> str:
        lines = "".join(f'      {{"order_id": {n}}}\n' for n in range(count))
        head, tail = ORDERS_PARALLEL.split("    content: |\n")
        return head + "    content: |\n" + lines + "  - id: each" + tail.split("  - id: each", 1)[1]

    # When each runs
    small = run_flow(with_lines(10).replace("rows: 2", "rows: 100"), others=(ORDERS,))
    large = run_flow(with_lines(10_000).replace("rows: 2", "rows: 100"), others=(ORDERS,))

    # Then the parent counted the same history events, and its largest payload did not grow
    assert by_task(small)["each"][0].outputs["numberOfBatches"] == 1
    assert by_task(large)["each"][0].outputs["numberOfBatches"] == 100
    assert small.result.history_events == large.result.history_events
    assert large.result.largest_payload - small.result.largest_payload < 64


MEASURE = """
id: orders
namespace: company.team
inputs:
  - {id: order, type: STRING}
  - {id: iteration, type: INT}
  - {id: fail_on, type: INT}
tasks:
  - {id: read_file_content, type: Log, message: "{{ read(inputs.order) | length }} characters"}
outputs:
  - {id: size, type: INT, value: "{{ read(inputs.order) | length }}"}
"""


@pytest.mark.parametrize(("batch", "count"), [("rows: 5000", 2), ("bytes: 1MB", 1)])
def test_batches_too_large_for_a_child_input_travel_as_files(
    platform: LocalPlatform, run_flow: RunFlow, batch: str, count: int
) -> None:
    # Given 10,000 lines of 101 bytes in batches of about 500 KB and 1 MB (Step Functions carries
    # 256 KiB in a child execution's input)
    source = ORDERS_PARALLEL.replace(
        "content: |", 'content: "{% for n in range(1, 10000) %}' + "x" * 100 + '\\n{% endfor %}"'
    )
    source = source.split("      {")[0] + ORDERS_PARALLEL.split('{"order_id": 5, "amount": 50}\n', 1)[1]

    # When it runs
    outcome = run_flow(source.replace("rows: 2", batch), others=(MEASURE,))

    # Then the batches were stored before the Map started, and each execution read its whole batch
    assert outcome.execution.state == State.SUCCESS
    sizes = [value["size"] for value in merged(platform, outcome)]
    assert len(sizes) == count and sum(sizes) == 101 * 10_000  # type: ignore[arg-type]
    assert outcome.result.largest_payload < 4096


@pytest.mark.parametrize(
    ("change", "where", "message"),
    [
        ("    batch:\n      rows: 2\n", "scheduleDate", "scheduleDate is not supported"),
        ("      rows: 2\n", "regexPattern", "regexPattern is not supported"),
        ("      rows: 2\n", "bytes: 2XB", "'2XB' is not a size"),
        ("      rows: 2\n", "rows: 2\n      partitions: 3", "set one of 'rows', 'bytes' and 'partitions'"),
        ("    wait: true", "wait: false", "'transmitFailed' needs 'wait: true'"),
    ],
)
def test_what_is_not_supported_is_refused_where_it_is_written(change: str, where: str, message: str) -> None:
    # Given a property Stratoflow refuses
    replacement = {
        "scheduleDate": change + "    scheduleDate: 2026-01-01T00:00:00Z\n",
        "regexPattern": "      regexPattern: '^a'\n",
        "bytes: 2XB": "      bytes: 2XB\n",
    }.get(where, f"      {where}\n" if "partitions" in where else f"    {where}")
    source = textwrap.dedent(ORDERS_PARALLEL).replace(change, replacement, 1)

    # Then the flow is refused, at the property's line
    with pytest.raises(FlowValidationError) as refused:
        load_flow(source, "orders_parallel.yaml")
    assert message in str(refused.value)
    assert "orders_parallel.yaml:" in str(refused.value) and "tasks[1]" in str(refused.value)


# The batch numbered 1 fails while the KV key `broken` is true: the on-call engineer fixes it, restarts.
FLAKY_BATCH = """
id: load_batch
namespace: company.team
inputs:
  - {id: iteration, type: INT}
tasks:
  - id: load
    type: Fail
    condition: "{{ inputs.iteration == 1 and kv('broken') }}"
    errorMessage: the warehouse is down
"""

RESTARTED = """
id: load_all
namespace: company.team
tasks:
  - id: extract
    type: io.kestra.plugin.core.storage.Write
    content: "a\\nb\\nc\\n"
  - id: each
    type: io.kestra.plugin.core.flow.ForEachItem
    items: "{{ outputs.extract.uri }}"
    namespace: company.team
    flowId: load_batch
    inputs: {iteration: "{{ taskrun.iteration }}"}
"""


def _restarted(platform: LocalPlatform, source: str) -> tuple[list[str], list[str], RunOutcome]:
    """Run with the warehouse down, fix it, restart: (children before, children after, the restart)."""
    platform.deploy_source(textwrap.dedent(FLAKY_BATCH), "load_batch.yaml")
    flow, record = platform.deploy_source(textwrap.dedent(source), "load_all.yaml")
    platform.store.kv_set("company.team", "broken", True)
    failed = platform.run(platform.admit(flow, record, {}))
    assert failed.execution.state == State.FAILED
    before = {
        e.id: e.state for e in platform.store.list_executions(namespace="company.team", flow_id="load_batch")
    }
    platform.store.kv_set("company.team", "broken", False)
    outcome = platform.run(prepare_restart(platform.store, failed.execution.id))
    after = {
        e.id: e.state for e in platform.store.list_executions(namespace="company.team", flow_id="load_batch")
    }
    assert sorted(before.values()) == [State.FAILED, State.SUCCESS, State.SUCCESS]
    return sorted(before), sorted(after), outcome


def test_a_restarted_parent_restarts_only_the_failed_batches(platform: LocalPlatform) -> None:
    # When the parent is restarted (Kestra's default for ForEachItem: RETRY_FAILED)
    before, after, outcome = _restarted(platform, RESTARTED)

    # Then the failed batch's execution ran again in place, the others were kept, and the task succeeded
    assert outcome.execution.state == State.SUCCESS
    assert after == before
    assert by_task(outcome)["each"][0].outputs["iterations"] == {"SUCCESS": 3}
    restarts = sorted(platform.store.get_execution(i).restarts for i in after)  # type: ignore[union-attr]
    assert restarts == [0, 0, 1]


def test_a_restarted_parent_starts_new_batch_executions_when_asked(platform: LocalPlatform) -> None:
    # When the parent, with restartBehavior NEW_EXECUTION, is restarted
    source = RESTARTED + "    restartBehavior: NEW_EXECUTION\n"
    before, after, outcome = _restarted(platform, source)

    # Then every batch ran again as a new execution, the failed ones left as they ended
    assert outcome.execution.state == State.SUCCESS
    assert len(after) == 6 and set(before) < set(after)
    assert by_task(outcome)["each"][0].outputs["iterations"] == {"SUCCESS": 3}


def test_csv_lines_and_another_separator(platform: LocalPlatform, run_flow: RunFlow) -> None:
    # Given a CSV file without a header, and then records ended by ';'
    csv = ORDERS_PARALLEL.replace("extension: .jsonl", "extension: .csv")
    csv = csv.split("      {")[0] + "      1,10\n      2,20\n      3,30\n" + csv.split("50}\n", 1)[1]
    records = csv.replace("content: |\n      1,10\n      2,20\n      3,30\n", "content: '1,10;2,20;3,30;'\n")
    records = records.replace("rows: 2", "rows: 2\n      separator: ';'")

    # When each runs
    by_lines = run_flow(csv, others=(ORDERS,))
    by_records = run_flow(records, others=(ORDERS,))

    # Then the batches hold whole lines (or records) with their separators
    assert [value["lines"] for value in merged(platform, by_lines)] == ["1,10\n2,20\n", "3,30\n"]
    assert [value["lines"] for value in merged(platform, by_records)] == ["1,10;2,20;", "3,30;"]


def test_the_batches_executions_are_the_parents_children(platform: LocalPlatform, run_flow: RunFlow) -> None:
    # When the documented flows ran
    outcome = run_flow(ORDERS_PARALLEL, others=(ORDERS,))

    # Then the batches' executions are listed as the parent's children (what `strato kill`, a parent's
    # timeout and `executions show` stop or show), and the parent as theirs
    found = subflow_executions(platform.store, outcome.execution.id)
    assert len(found) == 3
    chain = chain_of(platform.store, outcome.execution)
    assert sorted(child.id for child in chain.children) == sorted(found)
    assert all(child.parent_execution_id == outcome.execution.id for child in chain.children)


def test_kill_stops_the_parent_and_every_batch_execution(tmp_path: Path) -> None:
    # Given batches whose executions sleep for an hour (a real clock: the kill comes from this thread)
    platform = LocalPlatform(tmp_path / "home")
    try:
        platform.deploy_source(
            "id: nap\nnamespace: tests\ntasks:\n  - {id: long, type: Sleep, duration: PT1H}\n", "n.yaml"
        )
        source = (
            RESTARTED.replace("company.team", "tests")
            .replace("load_batch", "nap")
            .replace('    inputs: {iteration: "{{ taskrun.iteration }}"}\n', "")
        )
        flow, record = platform.deploy_source(textwrap.dedent(source), "load_all.yaml")
        execution = platform.admit(flow, record, {})
        running = platform.start(execution)
        store = platform.store

        def batches_running() -> bool:
            children = subflow_executions(store, execution.id)
            states = [store.get_execution(i).state for i in children]  # type: ignore[union-attr]
            return states == [State.RUNNING] * 3

        wait_until(batches_running)

        # When the parent is killed
        killed = request_kill(store, execution.id)
        outcome = platform.finish(execution, running)

        # Then it and its three batch executions are stopped
        assert len(killed) == 4
        assert outcome.execution.state == State.KILLED
        wait_until(lambda: all(store.get_execution(i).state == State.KILLED for i in killed))  # type: ignore[union-attr]
    finally:
        platform.close()
