"""What `strato run` pays before and besides running the flow: the imports of its path, and the
templates it compiles. Speed itself is measured in bench/, never asserted; these keep the work away."""

from __future__ import annotations

import json
import os
import subprocess
import sys
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
HELLO = ROOT / "bench" / "flows" / "w1_hello.yaml"

# Run `strato run` in a fresh interpreter and print which of these modules it imported.
PROBE = """
import json, sys
from stratoflow.cli.main import main
try:
    main(sys.argv[1:])
except SystemExit as end:
    code = end.code
watched = {watched!r}
print(json.dumps({{"code": code, "imported": sorted(m for m in watched if m in sys.modules)}}))
"""
WATCHED = [
    "stratoflow.compiler",  # compiling: only when the source is not deployed yet
    "stratoflow.tasks.http",  # task modules the flow does not use
    "stratoflow.tasks.flowable",
    "stratoflow.tasks.kv",
    "urllib.request",
    "ssl",
    "rich",  # the live view, not `--json`
    "boto3",
    "fastapi",  # the console's web stack: `strato server` only
    "uvicorn",
    "stratoflow.console",
    "stratoflow.tasks.core",  # the one the flow uses
]


def run_in_new_process(flow: Path, home: Path) -> dict[str, Any]:
    env = {key: value for key, value in os.environ.items() if key != "STRATOFLOW_HOME"}
    command = [sys.executable, "-c", PROBE.format(watched=WATCHED), "run", str(flow), "--json"]
    done = subprocess.run(
        [*command, "--skip-waits", "--home", str(home)], env=env, capture_output=True, text=True, check=True
    )
    document: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return document


def test_running_an_unchanged_flow_again_imports_only_what_it_uses(tmp_path: Path) -> None:
    # Given a flow of core tasks that ran once (its first run deploys: it compiles the flow)
    first = run_in_new_process(HELLO, tmp_path)
    assert first["code"] == 0 and "stratoflow.compiler" in first["imported"]

    # When it runs again in a new process
    again = run_in_new_process(HELLO, tmp_path)

    # Then neither the compiler nor unused task families, HTTP/TLS, rich, boto3 nor the console's web
    # stack were imported
    assert again == {"code": 0, "imported": ["stratoflow.tasks.core"]}


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
