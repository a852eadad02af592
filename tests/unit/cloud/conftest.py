"""Cloud unit tests build real boto3 clients around stubs (botocore's Stubber, fakes): give them dummy
credentials and a region, so that botocore never searches the machine for real ones (the instance
metadata endpoint is a socket, and real credentials have no business in a unit test)."""

from __future__ import annotations

import pytest

DUMMY = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@pytest.fixture(autouse=True)
def dummy_aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    for name, value in DUMMY.items():
        monkeypatch.setenv(name, value)
