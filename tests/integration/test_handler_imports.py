"""Each Lambda handler's INIT loads what its own function builds (cloud.assembly), not the others' modules."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = {
    "STRATOFLOW_TABLE_NAME": "table",
    "STRATOFLOW_DATA_BUCKET": "data",
    "STRATOFLOW_ADMISSION_ARN": "arn:aws:lambda:us-east-1:123456789012:function:admission",
    "AWS_DEFAULT_REGION": "us-east-1",
    "POWERTOOLS_METRICS_NAMESPACE": "Stratoflow",
}
# What only one function needs: the compiler (deployer), the runner (task runner and, for the task
# runs an end closes, execution events), admission's start path, the webhook rules.
COMPILER, RUNNER = "stratoflow.compiler", "stratoflow.execution.runner"
STARTER, WEBHOOKS = "stratoflow.cloud.runtime.starter", "stratoflow.triggers.webhooks"
# The task runner's script sandboxes' invoker (process groups, the job contract): its function alone.
SANDBOXES = {"stratoflow.cloud.runtime.script_sandbox", "stratoflow.sandbox_call", "stratoflow.tasks.scripts"}
NOT_LOADED = {
    "admission": {COMPILER, RUNNER, WEBHOOKS, "stratoflow.cloud.runtime.events", *SANDBOXES},
    # nor the core's admission and trigger deliveries: a subflow's restart takes a slot (execution.slots)
    "task_runner": {
        COMPILER,
        STARTER,
        WEBHOOKS,
        "stratoflow.cloud.runtime.sla_timer",
        "stratoflow.execution.admission",
        "stratoflow.execution.deliveries",
        # task types and flow parts that a task run loads with a flow that has them, not before
        "stratoflow.tasks.native",
        "stratoflow.tasks.working_directory",
        "stratoflow.flow.triggers",
        "stratoflow.flow.typed_inputs",
        "stratoflow.store.sqlite",
    },
    "webhook": {COMPILER, RUNNER, STARTER, *SANDBOXES},
    "deployer": {RUNNER, WEBHOOKS},  # the starter: a redeploy starts the slots schedules missed
    "execution_events": {COMPILER, WEBHOOKS},
    # The script sandbox runs flow code with the flow's role: nothing of the store, the flow model or
    # the cloud adapter (the table, the buckets, secrets) is even loaded there.
    "script_sandbox": {
        COMPILER,
        RUNNER,
        STARTER,
        WEBHOOKS,
        "stratoflow.store",
        "stratoflow.flow",
        "stratoflow.cloud",
    },
}


def loaded_by(handler: str) -> set[str]:
    code = (
        "import importlib.util, json, sys\n"
        f"spec = importlib.util.spec_from_file_location('handler', {str(ROOT / 'functions' / handler / 'handler.py')!r})\n"
        "spec.loader.exec_module(importlib.util.module_from_spec(spec))\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=SETTINGS, cwd=ROOT, capture_output=True, text=True, check=True
    )
    return set(json.loads(done.stdout))


@pytest.mark.parametrize("handler", sorted(NOT_LOADED))
def test_a_handlers_init_loads_no_boto3_and_nothing_another_function_builds(handler: str) -> None:
    # Given the handler of one platform function
    # When a fresh process imports it, as Lambda's INIT does
    loaded = loaded_by(handler)

    # Then no boto3 was imported, nor any module only another function needs
    assert not loaded & {"boto3", "botocore.session", "botocore.client"}
    assert not {m for m in loaded for other in NOT_LOADED[handler] if m == other or m.startswith(other + ".")}
