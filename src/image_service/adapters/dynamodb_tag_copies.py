"""DynamoDBTagCopies: keeps an image's tag items, which are whole copies of the image, in step
with it where its transactions do not.

List pages return tag items as they are (``by_tag_v2`` projects them whole), so every field of
a tag item must be the image's. The image's transactions (upload, PATCH, delete) write the tag
items with it; two writes happen outside them, and are here:

- the counters: tag items carry no exact counters, only the image item's list copy of them
  (``listed``), which a counted access refreshes at most once a minute
  (``DynamoDBImageCatalog``); ``copy_counters`` then copies it onto each tag item, only forward
  (of two copies racing the larger count stays) and never onto a tag item that is gone;
- tag items written before they were whole (the filter fields only): ``make_whole`` rewrites
  them from the stored image, for ``image-service reindex``; until then a list reads their
  images by key.
"""

from __future__ import annotations

import functools
from concurrent.futures import ThreadPoolExecutor

from image_service.adapters.dynamodb_items import (
    Item,
    S,
    image_from,
    is_whole,
    tag_counters_update,
    tag_item,
)
from image_service.adapters.dynamodb_table import DynamoDBTable
from image_service.aws.errors import aws_errors
from image_service.aws.table import LISTED, PK, SK

WHAT = "image catalog"


class DynamoDBTagCopies:
    def __init__(self, table: DynamoDBTable, pool: ThreadPoolExecutor) -> None:
        self.table = table
        self._pool = pool

    def copy_counters(self, attributes: Item) -> None:
        """Bring the image's whole tag items forward to its list copy of the counters.
        ``attributes``: the image item as stored after that copy moved (what the refresh's
        UpdateItem returns with ``ReturnValues=ALL_NEW``). One conditional UpdateItem per tag; a
        copy already as far, or gone, is left alone."""
        image_id = attributes["image_id"]["S"]
        tags = [t["S"] for t in attributes.get("tags", {"L": []})["L"]]
        listed = attributes.get(LISTED)
        if listed is None:
            return

        def copy(tag: str) -> None:
            self.table.conditional(
                WHAT,
                lambda: self.table.client.update_item(
                    TableName=self.table.name, **tag_counters_update(image_id, tag, listed)
                ),
            )

        if len(tags) > 1:
            list(self._pool.map(copy, tags))
        elif tags:
            copy(tags[0])

    def make_whole(self, item: Item) -> int:
        """Rewrite the image's tag items that carry only the filter fields from the stored image
        ``item``: the number rewritten. Each Put applies only to a tag item still there and still
        not whole, so a PATCH or delete that landed since (which writes whole items, or none) is
        never undone."""
        image = image_from(item)
        with aws_errors(WHAT):
            stored = self.table.client.query(
                TableName=self.table.name,
                KeyConditionExpression="#pk = :pk AND begins_with(#sk, :tag)",
                ExpressionAttributeNames={"#pk": PK, "#sk": SK},
                ExpressionAttributeValues={":pk": item[PK], ":tag": S("TAG#")},
                ConsistentRead=True,
            ).get("Items", [])
        written = 0
        for old in stored:
            tag = old[SK]["S"].removeprefix("TAG#")
            if not is_whole(old) and tag in image.tags:
                put = functools.partial(
                    self.table.client.put_item,
                    TableName=self.table.name,
                    Item=tag_item(image, tag, item.get(LISTED)),
                    ConditionExpression="attribute_exists(PK) AND attribute_not_exists(s3_key)",
                )
                written += self.table.conditional(WHAT, put) is not None
        return written
