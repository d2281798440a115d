"""DynamoDBImageCatalog: image metadata, unique names and list indexes in the service's table.

Every write that touches several items (the image, its tag items, its name) is one
TransactWriteItems with conditions, so a name collision or a concurrent delete cancels the whole
write: never half an image. Updates and deletes are optimistic: they read the image, then write
on the condition that its ``version`` is still the one they read, and retry if it moved. Access
counts are one UpdateItem with an atomic ADD per image (of one access, or of a batch's) on the
image item's exact counters; lists show ``listed``, a copy of them that the list indexes project
and the tag items carry, refreshed at most once per ``list_refresh`` (``_refresh_listed``), so
that a list page reads no image and a counted access does not rewrite every index entry. The
table layout is in ``aws.table``, the items in ``dynamodb_items``, the list plan in
``dynamodb_listing``; the access patterns are in docs/ARCHITECTURE.md. Text search's items
(``dynamodb_words``) are kept by ``DynamoDBWordIndex`` after each write's transaction (see there
why not inside it).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from image_service.adapters.dynamodb_items import (
    IMAGE_SK,
    Item,
    N,
    S,
    health_key,
    image_from,
    image_item,
    image_key,
    is_whole,
    listed_copied_at,
    listed_copy,
    listed_image_from,
    moves_forward,
    name_item,
    name_key,
    tag_item,
    tag_key,
)
from image_service.adapters.dynamodb_listing import Merger, plan, sort_range
from image_service.adapters.dynamodb_search import choose
from image_service.adapters.dynamodb_table import MUST_BE_NEW, DynamoDBTable
from image_service.adapters.dynamodb_tag_copies import DynamoDBTagCopies
from image_service.adapters.dynamodb_word_index import DynamoDBWordIndex
from image_service.aws.errors import aws_errors, error_code
from image_service.aws.table import BY_CATEGORY, LIST_COUNT_REFRESH, LISTED, PK, SHARDS, SK
from image_service.domain.errors import BackendUnavailable, Conflict, NotFound
from image_service.domain.models import (
    Image,
    ImageQuery,
    Keyset,
    Page,
    Visibility,
    format_time,
    parse_time,
)
from image_service.ports import Accesses

log = logging.getLogger(__name__)
WHAT = "image catalog"
LOOK_AHEAD = 5  # rows checked at a time for the one matching row that says a page has more
NEW = {"ConditionExpression": MUST_BE_NEW}
ATTEMPTS = 5  # optimistic writes retried when a concurrent writer moved the version first
# Written only by the access path (the exact counters) and its refresh of the list copy.
COUNTERS = ("access_count", "last_accessed_at", LISTED)
# Fields an image item may lack (with the index keys that exist only alongside them).
OPTIONAL = ("category", BY_CATEGORY[1], BY_CATEGORY[2], "orientation")


class DynamoDBImageCatalog:
    def __init__(
        self,
        table: DynamoDBTable,
        *,
        shards: int = SHARDS,
        pool: ThreadPoolExecutor | None = None,
        list_refresh: timedelta = LIST_COUNT_REFRESH,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        """``list_refresh``: how old the list copy of an image's counters may get before a
        counted access refreshes it (0: every counted access does, for tests that need lists
        exact); ``clock``: the time a refresh is judged by and stamped with."""
        self.table = table
        self.shards = shards
        self.list_refresh = list_refresh
        self._clock = clock
        self._pool = pool or ThreadPoolExecutor(max_workers=2 * shards + 2, thread_name_prefix="ddb-list")
        self.words = DynamoDBWordIndex(table, self._pool)
        self.tags = DynamoDBTagCopies(table, self._pool)
        # For record_accesses: a batch's writes run side by side (threads start on first use).
        self._access_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="ddb-access")

    # -- images ----------------------------------------------------------------------------
    def add(self, image: Image) -> None:
        writes = [
            self._put(image_item(image, 1), NEW),
            self._put(name_item(image.name, image.image_id), NEW),
            *(self._put(tag_item(image, tag)) for tag in image.tags),
        ]
        failed = self._transact(writes)
        if failed == 0:
            raise Conflict("image id already exists")
        if failed is not None:
            raise Conflict(f"name {image.name!r} is already taken")
        self._index_words(image, None)

    def get(self, image_id: str) -> Image:
        return image_from(self._get_image_item(image_id))

    def _get_image_item(self, image_id: str) -> Item:
        item = self.table.get(image_key(image_id), WHAT)
        if item is None:
            raise NotFound("image not found")
        return item

    def get_by_name(self, name: str) -> Image:
        item = self.table.get(name_key(name), WHAT)
        if item is None:
            raise NotFound("image not found")
        return self.get(item["image_id"]["S"])

    def update(self, image: Image) -> None:
        for _ in range(ATTEMPTS):
            current_item = self._get_image_item(image.image_id)
            current = image_from(current_item)
            version = int(current_item.get("version", {"N": "1"})["N"])
            writes = [self._set_fields(image_item(image, version + 1), version)]
            name_write = None
            if image.name != current.name:
                name_write = len(writes) + 1
                writes += [
                    self._delete(name_key(current.name)),
                    self._put(name_item(image.name, image.image_id), NEW),
                ]
            # Tag items are whole copies of the image (list pages read them as they are): every
            # PATCH rewrites them, with the list copy of the counters as just read
            # (``_settle_words`` brings it forward if a refresh landed before the commit).
            listed = current_item.get(LISTED, listed_copy(current_item))
            writes += [self._delete(tag_key(image.image_id, t)) for t in current.tags if t not in image.tags]
            writes += [self._put(tag_item(image, tag, listed)) for tag in image.tags]
            failed = self._transact(writes)
            if failed is None:
                self._index_words(image, version + 1, current, _listed_count(listed))
                return
            if failed == name_write:
                raise Conflict(f"name {image.name!r} is already taken")
            # The version moved (a concurrent update) or the image is gone: read again.
        raise BackendUnavailable("the image is being changed by others; retry")

    def remove(self, image_id: str) -> Image:
        for _ in range(ATTEMPTS):
            current_item = self._get_image_item(image_id)
            current = image_from(current_item)
            version = int(current_item.get("version", {"N": "1"})["N"])
            writes = [
                self._delete(image_key(image_id), _version_is(version)),
                self._delete(name_key(current.name)),
                *(self._delete(tag_key(image_id, t)) for t in current.tags),
            ]
            if self._transact(writes) is None:
                self._unindex_words(current)
                return current
        raise BackendUnavailable("the image is being changed by others; retry")

    def _index_words(
        self, image: Image, version: int | None, before: Image | None = None, copied: int | None = None
    ) -> None:
        """Bring the text items (and the user's count) in step with ``image`` as just written:
        ``version`` None for a new image, else the version written, ``before`` what it replaced
        and ``copied`` the count of the list copy its tag items were written with. Failures are
        logged, not raised: the image is stored, only its searchability lags, and
        `image-service reindex` repairs it."""
        try:
            if before is None or before.visibility != image.visibility:
                self.words.count_user(image, 1)
                if before is not None:
                    self.words.count_user(before, -1)
            self.words.sync(image, new=version is None)
            if copied is None:  # an upload: the list copy is the image's counters
                copied = image.access_count
            self._settle_words(image.image_id, 1 if version is None else version, copied)
        except BackendUnavailable:
            log.warning("text index of image %s not updated; run image-service reindex", image.image_id)

    def reindex_words(self, image_id: str) -> int:
        """Bring one image's text items in step with its stored title and description (for
        ``image-service reindex``): the number of items written or deleted, 0 if it is gone.
        Settled as a PATCH's are, so a PATCH or delete landing meanwhile is never undone."""
        item = self.table.get(image_key(image_id), WHAT)
        if item is None:
            return 0
        written = self.words.sync(image_from(item)) + self.tags.make_whole(item)
        return written + self._settle_words(image_id, int(item.get("version", {"N": "1"})["N"]))

    def copy_counters(self, attributes: Item) -> None:
        """Copy the image item's list copy of its counters onto its tag items
        (``DynamoDBTagCopies.copy_counters``): every refresh of that copy is followed by this,
        with the image item it returned."""
        self.tags.copy_counters(attributes)

    def _refresh_listed(self, attributes: Item) -> None:
        """After a counted access (``attributes``: the image item its UpdateItem returned), bring
        the list copy of the counters up to them if it is older than ``list_refresh``: one
        conditional UpdateItem (the image still there, no other refresh since the cutoff, the
        copy only forward), then the tag items' copies. So an image viewed without pause costs
        one write per flush and, once a minute, the rewrite of its index entries and tag items.
        Raises BackendUnavailable; callers log it and never count again (the count is stored)."""
        now = self._clock()
        cutoff = now - self.list_refresh
        copied_at = listed_copied_at(attributes)
        if copied_at is not None and copied_at > cutoff:
            return
        listed = listed_copy(attributes, now)
        forward = moves_forward(listed)
        fresh = "attribute_not_exists(#listed.#copied_at) OR #listed.#copied_at <= :cutoff"
        condition = f"attribute_exists(PK) AND ({fresh}) AND {forward['ConditionExpression']}"
        response = self.table.conditional(
            WHAT,
            lambda: self.table.client.update_item(
                TableName=self.table.name,
                Key=image_key(attributes["image_id"]["S"]),
                UpdateExpression="SET #listed = :listed",
                ConditionExpression=condition,
                ExpressionAttributeNames={**forward["ExpressionAttributeNames"], "#copied_at": "copied_at"},
                ExpressionAttributeValues={
                    **forward["ExpressionAttributeValues"],
                    ":listed": listed,
                    ":cutoff": S(format_time(cutoff)),
                },
                ReturnValues="ALL_NEW",
            ),
        )
        if response is not None:  # else another refresh was first, or the image is gone
            self.copy_counters(response["Attributes"])

    def _refresh_listed_or_log(self, attributes: Item) -> None:
        try:
            self._refresh_listed(attributes)
        except BackendUnavailable:
            # Counted on the image; only the lists' copy lags, until a later count refreshes it
            # (retrying the whole would count the accesses twice).
            image_id = attributes["image_id"]["S"]
            log.warning("list copy of the counters of image %s not refreshed everywhere", image_id)
        except Exception:  # a bug: still never a reason to retry (and double) the count itself
            log.exception("list copy of the counters of image %s not refreshed", attributes["image_id"]["S"])

    def _settle_words(self, image_id: str, version: int, copied: int | None = None) -> int:
        """If another writer moved the version (or deleted the image) while this one synced, this
        one may have written the words of an older state over the newer: sync again from what is
        stored now. The number of items that rewrote. ``copied``: the count of the list copy this
        writer's tag items carry; a refresh of it since its read is copied onto them here."""
        written = 0
        for _ in range(ATTEMPTS):
            item = self.table.get(image_key(image_id), WHAT)
            if item is None:  # deleted meanwhile: its delete may have run before this sync
                self.words.remove(image_id)
                return written
            stored = int(item.get("version", {"N": "1"})["N"])
            if stored == version:
                if copied is not None and _listed_count(item.get(LISTED, listed_copy(item))) != copied:
                    self.copy_counters(item)
                return written
            version = stored
            written += self.words.sync(image_from(item))
        return written

    def _unindex_words(self, image: Image) -> None:
        try:
            self.words.count_user(image, -1)
            self.words.remove(image.image_id)
        except BackendUnavailable:
            # Items of a deleted image only cost reads: lists skip images that are gone.
            log.warning("text items of deleted image %s left behind", image.image_id)

    def record_access(self, image_id: str, at: datetime) -> Image:
        response = self.table.conditional(
            WHAT,
            lambda: self.table.client.update_item(
                TableName=self.table.name,
                Key=image_key(image_id),
                UpdateExpression="ADD access_count :one SET last_accessed_at = :at",
                ConditionExpression="attribute_exists(PK)",
                ExpressionAttributeValues={":one": N(1), ":at": S(format_time(at))},
                ReturnValues="ALL_NEW",
            ),
        )
        if response is None:
            raise NotFound("image not found")
        self._refresh_listed_or_log(response["Attributes"])
        return image_from(response["Attributes"])

    def record_accesses(self, accesses: Accesses) -> dict[str, tuple[int, datetime]]:
        """One UpdateItem per image (DynamoDB has no multi-item ADD outside a transaction, which
        would cost twice the units and fail as a whole), a few at a time."""
        batch = list(accesses.items())
        try:
            errors = list(self._access_pool.map(self._record_accesses_of, batch))
        except RuntimeError:  # the pool is shut down (interpreter exit: the last flush) - in turn
            errors = [self._record_accesses_of(entry) for entry in batch]
        left = {image_id: counted for (image_id, counted), error in zip(batch, errors, strict=True) if error}
        if left and len(left) == len(batch):
            raise next(e for e in errors if e is not None)
        if left:
            log.warning("accesses of %d of %d images not recorded yet", len(left), len(batch))
        return left

    def _record_accesses_of(self, entry: tuple[str, tuple[int, datetime]]) -> Exception | None:
        """None once the image's accesses are added (or it is gone); the error when they were not.
        Nothing after the ADD may fail the entry: retrying it would count its accesses twice."""
        image_id, (count, at) = entry

        def add(update: str, condition: str, values: Item) -> dict[str, Any] | None:
            return self.table.conditional(
                WHAT,
                lambda: self.table.client.update_item(
                    TableName=self.table.name,
                    Key=image_key(image_id),
                    UpdateExpression=update,
                    ConditionExpression=condition,
                    ExpressionAttributeValues=values,
                    ReturnValues="ALL_NEW",
                ),
            )

        # Usually the batch holds the image's latest access: one write adds the count and moves
        # the time. If a later time is stored (another process flushed a newer access first) the
        # condition fails, and a second write adds the count alone. attribute_exists(PK) on both:
        # an image deleted since is skipped, never recreated as an item holding only counters.
        latest = "attribute_not_exists(last_accessed_at) OR last_accessed_at < :at"
        try:
            response = add(
                "ADD access_count :n SET last_accessed_at = :at",
                f"attribute_exists(PK) AND ({latest})",
                {":n": N(count), ":at": S(format_time(at))},
            ) or add("ADD access_count :n", "attribute_exists(PK)", {":n": N(count)})
        except Exception as error:  # nothing written for this image: the caller retries it
            return error
        if response is None:
            return None  # deleted since its accesses were counted
        self._refresh_listed_or_log(response["Attributes"])
        return None

    def ping(self) -> None:
        with aws_errors(WHAT):
            self.table.client.get_item(TableName=self.table.name, Key=health_key())

    # -- listing ---------------------------------------------------------------------------
    def find(self, query: ImageQuery, limit: int, after: Keyset | None = None) -> Page:
        low, high, skip_high = sort_range(query, after)
        keyed = query.canonical()
        if keyed is None or (low is not None and high is not None and low >= high):
            return Page()
        text = None
        if keyed.text:
            text = choose(keyed.text, self.words.counts, self.words.expand)
            if text is None:
                return Page()
            if keyed.user_id is not None:
                # The user's partition drives instead (the text checked on the images) when it
                # holds fewer images than the text's rarest term is in.
                visibilities = [keyed.visibility] if keyed.visibility else list(Visibility)
                users = self.words.user_images(keyed.user_id, visibilities)
                if users is not None and users < text.estimate:
                    text = None
        merger = Merger(self._query, self._pool, plan(keyed, self.shards, text), low, high, skip_high)
        if after is not None and after.resume:
            merger.resume(after.resume)
        merger.expected = limit + 1  # the page and one look-ahead row: size the first reads for it
        images: list[Image] = []
        last: Item | None = None
        while len(images) < limit:
            rows = merger.take(limit - len(images))
            if not rows:
                break
            last = rows[-1]
            # Each image is checked against the query as the row (or, for a text row, the image
            # item) has it: a row is a projection of one write of the image, so it is never a mix
            # of two states (docs/ARCHITECTURE.md, "List items").
            found = self._images_of(rows, text is not None)
            page = [found.get(r["image_id"]["S"]) for r in rows]
            images += [i for i in page if i is not None and query.matches(i)]
        if last is None or not self._more(merger, query, text is not None):
            return Page(images)
        keyset = Keyset(parse_time(last["created_at"]["S"]), last["image_id"]["S"], merger.resume_state())
        return Page(images, keyset)

    def _more(self, merger: Merger, query: ImageQuery, text_driven: bool) -> bool:
        """Whether a row past the page matches. When the filter decides the query (every plan
        without text search), any row does; otherwise rows are read and checked on their image
        until one matches (and is put back for the next page) or none is left, so that
        ``has_more`` never promises a page that turns out empty. Text search is never taken on
        the filter's word alone, not even for one word: text items are written after the image's
        transaction, so one may outlive its image (a delete whose cleanup failed) or lag a PATCH."""
        if merger.plan.exact and not query.text:
            return merger.peek()
        # A filter that decides the text rows is almost always right: check one row at a time.
        step = 1 if merger.plan.exact else LOOK_AHEAD
        while rows := merger.take(step):
            images = self._images_of(rows, text_driven)
            for position, row in enumerate(rows):
                image = images.get(row["image_id"]["S"])
                if image is not None and query.matches(image):
                    merger.put_back(len(rows) - position)
                    return True
        return False

    def _images_of(self, rows: list[Item], text_driven: bool) -> dict[str, Image]:
        """The images of these index rows, by id: a whole row (an image or tag item, as its
        index projects it) is its image, with the list copy of its counters; the others (text
        items, tag items from before they were whole) are read with one BatchGetItem, exact. A
        text row whose image is gone is the leftover of a delete whose cleanup failed: its items
        are deleted on the way."""
        images = {r["image_id"]["S"]: listed_image_from(r) for r in rows if is_whole(r)}
        ids = [r["image_id"]["S"] for r in rows if not is_whole(r)]
        images |= {i.image_id: i for i in self._batch_images(ids)}
        if text_driven:
            self._drop_orphans([i for i in ids if i not in images])
        return images

    def _drop_orphans(self, image_ids: list[str]) -> None:
        """Delete the text items of these images if they are gone (a consistent read first: an
        index row can outlive its image for a moment, and BatchGetItem is not consistent).
        Failures are logged: the items only cost reads, the next list that meets them retries."""
        for image_id in dict.fromkeys(image_ids):
            try:
                if self.table.get(image_key(image_id), WHAT) is None:
                    self.words.remove(image_id)
            except BackendUnavailable:
                log.warning("text items of deleted image %s left behind", image_id)

    def _query(self, request: dict[str, Any]) -> dict[str, Any]:
        with aws_errors(WHAT):
            return self.table.client.query(TableName=self.table.name, **request)  # type: ignore[no-any-return]

    def _batch_images(self, image_ids: list[str]) -> list[Image]:
        keys = [image_key(i) for i in image_ids]
        found = {item["image_id"]["S"]: item for item in self.table.batch_get(keys, WHAT)}
        return [image_from(found[i]) for i in image_ids if i in found]

    # -- fsck ------------------------------------------------------------------------------
    def all_images(self) -> Iterator[Image]:
        """Every image (a Scan: fsck only, never a request path)."""
        for page in self.table.pages(
            "scan", WHAT, FilterExpression="SK = :image", ExpressionAttributeValues={":image": S(IMAGE_SK)}
        ):
            for item in page.get("Items", []):
                yield image_from(item)

    # -- writes ----------------------------------------------------------------------------
    def _set_fields(self, item: Item, version: int) -> dict[str, Any]:
        """An Update that writes every field of ``item`` except the counters, removes optional
        fields it lacks, and only applies if ``version`` is still the stored one. The counters
        belong to record_access: a Put would write back a count read before accesses that landed
        since, and lose them."""
        fields = {k: v for k, v in item.items() if k not in (PK, SK, *COUNTERS)}
        names = {f"#f{i}": name for i, name in enumerate(fields)}
        values = {f":f{i}": value for i, value in enumerate(fields.values())}
        update = "SET " + ", ".join(f"#f{i} = :f{i}" for i in range(len(fields)))
        missing = [a for a in OPTIONAL if a not in item]
        if missing:
            names |= {f"#r{i}": name for i, name in enumerate(missing)}
            update += " REMOVE " + ", ".join(f"#r{i}" for i in range(len(missing)))
        return {
            "Update": {
                "TableName": self.table.name,
                "Key": {PK: item[PK], SK: item[SK]},
                "UpdateExpression": update,
                "ConditionExpression": "attribute_exists(PK) AND #version = :version",
                "ExpressionAttributeNames": {**names, "#version": "version"},
                "ExpressionAttributeValues": {**values, ":version": N(version)},
            }
        }

    def _put(self, item: Item, condition: dict[str, Any] | None = None) -> dict[str, Any]:
        return {"Put": {"TableName": self.table.name, "Item": item, **(condition or {})}}

    def _delete(self, key: Item, condition: dict[str, Any] | None = None) -> dict[str, Any]:
        return {"Delete": {"TableName": self.table.name, "Key": key, **(condition or {})}}

    def _transact(self, writes: list[dict[str, Any]]) -> int | None:
        """Run the writes as one transaction. None when it committed; else the index of the
        write whose condition failed. Conflicts with other transactions are retried."""
        delay = 0.02
        for attempt in range(ATTEMPTS):
            try:
                with aws_errors(WHAT):
                    self.table.client.transact_write_items(TransactItems=writes)
                return None
            except ClientError as error:
                if error_code(error) != "TransactionCanceledException":
                    raise
                reasons = [r.get("Code", "None") for r in error.response.get("CancellationReasons", [])]
                for index, code in enumerate(reasons):
                    if code == "ConditionalCheckFailed":
                        return index
                if any(c in ("ThrottlingError", "ProvisionedThroughputExceeded") for c in reasons):
                    raise BackendUnavailable("the image catalog is busy; retry later") from error
                if attempt + 1 < ATTEMPTS:  # TransactionConflict: another write was in flight
                    time.sleep(delay)
                    delay *= 2
        raise BackendUnavailable("the image catalog is busy; retry later")


def _listed_count(listed: Item) -> int:
    return int(listed["M"]["count"]["N"])


def _version_is(version: int) -> dict[str, Any]:
    return {
        "ConditionExpression": "attribute_exists(PK) AND version = :version",
        "ExpressionAttributeValues": {":version": N(version)},
    }
