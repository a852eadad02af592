"""`core.storage.*` and `core.execution.Assert` in Kestra-shaped flows on the local platform."""

from __future__ import annotations

from pathlib import Path

import pytest

from stratoflow.flow import FlowValidationError, load_flow
from stratoflow.local import LocalPlatform
from stratoflow.states import State
from stratoflow.tasks.errors import TaskFailed
from tests.unit.tasks.task_helpers import RunFlow, direct_context, flow_source, load_task, logs_of, outputs_of


def read(platform: LocalPlatform, uri: str) -> bytes:
    return platform.blobs.get(uri)


def test_write_then_size_concat_and_split_by_rows(run_flow: RunFlow, platform: LocalPlatform) -> None:
    # Given: Kestra's names, files passed on as URIs
    source = flow_source(
        """
        - {id: a, type: io.kestra.plugin.core.storage.Write, content: "1\\n2\\n3\\n", extension: .txt}
        - {id: b, type: io.kestra.plugin.core.storage.Write, content: "4\\n5\\n", extension: txt}
        - id: both
          type: io.kestra.plugin.core.storage.Concat
          files: ["{{ outputs.a.uri }}", "{{ outputs.b.uri }}"]
          extension: .txt
        - {id: size, type: io.kestra.plugin.core.storage.Size, uri: "{{ outputs.both.uri }}"}
        - {id: parts, type: io.kestra.core.tasks.storages.Split, from: "{{ outputs.both.uri }}", rows: 2}
        """
    )

    # When
    outcome = run_flow(source)

    # Then
    assert outcome.execution.state == State.SUCCESS, [(r.task_id, r.error) for r in outcome.task_runs]
    both = outputs_of(platform, outcome, "both")["uri"]
    assert both.endswith(".txt") and read(platform, both) == b"1\n2\n3\n4\n5\n"
    assert outputs_of(platform, outcome, "size") == {"size": 10}
    uris = outputs_of(platform, outcome, "parts")["uris"]
    assert [read(platform, uri) for uri in uris] == [b"1\n2\n", b"3\n4\n", b"5\n"]


def test_concat_takes_a_rendered_list_and_a_separator(run_flow: RunFlow, platform: LocalPlatform) -> None:
    # Given: `files` as an expression that gives a list (as Kestra's `{{ outputs.x.uris }}`)
    source = flow_source(
        """
        - {id: parts, type: storage.Split, from: "{{ outputs.w.uri }}", partitions: 2}
        - {id: joined, type: storage.Concat, files: "{{ outputs.parts.uris }}", separator: "--\\n"}
        """
    ).replace("tasks:\n", 'tasks:\n  - {id: w, type: storage.Write, content: "a\\nb\\nc\\n"}\n')

    # When
    outcome = run_flow(source)

    # Then
    assert outcome.execution.state == State.SUCCESS, [(r.task_id, r.error) for r in outcome.task_runs]
    assert read(platform, outputs_of(platform, outcome, "joined")["uri"]) == b"a\nb\n--\nc\n"


def test_split_by_bytes_never_cuts_a_line(tmp_path: Path) -> None:
    # Given
    ctx = direct_context(tmp_path)
    uri = ctx.put_file("in.csv", b"aaaa\nbbbb\ncc\nd\n")
    task = load_task(f'{{id: s, type: storage.Split, from: "{uri}", bytes: 6B}}')

    # When
    uris = task.run(ctx)["uris"]

    # Then: each part holds whole lines, at most 6 bytes unless one line is longer
    assert [ctx.read_file(u) for u in uris] == [b"aaaa\n", b"bbbb\n", b"cc\nd\n"]
    assert all(u.endswith(".csv") for u in uris)


def test_split_needs_exactly_one_rule() -> None:
    # Given / When / Then
    with pytest.raises(FlowValidationError, match="set exactly one of 'bytes', 'partitions' and 'rows'"):
        load_flow(flow_source('- {id: s, type: storage.Split, from: "x", rows: 2, partitions: 3}'))


def test_delete_removes_a_file_and_reports_a_missing_one(run_flow: RunFlow, platform: LocalPlatform) -> None:
    # Given
    source = flow_source(
        """
        - {id: w, type: storage.Write, content: hello}
        - {id: first, type: io.kestra.plugin.core.storage.Delete, uri: "{{ outputs.w.uri }}"}
        - {id: again, type: storage.Delete, uri: "{{ outputs.w.uri }}"}
        """
    )

    # When
    outcome = run_flow(source)

    # Then
    assert outcome.execution.state == State.SUCCESS, [(r.task_id, r.error) for r in outcome.task_runs]
    uri = outputs_of(platform, outcome, "w")["uri"]
    assert outputs_of(platform, outcome, "first") == {"uri": uri, "deleted": True}
    assert outputs_of(platform, outcome, "again") == {"uri": uri, "deleted": False}
    assert not platform.blobs.exists(uri)


def test_delete_refuses_another_namespaces_file_and_a_missing_one_on_request(tmp_path: Path) -> None:
    # Given
    ctx = direct_context(tmp_path, namespace="team.a")
    other = "strato:///team.b/flow/executions/x/t/r/secret.txt"
    ctx.blobs.put("team.b/flow/executions/x/t/r/secret.txt", b"keep")
    missing = ctx.put_file("gone.txt", b"")
    ctx.delete_file(missing)

    # When / Then
    with pytest.raises(TaskFailed, match=r"is not a file of namespace 'team\.a'"):
        load_task(f'{{id: d, type: storage.Delete, uri: "{other}"}}').run(ctx)
    assert ctx.blobs.exists(other)
    with pytest.raises(TaskFailed, match="does not exist"):
        load_task(f'{{id: d, type: storage.Delete, uri: "{missing}", errorOnMissing: true}}').run(ctx)


def test_filter_items_keeps_matching_structs_of_an_ion_file(
    run_flow: RunFlow, platform: LocalPlatform
) -> None:
    # Given: an Ion file as Kestra writes them, one struct per line
    source = flow_source(
        """
        - id: rows
          type: storage.Write
          content: |
            {id:1,amount:120.5,country:"FR"}
            {id:2,amount:20,country:"US"}
            {id:3,amount:null}
        - id: big
          type: io.kestra.plugin.core.storage.FilterItems
          from: "{{ outputs.rows.uri }}"
          filterCondition: "{{ amount > 100 }}"
          errorOrNullBehavior: EXCLUDE
        - id: not_null
          type: storage.FilterItems
          from: "{{ outputs.rows.uri }}"
          filterCondition: " {{ value.amount == null }}"
          filterType: EXCLUDE
        """
    )

    # When
    outcome = run_flow(source)

    # Then
    assert outcome.execution.state == State.SUCCESS, [(r.task_id, r.error) for r in outcome.task_runs]
    big = outputs_of(platform, outcome, "big")
    assert big["processedItemsTotal"] == 3 and big["droppedItemsTotal"] == 2
    assert read(platform, big["uri"]) == b'{id:1,amount:120.5,country:"FR"}\n'
    assert outputs_of(platform, outcome, "not_null")["droppedItemsTotal"] == 1


def test_filter_items_fails_on_an_item_the_condition_cannot_evaluate(tmp_path: Path) -> None:
    # Given: the third item has no amount, and errorOrNullBehavior is FAIL (the default)
    ctx = direct_context(tmp_path)
    uri = ctx.put_file("rows.ion", b"{amount:1}\n{amount:2}\n{name:x}\n")
    task = load_task(
        f'{{id: f, type: storage.FilterItems, from: "{uri}", filterCondition: "{{{{ amount > 1 }}}}"}}'
    )

    # When / Then
    with pytest.raises(TaskFailed, match="filterCondition failed on item 3"):
        task.run(ctx)


def test_assert_passes_when_every_condition_holds(run_flow: RunFlow) -> None:
    # Given
    source = flow_source(
        """
        - {id: n, type: Return, format: "3"}
        - id: check
          type: io.kestra.plugin.core.execution.Assert
          conditions:
            - "{{ outputs.n.value | int == 3 }}"
            - "{{ flow.id == 'demo' }}"
        """
    )

    # When / Then
    assert run_flow(source).execution.state == State.SUCCESS


def test_assert_fails_naming_each_failed_condition(run_flow: RunFlow, platform: LocalPlatform) -> None:
    # Given
    source = flow_source(
        """
        - id: check
          type: io.kestra.plugin.core.execution.Assert
          conditions:
            - "{{ 1 == 1 }}"
            - "{{ inputs.count > 10 }}"
        - id: custom
          type: Assert
          allowFailure: true
          conditions: ["{{ false }}"]
          errorMessage: "count was {{ inputs.count }}"
        """,
        inputs="- {id: count, type: INT}",
    )

    # When
    outcome = run_flow(source, {"count": 4})

    # Then
    check = next(r for r in outcome.task_runs if r.task_id == "check")
    assert outcome.execution.state == State.FAILED
    assert check.error is not None and "1 of 2 assertion(s) failed: {{ inputs.count > 10 }}" in check.error
    assert any(
        "assertion failed: {{ inputs.count > 10 }}" in e.message for e in logs_of(platform, outcome, "check")
    )
