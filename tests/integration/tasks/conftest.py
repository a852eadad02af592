"""Fixtures for the AWS task tests: moto with fake credentials, and the local platform."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws

from stratoflow.cloudsim import moto_environment
from stratoflow.engine import VirtualClock
from stratoflow.local import LocalPlatform, RunOutcome
from tests.integration.tasks.postgres_server import Postgres, postgres_server
from tests.unit.tasks.task_helpers import RunFlow, run_on


@pytest.fixture
def aws() -> Iterator[None]:
    """Every AWS call inside the test goes to moto (us-east-1, account 123456789012)."""
    with moto_environment(), mock_aws():
        yield


@pytest.fixture
def platform(tmp_path: Path, aws: None) -> Iterator[LocalPlatform]:
    platform = LocalPlatform(tmp_path / "home", clock=VirtualClock())
    yield platform
    platform.close()


@pytest.fixture
def run_flow(platform: LocalPlatform) -> RunFlow:
    def run(source: str, inputs: dict[str, Any] | None = None) -> RunOutcome:
        return run_on(platform, source, inputs)

    return run


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """A real PostgreSQL on loopback for the whole session (see postgres_server)."""
    with postgres_server() as server:
        yield server
