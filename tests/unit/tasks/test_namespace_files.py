"""Namespace files: stored under `namespaces/<ns>/files/`, put with `strato files`, and copied into a
script's working directory by `namespaceFiles`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from stratoflow.cli.main import cli
from stratoflow.local import LocalPlatform
from stratoflow.states import State
from stratoflow.store.namespace_files import file_key, list_namespace_files, put_namespace_file
from stratoflow.tasks.errors import TaskFailed
from stratoflow.tasks.scripts.globs import glob_pattern
from tests.unit.tasks.task_helpers import (
    RunFlow,
    direct_context,
    flow_source,
    load_task,
    logs_of,
    task_run,
)

LIST_FILES = """
import os
found = sorted(os.path.relpath(os.path.join(d, f)) for d, _, fs in os.walk('.') for f in fs)
print('::{"outputs": {"files": %s}}::' % __import__('json').dumps(found))
"""


READ_CONFIG = "print(open('config.json').read())\n"


def test_namespace_files_have_their_own_key_prefix(tmp_path: Path) -> None:
    assert file_key("team.etl", "lib/util.py") == "namespaces/team.etl/files/lib/util.py"
    for namespace, path in [("Team", "a.py"), ("team/x", "a.py"), ("team", "../a.py"), ("team", "/a.py")]:
        with pytest.raises(ValueError):
            file_key(namespace, path)


def test_a_namespace_lists_only_its_own_files(tmp_path: Path) -> None:
    ctx = direct_context(tmp_path, namespace="team")
    put_namespace_file(ctx.blobs, "team", "main.py", b"print(1)")
    put_namespace_file(ctx.blobs, "team", "lib/util.py", b"X = 1")
    put_namespace_file(ctx.blobs, "team.other", "main.py", b"other")
    ctx.blobs.put("team/flow/executions/e1/out.txt", b"an execution's file")

    assert list_namespace_files(ctx.blobs, "team") == {
        "lib/util.py": "strato:///namespaces/team/files/lib/util.py",
        "main.py": "strato:///namespaces/team/files/main.py",
    }
    assert ctx.namespace_files() == list_namespace_files(ctx.blobs, "team")


@pytest.mark.parametrize(
    ("glob", "matches", "misses"),
    [
        ("*.py", ["main.py"], ["lib/util.py", "main.pyc"]),
        ("**/*.py", ["main.py", "lib/util.py", "a/b/c.py"], ["main.txt"]),
        ("lib/**", ["lib/util.py", "lib/a/b.sql"], ["library/x", "main.py"]),
        ("data/?.csv", ["data/1.csv"], ["data/10.csv", "data/a/1.csv"]),
        ("{sql,scripts}/*", ["sql/a.sql", "scripts/run.sh"], ["other/a.sql"]),
        ("[ab]*.txt", ["a1.txt", "b.txt"], ["c.txt"]),
        ("[!ab]*.txt", ["c.txt"], ["a1.txt"]),
        ("file (1).txt", ["file (1).txt"], ["file 1.txt"]),
    ],
)
def test_globs_match_paths_as_kestra_does(glob: str, matches: list[str], misses: list[str]) -> None:
    pattern = glob_pattern(glob, "namespaceFiles")

    assert [path for path in matches if pattern.fullmatch(path)] == matches
    assert [path for path in misses if pattern.fullmatch(path)] == []


def test_a_bad_glob_fails_the_task() -> None:
    with pytest.raises(TaskFailed, match="namespaceFiles: unclosed"):
        glob_pattern("{a,b", "namespaceFiles")
    with pytest.raises(TaskFailed, match=r"outputFiles: unclosed '\['"):
        glob_pattern("out/[ab", "outputFiles")


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


def test_strato_files_refuses_bad_names_and_lists_an_empty_home_without_creating_it(tmp_path: Path) -> None:
    runner = CliRunner()
    (tmp_path / "a.py").write_text("x")

    bad_namespace = runner.invoke(
        cli, ["files", "put", "Team", str(tmp_path / "a.py"), "--home", str(tmp_path / "h")]
    )
    bad_path = runner.invoke(
        cli,
        ["files", "put", "team", str(tmp_path / "a.py"), "--to", "../a.py", "--home", str(tmp_path / "h")],
    )
    empty = runner.invoke(cli, ["files", "list", "team", "--json", "--home", str(tmp_path / "none")])

    assert bad_namespace.exit_code == 2 and "invalid namespace 'Team'" in bad_namespace.output
    assert bad_path.exit_code == 2 and "'..'" in bad_path.output
    assert not (tmp_path / "h" / "storage" / "namespaces").exists()
    assert (empty.exit_code, json.loads(empty.output)) == (0, {})
    assert not (tmp_path / "none").exists()


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
