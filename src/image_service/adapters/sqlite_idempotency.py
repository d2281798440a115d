"""SqliteIdempotencyStore: Idempotency-Key records in the embedded backend's database file.

The table is in ``sqlite_schema`` (``idempotency_keys``). A claim is one write transaction:
delete this key's expired row, insert unless a row is there, and read the row that won. SQLite
has no TTL, so each claim also deletes a bounded batch of other expired rows.

Claims commit durably: a claim carries the image ids its request stores under, and a catalog row
committed after it must never outlive it. Completions and releases commit with
``durable=False``: if a power cut loses one, the claim is still there, and a retry after its
lease takes over, finds the images stored under its ids and answers with them.
"""

from __future__ import annotations

import json
from datetime import datetime

from image_service.adapters.sqlite_db import SqliteDatabase
from image_service.adapters.sqlite_rows import body_json, idempotency_from_row, idempotency_row
from image_service.domain.models import IdempotencyRecord, format_time

SWEEP = 100  # expired rows deleted per claim, at most
# Column lists are spelled out in each statement: SQL text here is constant, every value bound.


class SqliteIdempotencyStore:
    def __init__(self, db: SqliteDatabase) -> None:
        """``db``: from ``sqlite_schema.open_database``."""
        self._db = db

    def claim(self, record: IdempotencyRecord, now: datetime) -> IdempotencyRecord | None:
        expired = format_time(now)
        with self._db.write() as conn:
            conn.execute(
                "DELETE FROM idempotency_keys WHERE user_id = ? AND key = ? AND expires_at <= ?",
                (record.user_id, record.key, expired),
            )
            conn.execute(
                "DELETE FROM idempotency_keys WHERE (user_id, key) IN (SELECT user_id, key"
                " FROM idempotency_keys WHERE expires_at <= ? ORDER BY expires_at LIMIT ?)",
                (expired, SWEEP),
            )
            inserted = conn.execute(
                "INSERT INTO idempotency_keys (user_id, key, fingerprint, token, image_ids,"
                " lease_until, expires_at, status, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (user_id, key) DO NOTHING",
                idempotency_row(record),
            ).rowcount
            if inserted:
                return None
            row = conn.execute(
                "SELECT user_id, key, fingerprint, token, image_ids, lease_until, expires_at,"
                " status, body FROM idempotency_keys WHERE user_id = ? AND key = ?",
                (record.user_id, record.key),
            ).fetchone()
        return idempotency_from_row(row)

    def take_over(self, stale: IdempotencyRecord, record: IdempotencyRecord) -> bool:
        with self._db.write() as conn:
            changed = conn.execute(
                "UPDATE idempotency_keys SET fingerprint = ?, token = ?, image_ids = ?,"
                " lease_until = ?, expires_at = ?"
                " WHERE user_id = ? AND key = ? AND token = ? AND status IS NULL",
                (
                    record.fingerprint,
                    record.token,
                    json.dumps(record.image_ids),
                    format_time(record.lease_until),
                    format_time(record.expires_at),
                    stale.user_id,
                    stale.key,
                    stale.token,
                ),
            ).rowcount
        return changed == 1

    def complete(self, record: IdempotencyRecord) -> None:
        with self._db.write(durable=False) as conn:
            conn.execute(
                "UPDATE idempotency_keys SET status = ?, body = ?, lease_until = ?"
                " WHERE user_id = ? AND key = ? AND token = ?",
                (
                    record.status,
                    body_json(record.body),
                    format_time(record.lease_until),
                    record.user_id,
                    record.key,
                    record.token,
                ),
            )

    def release(self, record: IdempotencyRecord) -> None:
        with self._db.write(durable=False) as conn:
            conn.execute(
                "DELETE FROM idempotency_keys WHERE user_id = ? AND key = ? AND token = ?",
                (record.user_id, record.key, record.token),
            )
