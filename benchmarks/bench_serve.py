"""Serving: requests/s of ``GET /images/{id}/content`` (a 200 KB JPEG) vs Debian's nginx.

Both serve the same bytes, loaded by the same tool with the same settings in the same run:
``wrk -t2 -c16 -d10s --latency`` (keep-alive), rounds interleaved, medians reported.

- nginx: its own minimal config in a temp dir (daemon off, 127.0.0.1 on a free port, pid, logs and
  temp paths in the temp dir, sendfile on, an access log line per request like the service's
  request log). ``worker_processes 1`` is the fair pair for ``image-service serve``, which runs
  one uvicorn worker: one serving process each. ``worker_processes auto`` (2 here) is measured too.
- image-service: ``image-service serve`` (1 uvicorn worker, uvloop + httptools, INFO request log to
  a file), the image uploaded through the API as public and fetched anonymously. Every GET reads
  the file into memory and counts one access (grouped: one SQLite commit per 200 ms, see
  ``services/access_counts.py``).

Issue 14's other targets, in the same run: a stored rendition (``?w=256``, made before the runs)
against the original (>= 0.9), ``--workers 2`` against one worker (>= 1.8x), and nginx in front of
the service with ``IMAGE_SERVICE_ACCEL_REDIRECT`` (the shipped docs/nginx/image-service.conf, via
``devtools.nginx_front``: nginx sends the file, the service answers headers) against nginx serving
the file alone (>= 0.5).

To say what limits the service, the same wrk settings also hit ``GET /health`` (framework floor:
no SQLite, no file), the content route with a matching ``If-None-Match`` (304: the catalog read,
but no file read and no access-count write), the content route on ``image-service serve
--workers 2``, and a bare ASGI app on the same uvicorn serving the same file with no framework
(``benchmarks.bare_asgi``: the most a Python app on one worker gets here). After the runs,
``access_count`` is compared with the number of GETs wrk completed, and ``record_access`` is timed
in-process from 1, 4 and 16 threads.

nginx and wrk come from Debian: when missing they are installed with apt-get as root
(``nginx-light wrk``, falling back to ``nginx``); otherwise the benchmark is skipped.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.common import (
    LOOPBACK,
    Config,
    Result,
    ServiceProcess,
    Table,
    Target,
    bare_asgi,
    cpu_seconds,
    find_tool,
    image_service,
    median,
    noisy_jpeg,
    percentile,
    stop_process,
    temp_dir,
    wait_http,
)
from image_service.bootstrap import local_context
from image_service.devtools.emulator import free_port
from image_service.devtools.nginx_front import nginx_front
from image_service.domain.models import Caller, utcnow
from image_service.ports import ImageCatalog
from image_service.services.uploads import UploadDraft, upload_images
from image_service.settings import Settings

NAME = "serve"
TARGET_RATIO = 0.25
RENDITION_RATIO = 0.9  # a stored rendition's req/s against the original's
WORKERS_SCALING = 1.8  # --workers 2 against one worker
FRONT_RATIO = 0.5  # behind nginx (X-Accel-Redirect) against nginx serving the file alone
ACCEL_PREFIX = "/_accel/"
# The labels of the runs whose GETs each count one access of the image.
COUNTED = ("GET content", "GET rendition")
IMAGE_BYTES = 200_000
THREADS, CONNECTIONS = 2, 16
UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


# -- tools -----------------------------------------------------------------------------------


def ensure_tools(log: Callable[[str], None]) -> tuple[str, str] | str:
    """(nginx, wrk) paths, installing them from Debian as root if needed; else why not."""
    nginx, wrk = find_tool("nginx"), find_tool("wrk")
    if nginx and wrk:
        return nginx, wrk
    missing = [name for name, path in (("nginx", nginx), ("wrk", wrk)) if not path]
    if os.geteuid() != 0:
        return f"{' and '.join(missing)} not found and not root: run `apt-get install -y nginx-light wrk`"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    choices = [["nginx-light", "wrk"], ["nginx", "wrk"]] if not nginx else [["wrk"]]
    for attempt in ("install", "update then install"):
        if attempt != "install":
            log("  apt-get update")
            subprocess.run(
                ["apt-get", "update", "-qq"], env=env, capture_output=True, timeout=300, check=False
            )
        for packages in choices:
            wanted = [p for p in packages if p != "wrk" or not wrk]
            log(f"  installing {' '.join(wanted)} with apt-get")
            done = subprocess.run(
                ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *wanted],
                env=env, capture_output=True, text=True, timeout=600, check=False,
            )  # fmt: skip
            nginx, wrk = find_tool("nginx"), find_tool("wrk")
            if nginx and wrk:
                return nginx, wrk
            log(f"  apt-get install {' '.join(wanted)} failed: {done.stderr.strip()[-300:]}")
    return "could not install nginx and wrk with apt-get (see the log above)"


# -- wrk -------------------------------------------------------------------------------------


@dataclass
class WrkRun:
    requests_per_s: float
    requests: int
    latency_ms: dict[str, float] = field(default_factory=dict)
    non_2xx: int = 0
    socket_errors: str = ""
    cpu_us_per_request: tuple[float, float] | None = None  # server (user, system), if measured


def _duration_ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not match:
        raise ValueError(f"unexpected wrk duration {text!r}")
    return float(match.group(1)) * UNITS[match.group(2)]


def parse_wrk(output: str) -> WrkRun:
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    total = re.search(r"(\d+) requests in", output)
    if not rate or not total:
        raise RuntimeError(f"could not read wrk's output:\n{output}")
    run = WrkRun(float(rate.group(1)), int(total.group(1)))
    for pct, value in re.findall(r"^\s+(50|75|90|99)%\s+(\S+)", output, re.MULTILINE):
        run.latency_ms[f"p{pct}"] = _duration_ms(value)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    run.non_2xx = int(non_2xx.group(1)) if non_2xx else 0
    errors = re.search(r"Socket errors: (.*)", output)
    run.socket_errors = errors.group(1) if errors else ""
    return run


def wrk(binary: str, url: str, seconds: int, script: Path | None = None, pid: int | None = None) -> WrkRun:
    """One wrk run; with ``pid``, also the CPU that server process used per completed request."""
    args = [binary, f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency"]
    if script is not None:
        args += ["-s", str(script)]
    before = cpu_seconds(pid) if pid else None
    done = subprocess.run([*args, url], capture_output=True, text=True, timeout=seconds + 60, check=True)
    after = cpu_seconds(pid) if pid else None
    run = parse_wrk(done.stdout)
    if before and after and run.requests:
        run.cpu_us_per_request = (
            (after[0] - before[0]) / run.requests * 1e6,
            (after[1] - before[1]) / run.requests * 1e6,
        )
    return run


# -- nginx -----------------------------------------------------------------------------------


NGINX_CONF = """\
daemon off;
worker_processes {workers};
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    types {{ image/jpeg jpg; }}
    default_type application/octet-stream;
    access_log {root}/access.log combined;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 65;
    client_body_temp_path {root}/client_body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    server {{
        listen {host}:{port};
        root {www};
        location / {{ }}
    }}
}}
"""


@contextmanager
def nginx(binary: str, root: Path, www: Path, workers: str) -> Iterator[int]:
    port = free_port()
    root.mkdir(parents=True)
    root.chmod(0o755)
    conf = root / "nginx.conf"
    conf.write_text(NGINX_CONF.format(workers=workers, root=root, www=www, host=LOOPBACK, port=port))
    args = [binary, "-p", str(root), "-c", str(conf), "-e", str(root / "error.log")]
    with open(root / "stderr.log", "wb") as err:
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=err)
    try:
        wait_http(port, "/image.jpg", proc=proc)
        yield port
    finally:
        stop_process(proc)


@contextmanager
def environment(**values: str) -> Iterator[None]:
    """``os.environ`` with ``values`` while a server started inside inherits them."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextmanager
def accel_service(data_dir: Path) -> Iterator[ServiceProcess]:
    """``image-service serve`` on ``data_dir`` with IMAGE_SERVICE_ACCEL_REDIRECT, for nginx in front."""
    with ExitStack() as stack:
        with environment(IMAGE_SERVICE_ACCEL_REDIRECT=ACCEL_PREFIX):
            app = stack.enter_context(image_service(data_dir))
        yield app


# -- the benchmark ---------------------------------------------------------------------------


def _get(port: int, path: str, method: str = "GET") -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(LOOPBACK, port, timeout=30)
    conn.request(method, path)
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return response.status, body


def _upload(port: int, token: str | None, data: bytes) -> str:
    boundary = "----image-service-bench-serve"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="visibility"\r\n\r\npublic\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="name"\r\n\r\nserve-200k.jpg\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="serve-200k.jpg"\r\n'
            "Content-Type: image/jpeg\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    conn = http.client.HTTPConnection(LOOPBACK, port, timeout=30)
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    conn.request("POST", "/images", body=body, headers=headers)
    response = conn.getresponse()
    payload = response.read()
    conn.close()
    if response.status != 201:
        raise RuntimeError(f"upload answered {response.status}: {payload[:300]!r}")
    image_id: str = json.loads(payload)["image_id"]
    return image_id


def run(cfg: Config, log: Callable[[str], None] = print) -> Result:
    result = Result(NAME)
    tools = ensure_tools(log)
    if isinstance(tools, str):
        result.status, result.reason = "skipped", tools
        log(f"  SKIPPED: {tools}")
        return result
    nginx_bin, wrk_bin = tools
    data = noisy_jpeg(IMAGE_BYTES, seed=3)
    seconds, rounds = cfg.wrk_seconds, cfg.wrk_rounds
    result.details.update(
        image_bytes=len(data), wrk=f"-t{THREADS} -c{CONNECTIONS} -d{seconds}s --latency", rounds=rounds
    )
    log(f"  image: {len(data):,} bytes; wrk -t{THREADS} -c{CONNECTIONS} -d{seconds}s, {rounds} round(s)")

    runs: dict[str, list[WrkRun]] = {}
    with temp_dir("serve") as tmp:
        root = Path(tmp)
        root.chmod(0o755)  # nginx workers run as nobody and must reach www/
        www = root / "www"
        www.mkdir()
        (www / "image.jpg").write_bytes(data)
        (www / "image.jpg").chmod(0o644)
        etag_script = root / "if-none-match.lua"
        data_dir = root / "data"
        with image_service(data_dir) as app:
            image_id = _upload(app.port, app.token, data)
            content = f"/images/{image_id}/content"
            # The 304 path: open_content (catalog read) but no file read and no access-count write.
            _, meta = _get(app.port, f"/images/{image_id}")
            etag = json.loads(meta)["metadata"]["checksum_sha256"][:32]
            etag_script.write_text(f'wrk.headers["If-None-Match"] = \'"{etag}"\'\n')
            rendition = f"{content}?w=256"
            status, _ = _get(app.port, rendition)  # made and stored here: the runs read it
            if status != 200:
                raise RuntimeError(f"the rendition {rendition} answered {status}")
            with (
                nginx(nginx_bin, root / "nginx-1", www, "1") as nginx_1,
                nginx(nginx_bin, root / "nginx-auto", www, "auto") as nginx_auto,
                image_service(data_dir, workers=2) as app_2,
                bare_asgi(www / "image.jpg", root) as (bare, bare_pid),
                accel_service(data_dir) as accel,
                nginx_front(
                    nginx_bin, root / "nginx-front", upstream_port=accel.port, blobs=data_dir / "blobs"
                ) as front,
            ):
                for port in (nginx_1, nginx_auto, bare, app.port, app_2.port, front):
                    path = "/image.jpg" if port in (nginx_1, nginx_auto, bare) else content
                    status, body = _get(port, path)
                    if status != 200 or body != data:
                        raise RuntimeError(f"{LOOPBACK}:{port}{path} did not serve the image ({status})")
                pid = app.proc.pid
                # (label, port, path, wrk script, rounds wanted, server pid whose CPU is measured)
                targets: list[tuple[str, int, str, Path | None, int, int | None]] = [
                    ("nginx, worker_processes 1", nginx_1, "/image.jpg", None, rounds, None),
                    ("image-service serve, 1 worker: GET content", app.port, content, None, rounds, pid),
                    ("nginx, worker_processes auto (2)", nginx_auto, "/image.jpg", None, rounds, None),
                    ("image-service serve --workers 2: GET content", app_2.port, content, None, rounds, None),
                    ("image-service serve, 1 worker: GET rendition", app.port, rendition, None, rounds, pid),
                    (
                        "nginx (1) in front of image-service serve (1), X-Accel-Redirect: GET content",
                        front,
                        content,
                        None,
                        rounds,
                        accel.proc.pid,
                    ),
                    (
                        "image-service serve, 1 worker: GET content, 304",
                        app.port,
                        content,
                        etag_script,
                        1,
                        pid,
                    ),
                    ("image-service serve, 1 worker: GET /health", app.port, "/health", None, 1, pid),
                    ("bare ASGI app on uvicorn, 1 worker (floor)", bare, "/image.jpg", None, 1, bare_pid),
                ]
                for round_number in range(rounds):
                    for label, port, path, script, wanted, server_pid in targets:
                        if round_number >= wanted:
                            continue
                        log(f"  round {round_number + 1}/{rounds}: {label}")
                        runs.setdefault(label, []).append(
                            wrk(wrk_bin, f"http://{LOOPBACK}:{port}{path}", seconds, script, server_pid)
                        )
            status, body = _get(app.port, f"/images/{image_id}")
            access_count = json.loads(body)["metadata"]["access_count"] if status == 200 else None

    gets = sum(r.requests for label, rs in runs.items() if label.endswith(COUNTED) for r in rs)
    checks = 4  # the GETs that checked the bytes before the runs, and the rendition's first
    result.details["access_count"] = {"recorded": access_count, "wrk_completed_gets": gets + checks}
    result.details["runs"] = {
        label: [
            {"rps": r.requests_per_s, "requests": r.requests, "latency_ms": r.latency_ms,
             "non_2xx": r.non_2xx, "socket_errors": r.socket_errors,
             "cpu_us_per_request": r.cpu_us_per_request}
            for r in rs
        ]
        for label, rs in runs.items()
    }  # fmt: skip
    result.tables, result.targets = _report(runs, access_count, gets + checks)
    log("  access-count writes from 1, 4 and 16 threads, in-process")
    result.tables.append(write_contention(data, seconds=2 if cfg.quick else 4))
    return result


def _hammer(catalog: ImageCatalog, image_id: str, stop: float, out: list[float]) -> None:
    mine: list[float] = []
    while time.monotonic() < stop:
        started = time.perf_counter()
        catalog.record_access(image_id, utcnow())
        mine.append(time.perf_counter() - started)
    out.extend(mine)


def write_contention(data: bytes, seconds: float) -> Table:
    """``record_access`` on one image from N threads at once, each borrowing a pooled connection,
    as the server's threadpool does: what the per-GET SQLite write costs, and its tail under
    contention."""
    table = Table(
        f"SqliteImageCatalog.record_access from N threads, in-process, {seconds:g}s each",
        ["threads", "writes/s", "p50 ms", "p99 ms", "max ms"],
    )
    with temp_dir("writes") as tmp:
        ctx = local_context(Settings.with_fields(data_dir=Path(tmp)))
        owner = Caller(user_id="admin", is_admin=True)
        image = upload_images(ctx, owner, [UploadDraft(data=data, user_id="bench")])[0]
        for threads in (1, 4, 16):
            latencies: list[float] = []
            stop = time.monotonic() + seconds
            workers = [
                threading.Thread(target=_hammer, args=(ctx.catalog, image.image_id, stop, latencies))
                for _ in range(threads)
            ]
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join()
            table.add(
                threads, len(latencies) / seconds, percentile(latencies, 50) * 1000,
                percentile(latencies, 99) * 1000, max(latencies) * 1000,
            )  # fmt: skip
    table.notes.append(
        "each write borrows a connection from SqliteDatabase's pool (as the server's threadpool does); "
        "a writer that finds "
        "the write lock taken queues on SqliteDatabase's in-process lock (other processes would wait in "
        "SQLite's busy handler)"
    )
    return table


def _cpu(runs: list[WrkRun]) -> str:
    measured = [r.cpu_us_per_request for r in runs if r.cpu_us_per_request]
    if not measured:
        return "n/a"
    user, system = median([m[0] for m in measured]), median([m[1] for m in measured])
    return f"{user + system:,.0f} ({user:,.0f} user + {system:,.0f} sys)"


def _report(
    runs: dict[str, list[WrkRun]], access_count: int | None, gets: int
) -> tuple[list[Table], list[Target]]:
    table = Table(
        f"Serving a {IMAGE_BYTES // 1000} KB image, wrk -t{THREADS} -c{CONNECTIONS} (median of rounds)",
        ["server", "runs", "req/s", "min req/s", "max req/s", "p50 ms", "p99 ms", "server CPU µs/req",
         "errors"],
    )  # fmt: skip
    for label, rs in runs.items():
        rates = [r.requests_per_s for r in rs]
        errors = sum(r.non_2xx for r in rs)
        table.add(
            label, len(rs), median(rates), min(rates), max(rates),
            median([r.latency_ms.get("p50", float("nan")) for r in rs]),
            median([r.latency_ms.get("p99", float("nan")) for r in rs]),
            _cpu(rs),
            f"{errors} non-2xx" + (f"; {rs[0].socket_errors}" if rs[0].socket_errors else ""),
        )  # fmt: skip
    ratios = Table("Ratios (requests/s, per round side by side, median)", ["pair", "ratio"])
    targets: list[Target] = []
    pairs = [
        ("image-service serve 1 worker / nginx 1 worker",
         "image-service serve, 1 worker: GET content", "nginx, worker_processes 1"),
        ("image-service serve --workers 2 / nginx auto (2)",
         "image-service serve --workers 2: GET content", "nginx, worker_processes auto (2)"),
        ("image-service serve 1 worker / nginx auto (2)",
         "image-service serve, 1 worker: GET content", "nginx, worker_processes auto (2)"),
        ("bare ASGI app, 1 worker / nginx 1 worker (round 1)",
         "bare ASGI app on uvicorn, 1 worker (floor)", "nginx, worker_processes 1"),
    ]  # fmt: skip
    pairs += [
        ("stored rendition (w=256) / original, 1 worker",
         "image-service serve, 1 worker: GET rendition", "image-service serve, 1 worker: GET content"),
        ("image-service serve --workers 2 / 1 worker",
         "image-service serve --workers 2: GET content", "image-service serve, 1 worker: GET content"),
        ("nginx in front (X-Accel-Redirect) / nginx alone, 1 worker each",
         "nginx (1) in front of image-service serve (1), X-Accel-Redirect: GET content",
         "nginx, worker_processes 1"),
    ]  # fmt: skip
    wanted = {
        "image-service serve 1 worker / nginx 1 worker": TARGET_RATIO,
        "stored rendition (w=256) / original, 1 worker": RENDITION_RATIO,
        "image-service serve --workers 2 / 1 worker": WORKERS_SCALING,
        "nginx in front (X-Accel-Redirect) / nginx alone, 1 worker each": FRONT_RATIO,
    }
    for label, ours, reference in pairs:
        if ours not in runs or reference not in runs:
            continue
        per_round = [
            a.requests_per_s / b.requests_per_s for a, b in zip(runs[ours], runs[reference], strict=False)
        ]
        ratio = median(per_round)
        ratios.add(label, f"{ratio:.3f}")
        if label in wanted:
            goal = wanted[label]
            targets.append(Target(f"req/s, {label}", f">= {goal}", f"{ratio:.3f}", ratio >= goal))
    ratios.notes.append(
        f"access_count after the runs: {access_count}; GETs completed by wrk (+ byte checks): {gets} "
        "(the count may exceed wrk's by requests still in flight when a run stopped)"
    )
    return [table, ratios], targets
