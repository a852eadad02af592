"""The boto3 clients the cloud code uses, created on first use from the default session."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:  # the stubs (boto3-stubs, a dev dependency): nothing of them is imported at run time
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_iam import IAMClient
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_logs import CloudWatchLogsClient
    from mypy_boto3_pipes import EventBridgePipesClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_scheduler import EventBridgeSchedulerClient
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_stepfunctions import SFNClient
    from mypy_boto3_sts import STSClient


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
        "logs",
    )

    # A client passed in, or a stand-in that behaves as one (cloud.config.lazy's LazyClient): the
    # properties below name each service's client type.
    def __init__(self, **clients: object):
        unknown = set(clients) - set(self.SERVICES)
        if unknown:
            raise ValueError(f"unknown services: {sorted(unknown)}")
        self._clients: dict[str, object] = dict(clients)

    def client(self, service: str) -> object:
        if service not in self._clients:
            import boto3  # deferred (~100 ms): only a process that calls AWS pays for it

            # A service named at run time: the stubs type boto3.client per literal service name only.
            self._clients[service] = boto3.client(service)  # type: ignore[call-overload]
        return self._clients[service]

    @property
    def s3(self) -> S3Client:
        return cast("S3Client", self.client("s3"))

    @property
    def stepfunctions(self) -> SFNClient:
        return cast("SFNClient", self.client("stepfunctions"))

    @property
    def cloudwatch(self) -> CloudWatchClient:
        return cast("CloudWatchClient", self.client("cloudwatch"))

    @property
    def sns(self) -> SNSClient:
        return cast("SNSClient", self.client("sns"))

    @property
    def events(self) -> EventBridgeClient:
        return cast("EventBridgeClient", self.client("events"))

    @property
    def scheduler(self) -> EventBridgeSchedulerClient:
        return cast("EventBridgeSchedulerClient", self.client("scheduler"))

    @property
    def lambda_(self) -> LambdaClient:
        return cast("LambdaClient", self.client("lambda"))

    @property
    def dynamodb(self) -> DynamoDBClient:
        return cast("DynamoDBClient", self.client("dynamodb"))

    @property
    def cloudformation(self) -> CloudFormationClient:
        return cast("CloudFormationClient", self.client("cloudformation"))

    @property
    def iam(self) -> IAMClient:
        return cast("IAMClient", self.client("iam"))

    @property
    def pipes(self) -> EventBridgePipesClient:
        return cast("EventBridgePipesClient", self.client("pipes"))

    @property
    def sts(self) -> STSClient:
        return cast("STSClient", self.client("sts"))

    @property
    def logs(self) -> CloudWatchLogsClient:
        return cast("CloudWatchLogsClient", self.client("logs"))


def error_code(error: Exception) -> str:
    """The AWS error code of a botocore ClientError ('' for any other exception)."""
    response = getattr(error, "response", None)
    if not isinstance(response, dict):
        return ""
    return str(response.get("Error", {}).get("Code", ""))
