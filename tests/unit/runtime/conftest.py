"""Run flows end to end on the local platform: compiled ASL on the local engine, SQLite history."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from stratoflow.engine import VirtualClock
from stratoflow.local import LocalPlatform, RunOutcome

RunFlow = Callable[..., RunOutcome]


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[LocalPlatform]:
    platform = LocalPlatform(tmp_path / "home", clock=VirtualClock())
    yield platform
    platform.close()


@pytest.fixture
def run_flow(platform: LocalPlatform) -> RunFlow:
    """Deploy the YAML (and any extra flows), admit it with inputs, run it to the end."""

    def run(source: str, inputs: dict[str, Any] | None = None, others: tuple[str, ...] = ()) -> RunOutcome:
        for other in others:
            platform.deploy_source(textwrap.dedent(other), "other.yaml")
        flow, record = platform.deploy_source(textwrap.dedent(source), "flow.yaml")
        execution = platform.admit(flow, record, inputs or {})
        return platform.run(execution)

    return run


def by_task(outcome: RunOutcome) -> dict[str, list[Any]]:
    """Task runs grouped by task id, in creation order."""
    grouped: dict[str, list[Any]] = {}
    for run in outcome.task_runs:
        grouped.setdefault(run.task_id, []).append(run)
    return grouped
