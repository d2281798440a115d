"""A database made by an older version gains the tables added since, keeping its rows."""

from __future__ import annotations

import dataclasses
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from image_service.adapters.sqlite_idempotency import SqliteIdempotencyStore
from image_service.adapters.sqlite_keys import SqliteKeyStore
from image_service.adapters.sqlite_schema import SCHEMA, SCHEMA_VERSION, open_database
from image_service.domain.models import IdempotencyRecord

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def test_a_version_1_database_gains_the_idempotency_table(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite3"
    version_1 = SCHEMA[: SCHEMA.index("-- Idempotency-Key records")]
    with sqlite3.connect(path) as conn:
        conn.executescript(version_1 + "\nPRAGMA user_version = 1;")
        conn.execute(
            "INSERT INTO api_keys VALUES ('k1', 'alice', 'hash', 0, '2025-01-01T00:00:00.000Z', NULL)"
        )
    conn.close()

    db = open_database(path)
    try:
        assert [k.key_id for k in SqliteKeyStore(db).list_keys()] == ["k1"]
        store = SqliteIdempotencyStore(db)
        claim = IdempotencyRecord(
            "alice", "k", "f", "t", ("i-1",), NOW + timedelta(minutes=1), NOW + timedelta(days=1)
        )
        assert store.claim(claim, NOW) is None
        assert store.claim(dataclasses.replace(claim, token="t2"), NOW) == claim
    finally:
        db.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    conn.close()
