"""DynamoDBTable: the one table the AWS adapters share, and the calls more than one of them makes.

The catalog, the key store, the pending uploads and the idempotency store each hold their items
in this table (``aws.table`` defines it, ``dynamodb_items`` the items). Each call takes ``what``,
the adapter's name for its data, so that botocore's errors become domain errors naming it
(``aws.errors``); a failed condition is an answer (None or False), not an exception.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any, Literal, TypeVar

from botocore.exceptions import ClientError

from image_service.adapters.dynamodb_items import Item
from image_service.aws.clients import AwsClients
from image_service.aws.errors import aws_errors, error_code

T = TypeVar("T")
MUST_BE_NEW = "attribute_not_exists(PK)"  # the condition of a write that creates an item


class DynamoDBTable:
    def __init__(self, clients: AwsClients, name: str) -> None:
        self.clients = clients  # created lazily: nothing here touches the network
        self.name = name

    @property
    def client(self) -> Any:
        return self.clients.dynamodb

    def get(self, key: Item, what: str) -> Item | None:
        """A strongly consistent GetItem: a write is visible to the next read."""
        with aws_errors(what):
            item: Item | None = self.client.get_item(TableName=self.name, Key=key, ConsistentRead=True).get(
                "Item"
            )
        return item

    def batch_get(self, keys: list[Item], what: str) -> list[Item]:
        """BatchGetItem for up to 100 keys, retrying what DynamoDB leaves unprocessed; the items
        come in any order."""
        items: list[Item] = []
        pending: dict[str, Any] = {self.name: {"Keys": keys}} if keys else {}
        delay = 0.02
        while pending:
            with aws_errors(what):
                response = self.client.batch_get_item(RequestItems=pending)
            items += response.get("Responses", {}).get(self.name, [])
            pending = response.get("UnprocessedKeys") or {}
            if pending:
                time.sleep(delay)
                delay = min(delay * 2, 1.0)
        return items

    def put_new(self, item: Item, what: str) -> bool:
        """PutItem unless an item with its key exists; False if one does."""
        return (
            self.conditional(
                what,
                lambda: self.client.put_item(TableName=self.name, Item=item, ConditionExpression=MUST_BE_NEW),
            )
            is not None
        )

    def conditional(self, what: str, write: Callable[[], T]) -> T | None:
        """The answer of a conditional write, or None if its condition failed."""
        try:
            with aws_errors(what):
                return write()
        except ClientError as error:
            if error_code(error) == "ConditionalCheckFailedException":
                return None
            raise

    def pages(
        self, operation: Literal["query", "scan"], what: str, **request: Any
    ) -> Iterator[dict[str, Any]]:
        """Every page of a Query or Scan of this table."""
        paginator = self.client.get_paginator(operation)
        with aws_errors(what):
            yield from paginator.paginate(TableName=self.name, **request)
