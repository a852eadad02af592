"""The container's bootstrap signs its one S3 GET itself (the stock image has no AWS SDK): the same
signature botocore computes, for AWS's endpoint and for an endpoint of one's own."""

from __future__ import annotations

import datetime
from unittest import mock

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from stratoflow.cloud.runtime.container_bootstrap import EMPTY_SHA256, credentials, signed_get

KEYS = {"AccessKeyId": "ASIAEXAMPLE", "SecretAccessKey": "secret/key+example", "Token": "session-token"}
NOW = datetime.datetime(2026, 12, 7, 13, 5, 9, tzinfo=datetime.UTC)


def _botocore_authorization(url: str, region: str) -> str:
    request = AWSRequest(method="GET", url=url)
    request.context["payload_signing_enabled"] = True  # the bootstrap signs the empty payload's hash
    auth = S3SigV4Auth(Credentials(KEYS["AccessKeyId"], KEYS["SecretAccessKey"], KEYS["Token"]), "s3", region)
    with mock.patch("botocore.auth.get_current_datetime", return_value=NOW.replace(tzinfo=None)):
        auth.add_auth(request)
    assert request.headers["X-Amz-Content-SHA256"] == EMPTY_SHA256
    return str(request.headers["Authorization"])


@pytest.mark.parametrize(
    ("endpoint", "url"),
    [
        (None, "https://cdk-assets-123.s3.eu-west-1.amazonaws.com/a%20b/3f2e.zip"),
        ("http://127.0.0.1:5000", "http://127.0.0.1:5000/cdk-assets-123/a%20b/3f2e.zip"),
    ],
)
def test_the_signature_is_botocores(endpoint: str | None, url: str) -> None:
    # Given the sandbox code's object, a key with a space in it, and the task role's session keys
    # When the bootstrap signs its GET
    request = signed_get("cdk-assets-123", "a b/3f2e.zip", "eu-west-1", KEYS, NOW, endpoint)

    # Then it goes to the object's URL with the signature botocore computes for the same request
    assert request.full_url == url
    assert request.get_header("Authorization") == _botocore_authorization(url, "eu-west-1")
    assert request.get_header("X-amz-security-token") == "session-token"


def test_keys_in_the_environment_are_used_as_they_are() -> None:
    # Given an environment with keys (a simulated container)
    environment = {"AWS_ACCESS_KEY_ID": "AKIA", "AWS_SECRET_ACCESS_KEY": "s", "AWS_SESSION_TOKEN": "t"}

    # When the bootstrap asks for credentials
    # Then they are those keys (ECS's endpoint is read only when the environment has none)
    assert credentials(environment) == {"AccessKeyId": "AKIA", "SecretAccessKey": "s", "Token": "t"}


def test_a_container_without_a_task_role_cannot_start() -> None:
    # Given no keys and no credentials endpoint
    # When the bootstrap asks for credentials
    # Then it refuses, naming why
    with pytest.raises(RuntimeError, match="no task role"):
        credentials({})
