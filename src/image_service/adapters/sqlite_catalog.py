"""SqliteImageCatalog: the embedded backend's metadata, API keys and list indexes.

The connection pool, WAL and transactions live in ``sqlite_db``; the schema in ``sqlite_schema``.
Here: the rows, and the list query (which index drives, keyset bounds, the "public or mine"
union).
Metadata writes commit with ``synchronous=FULL`` (the blob was already fsynced, so the row must
survive a power cut too); access counts with ``durable=False`` (cheap enough for every GET).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from image_service.adapters.sqlite_db import SqliteDatabase
from image_service.adapters.sqlite_schema import COLUMNS, SCHEMA, SCHEMA_VERSION
from image_service.domain.errors import NotFound
from image_service.domain.models import (
    ApiKey,
    Image,
    ImageQuery,
    Keyset,
    Page,
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
ACCESS_COLUMNS = ("access_count", "last_accessed_at")
# Column indexes that drive a list query, by facet, with the alias that holds its keyset.
DRIVERS = {
    "user_id": "images_by_user",
    "category": "images_by_category",
    "visibility": "images_by_visibility",
}


class SqliteImageCatalog:
    def __init__(self, path: Path, *, busy_timeout_ms: int = 10_000) -> None:
        self.db = SqliteDatabase(path, busy_timeout_ms=busy_timeout_ms)
        self.path = self.db.path
        self.db.script(f"{SCHEMA}\nPRAGMA user_version = {SCHEMA_VERSION};")

    def close(self) -> None:
        self.db.close()

    # -- images --------------------------------------------------------------------------
    def add(self, image: Image) -> None:
        with self.db.write() as conn:
            conn.execute(
                f"INSERT INTO images ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
                _row(image),
            )
            _insert_tags(conn, image)

    def get(self, image_id: str) -> Image:
        return self._one("i.image_id = ?", image_id)

    def get_by_name(self, name: str) -> Image:
        return self._one("i.name = ?", name)

    def _one(self, where: str, value: str) -> Image:
        with self.db.read() as conn:
            row = conn.execute(f"SELECT {SELECT_COLUMNS} FROM images i WHERE {where}", (value,)).fetchone()
        if row is None:
            raise NotFound("image not found")
        return _image(row)

    def update(self, image: Image) -> None:
        # The access columns belong to record_access: writing back the counts of the image as it
        # was read would drop the accesses counted between that read and this write.
        columns = [c for c in COLUMNS[1:] if c not in ACCESS_COLUMNS]
        values = [v for c, v in zip(COLUMNS, _row(image), strict=True) if c in columns]
        with self.db.write() as conn:
            assignments = ", ".join(f"{c} = ?" for c in columns)
            cursor = conn.execute(
                f"UPDATE images SET {assignments} WHERE image_id = ?", (*values, image.image_id)
            )
            if cursor.rowcount == 0:
                raise NotFound("image not found")
            conn.execute("DELETE FROM image_tags WHERE image_id = ?", (image.image_id,))
            _insert_tags(conn, image)

    def remove(self, image_id: str) -> Image:
        with self.db.write() as conn:
            row = conn.execute(
                f"DELETE FROM images WHERE image_id = ? RETURNING {', '.join(COLUMNS)}", (image_id,)
            ).fetchone()
            if row is None:
                raise NotFound("image not found")
            conn.execute("DELETE FROM image_tags WHERE image_id = ?", (image_id,))
        return _image(row)

    def record_access(self, image_id: str, at: datetime) -> Image:
        with self.db.write(durable=False) as conn:
            row = conn.execute(
                "UPDATE images SET access_count = access_count + 1, last_accessed_at = ? "
                f"WHERE image_id = ? RETURNING {', '.join(COLUMNS)}",
                (format_time(at), image_id),
            ).fetchone()
        if row is None:
            raise NotFound("image not found")
        return _image(row)

    def ping(self) -> None:
        with self.db.read() as conn:
            conn.execute("SELECT 1 FROM images LIMIT 1").fetchall()

    def all_images(self) -> Iterator[Image]:
        """Every image, read in batches by rowid (fsck only)."""
        last = -1
        while True:
            # A connection per batch, given back before the rows are yielded: the consumer may
            # take its time, or stop early, and must not hold one of the pool's connections.
            with self.db.read() as conn:
                rows = conn.execute(
                    f"SELECT rowid, {SELECT_COLUMNS} FROM images i WHERE rowid > ? ORDER BY rowid LIMIT 500",
                    (last,),
                ).fetchall()
            if not rows:
                return
            for row in rows:
                yield _image(row[1:])
            last = rows[-1][0]

    # -- listing -------------------------------------------------------------------------
    def find(self, query: ImageQuery, limit: int, after: Keyset | None = None) -> Page:
        sql, params = self.list_sql(query, limit + 1, after)
        with self.db.read() as conn:
            rows = conn.execute(sql, params).fetchall()
        images = [_image(r) for r in rows[:limit]]
        more = len(rows) > limit
        return Page(images, Keyset(images[-1].created_at, images[-1].image_id) if more else None)

    def list_sql(self, query: ImageQuery, limit: int, after: Keyset | None) -> tuple[str, list[Any]]:
        """The SQL for one page; public so tests can EXPLAIN QUERY PLAN it."""
        if query.visible_to is None or query.user_id is not None or query.visibility is not None:
            # A user or visibility filter already picks one index range; visible_to, if set, is
            # then only a residual condition on it (the arms below would override those filters).
            return self._arm(query, limit, after)
        # "Public, or mine": two index ranges merged, each already newest first and limited.
        public = ImageQuery(**{**_fields(query), "visible_to": None, "visibility": Visibility.PUBLIC})
        private = ImageQuery(
            **{**_fields(query), "visible_to": None, "user_id": query.visible_to,
               "visibility": Visibility.PRIVATE}
        )  # fmt: skip
        sql_a, params_a = self._arm(public, None, after)
        sql_b, params_b = self._arm(private, None, after)
        # A compound SELECT whose arms are ordered by their own index: SQLite merges the two
        # ranges lazily (MERGE UNION ALL), so the LIMIT stops both scans, with no sort step.
        sql = f"{sql_a} UNION ALL {sql_b} ORDER BY created_at DESC, image_id DESC LIMIT ?"
        return sql, [*params_a, *params_b, limit]

    def _arm(self, query: ImageQuery, limit: int | None, after: Keyset | None) -> tuple[str, list[Any]]:
        where: list[str] = []
        params: list[Any] = []
        driver = self._driver(query)
        if driver == "tag":
            rare = self._rarest(query.tags)
            source = (
                "image_tags t INDEXED BY image_tags_by_tag CROSS JOIN images i ON i.image_id = t.image_id"
            )
            key = "t"
            where.append("t.tag = ?")
            params.append(rare)
            other_tags = [t for t in query.tags if t != rare]
        else:
            source = f"images i INDEXED BY {DRIVERS.get(driver, 'images_by_created')}"
            key = "i"
            other_tags = list(query.tags)
        for facet in ("user_id", "category", "visibility"):
            value = getattr(query, facet)
            if value is not None:
                where.append(f"i.{facet} = ?")
                params.append(str(value))
        if query.visible_to is not None:
            where.append("(i.visibility = ? OR i.user_id = ?)")
            params.extend([Visibility.PUBLIC.value, query.visible_to])
        for tag in other_tags:
            # Probe the tag index with the driving row's own keyset: when image_tags drives, the
            # check runs before the images row is fetched, so non-matching candidates cost one
            # covering-index lookup instead of a table row read.
            where.append(
                "EXISTS (SELECT 1 FROM image_tags x INDEXED BY image_tags_by_tag "
                f"WHERE x.tag = ? AND x.created_at = {key}.created_at AND x.image_id = {key}.image_id)"
            )
            params.append(tag)
        if query.created_after is not None:
            where.append(f"{key}.created_at >= ?")
            params.append(format_time(query.created_after))
        # Past the first page the keyset bound implies created_before; keeping only the row-value
        # bound lets it be the index range, so deep pages do not re-read the skipped rows.
        if query.created_before is not None and (after is None or after.created_at >= query.created_before):
            where.append(f"{key}.created_at < ?")
            params.append(format_time(query.created_before))
        if after is not None:
            where.append(f"({key}.created_at, {key}.image_id) < (?, ?)")
            params.extend([format_time(after.created_at), after.image_id])
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        columns = TAG_SELECT_COLUMNS if key == "t" else SELECT_COLUMNS
        sql = f"SELECT {columns} FROM {source} {clause}"
        if limit is None:
            return sql, params
        return f"{sql} ORDER BY {key}.created_at DESC, {key}.image_id DESC LIMIT ?", [*params, limit]

    def _driver(self, query: ImageQuery) -> str:
        """The facet whose index holds the fewest candidate rows (counts kept by triggers)."""
        candidates: list[tuple[str, str]] = [("tag", t) for t in query.tags]
        candidates += [(f, str(getattr(query, f))) for f in DRIVERS if getattr(query, f) is not None]
        if not candidates:
            return "created"
        if len(candidates) == 1:
            return candidates[0][0]
        counts = self._counts(candidates)
        return min(candidates, key=lambda c: counts.get(c, 0))[0]

    def _rarest(self, tags: Sequence[str]) -> str:
        if len(tags) == 1:
            return tags[0]
        counts = self._counts([("tag", t) for t in tags])
        return min(tags, key=lambda t: counts.get(("tag", t), 0))

    def _counts(self, pairs: Sequence[tuple[str, str]]) -> dict[tuple[str, str], int]:
        placeholders = " OR ".join("(facet = ? AND value = ?)" for _ in pairs)
        with self.db.read() as conn:
            rows = conn.execute(
                f"SELECT facet, value, n FROM facet_counts WHERE {placeholders}",
                [v for pair in pairs for v in pair],
            ).fetchall()
        return {(f, v): n for f, v, n in rows}

    # -- API keys ------------------------------------------------------------------------
    def add_key(self, key: ApiKey) -> None:
        with self.db.write() as conn:
            conn.execute(
                "INSERT INTO api_keys VALUES (?, ?, ?, ?, ?, ?)",
                (key.key_id, key.user_id, key.key_hash, int(key.is_admin), format_time(key.created_at), None),
            )

    def find_key(self, key_hash: str) -> ApiKey | None:
        with self.db.read() as conn:
            row = conn.execute(
                "SELECT * FROM api_keys WHERE key_hash = ? AND revoked_at IS NULL", (key_hash,)
            ).fetchone()
        return _key(row) if row else None

    def list_keys(self) -> list[ApiKey]:
        with self.db.read() as conn:
            rows = conn.execute("SELECT * FROM api_keys ORDER BY created_at, key_id").fetchall()
        return [_key(r) for r in rows]

    def revoke_key(self, key_id: str, at: datetime) -> None:
        with self.db.write() as conn:
            cursor = conn.execute(
                "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?) WHERE key_id = ?",
                (format_time(at), key_id),
            )
            if cursor.rowcount == 0:
                raise NotFound("no such key")


def _fields(query: ImageQuery) -> dict[str, Any]:
    return {f: getattr(query, f) for f in query.__slots__}


def _insert_tags(conn: sqlite3.Connection, image: Image) -> None:
    created = format_time(image.created_at)
    conn.executemany(
        "INSERT INTO image_tags (image_id, tag, created_at) VALUES (?, ?, ?)",
        [(image.image_id, tag, created) for tag in image.tags],
    )


def _row(image: Image) -> tuple[Any, ...]:
    return (
        image.image_id, image.user_id, image.name, image.filename, image.title, image.description,
        json.dumps(list(image.tags)), image.category, image.visibility.value, image.content_type,
        image.format, image.width, image.height, image.size, image.checksum_sha256, image.s3_key,
        image.orientation, format_time(image.created_at), format_time(image.updated_at),
        image.access_count, format_time(image.last_accessed_at) if image.last_accessed_at else None,
    )  # fmt: skip


def _image(row: Sequence[Any]) -> Image:
    v = dict(zip(COLUMNS, row, strict=True))
    return Image(
        image_id=v["image_id"], user_id=v["user_id"], name=v["name"], filename=v["filename"],
        title=v["title"], description=v["description"], tags=tuple(json.loads(v["tags"])),
        category=v["category"], visibility=Visibility(v["visibility"]), content_type=v["content_type"],
        format=v["format"], width=v["width"], height=v["height"], size=v["size"],
        checksum_sha256=v["checksum_sha256"], s3_key=v["s3_key"], orientation=v["orientation"],
        created_at=parse_time(v["created_at"]), updated_at=parse_time(v["updated_at"]),
        access_count=v["access_count"],
        last_accessed_at=parse_time(v["last_accessed_at"]) if v["last_accessed_at"] else None,
    )  # fmt: skip


def _key(row: Sequence[Any]) -> ApiKey:
    key_id, user_id, key_hash, is_admin, created_at, revoked_at = row
    return ApiKey(
        key_id=key_id, user_id=user_id, key_hash=key_hash, is_admin=bool(is_admin),
        created_at=parse_time(created_at), revoked_at=parse_time(revoked_at) if revoked_at else None,
    )  # fmt: skip
