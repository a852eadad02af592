"""The task-runner handler's import and its first invocations, in one fresh process, as a cold Lambda
container runs them: what `bench/cold_start.py --first-call` reports next to the import figure.

A cut of the import that only moves work into the first invocation is no saving; this measures both.
The parent process starts moto as a server on loopback, creates the stack's table and data bucket
there (`cloudsim.stack.create_table`, as the CDK stack declares it) and records two flows and one
execution of each: a flow of `Return` tasks and a flow of `scripts.Python` tasks. A fresh child process
then imports `functions/task_runner/handler.py` (timed with `perf_counter`, without `-X importtime`'s
overhead) and calls `lambda_handler` with the Payload each Task state sends (`action: run`), in this
order: the first Return task (the container's first invocation: boto3 and the DynamoDB client made on
first use, the flow parsed, the templates compiled), a second Return task (warm), then the first and
a second script task. The child imports nothing else of Stratoflow, so every module its calls need is
imported inside the timed calls.

What differs from AWS: DynamoDB and S3 are moto over loopback HTTP (each request a few milliseconds
here; on AWS similar, from inside the region); the script task runs in the runner's own process (as
without `STRATOFLOW_SCRIPT_SANDBOXES`), since moto cannot run the sandbox function: the deployed stack
runs it in the flow's sandbox function instead, which the runner invokes.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TABLE, BUCKET, NAMESPACE = "Bench-Table", "bench-data-bucket", "bench.coldstart"
FLOWS = {
    "return": "id: first_return\nnamespace: bench.coldstart\ntasks:\n"
    "  - {id: t1, type: Return, format: '{{ 1 + 1 }}'}\n"
    "  - {id: t2, type: Return, format: '{{ outputs.t1.value }}'}\n",
    "script": "id: first_script\nnamespace: bench.coldstart\ntasks:\n"
    + "".join(
        f"  - id: {task}\n    type: io.kestra.plugin.scripts.python.Script\n"
        "    script: |\n      from kestra import Kestra\n      Kestra.outputs({'value': 1})\n"
        for task in ("t1", "t2")
    ),
}
CALLS = (("return", "t1"), ("return", "t2"), ("script", "t1"), ("script", "t2"))
RESULT = "FIRST_INVOCATION "
# The child: the handler's import, then each call, timed; nothing else of Stratoflow is imported.
CHILD = """
import json, sys, time
sys.path.insert(0, {folder!r})
started = time.perf_counter()
import handler
times = {{"import": (time.perf_counter() - started) * 1000}}

class Context:
    function_name = "stratoflow-task-runner"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:stratoflow-task-runner"
    aws_request_id = "bench"

for label, event in json.loads(sys.argv[1]):
    started = time.perf_counter()
    answer = handler.lambda_handler(event, Context())
    times[label] = (time.perf_counter() - started) * 1000
    if answer.get("state") != "SUCCESS":
        raise SystemExit(f"{{label}}: {{answer}}")
print({marker!r} + json.dumps(times))
"""


@dataclass(frozen=True)
class FirstInvocation:
    import_ms: float
    calls_ms: dict[str, float]  # "return t1" -> ms, in the order they ran


@contextmanager
def seeded_stack() -> Iterator[tuple[str, dict[str, str]]]:
    """A moto server on loopback with the table, the bucket, both flows and one execution of each;
    yields its endpoint and the execution id of each flow."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    saved = {name: os.environ.get(name) for name in ("AWS_ENDPOINT_URL", "AWS_DEFAULT_REGION")}
    os.environ.update({"AWS_ENDPOINT_URL": endpoint, "AWS_DEFAULT_REGION": "us-east-1"})
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    # moto's state is the process's: a second measurement starts from an empty stack too
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")).close()
    try:
        yield endpoint, _seed()
    finally:
        for name, value in saved.items():
            os.environ.pop(name, None) if value is None else os.environ.update({name: value})
        server.stop()


def _seed() -> dict[str, str]:
    import boto3

    from stratoflow.cloudsim.stack import create_table
    from stratoflow.domain import Execution
    from stratoflow.flow import load_flow
    from stratoflow.local.deploy import deploy_flow
    from stratoflow.store.dynamo import DynamoExecutionStore
    from stratoflow.store.s3 import S3BlobStore

    create_table(boto3.client("dynamodb"), TABLE)
    boto3.client("s3").create_bucket(Bucket=BUCKET)
    store = DynamoExecutionStore(TABLE, flow_blobs=S3BlobStore(BUCKET))
    executions = {}
    for kind, source in FLOWS.items():
        record = deploy_flow(store, load_flow(source), source)
        execution = Execution(id=f"first-{kind}", namespace=NAMESPACE, flow_id=record.flow_id, revision=1)
        store.create_execution(execution)
        executions[kind] = execution.id
    return executions


def _event(kind: str, task_id: str, execution_id: str) -> dict[str, object]:
    """The Payload a Task state of the compiled flow sends (runner_call.RunCall)."""
    flow_id = f"first_{kind}"
    execution = {"id": execution_id, "namespace": NAMESPACE, "flowId": flow_id, "revision": 1}
    return {"action": "run", "taskId": task_id, "execution": execution, "scope": None}


def measure(env: dict[str, str], tree: Path = ROOT) -> FirstInvocation:
    """One fresh process: the handler's import, then the calls of `CALLS`, each timed. `tree`: a
    checkout (or an extracted commit) whose library and handler are measured."""
    with seeded_stack() as (endpoint, executions):
        events = [(f"{kind} {task}", _event(kind, task, executions[kind])) for kind, task in CALLS]
        child_env = {
            **env,
            "AWS_ENDPOINT_URL": endpoint,
            "STRATOFLOW_TABLE_NAME": TABLE,
            "STRATOFLOW_DATA_BUCKET": BUCKET,
            "STRATOFLOW_SCRIPT_SANDBOXES": "false",  # moto cannot run the sandbox function
            "STRATOFLOW_FLOW_ROLE_PREFIX": "",  # no flow roles on this simulated stack
            "POWERTOOLS_LOG_LEVEL": "WARNING",
            "PYTHONPATH": str(tree / "shared"),  # before the checkout's editable install
        }
        code = CHILD.format(folder=str(tree / "functions" / "task_runner"), marker=RESULT)
        done = subprocess.run(
            [sys.executable, "-c", code, json.dumps(events)], env=child_env, capture_output=True, text=True
        )
    found = [line for line in done.stdout.splitlines() if line.startswith(RESULT)]
    if done.returncode != 0 or not found:
        raise RuntimeError(f"the first invocations failed:\n{done.stdout[-1500:]}\n{done.stderr[-1500:]}")
    times: dict[str, float] = json.loads(found[-1].removeprefix(RESULT))
    return FirstInvocation(times.pop("import"), times)
