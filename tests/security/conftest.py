"""Fixtures for the security suite: the local platform on a virtual clock, secrets only from the test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stratoflow.engine import VirtualClock
from stratoflow.local import LocalPlatform, RunOutcome
from tests.unit.tasks.task_helpers import RunFlow, run_on


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[LocalPlatform]:
    platform = LocalPlatform(tmp_path / "home", clock=VirtualClock())
    yield platform
    platform.close()


@pytest.fixture
def run_flow(platform: LocalPlatform) -> RunFlow:
    def run(source: str, inputs: dict[str, Any] | None = None) -> RunOutcome:
        return run_on(platform, source, inputs)

    return run


@pytest.fixture(autouse=True)
def no_secrets_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("STRATOFLOW_SECRETS_FILE", str(tmp_path / "no-secrets.env"))
    monkeypatch.delenv("STRATOFLOW_SECRETS_BACKEND", raising=False)
    monkeypatch.delenv("STRATOFLOW_SECRETS_ENCODING", raising=False)
