"""Clients created on first use: a Lambda's INIT builds the cloud objects without boto3."""

from __future__ import annotations

import threading
from typing import Any

from stratoflow.cloud.config.clients import AwsClients
from stratoflow.cloud.config.lazy import LazyAwsClients, LazyClient


class Made:
    """A stand-in client factory that counts the clients it made."""

    def __init__(self) -> None:
        self.count = 0
        self.lock = threading.Lock()

    def __call__(self) -> Any:
        with self.lock:
            self.count += 1
        return FakeClient()


class FakeClient:
    region = "us-east-1"

    def ping(self) -> str:
        return "pong"


def test_a_lazy_client_is_created_once_on_first_use_even_from_many_threads() -> None:
    # Given a lazy client nobody used yet
    made = Made()
    client = LazyClient(made)
    assert not client.created and made.count == 0

    # When 20 threads use it at once
    barrier = threading.Barrier(20)

    def use() -> str:
        barrier.wait()
        result: str = client.ping()
        return result

    threads = [threading.Thread(target=use) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # Then one client was made, and every attribute is the real client's
    assert made.count == 1 and client.created
    assert client.region == "us-east-1" and client.resolve() is client.resolve()


def test_lazy_aws_clients_keep_the_clients_passed_in_and_defer_the_others() -> None:
    given = FakeClient()
    clients = LazyAwsClients(dynamodb=given)

    assert clients.dynamodb is given
    assert isinstance(clients.s3, LazyClient) and not clients.s3.created
    assert clients.s3 is clients.s3  # one client per service
    assert isinstance(clients, AwsClients)


def test_the_deployers_clients_retry_throttled_control_plane_calls_adaptively(monkeypatch: Any) -> None:
    # Given the deployer as its Lambda builds it
    from stratoflow.cloud.assembly import cloud_deployer
    from stratoflow.cloud.config.settings import Settings

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    deployer = cloud_deployer(Settings(stratoflow_table_name="t", stratoflow_data_bucket="d"))

    # When its control-plane clients are created
    configs = [
        deployer.clients.client(service).meta.config for service in ("stepfunctions", "cloudwatch", "iam")
    ]

    # Then each retries throttles in adaptive mode (client-side rate limiting), 10 attempts in all
    assert all(config.retries == {"mode": "adaptive", "total_max_attempts": 10} for config in configs)


def test_the_s3_client_presigns_with_sigv4_where_botocore_would_use_sigv2(monkeypatch: Any) -> None:
    # Given the platform's S3 client in us-east-1, a region where botocore presigns with SigV2 unless
    # told otherwise (and buckets made since June 2020 refuse SigV2)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    s3: Any = LazyAwsClients().s3

    # When it presigns a download and an upload, as the script sandboxes' hand-over does
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "b", "Key": "k"}, ExpiresIn=60)
    post = s3.generate_presigned_post("b", "out/${filename}", ExpiresIn=60)

    # Then both are SigV4
    assert "X-Amz-Algorithm=AWS4-HMAC-SHA256" in url and "Signature=" not in url.replace(
        "X-Amz-Signature", ""
    )
    assert post["fields"]["x-amz-algorithm"] == "AWS4-HMAC-SHA256"
