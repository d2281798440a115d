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
    """What the indexes project, so a list can filter on them without reading the image."""
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


def image_item(image: Image, version: int) -> Item:
    shard = shard_of(image.image_id)
    order = order_key(image.created_at, image.image_id)
    item: Item = {
        **image_key(image.image_id),
        **filter_attributes(image),
        "version": N(version),
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
        "access_count": N(image.access_count),
        BY_USER[1]: S(user_partition(image.user_id, image.visibility)),
        BY_USER[2]: S(order),
        BY_VISIBILITY[1]: S(visibility_partition(image.visibility, shard)),
        BY_VISIBILITY[2]: S(order),
    }
    if image.category is not None:
        item[BY_CATEGORY[1]] = S(category_partition(image.category, shard))
        item[BY_CATEGORY[2]] = S(order)
    if image.orientation is not None:
        item["orientation"] = N(image.orientation)
    if image.last_accessed_at is not None:
        item["last_accessed_at"] = S(format_time(image.last_accessed_at))
    return item


def tag_item(image: Image, tag: str) -> Item:
    return {
        **tag_key(image.image_id, tag),
        **filter_attributes(image),
        BY_TAG[1]: S(tag_partition(tag, shard_of(image.image_id))),
        BY_TAG[2]: S(order_key(image.created_at, image.image_id)),
    }


def name_item(name: str, image_id: str) -> Item:
    return {**name_key(name), "image_id": S(image_id)}


def image_from(item: Item) -> Image:
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
        access_count=int(item["access_count"]["N"]),
        last_accessed_at=parse_time(item["last_accessed_at"]["S"]) if "last_accessed_at" in item else None,
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
