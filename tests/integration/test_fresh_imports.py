"""What a fresh interpreter imports: `strato run` of an unchanged flow, the cloud handlers' objects, the
flow model, the local stores. Each test starts a Python process (sys.modules of this one is shared by
every test), so they live here and not in the unit layer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
HELLO = ROOT / "bench" / "flows" / "w1_hello.yaml"

# Run `strato run` in a fresh interpreter and print which of these modules it imported.
PROBE = """
import json, sys
from stratoflow.cli.main import main
try:
    main(sys.argv[1:])
except SystemExit as end:
    code = end.code
watched = {watched!r}
print(json.dumps({{"code": code, "imported": sorted(m for m in watched if m in sys.modules)}}))
"""


WATCHED = [
    "stratoflow.compiler",  # compiling: only when the source is not deployed yet
    "stratoflow.tasks.http",  # task modules the flow does not use
    "stratoflow.tasks.flowable",
    "stratoflow.tasks.kv",
    "urllib.request",
    "ssl",
    "rich",  # the live view, not `--json`
    "boto3",
    "fastapi",  # the console's web stack: `strato server` only
    "uvicorn",
    "stratoflow.console",
    "stratoflow.tasks.core",  # the one the flow uses
]


def run_in_new_process(flow: Path, home: Path) -> dict[str, Any]:
    env = {key: value for key, value in os.environ.items() if key != "STRATOFLOW_HOME"}
    command = [sys.executable, "-c", PROBE.format(watched=WATCHED), "run", str(flow), "--json"]
    done = subprocess.run(
        [*command, "--skip-waits", "--home", str(home)], env=env, capture_output=True, text=True, check=True
    )
    document: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return document


def test_running_an_unchanged_flow_again_imports_only_what_it_uses(tmp_path: Path) -> None:
    # Given a flow of core tasks that ran once (its first run deploys: it compiles the flow)
    first = run_in_new_process(HELLO, tmp_path)
    assert first["code"] == 0 and "stratoflow.compiler" in first["imported"]

    # When it runs again in a new process
    again = run_in_new_process(HELLO, tmp_path)

    # Then neither the compiler nor unused task families, HTTP/TLS, rich, boto3 nor the console's web
    # stack were imported
    assert again == {"code": 0, "imported": ["stratoflow.tasks.core"]}


SETTINGS = {
    "STRATOFLOW_TABLE_NAME": "table",
    "STRATOFLOW_DATA_BUCKET": "data",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def test_building_every_functions_objects_imports_no_boto3() -> None:
    # Given the objects each platform function's handler builds at import time
    code = (
        "import sys\n"
        "from stratoflow.cloud import assembly\n"
        "from stratoflow.cloud.config.settings import Settings\n"
        "for build in (assembly.cloud_task_runner, assembly.cloud_admission, assembly.cloud_webhooks,\n"
        "              assembly.cloud_execution_events, assembly.cloud_deployer):\n"
        "    build(Settings.from_env())\n"
        "loaded = sorted(m for m in ('boto3', 'botocore.session', 'botocore.client') if m in sys.modules)\n"
        "print(loaded)\n"
    )

    # When a fresh process builds them all
    done = subprocess.run(
        [sys.executable, "-c", code], env=SETTINGS, capture_output=True, text=True, check=True
    )

    # Then no boto3 module (nor a botocore session or client) was imported
    assert done.stdout.strip() == "[]", done.stderr


def test_importing_the_flow_model_does_not_import_the_task_families() -> None:
    import subprocess

    code = (
        "import sys, stratoflow.flow; "
        "print(any(m in sys.modules for m in ('stratoflow.tasks.core', 'stratoflow.tasks.http', 'jinja2')))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)

    assert result.stdout.strip() == "False"


def test_local_store_does_not_import_boto3(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from stratoflow.store import open_local_store\n"
        f"store, blobs = open_local_store(Path({str(tmp_path)!r}))\n"
        "store.kv_set('ns', 'k', 1)\n"
        "blobs.put('a/b', b'x')\n"
        "assert 'boto3' not in sys.modules and 'botocore' not in sys.modules, 'boto3 was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# A flow's trigger and input classes, imported on the first lookup of a type (flow.trigger, flow.inputs).
TYPED_MODULES = (
    "stratoflow.flow.triggers",
    "stratoflow.flow.schedule_conditions",
    "stratoflow.flow.typed_inputs",
)
LOAD_PROBE = """
import json, sys
from stratoflow.flow import load_flow
flow = load_flow(sys.argv[1])
print(json.dumps({{"types": [type(item).__name__ for item in [*flow.inputs, *flow.triggers]],
                   "imported": sorted(m for m in {modules!r} if m in sys.modules)}}))
"""


def loaded_in_new_process(text: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", LOAD_PROBE.format(modules=TYPED_MODULES), text],
        capture_output=True,
        text=True,
        check=True,
    )
    document: dict[str, Any] = json.loads(done.stdout)
    return document


def test_loading_a_flow_imports_the_trigger_and_input_classes_only_when_it_has_some() -> None:
    # Given a flow of one task, and the same flow with an input and a schedule
    bare = "id: bare\nnamespace: t\ntasks:\n  - {id: a, type: Return, format: x}\n"
    typed = (
        bare
        + "inputs:\n  - {id: day, type: DATE}\ntriggers:\n  - {id: daily, type: Schedule, cron: '@daily'}\n"
    )

    # When each is loaded in a fresh interpreter (as the task-runner Lambda's first call loads its flow)
    without, with_them = loaded_in_new_process(bare), loaded_in_new_process(typed)

    # Then the bare flow defines none of those classes, and the other gets its own types
    assert without == {"types": [], "imported": []}
    assert with_them == {"types": ["DateInput", "Schedule"], "imported": sorted(TYPED_MODULES)}
