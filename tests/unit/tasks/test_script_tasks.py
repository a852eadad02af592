"""Script tasks run through the real runner: outputs, files in and out, failures, timeouts, logs.

Only what needs no process here; the scripts that run are in tests/integration/scripts/test_script_tasks.py.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from stratoflow.tasks.errors import TaskFailed
from tests.unit.tasks.task_helpers import (
    direct_context,
    flow_source,
    load_task,
)


@pytest.mark.parametrize(
    ("yaml", "message"),
    [
        ("{id: p, type: scripts.Python}", "tasks[0]: set exactly one of 'script' (inline code) and 'file'"),
        ("{id: c, type: scripts.Commands, commands: []}", "tasks[0].commands: must not be empty"),
    ],
)
def test_invalid_script_tasks_are_load_errors(yaml: str, message: str) -> None:
    from stratoflow.errors import FlowValidationError
    from stratoflow.flow import load_flow

    with pytest.raises(FlowValidationError, match=re.escape(message)):
        load_flow(flow_source(f"- {yaml}"))


def test_input_file_names_cannot_escape_the_working_directory(tmp_path: Path) -> None:
    task = load_task("{id: c, type: scripts.Commands, commands: ['true'], inputFiles: {../evil.txt: x}}")

    with pytest.raises(TaskFailed, match="relative path inside the working directory"):
        task.run(direct_context(tmp_path))


@pytest.mark.parametrize(
    ("yaml", "started"),
    [
        ("{id: t, type: scripts.Python, script: 'print(1)'}", True),
        ("{id: t, type: scripts.Commands, commands: ['echo 1']}", True),
        ("{id: t, type: scripts.Python, script: 'print(1)', interpreter: python3}", True),
        ("{id: t, type: scripts.Python, script: 'print(1)', dependencies: [requests]}", False),
        (
            "{id: t, type: scripts.Python, script: 'print(1)', beforeCommands: ['pip install requests']}",
            False,
        ),
        ("{id: t, type: scripts.Python, script: 'print(1)', taskRunner: {type: aws.runner.Fargate}}", False),
    ],
)
def test_only_scripts_of_the_shared_template_start_it_ahead(
    yaml: str, started: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given: a script task, and the warm interpreter's early start recorded instead of made
    from stratoflow.tasks.scripts import warm

    calls: list[str] = []
    monkeypatch.setattr(warm, "start_ahead", lambda: calls.append("started"))
    task = load_task(yaml)

    # When
    task.start_ahead()

    # Then: only a task forking from the shared template starts it (one with packages of its own, or
    # commands that may install some, gets a template of its own; a container task none here)
    assert calls == (["started"] if started else [])
