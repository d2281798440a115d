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


def test_a_version_2_database_becomes_searchable_once_at_open(tmp_path: Path) -> None:
    from image_service.adapters.sqlite_catalog import SqliteImageCatalog
    from image_service.adapters.sqlite_rows import image_row
    from image_service.adapters.sqlite_schema import COLUMNS
    from image_service.domain.models import Image, ImageQuery
    from image_service.domain.text import BOTH_FIELDS, search

    path = tmp_path / "catalog.sqlite3"
    images = [
        Image(
            image_id=f"img-{n}",
            user_id="alice",
            name=f"img-{n}.png",
            filename="a.png",
            content_type="image/png",
            format="PNG",
            width=1,
            height=1,
            size=1,
            checksum_sha256="ab" * 32,
            blob_key=f"alice/img-{n}",
            created_at=NOW + timedelta(milliseconds=n // 2),
            updated_at=NOW,
            title=title,
            description="Près de la mer",
        )
        for n, title in enumerate(["Sunset", "Café", "sunny day", "Night"])
    ]
    with sqlite3.connect(path) as conn:
        conn.executescript(SCHEMA + "\nPRAGMA user_version = 2;")
        placeholders = ", ".join("?" * len(COLUMNS))
        conn.executemany(
            f"INSERT INTO images ({', '.join(COLUMNS)}) VALUES ({placeholders})",
            [image_row(i) for i in images],
        )
    conn.close()

    def found(text: str) -> list[str]:
        query = ImageQuery(text=(search("q", text, BOTH_FIELDS),))
        return [i.image_id for i in SqliteImageCatalog(db).find(query, 10).images]

    db = open_database(path)
    try:
        assert found("sun") == ["img-2", "img-0"]
        assert found("cafe") == ["img-1"]
        assert found("pres mer") == ["img-3", "img-2", "img-1", "img-0"]
    finally:
        db.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
        docids = conn.execute("SELECT docid FROM images ORDER BY created_at, image_id").fetchall()
    conn.close()
    assert [d for (d,) in docids] == sorted(d for (d,) in docids)
    # A second open indexes nothing again: one text entry per image.
    db = open_database(path)
    try:
        assert found("night") == ["img-3"]
        with db.read() as conn:
            assert conn.execute("SELECT count(*) FROM image_text").fetchone() == (4,)
    finally:
        db.close()
