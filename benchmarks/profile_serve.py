"""In-process cost of one served GET: the app's ASGI callable driven directly, no server, no socket.

``.venv/bin/python -m benchmarks.profile_serve [--n 20000] [--runs 5] [--profile]``

A real embedded backend (SQLite catalog, file store) in a temp dir with one public 200 KB JPEG,
``build_app`` as ``image-service serve`` builds it (JSON request log lines at INFO, written to /dev/null, the
fast path, grouped access counts), and N anonymous ``GET /images/{id}/content`` sent through a
fake receive/send. Two modes: the whole answer (the bytes read from the file) and the answer
behind nginx (``IMAGE_SERVICE_ACCEL_REDIRECT``: headers only, no file read). Reported: process
CPU µs per GET, median of the runs. ``--profile`` prints a cProfile of one more run of each mode.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import io
import logging
import os
import pstats
import statistics
import sys
import tempfile
import time
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

from PIL import Image as PILImage

from image_service import logs
from image_service.bootstrap import build_app, local_context
from image_service.cli.serve import with_accel
from image_service.domain.models import Caller
from image_service.services.uploads import UploadDraft, upload_images
from image_service.settings import Settings

IMAGE_BYTES = 200_000
ACCEL_PREFIX = "/_accel/"


def jpeg_of_about(size: int) -> bytes:
    """Random noise as a JPEG, grown until it is at least ``size`` bytes."""
    side = 160
    while True:
        noise = PILImage.effect_noise((side, side), 100).convert("RGB")
        buffer = io.BytesIO()
        noise.save(buffer, "JPEG", quality=90)
        if buffer.tell() >= size:
            return buffer.getvalue()
        side += 40


class Driver:
    """One app on its own data dir and event loop, and the ASGI messages of one GET."""

    def __init__(self, data_dir: Path, data: bytes, *, accel: bool) -> None:
        fields: dict[str, Any] = {"data_dir": data_dir}
        if accel:
            fields["accel_redirect"] = ACCEL_PREFIX
        settings = Settings.with_fields(**fields)
        ctx = local_context(settings)
        (image,) = upload_images(
            ctx, Caller(user_id="bench"), [UploadDraft(data=data, user_id="bench", name="serve-200k.jpg")]
        )
        self.image = image
        self.app = with_accel(build_app(settings, ctx=ctx), settings)  # as `serve` builds it
        self.loop = asyncio.new_event_loop()
        self.lifespan = contextlib.AsyncExitStack()
        self.loop.run_until_complete(
            self.lifespan.enter_async_context(self.app.router.lifespan_context(self.app))
        )
        path = f"/images/{image.image_id}/content"
        self.scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [(b"host", b"127.0.0.1:8000"), (b"user-agent", b"wrk"), (b"accept", b"*/*")],
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8000),
        }
        self.expected = 200
        self.expected_body = 0 if accel else image.size

    def close(self) -> None:
        try:
            self.loop.run_until_complete(self.lifespan.aclose())
        finally:
            self.loop.close()

    async def _gets(self, n: int) -> None:
        app, template = self.app, self.scope
        status = 0
        body = 0

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: MutableMapping[str, Any]) -> None:
            nonlocal status, body
            if message["type"] == "http.response.start":
                status = message["status"]
            else:
                body += len(message.get("body", b""))

        for _ in range(n):
            status, body = 0, 0
            await app({**template, "headers": list(template["headers"])}, receive, send)
        if status != self.expected or body != self.expected_body:
            raise SystemExit(f"unexpected answer: {status}, {body} bytes, not {self.expected_body}")

    def cpu_us_per_get(self, n: int) -> float:
        started = time.process_time()
        self.loop.run_until_complete(self._gets(n))
        return (time.process_time() - started) / n * 1e6

    def profile(self, n: int, top: int) -> str:
        profiler = cProfile.Profile()
        profiler.enable()
        self.loop.run_until_complete(self._gets(n))
        profiler.disable()
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats("cumulative").print_stats(top)
        stats.sort_stats("tottime").print_stats(top)
        return out.getvalue()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=20_000, help="GETs per run")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2_000, help="GETs before the runs")
    parser.add_argument("--profile", action="store_true", help="cProfile one more run of each mode")
    parser.add_argument("--top", type=int, default=30, help="rows of each profile table")
    parser.add_argument("--mode", choices=("full", "accel", "both"), default="both")
    parser.add_argument("--log-level", default="info", help="warning: without the request log line")
    args = parser.parse_args(argv)
    # As `image-service serve` logs (logs.py: JSON lines at INFO), written to /dev/null.
    logs.configure(args.log_level)
    devnull = open(os.devnull, "w")  # noqa: SIM115 (open for the whole run)
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(devnull)
    data = jpeg_of_about(IMAGE_BYTES)
    modes = ("full", "accel") if args.mode == "both" else (args.mode,)
    with tempfile.TemporaryDirectory() as tmp:
        drivers = {mode: Driver(Path(tmp) / mode, data, accel=mode == "accel") for mode in modes}
        try:
            for driver in drivers.values():
                driver.cpu_us_per_get(args.warmup)  # warm caches and connections
            samples: dict[str, list[float]] = {mode: [] for mode in modes}
            for _ in range(args.runs):  # interleaved, so both modes see the same machine
                for mode, driver in drivers.items():
                    samples[mode].append(driver.cpu_us_per_get(args.n))
            for mode in modes:
                runs = ", ".join(f"{s:.1f}" for s in samples[mode])
                label = "GET, bytes read" if mode == "full" else "GET behind nginx, headers only"
                print(f"{label} ({len(data):,} B): {statistics.median(samples[mode]):.1f} µs CPU per GET "
                      f"(median of {args.runs} x {args.n:,}: {runs})")  # fmt: skip
            if args.profile:
                for mode, driver in drivers.items():
                    print(f"\n==== cProfile, {mode} ====")
                    print(driver.profile(args.n, args.top))
        finally:
            for driver in drivers.values():
                driver.close()
    with contextlib.suppress(Exception):
        load = Path("/proc/loadavg").read_text().split()[:3]
        print(f"load average: {' '.join(load)}", file=sys.stderr)


if __name__ == "__main__":
    main()
