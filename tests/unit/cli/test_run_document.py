"""`strato run --json` prints its task runs one at a time: the same document, never all of them held."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from stratoflow.cli.local_runs import print_document, task_run_entry
from stratoflow.domain import TaskRun


def runs(count: int) -> list[TaskRun]:
    return [
        TaskRun(id=f"r{n}", execution_id="e1", task_id="t", value=str(n), outputs={"v": [n, {"s": "a\nb"}]})
        for n in range(count)
    ]


@pytest.mark.parametrize("count", [0, 1, 3])
def test_the_streamed_document_is_the_whole_documents_text(
    count: int, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a document whose outputs hold a key named like the task runs' (nested: it must stay)
    document = {"executionId": "e1", "outputs": {"taskRuns": []}, "taskRuns": [], "stepFunctions": {"n": 1}}

    # When it is printed with task runs streamed in
    print_document(document, iter(runs(count)))

    # Then the text is exactly what dumping the whole document would print
    whole = {**document, "taskRuns": [task_run_entry(run) for run in runs(count)]}
    assert capsys.readouterr().out == json.dumps(whole, indent=2) + "\n"


def test_task_runs_are_taken_one_at_a_time(capsys: pytest.CaptureFixture[str]) -> None:
    # Given task runs that can only be read once, lazily
    taken: list[str] = []

    def lazily() -> Iterator[TaskRun]:
        for run in runs(2):
            taken.append(run.id)
            yield run

    # When the document is printed
    print_document({"executionId": "e1", "taskRuns": []}, lazily())

    # Then every run was printed
    assert [r["id"] for r in json.loads(capsys.readouterr().out)["taskRuns"]] == taken == ["r0", "r1"]
