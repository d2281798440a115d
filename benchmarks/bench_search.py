"""Text search latency (``q`` of ``GET /images``) on the SQLite catalog of 1,000,000 images.

The catalog is ``list_data``'s (titles and descriptions from a Zipf vocabulary, indexed by the
project's own schema-3 migration). What is timed, per case (a text search, alone or with a user
or a tag, as an admin, an anonymous caller or a signed-in user) and page (the first, and page 50
reached by following ``next``): ``SqliteImageCatalog.find(query, 20, after)``, i.e. the planner
choosing FTS-driven or facet-driven, the arms read and merged, rows to ``Image`` objects.

Reference, same run, same file: the same filter without its text, planned as ``bench_list``
plans it (its driving index, newest first, the keyset), with the text as ``LIKE`` conditions on
the raw title and description, ``LIMIT 21``: what the catalog did before it had a text index.
Each word becomes ``(title LIKE '%w%' OR description LIKE '%w%')``; a prefix becomes
``(' ' || title LIKE '% p%' OR ...)`` (a word starts after a space in ``list_data``'s text).
LIKE is a substring match on raw text, text search a word match on normalised words, so every
case's words are checked against the whole vocabulary first: a word is used as ``'%w%'`` only if
no other vocabulary word contains it and it has no accented form, a prefix only if the words
it starts (normalised) are exactly the words it starts as written. Then the reference's page
must equal ``find``'s page (ids, and whether there is a next page), or the run fails.

Times are wall-clock, warm OS page cache, SQLite's default page cache per connection. p50 is
the median of per-round medians; p99 is over all samples of all rounds; the ratio is reference
p50 / find p50 per round, then the median of the rounds.
"""

from __future__ import annotations

import collections
import itertools
import random
import re
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from benchmarks.common import Config, Result, Table, Target, median, ms, percentile
from benchmarks.list_data import ensure_catalog, tag, user, vocabulary
from image_service.adapters.sqlite_catalog import SqliteImageCatalog
from image_service.adapters.sqlite_schema import open_database
from image_service.domain.models import ADMIN, ANONYMOUS, Caller, ImageQuery, Keyset, Page
from image_service.domain.text import BOTH_FIELDS, TextSearch, words
from image_service.services.listing import make_filters, query_for

NAME = "search"
PAGE_SIZE = 20
DEEP_PAGE = 50
TARGET_P50_MS = 5.0
TARGET_P99_MS = 20.0
RARE_RANK = 20_000  # "a rare word": the first usable word from this popularity rank on


@dataclass(frozen=True)
class Case:
    label: str
    caller: Caller
    q: str
    user_id: str | None = None
    tag: str | None = None

    def query(self) -> ImageQuery | None:
        filters = make_filters(q=self.q, user_id=self.user_id, tags=[self.tag] if self.tag else None)
        return query_for(self.caller, filters)


@dataclass
class Cell:
    case: Case
    query: ImageQuery
    page: int
    after: Keyset | None
    expected: list[str]
    more: bool
    plan: list[str] = field(default_factory=list)
    find: list[list[float]] = field(default_factory=list)  # per round, wall-clock
    cpu: list[list[float]] = field(default_factory=list)  # the same calls, this process's CPU time
    like: list[list[float]] = field(default_factory=list)


# -- choosing words the LIKE reference agrees on ------------------------------------------------


class Words:
    """The vocabulary as written and as normalised, to check that LIKE and word match agree."""

    def __init__(self) -> None:
        self.written = [
            w.lower() for w in vocabulary()
        ]  # LIKE folds ASCII case only; words are ASCII-initial
        self.normal = [words(w)[0] for w in vocabulary()]

    def substring_safe(self, word: str) -> bool:
        """``'%word%'`` matches exactly the texts holding ``word`` (or a word it starts)."""
        return all((word in s) == (n == word) for s, n in zip(self.written, self.normal, strict=True))

    def prefix_safe(self, prefix: str) -> bool:
        """``'% prefix%'`` (after a space) matches exactly the texts with a word starting so."""
        return all(
            s.startswith(prefix) == n.startswith(prefix)
            for s, n in zip(self.written, self.normal, strict=True)
        )

    def usable(self, start_rank: int, count: int = 1) -> list[str]:
        """The first ``count`` substring-safe words from ``start_rank`` (1 = most frequent) on."""
        found = list(
            itertools.islice((w for w in self.normal[start_rank - 1 :] if self.substring_safe(w)), count)
        )
        if len(found) < count:
            raise RuntimeError(f"not {count} usable words from rank {start_rank}")
        return found

    def first_prefix(self, candidates: list[str]) -> str:
        for prefix in candidates:
            if self.prefix_safe(prefix):
                return prefix
        raise RuntimeError(f"no usable prefix among {candidates}")


def cases(vocab: Words) -> list[Case]:
    common, second = vocab.usable(1, 2)
    medium_a, medium_b = vocab.usable(100, 2)
    (rare,) = vocab.usable(RARE_RANK)
    three = vocab.first_prefix([w[:3] for w in vocab.normal[:50] if len(w) > 3])
    one = vocab.first_prefix([w[:1] for w in vocab.normal[:50]])
    stems = collections.Counter(w[:4] for w in vocab.normal)
    stem = vocab.first_prefix([s for s, _ in stems.most_common(200)])  # the most words a stem starts
    heavy, typical = user(1), user(5000)
    signed_in = Caller(user_id=heavy)
    base = [
        ("common word", common, {}),
        ("rare word", rare, {}),
        ("two common words", f"{common} {second}", {}),
        ("two mid words (rank ~100)", f"{medium_a} {medium_b}", {}),
        ("prefix, 3 letters", three, {}),
        ("prefix, 1 letter", one, {}),
        (f"prefix, 4 letters starting {stems[stem]} words", stem, {}),
        (f"prefix, 4 letters starting {stems[stem]} words + busiest user", stem, {"user_id": heavy}),
        ("common word + busiest user", common, {"user_id": heavy}),
        ("common word + median user", common, {"user_id": typical}),
        ("rare word + busiest user", rare, {"user_id": heavy}),
        ("common word + top tag", common, {"tag": tag(1)}),
        ("common word + tag rank 100", common, {"tag": tag(100)}),
        ("rare word + top tag", rare, {"tag": tag(1)}),
    ]
    found = [Case(f"{label}, admin", ADMIN, q, **extra) for label, q, extra in base]
    for label, q, extra in base:
        if label in ("common word", "rare word", "prefix, 1 letter", "common word + top tag"):
            found.append(Case(f"{label}, anonymous", ANONYMOUS, q, **extra))
        if label in (
            "common word",
            "rare word",
            "two common words",
            "prefix, 3 letters",
            "common word + top tag",
        ):
            found.append(Case(f"{label}, {heavy} signed in", signed_in, q, **extra))
    return found


# -- the LIKE reference -------------------------------------------------------------------------


def _like_condition(searches: tuple[TextSearch, ...], vocab: Words) -> tuple[str, list[str]]:
    terms: list[str] = []
    params: list[str] = []
    for search in searches:
        if search.fields != BOTH_FIELDS:
            raise ValueError("the reference only knows q (title or description)")
        for position, word in enumerate(search.words):
            if vocab.substring_safe(word):
                terms.append("(i.title LIKE ? OR i.description LIKE ?)")
                params += [f"%{word}%"] * 2
            elif position == len(search.words) - 1 and vocab.prefix_safe(word):
                terms.append("(' ' || i.title LIKE ? OR ' ' || i.description LIKE ?)")
                params += [f"% {word}%"] * 2
            else:
                raise ValueError(f"LIKE cannot stand for {word!r} on this vocabulary")
    return " AND ".join(terms), params


def like_sql(
    catalog: SqliteImageCatalog, query: ImageQuery, vocab: Words, limit: int | None, after: Keyset | None
) -> tuple[str, list[Any]]:
    """The query's filters without text, as ``list_sql`` plans them, with the text as LIKE: the
    condition goes at the end of each arm (before ``UNION ALL`` and before ``ORDER BY``)."""
    sql, params = catalog.list_sql(replace(query, text=()), 10**9 if limit is None else limit, after)
    condition, condition_params = _like_condition(query.text, vocab)
    head, order = sql.rsplit(" ORDER BY ", 1)
    out_sql: list[str] = []
    out_params: list[Any] = []
    used = 0
    for arm in head.split(" UNION ALL "):
        count = arm.count("?")
        glue = " AND " if " WHERE " in arm else " WHERE "
        out_sql.append(f"{arm}{glue}{condition}")
        out_params += [*params[used : used + count], *condition_params]
        used += count
    return f"{' UNION ALL '.join(out_sql)} ORDER BY {order}", [*out_params, *params[used:]]


# -- measuring ------------------------------------------------------------------------------------


def _timed(samples: list[float], call: Callable[[], Any]) -> Any:
    started = time.perf_counter()
    value = call()
    samples.append(time.perf_counter() - started)
    return value


def _ids(page: Page) -> list[str]:
    return [i.image_id for i in page.images]


def _prepare(catalog: SqliteImageCatalog, case: Case) -> list[Cell]:
    query = case.query()
    if query is None:
        return []
    cells: list[Cell] = []
    after: Keyset | None = None
    for number in range(1, DEEP_PAGE + 1):
        page = catalog.find(query, PAGE_SIZE, after)
        last = page.next is None
        if number in (1, DEEP_PAGE) or last:
            cells.append(Cell(case, query, number, after, _ids(page), not last))
        if last:
            break
        after = page.next
    return cells


def _plan(conn: sqlite3.Connection, catalog: SqliteImageCatalog, cell: Cell) -> list[str]:
    lines: list[str] = []
    statements = catalog.list_statements(cell.query, PAGE_SIZE + 1, cell.after)
    for number, (sql, params) in enumerate(statements, 1):
        prefix = f"arm {number}: " if len(statements) > 1 else ""
        lines += [prefix + row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params).fetchall()]
    return lines


def _like_page(conn: sqlite3.Connection, sql: str, params: list[Any]) -> tuple[list[str], bool]:
    rows = conn.execute(sql, params).fetchall()
    return [r[0] for r in rows[:PAGE_SIZE]], len(rows) > PAGE_SIZE


def run(cfg: Config, log: Callable[[str], None] = print) -> Result:
    result = Result(NAME)
    size = cfg.list_size
    built = ensure_catalog(size, rebuild=cfg.rebuild, log=log)
    rounds, per_round, like_rounds, like_per_round = (2, 10, 1, 1) if cfg.quick else (5, 40, 3, 2)
    result.details.update(
        size=size,
        build_seconds=built.build_seconds,
        migration_seconds=built.migration_seconds,
        file_mib=round(built.file_bytes / 2**20),
        rounds=rounds,
        samples_per_round=per_round,
        like_rounds=like_rounds,
        like_samples_per_round=like_per_round,
    )
    db = open_database(built.path / "catalog.sqlite3")
    catalog = SqliteImageCatalog(db)
    reference = sqlite3.connect(f"file:{built.path / 'catalog.sqlite3'}?mode=ro", uri=True)
    vocab = Words()
    all_cases = cases(vocab)
    log(f"  preparing {len(all_cases)} searches (walking to page {DEEP_PAGE}, counting LIKE matches)")
    cells: list[Cell] = []
    matches: dict[str, int] = {}
    for case in all_cases:
        prepared = _prepare(catalog, case)
        if not prepared:
            continue
        sql, params = like_sql(catalog, prepared[0].query, vocab, None, None)
        (matches[case.label],) = reference.execute(f"SELECT count(*) FROM ({sql})", params).fetchone()
        for cell in prepared:
            cell.plan = _plan(reference, catalog, cell)
        cells.extend(prepared)

    rng = random.Random(1)
    for round_number in range(rounds):
        log(f"  round {round_number + 1}/{rounds}")
        order = cells[:]
        rng.shuffle(order)
        for cell in order:
            _measure(
                cell,
                catalog,
                reference,
                vocab,
                per_round,
                like_per_round if round_number < like_rounds else 0,
            )
    reference.close()
    db.close()

    result.tables, result.targets = _report(cells, matches, size, built.migration_seconds)
    result.details["plans"] = {f"{c.case.label} | page {c.page}": c.plan for c in cells}
    result.details["queries"] = {c.label: c.q for c in all_cases}
    return result


def _measure(
    cell: Cell,
    catalog: SqliteImageCatalog,
    reference: sqlite3.Connection,
    vocab: Words,
    per_round: int,
    like_per_round: int,
) -> None:
    query, after = cell.query, cell.after
    page = catalog.find(query, PAGE_SIZE, after)  # untimed: every series starts warm
    samples: list[float] = []
    cpu: list[float] = []
    for _ in range(per_round):
        started = time.process_time()
        page = _timed(samples, lambda: catalog.find(query, PAGE_SIZE, after))
        cpu.append(time.process_time() - started)
    if _ids(page) != cell.expected or (page.next is not None) != cell.more:
        raise AssertionError(f"{cell.case.label} p{cell.page}: find returned a different page than the walk")
    cell.find.append(samples)
    cell.cpu.append(cpu)
    if not like_per_round:
        return
    sql, params = like_sql(catalog, query, vocab, PAGE_SIZE + 1, after)
    like: list[float] = []
    for _ in range(like_per_round):
        ids, more = _timed(like, lambda: _like_page(reference, sql, params))
        if ids != cell.expected or more != cell.more:
            raise AssertionError(
                f"{cell.case.label} p{cell.page}: the LIKE reference disagrees with find "
                f"({len(ids)} vs {len(cell.expected)} ids, "
                f"first difference at {_first_difference(ids, cell.expected)})"
            )
    cell.like.append(like)


def _first_difference(a: list[str], b: list[str]) -> int | None:
    return next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), None)


def _p50(rounds: list[list[float]]) -> float:
    return median([median(r) for r in rounds]) if rounds else float("nan")


def _pooled(rounds: list[list[float]], p: float) -> float:
    return percentile([s for r in rounds for s in r], p)


def _ratio(reference: list[list[float]], ours: list[list[float]]) -> float:
    pairs = [median(ref) / median(own) for ref, own in zip(reference, ours, strict=False) if ref and own]
    return median(pairs) if pairs else float("nan")


def _driver(plan: list[str]) -> str:
    """Which index drives each arm: fts (the text index read newest first) or the facet index."""
    drivers: list[str] = []
    for arm in dict.fromkeys(line.split(": ", 1)[0] if line.startswith("arm ") else "" for line in plan):
        first = next(line for line in plan if line.startswith(arm)).removeprefix(f"{arm}: ")
        index = re.search(r"INDEX (\w+)", first)
        drivers.append("fts" if "VIRTUAL TABLE" in first else index.group(1) if index else first)
    return " + ".join(drivers)


def _report(
    cells: list[Cell], matches: dict[str, int], size: int, migration: float | None
) -> tuple[list[Table], list[Target]]:
    table = Table(
        f"Text search (q), {size:,} images, page of {PAGE_SIZE} (ms; ratio = LIKE / find, median of rounds)",
        [
            "search",
            "matches",
            "page",
            "drives",
            "find p50",
            "find p99",
            "find CPU p50",
            "LIKE p50",
            "LIKE / find",
        ],
    )
    for cell in cells:
        table.add(
            cell.case.label, matches[cell.case.label], cell.page, _driver(cell.plan),
            ms(_p50(cell.find)), ms(_pooled(cell.find, 99)), ms(_p50(cell.cpu)),
            ms(_p50(cell.like)), _ratio(cell.like, cell.find),
        )  # fmt: skip
    table.notes.append(
        f"page {DEEP_PAGE} is reached by following next {DEEP_PAGE - 1} times; a smaller page number "
        "is the last page of a search with fewer matches"
    )
    table.notes.append(
        "LIKE = the same filters planned without text (their index, newest first, keyset) with the "
        "words as LIKE on the raw title and description, LIMIT 21; its page equals find's (checked)"
    )
    table.notes.append(
        "drives: fts = the FTS5 index read newest first; else the facet index read, FTS probed"
    )
    table.notes.append(
        "find CPU = this process's CPU time for the same calls (time.process_time): the wall-clock "
        "figure without the waits for a core while other processes load the machine"
    )
    if migration is not None:
        table.notes.append(f"schema-3 migration (index_all) of this file when built: {migration:.1f} s")
    p50s = [(ms(_p50(c.find)), f"{c.case.label} p{c.page}") for c in cells]
    p99s = [(ms(_pooled(c.find, 99)), f"{c.case.label} p{c.page}") for c in cells]
    targets: list[Target] = []
    for what, values, limit in (("p50", p50s, TARGET_P50_MS), ("p99", p99s, TARGET_P99_MS)):
        worst = max(values)
        over = [label for value, label in values if value > limit]
        targets.append(
            Target(
                f"find {what} per page, every search and page",
                f"<= {limit:g} ms",
                f"worst {worst[0]:.2f} ms ({worst[1]})" + (f"; over: {', '.join(over)}" if over else ""),
                not over,
            )
        )
    return [table], targets
