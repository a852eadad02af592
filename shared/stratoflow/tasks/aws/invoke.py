"""`aws.lambda.Invoke`: call a Lambda function and wait for its answer."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, ClassVar, cast

from pydantic import AliasChoices, Field

from stratoflow.flow.registry import register
from stratoflow.flow.run_context import RunContext
from stratoflow.tasks.aws.base import (
    KESTRA_AWS,
    AwsTask,
    Statement,
    is_static,
    pattern,
    regional_arn,
    render_text,
    statement,
)
from stratoflow.tasks.errors import TaskFailed

if TYPE_CHECKING:  # boto3-stubs (dev only): nothing of it is imported at run time
    from mypy_boto3_lambda import LambdaClient


def function_arns(name: str, region: str | None) -> list[str]:
    """The ARNs `lambda:InvokeFunction` needs for a function name or ARN, any version or alias."""
    if is_static(name) and name.startswith("arn:"):
        base = ":".join(name.split(":")[:7])  # without a qualifier
        return [base, f"{base}:*"]
    short = name.split(":", 1)[0] if is_static(name) else pattern(name)
    base = regional_arn("lambda", region, f"function:{short}")
    return [base, f"{base}:*"]


def _decode(raw: bytes) -> Any:
    """A payload as JSON when it is JSON, else as text."""
    text = raw.decode("utf-8", errors="replace")
    try:
        return json.loads(text) if text else None
    except json.JSONDecodeError:
        return text


@register
class LambdaInvoke(AwsTask):
    """Invoke a function with `payload` (Kestra's `functionPayload`) and wait for it. A function error
    fails the task with the function's error type in the message."""

    type_name: ClassVar[str] = "aws.lambda.Invoke"
    aliases: ClassVar[tuple[str, ...]] = (f"{KESTRA_AWS}.lambda.Invoke",)
    output_fields: ClassVar[dict[str, str]] = {
        "statusCode": "the Invoke status code (200)",
        "payload": "the function's result (parsed JSON, or text)",
        "executedVersion": "the version that ran",
        "uri": "storage URI of the function's response, as a file (Kestra's output)",
        "contentLength": "size of the response in bytes",
        "contentType": "the response's media type (application/json)",
    }
    service: ClassVar[str] = "lambda"

    def client(self, ctx: RunContext) -> LambdaClient:
        return cast("LambdaClient", super().client(ctx))  # a client of `service`

    function_arn: str
    payload: dict[str, Any] | list[Any] | str | None = Field(
        default=None, validation_alias=AliasChoices("payload", "functionPayload")
    )

    def call(self, ctx: RunContext) -> dict[str, Any]:
        name = render_text(ctx, self.function_arn)
        payload = ctx.render(self.payload)
        body = payload if isinstance(payload, str) else json.dumps(payload if payload is not None else {})
        response = self.client(ctx).invoke(FunctionName=name, InvocationType="RequestResponse", Payload=body)
        raw = response["Payload"].read()
        result = _decode(raw)
        if response.get("FunctionError"):
            document = result if isinstance(result, dict) else {}
            error_type = document.get("errorType") or response["FunctionError"]
            message = document.get("errorMessage") or str(result)
            raise TaskFailed(f"function {name} failed with {error_type}: {message}")
        return {
            "statusCode": response.get("StatusCode"),
            "payload": result,
            "executedVersion": response.get("ExecutedVersion"),
            "uri": ctx.put_file("response.json", raw),
            "contentLength": len(raw),
            "contentType": "application/json",
        }

    def call_statements(self) -> list[Statement]:
        return [statement(["lambda:InvokeFunction"], function_arns(self.function_arn, self.region))]
