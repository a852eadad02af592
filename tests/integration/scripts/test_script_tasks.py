"""Script tasks run through the real runner: outputs, files in and out, failures, timeouts, logs.

The tests here run scripts and shells (real processes); the in-process ones are in tests/unit/tasks/test_script_tasks.py.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from stratoflow.local import LocalPlatform
from stratoflow.states import State
from stratoflow.tasks.errors import TaskFailed, TaskTimeout
from tests.unit.tasks.task_helpers import (
    RunFlow,
    direct_context,
    flow_source,
    load_task,
    logs_of,
    outputs_of,
    task_run,
)


def test_python_outputs_vars_exit_code_and_logs(run_flow: RunFlow, platform: LocalPlatform) -> None:
    # Given
    source = flow_source(
        """
        - id: py
          type: scripts.Python
          script: |
            import json, sys
            print("hello from {{ flow.id }}")
            print("careful", file=sys.stderr)
            print("::" + json.dumps({"outputs": {"rows": 3, "names": ["a", "b"]}}) + "::")
        - {id: next, type: Return, format: "{{ outputs.py.vars.rows + 1 }}"}
        """
    )

    # When
    outcome = run_flow(source)

    # Then
    assert outcome.execution.state == State.SUCCESS
    outputs = outputs_of(platform, outcome, "py")
    assert outputs == {"exitCode": 0, "vars": {"rows": 3, "names": ["a", "b"]}, "outputFiles": {}}
    assert outputs_of(platform, outcome, "next")["value"] == 4
    logs = [(e.level, e.message) for e in logs_of(platform, outcome, "py")]
    assert ("INFO", "hello from demo") in logs
    assert ("WARN", "careful") in logs
    assert not any("outputs" in message for _, message in logs)


def test_kestra_script_aliases_load_and_run(run_flow: RunFlow, platform: LocalPlatform) -> None:
    source = flow_source(
        """
        - id: py
          type: io.kestra.plugin.scripts.python.Script
          containerImage: python:3.11-slim
          script: |
            print('::{"outputs": {"x": 1}}::')
        - id: sh
          type: io.kestra.plugin.scripts.shell.Commands
          commands: ['echo "::{\\"outputs\\": {\\"y\\": 2}}::"']
        - id: shell
          type: io.kestra.plugin.scripts.shell.Script
          script: |
            echo '::{"outputs":{"z":3}}::'
        - id: pycmd
          type: io.kestra.plugin.scripts.python.Commands
          commands: ["python -c 'print(40 + 2)'"]
        """
    )

    outcome = run_flow(source)

    assert outcome.execution.state == State.SUCCESS
    assert outputs_of(platform, outcome, "py")["vars"] == {"x": 1}
    assert outputs_of(platform, outcome, "sh")["vars"] == {"y": 2}
    assert outputs_of(platform, outcome, "shell")["vars"] == {"z": 3}
    assert [e.message for e in logs_of(platform, outcome, "pycmd")] == ["42"]
    assert any("containerImage ignored" in e.message for e in logs_of(platform, outcome, "py"))


def test_input_files_in_and_output_files_out(run_flow: RunFlow, platform: LocalPlatform) -> None:
    # Given: a file made by one task is an input file of the next, which writes files of its own
    source = flow_source(
        """
        - id: make
          type: scripts.Commands
          commands:
            - mkdir -p out
            - printf 'a,b\\n1,2\\n' > out/data.csv
            - echo ignored > other.txt
          outputFiles: ["out/*.csv"]
        - id: transform
          type: scripts.Python
          inputFiles:
            data.csv: "{{ outputs.make.outputFiles['out/data.csv'] }}"
            config/settings.json: '{"factor": 10}'
          outputFiles: ["*.json"]
          script: |
            import csv, json
            factor = json.load(open("config/settings.json"))["factor"]
            rows = list(csv.DictReader(open("data.csv")))
            json.dump([{k: int(v) * factor for k, v in r.items()} for r in rows], open("result.json", "w"))
        - {id: check, type: Return, format: "{{ read(outputs.transform.outputFiles['result.json']) }}"}
        """
    )

    # When
    outcome = run_flow(source)

    # Then
    assert outcome.execution.state == State.SUCCESS
    made = outputs_of(platform, outcome, "make")["outputFiles"]
    assert list(made) == ["out/data.csv"]
    assert platform.blobs.get(made["out/data.csv"]) == b"a,b\n1,2\n"
    assert list(outputs_of(platform, outcome, "transform")["outputFiles"]) == ["result.json"]
    assert outputs_of(platform, outcome, "check")["value"] == '[{"a": 10, "b": 20}]'


def test_a_script_file_from_storage_input_files_or_disk(tmp_path: Path) -> None:
    # Given
    ctx = direct_context(tmp_path)
    uri = ctx.put_file("job.py", b"print('from storage')")
    stored = load_task(f"{{id: p, type: scripts.Python, file: '{uri}'}}")
    inline = load_task(
        "{id: p, type: scripts.Python, file: main.py, inputFiles: {main.py: \"print('from inputs')\"}}"
    )

    local_file = tmp_path / "local.py"
    local_file.write_text("print('from disk')")
    local = load_task(f"{{id: p, type: scripts.Python, file: '{local_file}'}}")

    # When
    stored.run(ctx)
    inline.run(ctx)
    local.run(ctx)

    # Then
    assert [e.message for e in ctx.logs] == ["from storage", "from inputs", "from disk"]
    with pytest.raises(TaskFailed, match=r"script file 'missing\.py' not found"):
        load_task("{id: p, type: scripts.Python, file: missing.py}").run(ctx)


def test_a_non_zero_exit_fails_with_the_exit_code(run_flow: RunFlow, platform: LocalPlatform) -> None:
    # When
    outcome = run_flow(
        flow_source(
            """
            - id: bad
              type: scripts.Commands
              commands: ["echo working", "echo 'no such table' >&2", "exit 3", "echo never"]
            """
        )
    )

    # Then
    run = task_run(outcome, "bad")
    assert run.state == State.FAILED
    assert run.error is not None and "exited with code 3: no such table" in run.error
    assert "never" not in [e.message for e in logs_of(platform, outcome, "bad")]


def test_fail_fast_false_runs_every_command(tmp_path: Path) -> None:
    task = load_task("{id: c, type: scripts.Commands, failFast: false, commands: ['false', echo after]}")
    ctx = direct_context(tmp_path)

    outputs = task.run(ctx)

    assert outputs["exitCode"] == 0
    assert [e.message for e in ctx.logs] == ["after"]


def test_a_python_exception_fails_the_task(tmp_path: Path) -> None:
    task = load_task("{id: p, type: scripts.Python, script: \"raise ValueError('bad row')\"}")

    with pytest.raises(TaskFailed, match=r"exited with code 1: ValueError: bad row"):
        task.run(direct_context(tmp_path))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/stat")
    # An orphan killed with its group may stay a zombie until init reaps it: it is not running.
    return not (status.exists() and status.read_text().split(") ", 1)[1].startswith("Z"))


def test_the_timeout_kills_the_whole_process_tree(
    run_flow: RunFlow, platform: LocalPlatform, tmp_path: Path
) -> None:
    # Given: a script whose child runs on in the background
    pid_file = tmp_path / "child.pid"
    source = flow_source(
        f"""
        - id: slow
          type: scripts.Commands
          timeout: PT0.3S
          commands:
            - sleep 60 &
            - echo $! > {pid_file}
            - wait
        """
    )

    # When
    outcome = run_flow(source)

    # Then
    run = task_run(outcome, "slow")
    assert run.state == State.FAILED
    assert "longer than its timeout" in (run.error or "")
    assert any(e.message.startswith("TaskTimeout:") for e in logs_of(platform, outcome, "slow"))
    assert not _alive(int(pid_file.read_text()))


def test_background_children_do_not_outlive_a_finished_script(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    task = load_task(
        f"{{id: c, type: scripts.Commands, commands: ['sleep 60 > /dev/null 2>&1 & echo $! > {pid_file}']}}"
    )

    task.run(direct_context(tmp_path))

    assert not _alive(int(pid_file.read_text()))


def test_a_timeout_raises_task_timeout(tmp_path: Path) -> None:
    task = load_task("{id: p, type: scripts.Python, timeout: PT0.2S, script: 'import time; time.sleep(30)'}")

    with pytest.raises(TaskTimeout):
        task.run(direct_context(tmp_path))


def test_env_is_passed_and_local_secrets_are_not(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given
    monkeypatch.setenv("SECRET_TOKEN", "hunter2")
    task = load_task(
        "{id: c, type: scripts.Commands, env: {GREETING: hi, TOKEN: \"{{ secret('TOKEN') }}\"}, "
        "commands: ['echo \"$GREETING ${SECRET_TOKEN:-none} $TOKEN\"']}"
    )
    ctx = direct_context(tmp_path)

    # When
    task.run(ctx)

    # Then: the secret reached the script through env only, and is masked in its log line
    assert [e.message for e in ctx.logs] == ["hi none ******"]


def test_the_working_directory_is_empty_for_each_run_and_emptied_after(tmp_path: Path) -> None:
    # Given: a task that leaves files in its working directory and its HOME
    task = load_task(
        "{id: c, type: scripts.Commands, commands: [pwd, 'ls -A | wc -l', 'ls -A \"$HOME\" | wc -l', "
        "'touch left.txt \"$HOME/left-in-home.txt\"', 'mkdir -p out/deep && chmod 500 out']}"
    )
    ctx = direct_context(tmp_path)

    # When
    task.run(ctx)
    task.run(ctx)

    # Then: the second run sees nothing of the first one's, and nothing is left after either
    first, count, home_count, second, again, home_again = [e.message.strip() for e in ctx.logs]
    assert count == again == "0"
    assert home_count == home_again == "1"  # HOME holds only the working directory itself
    for folder in (Path(first), Path(second)):
        assert not folder.exists() or not any(folder.iterdir())


def test_a_process_that_escaped_its_task_leaves_nothing_in_the_next_tasks_folders(tmp_path: Path) -> None:
    # Given: a task that leaves a process behind in a session of its own (out of the task's process
    # group; the task ends once it runs), which writes into its working directory and HOME once told to
    go, done = tmp_path / "go", tmp_path / "done"
    env = {"GO": str(go), "DONE": str(done), "STARTED": str(tmp_path / "started")}
    escaping = load_task(
        json.dumps(
            {
                "id": "escape",
                "type": "scripts.Commands",
                "env": env,
                "commands": [
                    'setsid sh -c \'touch "$STARTED"; n=0;'
                    ' while [ ! -e "$GO" ] && [ $n -lt 2000 ]; do sleep 0.01; n=$((n+1)); done;'
                    ' echo late > late.txt; echo late > "$HOME/late.txt"; touch "$DONE"\''
                    " </dev/null >/dev/null 2>&1 &",
                    'n=0; while [ ! -e "$STARTED" ] && [ $n -lt 2000 ]; do sleep 0.01; n=$((n+1)); done',
                ],
            }
        )
    )
    # ... and a next task that lets it write while it runs, then looks at its own folders
    looking = load_task(
        json.dumps(
            {
                "id": "look",
                "type": "scripts.Commands",
                "env": env,
                "commands": [
                    'touch "$GO"',
                    'n=0; while [ ! -e "$DONE" ] && [ $n -lt 2000 ]; do sleep 0.01; n=$((n+1)); done',
                    "ls -A | wc -l",
                    'ls -A "$HOME"',
                ],
            }
        )
    )
    ctx = direct_context(tmp_path)

    # When
    escaping.run(ctx)
    looking.run(ctx)

    # Then: the left-behind process did write (it ran), but into nothing the next task sees
    assert done.exists()
    assert [e.message.strip() for e in ctx.logs] == ["0", "work"]


def test_before_commands_run_first(tmp_path: Path) -> None:
    task = load_task(
        "{id: p, type: scripts.Python, beforeCommands: ['echo setup > ready.txt'], "
        "script: \"print(open('ready.txt').read().strip())\"}"
    )
    ctx = direct_context(tmp_path)

    task.run(ctx)

    assert [e.message for e in ctx.logs] == ["setup"]
