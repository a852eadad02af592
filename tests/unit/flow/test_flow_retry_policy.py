"""The retry model holds the retry rules once: the attempts allowed and how each wait grows."""

from __future__ import annotations

from typing import Any

import pytest

from stratoflow.flow.retry import Retry


@pytest.mark.parametrize(
    ("policy", "attempts"),
    [
        ({"type": "constant", "interval": "PT1S", "maxAttempts": 3}, 3),
        ({"type": "constant", "interval": "PT1S", "maxDuration": "PT1M"}, Retry.ATTEMPTS_CEILING),
        ({"type": "constant", "interval": "PT1S", "maxAttempts": 2, "maxDuration": "PT1M"}, 2),
        ({"type": "constant", "interval": "PT1S"}, 1),
    ],
)
def test_the_attempt_limit_is_max_attempts_else_the_ceiling_under_a_duration_else_one(
    policy: dict[str, Any], attempts: int
) -> None:
    # Given a retry policy, When its attempt limit is read, Then it counts every attempt
    assert Retry.model_validate(policy).attempt_limit == attempts


@pytest.mark.parametrize(
    ("policy", "rate"),
    [
        ({"type": "exponential", "interval": "PT1S", "delayFactor": 3}, 3.0),
        ({"type": "exponential", "interval": "PT1S"}, 2.0),
        ({"type": "constant", "interval": "PT1S"}, 1.0),
        ({"type": "random", "minInterval": "PT1S", "maxInterval": "PT2S"}, 1.0),
    ],
)
def test_the_backoff_rate_is_the_delay_factor_of_an_exponential_retry_else_one(
    policy: dict[str, Any], rate: float
) -> None:
    # Given a retry policy, When its backoff rate is read, Then only an exponential one grows
    assert Retry.model_validate(policy).backoff_rate == rate
