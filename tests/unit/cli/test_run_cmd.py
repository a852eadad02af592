"""`strato run`, `compile`, `graph`, `executions` and `logs` as a user calls them."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from stratoflow.cli.main import cli

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "examples"


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_run_json_document_for_hello(tmp_path: Path) -> None:
    code, out, _ = invoke(
        "run", str(EXAMPLES / "hello.yaml"), "--input", "name=Ada", "--json", "--home", str(tmp_path)
    )
    assert code == 0
    document = json.loads(out)
    assert document["state"] == "SUCCESS"
    assert document["flow"] == {"namespace": "examples", "id": "hello", "revision": 1}
    assert document["outputs"] == {"greeting": "Hello, Ada!"}
    assert [(r["taskId"], r["state"], r["attempts"]) for r in document["taskRuns"]] == [
        ("greet", "SUCCESS", 1),
        ("greeting", "SUCCESS", 1),
    ]
    assert set(document["taskRuns"][0]) == {
        "id",
        "taskId",
        "parentTaskRunId",
        "value",
        "state",
        "attempts",
        "outputs",
    }


def test_run_examples_end_to_end(tmp_path: Path) -> None:
    # Given every example, when each runs, then it ends as its description says
    expected = {"hello": "SUCCESS", "etl": "SUCCESS", "retries": "WARNING", "subflow_parent": "SUCCESS"}
    for name, state in expected.items():
        code, out, err = invoke(
            "run",
            str(EXAMPLES / f"{name}.yaml"),
            "--json",
            "--skip-waits",
            "--flows-dir",
            str(EXAMPLES),
            "--home",
            str(tmp_path),
        )
        assert json.loads(out)["state"] == state, (name, err)
        assert code == 0


def test_an_unchanged_flow_keeps_its_revision_and_a_changed_one_gets_the_next(tmp_path: Path) -> None:
    flow = tmp_path / "f.yaml"
    flow.write_text("id: f\nnamespace: t\ntasks:\n  - {id: a, type: Log, message: one}\n")
    home = str(tmp_path / "home")
    first = json.loads(invoke("run", str(flow), "--json", "--home", home)[1])
    again = json.loads(invoke("run", str(flow), "--json", "--home", home)[1])
    flow.write_text("id: f\nnamespace: t\ntasks:\n  - {id: a, type: Log, message: two}\n")
    changed = json.loads(invoke("run", str(flow), "--json", "--home", home)[1])
    assert [first["flow"]["revision"], again["flow"]["revision"], changed["flow"]["revision"]] == [1, 1, 2]


def test_a_failed_run_exits_1(tmp_path: Path) -> None:
    flow = tmp_path / "f.yaml"
    flow.write_text("id: f\nnamespace: t\ntasks:\n  - {id: a, type: Fail, errorMessage: nope}\n")
    code, out, _ = invoke("run", str(flow), "--json", "--home", str(tmp_path / "h"))
    assert code == 1
    assert json.loads(out)["state"] == "FAILED"


def test_a_refused_run_exits_2_naming_the_input_and_runs_nothing(tmp_path: Path) -> None:
    flow = tmp_path / "f.yaml"
    flow.write_text(
        "id: f\nnamespace: t\ninputs:\n  - {id: count, type: INT, min: 1}\ntasks:\n  - {id: a, type: Log, message: x}\n"
    )
    home = tmp_path / "h"
    code, _, err = invoke("run", str(flow), "--input", "count=zero", "--home", str(home))
    assert code == 2
    assert "count" in err
    code, out, _ = invoke("executions", "list", "--json", "--home", str(home))
    assert code == 0 and json.loads(out) == []


def test_an_invalid_flow_exits_2_with_located_diagnostics(tmp_path: Path) -> None:
    flow = tmp_path / "f.yaml"
    flow.write_text("id: f\nnamespace: t\ntasks:\n  - id: a\n    type: Lgo\n")
    code, _, err = invoke("run", str(flow), "--home", str(tmp_path / "h"))
    assert code == 2
    assert f"{flow}:5:" in err
    assert "Log" in err


def test_history_commands_show_what_ran(tmp_path: Path) -> None:
    home = str(tmp_path)
    document = json.loads(invoke("run", str(EXAMPLES / "hello.yaml"), "--json", "--home", home)[1])
    execution_id = document["executionId"]
    code, out, _ = invoke("executions", "list", "--json", "--home", home)
    assert code == 0 and [e["id"] for e in json.loads(out)] == [execution_id]
    code, out, _ = invoke("executions", "show", execution_id, "--json", "--home", home)
    assert code == 0 and [r["taskId"] for r in json.loads(out)["taskRuns"]] == ["greet", "greeting"]
    code, out, _ = invoke("executions", "show", execution_id, "--home", home)
    assert code == 0 and "greeting" in out
    code, out, _ = invoke("logs", execution_id, "--home", home)
    assert code == 0 and "Hello, World!" in out
    code, _, err = invoke("logs", "nope", "--home", home)
    assert code == 1 and "nope" in err


def test_compile_prints_asl_and_graph_prints_mermaid(tmp_path: Path) -> None:
    code, out, err = invoke("compile", str(EXAMPLES / "etl.yaml"))
    assert code == 0
    assert json.loads(out)["StartAt"] == "extract"
    # etl has a ForEach: its distributed Map writes results to the stack's data bucket
    assert "placeholders: DataBucketName, TaskRunnerFunctionArn" in err
    target = tmp_path / "out.json"
    assert invoke("compile", str(EXAMPLES / "etl.yaml"), "-o", str(target))[0] == 0
    assert json.loads(target.read_text())["StartAt"] == "extract"
    code, out, _ = invoke("graph", str(EXAMPLES / "etl.yaml"))
    assert code == 0
    assert out.startswith("flowchart TD")
    assert "t_per_region" in out and "t_transform" in out


def test_control_commands_refuse_what_makes_no_sense_and_restart_runs_here(tmp_path: Path) -> None:
    flow = tmp_path / "f.yaml"
    flow.write_text(
        "id: f\nnamespace: t\ntasks:\n"
        "  - {id: a, type: Return, format: kept}\n"
        "  - {id: b, type: Fail, condition: '{{ taskrun.attemptsCount < 2 }}'}\n"
    )
    home = str(tmp_path / "h")
    code, out, _ = invoke("run", str(flow), "--json", "--home", home)
    execution_id = json.loads(out)["executionId"]
    assert code == 1
    code, _, err = invoke("resume", execution_id, "--home", home)
    assert code == 1 and "nothing to resume" in err
    code, _, err = invoke("kill", execution_id, "--home", home)
    assert code == 1 and "FAILED" in err
    code, out, _ = invoke("restart", execution_id, "--json", "--home", home)
    assert code == 0
    document = json.loads(out)
    assert document["executionId"] == execution_id and document["state"] == "SUCCESS"
    assert [r["attempts"] for r in document["taskRuns"]] == [1, 2]
    code, _, err = invoke("restart", execution_id, "--home", home)
    assert code == 1 and "only a FAILED or KILLED" in err
    code, out, err = invoke("replay", execution_id, "--from", "b", "--json", "--home", home)
    replayed = json.loads(out)
    # b fails on its first attempt again in the new execution; a was reused, not re-run
    assert code == 1 and replayed["executionId"] != execution_id
    assert replayed["labels"]["system.replayOf"] == execution_id
    first = replayed["taskRuns"][0]
    assert (first["taskId"], first["attempts"], first["outputs"]) == ("a", 1, {"value": "kept"})
    code, out, _ = invoke("logs", execution_id, "--follow", "--home", home)
    assert code == 0


def test_run_prints_the_flows_warnings_and_runs_it(tmp_path: Path) -> None:
    # Given a Kestra flow reading a task that does not exist, guarded by ??
    flow = tmp_path / "f.yaml"
    flow.write_text(
        "id: f\nnamespace: t\ntasks:\n  - {id: a, type: Return, format: \"{{ outputs.nope.value ?? 'none' }}\"}\n"
    )

    # When
    code, _, err = invoke("run", str(flow), "--home", str(tmp_path / "h"))

    # Then
    assert code == 0
    assert f"{flow}:4:35: warning: tasks[0].format: 'outputs.nope' refers to no task" in err
