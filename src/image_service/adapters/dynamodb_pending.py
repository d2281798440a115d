"""DynamoDBPendingUploads: direct uploads between start and completion, in the catalog's table.

Expired records are found with a Query on the ``PENDING`` partition of ``by_visibility`` (sorted
by expiry); DynamoDB's TTL removes any the service never swept, a day after they expired.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from botocore.exceptions import ClientError

from image_service.adapters.dynamodb_catalog import DynamoDBImageCatalog
from image_service.adapters.dynamodb_items import (
    PENDING_PARTITION,
    S,
    pending_from,
    pending_item,
    pending_key,
)
from image_service.aws.errors import aws_errors, error_code
from image_service.aws.table import BY_VISIBILITY
from image_service.domain.errors import Conflict, NotFound
from image_service.domain.models import PendingUpload, format_time

WHAT = "pending uploads"


class DynamoDBPendingUploads:
    def __init__(self, catalog: DynamoDBImageCatalog) -> None:
        self._catalog = catalog
        self._clients = catalog.clients
        self.table = catalog.table

    def add_pending(self, pending: PendingUpload) -> None:
        try:
            with aws_errors(WHAT):
                self._clients.dynamodb.put_item(
                    TableName=self.table,
                    Item=pending_item(pending),
                    ConditionExpression="attribute_not_exists(PK)",
                )
        except ClientError as error:
            if error_code(error) == "ConditionalCheckFailedException":
                raise Conflict("this upload already exists") from None
            raise

    def get_pending(self, image_id: str) -> PendingUpload:
        with aws_errors(WHAT):
            item = self._clients.dynamodb.get_item(
                TableName=self.table, Key=pending_key(image_id), ConsistentRead=True
            ).get("Item")
        if item is None:
            raise NotFound("no such pending upload")
        return pending_from(item)

    def remove_pending(self, image_id: str) -> None:
        with aws_errors(WHAT):
            self._clients.dynamodb.delete_item(TableName=self.table, Key=pending_key(image_id))

    def expired_pending(self, now: datetime, limit: int = 100) -> list[PendingUpload]:
        return list(self._pending(before=format_time(now), limit=limit))

    def all_pending(self) -> Iterator[PendingUpload]:
        return self._pending(before=None, limit=None)

    def _pending(self, *, before: str | None, limit: int | None) -> Iterator[PendingUpload]:
        index, pk, sk = BY_VISIBILITY
        condition = "#pk = :pending" + (" AND #sk < :before" if before else "")
        values = {":pending": S(PENDING_PARTITION), **({":before": S(before)} if before else {})}
        request = {
            "TableName": self.table,
            "IndexName": index,
            "KeyConditionExpression": condition,
            "ExpressionAttributeNames": {"#pk": pk, **({"#sk": sk} if before else {})},
            "ExpressionAttributeValues": values,
            "Limit": 100,  # BatchGetItem takes 100 keys at most
            **({"PaginationConfig": {"MaxItems": limit}} if limit else {}),
        }
        paginator = self._clients.dynamodb.get_paginator("query")
        with aws_errors(WHAT):
            for page in paginator.paginate(**request):  # type: ignore[arg-type]
                keys = [pending_key(item["image_id"]["S"]) for item in page.get("Items", [])]
                # The index holds only keys and filters; the records themselves come by key.
                found = {i["image_id"]["S"]: i for i in self._catalog.batch_get(keys)}
                for key in keys:  # BatchGetItem answers in any order; keep the index's
                    item = found.get(key["PK"]["S"].removeprefix("PENDING#"))
                    if item is not None:
                        yield pending_from(item)
