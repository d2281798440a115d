"""List pages on DynamoDB Local are their Queries: the list indexes project what a list shows and
tag items are whole copies of the image, so no page reads the images again; and those copies
follow the image through PATCH and delete, and its counters within the refresh window of their
list copy (docs/ARCHITECTURE.md, "List items")."""

from __future__ import annotations

import dataclasses
import itertools
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aws_emulators import fresh_resources

from image_service.adapters.dynamodb_catalog import DynamoDBImageCatalog
from image_service.adapters.dynamodb_items import (
    N,
    filter_attributes,
    is_whole,
    listed_copy,
    tag_key,
    tag_partition,
)
from image_service.aws.table import BY_TAG, BY_USER, LIST_COUNT_REFRESH, LISTED, SHARDS, shard_of
from image_service.domain.errors import BackendUnavailable
from image_service.domain.models import Image, ImageQuery, Keyset, Visibility, format_time

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
_serial = itertools.count()
QUERIES = {
    "user": ImageQuery(user_id="alice"),
    "tag": ImageQuery(tags=("cat",)),
    "category": ImageQuery(category="pets"),
    "visibility": ImageQuery(visibility=Visibility.PUBLIC),
    "none": ImageQuery(),
}


def make_image(**fields: Any) -> Image:
    n = next(_serial)
    values: dict[str, Any] = {
        "image_id": f"li-{n:05d}",
        "user_id": "alice",
        "name": f"li-{n:05d}.png",
        "filename": "a.png",
        "content_type": "image/png",
        "format": "PNG",
        "width": 3,
        "height": 2,
        "size": 100,
        "checksum_sha256": "0" * 64,
        "blob_key": f"alice/{n}",
        "created_at": T0 + timedelta(seconds=n),
        "updated_at": T0,
        "tags": ("cat", "sun"),
        "category": "pets",
        "title": "a title",
        "description": "a description",
        "orientation": 6,
    }
    return Image(**(values | fields))


class Calls:
    """The DynamoDB operations the catalog's client makes (botocore's own event hook)."""

    def __init__(self, catalog: DynamoDBImageCatalog) -> None:
        self.operations: list[str] = []
        self._lock = threading.Lock()
        catalog.table.client.meta.events.register("after-call.dynamodb", self._seen)

    def _seen(self, model: Any, **_: Any) -> None:
        with self._lock:
            self.operations.append(model.name)

    def take(self) -> list[str]:
        with self._lock:
            taken, self.operations = self.operations, []
        return taken


class Clock:
    """The time the catalog judges its list copies' age by, moved by the test."""

    def __init__(self) -> None:
        self.now = T0 + timedelta(hours=1)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def catalog(clock: Clock) -> Iterator[DynamoDBImageCatalog]:
    yield DynamoDBImageCatalog(fresh_resources().dynamodb_table(), clock=clock)


def listed(catalog: DynamoDBImageCatalog, query: ImageQuery, image_id: str) -> Image:
    found = [i for i in catalog.find(query, 100).images if i.image_id == image_id]
    assert len(found) == 1, f"{image_id} listed {len(found)} times"
    return found[0]


def counters(image: Image) -> tuple[int, datetime | None]:
    return image.access_count, image.last_accessed_at


def stale_copy(image_id: str, access_count: int) -> dict[str, Any]:
    """An image item's attributes as a late refresh returned them: an older list copy."""
    return {
        "image_id": {"S": image_id},
        "tags": {"L": [{"S": "cat"}]},
        LISTED: listed_copy({"access_count": N(access_count)}, T0),
    }


@pytest.mark.parametrize("kind", QUERIES)
def test_a_page_is_its_queries_and_lists_the_image_as_stored(
    catalog: DynamoDBImageCatalog, kind: str
) -> None:
    images = [make_image() for _ in range(6)]
    for image in images:
        catalog.add(image)
    calls = Calls(catalog)
    page = catalog.find(QUERIES[kind], 4)
    assert set(calls.take()) == {"Query"}, "no BatchGetItem, no GetItem"
    newest = sorted(images, key=lambda i: i.created_at, reverse=True)
    assert page.images == newest[:4], "every field, as stored"
    following = catalog.find(QUERIES[kind], 4, page.next)
    assert set(calls.take()) <= {"Query"}
    assert following.images == newest[4:] and following.next is None


@pytest.mark.parametrize("kind", QUERIES)
def test_a_patch_is_what_every_list_shows(catalog: DynamoDBImageCatalog, kind: str) -> None:
    image = make_image()
    catalog.add(image)
    catalog.update(
        dataclasses.replace(image, title="edited", description="new words", updated_at=T0 + timedelta(1))
    )
    assert listed(catalog, QUERIES[kind], image.image_id) == catalog.get(image.image_id)


def test_a_patch_that_drops_a_tag_or_changes_visibility_moves_the_copies(
    catalog: DynamoDBImageCatalog,
) -> None:
    image = make_image()
    catalog.add(image)
    catalog.update(dataclasses.replace(image, tags=("cat",), visibility=Visibility.PRIVATE))
    assert catalog.table.get(tag_key(image.image_id, "sun"), "test") is None
    assert catalog.find(ImageQuery(tags=("sun",)), 10).images == []
    assert catalog.find(ImageQuery(visibility=Visibility.PUBLIC), 10).images == []
    private = catalog.find(ImageQuery(tags=("cat",), visibility=Visibility.PRIVATE), 10).images
    assert private == [catalog.get(image.image_id)]


@pytest.mark.parametrize("kind", QUERIES)
def test_counted_accesses_reach_every_list_within_the_refresh(
    catalog: DynamoDBImageCatalog, clock: Clock, kind: str
) -> None:
    """The first access refreshes the list copy; later ones within LIST_COUNT_REFRESH count on
    the image only (the view is exact, lists keep the copy); the first one past it refreshes."""
    image = make_image()
    catalog.add(image)
    first = clock.now
    catalog.record_access(image.image_id, first)
    assert counters(listed(catalog, QUERIES[kind], image.image_id)) == (1, first)
    for seconds in (10, 59):
        clock.now = first + timedelta(seconds=seconds)
        catalog.record_access(image.image_id, clock.now)
    assert counters(catalog.get(image.image_id)) == (3, first + timedelta(seconds=59)), "exact"
    assert counters(listed(catalog, QUERIES[kind], image.image_id)) == (1, first), "the copy"
    clock.now = first + LIST_COUNT_REFRESH
    catalog.record_accesses({image.image_id: (2, clock.now)})
    shown = listed(catalog, QUERIES[kind], image.image_id)
    assert counters(shown) == (5, clock.now)
    assert shown == catalog.get(image.image_id)


def test_a_counted_access_writes_the_image_item_alone_until_its_copy_is_due(
    catalog: DynamoDBImageCatalog, clock: Clock
) -> None:
    image = make_image()  # two tags
    catalog.add(image)
    calls = Calls(catalog)
    catalog.record_accesses({image.image_id: (1, clock.now)})
    assert calls.take() == ["UpdateItem"] * 4, "the count, the copy, the copy on each tag item"
    for step in range(1, 4):
        clock.now += timedelta(seconds=step)
        catalog.record_accesses({image.image_id: (1, clock.now)})
        catalog.record_access(image.image_id, clock.now)
    assert calls.take() == ["UpdateItem"] * 6, "the count alone: no index entry rewritten"
    assert catalog.get(image.image_id).access_count == 7


def test_list_indexes_carry_no_exact_counters(catalog: DynamoDBImageCatalog, clock: Clock) -> None:
    image = make_image()
    catalog.add(image)
    catalog.record_access(image.image_id, clock.now)
    name, pk, _ = BY_USER
    [row] = catalog.table.client.query(
        TableName=catalog.table.name,
        IndexName=name,
        KeyConditionExpression="#pk = :pk",
        ExpressionAttributeNames={"#pk": pk},
        ExpressionAttributeValues={":pk": {"S": "USER#alice#public"}},
    )["Items"]
    assert "access_count" not in row and "last_accessed_at" not in row
    assert row[LISTED]["M"]["count"] == N(1)


def test_a_failed_refresh_is_logged_and_the_count_kept_once(
    catalog: DynamoDBImageCatalog, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    image = make_image()
    catalog.add(image)

    def unavailable(attributes: Any) -> None:
        raise BackendUnavailable("throttled")

    monkeypatch.setattr(catalog, "_refresh_listed", unavailable)
    assert catalog.record_accesses({image.image_id: (3, clock.now)}) == {}, "nothing to retry"
    assert catalog.record_access(image.image_id, clock.now).access_count == 4
    assert catalog.get(image.image_id).access_count == 4
    monkeypatch.undo()
    clock.now += timedelta(seconds=1)
    catalog.record_access(image.image_id, clock.now)  # the copy was never made: this one makes it
    assert listed(catalog, ImageQuery(tags=("cat",)), image.image_id).access_count == 5


def test_a_copy_of_older_counters_never_moves_a_tag_item_back(
    catalog: DynamoDBImageCatalog, clock: Clock
) -> None:
    image = make_image()
    catalog.add(image)
    catalog.record_access(image.image_id, clock.now)
    clock.now += LIST_COUNT_REFRESH
    catalog.record_access(image.image_id, clock.now)
    catalog.copy_counters(stale_copy(image.image_id, 1))  # lost the race to the second refresh
    assert listed(catalog, ImageQuery(tags=("cat",)), image.image_id).access_count == 2


def test_a_refresh_interval_of_zero_keeps_lists_exact() -> None:
    exact = DynamoDBImageCatalog(fresh_resources().dynamodb_table(), list_refresh=timedelta(0))
    image = make_image()
    exact.add(image)
    for _ in range(3):
        exact.record_access(image.image_id, T0)
    assert listed(exact, ImageQuery(tags=("sun",)), image.image_id).access_count == 3


def test_accesses_during_a_patch_reach_the_tag_copies(catalog: DynamoDBImageCatalog) -> None:
    """PATCH writes the tag items with the list copy it read; a refresh of the copy after that
    read (whose tag copies land before the PATCH's transaction) is brought back by the PATCH."""
    image = make_image()
    catalog.add(image)
    read = catalog.get(image.image_id)  # its list copy was never refreshed: the access will
    original_get = catalog._get_image_item
    done = False

    def get_then_access(image_id: str) -> Any:
        nonlocal done
        item = original_get(image_id)
        if not done:  # an access lands between the PATCH's read and its transaction
            done = True
            catalog.record_access(image_id, T0 + timedelta(hours=1))
        return item

    catalog._get_image_item = get_then_access  # type: ignore[method-assign]
    catalog.update(dataclasses.replace(read, title="edited"))
    shown = listed(catalog, ImageQuery(tags=("cat",)), image.image_id)
    assert shown.access_count == 1 and shown.title == "edited"
    assert shown == catalog.get(image.image_id)


def test_no_copy_outlives_a_delete(catalog: DynamoDBImageCatalog) -> None:
    image = make_image()
    catalog.add(image)
    catalog.remove(image.image_id)
    catalog.copy_counters(stale_copy(image.image_id, 9))  # a late refresh from before the delete
    assert catalog.table.get(tag_key(image.image_id, "cat"), "test") is None, "not recreated"
    for query in QUERIES.values():
        assert catalog.find(query, 10).images == []


def test_tag_items_from_before_whole_copies_are_listed_and_made_whole_by_reindex(
    catalog: DynamoDBImageCatalog,
) -> None:
    image = make_image(tags=("cat",))
    catalog.add(image)
    older = {  # a tag item as the layout before issue 14 wrote it: the filter fields only
        **tag_key(image.image_id, "cat"),
        **filter_attributes(image),
        BY_TAG[1]: {"S": tag_partition("cat", shard_of(image.image_id))},
        BY_TAG[2]: {"S": f"{format_time(image.created_at)}#{image.image_id}"},
    }
    catalog.table.client.put_item(TableName=catalog.table.name, Item=older)
    calls = Calls(catalog)
    assert catalog.find(ImageQuery(tags=("cat",)), 10).images == [image]
    assert "BatchGetItem" in calls.take(), "the image is read for a tag item that does not carry it"
    assert catalog.reindex_words(image.image_id) == 1
    stored = catalog.table.get(tag_key(image.image_id, "cat"), "test")
    assert stored is not None and is_whole(stored)
    assert catalog.reindex_words(image.image_id) == 0, "nothing left to rewrite"
    calls.take()
    assert catalog.find(ImageQuery(tags=("cat",)), 10).images == [image]
    assert set(calls.take()) == {"Query"}, "a whole tag item is its image"


def test_a_resumed_stream_is_read_only_when_the_merge_reaches_it(catalog: DynamoDBImageCatalog) -> None:
    """The public feed's shards plus the caller's private partition: with the caller's only
    private image older than every page, its partition is read once, on the page that needs it."""
    old_private = make_image(visibility=Visibility.PRIVATE, created_at=T0 - timedelta(days=1))
    catalog.add(old_private)
    public = [make_image() for _ in range(4 * SHARDS)]
    for image in public:
        catalog.add(image)
    query = ImageQuery(visible_to="alice").canonical()
    assert query is not None
    partitions: list[str] = []

    def seen(params: dict[str, Any], **_: Any) -> None:
        partitions.append(params["ExpressionAttributeValues"][":pk"]["S"])

    catalog.table.client.meta.events.register("provide-client-params.dynamodb.Query", seen)
    found: list[str] = []
    after: Keyset | None = None
    while True:
        page = catalog.find(query, 3, after)
        found += [i.image_id for i in page.images]
        if page.next is None:
            break
        after = page.next
    newest = sorted(public, key=lambda i: i.created_at, reverse=True)
    assert found == [i.image_id for i in newest] + [old_private.image_id]
    private_reads = [p for p in partitions if p.startswith("USER#")]
    assert len(private_reads) <= 2, f"the private partition was read {len(private_reads)} times"
