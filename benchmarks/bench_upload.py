"""Upload overhead: a ~1 MB JPEG over HTTP to a real server vs the same work in-process.

- HTTP: ``image-service serve`` as a subprocess (api-key auth, the admin key from its first
  start's stdout, temp data dir), one keep-alive ``http.client`` connection from this process,
  sequential uploads, each with a distinct ``name``; one row for multipart/form-data, one for JSON
  with base64 ``image_data``. Request bodies are prepared before the clock starts (only the name
  changes), so the client's own work is one send and one read.
- In-process (the reference): ``services.uploads.upload_images`` on a ``Context`` from
  ``bootstrap.local_context`` on its own temp data dir (same disk): inspect + fully decode the
  image, SHA-256, ``FilesystemBlobStore.put`` (fsync file and directory) and
  ``SqliteImageCatalog.add`` (a ``synchronous=FULL`` commit).

HTTP and in-process uploads alternate one by one, so both see the same machine state; the ratio
is median(HTTP) / median(in-process). A breakdown of the in-process steps and of the JSON body
parsing (the service's, and the standard library's json + base64 it replaced) says where the time
goes.
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
from image_service.api.upload_parsing import drafts_from_json
from image_service.bootstrap import local_context
from image_service.domain.models import Caller
from image_service.imaging import inspect_image
from image_service.services.context import Context
from image_service.services.uploads import UploadDraft, build_image, upload_images
from image_service.settings import Settings

NAME = "upload"
# HTTP / in-process per body: multipart since the first benchmark, JSON since issue 14 (orjson and
# pybase64 instead of json and base64: docs/PERFORMANCE.md).
TARGET_RATIOS = {"multipart/form-data": 1.5, "JSON, base64 image_data": 1.2}
IMAGE_BYTES = 1_000_000
WARMUP = 3
OWNER = "bench"
BOUNDARY = "----image-service-bench-7d1f0c"


def multipart_body(name: str, data: bytes) -> bytes:
    parts: list[bytes] = []
    for key, value in (("user_id", OWNER), ("name", name), ("tags", "bench,noise"), ("title", "Noise")):
        parts.append(
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode()
        )
    parts.append(
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="noise.jpg"\r\n'
        "Content-Type: image/jpeg\r\n\r\n".encode()
    )
    parts.extend([data, f"\r\n--{BOUNDARY}--\r\n".encode()])
    return b"".join(parts)


def json_body(name: str, encoded: bytes) -> bytes:
    head = json.dumps({"user_id": OWNER, "name": name, "tags": ["bench", "noise"], "title": "Noise"})
    return head[:-1].encode() + b', "image_data": "' + encoded + b'"}'


class Uploader:
    """One keep-alive connection to the server; returns the seconds one upload took."""

    def __init__(self, port: int, token: str | None) -> None:
        self.conn = http.client.HTTPConnection(LOOPBACK, port, timeout=60)
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def upload(self, body: bytes, content_type: str, expected_size: int) -> float:
        headers = {**self.headers, "Content-Type": content_type, "Content-Length": str(len(body))}
        started = time.perf_counter()
        self.conn.request("POST", "/images", body=body, headers=headers)
        response = self.conn.getresponse()
        payload = response.read()
        elapsed = time.perf_counter() - started
        if response.status != 201:
            raise RuntimeError(f"upload answered {response.status}: {payload[:300]!r}")
        if json.loads(payload)["metadata"]["size"] != expected_size:
            raise RuntimeError("the server stored a different size")
        return elapsed

    def close(self) -> None:
        self.conn.close()


def _in_process(ctx: Context, caller: Caller, data: bytes, name: str) -> float:
    draft = UploadDraft(
        data=data, user_id=OWNER, filename="noise.jpg", name=name, title="Noise", tags="bench,noise"
    )
    started = time.perf_counter()
    stored = upload_images(ctx, caller, [draft])
    elapsed = time.perf_counter() - started
    if stored[0].size != len(data):
        raise RuntimeError("in-process upload stored a different size")
    return elapsed


def _series(count: int, call: Callable[[int], float]) -> list[float]:
    return [call(i) for i in range(count)]


def run(cfg: Config, log: Callable[[str], None] = print) -> Result:
    result = Result(NAME)
    data = noisy_jpeg(IMAGE_BYTES, seed=7)
    encoded = base64.b64encode(data)
    n = cfg.uploads
    result.details.update(image_bytes=len(data), uploads_per_row=n, warmup=WARMUP)
    log(f"  image: noisy JPEG q90, {len(data):,} bytes; {n} uploads per row (+{WARMUP} warm-up)")

    rows: dict[str, dict[str, list[float]]] = {}
    with temp_dir("upload") as tmp:
        root = Path(tmp)
        ctx = local_context(Settings.with_fields(data_dir=root / "inproc"))
        caller = Caller(user_id="admin", is_admin=True)  # what the server's admin key resolves to
        with image_service(root / "server") as server:
            client = Uploader(server.port, server.token)
            forms: dict[str, tuple[str, Callable[[str], bytes]]] = {
                "multipart/form-data": (
                    f"multipart/form-data; boundary={BOUNDARY}",
                    lambda name: multipart_body(name, data),
                ),
                "JSON, base64 image_data": ("application/json", lambda name: json_body(name, encoded)),
            }
            for label, (content_type, make_body) in forms.items():
                log(f"  {label}")
                http_times: list[float] = []
                local_times: list[float] = []
                slug = content_type.split("/")[1].split(";")[0]
                for i in range(-WARMUP, n):
                    number = i + WARMUP
                    body = make_body(f"http-{slug}-{number}.jpg")
                    local_name = f"local-{slug}-{number}.jpg"
                    if i % 2 == 0:
                        over_http = client.upload(body, content_type, len(data))
                        locally = _in_process(ctx, caller, data, local_name)
                    else:
                        locally = _in_process(ctx, caller, data, local_name)
                        over_http = client.upload(body, content_type, len(data))
                    if i >= 0:
                        http_times.append(over_http)
                        local_times.append(locally)
                rows[label] = {"http": http_times, "in_process": local_times}
            client.close()
        breakdown = _breakdown(ctx, data, encoded, n)

    table = Table(
        f"Upload of a {len(data) / 1e6:.2f} MB JPEG, sequential, median of {n} (ms)",
        ["body", "HTTP p50", "HTTP p90", "in-process p50", "in-process p90", "HTTP / in-process",
         "HTTP - in-process"],
    )  # fmt: skip
    for label, series in rows.items():
        http_p50, local_p50 = median(series["http"]), median(series["in_process"])
        ratio = http_p50 / local_p50
        table.add(
            label, ms(http_p50), ms(percentile(series["http"], 90)), ms(local_p50),
            ms(percentile(series["in_process"], 90)), round(ratio, 2), ms(http_p50 - local_p50),
        )  # fmt: skip
        result.targets.append(
            Target(
                f"upload HTTP / in-process, {label}",
                f"<= {TARGET_RATIOS[label]}",
                f"{ratio:.2f}",
                ratio <= TARGET_RATIOS[label],
            )
        )
    table.notes.append("in-process = services.uploads.upload_images on bootstrap.local_context, same disk")
    steps = Table(
        "Where an upload's time goes (in-process steps, median ms)",
        ["step", "p50", "p90"],
    )
    for step, samples in breakdown.items():
        steps.add(step, ms(median(samples)), ms(percentile(samples, 90)))
    result.tables = [table, steps]
    result.details["samples_ms"] = {
        label: {k: [ms(v) for v in values] for k, values in series.items()} for label, series in rows.items()
    }
    return result


def _breakdown(ctx: Context, data: bytes, encoded: bytes, n: int) -> dict[str, list[float]]:
    limits = ctx.limits
    inspect, build, put, add, parse, stdlib = (
        "inspect_image (identify + full decode)",
        "build_image (validation + SHA-256)",
        "FilesystemBlobStore.put (write + fsync file and dir)",
        "SqliteImageCatalog.add (synchronous=FULL commit)",
        "JSON body: upload_parsing.drafts_from_json (orjson, UploadJson, pybase64)",
        "JSON body the standard library's way (json.loads, base64.b64decode): before issue 14",
    )
    steps: dict[str, list[float]] = {inspect: [], build: [], put: [], add: [], parse: [], stdlib: []}
    body = json_body("x.jpg", encoded)
    for i in range(n):
        started = time.perf_counter()
        info = inspect_image(data, max_bytes=limits.max_image_bytes, max_pixels=limits.max_image_pixels)
        steps[inspect].append(time.perf_counter() - started)

        draft = UploadDraft(data=data, user_id=OWNER, name=f"steps-{i}.jpg", tags="bench,noise")
        started = time.perf_counter()
        image = build_image(ctx, OWNER, draft, info)
        steps[build].append(time.perf_counter() - started)

        started = time.perf_counter()
        ctx.blobs.put(image.blob_key, data, image.content_type)
        steps[put].append(time.perf_counter() - started)

        started = time.perf_counter()
        ctx.catalog.add(image)
        steps[add].append(time.perf_counter() - started)

        started = time.perf_counter()
        drafts_from_json(body, limits.max_image_bytes)
        steps[parse].append(time.perf_counter() - started)

        started = time.perf_counter()
        base64.b64decode(json.loads(body)["image_data"], validate=True)
        steps[stdlib].append(time.perf_counter() - started)
    return steps
