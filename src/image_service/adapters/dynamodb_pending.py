"""DynamoDBPendingUploads: direct uploads between start and completion, in the service's table.

Expired records are found with a Query on the ``PENDING`` partition of ``by_visibility`` (sorted
by expiry); DynamoDB's TTL removes any the service never swept, a day after they expired.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from image_service.adapters.dynamodb_items import (
    PENDING_PARTITION,
    S,
    pending_from,
    pending_item,
    pending_key,
)
from image_service.adapters.dynamodb_table import DynamoDBTable
from image_service.aws.errors import aws_errors
from image_service.aws.table import BY_VISIBILITY
from image_service.domain.errors import Conflict, NotFound
from image_service.domain.models import PendingUpload, format_time

WHAT = "pending uploads"


class DynamoDBPendingUploads:
    def __init__(self, table: DynamoDBTable) -> None:
        self.table = table

    def add_pending(self, pending: PendingUpload) -> None:
        if not self.table.put_new(pending_item(pending), WHAT):
            raise Conflict("this upload already exists")

    def get_pending(self, image_id: str) -> PendingUpload:
        item = self.table.get(pending_key(image_id), WHAT)
        if item is None:
            raise NotFound("no such pending upload")
        return pending_from(item)

    def remove_pending(self, image_id: str) -> None:
        with aws_errors(WHAT):
            self.table.client.delete_item(TableName=self.table.name, Key=pending_key(image_id))

    def expired_pending(self, now: datetime, limit: int = 100) -> list[PendingUpload]:
        return list(self._pending(before=format_time(now), limit=limit))

    def all_pending(self) -> Iterator[PendingUpload]:
        return self._pending(before=None, limit=None)

    def _pending(self, *, before: str | None, limit: int | None) -> Iterator[PendingUpload]:
        index, pk, sk = BY_VISIBILITY
        condition = "#pk = :pending" + (" AND #sk < :before" if before else "")
        values = {":pending": S(PENDING_PARTITION), **({":before": S(before)} if before else {})}
        request = {
            "IndexName": index,
            "KeyConditionExpression": condition,
            "ExpressionAttributeNames": {"#pk": pk, **({"#sk": sk} if before else {})},
            "ExpressionAttributeValues": values,
            "Limit": 100,  # BatchGetItem takes 100 keys at most
            **({"PaginationConfig": {"MaxItems": limit}} if limit else {}),
        }
        for page in self.table.pages("query", WHAT, **request):
            image_ids = [item["image_id"]["S"] for item in page.get("Items", [])]
            # The index holds only keys and filters; the records themselves come by key.
            records = self.table.batch_get([pending_key(i) for i in image_ids], WHAT)
            found = {record["image_id"]["S"]: record for record in records}
            for image_id in image_ids:  # BatchGetItem answers in any order; keep the index's
                item = found.get(image_id)
                if item is not None:
                    yield pending_from(item)
