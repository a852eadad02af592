"""A Fargate container's scripts read their flow's credentials from the runner's loopback endpoint,
as every AWS SDK reads a task role's from ECS, and read them again as they near their expiry."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any, cast

import pytest
from botocore.credentials import ContainerProvider

from stratoflow.cloud.runtime.container_credentials import CredentialsEndpoint
from stratoflow.cloud.runtime.flow_credentials import FlowRoleCredentials
from stratoflow.tasks.scripts.environment import ENDPOINT_VARIABLES


class Rotating:
    """The sandbox role's provider: a new session each time it is asked, for one flow."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, str, str]] = []

    def issued(self, namespace: str, flow_id: str, execution_id: str) -> tuple[dict[str, str], float]:
        self.asked.append((namespace, flow_id, execution_id))
        n = len(self.asked)
        credentials = {
            "aws_access_key_id": f"ASIA{n:016d}",
            "aws_secret_access_key": f"secret-{n}",
            "aws_session_token": f"token-{n}",
        }
        return credentials, time.time() + 3600


@pytest.fixture
def endpoint() -> Iterator[tuple[CredentialsEndpoint, Rotating]]:
    provider = Rotating()
    served = CredentialsEndpoint(cast(FlowRoleCredentials, provider))
    yield served, provider
    served.close()


def _environment(given: dict[str, str]) -> dict[str, str]:
    return {ENDPOINT_VARIABLES[key]: value for key, value in given.items()}


def test_an_sdk_reads_the_flows_credentials_from_the_endpoint_each_time_it_refreshes(
    endpoint: tuple[CredentialsEndpoint, Rotating],
) -> None:
    # Given what a script of team.a's etl finds in its environment
    served, provider = endpoint
    environment = _environment(served.for_flow("team.a", "etl", "e1"))

    # When botocore's container provider loads credentials twice (as it does when they near expiry)
    first = ContainerProvider(environ=environment).load().get_frozen_credentials()
    second = ContainerProvider(environ=environment).load().get_frozen_credentials()

    # Then each load asked the sandbox role's provider for that flow, and got its current session
    assert provider.asked == [("team.a", "etl", "e1"), ("team.a", "etl", "e1")]
    assert (first.access_key, first.secret_key, first.token) == (
        "ASIA" + "0" * 15 + "1",
        "secret-1",
        "token-1",
    )
    assert second.token == "token-2"
    assert environment["AWS_CONTAINER_CREDENTIALS_FULL_URI"].startswith("http://127.0.0.1:")


def test_without_its_token_the_endpoint_serves_nothing(
    endpoint: tuple[CredentialsEndpoint, Rotating],
) -> None:
    # Given a script's endpoint
    served, provider = endpoint
    environment = _environment(served.for_flow("team.a", "etl", "e1"))
    url = environment["AWS_CONTAINER_CREDENTIALS_FULL_URI"]

    # When it is asked with another token, or none
    statuses: list[Any] = []
    for headers in ({"Authorization": "guessed"}, {}):
        try:
            urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10)
        except urllib.error.HTTPError as error:
            statuses.append((error.code, json.loads(error.read())["message"]))

    # Then it refuses both, and no credentials were issued
    assert statuses == [(403, "unknown path or authorization token")] * 2
    assert provider.asked == []
