"""What a command that needs AWS says when the shell cannot reach it: one line naming what is missing
(a region, credentials, the stack), instead of a botocore traceback.

`require_aws()` checks the region and the credentials before the first call; `aws_error_line(error)`
turns an AWS error raised during a command into that line (by the exception's type and AWS error
code, never its text). botocore is imported only when a command has used it already.
"""

from __future__ import annotations

import sys

import click

REGION_HELP = "set AWS_DEFAULT_REGION (or a region for your profile in ~/.aws/config)"
CREDENTIALS_HELP = "set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run `aws configure` / `aws sso login`"
# Error codes that mean the credentials themselves were refused (not a missing permission).
REJECTED_CREDENTIALS = frozenset(
    {
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
        "InvalidAccessKeyId",
    }
)
ACCESS_DENIED = frozenset({"AccessDenied", "AccessDeniedException", "AuthorizationError"})


def require_aws() -> None:
    """Refuse in one line when no region or no credentials are configured (before any AWS call)."""
    import boto3
    import botocore.exceptions

    try:
        session = boto3.Session()
        if session.region_name is None:
            raise click.ClickException(f"no AWS region: {REGION_HELP}")
        if session.get_credentials() is None:
            raise click.ClickException(f"no AWS credentials: {CREDENTIALS_HELP}")
    except botocore.exceptions.BotoCoreError as error:  # a broken profile or config file
        raise click.ClickException(aws_error_line(error) or f"AWS configuration: {error}") from None


def aws_error_line(error: BaseException) -> str | None:
    """One line for an AWS SDK error (None when `error` is not one)."""
    if "botocore" not in sys.modules:
        return None
    from botocore import exceptions as aws

    if isinstance(error, aws.NoRegionError):
        return f"no AWS region: {REGION_HELP}"
    if isinstance(error, (aws.NoCredentialsError, aws.PartialCredentialsError)):
        return f"no AWS credentials: {CREDENTIALS_HELP}"
    if isinstance(error, aws.ProfileNotFound):
        return f"AWS profile not found: {error.kwargs.get('profile')} (check AWS_PROFILE and ~/.aws/config)"
    if isinstance(error, (aws.EndpointConnectionError, aws.ConnectTimeoutError)):
        return f"cannot reach AWS: {error} (check the network and the region)"
    if isinstance(error, aws.ClientError):
        details = error.response.get("Error", {})
        code = str(details.get("Code", ""))
        message = str(details.get("Message", "")) or code
        operation = error.operation_name
        if code in REJECTED_CREDENTIALS:
            return f"AWS refused the credentials ({code}): {message}; {CREDENTIALS_HELP}"
        if code in ACCESS_DENIED:
            return f"AWS denied {operation} ({code}): {message}"
        return f"AWS {operation} failed ({code}): {message}"
    if isinstance(error, aws.BotoCoreError):
        return f"AWS: {error}"
    return None
