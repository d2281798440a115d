"""Build (once) and cache a SqliteImageCatalog file holding N synthetic images.

The rows have the shape SqliteImageCatalog.add writes (same columns, same JSON tags, same time
format, uuid4 ids, default names ``<image_id>.jpg``), with skewed, repeatable distributions:

- 10,000 users, Zipf-like (exponent 0.8): the busiest user owns ~4% of all images, the median one ~0.004%;
- 1,000 tags, Zipf (exponent 1.0), 3 distinct tags per image: the top tag is on ~35% of images,
  the last on ~0.04%;
- 50 categories, mildly skewed (exponent 0.5); 15% of images have no category;
- 10% private; ``created_at`` uniform over two years at millisecond precision;
- titles of 3-8 words and descriptions of 0-60 words (a quarter empty, a sixth of 30-60 words)
  drawn from a Zipf vocabulary (exponent 1.0) of 30,000 made-up words, 3% of them accented
  (``moréla``): the top word is in most images, the last ones in about a hundred. Words are
  separated by spaces, the title's first word capitalised, some followed by a comma or a period,
  so a word always starts after a space (``bench_search``'s LIKE reference relies on it).

Rows are inserted in ``created_at`` order, as a real catalog fills up over time (so table rowids
follow time, like in production). For speed the secondary indexes and the facet-count triggers
are dropped during the bulk insert and recreated afterwards from the project's own SCHEMA, and
``facet_counts`` is filled with GROUP BY counts: the same numbers the triggers would have kept.
The text is indexed by the project's own migration: the rows go in as a schema-2 file (no
``docid``, no FTS table), then ``open_database`` runs the upgrade to schema 3 (``sqlite_search.
index_all``), timed, so the build also measures "migration at start-up" for this size.
The file is written under a temporary name and renamed when complete, keyed by size, generator
version and a hash of the schema and of the migration's ``index_all``, so reruns reuse it and a
change of either rebuilds it.
"""

from __future__ import annotations

import bisect
import hashlib
import inspect
import itertools
import json
import random
import shutil
import sqlite3
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.common import RESULTS_DIR
from image_service.adapters.sqlite_schema import COLUMNS, SCHEMA, SCHEMA_VERSION, open_database
from image_service.adapters.sqlite_search import SEARCH_SCHEMA, index_all
from image_service.domain.models import format_time

GENERATOR_VERSION = 2
SEED = 20261121
N_USERS = 10_000
N_TAGS = 1_000
N_CATEGORIES = 50
TAGS_PER_IMAGE = 3
PRIVATE_SHARE = 0.10
NO_CATEGORY_SHARE = 0.15
USER_EXPONENT = 0.8
TAG_EXPONENT = 1.0
CATEGORY_EXPONENT = 0.5
N_WORDS = 30_000
WORD_EXPONENT = 1.0
ACCENTED_SHARE = 0.03
TITLE_WORDS = (3, 8)
PRE_MIGRATION_VERSION = 2  # the rows go in as a file of the schema before text search
START = datetime(2024, 11, 1, tzinfo=UTC)
SPAN = timedelta(days=730)
CHUNK = 20_000


def user(rank: int) -> str:
    """The user with this popularity rank (1 = owns the most images)."""
    return f"user{rank:05d}"


def tag(rank: int) -> str:
    return f"tag{rank:04d}"


def category(rank: int) -> str:
    return f"category{rank:02d}"


_ONSETS = ["b", "c", "d", "f", "g", "l", "m", "n", "p", "r", "s", "t", "v", "z", "br", "ch", "gr", "st", "tr"]
_VOWELS = ["a", "e", "i", "o", "u", "ai", "ou"]
_CODAS = ["", "", "", "n", "r", "s", "l", "m", "t"]
_ACCENTS = {"a": "á", "e": "é", "i": "í", "o": "ö", "u": "ü"}


def vocabulary() -> list[str]:
    """The ``N_WORDS`` words by popularity rank (index 0 = rank 1), as written in the text: made-up,
    1 to 4 syllables (popular words shorter, like real ones), distinct once normalised
    (``domain.text.words``); ``ACCENTED_SHARE`` of them carry an accent after their first letter."""
    rng = random.Random(SEED + 1)
    seen: set[str] = set()
    found: list[str] = []
    while len(found) < N_WORDS:
        syllables = 1 + min(3, int(len(found) ** 0.25 * rng.random() * 1.2))
        word = "".join(
            rng.choice(_ONSETS) + rng.choice(_VOWELS) + rng.choice(_CODAS) for _ in range(syllables)
        )
        if len(word) < 3 or word in seen:
            continue
        seen.add(word)
        if rng.random() < ACCENTED_SHARE:
            spots = [i for i, c in enumerate(word) if i > 0 and c in _ACCENTS]
            if spots:
                spot = rng.choice(spots)
                word = word[:spot] + _ACCENTS[word[spot]] + word[spot + 1 :]
        found.append(word)
    return found


@dataclass(frozen=True)
class BuiltCatalog:
    path: Path
    size: int
    build_seconds: float | None  # None when a cached file was reused
    file_bytes: int
    migration_seconds: float | None = None  # the schema-3 upgrade (text indexing); None if reused


def cache_dir(size: int) -> Path:
    # The text index is made by the migration, so its code is part of what the file is.
    schema = f"{SCHEMA_VERSION}\n{SCHEMA}\n{SEARCH_SCHEMA}\n{inspect.getsource(index_all)}"
    key = hashlib.sha256(f"{GENERATOR_VERSION}\n{schema}".encode()).hexdigest()[:10]
    return RESULTS_DIR / f"listdb-{size}-{key}"


def ensure_catalog(size: int, *, rebuild: bool = False, log: Any = print) -> BuiltCatalog:
    """The cached catalog for ``size`` images, building it first if needed. Returns its data dir."""
    final = cache_dir(size)
    db = final / "catalog.sqlite3"
    if db.exists() and not rebuild:
        return BuiltCatalog(final, size, None, _file_bytes(final))
    for stale in RESULTS_DIR.glob(f"listdb-{size}-*"):
        shutil.rmtree(stale, ignore_errors=True)
    building = final.with_name(final.name + ".building")
    shutil.rmtree(building, ignore_errors=True)
    building.mkdir(parents=True)
    started = time.perf_counter()
    log(f"  building a catalog of {size:,} images in {building} ...")
    migration = _build(building / "catalog.sqlite3", size, log)
    building.rename(final)
    seconds = time.perf_counter() - started
    log(f"  built in {seconds:.0f}s ({_file_bytes(final) / 2**20:,.0f} MiB)")
    return BuiltCatalog(final, size, seconds, _file_bytes(final), migration)


def _file_bytes(directory: Path) -> int:
    return sum(p.stat().st_size for p in directory.glob("catalog.sqlite3*"))


def _zipf_cumulative(n: int, exponent: float) -> list[float]:
    return list(itertools.accumulate(1 / (rank**exponent) for rank in range(1, n + 1)))


def _build(path: Path, size: int, log: Any) -> float:
    """Build the file; returns the seconds the schema-3 migration (text indexing) took."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = OFF")
        conn.execute("PRAGMA synchronous = OFF")
        conn.execute("PRAGMA cache_size = -1048576")  # 1 GiB while building
        conn.execute("PRAGMA temp_store = MEMORY")
        conn.executescript(SCHEMA)
        # Secondary indexes and triggers come back from SCHEMA (IF NOT EXISTS) after the insert;
        # automatic indexes (PRIMARY KEY, UNIQUE) have no SQL and stay.
        for kind, name in conn.execute(
            "SELECT type, name FROM sqlite_master WHERE type IN ('index', 'trigger') AND sql IS NOT NULL"
        ).fetchall():
            conn.execute(f'DROP {kind.upper()} "{name}"')
        conn.execute("BEGIN")
        columns = ", ".join(COLUMNS)
        insert_image = f"INSERT INTO images ({columns}) VALUES ({', '.join('?' * len(COLUMNS))})"
        insert_tag = "INSERT INTO image_tags (image_id, tag, created_at) VALUES (?, ?, ?)"
        done = 0
        for images, tags in _rows(size):
            conn.executemany(insert_image, images)
            conn.executemany(insert_tag, tags)
            done += len(images)
            if done % 200_000 == 0:
                log(f"    {done:,} rows")
        for facet in ("user_id", "visibility", "category"):
            conn.execute(
                f"INSERT INTO facet_counts SELECT '{facet}', {facet}, count(*) FROM images "
                f"WHERE {facet} IS NOT NULL GROUP BY {facet}"
            )
        conn.execute("INSERT INTO facet_counts SELECT 'tag', tag, count(*) FROM image_tags GROUP BY tag")
        conn.execute("COMMIT")
        log("    rows in; creating indexes and triggers from SCHEMA")
        conn.executescript(SCHEMA)
        conn.execute(f"PRAGMA user_version = {PRE_MIGRATION_VERSION}")
        _check(conn, size)
        conn.execute("PRAGMA journal_mode = WAL")
    finally:
        conn.close()
    log(f"    opening it with open_database: the schema {SCHEMA_VERSION} migration indexes the text")
    started, cpu = time.perf_counter(), time.process_time()
    db = open_database(path)
    migration = time.perf_counter() - started
    db.close()
    log(
        f"    migration (index_all of {size:,} images) took {migration:.1f}s "
        f"({time.process_time() - cpu:.1f}s CPU)"
    )
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        _check_text(conn, size)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    return migration


def _check(conn: sqlite3.Connection, size: int) -> None:
    (images,) = conn.execute("SELECT count(*) FROM images").fetchone()
    (tag_rows,) = conn.execute("SELECT count(*) FROM image_tags").fetchone()
    counted = dict(conn.execute("SELECT facet, sum(n) FROM facet_counts GROUP BY facet").fetchall())
    if images != size or tag_rows != size * TAGS_PER_IMAGE:
        raise RuntimeError(f"built {images} images / {tag_rows} tag rows, expected {size}")
    if counted.get("tag") != tag_rows or counted.get("user_id") != size or counted.get("visibility") != size:
        raise RuntimeError(f"facet_counts inconsistent: {counted}")


def _check_text(conn: sqlite3.Connection, size: int) -> None:
    (version,) = conn.execute("PRAGMA user_version").fetchone()
    (unindexed,) = conn.execute("SELECT count(*) FROM images WHERE docid IS NULL").fetchone()
    (entries,) = conn.execute("SELECT count(*) FROM image_text").fetchone()
    (words,) = conn.execute("SELECT count(*) FROM facet_counts WHERE facet = 'word'").fetchone()
    if version != SCHEMA_VERSION or unindexed or entries != size or not words:
        raise RuntimeError(
            f"migration incomplete: version {version}, {unindexed} images without docid, "
            f"{entries} text entries, {words} word counts"
        )


def _rows(size: int) -> Iterator[tuple[list[tuple[Any, ...]], list[tuple[str, str, str]]]]:
    rng = random.Random(SEED)
    span_ms = int(SPAN.total_seconds() * 1000)
    offsets = sorted(rng.randrange(span_ms) for _ in range(size))
    user_cum = _zipf_cumulative(N_USERS, USER_EXPONENT)
    tag_cum = _zipf_cumulative(N_TAGS, TAG_EXPONENT)
    category_cum = _zipf_cumulative(N_CATEGORIES, CATEGORY_EXPONENT)
    sizes = [(4032, 3024), (3024, 4032), (1920, 1080), (1080, 1080), (2048, 1536), (800, 600)]
    formats = [("JPEG", "image/jpeg", "jpg")] * 16 + [("PNG", "image/png", "png")] * 3
    formats += [("WEBP", "image/webp", "webp")]
    vocab = vocabulary()
    word_cum = _zipf_cumulative(N_WORDS, WORD_EXPONENT)

    def pick(cumulative: list[float]) -> int:
        return bisect.bisect_left(cumulative, rng.random() * cumulative[-1]) + 1

    def text(count: int) -> str:
        chosen = rng.choices(vocab, cum_weights=word_cum, k=count)
        for i in range(len(chosen) - 1):
            mark = rng.random()
            if mark < 0.05:
                chosen[i] += ","
            elif mark < 0.07:
                chosen[i] += "."
        return " ".join(chosen)

    def description_words() -> int:
        kind = rng.random()
        if kind < 0.25:
            return 0
        if kind < 0.83:
            return rng.randint(1, 29)
        return rng.randint(30, 60)

    for start in range(0, size, CHUNK):
        images: list[tuple[Any, ...]] = []
        tag_rows: list[tuple[str, str, str]] = []
        for number in range(start, min(start + CHUNK, size)):
            image_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            owner = user(pick(user_cum))
            chosen: list[str] = []
            while len(chosen) < TAGS_PER_IMAGE:
                candidate = tag(pick(tag_cum))
                if candidate not in chosen:
                    chosen.append(candidate)
            created = format_time(START + timedelta(milliseconds=offsets[number]))
            fmt, content_type, extension = formats[number % len(formats)]
            width, height = sizes[rng.randrange(len(sizes))]
            values = {
                "image_id": image_id,
                "user_id": owner,
                "name": f"{image_id}.{extension}",
                "filename": f"IMG_{number % 10000:04d}.{extension.upper()}",
                "title": text(rng.randint(*TITLE_WORDS)).capitalize(),
                "description": text(description_words()),
                "tags": json.dumps(chosen),
                "category": None if rng.random() < NO_CATEGORY_SHARE else category(pick(category_cum)),
                "visibility": "private" if rng.random() < PRIVATE_SHARE else "public",
                "content_type": content_type,
                "format": fmt,
                "width": width,
                "height": height,
                "size": rng.randrange(50_000, 8_000_000),
                "checksum_sha256": f"{rng.getrandbits(256):064x}",
                "s3_key": f"{owner}/{image_id}",
                "orientation": 1 if fmt == "JPEG" else None,
                "created_at": created,
                "updated_at": created,
                "access_count": 0,
                "last_accessed_at": None,
            }
            images.append(tuple(values[c] for c in COLUMNS))
            tag_rows.extend((image_id, t, created) for t in chosen)
        yield images, tag_rows
