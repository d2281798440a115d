"""DynamoDBIdempotencyStore: Idempotency-Key records in the service's table.

One item per (user, key) under its own partition, ``IDEMPOTENCY#<user>#<key>``. Every change
is one conditional write, so concurrent requests with one key need no lock:

- claim: PutItem if ``attribute_not_exists(PK) OR expires_at <= :now``. Of concurrent claims
  DynamoDB applies one; the others fail the condition and get the winner's item back in the same
  call (``ReturnValuesOnConditionCheckFailure``), so a lost claim costs one request, not two.
- take over, complete, release: PutItem / DeleteItem on ``token = :token``, so a slow attempt
  whose claim was taken over can no longer overwrite or delete the new holder's record.

Expired items count as absent through the claim's condition; the table's TTL attribute then
deletes them (DynamoDB does so within a few days of expiry).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from image_service.adapters.dynamodb_items import S, idempotency_from, idempotency_item, idempotency_key
from image_service.adapters.dynamodb_table import DynamoDBTable
from image_service.aws.errors import aws_errors, error_code
from image_service.domain.models import IdempotencyRecord, format_time

WHAT = "idempotency keys"
# "token" and "status" are DynamoDB reserved words: expressions name them through placeholders.
HELD = "#token = :token"
UNFINISHED = "attribute_not_exists(#status)"


class DynamoDBIdempotencyStore:
    def __init__(self, table: DynamoDBTable) -> None:
        self.table = table

    @property
    def _db(self) -> Any:
        return self.table.client

    def claim(self, record: IdempotencyRecord, now: datetime) -> IdempotencyRecord | None:
        try:
            with aws_errors(WHAT):
                self._db.put_item(
                    TableName=self.table.name,
                    Item=idempotency_item(record),
                    ConditionExpression="attribute_not_exists(PK) OR expires_at <= :now",
                    ExpressionAttributeValues={":now": S(format_time(now))},
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
        except ClientError as error:
            if error_code(error) == "ConditionalCheckFailedException":
                return idempotency_from(error.response["Item"])  # type: ignore[typeddict-item]
            raise
        return None

    def take_over(self, stale: IdempotencyRecord, record: IdempotencyRecord) -> bool:
        return self._unless_moved(
            lambda: self._db.put_item(
                TableName=self.table.name,
                Item=idempotency_item(record),
                ConditionExpression=f"{HELD} AND {UNFINISHED}",
                ExpressionAttributeNames={"#token": "token", "#status": "status"},
                ExpressionAttributeValues={":token": S(stale.token)},
            )
        )

    def complete(self, record: IdempotencyRecord) -> None:
        self._unless_moved(
            lambda: self._db.put_item(
                TableName=self.table.name,
                Item=idempotency_item(record),
                ConditionExpression=HELD,
                ExpressionAttributeNames={"#token": "token"},
                ExpressionAttributeValues={":token": S(record.token)},
            )
        )

    def release(self, record: IdempotencyRecord) -> None:
        self._unless_moved(
            lambda: self._db.delete_item(
                TableName=self.table.name,
                Key=idempotency_key(record.user_id, record.key),
                ConditionExpression=HELD,
                ExpressionAttributeNames={"#token": "token"},
                ExpressionAttributeValues={":token": S(record.token)},
            )
        )

    def _unless_moved(self, write: Callable[[], object]) -> bool:
        """Run a write conditional on the token; False if another attempt holds the key now."""
        return self.table.conditional(WHAT, write) is not None
