"""What `strato run` pays before and besides running the flow: the imports of its path, and the
templates it compiles. Speed itself is measured in bench/, never asserted; these keep the work away.
The imports of a fresh `strato run` are checked in tests/integration/test_fresh_imports.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from stratoflow.cli.main import cli
from stratoflow.cli.run_cmd import TEMPLATE_CACHE
from stratoflow.expressions import environment
from stratoflow.expressions.environment import compile_template

ROOT = Path(__file__).resolve().parents[3]
CHAIN = ROOT / "bench" / "flows" / "w2_chain100.yaml"


def test_a_second_run_loads_the_templates_the_first_one_compiled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a 100-task chain run once: its 101 templates (100 tasks, 1 output) are kept under the home
    runner = CliRunner()
    compile_template.cache_clear()
    args = ["run", str(CHAIN), "--json", "--skip-waits", "--home", str(tmp_path)]
    assert runner.invoke(cli, args).exit_code == 0
    assert len(list((tmp_path / TEMPLATE_CACHE).glob("*.tpl"))) == 101

    # When it runs again as a new process would (nothing compiled in memory), generating no code
    compile_template.cache_clear()

    def refuse(source: str) -> Any:
        raise AssertionError(f"compiled again: {source!r}")

    monkeypatch.setattr(environment, "generate", refuse)
    result = runner.invoke(cli, args)

    # Then it validated and ran the flow from the cached templates alone
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["outputs"] == {"result": 100}
    compile_template.cache_clear()
