"""DynamoDBTextBackfill: what ``image-service reindex`` needs from the AWS backend, to give images
stored before text search (or whose text items a crash left behind) their word items.

It walks the visibility feeds of ``by_visibility`` (every image is in exactly one), newest first,
a page of index items at a time: small items, not a Scan of the whole table with its tag and
text items. The resume token is ``<feed number>/<sort key of the last image done>``, short
enough to copy from a terminal. Each image is brought in step by ``DynamoDBWordIndex.sync``,
which writes nothing when it already is, so running it twice, or over a token, is harmless;
and settled as a PATCH's words are, so a PATCH or delete landing meanwhile is never undone.

At the end it recounts every user's images per visibility (``recount_users``): the counts that
let a search with ``user_id`` be driven from the user's partition began with text search, so
without this a user with many older images would look small.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

from image_service.adapters.dynamodb_catalog import WHAT, DynamoDBImageCatalog
from image_service.adapters.dynamodb_items import S, visibility_partition
from image_service.aws.table import BY_VISIBILITY
from image_service.domain.errors import InvalidInput
from image_service.domain.models import Visibility

PAGE = 100


class DynamoDBTextBackfill:
    def __init__(self, catalog: DynamoDBImageCatalog, page: int = PAGE) -> None:
        self.catalog = catalog
        self.page = page
        self.table = catalog.table
        self._feeds = [visibility_partition(v, s) for v in Visibility for s in range(catalog.shards)]

    def image_count(self) -> int:
        """How many images there are (COUNT Queries of the feeds: index reads only)."""
        return sum(
            int(page.get("Count", 0))
            for feed in self._feeds
            for page in self.table.pages("query", WHAT, **_feed_query(feed), Select="COUNT")
        )

    def image_ids(self, after: str | None = None) -> Iterator[tuple[list[str], str]]:
        """Every image id, a page at a time, each page with the token that resumes after it."""
        first, position = 0, ""
        if after:
            feed, _, position = after.partition("/")
            if not feed.isdigit() or int(feed) >= len(self._feeds) or not position:
                raise InvalidInput(f"not a reindex token: {after!r}")
            first = int(feed)
        for number in range(first, len(self._feeds)):
            request = _feed_query(self._feeds[number])
            if number == first and position:
                request["KeyConditionExpression"] += " AND #sk < :after"
                request["ExpressionAttributeNames"]["#sk"] = BY_VISIBILITY[2]
                request["ExpressionAttributeValues"][":after"] = S(position)
            for page in self.table.pages("query", WHAT, **request, PaginationConfig={"PageSize": self.page}):
                items = page.get("Items", [])
                if items:
                    yield [i["image_id"]["S"] for i in items], f"{number}/{items[-1][BY_VISIBILITY[2]]['S']}"

    def reindex(self, image_id: str) -> int:
        """Rewrite one image's text items from its stored title and description: the number of
        items written or deleted (0 when they were right, or the image is gone)."""
        return self.catalog.reindex_words(image_id)

    def recount_users(self) -> int:
        """Count every user's images per visibility from the feeds (index reads only) and write
        the counts (``USERCOUNT`` items) as absolute values: the number of users counted. Each
        counted user gets both visibilities, 0 where they have none, so the planner trusts them.
        Uploads and deletes during the walk may leave a count slightly off; the counts only
        steer the plan, never an answer."""
        counts: Counter[tuple[str, Visibility]] = Counter()
        for feed in self._feeds:
            request = _feed_query(feed)
            request["ExpressionAttributeNames"] |= {"#user": "user_id", "#visibility": "visibility"}
            request["ProjectionExpression"] = "#user, #visibility"
            for page in self.table.pages("query", WHAT, **request):
                for item in page.get("Items", []):
                    counts[(item["user_id"]["S"], Visibility(item["visibility"]["S"]))] += 1
        users = {user for user, _ in counts}
        self.catalog.words.set_user_counts({(u, v): counts[(u, v)] for u in users for v in Visibility})
        return len(users)


def _feed_query(feed: str) -> dict[str, Any]:
    return {
        "IndexName": BY_VISIBILITY[0],
        "KeyConditionExpression": "#pk = :pk",
        "ExpressionAttributeNames": {"#pk": BY_VISIBILITY[1]},
        "ExpressionAttributeValues": {":pk": S(feed)},
        "ScanIndexForward": False,
    }
