"""SqlitePendingUploads: direct uploads between start and completion, in the catalog's database file."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from image_service.adapters.sqlite_catalog import SqliteImageCatalog
from image_service.domain.errors import NotFound
from image_service.domain.models import PendingUpload, format_time, parse_time

SCHEMA = """
CREATE TABLE IF NOT EXISTS pending_uploads (
    image_id     TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL,
    blob_key     TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size         INTEGER NOT NULL,
    metadata     TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    expires_at   TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS pending_by_expiry ON pending_uploads (expires_at);
"""


class SqlitePendingUploads:
    def __init__(self, catalog: SqliteImageCatalog) -> None:
        self._db = catalog.db
        self._db.script(SCHEMA)

    def add_pending(self, pending: PendingUpload) -> None:
        with self._db.write() as conn:
            conn.execute(
                "INSERT INTO pending_uploads VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    pending.image_id,
                    pending.user_id,
                    pending.blob_key,
                    pending.content_type,
                    pending.size,
                    json.dumps(pending.metadata),
                    format_time(pending.created_at),
                    format_time(pending.expires_at),
                ),
            )

    def get_pending(self, image_id: str) -> PendingUpload:
        with self._db.read() as conn:
            row = conn.execute("SELECT * FROM pending_uploads WHERE image_id = ?", (image_id,)).fetchone()
        if row is None:
            raise NotFound("no such pending upload")
        return _pending(row)

    def remove_pending(self, image_id: str) -> None:
        with self._db.write() as conn:
            conn.execute("DELETE FROM pending_uploads WHERE image_id = ?", (image_id,))

    def expired_pending(self, now: datetime, limit: int = 100) -> list[PendingUpload]:
        with self._db.read() as conn:
            rows = conn.execute(
                "SELECT * FROM pending_uploads WHERE expires_at < ? ORDER BY expires_at LIMIT ?",
                (format_time(now), limit),
            ).fetchall()
        return [_pending(r) for r in rows]

    def all_pending(self) -> Iterator[PendingUpload]:
        with self._db.read() as conn:
            rows = conn.execute("SELECT * FROM pending_uploads").fetchall()
        return iter([_pending(r) for r in rows])


def _pending(row: Sequence[Any]) -> PendingUpload:
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
