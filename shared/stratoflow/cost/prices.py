"""Public list prices (us-east-1, on-demand) and the always-free tiers the estimate can subtract."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Prices:
    """US dollars; per-unit prices, not per-million, so that arithmetic stays plain."""

    standard_transition: float = 0.025 / 1_000
    express_request: float = 1.00 / 1_000_000
    express_gb_second: float = 0.00001667
    lambda_request: float = 0.20 / 1_000_000
    lambda_gb_second_arm64: float = 0.0000133334
    # Fargate on Linux/ARM64, per second: $0.03238 per vCPU-hour and $0.00356 per GB-hour.
    fargate_vcpu_second_arm64: float = 0.03238 / 3600
    fargate_gb_second_arm64: float = 0.00356 / 3600
    # On-demand request units since the November 2024 price cut (half the earlier $1.25 / $0.25).
    dynamodb_write_unit: float = 0.625 / 1_000_000
    dynamodb_read_unit: float = 0.125 / 1_000_000
    region: str = "us-east-1"


@dataclass(frozen=True)
class FreeTier:
    """Monthly always-free allowances (applied only with `--free-tier`); on-demand DynamoDB has none."""

    standard_transitions: float = 4_000
    lambda_requests: float = 1_000_000
    lambda_gb_seconds: float = 400_000


LIST_PRICES = Prices()
FREE_TIER = FreeTier()
