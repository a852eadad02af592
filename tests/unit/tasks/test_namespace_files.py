"""Namespace files: stored under `namespaces/<ns>/files/`, put with `strato files`, and copied into a
script's working directory by `namespaceFiles`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from stratoflow.cli.main import cli
from stratoflow.store.namespace_files import file_key, list_namespace_files, put_namespace_file
from stratoflow.tasks.errors import TaskFailed
from stratoflow.tasks.scripts.globs import glob_pattern
from tests.unit.tasks.task_helpers import (
    direct_context,
)


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
