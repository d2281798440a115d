"""The embedded backend's schema: one row per image, one per (image, tag), counters per facet;
API keys, idempotency records and pending uploads beside them in the same file.

Every list filter is answered from an index whose last two columns are (created_at, image_id),
so "newest first after this keyset" is a range read of that index: no OFFSET, no sort step.
``facet_counts`` (kept by triggers) lets a combined filter drive from its rarest index.

Every statement is ``IF NOT EXISTS`` and runs at each open, so a database made by an older
version gains the tables added since (``user_version``: 1 the first schema, 2 with
``idempotency_keys``; ``pending_uploads`` was always created at open, so it needed no version);
nothing so far needed an existing table to change. ``open_database`` is the one way in.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from image_service.adapters.sqlite_db import SqliteDatabase
from image_service.adapters.sqlite_search import SEARCH_SCHEMA, index_all

log = logging.getLogger(__name__)

SCHEMA_VERSION = 3

SCHEMA = """
CREATE TABLE IF NOT EXISTS images (
    image_id         TEXT PRIMARY KEY,
    user_id          TEXT NOT NULL,
    name             TEXT NOT NULL UNIQUE,
    filename         TEXT NOT NULL,
    title            TEXT NOT NULL DEFAULT '',
    description      TEXT NOT NULL DEFAULT '',
    tags             TEXT NOT NULL DEFAULT '[]',
    category         TEXT,
    visibility       TEXT NOT NULL CHECK (visibility IN ('public', 'private')),
    content_type     TEXT NOT NULL,
    format           TEXT NOT NULL,
    width            INTEGER NOT NULL,
    height           INTEGER NOT NULL,
    size             INTEGER NOT NULL,
    checksum_sha256  TEXT NOT NULL,
    s3_key           TEXT NOT NULL,
    orientation      INTEGER,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    access_count     INTEGER NOT NULL DEFAULT 0,
    last_accessed_at TEXT
);
CREATE INDEX IF NOT EXISTS images_by_created    ON images (created_at, image_id);
CREATE INDEX IF NOT EXISTS images_by_user       ON images (user_id, created_at, image_id);
CREATE INDEX IF NOT EXISTS images_by_category   ON images (category, created_at, image_id);
CREATE INDEX IF NOT EXISTS images_by_visibility ON images (visibility, created_at, image_id);

CREATE TABLE IF NOT EXISTS image_tags (
    image_id   TEXT NOT NULL,
    tag        TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (image_id, tag)
);
CREATE INDEX IF NOT EXISTS image_tags_by_tag ON image_tags (tag, created_at, image_id);

CREATE TABLE IF NOT EXISTS facet_counts (
    facet TEXT NOT NULL,
    value TEXT NOT NULL,
    n     INTEGER NOT NULL,
    PRIMARY KEY (facet, value)
) WITHOUT ROWID;

CREATE TRIGGER IF NOT EXISTS image_tags_count_in AFTER INSERT ON image_tags BEGIN
    INSERT INTO facet_counts VALUES ('tag', NEW.tag, 1)
        ON CONFLICT (facet, value) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER IF NOT EXISTS image_tags_count_out AFTER DELETE ON image_tags BEGIN
    UPDATE facet_counts SET n = n - 1 WHERE facet = 'tag' AND value = OLD.tag;
END;
CREATE TRIGGER IF NOT EXISTS images_count_in AFTER INSERT ON images BEGIN
    INSERT INTO facet_counts VALUES ('user_id', NEW.user_id, 1)
        ON CONFLICT (facet, value) DO UPDATE SET n = n + 1;
    INSERT INTO facet_counts VALUES ('visibility', NEW.visibility, 1)
        ON CONFLICT (facet, value) DO UPDATE SET n = n + 1;
    INSERT INTO facet_counts SELECT 'category', NEW.category, 1 WHERE NEW.category IS NOT NULL
        ON CONFLICT (facet, value) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER IF NOT EXISTS images_count_out AFTER DELETE ON images BEGIN
    UPDATE facet_counts SET n = n - 1 WHERE facet = 'user_id' AND value = OLD.user_id;
    UPDATE facet_counts SET n = n - 1 WHERE facet = 'visibility' AND value = OLD.visibility;
    UPDATE facet_counts SET n = n - 1 WHERE facet = 'category' AND value = OLD.category;
END;
CREATE TRIGGER IF NOT EXISTS images_count_change AFTER UPDATE OF visibility, category ON images BEGIN
    UPDATE facet_counts SET n = n - 1 WHERE facet = 'visibility' AND value = OLD.visibility;
    INSERT INTO facet_counts VALUES ('visibility', NEW.visibility, 1)
        ON CONFLICT (facet, value) DO UPDATE SET n = n + 1;
    UPDATE facet_counts SET n = n - 1 WHERE facet = 'category' AND value = OLD.category;
    INSERT INTO facet_counts SELECT 'category', NEW.category, 1 WHERE NEW.category IS NOT NULL
        ON CONFLICT (facet, value) DO UPDATE SET n = n + 1;
END;

CREATE TABLE IF NOT EXISTS api_keys (
    key_id     TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL,
    key_hash   TEXT NOT NULL UNIQUE,
    is_admin   INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);

-- Idempotency-Key records (SqliteIdempotencyStore): image_ids and body are JSON; status and
-- body are NULL until the first attempt succeeded. Expired rows are deleted by later claims.
CREATE TABLE IF NOT EXISTS idempotency_keys (
    user_id     TEXT NOT NULL,
    key         TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    token       TEXT NOT NULL,
    image_ids   TEXT NOT NULL,
    lease_until TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    status      INTEGER,
    body        TEXT,
    PRIMARY KEY (user_id, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS idempotency_by_expiry ON idempotency_keys (expires_at);

-- Direct uploads between start and completion (SqlitePendingUploads).
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

COLUMNS = (
    "image_id", "user_id", "name", "filename", "title", "description", "tags", "category",
    "visibility", "content_type", "format", "width", "height", "size", "checksum_sha256",
    "s3_key", "orientation", "created_at", "updated_at", "access_count", "last_accessed_at",
)  # fmt: skip


def open_database(path: Path, *, busy_timeout_ms: int = 10_000) -> SqliteDatabase:
    """The database file at ``path`` with the current schema: what every SQLite adapter takes."""
    db = SqliteDatabase(path, busy_timeout_ms=busy_timeout_ms)
    db.script(SCHEMA)
    _migrate(db)
    return db


def _migrate(db: SqliteDatabase) -> None:
    """Bring a database of an older version to ``SCHEMA_VERSION`` (a new file is version 0).
    Every process opening an old file takes part (``index_all`` works in short batches) and
    returns once the file is at the current version."""
    with db.write() as conn:
        (version,) = conn.execute("PRAGMA user_version").fetchone()
        if version >= SCHEMA_VERSION:
            return
        if "docid" not in {row[1] for row in conn.execute("PRAGMA table_info(images)")}:
            conn.execute("ALTER TABLE images ADD COLUMN docid INTEGER")
        for statement in SEARCH_SCHEMA.split(";"):
            if statement.strip():
                conn.execute(statement)
    started = time.monotonic()
    indexed = index_all(db)
    with db.write() as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    if indexed:
        log.info(
            "catalog upgraded to schema version %d: %d images made searchable in %.1f s",
            SCHEMA_VERSION, indexed, time.monotonic() - started,
        )  # fmt: skip
