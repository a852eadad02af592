"""The DynamoDB edge: expressions with placeholders, paging, batching, and error mapping.

`ConditionalCheckFailedException` (and a transaction cancelled by a failed condition) becomes
`ConditionFailed`, a ConflictError, here and nowhere deeper.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, cast

from stratoflow.errors import ConflictError, StratoflowError
from stratoflow.store.dynamo_items import Item, dump

if TYPE_CHECKING:  # boto3-stubs (dev only): nothing of it is imported at run time
    from botocore.exceptions import ClientError
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

# Named condition clauses.
ITEM_EXISTS = "attribute_exists(pk)"
ITEM_ABSENT = "attribute_not_exists(pk)"
CONDITION_CHECK_FAILED = "ConditionalCheckFailed"

_BATCH_WRITE = 25  # DynamoDB's limits per BatchWriteItem / BatchGetItem call
_BATCH_GET = 100
_RETRIES = 8


class ConditionFailed(ConflictError):
    """A conditional write lost; `current` is the item as it was, when DynamoDB returned it. For a
    transaction, `reasons` holds the cancellation code of each action, in order, when DynamoDB gave them."""

    def __init__(self, current: Item | None, reasons: Sequence[str] = ()) -> None:
        self.current = current
        self.reasons = tuple(reasons)
        super().__init__("conditional write failed")


class Expression:
    """Placeholders for every attribute name and value, so reserved words and odd names are safe."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}
        self.values: dict[str, Any] = {}

    def name(self, *path: str) -> str:
        """A placeholder path: name("labels", "env") -> "#n0.#n1"."""
        placeholders = []
        for part in path:
            placeholder = next((p for p, n in self.names.items() if n == part), f"#n{len(self.names)}")
            self.names[placeholder] = part
            placeholders.append(placeholder)
        return ".".join(placeholders)

    def value(self, value: Any) -> str:
        placeholder = f":v{len(self.values)}"
        self.values[placeholder] = value
        return placeholder

    def assign(self, values: dict[str, Any]) -> list[str]:
        """`#name = :value` clauses for a SET."""
        return [f"{self.name(name)} = {self.value(value)}" for name, value in values.items()]

    def params(self) -> dict[str, Any]:
        params: dict[str, Any] = {}
        if self.names:
            params["ExpressionAttributeNames"] = self.names
        if self.values:
            params["ExpressionAttributeValues"] = dump(self.values)
        return params


class Table:
    """One DynamoDB table through an injected low-level client."""

    def __init__(self, name: str, client: DynamoDBClient) -> None:
        self.name = name
        self.client = client

    # Read when an error is being handled (an `except` clause evaluates its class then), not in
    # __init__: a client created on first use is not created by building the store.
    @property
    def _condition_failed(self) -> type[ClientError]:
        return self.client.exceptions.ConditionalCheckFailedException

    @property
    def _cancelled(self) -> type[ClientError]:
        return self.client.exceptions.TransactionCanceledException

    def get(self, key: Item, projection: Sequence[str] = ()) -> Item | None:
        """Strongly consistent GetItem, of the `projection` attributes only when given."""
        params: dict[str, Any] = {"TableName": self.name, "Key": key, "ConsistentRead": True}
        if projection:
            ex = Expression()
            params["ProjectionExpression"] = ", ".join(ex.name(name) for name in projection)
            params.update(ex.params())
        item: Item | None = self.client.get_item(**params).get("Item")
        return item

    def put(self, item: Item, condition: str | None = None, expression: Expression | None = None) -> None:
        params: dict[str, Any] = {"TableName": self.name, "Item": item}
        if condition:
            params["ConditionExpression"] = condition
            params["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        self._write(self.client.put_item, params, expression)

    def update(
        self,
        key: Item,
        update: str,
        expression: Expression,
        condition: str | None = None,
        returns: str = "ALL_NEW",
    ) -> Item:
        params: dict[str, Any] = {
            "TableName": self.name,
            "Key": key,
            "UpdateExpression": update,
            "ReturnValues": returns,
        }
        if condition:
            params["ConditionExpression"] = condition
            params["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        attributes: Item = self._write(self.client.update_item, params, expression).get("Attributes", {})
        return attributes

    def delete(self, key: Item, condition: str | None = None) -> Item | None:
        """Delete an item and return it as it was (None when there was none); ConditionFailed if the
        `condition` does not hold."""
        params: dict[str, Any] = {"TableName": self.name, "Key": key, "ReturnValues": "ALL_OLD"}
        if condition:
            params["ConditionExpression"] = condition
        old: Item | None = self._write(self.client.delete_item, params, None).get("Attributes")
        return old

    def _write(self, call: Any, params: dict[str, Any], expression: Expression | None) -> dict[str, Any]:
        if expression is not None:
            params.update(expression.params())
        try:
            response: dict[str, Any] = call(**params)
        except self._condition_failed as failed:
            item = failed.response.get("Item")  # the item as it was, when the call asked for it
            raise ConditionFailed(item if isinstance(item, dict) else None) from None
        return response

    def transact(self, actions: Sequence[tuple[str, dict[str, Any]]]) -> None:
        """TransactWriteItems of ("Put" | "Update" | ..., params) pairs; ConditionFailed if any condition fails.

        A transaction cancelled only because another one was writing the same items is retried.
        """
        # Each action is one of TransactWriteItem's members ("Put", "Update", ...) with its parameters.
        items = cast(
            "list[TransactWriteItemTypeDef]",
            [{kind: {"TableName": self.name, **params}} for kind, params in actions],
        )
        for attempt in range(_RETRIES):
            try:
                self.client.transact_write_items(TransactItems=items)
                return
            except self._cancelled as cancelled:
                reasons = [str(r.get("Code")) for r in cancelled.response.get("CancellationReasons", [])]
                codes = set(reasons)
                if CONDITION_CHECK_FAILED in codes:
                    raise ConditionFailed(None, reasons if len(reasons) == len(items) else ()) from None
                if "TransactionConflict" not in codes or attempt == _RETRIES - 1:
                    raise
            _backoff(attempt)

    def query(
        self,
        key_condition: str,
        expression: Expression,
        *,
        index: str | None = None,
        newest_first: bool = False,
        filter_: str | None = None,
        limit: int | None = None,
        projection: str | None = None,
    ) -> Iterator[Item]:
        """Items matching a key condition (and filter), page after page, stopping after `limit`."""
        params: dict[str, Any] = {
            "TableName": self.name,
            "KeyConditionExpression": key_condition,
            "ScanIndexForward": not newest_first,
            **expression.params(),
        }
        if index:
            params["IndexName"] = index
        else:
            params["ConsistentRead"] = True
        if filter_:
            params["FilterExpression"] = filter_
        if projection:
            params["ProjectionExpression"] = projection
        if limit is not None:
            # Limit counts items read, before the filter: read in larger pages when filtering.
            params["Limit"] = max(limit, 100) if filter_ else limit
        remaining = limit
        while remaining is None or remaining > 0:
            page = self.client.query(**params)
            items: list[Item] = page.get("Items", [])
            if remaining is not None:
                items = items[:remaining]
                remaining -= len(items)
            yield from items
            if "LastEvaluatedKey" not in page:
                return
            params["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def batch_get(self, keys: Sequence[Item]) -> list[Item]:
        found: list[Item] = []
        for start in range(0, len(keys), _BATCH_GET):
            request: dict[str, Any] = {
                self.name: {"Keys": list(keys[start : start + _BATCH_GET]), "ConsistentRead": True}
            }
            for attempt in range(_RETRIES):
                response = self.client.batch_get_item(RequestItems=request)
                found.extend(response.get("Responses", {}).get(self.name, []))
                request = response.get("UnprocessedKeys") or {}
                if not request:
                    break
                _backoff(attempt)
            else:
                raise StratoflowError(f"DynamoDB kept {len(request[self.name]['Keys'])} keys unprocessed")
        return found

    def batch_put(self, items: Sequence[Item]) -> None:
        for start in range(0, len(items), _BATCH_WRITE):
            request: dict[str, Any] = {
                self.name: [{"PutRequest": {"Item": item}} for item in items[start : start + _BATCH_WRITE]]
            }
            for attempt in range(_RETRIES):
                request = self.client.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}
                if not request:
                    break
                _backoff(attempt)
            else:
                raise StratoflowError(f"DynamoDB kept {len(request[self.name])} items unprocessed")


def _backoff(attempt: int) -> None:
    """Wait before retrying unprocessed batch items (DynamoDB returns them when throttled)."""
    time.sleep(min(0.05 * 2**attempt, 2.0))
