"""List latency on a catalog of 1,000,000 images, for every filter, first and deep pages.

What is timed, per filter ("case") and page (the first, and page 50 reached by following ``next``):

- ``SqliteImageCatalog.find(query, 20, after)``: the catalog call, rows to ``Image`` objects;
- ``services.listing.list_images``: the same through the service layer, with the caller's rights
  applied and the signed cursor decoded and the next one encoded.

References, in the same run and through the same ``find`` code path (subclasses that only change
the SQL that ``list_sql`` returns):

- **scan** (primary): the same SQL with its driving index disabled (``NOT INDEXED``): a table scan
  plus a sort, i.e. what "a Scan with a filter" costs, the thing API.md forbids. It costs about
  the same on every page, so it is measured on the first page.
- **OFFSET** (deep pages): the first-page SQL with ``OFFSET (page-1)*20`` instead of the keyset,
  what a naive paginator does; on page 1 it is the same query, so it is only measured deep.

Both references must return exactly the page that keyset paging returned (checked). Times are
wall-clock with the catalog file warm in the OS page cache (each connection keeps SQLite's
default 2 MiB page cache). p50 is the median of the per-round medians; p95/p99 are over all
samples of all rounds; ratios are per round, side by side, then the median of the rounds.
"""

from __future__ import annotations

import random
import re
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from benchmarks.common import Config, Result, Table, Target, median, ms, percentile
from benchmarks.list_data import SPAN, START, category, ensure_catalog, tag, user
from image_service.adapters.sqlite_catalog import SqliteImageCatalog
from image_service.adapters.sqlite_schema import open_database
from image_service.bootstrap import local_context
from image_service.domain.models import ADMIN, ANONYMOUS, Caller, ImageQuery, Keyset, Page
from image_service.services.context import Context
from image_service.services.listing import ListFilters, list_images, make_filters, query_for
from image_service.settings import Settings

NAME = "list"
PAGE_SIZE = 20
DEEP_PAGE = 50
TARGET_P50_MS = 5.0
TARGET_P99_MS = 20.0


class OffsetCatalog(SqliteImageCatalog):
    """Reference: the first-page SQL skipping ``offset`` rows, instead of a keyset."""

    offset = 0

    def list_sql(self, query: ImageQuery, limit: int, after: Keyset | None) -> tuple[str, list[Any]]:
        sql, params = super().list_sql(query, limit, None)
        if not sql.endswith("LIMIT ?"):
            raise RuntimeError("list_sql no longer ends with LIMIT ?: update the OFFSET reference")
        return f"{sql} OFFSET ?", [*params, self.offset]


class ScanCatalog(SqliteImageCatalog):
    """Reference: the same SQL, the driving index disabled (a table scan and a sort)."""

    def list_sql(self, query: ImageQuery, limit: int, after: Keyset | None) -> tuple[str, list[Any]]:
        sql, params = super().list_sql(query, limit, after)
        # Only the driving table's index: the per-row tag probes keep theirs, or the reference
        # would scan image_tags once per candidate row.
        return re.sub(r"\b(images i|image_tags t) INDEXED BY \w+", r"\1 NOT INDEXED", sql), params


@dataclass(frozen=True)
class Case:
    label: str
    caller: Caller
    filters: ListFilters


@dataclass
class Cell:
    case: Case
    query: ImageQuery
    page: int
    after: Keyset | None
    cursor: str | None
    expected: list[str]
    plan: list[str] = field(default_factory=list)
    find: list[list[float]] = field(default_factory=list)  # per round
    service: list[list[float]] = field(default_factory=list)
    offset: list[list[float]] = field(default_factory=list)
    scan: list[list[float]] = field(default_factory=list)


def cases() -> list[Case]:
    middle = START + SPAN / 2
    heavy, typical = user(1), user(5000)

    def admin(label: str, **filters: Any) -> Case:
        return Case(label, ADMIN, make_filters(**filters))

    return [
        admin("none (admin sees all)"),
        Case("none, anonymous (= visibility public)", ANONYMOUS, make_filters()),
        admin("user_id, busiest user", user_id=heavy),
        admin("user_id, median user", user_id=typical),
        admin("tag, most popular", tags=[tag(1)]),
        admin("tag, rank 100", tags=[tag(100)]),
        admin("tag, rarest (rank 1000)", tags=[tag(1000)]),
        admin("2 tags, ranks 1+2", tags=[tag(1), tag(2)]),
        admin("3 tags, ranks 1+2+3", tags=[tag(1), tag(2), tag(3)]),
        admin("2 tags, ranks 30+31 (rarely together)", tags=[tag(30), tag(31)]),
        admin("category", category=category(1)),
        admin("visibility=private", visibility="private"),
        admin("created range, 30 days", created_after=middle, created_before=middle + timedelta(days=30)),
        admin("user_id + tag", user_id=heavy, tags=[tag(1)]),
        admin("user_id + category + range", user_id=heavy, category=category(1), created_after=middle),
        Case("public or mine (busiest user signed in)", Caller(user_id=heavy), make_filters()),
        Case("public or mine (median user signed in)", Caller(user_id=typical), make_filters()),
        Case("public or mine + tag", Caller(user_id=heavy), make_filters(tags=[tag(1)])),
        Case("public or mine + category", Caller(user_id=heavy), make_filters(category=category(1))),
    ]


def _timed(samples: list[float], call: Callable[[], Any]) -> Any:
    started = time.perf_counter()
    value = call()
    samples.append(time.perf_counter() - started)
    return value


def _ids(page: Page) -> list[str]:
    return [i.image_id for i in page.images]


def _prepare(
    ctx: Context, catalog: SqliteImageCatalog, conn: sqlite3.Connection, case: Case
) -> tuple[list[Cell], int]:
    query = query_for(case.caller, case.filters)
    if query is None:
        return [], 0
    sql, params = catalog.list_sql(query, 10**9, None)
    (matches,) = conn.execute(f"SELECT count(*) FROM ({sql})", params).fetchone()
    cells: list[Cell] = []
    cursor: str | None = None
    after: Keyset | None = None
    for page in range(1, DEEP_PAGE + 1):
        result = list_images(ctx, case.caller, case.filters, limit=PAGE_SIZE, cursor=cursor)
        if page in (1, DEEP_PAGE):
            cells.append(Cell(case, query, page, after, cursor, _ids(result.page)))
        if result.next_cursor is None or result.page.next is None:
            if page not in (1, DEEP_PAGE):
                cells.append(Cell(case, query, page, after, cursor, _ids(result.page)))
            break
        cursor, after = result.next_cursor, result.page.next
    return cells, matches


def _plan(conn: sqlite3.Connection, catalog: SqliteImageCatalog, cell: Cell) -> list[str]:
    sql, params = catalog.list_sql(cell.query, PAGE_SIZE + 1, cell.after)
    return [row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params).fetchall()]


def _suspicious(plan: list[str]) -> list[str]:
    return [
        line for line in plan if "TEMP B-TREE" in line or re.fullmatch(r"SCAN \w+", line.strip()) is not None
    ]


def run(cfg: Config, log: Callable[[str], None] = print) -> Result:
    result = Result(NAME)
    size = cfg.list_size
    built = ensure_catalog(size, rebuild=cfg.rebuild, log=log)
    rounds, per_round, ref_per_round, scan_rounds = (2, 10, 3, 1) if cfg.quick else (5, 40, 8, 3)
    result.details.update(
        size=size,
        build_seconds=built.build_seconds,
        file_mib=round(built.file_bytes / 2**20),
        rounds=rounds,
        samples_per_round=per_round,
        reference_samples_per_round=ref_per_round,
        scan_rounds=scan_rounds,
    )
    ctx = local_context(Settings.with_fields(data_dir=built.path))
    catalog = ctx.catalog
    if not isinstance(catalog, SqliteImageCatalog):
        raise TypeError("the local context should hold a SqliteImageCatalog")
    db = built.path / "catalog.sqlite3"
    ref_db = open_database(db)
    offset_ref, scan_ref = OffsetCatalog(ref_db), ScanCatalog(ref_db)
    explain = sqlite3.connect(f"file:{db}?mode=ro", uri=True)

    log(f"  preparing {len(cases())} filters (walking to page {DEEP_PAGE}, counting matches)")
    cells: list[Cell] = []
    matches: dict[str, int] = {}
    for case in cases():
        prepared, matches[case.label] = _prepare(ctx, catalog, explain, case)
        for cell in prepared:
            cell.plan = _plan(explain, catalog, cell)
        cells.extend(prepared)
    explain.close()

    rng = random.Random(1)
    for round_number in range(rounds):
        log(f"  round {round_number + 1}/{rounds}")
        order = cells[:]
        rng.shuffle(order)
        for cell in order:
            _measure(
                cell, ctx, catalog, offset_ref, scan_ref, per_round, ref_per_round, round_number < scan_rounds
            )

    result.tables, result.targets = _report(cells, matches, size)
    result.details["plans"] = {f"{c.case.label} | page {c.page}": c.plan for c in cells}
    suspicious = {
        f"{c.case.label} | page {c.page}": _suspicious(c.plan) for c in cells if _suspicious(c.plan)
    }
    result.details["suspicious_plans"] = suspicious
    result.tables[0].notes.append(
        f"EXPLAIN QUERY PLAN with a table scan or a temp B-tree: {suspicious}"
        if suspicious
        else "EXPLAIN QUERY PLAN of every measured page: index ranges only, no table scan, no temp B-tree"
    )
    ref_db.close()
    return result


def _measure(
    cell: Cell,
    ctx: Context,
    catalog: SqliteImageCatalog,
    offset_ref: OffsetCatalog,
    scan_ref: ScanCatalog,
    per_round: int,
    ref_per_round: int,
    with_scan: bool,
) -> None:
    query, after = cell.query, cell.after
    # One untimed call each first, so every series starts from the same warm state.
    catalog.find(query, PAGE_SIZE, after)
    find: list[float] = []
    for _ in range(per_round):
        page = _timed(find, lambda: catalog.find(query, PAGE_SIZE, after))
    if _ids(page) != cell.expected:
        raise AssertionError(f"{cell.case.label}: find returned a different page than the walk")
    cell.find.append(find)

    service: list[float] = []
    for _ in range(per_round):
        _timed(
            service,
            lambda: list_images(
                ctx, cell.case.caller, cell.case.filters, limit=PAGE_SIZE, cursor=cell.cursor
            ),
        )
    cell.service.append(service)

    if cell.page > 1:
        offset_ref.offset = (cell.page - 1) * PAGE_SIZE
        offset_ref.find(query, PAGE_SIZE)
        offset: list[float] = []
        for _ in range(ref_per_round):
            page = _timed(offset, lambda: offset_ref.find(query, PAGE_SIZE))
        if _ids(page) != cell.expected:
            raise AssertionError(f"{cell.case.label}: OFFSET page differs from the keyset page")
        cell.offset.append(offset)
    elif with_scan:
        scan: list[float] = []
        page = _timed(scan, lambda: scan_ref.find(query, PAGE_SIZE, after))
        if _ids(page) != cell.expected:
            raise AssertionError(f"{cell.case.label}: the scan returned a different page")
        cell.scan.append(scan)


def _p50(rounds: list[list[float]]) -> float:
    return median([median(r) for r in rounds]) if rounds else float("nan")


def _pooled(rounds: list[list[float]], p: float) -> float:
    return percentile([s for r in rounds for s in r], p)


def _ratio(reference: list[list[float]], ours: list[list[float]]) -> float:
    pairs = [median(ref) / median(own) for ref, own in zip(reference, ours, strict=False) if ref and own]
    return median(pairs) if pairs else float("nan")


def _report(cells: list[Cell], matches: dict[str, int], size: int) -> tuple[list[Table], list[Target]]:
    latency = Table(
        f"List latency, {size:,} images, page of {PAGE_SIZE} (ms)",
        ["filter", "matches", "page", "find p50", "find p95", "find p99", "service p50", "service p95",
         "service p99"],
    )  # fmt: skip
    refs = Table(
        "List vs references in the same run (p50 ms; ratio = reference / ours, median of rounds)",
        ["filter", "page", "find p50", "scan p50", "scan / find", "OFFSET p50", "OFFSET / find"],
    )
    for cell in cells:
        find, service = cell.find, cell.service
        latency.add(
            cell.case.label, matches[cell.case.label], cell.page,
            ms(_p50(find)), ms(_pooled(find, 95)), ms(_pooled(find, 99)),
            ms(_p50(service)), ms(_pooled(service, 95)), ms(_pooled(service, 99)),
        )  # fmt: skip
        refs.add(
            cell.case.label, cell.page, ms(_p50(find)),
            ms(_p50(cell.scan)) if cell.scan else None, _ratio(cell.scan, find) if cell.scan else None,
            ms(_p50(cell.offset)) if cell.offset else None,
            _ratio(cell.offset, find) if cell.offset else None,
        )  # fmt: skip
    latency.notes.append(
        f"page {DEEP_PAGE} is reached by following next {DEEP_PAGE - 1} times; a smaller page number "
        "is the last page of a filter with fewer matches"
    )
    refs.notes.append("scan = same SQL with NOT INDEXED on the driving table (measured on page 1 only)")
    refs.notes.append("OFFSET = first-page SQL with OFFSET (page-1)*20 (deep pages only)")
    targets: list[Target] = []
    for layer in ("find", "list_images"):
        series = [(c.find if layer == "find" else c.service, f"{c.case.label} p{c.page}") for c in cells]
        p50s = [(ms(_p50(samples)), label) for samples, label in series]
        p99s = [(ms(_pooled(samples, 99)), label) for samples, label in series]
        worst50, worst99 = max(p50s), max(p99s)
        over50 = [label for value, label in p50s if value >= TARGET_P50_MS]
        over99 = [label for value, label in p99s if value >= TARGET_P99_MS]
        targets.append(
            Target(
                f"{layer} p50 per page, every filter and page",
                f"< {TARGET_P50_MS:g} ms",
                f"worst {worst50[0]:.2f} ms ({worst50[1]})"
                + (f"; over: {', '.join(over50)}" if over50 else ""),
                not over50,
            )
        )
        targets.append(
            Target(
                f"{layer} p99 per page, every filter and page",
                f"< {TARGET_P99_MS:g} ms",
                f"worst {worst99[0]:.2f} ms ({worst99[1]})"
                + (f"; over: {', '.join(over99)}" if over99 else ""),
                not over99,
            )
        )
    tables = [latency, refs]
    return tables, targets
