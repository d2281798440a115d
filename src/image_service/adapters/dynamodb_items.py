"""Images, tags, names, keys, pending uploads and idempotency records as DynamoDB items
(low-level attribute values).

The low-level client with hand-written conversion, not boto3's resource layer: it is faster per
item and keeps the resource layer's import cost out of Lambda's cold start.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from image_service.aws.table import (
    BY_CATEGORY,
    BY_TAG,
    BY_USER,
    BY_VISIBILITY,
    LISTED,
    PK,
    SK,
    TTL_ATTRIBUTE,
    shard_of,
)
from image_service.domain.models import (
    ApiKey,
    IdempotencyRecord,
    Image,
    PendingUpload,
    Visibility,
    format_time,
    parse_time,
)

Item = dict[str, Any]
IMAGE_SK = "IMAGE"
NAME_SK = "NAME"
APIKEY_SK = "APIKEY"
PENDING_SK = "PENDING"
IDEMPOTENCY_SK = "IDEMPOTENCY"
APIKEYS_PARTITION = "APIKEYS"
PENDING_PARTITION = "PENDING"
PENDING_TTL_GRACE = 24 * 3600  # DynamoDB's TTL deletes a forgotten record a day after it expired


def S(value: str) -> dict[str, str]:  # DynamoDB's own type letters
    return {"S": value}


def N(value: int) -> dict[str, str]:
    return {"N": str(value)}


def image_key(image_id: str) -> Item:
    return {PK: S(image_partition(image_id)), SK: S(IMAGE_SK)}


def tag_key(image_id: str, tag: str) -> Item:
    return {PK: S(image_partition(image_id)), SK: S(f"TAG#{tag}")}


def image_partition(image_id: str) -> str:
    """The PK of an image and of its tag items."""
    return f"IMAGE#{image_id}"


def image_id_of(partition: str) -> str:
    """The image id back from ``image_partition``."""
    return partition.removeprefix("IMAGE#")


def name_key(name: str) -> Item:
    return {PK: S(f"NAME#{name}"), SK: S(NAME_SK)}


def apikey_key(key_hash: str) -> Item:
    return {PK: S(f"APIKEY#{key_hash}"), SK: S(APIKEY_SK)}


def pending_key(image_id: str) -> Item:
    return {PK: S(f"PENDING#{image_id}"), SK: S(PENDING_SK)}


def idempotency_key(user_id: str, key: str) -> Item:
    # No user id contains "#", so the first "#" after the prefix ends the user: keys may hold any.
    return {PK: S(f"IDEMPOTENCY#{user_id}#{key}"), SK: S(IDEMPOTENCY_SK)}


def health_key() -> Item:
    """A key no item has: the deep health check reads it to see the table answer."""
    return {PK: S("HEALTH"), SK: S("HEALTH")}


def order_key(created_at: datetime, image_id: str) -> str:
    """Every index's sort key: ISO time (fixed width, so text order is time order), then id."""
    return f"{format_time(created_at)}#{image_id}"


def order_key_parts(order: str) -> tuple[str, str]:
    """The stored time and the image id back from ``order_key``."""
    created_at, _, image_id = order.partition("#")
    return created_at, image_id


def user_partition(user_id: str, visibility: Visibility) -> str:
    return f"USER#{user_id}#{visibility.value}"


def visibility_partition(visibility: Visibility, shard: int) -> str:
    return f"VIS#{visibility.value}#{shard}"


def category_partition(category: str, shard: int) -> str:
    return f"CAT#{category}#{shard}"


def tag_partition(tag: str, shard: int) -> str:
    return f"TAG#{tag}#{shard}"


def tag_of_partition(partition: str) -> str:
    """The tag back from ``tag_partition`` (a tag may contain "#"; the shard never does)."""
    return partition.removeprefix("TAG#").rpartition("#")[0]


def filter_attributes(image: Image) -> Item:
    """What every index item carries, text items included, so a list can filter on it."""
    item: Item = {
        "image_id": S(image.image_id),
        "user_id": S(image.user_id),
        "visibility": S(image.visibility.value),
        "tags": {"L": [S(t) for t in image.tags]},
        "created_at": S(format_time(image.created_at)),
    }
    if image.category is not None:
        item["category"] = S(image.category)
    return item


def list_attributes(image: Image) -> Item:
    """Every field of the image a list answer shows except its counters, as ``image_from``
    reads them: what the list indexes project (``aws.table.LISTED``) and each tag item carries,
    so a list page is its Queries. The counters a list shows are the ``LISTED`` copy beside."""
    item: Item = {
        **filter_attributes(image),
        "name": S(image.name),
        "filename": S(image.filename),
        "content_type": S(image.content_type),
        "format": S(image.format),
        "width": N(image.width),
        "height": N(image.height),
        "size": N(image.size),
        "checksum_sha256": S(image.checksum_sha256),
        "s3_key": S(image.blob_key),
        "updated_at": S(format_time(image.updated_at)),
        "title": S(image.title),
        "description": S(image.description),
    }
    if image.orientation is not None:
        item["orientation"] = N(image.orientation)
    return item


def exact_counters(image: Image) -> Item:
    """The counters as the image item holds them: exact, moved by every counted access."""
    item: Item = {"access_count": N(image.access_count)}
    if image.last_accessed_at is not None:
        item["last_accessed_at"] = S(format_time(image.last_accessed_at))
    return item


def listed_copy(counters: Item, copied_at: datetime | None = None) -> Item:
    """The ``LISTED`` attribute: a copy of the exact ``counters`` (an image item's attributes)
    that lists show, refreshed at most once a minute (``DynamoDBImageCatalog``), so a counted
    access does not rewrite every index entry and tag item of the image. One map, not three
    attributes: the projections' attribute names are limited (``aws.table``). ``copied_at``:
    when it was refreshed; none on upload, so the first counted access refreshes it."""
    copy: Item = {"count": counters["access_count"]}
    if "last_accessed_at" in counters:
        copy["at"] = counters["last_accessed_at"]
    if copied_at is not None:
        copy["copied_at"] = S(format_time(copied_at))
    return {"M": copy}


def listed_copied_at(item: Item) -> datetime | None:
    """When the item's list copy was refreshed (None: never, or no copy)."""
    copied = item.get(LISTED, {"M": {}})["M"].get("copied_at")
    return parse_time(copied["S"]) if copied else None


def is_whole(item: Item) -> bool:
    """Whether an index item carries the whole image (image and tag items do; text items, and
    tag items written before tag items were whole, carry only the filter fields)."""
    return "s3_key" in item


def image_item(image: Image, version: int) -> Item:
    shard = shard_of(image.image_id)
    order = order_key(image.created_at, image.image_id)
    item: Item = {
        **image_key(image.image_id),
        **list_attributes(image),
        **exact_counters(image),
        LISTED: listed_copy(exact_counters(image)),
        "version": N(version),
        BY_USER[1]: S(user_partition(image.user_id, image.visibility)),
        BY_USER[2]: S(order),
        BY_VISIBILITY[1]: S(visibility_partition(image.visibility, shard)),
        BY_VISIBILITY[2]: S(order),
    }
    if image.category is not None:
        item[BY_CATEGORY[1]] = S(category_partition(image.category, shard))
        item[BY_CATEGORY[2]] = S(order)
    return item


def tag_item(image: Image, tag: str, listed: Item | None = None) -> Item:
    """A whole tag item: the image's list attributes and ``listed``, the image item's list copy
    of its counters (by default one equal to the image's counters, as an upload writes)."""
    return {
        **tag_key(image.image_id, tag),
        **list_attributes(image),
        LISTED: listed if listed is not None else listed_copy(exact_counters(image)),
        BY_TAG[1]: S(tag_partition(tag, shard_of(image.image_id))),
        BY_TAG[2]: S(order_key(image.created_at, image.image_id)),
    }


def moves_forward(listed: Item) -> dict[str, Any]:
    """The condition (with its names and values) that a write of the list copy ``listed`` only
    moves an item's copy forward: of two copies racing, the larger count stays."""
    return {
        "ConditionExpression": "(attribute_not_exists(#listed) OR #listed.#count < :count)",
        "ExpressionAttributeNames": {"#listed": LISTED, "#count": "count"},
        "ExpressionAttributeValues": {":count": listed["M"]["count"]},
    }


def tag_counters_update(image_id: str, tag: str, listed: Item) -> dict[str, Any]:
    """The UpdateItem arguments (without the table) that copy the image item's list copy
    ``listed`` onto one of its whole tag items. Only forward (``moves_forward``), so the copies
    converge on the image's; never onto a tag item that is gone (a PATCH dropped the tag, or the
    image was deleted)."""
    forward = moves_forward(listed)
    return {
        "Key": tag_key(image_id, tag),
        "UpdateExpression": "SET #listed = :listed",
        "ConditionExpression": f"attribute_exists(s3_key) AND {forward['ConditionExpression']}",
        "ExpressionAttributeNames": forward["ExpressionAttributeNames"],
        "ExpressionAttributeValues": {**forward["ExpressionAttributeValues"], ":listed": listed},
    }


def name_item(name: str, image_id: str) -> Item:
    return {**name_key(name), "image_id": S(image_id)}


def image_from(item: Item) -> Image:
    """The image as its image item holds it: the exact counters."""
    return _image_from(item, item)


def listed_image_from(item: Item) -> Image:
    """The image as a list row (a list index's projection, or a tag item) holds it: with the
    counters of its list copy, up to ``LIST_COUNT_REFRESH`` behind the image item's. A row
    written before the copies existed shows the counters it carries, if any."""
    listed = item.get(LISTED)
    if listed is None:
        return _image_from(item, item if "access_count" in item else {"access_count": N(0)})
    copy = listed["M"]
    return _image_from(
        item, {"access_count": copy["count"], **({"last_accessed_at": copy["at"]} if "at" in copy else {})}
    )


def _image_from(item: Item, counters: Item) -> Image:
    return Image(
        image_id=item["image_id"]["S"],
        user_id=item["user_id"]["S"],
        name=item["name"]["S"],
        filename=item["filename"]["S"],
        content_type=item["content_type"]["S"],
        format=item["format"]["S"],
        width=int(item["width"]["N"]),
        height=int(item["height"]["N"]),
        size=int(item["size"]["N"]),
        checksum_sha256=item["checksum_sha256"]["S"],
        blob_key=item["s3_key"]["S"],
        created_at=parse_time(item["created_at"]["S"]),
        updated_at=parse_time(item["updated_at"]["S"]),
        title=item["title"]["S"],
        description=item["description"]["S"],
        tags=tuple(t["S"] for t in item["tags"]["L"]),
        category=item["category"]["S"] if "category" in item else None,
        visibility=Visibility(item["visibility"]["S"]),
        orientation=int(item["orientation"]["N"]) if "orientation" in item else None,
        access_count=int(counters["access_count"]["N"]),
        last_accessed_at=parse_time(counters["last_accessed_at"]["S"])
        if "last_accessed_at" in counters
        else None,
    )


def apikey_item(key: ApiKey) -> Item:
    item: Item = {
        **apikey_key(key.key_hash),
        "key_id": S(key.key_id),
        "user_id": S(key.user_id),
        "key_hash": S(key.key_hash),
        "is_admin": {"BOOL": key.is_admin},
        "created_at": S(format_time(key.created_at)),
        BY_USER[1]: S(APIKEYS_PARTITION),
        BY_USER[2]: S(f"{format_time(key.created_at)}#{key.key_id}"),
    }
    if key.revoked_at is not None:
        item["revoked_at"] = S(format_time(key.revoked_at))
    return item


def apikey_from(item: Item) -> ApiKey:
    return ApiKey(
        key_id=item["key_id"]["S"],
        user_id=item["user_id"]["S"],
        key_hash=item["key_hash"]["S"],
        is_admin=bool(item["is_admin"]["BOOL"]),
        created_at=parse_time(item["created_at"]["S"]),
        revoked_at=parse_time(item["revoked_at"]["S"]) if "revoked_at" in item else None,
    )


def pending_item(pending: PendingUpload) -> Item:
    expires = format_time(pending.expires_at)
    return {
        **pending_key(pending.image_id),
        "image_id": S(pending.image_id),
        "user_id": S(pending.user_id),
        "blob_key": S(pending.blob_key),
        "content_type": S(pending.content_type),
        "size": N(pending.size),
        "metadata": S(json.dumps(pending.metadata)),
        "created_at": S(format_time(pending.created_at)),
        "expires_at": S(expires),
        BY_VISIBILITY[1]: S(PENDING_PARTITION),
        BY_VISIBILITY[2]: S(f"{expires}#{pending.image_id}"),
        TTL_ATTRIBUTE: N(int(pending.expires_at.timestamp()) + PENDING_TTL_GRACE),
    }


def pending_from(item: Item) -> PendingUpload:
    return PendingUpload(
        image_id=item["image_id"]["S"],
        user_id=item["user_id"]["S"],
        blob_key=item["blob_key"]["S"],
        content_type=item["content_type"]["S"],
        size=int(item["size"]["N"]),
        metadata=json.loads(item["metadata"]["S"]),
        created_at=parse_time(item["created_at"]["S"]),
        expires_at=parse_time(item["expires_at"]["S"]),
    )


def idempotency_item(record: IdempotencyRecord) -> Item:
    item: Item = {
        **idempotency_key(record.user_id, record.key),
        "user_id": S(record.user_id),
        "key": S(record.key),
        "fingerprint": S(record.fingerprint),
        "token": S(record.token),
        "image_ids": {"L": [S(i) for i in record.image_ids]},
        "lease_until": S(format_time(record.lease_until)),
        "expires_at": S(format_time(record.expires_at)),
        # TTL deletes in whole seconds, some time after: never before the record expired.
        TTL_ATTRIBUTE: N(int(record.expires_at.timestamp()) + 1),
    }
    if record.status is not None:
        item["status"] = N(record.status)
        item["body"] = S(json.dumps(record.body))
    return item


def idempotency_from(item: Item) -> IdempotencyRecord:
    return IdempotencyRecord(
        user_id=item["user_id"]["S"],
        key=item["key"]["S"],
        fingerprint=item["fingerprint"]["S"],
        token=item["token"]["S"],
        image_ids=tuple(i["S"] for i in item["image_ids"]["L"]),
        lease_until=parse_time(item["lease_until"]["S"]),
        expires_at=parse_time(item["expires_at"]["S"]),
        status=int(item["status"]["N"]) if "status" in item else None,
        body=json.loads(item["body"]["S"]) if "body" in item else None,
    )
