"""Lambda throttles come in bursts: the platform retrier of every task state waits long enough."""

from __future__ import annotations

from stratoflow.compiler.retry import LAMBDA_SERVICE_ERRORS, PLATFORM_RETRIER


def test_the_platform_retrier_rides_out_a_two_minute_throttling_burst() -> None:
    # Given the retrier every task-runner state has for Lambda's own errors
    retrier = PLATFORM_RETRIER
    assert "Lambda.TooManyRequestsException" in retrier.error_equals == LAMBDA_SERVICE_ERRORS
    assert retrier.max_attempts is not None and retrier.interval_seconds is not None

    # When its waits are added up (before jitter)
    rate = retrier.backoff_rate or 1.0
    cap = retrier.max_delay_seconds
    waits = [retrier.interval_seconds * rate**attempt for attempt in range(retrier.max_attempts)]
    capped = [min(wait, cap) if cap else wait for wait in waits]

    # Then they cover a burst of at least two minutes, and no single wait exceeds a minute
    assert sum(capped) >= 120
    assert max(capped) <= 60 and retrier.jitter_strategy == "FULL"
