"""Run examples/pipeline/pipeline.yaml end to end with no AWS account and no network.

The orders are served by a local HTTP server; S3, Athena and SNS are moto's (in process); the flow
runs on the local engine, as `strato run` runs it. moto's Athena does not execute SQL: it returns
the rows queued beforehand, so this script queues what the query would return for `orders.json`.

    .venv/bin/python examples/pipeline/run_on_moto.py
"""

from __future__ import annotations

import json
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
FLOW = HERE / "pipeline.yaml"
BUCKET = "stratoflow-pipeline-demo"
REGION = "us-east-1"


@dataclass
class PipelineRun:
    """What the run left behind: the execution and what landed in S3 and on the topic."""

    state: str
    task_states: dict[str, str]
    outputs: dict[str, Any]
    s3_keys: list[str]
    notification: dict[str, Any] | None
    errors: dict[str, str] = field(default_factory=dict)


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return None


@contextmanager
def serve_folder(folder: Path) -> Iterator[str]:
    """Serve `folder` over HTTP on 127.0.0.1 (a free port); yields the base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietHandler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def expected_query_rows(orders: list[dict[str, Any]]) -> list[list[str]]:
    """What `SELECT region, count(*), sum(amount) ... GROUP BY region` returns for the paid orders."""
    totals: dict[str, tuple[int, float]] = {}
    for order in orders:
        if order["status"] == "paid":
            count, revenue = totals.get(order["region"], (0, 0.0))
            totals[order["region"]] = (count + 1, revenue + order["amount"])
    return [[region, str(count), f"{revenue:.2f}"] for region, (count, revenue) in sorted(totals.items())]


def prepare_aws() -> tuple[str, str]:
    """The bucket, the topic with a queue subscribed to it, and Athena's answer; returns (topic, queue)."""
    import boto3
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.moto_api._internal.models import moto_api_backend

    boto3.client("s3").create_bucket(Bucket=BUCKET)
    sns, sqs = boto3.client("sns"), boto3.client("sqs")
    topic = sns.create_topic(Name="pipeline-done")["TopicArn"]
    queue = sqs.create_queue(QueueName="pipeline-inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(
        TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"}
    )
    orders = json.loads((HERE / "orders.json").read_text())
    columns = [
        {"Name": "region", "Type": "varchar"},
        {"Name": "orders", "Type": "bigint"},
        {"Name": "revenue", "Type": "double"},
    ]
    header = {"Data": [{"VarCharValue": c["Name"]} for c in columns]}
    rows = [{"Data": [{"VarCharValue": v} for v in row]} for row in expected_query_rows(orders)]
    moto_api_backend.set_athena_result([header, *rows], columns, DEFAULT_ACCOUNT_ID, REGION)
    return topic, queue


def run_pipeline(home: Path) -> PipelineRun:
    """Run the flow once, on moto, with its history under `home`."""
    import boto3
    from moto import mock_aws

    from stratoflow.cloudsim import moto_environment
    from stratoflow.engine import VirtualClock
    from stratoflow.local import LocalPlatform

    with serve_folder(HERE) as url, moto_environment(), mock_aws():
        topic, queue = prepare_aws()
        platform = LocalPlatform(home, clock=VirtualClock())
        try:
            flow, record = platform.deploy_file(FLOW)
            inputs = {"api_url": f"{url}/orders.json", "bucket": BUCKET, "topic_arn": topic}
            outcome = platform.run(platform.admit(flow, record, inputs))
        finally:
            platform.close()
        listed = boto3.client("s3").list_objects_v2(Bucket=BUCKET, Prefix="orders/").get("Contents", [])
        received = (
            boto3.client("sqs").receive_message(QueueUrl=queue, MaxNumberOfMessages=1).get("Messages", [])
        )
    return PipelineRun(
        state=str(outcome.execution.state),
        task_states={run.task_id: str(run.state) for run in outcome.task_runs},
        outputs=outcome.execution.outputs,
        s3_keys=[item["Key"] for item in listed],
        notification=json.loads(received[0]["Body"]) if received else None,
        errors={run.task_id: run.error for run in outcome.task_runs if run.error},
    )


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="stratoflow-pipeline-") as home:
        result = run_pipeline(Path(home))
    print(f"execution: {result.state}")
    for task, state in result.task_states.items():
        print(f"  {task:<10} {state}" + (f"  ({result.errors[task]})" if task in result.errors else ""))
    print(f"landed in S3: {', '.join(result.s3_keys) or 'nothing'}")
    print("SNS notification:", json.dumps(result.notification, indent=2))
    return 0 if result.state == "SUCCESS" else 1


if __name__ == "__main__":
    sys.exit(main())
