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


def test_every_script_task_type_carries_the_mark_that_starts_the_warm_interpreter_ahead() -> None:
    # Given: every script task type and alias the registry knows
    from stratoflow.flow import registry
    from stratoflow.tasks.scripts import warm
    from stratoflow.tasks.scripts.tasks import ScriptTask

    names = [
        name for name in registry.all_names() if issubclass(registry.resolve(name) or object, ScriptTask)
    ]

    # Then: `strato run` finds each in a flow's source (a flow naming one gets its interpreter early)
    assert len(names) >= 6
    assert [name for name in names if not any(mark.decode() in name for mark in warm.SCRIPT_TYPE_MARKS)] == []


@pytest.mark.parametrize(
    ("source", "started"),
    [
        (b"tasks:\n  - id: t\n    type: io.kestra.plugin.scripts.python.Script\n", True),
        (b"tasks:\n  - id: t\n    type: scripts.Commands\n", True),
        (b"tasks:\n  - id: t\n    type: Return\n    format: scripts\n", False),
    ],
)
def test_the_warm_interpreter_starts_ahead_only_for_a_flow_naming_a_script_task(
    source: bytes, started: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given: templates recorded instead of started
    from stratoflow.tasks.scripts import warm

    made: list[str] = []
    monkeypatch.setattr(warm, "template_for", lambda pythonpath, env, key: made.append(key))

    # When
    warm.start_ahead(source)

    # Then
    assert len(made) == (1 if started else 0)
