"""The two yardsticks of the amplification benchmark: the Scan approach, and the ideal merge.

**Scan + FilterExpression + Limit 20**, the common way to filter a DynamoDB list: Scan the base
table with the filters as a FilterExpression and ``Limit`` 20, following ``LastEvaluatedKey``
until 20 matches are collected. On DynamoDB Local each Scan request costs time proportional to
its start position (tens of ms at 20,000 images), and the filters that match rarely need thousands
of requests per page, so walking them for real would take most of an hour. Instead the table is
scanned once in full (``scan_order``: the keys in the order DynamoDB scans them, the same order
whatever the ``Limit``) and the Limit-20 walk is replayed over that order (``replay_scan``);
``scan_page`` runs the real Limit-20 walk with a request budget and its counts must equal the
replay's, which checks the replay and the FilterExpression together.

**Ideal merge** (``ideal_reads``): the fewest index items *any* reader of the same plan could
read for the same page. A page of the k-way merge is the newest 20 (+1 look-ahead) of k disjoint
streams; to know it has them, a reader must read each stream down to its first matching item that
is not on the page (or to its end), the items the FilterExpression drops on the way included. So
with k streams and no filter the floor is 20 + k items for a page of 20: 1.20 per item returned
with 4 shards, 1.40 with the 8 streams of "every image".
"""

from __future__ import annotations

import bisect
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from benchmarks.aws_data import items_of
from image_service.adapters.dynamodb_items import IMAGE_SK, S, image_id_of
from image_service.adapters.dynamodb_listing import plan, sort_range
from image_service.aws.table import INDEXES, SHARDS
from image_service.domain.models import Image, ImageQuery, Keyset, format_time

PAGE_SIZE = 20
Key = tuple[str, str]  # (PK, SK)


# -- the Scan approach ---------------------------------------------------------------------------


@dataclass
class ScanPage:
    returned: int
    scanned: int
    requests: int
    seconds: float = 0.0
    units: float = 0.0  # read units DynamoDB reported (real Scans only)


def scan_filter(query: ImageQuery) -> tuple[str, dict[str, str], dict[str, Any]]:
    """The FilterExpression a Scan needs to answer ``query`` from the base table's image items."""
    names = {"#sk": "SK"}
    values: dict[str, Any] = {":image": S(IMAGE_SK)}
    conditions = ["#sk = :image"]

    def equals(attribute: str, value: str) -> None:
        names[f"#{attribute}"] = attribute
        values[f":{attribute}"] = S(value)
        conditions.append(f"#{attribute} = :{attribute}")

    if query.user_id is not None:
        equals("user_id", query.user_id)
    for i, wanted in enumerate(query.tags):
        names["#tags"] = "tags"
        values[f":tag{i}"] = S(wanted)
        conditions.append(f"contains(#tags, :tag{i})")
    if query.category is not None:
        equals("category", query.category)
    if query.visibility is not None:
        equals("visibility", query.visibility.value)
    if query.created_after is not None or query.created_before is not None:
        names["#created"] = "created_at"  # fixed-width ISO text: text order is time order
    if query.created_after is not None:
        values[":after"] = S(format_time(query.created_after))
        conditions.append("#created >= :after")
    if query.created_before is not None:
        values[":before"] = S(format_time(query.created_before))
        conditions.append("#created < :before")
    if query.visible_to is not None:
        names["#visibility"], names["#user_id"] = "visibility", "user_id"
        values[":public"], values[":me"] = S("public"), S(query.visible_to)
        conditions.append("(#visibility = :public OR #user_id = :me)")
    return " AND ".join(conditions), names, values


def scan_order(db: Any, table: str) -> list[Key]:
    """Every item's key, in the order a Scan reads the table."""
    keys: list[Key] = []
    start: dict[str, Any] | None = None
    while True:
        request: dict[str, Any] = {"TableName": table, "ProjectionExpression": "PK, SK"}
        if start is not None:
            request["ExclusiveStartKey"] = start
        response = db.scan(**request)
        keys += [(item["PK"]["S"], item["SK"]["S"]) for item in response["Items"]]
        start = response.get("LastEvaluatedKey")
        if start is None:
            return keys


def _matching(order: list[Key], images: dict[str, Image], query: ImageQuery) -> list[str | None]:
    """Per scanned item, the image id when it is an image item that matches, else None."""
    out: list[str | None] = []
    for pk, sk in order:
        image = images.get(image_id_of(pk)) if sk == IMAGE_SK else None
        out.append(image.image_id if image is not None and query.matches(image) else None)
    return out


def replay_scan(
    order: list[Key], images: dict[str, Image], query: ImageQuery, pages: int
) -> tuple[list[ScanPage], list[str]]:
    """The Limit-20 Scan walk replayed over ``order``: its pages, and the ids of its first page."""
    matching = _matching(order, images, query)
    position = 0
    walked: list[ScanPage] = []
    first: list[str] = []
    while len(walked) < pages and position < len(order):
        page = ScanPage(0, 0, 0)
        while page.returned < PAGE_SIZE and position < len(order):
            chunk = matching[position : position + PAGE_SIZE]
            found = [i for i in chunk if i is not None]
            page.requests += 1
            page.scanned += len(chunk)
            page.returned += len(found)
            if not walked:
                first += found
            position += len(chunk)
        walked.append(page)
    return walked, first


def scan_page(db: Any, table: str, query: ImageQuery, budget: int) -> ScanPage | None:
    """The real first page of the Limit-20 Scan walk; None if it needs more than ``budget`` requests."""
    expression, names, values = scan_filter(query)
    page = ScanPage(0, 0, 0)
    start: dict[str, Any] | None = None
    started = time.perf_counter()
    while page.returned < PAGE_SIZE:
        if page.requests == budget:
            return None
        request: dict[str, Any] = {
            "TableName": table,
            "FilterExpression": expression,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
            "Limit": PAGE_SIZE,
            "ReturnConsumedCapacity": "TOTAL",
        }
        if start is not None:
            request["ExclusiveStartKey"] = start
        response = db.scan(**request)
        page.units += float(response.get("ConsumedCapacity", {}).get("CapacityUnits", 0.0))
        page.requests += 1
        page.scanned += int(response["ScannedCount"])
        page.returned += int(response["Count"])
        start = response.get("LastEvaluatedKey")
        if start is None:
            break
    page.seconds = time.perf_counter() - started
    return page


# -- the ideal merge -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Partition:
    keys: list[str]  # sort keys, ascending
    images: list[Image]


Entries = dict[str, Partition]


def index_entries(images: Iterable[Image]) -> Entries:
    """Every index entry the catalog's items make, by partition (what the GSIs hold)."""
    found: defaultdict[str, list[tuple[str, Image]]] = defaultdict(list)
    for image in images:
        for item in items_of(image):
            for _, pk, sk in INDEXES:
                if pk in item:
                    found[item[pk]["S"]].append((item[sk]["S"], image))
    entries: Entries = {}
    for partition, pairs in found.items():
        pairs.sort(key=lambda pair: pair[0])
        entries[partition] = Partition([key for key, _ in pairs], [image for _, image in pairs])
    return entries


def streams_of(query: ImageQuery) -> list[str]:
    """The index partitions the adapter reads for ``query`` (as ``DynamoDBImageCatalog.find`` plans it)."""
    keyed = query.canonical()
    return [] if keyed is None else [stream.partition for stream in plan(keyed, SHARDS).streams]


def ideal_reads(
    entries: Entries,
    query: ImageQuery,
    after: Keyset | None,
    page_ids: set[str],
    partitions: list[str] | None = None,
) -> dict[str, int]:
    """Per stream of the adapter's plan (or of ``partitions``, another plan for the same query),
    the index items a perfect reader must read for this page."""
    low, high, _ = sort_range(query, after)
    reads: dict[str, int] = {}
    for name in partitions or streams_of(query):
        partition = entries.get(name)
        reads[name] = 0
        if partition is None:
            continue
        # Newest first from just below ``high``: the key condition skips newer items for free.
        position = len(partition.keys) if high is None else bisect.bisect_left(partition.keys, high)
        for index in range(position - 1, -1, -1):
            if low is not None and partition.keys[index] < low:
                break
            reads[name] += 1
            image = partition.images[index]
            if query.matches(image) and image.image_id not in page_ids:
                break  # the stream's head is now known to be after the page
    return reads
