"""The table the tests and `--cloud-sim` create on moto is the table the stack deploys.

`stratoflow.cloudsim.stack.create_table` mirrors infra/constructs/storage.py by hand; the store's item
layout (`stratoflow.store.dynamo_items`) relies on both. Compared here on what DynamoDB itself reports.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from infra_synth import Synthesized
from moto import mock_aws

from stratoflow.cloudsim import moto_environment
from stratoflow.cloudsim.stack import atomic_dynamodb_client, create_table
from stratoflow.store import dynamo_items


def _index(index: dict[str, Any]) -> tuple[str, list[tuple[str, str]], str, list[str]]:
    projection = index["Projection"]
    return (
        index["IndexName"],
        [(key["AttributeName"], key["KeyType"]) for key in index["KeySchema"]],
        projection["ProjectionType"],
        sorted(projection.get("NonKeyAttributes", [])),
    )


def _table(description: dict[str, Any]) -> dict[str, Any]:
    """What the store depends on, from a CloudFormation table or a DescribeTable answer alike."""
    return {
        "keys": [(key["AttributeName"], key["KeyType"]) for key in description["KeySchema"]],
        "attributes": sorted(
            (a["AttributeName"], a["AttributeType"]) for a in description["AttributeDefinitions"]
        ),
        "indexes": sorted(_index(index) for index in description["GlobalSecondaryIndexes"]),
    }


@pytest.fixture
def simulated_table() -> Iterator[dict[str, Any]]:
    with moto_environment(), mock_aws():
        client = atomic_dynamodb_client()
        create_table(client, "synced")
        yield client.describe_table(TableName="synced")["Table"]


def test_the_simulated_table_has_the_deployed_keys_and_index_projections(
    synth: Synthesized, simulated_table: dict[str, Any]
) -> None:
    # Given the table in the synthesized template and the one cloudsim creates on moto
    deployed = synth.resource(synth.platform.storage.table)["Properties"]

    # Then their keys, attribute types and indexes (key schema and projection) are the same
    assert _table(simulated_table) == _table(deployed)


def test_the_indexes_project_what_the_listings_filter_on(synth: Synthesized) -> None:
    # Given the indexes the stack deploys
    deployed = synth.resource(synth.platform.storage.table)["Properties"]["GlobalSecondaryIndexes"]

    # Then each includes exactly the attributes the store's listings filter on, and no execution data
    assert {
        index["IndexName"]: sorted(index["Projection"].get("NonKeyAttributes", [])) for index in deployed
    } == {name: sorted(projection) for name, projection in dynamo_items.INDEX_PROJECTIONS.items()}
    assert {index["Projection"]["ProjectionType"] for index in deployed} == {"INCLUDE"}
