"""The script protocol end to end, with real processes: whole outputs lines, `import kestra`, storage URIs in commands,
`outputFiles` globs, the script's environment (an allow-list), and `pip install` kept out of
Stratoflow's own environment."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from stratoflow.local import LocalPlatform
from stratoflow.states import State
from stratoflow.tasks.errors import TaskFailed
from stratoflow.tasks.scripts.tasks import MAX_OUTPUTS_BYTES
from tests.unit.tasks.task_helpers import RunFlow, direct_context, flow_source, load_task, outputs_of
from tests.unit.tasks.test_script_dependencies import build_wheel


@pytest.mark.parametrize("kind", ["python", "shell"])
def test_an_outputs_line_longer_than_a_log_line_arrives_whole(tmp_path: Path, kind: str) -> None:
    # Given: a value of 1 MiB, far beyond the 64 KiB of a log line
    if kind == "python":
        yaml = '{id: p, type: scripts.Python, script: "print(\'::{\\"outputs\\": {\\"big\\": \\"\' + \'x\' * 2**20 + \'\\"}}::\')"}'
    else:
        yaml = '{id: c, type: scripts.Commands, commands: [\'printf "::{\\"outputs\\": {\\"big\\": \\"%01048576d\\"}}::\\n" 0\']}'
    task = load_task(yaml)
    ctx = direct_context(tmp_path)

    # When
    outputs = task.run(ctx)

    # Then
    assert len(outputs["vars"]["big"]) == 2**20
    assert ctx.logs == []  # no piece of it became a log line


def test_an_outputs_line_beyond_the_limit_fails_naming_the_limit(tmp_path: Path) -> None:
    # Given
    size = MAX_OUTPUTS_BYTES + 10
    task = load_task(
        '{id: p, type: scripts.Python, script: "import sys; sys.stdout.write(\'::{\\"outputs\\": {\\"big\\": \\"\' + \'x\' * '
        f"{size}"
        " + '\\\"}}::\\\\n'); print('after')\"}"
    )
    ctx = direct_context(tmp_path)

    # When / Then
    with pytest.raises(TaskFailed, match=r"larger than the output size limit \(16 MiB\)"):
        task.run(ctx)
    assert [e.message for e in ctx.logs] == ["after"]  # none of the 16 MiB reached the logs


def test_kestra_library_outputs_counter_and_timer(run_flow: RunFlow, platform: LocalPlatform) -> None:
    # Given: Kestra's documented use of its Python library
    source = flow_source(
        """
        - id: py
          type: io.kestra.plugin.scripts.python.Script
          script: |
            from kestra import Kestra
            Kestra.outputs({"rows": 3, "name": "x"})
            Kestra.counter("rows", 3, {"table": "t"})
            Kestra.timer("work", lambda: sum(range(10)))
            Kestra.logger().info("done")
        - {id: next, type: Return, format: "{{ outputs.py.vars.rows + 1 }}"}
        """
    )

    # When
    outcome = run_flow(source)

    # Then
    assert outcome.execution.state == State.SUCCESS
    assert outputs_of(platform, outcome, "py")["vars"] == {"rows": 3, "name": "x"}
    assert outputs_of(platform, outcome, "next")["value"] == 4


def test_storage_uris_in_commands_are_local_files(run_flow: RunFlow, platform: LocalPlatform) -> None:
    # Given: a task writing a file, and tasks reading it by its URI as Kestra's flows do
    source = flow_source(
        """
        - id: make
          type: scripts.Commands
          outputFiles: [data.csv]
          commands: ["printf 'a,b\\n1,2\\n' > data.csv"]
        - id: shell
          type: scripts.Commands
          commands: ["cat {{ outputs.make.outputFiles['data.csv'] }} | wc -l"]
        - id: py
          type: scripts.Python
          script: |
            print(open("{{ outputs.make.outputFiles['data.csv'] }}").read().splitlines()[1])
        """
    )

    # When
    outcome = run_flow(source)

    # Then
    assert outcome.execution.state == State.SUCCESS
    messages = {(e.task_id, e.message.strip()) for e in platform.store.list_logs(outcome.execution.id)}
    assert ("shell", "2") in messages
    assert ("py", "1,2") in messages


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("out/**", ["out/a.txt", "out/deep/b.csv"]),
        ("**.csv", ["out/deep/b.csv", "top.csv"]),
        ("**/*.csv", ["out/deep/b.csv", "top.csv"]),
        ("*.csv", ["top.csv"]),
        ("out/*", ["out/a.txt"]),
        ("{top,out/a}.*", ["out/a.txt", "top.csv"]),
    ],
)
def test_output_files_globs_match_files_as_kestra_does(
    tmp_path: Path, pattern: str, expected: list[str]
) -> None:
    # Given
    task = load_task(
        "{id: c, type: scripts.Commands, outputFiles: ['" + pattern + "'], commands: ["
        "'mkdir -p out/deep', 'echo a > out/a.txt', 'echo b > out/deep/b.csv', 'echo t > top.csv']}"
    )

    # When
    outputs = task.run(direct_context(tmp_path))

    # Then
    assert sorted(outputs["outputFiles"]) == expected


def test_scripts_get_no_credentials_or_settings_of_the_runner(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given: a runner whose environment holds credentials and settings
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "STRATOFLOW_TABLE"):
        monkeypatch.setenv(name, f"runner-{name}")
    monkeypatch.setenv("TZ", "UTC")
    task = load_task(
        '{id: p, type: scripts.Python, env: {MINE: yes}, script: "import os, json; '
        "print(json.dumps(sorted(k for k in os.environ if not k.startswith('LC_')))); "
        "print(os.environ['HOME'] == os.path.dirname(os.getcwd()))\"}"
    )
    ctx = direct_context(tmp_path)

    # When
    task.run(ctx)

    # Then
    names, home_is_the_workdir = (e.message for e in ctx.logs)
    assert set(eval(names)) <= {
        "PATH", "LANG", "TZ", "TMPDIR", "HOME", "PYTHONUNBUFFERED", "PYTHONPATH", "PIP_TARGET",
        "STRATOFLOW_SCRIPT_OF", "MINE",
    }  # fmt: skip
    assert "MINE" in names and "TZ" in names
    assert home_is_the_workdir == "True"


def test_scripts_get_the_flows_own_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given: a flow running under its own role
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "runner-secret")
    ctx = direct_context(tmp_path)
    role = {"aws_access_key_id": "AKIAFLOW", "aws_secret_access_key": "flow-secret", "aws_session_token": "t"}
    monkeypatch.setattr(ctx, "aws_credentials", lambda: role)
    task = load_task(
        "{id: c, type: scripts.Commands, commands: "
        "['echo $AWS_ACCESS_KEY_ID $AWS_SECRET_ACCESS_KEY $AWS_SESSION_TOKEN']}"
    )

    # When
    task.run(ctx)

    # Then
    assert [e.message for e in ctx.logs] == ["AKIAFLOW flow-secret t"]


def test_pip_install_in_before_commands_stays_out_of_stratoflow(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given: Kestra's usual `pip install` line, and one pip cannot take apart (a redirection)
    monkeypatch.setenv("STRATOFLOW_DEPENDENCY_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    first, second = build_wheel(tmp_path, "firstpkg"), build_wheel(tmp_path, "secondpkg")
    task = load_task(
        "{id: p, type: scripts.Python, beforeCommands: ["
        f"'pip install -q {first}', 'pip install --no-deps {second} > /dev/null'"
        '], script: "import firstpkg, secondpkg; print(firstpkg.__file__); print(secondpkg.__file__)"}'
    )

    ctx = direct_context(tmp_path)

    # When
    task.run(ctx)

    # Then: the plain line went to the dependency cache, the other one to the task's own folder
    first_at, second_at = (
        Path(e.message) for e in ctx.logs if e.level == "INFO" and e.message.endswith(".py")
    )
    assert first_at.is_relative_to(tmp_path / "cache")
    assert not second_at.is_relative_to(sys.prefix) and second_at.parent.parent.name == "packages"
    assert not any(Path(sys.prefix).glob("lib/python*/site-packages/*pkg"))
