"""Namespace files: stored under `namespaces/<ns>/files/`, put with `strato files`, and copied into a
script's working directory by `namespaceFiles`.

The tests here run scripts (real interpreters); the in-process ones are in tests/unit/tasks/test_namespace_files.py.
"""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from stratoflow.cli.main import cli
from stratoflow.local import LocalPlatform
from stratoflow.states import State
from stratoflow.store.namespace_files import put_namespace_file
from tests.unit.tasks.task_helpers import (
    RunFlow,
    direct_context,
    flow_source,
    load_task,
    logs_of,
    task_run,
)


def test_a_script_gets_the_selected_namespace_files_and_its_own_inputs_win(tmp_path: Path) -> None:
    # Given files of the namespace, and of another one
    ctx = direct_context(tmp_path, namespace="team")
    for path in ["main.py", "lib/util.py", "lib/test_util.py", "notes.md", "config.json"]:
        put_namespace_file(ctx.blobs, "team", path, b"namespace")
    put_namespace_file(ctx.blobs, "other", "secret.py", b"not yours")
    task = load_task(
        "{id: p, type: scripts.Python, "
        "namespaceFiles: {enabled: true, include: ['**/*.py', 'config.json'], exclude: ['**/test_*']}, "
        "inputFiles: {config.json: mine}, "
        f"script: {json.dumps(LIST_FILES + READ_CONFIG)}}}"
    )

    # When
    outputs = task.run(ctx)

    # Then the included files are there, the excluded and other namespaces' are not
    assert outputs["vars"]["files"] == ["config.json", "lib/util.py", "main.py"]
    # And an input file of the task replaces the namespace's file of the same name
    assert ctx.logs[-1].message == "mine"


def test_namespace_files_are_off_unless_enabled(tmp_path: Path) -> None:
    ctx = direct_context(tmp_path, namespace="team")
    put_namespace_file(ctx.blobs, "team", "main.py", b"x")

    for yaml in ["", "namespaceFiles: {enabled: false}, "]:
        task = load_task(f"{{id: p, type: scripts.Python, {yaml}script: {json.dumps(LIST_FILES)}}}")
        assert task.run(ctx)["vars"]["files"] == []


def test_strato_files_put_then_a_flow_runs_the_namespace_script(tmp_path: Path) -> None:
    # Given a project folder put as the files of the flow's namespace with the CLI
    project = tmp_path / "project"
    (project / "lib").mkdir(parents=True)
    (project / "lib" / "util.py").write_text("def double(x):\n    return 2 * x\n")
    (project / "main.py").write_text(
        'from lib.util import double\nprint(\'::{"outputs": {"value": %d}}::\' % double(21))\n'
    )
    home = str(tmp_path / "home")
    runner = CliRunner()
    put = runner.invoke(cli, ["files", "put", "tests.tasks", str(project), "--home", home])
    single = runner.invoke(
        cli, ["files", "put", "tests.tasks", str(project / "main.py"), "--to", "bin/run.py", "--home", home]
    )
    listed = runner.invoke(cli, ["files", "list", "tests.tasks", "--home", home])
    assert (put.exit_code, single.exit_code, listed.exit_code) == (0, 0, 0), put.output + single.output
    assert listed.output.splitlines() == ["bin/run.py", "lib/util.py", "main.py"]

    # When a flow of that namespace runs `python main.py` with namespaceFiles (the platform on that home)
    source = flow_source(
        "- {id: run, type: scripts.Commands, namespaceFiles: {enabled: true}, commands: [python main.py]}"
    )
    local = LocalPlatform(tmp_path / "home")
    try:
        flow, record = local.deploy_source(source, "flow.yaml")
        outcome = local.run(local.admit(flow, record, {}))
    finally:
        local.close()

    # Then
    assert outcome.execution.state == State.SUCCESS, task_run(outcome, "run").error
    assert task_run(outcome, "run").outputs["vars"] == {"value": 42}


def test_the_platform_fixture_reads_files_put_in_its_own_storage(
    run_flow: RunFlow, platform: LocalPlatform
) -> None:
    # Given a file put straight into the platform's blob store
    put_namespace_file(platform.blobs, "tests.tasks", "query.sql", b"select 1")

    # When
    outcome = run_flow(
        flow_source(
            "- {id: sh, type: scripts.Commands, namespaceFiles: {enabled: true, include: ['*.sql']}, "
            "commands: ['cat query.sql']}"
        )
    )

    # Then
    assert outcome.execution.state == State.SUCCESS
    assert [e.message for e in logs_of(platform, outcome, "sh")][-1] == "select 1"


LIST_FILES = """
import os
found = sorted(os.path.relpath(os.path.join(d, f)) for d, _, fs in os.walk('.') for f in fs)
print('::{"outputs": {"files": %s}}::' % __import__('json').dumps(found))
"""


READ_CONFIG = "print(open('config.json').read())\n"
