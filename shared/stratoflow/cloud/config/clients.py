"""The boto3 clients the cloud code uses, created on first use from the default session."""

from __future__ import annotations

from typing import Any


class AwsClients:
    """One client per service, shared by every call in a process (boto3 clients are thread-safe).

    Pass clients in (tests, the cloud simulation) or let them be created from boto3's default session.
    """

    SERVICES = (
        "s3",
        "stepfunctions",
        "cloudwatch",
        "sns",
        "events",
        "scheduler",
        "lambda",
        "dynamodb",
        "cloudformation",
        "iam",
        "pipes",
        "sts",
    )

    def __init__(self, **clients: Any):
        unknown = set(clients) - set(self.SERVICES)
        if unknown:
            raise ValueError(f"unknown services: {sorted(unknown)}")
        self._clients: dict[str, Any] = dict(clients)

    def client(self, service: str) -> Any:
        if service not in self._clients:
            import boto3  # deferred (~100 ms): only a process that calls AWS pays for it

            self._clients[service] = boto3.client(service)
        return self._clients[service]

    @property
    def s3(self) -> Any:
        return self.client("s3")

    @property
    def stepfunctions(self) -> Any:
        return self.client("stepfunctions")

    @property
    def cloudwatch(self) -> Any:
        return self.client("cloudwatch")

    @property
    def sns(self) -> Any:
        return self.client("sns")

    @property
    def events(self) -> Any:
        return self.client("events")

    @property
    def scheduler(self) -> Any:
        return self.client("scheduler")

    @property
    def lambda_(self) -> Any:
        return self.client("lambda")

    @property
    def dynamodb(self) -> Any:
        return self.client("dynamodb")

    @property
    def cloudformation(self) -> Any:
        return self.client("cloudformation")

    @property
    def iam(self) -> Any:
        return self.client("iam")

    @property
    def pipes(self) -> Any:
        return self.client("pipes")

    @property
    def sts(self) -> Any:
        return self.client("sts")


def error_code(error: Exception) -> str:
    """The AWS error code of a botocore ClientError ('' for any other exception)."""
    response = getattr(error, "response", None)
    if not isinstance(response, dict):
        return ""
    return str(response.get("Error", {}).get("Code", ""))
