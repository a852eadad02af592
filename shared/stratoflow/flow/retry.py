"""Retry policies, for a task (`retry:` on any task) and for a whole flow."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import AliasChoices, Field, model_validator

from stratoflow.flow.fields import Duration, StrictModel


class Retry(StrictModel):
    """Kestra's retry: `maxAttempts` counts every attempt, the first included."""

    # Attempts allowed when only `maxDuration` bounds the retries: Step Functions retries up to this
    # ceiling and the runner (a task's) or the flow's retry stops once the duration is spent.
    ATTEMPTS_CEILING: ClassVar[int] = 100

    type: Literal["constant", "exponential", "random"]
    max_attempts: int | None = Field(
        default=None,
        ge=1,
        validation_alias=AliasChoices("maxAttempts", "maxAttempt", "max_attempts"),
        serialization_alias="maxAttempts",
    )
    max_duration: Duration | None = None
    interval: Duration | None = None
    max_interval: Duration | None = None
    delay_factor: float | None = Field(default=None, gt=0)
    min_interval: Duration | None = None
    warning_on_retry: bool = False
    # Only meaningful on a flow's retry.
    behavior: Literal["RETRY_FAILED_TASK", "CREATE_NEW_EXECUTION"] | None = None

    @model_validator(mode="after")
    def _check_intervals(self) -> Retry:
        if self.type in ("constant", "exponential") and self.interval is None:
            raise ValueError(f"a {self.type} retry needs 'interval'")
        if self.type == "random":
            if self.min_interval is None or self.max_interval is None:
                raise ValueError("a random retry needs 'minInterval' and 'maxInterval'")
            if self.min_interval > self.max_interval:
                raise ValueError("'minInterval' must not be greater than 'maxInterval'")
        if (
            self.type == "exponential"
            and self.max_interval
            and self.interval
            and self.max_interval < self.interval
        ):
            raise ValueError("'maxInterval' must not be smaller than 'interval'")
        return self

    @property
    def attempt_limit(self) -> int:
        """How many attempts in all: `maxAttempts`; the ceiling when only `maxDuration` bounds them;
        else 1 (no retry)."""
        if self.max_attempts is not None:
            return self.max_attempts
        return self.ATTEMPTS_CEILING if self.max_duration is not None else 1

    @property
    def backoff_rate(self) -> float:
        """How much each wait grows: `delayFactor` for exponential retries (Kestra's default 2), else 1."""
        if self.type == "exponential":
            return self.delay_factor if self.delay_factor is not None else 2.0
        return 1.0
