"""SqlitePendingUploads: direct uploads between start and completion, in the embedded backend's
database file (the ``pending_uploads`` table of ``sqlite_schema``)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from image_service.adapters.sqlite_db import SqliteDatabase
from image_service.adapters.sqlite_rows import pending_from_row, pending_row
from image_service.domain.errors import NotFound
from image_service.domain.models import PendingUpload, format_time


class SqlitePendingUploads:
    def __init__(self, db: SqliteDatabase) -> None:
        """``db``: from ``sqlite_schema.open_database``."""
        self._db = db

    def add_pending(self, pending: PendingUpload) -> None:
        with self._db.write() as conn:
            conn.execute("INSERT INTO pending_uploads VALUES (?, ?, ?, ?, ?, ?, ?, ?)", pending_row(pending))

    def get_pending(self, image_id: str) -> PendingUpload:
        with self._db.read() as conn:
            row = conn.execute("SELECT * FROM pending_uploads WHERE image_id = ?", (image_id,)).fetchone()
        if row is None:
            raise NotFound("no such pending upload")
        return pending_from_row(row)

    def remove_pending(self, image_id: str) -> None:
        with self._db.write() as conn:
            conn.execute("DELETE FROM pending_uploads WHERE image_id = ?", (image_id,))

    def expired_pending(self, now: datetime, limit: int = 100) -> list[PendingUpload]:
        with self._db.read() as conn:
            rows = conn.execute(
                "SELECT * FROM pending_uploads WHERE expires_at < ? ORDER BY expires_at LIMIT ?",
                (format_time(now), limit),
            ).fetchall()
        return [pending_from_row(r) for r in rows]

    def all_pending(self) -> Iterator[PendingUpload]:
        with self._db.read() as conn:
            rows = conn.execute("SELECT * FROM pending_uploads").fetchall()
        return iter([pending_from_row(r) for r in rows])
