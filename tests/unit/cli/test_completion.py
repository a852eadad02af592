"""Shell completion: flow files and execution ids, as click's `_STRATO_COMPLETE` asks for them."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.shell_completion import BashComplete, ShellComplete

from stratoflow.cli.main import cli, main
from stratoflow.domain import Execution
from stratoflow.store.sqlite import SqliteExecutionStore


def completions(args: list[str], incomplete: str) -> list[tuple[str, str | None]]:
    """What the shell would offer after `strato ARGS INCOMPLETE<TAB>`."""
    completer = ShellComplete(cli, {}, "strato", "_STRATO_COMPLETE")
    return [(item.value, item.help) for item in completer.get_completions(args, incomplete)]


@pytest.fixture
def flows_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "flows" / "etl").mkdir(parents=True)
    (tmp_path / "flows" / "hello.yaml").write_text("id: hello\n")
    (tmp_path / "flows" / "report.yml").write_text("id: report\n")
    (tmp_path / "flows" / "notes.txt").write_text("not a flow\n")
    (tmp_path / "flows" / ".draft.yaml").write_text("id: draft\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_flow_arguments_complete_flow_files_and_folders(flows_folder: Path) -> None:
    # When the user tabs after `strato run flows/`
    offered = completions(["run"], "flows/")

    # Then the folders and the YAML files are offered, not other files nor hidden ones
    assert [value for value, _ in offered] == ["flows/etl/", "flows/hello.yaml", "flows/report.yml"]


def test_flow_completion_narrows_on_the_typed_name(flows_folder: Path) -> None:
    assert [value for value, _ in completions(["validate"], "flows/h")] == ["flows/hello.yaml"]
    assert [value for value, _ in completions(["compile"], "flows/.")] == ["flows/.draft.yaml"]
    assert [value for value, _ in completions(["run"], "nowhere/x")] == []


def test_execution_ids_complete_from_the_local_history(tmp_path: Path) -> None:
    # Given two executions in a local history
    store = SqliteExecutionStore(tmp_path / "stratoflow.db")
    store.create_execution(Execution(id="4aXq", namespace="team", flow_id="hello", revision=1))
    store.create_execution(Execution(id="7bYz", namespace="team", flow_id="etl", revision=1))

    # When the user tabs after `strato logs --home HOME 4`
    offered = completions(["logs", "--home", str(tmp_path)], "4")

    # Then the matching execution is offered with its flow and state
    assert offered == [("4aXq", "team.hello CREATED")]


def test_execution_ids_complete_nothing_without_history(tmp_path: Path) -> None:
    assert completions(["kill", "--home", str(tmp_path)], "") == []
    assert not (tmp_path / "stratoflow.db").exists()


@pytest.mark.parametrize(
    ("shell", "marker"), [("bash", "complete -o"), ("zsh", "compdef"), ("fish", "complete")]
)
def test_strato_prints_the_completion_script_the_readme_documents(
    shell: str, marker: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given click's check of the bash version kept in the process (it runs `bash -c`; the script is ours)
    monkeypatch.setattr(BashComplete, "_check_version", lambda self: None)
    # When the shell's start-up file runs `_STRATO_COMPLETE=<shell>_source strato`
    monkeypatch.setenv("_STRATO_COMPLETE", f"{shell}_source")
    with pytest.raises(SystemExit) as exited:
        main([])

    # Then strato prints the script for that shell
    assert exited.value.code == 0
    script = capsys.readouterr().out
    assert marker in script
    assert "_STRATO_COMPLETE" in script


@pytest.mark.parametrize(
    "command",
    [
        ["run"],
        ["validate"],
        ["compile"],
        ["graph"],
        ["cost"],
        ["deploy"],
        ["schedule", "preview"],
        ["backfill"],
    ],
)
def test_every_flow_argument_the_readme_lists_completes_flow_files(
    command: list[str], flows_folder: Path
) -> None:
    assert [value for value, _ in completions(command, "flows/h")] == ["flows/hello.yaml"]


@pytest.mark.parametrize(
    "command", [["logs"], ["executions", "show"], ["kill"], ["restart"], ["replay"], ["resume"]]
)
def test_every_execution_argument_the_readme_lists_completes_ids(command: list[str], tmp_path: Path) -> None:
    SqliteExecutionStore(tmp_path / "stratoflow.db").create_execution(
        Execution(id="4aXq", namespace="team", flow_id="hello", revision=1)
    )

    assert [value for value, _ in completions([*command, "--home", str(tmp_path)], "")] == ["4aXq"]
