"""Synthetic images for the DynamoDB benchmarks, and a fast way to load them into the table.

The images are ``Image`` objects as uploads make them (uuid4 ids, ``<id>.jpg`` names, the
``<owner>/<id>`` storage key, millisecond UTC times), with skewed, repeatable distributions:

- 200 users, Zipf-like (exponent 0.8): the busiest owns ~10% of the images, the median ~0.3%;
- 50 tags, Zipf (exponent 1.0), 1 to 4 distinct tags per image (uniform): the top tag is on
  ~45% of the images, the last on ~1%;
- 10 categories, mildly skewed (exponent 0.5); 10% of images have none;
- 80% public; ``created_at`` uniform over one year.

Loading: the first ``VIA_ADD`` images go through the real ``DynamoDBImageCatalog.add`` (one
TransactWriteItems each, ~60/s on DynamoDB Local), the rest as BatchWriteItem of the very items
``add`` writes (``image_item(image, 1)``, ``name_item``, one ``tag_item`` per tag; ~450 images/s).
``check_identical`` then reads back what ``add`` wrote and compares it with those functions'
output, item by item, so the batch-loaded rows are known to be what the service writes.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import random
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from image_service.adapters.dynamodb_catalog import DynamoDBImageCatalog
from image_service.adapters.dynamodb_items import Item, image_item, image_key, name_item, name_key, tag_item
from image_service.domain.models import Image, Visibility

SEED = 20261122
N_USERS = 200
N_TAGS = 50
N_CATEGORIES = 10
MAX_TAGS = 4
PUBLIC_SHARE = 0.80
NO_CATEGORY_SHARE = 0.10
USER_EXPONENT, TAG_EXPONENT, CATEGORY_EXPONENT = 0.8, 1.0, 0.5
START = datetime(2025, 11, 1, tzinfo=UTC)
SPAN = timedelta(days=365)
VIA_ADD = 200
BATCH = 25  # BatchWriteItem's maximum


def user(rank: int) -> str:
    """The user with this popularity rank (1 = owns the most images)."""
    return f"user{rank:03d}"


def tag(rank: int) -> str:
    return f"tag{rank:02d}"


def category(rank: int) -> str:
    return f"category{rank:02d}"


def _zipf(n: int, exponent: float) -> list[float]:
    return list(itertools.accumulate(1 / (rank**exponent) for rank in range(1, n + 1)))


def _pick(rng: random.Random, cumulative: list[float]) -> int:
    """A 1-based rank drawn from the cumulative weights."""
    return bisect.bisect_left(cumulative, rng.random() * cumulative[-1]) + 1


def make_images(count: int, seed: int = SEED) -> list[Image]:
    rng = random.Random(seed)
    users, tags, categories = (
        _zipf(N_USERS, USER_EXPONENT),
        _zipf(N_TAGS, TAG_EXPONENT),
        _zipf(N_CATEGORIES, CATEGORY_EXPONENT),
    )
    span_ms = int(SPAN.total_seconds() * 1000)
    images: list[Image] = []
    for _ in range(count):
        image_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        owner = user(_pick(rng, users))
        wanted = rng.randint(1, MAX_TAGS)
        chosen: list[str] = []
        while len(chosen) < wanted:
            candidate = tag(_pick(rng, tags))
            if candidate not in chosen:
                chosen.append(candidate)
        created = START + timedelta(milliseconds=rng.randrange(span_ms))
        images.append(
            Image(
                image_id=image_id,
                user_id=owner,
                name=f"{image_id}.jpg",
                filename=f"{image_id}.jpg",
                content_type="image/jpeg",
                format="JPEG",
                width=rng.randint(320, 4000),
                height=rng.randint(240, 3000),
                size=rng.randint(20_000, 3_000_000),
                checksum_sha256=hashlib.sha256(image_id.encode()).hexdigest(),
                blob_key=f"{owner}/{image_id}",
                created_at=created,
                updated_at=created,
                title="",  # no words: no text items to load (bench_search_dynamodb measures those)
                tags=tuple(chosen),
                category=None if rng.random() < NO_CATEGORY_SHARE else category(_pick(rng, categories)),
                visibility=Visibility.PUBLIC if rng.random() < PUBLIC_SHARE else Visibility.PRIVATE,
                orientation=1,
            )
        )
    return images


def items_of(image: Image) -> list[Item]:
    """Exactly what ``DynamoDBImageCatalog.add`` writes for a new image."""
    return [
        image_item(image, 1),
        name_item(image.name, image.image_id),
        *(tag_item(image, t) for t in image.tags),
    ]


@dataclass(frozen=True)
class Loaded:
    images: int
    items: int
    via_add: int
    seconds: float


def load(catalog: DynamoDBImageCatalog, db: Any, images: list[Image], log: Callable[[str], None]) -> Loaded:
    """``db``: the DynamoDB client the catalog uses."""
    started = time.perf_counter()
    first, rest = images[:VIA_ADD], images[VIA_ADD:]
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(catalog.add, first))
    items = [item for image in rest for item in items_of(image)]
    chunks = [items[i : i + BATCH] for i in range(0, len(items), BATCH)]
    log(f"  loading {len(images):,} images: {len(first)} through add(), {len(items):,} items batch-written")

    def write(chunk: list[Item]) -> None:
        pending: dict[str, Any] = {catalog.table.name: [{"PutRequest": {"Item": item}} for item in chunk]}
        delay = 0.02
        while pending:
            pending = db.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
            if pending:
                time.sleep(delay)
                delay = min(delay * 2, 1.0)

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(write, chunks))
    total = len(items) + sum(len(items_of(i)) for i in first)
    total += len({(i.user_id, i.visibility) for i in first})  # add()'s per-user counts (text search)
    return Loaded(len(images), total, len(first), time.perf_counter() - started)


def check_identical(db: Any, table: str, images: list[Image]) -> int:
    """Compare what ``add`` stored for these images with ``items_of``; returns the items compared."""
    compared = 0
    for image in images:
        expected = {(i["PK"]["S"], i["SK"]["S"]): i for i in items_of(image)}
        stored = db.query(
            TableName=table,
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues={":pk": image_key(image.image_id)["PK"]},
            ConsistentRead=True,
        )["Items"]
        stored.append(db.get_item(TableName=table, Key=name_key(image.name), ConsistentRead=True)["Item"])
        actual = {(i["PK"]["S"], i["SK"]["S"]): i for i in stored}
        if actual != expected:
            raise AssertionError(f"add() stored other items than items_of() for {image.image_id}")
        compared += len(actual)
    return compared


def count_items(db: Any, table: str) -> int:
    total, start = 0, None
    while True:
        page = db.scan(TableName=table, Select="COUNT", **({"ExclusiveStartKey": start} if start else {}))
        total += int(page["Count"])
        start = page.get("LastEvaluatedKey")
        if start is None:
            return total
