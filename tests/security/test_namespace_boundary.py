"""Attacks on the namespace boundary: a flow reaching another namespace's KV and files, or the
reserved namespaces, on the local engine (the task-runner Lambda runs the same code)."""

from __future__ import annotations

from pathlib import Path

import pytest

from stratoflow.domain import Execution
from stratoflow.local import LocalPlatform
from stratoflow.namespaces import (
    NamespaceAccessDenied,
    NamespaceGuard,
    allowed_namespaces,
    is_reserved,
    parents,
    set_allowed_namespaces,
)
from stratoflow.states import State
from stratoflow.store.namespace_files import put_namespace_file
from tests.unit.tasks.task_helpers import RunFlow, direct_context, flow_source, outputs_of, run_on, task_run


def _attacker(tasks: str) -> str:
    return flow_source(tasks, namespace="team.attacker", flow_id="attacker")


@pytest.mark.parametrize("task_type", ["kv.Set", "kv.Get", "kv.Delete"])
def test_kv_tasks_cannot_reach_the_deployers_registry(
    platform: LocalPlatform, run_flow: RunFlow, task_type: str
) -> None:
    # Given: the deployer's record of a flow's state machine version
    platform.store.kv_set("_deployer", "version/team.victim/f/1/h", {"versionArn": "arn:victim"})
    value = "\n  value: stolen" if task_type == "kv.Set" else ""

    # When
    outcome = run_flow(
        _attacker(
            f"- id: t\n  type: {task_type}\n  key: version/team.victim/f/1/h\n  namespace: _deployer{value}"
        )
    )

    # Then
    assert outcome.execution.state == State.FAILED
    assert "namespace '_deployer' is reserved" in (task_run(outcome, "t").error or "")
    assert platform.store.kv_get("_deployer", "version/team.victim/f/1/h") == (
        True,
        {"versionArn": "arn:victim"},
    )


def test_a_flow_cannot_rewrite_the_allow_lists(platform: LocalPlatform, run_flow: RunFlow) -> None:
    outcome = run_flow(
        _attacker(
            "- id: t\n  type: kv.Set\n  key: team.victim\n  namespace: _namespaces\n"
            "  value: {allowedNamespaces: ['team.attacker']}"
        )
    )

    assert outcome.execution.state == State.FAILED
    assert allowed_namespaces(platform.store, "team.victim") == []


@pytest.mark.parametrize("reserved", ["_deployer", "_namespaces", "_anything_internal"])
def test_the_kv_function_cannot_read_a_reserved_namespace(
    platform: LocalPlatform, run_flow: RunFlow, reserved: str
) -> None:
    platform.store.kv_set(reserved, "k", "internal")

    outcome = run_flow(_attacker(f"- id: t\n  type: Return\n  format: \"{{{{ kv('k', '{reserved}') }}}}\""))

    assert outcome.execution.state == State.FAILED
    assert "reserved" in (task_run(outcome, "t").error or "")


def test_the_kv_function_cannot_read_another_namespace(platform: LocalPlatform, run_flow: RunFlow) -> None:
    # Given
    platform.store.kv_set("team.victim", "token", "victim-token")

    # When
    outcome = run_flow(_attacker("- id: t\n  type: Return\n  format: \"{{ kv('token', 'team.victim') }}\""))

    # Then
    assert outcome.execution.state == State.FAILED
    error = task_run(outcome, "t").error or ""
    assert "may not read namespace 'team.victim'" in error
    assert "victim-token" not in error


@pytest.mark.parametrize("task_type", ["kv.Set", "kv.Get", "kv.Delete"])
def test_kv_tasks_cannot_reach_another_namespace(
    platform: LocalPlatform, run_flow: RunFlow, task_type: str
) -> None:
    platform.store.kv_set("team.victim", "token", "victim-token")
    value = "\n  value: overwritten" if task_type == "kv.Set" else ""

    outcome = run_flow(
        _attacker(f"- id: t\n  type: {task_type}\n  key: token\n  namespace: team.victim{value}")
    )

    assert outcome.execution.state == State.FAILED
    assert platform.store.kv_get("team.victim", "token") == (True, "victim-token")


def test_a_sibling_namespace_is_another_namespace(platform: LocalPlatform, run_flow: RunFlow) -> None:
    platform.store.kv_set("team.victim", "token", "t")

    outcome = run_flow(
        flow_source("- id: t\n  type: kv.Get\n  key: token\n  namespace: team.victim", namespace="team")
    )

    assert outcome.execution.state == State.FAILED  # a parent does not read its children's values


@pytest.mark.allowed_path
def test_a_flow_reads_its_parent_namespaces_values(platform: LocalPlatform, run_flow: RunFlow) -> None:
    # Given
    platform.store.kv_set("company", "region", "eu-west-1")

    # When
    outcome = run_flow(
        flow_source(
            "- id: t\n  type: Return\n  format: \"{{ kv('region', 'company') }}\"",
            namespace="company.team.etl",
        )
    )

    # Then
    assert outcome.execution.state == State.SUCCESS
    assert outputs_of(platform, outcome, "t") == {"value": "eu-west-1"}


def test_a_flow_cannot_write_its_parent_namespace(platform: LocalPlatform, run_flow: RunFlow) -> None:
    outcome = run_flow(
        flow_source(
            "- id: t\n  type: kv.Set\n  key: k\n  value: v\n  namespace: company", namespace="company.team"
        )
    )

    assert outcome.execution.state == State.FAILED
    assert "may not write namespace 'company'" in (task_run(outcome, "t").error or "")
    assert platform.store.kv_get("company", "k") == (False, None)


@pytest.mark.allowed_path
def test_a_namespace_that_allows_another_is_reachable_from_it(
    platform: LocalPlatform, run_flow: RunFlow
) -> None:
    # Given: team.shared lets team.attacker in
    set_allowed_namespaces(platform.store, "team.shared", ["team.attacker"])
    platform.store.kv_set("team.shared", "token", "shared-token")

    # When
    outcome = run_flow(
        _attacker(
            "- id: get\n  type: Return\n  format: \"{{ kv('token', 'team.shared') }}\"\n"
            "- id: set\n  type: kv.Set\n  key: back\n  value: hello\n  namespace: team.shared"
        )
    )

    # Then
    assert outcome.execution.state == State.SUCCESS
    assert outputs_of(platform, outcome, "get") == {"value": "shared-token"}
    assert platform.store.kv_get("team.shared", "back") == (True, "hello")


def test_an_allow_list_lets_in_only_the_namespaces_it_names(
    platform: LocalPlatform, run_flow: RunFlow
) -> None:
    set_allowed_namespaces(platform.store, "team.shared", ["team.friend"])
    platform.store.kv_set("team.shared", "token", "shared-token")

    outcome = run_flow(_attacker("- id: t\n  type: Return\n  format: \"{{ kv('token', 'team.shared') }}\""))

    assert outcome.execution.state == State.FAILED


@pytest.mark.allowed_path
def test_the_wildcard_allows_every_namespace(platform: LocalPlatform, run_flow: RunFlow) -> None:
    set_allowed_namespaces(platform.store, "public", ["*"])
    platform.store.kv_set("public", "motd", "hi")

    outcome = run_flow(_attacker("- id: t\n  type: Return\n  format: \"{{ kv('motd', 'public') }}\""))

    assert outcome.execution.state == State.SUCCESS


def test_another_namespaces_files_cannot_be_read(platform: LocalPlatform, run_flow: RunFlow) -> None:
    # Given
    uri = put_namespace_file(platform.blobs, "team.victim", "creds.txt", b"victim-file")

    # When
    outcome = run_flow(_attacker(f"- id: t\n  type: Return\n  format: \"{{{{ read('{uri}') }}}}\""))

    # Then
    assert outcome.execution.state == State.FAILED
    assert "may not read namespace 'team.victim'" in (task_run(outcome, "t").error or "")


@pytest.mark.allowed_path
def test_a_parent_namespaces_files_can_be_read(platform: LocalPlatform, run_flow: RunFlow) -> None:
    uri = put_namespace_file(platform.blobs, "team", "common.txt", b"shared")

    outcome = run_flow(_attacker(f"- id: t\n  type: Return\n  format: \"{{{{ read('{uri}') }}}}\""))

    assert outcome.execution.state == State.SUCCESS
    assert outputs_of(platform, outcome, "t") == {"value": "shared"}


def test_another_namespaces_execution_files_cannot_be_read(
    platform: LocalPlatform, run_flow: RunFlow
) -> None:
    # Given: a file a victim execution stored
    uri = platform.blobs.put("team.victim/f/executions/e-1/t/r/out.txt", b"victim output")

    # When
    outcome = run_flow(_attacker(f"- id: t\n  type: Return\n  format: \"{{{{ read('{uri}') }}}}\""))

    # Then
    assert outcome.execution.state == State.FAILED


@pytest.mark.parametrize(
    "uri",
    [
        "strato:///_deployer/registry.json",
        "strato:///namespaces/_deployer/files/x",
        "strato:///../../etc/passwd",
        "file:///etc/passwd",
        "strato:///team.attacker/../team.victim/f/executions/e/t/r/x",
    ],
)
def test_storage_uris_outside_the_two_layouts_are_refused(
    platform: LocalPlatform, run_flow: RunFlow, uri: str
) -> None:
    outcome = run_flow(_attacker(f"- id: t\n  type: Return\n  format: \"{{{{ read('{uri}') }}}}\""))

    assert outcome.execution.state == State.FAILED


@pytest.mark.allowed_path
def test_a_task_run_reads_its_own_execution_files(tmp_path: Path) -> None:
    # Given
    ctx = direct_context(tmp_path, namespace="team.attacker")

    # When
    uri = ctx.put_file("out.txt", b"mine")

    # Then
    assert ctx.read_file(uri) == b"mine"


@pytest.mark.allowed_path
def test_a_parent_reads_the_files_of_its_subflow_in_another_namespace(tmp_path: Path) -> None:
    # Given: a child execution of another namespace, started by the context's execution
    ctx = direct_context(tmp_path, namespace="team.parent")
    ctx.store.create_execution(
        Execution(id="child-1", namespace="team.child", flow_id="c", revision=1, parent_execution_id="exec-1")
    )
    uri = ctx.blobs.put("team.child/c/executions/child-1/t/r/out.txt", b"from child")

    # Then
    assert ctx.read_file(uri) == b"from child"


@pytest.mark.allowed_path
def test_the_rule_for_reserved_namespaces_is_one_prefix() -> None:
    assert is_reserved("_deployer") and is_reserved("_namespaces") and is_reserved("_x")
    assert not is_reserved("company._x")
    assert parents("a.b.c") == ["a.b", "a"]


def test_allow_lists_cannot_name_or_open_reserved_namespaces(platform: LocalPlatform) -> None:
    with pytest.raises(ValueError, match="reserved"):
        set_allowed_namespaces(platform.store, "_deployer", ["team.attacker"])
    with pytest.raises(ValueError, match="reserved"):
        set_allowed_namespaces(platform.store, "team", ["_deployer"])


def test_an_allow_list_never_opens_a_reserved_namespace(platform: LocalPlatform) -> None:
    # Given: a store written around the rule
    platform.store.kv_set("_namespaces", "_deployer", {"allowedNamespaces": ["*"]})

    # Then
    with pytest.raises(NamespaceAccessDenied, match="reserved"):
        NamespaceGuard(platform.store, "team.attacker").check("_deployer", "read", "kv")


@pytest.mark.allowed_path
def test_the_namespace_owner_sets_the_allow_list_with_the_cli(tmp_path: Path) -> None:
    # Given
    from click.testing import CliRunner

    from stratoflow.cli.main import cli
    from stratoflow.store import open_local_store

    home = str(tmp_path / "home")
    runner = CliRunner()

    # When
    allowed = runner.invoke(cli, ["namespaces", "allow", "team.shared", "team.a", "team.b", "--home", home])
    denied = runner.invoke(cli, ["namespaces", "deny", "team.shared", "team.b", "--home", home])
    shown = runner.invoke(cli, ["namespaces", "show", "team.shared", "--json", "--home", home])
    reserved = runner.invoke(cli, ["namespaces", "allow", "_deployer", "team.a", "--home", home])

    # Then
    assert allowed.exit_code == denied.exit_code == shown.exit_code == 0, allowed.output
    assert '"allowedNamespaces": ["team.a"]' in shown.output
    assert reserved.exit_code == 2 and "reserved" in reserved.output
    store, _ = open_local_store(Path(home))
    assert allowed_namespaces(store, "team.shared") == ["team.a"]


CALLED = """
id: payroll
namespace: team.victim
tasks:
  - {id: leak, type: Return, format: "{{ kv('salary') }}"}
outputs:
  - {id: salary, type: STRING, value: "{{ outputs.leak.value }}"}
"""


def _caller(namespace: str) -> str:
    return flow_source(
        "- {id: call, type: Subflow, namespace: team.victim, flowId: payroll}", namespace=namespace
    )


def test_a_flow_cannot_start_another_namespaces_flow_to_read_its_data(platform: LocalPlatform) -> None:
    # Given: a victim flow that returns its namespace's KV
    platform.store.kv_set("team.victim", "salary", "100k")
    platform.deploy_source(CALLED, "payroll.yaml")

    # When
    outcome = run_on(platform, _caller("team.attacker"))

    # Then
    assert outcome.execution.state == State.FAILED
    assert "may not read namespace 'team.victim'" in (task_run(outcome, "call").error or "")
    assert platform.store.list_executions(namespace="team.victim") == []


@pytest.mark.allowed_path
def test_a_namespace_that_allows_the_caller_runs_its_subflow(platform: LocalPlatform) -> None:
    platform.store.kv_set("team.victim", "salary", "100k")
    platform.deploy_source(CALLED, "payroll.yaml")
    set_allowed_namespaces(platform.store, "team.victim", ["team.hr"])

    outcome = run_on(platform, _caller("team.hr"))

    assert outcome.execution.state == State.SUCCESS, [r.error for r in outcome.task_runs]
