"""AWS failures as typed task errors.

The class name is the error name Step Functions' Retry and Catch match on (`ErrorEquals:
["AwsThrottled"]`), so a flow can retry throttling and not a refused permission. Errors are sorted
into families by AWS's error code (never by message text), then by HTTP status.
"""

from __future__ import annotations

from stratoflow.tasks.errors import TaskError, TaskFailed


class AwsError(TaskFailed):
    """An AWS call failed; `code` is AWS's error code. Raised as is when no family below fits."""

    def __init__(self, message: str, code: str | None = None):
        self.code = code
        super().__init__(message)


class AwsAccessDenied(AwsError):
    """Missing, expired or insufficient credentials: retrying does not help."""


class AwsThrottled(AwsError):
    """The request was throttled: retry with a backoff."""


class AwsNotFound(AwsError):
    """The bucket, key, table, queue, topic, function or query does not exist."""


class AwsInvalidRequest(AwsError):
    """AWS refused the request as invalid: retrying does not help."""


class AwsConflict(AwsError):
    """A condition or precondition failed, or the resource is busy."""


class AwsUnavailable(AwsError):
    """The service failed or could not be reached (5xx, connection errors): retrying may help."""


_CODES: dict[type[AwsError], tuple[str, ...]] = {
    AwsAccessDenied: (
        "AccessDenied",
        "AccessDeniedException",
        "AuthorizationError",
        "AuthorizationErrorException",
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidAccessKeyId",
        "InvalidClientTokenId",
        "InvalidSignatureException",
        "KMSAccessDeniedException",
        "SignatureDoesNotMatch",
        "UnauthorizedOperation",
        "UnrecognizedClientException",
    ),
    AwsThrottled: (
        "EC2ThrottledException",
        "LimitExceededException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "RequestThrottledException",
        "SlowDown",
        "Throttled",
        "ThrottledException",
        "Throttling",
        "ThrottlingException",
        "TooManyRequestsException",
    ),
    AwsNotFound: (
        "AWS.SimpleQueueService.NonExistentQueue",
        "EntityNotFoundException",
        "NoSuchBucket",
        "NoSuchKey",
        "NoSuchVersion",
        "NotFound",
        "NotFoundException",
        "ParameterNotFound",
        "QueueDoesNotExist",
        "ResourceNotFoundException",
        "TableNotFoundException",
    ),
    AwsInvalidRequest: (
        "InvalidArgument",
        "InvalidBucketName",
        "InvalidParameter",
        "InvalidParameterCombination",
        "InvalidParameterException",
        "InvalidParameterValue",
        "InvalidParameterValueException",
        "InvalidRequest",
        "InvalidRequestContentException",
        "InvalidRequestException",
        "MalformedPolicyDocument",
        "MissingParameter",
        "SerializationException",
        "ValidationError",
        "ValidationException",
    ),
    AwsConflict: (
        "BucketAlreadyExists",
        "BucketAlreadyOwnedByYou",
        "ConditionalCheckFailedException",
        "ConflictException",
        "PreconditionFailed",
        "ResourceConflictException",
        "ResourceInUseException",
        "TransactionConflictException",
        "TransactionInProgressException",
    ),
    AwsUnavailable: (
        "InternalError",
        "InternalFailure",
        "InternalServerError",
        "InternalServerException",
        "ServiceException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
    ),
}
FAMILY_BY_CODE: dict[str, type[AwsError]] = {
    code: family for family, codes in _CODES.items() for code in codes
}
_FAMILY_BY_STATUS: dict[int, type[AwsError]] = {
    401: AwsAccessDenied,
    403: AwsAccessDenied,
    404: AwsNotFound,
    409: AwsConflict,
    412: AwsConflict,
    429: AwsThrottled,
}


def family_of(code: str, status: int | None) -> type[AwsError]:
    """The failure class of an AWS error code (and HTTP status when the code is not known)."""
    family = FAMILY_BY_CODE.get(code)
    if family is not None:
        return family
    if status is not None and status >= 500:
        return AwsUnavailable
    return _FAMILY_BY_STATUS.get(status or 0, AwsError)


def aws_failure(error: Exception, action: str) -> TaskError | None:
    """The typed failure of a boto3/botocore error raised while doing `action`; None for other errors."""
    from botocore import exceptions as boto

    if isinstance(error, boto.ClientError):
        response = error.response
        details = response.get("Error", {})
        code = str(details.get("Code") or "Unknown")
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        message = details.get("Message") or code
        family = family_of(code, status)
        return family(f"{action}: {code}: {message}", code)
    if isinstance(error, boto.NoCredentialsError | boto.PartialCredentialsError):
        return AwsAccessDenied(f"{action}: {error}", "NoCredentials")
    if isinstance(error, boto.ParamValidationError):
        return AwsInvalidRequest(f"{action}: {error}", "ParamValidation")
    if isinstance(error, boto.ConnectionError | boto.HTTPClientError):
        return AwsUnavailable(f"{action}: {error}", type(error).__name__)
    if isinstance(error, boto.BotoCoreError):
        return AwsError(f"{action}: {error}", type(error).__name__)
    return None
