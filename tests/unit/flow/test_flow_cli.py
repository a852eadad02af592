"""`strato validate` and `strato schema` through click's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from stratoflow.cli.main import cli

VALID = "id: ok\nnamespace: tests\ntasks:\n  - {id: t, type: Log, message: hi}\n"
INVALID = (
    "id: bad\nnamespace: tests\ntasks:\n  - id: t\n    type: Logg\n    message: hi\n  - {id: t, type: Log}\n"
)


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_valid_files_exit_0(runner: CliRunner, tmp_path: Path) -> None:
    path = write(tmp_path, "ok.yaml", VALID)

    result = runner.invoke(cli, ["validate", str(path)])

    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert "1 flow file(s) checked: 1 valid" in result.stderr


def test_invalid_files_exit_1_with_one_problem_per_line(runner: CliRunner, tmp_path: Path) -> None:
    # Given
    path = write(tmp_path, "bad.yaml", INVALID)

    # When
    result = runner.invoke(cli, ["validate", str(path)])

    # Then
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f"{path}:5:5: tasks[0].type: unknown task type 'Logg' (did you mean Log?)",
        f"{path}:7:5: tasks[1]: missing required property 'message'",
        f"{path}:7:6: tasks[1].id: duplicate task id 't' (first defined at line 4)",
    ]
    assert "1 invalid (3 problem(s))" in result.stderr


def test_folders_are_searched_recursively_for_yaml_and_yml(runner: CliRunner, tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", VALID)
    write(tmp_path, "nested/deeper/b.yml", INVALID)
    write(tmp_path, "nested/notes.txt", "not a flow")
    write(tmp_path, ".hidden/c.yaml", INVALID)

    result = runner.invoke(cli, ["validate", str(tmp_path)])

    assert result.exit_code == 1
    assert {line.split(":")[0] for line in result.stdout.splitlines()} == {
        str(tmp_path / "nested/deeper/b.yml")
    }
    assert "2 flow file(s) checked: 1 valid, 1 invalid" in result.stderr


def test_yaml_syntax_errors_are_reported_not_raised(runner: CliRunner, tmp_path: Path) -> None:
    path = write(tmp_path, "broken.yaml", "id: x\nnamespace: [\n")

    result = runner.invoke(cli, ["validate", "-q", str(path)])

    assert result.exit_code == 1
    assert result.stdout.startswith(f"{path}:3:1: YAML syntax error")
    assert "Traceback" not in result.output
    assert result.stderr == ""


def test_unreadable_files_are_problems(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("id: caf\xe9\n".encode("latin-1"))

    result = runner.invoke(cli, ["validate", str(path)])

    assert result.exit_code == 1
    assert "not UTF-8" in result.stdout


def test_json_output(runner: CliRunner, tmp_path: Path) -> None:
    good = write(tmp_path, "ok.yaml", VALID)
    bad = write(tmp_path, "bad.yaml", INVALID)

    result = runner.invoke(cli, ["validate", "--format", "json", str(good), str(bad)])

    document = json.loads(result.stdout)
    assert result.exit_code == 1
    assert document["valid"] is False
    assert document["files"][str(good)] == []
    assert document["files"][str(bad)][0] == {
        "file": str(bad),
        "line": 5,
        "column": 5,
        "path": "tasks[0].type",
        "message": "unknown task type 'Logg' (did you mean Log?)",
        "severity": "error",
    }


@pytest.mark.parametrize(
    "args",
    [["validate"], ["validate", "/no/such/flow.yaml"], ["validate", "--format", "xml", "."]],
)
def test_usage_errors_exit_2(runner: CliRunner, args: list[str]) -> None:
    assert runner.invoke(cli, args).exit_code == 2


def test_a_folder_without_flows_is_a_usage_error(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(cli, ["validate", str(tmp_path)])

    assert result.exit_code == 2
    assert "no .yaml or .yml flow files" in result.output


def test_an_internal_error_is_reported_as_a_problem(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import stratoflow.flow

    def crash(*args: object) -> list[object]:
        raise RuntimeError("unexpected")

    monkeypatch.setattr(stratoflow.flow, "validate_file", crash)
    path = write(tmp_path, "ok.yaml", VALID)

    result = runner.invoke(cli, ["validate", str(path)])

    assert result.exit_code == 1
    assert "internal error while validating (RuntimeError: unexpected)" in result.stdout


def test_schema_prints_json_schema(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["schema"])

    assert result.exit_code == 0
    document = json.loads(result.stdout)
    assert document["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert "AnyTask" in document["$defs"]


def test_schema_writes_a_file(runner: CliRunner, tmp_path: Path) -> None:
    target = tmp_path / "flow.schema.json"

    result = runner.invoke(cli, ["schema", "--output", str(target), "--indent", "0"])

    assert result.exit_code == 0
    assert json.loads(target.read_text())["$ref"] == "#/$defs/Flow"


def test_warnings_are_printed_and_the_flow_stays_valid(
    runner: CliRunner, tmp_path: Path, real_expressions: object
) -> None:
    # Given a Kestra flow reading a task that does not exist, guarded by ??
    text = (
        "id: ok\nnamespace: tests\ntasks:\n"
        "  - {id: t, type: Log, message: \"{{ outputs.nope.value ?? 'none' }}\"}\n"
    )
    path = write(tmp_path, "ok.yaml", text)

    # When
    result = runner.invoke(cli, ["validate", str(path)])

    # Then
    assert result.exit_code == 0, result.output
    assert f"{path}:4:33: warning: tasks[0].message: 'outputs.nope' refers to no task" in result.stdout
    assert "1 valid, 1 warning(s)" in result.stderr


def test_undeclared_inputs_and_literal_non_list_loop_values_are_errors(
    runner: CliRunner, tmp_path: Path
) -> None:
    # Given what `run` would refuse
    text = (
        "id: bad\nnamespace: tests\ninputs:\n  - {id: region, type: STRING}\ntasks:\n"
        '  - {id: t, type: Log, message: "{{ inputs.regoin }}"}\n'
        "  - id: each\n    type: ForEach\n    values: 42\n    tasks: [{id: c, type: Log, message: x}]\n"
    )
    path = write(tmp_path, "bad.yaml", text)

    # When
    result = runner.invoke(cli, ["validate", str(path)])

    # Then
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f"{path}:6:33: tasks[0].message: 'inputs.regoin' refers to no input of this flow (did you mean region?)",
        f"{path}:9:5: tasks[1].values: must be a list, a JSON array or an expression giving one (got the number 42)",
    ]
