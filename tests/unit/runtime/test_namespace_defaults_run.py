"""A namespace's plugin defaults reach its flows when they are deployed locally (`strato run`), and a
revision keeps the ones it was compiled with: its tasks run as its state machine was compiled."""

from __future__ import annotations

import json

from stratoflow.compiler.containers import RUN_CONTAINER
from stratoflow.flow.task_runners import FargateRunner
from stratoflow.local import LocalPlatform
from stratoflow.namespaces import allowed_namespaces, set_allowed_namespaces, set_plugin_defaults

LONG_SCRIPT = """id: long
namespace: company.team
tasks:
  - id: py
    type: io.kestra.plugin.scripts.python.Script
    timeout: PT2H
    script: print("hi")
"""
FARGATE = [{"type": "io.kestra.plugin.scripts", "values": {"taskRunner": {"type": "aws.runner.Fargate"}}}]


def test_a_parent_namespaces_task_runner_default_reaches_a_flows_scripts(platform: LocalPlatform) -> None:
    # Given `company` runs its scripts on Fargate by default (and allows another namespace)
    set_allowed_namespaces(platform.store, "company", ["other"])
    set_plugin_defaults(platform.store, "company", FARGATE)

    # When a flow of company.team with a two-hour script is deployed locally (what `strato run` does
    # first; running the script, a process, is tests/integration/test_namespace_defaults_moto.py's)
    flow, record = platform.deploy_source(LONG_SCRIPT, "long.yaml")

    # Then the script compiled to a Fargate task (a Lambda one would be refused at 2 hours), and the
    # revision recorded the defaults; the allow-list is kept beside them
    (task,) = flow.tasks
    assert isinstance(getattr(task, "task_runner", None), FargateRunner)
    assert RUN_CONTAINER in json.dumps(record.definition)
    assert record.namespace_defaults == [
        {"namespace": "company", "pluginDefaults": [{**FARGATE[0], "forced": False}]}
    ]
    assert allowed_namespaces(platform.store, "company") == ["other"]


def test_a_revision_keeps_its_defaults_and_a_change_of_them_makes_a_new_one(platform: LocalPlatform) -> None:
    # Given a flow deployed with its namespace's Fargate default
    set_plugin_defaults(platform.store, "company", FARGATE)
    _, first = platform.deploy_source(LONG_SCRIPT, "long.yaml")

    # When the namespace drops it, the task runner reads revision 1 again, and the same file is deployed
    set_plugin_defaults(platform.store, "company", [])
    platform.runner._flows.clear()
    kept = platform.runner.flow("company.team", "long", first.revision)
    refused = None
    try:
        platform.deploy_source(LONG_SCRIPT, "long.yaml")
    except Exception as error:  # the 2-hour script has no container runner any more
        refused = str(error)

    # Then revision 1 still runs its script on Fargate, and the unchanged file is deployed anew with
    # the namespace's current defaults: refused, naming the option
    assert isinstance(getattr(kept.tasks[0], "task_runner", None), FargateRunner)
    assert refused is not None and "taskRunner: {type: aws.runner.Fargate}" in refused
