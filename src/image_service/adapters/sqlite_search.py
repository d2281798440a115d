"""Text search on the embedded backend: the FTS5 index of titles and descriptions, kept in the
same transaction as the image rows, and the MATCH expressions that query it.

The index holds the words of ``domain.text`` (already case-folded, accents dropped), so FTS5's
tokenizer only splits on the spaces between them (every category but separators and controls is
a token character: SQLite's Unicode tables are older than Python's, and its default would split
a few letters Python keeps) and SQLite cannot disagree with the other backends about what a
word is. ``prefix='1 2 3'`` adds prefix indexes, so a last word of one to
three letters (search as you type) reads one doclist instead of merging thousands.

**Docids in list order.** A list is newest first, and FTS5 reads a MATCH fastest in its rowid
order. So an image's FTS rowid (``images.docid``) is its creation time in milliseconds shifted
left by ``DOCID_BITS``, plus a sequence within the millisecond: ``ORDER BY rowid DESC`` is
newest first, exact to the millisecond. Within one millisecond the sequence is insertion order,
not ``image_id`` order, so the list planner completes the last millisecond of a page and sorts
it (``sqlite_listing``): a handful of rows at most.

**Word counts** (``facet_counts`` rows ``('word', w)``, one per image whose title or description
holds ``w``) let the planner choose between driving from the text index and driving from a
facet index with the text as a per-row probe.

**Long prefixes are written as their words.** A prefix query longer than the prefix indexes
(``"sunse"*``) makes FTS5 merge the doclists of every word it starts into one in-memory list
before the first row, on every MATCH: for a common word on a million images that is the whole
of its doclist, 30-100 ms per query and per probe, though a page needs 21 rows. The same prefix
as an OR of the words it starts (from the word counts) is read lazily, newest first, and a probe
seeks each word's doclist: 0.1 ms for one common word, 1.3 ms for a stem of 244 words (against
21 ms). So ``match_expression`` ORs them when there are at most ``MAX_PREFIX_WORDS``; past that
the prefix query stays.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from image_service.adapters.sqlite_db import SqliteDatabase
from image_service.domain.models import Image, parse_time
from image_service.domain.text import BOTH_FIELDS, TextField, TextSearch, distinct_words, indexed_words

DOCID_BITS = 20  # a million images per millisecond
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
MAX_PREFIX_COUNT_ROWS = 500  # a prefix's estimate sums at most this many words' counts
UNBOUNDED = 1 << 62
PREFIX_INDEX_LENGTH = 3  # prefix = '1 2 3' below: longer prefixes have no index of their own
MAX_PREFIX_WORDS = 256  # a longer prefix starting at most this many words is ORed as those words

SEARCH_SCHEMA = """
CREATE VIRTUAL TABLE IF NOT EXISTS image_text USING fts5(
    title, description, prefix = '1 2 3',
    tokenize = "unicode61 remove_diacritics 0 categories 'L* M* N* P* S* Co'"
);
CREATE UNIQUE INDEX IF NOT EXISTS images_by_docid ON images (docid);
"""


def millis(at: datetime) -> int:
    return (at - _EPOCH) // _MS


def docid_floor(at: datetime) -> int:
    """The smallest docid of the millisecond ``at`` falls in."""
    return millis(at) << DOCID_BITS


def next_docid(conn: sqlite3.Connection, created_at: datetime) -> int:
    low = docid_floor(created_at)
    (top,) = conn.execute(
        "SELECT MAX(docid) FROM images WHERE docid >= ? AND docid < ?", (low, low + (1 << DOCID_BITS))
    ).fetchone()
    return low if top is None else int(top) + 1


def index_image(conn: sqlite3.Connection, image: Image) -> None:
    """Give a new images row its docid and text entry, and count its words."""
    docid = next_docid(conn, image.created_at)
    conn.execute("UPDATE images SET docid = ? WHERE image_id = ?", (docid, image.image_id))
    conn.execute(
        "INSERT INTO image_text (rowid, title, description) VALUES (?, ?, ?)",
        (docid, *_texts(image.title, image.description)),
    )
    _count(conn, _vocabulary(image.title, image.description), +1)


def reindex_text(conn: sqlite3.Connection, image: Image, old_title: str, old_description: str) -> None:
    """After an update: the text entry and word counts follow the new title and description."""
    if (old_title, old_description) == (image.title, image.description):
        return
    conn.execute(
        "UPDATE image_text SET title = ?, description = ? "
        "WHERE rowid = (SELECT docid FROM images WHERE image_id = ?)",
        (*_texts(image.title, image.description), image.image_id),
    )
    before = _vocabulary(old_title, old_description)
    after = _vocabulary(image.title, image.description)
    _count(conn, before - after, -1)
    _count(conn, after - before, +1)


def unindex_image(conn: sqlite3.Connection, image_id: str) -> None:
    """Before the images row is deleted: its text entry and word counts go."""
    row = conn.execute(
        "SELECT docid, title, description FROM images WHERE image_id = ?", (image_id,)
    ).fetchone()
    if row is None or row[0] is None:
        return
    conn.execute("DELETE FROM image_text WHERE rowid = ?", (row[0],))
    _count(conn, _vocabulary(row[1], row[2]), -1)


def index_all(db: SqliteDatabase, batch: int = 5000) -> int:
    """Index every image that has no docid yet (the migration of an older database), oldest
    first, one transaction per ``batch`` images, then merge the index into one segment; returns
    how many this call indexed.

    Batches keep the write lock short: another process opening the file meanwhile waits for one
    batch, not the whole migration (which may take minutes), and joins in, since each batch takes
    only images still without a docid and gives each the next docid of its millisecond. A
    migration cut short resumes where it stopped."""
    done, position = 0, ("", "")
    while True:
        with db.write() as conn:
            rows = conn.execute(
                "SELECT image_id, created_at, title, description FROM images INDEXED BY images_by_created "
                "WHERE docid IS NULL AND (created_at, image_id) > (?, ?) "
                "ORDER BY created_at, image_id LIMIT ?",
                (position[1], position[0], batch),
            ).fetchall()
            if not rows:
                if done:
                    # A bulk load leaves the index in a dozen segments, and every MATCH (each
                    # probe of a facet-driven page) looks its words up in each one: merged into
                    # one segment, a probe costs a fifth (~7 s more for a million images).
                    conn.execute("INSERT INTO image_text (image_text) VALUES ('optimize')")
                return done
            counts: Counter[str] = Counter()
            for image_id, created_at, title, description in rows:
                docid = next_docid(conn, parse_time(created_at))
                conn.execute("UPDATE images SET docid = ? WHERE image_id = ?", (docid, image_id))
                conn.execute(
                    "INSERT INTO image_text (rowid, title, description) VALUES (?, ?, ?)",
                    (docid, *_texts(title, description)),
                )
                counts.update(_vocabulary(title, description))
            conn.executemany(
                "INSERT INTO facet_counts VALUES ('word', ?, ?) "
                "ON CONFLICT (facet, value) DO UPDATE SET n = n + ?",
                [(w, n, n) for w, n in counts.items()],
            )
        done += len(rows)
        position = (rows[-1][0], rows[-1][1])


def match_expression(conn: sqlite3.Connection, searches: Iterable[TextSearch]) -> str:
    """The FTS5 MATCH of every search ANDed: whole words quoted, the last one as a prefix (a
    prefix longer than the prefix indexes as the OR of the words it starts, see the module).
    Words are letters and digits only (``domain.text``), so quoting them is all the escaping
    FTS5 syntax needs."""
    terms = []
    for search in searches:
        columns = _column_filter(search)
        terms += [f'{columns} : "{word}"' for word in search.exact]
        started = _prefix_words(conn, search.prefix)
        if started:
            alternatives = " OR ".join(f'"{word}"' for word in started)
            terms.append(f"{columns} : ({alternatives})")
        else:
            terms.append(f'{columns} : "{search.prefix}"*')
    return " AND ".join(terms)


def probe_expression(searches: Iterable[TextSearch]) -> str:
    """The MATCH a facet-driven row is probed with after ``words_check`` passed: the whole words,
    and the prefix cut to what a prefix index holds, so each term is one doclist seek (the full
    prefix's OR of words costs a seek per word: 11 ms a page for a stem of 48 words with a busy
    user). It holds for every row the words check lets through; that check makes it exact."""
    terms = []
    for search in searches:
        columns = _column_filter(search)
        terms += [f'{columns} : "{word}"' for word in search.exact]
        terms.append(f'{columns} : "{search.prefix[:PREFIX_INDEX_LENGTH]}"*')
    return " AND ".join(terms)


def _column_filter(search: TextSearch) -> str:
    return "{title description}" if search.fields == BOTH_FIELDS else f"{{{search.fields[0]}}}"


def _prefix_words(conn: sqlite3.Connection, prefix: str) -> list[str] | None:
    """The indexed words ``prefix`` starts, when it is longer than the prefix indexes and starts
    between 1 and ``MAX_PREFIX_WORDS`` of them; else None, for the prefix query (fast when it
    starts no word; ``MAX_PREFIX_WORDS`` bounds the expression's size, measured up to 244 words)."""
    if len(prefix) <= PREFIX_INDEX_LENGTH:
        return None
    found = [
        value
        for (value,) in conn.execute(
            "SELECT value FROM facet_counts WHERE facet = 'word' AND value >= ? AND value < ? AND n > 0 "
            "LIMIT ?",
            (prefix, prefix + "\U0010ffff", MAX_PREFIX_WORDS + 1),
        )
    ]
    return found if 0 < len(found) <= MAX_PREFIX_WORDS else None


def words_check(searches: Iterable[TextSearch]) -> tuple[str, list[str]]:
    """A condition on one row of ``image_text_content c`` (FTS5's stored copy of the words:
    ``c0`` the title's, ``c1`` the description's, each joined by single spaces) that holds
    exactly when ``TextSearch.matches``: ``' w '`` occurs for a whole word, ``' p'`` for the
    prefix. The facet-driven planner runs it before the MATCH probe (``probe_expression``): a
    row read by rowid costs a few microseconds, a MATCH probe a doclist seek per word."""
    terms: list[str] = []
    params: list[str] = []
    for search in searches:
        columns = ["c0" if field == TextField.TITLE else "c1" for field in search.fields]
        text = " || ' ' || ".join(f"c.{column}" for column in columns)
        text = f"(' ' || {text} || ' ')"
        for word in search.exact:
            terms.append(f"instr({text}, ?) > 0")
            params.append(f" {word} ")
        terms.append(f"instr({text}, ?) > 0")
        params.append(f" {search.prefix}")
    return " AND ".join(terms), params


def estimate(conn: sqlite3.Connection, searches: Iterable[TextSearch]) -> int:
    """At most how many images match: the fewest images holding one of the words. A prefix that
    starts more words than ``MAX_PREFIX_COUNT_ROWS`` counts as unbounded (summing only some of
    them would promise a short list where a one-letter prefix matches half the catalog)."""
    best = UNBOUNDED
    for search in searches:
        for word in search.exact:
            row = conn.execute(
                "SELECT n FROM facet_counts WHERE facet = 'word' AND value = ?", (word,)
            ).fetchone()
            best = min(best, row[0] if row else 0)
        counts = conn.execute(
            "SELECT n FROM facet_counts WHERE facet = 'word' AND value >= ? AND value < ? LIMIT ?",
            (search.prefix, search.prefix + "\U0010ffff", MAX_PREFIX_COUNT_ROWS + 1),
        ).fetchall()
        if len(counts) <= MAX_PREFIX_COUNT_ROWS:
            best = min(best, sum(n for (n,) in counts))
    return best


def _vocabulary(title: str, description: str) -> set[str]:
    """The searchable words of an image (``domain.text.indexed_words``: the same cap everywhere)."""
    return set(indexed_words(title, description))


def _texts(title: str, description: str) -> tuple[str, str]:
    """What the index stores of a title and a description: their searchable distinct words,
    joined by single spaces (``words_check`` relies on that)."""
    indexed = indexed_words(title, description)

    def searchable(field: TextField, text: str) -> str:
        return " ".join(w for w in distinct_words(text) if field in indexed.get(w, ()))

    return searchable(TextField.TITLE, title), searchable(TextField.DESCRIPTION, description)


def _count(conn: sqlite3.Connection, vocabulary: set[str], delta: int) -> None:
    if not vocabulary:
        return
    if delta > 0:
        conn.executemany(
            "INSERT INTO facet_counts VALUES ('word', ?, 1) "
            "ON CONFLICT (facet, value) DO UPDATE SET n = n + 1",
            [(w,) for w in vocabulary],
        )
    else:
        conn.executemany(
            "UPDATE facet_counts SET n = n - 1 WHERE facet = 'word' AND value = ?", [(w,) for w in vocabulary]
        )
