"""Fixtures of the infrastructure tests: the app is synthesized once per test session (per xdist worker)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# The tests import their helpers as `infra_synth` whatever pytest's import mode (importlib puts no test
# folder on sys.path).
sys.path.insert(0, str(Path(__file__).parent))

from infra_synth import CUSTOM_CONTEXT, GRANTS_CONTEXT, Synthesized, synthesize, synthesize_once


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """The stack as `cdk deploy` builds it from cdk.json."""
    return synthesize_once("default", tmp_path_factory.mktemp("cdk-default"))


@pytest.fixture(scope="session")
def custom_synth(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """The stack with every context option changed (a dev stack that is destroyed on delete)."""
    return synthesize(tmp_path_factory.mktemp("cdk-custom"), **CUSTOM_CONTEXT)


@pytest.fixture(scope="session")
def grants_synth(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """The stack with namespace grants and its own boundaries: one flow-role boundary per namespace."""
    return synthesize_once("grants", tmp_path_factory.mktemp("cdk-grants"), **GRANTS_CONTEXT)
