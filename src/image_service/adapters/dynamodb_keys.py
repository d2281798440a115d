"""DynamoDBKeyStore: API keys (hashes only) in the service's table.

One item per key under ``APIKEY#<sha256>``, so the check on every request is one consistent
GetItem; the ``APIKEYS`` partition of ``by_user`` lists them (the CLI only).
"""

from __future__ import annotations

from datetime import datetime

from image_service.adapters.dynamodb_items import APIKEYS_PARTITION, S, apikey_from, apikey_item, apikey_key
from image_service.adapters.dynamodb_table import DynamoDBTable
from image_service.aws.errors import aws_errors
from image_service.aws.table import BY_USER
from image_service.domain.errors import Conflict, NotFound
from image_service.domain.models import ApiKey, format_time

WHAT = "API keys"


class DynamoDBKeyStore:
    def __init__(self, table: DynamoDBTable) -> None:
        self.table = table

    def add_key(self, key: ApiKey) -> None:
        if not self.table.put_new(apikey_item(key), WHAT):
            raise Conflict("this API key already exists")

    def find_key(self, key_hash: str) -> ApiKey | None:
        item = self.table.get(apikey_key(key_hash), WHAT)
        if item is None:
            return None
        key = apikey_from(item)
        return None if key.revoked_at is not None else key

    def list_keys(self) -> list[ApiKey]:
        index, pk, _ = BY_USER
        keys: list[ApiKey] = []
        for page in self.table.pages(
            "query",
            WHAT,
            IndexName=index,
            KeyConditionExpression="#pk = :keys",
            ExpressionAttributeNames={"#pk": pk},
            ExpressionAttributeValues={":keys": S(APIKEYS_PARTITION)},
        ):
            keys += [apikey_from(item) for item in page.get("Items", [])]
        return keys

    def revoke_key(self, key_id: str, at: datetime) -> None:
        match = next((k for k in self.list_keys() if k.key_id == key_id), None)
        if match is None:
            raise NotFound("no such API key")
        with aws_errors(WHAT):
            self.table.client.update_item(
                TableName=self.table.name,
                Key=apikey_key(match.key_hash),
                UpdateExpression="SET revoked_at = if_not_exists(revoked_at, :at)",
                ExpressionAttributeValues={":at": S(format_time(at))},
            )
