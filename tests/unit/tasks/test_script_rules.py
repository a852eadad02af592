"""The rules of script tasks that need no process: output-file globs, `pip install` lines taken out of
`beforeCommands`, the environments a script and its installer get, and who gets credentials."""

from __future__ import annotations

from pathlib import Path

import pytest

from stratoflow.execution.runner import TaskRunner
from stratoflow.execution.secrets import EnvironmentSecrets
from stratoflow.flow import load_flow
from stratoflow.tasks.scripts.before_commands import split_pip_installs
from stratoflow.tasks.scripts.environment import installer_environment, script_environment
from stratoflow.tasks.scripts.globs import glob_pattern
from tests.unit.tasks.task_helpers import flow_source


@pytest.mark.parametrize(
    ("pattern", "matches", "misses"),
    [
        ("out/**", ["out/a.txt", "out/deep/b.csv"], ["top.csv", "outside/x"]),
        ("**.csv", ["top.csv", "out/deep/b.csv"], ["out/a.txt"]),
        ("**/*.csv", ["top.csv", "out/deep/b.csv"], ["out/a.txt"]),
        ("*.csv", ["top.csv"], ["out/deep/b.csv"]),
        ("a/*.txt", ["a/b.txt"], ["a/b/c.txt"]),
        ("a/?.txt", ["a/b.txt"], ["a/bc.txt"]),
        ("[!x]*.txt", ["y.txt"], ["x.txt"]),
        ("{top,out/a}.*", ["top.csv", "out/a.txt"], ["out/b.txt"]),
        ("{a,{b,c}}.txt", ["a.txt", "c.txt"], ["d.txt"]),
    ],
)
def test_output_file_globs_have_kestras_meaning(pattern: str, matches: list[str], misses: list[str]) -> None:
    matcher = glob_pattern(pattern, "outputFiles")

    assert all(matcher.fullmatch(name) for name in matches)
    assert not any(matcher.fullmatch(name) for name in misses)


def test_plain_pip_install_lines_become_requirements() -> None:
    # Given Kestra's usual lines, and lines that mean more than a list of requirements
    lines = [
        'pip install requests "pandas>=2"',
        "python -m pip install -q --upgrade y",
        "pip3 install --no-cache-dir z==1.0",
        "pip install -r requirements.txt",
        "pip install --index-url https://x/simple w",
        "pip install x > log",
        "pip install pandas>=2",
        "pip install $PACKAGE",
        "echo hi",
    ]

    # When
    kept, requirements = split_pip_installs(lines)

    # Then
    assert requirements == ["requests", "pandas>=2", "y", "z==1.0"]
    assert kept == lines[3:]


def test_the_installer_gets_the_runners_pip_settings_and_the_script_does_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given
    monkeypatch.setenv("PIP_INDEX_URL", "https://pypi.example/simple")
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy:3128")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "runner-secret")

    # When
    script = script_environment({"MINE": "1"}, home=tmp_path, packages=tmp_path / "p")
    installer = installer_environment(script)

    # Then
    assert not {"PIP_INDEX_URL", "HTTPS_PROXY", "AWS_SECRET_ACCESS_KEY"} & set(script)
    assert script["MINE"] == "1" and script["HOME"] == str(tmp_path)
    assert installer["PIP_INDEX_URL"] == "https://pypi.example/simple"
    assert installer["HTTPS_PROXY"] == "http://proxy:3128"
    assert installer["PIP_TARGET"] == str(tmp_path / "p")  # the task's own, not the runner's
    assert "AWS_SECRET_ACCESS_KEY" not in installer


def test_the_flows_credentials_become_the_scripts_aws_variables(tmp_path: Path) -> None:
    role = {"aws_access_key_id": "AKIAFLOW", "aws_secret_access_key": "s", "aws_session_token": "t"}

    env = script_environment({}, home=tmp_path, packages=tmp_path / "p", credentials=role)

    assert (env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"], env["AWS_SESSION_TOKEN"]) == (
        "AKIAFLOW",
        "s",
        "t",
    )


def test_scripts_of_a_flow_without_a_role_get_no_credentials_provider() -> None:
    # Given a task runner with a role provider, a flow of scripts alone, and one with an AWS task
    provider = object()
    runner = TaskRunner(store=None, blobs=None, credentials=provider, secrets=EnvironmentSecrets({}))  # type: ignore[arg-type]
    scripts_only = load_flow(flow_source("- {id: c, type: scripts.Commands, commands: ['true']}"))
    with_aws = load_flow(
        flow_source(
            "- {id: c, type: scripts.Commands, commands: ['true']}\n"
            "- {id: up, type: aws.s3.Upload, bucket: b, key: k, from: 'x'}"
        )
    )

    # When / Then: only the flow the deployer gives a role asks for its credentials
    assert runner.credentials_for(scripts_only) is None
    assert runner.credentials_for(with_aws) is provider


def test_outputs_lines_arrive_whole_across_reads_and_a_too_large_one_is_dropped() -> None:
    # Given a stream read in arbitrary pieces, with a whole-line limit of 100 bytes
    from stratoflow.tasks.scripts.process import _Lines

    lines: list[str] = []
    splitter = _Lines("stdout", lambda _, line: lines.append(line), b"::{", 100)

    # When
    for piece in [
        b"::",
        b'{"a"',
        b":1}::\nhello\n::x\n",
        b"::{" + b"y" * 200,
        b"zz\nafter",
        b'\n::{"b":2}::',
    ]:
        splitter.feed(piece)
    splitter.close()

    # Then: whole lines whole, the oversized one gone without a trace in the lines, and flagged
    assert lines == ['::{"a":1}::', "hello", "::x", "after", '::{"b":2}::']
    assert splitter.too_large


def test_other_long_lines_are_cut_into_log_sized_pieces() -> None:
    from stratoflow.tasks.scripts.process import MAX_LINE_BYTES, _Lines

    sizes: list[int] = []
    splitter = _Lines("stdout", lambda _, line: sizes.append(len(line)), b"::{", 10)
    splitter.feed(b"a" * (2 * MAX_LINE_BYTES + 5) + b"\n")
    splitter.close()

    assert sizes == [MAX_LINE_BYTES, MAX_LINE_BYTES, 5]
