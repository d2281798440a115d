"""SqliteImageCatalog: the embedded backend's image metadata.

The connection pool, WAL and transactions live in ``sqlite_db``; the schema in ``sqlite_schema``;
the list query (which index drives, keyset bounds, "public or mine") in ``sqlite_listing``; the
rows in ``sqlite_rows``. Metadata writes commit with ``synchronous=FULL`` (the blob was already
fsynced, so the row must survive a power cut too); access counts with ``durable=False`` (cheap
enough for every GET, and grouped into one commit per batch by ``record_accesses``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from image_service.adapters.sqlite_db import SqliteDatabase
from image_service.adapters.sqlite_listing import SqliteListPlanner
from image_service.adapters.sqlite_rows import SELECT_COLUMNS, image_from_row, image_row
from image_service.adapters.sqlite_schema import COLUMNS
from image_service.adapters.sqlite_search import index_image, reindex_text, unindex_image
from image_service.domain.errors import NotFound
from image_service.domain.models import Image, ImageQuery, Keyset, Page, format_time
from image_service.ports import Accesses

ACCESS_COLUMNS = ("access_count", "last_accessed_at")
# The reads of every GET, made once: the same text each time is what finds sqlite3's cached
# prepared statement without building the string first.
BY_ID = f"SELECT {SELECT_COLUMNS} FROM images i WHERE i.image_id = ?"
BY_NAME = f"SELECT {SELECT_COLUMNS} FROM images i WHERE i.name = ?"


class SqliteImageCatalog:
    def __init__(self, db: SqliteDatabase) -> None:
        """``db``: from ``sqlite_schema.open_database``, shared with the other SQLite adapters."""
        self._db = db
        self._planner = SqliteListPlanner(db)

    # -- images --------------------------------------------------------------------------
    def add(self, image: Image) -> None:
        with self._db.write() as conn:
            conn.execute(
                f"INSERT INTO images ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
                image_row(image),
            )
            _insert_tags(conn, image)
            index_image(conn, image)

    def get(self, image_id: str) -> Image:
        return self._one(BY_ID, image_id)

    def get_by_name(self, name: str) -> Image:
        return self._one(BY_NAME, name)

    def _one(self, sql: str, value: str) -> Image:
        with self._db.read() as conn:
            row = conn.execute(sql, (value,)).fetchone()
        if row is None:
            raise NotFound("image not found")
        return image_from_row(row)

    def update(self, image: Image) -> None:
        # The access columns belong to record_access: writing back the counts of the image as it
        # was read would drop the accesses counted between that read and this write.
        columns = [c for c in COLUMNS[1:] if c not in ACCESS_COLUMNS]
        values = [v for c, v in zip(COLUMNS, image_row(image), strict=True) if c in columns]
        with self._db.write() as conn:
            old = conn.execute(
                "SELECT title, description FROM images WHERE image_id = ?", (image.image_id,)
            ).fetchone()
            if old is None:
                raise NotFound("image not found")
            assignments = ", ".join(f"{c} = ?" for c in columns)
            conn.execute(f"UPDATE images SET {assignments} WHERE image_id = ?", (*values, image.image_id))
            conn.execute("DELETE FROM image_tags WHERE image_id = ?", (image.image_id,))
            _insert_tags(conn, image)
            reindex_text(conn, image, *old)

    def remove(self, image_id: str) -> Image:
        with self._db.write() as conn:
            unindex_image(conn, image_id)
            row = conn.execute(
                f"DELETE FROM images WHERE image_id = ? RETURNING {', '.join(COLUMNS)}", (image_id,)
            ).fetchone()
            if row is None:
                raise NotFound("image not found")
            conn.execute("DELETE FROM image_tags WHERE image_id = ?", (image_id,))
        return image_from_row(row)

    def record_access(self, image_id: str, at: datetime) -> Image:
        with self._db.write(durable=False) as conn:
            row = conn.execute(
                "UPDATE images SET access_count = access_count + 1, last_accessed_at = ? "
                f"WHERE image_id = ? RETURNING {', '.join(COLUMNS)}",
                (format_time(at), image_id),
            ).fetchone()
        if row is None:
            raise NotFound("image not found")
        return image_from_row(row)

    def record_accesses(self, accesses: Accesses) -> dict[str, tuple[int, datetime]]:
        # One transaction, one commit for the whole batch: what makes grouped counts cheap. Times
        # are fixed-width UTC strings, so max() on them is max() on the times; an image deleted
        # since its accesses were counted matches no row.
        with self._db.write(durable=False) as conn:
            conn.executemany(
                "UPDATE images SET access_count = access_count + ?, "
                "last_accessed_at = max(coalesce(last_accessed_at, ''), ?) WHERE image_id = ?",
                [(count, format_time(at), image_id) for image_id, (count, at) in accesses.items()],
            )
        return {}

    def ping(self) -> None:
        with self._db.read() as conn:
            conn.execute("SELECT 1 FROM images LIMIT 1").fetchall()

    def all_images(self) -> Iterator[Image]:
        """Every image, read in batches by rowid (fsck only)."""
        last = -1
        while True:
            # A connection per batch, given back before the rows are yielded: the consumer may
            # take its time, or stop early, and must not hold one of the pool's connections.
            with self._db.read() as conn:
                rows = conn.execute(
                    f"SELECT rowid, {SELECT_COLUMNS} FROM images i WHERE rowid > ? ORDER BY rowid LIMIT 500",
                    (last,),
                ).fetchall()
            if not rows:
                return
            for row in rows:
                yield image_from_row(row[1:])
            last = rows[-1][0]

    # -- listing -------------------------------------------------------------------------
    def find(self, query: ImageQuery, limit: int, after: Keyset | None = None) -> Page:
        if query.canonical() is None:
            return Page()
        if query.text:
            rows = self._planner.text_rows(query, limit + 1, after)
        else:
            sql, params = self.list_sql(query, limit + 1, after)
            with self._db.read() as conn:
                rows = conn.execute(sql, params).fetchall()
        images = [image_from_row(r) for r in rows[:limit]]
        more = len(rows) > limit
        return Page(images, Keyset(images[-1].created_at, images[-1].image_id) if more else None)

    def list_sql(self, query: ImageQuery, limit: int, after: Keyset | None) -> tuple[str, list[Any]]:
        """The SQL for one page of a query without text (``sqlite_listing``); public so tests can
        EXPLAIN QUERY PLAN it."""
        return self._planner.sql(query, limit, after)

    def list_statements(
        self, query: ImageQuery, limit: int, after: Keyset | None
    ) -> list[tuple[str, list[Any]]]:
        """Every statement one page of any query runs first (one per arm of a text query)."""
        return self._planner.statements(query, limit, after)


def _insert_tags(conn: sqlite3.Connection, image: Image) -> None:
    created = format_time(image.created_at)
    conn.executemany(
        "INSERT INTO image_tags (image_id, tag, created_at) VALUES (?, ?, ?)",
        [(image.image_id, tag, created) for tag in image.tags],
    )
