"""`strato executions list|show`, `logs` and the control commands as a user types them: filters,
execution ids by unique prefix, and plain output when stdout is not a terminal."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from stratoflow.cli.main import cli
from stratoflow.domain import Execution
from stratoflow.states import State
from stratoflow.store import open_local_store

ROOT = Path(__file__).resolve().parents[3]
HELLO = ROOT / "examples" / "hello.yaml"


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def run_hello(home: Path, *extra: str) -> str:
    code, out, err = invoke("run", str(HELLO), "--json", "--home", str(home), *extra)
    assert code == 0, err
    execution_id: str = json.loads(out)["executionId"]
    return execution_id


def record(
    home: Path, execution_id: str, state: State, namespace: str = "examples", flow_id: str = "hello"
) -> None:
    store, _ = open_local_store(home)
    store.create_execution(
        Execution(
            id=execution_id,
            namespace=namespace,
            flow_id=flow_id,
            revision=1,
            state=state,
            start_date=datetime(2026, 11, 24, 9, 0, tzinfo=UTC),
        )
    )


def test_list_filters_by_state_and_since(tmp_path: Path) -> None:
    # Given a succeeded run and a failed execution in the history
    run_hello(tmp_path)
    record(tmp_path, "failedExecution0000001", State.FAILED)

    # When the README's first On-call command runs (state in any case)
    code, out, err = invoke(
        "executions", "list", "--state", "failed", "--since", "2026-11-23", "--home", str(tmp_path)
    )

    # Then it lists the failed execution only, with no traceback
    assert code == 0, err
    assert "failedExecution0000001" in out
    assert "SUCCESS" not in out


def test_list_refuses_an_unknown_state(tmp_path: Path) -> None:
    run_hello(tmp_path)
    code, _, err = invoke("executions", "list", "--state", "BROKEN", "--home", str(tmp_path))
    assert code == 2
    assert "BROKEN" in err


def test_store_takes_a_state_given_as_text(tmp_path: Path) -> None:
    # Given a failed execution
    record(tmp_path, "failedExecution0000001", State.FAILED)
    store, _ = open_local_store(tmp_path)

    # When the state filter is a plain string
    found = store.list_executions(state="FAILED")  # type: ignore[arg-type]

    # Then it filters as the enum does
    assert [e.id for e in found] == ["failedExecution0000001"]


def test_list_flow_without_namespace_finds_its_namespace(tmp_path: Path) -> None:
    # Given a run of examples.hello
    execution_id = run_hello(tmp_path)

    # When listing by --flow alone
    code, out, err = invoke("executions", "list", "--flow", "hello", "--home", str(tmp_path))

    # Then the flow's one namespace is used
    assert code == 0, err
    assert execution_id in out


def test_list_flow_in_two_namespaces_asks_for_one(tmp_path: Path) -> None:
    # Given two flows named hello in two namespaces
    run_hello(tmp_path)
    other = tmp_path / "other.yaml"
    other.write_text(HELLO.read_text().replace("namespace: examples", "namespace: team"))
    code, _, err = invoke("run", str(other), "--json", "--home", str(tmp_path))
    assert code == 0, err

    # When listing by --flow alone
    code, _, err = invoke("executions", "list", "--flow", "hello", "--home", str(tmp_path))

    # Then the user is asked to choose, with both names
    assert code == 2
    assert "examples.hello" in err and "team.hello" in err and "--namespace" in err


def test_list_unknown_flow_is_a_usage_error(tmp_path: Path) -> None:
    run_hello(tmp_path)
    code, _, err = invoke("executions", "list", "--flow", "nope", "--home", str(tmp_path))
    assert code == 2
    assert "'nope'" in err


@pytest.mark.parametrize("command", [("executions", "show"), ("logs",)])
def test_a_unique_prefix_names_the_execution(tmp_path: Path, command: tuple[str, ...]) -> None:
    # Given one execution
    execution_id = run_hello(tmp_path)

    # When it is named by the first 5 characters of its id
    code, out, err = invoke(*command, execution_id[:5], "--home", str(tmp_path))

    # Then the command acts on it
    assert code == 0, err
    assert "Hello, World!" in out


@pytest.mark.parametrize(
    "command",
    [("executions", "show"), ("logs",), ("kill",), ("restart",), ("resume",), ("replay", "--from", "greet")],
)
def test_an_ambiguous_prefix_lists_the_matches(tmp_path: Path, command: tuple[str, ...]) -> None:
    # Given two executions whose ids share a prefix
    run_hello(tmp_path)
    record(tmp_path, "abcFirst00000000000001", State.FAILED)
    record(tmp_path, "abcSecond0000000000001", State.FAILED)

    # When the shared prefix names the execution
    words = list(command)
    words.insert(2 if words[0] == "executions" else 1, "abc")
    code, _, err = invoke(*words, "--home", str(tmp_path))

    # Then the command is refused with both candidates
    assert code == 2
    assert "ambiguous" in err
    assert "abcFirst00000000000001" in err and "abcSecond0000000000001" in err


def test_output_that_is_not_a_terminal_keeps_long_values_whole(tmp_path: Path) -> None:
    # Given an execution whose id and flow name are long (a table at 80 columns would cut them)
    long_namespace = "company.department.team.a.very.long.namespace.name"
    run_hello(tmp_path)
    execution_id = "x" * 70
    record(tmp_path, execution_id, State.FAILED, namespace=long_namespace, flow_id="f" * 60)

    # When the list is printed to a pipe
    code, out, err = invoke("executions", "list", "--home", str(tmp_path))

    # Then each row is one line with the whole id and flow name
    assert code == 0, err
    row = next(line for line in out.splitlines() if execution_id in line)
    assert f"{long_namespace}.{'f' * 60}" in row
    assert "…" not in out
