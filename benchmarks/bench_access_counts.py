"""Access counts (issue 14): what counting one GET costs, one write per GET against grouped writes.

- In-process, on the embedded backend (real SQLite in a temp dir): ``services.images.count_access``
  per call, with every access written at once (``ImageCatalog.record_access``: what Lambda does,
  and every server did before) and grouped (``services.access_counts``, the server's way), from 1
  and 4 threads; microseconds per call (the caller's time, which is what a GET pays), medians of
  rounds, and the count read back checked against the calls.
- Over HTTP: ``image-service serve`` (local backend, one worker, ``IMAGE_SERVICE_LOG_LEVEL=DEBUG``
  so that the counter logs each write it makes) under ``wrk`` for a few seconds: GETs answered,
  the counter's writes (each one transaction, one SQLite commit), commits per 1,000 GETs; then a
  view, which must show exactly as many accesses as wrk completed GETs.
"""

from __future__ import annotations

import base64
import http.client
import json
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from benchmarks.bench_serve import CONNECTIONS, wrk
from benchmarks.common import (
    LOOPBACK,
    Config,
    Result,
    Table,
    Target,
    find_tool,
    image_service,
    median,
    temp_dir,
)
from image_service.bootstrap import local_context
from image_service.domain.models import Caller, Image
from image_service.services.access_counts import FLUSH_INTERVAL, GroupedAccessCounts
from image_service.services.context import Context
from image_service.services.images import count_access
from image_service.services.uploads import UploadDraft, upload_images
from image_service.settings import Settings

NAME = "access_counts"
FLUSH_LOG = "access counts written: "


def _png() -> bytes:
    import io

    from PIL import Image as PILImage

    out = io.BytesIO()
    PILImage.new("RGB", (64, 64), (10, 120, 200)).save(out, "PNG")
    return out.getvalue()


def _per_call_us(ctx: Context, image: Image, calls: int, threads: int) -> float:
    """Microseconds per ``count_access`` call as its callers see it, ``threads`` calling at once."""
    start = threading.Barrier(threads + 1)
    spent: list[float] = []

    def worker() -> None:
        start.wait()
        began = time.perf_counter()
        for _ in range(calls):
            count_access(ctx, image)
        spent.append(time.perf_counter() - began)

    workers = [threading.Thread(target=worker) for _ in range(threads)]
    for w in workers:
        w.start()
    start.wait()
    for w in workers:
        w.join()
    return sum(spent) / (calls * threads) * 1e6


def in_process(rounds: int, direct: int, calls: int) -> Table:
    table = Table(
        "count_access per call, in-process, embedded backend (SQLite)",
        ["threads", "one write per access µs", "grouped µs", "ratio"],
    )
    with temp_dir("access") as tmp:
        base = local_context(Settings.with_fields(data_dir=Path(tmp)))
        [image] = upload_images(base, Caller(user_id="bench"), [UploadDraft(data=_png())])
        counts = GroupedAccessCounts(base.catalog)
        grouped = replace(base, access_counts=counts)
        expected = 0
        for threads in (1, 4):
            direct_us = median([_per_call_us(base, image, direct, threads) for _ in range(rounds)])
            grouped_us = median([_per_call_us(grouped, image, calls, threads) for _ in range(rounds)])
            expected += rounds * threads * (direct + calls)
            table.add(threads, round(direct_us, 1), round(grouped_us, 2), round(direct_us / grouped_us))
        counts.close()
        stored = base.catalog.get(image.image_id).access_count
        if stored != expected:
            raise RuntimeError(f"access_count {stored} after {expected} calls")
    table.notes.append(
        f"{direct:,} direct and {calls:,} grouped calls per thread and round, {rounds} rounds; "
        f"the count read back equals the calls ({expected:,})"
    )
    return table


def _request(port: int, method: str, path: str, body: dict[str, object] | None = None) -> dict[str, object]:
    conn = http.client.HTTPConnection(LOOPBACK, port, timeout=30)
    payload = json.dumps(body).encode() if body is not None else None
    conn.request(
        method, path, body=payload, headers={"Content-Type": "application/json", "X-User-Id": "bench"}
    )
    response = conn.getresponse()
    data = response.read()
    conn.close()
    if response.status >= 300:
        raise RuntimeError(f"{method} {path} answered {response.status}: {data[:300]!r}")
    answer: dict[str, object] = json.loads(data)
    return answer


def over_http(wrk_binary: str, seconds: int) -> tuple[Table, dict[str, float]]:
    with temp_dir("access-http") as tmp:
        data_dir = Path(tmp) / "data"
        with image_service(data_dir, auth="none", log_level="DEBUG") as server:
            created = _request(
                server.port,
                "POST",
                "/images",
                {"image_data": base64.b64encode(_png()).decode(), "user_id": "bench", "visibility": "public"},
            )
            image_id = str(created["image_id"])
            run = wrk(wrk_binary, f"http://{LOOPBACK}:{server.port}/images/{image_id}/content", seconds)
            metadata = _request(server.port, "GET", f"/images/{image_id}")["metadata"]
            counted = int(metadata["access_count"])  # type: ignore[index]
            log = (data_dir.parent / f"server-{server.port}.err").read_text()
        writes = [json.loads(line)["message"] for line in log.splitlines() if FLUSH_LOG in line]
        written = sum(int(message.removeprefix(FLUSH_LOG).split()[0]) for message in writes)
    gets = run.requests
    table = Table(
        f"GET /images/{{id}}/content under wrk, {seconds} s, one worker: SQLite commits for access counts",
        ["GETs", "req/s", "commits", "commits per 1,000 GETs", "before (one per GET)", "access_count read"],
    )
    per_thousand = len(writes) / gets * 1000
    table.add(gets, round(run.requests_per_s), len(writes), round(per_thousand, 1), 1000, counted)
    table.notes.append(
        f"window {FLUSH_INTERVAL * 1000:g} ms; each write is one transaction and one commit; the server "
        f"logged {written:,} accesses written (wrk completed {gets:,}; it leaves out the answers in flight "
        "when it stops); a DEBUG log costs the server some of its rate"
    )
    # wrk leaves out the answers to requests in flight when it stops (at most one per connection);
    # the server counted those too.
    if counted != written or not gets <= counted <= gets + CONNECTIONS:
        raise RuntimeError(f"{gets} GETs completed by wrk, access_count {counted}, {written} written")
    return table, {"gets": gets, "commits": len(writes), "per_thousand": per_thousand}


def run(cfg: Config, log: Callable[[str], None] = print) -> Result:
    result = Result(NAME)
    log("  count_access in-process, one write per access vs grouped")
    rounds, direct, calls = (3, 500, 10_000) if cfg.quick else (5, 2_000, 50_000)
    table = in_process(rounds, direct, calls)
    result.tables.append(table)
    wrk_binary = find_tool("wrk")
    if wrk_binary is None:
        table.notes.append("wrk not found: the HTTP part was skipped")
        return result
    log("  GETs under wrk: SQLite commits per 1,000 GETs")
    http_table, figures = over_http(wrk_binary, 3 if cfg.quick else cfg.wrk_seconds)
    result.tables.append(http_table)
    result.details = figures
    result.targets.append(
        Target(
            "access counts cost less than one commit per GET",
            "< 1,000 commits per 1,000 GETs",
            f"{figures['per_thousand']:.1f}",
            figures["per_thousand"] < 1000,
        )
    )
    return result


if __name__ == "__main__":
    from benchmarks.common import render_text

    outcome = run(Config(quick=False, wrk_seconds=10))
    for each in outcome.tables:
        print(render_text(each.as_dict()) + "\n")
