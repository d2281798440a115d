"""Renditions over HTTP: a stored rendition's GET vs the original's GET of the same size, and the
first request (render + store) vs the engine alone.

- Server: ``image-service serve`` (embedded backend, 1 worker, INFO request log to a file), one
  keep-alive ``http.client`` connection from this process, sequential requests, anonymous GETs of
  public images.
- Serving (the reference is the original's route in the same run): a ~1 MB noise JPEG's ``w=256``
  rendition, made once before the clock starts, against an original uploaded with about the
  rendition's size, so both answers carry about the same bytes. Requests alternate one by one
  (original, rendition, rendition 304), so both see the same machine state; the ratio is
  median(rendition) / median(original). What the rendition path adds: the parameters' parsing,
  the plan (token, key, ETag), a thread hop (renditions always run in the threadpool), and a
  read of the stored object.
- First request: for each of N fresh uploads, the first ``w=256`` GET (read the original,
  render, conditional create, serve) against ``imaging.render.render`` on the same bytes
  in-process (the engine alone); the ratio is median(first GET) / median(render).
"""

from __future__ import annotations

import base64
import http.client
import json
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.common import (
    LOOPBACK,
    Config,
    Result,
    Table,
    Target,
    image_service,
    median,
    ms,
    noisy_jpeg,
    percentile,
    temp_dir,
)

NAME = "renditions"
ORIGINAL_BYTES = 1_000_000
RENDITION = "?w=256"
# Issue 15's targets: a stored rendition is served at >= 0.9 of the original's rate (same bytes),
# and a first request costs <= 1.5 x the engine alone (the rest: reading, storing, serving).
TARGET_RATE = 0.9
TARGET_FIRST = 1.5


def _request(
    conn: http.client.HTTPConnection, method: str, path: str, headers: dict[str, str] | None = None
) -> tuple[int, bytes, dict[str, str]]:
    conn.request(method, path, headers=headers or {})
    response = conn.getresponse()
    body = response.read()
    return response.status, body, {k.lower(): v for k, v in response.getheaders()}


def _upload(conn: http.client.HTTPConnection, token: str | None, data: bytes) -> str:
    body = json.dumps({"image_data": base64.b64encode(data).decode(), "visibility": "public"})
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    conn.request("POST", "/images", body=body, headers=headers)
    response = conn.getresponse()
    payload = response.read()
    status = response.status
    if status != 201:
        raise RuntimeError(f"upload answered {status}: {payload[:300]!r}")
    image_id: str = json.loads(payload)["image_id"]
    return image_id


def _timed(
    conn: http.client.HTTPConnection, path: str, headers: dict[str, str] | None = None
) -> tuple[float, int]:
    start = time.perf_counter()
    status, _, _ = _request(conn, "GET", path, headers)
    return time.perf_counter() - start, status


def run(cfg: Config, log: Callable[[str], None] = print) -> Result:
    from image_service.imaging.render import RenderSpec, render

    result = Result(NAME)
    samples = 150 if cfg.quick else 1500
    fresh = 5 if cfg.quick else 20
    source = noisy_jpeg(ORIGINAL_BYTES, seed=5)
    with temp_dir("renditions") as tmp, image_service(Path(tmp) / "data") as app:
        conn = http.client.HTTPConnection(LOOPBACK, app.port, timeout=60)
        big_id = _upload(conn, app.token, source)
        rendition_path = f"/images/{big_id}/content{RENDITION}"
        status, made, headers = _request(conn, "GET", rendition_path)
        if status != 200:
            raise RuntimeError(f"the rendition answered {status}: {made[:300]!r}")
        etag = headers["etag"]
        same_size = noisy_jpeg(len(made), seed=6)
        small_id = _upload(conn, app.token, same_size)
        original_path = f"/images/{small_id}/content"
        log(f"  original {len(same_size):,} bytes vs rendition {len(made):,} bytes; {samples} requests each")
        times: dict[str, list[float]] = {"original": [], "rendition": [], "rendition 304": []}
        for _ in range(samples):
            for label, path, extra in (
                ("original", original_path, None),
                ("rendition", rendition_path, None),
                ("rendition 304", rendition_path, {"If-None-Match": etag}),
            ):
                elapsed, status = _timed(conn, path, extra)
                if status not in (200, 304):
                    raise RuntimeError(f"{label} answered {status}")
                times[label].append(elapsed)
        log(f"  first requests of {fresh} fresh uploads vs the engine in-process")
        first: list[float] = []
        engine: list[float] = []
        spec = RenderSpec(width=256, height=None, fit="inside", format=None, quality=None)
        for seed in range(fresh):
            data = noisy_jpeg(ORIGINAL_BYTES, seed=100 + seed)
            image_id = _upload(conn, app.token, data)
            elapsed, status = _timed(conn, f"/images/{image_id}/content{RENDITION}")
            if status != 200:
                raise RuntimeError(f"first rendition answered {status}")
            first.append(elapsed)
            start = time.perf_counter()
            render(data, spec)
            engine.append(time.perf_counter() - start)
        conn.close()

    serving = Table(
        f"Rendition serving: GET {RENDITION} stored vs the original's GET of the same size",
        ["request", "bytes", "median ms", "p90 ms", "req/s (1 connection)", "vs original"],
    )
    reference = median(times["original"])
    sizes = {"original": len(same_size), "rendition": len(made), "rendition 304": 0}
    for label, values in times.items():
        mid = median(values)
        serving.add(
            label,
            sizes[label],
            ms(mid),
            ms(percentile(values, 90)),
            round(1 / mid),
            round(mid / reference, 2),
        )
    making = Table(
        f"First request ({RENDITION} of a {ORIGINAL_BYTES // 1000} KB JPEG) vs the engine alone",
        ["what", "median ms", "p90 ms", "vs engine"],
    )
    engine_mid = median(engine)
    making.add(
        "first GET over HTTP",
        ms(median(first)),
        ms(percentile(first, 90)),
        round(median(first) / engine_mid, 2),
    )
    making.add("imaging.render.render in-process", ms(engine_mid), ms(percentile(engine, 90)), 1.0)
    making.notes.append("The first GET also reads the original (a file) and writes the rendition (fsync).")
    result.tables = [serving, making]
    rate = reference / median(times["rendition"])
    first_ratio = median(first) / engine_mid
    result.targets = [
        Target(
            "stored rendition req/s / original req/s (same bytes)",
            f">= {TARGET_RATE}",
            f"{rate:.2f}",
            rate >= TARGET_RATE,
        ),
        Target(
            "first GET / engine in-process",
            f"<= {TARGET_FIRST}",
            f"{first_ratio:.2f}",
            first_ratio <= TARGET_FIRST,
        ),
    ]
    result.details.update(
        samples=samples, fresh=fresh, rendition_bytes=len(made), original_bytes=len(same_size)
    )
    return result


if __name__ == "__main__":
    import sys

    from benchmarks.common import render_text

    outcome = run(Config(quick="--quick" in sys.argv))
    for table in outcome.tables:
        print(render_text(table.as_dict()) + "\n")
    for target in outcome.targets:
        print(
            f"{target.what}: {target.measured} (target {target.target}, {'met' if target.met else 'NOT met'})"
        )
