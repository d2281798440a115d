"""Images, API keys, pending uploads and idempotency records as SQLite rows, and back.

The column order of each table is the one in ``sqlite_schema``; JSON holds the lists and maps
(an image's tags, a pending upload's metadata, a record's image ids and answer).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from image_service.adapters.sqlite_schema import COLUMNS
from image_service.domain.models import (
    ApiKey,
    IdempotencyRecord,
    Image,
    PendingUpload,
    Visibility,
    format_time,
    parse_time,
)

SELECT_COLUMNS = ", ".join(f"i.{c}" for c in COLUMNS)
# When image_tags drives, its own (created_at, image_id) are selected, so the index order is the
# output order and a UNION ALL of arms merges without a sort step.
TAG_SELECT_COLUMNS = ", ".join(
    f"t.{c} AS {c}" if c in ("image_id", "created_at") else f"i.{c}" for c in COLUMNS
)


def image_row(image: Image) -> tuple[Any, ...]:
    return (
        image.image_id, image.user_id, image.name, image.filename, image.title, image.description,
        json.dumps(list(image.tags)), image.category, image.visibility.value, image.content_type,
        image.format, image.width, image.height, image.size, image.checksum_sha256, image.blob_key,
        image.orientation, format_time(image.created_at), format_time(image.updated_at),
        image.access_count, format_time(image.last_accessed_at) if image.last_accessed_at else None,
    )  # fmt: skip


def image_from_row(row: Sequence[Any]) -> Image:
    v = dict(zip(COLUMNS, row, strict=True))
    return Image(
        image_id=v["image_id"], user_id=v["user_id"], name=v["name"], filename=v["filename"],
        title=v["title"], description=v["description"], tags=tuple(json.loads(v["tags"])),
        category=v["category"], visibility=Visibility(v["visibility"]), content_type=v["content_type"],
        format=v["format"], width=v["width"], height=v["height"], size=v["size"],
        checksum_sha256=v["checksum_sha256"], blob_key=v["s3_key"], orientation=v["orientation"],
        created_at=parse_time(v["created_at"]), updated_at=parse_time(v["updated_at"]),
        access_count=v["access_count"],
        last_accessed_at=parse_time(v["last_accessed_at"]) if v["last_accessed_at"] else None,
    )  # fmt: skip


def apikey_from_row(row: Sequence[Any]) -> ApiKey:
    key_id, user_id, key_hash, is_admin, created_at, revoked_at = row
    return ApiKey(
        key_id=key_id, user_id=user_id, key_hash=key_hash, is_admin=bool(is_admin),
        created_at=parse_time(created_at), revoked_at=parse_time(revoked_at) if revoked_at else None,
    )  # fmt: skip


def pending_row(pending: PendingUpload) -> tuple[Any, ...]:
    return (
        pending.image_id,
        pending.user_id,
        pending.blob_key,
        pending.content_type,
        pending.size,
        json.dumps(pending.metadata),
        format_time(pending.created_at),
        format_time(pending.expires_at),
    )


def pending_from_row(row: Sequence[Any]) -> PendingUpload:
    image_id, user_id, blob_key, content_type, size, metadata, created_at, expires_at = row
    return PendingUpload(
        image_id=image_id,
        user_id=user_id,
        blob_key=blob_key,
        content_type=content_type,
        size=size,
        metadata=json.loads(metadata),
        created_at=parse_time(created_at),
        expires_at=parse_time(expires_at),
    )


def idempotency_row(record: IdempotencyRecord) -> tuple[Any, ...]:
    return (
        record.user_id,
        record.key,
        record.fingerprint,
        record.token,
        json.dumps(record.image_ids),
        format_time(record.lease_until),
        format_time(record.expires_at),
        record.status,
        body_json(record.body),
    )


def idempotency_from_row(row: Sequence[Any]) -> IdempotencyRecord:
    user_id, key, fingerprint, token, image_ids, lease_until, expires_at, status, body = row
    return IdempotencyRecord(
        user_id=user_id,
        key=key,
        fingerprint=fingerprint,
        token=token,
        image_ids=tuple(json.loads(image_ids)),
        lease_until=parse_time(lease_until),
        expires_at=parse_time(expires_at),
        status=status,
        body=json.loads(body) if body is not None else None,
    )


def body_json(body: dict[str, Any] | None) -> str | None:
    """A saved answer's body as stored (NULL until the first attempt succeeded)."""
    return json.dumps(body) if body is not None else None
