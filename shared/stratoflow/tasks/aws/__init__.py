"""AWS task types (`aws.s3.*`, `aws.dynamodb.*`, `aws.sqs.Publish`, `aws.sns.Publish`,
`aws.eventbridge.PutEvents`, `aws.lambda.Invoke`, `aws.athena.Query`, `aws.ecs.RunTask`,
`aws.batch.SubmitJob`), registered on import.

The registry imports this family when a flow names a type that is not a core one; boto3 itself is
imported only when a task runs.
"""

from stratoflow.tasks.aws import athena, cli, dynamodb, invoke, messaging, native, s3, ses
from stratoflow.tasks.aws.errors import (
    AwsAccessDenied,
    AwsConflict,
    AwsError,
    AwsInvalidRequest,
    AwsNotFound,
    AwsThrottled,
    AwsUnavailable,
)

__all__ = [
    "AwsAccessDenied",
    "AwsConflict",
    "AwsError",
    "AwsInvalidRequest",
    "AwsNotFound",
    "AwsThrottled",
    "AwsUnavailable",
    "athena",
    "cli",
    "dynamodb",
    "invoke",
    "messaging",
    "native",
    "s3",
    "ses",
]
