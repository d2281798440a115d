"""One list page from SQLite: which index drives, the keyset bounds, the "public or mine" union.

Every list filter is a range of an index ending in ``(created_at, image_id)`` (``sqlite_schema``),
read newest first from the keyset. A combined filter drives from the facet with the fewest rows
(``facet_counts``), forced with ``INDEXED BY`` so the plan cannot silently become a table scan;
the other filters are checked per row.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from image_service.adapters.sqlite_db import SqliteDatabase
from image_service.adapters.sqlite_rows import SELECT_COLUMNS, TAG_SELECT_COLUMNS
from image_service.domain.models import ImageQuery, Keyset, format_time

# Column indexes that drive a list query, by facet, with the alias that holds its keyset.
DRIVERS = {
    "user_id": "images_by_user",
    "category": "images_by_category",
    "visibility": "images_by_visibility",
}


class SqliteListPlanner:
    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    def sql(self, query: ImageQuery, limit: int, after: Keyset | None) -> tuple[str, list[Any]]:
        """The SQL for up to ``limit`` rows of ``query`` after the keyset ``after``.

        What the caller may see is already in the query; its ``arms`` (one query, or "public,
        or mine" as two) say which index ranges to read. ``find`` answers a query that can match
        nothing (``canonical`` is None) without SQL.
        """
        arms = query.arms()
        if not arms:
            raise ValueError("the query matches nothing; there is no SQL for it")
        if len(arms) == 1:
            return self._arm(arms[0], limit, after)
        # "Public, or mine": two index ranges merged, each already newest first and limited.
        public, private = arms
        sql_a, params_a = self._arm(public, None, after)
        sql_b, params_b = self._arm(private, None, after)
        # A compound SELECT whose arms are ordered by their own index: SQLite merges the two
        # ranges lazily (MERGE UNION ALL), so the LIMIT stops both scans, with no sort step.
        sql = f"{sql_a} UNION ALL {sql_b} ORDER BY created_at DESC, image_id DESC LIMIT ?"
        return sql, [*params_a, *params_b, limit]

    def _arm(self, query: ImageQuery, limit: int | None, after: Keyset | None) -> tuple[str, list[Any]]:
        """One index range: ``query`` has no ``visible_to`` (an arm of ``ImageQuery.arms``)."""
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
        with self._db.read() as conn:
            rows = conn.execute(
                f"SELECT facet, value, n FROM facet_counts WHERE {placeholders}",
                [v for pair in pairs for v in pair],
            ).fetchall()
        return {(f, v): n for f, v, n in rows}
