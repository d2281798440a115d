"""One list page from SQLite: which index drives, the keyset bounds, the "public or mine" union.

Every list filter is a range of an index ending in ``(created_at, image_id)`` (``sqlite_schema``),
read newest first from the keyset. A combined filter drives from the facet with the fewest rows
(``facet_counts``), forced with ``INDEXED BY`` so the plan cannot silently become a table scan;
the other filters are checked per row.

Text search (``q``, ``title=``, ``description=``; ``sqlite_search``) either drives, reading the
FTS5 index newest first by docid, when it matches fewer images than any facet, or is a per-row
probe while a facet's index drives (the row's stored words checked first, then the FTS5 index
by ``rowid = docid``): a rare word reads only its matches, and a common word with a rare user
reads only that user's images. A text query's arms are read one by one and merged here, since
an FTS-driven arm is ordered by docid, which SQLite cannot know is the list order.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta
from typing import Any

from image_service.adapters.sqlite_db import SqliteDatabase
from image_service.adapters.sqlite_rows import SELECT_COLUMNS, TAG_SELECT_COLUMNS
from image_service.adapters.sqlite_schema import COLUMNS
from image_service.adapters.sqlite_search import (
    DOCID_BITS,
    docid_floor,
    estimate,
    match_expression,
    probe_expression,
    words_check,
)
from image_service.domain.models import ImageQuery, Keyset, format_time, parse_time

CREATED_AT = COLUMNS.index("created_at")
IMAGE_ID = COLUMNS.index("image_id")
Statement = tuple[str, list[Any]]

# Column indexes that drive a list query, by facet, with the alias that holds its keyset.
DRIVERS = {
    "user_id": "images_by_user",
    "category": "images_by_category",
    "visibility": "images_by_visibility",
}


class SqliteListPlanner:
    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    def statements(self, query: ImageQuery, limit: int, after: Keyset | None) -> list[Statement]:
        """The SQL a page of ``query`` runs (one statement, or one per arm of a text query)."""
        if not query.text:
            return [self.sql(query, limit, after)]
        with self._db.read() as conn:
            return [self._text_arm(conn, arm, limit, after)[0] for arm in query.arms()]

    def text_rows(self, query: ImageQuery, limit: int, after: Keyset | None) -> list[Sequence[Any]]:
        """Up to ``limit`` rows of a text query, newest first: each arm read, the last
        millisecond of an FTS-driven arm completed (docids order a millisecond by insertion,
        not by image id), the arms merged.

        Once ``limit`` rows are found, an older row cannot be on the page, so the next arm is
        read only from the millisecond of the ``limit``-th row on, as the no-text UNION ALL's
        lazy merge stops its arms: else "public or mine" read 21 matches of the user's private
        images however far back they lie (~2,000 rows of the busiest user for a common word)."""
        rows: list[Sequence[Any]] = []
        with self._db.read() as conn, _snapshot(conn):
            for arm in query.arms():
                if len(rows) >= limit:
                    rows.sort(key=lambda r: (r[CREATED_AT], r[IMAGE_ID]), reverse=True)
                    floor = parse_time(rows[limit - 1][CREATED_AT])
                    if arm.created_after is None or arm.created_after < floor:
                        arm = replace(arm, created_after=floor)
                (sql, params), by_docid, match = self._text_arm(conn, arm, limit, after)
                found = conn.execute(sql, params).fetchall()
                if by_docid and len(found) == limit:
                    last = found[-1][-1]
                    sql, params = self._text_sql(
                        arm, match, None, after, fts=True, docids=(last >> DOCID_BITS << DOCID_BITS, last)
                    )
                    found += conn.execute(sql, params).fetchall()
                rows += found
        # Completing a millisecond reads rows the first statement may have returned already.
        unique = {r[IMAGE_ID]: r for r in rows}.values()
        ordered = sorted(unique, key=lambda r: (r[CREATED_AT], r[IMAGE_ID]), reverse=True)
        return [r[: len(COLUMNS)] for r in ordered[:limit]]

    def _text_arm(
        self, conn: sqlite3.Connection, query: ImageQuery, limit: int, after: Keyset | None
    ) -> tuple[Statement, bool, str]:
        """The statement for one arm with text, whether the text index drives it, its MATCH."""
        candidates: list[tuple[str, str]] = [("tag", t) for t in query.tags]
        candidates += [(f, str(getattr(query, f))) for f in DRIVERS if getattr(query, f) is not None]
        fts = True
        if candidates:
            counts = self._counts(candidates, conn)
            fts = estimate(conn, query.text) <= min(counts.get(c, 0) for c in candidates)
        match = match_expression(conn, query.text)
        return self._text_sql(query, match, limit, after, fts=fts), fts, match

    def _text_sql(
        self,
        query: ImageQuery,
        match: str,
        limit: int | None,
        after: Keyset | None,
        *,
        fts: bool,
        docids: tuple[int, int] | None = None,
    ) -> Statement:
        """``fts``: read the text index newest first (rowid DESC), checking the other filters per
        row; else the usual index-driven arm with the text as a probe. ``docids``: only rows in
        [low, high), unlimited (completing a millisecond)."""
        if not fts:
            # The stored words first (one row read by rowid, a few microseconds), the MATCH only
            # for the rows that pass it: a MATCH probe seeks a doclist per word (~20 us each),
            # and a common word with a busy user reads hundreds of candidates.
            check, check_params = words_check(query.text)
            probe = (
                f"EXISTS (SELECT 1 FROM image_text_content c WHERE c.id = i.docid AND {check}) "
                "AND EXISTS (SELECT 1 FROM image_text x WHERE x.image_text MATCH ? AND x.rowid = i.docid)"
            )
            return self._arm(query, limit, after, also=(probe, [*check_params, probe_expression(query.text)]))
        where = ["f.image_text MATCH ?"]
        params: list[Any] = [match]
        for facet in ("user_id", "category", "visibility"):
            value = getattr(query, facet)
            if value is not None:
                where.append(f"i.{facet} = ?")
                params.append(str(value))
        for tag in query.tags:
            where.append(
                "EXISTS (SELECT 1 FROM image_tags x INDEXED BY image_tags_by_tag "
                "WHERE x.tag = ? AND x.created_at = i.created_at AND x.image_id = i.image_id)"
            )
            params.append(tag)
        # The docid range holds every row the time bounds allow (and a few of the same
        # millisecond that the exact bounds on the row then drop).
        low, high = None, None
        if query.created_after is not None:
            low = docid_floor(query.created_after)
            where.append("i.created_at >= ?")
            params.append(format_time(query.created_after))
        if query.created_before is not None:
            high = docid_floor(query.created_before + timedelta(milliseconds=1))
            where.append("i.created_at < ?")
            params.append(format_time(query.created_before))
        if after is not None:
            bound = docid_floor(after.created_at + timedelta(milliseconds=1))
            high = bound if high is None else min(high, bound)
            where.append("(i.created_at, i.image_id) < (?, ?)")
            params.extend([format_time(after.created_at), after.image_id])
        if docids is not None:
            low = docids[0] if low is None else max(low, docids[0])
            high = docids[1] if high is None else min(high, docids[1])
        if low is not None:
            where.append("f.rowid >= ?")
            params.append(low)
        if high is not None:
            where.append("f.rowid < ?")
            params.append(high)
        sql = (
            f"SELECT {SELECT_COLUMNS}, i.docid FROM image_text f "
            f"CROSS JOIN images i INDEXED BY images_by_docid ON i.docid = f.rowid "
            f"WHERE {' AND '.join(where)} ORDER BY f.rowid DESC"
        )
        return (f"{sql} LIMIT ?", [*params, limit]) if limit is not None else (sql, params)

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

    def _arm(
        self,
        query: ImageQuery,
        limit: int | None,
        after: Keyset | None,
        also: tuple[str, list[Any]] | None = None,
    ) -> tuple[str, list[Any]]:
        """One index range: ``query`` has no ``visible_to`` (an arm of ``ImageQuery.arms``).
        ``also``: one more per-row condition on ``i`` and its parameters (the text probe)."""
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
        if also is not None:
            where.append(also[0])
            params.extend(also[1])
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

    def _counts(
        self, pairs: Sequence[tuple[str, str]], conn: sqlite3.Connection | None = None
    ) -> dict[tuple[str, str], int]:
        if conn is None:
            with self._db.read() as conn:
                return self._counts(pairs, conn)
        placeholders = " OR ".join("(facet = ? AND value = ?)" for _ in pairs)
        rows = conn.execute(
            f"SELECT facet, value, n FROM facet_counts WHERE {placeholders}",
            [v for pair in pairs for v in pair],
        ).fetchall()
        return {(f, v): n for f, v, n in rows}


@contextmanager
def _snapshot(conn: sqlite3.Connection) -> Iterator[None]:
    """One read transaction around a text query's statements: all of them see the same
    committed state (in WAL mode, the snapshot of the first read), so an edit committed between
    two arms can neither show an image twice nor hide it."""
    conn.execute("BEGIN")
    try:
        yield
    finally:
        conn.execute("COMMIT")
