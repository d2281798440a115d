"""Images, API keys, pending uploads and idempotency records as SQLite rows, and back.

The column order of each table is the one in ``sqlite_schema``; JSON holds the lists and maps
(an image's tags, a pending upload's metadata, a record's image ids and answer).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson

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
    # Every GET of an image's bytes makes one of these, so it is written for speed: the row
    # unpacked by position (the order of COLUMNS, as image_row writes it; a wrong length raises),
    # tags by orjson with the empty list known without parsing, stored times by fromisoformat.
    (
        image_id, user_id, name, filename, title, description, tags, category, visibility,
        content_type, format_, width, height, size, checksum_sha256, s3_key, orientation,
        created_at, updated_at, access_count, last_accessed_at,
    ) = row  # fmt: skip
    return Image(
        image_id=image_id, user_id=user_id, name=name, filename=filename, title=title,
        description=description, tags=() if tags == "[]" else tuple(orjson.loads(tags)),
        category=category, visibility=VISIBILITIES[visibility], content_type=content_type,
        format=format_, width=width, height=height, size=size, checksum_sha256=checksum_sha256,
        blob_key=s3_key, orientation=orientation, created_at=_time(created_at),
        updated_at=_time(updated_at), access_count=access_count,
        last_accessed_at=_time(last_accessed_at) if last_accessed_at else None,
    )  # fmt: skip


VISIBILITIES = {v.value: v for v in Visibility}


def _time(value: str) -> datetime:
    """A stored time: ``format_time``'s UTC ``...Z`` (fromisoformat reads it as UTC, the same
    value parse_time gives, at a third of the cost); anything else through parse_time."""
    if value.endswith("Z"):
        return datetime.fromisoformat(value)
    return parse_time(value)


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
