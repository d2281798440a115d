"""SqliteKeyStore: API keys (hashes only) in the embedded backend's database file."""

from __future__ import annotations

from datetime import datetime

from image_service.adapters.sqlite_db import SqliteDatabase
from image_service.adapters.sqlite_rows import apikey_from_row
from image_service.domain.errors import NotFound
from image_service.domain.models import ApiKey, format_time


class SqliteKeyStore:
    def __init__(self, db: SqliteDatabase) -> None:
        """``db``: from ``sqlite_schema.open_database`` (the ``api_keys`` table)."""
        self._db = db

    def add_key(self, key: ApiKey) -> None:
        with self._db.write() as conn:
            conn.execute(
                "INSERT INTO api_keys VALUES (?, ?, ?, ?, ?, ?)",
                (key.key_id, key.user_id, key.key_hash, int(key.is_admin), format_time(key.created_at), None),
            )

    def find_key(self, key_hash: str) -> ApiKey | None:
        with self._db.read() as conn:
            row = conn.execute(
                "SELECT * FROM api_keys WHERE key_hash = ? AND revoked_at IS NULL", (key_hash,)
            ).fetchone()
        return apikey_from_row(row) if row else None

    def list_keys(self) -> list[ApiKey]:
        with self._db.read() as conn:
            rows = conn.execute("SELECT * FROM api_keys ORDER BY created_at, key_id").fetchall()
        return [apikey_from_row(r) for r in rows]

    def revoke_key(self, key_id: str, at: datetime) -> None:
        with self._db.write() as conn:
            cursor = conn.execute(
                "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?) WHERE key_id = ?",
                (format_time(at), key_id),
            )
            if cursor.rowcount == 0:
                raise NotFound("no such key")
