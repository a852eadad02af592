"""Kestra retry policies -> ASL Retriers.

Kestra counts the first attempt in `maxAttempts`; ASL's `MaxAttempts` counts retries only. ASL
intervals are whole seconds >= 1, so shorter or fractional intervals are rounded up with a warning.
"""

from __future__ import annotations

import math
from datetime import timedelta

from stratoflow.compiler.asl import Retrier
from stratoflow.flow.retry import Retry

# Errors raised by the Lambda service itself (the task never ran): retried always, as AWS recommends.
LAMBDA_SERVICE_ERRORS = [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
]
# Throttles (TooManyRequests: the account's or the function's concurrency is used up) come in bursts:
# 2 s doubling, each wait capped at 60 s, 8 retries: up to 2+4+8+16+32+60+60+60 = 242 s of waiting
# (FULL jitter waits a random part of each, so retries of a burst spread out), about 2 minutes on average.
PLATFORM_RETRIER = Retrier(
    error_equals=LAMBDA_SERVICE_ERRORS,
    interval_seconds=2,
    max_attempts=8,
    backoff_rate=2.0,
    max_delay_seconds=60,
    jitter_strategy="FULL",
)
# Errors that must never be retried whatever the task's policy says.
NOT_RETRIED = ["ExitExecution", "RetriesExhausted", "TaskSkipped"]


def _seconds(value: timedelta | None, what: str, task_id: str, warnings: list[str]) -> int | None:
    if value is None:
        return None
    seconds = value.total_seconds()
    whole = max(1, math.ceil(seconds))
    if whole != seconds:
        warnings.append(
            f"task '{task_id}': retry {what} {seconds:g}s rounded up to {whole}s "
            "(Step Functions retries in whole seconds, at least 1)"
        )
    return whole


def retriers(retry: Retry | None, task_id: str, warnings: list[str]) -> list[Retrier]:
    """The Retry list of a task state: platform errors, never-retried errors, then the task's policy."""
    rules = [PLATFORM_RETRIER]
    if retry is None:
        return rules
    # With only a duration bound, Step Functions retries up to the ceiling; the runner stops at maxDuration.
    max_attempts = retry.attempt_limit
    if max_attempts <= 1:
        return rules
    rules.append(Retrier(error_equals=NOT_RETRIED, max_attempts=0))
    kind = retry.type
    if kind == "random":
        interval = _seconds(retry.min_interval, "minInterval", task_id, warnings) or 1
        max_delay = _seconds(retry.max_interval, "maxInterval", task_id, warnings)
        rules.append(
            Retrier(
                error_equals=["States.ALL"],
                interval_seconds=max_delay or interval,
                max_attempts=max_attempts - 1,
                backoff_rate=retry.backoff_rate,
                jitter_strategy="FULL",
            )
        )
        return rules
    interval = _seconds(retry.interval, "interval", task_id, warnings) or 1
    if kind == "exponential":
        rules.append(
            Retrier(
                error_equals=["States.ALL"],
                interval_seconds=interval,
                max_attempts=max_attempts - 1,
                backoff_rate=retry.backoff_rate,
                max_delay_seconds=_seconds(retry.max_interval, "maxInterval", task_id, warnings),
            )
        )
        return rules
    rules.append(
        Retrier(
            error_equals=["States.ALL"],
            interval_seconds=interval,
            max_attempts=max_attempts - 1,
            backoff_rate=retry.backoff_rate,
        )
    )
    return rules
