"""AWS error codes become typed failures whose class name Retry/Catch match on."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError, ParamValidationError

from stratoflow.tasks.aws import (
    AwsAccessDenied,
    AwsConflict,
    AwsError,
    AwsInvalidRequest,
    AwsNotFound,
    AwsThrottled,
    AwsUnavailable,
)
from stratoflow.tasks.aws.errors import aws_failure
from stratoflow.tasks.errors import TaskFailed


def client_error(code: str, status: int = 400) -> ClientError:
    return ClientError(
        {
            "Error": {"Code": code, "Message": f"{code} happened"},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        "Op",
    )


@pytest.mark.parametrize(
    ("code", "status", "family"),
    [
        ("AccessDenied", 403, AwsAccessDenied),
        ("ExpiredTokenException", 400, AwsAccessDenied),
        ("ThrottlingException", 400, AwsThrottled),
        ("SlowDown", 503, AwsThrottled),
        ("ProvisionedThroughputExceededException", 400, AwsThrottled),
        ("NoSuchKey", 404, AwsNotFound),
        ("ResourceNotFoundException", 400, AwsNotFound),
        ("AWS.SimpleQueueService.NonExistentQueue", 400, AwsNotFound),
        ("ValidationException", 400, AwsInvalidRequest),
        ("ConditionalCheckFailedException", 400, AwsConflict),
        ("InternalError", 500, AwsUnavailable),
        ("SomethingNew", 502, AwsUnavailable),
        ("SomethingNew", 404, AwsNotFound),
        ("SomethingNew", 400, AwsError),
    ],
)
def test_a_client_error_becomes_its_family(code: str, status: int, family: type[AwsError]) -> None:
    failure = aws_failure(client_error(code, status), "aws.s3.Upload")

    assert type(failure) is family
    assert isinstance(failure, TaskFailed)
    assert failure.code == code  # type: ignore[union-attr]
    assert failure.message == f"aws.s3.Upload: {code}: {code} happened"  # type: ignore[union-attr]


def test_sdk_errors_without_a_response_have_families_too() -> None:
    assert type(aws_failure(NoCredentialsError(), "x")) is AwsAccessDenied
    assert type(aws_failure(ParamValidationError(report="Bucket is required"), "x")) is AwsInvalidRequest
    assert type(aws_failure(EndpointConnectionError(endpoint_url="http://nowhere"), "x")) is AwsUnavailable
    assert aws_failure(ValueError("not AWS"), "x") is None


def test_every_family_is_a_task_failure_named_for_asl() -> None:
    for family in (
        AwsAccessDenied,
        AwsThrottled,
        AwsNotFound,
        AwsInvalidRequest,
        AwsConflict,
        AwsUnavailable,
    ):
        assert issubclass(family, AwsError) and issubclass(family, TaskFailed)
        assert family.__name__.startswith("Aws")
