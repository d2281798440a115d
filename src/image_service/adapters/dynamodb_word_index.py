"""DynamoDBWordIndex: keeps an image's text items (``dynamodb_words``) in step with its title and
description, and answers the planner's vocabulary questions.

The text items are written *after* the image's transaction, not inside it: a 5,000-character
description gives up to 100 word items and a few hundred prefix items, past TransactWriteItems'
100-item limit, and a transaction costs twice the write units of BatchWriteItem. So an upload
never fails for its words. The price is a window in which a new or changed image is not (or
still) found by its old words: lists re-check every image they return against the query, so a
stale item can only hide an image for a moment, never show a wrong one. A crash in that window
leaves the image unsearchable until ``image-service reindex``. The catalog checks the image's
version after every sync (``_settle_words``), so a sync that raced a PATCH or a delete is redone
or undone; the items of a deleted image whose cleanup failed are deleted by the first list that
meets them.

``sync`` diffs what the image should have against what it has (one consistent Query of its
partition), so a PATCH writes only the changed words' items and ``reindex`` is idempotent. The
vocabulary is counted before the items are written: a word is never in an index and missing from
the vocabulary a prefix expands through.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from image_service.adapters.dynamodb_items import Item, N, S, image_partition
from image_service.adapters.dynamodb_table import DynamoDBTable
from image_service.adapters.dynamodb_words import (
    PREFIX_SK,
    WORD_SK,
    text_items,
    user_count_key,
    vocab_key,
    vocab_partition,
    vocab_update,
    word_of,
)
from image_service.aws.errors import aws_errors
from image_service.aws.table import PK, SK
from image_service.domain.models import Image, Visibility

WHAT = "image catalog"
BATCH = 25  # BatchWriteItem's limit


class DynamoDBWordIndex:
    def __init__(self, table: DynamoDBTable, pool: ThreadPoolExecutor) -> None:
        self.table = table
        self._pool = pool

    # -- maintenance -----------------------------------------------------------------------
    def sync(self, image: Image, *, new: bool = False) -> int:
        """Make the image's text items what its title and description say; the number of items
        written or deleted. ``new``: the image was just created, so it has none yet (no read)."""
        current = {} if new else self.items_of(image.image_id)
        wanted = text_items(image)
        puts = [item for sk, item in wanted.items() if current.get(sk) != item]
        deletes = [sk for sk in current if sk not in wanted]
        counts = {w: 1 for sk in wanted if sk not in current and (w := word_of(sk)) is not None}
        counts |= {w: -1 for sk in deletes if (w := word_of(sk)) is not None}
        self._count(counts)
        self._write(
            [{"PutRequest": {"Item": item}} for item in puts]
            + [{"DeleteRequest": {"Key": _key(image.image_id, sk)}} for sk in deletes]
        )
        return len(puts) + len(deletes)

    def remove(self, image_id: str) -> None:
        """Delete every text item of a deleted image (and count its words out)."""
        current = self.items_of(image_id)
        self._count({w: -1 for sk in current if (w := word_of(sk)) is not None})
        self._write([{"DeleteRequest": {"Key": _key(image_id, sk)}} for sk in current])

    def count_user(self, image: Image, delta: int) -> None:
        """Count ``delta`` more images in the owner's partition of its visibility."""
        with aws_errors(WHAT):
            self.table.client.update_item(
                TableName=self.table.name,
                Key=user_count_key(image.user_id, image.visibility),
                UpdateExpression="ADD images :delta",
                ExpressionAttributeValues={":delta": N(delta)},
            )

    def set_user_counts(self, counts: dict[tuple[str, Visibility], int]) -> None:
        """Write these (user, visibility) image counts as they are (reindex's recount)."""
        self._write(
            [
                {"PutRequest": {"Item": {**user_count_key(user, visibility), "images": N(images)}}}
                for (user, visibility), images in counts.items()
            ]
        )

    def items_of(self, image_id: str) -> dict[str, Item]:
        """The image's text items as stored, by SK (strongly consistent)."""
        found: dict[str, Item] = {}
        for start in (WORD_SK, PREFIX_SK):
            for page in self.table.pages(
                "query",
                WHAT,
                KeyConditionExpression="#pk = :pk AND begins_with(#sk, :start)",
                ExpressionAttributeNames={"#pk": PK, "#sk": SK},
                ExpressionAttributeValues={":pk": S(image_partition(image_id)), ":start": S(start)},
                ConsistentRead=True,
            ):
                found |= {item[SK]["S"]: item for item in page.get("Items", [])}
        return found

    def _count(self, deltas: dict[str, int]) -> None:
        def update(word: str) -> None:
            with aws_errors(WHAT):
                self.table.client.update_item(TableName=self.table.name, **vocab_update(word, deltas[word]))

        if len(deltas) == 1:
            update(next(iter(deltas)))
        elif deltas:
            list(self._pool.map(update, deltas))

    def _write(self, requests: list[dict[str, Any]]) -> None:
        batches = [requests[i : i + BATCH] for i in range(0, len(requests), BATCH)]
        if len(batches) > 1:
            list(self._pool.map(self._write_batch, batches))
        elif batches:
            self._write_batch(batches[0])

    def _write_batch(self, batch: list[dict[str, Any]]) -> None:
        pending: dict[str, Any] = {self.table.name: batch}
        delay = 0.02
        while pending:
            with aws_errors(WHAT):
                response = self.table.client.batch_write_item(RequestItems=pending)
            pending = response.get("UnprocessedItems") or {}
            if pending:
                time.sleep(delay)
                delay = min(delay * 2, 1.0)

    # -- the planner's questions -----------------------------------------------------------
    def counts(self, words: list[str]) -> dict[str, int]:
        """How many images hold each word; a word absent from the answer is in no image."""
        items = self.table.batch_get([vocab_key(w) for w in dict.fromkeys(words)], WHAT)
        return {item[SK]["S"]: int(item.get("images", {"N": "0"})["N"]) for item in items}

    def user_images(self, user_id: str, visibilities: list[Visibility]) -> int | None:
        """How many images the user has in these visibilities; None unless every one of them is
        counted (a user with images from before counting began, and no reindex since, or a
        visibility the user never had an image in) and none is below 0 (a drift, or older images
        deleted before a reindex counted them): the planner must not trust such a count."""
        wanted = list(dict.fromkeys(visibilities))
        items = self.table.batch_get([user_count_key(user_id, v) for v in wanted], WHAT)
        counts = [int(item.get("images", {"N": "0"})["N"]) for item in items]
        if len(counts) < len(wanted) or any(n < 0 for n in counts):
            return None
        return sum(counts)

    def expand(self, prefix: str, most: int) -> dict[str, int] | None:
        """The words starting with ``prefix`` (4+ letters) and their counts; None if more than
        ``most``."""
        with aws_errors(WHAT):
            response = self.table.client.query(
                TableName=self.table.name,
                KeyConditionExpression="#pk = :pk AND begins_with(#sk, :prefix)",
                ExpressionAttributeNames={"#pk": PK, "#sk": SK},
                ExpressionAttributeValues={":pk": S(vocab_partition(prefix)), ":prefix": S(prefix)},
                Limit=most + 1,
            )
        items = response.get("Items", [])
        if len(items) > most:
            return None
        return {item[SK]["S"]: int(item.get("images", {"N": "0"})["N"]) for item in items}


def _key(image_id: str, sort_key: str) -> Item:
    return {PK: S(image_partition(image_id)), SK: S(sort_key)}
